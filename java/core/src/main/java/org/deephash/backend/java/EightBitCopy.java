package org.deephash.backend.java;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.lang.foreign.MemorySegment;

/**
 * The 8-bit copy of the feature rows that the java backend's coarse-to-fine first pass reads: a
 * quarter of the bytes of the float features, so the pass streams 4x less memory (the same copy,
 * layout and bound as the native core's dh_l2_sq8 in native/src/dh_l2.c, which holds the proof).
 *
 * <p>Per row: lo = min x_d, step = (max x_d - lo) / 255, c_d = round((x_d - lo) / step) in one
 * unsigned byte, so x^_d = lo + step c_d is within step / 2 of x_d; err = ||x - x^|| in double.
 * The first pass computes q.x^ = lo sum(q) + step (q.c), whose float rounding is within
 * gamma ||q|| h with h = sqrt(dim) |lo| + step ||c||; the row's bound is err + 4 gamma_{dim+4} h,
 * rounded up with room to spare, and |q.x - q.x^| <= ||q|| bound (Cauchy-Schwarz plus the
 * rounding). A row whose range overflows float gets an infinite bound: it is always ranked by its
 * reference distance. Params per row: lo, step, bound, and the row's squared norm (beside the
 * others, so that one cache line serves an entry).
 */
final class EightBitCopy {
  final MemorySegment codes;
  final float[] params;
  final int rows;

  EightBitCopy(MemorySegment codes, float[] params, int rows) {
    this.codes = codes;
    this.params = params;
    this.rows = rows;
  }

  /** Encodes rows [r0, r1) of {@code f} (dim floats each, squared norms in {@code norms}). */
  static void encode(MemorySegment f, int dim, float[] norms, int r0, int r1, MemorySegment codes, float[] params) {
    double[] margin = FloatTopK.margin(dim);
    double g4 = 4 * margin[0] / 5; // 4 gamma_{dim+4}
    double eta = margin[1];
    for (int r = r0; r < r1; r++) {
      long x = (long) r * dim * 4;
      long o = (long) r * dim;
      float lo = f.get(JAVA_FLOAT_UNALIGNED, x);
      float hi = lo;
      for (int d = 1; d < dim; d++) {
        float v = f.get(JAVA_FLOAT_UNALIGNED, x + 4L * d);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
      }
      float step = (hi - lo) / 255.0f;
      boolean finite = step - step == 0;
      double err2 = 0;
      double cc = 0;
      for (int d = 0; d < dim; d++) {
        double v = f.get(JAVA_FLOAT_UNALIGNED, x + 4L * d);
        int c = 0;
        if (step > 0 && finite) {
          double t = (v - lo) * (1.0 / step) + 0.5;
          c = t <= 0 ? 0 : t >= 255 ? 255 : (int) t;
        }
        codes.set(JAVA_BYTE, o + d, (byte) c);
        double e = v - ((double) lo + (double) step * c);
        err2 += e * e;
        cc += (double) c * c;
      }
      double bound = (Math.sqrt(err2) + g4 * (Math.sqrt(dim) * Math.abs((double) lo) + (double) step * Math.sqrt(cc)))
          * (1 + 1e-6) + eta;
      params[4 * r] = lo;
      params[4 * r + 1] = step;
      params[4 * r + 2] = finite ? FloatTopK.roundUp(bound) : Float.POSITIVE_INFINITY;
      params[4 * r + 3] = norms[r];
    }
  }
}
