package org.deephash.delf.search;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Consumer;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.geometry.Ransac;
import org.deephash.pq.IvfPqIndex;
import org.deephash.pq.IvfPqResult;

/**
 * DELF retrieval over an IVF-PQ index of database descriptors: each query descriptor looks up its
 * {@code neighbours} nearest database descriptors (asymmetric distance, {@code nprobe} lists); each
 * database image gets one vote per query descriptor that has a neighbour in it; the
 * {@code shortlist} images with most votes are then verified geometrically and re-ranked by
 * {@link Order#SIGNIFICANCE}, their votes raised by how far the model's inliers are beyond chance
 * ({@link Significance}; images below the minimum inliers score their votes alone), or by {@link
 * Order#INLIERS}, the raw inlier count first; the rest of the database follows by votes.
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
    /** The best model of the {@code n} correspondences and its inliers, when one is found. */
    Optional<Ransac.AffineFit> fit(float[] queryXy, float[] databaseXy, int n);

    /** The inlier threshold in pixels: {@link Significance#chance} of a match landing within it. */
    double threshold();

    /** The inliers of {@link #fit}, 0 when none. */
    default int inliers(float[] queryXy, float[] databaseXy, int n) {
      return fit(queryXy, databaseXy, n).map(Ransac.AffineFit::inlierCount).orElse(0);
    }
  }

  /**
   * What verification saw for one shortlisted image (a diagnostic, {@link #search(LocalFeatures,
   * Verifier, Consumer)}): its votes, the {@code matches} putative correspondences (query and image
   * points, x, y pairs), the inlier flags of the model found (null when none), its {@link
   * Significance} and the score the image is ranked by; with exact matching also each match's
   * distance ratio and the extent of the query's keypoints matched ({@code minX, minY, maxX,
   * maxY}), null when verifying with the index's neighbours; the extent of the image's keypoints
   * (or, with the index's neighbours, of its matched points), the area {@link Significance#chance}
   * is taken over.
   */
  public record Candidate(int image, int votes, int matches, float[] queryXy, float[] imageXy, boolean[] inliers,
      float[] ratios, float[] queryExtent, float[] imageExtent, double significance, double score) {}

  /**
   * Search settings.
   *
   * @param ratio Lowe's ratio of the exact verification matches, in (0, 1]; 1 keeps every mutual
   *     nearest neighbour
   * @param order how the verified shortlist is ranked
   */
  public record Params(int neighbours, int nprobe, int shortlist, int minInliers, int verifyKeypoints, double ratio,
      Order order) {
    public Params {
      if (neighbours < 1 || nprobe < 1 || shortlist < 1 || minInliers < 0 || verifyKeypoints < 3
          || !(ratio > 0 && ratio <= 1) || order == null) {
        throw new IllegalArgumentException("neighbours, nprobe and shortlist must be >= 1, minInliers >= 0,"
            + " verifyKeypoints >= 3, ratio in (0, 1], an order: " + this);
      }
    }

    /** Ranked by {@link Order#SIGNIFICANCE}. */
    public Params(int neighbours, int nprobe, int shortlist, int minInliers, int verifyKeypoints, double ratio) {
      this(neighbours, nprobe, shortlist, minInliers, verifyKeypoints, ratio, Order.SIGNIFICANCE);
    }

    /** With the default {@link #RATIO}. */
    public Params(int neighbours, int nprobe, int shortlist, int minInliers, int verifyKeypoints) {
      this(neighbours, nprobe, shortlist, minInliers, verifyKeypoints, RATIO);
    }

    public Params withOrder(Order o) {
      return new Params(neighbours, nprobe, shortlist, minInliers, verifyKeypoints, ratio, o);
    }

    /**
     * 10 neighbours, 16 lists probed, 50 images verified, 12 inliers; verification matches the
     * 1,000 most attended keypoints with no ratio test (1): on both benchmarks that verifies more
     * true images than 300 keypoints at ratio 0.9 (docs/DELF.md), and with exact matching's float
     * pre-pass it costs about 1.7x as long per query.
     */
    public static Params defaults() {
      return new Params(10, 16, 50, 12, 1000, 1.0);
    }
  }

  /** How the verified shortlist is ranked. */
  public enum Order {
    /**
     * Images with at least the minimum inliers first, by inlier count, then the rest by votes: raw
     * counts, which chance inflates where many matches crowd a small area.
     */
    INLIERS,
    /**
     * By {@code ln(votes) + }{@value #SIGNIFICANCE_WEIGHT}{@code  * significance}: the votes, raised
     * by how far the model's inliers are beyond chance ({@link Significance}); an image whose
     * inliers chance explains keeps its votes' place. 0.03 was chosen on the two benchmarks'
     * dumps (docs/DELF.md): 0.01 to 0.03 give about the same.
     */
    SIGNIFICANCE
  }

  /** The weight of the significance (in nats) against ln(votes) in {@link Order#SIGNIFICANCE}. */
  public static final double SIGNIFICANCE_WEIGHT = 0.03;

  /**
   * The score a verified shortlisted image is ranked by ({@code queryCount}: the query's keypoints):
   * {@link Order#INLIERS}: {@code inliers + votes / (queryCount + 1)} (inliers first, votes break
   * ties); {@link Order#SIGNIFICANCE}: {@code ln(max(votes, 1)) + SIGNIFICANCE_WEIGHT * significance}.
   */
  public static double score(Order order, int votes, int inliers, double significance, int queryCount) {
    return switch (order) {
      case INLIERS -> inliers + votes / (double) (queryCount + 1);
      case SIGNIFICANCE -> Math.log(Math.max(votes, 1)) + SIGNIFICANCE_WEIGHT * significance;
    };
  }

  /** Lowe's ratio of the five-argument {@link Params} (the defaults keep every mutual nearest neighbour). */
  public static final double RATIO = 0.9;

  /**
   * The default RANSAC inlier threshold of verification, in pixels of the images as extracted (12:
   * with the defaults' 1,000 keypoints and no ratio test; 6 was the threshold of 300 keypoints at
   * ratio 0.9).
   */
  public static final double INLIER_THRESHOLD_PX = 12;

  /**
   * One query's answer: database images best first, their scores ({@link #score} in the verified
   * shortlist, else votes), votes, inliers (0 below the minimum), {@link Significance} of the
   * verified, and the time of each stage.
   */
  public record Answer(int[] images, double[] scores, int[] votes, int[] inliers, double[] significance,
      int[] byVotes, double annMs, double ransacMs) {}

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
    return search(q, verifier, null);
  }

  /** As {@link #search(LocalFeatures, Verifier)}, handing each verified image's {@link Candidate} to {@code trace}. */
  public Answer search(LocalFeatures q, Verifier verifier, Consumer<Candidate> trace) {
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
    double[] significance = new double[images];
    double[] rank = new double[images];
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
        float[] extent = null;
        float[] ratios = null;
        if (exact != null) {
          if (verifyQuery == null) {
            verifyQuery = q.head(params.verifyKeypoints());
          }
          LocalFeatures other = exact.features(img, params.verifyKeypoints());
          extent = extent(other.xy());
          PairMatch pm = PairMatch.of(verifyQuery, other, params.ratio(), null);
          ratios = pm.ratios();
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
        if (extent == null) {
          extent = extent(Arrays.copyOf(b, 2 * nc));
        }
        Optional<Ransac.AffineFit> fit = nc < 3 ? Optional.empty() : verifier.fit(a, b, nc);
        int in = fit.map(Ransac.AffineFit::inlierCount).orElse(0);
        inliers[img] = in >= params.minInliers() ? in : 0;
        significance[img] = inliers[img] == 0 ? 0 : significance(verifier, nc, in, extent);
        rank[img] = score(params.order(), votes[img], inliers[img], significance[img], q.count());
        if (trace != null) {
          trace.accept(new Candidate(img, votes[img], nc, a, b, fit.map(Ransac.AffineFit::inliers).orElse(null),
              ratios, verifyQuery == null || exact == null ? null : extent(verifyQuery.xy()), extent,
              significance[img], rank[img]));
        }
      }
      // the shortlist by its verified score (unverified images by votes), then the tail by votes
      Integer[] head = Arrays.copyOf(order, m);
      Arrays.sort(head, (a, b) -> rank[a] != rank[b] ? Double.compare(rank[b], rank[a])
          : votes[a] != votes[b] ? Integer.compare(votes[b], votes[a]) : Integer.compare(a, b));
      System.arraycopy(head, 0, order, 0, m);
      ransacMs = (System.nanoTime() - t1) / 1e6;
    }
    int[] ranking = new int[images];
    double[] scores = new double[images];
    for (int i = 0; i < images; i++) {
      ranking[i] = order[i];
      scores[i] = verifier != null && i < Math.min(params.shortlist(), images) ? rank[order[i]] : votes[order[i]];
    }
    return new Answer(ranking, scores, votes, inliers, significance, byVotes, annMs, ransacMs);
  }

  /**
   * The {@link Significance} of a model with {@code inliers} of {@code matches} correspondences, at
   * the verifier's threshold, over the area of the image's keypoint {@code extent} ({@link #extent}).
   */
  static double significance(Verifier verifier, int matches, int inliers, float[] extent) {
    return Significance.of(matches, inliers,
        Significance.chance(verifier.threshold(), (double) (extent[2] - extent[0]) * (extent[3] - extent[1])));
  }

  /** {minX, minY, maxX, maxY} of interleaved points (zeros when there are none). */
  static float[] extent(float[] xy) {
    if (xy.length == 0) {
      return new float[4];
    }
    float[] e = {Float.MAX_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE, -Float.MAX_VALUE};
    for (int i = 0; i < xy.length; i += 2) {
      e[0] = Math.min(e[0], xy[i]);
      e[1] = Math.min(e[1], xy[i + 1]);
      e[2] = Math.max(e[2], xy[i]);
      e[3] = Math.max(e[3], xy[i + 1]);
    }
    return e;
  }
}
