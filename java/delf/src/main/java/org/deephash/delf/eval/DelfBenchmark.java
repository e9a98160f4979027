package org.deephash.delf.eval;

import java.awt.image.BufferedImage;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deephash.cli.api.Progress;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.search.DelfDatabase;
import org.deephash.delf.search.DelfSearch;
import org.deephash.delf.search.HashVerifiedSearch;
import org.deephash.io.Json;

/**
 * The instance-retrieval benchmark: a database of images (held-out photos and distractors),
 * queries that are views of held-out photos (one relevant database image each), answered by
 * DELF with and without RANSAC, by a global descriptor pooled from the same DELF features, and by
 * any other global method (the hashing network's codes) given as a {@link Ranker}.
 */
public final class DelfBenchmark {

  /** A global method: a full ranking of the database for each query, with a confidence for its top-1. */
  public interface Ranker {
    /** Prepares on the database images; returns nothing. */
    void index(List<BufferedImage> database);

    /** The ranking (database indices, best first) and confidence of the first. */
    Ranked rank(BufferedImage query);
  }

  /** One ranking. */
  public record Ranked(int[] ranking, double confidence) {}

  /** One row of the report. */
  public record Row(String name, double map, double microAp, double queryMs, Map<String, Double> stagesMs) {}

  /** Settings. */
  public record Settings(int pcaDim, int nlist, DelfSearch.Params search) {}

  private final PrintStream log;

  private Progress progress = Progress.none();
  private HashRanker shortlistHash;
  private HashVerifiedSearch.Params shortlistParams;
  private int shortlistGlobal;
  private int shortlistPool;
  private final Map<String, double[]> apPerQuery = new LinkedHashMap<>();
  private final Map<String, int[]> verification = new LinkedHashMap<>();

  private java.io.Writer candidates;

  /**
   * Writes what verification saw for every shortlisted image of every query to {@code out}, one
   * line each (a diagnostic for tuning the verification score; {@code delf eval --dump-candidates}):
   * query, image, relevant (1/0), votes, matches, query extent, image extent, the matches' query
   * points, image points (comma-separated x, y), inlier flags (a string of 0/1, empty when no
   * model), distance ratios, significance, ranking score.
   */
  public DelfBenchmark dumpCandidates(java.io.Writer out) {
    this.candidates = out;
    return this;
  }

  private void dump(int q, int relevant, DelfSearch.Candidate c) {
    StringBuilder t = new StringBuilder();
    t.append(q).append('\t').append(c.image()).append('\t').append(c.image() == relevant ? 1 : 0).append('\t')
        .append(c.votes()).append('\t').append(c.matches()).append('\t');
    floats(t, c.queryExtent(), 4, "%.1f").append('\t');
    floats(t, c.imageExtent(), 4, "%.1f").append('\t');
    floats(t, c.queryXy(), 2 * c.matches(), "%.1f").append('\t');
    floats(t, c.imageXy(), 2 * c.matches(), "%.1f").append('\t');
    if (c.inliers() != null) {
      for (boolean b : c.inliers()) {
        t.append(b ? '1' : '0');
      }
    }
    t.append('\t');
    floats(t, c.ratios(), c.matches(), "%.3f").append('\t');
    t.append(String.format(Locale.ROOT, "%.3f\t%.4f", c.significance(), c.score()));
    t.append('\n');
    try {
      candidates.write(t.toString());
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  /** {@code n} values of {@code v} in {@code format}, comma-separated ("nan" each when v is null). */
  private static StringBuilder floats(StringBuilder t, float[] v, int n, String format) {
    for (int i = 0; i < n; i++) {
      if (i > 0) {
        t.append(',');
      }
      t.append(v == null ? "nan" : String.format(Locale.ROOT, format, v[i]));
    }
    return t;
  }

  public DelfBenchmark(PrintStream log) {
    this.log = log;
  }

  /** Draws the progress of the extraction and of the queries (the default draws nothing). */
  public DelfBenchmark progress(Progress p) {
    this.progress = p;
    return this;
  }

  /**
   * Adds the row {@code hash_ransac}: the Hamming shortlist of {@code hash}'s codes, ordered by F7
   * distance, verified by DELF matching and RANSAC ({@link HashVerifiedSearch}); {@code hash} must
   * also be indexed, i.e. be
   * one of the rankers passed to {@link #run}.
   */
  public DelfBenchmark shortlist(HashRanker hash, HashVerifiedSearch.Params params) {
    return shortlist(hash, params, 0);
  }

  /** As {@link #shortlist(HashRanker, HashVerifiedSearch.Params)}, the Hamming top {@code pool} re-ranked by F7 first. */
  public DelfBenchmark shortlist(HashRanker hash, HashVerifiedSearch.Params params, int pool) {
    return shortlist(hash, params, pool, 0);
  }

  /**
   * As {@link #shortlist(HashRanker, HashVerifiedSearch.Params, int)}, the verified shortlist
   * widened by the {@code global} images nearest by pooled DELF ({@link HashVerifiedSearch#withGlobal});
   * the row's time then includes the query's pooled descriptor.
   */
  public DelfBenchmark shortlist(HashRanker hash, HashVerifiedSearch.Params params, int pool, int global) {
    this.shortlistHash = hash;
    this.shortlistParams = params;
    this.shortlistPool = pool;
    this.shortlistGlobal = global;
    return this;
  }

  /**
   * The average precision of each query (in query order) by row name, from the last {@link #run}
   * or {@link #runRankers}: for the mAP of a subset of the queries ({@link #subsetMap}).
   */
  public Map<String, double[]> apPerQuery() {
    return java.util.Collections.unmodifiableMap(apPerQuery);
  }

  /**
   * What verification did for each query, from the last {@link #run} (empty after {@link
   * #runRankers}), by column: {@code votes_rank} (1-based rank of the relevant image by votes),
   * {@code votes} (its votes), {@code inliers} (its inliers, 0 when unverified or below the
   * minimum), {@code best_other_inliers} (the most inliers of any other image), {@code
   * top_by_votes} and {@code top_verified} (the first image of each ranking).
   */
  public Map<String, int[]> verification() {
    return java.util.Collections.unmodifiableMap(verification);
  }

  /** The mean of {@code ap} over the queries {@code subset} (NaN when it is empty). */
  public static double subsetMap(double[] ap, int[] subset) {
    double s = 0;
    for (int q : subset) {
      s += ap[q];
    }
    return subset.length == 0 ? Double.NaN : s / subset.length;
  }

  /**
   * Runs every method.
   *
   * @param relevant for each query, the database index of its source photo
   * @param verifier RANSAC for the verified row
   * @param others extra global methods by row name (e.g. "hash")
   */
  public List<Row> run(DelfNet net, Extractor ex, List<BufferedImage> database, List<BufferedImage> queries,
      int[] relevant, DelfSearch.Verifier verifier, Settings s, Map<String, Ranker> others) {
    int nq = queries.size();
    // database: local features, PCA, IVF-PQ
    DelfDatabase db = DelfDatabase.build(net, ex, database, s.pcaDim(), s.nlist(), DelfDatabase.EXTRACT_BATCH,
        progress, log);
    DelfSearch search = new DelfSearch(db, s.search());

    // global DELF descriptors of the database
    float[][] globalDb = new float[database.size()][];
    try (Progress.Counter c = progress.count("global descriptors", database.size(), "images")) {
      for (int i = 0; i < database.size(); i++) {
        globalDb[i] = ex.global(net, database.get(i));
        c.add(1);
      }
    }
    for (Map.Entry<String, Ranker> r : others.entrySet()) {
      try (var p = progress.phase("indexing the database for " + r.getKey())) {
        r.getValue().index(database);
      }
    }

    HashVerifiedSearch hv = shortlistHash == null ? null : new HashVerifiedSearch(shortlistHash.search(),
        db::features, verifier, shortlistParams).withF7(shortlistHash::databaseF7, shortlistPool);
    if (hv != null && shortlistGlobal > 0) {
      hv.withGlobal(i -> globalDb[i], globalDb.length, shortlistGlobal);
    }
    double[] msHvCode = new double[nq];
    double[] msHvHamming = new double[nq];
    double[] msHvVerify = new double[nq];
    double[][] ap = new double[4 + others.size()][nq];
    boolean[][] correct = new boolean[ap.length][nq];
    double[][] conf = new double[ap.length][nq];
    double[] msExtract = new double[nq];
    double[] msAnn = new double[nq];
    double[] msRansac = new double[nq];
    double[] msGlobal = new double[nq];
    double[][] msOther = new double[others.size()][nq];
    String[] vcols = {"votes_rank", "votes", "inliers", "best_other_inliers", "top_by_votes", "top_verified"};
    int[][] vd = new int[vcols.length][nq];
    Progress.Counter answered = progress.count("answering queries", nq, "queries");
    for (int q = 0; q < nq; q++) {
      BufferedImage img = queries.get(q);
      long a = System.nanoTime();
      LocalFeatures f = db.project(ex.extract(net, img));
      msExtract[q] = (System.nanoTime() - a) / 1e6;
      int qq = q;
      DelfSearch.Answer verified = search.search(f, verifier,
          candidates == null ? null : c -> dump(qq, relevant[qq], c));
      msAnn[q] = verified.annMs();
      msRansac[q] = verified.ransacMs();
      score(0, q, verified.images(), verified.scores()[0], relevant[q], ap, correct, conf);
      score(1, q, verified.byVotes(), verified.votes()[verified.byVotes()[0]], relevant[q], ap, correct, conf);
      int[] byVotes = verified.byVotes();
      for (int i = 0; i < byVotes.length; i++) {
        if (byVotes[i] == relevant[q]) {
          vd[0][q] = i + 1;
        }
      }
      vd[1][q] = verified.votes()[relevant[q]];
      vd[2][q] = verified.inliers()[relevant[q]];
      for (int i = 0; i < verified.inliers().length; i++) {
        if (i != relevant[q]) {
          vd[3][q] = Math.max(vd[3][q], verified.inliers()[i]);
        }
      }
      vd[4][q] = byVotes.length == 0 ? -1 : byVotes[0];
      vd[5][q] = verified.images().length == 0 ? -1 : verified.images()[0];
      long b = System.nanoTime();
      float[] g = ex.global(net, img);
      Ranked gr = cosineRanking(g, globalDb);
      msGlobal[q] = (System.nanoTime() - b) / 1e6;
      score(2, q, gr.ranking(), gr.confidence(), relevant[q], ap, correct, conf);
      if (hv != null) {
        long c = System.nanoTime();
        org.deephash.model.net.Encoding qe = shortlistHash.encodeOne(img);
        byte[] code = qe.codes();
        msHvCode[q] = (System.nanoTime() - c) / 1e6;
        HashVerifiedSearch.Answer ha = hv.search(code, qe.features(), shortlistGlobal > 0 ? g : null, f);
        msHvHamming[q] = ha.hashMs(); // with the global widening, also its scan of the pooled descriptors
        msHvVerify[q] = ha.verifyMs();
        // the shortlist, then the rest of the database in Hamming order (AP counts the whole ranking)
        int[] full = fullRanking(ha.images(), shortlistHash.search(), code, database.size());
        double c0 = ha.images().length == 0 ? 0
            : ha.inliers()[0] + 1 - ha.hamming()[0] / (double) (8 * code.length);
        score(3, q, full, c0, relevant[q], ap, correct, conf);
      }
      int k = 0;
      for (Ranker r : others.values()) {
        long c = System.nanoTime();
        Ranked rr = r.rank(img);
        msOther[k][q] = (System.nanoTime() - c) / 1e6;
        score(4 + k, q, rr.ranking(), rr.confidence(), relevant[q], ap, correct, conf);
        k++;
      }
      answered.add(1);
    }
    answered.close();
    log.printf(Locale.ROOT, "answered %d queries%n", nq);
    List<Row> rows = new ArrayList<>();
    double ext = median(msExtract);
    Map<String, Double> st = new LinkedHashMap<>();
    st.put("extract", ext);
    st.put("ann", median(msAnn));
    st.put("ransac", median(msRansac));
    rows.add(new Row("delf_ransac", mean(ap[0]), RetrievalMetrics.microAp(correct[0], conf[0]),
        ext + median(msAnn) + median(msRansac), st));
    Map<String, Double> st1 = new LinkedHashMap<>();
    st1.put("extract", ext);
    st1.put("ann", median(msAnn));
    rows.add(new Row("delf", mean(ap[1]), RetrievalMetrics.microAp(correct[1], conf[1]), ext + median(msAnn), st1));
    rows.add(new Row("delf_global", mean(ap[2]), RetrievalMetrics.microAp(correct[2], conf[2]), median(msGlobal),
        Map.of()));
    if (hv != null) {
      Map<String, Double> st3 = new LinkedHashMap<>();
      st3.put("extract", ext);
      st3.put("hash_code", median(msHvCode));
      st3.put("hamming", median(msHvHamming));
      // widened by pooled DELF: the query's pooled descriptor is part of the row's cost
      double global = shortlistGlobal > 0 ? median(msGlobal) : 0;
      if (shortlistGlobal > 0) {
        st3.put("global", global);
      }
      st3.put("ransac", median(msHvVerify));
      rows.add(new Row("hash_ransac", mean(ap[3]), RetrievalMetrics.microAp(correct[3], conf[3]),
          ext + median(msHvCode) + median(msHvHamming) + global + median(msHvVerify), st3));
    }
    int k = 0;
    for (String name : others.keySet()) {
      rows.add(new Row(name, mean(ap[4 + k]), RetrievalMetrics.microAp(correct[4 + k], conf[4 + k]),
          median(msOther[k]), Map.of()));
      k++;
    }
    verification.clear();
    for (int i = 0; i < vcols.length; i++) {
      verification.put(vcols[i], vd[i]);
    }
    apPerQuery.clear();
    apPerQuery.put("delf_ransac", ap[0]);
    apPerQuery.put("delf", ap[1]);
    apPerQuery.put("delf_global", ap[2]);
    if (hv != null) {
      apPerQuery.put("hash_ransac", ap[3]);
    }
    k = 0;
    for (String name : others.keySet()) {
      apPerQuery.put(name, ap[4 + k++]);
    }
    return rows;
  }

  /** Only the global methods of {@code others} (no DELF rows): their mAP, micro-AP and median ms per query. */
  public List<Row> runRankers(List<BufferedImage> database, List<BufferedImage> queries, int[] relevant,
      Map<String, Ranker> others) {
    int nq = queries.size();
    for (Map.Entry<String, Ranker> r : others.entrySet()) {
      try (var p = progress.phase("indexing the database for " + r.getKey())) {
        r.getValue().index(database);
      }
    }
    double[][] ap = new double[others.size()][nq];
    boolean[][] correct = new boolean[ap.length][nq];
    double[][] conf = new double[ap.length][nq];
    double[][] ms = new double[others.size()][nq];
    try (Progress.Counter answered = progress.count("answering queries", nq, "queries")) {
      for (int q = 0; q < nq; q++) {
        int k = 0;
        for (Ranker r : others.values()) {
          long c = System.nanoTime();
          Ranked rr = r.rank(queries.get(q));
          ms[k][q] = (System.nanoTime() - c) / 1e6;
          score(k, q, rr.ranking(), rr.confidence(), relevant[q], ap, correct, conf);
          k++;
        }
        answered.add(1);
      }
    }
    List<Row> rows = new ArrayList<>();
    apPerQuery.clear();
    verification.clear();
    int k = 0;
    for (String name : others.keySet()) {
      rows.add(new Row(name, mean(ap[k]), RetrievalMetrics.microAp(correct[k], conf[k]), median(ms[k]), Map.of()));
      apPerQuery.put(name, ap[k]);
      k++;
    }
    return rows;
  }

  /** {@code head}, then every other database id in the order of a full Hamming search. */
  static int[] fullRanking(int[] head, org.deephash.GpuHashSearch search, byte[] code, int size) {
    org.deephash.SearchResult r = search.query(code, size);
    boolean[] seen = new boolean[size];
    int[] out = new int[size];
    int k = 0;
    for (int id : head) {
      seen[id] = true;
      out[k++] = id;
    }
    for (int i = 0; i < r.count(0) && k < size; i++) {
      int id = (int) r.id(0, i);
      if (!seen[id]) {
        seen[id] = true;
        out[k++] = id;
      }
    }
    return Arrays.copyOf(out, k);
  }

  private static void score(int row, int q, int[] ranking, double confidence, int relevant, double[][] ap,
      boolean[][] correct, double[][] conf) {
    ap[row][q] = RetrievalMetrics.averagePrecision(ranking, relevant);
    correct[row][q] = ranking.length > 0 && ranking[0] == relevant;
    conf[row][q] = confidence;
  }

  /** Database images by descending cosine similarity (ties by index); confidence = the best similarity. */
  static Ranked cosineRanking(float[] q, float[][] db) {
    double[] sim = new double[db.length];
    Integer[] order = new Integer[db.length];
    for (int i = 0; i < db.length; i++) {
      double s = 0;
      for (int k = 0; k < q.length; k++) {
        s += (double) q[k] * db[i][k];
      }
      sim[i] = s;
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> sim[a] != sim[b] ? Double.compare(sim[b], sim[a]) : Integer.compare(a, b));
    int[] r = new int[db.length];
    for (int i = 0; i < r.length; i++) {
      r[i] = order[i];
    }
    return new Ranked(r, r.length == 0 ? 0 : sim[r[0]]);
  }

  static double mean(double[] v) {
    return Arrays.stream(v).average().orElse(Double.NaN);
  }

  static double median(double[] v) {
    if (v.length == 0) {
      return Double.NaN;
    }
    double[] c = v.clone();
    Arrays.sort(c);
    return c[(c.length - 1) / 2];
  }

  /** The rows as the one JSON line {@code delf eval --json} prints. */
  public static String json(List<Row> rows, Map<String, Object> extra) {
    Json j = new Json();
    for (Map.Entry<String, Object> e : extra.entrySet()) {
      j.put(e.getKey(), e.getValue());
    }
    for (Row r : rows) {
      Json row = new Json().put("map", Json.round(r.map(), 4)).put("micro_ap", Json.round(r.microAp(), 4))
          .put("query_ms", Json.round(r.queryMs(), 2));
      if (!r.stagesMs().isEmpty()) {
        Map<String, Object> st = new LinkedHashMap<>();
        r.stagesMs().forEach((k, v) -> st.put(k, Json.round(v, 2)));
        row.put("stages_ms", st);
      }
      j.put(r.name(), row);
    }
    return j.toString();
  }
}
