package org.deephash.backend.cuda;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.deephash.internal.Ranking;
import org.deephash.spi.Queries;
import org.deephash.spi.TableView;

/**
 * The device side of a search: query batches on two streams (one batch's copies overlap the
 * other's kernels), each running one of the two exact selection paths of
 * cuda/src/deephash_kernels.cu (bounded or histogram; docs/GPU.md), optionally the cuBLAS fine
 * stage, then one download of the ranked lists. Returns per-query lists on the host; turning them
 * into results is the adapter's ({@link CudaBackend}). Not thread-safe: the backend serialises
 * calls and makes the context current.
 */
final class Pipeline implements AutoCloseable {
  /** Device bytes one stream's per-batch buffers may use (property deephash.cuda.workspaceMiB, read per call). */
  static long workspace() {
    return Long.getLong("deephash.cuda.workspaceMiB", 512) << 20;
  }

  /** Most queries per batch (property deephash.cuda.maxBatch; tests use small values to force batching). */
  private static int maxBatch() {
    return Integer.getInteger("deephash.cuda.maxBatch", 8192);
  }

  /** A search call's parameters and its phase times (milliseconds). */
  static final class Call {
    final TableView t;
    final Queries qs;
    /** Entries to select per query: k, the pool size m, or the radius cap. */
    final int selectK;
    /** Largest Hamming distance kept: B for top-k, r for radius. */
    final int maxDist;
    /** Whether the Euclidean fine stage follows (coarse-to-fine), and its k. */
    final boolean fine;
    final int fineK;
    final boolean bounded;
    private final long start = System.nanoTime();
    private final Map<String, Double> times = new LinkedHashMap<>();

    Call(TableView t, Queries qs, int selectK, int maxDist, boolean fine, int fineK) {
      this.t = t;
      this.qs = qs;
      this.selectK = selectK;
      this.maxDist = maxDist;
      this.fine = fine;
      this.fineK = fineK;
      this.bounded = Plan.bounded(selectK, maxDist, t.bits(), System.getProperty(Plan.SELECTION_PROPERTY));
      for (String p : new String[] {"table_upload", "upload", "scan", "rerank", "download", "host"}) {
        times.put(p, 0.0);
      }
    }

    void add(String phase, double ms) {
      times.merge(phase, ms, Double::sum);
    }

    void addSince(String phase, long nanoStart) {
      add(phase, (System.nanoTime() - nanoStart) / 1e6);
    }

    /** The phase times with the call's wall time as "total". */
    Map<String, Double> finish() {
      times.put("total", (System.nanoTime() - start) / 1e6);
      return Collections.unmodifiableMap(times);
    }
  }

  /** The Hamming lists of a call, and the fine stage's when it ran on the device (else null). */
  record Outcome(HostLists coarse, HostLists fine) {}

  /** One batch in flight on a lane. */
  private record Batch(Workspace w, int q0, int qn, int stride, int cand, boolean devSort, int fineStride,
      DeviceTable dt, boolean bounded) {}

  private final CudaDevice dev;
  private final Blas blas;
  private final Residency residency;
  private final Workspace[] lanes = new Workspace[2];

  Pipeline(CudaDevice dev, Blas blas) {
    this.dev = dev;
    this.blas = blas;
    this.residency = new Residency(dev);
    try {
      lanes[0] = new Workspace();
      lanes[1] = new Workspace();
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  Outcome run(Call c) {
    TableView t = c.t;
    int nq = c.qs.count();
    if (nq == 0 || t.liveRows() == 0) {
      return new Outcome(new HostLists(nq, 0), null);
    }
    long u0 = System.nanoTime();
    Residency.Placement place = residency.place(t, c.fine, workspace(), lanes[0].stream);
    c.addSince("table_upload", u0);
    HostLists[] parts = new HostLists[place.ranges().size()];
    HostLists fine = null;
    for (int s = 0; s < parts.length; s++) {
      int[] range = place.ranges().get(s);
      DeviceTable dt;
      if (place.streamed()) {
        long s0 = System.nanoTime();
        dt = DeviceTable.upload(dev, t, range[0], range[1], lanes[0].stream);
        c.addSince("table_upload", s0);
      } else {
        dt = place.resident().table;
      }
      try {
        int stride = Math.min(c.selectK, dt.live);
        parts[s] = new HostLists(nq, stride);
        if (c.fine && parts.length == 1 && dt.hasFeatures() && Plan.sortsOnDevice(stride) && stride > 0) {
          fine = new HostLists(nq, Math.min(c.fineK, stride));
        }
        if (stride > 0) {
          batches(c, dt, parts[s], fine);
        }
      } finally {
        if (place.streamed()) {
          dt.close();
        }
      }
    }
    long h0 = System.nanoTime();
    HostLists coarse = parts.length == 1 ? parts[0] : HostLists.merge(parts, Math.min(c.selectK, t.liveRows()));
    c.addSince("host", h0);
    return new Outcome(coarse, fine);
  }

  // ------------------------------------------------------------------------------------------
  // Batches on two streams

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
    if (c.bounded) {
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
          c.bounded);
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

    // the candidate lists (cand entries a query) in one region: ids, keys, rows, counts
    Plan.Lists cl = new Plan.Lists(qn, cand);
    DeviceBuffer cands = w.device("cand", cl.bytes());
    DeviceBuffer.Slice candKey = cands.at(cl.key());
    DeviceBuffer.Slice candId = cands.at(cl.id());
    DeviceBuffer.Slice candRow = cands.at(cl.row());
    DeviceBuffer.Slice candCount = cands.at(cl.count());
    DeviceBuffer state = null;
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
      Cuda.check(cuMemsetD32Async(cands.ptr().withByteOffset(cl.count()), 0, qn, w.stream),
          "cuMemsetD32Async(candidate counts)");
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

    if (state != null) {
      d2h(w.pinned("state", state.bytes()), state, (long) qn * Plan.STATE_BYTES, w);
    }
    if (devSort) {
      d2h(w.pinned("out", ol.bytes()), out, ol.bytes(), w);
    } else {
      d2h(w.pinned("cand", cl.bytes()), cands, cl.bytes(), w);
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
    MemorySegment state = b.bounded ? null : w.pinned("state", 0).segment();
    if (state != null) {
      // the rows within maxDist (radius search: the truncated flag); top-k never reads them
      for (int i = 0; i < b.qn; i++) {
        lists.total[b.q0 + i] = state.get(JAVA_INT, (long) i * Plan.STATE_BYTES + Plan.STATE_TOTAL);
      }
    }
    if (b.devSort) {
      copyLists(w.pinned("out", 0).segment(), new Plan.Lists(b.qn, stride), b.q0, lists);
    } else {
      // lists longer than one sorting block: the device selected them exactly (target entries and
      // ties), the host orders them and keeps the target
      Plan.Lists cl = new Plan.Lists(b.qn, b.cand);
      MemorySegment src = w.pinned("cand", 0).segment();
      int[] sk = new int[b.cand];
      long[] si = new long[b.cand];
      int[] sr = new int[b.cand];
      for (int i = 0; i < b.qn; i++) {
        int n = Math.min(readList(src, cl, i, sk, si, sr, 0, b.cand), b.cand);
        Ranking.sort(sk, si, sr, 0, n);
        int m = Math.min(state.get(JAVA_INT, (long) i * Plan.STATE_BYTES + Plan.STATE_TARGET), n);
        int at = (b.q0 + i) * stride;
        System.arraycopy(sk, 0, lists.key, at, m);
        System.arraycopy(si, 0, lists.id, at, m);
        System.arraycopy(sr, 0, lists.row, at, m);
        lists.count[b.q0 + i] = m;
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
    c.addSince("host", h0);
  }

  /**
   * Copies query i's list of a downloaded {@link Plan.Lists} region into the arrays from index
   * {@code at}, at most {@code max} entries; returns its count as the device wrote it.
   */
  private static int readList(MemorySegment src, Plan.Lists l, int i, int[] key, long[] id, int[] row, int at,
      int max) {
    int n = src.get(JAVA_INT, l.count() + i * 4L);
    int m = Math.max(0, Math.min(n, max));
    long s = l.stride();
    MemorySegment.copy(src, JAVA_INT, l.key() + i * s * 4, key, at, m);
    MemorySegment.copy(src, JAVA_LONG, l.id() + i * s * 8, id, at, m);
    MemorySegment.copy(src, JAVA_INT, l.row() + i * s * 4, row, at, m);
    return n;
  }

  /** Copies a downloaded region's ordered lists into the host lists from query {@code q0} on. */
  private static void copyLists(MemorySegment src, Plan.Lists l, int q0, HostLists dst) {
    int s = l.stride();
    for (int i = 0; i < l.queries(); i++) {
      int q = q0 + i;
      dst.count[q] = Math.min(readList(src, l, i, dst.key, dst.id, dst.row, q * s, s), s);
    }
  }

  @Override
  public void close() {
    RuntimeException first = null;
    for (AutoCloseable a : new AutoCloseable[] {residency, lanes[0], lanes[1]}) {
      try {
        if (a != null) {
          a.close();
        }
      } catch (Exception e) {
        if (first == null) {
          first = e instanceof RuntimeException re ? re : new IllegalStateException(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
