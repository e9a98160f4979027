package org.deephash.backend.cuda;

import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.internal.Rerank;
import org.deephash.spi.Queries;
import org.deephash.spi.SearchBackend;
import org.deephash.spi.TableView;
import org.deephash.spi.TimedBackend;

/**
 * The CUDA backend: exact Hamming top-k and radius search with the selection fused into the scan
 * (kernels in cuda/src/deephash_kernels.cu), and the coarse-to-fine re-rank with cuBLAS. This class
 * adapts the search contract to the device {@link Pipeline} (batches, streams, residency of the
 * table) and turns its per-query lists into results.
 *
 * <p>One CUDA context per backend; calls are serialised and bind it to the calling thread.
 * Exhaustive Euclidean search is not on the GPU: the facade runs it on a CPU backend
 * ({@link #supportsExhaustive()} is false). {@link #lastTimingsMs()} splits the last call into
 * upload, scan, rerank and download (device events) plus host work.
 */
public final class CudaBackend implements SearchBackend, TimedBackend {
  private static final Logger LOG = Logger.getLogger(CudaBackend.class.getName());

  private final CudaDevice dev;
  private final Blas blas;
  private final Pipeline pipeline;
  private Map<String, Double> last = Map.of();
  private boolean closed;

  CudaBackend() {
    this.dev = new CudaDevice(CudaBackendProvider.deviceOrdinal());
    Blas b = null;
    try {
      b = Blas.open();
      this.pipeline = new Pipeline(dev, b);
    } catch (RuntimeException e) {
      if (b != null) {
        b.close();
      }
      dev.close();
      throw e;
    }
    this.blas = b;
    LOG.log(Level.FINE, () -> "cuda backend on " + device());
  }

  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public String device() {
    return dev.describe() + ", " + blas.describe();
  }

  @Override
  public synchronized Map<String, Double> lastTimingsMs() {
    return last;
  }

  @Override
  public synchronized SearchResult knn(TableView t, Queries qs, int k) {
    Pipeline.Call c = new Pipeline.Call(t, qs, k, t.bits(), false, 0);
    HostLists l = run(c).coarse();
    int[] off = l.offsets();
    SearchResult r = SearchResult.of(off, l.denseIds(off), l.denseKeys(off), null, null);
    last = c.finish();
    return r;
  }

  @Override
  public synchronized SearchResult radius(TableView t, Queries qs, int r, int cap) {
    Pipeline.Call c = new Pipeline.Call(t, qs, cap, r, false, 0);
    HostLists l = run(c).coarse();
    int[] off = l.offsets();
    boolean[] truncated = new boolean[qs.count()];
    for (int q = 0; q < truncated.length; q++) {
      truncated[q] = l.total[q] > cap;
    }
    SearchResult out = SearchResult.of(off, l.denseIds(off), l.denseKeys(off), null, truncated);
    last = c.finish();
    return out;
  }

  @Override
  public synchronized SearchResult coarseToFine(TableView t, Queries qs, Pool pool, int k) {
    boolean radius = pool.kind() == Pool.Kind.RADIUS;
    Pipeline.Call c = new Pipeline.Call(t, qs, pool.size(), radius ? pool.radius() : t.bits(), true, k);
    Pipeline.Outcome o = run(c);
    long h0 = System.nanoTime();
    SearchResult r = o.fine() != null ? fineResult(o.coarse(), o.fine()) : hostRerank(t, qs, o.coarse(), k);
    c.addSince("host", h0);
    last = c.finish();
    return r;
  }

  /** The fine lists ranked on the device, each entry with its pool entry's Hamming distance. */
  private static SearchResult fineResult(HostLists coarse, HostLists fine) {
    int n = fine.queries;
    int[] off = fine.offsets();
    long[] ids = fine.denseIds(off);
    int[] ham = new int[off[n]];
    float[] l2 = new float[off[n]];
    for (int q = 0; q < n; q++) {
      for (int i = 0; i < fine.count[q]; i++) {
        int at = q * fine.stride + i;
        l2[off[q] + i] = Float.intBitsToFloat(fine.key[at]);
        ham[off[q] + i] = coarse.key[q * coarse.stride + fine.row[at]];
      }
    }
    return SearchResult.of(off, ids, ham, l2, null);
  }

  /**
   * The fine stage on the host, through the CPU backends' shared re-rank with the reference L2:
   * when the table was streamed in shards, its features are not resident, or the pool is longer
   * than one sorting block.
   */
  private static SearchResult hostRerank(TableView t, Queries qs, HostLists coarse, int k) {
    int[] off = coarse.offsets();
    int[] rows = new int[off[coarse.queries]];
    int[] ham = coarse.denseKeys(off);
    for (int q = 0; q < coarse.queries; q++) {
      System.arraycopy(coarse.row, q * coarse.stride, rows, off[q], coarse.count[q]);
    }
    Rerank rerank = new Rerank(off, k);
    for (int q = 0; q < coarse.queries; q++) {
      rerank.query(q, t, off, rows, ham, (query, row) -> Rerank.scalarL2(t, qs.features(), query, row));
    }
    return rerank.result();
  }

  /** Exhaustive Euclidean search is not on the GPU: the facade runs it on a CPU backend. */
  @Override
  public boolean supportsExhaustive() {
    return false;
  }

  @Override
  public SearchResult exhaustive(TableView t, Queries qs, int k) {
    throw new UnsupportedOperationException("the cuda backend has no exhaustive search: GpuHashSearch runs it on a"
        + " CPU backend");
  }

  private Pipeline.Outcome run(Pipeline.Call c) {
    if (closed) {
      throw new IllegalStateException("the cuda backend is closed");
    }
    dev.makeCurrent();
    return pipeline.run(c);
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    dev.makeCurrent();
    try {
      pipeline.close();
      blas.close();
    } finally {
      dev.close();
    }
  }
}
