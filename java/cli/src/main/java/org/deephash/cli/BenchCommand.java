package org.deephash.cli;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
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
import org.deephash.io.Json;
import org.deephash.spi.CliCommand;

/**
 * {@code engine-cli bench}: end-to-end timings on random data. Times the paper's three searches on
 * the same table: BCS (exact Hamming top-k, the headline figure), HDS (Hamming pool of m re-ranked
 * by Euclidean distance) and ES (exhaustive Euclidean, on a subset of the queries and scaled).
 * Before timing, a sample of queries is checked against the scalar oracle; a mismatch makes the
 * command exit 1.
 */
final class BenchCommand implements CliCommand {
  /** Relative tolerance for Euclidean distances: backends may sum in a different order. */
  static final double L2_RTOL = 1e-4;

  @Override
  public String name() {
    return "bench";
  }

  @Override
  public String summary() {
    return "time exact Hamming top-k (and coarse-to-fine, exhaustive) on random data, checked against the oracle";
  }

  private static Flags flags() {
    return new Flags("bench", "engine-cli bench [--n N] [--bits B] [--queries Q] [--k K] [--backend NAME] [--json] ...")
        .value("n", "N", "database rows (default 1000000; 1e6, 1M, 500k accepted)")
        .value("bits", "B", "code width, a multiple of 8 in [8, 4096] (default 64)")
        .value("queries", "Q", "queries per batch (default 1000)")
        .value("k", "K", "results per query (default 10); with --radius, the cap on results per query")
        .value("radius", "R", "time radius search (every code within Hamming distance R, at most K a query)"
            + " instead of top-k")
        .value("backend", "NAME", "java, native, cuda or scalar (default: the JVM's choice, -Dengine.backend)")
        .value("threads", "T", "CPU threads, 0 = all cores (default 0)")
        .value("seed", "S", "random seed; database and queries use independent streams split from it (default 42)")
        .value("dim", "D", "feature dimension for the HDS and ES figures, 0 to skip them (default 128)")
        .value("pool", "M", "HDS Hamming pool size m, >= k (default 1000)")
        .value("runs", "R", "timed runs; the median is reported (default 5)")
        .value("warmup", "W", "untimed warm-up runs before timing (default 2, and at least 0.5 s of them)")
        .value("es-queries", "E", "queries used to time ES (it scans every feature), scaled to Q (default 50)")
        .value("verify", "V", "queries whose Hamming top-k is checked against the scalar oracle before timing,"
            + " 0 to skip (default 20)")
        .value("verify-l2", "V", "of those, queries whose HDS and ES results are checked too (default 5: the"
            + " oracle sorts every row)")
        .flag("json", "print one JSON line on stdout instead of the table");
  }

  @Override
  public int run(String[] args, PrintStream out, PrintStream err) throws Exception {
    Flags f = flags().parse(args);
    if (f.helpRequested()) {
      out.print(f.usage());
      return 0;
    }
    Config c = new Config(f);
    try (Progress progress = new Progress("bench", err)) {
      return new Run(c, progress, out, err).execute();
    }
  }

  /** Validated settings. */
  private static final class Config {
    final int n;
    final int bits;
    final int queries;
    final int k;
    final int radius;
    final String backend;
    final int threads;
    final long seed;
    final int dim;
    final int pool;
    final int runs;
    final int warmup;
    final int esQueries;
    final int verify;
    final int verifyL2;
    final boolean json;

    Config(Flags f) {
      n = f.intValue("n", 1_000_000, 1, CodeTable.MAX_ROWS);
      bits = f.intValue("bits", 64, 8, CodeTable.MAX_BITS);
      if (bits % 8 != 0) {
        throw f.usage("--bits must be a multiple of 8 (passed " + bits + ")");
      }
      queries = f.intValue("queries", 1000, 1, 10_000_000);
      k = f.intValue("k", 10, 1, 1 << 20);
      radius = f.intValue("radius", -1, 0, bits);
      backend = f.string("backend", null);
      threads = f.intValue("threads", 0, 0, 4096);
      seed = f.longValue("seed", 42, Long.MIN_VALUE, Long.MAX_VALUE);
      dim = f.intValue("dim", 128, 0, 65536);
      pool = f.intValue("pool", Math.max(1000, k), 1, CodeTable.MAX_ROWS);
      if (pool < k) {
        throw f.usage("--pool (HDS pool size m) must be >= --k (" + pool + " < " + k + ")");
      }
      runs = f.intValue("runs", 5, 1, 10_000);
      warmup = f.intValue("warmup", 2, 0, 10_000);
      esQueries = Math.min(queries, f.intValue("es-queries", 50, 1, 10_000_000));
      verify = Math.min(queries, f.intValue("verify", 20, 0, 10_000_000));
      verifyL2 = dim == 0 ? 0 : Math.min(verify, f.intValue("verify-l2", 5, 0, 10_000_000));
      json = f.has("json");
      long bytes = (long) n * (bits / 8 + 8 + 4L * dim);
      if (bytes > Runtime.getRuntime().maxMemory() * 16) {
        // Off-heap, but a typo like --n 1e9 --dim 128 should fail at once, not after minutes.
        throw f.usage(String.format(Locale.ROOT, "the table would take %.1f GB; use a smaller --n or --dim",
            bytes / 1e9));
      }
    }

    int resolvedThreads() {
      return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
    }
  }

  /** One benchmark: data, verification, timings, report. */
  private static final class Run {
    private final Config c;
    private final Progress progress;
    private final PrintStream out;
    private final PrintStream err;
    private final int codeBytes;
    private CodeTable table;
    /** Keeps the timed results observable so no run can be optimised away. */
    private long sink;

    Run(Config c, Progress progress, PrintStream out, PrintStream err) {
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
          fillTable(table, dbRandom);
          queryRandom.nextBytes(qCodes);
          for (int i = 0; i < qFeatures.length; i++) {
            qFeatures[i] = nextFeature(queryRandom);
          }
        }
        SearchOptions options = SearchOptions.defaults().withThreads(c.threads);
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
          boolean verified = c.verify > 0 && failures.isEmpty();

          Pool pool = Pool.topM(c.pool);
          double[] bcs = time(c.radius >= 0 ? "Hamming radius " + c.radius + " (cap " + c.k + ")"
              : "BCS (Hamming top-" + c.k + ")", c.runs, c.warmup, () -> bcs(search, qCodes));
          // Where the backend's time went in its last call (upload, scan, download ...); empty when the
          // backend does not measure its phases.
          Map<String, Double> timings = search.lastTimingsMs();
          double[] hds = null;
          double[] es = null;
          Map<String, Double> hdsTimings = Map.of();
          if (c.dim > 0) {
            // BCS has warmed the Hamming kernels the coarse stage uses: one warm-up is enough.
            hds = time("HDS (coarse-to-fine, m=" + c.pool + ")", c.runs, Math.min(c.warmup, 1),
                () -> search.coarseToFine(qCodes, qFeatures, pool, c.k));
            hdsTimings = search.lastTimingsMs();
            float[] esFeatures = Arrays.copyOf(qFeatures, c.esQueries * c.dim);
            es = time("ES (exhaustive L2, " + c.esQueries + " queries)", c.runs, Math.min(c.warmup, 1),
                () -> search.exhaustive(esFeatures, c.k));
            double scale = (double) c.queries / c.esQueries;
            for (int i = 0; i < es.length; i++) {
              es[i] *= scale;
            }
          }
          report(search, verified, failures.size(), bcs, hds, es, timings, hdsTimings);
          return c.verify > 0 && !verified ? 1 : 0;
        }
      }
    }

    /** The Hamming search being timed: top-k, or radius with a cap of k. */
    private SearchResult bcs(GpuHashSearch s, byte[] codes) {
      return c.radius >= 0 ? s.radius(codes, c.radius, c.k) : s.query(codes, c.k);
    }

    /** Fills the table in chunks so that only the table itself holds the whole data set. */
    private void fillTable(CodeTable table, SplittableRandom random) {
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
          if (features != null) {
            for (long i = 0, len = (long) m * c.dim; i < len; i++) {
              features.setAtIndex(JAVA_FLOAT_UNALIGNED, i, nextFeature(random));
            }
          }
          table.addAll(m, null, codes, features, null); // ids = row numbers
        }
      }
    }

    private static float nextFeature(SplittableRandom r) {
      return (r.nextInt() >>> 8) * 0x1.0p-24f; // uniform in [0, 1)
    }

    private static final long WARMUP_NANOS = 500_000_000L;

    /** Warm-up, then timed runs; returns each run's milliseconds. */
    private double[] time(String what, int runs, int warmup, Supplier<SearchResult> op) {
      if (warmup > 0) {
        try (var p = progress.phase(what + ": " + warmup + " warm-up run" + (warmup > 1 ? "s" : ""))) {
          // At least the requested runs, and then until half a second has passed: a call that takes
          // a millisecond (one query) needs hundreds of calls before the JIT has compiled its loops.
          long until = System.nanoTime() + WARMUP_NANOS;
          for (int i = 0; i < warmup || System.nanoTime() < until; i++) {
            sink += op.get().totalCount();
          }
        }
      }
      double[] ms = new double[runs];
      for (int i = 0; i < runs; i++) {
        try (var p = progress.phase(what + ": run " + (i + 1) + "/" + runs)) {
          long t0 = System.nanoTime();
          SearchResult r = op.get();
          ms[i] = (System.nanoTime() - t0) / 1e6;
          sink += r.totalCount();
        }
      }
      return ms;
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
      float[] sFeatures = new float[s * c.dim];
      for (int i = 0; i < s; i++) {
        int q = (int) ((long) i * c.queries / s); // spread over the batch
        picked[i] = q;
        System.arraycopy(qCodes, q * codeBytes, sCodes, i * codeBytes, codeBytes);
        System.arraycopy(qFeatures, q * c.dim, sFeatures, i * c.dim, c.dim);
      }
      List<String> failures = new ArrayList<>();
      int sl = c.verifyL2;
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
            float[] feature = Arrays.copyOfRange(sFeatures, i * c.dim, (i + 1) * c.dim);
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
      for (int i = 0; i < picked.length; i++) {
        if (!Arrays.equals(want.ids(i), got.ids(i)) || !Arrays.equals(want.hammings(i), got.hammings(i))) {
          failures.add("BCS query " + picked[i] + ": expected ids " + Arrays.toString(want.ids(i)) + " at distances "
              + Arrays.toString(want.hammings(i)) + ", got " + Arrays.toString(got.ids(i)) + " at "
              + Arrays.toString(got.hammings(i)));
        }
      }
    }

    /**
     * Euclidean results: the same count; at every rank the distance within a relative 1e-4 of the
     * oracle's; every id distinct, reported with its own true distance (and, for HDS, its true
     * Hamming distance); an id may differ from the oracle's only where the distances are near-tied.
     */
    private void compareEuclidean(String op, SearchResult want, SearchResult got, int[] picked, byte[] sCodes,
        float[] sFeatures, List<String> failures) {
      for (int i = 0; i < picked.length; i++) {
        String where = op + " query " + picked[i];
        if (want.count(i) != got.count(i)) {
          failures.add(where + ": expected " + want.count(i) + " results, got " + got.count(i));
          continue;
        }
        Set<Long> seen = new HashSet<>();
        for (int r = 0; r < got.count(i); r++) {
          long id = got.id(i, r);
          float d = got.distance(i, r);
          float w = want.distance(i, r);
          if (!seen.add(id) || id < 0 || id >= c.n) {
            failures.add(where + ": id " + id + " at rank " + r + " is repeated or not in the table");
            break;
          }
          if (!close(d, w)) {
            failures.add(where + " rank " + r + ": expected squared distance " + w + ", got " + d + " (id " + id
                + ", expected id " + want.id(i, r) + ")");
            break;
          }
          double truth = exactL2(sFeatures, i, (int) id);
          if (!close(d, truth)) {
            failures.add(where + " rank " + r + ": id " + id + " reported at squared distance " + d
                + " but is at " + truth);
            break;
          }
          if (id != want.id(i, r) && !close(truth, w)) {
            failures.add(where + " rank " + r + ": expected id " + want.id(i, r) + ", got " + id);
            break;
          }
          if (got.hasHamming()) {
            int h = exactHamming(sCodes, i, (int) id);
            if (got.hamming(i, r) != h) {
              failures.add(where + " rank " + r + ": id " + id + " reported at Hamming distance " + got.hamming(i, r)
                  + " but is at " + h);
              break;
            }
          }
        }
      }
    }

    private static boolean close(double a, double b) {
      return Math.abs(a - b) <= L2_RTOL * Math.max(Math.abs(b), 1e-6);
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

    private void report(GpuHashSearch search, boolean verified, int failures, double[] bcs, double[] hds,
        double[] es, Map<String, Double> timings, Map<String, Double> hdsTimings) {
      double median = median(bcs);
      double qps = c.queries / (median / 1e3);
      double gcodes = (double) c.n * c.queries / (median / 1e3) / 1e9;
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
            .put("median_ms", Json.round(median, 3))
            .put("min_ms", Json.round(min(bcs), 3))
            .put("max_ms", Json.round(max(bcs), 3))
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
              .put("hds_max_ms", Json.round(max(hds), 3))
              .put("es_median_ms", Json.round(esMedian, 3))
              .put("es_min_ms", Json.round(min(es), 3))
              .put("es_max_ms", Json.round(max(es), 3))
              .put("es_queries", c.esQueries)
              .put("es_scaled", c.esQueries != c.queries)
              .put("speedup_es_over_bcs", Json.round(esMedian / median, 2))
              .put("speedup_es_over_hds", Json.round(esMedian / median(hds), 2));
        }
        j.put("runs_ms", roundAll(bcs));
        if (!timings.isEmpty()) {
          j.put("backend_timings_ms", timings);
        }
        if (!hdsTimings.isEmpty()) {
          j.put("hds_backend_timings_ms", hdsTimings);
        }
        j.put("java", System.getProperty("java.version"));
        out.println(j);
        return;
      }
      out.printf(Locale.ROOT, "engine-cli bench: backend %s (%s), %s threads%n", search.backendName(),
          search.device(), c.resolvedThreads());
      out.printf(Locale.ROOT,
          "  %,d codes of %d bits, %,d queries, k=%d, seed %d, median of %d runs after %d warm-up%n",
          c.n, c.bits, c.queries, c.k, c.seed, c.runs, c.warmup);
      out.printf(Locale.ROOT, "  table: %d bytes per code (%.2f GB)%n", table.bytesPerRow(),
          (double) table.bytesPerRow() * c.n / 1e9);
      out.printf(Locale.ROOT, "%n  %-44s %10s %10s %10s %12s %10s%n", "search", "median ms", "min ms", "max ms",
          "queries/s",
          "Gcodes/s");
      row(c.radius >= 0 ? "Hamming radius " + c.radius + " (cap " + c.k + ")" : "BCS  exact Hamming top-" + c.k, bcs,
          c.queries);
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
