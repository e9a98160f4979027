package org.deephash.backend.java;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.deephash.internal.Ranking;

/**
 * Exact Euclidean top-k of one query from approximate distances (the design of the native
 * core's native/src/dh_l2.c).
 *
 * <p>Kernels give a = ||q||^2 + ||x||^2 - 2 q.x from vector dot products and precomputed squared
 * norms; a differs from the reference distance ({@link #reference}, the oracle's float sum in
 * dimension order) by at most M(x) = c (||q||^2 + ||x||^2) + eta ({@link #margin}). With T the
 * k-th smallest upper bound a + M, a row whose lower bound a - M exceeds T has k rows certainly
 * nearer: only the others are kept, and only they get their reference distance, which then
 * ranks them by (distance, id). The reported distances are the oracle's, bit for bit.
 */
final class FloatTopK {
  /** Relative and absolute margin for dim; the proof is in native/src/dh_l2.c (margins). */
  static double[] margin(int dim) {
    double u = 1.0 / 16777216.0;
    double n = dim + 4.0;
    return new double[] {5 * n * u / (1 - n * u), (4.0 * dim + 20) * 0x1.0p-149};
  }

  /**
   * Whether the arithmetic stays finite for squared norms up to qq and xxmax (a and the reference
   * are at most 2 (||q||^2 + ||x||^2)); beyond, every row is ranked by its reference distance.
   */
  static boolean inRange(double qq, double xxmax) {
    return Double.isFinite(qq) && Double.isFinite(xxmax) && qq + xxmax < Float.MAX_VALUE / 2.1;
  }

  /** The oracle's squared Euclidean distance: float, dimension order, no fused multiply-add. */
  static float reference(MemorySegment qs, long qo, MemorySegment fs, long fo, int dim) {
    float s = 0;
    for (int j = 0; j < dim; j++) {
      float diff = qs.get(JAVA_FLOAT_UNALIGNED, qo + 4L * j) - fs.get(JAVA_FLOAT_UNALIGNED, fo + 4L * j);
      s += diff * diff;
    }
    return s;
  }

  /** Squared norm in float (any order: the margins cover it). */
  static float norm(MemorySegment s, long off, int dim) {
    float acc = 0;
    for (int j = 0; j < dim; j++) {
      float v = s.get(JAVA_FLOAT_UNALIGNED, off + 4L * j);
      acc += v * v;
    }
    return acc;
  }

  final int k;
  /** Kernels admit rows with a <= adm. */
  float adm = Float.POSITIVE_INFINITY;
  /** ||q||^2 as the kernels use it. */
  final float qq;
  private final double c;
  private final double eta;
  private final double xxmax;
  private final float[] norms;
  private final MemorySegment tombstones;
  private float[] a = new float[64];
  private int[] rows = new int[64];
  private int n;
  private int cap;

  FloatTopK(int k, float qq, double[] margin, float[] norms, double xxmax, MemorySegment tombstones) {
    this.k = k;
    this.qq = qq;
    this.c = margin[0];
    this.eta = margin[1];
    this.norms = norms;
    this.xxmax = xxmax;
    this.tombstones = tombstones;
    this.cap = 2 * k + 64;
  }

  void add(float av, int row) {
    if (n == cap) {
      cut();
      if (av > adm) {
        return;
      }
      if (n > cap / 2) {
        cap *= 2; // many rows within the margin of the k-th: grow rather than cut again soon
      }
    }
    if (n == a.length) {
      int len = Math.min(cap, Math.max(64, 2 * n));
      a = Arrays.copyOf(a, len);
      rows = Arrays.copyOf(rows, len);
    }
    a[n] = av;
    rows[n++] = row;
  }

  private boolean deleted(int row) {
    return tombstones.byteSize() != 0
        && (tombstones.getAtIndex(JAVA_LONG_UNALIGNED, row >>> 6) & (1L << row)) != 0;
  }

  /** Drops deleted rows, then rows whose lower bound exceeds the k-th upper bound. */
  private void cut() {
    int w = 0;
    for (int i = 0; i < n; i++) {
      a[w] = a[i];
      rows[w] = rows[i];
      w += deleted(rows[i]) ? 0 : 1;
    }
    n = w;
    if (n <= k) {
      return;
    }
    double t = kthUpper();
    w = 0;
    for (int i = 0; i < n; i++) {
      double lower = a[i] - c * (qq + (double) norms[rows[i]]) - eta;
      a[w] = a[i];
      rows[w] = rows[i];
      w += lower <= t ? 1 : 0;
    }
    n = w;
    adm = roundUp(t + c * (qq + xxmax) + eta);
  }

  private double kthUpper() {
    float[] u = new float[n];
    for (int i = 0; i < n; i++) {
      u[i] = upper(a[i], c * (qq + (double) norms[rows[i]]) + eta);
    }
    return kth(u, n, k - 1);
  }

  /** The m-th smallest (0-based) of v[0, n), which it reorders. */
  static float kth(float[] v, int n, int m) {
    int lo = 0;
    int hi = n - 1;
    while (lo < hi) {
      float pivot = v[(lo + hi) >>> 1];
      int i = lo;
      int j = hi;
      while (i <= j) {
        while (v[i] < pivot) {
          i++;
        }
        while (v[j] > pivot) {
          j--;
        }
        if (i <= j) {
          float x = v[i];
          v[i] = v[j];
          v[j] = x;
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
    return v[m];
  }

  static float roundUp(double x) {
    float f = (float) x;
    return f < x ? Math.nextUp(f) : f;
  }

  /**
   * The best min(k, candidates) by (reference distance, id): the candidates' reference distances
   * as float bits in {@code outBits}, their rows in {@code outRows}, their ids in {@code outIds};
   * returns the count. {@code cut} false ranks every candidate (infinite margins).
   */
  int finish(MemorySegment q, long qo, MemorySegment feats, int dim, MemorySegment ids, boolean cut, int[] outBits,
      long[] outIds, int[] outRows) {
    int w = 0;
    for (int i = 0; i < n; i++) {
      a[w] = a[i];
      rows[w] = rows[i];
      w += deleted(rows[i]) ? 0 : 1;
    }
    n = w;
    float[] b = new float[2 * n];
    for (int i = 0; i < n; i++) {
      bounds(a[i], cut ? c * (qq + (double) norms[rows[i]]) + eta : Double.POSITIVE_INFINITY, b, i);
    }
    return rank(q, qo, feats, dim, ids, b, 0, rows, 0, n, k, outBits, outIds, outRows);
  }

  /**
   * [a - margin, a + margin] rounded outwards to float, into b[2i] and b[2i + 1] (as bounds_of in
   * native/src/dh_l2.c): 2^-22 relative is more than a float rounding of a normal value, 2^-148
   * more than one of a subnormal. An infinite margin (or an a that is not a number: the norms
   * overflowed) gives (-inf, inf).
   */
  static void bounds(double a, double margin, float[] b, int i) {
    double lo = a - margin;
    b[2 * i] = lo == lo ? (float) (lo - Math.abs(lo) * 0x1p-22 - 0x1p-148) : Float.NEGATIVE_INFINITY;
    b[2 * i + 1] = upper(a, margin);
  }

  /** a + margin rounded up to float (see bounds). */
  static float upper(double a, double margin) {
    double hi = a + margin;
    return hi == hi ? (float) (hi + Math.abs(hi) * 0x1p-22 + 0x1p-148) : Float.POSITIVE_INFINITY;
  }

  /**
   * Ranks candidates i < n (table row rw[rAt + i], reference distance within the bounds
   * b[2 (bAt + i)] and b[2 (bAt + i) + 1]) exactly: keeps those whose lower bound is within the
   * k-th smallest upper bound, computes their reference distance and writes the best min(k, kept)
   * by (distance, id). {@code outIndex} receives the candidate indices i, not table rows, so callers
   * keep per-candidate data.
   */
  static int rank(MemorySegment q, long qo, MemorySegment feats, int dim, MemorySegment ids, float[] b, int bAt,
      int[] rw, int rAt, int n, int k, int[] outBits, long[] outIds, int[] outIndex) {
    float t = n > k ? kthUpper(b, bAt, n, k) : Float.POSITIVE_INFINITY;
    int[] kept = new int[n];
    int m = 0;
    for (int i = 0; i < n; i++) {
      kept[m] = i;
      m += b[2 * (bAt + i)] <= t ? 1 : 0;
    }
    // the kept rows' first bytes and ids requested together, so that their cache misses overlap
    // (the pass before streamed the table through the caches: these rows are rarely still there)
    float touch = 0;
    for (int j = 0; j < m; j++) {
      int row = rw[rAt + kept[j]];
      touch += feats.get(JAVA_FLOAT_UNALIGNED, (long) row * dim * 4) + ids.getAtIndex(JAVA_LONG_UNALIGNED, row);
    }
    int[] bits = new int[m];
    long[] key = new long[m];
    for (int j = 0; j < m; j++) {
      int row = rw[rAt + kept[j]];
      bits[j] = Float.floatToRawIntBits(reference(q, qo, feats, (long) row * dim * 4, dim));
      key[j] = ids.getAtIndex(JAVA_LONG_UNALIGNED, row);
    }
    Ranking.sort(bits, key, kept, 0, m);
    int out = Math.min(m, k);
    System.arraycopy(bits, 0, outBits, 0, out);
    System.arraycopy(key, 0, outIds, 0, out);
    System.arraycopy(kept, 0, outIndex, 0, out);
    sink = touch;
    return out;
  }

  /** Keeps {@link #rank}'s touches of memory from being optimised away. */
  @SuppressWarnings("unused")
  private static volatile float sink;

  /**
   * The k-th smallest upper bound b[2 (bAt + i) + 1], i < n (k < n). A small k keeps the k smallest
   * in a max-heap (most bounds fail the test against its top: one pass, no reordering); a large one
   * selects in a copy.
   */
  static float kthUpper(float[] b, int bAt, int n, int k) {
    if (k > 64) {
      float[] u = new float[n];
      for (int i = 0; i < n; i++) {
        u[i] = b[2 * (bAt + i) + 1];
      }
      return kth(u, n, k - 1);
    }
    float[] heap = new float[k];
    for (int i = 0; i < k; i++) {
      heap[i] = b[2 * (bAt + i) + 1];
    }
    for (int i = k / 2 - 1; i >= 0; i--) {
      siftDown(heap, i, k);
    }
    for (int i = k; i < n; i++) {
      float v = b[2 * (bAt + i) + 1];
      if (v < heap[0]) {
        heap[0] = v;
        siftDown(heap, 0, k);
      }
    }
    return heap[0];
  }

  /** Restores the max-heap order of h[0, size) below position i. */
  private static void siftDown(float[] h, int i, int size) {
    float v = h[i];
    while (true) {
      int c = 2 * i + 1;
      if (c >= size) {
        break;
      }
      if (c + 1 < size && h[c + 1] > h[c]) {
        c++;
      }
      if (h[c] <= v) {
        break;
      }
      h[i] = h[c];
      i = c;
    }
    h[i] = v;
  }

  /** Candidate i's table row (after {@link #finish}, for the indices it wrote). */
  int row(int i) {
    return rows[i];
  }
}
