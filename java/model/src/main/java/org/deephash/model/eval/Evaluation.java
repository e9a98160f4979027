package org.deephash.model.eval;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.cli.api.Progress;
import org.deephash.io.Json;

/**
 * The paper's evaluation, run on the engine: queries against a database, relevant = same label,
 * rankings over the whole database with ties broken by database order (= ascending id, the
 * engine's contract, since database item i is stored with id i).
 *
 * <p>Rows: BCS (Hamming ranking of the codes), ES (exhaustive Euclidean on F7), HDS (coarse to
 * fine: a Hamming pool re-ranked by Euclidean distance), and any number of extra code rows (the
 * LSH and PCA-ITQ baselines). For each row: P@k for {@link #KS}, mAP@1000 as the reference code
 * defines it, and for rankings that cover the whole database (code rows and HDS) the standard
 * full-list mAP; code rows add precision within Hamming radius 2. The engine's top-1000 of every
 * code row is checked against an independent full ranking (counting sort) and must match exactly.
 */
public final class Evaluation {
  public static final int[] KS = {1, 10, 100, 500, 1000};
  public static final int DEPTH = 1000;

  /** One row of the results table. Null figures do not apply to the row. */
  public record Row(String name, String description, String fineStage, double[] precisionAtK, double mapAt1000,
      Double mapFull, Double precisionR2, double queryMs, double[] curve) {}

  /** Inputs of a code row besides BCS: a name and codes for the database and the queries. */
  public record CodeRow(String name, String description, int bits, byte[] dbCodes, byte[] queryCodes) {}

  private final PrintStream log;
  private Pool pool = Pool.topM(DEPTH);
  private int esQueries = Integer.MAX_VALUE;
  private FineStage fineStage = FineStage.legacy();
  private List<FineStage> compare = List.of();
  private Progress progress = Progress.none();

  public Evaluation(PrintStream log) {
    this.log = log;
  }

  /** Draws the ranking's progress: the full-list figures take most of the time (the default draws nothing). */
  public Evaluation progress(Progress p) {
    this.progress = p;
    return this;
  }

  /** The coarse stage of HDS (default: the Hamming top-1000). */
  public Evaluation pool(Pool p) {
    this.pool = p;
    return this;
  }

  public Pool pool() {
    return pool;
  }

  /**
   * Runs the ES row on the first n queries only. Exhaustive Euclidean search over 512-d features
   * costs ~40x a Hamming scan on a CPU; the demo uses this to stay within its time budget.
   */
  public Evaluation esQueries(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("ES query count must be >= 1 (passed " + n + ")");
    }
    this.esQueries = n;
    return this;
  }

  /** The fine stage of the HDS row (default: the paper's, Euclidean on F7). */
  public Evaluation fineStage(FineStage s) {
    this.fineStage = s;
    return this;
  }

  /** Also evaluates these fine stages, as rows {@code hds_KEY} after the HDS row (default: none). */
  public Evaluation compareStages(List<FineStage> stages) {
    this.compare = List.copyOf(stages);
    return this;
  }

  /**
   * As {@link #run(int, int, byte[], float[], float[], int[], byte[], float[], float[], int[], List,
   * SearchResult[])} without latent activations: the fine stages that read them are not available.
   */
  public List<Row> run(int bits, int dim, byte[] dbCodes, float[] dbFeatures, int[] dbLabels, byte[] queryCodes,
      float[] queryFeatures, int[] queryLabels, List<CodeRow> extra, SearchResult[] hdsResultOut) {
    return run(bits, dim, dbCodes, dbFeatures, null, dbLabels, queryCodes, queryFeatures, null, queryLabels, extra,
        hdsResultOut);
  }

  /**
   * Evaluates the network's codes and features plus extra code rows.
   *
   * @param bits code width in bits of the network's codes (padded to whole bytes for the engine)
   * @param dbCodes database codes, ceil(bits/8) bytes each; database item i gets id i
   * @param dbFeatures database F7 features, n x dim
   * @param dbLatent database latent activations, n x bits (null when the fine stages do not need them)
   * @param queryCodes query codes
   * @param queryFeatures query features
   * @param hdsResultOut when not null, receives the HDS result (for the picture of retrievals)
   */
  public List<Row> run(int bits, int dim, byte[] dbCodes, float[] dbFeatures, float[] dbLatent, int[] dbLabels,
      byte[] queryCodes, float[] queryFeatures, float[] queryLatent, int[] queryLabels, List<CodeRow> extra,
      SearchResult[] hdsResultOut) {
    int codeBytes = (bits + 7) / 8;
    List<Row> rows = new ArrayList<>();
    try (CodeTable table = CodeTable.create(codeBytes * 8, dim, true, dbLabels.length)) {
      table.addAll(null, dbCodes, dbFeatures, dbLabels);
      try (GpuHashSearch search = GpuHashSearch.open(table)) {
        log.println("ranking with the engine's '" + search.backendName() + "' backend on " + search.device());
        FullRanking full = new FullRanking(dbCodes, codeBytes, codeBytes * 8, dbLabels);
        rows.add(codeRow("bcs", "BCS: Hamming ranking of the " + bits + "-bit codes", search, full, queryCodes,
            codeBytes, queryLabels, dbLabels));

        warm(() -> search.exhaustive(slice(queryFeatures, dim, 100), DEPTH));
        int esN = Math.min(esQueries, queryLabels.length);
        long t0 = System.nanoTime();
        SearchResult es;
        try (var p = progress.phase("ES: exhaustive Euclidean ranking of " + esN + " queries")) {
          es = search.exhaustive(slice(queryFeatures, dim, esN), DEPTH);
        }
        double esMs = (System.nanoTime() - t0) / 1e6 / esN;
        int[] esLabels = java.util.Arrays.copyOf(queryLabels, esN);
        double esMap;
        try (var c = progress.count("ES: full-list mAP", esN, "queries")) {
          esMap = EuclideanRanking.meanAveragePrecision(dbFeatures, dbLabels, slice(queryFeatures, dim, esN),
              esLabels, dim, c);
        }
        rows.add(listRow("es", "ES: exhaustive Euclidean ranking of F7 features"
            + (esN < queryLabels.length ? " (first " + esN + " queries)" : ""), null, es, esLabels, dbLabels, esMap,
            null, esMs));

        List<FineStage> stages = new ArrayList<>();
        stages.add(fineStage);
        for (FineStage s : compare) {
          if (!stages.contains(s)) {
            stages.add(s);
          }
        }
        for (FineStage stage : stages) {
          if (stage.usesLatent() && (dbLatent == null || queryLatent == null)) {
            throw new IllegalArgumentException("fine stage " + stage.key() + " needs the latent activations");
          }
          boolean main = stage == fineStage;
          long t1 = System.nanoTime();
          SearchResult hds;
          try (var p = progress.phase("HDS (" + stage.key() + "): coarse-to-fine search of " + queryLabels.length
              + " queries")) {
            hds = coarseToFine(search, stage, bits, dim, dbFeatures, dbLatent, queryCodes, queryFeatures, queryLatent,
                queryLabels.length);
          }
          double hdsMs = (System.nanoTime() - t1) / 1e6 / queryLabels.length;
          FullRanking.QueryFigures[] hf;
          try (var c = progress.count("HDS (" + stage.key() + "): full-list mAP", queryLabels.length, "queries")) {
            hf = full.evaluate(queryCodes, codeBytes, queryLabels, hds::ids, 0, c);
          }
          rows.add(listRow(main ? "hds" : "hds_" + stage.key().replace('-', '_'), "HDS: " + describe(pool)
              + ", fine stage " + stage.key() + ": " + stage.description(), stage.key(), hds, queryLabels, dbLabels,
              meanAp(hf), null, hdsMs));
          if (main && hdsResultOut != null && hdsResultOut.length > 0) {
            hdsResultOut[0] = hds;
          }
        }
      }
    }
    for (CodeRow c : extra) {
      int cb = (c.bits() + 7) / 8;
      try (CodeTable table = CodeTable.create(cb * 8, 0, true, dbLabels.length)) {
        table.addAll(null, c.dbCodes(), null, dbLabels);
        try (GpuHashSearch search = GpuHashSearch.open(table)) {
          FullRanking full = new FullRanking(c.dbCodes(), cb, cb * 8, dbLabels);
          rows.add(codeRow(c.name(), c.description(), search, full, c.queryCodes(), cb, queryLabels, dbLabels));
        }
      }
    }
    return rows;
  }

  /**
   * The coarse-to-fine search with a fine stage: the engine's Hamming pool, re-ordered by {@link
   * FineStage#order}; the best {@link #DEPTH} of each pool are returned, with their Hamming and fine
   * distances.
   */
  private SearchResult coarseToFine(GpuHashSearch search, FineStage stage, int bits, int dim, float[] dbFeatures,
      float[] dbLatent, byte[] queryCodes, float[] queryFeatures, float[] queryLatent, int q) {
    SearchResult coarse = FineSearch.coarse(search, queryCodes, pool);
    int n = dbFeatures.length / dim;
    float[] db = stage.features(dbFeatures, dim, dbLatent, bits, n);
    float[] qf = stage.features(queryFeatures, dim, queryLatent, bits, q);
    int fd = stage.dim(dim, bits);
    return rerank(stage, coarse, db, qf, fd, DEPTH);
  }

  /** Re-orders every query's pool of {@code coarse} with {@code stage} (item i's row of {@code db} is its id). */
  static SearchResult rerank(FineStage stage, SearchResult coarse, float[] db, float[] queries, int dim, int k) {
    return FineSearch.rerank(stage, coarse, db, null, queries, dim, k);
  }

  /**
   * Scores fine stages on validation queries against a database (the training images minus the
   * validation split): mean P@10 and full-list mAP of each, and of the codes alone. The pool is the
   * Hamming top-m (m = this evaluation's pool size, 1000 by default), a prefix of the codes' full
   * ranking holding the same items in another order; the rest of the list is the same, so a stage's
   * average precision differs from the codes' only by the terms of the first m ranks, and only those
   * are computed per stage.
   *
   * @return the scores by stage, plus the codes' own under the key null
   */
  public java.util.Map<FineStage, FineStage.Score> scoreStages(List<FineStage> stages, int bits, int dim,
      byte[] dbCodes, float[] dbFeatures, float[] dbLatent, int[] dbLabels, byte[] queryCodes, float[] queryFeatures,
      float[] queryLatent, int[] queryLabels) {
    int codeBytes = (bits + 7) / 8;
    int q = queryLabels.length;
    int m = Math.min(pool.kind() == Pool.Kind.TOP_M ? pool.size() : DEPTH, dbLabels.length);
    int[] labelCount = EuclideanRanking.labelCounts(dbLabels);
    java.util.Map<FineStage, FineStage.Score> out = new java.util.LinkedHashMap<>();
    try (CodeTable table = CodeTable.create(codeBytes * 8, 0, true, dbLabels.length)) {
      table.addAll(null, dbCodes, null, dbLabels);
      try (GpuHashSearch search = GpuHashSearch.open(table)) {
        FullRanking full = new FullRanking(dbCodes, codeBytes, codeBytes * 8, dbLabels);
        FullRanking.QueryFigures[] bf;
        try (var c = progress.count("validation: full Hamming ranking", q, "queries")) {
          bf = full.evaluate(queryCodes, codeBytes, queryLabels, null, m, c);
        }
        double[] bcsHead = new double[q];
        double[] bcsP10 = new double[q];
        double p10 = 0;
        for (int i = 0; i < q; i++) {
          long[] ids = java.util.Arrays.stream(bf[i].topIds()).asLongStream().toArray();
          bcsHead[i] = headSum(ids, dbLabels, queryLabels[i]);
          bcsP10[i] = precisionAt10(ids, dbLabels, queryLabels[i]);
          p10 += bcsP10[i];
        }
        out.put(null, new FineStage.Score(p10 / q, meanAp(bf)));
        SearchResult coarse = search.query(queryCodes, m);
        for (FineStage stage : stages) {
          int n = dbLabels.length;
          float[] db = stage.features(dbFeatures, dim, dbLatent, bits, n);
          float[] qf = stage.features(queryFeatures, dim, queryLatent, bits, q);
          SearchResult r;
          try (var p = progress.phase("validation: fine stage " + stage.key())) {
            r = rerank(stage, coarse, db, qf, stage.dim(dim, bits), m);
          }
          double ap = 0;
          double sp = 0;
          double[] gainP10 = new double[q];
          double[] gainAp = new double[q];
          for (int i = 0; i < q; i++) {
            long[] ids = r.ids(i);
            int label = queryLabels[i];
            int total = label < labelCount.length ? labelCount[label] : 0;
            double delta = total == 0 ? 0 : (headSum(ids, dbLabels, label) - bcsHead[i]) / total;
            ap += bf[i].averagePrecision() + delta;
            double p = precisionAt10(ids, dbLabels, label);
            sp += p;
            gainAp[i] = delta;
            gainP10[i] = p - bcsP10[i];
          }
          out.put(stage, new FineStage.Score(sp / q, ap / q, FineStage.Score.standardError(gainP10),
              FineStage.Score.standardError(gainAp)));
        }
      }
    }
    return out;
  }

  /** Sum over the relevant ranks j of a list of (relevant items up to j) / j: average precision's numerator. */
  static double headSum(long[] ids, int[] dbLabels, int label) {
    int hits = 0;
    double s = 0;
    for (int j = 0; j < ids.length; j++) {
      if (dbLabels[(int) ids[j]] == label) {
        hits++;
        s += hits / (double) (j + 1);
      }
    }
    return s;
  }

  private static double precisionAt10(long[] ids, int[] dbLabels, int label) {
    int hits = 0;
    for (int j = 0; j < Math.min(10, ids.length); j++) {
      if (dbLabels[(int) ids[j]] == label) {
        hits++;
      }
    }
    return hits / 10.0;
  }

  private Row codeRow(String name, String description, GpuHashSearch search, FullRanking full, byte[] queryCodes,
      int codeBytes, int[] queryLabels, int[] dbLabels) {
    warm(() -> search.query(slice(queryCodes, codeBytes, 100), DEPTH));
    long t0 = System.nanoTime();
    SearchResult r = search.query(queryCodes, DEPTH);
    double ms = (System.nanoTime() - t0) / 1e6 / queryLabels.length;
    FullRanking.QueryFigures[] f;
    try (var c = progress.count(name.toUpperCase(Locale.ROOT) + ": full Hamming ranking", queryLabels.length,
        "queries")) {
      f = full.evaluate(queryCodes, codeBytes, queryLabels, null, DEPTH, c);
    }
    for (int q = 0; q < queryLabels.length; q++) {
      long[] ids = r.ids(q);
      int[] top = f[q].topIds();
      if (ids.length != top.length) {
        throw new IllegalStateException(name + ": the engine returned " + ids.length + " results for query " + q
            + ", the reference ranking has " + top.length);
      }
      for (int j = 0; j < ids.length; j++) {
        if (ids[j] != top[j]) {
          throw new IllegalStateException(name + ": the engine's rank " + j + " of query " + q + " is id " + ids[j]
              + ", the reference full ranking (ties by database order) has " + top[j]);
        }
      }
    }
    double r2 = 0;
    for (FullRanking.QueryFigures x : f) {
      r2 += x.precisionR2();
    }
    return listRow(name, description, null, r, queryLabels, dbLabels, meanAp(f), r2 / f.length, ms);
  }

  private static double meanAp(FullRanking.QueryFigures[] f) {
    double s = 0;
    for (FullRanking.QueryFigures x : f) {
      s += x.averagePrecision();
    }
    return s / f.length;
  }

  private static Row listRow(String name, String description, String fineStage, SearchResult r, int[] queryLabels,
      int[] dbLabels, Double mapFull, Double r2, double ms) {
    int q = queryLabels.length;
    double[] curve = new double[DEPTH];
    double mapK = 0;
    for (int i = 0; i < q; i++) {
      long[] ids = r.ids(i);
      boolean[] rel = new boolean[ids.length];
      int hits = 0;
      for (int j = 0; j < DEPTH; j++) {
        if (j < ids.length) {
          rel[j] = dbLabels[(int) ids[j]] == queryLabels[i];
          if (rel[j]) {
            hits++;
          }
        }
        curve[j] += hits / (double) (j + 1);
      }
      mapK += Metrics.averagePrecisionAt(rel, DEPTH);
    }
    for (int j = 0; j < DEPTH; j++) {
      curve[j] /= q;
    }
    double[] pk = new double[KS.length];
    for (int i = 0; i < KS.length; i++) {
      pk[i] = curve[KS[i] - 1];
    }
    return new Row(name, description, fineStage, pk, mapK / q, mapFull, r2, ms, curve);
  }

  private static void warm(Runnable r) {
    r.run();
  }

  private static byte[] slice(byte[] a, int stride, int n) {
    return java.util.Arrays.copyOf(a, Math.min(a.length, stride * n));
  }

  private static float[] slice(float[] a, int stride, int n) {
    return java.util.Arrays.copyOf(a, Math.min(a.length, stride * n));
  }

  static String describe(Pool p) {
    return p.kind() == Pool.Kind.TOP_M ? "Hamming top-" + p.size()
        : "Hamming radius " + p.radius() + " (at most " + p.size() + ")";
  }

  /**
   * One JSON line: {@code bits}, {@code accuracy}, then per row an object with {@code p_at_1} ...
   * {@code p_at_1000}, {@code map_at_1000}, {@code map_full}, {@code precision_r2} (null where a
   * figure does not apply) and {@code query_ms}; {@code extra} adds top-level fields.
   */
  public static String json(int bits, double accuracy, List<Row> rows, Map<String, Object> extra) {
    Json j = new Json().put("bits", bits).put("accuracy", sig(accuracy));
    if (extra != null) {
      extra.forEach((k, v) -> j.put(k, v instanceof Number n ? sig(n.doubleValue()) : v));
    }
    for (Row r : rows) {
      Json row = new Json();
      if (r.fineStage() != null) {
        row.put("fine_stage", r.fineStage());
      }
      for (int i = 0; i < KS.length; i++) {
        row.put("p_at_" + KS[i], sig(r.precisionAtK()[i]));
      }
      row.put("map_at_1000", sig(r.mapAt1000()))
          .put("map_full", r.mapFull() == null ? null : sig(r.mapFull()))
          .put("precision_r2", r.precisionR2() == null ? null : sig(r.precisionR2()))
          .put("query_ms", sig(r.queryMs()));
      j.put(r.name(), row);
    }
    return j.toString();
  }

  /** Six significant digits: the figures carry no more. */
  private static double sig(double v) {
    return Double.isFinite(v) && v != 0 ? Double.parseDouble(String.format(Locale.ROOT, "%.6g", v)) : v;
  }

  /** A plain-text table of the rows. */
  public static String table(List<Row> rows) {
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "%-7s %7s %7s %7s %7s %7s %9s %9s %7s %10s%n", "row", "P@1", "P@10", "P@100",
        "P@500", "P@1000", "mAP@1000", "mAP(full)", "P(r<=2)", "ms/query"));
    for (Row r : rows) {
      double[] p = r.precisionAtK();
      b.append(String.format(Locale.ROOT, "%-7s %7.4f %7.4f %7.4f %7.4f %7.4f %9.4f %9s %7s %10.4f%n", r.name(), p[0],
          p[1], p[2], p[3], p[4], r.mapAt1000(), r.mapFull() == null ? "-" : String.format(Locale.ROOT, "%.4f",
              r.mapFull()), r.precisionR2() == null ? "-" : String.format(Locale.ROOT, "%.4f", r.precisionR2()),
          r.queryMs()));
    }
    return b.toString();
  }
}
