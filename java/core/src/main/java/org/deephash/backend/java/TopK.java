package org.deephash.backend.java;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.deephash.internal.Ranking;

/**
 * Exact streaming Hamming top-k of one query over a range of rows (the design of the native
 * core's selection, native/src/dh_select.c).
 *
 * <p>Kernels append every row with {@code d <= thr} as {@code d << 32 | row}, in ascending row
 * order, with no other test. How the threshold falls depends on what is known of the ids:
 *
 * <ul>
 *   <li>Counted (ids ascend with rows, no row deleted): {@code le} is the number of entries within
 *       thr (an append adds one, nothing else). Once more than k are within it, a row still to
 *       come at thr has a larger id than k of them and cannot get in: the entries appended since
 *       the last time are tallied into the counts, and thr drops (le loses the count at thr) while
 *       more than k stay within it. The threshold stays one below the smallest distance within
 *       which more than k rows have been seen; the buffer is cut only when full, and finished by
 *       one scatter over the counts.
 *   <li>Otherwise, when the buffer is full it is compacted: deleted rows go, the distances are
 *       counted in bins (0..thr) to find the k-th distance T, and every entry below T stays, with
 *       the entries at T too while they fit in half the buffer. Only when the entries at T
 *       overflow are they cut to the smallest ids (then {@code tie} is set: a later entry at thr
 *       with a larger id is worse than k kept ones).
 * </ul>
 *
 * <p>No comparison sort runs whatever k is. The final list is ordered by a counting pass over the
 * distances, and by id within a distance only where the ids do not already ascend with the rows.
 */
final class TopK {
  final int k;
  /** Rows with a distance above thr are not admitted. */
  int thr;
  /** More than k live rows within the initial bound were seen (a radius search was capped). */
  boolean overflowed;
  /** Result after {@link #finish}: sorted by (distance, id). */
  int[] primary;
  long[] ids;
  int[] rows;
  int size;

  private final int cap;
  private final MemorySegment idSeg;
  private final MemorySegment tombstones;
  private final boolean idsAscending;
  private final boolean idsAreRows;
  private boolean tie;
  private long tieKey;
  /** The candidates, buf[off, off + n), room up to off + room (a slice of a task's shared array). */
  private long[] buf;
  private int off;
  private int room;
  private int n;
  /** Entries below thr: at k the threshold can drop, so the buffer is compacted at once. */
  private int below;
  private int[] hist;
  /** Counted mode (see the class comment): entries within thr, and when they call for a settle. */
  private final boolean counted;
  /** Counted mode: the first {@code tallied} entries of the list per distance (top + 1 bins). */
  private int[] counts;
  private int tallied;
  /**
   * Counted mode: the entries within thr when n was {@code nSync} (every append adds the same to n
   * and to le, so le is brought up to date only where it is read: le + n - nSync).
   */
  private int le;
  private int nSync;
  /** Counted mode: settle when le exceeds it (k; no limit once thr is 0 with more than k within). */
  private int leLimit;
  /**
   * Counted mode: put's one test: at n = stop, le has passed leLimit or the buffer is full (a test
   * and a counter fewer per append than keeping le itself: a k = 1000 search 1.4-1.6% quicker,
   * both builds in one JVM, paired).
   */
  private int stop;
  /** Counted mode: no entry of buf lies above it. */
  private int top;

  /**
   * @param k how many to keep
   * @param bound initial threshold (B for a top-k, r for a radius search)
   */
  TopK(int k, int bound, MemorySegment ids, MemorySegment tombstones, boolean idsAscending) {
    this(k, bound, ids, tombstones, idsAscending, false, null, 0);
  }

  /**
   * @param idsAreRows every row's id is its row number ({@link
   *     org.deephash.spi.TableView#idsAreRows}): the result's ids are not looked up
   * @param slab where the candidates go: {@link #room}(k) longs from {@code at} (a list outgrowing
   *     them moves to an array of its own); null: an array of its own
   */
  TopK(int k, int bound, MemorySegment ids, MemorySegment tombstones, boolean idsAscending, boolean idsAreRows,
      long[] slab, int at) {
    this.k = k;
    this.idsAreRows = idsAreRows;
    this.thr = bound;
    this.idSeg = ids;
    this.tombstones = tombstones;
    this.idsAscending = idsAscending;
    this.cap = (int) Math.min(Integer.MAX_VALUE - 16, 4L * k + 64);
    this.room = room(k);
    this.buf = slab != null ? slab : new long[room];
    this.off = slab != null ? at : 0;
    this.counted = idsAscending && tombstones.byteSize() == 0;
    this.counts = counted ? new int[bound + 2] : null;
    this.leLimit = k;
    this.top = bound;
    setStop();
  }

  /**
   * The candidates a list starts with room for: those a large k admits (about 1.4k for k = 1000
   * from a sampled threshold; a buffer grown by copies from 256 measured a tenth of a k = 1000
   * search).
   */
  static int room(int k) {
    return (int) Math.min(Math.min(Integer.MAX_VALUE - 16, 4L * k + 64), Math.max(256, 2L * k));
  }

  /** Appends a row that passed {@code d <= thr}. */
  void add(int d, int row) {
    if (n == room) {
      if (n >= cap) {
        if (counted) {
          settle();
        } else {
          compact();
        }
        if (d > thr) {
          return;
        }
      } else {
        grow();
      }
    }
    append(d, row, 1);
  }

  /**
   * As {@link #add} for a row not yet tested against thr: appended only when {@code d <= thr},
   * without a branch on it (a kernel's candidates tested against a threshold that may since have
   * dropped, where the test went either way and mispredicted): the entry is written in any case
   * and counted only when within thr.
   */
  void put(int d, int row) {
    // in counted mode there is room: a full buffer was dealt with by the append that filled it
    if (!counted && n == room) {
      if (d <= thr) {
        add(d, row);
      }
      return;
    }
    append(d, row, (thr - d) >>> 31 ^ 1);
  }

  /**
   * Counted mode with room for {@code more} entries: a kernel may write them itself at {@link
   * #list()} from {@link #end()} on, each within thr, and then report them through {@link
   * #appended} (the bookkeeping of {@link #put} once for all of them, thr unchanged in between).
   */
  boolean hasRoom(int more) {
    return counted && room - n >= more;
  }

  /** The array holding the list (see {@link #hasRoom}). */
  long[] list() {
    return buf;
  }

  /** Where the list's next entry goes in {@link #list()}. */
  int end() {
    return off + n;
  }

  /**
   * Counted mode: {@code added} entries {@code d << 32 | row} within thr, in ascending row order
   * after those held, were written from {@link #end()} on (room for them checked by hasRoom).
   */
  void appended(int added) {
    n += added;
    if (n >= stop) {
      countedFull();
    }
  }

  /**
   * Writes (d, row) at the list's end (room for it checked by the caller) and counts it when
   * {@code in} is 1 (it lies within thr), with the bookkeeping that may then lower thr.
   */
  private void append(int d, int row, int in) {
    buf[off + n] = (long) d << 32 | row;
    n += in;
    if (counted) {
      if (n >= stop) {
        countedFull();
      }
    } else if ((in & (d - thr) >>> 31) != 0 && ++below >= k) {
      compact();
    }
  }

  /**
   * Counted mode: more than k entries within thr, or the buffer full. A full buffer keeps its k best
   * (an exact cut) and is counted again; otherwise only the entries appended since the last settle
   * are counted (no append touches the counts). Then, while more than k lie within thr (so the
   * result is truncated), thr drops: a later row at thr has a larger id than each of them. (At
   * exactly k, lowering would hide whether a later row qualifies.)
   */
  private void settle() {
    le += n - nSync;
    if (n >= cap) {
      if (n > k) {
        cut(false, top);
      }
      tie = false; // at distance 0 a later row is still admitted; finish keeps the first k
      top = Math.min(top, thr + 1);
      Arrays.fill(counts, 0, top + 1, 0);
      tallied = 0;
      tally();
      int c = 0;
      for (int d = 0; d <= thr; d++) {
        c += counts[d];
      }
      le = c;
    } else {
      tally();
    }
    if (le > k) {
      overflowed = true;
      while (le > k && thr > 0) {
        le -= counts[thr];
        thr--;
      }
    }
    // at thr 0 with more than k within it nothing can drop further: only a full buffer calls back
    leLimit = le > k ? Integer.MAX_VALUE : k;
    nSync = n;
    setStop();
  }

  /**
   * Counted mode, n at stop: a settle where le has passed leLimit or the buffer is at its cap;
   * otherwise (or still full after it) a buffer twice the size.
   */
  private void countedFull() {
    if (le + n - nSync > leLimit || n >= cap) {
      settle();
    }
    if (n == room) {
      grow();
    }
    setStop();
  }

  /** A buffer of its own, twice the room (up to cap), holding the list. */
  private void grow() {
    room = (int) Math.min(cap, 2L * room);
    buf = Arrays.copyOfRange(buf, off, off + room);
    off = 0;
  }

  /** The n at which countedFull must run: the buffer full, or le past leLimit. */
  private void setStop() {
    stop = (int) Math.min(room, (long) leLimit - le + nSync + 1);
  }

  /** Counted mode: counts the entries appended since the last tally. */
  private void tally() {
    for (int i = off + tallied; i < off + n; i++) {
      counts[(int) (buf[i] >>> 32)]++;
    }
    tallied = n;
  }

  /** Number of entries held (for the sampled threshold's check). */
  int count() {
    return n;
  }

  /** Back to an empty list with threshold {@code bound} (a query searched again). */
  void reset(int bound) {
    n = 0;
    below = 0;
    thr = bound;
    tie = false;
    overflowed = false;
    if (counted) {
      counts = new int[bound + 2];
      tallied = 0;
      le = 0;
      nSync = 0;
      leLimit = k;
      top = bound;
      setStop();
    }
  }

  private long key(int row) {
    return idsAscending ? row : idSeg.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, row);
  }

  private boolean deleted(int row) {
    return tombstones.byteSize() != 0
        && (tombstones.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, row >>> 6) & (1L << row)) != 0;
  }

  /** Drops deleted rows and, in tie mode, entries at thr beyond the id cut. */
  private void filter() {
    if (tombstones.byteSize() == 0 && !tie) {
      return;
    }
    int w = off;
    for (int i = off; i < off + n; i++) {
      long e = buf[i];
      int row = (int) e;
      boolean drop = deleted(row) || (tie && (int) (e >>> 32) == thr && key(row) > tieKey);
      buf[w] = e;
      w += drop ? 0 : 1;
    }
    n = w - off;
  }

  /** The distances of the buffer counted in bins 0..thr. */
  private int[] count(int top) {
    if (hist == null || hist.length < top + 1) {
      hist = new int[top + 1];
    } else {
      Arrays.fill(hist, 0, top + 1, 0);
    }
    for (int i = off; i < off + n; i++) {
      hist[(int) (buf[i] >>> 32)]++;
    }
    return hist;
  }

  void compact() {
    if (counted) {
      return; // the threshold is kept at the k-th distance without compacting
    }
    filter();
    if (n > k) {
      cut(true, thr + 1); // after an exact cut the kept entries at the k-th distance lie one above thr
    }
    // recount: deleted rows may have been among them, and the threshold may have dropped
    int b = 0;
    for (int i = off; i < off + n; i++) {
      b += (int) (buf[i] >>> 32) < thr ? 1 : 0;
    }
    below = b;
  }

  /** Cuts to the k best; all entries lie at or below dmax. */
  private void cut(boolean keepTies, int dmax) {
    int[] h = count(dmax);
    int t = 0;
    int less = 0;
    while (less + h[t] < k) {
      less += h[t++];
    }
    int ties = h[t];
    overflowed = true;
    if (keepTies && !idsAscending && less + ties <= cap / 2) {
      int w = off;
      for (int i = off; i < off + n; i++) {
        long e = buf[i];
        buf[w] = e;
        w += (int) (e >>> 32) <= t ? 1 : 0;
      }
      n = w - off;
      if (t < thr) {
        thr = t;
        tie = false;
      }
      return;
    }
    int need = k - less;
    if (idsAscending) {
      // the buffer is in row order and rows order the ids: the first `need` entries at t are kept
      int w = off;
      int seen = 0;
      long last = 0;
      for (int i = off; i < off + n; i++) {
        long e = buf[i];
        int d = (int) (e >>> 32);
        boolean keep = d < t || (d == t && seen < need);
        if (d == t && keep) {
          seen++;
          last = (int) e;
        }
        buf[w] = e;
        w += keep ? 1 : 0;
      }
      n = w - off;
      if (t > 0) {
        // every row still to come lies after the kept ones, so its id is larger: at t it would be
        // worse than all k, and only d <= t - 1 can still get in
        thr = t - 1;
        tie = false;
      } else {
        thr = 0;
        tie = true;
        tieKey = last;
      }
      return;
    }
    long[] tk = new long[ties];
    long[] te = new long[ties];
    int w = off;
    int nt = 0;
    for (int i = off; i < off + n; i++) {
      long e = buf[i];
      int d = (int) (e >>> 32);
      if (d < t) {
        buf[w++] = e;
      } else if (d == t) {
        tk[nt] = key((int) e);
        te[nt++] = e;
      }
    }
    long cutKey = selectKey(tk, nt, need);
    for (int i = 0; i < nt; i++) {
      if (tk[i] <= cutKey) {
        buf[w++] = te[i];
      }
    }
    n = w - off;
    thr = t;
    tie = true;
    tieKey = cutKey;
  }

  /** The need-th smallest of keys[0, n) (unique keys); reorders a copy. */
  private static long selectKey(long[] keys, int n, int need) {
    long[] a = Arrays.copyOf(keys, n);
    int lo = 0;
    int hi = n - 1;
    int m = need - 1;
    while (lo < hi) {
      long pivot = a[(lo + hi) >>> 1];
      int i = lo;
      int j = hi;
      while (i <= j) {
        while (a[i] < pivot) {
          i++;
        }
        while (a[j] > pivot) {
          j--;
        }
        if (i <= j) {
          long x = a[i];
          a[i] = a[j];
          a[j] = x;
          i++;
          j--;
        }
      }
      if (m <= j) {
        hi = j;
      } else if (m >= i) {
        lo = i;
      } else {
        break;
      }
    }
    return a[m];
  }

  /** Cuts to at most k entries and orders them by (distance, id) into primary, ids, rows. */
  void finish() {
    if (counted) {
      finishCounted();
      return;
    }
    filter();
    if (n > k) {
      cut(false, thr + 1);
    }
    int top = 0;
    for (int i = off; i < off + n; i++) {
      top = Math.max(top, (int) (buf[i] >>> 32));
    }
    int[] h = count(top);
    int[] start = new int[top + 2];
    for (int d = 0; d <= top; d++) {
      start[d + 1] = start[d] + h[d];
    }
    primary = new int[n];
    ids = new long[n];
    rows = new int[n];
    for (int i = 0; i < n; i++) {
      long e = buf[off + i];
      int d = (int) (e >>> 32);
      int at = start[d]++;
      primary[at] = d;
      rows[at] = (int) e;
      ids[at] = idSeg.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, (int) e);
    }
    size = n;
    if (!idsAscending) {
      for (int g0 = 0; g0 < n; ) {
        int g1 = g0 + 1;
        boolean sorted = true;
        while (g1 < n && primary[g1] == primary[g0]) {
          sorted &= ids[g1 - 1] < ids[g1];
          g1++;
        }
        if (!sorted) {
          Ranking.sort(primary, ids, rows, g0, g1);
        }
        g0 = g1;
      }
    }
  }

  /**
   * Counted mode: the buffer is in row order and rows order the ids, so a stable counting sort by
   * distance orders it by (distance, id), and its first k entries are the answer (the entries at
   * the k-th distance beyond them have larger ids).
   */
  private void finishCounted() {
    int kept = Math.min(n, k);
    primary = new int[kept];
    ids = new long[kept];
    rows = new int[kept];
    scatterCounted(primary, ids, rows, 0);
  }

  /**
   * Cuts to at most k entries, ordered by (distance, id), written straight into a result's arrays
   * at {@code at} (distances to dist, ids to outIds and rows to outRows where not null); returns
   * how many. In counted mode no list of its own is kept.
   */
  int finishInto(int[] dist, long[] outIds, int[] outRows, int at) {
    if (!counted) {
      finish();
      System.arraycopy(primary, 0, dist, at, size);
      if (outIds != null) {
        System.arraycopy(ids, 0, outIds, at, size);
      }
      if (outRows != null) {
        System.arraycopy(rows, 0, outRows, at, size);
      }
      return size;
    }
    return scatterCounted(dist, outIds, outRows, at);
  }

  /**
   * As {@link #finishInto} without ids, but in row order rather than by (distance, id): the best k
   * as a set (a coarse-to-fine pool, which its fine stage reorders anyway). In counted mode one
   * pass keeps the entries below the k-th distance and the first at it, without the scatter (a
   * store-to-load chain per distance and a branch that mispredicts on every entry cut); otherwise
   * as finishInto.
   */
  int finishUnordered(int[] dist, int[] outRows, int at) {
    if (!counted) {
      return finishInto(dist, null, outRows, at);
    }
    int kept = keepBest();
    for (int i = 0; i < kept; i++) {
      long e = buf[off + i];
      dist[at + i] = (int) (e >>> 32);
      outRows[at + i] = (int) e;
    }
    size = kept;
    return kept;
  }

  /**
   * Counted mode: tallies the buffer and cuts it to its best k as a set in row order: the entries
   * below the k-th distance and the first ones at it (the smallest ids), moved to the buffer's
   * start in one pass without a data-dependent branch (a branch per entry mispredicted on every
   * entry cut), with the counts cut to match; returns how many are kept.
   */
  private int keepBest() {
    int kept = Math.min(n, k);
    tally();
    if (n == kept) {
      return kept;
    }
    overflowed = true;
    int t = cutCounts(kept);
    int need = counts[t]; // entries at the k-th distance t to keep: the first ones (smallest ids)
    int w = off;
    int end = off + kept;
    for (int i = off; w < end; i++) { // w <= i: the kept entries move down in place
      long e = buf[i];
      int d = (int) (e >>> 32);
      // as bits (C2 made the conditional expressions branches): below t, or at t while need > 0
      int atT = ((d ^ t) - 1) >>> 31;
      int more = atT & (-need >>> 31);
      need -= more;
      buf[w] = e;
      w += (d - t) >>> 31 | more;
    }
    n = kept;
    tallied = kept;
    return kept;
  }

  /**
   * Counted mode's finish into the given arrays at {@code at} (ids, rows may be null); returns the
   * count: a stable counting sort by distance over the whole list in one pass, with no test per
   * entry. The k-th distance t and how many entries at it are kept (the first ones: the smallest
   * ids) come from the counts; positions past the k kept (the entries above t and the later ones
   * at t) are clamped to the last slot, which is written again at the end with the entry that
   * belongs there (the one whose position it is). Cutting the list first (keepBest) took a pass of
   * its own, about 40% of this finish at k = 1000.
   */
  private int scatterCounted(int[] dist, long[] outIds, int[] outRows, int at) {
    tally();
    int kept = Math.min(n, k);
    if (kept == 0) {
      size = 0;
      return 0;
    }
    if (n > kept) {
      overflowed = true;
      cutCounts(kept);
    }
    int[] start = counts; // reused as the next position of each distance
    for (int d = 0, p = 0; d <= top; d++) {
      int m = start[d];
      start[d] = p;
      p += m;
    }
    int last = kept - 1;
    long fix = 0;
    for (int i = off; i < off + n; i++) {
      long e = buf[i];
      int d = (int) (e >>> 32);
      int pos = start[d]++;
      fix = pos == last ? e : fix;
      place(e, dist, outIds, outRows, at + Math.min(pos, last));
    }
    place(fix, dist, outIds, outRows, at + last);
    size = kept;
    return kept;
  }

  /** Writes entry e (d << 32 | row) at p of the result's arrays (ids, rows may be null). */
  private void place(long e, int[] dist, long[] outIds, int[] outRows, int p) {
    int row = (int) e;
    dist[p] = (int) (e >>> 32);
    if (outIds != null) {
      outIds[p] = idsAreRows ? row : idSeg.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, row);
    }
    if (outRows != null) {
      outRows[p] = row;
    }
  }

  /**
   * Counted mode, more than kept entries tallied: the k-th distance t of the list, with the counts
   * cut to the kept entries (none above t, at t only the first ones); returns t.
   */
  private int cutCounts(int kept) {
    int t = 0;
    int less = 0;
    while (less + counts[t] < kept) {
      less += counts[t++];
    }
    counts[t] = kept - less;
    for (int d = t + 1; d <= top; d++) {
      counts[d] = 0;
    }
    return t;
  }
}
