package org.deephash.serve;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.index.IndexFile;
import org.deephash.index.LoadedIndex;
import org.deephash.model.data.PhotoIndex;
import org.deephash.io.Json;
import org.deephash.model.eval.FineSearch;
import org.deephash.model.eval.FineStage;
import org.deephash.model.net.Encoder;
import org.deephash.model.net.Encoding;
import org.deephash.model.net.HashNetConfig;

/**
 * The engine behind the HTTP API, without HTTP: the served index (one {@link IndexGeneration} at a
 * time), its search, the model that encodes uploaded images, and a {@link MicroBatcher} in front
 * of both. Queries from many callers that arrive within the batch window are encoded in one model
 * call and searched in one engine call per distinct option set; every caller gets its own rows
 * back, with the generation they were found in.
 *
 * <p>Only the batcher's thread touches the search and the encoder, so neither needs to be
 * thread-safe; {@link #submit} may be called from any thread. The batcher is also the only thread
 * that switches generations, between two batches: a batch runs on one generation from its first
 * query to its last.
 *
 * <p>Opened with {@link #open}, the service watches its index file ({@link IndexReloader}) and
 * switches to a replacement without a pause: queries in flight finish on the old generation,
 * which is closed when its last answer has been written out.
 */
public final class SearchService implements AutoCloseable {

  /** How to search: {@code HDS} re-ranks a Hamming pool by Euclidean distance on F7; {@code BCS} uses the codes only. */
  public enum Mode { HDS, BCS }

  /**
   * One query: image pixels for the model (model input shape), a packed code with, for HDS, its
   * feature vector, or the id of an indexed image (looked up in the generation the batch runs on).
   *
   * @param id the indexed image to search with, or null
   * @param pool top-m pool of HDS (ignored when {@code radius >= 0})
   * @param radius Hamming radius: for HDS the pool is every code within it, for BCS the results
   *     are every code within it (sorted by distance); -1 for none
   * @param cap most codes a radius pool or radius search returns
   */
  public record Query(float[] pixels, byte[] code, float[] feature, Long id, Mode mode, int k, int pool, int radius,
      int cap) {
    Object key() {
      return List.of(mode, k, radius >= 0 ? -1 : pool, radius, radius >= 0 ? cap : -1);
    }
  }

  /**
   * The answer to one query: table rows of {@code generation}, Hamming distances and (HDS)
   * Euclidean distances, the query's own row for a query by id (-1 otherwise), the model's class
   * for an image query (-1 otherwise), and where the time went. It holds a reference to its
   * generation: {@link #release} it once rendered.
   */
  public record Answer(IndexGeneration generation, int queryRow, int[] rows, int[] hamming, float[] euclidean,
      boolean truncated, int predicted, float confidence, double queueMs, double encodeMs, double searchMs,
      int batchSize) {
    /** Lets the generation close once nothing else uses it. */
    public void release() {
      generation.release();
    }
  }

  private final Encoder encoder;
  private final MicroBatcher<Query, Answer> batcher;
  private final int bits;
  private final int dim;
  private final AtomicLong batches = new AtomicLong();
  private final AtomicLong batchedQueries = new AtomicLong();
  private volatile int maxBatchSeen;
  private volatile IndexGeneration current;
  /** A generation opened by the reloader, waiting for the batcher to switch to it. */
  private final AtomicReference<IndexGeneration> staged = new AtomicReference<>();
  private final IndexReloader reloader;
  private final Thread watcher;
  private final Consumer<String> log;
  private volatile boolean closed;
  private volatile FineStage fineStage = FineStage.F7;

  /**
   * A service over an index and search the caller opened and closes (the index is not watched).
   *
   * @param encoder the model for image queries, or null (then only code, feature and id queries)
   */
  public SearchService(LoadedIndex index, GpuHashSearch search, Encoder encoder, ServeConfig config) {
    this(new IndexGeneration(1, null, null, index, search, false), encoder, config, null, line -> {});
  }

  private SearchService(IndexGeneration first, Encoder encoder, ServeConfig config, IndexReloader.Loader loader,
      Consumer<String> log) {
    CodeTable t = first.table();
    this.encoder = encoder;
    this.bits = t.bits();
    this.dim = t.dim();
    this.log = log;
    if (encoder != null && encoder.config().codeBytes() * 8 != t.bits()) {
      throw new IllegalArgumentException("the index holds " + t.bits() + "-bit codes but the model makes "
          + encoder.config().bits() + "-bit codes: serve an index made with this model");
    }
    if (encoder != null && t.hasFeatures() && encoder.config().featureDim() != t.dim()) {
      throw new IllegalArgumentException("the index holds " + t.dim() + "-d features but the model's F7 has "
          + encoder.config().featureDim() + ": serve an index made with this model");
    }
    this.current = first;
    this.batcher = new MicroBatcher<>("deephash-serve-batcher", config.batchWindowMicros(), config.maxBatch(),
        config.maxQueued(), this::switchIfStaged, this::run);
    this.reloader = loader == null ? null : new IndexReloader(first, loader, this::stage, log);
    if (reloader != null && config.reloadCheckMs() > 0) {
      long every = config.reloadCheckMs();
      this.watcher = Thread.ofPlatform().name("deephash-serve-reload").daemon().start(() -> watch(every));
    } else {
      this.watcher = null;
    }
  }

  /**
   * Opens {@code file} (verifying every checksum) and serves it; when {@code config.reloadCheckMs()}
   * is positive, a replacement of the file (renamed over it, or rewritten in place) is served from
   * the batch after it has been opened and verified, and a bad one is refused. The service owns the
   * index and its searches.
   *
   * @param options the backend and threads of every generation's search
   * @param log one line per reload and per refused replacement
   */
  public static SearchService open(Path file, SearchOptions options, Encoder encoder, ServeConfig config,
      Consumer<String> log) throws IOException {
    IndexImages.PackedFiles packed = new IndexImages.PackedFiles();
    Thumbnails thumbnails = new Thumbnails(Thumbnails.dirFor(file), Runtime.getRuntime().availableProcessors(),
        config.thumbCacheBytes());
    IndexReloader.Loader loader = (f, number, identity) -> {
      LoadedIndex index = IndexFile.load(f, IndexFile.Verify.FULL);
      try {
        // a photo folder's index names its folder in the report beside it, read with each generation
        PhotoIndex photos = PhotoIndex.read(f).orElse(null);
        return new IndexGeneration(number, f, identity, index, GpuHashSearch.open(index.table(), options), true,
            packed, photos, thumbnails);
      } catch (IOException | RuntimeException e) {
        index.close();
        throw e;
      }
    };
    IndexGeneration.FileIdentity identity = IndexGeneration.FileIdentity.of(file);
    IndexGeneration first = loader.open(file, 1, identity);
    try {
      return new SearchService(first, encoder, config, loader, log);
    } catch (RuntimeException e) {
      first.release();
      throw e;
    }
  }

  private void watch(long everyMs) {
    while (!closed) {
      try {
        Thread.sleep(everyMs);
        reloader.check();
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        log.accept("serve: the index check failed: " + e);
      }
    }
  }

  /** Hands a new generation to the batcher; one staged earlier and never served is dropped. */
  private void stage(IndexGeneration g) {
    IndexGeneration dropped = staged.getAndSet(g);
    if (dropped != null) {
      dropped.release();
    }
    if (closed) {
      IndexGeneration left = staged.getAndSet(null);
      if (left != null) {
        left.release();
      }
    }
  }

  /** On the batcher's thread, between batches. */
  private void switchIfStaged() {
    IndexGeneration next = staged.getAndSet(null);
    if (next != null) {
      IndexGeneration old = current;
      current = next;
      old.release(); // closes once the answers still rendering from it are written
    }
  }

  /**
   * The generation being served, with a reference the caller must {@link IndexGeneration#release}
   * (so it stays open while the caller reads it).
   */
  IndexGeneration acquire() {
    while (true) {
      IndexGeneration g = current;
      if (g.acquire()) {
        return g;
      }
      if (closed) {
        throw new ApiException(503, "the server is shutting down");
      }
      Thread.onSpinWait(); // switched between the read and the acquire: read the new one
    }
  }

  /** The code width every generation has (requests are checked against it). */
  int bits() {
    return bits;
  }

  /** The feature dimension every generation has (0: none). */
  int dim() {
    return dim;
  }

  /**
   * Sets how HDS queries re-order their Hamming pool (default {@link FineStage#F7}, the paper's
   * and the engine's own coarse-to-fine search); {@code serve} passes the model's stage, chosen on
   * its validation split. The latent stages need the model (its hash layer).
   */
  public SearchService fineStage(FineStage stage) {
    if (stage.usesLatent() && encoder == null) {
      throw new IllegalArgumentException("fine stage " + stage.key() + " ranks on the model's latent activations:"
          + " give the model (--model) or another fine stage");
    }
    this.fineStage = stage;
    return this;
  }

  /** How HDS queries re-order their pool. */
  public FineStage fineStage() {
    return fineStage;
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

  /** Reload counts for /stats, or null when the service was not opened from a file. */
  Json reloadStats() {
    return reloader == null ? null : reloader.stats();
  }

  /**
   * Runs one check of the index file now, as the watcher does every {@code reloadCheckMs} (tests
   * drive it by hand with the watcher off); a replacement it opens is served from the next batch.
   */
  void checkIndexFile() {
    if (reloader != null) {
      reloader.check();
    }
  }

  private void run(List<MicroBatcher.Pending<Query, Answer>> batch) {
    IndexGeneration gen = current;
    long start = System.nanoTime();
    batches.incrementAndGet();
    batchedQueries.addAndGet(batch.size());
    maxBatchSeen = Math.max(maxBatchSeen, batch.size());
    int n = batch.size();
    CodeTable table = gen.table();
    byte[][] codes = new byte[n][];
    float[][] features = new float[n][];
    int[] queryRows = new int[n];
    int[] predicted = new int[n];
    float[] confidence = new float[n];
    boolean[] done = new boolean[n];
    Arrays.fill(predicted, -1);
    Arrays.fill(queryRows, -1);

    // 0. queries by id: their code and feature from this batch's generation
    List<Integer> images = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      Query q = batch.get(i).request();
      try {
        if (q.id() != null) {
          int row = table.rowOf(q.id());
          if (row < 0) {
            throw new ApiException(404, "no image with id " + q.id() + " in the index");
          }
          queryRows[i] = row;
          codes[i] = table.code(row);
          features[i] = table.hasFeatures() ? table.feature(row) : null;
        } else if (q.pixels() != null) {
          images.add(i);
        } else {
          codes[i] = q.code();
          features[i] = q.feature();
        }
      } catch (RuntimeException e) {
        fail(gen, batch.get(i), e);
        done[i] = true;
      }
    }

    // 1. encode every image query of the batch in one model call
    double encodeMs = 0;
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
        codes[i] = Arrays.copyOfRange(e.codes(), j * cb, (j + 1) * cb);
        features[i] = Arrays.copyOfRange(e.features(), j * e.featureDim(), (j + 1) * e.featureDim());
        predicted[i] = e.predicted()[j];
        confidence[i] = e.confidence()[j];
      }
      encodeMs = (System.nanoTime() - t0) / 1e6;
    }

    // 2. one engine call per distinct option set
    Map<Object, List<Integer>> groups = new LinkedHashMap<>();
    for (int i = 0; i < n; i++) {
      if (!done[i]) {
        groups.computeIfAbsent(batch.get(i).request().key(), x -> new ArrayList<>()).add(i);
      }
    }
    int cb = table.codeBytes();
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
        GpuHashSearch search = gen.search();
        if (hds) {
          Pool pool = q0.radius() >= 0 ? Pool.radius(q0.radius(), q0.cap()) : Pool.topM(q0.pool());
          r = FineSearch.search(search, table, fineStage, encoder == null ? null : encoder::latentOf,
              encoder == null ? table.bits() : encoder.config().bits(), qc, qf, pool, q0.k());
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
            rows[t] = table.rowOf(r.id(j, t));
            ham[t] = r.hamming(j, t);
            if (euc != null) {
              euc[t] = (float) Math.sqrt(Math.max(0f, r.distance(j, t)));
            }
          }
          MicroBatcher.Pending<Query, Answer> p = batch.get(i);
          double queueMs = (start - p.enqueuedNanos()) / 1e6;
          if (gen.acquire()) {
            Answer a = new Answer(gen, queryRows[i], rows, ham, euc, r.truncated(j), predicted[i], confidence[i],
                queueMs, encodeMs, searchMs, n);
            if (!p.future().complete(a)) {
              a.release(); // its caller gave up waiting
            }
          } else {
            p.future().completeExceptionally(new ApiException(503, "the server is shutting down"));
          }
        }
      } catch (RuntimeException e) {
        for (int i : g) {
          fail(gen, batch.get(i), e);
        }
      }
    }
  }

  /**
   * Fails one query. A table whose file was overwritten in place refuses every search (reading a
   * mapping the file no longer backs would crash the process): that is the server's state, not
   * the caller's mistake, so it is a 503 while the watcher waits for a complete file to reload.
   */
  private void fail(IndexGeneration gen, MicroBatcher.Pending<Query, Answer> p, RuntimeException e) {
    if (!(e instanceof ApiException) && e instanceof IllegalStateException && changedInPlace(gen)) {
      e = new ApiException(503, "the index file was overwritten in place while served; "
          + (reloader != null ? "the server switches to it once it is a complete index (replace index files by"
              + " renaming a new file over them): retry shortly" : "restart the server (replace index files by"
              + " renaming a new file over them)"));
    }
    p.future().completeExceptionally(e);
  }

  private static boolean changedInPlace(IndexGeneration gen) {
    if (gen.file() == null || gen.identity() == null) {
      return false;
    }
    try {
      IndexGeneration.FileIdentity now = IndexGeneration.FileIdentity.of(gen.file());
      return now != null && now.sameObject(gen.identity()) && !now.equals(gen.identity());
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Stops the watcher and the batcher (queued queries fail with 503) and lets go of the served
   * generation: an index the service opened is closed once no answer uses it; one passed to the
   * constructor stays open, as do the encoder's model.
   */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (watcher != null) {
      watcher.interrupt();
      try {
        watcher.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    batcher.close();
    IndexGeneration left = staged.getAndSet(null);
    if (left != null) {
      left.release();
    }
    current.release();
  }
}
