package org.deephash.backend.java;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.logging.Logger;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.internal.BufferPool;
import org.deephash.internal.Parallel;
import org.deephash.internal.Ranking;
import org.deephash.internal.Rerank;
import org.deephash.spi.Queries;
import org.deephash.spi.SearchBackend;
import org.deephash.spi.TableView;
import org.deephash.spi.TimedBackend;

/**
 * The pure-Java backend: exact, parallel over row ranges as well as query blocks (so a single
 * query uses every core), with the k-selection fused into the scan ({@link TopK}); the Euclidean
 * stages rank by the oracle's own distances ({@link FloatTopK}). The loops are {@link Kernels}.
 */
final class JavaBackend implements SearchBackend, TimedBackend {
  /** Rows scanned per tile before moving to the next query block (L2-sized for 64-bit codes). */
  private static final int ROW_TILE = 32768;
  /** Below this many rows per split, splitting the table costs more than it saves. */
  private static final int MIN_ROWS_PER_SPLIT = 8192;
  /** Rows sampled for the starting threshold of a large k (see sampleBounds): a split of many
   * queries shares one sample, so it affords a larger one and gets a tighter threshold. */
  private static final int SAMPLE_ROWS = 4096;
  private static final int SAMPLE_ROWS_BATCH = 32768;
  private static final int SAMPLE_BATCH_QUERIES = 64;
  /** Sampled tables kept (a table's sample and the sample's own, per row range). */
  private static final int SAMPLES_KEPT = 8;
  /** The longest array a result may hold (a few entries under Integer.MAX_VALUE, as the JDK's). */
  private static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

  private static final Logger LOG = Logger.getLogger(JavaBackend.class.getName());
  /** From this many pool entries, a coarse-to-fine batch's first pass visits rows in table order. */
  private static final int ROW_ORDER_ENTRIES = 65_536;
  /** Bits of a radix-sort digit: at most 2048 counters, which stay in L1. */
  private static final int RADIX_DIGIT = 11;
  /**
   * The largest work array kept between searches (elements; see BufferPool): what a batch of up to
   * 8M pool entries uses (a 1000 x 1000 batch keeps about 60 MB; at most about 500 MB are kept).
   */
  private static final long BUFFER_MAX = 1L << 23;

  private final int threads;
  private final Kernels kernels;
  /**
   * Work arrays of coarse-to-fine searches, kept between them (fresh ones are page faults), as many
   * of each as one search uses at once: the pool's rows and distances and two per thread for the
   * sort; two sort keys per thread (in the coarse stage: each thread's candidate lists); the
   * bounds.
   */
  private final BufferPool<int[]> ints =
      new BufferPool<>(b -> b.length, n -> new int[headroom(n)], 6, BUFFER_MAX);
  private final BufferPool<long[]> longs =
      new BufferPool<>(b -> b.length, n -> new long[headroom(n)], 4, BUFFER_MAX);
  private final BufferPool<float[]> floats =
      new BufferPool<>(b -> b.length, n -> new float[headroom(n)], 2, BUFFER_MAX);
  /** Sampled tables of recent searches (see sample). */
  private final Map<SampleKey, TableView> samples = new ConcurrentHashMap<>();
  private final ForkJoinPool pool;
  /** Phases of the most recent call (milliseconds), for engine-cli bench. */
  private volatile Map<String, Double> timings = Map.of();
  /** Whether the fine stage reads the 8-bit copy of the features (see eightBit). */
  private final boolean sq8;
  private volatile EightBitCopy sq8Copy;
  /** The copy could not be allocated once: not tried again (see eightBit). */
  private boolean sq8Failed;
  /** Squared norms of the rows [0, normRows) of the table's features (see norms). */
  private float[] normCache = new float[0];
  private int normRows;

  JavaBackend(int threads, Kernels kernels, boolean sq8) {
    this.threads = Math.max(1, threads);
    this.kernels = kernels;
    this.sq8 = sq8;
    this.pool = this.threads > 1 ? new ForkJoinPool(this.threads - 1) : null; // the caller is the other thread
  }

  /** A new work array's length for n elements: an eighth more, so that the next batch's fits too. */
  private static int headroom(long n) {
    return (int) Math.min(MAX_ARRAY, n + n / 8 + 64);
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
    return "java";
  }

  @Override
  public String device() {
    return "java (" + threads + (threads == 1 ? " thread, " : " threads, ") + kernels.describe() + ")";
  }

  /** One query range x row range of work. */
  private record Split(int q0, int q1, int r0, int r1) {}

  /** Which rows of which table a sample holds. */
  private record SampleKey(long address, long bytes, long version, int r0, int n, long step) {}

  /**
   * Query chunks x row ranges. A batch of queries is split by queries only (every chunk scans the
   * whole table, so no lists need merging and a sampled threshold sees every row); a few queries
   * are split by rows too, so that one query uses every core.
   */
  private List<Split> plan(int queries, int rows) {
    int qChunks = Math.max(1, Math.min(queries, 2 * threads));
    int rowSplits = queries >= 4 * threads ? 1
        : (int) Math.max(1, Math.min((2L * threads + qChunks - 1) / qChunks, rows / MIN_ROWS_PER_SPLIT));
    if (threads == 1) {
      qChunks = 1;
      rowSplits = 1;
    }
    List<Split> out = new ArrayList<>(qChunks * rowSplits);
    for (int a = 0; a < qChunks; a++) {
      int q0 = blockBoundary(queries, a, qChunks);
      int q1 = blockBoundary(queries, a + 1, qChunks);
      for (int b = 0; b < rowSplits; b++) {
        out.add(new Split(q0, q1, (int) ((long) rows * b / rowSplits), (int) ((long) rows * (b + 1) / rowSplits)));
      }
    }
    return out;
  }

  /**
   * Where the a-th of {@code chunks} even shares of the queries begins, rounded to a multiple of 4
   * when the shares are 8 or more: the kernels take queries 4 at a time and the rest one at a time
   * (a pass over every row each), so only the last share may have a remainder.
   */
  private static int blockBoundary(int queries, int a, int chunks) {
    int even = (int) ((long) queries * a / chunks);
    if (a == chunks || queries < 8L * chunks) {
      return even;
    }
    return Math.min(queries, (even + 2) / 4 * 4);
  }

  /** Runs the tasks in parallel ({@link Parallel#forEach}); their results in task order. */
  private <T> List<T> runAll(List<Callable<T>> tasks) {
    return runAll(tasks, () -> { });
  }

  /** As above, with {@code first} run on the calling thread once the helpers have started. */
  private <T> List<T> runAll(List<Callable<T>> tasks, Runnable first) {
    int n = tasks.size();
    Object[] results = new Object[n];
    Parallel.forEach(pool, threads, n, i -> {
      try {
        results[i] = tasks.get(i).call();
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    }, first);
    List<T> out = new ArrayList<>(n);
    for (Object r : results) {
      @SuppressWarnings("unchecked")
      T t = (T) r;
      out.add(t);
    }
    return out;
  }

  // ---------------------------------------------------------------------------------------------
  // Hamming

  /** Per-query selection states of a split, for the Hamming scan. */
  private TopK[] scanSplit(TableView t, Queries qs, Split s, int kk, int bound) {
    return scanSplit(t, qs, s, kk, bound, null);
  }

  /**
   * As above; with {@code into} given, each query's list goes straight into its arrays at q * kk (a
   * batch top-k over whole rows: each query gets exactly kk) instead of into lists of its own.
   */
  private TopK[] scanSplit(TableView t, Queries qs, Split s, int kk, int bound, Into into) {
    int qn = s.q1 - s.q0;
    int rows = s.r1 - s.r0;
    int keff = Math.min(kk, rows);
    TopK[] st = new TopK[qn];
    if (keff == 0) {
      for (int j = 0; j < qn; j++) {
        st[j] = new TopK(1, bound, t.ids(), t.tombstones(), t.idsAscending());
        st[j].finish();
      }
      return st;
    }
    // a top-k (bound = B) with a large k starts from a sampled threshold
    Kernels.Scratch scratch = new Kernels.Scratch();
    int[] start = bound == t.bits() ? sampleBounds(t, qs, s, keff, scratch) : null;
    boolean byRow = t.idsAreRows();
    int room = TopK.room(keff);
    long[] slab = slab(qn, room);
    for (int j = 0; j < qn; j++) {
      st[j] = new TopK(keff, start == null ? bound : start[j], t.ids(), t.tombstones(), t.idsAscending(), byRow,
          slab, j * room);
    }
    scanRows(t, qs, s.q0, st, s.r0, s.r1, scratch);
    if (start != null) {
      for (int j = 0; j < qn; j++) {
        st[j].compact();
        if (st[j].count() < keff && start[j] < bound) {
          // the sample put the threshold below the k-th distance: search this query again from B
          st[j].reset(bound);
          kernels.hamming(t, qs.codes(), s.q0 + j, 1, new TopK[] {st[j]}, s.r0, s.r1, scratch);
        }
      }
    }
    int[] dist = into == null ? null : into.dist();
    long[] ids = into == null ? null : into.ids();
    int[] rowsOut = into == null ? null : into.rows();
    for (int j = 0; j < qn; j++) {
      if (into == null) {
        st[j].finish();
      } else if ((into.ordered()
          ? st[j].finishInto(dist, ids, rowsOut, (s.q0 + j) * kk)
          : st[j].finishUnordered(dist, rowsOut, (s.q0 + j) * kk)) != kk) {
        throw new IllegalStateException("query " + (s.q0 + j) + " got " + st[j].size + " rows, not " + kk);
      }
    }
    give(slab);
    if (start != null) {
      // every live row is within B: more than k qualified iff more than k are live (a radius of B
      // with a cap needs the flag; rows beyond the sampled threshold were never looked at)
      boolean more = liveRows(t, s.r0, s.r1) > keff;
      for (TopK k : st) {
        k.overflowed = more;
      }
    }
    return st;
  }

  /**
   * The candidate lists of qn queries side by side, room longs each, kept between searches (a batch
   * of 1000 queries at k = 1000 allocated 16 MB of lists afresh each time); null when larger than
   * what is kept (each list then has an array of its own).
   */
  private long[] slab(int qn, int room) {
    return (long) qn * room <= BUFFER_MAX ? longs.take((long) qn * room) : null;
  }

  private void give(long[] slab) {
    if (slab != null) {
      longs.give(slab);
    }
  }

  private static long liveRows(TableView t, int r0, int r1) {
    long dead = 0;
    if (t.hasTombstones()) {
      for (int r = r0; r < r1; r++) {
        dead += t.isLive(r) ? 0 : 1;
      }
    }
    return r1 - r0 - dead;
  }

  /** A tile of rows at a time, every query of the split over it (the kernels block the queries). */
  private void scanRows(TableView t, Queries qs, int q0, TopK[] st, int r0, int r1, Kernels.Scratch scratch) {
    for (int r = r0; r < r1; r += ROW_TILE) {
      kernels.hamming(t, qs.codes(), q0, st.length, st, r, Math.min(r1, r + ROW_TILE), scratch);
    }
  }

  /**
   * Starting thresholds of a large k, as the native core computes them (native/src/dh_api.c,
   * sample_bounds): the distances to S rows spread over the split (every (rows / S)-th) estimate
   * the k-th distance with a margin, T being the m-th smallest sample distance, m = floor(lambda +
   * 2 sqrt(lambda) + 1) + 1 with lambda = S k / rows; a query whose estimate proves too low is
   * searched again. T is counted by the kernels where they can (Kernels.kthDistances), otherwise
   * the sample is searched by them (a top-m over a table of S rows). Null when k is too small for
   * the sample to tell anything.
   */
  private int[] sampleBounds(TableView t, Queries qs, Split s, int k, Kernels.Scratch scratch) {
    long rows = s.r1 - s.r0;
    int qn = s.q1 - s.q0;
    int n = qn >= SAMPLE_BATCH_QUERIES && rows >= 8L * SAMPLE_ROWS_BATCH ? SAMPLE_ROWS_BATCH : SAMPLE_ROWS;
    double lambda = (double) n * k / rows;
    if (rows < 8L * n || lambda < 2) {
      return null;
    }
    int m = (int) (lambda + 2 * Math.sqrt(lambda) + 1) + 1;
    int cb = t.codeBytes();
    long step = rows / n;
    TableView sample = sample(t, s.r0, n, step);
    int[] out = new int[qn];
    if (m > n) {
      Arrays.fill(out, t.bits());
      return out;
    }
    if (kernels.kthDistances(sample.codes(), cb, n, qs.codes(), s.q0, qn, m, out, scratch)) {
      return out;
    }
    // searched as any split is, so a large sample starts from a sample of its own (8 times smaller):
    // from B, a top-m over S rows admits about m (1 + ln(S / m)) rows, and at k = 1000 those pushes
    // took 10% of the search
    TopK[] st = scanSplit(sample, qs, new Split(s.q0, s.q1, 0, n), m, t.bits());
    for (int j = 0; j < qn; j++) {
      out[j] = st[j].size == m ? st[j].primary[m - 1] : t.bits();
    }
    return out;
  }

  /**
   * The n rows r0, r0 + step, ... of t as a table of their own (ids 0..n-1: the lists need no
   * lookup), kept for the next search of the same rows of the same table version: the strided
   * reads cost as much as a sampled search's scan of them.
   */
  private TableView sample(TableView t, int r0, int n, long step) {
    MemorySegment all = t.codes();
    SampleKey key = new SampleKey(all.address(), all.byteSize(), t.version(), r0, n, step);
    TableView have = samples.get(key);
    if (have != null) {
      return have;
    }
    int cb = t.codeBytes();
    long idsAt = ((long) n * cb + 15) & ~7L;
    MemorySegment mem = Arena.ofAuto().allocate(idsAt + 8L * n, 8);
    MemorySegment codes = mem.asSlice(0, idsAt);
    MemorySegment ids = mem.asSlice(idsAt, 8L * n);
    for (int i = 0; i < n; i++) {
      MemorySegment.copy(all, (r0 + i * step) * cb, codes, (long) i * cb, cb);
      ids.setAtIndex(JAVA_LONG_UNALIGNED, i, i);
    }
    TableView sample = new TableView(t.bits(), cb, 0, n, n, codes, MemorySegment.NULL, ids, MemorySegment.NULL,
        MemorySegment.NULL, 0, true);
    if (samples.size() >= SAMPLES_KEPT) {
      samples.clear();
    }
    samples.put(key, sample);
    return sample;
  }

  /** Exact Hamming selection: top kk with distance <= bound for every query. */
  private Selection hammingSelect(TableView t, Queries qs, int kk, int bound) {
    return hammingSelect(t, qs, kk, bound, true, true, true, null);
  }

  /**
   * As above. A batch top-k (bound B) whose every query sees every row gets exactly kk each: the
   * lists then go straight into the result's arrays (ids and rows only where asked for; null
   * otherwise), with no list of each query's own and no merge. With {@code buffers}, those
   * distance and row arrays are taken from it (they may be longer than the lists). Not {@code
   * ordered} (no ids then): such a query's list may come in row order instead of by (distance, id),
   * the same set.
   */
  private Selection hammingSelect(TableView t, Queries qs, int kk, int bound, boolean wantIds, boolean wantRows,
      boolean ordered, BufferPool<int[]> buffers) {
    int q = qs.count();
    List<Split> splits = plan(q, t.rows());
    if (bound == t.bits() && kk <= t.liveRows() && (long) q * kk <= MAX_ARRAY
        && splits.stream().allMatch(sp -> sp.r0 == 0 && sp.r1 == t.rows())) {
      int n = q * kk;
      Into into = new Into(ordered, n, buffers, wantIds, wantRows);
      List<Callable<TopK[]>> tasks = new ArrayList<>();
      for (Split sp : splits) {
        tasks.add(() -> scanSplit(t, qs, sp, kk, bound, into));
      }
      List<TopK[]> parts = runAll(tasks, into::allocate);
      int[] dist = into.dist();
      long[] ids = into.ids();
      int[] rows = into.rows();
      int[] offsets = new int[q + 1];
      boolean[] truncated = new boolean[q];
      for (int i = 0; i < q; i++) {
        offsets[i + 1] = offsets[i] + kk;
      }
      for (int i = 0; i < splits.size(); i++) {
        TopK[] st = parts.get(i);
        for (int j = 0; j < st.length; j++) {
          truncated[splits.get(i).q0 + j] = st[j].overflowed;
        }
      }
      return new Selection(offsets, dist, ids, rows, truncated);
    }
    List<Callable<TopK[]>> tasks = new ArrayList<>();
    for (Split s : splits) {
      tasks.add(() -> scanSplit(t, qs, s, kk, bound, null));
    }
    return merge(q, splits, runAll(tasks), kk);
  }

  /**
   * The result arrays a fixed selection writes each query's list into, at q * kk (ids, rows may be
   * null); not {@code ordered}: each list as a set in row order, without ids. The calling thread
   * allocates them while the helpers start scanning, and a split waits for them only if its lists
   * are done first: allocated before the splits, the zeroing of a batch's arrays at k = 1000 (12
   * MB) kept the other core idle for 0.8 ms.
   */
  private static final class Into {
    private final boolean ordered;
    private final int n;
    private final BufferPool<int[]> buffers;
    private final boolean wantIds;
    private final boolean wantRows;
    private final CountDownLatch ready = new CountDownLatch(1);
    private int[] dist;
    private long[] ids;
    private int[] rows;
    private Throwable failed;

    /** For n entries: distances, and ids and rows where wanted (distances, rows from buffers if given). */
    Into(boolean ordered, int n, BufferPool<int[]> buffers, boolean wantIds, boolean wantRows) {
      if (!ordered && wantIds) {
        throw new IllegalArgumentException("lists in row order are written without ids");
      }
      this.ordered = ordered;
      this.n = n;
      this.buffers = buffers;
      this.wantIds = wantIds;
      this.wantRows = wantRows;
    }

    boolean ordered() {
      return ordered;
    }

    /** Allocates the arrays (on the calling thread, once). */
    void allocate() {
      try {
        dist = buffers == null ? new int[n] : buffers.take(n);
        ids = wantIds ? new long[n] : null;
        rows = !wantRows ? null : buffers == null ? new int[n] : buffers.take(n);
      } catch (RuntimeException | Error e) {
        failed = e;
      }
      ready.countDown(); // publishes the fields
      if (failed instanceof RuntimeException e) {
        throw e;
      }
      if (failed instanceof Error e) {
        throw e;
      }
    }

    int[] dist() {
      await();
      return dist;
    }

    long[] ids() {
      await();
      return ids;
    }

    int[] rows() {
      await();
      return rows;
    }

    private void await() {
      boolean interrupted = false;
      while (true) {
        try {
          ready.await();
          break;
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      if (failed != null) {
        throw new IllegalStateException("the result arrays could not be allocated", failed);
      }
    }
  }

  /** Per-query ranked lists with rows, merged exactly over the row splits. */
  private record Selection(int[] offsets, int[] primary, long[] ids, int[] rows, boolean[] truncated) {}

  private static Selection merge(int queries, List<Split> splits, List<TopK[]> parts, int kk) {
    int[][] p = new int[queries][];
    long[][] id = new long[queries][];
    int[][] rw = new int[queries][];
    int[] n = new int[queries];
    boolean[] truncated = new boolean[queries];
    for (int i = 0; i < splits.size(); i++) {
      Split s = splits.get(i);
      TopK[] st = parts.get(i);
      for (int j = 0; j < st.length; j++) {
        int q = s.q0 + j;
        TopK k = st[j];
        truncated[q] |= k.overflowed;
        if (p[q] == null) {
          p[q] = k.primary;
          id[q] = k.ids;
          rw[q] = k.rows;
          n[q] = k.size;
        } else {
          int m = n[q] + k.size;
          p[q] = Arrays.copyOf(p[q], m);
          id[q] = Arrays.copyOf(id[q], m);
          rw[q] = Arrays.copyOf(rw[q], m);
          System.arraycopy(k.primary, 0, p[q], n[q], k.size);
          System.arraycopy(k.ids, 0, id[q], n[q], k.size);
          System.arraycopy(k.rows, 0, rw[q], n[q], k.size);
          n[q] = m;
          Ranking.sort(p[q], id[q], rw[q], 0, m);
        }
      }
    }
    int[] offsets = new int[queries + 1];
    for (int q = 0; q < queries; q++) {
      if (n[q] > kk) {
        truncated[q] = true;
      }
      offsets[q + 1] = offsets[q] + Math.min(kk, n[q]);
    }
    int total = offsets[queries];
    int[] primary = new int[total];
    long[] ids = new long[total];
    int[] rows = new int[total];
    for (int q = 0; q < queries; q++) {
      int c = offsets[q + 1] - offsets[q];
      if (c > 0) {
        System.arraycopy(p[q], 0, primary, offsets[q], c);
        System.arraycopy(id[q], 0, ids, offsets[q], c);
        System.arraycopy(rw[q], 0, rows, offsets[q], c);
      }
    }
    return new Selection(offsets, primary, ids, rows, truncated);
  }

  private static SearchResult empty(int queries, boolean hamming, boolean l2, boolean flags) {
    return SearchResult.of(new int[queries + 1], new long[0], hamming ? new int[0] : null, l2 ? new float[0] : null,
        flags ? new boolean[queries] : null);
  }

  @Override
  public SearchResult knn(TableView t, Queries qs, int k) {
    int kk = Math.min(k, t.liveRows());
    if (kk == 0 || qs.count() == 0) {
      return empty(qs.count(), true, false, false);
    }
    Selection s = hammingSelect(t, qs, kk, t.bits(), true, false, true, null);
    return SearchResult.of(s.offsets, s.ids, s.primary, null, null);
  }

  @Override
  public SearchResult radius(TableView t, Queries qs, int r, int cap) {
    int kk = Math.min(cap, t.liveRows());
    if (kk == 0 || qs.count() == 0) {
      return empty(qs.count(), true, false, true);
    }
    Selection s = hammingSelect(t, qs, kk, r);
    return SearchResult.of(s.offsets, s.ids, s.primary, null, s.truncated);
  }

  // ---------------------------------------------------------------------------------------------
  // Euclidean

  /**
   * Squared norms of the feature rows: computed once per row and extended as rows are added (rows
   * are append-only and a row's features never change; one backend serves one table).
   */
  private synchronized float[] norms(TableView t) {
    int rows = t.rows();
    if (rows > normRows) {
      float[] grown = Arrays.copyOf(normCache, rows);
      MemorySegment f = t.features();
      int dim = t.dim();
      forRowChunks(normRows, rows, 65_536, (a, b) -> {
        for (int r = a; r < b; r++) {
          grown[r] = FloatTopK.norm(f, (long) r * dim * 4, dim);
        }
      });
      normCache = grown;
      normRows = rows;
    }
    return normCache;
  }

  /**
   * The 8-bit copy of the feature rows ({@link EightBitCopy}): built on the first coarse-to-fine
   * search, in parallel, and extended as rows are added, like the norms. Null without one: switched
   * off ({@code -Dengine.rerank.sq8=false}), or no memory for it once (one warning; the float
   * features are read instead, with the same results).
   */
  private synchronized EightBitCopy eightBit(TableView t, float[] norms) {
    int rows = t.rows();
    EightBitCopy have = sq8Copy;
    if (have != null && have.rows >= rows) {
      return have;
    }
    if (sq8Failed) {
      return null;
    }
    int dim = t.dim();
    int from = have == null ? 0 : have.rows;
    MemorySegment codes;
    float[] params;
    try {
      if (4L * rows > MAX_ARRAY) {
        throw new OutOfMemoryError("more rows than one array of parameters holds");
      }
      codes = Arena.ofAuto().allocate(Math.max(64L, (long) dim * rows), 64);
      params = new float[4 * rows];
    } catch (OutOfMemoryError e) {
      sq8Failed = true;
      sq8Copy = null;
      LOG.warning(Rerank.sq8NoMemory(rows, dim));
      return null;
    }
    if (have != null) {
      MemorySegment.copy(have.codes, 0, codes, 0, (long) dim * from);
      System.arraycopy(have.params, 0, params, 0, 4 * from);
    }
    forRowChunks(from, rows, 16_384, (a, b) -> EightBitCopy.encode(t.features(), dim, norms, a, b, codes, params));
    sq8Copy = new EightBitCopy(codes, params, rows);
    return sq8Copy;
  }

  /** Rows [from, to) in up to 4 chunks a thread of at least {@code minRows} each, run in parallel. */
  private void forRowChunks(int from, int to, int minRows, Range body) {
    runAll(chunks(from, to, (int) Math.max(1, Math.min(4L * threads, (to - from) / minRows)), body));
  }

  private static float[] heapQueries(Queries qs, int dim) {
    return qs.features().asSlice(0, (long) qs.count() * dim * 4).toArray(JAVA_FLOAT_UNALIGNED);
  }

  @Override
  public SearchResult coarseToFine(TableView t, Queries qs, Pool poolSpec, int k) {
    int m = Math.min(poolSpec.size(), t.liveRows());
    if (m == 0 || qs.count() == 0) {
      return empty(qs.count(), true, true, false);
    }
    long t0 = System.nanoTime();
    // each pool as a set (the fine stage ranks by reference distance and id whatever the order)
    Selection coarse = hammingSelect(t, qs, m, poolSpec.kind() == Pool.Kind.RADIUS ? poolSpec.radius() : t.bits(),
        false, true, false, ints);
    int queries = qs.count();
    int[] offsets = new int[queries + 1];
    for (int q = 0; q < queries; q++) {
      offsets[q + 1] = offsets[q] + Math.min(k, coarse.offsets[q + 1] - coarse.offsets[q]);
    }
    long[] ids = new long[offsets[queries]];
    int[] ham = new int[ids.length];
    float[] l2 = new float[ids.length];
    long t1 = System.nanoTime();
    float[] norms = norms(t);
    int dim = t.dim();
    float[] qf = heapQueries(qs, dim);
    EightBitCopy s8 = sq8 ? eightBit(t, norms) : null;
    int total = coarse.offsets[queries];
    FirstPass pass = new FirstPass(kernels, t.features(), dim, qs.features(), qf, queries, norms, s8,
        FloatTopK.margin(dim), floats.take(2L * total));
    int parts = (int) Math.min(threads, t.rows() / MIN_ROWS_PER_SPLIT);
    runAll(total >= ROW_ORDER_ENTRIES && parts > 1
        ? chunks(0, t.rows(), parts, (lo, hi) -> boundsInRowOrder(pass, coarse.offsets, coarse.rows, queries, lo, hi))
        : queryChunks(queries, (qa, qb) -> boundsInPoolOrder(pass, coarse.offsets, coarse.rows, qa, qb)));
    long tb = System.nanoTime();
    // second pass: each query's candidates ranked by their reference distances
    runAll(queryChunks(queries, (qa, qb) -> {
      for (int q = qa; q < qb; q++) {
        int from = coarse.offsets[q];
        int out = offsets[q];
        int want = offsets[q + 1] - out;
        int[] bits = new int[want];
        long[] keys = new long[want];
        int[] index = new int[want];
        int got = FloatTopK.rank(qs.features(), (long) q * dim * 4, t.features(), dim, t.ids(), pass.b, from, coarse.rows,
            from, coarse.offsets[q + 1] - from, k, bits, keys, index);
        for (int i = 0; i < got; i++) {
          ids[out + i] = keys[i];
          ham[out + i] = coarse.primary[from + index[i]];
          l2[out + i] = Float.intBitsToFloat(bits[i]);
        }
      }
    }));
    floats.give(pass.b);
    ints.give(coarse.primary);
    ints.give(coarse.rows);
    long t2 = System.nanoTime();
    // the fine stage's first pass (bounds) and second (ranking by reference distances) as well
    timings = Map.of("coarse", ms(t0, t1), "fine", ms(t1, t2), "fine_bounds", ms(t1, tb), "fine_rank", ms(tb, t2),
        "total", ms(t0, t2));
    return SearchResult.of(offsets, ids, ham, l2, null);
  }

  /** Query ranges [qa, qb) of a batch, a few per thread, as tasks. */
  private List<Callable<Void>> queryChunks(int queries, Range body) {
    return chunks(0, queries, Math.max(1, Math.min(queries, 4 * threads)), body);
  }

  /** [from, to) cut into n ranges, as tasks. */
  private static List<Callable<Void>> chunks(int from, int to, int n, Range body) {
    List<Callable<Void>> tasks = new ArrayList<>(n);
    for (int c = 0; c < n; c++) {
      int a = from + (int) ((long) (to - from) * c / n);
      int b = from + (int) ((long) (to - from) * (c + 1) / n);
      tasks.add(() -> {
        body.run(a, b);
        return null;
      });
    }
    return tasks;
  }

  /** Work on a range [a, b) of queries or rows. */
  private interface Range {
    void run(int a, int b);
  }

  /** Entries read per call of the dot kernel in the fine stage's first pass. */
  private static final int DOT_BLOCK = 256;

  /**
   * The first pass of a coarse-to-fine batch: the bounds of each pool entry's reference distance
   * into b (entry e: b[2e], b[2e + 1]). From the float features, a = (qq + xx) - 2 q.x as the
   * exhaustive kernels form it, margin c (qq + xx) + eta; from the 8-bit copy, a from
   * q.x^ = lo sum(q) + step (q.c), the margin widened by 2 ||q|| times the row's bound
   * ({@link EightBitCopy}). Infinite where qq + xx is beyond what float arithmetic keeps finite (the
   * entry is then ranked by its reference distance alone).
   */
  private static final class FirstPass {
    final Kernels kernels;
    final MemorySegment f;
    final int dim;
    final float[] qf;
    final float[] norms;
    final EightBitCopy s8;
    final double[] margin;
    final float[] b;
    /** Per query: squared norm as the kernels form it, sum of values, 2 ||q|| (a little over). */
    final float[] qq;
    final double[] qsum;
    final double[] twiceNorm;

    /** qs: the queries' features (qf on the heap), whose norms and sums it computes. */
    FirstPass(Kernels kernels, MemorySegment f, int dim, MemorySegment qs, float[] qf, int queries, float[] norms,
        EightBitCopy s8, double[] margin, float[] b) {
      this.kernels = kernels;
      this.f = f;
      this.dim = dim;
      this.qf = qf;
      this.norms = norms;
      this.s8 = s8;
      this.margin = margin;
      this.b = b;
      this.qq = new float[queries];
      this.qsum = new double[queries];
      this.twiceNorm = new double[queries];
      for (int q = 0; q < queries; q++) {
        qq[q] = FloatTopK.norm(qs, (long) q * dim * 4, dim);
        double sum = 0;
        for (int d = 0; d < dim; d++) {
          sum += qf[q * dim + d];
        }
        qsum[q] = sum;
        twiceNorm[q] = 2.000001 * Math.sqrt(qq[q]);
      }
    }

    /** The entries of a block, filled by a caller: entry[j] with query qIdx[j] and row rows[j], j < n. */
    static final class Block {
      final int[] rows = new int[DOT_BLOCK];
      final int[] qIdx = new int[DOT_BLOCK];
      final int[] entry = new int[DOT_BLOCK];
      final int[] qOffs = new int[DOT_BLOCK];
      final float[] dots = new float[DOT_BLOCK];
    }

    /** The bounds of a block's first n entries. */
    void run(Block blk, int n) {
      int[] rows = blk.rows;
      int[] qIdx = blk.qIdx;
      int[] entry = blk.entry;
      int[] qOffs = blk.qOffs;
      float[] dots = blk.dots;
      for (int j = 0; j < n; j++) {
        qOffs[j] = qIdx[j] * dim;
      }
      if (s8 == null) {
        kernels.dots(f, dim, rows, qOffs, n, qf, dots);
        for (int j = 0; j < n; j++) {
          float qn = qq[qIdx[j]];
          float xx = norms[rows[j]];
          float a = (qn + xx) - 2 * dots[j];
          FloatTopK.bounds(a, FloatTopK.inRange(qn, xx) ? margin[0] * (qn + (double) xx) + margin[1]
              : Double.POSITIVE_INFINITY, b, entry[j]);
        }
      } else {
        kernels.dots8(s8.codes, dim, rows, qOffs, n, qf, dots);
        float[] p = s8.params;
        for (int j = 0; j < n; j++) {
          int q = qIdx[j];
          int at = 4 * rows[j];
          double qn = qq[q];
          double xx = p[at + 3];
          double a = qn + xx - 2 * ((double) p[at] * qsum[q] + (double) p[at + 1] * dots[j]);
          FloatTopK.bounds(a, FloatTopK.inRange(qn, xx)
              ? margin[0] * (qn + xx) + margin[1] + twiceNorm[q] * p[at + 2] : Double.POSITIVE_INFINITY, b, entry[j]);
        }
      }
    }
  }

  /**
   * The first pass for the pools of queries [qa, qb), each pool in its own order. For small
   * batches, where sorting by row does not pay.
   */
  private static void boundsInPoolOrder(FirstPass pass, int[] offsets, int[] poolRows, int qa, int qb) {
    FirstPass.Block blk = new FirstPass.Block();
    for (int q = qa; q < qb; q++) {
      Arrays.fill(blk.qIdx, q);
      for (int e = offsets[q]; e < offsets[q + 1]; e += DOT_BLOCK) {
        int n = Math.min(DOT_BLOCK, offsets[q + 1] - e);
        System.arraycopy(poolRows, e, blk.rows, 0, n);
        for (int i = 0; i < n; i++) {
          blk.entry[i] = e + i;
        }
        pass.run(blk, n);
      }
    }
  }

  /**
   * The first pass for every entry of the batch's pools whose row is in [lo, hi), visiting the rows
   * in table order. A batch's pools hold hundreds of thousands of scattered rows of a table too
   * large for the caches; in table order consecutive rows share DRAM pages and the hardware
   * prefetchers stream them (the native backend's design, dh_l2.c: on the development VM 1000 pools
   * of 1000 rows of a million took 32 ms natively in table order against 62 ms here in pool order).
   * The order is an LSD radix sort of (row, entry) keys by row, each key moved with its query, so
   * the loop reads nothing out of order but the rows themselves.
   */
  private void boundsInRowOrder(FirstPass pass, int[] offsets, int[] poolRows, int queries, int lo, int hi) {
    int total = offsets[queries];
    int n = 0;
    for (int e = 0; e < total; e++) {
      n += poolRows[e] >= lo && poolRows[e] < hi ? 1 : 0;
    }
    // (row - lo) << 32 | query << eBits | entry: the query rides in the key where it fits (a pass
    // then moves 8 bytes an entry, not 12), else in an array of its own moved with the keys
    int eBits = 32 - Integer.numberOfLeadingZeros(Math.max(1, total - 1));
    boolean packed = eBits + 32 - Integer.numberOfLeadingZeros(Math.max(1, queries - 1)) <= 32;
    long[] keys = longs.take(n + 1L); // and a slot to spare for the last write
    long[] keys2 = longs.take(n + 1L);
    int[] qOf = packed ? null : ints.take(n + 1L);
    int[] qOf2 = packed ? null : ints.take(n + 1L);
    int at = 0;
    for (int q = 0; q < queries; q++) {
      long qKey = packed ? (long) q << eBits : 0;
      for (int e = offsets[q]; e < offsets[q + 1]; e++) {
        int r = poolRows[e];
        keys[at] = (long) (r - lo) << 32 | qKey | e; // without a branch: half the entries are in range, at random
        if (!packed) {
          qOf[at] = q;
        }
        at += r >= lo && r < hi ? 1 : 0;
      }
    }
    int bits = 32 - Integer.numberOfLeadingZeros(Math.max(1, hi - lo - 1));
    int passes = (bits + RADIX_DIGIT - 1) / RADIX_DIGIT;
    int digit = (bits + passes - 1) / passes;
    int[] count = new int[1 << digit];
    for (int round = 0; round < passes; round++) {
      int shift = 32 + digit * round;
      int mask = (1 << digit) - 1;
      Arrays.fill(count, 0);
      for (int i = 0; i < n; i++) {
        count[(int) (keys[i] >>> shift) & mask]++;
      }
      for (int d = 0, sum = 0; d < count.length; d++) {
        int c = count[d];
        count[d] = sum;
        sum += c;
      }
      for (int i = 0; i < n; i++) {
        int to = count[(int) (keys[i] >>> shift) & mask]++;
        keys2[to] = keys[i];
        if (!packed) {
          qOf2[to] = qOf[i];
        }
      }
      long[] tk = keys;
      keys = keys2;
      keys2 = tk;
      int[] tq = qOf;
      qOf = qOf2;
      qOf2 = tq;
    }
    FirstPass.Block blk = new FirstPass.Block();
    int eMask = (int) ((1L << eBits) - 1);
    for (int i = 0; i < n; i += DOT_BLOCK) {
      int n1 = Math.min(DOT_BLOCK, n - i);
      for (int j = 0; j < n1; j++) {
        long key = keys[i + j];
        int low = (int) key;
        blk.rows[j] = lo + (int) (key >>> 32);
        blk.entry[j] = low & eMask; // the entry alone whether or not the query rides above it
        blk.qIdx[j] = packed ? low >>> eBits : qOf[i + j];
      }
      pass.run(blk, n1);
    }
    longs.give(keys);
    longs.give(keys2);
    if (!packed) {
      ints.give(qOf);
      ints.give(qOf2);
    }
  }

  @Override
  public SearchResult exhaustive(TableView t, Queries qs, int k) {
    int kk = Math.min(k, t.liveRows());
    int queries = qs.count();
    if (kk == 0 || queries == 0) {
      return empty(queries, false, true, false);
    }
    float[] norms = norms(t);
    int dim = t.dim();
    float[] qf = heapQueries(qs, dim);
    double[] margin = FloatTopK.margin(dim);
    // few queries: split rows as well, so each pass over the features serves more queries
    List<Split> splits = queries >= 128 * threads ? plan(queries, t.rows()) : euclideanPlan(queries, t.rows());
    List<Callable<Object[]>> tasks = new ArrayList<>();
    for (Split s : splits) {
      tasks.add(() -> euclideanSplit(t, qs, qf, norms, margin, s, kk));
    }
    List<Object[]> parts = runAll(tasks);
    // exact merge by (reference distance, id)
    int[][] p = new int[queries][];
    long[][] id = new long[queries][];
    int[] n = new int[queries];
    for (int i = 0; i < splits.size(); i++) {
      Split s = splits.get(i);
      int[][] bits = (int[][]) parts.get(i)[0];
      long[][] keys = (long[][]) parts.get(i)[1];
      for (int j = 0; j < bits.length; j++) {
        int q = s.q0 + j;
        if (p[q] == null) {
          p[q] = bits[j];
          id[q] = keys[j];
          n[q] = bits[j].length;
        } else {
          int m = n[q] + bits[j].length;
          p[q] = Arrays.copyOf(p[q], m);
          id[q] = Arrays.copyOf(id[q], m);
          System.arraycopy(bits[j], 0, p[q], n[q], bits[j].length);
          System.arraycopy(keys[j], 0, id[q], n[q], keys[j].length);
          n[q] = m;
          Ranking.sort(p[q], id[q], null, 0, m);
        }
      }
    }
    int[] offsets = new int[queries + 1];
    for (int q = 0; q < queries; q++) {
      offsets[q + 1] = offsets[q] + Math.min(kk, n[q]);
    }
    long[] ids = new long[offsets[queries]];
    float[] l2 = new float[ids.length];
    for (int q = 0; q < queries; q++) {
      for (int i = 0; i < offsets[q + 1] - offsets[q]; i++) {
        ids[offsets[q] + i] = id[q][i];
        l2[offsets[q] + i] = Float.intBitsToFloat(p[q][i]);
      }
    }
    return SearchResult.of(offsets, ids, null, l2, null);
  }

  /** Every query in each task, rows split one range per thread. */
  private List<Split> euclideanPlan(int queries, int rows) {
    int parts = (int) Math.max(1, Math.min(threads, rows / MIN_ROWS_PER_SPLIT));
    List<Split> out = new ArrayList<>(parts);
    for (int b = 0; b < parts; b++) {
      out.add(new Split(0, queries, (int) ((long) rows * b / parts), (int) ((long) rows * (b + 1) / parts)));
    }
    return out;
  }

  /** One split of an exhaustive search: per query, ranked reference distances (as bits) and ids. */
  private Object[] euclideanSplit(TableView t, Queries qs, float[] qf, float[] norms, double[] margin, Split s,
      int kk) {
    int qn = s.q1 - s.q0;
    int dim = t.dim();
    int keff = Math.min(kk, s.r1 - s.r0);
    int[][] bits = new int[qn][];
    long[][] keys = new long[qn][];
    if (keff == 0) {
      for (int j = 0; j < qn; j++) {
        bits[j] = new int[0];
        keys[j] = new long[0];
      }
      return new Object[] {bits, keys};
    }
    double xxmax = 0;
    for (int r = s.r0; r < s.r1; r++) {
      xxmax = Math.max(xxmax, norms[r]);
    }
    FloatTopK[] st = new FloatTopK[qn];
    List<Integer> exact = new ArrayList<>();
    for (int j = 0; j < qn; j++) {
      float qq = FloatTopK.norm(qs.features(), (long) (s.q0 + j) * dim * 4, dim);
      st[j] = new FloatTopK(keff, qq, margin, norms, xxmax, t.tombstones());
      if (!FloatTopK.inRange(qq, xxmax)) {
        st[j].adm = Float.NEGATIVE_INFINITY; // admits nothing: ranked below by reference distances alone
        exact.add(j);
      }
    }
    kernels.euclidean(t, norms, qf, s.q0, qn, st, s.r0, s.r1, new Kernels.Scratch());
    for (int j = 0; j < qn; j++) {
      long qo = (long) (s.q0 + j) * dim * 4;
      int[] b = new int[keff];
      long[] key = new long[keff];
      int[] index = new int[keff];
      int got;
      if (exact.contains(j)) {
        got = exactRange(t, qs.features(), qo, s.r0, s.r1, keff, b, key);
      } else {
        got = st[j].finish(qs.features(), qo, t.features(), dim, t.ids(), true, b, key, index);
      }
      bits[j] = Arrays.copyOf(b, got);
      keys[j] = Arrays.copyOf(key, got);
    }
    return new Object[] {bits, keys};
  }

  /** Every live row of [r0, r1) by reference distance, for squared norms beyond float's range. */
  private static int exactRange(TableView t, MemorySegment qf, long qo, int r0, int r1, int k, int[] outBits,
      long[] outIds) {
    int live = 0;
    int[] b = new int[r1 - r0];
    long[] id = new long[r1 - r0];
    for (int r = r0; r < r1; r++) {
      if (t.isLive(r)) {
        b[live] = Float.floatToRawIntBits(
            FloatTopK.reference(qf, qo, t.features(), (long) r * t.dim() * 4, t.dim()));
        id[live++] = t.ids().getAtIndex(JAVA_LONG_UNALIGNED, r);
      }
    }
    Ranking.sort(b, id, null, 0, live);
    int out = Math.min(k, live);
    System.arraycopy(b, 0, outBits, 0, out);
    System.arraycopy(id, 0, outIds, 0, out);
    return out;
  }

  @Override
  public void close() {
    if (pool != null) {
      pool.shutdownNow();
    }
  }
}
