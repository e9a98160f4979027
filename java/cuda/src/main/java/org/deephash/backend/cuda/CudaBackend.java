package org.deephash.backend.cuda;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Logger;
import org.deephash.Backends;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.internal.Ranking;
import org.deephash.spi.BackendProvider;
import org.deephash.spi.Queries;
import org.deephash.spi.SearchBackend;
import org.deephash.spi.TableView;
import org.deephash.spi.TimedBackend;

/**
 * The CUDA backend: exact Hamming top-k and radius search with the selection fused into the
 * scan (kernels in cuda/src/deephash_kernels.cu), and the coarse-to-fine re-rank with cuBLAS.
 *
 * <p>The table is uploaded once per {@link TableView#version()} and stays on the device; a table
 * larger than device memory is streamed in shards whose results are merged on the host. Queries
 * go through pinned host memory in batches on two streams, so one batch's copies overlap the other
 * batch's kernels. One CUDA context per backend; calls are serialised and bind it to the calling
 * thread. Exhaustive Euclidean search runs on the best CPU backend.
 *
 * <p>{@link #lastTimingsMs()} splits the last call into upload, scan, rerank and download (device
 * events) plus host work.
 */
public final class CudaBackend implements SearchBackend, TimedBackend {
  private static final Logger LOG = Logger.getLogger(CudaBackend.class.getName());
  /** Device bytes one stream's per-batch buffers may use (property deephash.cuda.workspaceMiB, read per call). */
  private static long workspace() {
    return Long.getLong("deephash.cuda.workspaceMiB", 512) << 20;
  }

  /** Most queries per batch (property deephash.cuda.maxBatch; tests use small values to force batching). */
  private static int maxBatch() {
    return Integer.getInteger("deephash.cuda.maxBatch", 8192);
  }

  /** Forces streaming shards of this many rows (property deephash.cuda.shardRows; 0 = only when needed). */
  private static int shardRowsForced() {
    return Integer.getInteger("deephash.cuda.shardRows", 0);
  }

  private final int threads;
  private final CudaDevice dev;
  private final Blas blas;
  private final Workspace[] lanes = new Workspace[2];
  private Resident resident;
  private SearchBackend cpu;
  private Map<String, Double> last = Map.of();
  private boolean closed;

  CudaBackend(int threads) {
    this.threads = threads;
    this.dev = new CudaDevice(CudaBackendProvider.deviceOrdinal());
    Blas b = null;
    try {
      b = Blas.open();
      lanes[0] = new Workspace();
      lanes[1] = new Workspace();
    } catch (RuntimeException e) {
      for (Workspace w : lanes) {
        if (w != null) {
          w.close();
        }
      }
      if (b != null) {
        b.close();
      }
      dev.close();
      throw e;
    }
    this.blas = b;
    LOG.fine("cuda backend on " + device());
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

  // ------------------------------------------------------------------------------------------
  // Operations

  @Override
  public synchronized SearchResult knn(TableView t, Queries qs, int k) {
    Call c = new Call(t, qs, k, t.bits(), false, 0);
    HostLists l = run(c).coarse;
    int[] off = l.offsets();
    SearchResult r = SearchResult.of(off, l.denseIds(off), l.denseKeys(off), null, null);
    c.finish();
    return r;
  }

  @Override
  public synchronized SearchResult radius(TableView t, Queries qs, int r, int cap) {
    Call c = new Call(t, qs, cap, r, false, 0);
    HostLists l = run(c).coarse;
    int[] off = l.offsets();
    boolean[] truncated = new boolean[qs.count()];
    for (int q = 0; q < truncated.length; q++) {
      truncated[q] = l.total[q] > cap;
    }
    SearchResult out = SearchResult.of(off, l.denseIds(off), l.denseKeys(off), null, truncated);
    c.finish();
    return out;
  }

  @Override
  public synchronized SearchResult coarseToFine(TableView t, Queries qs, Pool pool, int k) {
    boolean radius = pool.kind() == Pool.Kind.RADIUS;
    Call c = new Call(t, qs, pool.size(), radius ? pool.radius() : t.bits(), true, k);
    Outcome o = run(c);
    long h0 = System.nanoTime();
    HostLists coarse = o.coarse;
    int n = qs.count();
    int[] off = new int[n + 1];
    List<long[]> ids = new ArrayList<>(n);
    List<int[]> ham = new ArrayList<>(n);
    List<float[]> l2 = new ArrayList<>(n);
    for (int q = 0; q < n; q++) {
      int m;
      long[] qi;
      int[] qh;
      float[] ql;
      if (o.fine != null) {
        HostLists f = o.fine;
        m = f.count[q];
        qi = new long[m];
        qh = new int[m];
        ql = new float[m];
        for (int i = 0; i < m; i++) {
          int at = q * f.stride + i;
          qi[i] = f.id[at];
          ql[i] = Float.intBitsToFloat(f.key[at]);
          qh[i] = coarse.key[q * coarse.stride + f.row[at]];
        }
      } else {
        // re-rank on the host (table streamed in shards, features not resident, or a pool above SORT_MAX)
        int p = coarse.count[q];
        int[] key = new int[p];
        long[] pid = new long[p];
        int[] pos = new int[p];
        for (int i = 0; i < p; i++) {
          int at = q * coarse.stride + i;
          key[i] = Float.floatToIntBits(hostL2(t, qs.features(), q, coarse.row[at]));
          pid[i] = coarse.id[at];
          pos[i] = i;
        }
        Ranking.sort(key, pid, pos, 0, p);
        m = Math.min(k, p);
        qi = new long[m];
        qh = new int[m];
        ql = new float[m];
        for (int i = 0; i < m; i++) {
          qi[i] = pid[i];
          ql[i] = Float.intBitsToFloat(key[i]);
          qh[i] = coarse.key[q * coarse.stride + pos[i]];
        }
      }
      off[q + 1] = off[q] + m;
      ids.add(qi);
      ham.add(qh);
      l2.add(ql);
    }
    long[] allIds = new long[off[n]];
    int[] allHam = new int[off[n]];
    float[] allL2 = new float[off[n]];
    for (int q = 0; q < n; q++) {
      System.arraycopy(ids.get(q), 0, allIds, off[q], off[q + 1] - off[q]);
      System.arraycopy(ham.get(q), 0, allHam, off[q], off[q + 1] - off[q]);
      System.arraycopy(l2.get(q), 0, allL2, off[q], off[q + 1] - off[q]);
    }
    c.add("host", (System.nanoTime() - h0) / 1e6);
    SearchResult r = SearchResult.of(off, allIds, allHam, allL2, null);
    c.finish();
    return r;
  }

  /** Exhaustive Euclidean search is not on the GPU yet: it runs on the best CPU backend. */
  @Override
  public synchronized SearchResult exhaustive(TableView t, Queries qs, int k) {
    long t0 = System.nanoTime();
    SearchResult r = cpu().exhaustive(t, qs, k);
    Map<String, Double> m = new LinkedHashMap<>();
    m.put("host", (System.nanoTime() - t0) / 1e6);
    m.put("total", m.get("host"));
    last = Collections.unmodifiableMap(m);
    return r;
  }

  private SearchBackend cpu() {
    if (cpu == null) {
      for (BackendProvider p : Backends.available()) {
        if (!p.name().equals("cuda") && !(p instanceof CudaBackendProvider)) {
          cpu = p.create(threads);
          break;
        }
      }
      if (cpu == null) {
        throw new IllegalStateException("no CPU backend for exhaustive search: the class path is incomplete");
      }
    }
    return cpu;
  }

  /** Squared Euclidean distance as the oracle sums it: float, in row order. */
  private static float hostL2(TableView t, MemorySegment qf, int q, int row) {
    float s = 0;
    long qo = (long) q * t.dim();
    long ro = (long) row * t.dim();
    for (int j = 0; j < t.dim(); j++) {
      float d = qf.getAtIndex(JAVA_FLOAT_UNALIGNED, qo + j) - t.features().getAtIndex(JAVA_FLOAT_UNALIGNED, ro + j);
      s += d * d;
    }
    return s;
  }

  // ------------------------------------------------------------------------------------------
  // One call: placement of the table, batches over the queries, shards merged.

  /** A search call's parameters and its phase times. */
  private final class Call {
    final TableView t;
    final Queries qs;
    final int selectK;
    final int maxDist;
    final boolean fine;
    final int fineK;
    final long start = System.nanoTime();
    final Map<String, Double> times = new LinkedHashMap<>();

    Call(TableView t, Queries qs, int selectK, int maxDist, boolean fine, int fineK) {
      this.t = t;
      this.qs = qs;
      this.selectK = selectK;
      this.maxDist = maxDist;
      this.fine = fine;
      this.fineK = fineK;
      for (String p : new String[] {"table_upload", "upload", "scan", "rerank", "download", "host"}) {
        times.put(p, 0.0);
      }
    }

    void add(String phase, double ms) {
      times.merge(phase, ms, Double::sum);
    }

    void finish() {
      times.put("total", (System.nanoTime() - start) / 1e6);
      last = Collections.unmodifiableMap(times);
    }
  }

  private record Outcome(HostLists coarse, HostLists fine) {}

  private Outcome run(Call c) {
    if (closed) {
      throw new IllegalStateException("the cuda backend is closed");
    }
    dev.makeCurrent();
    TableView t = c.t;
    int nq = c.qs.count();
    if (nq == 0 || t.liveRows() == 0) {
      return new Outcome(new HostLists(nq, 0), null);
    }
    long u0 = System.nanoTime();
    Placement place = place(t, c.fine);
    c.add("table_upload", (System.nanoTime() - u0) / 1e6);
    HostLists[] parts = new HostLists[place.ranges.size()];
    HostLists fine = null;
    for (int s = 0; s < parts.length; s++) {
      int[] range = place.ranges.get(s);
      DeviceTable dt;
      if (place.resident != null) {
        dt = place.resident.tables.get(s);
      } else {
        long s0 = System.nanoTime();
        dt = DeviceTable.upload(dev, t, range[0], range[1], lanes[0].stream);
        c.add("table_upload", (System.nanoTime() - s0) / 1e6);
      }
      try {
        int stride = Math.min(c.selectK, dt.live);
        parts[s] = new HostLists(nq, stride);
        boolean fineHere = c.fine && parts.length == 1 && dt.hasFeatures() && Plan.sortsOnDevice(stride) && stride > 0;
        if (fineHere) {
          fine = new HostLists(nq, Math.min(c.fineK, stride));
        }
        if (stride > 0) {
          batches(c, dt, parts[s], fine);
        }
      } finally {
        if (place.resident == null) {
          dt.close();
        }
      }
    }
    long h0 = System.nanoTime();
    HostLists coarse = parts.length == 1 ? parts[0] : HostLists.merge(parts, Math.min(c.selectK, t.liveRows()));
    c.add("host", (System.nanoTime() - h0) / 1e6);
    return new Outcome(coarse, fine);
  }

  /** Where the table lives for this call: resident (cached by version) or streamed in shards. */
  private record Placement(Resident resident, List<int[]> ranges) {}

  /** The device copy of one table version. */
  private static final class Resident implements AutoCloseable {
    final long version;
    final long codesAddress;
    final int rows;
    final List<DeviceTable> tables = new ArrayList<>();

    Resident(TableView t) {
      version = t.version();
      codesAddress = t.codes().address();
      rows = t.rows();
    }

    boolean matches(TableView t) {
      return version == t.version() && codesAddress == t.codes().address() && rows == t.rows();
    }

    @Override
    public void close() {
      for (DeviceTable d : tables) {
        d.close();
      }
      tables.clear();
    }
  }

  private Placement place(TableView t, boolean wantFeatures) {
    if (resident != null && !resident.matches(t)) {
      resident.close();
      resident = null;
    }
    if (shardRowsForced() <= 0) {
      long reserve = Math.max(256L << 20, dev.totalMemory / 10) + 2 * workspace();
      if (resident == null) {
        long budget = dev.freeMemory() - reserve;
        if ((long) t.rows() * DeviceTable.bytesPerRow(t, false) <= budget) {
          Resident r = new Resident(t);
          try {
            r.tables.add(DeviceTable.upload(dev, t, 0, t.rows(), lanes[0].stream));
          } catch (RuntimeException e) {
            r.close();
            throw e;
          }
          resident = r;
        }
      }
      if (resident != null) {
        DeviceTable dt = resident.tables.get(0);
        if (wantFeatures && t.dim() > 0 && !dt.hasFeatures()
            && (long) t.rows() * (t.dim() * 4L + 4) <= dev.freeMemory() - reserve) {
          dt.uploadFeatures(dev, t, lanes[0].stream);
        }
        return new Placement(resident, List.of(new int[] {0, t.rows()}));
      }
    }
    long budget = Math.max(64L << 20, dev.freeMemory() - Math.max(256L << 20, dev.totalMemory / 10) - 2 * workspace());
    int shard = Plan.shardRows(budget, DeviceTable.bytesPerRow(t, false), t.rows(), shardRowsForced());
    List<int[]> ranges = new ArrayList<>();
    for (int b = 0; b < t.rows(); b += shard) {
      ranges.add(new int[] {b, Math.min(shard, t.rows() - b)});
    }
    return new Placement(null, ranges);
  }

  // ------------------------------------------------------------------------------------------
  // Batches on two streams

  /** One batch in flight on a lane. */
  private record Batch(Workspace w, int q0, int qn, int stride, int cand, boolean devSort, int fineStride,
      DeviceTable dt, boolean bounded) {}

  private void batches(Call c, DeviceTable dt, HostLists lists, HostLists fine) {
    TableView t = c.t;
    int nq = c.qs.count();
    int stride = lists.stride;
    int cand = Plan.candStride(stride);
    boolean devSort = Plan.sortsOnDevice(stride);
    int fineStride = fine == null ? 0 : fine.stride;
    long words = dt.words;
    long bins = t.bits() + 1L;
    long perQuery = words * 16 + bins * 4 + Plan.STATE_BYTES * 2 + 1024 + 16 + cand * 16L
        + (devSort ? stride * 32L : cand * 16L);
    if (Plan.bounded(c.selectK, c.maxDist, t.bits(), System.getProperty(Plan.SELECTION_PROPERTY))) {
      perQuery += Plan.filterCap(c.selectK) * 8L + 8;
    }
    if (fine != null) {
      perQuery += t.dim() * 12L + 8 + stride * (t.dim() * 4L + 4) + fineStride * 32L;
    }
    int qb = Plan.batch(perQuery, Math.min(workspace(), Math.max(64L << 20, dev.freeMemory() / 4)), nq, maxBatch());
    Batch[] inflight = new Batch[2];
    int nb = (nq + qb - 1) / qb;
    for (int b = 0; b < nb; b++) {
      int lane = b & 1;
      if (inflight[lane] != null) {
        collect(c, inflight[lane], lists, fine);
        inflight[lane] = null;
      }
      int q0 = b * qb;
      inflight[lane] = enqueue(c, lanes[lane], dt, q0, Math.min(qb, nq - q0), stride, cand, devSort, fineStride,
          Plan.bounded(c.selectK, c.maxDist, t.bits(), System.getProperty(Plan.SELECTION_PROPERTY)));
    }
    for (int i = 0; i < 2; i++) {
      int lane = (nb + i) & 1; // oldest first
      if (inflight[lane] != null) {
        collect(c, inflight[lane], lists, fine);
        inflight[lane] = null;
      }
    }
  }

  private void memsetAsync(DeviceBuffer b, long ints, Workspace w) {
    Cuda.check(cuMemsetD32Async(b.ptr(), 0, ints, w.stream), "cuMemsetD32Async(" + ints + " words)");
  }

  private void h2d(DeviceBuffer dst, PinnedBuffer src, long bytes, Workspace w) {
    Cuda.check(cuMemcpyHtoDAsync(dst.ptr(), src.at(0), bytes, w.stream), "cuMemcpyHtoDAsync(" + bytes + " bytes)");
  }

  private void d2h(PinnedBuffer dst, DeviceBuffer src, long bytes, Workspace w) {
    Cuda.check(cuMemcpyDtoHAsync(dst.at(0), src.ptr(), bytes, w.stream), "cuMemcpyDtoHAsync(" + bytes + " bytes)");
  }

  /** Reads the device flag after the work queued so far on the lane (a synchronisation point of this lane only). */
  private boolean flag(Workspace w, DeviceBuffer flag) {
    PinnedBuffer p = w.pinned("flag", 4);
    d2h(p, flag, 4, w);
    Cuda.check(cuStreamSynchronize(w.stream), "cuStreamSynchronize(selection)");
    return p.segment().get(JAVA_INT, 0) != 0;
  }

  private Batch enqueue(Call c, Workspace w, DeviceTable dt, int q0, int qn, int stride, int cand, boolean devSort,
      int fineStride, boolean bounded) {
    TableView t = c.t;
    int words = dt.words;
    int bins = t.bits() + 1;
    String v = Plan.variant(words);
    int chunks = Plan.chunks(dt.rows);
    int small = (qn + 127) / 128;

    // stage the batch's query codes, zero-padded to whole words
    long qBytes = (long) qn * words * 8;
    PinnedBuffer pq = w.pinned("q", qBytes);
    stageCodes(c.qs.codes(), t.codeBytes(), words, q0, qn, pq.segment());
    DeviceBuffer dq = w.device("q", qBytes);
    w.record(0);
    h2d(dq, pq, qBytes, w);
    DeviceBuffer dqf = null;
    DeviceBuffer dqn = null;
    if (fineStride > 0) {
      long fBytes = (long) qn * t.dim() * 4;
      PinnedBuffer pf = w.pinned("qf", fBytes);
      MemorySegment.copy(c.qs.features(), (long) q0 * t.dim() * 4, pf.segment(), 0, fBytes);
      dqf = w.device("qf", fBytes);
      h2d(dqf, pf, fBytes, w);
      dqn = w.device("qn", qn * 4L);
    }
    w.record(1);

    DeviceBuffer state = null;
    DeviceBuffer candKey = w.device("candKey", (long) qn * cand * 4);
    DeviceBuffer candId = w.device("candId", (long) qn * cand * 8);
    DeviceBuffer candRow = w.device("candRow", (long) qn * cand * 4);
    DeviceBuffer candCount = w.device("candCount", qn * 4L);
    int copies = Plan.histCopies(bins);
    if (bounded) {
      // a: the sample's histogram bounds each query's k-th distance; b: filter the whole table by
      // it; c: the exact threshold among the survivors, into the sort buffer (cand == SORT_MAX)
      int cap = Plan.filterCap(c.selectK);
      int sampleStride = Plan.sampleStride(dt.rows, c.selectK, cap);
      DeviceBuffer bound = w.device("bound", qn * 4L);
      DeviceBuffer fcKey = w.device("fcKey", (long) qn * cap * 4);
      DeviceBuffer fcRow = w.device("fcRow", (long) qn * cap * 4);
      // one zeroed region: the filter counts, then the sample histograms
      DeviceBuffer zeroed = w.device("zeroed", qn * 4L * (1 + bins));
      memsetAsync(zeroed, qn * (1L + bins), w);
      DeviceBuffer.Slice fcCount = zeroed.at(0);
      DeviceBuffer.Slice sampleHist = zeroed.at(qn * 4L);
      dev.launch("dh_scan_hist_" + v, Plan.sampleChunks(dt.rows, sampleStride), qn, Plan.THREADS,
          copies * bins * 4, w.stream, dt.codes, dt.tombstones, dt.rows, words, dq, c.maxDist, bins, copies,
          sampleStride, sampleHist);
      dev.launch("dh_select_bound", small, 1, 128, 0, w.stream, sampleHist, bins, c.maxDist, qn, c.selectK, bound);
      int qb = Plan.boundQueries(words);
      dev.launch("dh_scan_bound_" + v, (qn + qb - 1) / qb, Math.min(chunks, Plan.MAX_GRID_Y), Plan.THREADS, 0,
          w.stream, dt.codes, dt.tombstones, dt.rows, words, dq, qn, bound, cap, fcKey, fcRow, fcCount);
      dev.launch("dh_cand_select", qn, 1, Plan.SORT_THREADS, bins * 4, w.stream, fcKey, fcRow, fcCount, cap,
          dt.ids, bins, c.selectK, cand, candKey, candId, candRow, candCount);
    } else {
      // 1-2: histogram and threshold
      DeviceBuffer hist = w.device("hist", (long) qn * bins * 4);
      DeviceBuffer flag = w.device("flag", 4);
      state = w.device("state", (long) qn * Plan.STATE_BYTES);
      memsetAsync(hist, (long) qn * bins, w);
      memsetAsync(flag, 1, w);
      memsetAsync(candCount, qn, w);
      dev.launch("dh_scan_hist_" + v, chunks, qn, Plan.THREADS, copies * bins * 4, w.stream,
          dt.codes, dt.tombstones, dt.rows, words, dq, c.maxDist, bins, copies, 1, hist);
      dev.launch("dh_select_threshold", small, 1, 128, 0, w.stream, hist, bins, c.maxDist, qn, c.selectK, cand, state,
          flag);
      // 3: refine the id digits of queries whose ties overflow the candidate buffer (rare: duplicates)
      int rounds = 0;
      while (flag(w, flag)) {
        if (++rounds > 8) {
          throw new IllegalStateException("cuda selection did not converge after 8 id digits (kernel bug)");
        }
        DeviceBuffer digit = w.device("digit", qn * 256L * 4);
        memsetAsync(digit, qn * 256L, w);
        memsetAsync(flag, 1, w);
        dev.launch("dh_scan_digit_" + v, chunks, qn, Plan.THREADS, 0, w.stream,
            dt.codes, dt.tombstones, dt.ids, dt.rows, words, dq, state, digit);
        dev.launch("dh_select_digit", small, 1, 128, 0, w.stream, digit, qn, cand, state, flag);
      }
      // 4: emit candidates
      dev.launch("dh_scan_emit_" + v, chunks, qn, Plan.THREADS, 0, w.stream,
          dt.codes, dt.tombstones, dt.ids, dt.rows, words, dq, state, cand, candKey, candId, candRow, candCount);
    }
    // 5: order them
    Plan.Lists ol = new Plan.Lists(qn, stride);
    DeviceBuffer out = null;
    if (devSort) {
      out = w.device("out", ol.bytes());
      dev.launch("dh_sort_topk", qn, 1, Plan.SORT_THREADS, CudaDevice.SORT_SHARED_BYTES, w.stream,
          candKey, candId, candRow, candCount, cand, c.selectK, stride, out.at(ol.key()), out.at(ol.id()),
          out.at(ol.row()), out.at(ol.count()));
    }
    w.record(2);

    // fine stage: gather the pool's features, dots by cuBLAS, distances, order
    if (fineStride > 0) {
      int dim = t.dim();
      dev.launch("dh_row_sqnorms", (qn * 32 + 255) / 256, 1, 256, 0, w.stream, dqf, (long) qn, dim, dqn);
      DeviceBuffer gathered = w.device("gathered", (long) qn * stride * dim * 4);
      DeviceBuffer dots = w.device("dots", (long) qn * stride * 4);
      dev.launch("dh_gather_features", stride, qn, Math.min(256, (dim + 31) / 32 * 32), 0, w.stream,
          dt.features, dim, out.at(ol.row()), out.at(ol.count()), stride, gathered);
      blas.setStream(w.stream);
      blas.sgemmStridedBatched(true, stride, 1, dim, 1f, gathered, dim, (long) stride * dim, dqf, dim, dim,
          0f, dots, stride, stride, qn);
      dev.launch("dh_l2_finalize", (stride + 255) / 256, qn, 256, 0, w.stream, dots, dqn, dt.norms, out.at(ol.row()),
          out.at(ol.id()), out.at(ol.count()), stride, qn, candKey, candId, candRow, candCount);
      Plan.Lists fl = new Plan.Lists(qn, fineStride);
      DeviceBuffer fo = w.device("fine", fl.bytes());
      dev.launch("dh_sort_topk", qn, 1, Plan.SORT_THREADS, CudaDevice.SORT_SHARED_BYTES, w.stream,
          candKey, candId, candRow, candCount, stride, c.fineK, fineStride, fo.at(fl.key()), fo.at(fl.id()),
          fo.at(fl.row()), fo.at(fl.count()));
      d2h(w.pinned("fine", fl.bytes()), fo, fl.bytes(), w);
    }
    w.record(3);

    if (!bounded) {
      d2h(w.pinned("state", state.bytes()), state, (long) qn * Plan.STATE_BYTES, w);
    }
    if (devSort) {
      d2h(w.pinned("out", ol.bytes()), out, ol.bytes(), w);
    } else {
      d2h(w.pinned("candKey", candKey.bytes()), candKey, (long) qn * cand * 4, w);
      d2h(w.pinned("candId", candId.bytes()), candId, (long) qn * cand * 8, w);
      d2h(w.pinned("candRow", candRow.bytes()), candRow, (long) qn * cand * 4, w);
      d2h(w.pinned("candCount", candCount.bytes()), candCount, qn * 4L, w);
    }
    w.record(4);
    return new Batch(w, q0, qn, stride, cand, devSort, fineStride, dt, bounded);
  }

  /** Copies query codes [q0, q0+qn) into whole-word rows. */
  private static void stageCodes(MemorySegment codes, int cb, int words, int q0, int qn, MemorySegment dst) {
    int padded = words * 8;
    if (cb == padded) {
      MemorySegment.copy(codes, (long) q0 * cb, dst, 0, (long) qn * cb);
      return;
    }
    dst.asSlice(0, (long) qn * padded).fill((byte) 0);
    for (int i = 0; i < qn; i++) {
      MemorySegment.copy(codes, (long) (q0 + i) * cb, dst, (long) i * padded, cb);
    }
  }

  /** Whether any query of a bounded batch carries the overflow count -1. */
  private static boolean overflowed(MemorySegment out, Plan.Lists l) {
    for (int i = 0; i < l.queries(); i++) {
      if (out.get(JAVA_INT, l.count() + i * 4L) < 0) {
        return true;
      }
    }
    return false;
  }

  private void collect(Call c, Batch b, HostLists lists, HostLists fine) {
    Workspace w = b.w;
    Cuda.check(cuStreamSynchronize(w.stream), "cuStreamSynchronize(batch)");
    c.add("upload", w.elapsed(0, 1));
    c.add("scan", w.elapsed(1, 2));
    c.add("rerank", w.elapsed(2, 3));
    c.add("download", w.elapsed(3, 4));
    if (b.bounded) {
      c.add("bounded_batches", 1);
      if (overflowed(w.pinned("out", 0).segment(), new Plan.Lists(b.qn, b.stride))) {
        // a filter list or sort buffer overflowed (duplicate-heavy data): redo exactly on the histogram path
        c.add("fallback_batches", 1);
        collect(c, enqueue(c, w, b.dt, b.q0, b.qn, b.stride, b.cand, b.devSort, b.fineStride, false), lists, fine);
        return;
      }
    }
    long h0 = System.nanoTime();
    int stride = b.stride;
    if (!b.bounded) {
      // the rows within maxDist (radius search: the truncated flag); top-k never reads them
      MemorySegment state = w.pinned("state", 0).segment();
      for (int i = 0; i < b.qn; i++) {
        lists.total[b.q0 + i] = state.get(JAVA_INT, (long) i * Plan.STATE_BYTES + Plan.STATE_TOTAL);
      }
    }
    if (b.devSort) {
      copyLists(w.pinned("out", 0).segment(), new Plan.Lists(b.qn, stride), b.q0, lists);
    } else {
      // lists longer than one sorting block: the device selected them exactly, the host orders them
      MemorySegment count = w.pinned("candCount", 0).segment();
      MemorySegment key = w.pinned("candKey", 0).segment();
      MemorySegment id = w.pinned("candId", 0).segment();
      MemorySegment row = w.pinned("candRow", 0).segment();
      int[] sk = new int[b.cand];
      long[] si = new long[b.cand];
      int[] sr = new int[b.cand];
      for (int i = 0; i < b.qn; i++) {
        int q = b.q0 + i;
        int n = Math.min(count.get(JAVA_INT, i * 4L), b.cand);
        int target = w.pinned("state", 0).segment().get(JAVA_INT, (long) i * Plan.STATE_BYTES + Plan.STATE_TARGET);
        MemorySegment.copy(key, JAVA_INT, (long) i * b.cand * 4, sk, 0, n);
        MemorySegment.copy(id, JAVA_LONG, (long) i * b.cand * 8, si, 0, n);
        MemorySegment.copy(row, JAVA_INT, (long) i * b.cand * 4, sr, 0, n);
        Ranking.sort(sk, si, sr, 0, n);
        int m = Math.min(target, n);
        System.arraycopy(sk, 0, lists.key, q * stride, m);
        System.arraycopy(si, 0, lists.id, q * stride, m);
        System.arraycopy(sr, 0, lists.row, q * stride, m);
        lists.count[q] = m;
      }
    }
    if (b.dt.begin != 0) {
      for (int i = 0; i < b.qn; i++) {
        int q = b.q0 + i;
        for (int j = 0; j < lists.count[q]; j++) {
          lists.row[q * stride + j] += b.dt.begin;
        }
      }
    }
    if (b.fineStride > 0) {
      copyLists(w.pinned("fine", 0).segment(), new Plan.Lists(b.qn, b.fineStride), b.q0, fine);
    }
    c.add("host", (System.nanoTime() - h0) / 1e6);
  }

  /** Copies a downloaded {@link Plan.Lists} region into the host lists from query {@code q0} on. */
  private static void copyLists(MemorySegment src, Plan.Lists l, int q0, HostLists dst) {
    int s = l.stride();
    for (int i = 0; i < l.queries(); i++) {
      int q = q0 + i;
      int n = src.get(JAVA_INT, l.count() + i * 4L);
      dst.count[q] = n;
      MemorySegment.copy(src, JAVA_INT, l.key() + (long) i * s * 4, dst.key, q * s, n);
      MemorySegment.copy(src, JAVA_LONG, l.id() + (long) i * s * 8, dst.id, q * s, n);
      MemorySegment.copy(src, JAVA_INT, l.row() + (long) i * s * 4, dst.row, q * s, n);
    }
  }

  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    dev.makeCurrent();
    try {
      if (resident != null) {
        resident.close();
        resident = null;
      }
      for (Workspace w : lanes) {
        w.close();
      }
      blas.close();
      if (cpu != null) {
        cpu.close();
      }
    } finally {
      dev.close();
    }
  }
}
