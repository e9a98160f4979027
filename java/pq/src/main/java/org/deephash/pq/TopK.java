package org.deephash.pq;

/**
 * The k smallest (distance, id) pairs offered, ordered by distance then ascending id: a bounded
 * max-heap whose root is the worst pair kept. Reusable through {@link #reset}.
 */
final class TopK {
  private final float[] dist;
  private final int[] ids;
  private int size;

  TopK(int k) {
    dist = new float[k];
    ids = new int[k];
  }

  void reset() {
    size = 0;
  }

  int size() {
    return size;
  }

  private static boolean worse(float da, int ia, float db, int ib) {
    return da > db || (da == db && ia > ib);
  }

  void offer(float d, int id) {
    if (size < dist.length) {
      int i = size++;
      // Sift up.
      while (i > 0) {
        int parent = (i - 1) >>> 1;
        if (!worse(d, id, dist[parent], ids[parent])) {
          break;
        }
        dist[i] = dist[parent];
        ids[i] = ids[parent];
        i = parent;
      }
      dist[i] = d;
      ids[i] = id;
      return;
    }
    if (!worse(dist[0], ids[0], d, id)) {
      return;
    }
    siftDown(d, id, size);
  }

  /** Places (d, id) at the root and sifts it down within the first {@code n} slots. */
  private void siftDown(float d, int id, int n) {
    int i = 0;
    while (true) {
      int child = 2 * i + 1;
      if (child >= n) {
        break;
      }
      if (child + 1 < n && worse(dist[child + 1], ids[child + 1], dist[child], ids[child])) {
        child++;
      }
      if (!worse(dist[child], ids[child], d, id)) {
        break;
      }
      dist[i] = dist[child];
      ids[i] = ids[child];
      i = child;
    }
    dist[i] = d;
    ids[i] = id;
  }

  /**
   * Writes the kept pairs best first into {@code outDist[off..)} and {@code outIds[off..)}, and
   * empties the heap. Returns how many were written.
   */
  int drainSorted(float[] outDist, int[] outIds, int off) {
    int n = size;
    for (int last = n - 1; last >= 0; last--) {
      outDist[off + last] = dist[0];
      outIds[off + last] = ids[0];
      float d = dist[last];
      int id = ids[last];
      siftDown(d, id, last);
    }
    size = 0;
    return n;
  }
}
