package org.deephash.delf.search;

import java.util.Arrays;
import java.util.function.IntFunction;
import org.deephash.GpuHashSearch;
import org.deephash.SearchResult;
import org.deephash.delf.extract.LocalFeatures;

/**
 * Hash-coarse, DELF-verified search: the {@code shortlist} database images nearest to the query's
 * hash code in Hamming distance (the engine's exact search over the packed codes, ties by id), then
 * DELF local matching (mutual nearest neighbours of the query's and each shortlisted image's
 * {@code verifyKeypoints} most attended keypoints passing Lowe's ratio test) and RANSAC on those images only.
 * The verified shortlist is ranked as {@link DelfSearch} ranks its own, the tentative matches
 * (mutual nearest neighbours passing the ratio test: the local features' votes) standing for the
 * votes: by default ({@link DelfSearch.Order#SIGNIFICANCE}) by {@code ln(matches) + 0.03 *
 * significance} of the model's inliers ({@link Significance}; images under {@code minInliers}
 * score their matches alone), with {@link DelfSearch.Order#INLIERS} verified images (at least
 * {@code minInliers} inliers) first by inlier count, then by matches. Images without a match, and a
 * longer F7 pool's unverified tail, follow by Hamming distance, or, when the database's F7 features
 * are given, by Euclidean distance of F7 (the paper's coarse-to-fine order). The search cost does not grow with the number of local
 * descriptors in the database: one Hamming scan plus {@code shortlist} pair matches.
 *
 * <p>Row i of the code table and image i of {@code databaseFeatures} must be the same image (build
 * both from one image list). The caller owns the {@link GpuHashSearch}.
 *
 * <pre>{@code
 * HashVerifiedSearch s = new HashVerifiedSearch(codes, db::features, DelfDatabase.ransac(ro), Params.defaults());
 * HashVerifiedSearch.Answer a = s.search(queryCode, db.project(extractor.extract(net, queryImage)));
 * a.images()[0]; a.inliers()[0]; a.hamming()[0];
 * }</pre>
 */
public final class HashVerifiedSearch {

  /**
   * Settings: shortlist length m, the inliers that count as verified, keypoints matched per image,
   * Lowe's ratio of the matches, and how the verified shortlist is ranked (as {@link
   * DelfSearch.Params}'s).
   */
  public record Params(int shortlist, int minInliers, int verifyKeypoints, double ratio, DelfSearch.Order order) {
    public Params {
      if (shortlist < 1 || minInliers < 0 || verifyKeypoints < 3 || !(ratio > 0 && ratio <= 1) || order == null) {
        throw new IllegalArgumentException("shortlist must be >= 1, minInliers >= 0, verifyKeypoints >= 3,"
            + " ratio in (0, 1], an order given: " + this);
      }
    }

    /** The ratio and order of {@link DelfSearch.Params#defaults}. */
    public Params(int shortlist, int minInliers, int verifyKeypoints) {
      this(shortlist, minInliers, verifyKeypoints, DelfSearch.Params.defaults().ratio(),
          DelfSearch.Params.defaults().order());
    }

    /** A shortlist of 50 (as DELF's vote shortlist) verified as {@link DelfSearch.Params#defaults} verifies. */
    public static Params defaults() {
      DelfSearch.Params d = DelfSearch.Params.defaults();
      return new Params(d.shortlist(), d.minInliers(), d.verifyKeypoints(), d.ratio(), d.order());
    }
  }

  /**
   * One query's answer, best first, the shortlist only: database ids, their Hamming distances,
   * inliers (0 when below the minimum), tentative matches and {@link Significance} (0 unless
   * verified); the time of each stage.
   */
  public record Answer(int[] images, int[] hamming, int[] inliers, int[] matches, double[] significance,
      double hashMs, double verifyMs) {}

  private IntFunction<float[]> databaseF7;
  private int pool;
  private IntFunction<float[]> databaseGlobal;
  private int globalImages;
  private int globalExtra;

  /**
   * Widens the verified shortlist with the {@code extra} database images nearest to the query by a
   * global descriptor (cosine similarity of unit vectors, e.g. DELF's pooled descriptor, {@code
   * Extractor#global}; ties by id) that the Hamming shortlist does not hold: where the codes lose an
   * image altogether (a view they map far away), the local features' own summary often still has
   * it near the top. {@code databaseGlobal} gives image i's descriptor for i below {@code images};
   * pass the query's to {@link #search(byte[], float[], float[], LocalFeatures)}. The scan is
   * exhaustive: {@code images} dot products per query.
   */
  public HashVerifiedSearch withGlobal(IntFunction<float[]> databaseGlobal, int images, int extra) {
    if (databaseGlobal == null || images < 0 || extra < 0) {
      throw new IllegalArgumentException("the global descriptors, images >= 0 and extra >= 0 are required (passed "
          + images + ", " + extra + ")");
    }
    this.databaseGlobal = databaseGlobal;
    this.globalImages = images;
    this.globalExtra = extra;
    return this;
  }

  /**
   * Orders the shortlist by F7 distance (after the verified images) instead of Hamming distance:
   * {@code databaseF7} gives image i's F7 features (the hashing model's {@code features}, stored in
   * index files); pass the query's F7 to {@link #search(byte[], float[], LocalFeatures)}.
   */
  public HashVerifiedSearch withF7(IntFunction<float[]> databaseF7) {
    return withF7(databaseF7, 0);
  }

  /**
   * As {@link #withF7(IntFunction)}, taking the Hamming top {@code pool} (when larger than the
   * shortlist) and re-ranking it by F7 distance, the paper's coarse-to-fine search; the first
   * {@code shortlist} of that order are verified, the rest of the pool follows them unverified.
   */
  public HashVerifiedSearch withF7(IntFunction<float[]> databaseF7, int pool) {
    if (pool < 0) {
      throw new IllegalArgumentException("the F7 pool must be >= 0 (passed " + pool + ")");
    }
    this.databaseF7 = databaseF7;
    this.pool = pool;
    return this;
  }

  private final GpuHashSearch codes;
  private final IntFunction<LocalFeatures> databaseFeatures;
  private final DelfSearch.Verifier verifier;
  private final Params params;

  /**
   * @param codes the engine's search over the database's packed codes
   * @param databaseFeatures image i's projected local features, most attended first (e.g. {@code
   *     DelfDatabase::features})
   * @param verifier RANSAC ({@link DelfDatabase#ransac}), or null for the Hamming shortlist alone
   */
  public HashVerifiedSearch(GpuHashSearch codes, IntFunction<LocalFeatures> databaseFeatures,
      DelfSearch.Verifier verifier, Params params) {
    if (codes == null || databaseFeatures == null || params == null) {
      throw new IllegalArgumentException("codes, database features and params are required");
    }
    this.codes = codes;
    this.databaseFeatures = databaseFeatures;
    this.verifier = verifier;
    this.params = params;
  }

  /**
   * Answers one query: {@code code} is its packed hash code (the engine's code width),
   * {@code query} its local features projected like the database's.
   */
  public Answer search(byte[] code, LocalFeatures query) {
    return search(code, null, query);
  }

  /**
   * As {@link #search(byte[], LocalFeatures)}, the shortlist ordered by the F7 distance to
   * {@code queryF7} when {@link #withF7} was given (null: Hamming order).
   */
  public Answer search(byte[] code, float[] queryF7, LocalFeatures query) {
    return search(code, queryF7, null, query);
  }

  /**
   * As {@link #search(byte[], float[], LocalFeatures)}, the verified shortlist widened by the
   * images nearest to {@code queryGlobal} when {@link #withGlobal} was given (null: not widened).
   * Those images are verified after the Hamming shortlist; their Hamming distance is reported as -1
   * (not computed).
   */
  public Answer search(byte[] code, float[] queryF7, float[] queryGlobal, LocalFeatures query) {
    if (queryF7 != null && databaseF7 == null) {
      throw new IllegalStateException("the query's F7 needs the database's: call withF7 first");
    }
    if (queryGlobal != null && databaseGlobal == null) {
      throw new IllegalStateException("the query's global descriptor needs the database's: call withGlobal first");
    }
    long t0 = System.nanoTime();
    int want = queryF7 != null ? Math.max(pool, params.shortlist()) : params.shortlist();
    SearchResult r = codes.query(code, want);
    int hm = r.count(0);
    int[] added = queryGlobal == null ? new int[0] : nearestByGlobal(queryGlobal);
    int[] ids = new int[hm + added.length];
    int[] ham = new int[hm + added.length];
    java.util.Set<Integer> inHamming = new java.util.HashSet<>();
    for (int i = 0; i < hm; i++) {
      ids[i] = (int) r.id(0, i);
      ham[i] = r.hamming(0, i);
      inHamming.add(ids[i]);
    }
    int m = hm;
    for (int id : added) {
      if (!inHamming.contains(id)) {
        ids[m] = id;
        ham[m] = -1;
        m++;
      }
    }
    ids = Arrays.copyOf(ids, m);
    ham = Arrays.copyOf(ham, m);
    double[] f7 = new double[m];
    if (queryF7 != null) {
      for (int i = 0; i < m; i++) {
        float[] f = databaseF7.apply(ids[i]);
        double s = 0;
        for (int k = 0; k < queryF7.length; k++) {
          double d = queryF7[k] - f[k];
          s += d * d;
        }
        f7[i] = s;
      }
    }
    // the order verification walks: F7 when given (ties by Hamming order), else Hamming
    Integer[] pre = new Integer[hm];
    for (int i = 0; i < hm; i++) {
      pre[i] = i;
    }
    Arrays.sort(pre, (a, b) -> f7[a] != f7[b] ? Double.compare(f7[a], f7[b]) : Integer.compare(a, b));
    boolean[] verify = new boolean[m];
    for (int i = 0; i < Math.min(hm, params.shortlist()); i++) {
      verify[pre[i]] = true;
    }
    for (int i = hm; i < m; i++) {
      verify[i] = true; // the global descriptor's additions
    }
    double hashMs = (System.nanoTime() - t0) / 1e6;
    long t1 = System.nanoTime();
    int[] inliers = new int[m];
    int[] matches = new int[m];
    double[] significance = new double[m];
    // the verified shortlist's score (DelfSearch.score); images without a match, and those not
    // verified, fall to the F7 / Hamming order below them
    double[] score = new double[m];
    Arrays.fill(score, Double.NEGATIVE_INFINITY);
    if (verifier != null && query.count() >= 3) {
      LocalFeatures q = query.head(params.verifyKeypoints());
      for (int i = 0; i < m; i++) {
        if (!verify[i]) {
          continue;
        }
        LocalFeatures other = databaseFeatures.apply(ids[i]).head(params.verifyKeypoints());
        PairMatch pm = PairMatch.of(q, other, params.ratio(), null);
        matches[i] = pm.count();
        if (pm.count() == 0) {
          continue;
        }
        int in = pm.count() < 3 ? 0 : verifier.inliers(pm.ax(), pm.bx(), pm.count());
        inliers[i] = in >= params.minInliers() ? in : 0;
        if (inliers[i] > 0) {
          significance[i] = DelfSearch.significance(verifier, pm.count(), in, DelfSearch.extent(other.xy()));
        }
        score[i] = DelfSearch.score(params.order(), matches[i], inliers[i], significance[i], q.count());
      }
    }
    Integer[] order = new Integer[m];
    for (int i = 0; i < m; i++) {
      order[i] = i;
    }
    // the verified shortlist by score; then F7 distance when given; then Hamming order (the engine's,
    // ties by id)
    Arrays.sort(order, (a, b) -> score[a] != score[b] ? Double.compare(score[b], score[a])
        : f7[a] != f7[b] ? Double.compare(f7[a], f7[b]) : Integer.compare(a, b));
    int[] oi = new int[m];
    int[] oh = new int[m];
    int[] on = new int[m];
    int[] om = new int[m];
    double[] os = new double[m];
    for (int i = 0; i < m; i++) {
      oi[i] = ids[order[i]];
      oh[i] = ham[order[i]];
      on[i] = inliers[order[i]];
      om[i] = matches[order[i]];
      os[i] = significance[order[i]];
    }
    return new Answer(oi, oh, on, om, os, hashMs, (System.nanoTime() - t1) / 1e6);
  }

  /** The {@code globalExtra} images of highest cosine similarity to {@code q}, ties by id. */
  private int[] nearestByGlobal(float[] q) {
    int n = globalImages;
    int k = Math.min(globalExtra, n);
    double[] sim = new double[n];
    for (int i = 0; i < n; i++) {
      float[] g = databaseGlobal.apply(i);
      if (g.length != q.length) {
        throw new IllegalArgumentException("global descriptors of " + q.length + " and " + g.length
            + " dimensions (image " + i + ")");
      }
      double s = 0;
      for (int j = 0; j < q.length; j++) {
        s += (double) q[j] * g[j];
      }
      sim[i] = s;
    }
    // a partial selection: k is small (tens) against n
    int[] top = new int[k];
    boolean[] taken = new boolean[n];
    for (int t = 0; t < k; t++) {
      int best = -1;
      for (int i = 0; i < n; i++) {
        if (!taken[i] && (best < 0 || sim[i] > sim[best])) {
          best = i;
        }
      }
      taken[best] = true;
      top[t] = best;
    }
    return top;
  }
}
