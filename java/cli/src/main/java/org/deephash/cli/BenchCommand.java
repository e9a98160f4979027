package org.deephash.cli;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Supplier;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.Backends;
import org.deephash.ResultComparison;
import org.deephash.cli.api.CliCommand;
import org.deephash.cli.api.Progress;
import org.deephash.io.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code engine-cli bench}: end-to-end timings on random data. Times the paper's three searches on
 * the same table: BCS (exact Hamming top-k, the headline figure), HDS (Hamming pool of m re-ranked
 * by Euclidean distance) and ES (exhaustive Euclidean, on a subset of the queries and scaled).
 * Before timing, a sample of queries is checked against the scalar oracle; a mismatch makes the
 * command exit 1.
 */
@Command(name = "bench",
    description = "Time exact Hamming top-k (and coarse-to-fine, exhaustive) on random data, checked against the oracle.")
final class BenchCommand extends CliCommand {
  /** Relative tolerance for Euclidean distances: backends may sum in a different order. */
  static final double L2_RTOL = 1e-4;

  @Option(names = "--n", paramLabel = "N", description = "Database rows (default: ${DEFAULT-VALUE}; 1e6, 1M, 500k accepted).")
  int n = 1_000_000;

  @Option(names = "--bits", paramLabel = "B", description = "Code width, a multiple of 8 in [8, 4096] (default: ${DEFAULT-VALUE}).")
  int bits = 64;

  @Option(names = "--queries", paramLabel = "Q", description = "Queries per batch (default: ${DEFAULT-VALUE}).")
  int queries = 1000;

  @Option(names = "--k", paramLabel = "K",
      description = "Results per query (default: ${DEFAULT-VALUE}); with --radius, the cap on results per query.")
  int k = 10;

  @Option(names = "--radius", paramLabel = "R",
      description = "Time radius search (every code within Hamming distance R, at most K a query) instead of top-k.")
  Integer radiusOption;

  @Option(names = "--backend", paramLabel = "NAME",
      description = "java, native, cuda or scalar (default: the JVM's choice, -Dengine.backend).")
  String backend;

  @Option(names = "--planted", paramLabel = "P", arity = "0..1", fallbackValue = "1",
      description = "Plant P codes within the radius (--radius, else 2) of every query (no value: 1), so result sets"
          + " are not empty; queries stay random.")
  Integer planted;

  @Option(names = "--mih", paramLabel = "M", arity = "0..1", fallbackValue = "0",
      description = "Also build multi-index hash tables (M tables, 0 or no value: automatic) and time the Hamming"
          + " search with them beside the scan (both checked against the oracle).")
  Integer mih;

  @Option(names = "--threads", paramLabel = "T", description = "CPU threads, 0 = all cores (default: ${DEFAULT-VALUE}).")
  int threads = 0;

  @Option(names = "--seed", paramLabel = "S",
      description = "Random seed; database and queries use independent streams split from it (default: ${DEFAULT-VALUE}).")
  long seed = 42;

  @Option(names = "--dim", paramLabel = "D",
      description = "Feature dimension for the HDS and ES figures, 0 to skip them (default: ${DEFAULT-VALUE}).")
  int dim = 128;

  @Option(names = "--pool", paramLabel = "M", description = "HDS Hamming pool size m, >= K (default: max(1000, K)).")
  Integer poolOption;

  @Option(names = "--runs", paramLabel = "R", description = "Timed runs; the median is reported (default: ${DEFAULT-VALUE}).")
  int runs = 5;

  @Option(names = "--warmup", paramLabel = "W",
      description = "Untimed warm-up runs before timing (default: ${DEFAULT-VALUE}, and at least 2 s of them, then"
          + " until the JIT is about idle: at most 20 ms of compiling in a 1-s window; --warmup-max at most).")
  int warmup = 2;

  @Option(names = "--warmup-max", paramLabel = "S",
      description = "The longest warm-up, in seconds, while the JIT is still compiling (default: ${DEFAULT-VALUE});"
          + " --warmup's runs and 2 s are done in any case.")
  int warmupMax = 30;

  @Option(names = "--es-queries", paramLabel = "E",
      description = {"Queries used to time ES (it scans every feature), the time scaled to Q; 0: all Q, no scaling",
          "(default: ${DEFAULT-VALUE}: a blocked kernel runs well below its rate on a few queries)."})
  int esQueriesOption = 0;

  @Option(names = "--verify", paramLabel = "V",
      description = "Queries whose Hamming top-k is checked against the scalar oracle before timing, 0 to skip"
          + " (default: ${DEFAULT-VALUE}).")
  int verifyOption = 20;

  @Option(names = "--verify-l2", paramLabel = "V",
      description = "Of those, queries whose HDS and ES results are checked too (default: ${DEFAULT-VALUE}: the oracle"
          + " sorts every row).")
  int verifyL2Option = 5;

  @Option(names = "--json", description = "Print one JSON line on stdout instead of the table.")
  boolean json;

  // Resolved by validate().
  int radius = -1;
  int pool;
  int esQueries;
  int verify;
  int verifyL2;

  @Override
  protected void validate() {
    requireRange("--n", n, 1, CodeTable.MAX_ROWS);
    requireRange("--bits", bits, 8, CodeTable.MAX_BITS);
    if (bits % 8 != 0) {
      throw usage("--bits must be a multiple of 8 (passed " + bits + ")");
    }
    requireRange("--queries", queries, 1, 10_000_000);
    requireRange("--k", k, 1, 1 << 20);
    if (radiusOption != null) {
      requireRange("--radius", radiusOption, 0, bits);
      radius = radiusOption;
    }
    requireRange("--threads", threads, 0, 4096);
    requireRange("--dim", dim, 0, 65536);
    if (planted != null) {
      requireRange("--planted", planted, 1, 1000);
      if ((long) planted * queries > n) {
        throw usage("--planted " + planted + " x --queries " + queries + " is more than the " + n + " rows");
      }
    }
    if (mih != null) {
      requireRange("--mih", mih, 0, org.deephash.mih.MultiIndex.MAX_TABLES);
    }
    pool = poolOption != null ? poolOption : Math.max(1000, k);
    requireRange("--pool", pool, 1, CodeTable.MAX_ROWS);
    if (pool < k) {
      throw usage("--pool (HDS pool size m) must be >= --k (" + pool + " < " + k + ")");
    }
    requireRange("--runs", runs, 1, 10_000);
    requireRange("--warmup", warmup, 0, 10_000);
    requireRange("--warmup-max", warmupMax, 0, 3600);
    requireRange("--es-queries", esQueriesOption, 0, 10_000_000);
    requireRange("--verify", verifyOption, 0, 10_000_000);
    requireRange("--verify-l2", verifyL2Option, 0, 10_000_000);
    esQueries = esQueriesOption == 0 ? queries : Math.min(queries, esQueriesOption);
    verify = Math.min(queries, verifyOption);
    verifyL2 = dim == 0 ? 0 : Math.min(verify, verifyL2Option);
    long bytes = (long) n * (bits / 8 + 8 + 4L * dim);
    if (bytes > Runtime.getRuntime().maxMemory() * 16) {
      // Off-heap, but a typo like --n 1e9 --dim 128 should fail at once, not after minutes.
      throw usage(String.format(Locale.ROOT, "the table would take %.1f GB; use a smaller --n or --dim", bytes / 1e9));
    }
  }

  @Override
  protected int execute() throws Exception {
    return new Run(this, progress(), out, err).execute();
  }

  /** The distance planted codes lie within: the radius searched, else 2. */
  int plantedWithin() {
    return radius >= 0 ? radius : 2;
  }

  int resolvedThreads() {
    return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
  }

  /** One benchmark: data, verification, timings, report. */
  private static final class Run {
    private final BenchCommand c;
    private final Progress progress;
    private final PrintStream out;
    private final PrintStream err;
    private final int codeBytes;
    private CodeTable table;
    /** Keeps the timed results observable so no run can be optimised away. */
    private long sink;
    /** The last time()'s warm-up: runs, seconds, and whether it ended at the cap with the JIT busy. */
    private int warmRuns;
    private double warmSeconds;
    private boolean warmCapped;
    /** BCS's warm-up, as reported. */
    private int bcsWarmRuns;
    private double bcsWarmSeconds;
    private boolean bcsWarmCapped;

    Run(BenchCommand c, Progress progress, PrintStream out, PrintStream err) {
      this.c = c;
      this.progress = progress;
      this.out = out;
      this.err = err;
      this.codeBytes = c.bits / 8;
    }

    int execute() throws Exception {
      SplittableRandom root = new SplittableRandom(c.seed);
      SplittableRandom dbRandom = root.split();
      SplittableRandom queryRandom = root.split();

      byte[] qCodes = new byte[Math.multiplyExact(c.queries, codeBytes)];
      float[] qFeatures = new float[Math.multiplyExact(c.queries, c.dim)];
      try (CodeTable table = CodeTable.create(c.bits, c.dim, false, c.n)) {
        this.table = table;
        try (var p = progress.phase(String.format(Locale.ROOT, "generating %,d random %d-bit codes%s", c.n, c.bits,
            c.dim > 0 ? " and " + c.dim + "-d features" : ""))) {
          queryRandom.nextBytes(qCodes);
          for (int i = 0; i < qFeatures.length; i++) {
            qFeatures[i] = nextFeature(queryRandom);
          }
          fillTable(table, dbRandom, c.planted == null ? null : new Planted(qCodes, root.split()));
        }
        MihFigures mihFigures = null;
        if (c.mih != null) {
          try (var p = progress.phase("building multi-index tables")) {
            long b0 = System.nanoTime();
            table.buildMultiIndex(c.mih);
            double buildMs = (System.nanoTime() - b0) / 1e6;
            try (CodeTable.LockedView v = table.view()) {
              mihFigures = new MihFigures(buildMs, v.multiIndex().tables(), (double) v.multiIndex().bytes() / c.n);
            }
          }
        }
        // with --mih the main figures are the scan's; the tables are timed beside them
        SearchOptions options = SearchOptions.defaults().withThreads(c.threads).withMethod(c.mih != null ? "scan" : null);
        if (c.backend != null) {
          options = options.withBackend(c.backend);
        }
        try (GpuHashSearch search = GpuHashSearch.open(table, options);
            GpuHashSearch oracle = GpuHashSearch.open(table,
                SearchOptions.defaults().withBackend("scalar").withThreads(1))) {
          List<String> failures = c.verify > 0 ? verify(search, oracle, qCodes, qFeatures) : List.of();
          for (String failure : failures) {
            err.println("bench: verification failed: " + failure);
          }
          if (mihFigures != null && c.verify > 0) {
            try (GpuHashSearch tables = GpuHashSearch.open(table, options.withMethod("mih"))) {
              List<String> mihFailures = verify(tables, oracle, qCodes, null);
              for (String failure : mihFailures) {
                err.println("bench: verification of the multi-index search failed: " + failure);
              }
              failures = new ArrayList<>(failures);
              failures.addAll(mihFailures);
            }
          }
          boolean verified = c.verify > 0 && failures.isEmpty();

          Pool pool = Pool.topM(c.pool);
          Timed bcsRuns = time(c.radius >= 0 ? "Hamming radius " + c.radius + " (cap " + c.k + ")"
              : "BCS (Hamming top-" + c.k + ")", c.runs, c.warmup, () -> bcs(search, qCodes));
          double[] bcs = bcsRuns.ms();
          bcsWarmRuns = warmRuns;
          bcsWarmSeconds = warmSeconds;
          bcsWarmCapped = warmCapped;
          // Where the backend's time went in its last call (upload, scan, download ...); empty when the
          // backend does not measure its phases.
          Map<String, Double> timings = search.lastTimingsMs();
          if (mihFigures != null) {
            try (GpuHashSearch tables = GpuHashSearch.open(table, options.withMethod("mih"))) {
              mihFigures.runs = time((c.radius >= 0 ? "Hamming radius " + c.radius : "Hamming top-" + c.k)
                  + " with multi-index tables", c.runs, c.warmup, () -> bcs(tables, qCodes)).ms();
            }
          }
          double[] hds = null;
          double[] hdsBusy = null;
          double[] es = null;
          Map<String, Double> hdsTimings = Map.of();
          if (c.dim > 0) {
            // BCS has warmed the Hamming kernels the coarse stage uses: one warm-up is enough.
            Timed hdsRuns = time("HDS (coarse-to-fine, m=" + c.pool + ")", c.runs, Math.min(c.warmup, 1),
                () -> search.coarseToFine(qCodes, qFeatures, pool, c.k));
            hds = hdsRuns.ms();
            hdsBusy = hdsRuns.busy();
            hdsTimings = search.lastTimingsMs();
            float[] esFeatures = Arrays.copyOf(qFeatures, c.esQueries * c.dim);
            es = time("ES (exhaustive L2, " + c.esQueries + " queries)", c.runs, Math.min(c.warmup, 1),
                () -> search.exhaustive(esFeatures, c.k)).ms();
            double scale = (double) c.queries / c.esQueries;
            for (int i = 0; i < es.length; i++) {
              es[i] *= scale;
            }
          }
          report(search, verified, failures.size(), bcs, bcsRuns.busy(), hds, hdsBusy, es, timings, hdsTimings,
              mihFigures);
          return c.verify > 0 && !verified ? 1 : 0;
        }
      }
    }

    /** The Hamming search being timed: top-k, or radius with a cap of k. */
    private SearchResult bcs(GpuHashSearch s, byte[] codes) {
      return c.radius >= 0 ? s.radius(codes, c.radius, c.k) : s.query(codes, c.k);
    }

    /** Fills the table in chunks so that only the table itself holds the whole data set. */
    private void fillTable(CodeTable table, SplittableRandom random, Planted planted) {
      int chunk = Math.min(c.n, 1 << 16);
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment codes = arena.allocate((long) chunk * codeBytes, 8);
        MemorySegment features = c.dim > 0 ? arena.allocate((long) chunk * c.dim * 4, 8) : null;
        for (int start = 0; start < c.n; start += chunk) {
          int m = Math.min(chunk, c.n - start);
          long bytes = (long) m * codeBytes;
          long words = bytes / 8;
          for (long w = 0; w < words; w++) {
            codes.setAtIndex(JAVA_LONG_UNALIGNED, w, random.nextLong());
          }
          for (long b = words * 8; b < bytes; b++) {
            codes.set(JAVA_BYTE, b, (byte) random.nextInt());
          }
          if (planted != null) {
            planted.into(codes, start, m);
          }
          if (features != null) {
            for (long i = 0, len = (long) m * c.dim; i < len; i++) {
              features.setAtIndex(JAVA_FLOAT_UNALIGNED, i, nextFeature(random));
            }
          }
          table.addAll(m, null, codes, features, null); // ids = row numbers
        }
      }
    }

    /**
     * The planted neighbours: P rows a query, spread evenly over the table (row j of query q is
     * row (q * P + j) * N / (Q * P)), each the query's code with 0 to R random bits flipped.
     */
    private final class Planted {
      private final byte[] queries;
      private final SplittableRandom random;
      private final long total;

      Planted(byte[] queries, SplittableRandom random) {
        this.queries = queries;
        this.random = random;
        this.total = (long) c.queries * c.planted;
      }

      void into(MemorySegment codes, int start, int m) {
        // the planted rows in [start, start + m): indices i with floor(i * N / total) in range
        long first = (start * total + c.n - 1) / c.n;
        for (long i = first; i < total; i++) {
          long row = i * c.n / total;
          if (row >= start + m) {
            break;
          }
          int q = (int) (i / c.planted);
          long at = (row - start) * codeBytes;
          MemorySegment.copy(queries, q * codeBytes, codes, JAVA_BYTE, at, codeBytes);
          int flips = random.nextInt(c.plantedWithin() + 1);
          for (int f = 0; f < flips; f++) {
            int bit = random.nextInt(c.bits);
            codes.set(JAVA_BYTE, at + bit / 8, (byte) (codes.get(JAVA_BYTE, at + bit / 8) ^ (1 << (bit % 8))));
          }
        }
      }
    }

    /** The multi-index tables' figures: build, size, and the timed runs. */
    private static final class MihFigures {
      final double buildMs;
      final int tables;
      final double bytesPerCode;
      double[] runs;

      MihFigures(double buildMs, int tables, double bytesPerCode) {
        this.buildMs = buildMs;
        this.tables = tables;
        this.bytesPerCode = bytesPerCode;
      }
    }

    private static float nextFeature(SplittableRandom r) {
      return (r.nextInt() >>> 8) * 0x1.0p-24f; // uniform in [0, 1)
    }

    private static final long WARMUP_NANOS = 2_000_000_000L;
    /**
     * After the requested warm-up, runs continue until the JIT is about done: a window of at least
     * JIT_WINDOW_NANOS (and two runs) in which it compiled for at most JIT_QUIET_MS, up to
     * --warmup-max seconds in all (30 by default). On 2 cores the compiler threads take turns with the search's: a Java
     * k = 1000 batch that ran 60-84 ms after 2 s of warm-up ran 38 ms once its kernels had been
     * compiled. The JIT never quite stops (methods called once a batch reach their thresholds
     * minutes later, a fraction of a millisecond each), so idle means those trickles alone.
     */
    private static final long JIT_WINDOW_NANOS = 1_000_000_000L;
    private static final long JIT_QUIET_MS = 20;
    /** The JIT's total compilation time so far (ms), where the JVM tells it; null where not. */
    private static final java.lang.management.CompilationMXBean JIT =
        java.lang.management.ManagementFactory.getCompilationMXBean() instanceof java.lang.management.CompilationMXBean j
            && j.isCompilationTimeMonitoringSupported() ? j : null;
    /** Below this busy share (see Timed) the table notes that the threads waited. */
    private static final double BUSY_WARNING = 0.8;

    /** CPU time per thread (nanosecond clocks, unlike the process's, which counts in ticks); null where unknown. */
    private static final com.sun.management.ThreadMXBean THREADS =
        java.lang.management.ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t
            && t.isThreadCpuTimeSupported() && t.isThreadCpuTimeEnabled() ? t : null;

    /** CPU nanoseconds used so far by every live thread of the JVM. */
    private static long processCpuNanos() {
      long sum = 0;
      for (long ns : THREADS.getThreadCpuTime(THREADS.getAllThreadIds())) {
        sum += Math.max(0, ns);
      }
      return sum;
    }

    /**
     * The timed runs of a search: each run's milliseconds, and its busy share, null where thread CPU
     * time is unknown: the CPU time the JVM's threads used in the run, divided by its wall time and
     * the search threads, 1 when every thread ran the whole time. Lower when threads wait for each
     * other (a single query's hand-offs) or, on a shared virtual machine, for a core (seen: wall
     * times 1.5-2x the CPU times), which makes wall times longer than the work; JIT and GC threads
     * count too.
     */
    private record Timed(double[] ms, double[] busy) {}

    /** Warm-up, then timed runs. */
    private Timed time(String what, int runs, int warmup, Supplier<SearchResult> op) {
      warmRuns = 0;
      warmSeconds = 0;
      warmCapped = false;
      if (warmup > 0) {
        try (var p = progress.phase(what + ": " + warmup + " warm-up run" + (warmup > 1 ? "s" : ""))) {
          // At least the requested runs, and then until two seconds have passed: a call that takes a
          // millisecond (one query) needs hundreds of calls before the JIT has compiled its loops,
          // and on 2 cores the compiler threads share them with the search (a k = 1000 batch of the
          // native backend ran 70 ms for its first 9 timed runs after half a second, 40 ms after);
          // then until the JIT is about idle (JIT_QUIET_MS)
          long start = System.nanoTime();
          long windowStart = start;
          long windowJit = JIT == null ? 0 : JIT.getTotalCompilationTime();
          int windowRuns = 0;
          boolean jitQuiet = JIT == null;
          for (int i = 0; ; i++) {
            long now = System.nanoTime();
            if (i >= warmup && now - start >= WARMUP_NANOS && (jitQuiet || now - start >= c.warmupMax * 1_000_000_000L)) {
              warmCapped = !jitQuiet;
              break;
            }
            sink += op.get().totalCount();
            warmRuns = i + 1;
            windowRuns++;
            now = System.nanoTime();
            if (JIT != null && now - windowStart >= JIT_WINDOW_NANOS && windowRuns >= 2) {
              long j = JIT.getTotalCompilationTime();
              jitQuiet = j - windowJit <= JIT_QUIET_MS;
              windowStart = now;
              windowJit = j;
              windowRuns = 0;
            }
          }
          warmSeconds = (System.nanoTime() - start) / 1e9;
        }
      }
      double[] ms = new double[runs];
      double[] busy = new double[runs];
      for (int i = 0; i < runs; i++) {
        try (var p = progress.phase(what + ": run " + (i + 1) + "/" + runs)) {
          long c0 = THREADS == null ? 0 : processCpuNanos();
          long t0 = System.nanoTime();
          SearchResult r = op.get();
          long t1 = System.nanoTime();
          long c1 = THREADS == null ? 0 : processCpuNanos();
          ms[i] = (t1 - t0) / 1e6;
          busy[i] = (double) (c1 - c0) / Math.max(1, t1 - t0) / c.resolvedThreads();
          sink += r.totalCount();
        }
      }
      return new Timed(ms, THREADS == null ? null : busy);
    }

    /**
     * Checks a sample of queries against the scalar oracle: Hamming top-k must match exactly (ids
     * and distances); Euclidean results must match within a relative 1e-4, ids may differ only
     * among near-ties. Returns the failures, empty when everything matched.
     */
    private List<String> verify(GpuHashSearch search, GpuHashSearch oracle, byte[] qCodes, float[] qFeatures)
        throws Exception {
      int s = c.verify;
      int[] picked = new int[s];
      byte[] sCodes = new byte[s * codeBytes];
      float[] sFeatures = new float[qFeatures == null ? 0 : s * c.dim];
      for (int i = 0; i < s; i++) {
        int q = (int) ((long) i * c.queries / s); // spread over the batch
        picked[i] = q;
        System.arraycopy(qCodes, q * codeBytes, sCodes, i * codeBytes, codeBytes);
        if (qFeatures != null) {
          System.arraycopy(qFeatures, q * c.dim, sFeatures, i * c.dim, c.dim);
        }
      }
      List<String> failures = new ArrayList<>();
      int sl = qFeatures == null ? 0 : c.verifyL2; // no features: the Hamming search alone
      try (var p = progress.phase("checking " + s + " queries against the scalar oracle")) {
        // The oracle is one thread and sorts every row: run sample queries on all cores.
        SearchResult[] want = oracleInParallel(oracle, sCodes, sFeatures, s, sl);
        SearchResult gotKnn = bcs(search, sCodes);
        compareHamming(want[0], gotKnn, picked, failures);
        if (sl > 0) {
          byte[] lCodes = Arrays.copyOf(sCodes, sl * codeBytes);
          float[] lFeatures = Arrays.copyOf(sFeatures, sl * c.dim);
          int[] lPicked = Arrays.copyOf(picked, sl);
          SearchResult gotHds = search.coarseToFine(lCodes, lFeatures, Pool.topM(c.pool), c.k);
          compareEuclidean("HDS", want[1], gotHds, lPicked, lCodes, lFeatures, failures);
          SearchResult gotEs = search.exhaustive(lFeatures, c.k);
          compareEuclidean("ES", want[2], gotEs, lPicked, lCodes, lFeatures, failures);
        }
      }
      return failures;
    }

    /**
     * The oracle's knn results for the s sampled queries, and its coarse-to-fine and exhaustive
     * results for the first sl of them; one query per task.
     */
    private SearchResult[] oracleInParallel(GpuHashSearch oracle, byte[] sCodes, float[] sFeatures, int s, int sl)
        throws Exception {
      int ops = sl > 0 ? 3 : 1;
      ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(c.resolvedThreads(), s + 2 * sl)), r -> {
        Thread t = new Thread(r, "bench-oracle");
        t.setDaemon(true);
        return t;
      });
      try {
        List<List<Future<SearchResult>>> futures = new ArrayList<>();
        for (int op = 0; op < ops; op++) {
          List<Future<SearchResult>> perQuery = new ArrayList<>();
          for (int i = 0; i < (op == 0 ? s : sl); i++) {
            byte[] code = Arrays.copyOfRange(sCodes, i * codeBytes, (i + 1) * codeBytes);
            float[] feature = sFeatures.length == 0 ? new float[0]
                : Arrays.copyOfRange(sFeatures, i * c.dim, (i + 1) * c.dim);
            int o = op;
            perQuery.add(pool.submit(() -> switch (o) {
              case 0 -> bcs(oracle, code);
              case 1 -> oracle.coarseToFine(code, feature, Pool.topM(c.pool), c.k);
              default -> oracle.exhaustive(feature, c.k);
            }));
          }
          futures.add(perQuery);
        }
        SearchResult[] merged = new SearchResult[ops];
        for (int op = 0; op < ops; op++) {
          List<SearchResult> parts = new ArrayList<>();
          for (Future<SearchResult> fu : futures.get(op)) {
            parts.add(fu.get());
          }
          merged[op] = concat(parts);
        }
        return merged;
      } finally {
        pool.shutdownNow();
      }
    }

    private static SearchResult concat(List<SearchResult> parts) {
      int[] offsets = new int[parts.size() + 1];
      for (int i = 0; i < parts.size(); i++) {
        offsets[i + 1] = offsets[i] + parts.get(i).count(0);
      }
      int total = offsets[parts.size()];
      long[] ids = new long[total];
      boolean hasHam = parts.isEmpty() || parts.get(0).hasHamming();
      boolean hasL2 = !parts.isEmpty() && parts.get(0).hasDistances();
      int[] ham = hasHam ? new int[total] : null;
      float[] l2 = hasL2 ? new float[total] : null;
      for (int i = 0; i < parts.size(); i++) {
        SearchResult p = parts.get(i);
        System.arraycopy(p.ids(0), 0, ids, offsets[i], p.count(0));
        if (hasHam) {
          System.arraycopy(p.hammings(0), 0, ham, offsets[i], p.count(0));
        }
        if (hasL2) {
          System.arraycopy(p.distances(0), 0, l2, offsets[i], p.count(0));
        }
      }
      return SearchResult.of(offsets, ids, ham, l2, null);
    }

    private static void compareHamming(SearchResult want, SearchResult got, int[] picked, List<String> failures) {
      for (String d : ResultComparison.exact().queryNumbers(picked).differences(want, got)) {
        failures.add("BCS " + d);
      }
    }

    /**
     * Euclidean results against the oracle's (distances within a relative {@link #L2_RTOL}, ids free
     * only among near-ties), and every reported distance against the table itself.
     */
    private void compareEuclidean(String op, SearchResult want, SearchResult got, int[] picked, byte[] sCodes,
        float[] sFeatures, List<String> failures) {
      ResultComparison.Truth truth = new ResultComparison.Truth() {
        @Override
        public double l2(int q, long id) {
          return id < 0 || id >= c.n ? Double.NaN : exactL2(sFeatures, q, (int) id);
        }

        @Override
        public int hamming(int q, long id) {
          return id < 0 || id >= c.n ? -1 : exactHamming(sCodes, q, (int) id);
        }
      };
      for (String d : ResultComparison.euclidean(L2_RTOL).queryNumbers(picked).truth(truth).differences(want, got)) {
        failures.add(op + " " + d);
      }
    }

    private double exactL2(float[] sFeatures, int q, int row) {
      float[] f = table.feature(row);
      double s = 0;
      for (int j = 0; j < c.dim; j++) {
        double diff = (double) sFeatures[q * c.dim + j] - f[j];
        s += diff * diff;
      }
      return s;
    }

    private int exactHamming(byte[] sCodes, int q, int row) {
      byte[] code = table.code(row);
      int d = 0;
      for (int b = 0; b < codeBytes; b++) {
        d += Integer.bitCount((sCodes[q * codeBytes + b] ^ code[b]) & 0xFF);
      }
      return d;
    }

    private void report(GpuHashSearch search, boolean verified, int failures, double[] bcs, double[] bcsBusy,
        double[] hds, double[] hdsBusy, double[] es, Map<String, Double> timings, Map<String, Double> hdsTimings,
        MihFigures mihFigures) {
      Figures f = Figures.of(c.n, c.queries, bcs);
      double median = f.medianMs();
      double qps = f.qps();
      double gcodes = f.gcodesPerS();
      if (c.json) {
        Json j = new Json()
            .put("backend", search.backendName())
            .put("device", search.device())
            .put("n", c.n)
            .put("bits", c.bits)
            .put("queries", c.queries)
            .put("k", c.k);
        if (c.radius >= 0) {
          j.put("radius", c.radius);
        }
        j.put("threads", c.resolvedThreads())
            .put("seed", c.seed)
            .put("runs", c.runs)
            .put("warmup", c.warmup)
            .put("warmup_runs", bcsWarmRuns)
            .put("warmup_s", Json.round(bcsWarmSeconds, 2))
            .put("warmup_jit_idle", !bcsWarmCapped)
            .put("median_ms", Json.round(median, 3))
            .put("min_ms", Json.round(min(bcs), 3))
            .put("max_ms", Json.round(max(bcs), 3));
        if (bcsBusy != null) {
          j.put("busy_median", Json.round(median(bcsBusy), 2));
        }
        j
            .put("qps", Json.round(qps, 1))
            .put("gcodes_per_s", Json.round(gcodes, 3))
            .put("bytes_per_code", table.bytesPerRow())
            .put("verified", verified)
            .put("verify_queries", c.verify)
            .put("verify_l2_queries", c.verifyL2);
        if (failures > 0) {
          j.put("verify_failures", failures);
        }
        j.put("dim", c.dim);
        if (hds != null) {
          double esMedian = median(es);
          j.put("pool", c.pool)
              .put("hds_median_ms", Json.round(median(hds), 3))
              .put("hds_min_ms", Json.round(min(hds), 3))
              .put("hds_max_ms", Json.round(max(hds), 3));
          if (hdsBusy != null) {
            j.put("hds_busy_median", Json.round(median(hdsBusy), 2));
          }
          j
              .put("es_median_ms", Json.round(esMedian, 3))
              .put("es_min_ms", Json.round(min(es), 3))
              .put("es_max_ms", Json.round(max(es), 3))
              .put("es_queries", c.esQueries)
              .put("es_scaled", c.esQueries != c.queries)
              .put("speedup_es_over_bcs", Json.round(esMedian / median, 2))
              .put("speedup_es_over_hds", Json.round(esMedian / median(hds), 2));
        }
        if (c.planted != null) {
          j.put("planted", c.planted).put("planted_within", c.plantedWithin());
        }
        if (mihFigures != null) {
          j.put("method", "scan")
              .put("mih_tables", mihFigures.tables)
              .put("mih_build_ms", Json.round(mihFigures.buildMs, 1))
              .put("mih_bytes_per_code", Json.round(mihFigures.bytesPerCode, 2))
              .put("mih_median_ms", Json.round(median(mihFigures.runs), 3))
              .put("mih_min_ms", Json.round(min(mihFigures.runs), 3))
              .put("mih_max_ms", Json.round(max(mihFigures.runs), 3))
              .put("speedup_mih_over_scan", Json.round(median / median(mihFigures.runs), 2));
        }
        j.put("runs_ms", roundAll(bcs));
        if (!timings.isEmpty()) {
          j.put("backend_timings_ms", timings);
        }
        if (!hdsTimings.isEmpty()) {
          j.put("hds_backend_timings_ms", hdsTimings);
        }
        if (c.backend == null && !Backends.notChosen().isEmpty()) {
          j.put("backends_not_chosen", Backends.notChosen());
        }
        j.put("java", System.getProperty("java.version"));
        out.println(j);
        return;
      }
      out.printf(Locale.ROOT, "engine-cli bench: backend %s (%s), %s threads%n", search.backendName(),
          search.device(), c.resolvedThreads());
      out.printf(Locale.ROOT,
          "  %,d codes of %d bits, %,d queries, k=%d, seed %d, median of %d runs after %s%n",
          c.n, c.bits, c.queries, c.k, c.seed, c.runs, bcsWarmRuns == 0 ? "no warm-up"
              : String.format(Locale.ROOT, "%d warm-up (%.1f s, %s)", bcsWarmRuns, bcsWarmSeconds,
                  bcsWarmCapped ? "the JIT still compiling at the cap" : JIT == null ? "2 s at least"
                      : "until the JIT was idle"));
      out.printf(Locale.ROOT, "  table: %d bytes per code (%.2f GB)%n", table.bytesPerRow(),
          (double) table.bytesPerRow() * c.n / 1e9);
      out.printf(Locale.ROOT, "%n  %-44s %10s %10s %10s %12s %10s%n", "search", "median ms", "min ms", "max ms",
          "queries/s",
          "Gcodes/s");
      row(c.radius >= 0 ? "Hamming radius " + c.radius + " (cap " + c.k + ")" : "BCS  exact Hamming top-" + c.k, bcs,
          c.queries);
      if (mihFigures != null) {
        row("  the same with " + mihFigures.tables + " multi-index tables", mihFigures.runs, c.queries);
        out.printf(Locale.ROOT, "  tables: built in %.0f ms, %.1f bytes a code; scan / tables: %.1fx%n",
            mihFigures.buildMs, mihFigures.bytesPerCode, median / median(mihFigures.runs));
      }
      if (hds != null) {
        row("HDS  Hamming pool m=" + c.pool + ", L2 re-rank (d=" + c.dim + ")", hds, c.queries);
        row("ES   exhaustive L2" + (c.esQueries != c.queries ? " (" + c.esQueries + " q, scaled)" : ""), es, c.queries);
        out.printf(Locale.ROOT, "%n  ES / BCS: %.1fx   ES / HDS: %.1fx%n", median(es) / median,
            median(es) / median(hds));
      }
      if (!timings.isEmpty()) {
        StringBuilder sb = new StringBuilder();
        Json.write(sb, timings);
        out.println("  backend timings (ms, last call): " + sb);
      }
      if (bcsBusy != null && median(bcsBusy) < BUSY_WARNING) {
        out.printf(Locale.ROOT, "  note: the threads ran for %.0f%% of the BCS wall time (median); the rest they"
            + " waited, for each other or, on a shared machine, for a core%n", 100 * median(bcsBusy));
      }
      out.println(c.verify == 0 ? "  not verified (--verify 0)"
          : verified ? "  verified against the scalar oracle: BCS on " + c.verify + " queries"
              + (c.verifyL2 > 0 ? ", HDS and ES on " + c.verifyL2 : "")
          : "  VERIFICATION FAILED: " + failures + " mismatches against the scalar oracle (see above)");
    }

    private void row(String label, double[] ms, int queries) {
      double m = median(ms);
      out.printf(Locale.ROOT, "  %-44s %10.2f %10.2f %10.2f %12.0f %10.3f%n", label, m, min(ms), max(ms),
          queries / (m / 1e3), (double) c.n * queries / (m / 1e3) / 1e9);
    }

  }

  /**
   * The figures of one timed search: median, min and max milliseconds of the runs, and from the
   * median the throughput in queries per second and in billions of (query, code) pairs per second.
   */
  record Figures(double medianMs, double minMs, double maxMs, double qps, double gcodesPerS) {
    static Figures of(long n, int queries, double[] runsMs) {
      double m = median(runsMs);
      return new Figures(m, min(runsMs), max(runsMs), queries / (m / 1e3), (double) n * queries / (m / 1e3) / 1e9);
    }
  }

  static double median(double[] xs) {
    double[] s = xs.clone();
    Arrays.sort(s);
    int m = s.length / 2;
    return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
  }

  private static double min(double[] xs) {
    return Arrays.stream(xs).min().orElse(Double.NaN);
  }

  private static double max(double[] xs) {
    return Arrays.stream(xs).max().orElse(Double.NaN);
  }

  private static double[] roundAll(double[] xs) {
    double[] r = new double[xs.length];
    for (int i = 0; i < xs.length; i++) {
      r[i] = Json.round(xs[i], 3);
    }
    return r;
  }
}
