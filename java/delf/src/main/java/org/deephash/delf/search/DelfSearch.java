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
 * {@code shortlist} images with most votes are then verified geometrically (RANSAC on an affine
 * model over the matched keypoints) and re-ranked by inlier count (images below the minimum
 * inliers keep their order after the verified ones).
 */
public final class DelfSearch {

  /** Geometric verification: the inliers of the best model mapping query points to database points. */
  public interface Verifier {
    int inliers(float[] queryXy, float[] databaseXy, int n);
  }

  /** Search settings. */
  public record Params(int neighbours, int nprobe, int shortlist, int minInliers) {
    public Params {
      if (neighbours < 1 || nprobe < 1 || shortlist < 1 || minInliers < 0) {
        throw new IllegalArgumentException("neighbours, nprobe and shortlist must be >= 1, minInliers >= 0: " + this);
      }
    }

    public static Params defaults() {
      return new Params(10, 16, 100, 8);
    }
  }

  /**
   * One query's answer: database images best first, their scores (inliers when verified, else
   * votes), and the time of each stage.
   */
  public record Answer(int[] images, double[] scores, int[] votes, int[] inliers, double annMs, double ransacMs) {}

  private final IvfPqIndex index;
  private final int images;
  private final Params params;

  public DelfSearch(IvfPqIndex index, int images, Params params) {
    this.index = index;
    this.images = images;
    this.params = params;
  }

  /**
   * Answers one query (descriptors already PCA-projected like the database's). With a null verifier
   * the ranking is by votes only (the "DELF without RANSAC" row).
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
    int[] inliers = new int[images];
    double ransacMs = 0;
    if (verifier != null) {
      long t1 = System.nanoTime();
      int m = Math.min(params.shortlist(), images);
      for (int s = 0; s < m; s++) {
        int img = order[s];
        List<float[]> c = matches.get(img);
        if (c == null || c.size() < 3) {
          continue;
        }
        float[] a = new float[2 * c.size()];
        float[] b = new float[2 * c.size()];
        for (int i = 0; i < c.size(); i++) {
          a[2 * i] = c.get(i)[0];
          a[2 * i + 1] = c.get(i)[1];
          b[2 * i] = c.get(i)[2];
          b[2 * i + 1] = c.get(i)[3];
        }
        int in = verifier.inliers(a, b, c.size());
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
    return new Answer(ranking, scores, votes, inliers, annMs, ransacMs);
  }
}
