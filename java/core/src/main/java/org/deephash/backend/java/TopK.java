package org.deephash.backend.java;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.deephash.internal.Ranking;

/**
 * Exact streaming top-k of (primary, id) pairs for one query, where primary is a Hamming distance
 * (0..B) or the bits of a non-negative float.
 *
 * <p>Candidates go into a buffer of 2k entries; when it fills, it is compacted to the best k, and
 * the worst kept pair (thr, tieCut) becomes the admission bound, so after a short warm-up almost
 * every row is rejected by one compare in the scan loop. For Hamming distances compaction counts
 * distances in B+1 bins instead of sorting; only the entries tied at the threshold are ordered by
 * id, which is what makes ties exact for any id order.
 */
final class TopK {
  final int k;
  /**
   * Entries with primary > thr are rejected; once compacted (k entries kept, the worst being
   * (thr, tieCut)), equal ones are admitted only when their id < tieCut.
   */
  int thr;
  long tieCut;
  /** Set once the buffer held more than k entries: for a radius search, the cap cut the list. */
  boolean compacted;
  int[] primary;
  int[] rows;
  long[] ids;
  int size;
  private final boolean bins;
  private int[] hist;

  /**
   * @param k how many to keep
   * @param bound initial threshold (B for a plain top-k, r for a radius search, Integer.MAX_VALUE
   *     for floats)
   * @param bins whether primaries are small integers (count in bins) rather than float bits
   */
  TopK(int k, int bound, boolean bins) {
    this.k = k;
    this.thr = bound;
    this.bins = bins;
    int cap = (int) Math.min(Integer.MAX_VALUE - 16, Math.max(2L * k, k + 64L));
    int initial = Math.min(cap, 256);
    primary = new int[initial];
    rows = new int[initial];
    ids = new long[initial];
    this.cap = cap;
  }

  private final int cap;

  /** Offers a row whose primary passed the fast {@code p <= thr} test; checks ties and tombstones. */
  void offer(int p, int row, MemorySegment idSeg, MemorySegment tombstones) {
    long id = idSeg.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, row);
    if (p > thr || (compacted && p == thr && id >= tieCut)) {
      return;
    }
    if (tombstones.byteSize() != 0
        && (tombstones.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, row >>> 6) & (1L << row)) != 0) {
      return;
    }
    if (size == primary.length) {
      if (size >= cap) {
        compact();
        if (p > thr || (p == thr && id >= tieCut)) { // compacted now, so tieCut holds
          return;
        }
      } else {
        int n = (int) Math.min(cap, primary.length * 2L);
        primary = java.util.Arrays.copyOf(primary, n);
        rows = java.util.Arrays.copyOf(rows, n);
        ids = java.util.Arrays.copyOf(ids, n);
      }
    }
    primary[size] = p;
    rows[size] = row;
    ids[size] = id;
    size++;
  }

  /** Keeps the best k entries and tightens the admission bound to the worst of them. */
  void compact() {
    if (size <= k) {
      return;
    }
    compacted = true;
    if (!bins) {
      Ranking.sort(primary, ids, rows, 0, size);
      size = k;
      thr = primary[k - 1];
      tieCut = ids[k - 1];
      return;
    }
    int top = thr;
    if (hist == null || hist.length < top + 1) {
      hist = new int[top + 1];
    } else {
      java.util.Arrays.fill(hist, 0, top + 1, 0);
    }
    for (int i = 0; i < size; i++) {
      hist[primary[i]]++;
    }
    int below = 0;
    int t = 0;
    while (below + hist[t] < k) {
      below += hist[t];
      t++;
    }
    int need = k - below;
    int ties = hist[t];
    // Entries below t stay in order; the ties at t are ordered by id and the smallest kept.
    int w = 0;
    int[] tp = new int[ties];
    int[] tr = new int[ties];
    long[] ti = new long[ties];
    int nt = 0;
    for (int i = 0; i < size; i++) {
      int p = primary[i];
      if (p < t) {
        primary[w] = p;
        rows[w] = rows[i];
        ids[w] = ids[i];
        w++;
      } else if (p == t) {
        tp[nt] = p;
        tr[nt] = rows[i];
        ti[nt] = ids[i];
        nt++;
      }
    }
    if (nt > need) {
      Ranking.sort(tp, ti, tr, 0, nt);
    }
    long maxId = Long.MIN_VALUE;
    for (int i = 0; i < need; i++) {
      primary[w] = tp[i];
      rows[w] = tr[i];
      ids[w] = ti[i];
      maxId = Math.max(maxId, ti[i]);
      w++;
    }
    size = w;
    thr = t;
    tieCut = maxId;
  }

  /** Compacts to at most k entries and sorts them by (primary, id). */
  void finish() {
    compact();
    Ranking.sort(primary, ids, rows, 0, size);
  }
}
