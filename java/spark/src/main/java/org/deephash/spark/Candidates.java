package org.deephash.spark;

import java.io.Serializable;
import java.util.Arrays;

/**
 * One query's candidates from one or more shards, ranked by (Hamming distance, id) as the engine
 * ranks them. This is what travels through the shuffle: merging two lists and keeping the first
 * {@code limit} is exact because each shard's list already holds every entry of that shard that can
 * reach the global first {@code limit}.
 *
 * <p>{@code distances} (squared Euclidean) ride along for coarse-to-fine jobs and are null for
 * Hamming-only ones.
 */
final class Candidates implements Serializable {
  private static final long serialVersionUID = 1L;

  final long[] ids;
  final int[] hamming;
  final float[] distances;

  Candidates(long[] ids, int[] hamming, float[] distances) {
    this.ids = ids;
    this.hamming = hamming;
    this.distances = distances;
  }

  int size() {
    return ids.length;
  }

  /** The first {@code limit} entries of the union of two ranked lists, ranked by (hamming, id). */
  static Candidates merge(Candidates a, Candidates b, int limit) {
    int n = Math.min(limit, a.size() + b.size());
    long[] ids = new long[n];
    int[] ham = new int[n];
    boolean withDist = a.distances != null;
    float[] dist = withDist ? new float[n] : null;
    int i = 0;
    int j = 0;
    for (int o = 0; o < n; o++) {
      boolean takeA = j >= b.size()
          || (i < a.size() && cmp(a.hamming[i], a.ids[i], b.hamming[j], b.ids[j]) <= 0);
      Candidates src = takeA ? a : b;
      int at = takeA ? i++ : j++;
      ids[o] = src.ids[at];
      ham[o] = src.hamming[at];
      if (withDist) {
        dist[o] = src.distances[at];
      }
    }
    return new Candidates(ids, ham, dist);
  }

  /**
   * Sorts entries [from, to) of parallel arrays by (hamming, id) in place and returns them as a
   * list: a shard's coarse-to-fine pool comes back from the engine ranked by Euclidean distance.
   */
  static Candidates byHamming(long[] ids, int[] hamming, float[] distances) {
    Integer[] order = new Integer[ids.length];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (x, y) -> cmp(hamming[x], ids[x], hamming[y], ids[y]));
    long[] i2 = new long[ids.length];
    int[] h2 = new int[ids.length];
    float[] d2 = distances == null ? null : new float[ids.length];
    for (int o = 0; o < order.length; o++) {
      i2[o] = ids[order[o]];
      h2[o] = hamming[order[o]];
      if (d2 != null) {
        d2[o] = distances[order[o]];
      }
    }
    return new Candidates(i2, h2, d2);
  }

  /**
   * The fine stage over the merged global pool: the best {@code k} by squared Euclidean distance,
   * ties by id. Distances compare by their raw bits, as the engine's ranking does (equal to float
   * order for the non-negative values it produces).
   */
  Candidates rerankByDistance(int k) {
    Integer[] order = new Integer[size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, (x, y) -> cmp(Float.floatToRawIntBits(distances[x]), ids[x],
        Float.floatToRawIntBits(distances[y]), ids[y]));
    int n = Math.min(k, order.length);
    long[] i2 = new long[n];
    int[] h2 = new int[n];
    float[] d2 = new float[n];
    for (int o = 0; o < n; o++) {
      i2[o] = ids[order[o]];
      h2[o] = hamming[order[o]];
      d2[o] = distances[order[o]];
    }
    return new Candidates(i2, h2, d2);
  }

  private static int cmp(int p1, long id1, int p2, long id2) {
    return p1 != p2 ? Integer.compare(p1, p2) : Long.compare(id1, id2);
  }
}
