package org.deephash.backend.cuda;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import org.deephash.internal.Ranking;
import org.deephash.spi.TableView;

/**
 * A line-by-line Java port of the selection kernels in cuda/src/deephash_kernels.cu (repack,
 * histogram, threshold, id-digit refinement, emit, bitonic sort), run block by block on the CPU
 * so the algorithm itself is tested where no GPU is. Block size and sort capacity are parameters:
 * small values force many blocks, digit refinements and the host-ordered path.
 */
final class KernelEmulator {
  static final long SIGN = 0x8000000000000000L;

  final int rowsPerBlock;
  final int sortMax;
  final int rows;
  final int words;
  final long[] codes;
  final long[] tomb;
  final long[] ids;
  final int bits;
  final SplittableRandom shuffle;
  /** Digit rounds run by the last query (for assertions). */
  int lastRounds;
  int maxRounds;

  /** Same fields as DhQueryState. */
  static final class State {
    int target;
    int threshold;
    int shift;
    int need;
    long prefix;
    int eqCount;
    int sure;
    int overflow;
    int total;
  }

  KernelEmulator(TableView t, int rowsPerBlock, int sortMax, long seed) {
    this.rowsPerBlock = rowsPerBlock;
    this.sortMax = sortMax;
    this.rows = t.rows();
    this.bits = t.bits();
    this.words = Plan.words(t.bits());
    byte[] tight = t.codes().asSlice(0, (long) rows * t.codeBytes()).toArray(JAVA_BYTE);
    this.codes = repack(tight, rows, t.codeBytes(), words);
    this.ids = new long[rows];
    for (int r = 0; r < rows; r++) {
      ids[r] = t.id(r);
    }
    if (t.hasTombstones()) {
      tomb = new long[(rows + 63) / 64];
      for (int w = 0; w < tomb.length; w++) {
        tomb[w] = t.tombstones().getAtIndex(JAVA_LONG_UNALIGNED, w);
      }
    } else {
      tomb = null;
    }
    this.shuffle = new SplittableRandom(seed);
  }

  /** dh_repack_codes. */
  static long[] repack(byte[] src, int rows, int codeBytes, int words) {
    long[] dst = new long[rows * words];
    for (long i = 0; i < (long) rows * words; i++) {
      long row = i / words;
      int w = (int) (i - row * words);
      long v = 0;
      for (int b = 0; b < 8; ++b) {
        int byteIdx = w * 8 + b;
        if (byteIdx < codeBytes) {
          v |= (src[(int) (row * codeBytes + byteIdx)] & 0xffL) << (8 * b);
        }
      }
      dst[(int) i] = v;
    }
    return dst;
  }

  static long[] queryWords(byte[] tight, int q, int codeBytes, int words) {
    byte[] one = new byte[codeBytes];
    System.arraycopy(tight, q * codeBytes, one, 0, codeBytes);
    return repack(one, 1, codeBytes, words);
  }

  boolean dead(int row) {
    return tomb != null && ((tomb[row >> 6] >>> (row & 63)) & 1L) != 0;
  }

  int distance(long[] q, int row) {
    int d = 0;
    for (int w = 0; w < words; w++) {
      d += Long.bitCount(codes[row * words + w] ^ q[w]);
    }
    return d;
  }

  static long idKey(long id) {
    return id ^ SIGN;
  }

  int blocks() {
    return Math.max(1, (rows + rowsPerBlock - 1) / rowsPerBlock);
  }

  /** dh_scan_hist for one query: every block's shared histogram flushed into the global one. */
  int[] hist(long[] q, int maxDist) {
    return hist(q, maxDist, 1, blocks());
  }

  /** dh_scan_hist with a chunk stride: blocks 0..launched-1 scan chunks 0, stride, 2 stride ... */
  int[] hist(long[] q, int maxDist, int chunkStride, int launched) {
    int bins = bits + 1;
    int[] global = new int[bins];
    for (int blk = 0; blk < launched; blk++) {
      int[] sh = new int[bins];
      int begin = blk * chunkStride * rowsPerBlock;
      int end = Math.min(rows, begin + rowsPerBlock);
      for (int r = begin; r < end; r++) {
        if (dead(r)) {
          continue;
        }
        int d = distance(q, r);
        if (d <= maxDist) {
          sh[d]++;
        }
      }
      for (int i = 0; i <= maxDist; i++) {
        if (sh[i] != 0) {
          global[i] += sh[i];
        }
      }
    }
    return global;
  }

  /** dh_select_threshold. */
  static State selectThreshold(int[] h, int maxDist, int k, int candStride) {
    long total = 0;
    for (int d = 0; d <= maxDist; ++d) {
      total += h[d];
    }
    State s = new State();
    s.total = (int) total;
    s.target = (int) Math.min(k, total);
    s.threshold = -1;
    if (s.target > 0) {
      int cum = 0;
      for (int d = 0; d <= maxDist; ++d) {
        if (cum + h[d] >= s.target) {
          s.threshold = d;
          s.sure = cum;
          s.eqCount = h[d];
          break;
        }
        cum += h[d];
      }
    }
    s.need = s.target - s.sure;
    s.shift = 64;
    s.prefix = 0;
    s.overflow = (s.target > 0 && s.sure + s.eqCount > candStride) ? 1 : 0;
    return s;
  }

  /** dh_tie_class. */
  static int tieClass(State s, long id) {
    if (s.shift >= 64) {
      return 0;
    }
    long hi = idKey(id) >>> s.shift;
    int c = Long.compareUnsigned(hi, s.prefix);
    return c < 0 ? -1 : (c == 0 ? 0 : 1);
  }

  /** dh_scan_digit for one query. */
  int[] digitHist(long[] q, State s) {
    int[] global = new int[256];
    if (s.overflow == 0) {
      return global;
    }
    int nextShift = s.shift - 8;
    for (int blk = 0; blk < blocks(); blk++) {
      int begin = blk * rowsPerBlock;
      int end = Math.min(rows, begin + rowsPerBlock);
      for (int r = begin; r < end; r++) {
        if (dead(r) || distance(q, r) != s.threshold) {
          continue;
        }
        long id = ids[r];
        if (tieClass(s, id) != 0) {
          continue;
        }
        global[(int) ((idKey(id) >>> nextShift) & 255L)]++;
      }
    }
    return global;
  }

  /** dh_select_digit; returns the overflow flag. */
  static boolean selectDigit(int[] h, int candStride, State s) {
    if (s.overflow == 0) {
      return false;
    }
    int cum = 0;
    int digit = 255;
    for (int b = 0; b < 256; ++b) {
      if (cum + h[b] >= s.need) {
        digit = b;
        break;
      }
      cum += h[b];
    }
    s.sure += cum;
    s.need -= cum;
    s.eqCount = h[digit];
    s.prefix = (s.shift >= 64 ? 0L : (s.prefix << 8)) | digit;
    s.shift -= 8;
    s.overflow = (s.sure + s.eqCount > candStride && s.shift > 0) ? 1 : 0;
    return s.overflow != 0;
  }

  /** dh_scan_emit: appends in a shuffled block order (the device's order is arbitrary). */
  List<long[]> emit(long[] q, State s, int candStride) {
    List<long[]> out = new ArrayList<>(); // {key, id, row}
    if (s.threshold < 0) {
      return out;
    }
    List<Integer> order = new ArrayList<>();
    for (int blk = 0; blk < blocks(); blk++) {
      order.add(blk);
    }
    Collections.shuffle(order, new java.util.Random(shuffle.nextLong()));
    for (int blk : order) {
      int begin = blk * rowsPerBlock;
      int end = Math.min(rows, begin + rowsPerBlock);
      for (int r = begin; r < end; r++) {
        if (dead(r)) {
          continue;
        }
        int d = distance(q, r);
        boolean take = false;
        if (d < s.threshold) {
          take = true;
        } else if (d == s.threshold) {
          take = tieClass(s, ids[r]) <= 0;
        }
        if (take) {
          if (out.size() >= candStride) {
            throw new AssertionError("candidate buffer overflow: the kernel would drop a row");
          }
          out.add(new long[] {d, ids[r], r});
        }
      }
    }
    return out;
  }

  /** dh_sort_topk for one query: bitonic sort over the next power of two, first min(k, n) kept. */
  List<long[]> sortTopk(List<long[]> cand, int k) {
    int n = Math.min(cand.size(), sortMax);
    int n2 = 1;
    while (n2 < n) {
      n2 <<= 1;
    }
    int[] keys = new int[n2];
    long[] idk = new long[n2];
    int[] idx = new int[n2];
    for (int i = 0; i < n2; i++) {
      if (i < n) {
        keys[i] = (int) cand.get(i)[0];
        idk[i] = idKey(cand.get(i)[1]);
      } else {
        keys[i] = 0xffffffff;
        idk[i] = ~0L;
      }
      idx[i] = i;
    }
    for (int size = 2; size <= n2; size <<= 1) {
      for (int stride = size >> 1; stride > 0; stride >>= 1) {
        for (int t = 0; t < (n2 >> 1); t++) {
          int lo = 2 * t - (t & (stride - 1));
          int hi = lo + stride;
          boolean ascending = (lo & size) == 0;
          int kc = Integer.compareUnsigned(keys[lo], keys[hi]);
          boolean greater = kc > 0 || (kc == 0 && Long.compareUnsigned(idk[lo], idk[hi]) > 0);
          if (greater == ascending) {
            int kt = keys[lo];
            keys[lo] = keys[hi];
            keys[hi] = kt;
            long it = idk[lo];
            idk[lo] = idk[hi];
            idk[hi] = it;
            int xt = idx[lo];
            idx[lo] = idx[hi];
            idx[hi] = xt;
          }
        }
      }
    }
    int m = Math.min(k, n);
    List<long[]> out = new ArrayList<>(m);
    for (int i = 0; i < m; i++) {
      out.add(new long[] {keys[i] & 0xffffffffL, idk[i] ^ SIGN, cand.get(idx[i])[2]});
    }
    return out;
  }

  /** What CudaBackend.collect does for lists longer than one sorting block. */
  static List<long[]> hostOrder(List<long[]> cand, int target) {
    int n = cand.size();
    int[] key = new int[n];
    long[] id = new long[n];
    int[] row = new int[n];
    for (int i = 0; i < n; i++) {
      key[i] = (int) cand.get(i)[0];
      id[i] = cand.get(i)[1];
      row[i] = (int) cand.get(i)[2];
    }
    Ranking.sort(key, id, row, 0, n);
    List<long[]> out = new ArrayList<>();
    for (int i = 0; i < Math.min(target, n); i++) {
      out.add(new long[] {key[i], id[i], row[i]});
    }
    return out;
  }

  /** dh_select_bound. */
  static int selectBound(int[] h, int maxDist, int k) {
    int b = maxDist;
    long cum = 0;
    for (int d = 0; d <= maxDist; ++d) {
      cum += h[d];
      if (cum >= k) {
        b = d;
        break;
      }
    }
    return b;
  }

  /**
   * dh_scan_bound for one query: the live rows at distance <= bound in a shuffled chunk order
   * ({key, row}); the count runs past the capacity as the device's atomic counter does.
   */
  record Filtered(List<long[]> entries, int count) {}

  Filtered scanBound(long[] q, int bound, int cap) {
    List<long[]> out = new ArrayList<>();
    int count = 0;
    List<Integer> order = new ArrayList<>();
    for (int blk = 0; blk < blocks(); blk++) {
      order.add(blk);
    }
    Collections.shuffle(order, new java.util.Random(shuffle.nextLong()));
    for (int blk : order) {
      int begin = blk * rowsPerBlock;
      int end = Math.min(rows, begin + rowsPerBlock);
      for (int r = begin; r < end; r++) {
        int d = distance(q, r);
        if (d <= bound && !dead(r)) {
          int slot = count++;
          if (slot < cap) {
            out.add(new long[] {d, r});
          }
        }
      }
    }
    return new Filtered(out, count);
  }

  /** dh_cand_select for one query: the sort buffer's {key, id, row} entries, or null on overflow. */
  List<long[]> candSelect(Filtered f, int cap, int k, int sortCap) {
    if (f.count() > cap) {
      return null;
    }
    int n = f.count();
    int[] h = new int[bits + 1];
    for (long[] e : f.entries()) {
      h[(int) e[0]]++;
    }
    int target = Math.min(k, n);
    int t = -1;
    int cum = 0;
    for (int d = 0; d < h.length && target > 0; ++d) {
      if (cum + h[d] >= target) {
        t = d;
        break;
      }
      cum += h[d];
    }
    if (t >= 0 && cum + h[t] > sortCap) {
      return null;
    }
    List<long[]> out = new ArrayList<>();
    for (long[] e : f.entries()) {
      if (e[0] <= t) {
        out.add(new long[] {e[0], ids[(int) e[1]], e[1]});
      }
    }
    Collections.shuffle(out, new java.util.Random(shuffle.nextLong())); // the device's order is arbitrary
    return out;
  }

  /** Queries the bounded path redid on the histogram path (overflow). */
  int fallbacks;

  /**
   * The bounded path for one query as CudaBackend drives it (sample histogram, bound, filter,
   * threshold, sort), falling back to {@link #select} when a list overflows. {@code filterCap}
   * and {@code sampleStride} are Plan's unless a test forces small ones.
   */
  Answer selectBounded(long[] q, int k, int filterCap, int sampleStride) {
    int stride = Math.min(k, liveRows());
    if (stride == 0) {
      return new Answer(List.of(), 0);
    }
    int launched = (blocks() + sampleStride - 1) / sampleStride;
    int bound = selectBound(hist(q, bits, sampleStride, launched), bits, k);
    List<long[]> sorted = candSelect(scanBound(q, bound, filterCap), filterCap, k, sortMax);
    if (sorted == null) {
      fallbacks++;
      return select(q, k, bits);
    }
    if (sorted.size() < stride) {
      throw new AssertionError("the bounded path kept " + sorted.size() + " rows for " + stride + " results");
    }
    return new Answer(sortTopk(sorted, k), -1);
  }

  int liveRows() {
    int live = 0;
    for (int r = 0; r < rows; r++) {
      if (!dead(r)) {
        live++;
      }
    }
    return live;
  }

  /** Result of one query: ranked {distance, id, row} entries and the rows within maxDist. */
  record Answer(List<long[]> entries, int total) {}

  /** The whole pipeline for one query, as CudaBackend.enqueue/collect drive it. */
  Answer select(long[] q, int selectK, int maxDist) {
    int stride = Math.min(selectK, liveRows());
    if (stride == 0) {
      return new Answer(List.of(), 0);
    }
    int candStride = stride <= sortMax ? sortMax : stride + sortMax;
    State s = selectThreshold(hist(q, maxDist), maxDist, selectK, candStride);
    int rounds = 0;
    boolean flag = s.overflow != 0;
    while (flag) {
      if (++rounds > 8) {
        throw new AssertionError("selection did not converge after 8 id digits");
      }
      flag = selectDigit(digitHist(q, s), candStride, s);
    }
    lastRounds = rounds;
    maxRounds = Math.max(maxRounds, rounds);
    List<long[]> cand = emit(q, s, candStride);
    if (cand.size() < s.target) {
      throw new AssertionError("emitted " + cand.size() + " candidates for a target of " + s.target);
    }
    List<long[]> ranked = stride <= sortMax ? sortTopk(cand, selectK) : hostOrder(cand, s.target);
    return new Answer(ranked, s.total);
  }
}
