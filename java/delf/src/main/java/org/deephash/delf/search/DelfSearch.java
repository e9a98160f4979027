package org.deephash.delf.search;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.pq.IvfPqIndex;
import org.deephash.pq.IvfPqResult;

/**
 * DELF retrieval over an IVF-PQ index of database descriptors: each query descriptor looks up its
 * {@code neighbours} nearest database descriptors (asymmetric distance, {@code nprobe} lists); each
 * database image gets one vote per query descriptor that has a neighbour in it; the
 * {@code shortlist} images with most votes are then verified geometrically and re-ranked by inlier
 * count (images below the minimum inliers keep their vote order after the verified ones).
 *
 * <p>Verification needs correspondences. With the database's exact descriptors at hand
 * ({@link DelfDatabase}), they come from exact matching of the query's and the image's
 * {@code verifyKeypoints} most attended keypoints (mutual nearest neighbours passing a ratio test
 * of 0.9), the standard practice; otherwise from the approximate neighbours the index returned.
 * RANSAC on an affine model then counts the inliers.
 */
public final class DelfSearch {

  /** Geometric verification: the inliers of the best model mapping query points to database points. */
  public interface Verifier {
    int inliers(float[] queryXy, float[] databaseXy, int n);
  }

  /**
   * Search settings.
   *
   * @param ratio Lowe's ratio of the exact verification matches, in (0, 1]; 1 keeps every mutual
   *     nearest neighbour
   */
  public record Params(int neighbours, int nprobe, int shortlist, int minInliers, int verifyKeypoints, double ratio) {
    public Params {
      if (neighbours < 1 || nprobe < 1 || shortlist < 1 || minInliers < 0 || verifyKeypoints < 3
          || !(ratio > 0 && ratio <= 1)) {
        throw new IllegalArgumentException("neighbours, nprobe and shortlist must be >= 1, minInliers >= 0,"
            + " verifyKeypoints >= 3, ratio in (0, 1]: " + this);
      }
    }

    /** With the default {@link #RATIO}. */
    public Params(int neighbours, int nprobe, int shortlist, int minInliers, int verifyKeypoints) {
      this(neighbours, nprobe, shortlist, minInliers, verifyKeypoints, RATIO);
    }

    public static Params defaults() {
      return new Params(10, 16, 50, 12, 300);
    }
  }

  /** Lowe's ratio for exact verification matches, unless {@link Params#ratio} says otherwise. */
  public static final double RATIO = 0.9;

  /**
   * One query's answer: database images best first, their scores (inliers when verified, else
   * votes), and the time of each stage.
   */
  public record Answer(int[] images, double[] scores, int[] votes, int[] inliers, int[] byVotes, double annMs,
      double ransacMs) {}

  private final IvfPqIndex index;
  private final int images;
  private final Params params;
  private final DelfDatabase exact;

  /** Search verifying with the index's approximate neighbours as correspondences. */
  public DelfSearch(IvfPqIndex index, int images, Params params) {
    this.index = index;
    this.images = images;
    this.params = params;
    this.exact = null;
  }

  /** Search verifying with exact matching against the database's own descriptors. */
  public DelfSearch(DelfDatabase db, Params params) {
    this.index = db.index();
    this.images = db.images();
    this.params = params;
    this.exact = db;
  }

  /**
   * Answers one query (descriptors already PCA-projected like the database's). With a null verifier
   * the ranking is by votes only (the "DELF without RANSAC" row); {@link Answer#byVotes} is that
   * ranking in any case, from the same nearest-neighbour pass.
   */
  public Answer search(LocalFeatures q, Verifier verifier) {
    long t0 = System.nanoTime();
    int[] votes = new int[images];
    Map<Integer, List<float[]>> matches = new HashMap<>();
    if (q.count() > 0) {
      IvfPqResult r = index.search(q.descriptors(), q.count(), params.neighbours(), params.nprobe());
      int[] seenFor = new int[images];
      Arrays.fill(seenFor, -1);
      for (int i = 0; i < q.count(); i++) {
        for (int j = 0; j < r.count(i); j++) {
          int img = r.imageId(i, j);
          if (seenFor[img] != i) {
            seenFor[img] = i;
            votes[img]++;
            // the nearest neighbour of this query descriptor in that image is its correspondence
            matches.computeIfAbsent(img, x -> new ArrayList<>())
                .add(new float[] {q.xy()[2 * i], q.xy()[2 * i + 1], r.x(i, j), r.y(i, j)});
          }
        }
      }
    }
    Integer[] order = new Integer[images];
    for (int i = 0; i < images; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (a, b) -> votes[a] != votes[b] ? Integer.compare(votes[b], votes[a]) : Integer.compare(a, b));
    double annMs = (System.nanoTime() - t0) / 1e6;
    int[] byVotes = new int[images];
    for (int i = 0; i < images; i++) {
      byVotes[i] = order[i];
    }
    int[] inliers = new int[images];
    double ransacMs = 0;
    if (verifier != null) {
      long t1 = System.nanoTime();
      LocalFeatures verifyQuery = null;
      int m = Math.min(params.shortlist(), images);
      for (int s = 0; s < m; s++) {
        int img = order[s];
        float[] a;
        float[] b;
        int nc;
        if (exact != null) {
          if (verifyQuery == null) {
            verifyQuery = q.head(params.verifyKeypoints());
          }
          PairMatch pm = PairMatch.of(verifyQuery, exact.features(img, params.verifyKeypoints()), params.ratio(), null);
          a = pm.ax();
          b = pm.bx();
          nc = pm.count();
        } else {
          List<float[]> c = matches.get(img);
          nc = c == null ? 0 : c.size();
          a = new float[2 * nc];
          b = new float[2 * nc];
          for (int i = 0; i < nc; i++) {
            a[2 * i] = c.get(i)[0];
            a[2 * i + 1] = c.get(i)[1];
            b[2 * i] = c.get(i)[2];
            b[2 * i + 1] = c.get(i)[3];
          }
        }
        if (nc < 3) {
          continue;
        }
        int in = verifier.inliers(a, b, nc);
        inliers[img] = in >= params.minInliers() ? in : 0;
      }
      // verified images first by inliers, then the rest of the shortlist and the tail by votes
      Integer[] head = Arrays.copyOf(order, m);
      Arrays.sort(head, (a, b) -> inliers[a] != inliers[b] ? Integer.compare(inliers[b], inliers[a])
          : votes[a] != votes[b] ? Integer.compare(votes[b], votes[a]) : Integer.compare(a, b));
      System.arraycopy(head, 0, order, 0, m);
      ransacMs = (System.nanoTime() - t1) / 1e6;
    }
    int[] ranking = new int[images];
    double[] scores = new double[images];
    for (int i = 0; i < images; i++) {
      ranking[i] = order[i];
      scores[i] = verifier != null ? inliers[order[i]] + votes[order[i]] / (double) (q.count() + 1) : votes[order[i]];
    }
    return new Answer(ranking, scores, votes, inliers, byVotes, annMs, ransacMs);
  }
}
