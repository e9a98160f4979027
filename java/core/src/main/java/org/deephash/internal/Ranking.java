package org.deephash.internal;

/**
 * Sorting of result entries by (primary, id): primary is a Hamming distance or the raw bits of a
 * non-negative float (whose int order equals the float order), id breaks ties ascending, and a
 * payload (the row) travels along.
 */
public final class Ranking {
  private Ranking() {}

  /** Sorts entries [from, to) of the three parallel arrays by (primary, id). */
  public static void sort(int[] primary, long[] id, int[] payload, int from, int to) {
    while (to - from > 24) {
      int mid = (from + to) >>> 1;
      int a = from, b = mid, c = to - 1;
      // median of three as pivot
      if (less(primary, id, b, a)) { swap(primary, id, payload, a, b); }
      if (less(primary, id, c, b)) {
        swap(primary, id, payload, b, c);
        if (less(primary, id, b, a)) { swap(primary, id, payload, a, b); }
      }
      int pp = primary[b];
      long pi = id[b];
      int i = from, j = to - 1;
      while (i <= j) {
        while (cmp(primary[i], id[i], pp, pi) < 0) { i++; }
        while (cmp(primary[j], id[j], pp, pi) > 0) { j--; }
        if (i <= j) {
          swap(primary, id, payload, i, j);
          i++;
          j--;
        }
      }
      // recurse into the smaller half, loop on the larger
      if (j - from < to - i) {
        sort(primary, id, payload, from, j + 1);
        from = i;
      } else {
        sort(primary, id, payload, i, to);
        to = j + 1;
      }
    }
    for (int i = from + 1; i < to; i++) {
      int p = primary[i];
      long d = id[i];
      int r = payload == null ? 0 : payload[i];
      int j = i - 1;
      while (j >= from && cmp(primary[j], id[j], p, d) > 0) {
        primary[j + 1] = primary[j];
        id[j + 1] = id[j];
        if (payload != null) {
          payload[j + 1] = payload[j];
        }
        j--;
      }
      primary[j + 1] = p;
      id[j + 1] = d;
      if (payload != null) {
        payload[j + 1] = r;
      }
    }
  }

  public static int cmp(int p1, long id1, int p2, long id2) {
    return p1 != p2 ? Integer.compare(p1, p2) : Long.compare(id1, id2);
  }

  private static boolean less(int[] p, long[] id, int x, int y) {
    return cmp(p[x], id[x], p[y], id[y]) < 0;
  }

  private static void swap(int[] p, long[] id, int[] payload, int x, int y) {
    int t = p[x];
    p[x] = p[y];
    p[y] = t;
    long u = id[x];
    id[x] = id[y];
    id[y] = u;
    if (payload != null) {
      int v = payload[x];
      payload[x] = payload[y];
      payload[y] = v;
    }
  }
}
