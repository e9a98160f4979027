package org.deephash.backend.nativ;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ForkJoinPool;
import java.util.function.IntConsumer;
import java.util.logging.Logger;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.internal.BufferPool;
import org.deephash.internal.Parallel;
import org.deephash.internal.Rerank;
import org.deephash.spi.Queries;
import org.deephash.spi.SearchBackend;
import org.deephash.spi.TableView;
import org.deephash.spi.TimedBackend;

/**
 * Every search in the native kernels: Hamming top-k and radius, the fine stage of coarse-to-fine
 * search and exhaustive Euclidean search (blocked FMA kernels with precomputed squared norms, the
 * reported distances being the oracle's sums, bit for bit).
 *
 * <p>Work is split into tasks of (query block x row range): each task is one native call that
 * streams its rows once for the whole query block and returns a partial top-k per query; the
 * partial lists are merged exactly by (distance, id). Row ranges are cut so that every thread has
 * one even when there is a single query. Arguments were validated by the facade.
 */
final class NativeBackend implements SearchBackend, TimedBackend {
  private static final Logger LOG = Logger.getLogger(NativeBackend.class.getName());
  /** A row range smaller than this is not worth a thread of its own. */
  private static final int MIN_ROWS_PER_TASK = 16_384;
  /** Native scratch and outputs of one task, which bounds the queries per block when k is large. */
  private static final long TASK_BYTES = 16L << 20;
  /**
   * From this many pool entries in a coarse-to-fine batch, its first pass is split by rows (each
   * thread streams its part of the table) rather than by queries: the native call sorts a part's
   * entries by row from 65536 of them (DH_RERANK_SORTED_MIN).
   */
  private static final int ROW_SPLIT_ENTRIES = 65_536;
  /** Output buffers kept for reuse (see takeScratch): enough for the tasks of two concurrent searches. */
  private static final int SCRATCH_KEPT = 8;
  /** The largest pools buffer kept between coarse-to-fine searches (bytes; arrays: a quarter of it). */
  private static final long POOL_BUFFER_KEPT = 256L << 20;

  private final NativeLib lib;
  private final int tier;
  private final int threads;
  private final ForkJoinPool pool;
  /** Phases of the most recent call (milliseconds), for engine-cli bench. */
  private volatile Map<String, Double> timings = Map.of();
  /** Squared norms of rows [0, normRows) of the table's features (see norms). */
  private MemorySegment normSegment;
  private long normRows;
  /** Whether the fine stage reads the 8-bit copy of the features (see sq8). */
  private final boolean sq8;
  private volatile Sq8 sq8Copy;
  /** The copy could not be allocated once: not tried again (see sq8). */
  private boolean sq8Failed;

  NativeBackend(NativeLib lib, int tier, int threads, boolean sq8) {
    this.lib = lib;
    this.tier = tier;
    this.sq8 = sq8;
    this.threads = Math.max(1, threads);
    this.pool = this.threads > 1 ? new ForkJoinPool(this.threads - 1) : null; // the caller is the other thread
  }

  @Override
  public Map<String, Double> lastTimingsMs() {
    return timings;
  }

  private static double ms(long from, long to) {
    return Math.round((to - from) / 1e4) / 100.0;
  }

  @Override
  public String name() {
    return "native";
  }

  @Override
  public String device() {
    return "native " + NativeLib.tierName(tier) + ", " + threads + (threads == 1 ? " thread" : " threads");
  }

  int tier() {
    return tier;
  }

  @Override
  public SearchResult knn(TableView t, Queries qs, int k) {
    long t0 = System.nanoTime();
    int kk = Math.min(k, t.liveRows());
    int q = qs.count();
    Plan plan = kk > 0 && q > 0 ? plan(t, q, kk) : null;
    SearchResult r;
    if (plan != null && fixedBatch(t, plan, q, kk, t.bits())) {
      // each task also looks its rows' ids up, so that the lookups run in parallel
      FixedArrays out = new FixedArrays(q * kk, true);
      boolean byRow = t.idsAreRows();
      runFixedBatch(t, qs, plan, kk, out::allocate, (at, o, j, stride) -> {
        MemorySegment.copy(o.dist, JAVA_INT, 4L * j * stride, out.dist, at, kk);
        long[] ids = out.ids;
        for (int i = 0; i < kk; i++) {
          int row = o.rows.getAtIndex(JAVA_INT, (long) j * stride + i);
          ids[at + i] = byRow ? row : t.id(row);
        }
      });
      r = SearchResult.fixed(q, kk, out.ids, out.dist, null);
    } else {
      Hits h = hamming(t, qs, kk, t.bits());
      r = SearchResult.fixed(q, kk, ids(t, h.rows), h.dist, null);
    }
    long t1 = System.nanoTime();
    timings = Map.of("scan", ms(t0, t1), "total", ms(t0, t1));
    return r;
  }

  @Override
  public SearchResult radius(TableView t, Queries qs, int r, int cap) {
    Hits h = hamming(t, qs, Math.min(cap, t.liveRows()), r);
    return SearchResult.of(h.offsets, ids(t, h.rows), h.dist, null, h.truncated);
  }

  @Override
  public SearchResult coarseToFine(TableView t, Queries qs, Pool p, int k) {
    long t0 = System.nanoTime();
    int q = qs.count();
    int limit = Math.min(p.size(), t.liveRows());
    Pools pools = coarse(t, qs, limit, p.kind() == Pool.Kind.RADIUS ? p.radius() : t.bits());
    int[] offsets = new int[q + 1];
    for (int i = 0; i < q; i++) {
      offsets[i + 1] = offsets[i] + Math.min(k, pools.offsets[i + 1] - pools.offsets[i]);
    }
    long[] ids = new long[offsets[q]];
    int[] ham = new int[ids.length];
    float[] l2 = new float[ids.length];
    if (ids.length == 0) {
      pools.release();
      return SearchResult.of(offsets, ids, ham, l2, null);
    }
    long t1 = System.nanoTime();
    MemorySegment nrm = norms(t);
    Sq8 s8 = sq8 ? sq8(t) : null;
    MemorySegment feats = offHeap(t.features());
    MemorySegment tids = offHeap(t.ids());
    MemorySegment qf = offHeap(qs.features());
    int dim = t.dim();
    int options = t.idsAscending() ? NativeLib.IDS_ASCENDING : 0;
    boolean byRow = t.idsAreRows();
    int rows = t.rows();
    MemorySegment off = pools.off;
    MemorySegment poolRows = pools.rowSegment;
    MemorySegment bounds = pools.bounds;
    MemorySegment codes = s8 == null ? MemorySegment.NULL : s8.codes;
    MemorySegment params = s8 == null ? MemorySegment.NULL : s8.params;
    // first pass: a large batch by row ranges, so that each thread streams its part of the table in
    // order (dh_l2_rerank_bounds); a small one by queries, each pool in its own order
    int chunks = Math.max(1, Math.min(q, 4 * threads));
    if (pools.offsets[q] >= ROW_SPLIT_ENTRIES && threads > 1) {
      parallelFor(threads, part -> lib.l2RerankBounds(tier, feats, dim, nrm, codes, params, qf, q, off, poolRows,
          (long) rows * part / threads, (long) rows * (part + 1) / threads, bounds));
    } else {
      parallelFor(chunks, c -> {
        int q0 = (int) ((long) q * c / chunks);
        int q1 = (int) ((long) q * (c + 1) / chunks);
        if (q1 > q0) {
          lib.l2RerankBounds(tier, feats, dim, nrm, codes, params, qf.asSlice((long) q0 * dim * 4), q1 - q0,
              off.asSlice(4L * q0), poolRows, 0, rows, bounds);
        }
      });
    }
    long tb = System.nanoTime();
    // second pass: each query's candidates ranked by their reference distances
    parallelFor(chunks, c -> {
      int q0 = (int) ((long) q * c / chunks);
      int nq = (int) ((long) q * (c + 1) / chunks) - q0;
      if (nq == 0) {
        return;
      }
      long lists = 4L * nq * k;
      MemorySegment outs = takeScratch(2 * lists + 4L * nq);
      MemorySegment od = outs.asSlice(0, lists);
      MemorySegment oi = outs.asSlice(lists, lists);
      MemorySegment oc = outs.asSlice(2 * lists, 4L * nq);
      lib.l2RerankRank(feats, dim, tids, qf.asSlice((long) q0 * dim * 4), nq, off.asSlice(4L * q0), poolRows, bounds,
          k, options, od, oi, oc);
      for (int i = 0; i < nq; i++) {
        int n = oc.getAtIndex(JAVA_INT, i);
        int out = offsets[q0 + i];
        for (int j = 0; j < n; j++) {
          int idx = pools.offsets[q0 + i] + oi.getAtIndex(JAVA_INT, (long) i * k + j);
          int row = pools.rows[idx];
          ids[out + j] = byRow ? row : t.id(row);
          ham[out + j] = pools.dist[idx];
          l2[out + j] = od.getAtIndex(JAVA_FLOAT, (long) i * k + j);
        }
      }
      giveScratch(outs); // not on an exception: a buffer the native call may have half written is dropped
    });
    pools.release();
    long t2 = System.nanoTime();
    // the fine stage's first pass (bounds) and second (ranking by reference distances) as well
    timings = Map.of("coarse", ms(t0, t1), "fine", ms(t1, t2), "fine_bounds", ms(t1, tb), "fine_rank", ms(tb, t2),
        "total", ms(t0, t2));
    return SearchResult.of(offsets, ids, ham, l2, null);
  }

  /**
   * Exhaustive Euclidean search in the native blocked kernels. A small batch is split by rows as
   * well as queries, so that each pass over the features serves many queries (with 25 queries a
   * task, the scan is bound by memory, not by the FMA units).
   */
  @Override
  public SearchResult exhaustive(TableView t, Queries qs, int k) {
    int q = qs.count();
    int kk = Math.min(k, t.liveRows());
    if (kk == 0 || q == 0) {
      return SearchResult.of(new int[q + 1], new long[0], null, new float[0], null);
    }
    int rows = t.rows();
    int parts = q >= 128 * threads ? 1 : rowParts(rows);
    long[] bounds = new long[parts + 1];
    for (int p = 0; p <= parts; p++) {
      bounds[p] = (long) rows * p / parts;
    }
    long perQuery = (2L * kk + 64) * 8 + kk * 8L + 16;
    int block = (int) Math.max(1, Math.min(q, TASK_BYTES / perQuery));
    if (parts == 1) {
      block = Math.min(block, ceilDiv(q, 2 * threads));
    } else if (parts < threads) {
      block = Math.min(block, ceilDiv(q, threads / parts));
    }
    int blocks = ceilDiv(q, block);
    final int qb = block;
    MemorySegment nrm = norms(t);
    MemorySegment feats = offHeap(t.features());
    MemorySegment tids = offHeap(t.ids());
    MemorySegment tomb = t.hasTombstones() ? offHeap(t.tombstones()) : MemorySegment.NULL;
    MemorySegment qf = offHeap(qs.features());
    int dim = t.dim();
    int options = t.idsAscending() ? NativeLib.IDS_ASCENDING : 0;
    float[][] pd = new float[blocks * parts][];
    int[][] pr = new int[blocks * parts][];
    int[][] pc = new int[blocks * parts][];
    parallelFor(blocks * parts, task -> {
      int b = task / parts;
      int p = task % parts;
      int q0 = b * qb;
      int nq = Math.min(qb, q - q0);
      try (Arena a = Arena.ofConfined()) {
        MemorySegment od = a.allocate(JAVA_FLOAT, (long) nq * kk);
        MemorySegment or = a.allocate(JAVA_INT, (long) nq * kk);
        MemorySegment oc = a.allocate(JAVA_INT, nq);
        lib.l2Topk(tier, feats, dim, nrm, bounds[p], bounds[p + 1], tids, tomb, qf.asSlice((long) q0 * dim * 4), nq,
            kk, options, od, or, oc);
        pd[task] = od.toArray(JAVA_FLOAT);
        pr[task] = or.toArray(JAVA_INT);
        pc[task] = oc.toArray(JAVA_INT);
      }
    });
    // exact k-way merge of the row ranges by (distance, id); distances are the reference values
    int[] offsets = new int[q + 1];
    for (int i = 0; i < q; i++) {
      long total = 0;
      for (int p = 0; p < parts; p++) {
        total += pc[(i / qb) * parts + p][i % qb];
      }
      offsets[i + 1] = offsets[i] + (int) Math.min(total, kk);
    }
    long[] ids = new long[offsets[q]];
    float[] l2 = new float[ids.length];
    int[] pos = new int[parts];
    boolean byRow = t.idsAscending();
    for (int i = 0; i < q; i++) {
      int local = i % qb;
      int t0 = (i / qb) * parts;
      java.util.Arrays.fill(pos, 0);
      for (int o = offsets[i]; o < offsets[i + 1]; o++) {
        int best = -1;
        int bBits = 0;
        long bKey = 0;
        for (int p = 0; p < parts; p++) {
          if (pos[p] < pc[t0 + p][local]) {
            int at = local * kk + pos[p];
            int bits = Float.floatToRawIntBits(pd[t0 + p][at]);
            int row = pr[t0 + p][at];
            long key = byRow ? row : t.id(row);
            if (best < 0 || bits < bBits || (bits == bBits && key < bKey)) {
              best = p;
              bBits = bits;
              bKey = key;
            }
          }
        }
        int at = local * kk + pos[best]++;
        ids[o] = t.id(pr[t0 + best][at]);
        l2[o] = pd[t0 + best][at];
      }
    }
    return SearchResult.of(offsets, ids, null, l2, null);
  }

  /**
   * Squared norms of the feature rows, for the Euclidean kernels: computed once per row, in
   * parallel, and extended as rows are added (rows are append-only and a row's features never
   * change; one backend serves one table). Old segments are left to the GC: a search running
   * concurrently may still read them.
   */
  private synchronized MemorySegment norms(TableView t) {
    int rows = t.rows();
    if (rows > normRows || normSegment == null) {
      MemorySegment grown = Arena.ofAuto().allocate(Math.max(4L, 4L * rows), 64);
      if (normSegment != null && normRows > 0) {
        MemorySegment.copy(normSegment, 0, grown, 0, 4L * normRows);
      }
      MemorySegment feats = offHeap(t.features());
      int dim = t.dim();
      long from = normRows;
      forRowRanges(from, rows, (r0, r1) -> lib.l2Norms(feats, dim, r0, r1, grown.asSlice(4 * r0)));
      normSegment = grown;
      normRows = rows;
    }
    return normSegment;
  }

  /** A native call over rows [r0, r1) of a per-row table (see forRowRanges). */
  private interface RowRange {
    void accept(long r0, long r1);
  }

  /**
   * Fills rows [from, to) of a per-row table (norms, the 8-bit copy) in parallel: up to 4 ranges a
   * thread, none under 65536 rows.
   */
  private void forRowRanges(long from, long to, RowRange body) {
    int chunks = (int) Math.max(1, Math.min(4L * threads, (to - from) / 65_536));
    parallelFor(chunks, c -> body.accept(from + (to - from) * c / chunks, from + (to - from) * (c + 1) / chunks));
  }

  /** The 8-bit copy of the features (dh_l2_sq8): dim codes and 4 floats a row. */
  private record Sq8(MemorySegment codes, MemorySegment params, long rows) {}

  /**
   * The 8-bit copy of the feature rows that the fine stage's first pass reads (a quarter of the
   * bytes of the features, plus 16 a row): built on the first coarse-to-fine search, in parallel,
   * and extended as rows are added, like the norms. {@code -Dengine.rerank.sq8=false} does without;
   * so does a backend that once found no memory for it (one warning). Null when there is none.
   */
  private synchronized Sq8 sq8(TableView t) {
    int rows = t.rows();
    Sq8 have = sq8Copy;
    if (have != null && have.rows >= rows) {
      return have;
    }
    if (sq8Failed) {
      return null;
    }
    int dim = t.dim();
    long from = have == null ? 0 : have.rows;
    MemorySegment codes;
    MemorySegment params;
    try {
      Arena arena = Arena.ofAuto();
      codes = arena.allocate(Math.max(64L, (long) dim * rows), 64);
      params = arena.allocate(Math.max(16L, 16L * rows), 64);
    } catch (OutOfMemoryError e) {
      // no room for the copy: the fine stage reads the float features instead (same results)
      sq8Failed = true;
      sq8Copy = null;
      LOG.warning(Rerank.sq8NoMemory(rows, dim));
      return null;
    }
    if (have != null && from > 0) {
      MemorySegment.copy(have.codes, 0, codes, 0, (long) dim * from);
      MemorySegment.copy(have.params, 0, params, 0, 16L * from);
    }
    MemorySegment feats = offHeap(t.features());
    forRowRanges(from, rows,
        (r0, r1) -> lib.l2Sq8(feats, dim, r0, r1, codes.asSlice(dim * r0), params.asSlice(16 * r0)));
    sq8Copy = new Sq8(codes, params, rows);
    return sq8Copy;
  }

  @Override
  public synchronized void close() {
    if (pool != null) {
      pool.shutdown();
    }
  }

  /**
   * The coarse stage's pools: per query q, entries [offsets[q], offsets[q+1]) of rows and their
   * Hamming distances, ranked by (distance, id), in Java arrays (the results are read from them),
   * and the offsets and rows again in one native buffer that the fine stage's native calls read,
   * with room for their two floats of bounds per entry. The arrays of a batch top-k and the buffer
   * are reused from search to search (see {@link #coarse}).
   */
  private record Pools(NativeBackend owner, int[] offsets, int[] rows, int[] dist, boolean pooledArrays,
      MemorySegment buf, MemorySegment off, MemorySegment rowSegment, MemorySegment bounds) {
    void release() {
      owner.poolBuffer.give(buf);
      if (pooledArrays) {
        owner.poolArrays.give(rows);
        owner.poolArrays.give(dist);
      }
    }
  }

  /**
   * The best {@code limit} live rows within {@code maxDist} of each query, as {@link Pools}. A batch
   * top-k writes its lists into arrays kept from the previous search: on the development VM fresh
   * arrays of a million entries were about 1000 page faults each (10 ms) while the heap grew. (Read
   * from the native buffer instead, the results' loop over scattered entries kept failing a
   * speculation of C2's and was recompiled over and over: 2 ms became 40-100.)
   */
  private Pools coarse(TableView t, Queries qs, int limit, int maxDist) {
    int q = qs.count();
    Plan plan = q > 0 && limit > 0 ? plan(t, q, limit) : null;
    if (plan != null && fixedBatch(t, plan, q, limit, maxDist)) {
      int[] offsets = new int[q + 1];
      for (int i = 0; i < q; i++) {
        offsets[i + 1] = offsets[i] + limit;
      }
      int[] rows = poolArrays.take((long) q * limit);
      int[] dist = poolArrays.take((long) q * limit);
      runFixedBatch(t, qs, plan, limit, () -> { }, (at, o, j, stride) -> {
        MemorySegment.copy(o.dist, JAVA_INT, 4L * j * stride, dist, at, limit);
        MemorySegment.copy(o.rows, JAVA_INT, 4L * j * stride, rows, at, limit);
      });
      return pools(offsets, rows, dist, true);
    }
    Hits h = hamming(t, qs, limit, maxDist);
    return pools(h.offsets, h.rows, h.dist, false);
  }

  /** The pools of the given lists, their offsets and rows copied into a (reused) native buffer. */
  private Pools pools(int[] offsets, int[] rows, int[] dist, boolean pooledArrays) {
    int q = offsets.length - 1;
    long total = offsets[q];
    long rowsAt = align64(4L * (q + 1));
    long boundsAt = rowsAt + align64(4L * total);
    MemorySegment buf = poolBuffer.take(boundsAt + 8L * total);
    MemorySegment off = buf.asSlice(0, 4L * (q + 1));
    MemorySegment.copy(offsets, 0, off, JAVA_INT, 0, q + 1);
    MemorySegment rowSegment = buf.asSlice(rowsAt, 4L * total);
    MemorySegment.copy(rows, 0, rowSegment, JAVA_INT, 0, (int) total);
    return new Pools(this, offsets, rows, dist, pooledArrays, buf, off, rowSegment, buf.asSlice(boundsAt, 8L * total));
  }

  private static long align64(long bytes) {
    return (bytes + 63) & ~63L;
  }

  /**
   * The pools' native buffer and arrays of the last coarse-to-fine searches, kept for the next (a
   * 1000 x 1000 pool takes 12 MB of buffer and 8 MB of arrays: about 5000 page faults when fresh).
   */
  private final BufferPool<MemorySegment> poolBuffer = new BufferPool<>(MemorySegment::byteSize,
      bytes -> Arena.ofAuto().allocate(Math.max(bytes, 1 << 16), 64), 1, POOL_BUFFER_KEPT);
  private final BufferPool<int[]> poolArrays =
      new BufferPool<>(a -> a.length, n -> new int[(int) n], 4, POOL_BUFFER_KEPT / 16);

  /** Per query q, entries [offsets[q], offsets[q+1]) ranked by (distance, id). */
  private record Hits(int[] offsets, int[] dist, int[] rows, boolean[] truncated) {}

  /** One native call's answer for a query block and a row range. */
  private record Partial(int stride, int[] dist, int[] rows, int[] count, int[] flags) {}

  /**
   * One native call's outputs, valid only inside the task that made them: per query j of the block,
   * count(j) entries at j * stride of dist and rows (ranked by distance, then id), and its flags.
   */
  private record TaskOutput(MemorySegment dist, MemorySegment rows, MemorySegment counts, MemorySegment flags) {
    int count(int j) {
      return counts.getAtIndex(JAVA_INT, j);
    }
  }

  /**
   * What a task (query block b, row range p) does with its outputs before they are reused: queries
   * q0 .. q0 + nq, lists of stride k.
   */
  private interface TaskSink {
    void accept(int b, int p, int q0, int nq, int k, TaskOutput out);
  }

  /**
   * Native memory for tasks' outputs, reused: fresh memory per task was zeroed by the allocator, and
   * on the development VM its page faults cost more than the copies out of it. A task takes a buffer
   * and gives it back when it has consumed its outputs; at most {@link #SCRATCH_KEPT} are kept.
   */
  private final BufferPool<MemorySegment> scratch = new BufferPool<>(MemorySegment::byteSize,
      bytes -> Arena.ofAuto().allocate(Math.max(bytes, 1 << 16), 64), SCRATCH_KEPT, TASK_BYTES);

  private MemorySegment takeScratch(long bytes) {
    return scratch.take(bytes);
  }

  private void giveScratch(MemorySegment s) {
    scratch.give(s);
  }

  /**
   * The best {@code limit} live rows by (distance, id) among those within {@code maxDist} of each
   * query; truncated where more qualified.
   *
   * <p>A batch of queries is split by queries only: each task scans every row for its block of
   * queries, so no lists need merging and the sampled starting threshold of a large k sees the whole
   * table. Fewer queries than 4 per thread are split by rows as well, so one query uses every core.
   */
  private Hits hamming(TableView t, Queries qs, int limit, int maxDist) {
    int q = qs.count();
    if (q == 0 || limit == 0) {
      return new Hits(new int[q + 1], new int[0], new int[0], new boolean[q]);
    }
    Plan plan = plan(t, q, limit);
    if (fixedBatch(t, plan, q, limit, maxDist)) {
      int[] offsets = new int[q + 1];
      for (int i = 0; i < q; i++) {
        offsets[i + 1] = offsets[i] + limit;
      }
      FixedArrays out = new FixedArrays(q * limit, false);
      boolean[] truncated = new boolean[q];
      runFixedBatch(t, qs, plan, limit, out::allocate, (at, o, j, stride) -> {
        MemorySegment.copy(o.dist, JAVA_INT, 4L * j * stride, out.dist, at, limit);
        MemorySegment.copy(o.rows, JAVA_INT, 4L * j * stride, out.rows, at, limit);
        truncated[at / limit] = (o.flags.getAtIndex(JAVA_INT, j) & NativeLib.FLAG_TRUNCATED) != 0;
      });
      return new Hits(offsets, out.dist, out.rows, truncated);
    }
    Partial[][] partials = new Partial[plan.blocks()][plan.parts()];
    runTasks(t, qs, plan, maxDist, (b, p, q0, nq, k, out) -> partials[b][p] = new Partial(k,
        out.dist.toArray(JAVA_INT), out.rows.toArray(JAVA_INT), out.counts.toArray(JAVA_INT),
        out.flags.toArray(JAVA_INT)));
    return merge(t, partials, q, plan.block(), limit);
  }

  /**
   * Whether a search of q queries for the best {@code limit} within {@code maxDist} is a batch top-k:
   * one row range, and every query gets exactly {@code limit} rows. Each task then copies its
   * block's lists straight into the result (no per-task arrays, no merge on the calling thread).
   */
  private static boolean fixedBatch(TableView t, Plan plan, int q, int limit, int maxDist) {
    return plan.parts() == 1 && maxDist == t.bits() && limit <= t.liveRows()
        && (long) q * limit <= Integer.MAX_VALUE - 8;
  }

  /**
   * What a fixed batch's task does with the list of query i (the block's query j, at j * stride of
   * the task's outputs) while the outputs are valid: at is i * limit.
   */
  private interface FixedSink {
    void accept(int at, TaskOutput out, int j, int stride);
  }

  /**
   * The result arrays of a fixed batch: distances, and ids or rows. Allocated by the calling thread
   * once the helpers have started their first tasks (zeroing 12 MB for k = 1000 took 0.7 ms that
   * every thread waited for), or by a task that needs them first.
   */
  private static final class FixedArrays {
    private final int length;
    private final boolean withIds;
    int[] dist;
    int[] rows;
    long[] ids;

    FixedArrays(int length, boolean withIds) {
      this.length = length;
      this.withIds = withIds;
    }

    synchronized void allocate() {
      if (dist == null) {
        if (withIds) {
          ids = new long[length];
        } else {
          rows = new int[length];
        }
        dist = new int[length];
      }
    }
  }

  /**
   * Runs a fixed batch ({@link #fixedBatch}): each query's list of exactly {@code limit} rows goes to
   * {@code sink}. {@code prepare} (idempotent: the result arrays' allocation) runs on the calling
   * thread once the helpers have started, and at the start of each task, before its sink is called.
   */
  private void runFixedBatch(TableView t, Queries qs, Plan plan, int limit, Runnable prepare, FixedSink sink) {
    runTasks(t, qs, plan, t.bits(), prepare, (b, p, q0, nq, k, out) -> {
      prepare.run(); // a no-op unless this task finished before the calling thread prepared
      for (int j = 0; j < nq; j++) {
        if (out.count(j) != limit) {
          throw new IllegalStateException("native top-k returned " + out.count(j) + " rows, not " + limit);
        }
        sink.accept((q0 + j) * limit, out, j, k);
      }
    });
  }

  /**
   * How a Hamming search of q queries for the best {@code limit} is cut: row ranges (bounds), query
   * blocks of {@code block} queries, and the stride of a task's lists.
   */
  private record Plan(int parts, long[] bounds, int block, int blocks, int stride) {}

  private Plan plan(TableView t, int q, int limit) {
    int rows = t.rows();
    int parts = q >= 4 * threads ? 1 : rowParts(rows);
    long[] bounds = new long[parts + 1];
    for (int p = 0; p <= parts; p++) {
      bounds[p] = (long) rows * p / parts;
    }
    long widest = 0;
    for (int p = 0; p < parts; p++) {
      widest = Math.max(widest, bounds[p + 1] - bounds[p]);
    }
    int stride = (int) Math.min(limit, widest);
    // scratch of the selection (<= 4k + 80 candidates of 8 bytes) plus the outputs, per query
    long perQuery = (4L * stride + 80) * 8 + stride * 8L + 16;
    int block = (int) Math.max(1, Math.min(q, TASK_BYTES / perQuery));
    if (parts == 1) {
      block = Math.min(block, ceilDiv(q, 2 * threads)); // two tasks a thread: balance on a busy machine
    } else if (parts < threads) {
      block = Math.min(block, ceilDiv(q, threads / parts));
    }
    return new Plan(parts, bounds, block, ceilDiv(q, block), stride);
  }

  /** Runs the plan's tasks (query block b x row range p), each handing its outputs to the sink. */
  private void runTasks(TableView t, Queries qs, Plan plan, int maxDist, TaskSink sink) {
    runTasks(t, qs, plan, maxDist, () -> { }, sink);
  }

  /** As above; {@code first} runs on the calling thread once the helpers have been started. */
  private void runTasks(TableView t, Queries qs, Plan plan, int maxDist, Runnable first, TaskSink sink) {
    int q = qs.count();
    int cb = t.codeBytes();
    int parts = plan.parts();
    long[] bounds = plan.bounds();
    MemorySegment codes = offHeap(t.codes());
    MemorySegment ids = offHeap(t.ids());
    MemorySegment tomb = t.hasTombstones() ? offHeap(t.tombstones()) : MemorySegment.NULL;
    MemorySegment queries = offHeap(qs.codes());
    int options = t.idsAscending() ? NativeLib.IDS_ASCENDING : 0;
    parallelFor(plan.blocks() * parts, task -> {
      int b = task / parts;
      int p = task % parts;
      int q0 = b * plan.block();
      int nq = Math.min(plan.block(), q - q0);
      int k = (int) Math.max(1, Math.min(plan.stride(), bounds[p + 1] - bounds[p]));
      long lists = 4L * nq * k;
      MemorySegment out = takeScratch(2 * lists + 8L * nq);
      MemorySegment od = out.asSlice(0, lists);
      MemorySegment or = out.asSlice(lists, lists);
      MemorySegment oc = out.asSlice(2 * lists, 4L * nq);
      MemorySegment of = out.asSlice(2 * lists + 4L * nq, 4L * nq);
      lib.hammingTopk(tier, codes, cb, bounds[p], bounds[p + 1], ids, tomb, queries.asSlice((long) q0 * cb), nq,
          k, maxDist, options, od, or, oc, of);
      sink.accept(b, p, q0, nq, k, new TaskOutput(od, or, oc, of));
      giveScratch(out); // not on an exception: a buffer the native call may have half written is dropped
    }, first);
  }

  /**
   * The lists of each query, concatenated (one row range) or merged exactly by (distance, id)
   * over the row ranges (each range's list is sorted; ids are read once per entry).
   */
  private static Hits merge(TableView t, Partial[][] partials, int q, int qb, int limit) {
    int parts = partials[0].length;
    int[] offsets = new int[q + 1];
    boolean[] truncated = new boolean[q];
    for (int i = 0; i < q; i++) {
      Partial[] ps = partials[i / qb];
      long total = 0;
      for (Partial p : ps) {
        total += p.count[i % qb];
        truncated[i] |= (p.flags[i % qb] & NativeLib.FLAG_TRUNCATED) != 0;
      }
      truncated[i] |= total > limit;
      offsets[i + 1] = offsets[i] + (int) Math.min(total, limit);
    }
    int[] dist = new int[offsets[q]];
    int[] rows = new int[dist.length];
    if (parts == 1) {
      for (int i = 0; i < q; i++) {
        Partial p = partials[i / qb][0];
        int from = (i % qb) * p.stride;
        int n = offsets[i + 1] - offsets[i];
        System.arraycopy(p.dist, from, dist, offsets[i], n);
        System.arraycopy(p.rows, from, rows, offsets[i], n);
      }
      return new Hits(offsets, dist, rows, truncated);
    }
    int[] pos = new int[parts];
    long[][] keys = new long[parts][];
    boolean byRow = t.idsAscending();
    for (int i = 0; i < q; i++) {
      Partial[] ps = partials[i / qb];
      int local = i % qb;
      for (int p = 0; p < parts; p++) {
        int c = ps[p].count[local];
        if (keys[p] == null || keys[p].length < c) {
          keys[p] = new long[Math.max(c, 16)];
        }
        for (int j = 0; j < c; j++) {
          int row = ps[p].rows[local * ps[p].stride + j];
          keys[p][j] = byRow ? row : t.id(row);
        }
      }
      java.util.Arrays.fill(pos, 0);
      for (int o = offsets[i]; o < offsets[i + 1]; o++) {
        int best = -1;
        int bd = 0;
        long bk = 0;
        for (int p = 0; p < parts; p++) {
          if (pos[p] < ps[p].count[local]) {
            int d = ps[p].dist[local * ps[p].stride + pos[p]];
            long key = keys[p][pos[p]];
            if (best < 0 || d < bd || (d == bd && key < bk)) {
              best = p;
              bd = d;
              bk = key;
            }
          }
        }
        int at = local * ps[best].stride + pos[best]++;
        dist[o] = bd;
        rows[o] = ps[best].rows[at];
      }
    }
    return new Hits(offsets, dist, rows, truncated);
  }

  /** Row ranges: one per thread when there are enough rows, so one query uses every core. */
  private int rowParts(int rows) {
    return Math.max(1, Math.min(threads, rows / MIN_ROWS_PER_TASK));
  }

  /**
   * Runs tasks 0..n-1 on at most {@code threads} threads: the caller and threads - 1 pool workers
   * take the next task from a shared counter until none is left, so no more threads run than the
   * backend was given (a caller running a task beside {@code threads} busy workers was one more).
   */
  private void parallelFor(int n, IntConsumer body) {
    parallelFor(n, body, () -> { });
  }

  /** As above; {@code first} runs on the calling thread once the helpers have been started. */
  private void parallelFor(int n, IntConsumer body, Runnable first) {
    Parallel.forEach(pool, threads, n, body, first);
  }


  private static long[] ids(TableView t, int[] rows) {
    long[] ids = new long[rows.length];
    boolean byRow = t.idsAreRows();
    for (int i = 0; i < rows.length; i++) {
      ids[i] = byRow ? rows[i] : t.id(rows[i]);
    }
    return ids;
  }

  /**
   * Kernels take native memory; a heap segment (CodeTable never makes one) is copied into memory
   * the GC frees, so the common path creates no arena (closing a shared one costs a handshake
   * with every thread).
   */
  private static MemorySegment offHeap(MemorySegment s) {
    return s.isNative() ? s : Arena.ofAuto().allocate(s.byteSize() + 8, 64).copyFrom(s);
  }

  private static int ceilDiv(int a, int b) {
    return (a + b - 1) / b;
  }
}
