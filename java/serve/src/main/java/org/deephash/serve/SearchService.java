package org.deephash.serve;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.index.LoadedIndex;
import org.deephash.model.net.Encoder;
import org.deephash.model.net.Encoding;
import org.deephash.model.net.HashNetConfig;

/**
 * The engine behind the HTTP API, without HTTP: an opened index, its search (one backend), the
 * model that encodes uploaded images, and a {@link MicroBatcher} in front of both. Queries from
 * many callers that arrive within the batch window are encoded in one model call and searched in
 * one engine call per distinct option set; every caller gets its own rows back.
 *
 * <p>Only the batcher's thread touches the search and the encoder, so neither needs to be
 * thread-safe; {@link #submit} may be called from any thread.
 */
public final class SearchService implements AutoCloseable {

  /** How to search: {@code HDS} re-ranks a Hamming pool by Euclidean distance on F7; {@code BCS} uses the codes only. */
  public enum Mode { HDS, BCS }

  /**
   * One query: either image pixels for the model (model input shape) or a packed code with, for
   * HDS, its feature vector.
   *
   * @param pool top-m pool of HDS (ignored when {@code radius >= 0})
   * @param radius Hamming radius: for HDS the pool is every code within it, for BCS the results
   *     are every code within it (sorted by distance); -1 for none
   * @param cap most codes a radius pool or radius search returns
   */
  public record Query(float[] pixels, byte[] code, float[] feature, Mode mode, int k, int pool, int radius, int cap) {
    Object key() {
      return List.of(mode, k, radius >= 0 ? -1 : pool, radius, radius >= 0 ? cap : -1);
    }
  }

  /**
   * The answer to one query: table rows, Hamming distances and (HDS) Euclidean distances, the
   * model's class for an image query (-1 otherwise), and where the time went.
   */
  public record Answer(int[] rows, int[] hamming, float[] euclidean, boolean truncated, int predicted,
      float confidence, double queueMs, double encodeMs, double searchMs, int batchSize) {}

  private final LoadedIndex index;
  private final GpuHashSearch search;
  private final Encoder encoder;
  private final MicroBatcher<Query, Answer> batcher;
  private final AtomicLong batches = new AtomicLong();
  private final AtomicLong batchedQueries = new AtomicLong();
  private volatile int maxBatchSeen;

  /**
   * @param encoder the model for image queries, or null (then only code, feature and id queries)
   */
  public SearchService(LoadedIndex index, GpuHashSearch search, Encoder encoder, ServeConfig config) {
    this.index = index;
    this.search = search;
    this.encoder = encoder;
    CodeTable t = index.table();
    if (encoder != null && encoder.config().codeBytes() * 8 != t.bits()) {
      throw new IllegalArgumentException("the index holds " + t.bits() + "-bit codes but the model makes "
          + encoder.config().bits() + "-bit codes: serve an index made with this model");
    }
    if (encoder != null && t.hasFeatures() && encoder.config().featureDim() != t.dim()) {
      throw new IllegalArgumentException("the index holds " + t.dim() + "-d features but the model's F7 has "
          + encoder.config().featureDim() + ": serve an index made with this model");
    }
    this.batcher = new MicroBatcher<>("deephash-serve-batcher", config.batchWindowMicros(), config.maxBatch(),
        config.maxQueued(), this::run);
  }

  public CodeTable table() {
    return index.table();
  }

  public LoadedIndex index() {
    return index;
  }

  public GpuHashSearch search() {
    return search;
  }

  /** The model's network, or null when the service has no model. */
  public HashNetConfig model() {
    return encoder == null ? null : encoder.config();
  }

  /** Queues a query for the next batch. */
  public CompletableFuture<Answer> submit(Query q) {
    return batcher.submit(q);
  }

  /** Batches run, queries they held, and the largest batch. */
  public long[] batchStats() {
    return new long[] {batches.get(), batchedQueries.get(), maxBatchSeen};
  }

  private void run(List<MicroBatcher.Pending<Query, Answer>> batch) {
    long start = System.nanoTime();
    batches.incrementAndGet();
    batchedQueries.addAndGet(batch.size());
    maxBatchSeen = Math.max(maxBatchSeen, batch.size());
    int n = batch.size();
    byte[][] codes = new byte[n][];
    float[][] features = new float[n][];
    int[] predicted = new int[n];
    float[] confidence = new float[n];
    java.util.Arrays.fill(predicted, -1);

    // 1. encode every image query of the batch in one model call
    double encodeMs = 0;
    List<Integer> images = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Query q = batch.get(i).request();
      if (q.pixels() != null) {
        images.add(i);
      } else {
        codes[i] = q.code();
        features[i] = q.feature();
      }
    }
    if (!images.isEmpty()) {
      long t0 = System.nanoTime();
      HashNetConfig c = encoder.config();
      int size = c.height() * c.width() * c.channels();
      float[] px = new float[images.size() * size];
      for (int j = 0; j < images.size(); j++) {
        System.arraycopy(batch.get(images.get(j)).request().pixels(), 0, px, j * size, size);
      }
      Encoding e = encoder.encode(px, images.size());
      int cb = e.codeBytes();
      for (int j = 0; j < images.size(); j++) {
        int i = images.get(j);
        codes[i] = java.util.Arrays.copyOfRange(e.codes(), j * cb, (j + 1) * cb);
        features[i] = java.util.Arrays.copyOfRange(e.features(), j * e.featureDim(), (j + 1) * e.featureDim());
        predicted[i] = e.predicted()[j];
        confidence[i] = e.confidence()[j];
      }
      encodeMs = (System.nanoTime() - t0) / 1e6;
    }

    // 2. one engine call per distinct option set
    Map<Object, List<Integer>> groups = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      groups.computeIfAbsent(batch.get(i).request().key(), x -> new ArrayList<>()).add(i);
    }
    int cb = index.table().codeBytes();
    int dim = index.table().dim();
    for (List<Integer> g : groups.values()) {
      try {
        Query q0 = batch.get(g.get(0)).request();
        byte[] qc = new byte[g.size() * cb];
        boolean hds = q0.mode() == Mode.HDS;
        float[] qf = hds ? new float[g.size() * dim] : null;
        for (int j = 0; j < g.size(); j++) {
          System.arraycopy(codes[g.get(j)], 0, qc, j * cb, cb);
          if (hds) {
            System.arraycopy(features[g.get(j)], 0, qf, j * dim, dim);
          }
        }
        long t0 = System.nanoTime();
        SearchResult r;
        if (hds) {
          Pool pool = q0.radius() >= 0 ? Pool.radius(q0.radius(), q0.cap()) : Pool.topM(q0.pool());
          r = search.coarseToFine(qc, qf, pool, q0.k());
        } else if (q0.radius() >= 0) {
          r = search.radius(qc, q0.radius(), q0.cap());
        } else {
          r = search.query(qc, q0.k());
        }
        double searchMs = (System.nanoTime() - t0) / 1e6;
        for (int j = 0; j < g.size(); j++) {
          int i = g.get(j);
          int m = hds || q0.radius() < 0 ? Math.min(r.count(j), q0.k()) : r.count(j);
          int[] rows = new int[m];
          int[] ham = new int[m];
          float[] euc = r.hasDistances() ? new float[m] : null;
          for (int t = 0; t < m; t++) {
            rows[t] = index.table().rowOf(r.id(j, t));
            ham[t] = r.hamming(j, t);
            if (euc != null) {
              euc[t] = (float) Math.sqrt(Math.max(0f, r.distance(j, t)));
            }
          }
          MicroBatcher.Pending<Query, Answer> p = batch.get(i);
          double queueMs = (start - p.enqueuedNanos()) / 1e6;
          p.future().complete(new Answer(rows, ham, euc, r.truncated(j), predicted[i], confidence[i], queueMs,
              encodeMs, searchMs, n));
        }
      } catch (RuntimeException e) {
        for (int i : g) {
          batch.get(i).future().completeExceptionally(e);
        }
      }
    }
  }

  /** Stops the batcher (queued queries fail with 503); the index, search and encoder stay open. */
  @Override
  public void close() {
    batcher.close();
  }
}
