package org.deephash.model.eval;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.deephash.cli.api.Progress;

/**
 * The full Euclidean ranking of a database for each query, for the exhaustive search's (ES)
 * full-list mAP: every database item ordered by squared Euclidean distance, ties by database index.
 * The distances of a block of queries to the whole database come from one matrix product
 * ({@code |x|^2 - 2 q.x}, the query's own norm does not change its ranking), computed by
 * TensorFlow; each query's list is then sorted on (distance, index).
 */
final class EuclideanRanking {
  /** Queries per matrix product: 256 x 60,000 distances are 61 MB. */
  private static final int BLOCK = 256;

  private EuclideanRanking() {}

  /**
   * Mean over the queries of the average precision of the full Euclidean ranking.
   *
   * @param db database features, n x dim
   * @param queries query features, q x dim
   */
  static double meanAveragePrecision(float[] db, int[] dbLabels, float[] queries, int[] queryLabels, int dim,
      Progress.Counter counter) {
    int n = dbLabels.length;
    int q = queryLabels.length;
    if (db.length != (long) n * dim || queries.length != (long) q * dim) {
      throw new IllegalArgumentException("features must be n x " + dim + " floats");
    }
    float[] norms = new float[n];
    for (int i = 0; i < n; i++) {
      float s = 0;
      for (int j = 0; j < dim; j++) {
        s += db[i * dim + j] * db[i * dim + j];
      }
      norms[i] = s;
    }
    int[] labelCount = labelCounts(dbLabels);
    double sum = 0;
    for (int start = 0; start < q; start += BLOCK) {
      int m = Math.min(BLOCK, q - start);
      float[] block = Arrays.copyOfRange(queries, start * dim, (start + m) * dim);
      float[] dots = dim == 0 ? new float[m * n] : Linalg.matmul(block, m, dim, false, db, n, dim, true);
      final int s0 = start;
      double[] ap = new double[m];
      int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
      AtomicInteger next = new AtomicInteger();
      IntStream.range(0, threads).parallel().forEach(t -> {
        long[] keys = new long[n];
        float[] d = new float[n];
        for (int i = next.getAndIncrement(); i < m; i = next.getAndIncrement()) {
          for (int r = 0; r < n; r++) {
            d[r] = norms[r] - 2 * dots[i * n + r];
          }
          ap[i] = averagePrecision(d, dbLabels, queryLabels[s0 + i], labelCount, keys);
        }
      });
      for (double a : ap) {
        sum += a;
      }
      if (counter != null) {
        counter.add(m);
      }
    }
    return q == 0 ? 0 : sum / q;
  }

  /**
   * Average precision of the ranking of {@code d} (ascending, ties by index) for a query of label
   * {@code label}: the sum over relevant ranks of the precision there, divided by all relevant items.
   */
  static double averagePrecision(float[] d, int[] dbLabels, int label, int[] labelCount, long[] keys) {
    int n = d.length;
    for (int r = 0; r < n; r++) {
      keys[r] = ((long) sortable(d[r]) << 32) | r;
    }
    Arrays.sort(keys, 0, n);
    int total = label < labelCount.length ? labelCount[label] : 0;
    int hits = 0;
    double s = 0;
    for (int j = 0; j < n; j++) {
      int r = (int) (keys[j] & 0xffff_ffffL);
      if (dbLabels[r] == label) {
        hits++;
        s += hits / (double) (j + 1);
      }
    }
    return total == 0 ? 0 : s / total;
  }

  /** An int that orders as the float does (-0 with +0). */
  static int sortable(float f) {
    int b = Float.floatToIntBits(f == 0f ? 0f : f);
    return b >= 0 ? b : b ^ 0x7fff_ffff;
  }

  static int[] labelCounts(int[] labels) {
    int max = 0;
    for (int l : labels) {
      max = Math.max(max, l);
    }
    int[] c = new int[max + 1];
    for (int l : labels) {
      c[l]++;
    }
    return c;
  }
}
