package org.deephash.pq;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Results of one batched {@link IvfPqIndex#search}: for each query, up to k entries ranked by
 * ascending ADC squared distance, ties broken by ascending entry number (insertion order). A query
 * has fewer than k results when the lists it probed hold fewer than k entries.
 *
 * <pre>{@code
 * IvfPqResult r = index.search(queries, nq, 10, 8);
 * for (int i = 0; i < r.count(0); i++) {
 *   System.out.printf("image %d at (%.1f, %.1f), d2 = %.4f%n",
 *       r.imageId(0, i), r.x(0, i), r.y(0, i), r.distance(0, i));
 * }
 * }</pre>
 */
public final class IvfPqResult {
  /** One result: the entry number, its image and keypoint location, and its ADC squared distance. */
  public record Hit(int entry, int imageId, float x, float y, float distance) {}

  private final int k;
  private final int[] counts;
  private final int[] entries;
  private final int[] imageIds;
  private final float[] xs;
  private final float[] ys;
  private final float[] distances;

  /** Takes ownership of arrays of {@code counts.length * k} slots; query q owns [q * k, q * k + counts[q]). */
  IvfPqResult(int k, int[] counts, int[] entries, int[] imageIds, float[] xs, float[] ys, float[] distances) {
    this.k = k;
    this.counts = counts;
    this.entries = entries;
    this.imageIds = imageIds;
    this.xs = xs;
    this.ys = ys;
    this.distances = distances;
  }

  /** Number of queries. */
  public int queryCount() {
    return counts.length;
  }

  /** The k that was asked for. */
  public int k() {
    return k;
  }

  /** Number of results of query q, at most k. */
  public int count(int q) {
    return counts[Objects.checkIndex(q, counts.length)];
  }

  /** Entry number (0-based insertion order in the index) of result i of query q. */
  public int entry(int q, int i) {
    return entries[slot(q, i)];
  }

  /** Image id of result i of query q, as given to {@link IvfPqIndex#add}. */
  public int imageId(int q, int i) {
    return imageIds[slot(q, i)];
  }

  /** Keypoint x of result i of query q. */
  public float x(int q, int i) {
    return xs[slot(q, i)];
  }

  /** Keypoint y of result i of query q. */
  public float y(int q, int i) {
    return ys[slot(q, i)];
  }

  /** ADC squared distance of result i of query q. */
  public float distance(int q, int i) {
    return distances[slot(q, i)];
  }

  /** The results of query q, best first. */
  public List<Hit> hits(int q) {
    int n = count(q);
    List<Hit> out = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      int s = q * k + i;
      out.add(new Hit(entries[s], imageIds[s], xs[s], ys[s], distances[s]));
    }
    return out;
  }

  private int slot(int q, int i) {
    Objects.checkIndex(i, count(q));
    return q * k + i;
  }

  @Override
  public String toString() {
    return "IvfPqResult[queries=" + counts.length + ", k=" + k + "]";
  }
}
