package org.deephash.pq;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Seeded, deterministic k-means under the squared L2 distance: the same data, k, iteration limit
 * and seed give bit-identical centroids and assignments on every run, whatever the thread count.
 *
 * <p>The algorithm, precisely (a reference implementation can reproduce it exactly):
 *
 * <ol>
 *   <li><b>Distance</b>: {@code sum_j (a_j - b_j)^2} accumulated in {@code float} in dimension
 *       order. The nearest centroid of a point is the one at the smallest distance, ties to the
 *       lowest centroid index.
 *   <li><b>k-means++ initialisation</b> from {@code rnd = new SplittableRandom(seed)}: the first
 *       centroid is point {@code rnd.nextInt(n)}. Let {@code D(i)} be the distance (widened to
 *       {@code double}) from point i to its nearest chosen centroid. Each further centroid: {@code
 *       total = sum_i D(i)} summed in {@code double} in ascending i; when {@code total > 0}, {@code
 *       r = rnd.nextDouble() * total} and the centroid is the first point with {@code D(i) > 0}
 *       whose running sum exceeds r (the last point with {@code D(i) > 0} if rounding leaves
 *       none); when {@code total == 0} (every point lies on a centroid) it is point {@code
 *       rnd.nextInt(n)}.
 *   <li><b>Lloyd iterations</b>: every point is assigned to its nearest centroid. Then, at most
 *       {@code maxIter} times: each non-empty cluster's centroid becomes the mean of its points
 *       (summed in {@code double} in ascending point order, then rounded to {@code float}); each
 *       empty cluster, in ascending order, is re-seeded with the point that is farthest from its
 *       (updated) centroid among the points of clusters holding two or more (ties to the lowest
 *       point), which moves to the empty cluster; every point is then re-assigned, and the loop
 *       stops early when no assignment changed.
 * </ol>
 *
 * <p>The returned assignment is always the nearest-centroid assignment for the returned centroids.
 * Threads only split the assignment step over points, so they change the speed, never the result.
 *
 * <pre>{@code
 * KMeans.Result r = KMeans.train(points, n, d, 256, 25, 42L);
 * float[] centroids = r.centroids();   // 256 x d, row-major
 * int cluster = r.assignment()[17];    // cluster of point 17
 * }</pre>
 */
public final class KMeans {
  private KMeans() {}

  /** The outcome of {@link #train}: centroids, the assignment of every point, and statistics. */
  public static final class Result {
    private final int k;
    private final int d;
    private final float[] centroids;
    private final int[] assignment;
    private final int iterations;
    private final int reseeded;

    Result(int k, int d, float[] centroids, int[] assignment, int iterations, int reseeded) {
      this.k = k;
      this.d = d;
      this.centroids = centroids;
      this.assignment = assignment;
      this.iterations = iterations;
      this.reseeded = reseeded;
    }

    /** Number of clusters. */
    public int k() {
      return k;
    }

    /** Vector dimension. */
    public int dim() {
      return d;
    }

    /** A copy of the centroids: k rows of d floats, row-major. */
    public float[] centroids() {
      return centroids.clone();
    }

    /** A copy of the cluster of every training point (n entries in [0, k)). */
    public int[] assignment() {
      return assignment.clone();
    }

    /** Centroid updates performed: fewer than {@code maxIter} when the assignment converged. */
    public int iterations() {
      return iterations;
    }

    /** How many times an empty cluster was re-seeded, over all iterations. */
    public int reseeded() {
      return reseeded;
    }

    float[] centroidsNoCopy() {
      return centroids;
    }

    int[] assignmentNoCopy() {
      return assignment;
    }
  }

  /** Trains on one thread; see {@link #train(float[], int, int, int, int, long, int)}. */
  public static Result train(float[] data, int n, int d, int k, int maxIter, long seed) {
    return train(data, n, d, k, maxIter, seed, 1);
  }

  /**
   * Clusters {@code n} points into {@code k} clusters.
   *
   * @param data n rows of d finite floats, row-major (not modified)
   * @param n number of points, at least k
   * @param d dimension, at least 1
   * @param k number of clusters, in [1, n]
   * @param maxIter most centroid updates; 0 returns the k-means++ centroids
   * @param seed seeds the initialisation; the whole result depends only on it and the input
   * @param threads threads for the assignment step, at least 1; does not change the result
   * @throws IllegalArgumentException when an argument is out of range, with what to fix
   */
  public static Result train(float[] data, int n, int d, int k, int maxIter, long seed, int threads) {
    Vectors.requireDim(d);
    if (n < 1) {
      throw new IllegalArgumentException("n must be >= 1: k-means needs points (passed " + n + ")");
    }
    Vectors.requireRows(data, "data", n, d);
    if (k < 1 || k > n) {
      throw new IllegalArgumentException("k must be in [1, n = " + n + "] (passed " + k + ")"
          + (k > n ? ": train on at least k points, or ask for fewer clusters" : ""));
    }
    if ((long) k * d > Vectors.MAX_ARRAY) {
      throw new IllegalArgumentException("k * d = " + (long) k * d + " floats of centroids is too many for one array");
    }
    if (maxIter < 0) {
      throw new IllegalArgumentException("maxIter must be >= 0 (passed " + maxIter + ")");
    }
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1 (passed " + threads + ")");
    }
    int workers = (int) Math.min(threads, Math.max(1, (long) n * k * d / 100_000));
    if (workers == 1) {
      return new Lloyd(data, n, d, k, null, 1).run(maxIter, seed);
    }
    try (ExecutorService pool = Executors.newFixedThreadPool(workers, daemonThreads())) {
      return new Lloyd(data, n, d, k, pool, workers).run(maxIter, seed);
    }
  }

  private static ThreadFactory daemonThreads() {
    AtomicInteger count = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, "deephash-kmeans-" + count.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /** A range of points processed by one task; returns a count the caller sums. */
  @FunctionalInterface
  private interface RangeTask {
    long run(int from, int to);
  }

  /** One training run; holds its working arrays. */
  private static final class Lloyd {
    private final float[] data;
    private final int n;
    private final int d;
    private final int k;
    private final ExecutorService pool;
    private final int workers;
    private final float[] centroids;
    private final int[] assign;

    Lloyd(float[] data, int n, int d, int k, ExecutorService pool, int workers) {
      this.data = data;
      this.n = n;
      this.d = d;
      this.k = k;
      this.pool = pool;
      this.workers = workers;
      this.centroids = new float[k * d];
      this.assign = new int[n];
    }

    Result run(int maxIter, long seed) {
      initPlusPlus(new SplittableRandom(seed));
      assignAll();
      int iterations = 0;
      int reseeded = 0;
      while (iterations < maxIter) {
        reseeded += update();
        iterations++;
        if (assignAll() == 0) {
          break;
        }
      }
      return new Result(k, d, centroids, assign, iterations, reseeded);
    }

    private void initPlusPlus(SplittableRandom rnd) {
      double[] dist = new double[n];
      int first = rnd.nextInt(n);
      System.arraycopy(data, first * d, centroids, 0, d);
      forRanges((from, to) -> {
        for (int i = from; i < to; i++) {
          dist[i] = Vectors.sqDist(data, i * d, centroids, 0, d);
        }
        return 0;
      });
      for (int c = 1; c < k; c++) {
        double total = 0;
        for (int i = 0; i < n; i++) {
          total += dist[i];
        }
        int pick;
        if (total > 0) {
          double r = rnd.nextDouble() * total;
          pick = -1;
          double running = 0;
          for (int i = 0; i < n; i++) {
            if (dist[i] > 0) {
              running += dist[i];
              pick = i;
              if (running > r) {
                break;
              }
            }
          }
        } else {
          pick = rnd.nextInt(n);
        }
        int at = c * d;
        System.arraycopy(data, pick * d, centroids, at, d);
        forRanges((from, to) -> {
          for (int i = from; i < to; i++) {
            double e = Vectors.sqDist(data, i * d, centroids, at, d);
            if (e < dist[i]) {
              dist[i] = e;
            }
          }
          return 0;
        });
      }
    }

    /** Assigns every point to its nearest centroid; returns how many assignments changed. */
    private long assignAll() {
      Vectors.NearestFinder finder = new Vectors.NearestFinder(centroids, k, d);
      return forRanges((from, to) -> {
        long changed = 0;
        float[] dist = finder.scratch();
        for (int i = from; i < to; i++) {
          int c = finder.nearest(data, i * d, dist);
          if (c != assign[i]) {
            changed++;
            assign[i] = c;
          }
        }
        return changed;
      });
    }

    /** Moves centroids to their clusters' means and re-seeds empty clusters; returns the re-seed count. */
    private int update() {
      double[] sums = new double[k * d];
      int[] counts = new int[k];
      for (int i = 0; i < n; i++) {
        int c = assign[i];
        counts[c]++;
        int s = c * d;
        int p = i * d;
        for (int j = 0; j < d; j++) {
          sums[s + j] += data[p + j];
        }
      }
      boolean anyEmpty = false;
      for (int c = 0; c < k; c++) {
        if (counts[c] == 0) {
          anyEmpty = true;
          continue;
        }
        for (int j = 0; j < d; j++) {
          centroids[c * d + j] = (float) (sums[c * d + j] / counts[c]);
        }
      }
      if (!anyEmpty) {
        return 0;
      }
      float[] dist = new float[n];
      forRanges((from, to) -> {
        for (int i = from; i < to; i++) {
          dist[i] = Vectors.sqDist(data, i * d, centroids, assign[i] * d, d);
        }
        return 0;
      });
      int reseeded = 0;
      for (int c = 0; c < k; c++) {
        if (counts[c] != 0) {
          continue;
        }
        // Some cluster holds two or more points: n >= k points sit in at most k - 1 clusters.
        int far = -1;
        float farDist = -1f;
        for (int i = 0; i < n; i++) {
          if (counts[assign[i]] >= 2 && dist[i] > farDist) {
            far = i;
            farDist = dist[i];
          }
        }
        counts[assign[far]]--;
        assign[far] = c;
        counts[c] = 1;
        dist[far] = 0f;
        System.arraycopy(data, far * d, centroids, c * d, d);
        reseeded++;
      }
      return reseeded;
    }

    /** Runs {@code task} over [0, n) in contiguous chunks, on the pool when there is one. */
    private long forRanges(RangeTask task) {
      if (pool == null) {
        return task.run(0, n);
      }
      int chunks = workers * 4;
      List<Future<Long>> futures = new ArrayList<>(chunks);
      for (int t = 0; t < chunks; t++) {
        int from = (int) ((long) n * t / chunks);
        int to = (int) ((long) n * (t + 1) / chunks);
        futures.add(pool.submit(() -> task.run(from, to)));
      }
      long sum = 0;
      try {
        for (Future<Long> f : futures) {
          sum += f.get();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("k-means interrupted", e);
      } catch (ExecutionException e) {
        if (e.getCause() instanceof RuntimeException re) {
          throw re;
        }
        throw new IllegalStateException(e.getCause());
      }
      return sum;
    }
  }
}
