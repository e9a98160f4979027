package org.deephash.delf.search;

import java.util.Arrays;
import java.util.Optional;
import java.util.function.IntFunction;
import org.deephash.GpuHashSearch;
import org.deephash.SearchResult;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.geometry.Ransac;

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

    /** Ratio {@link DelfSearch#RATIO}, ranked by {@link DelfSearch.Order#SIGNIFICANCE}, as {@link DelfSearch.Params}'s defaults. */
    public Params(int shortlist, int minInliers, int verifyKeypoints) {
      this(shortlist, minInliers, verifyKeypoints, DelfSearch.RATIO, DelfSearch.Order.SIGNIFICANCE);
    }

    /** A shortlist of 50 (as DELF's vote shortlist), 12 inliers, 300 keypoints, significance order. */
    public static Params defaults() {
      return new Params(50, 12, 300);
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
    if (queryF7 != null && databaseF7 == null) {
      throw new IllegalStateException("the query's F7 needs the database's: call withF7 first");
    }
    long t0 = System.nanoTime();
    int want = queryF7 != null ? Math.max(pool, params.shortlist()) : params.shortlist();
    SearchResult r = codes.query(code, want);
    int m = r.count(0);
    int[] ids = new int[m];
    int[] ham = new int[m];
    for (int i = 0; i < m; i++) {
      ids[i] = (int) r.id(0, i);
      ham[i] = r.hamming(0, i);
    }
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
    Integer[] pre = new Integer[m];
    for (int i = 0; i < m; i++) {
      pre[i] = i;
    }
    Arrays.sort(pre, (a, b) -> f7[a] != f7[b] ? Double.compare(f7[a], f7[b]) : Integer.compare(a, b));
    boolean[] verify = new boolean[m];
    for (int i = 0; i < Math.min(m, params.shortlist()); i++) {
      verify[pre[i]] = true;
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
        Optional<Ransac.AffineFit> fit = pm.count() < 3 ? Optional.empty() : verifier.fit(pm.ax(), pm.bx(), pm.count());
        int in = fit.map(Ransac.AffineFit::inlierCount).orElse(0);
        inliers[i] = in >= params.minInliers() ? in : 0;
        if (inliers[i] > 0) {
          float[] e = DelfSearch.extent(other.xy());
          significance[i] = Significance.of(pm.count(), in,
              Significance.chance(verifier.threshold(), (double) (e[2] - e[0]) * (e[3] - e[1])));
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
}
