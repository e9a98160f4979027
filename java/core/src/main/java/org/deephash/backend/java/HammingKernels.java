package org.deephash.backend.java;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.deephash.spi.TableView;

/**
 * Scans a block of queries against a range of rows, feeding each query's {@link TopK}. The code
 * row is loaded once and compared with every query of the block (register blocking), so the table
 * is streamed once per query block. Specialised for 64, 128 and 256 bits; a generic path reads
 * whole 64-bit words and masks the tail (the table has padding after the last code).
 */
final class HammingKernels {
  private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;

  private HammingKernels() {}

  /** Word w of code {@code index} in {@code seg}, masked to the code's bytes. */
  static long word(MemorySegment seg, long base, int w, int codeBytes) {
    long v = seg.get(JAVA_LONG_UNALIGNED, base + 8L * w);
    int left = codeBytes - 8 * w;
    return left >= 8 ? v : v & ((1L << (8 * left)) - 1);
  }

  static void scan(TableView t, MemorySegment qCodes, int q0, int qn, TopK[] st, int r0, int r1, boolean vector) {
    int cb = t.codeBytes();
    if (cb == 8) {
      if (vector) {
        scan64Vector(t, qCodes, q0, qn, st, r0, r1);
      } else {
        scan64(t, qCodes, q0, qn, st, r0, r1);
      }
    } else if (cb == 16) {
      scan128(t, qCodes, q0, qn, st, r0, r1);
    } else if (cb == 32) {
      scan256(t, qCodes, q0, qn, st, r0, r1);
    } else {
      scanGeneric(t, qCodes, q0, qn, st, r0, r1);
    }
  }

  private static int[] thresholds(TopK[] st, int qn) {
    int[] thr = new int[qn];
    for (int j = 0; j < qn; j++) {
      thr[j] = st[j].thr;
    }
    return thr;
  }

  private static void scan64(TableView t, MemorySegment qc, int q0, int qn, TopK[] st, int r0, int r1) {
    MemorySegment codes = t.codes();
    MemorySegment ids = t.ids();
    MemorySegment tomb = t.tombstones();
    long[] q = new long[qn];
    for (int j = 0; j < qn; j++) {
      q[j] = qc.get(JAVA_LONG_UNALIGNED, (q0 + j) * 8L);
    }
    int[] thr = thresholds(st, qn);
    for (int r = r0; r < r1; r++) {
      long c = codes.get(JAVA_LONG_UNALIGNED, r * 8L);
      for (int j = 0; j < qn; j++) {
        int d = Long.bitCount(c ^ q[j]);
        if (d <= thr[j]) {
          st[j].offer(d, r, ids, tomb);
          thr[j] = st[j].thr;
        }
      }
    }
  }

  /**
   * 64-bit codes, one vector of L codes against each query of the block. Wider codes stay scalar:
   * summing the words of a code across lanes (rearranges) measured slower than POPCNT on AVX2.
   */
  private static void scan64Vector(TableView t, MemorySegment qc, int q0, int qn, TopK[] st, int r0, int r1) {
    MemorySegment codes = t.codes();
    MemorySegment ids = t.ids();
    MemorySegment tomb = t.tombstones();
    long[] q = new long[qn];
    for (int j = 0; j < qn; j++) {
      q[j] = qc.get(JAVA_LONG_UNALIGNED, (q0 + j) * 8L);
    }
    int[] thr = thresholds(st, qn);
    int lanes = LONGS.length();
    int r = r0;
    for (; r + lanes <= r1; r += lanes) {
      LongVector c = LongVector.fromMemorySegment(LONGS, codes, r * 8L, ByteOrder.LITTLE_ENDIAN);
      for (int j = 0; j < qn; j++) {
        LongVector d = c.lanewise(VectorOperators.XOR, q[j]).lanewise(VectorOperators.BIT_COUNT);
        VectorMask<Long> m = d.compare(VectorOperators.LE, thr[j]);
        if (m.anyTrue()) {
          long bits = m.toLong();
          while (bits != 0) {
            int lane = Long.numberOfTrailingZeros(bits);
            bits &= bits - 1;
            int row = r + lane;
            st[j].offer(Long.bitCount(codes.get(JAVA_LONG_UNALIGNED, row * 8L) ^ q[j]), row, ids, tomb);
          }
          thr[j] = st[j].thr;
        }
      }
    }
    if (r < r1) {
      scan64(t, qc, q0, qn, st, r, r1);
    }
  }

  private static void scan128(TableView t, MemorySegment qc, int q0, int qn, TopK[] st, int r0, int r1) {
    MemorySegment codes = t.codes();
    MemorySegment ids = t.ids();
    MemorySegment tomb = t.tombstones();
    long[] q = new long[2 * qn];
    for (int j = 0; j < qn; j++) {
      q[2 * j] = qc.get(JAVA_LONG_UNALIGNED, (q0 + j) * 16L);
      q[2 * j + 1] = qc.get(JAVA_LONG_UNALIGNED, (q0 + j) * 16L + 8);
    }
    int[] thr = thresholds(st, qn);
    for (int r = r0; r < r1; r++) {
      long a = codes.get(JAVA_LONG_UNALIGNED, r * 16L);
      long b = codes.get(JAVA_LONG_UNALIGNED, r * 16L + 8);
      for (int j = 0; j < qn; j++) {
        int d = Long.bitCount(a ^ q[2 * j]) + Long.bitCount(b ^ q[2 * j + 1]);
        if (d <= thr[j]) {
          st[j].offer(d, r, ids, tomb);
          thr[j] = st[j].thr;
        }
      }
    }
  }

  private static void scan256(TableView t, MemorySegment qc, int q0, int qn, TopK[] st, int r0, int r1) {
    MemorySegment codes = t.codes();
    MemorySegment ids = t.ids();
    MemorySegment tomb = t.tombstones();
    long[] q = new long[4 * qn];
    for (int j = 0; j < 4 * qn; j++) {
      q[j] = qc.get(JAVA_LONG_UNALIGNED, q0 * 32L + 8L * j);
    }
    int[] thr = thresholds(st, qn);
    for (int r = r0; r < r1; r++) {
      long base = r * 32L;
      long a = codes.get(JAVA_LONG_UNALIGNED, base);
      long b = codes.get(JAVA_LONG_UNALIGNED, base + 8);
      long c = codes.get(JAVA_LONG_UNALIGNED, base + 16);
      long e = codes.get(JAVA_LONG_UNALIGNED, base + 24);
      for (int j = 0; j < qn; j++) {
        int o = 4 * j;
        int d = Long.bitCount(a ^ q[o]) + Long.bitCount(b ^ q[o + 1]) + Long.bitCount(c ^ q[o + 2])
            + Long.bitCount(e ^ q[o + 3]);
        if (d <= thr[j]) {
          st[j].offer(d, r, ids, tomb);
          thr[j] = st[j].thr;
        }
      }
    }
  }

  private static void scanGeneric(TableView t, MemorySegment qc, int q0, int qn, TopK[] st, int r0, int r1) {
    MemorySegment codes = t.codes();
    MemorySegment ids = t.ids();
    MemorySegment tomb = t.tombstones();
    int cb = t.codeBytes();
    int words = (cb + 7) / 8;
    long[] q = new long[words * qn];
    for (int j = 0; j < qn; j++) {
      for (int w = 0; w < words; w++) {
        q[j * words + w] = word(qc, (long) (q0 + j) * cb, w, cb);
      }
    }
    long[] c = new long[words];
    int[] thr = thresholds(st, qn);
    for (int r = r0; r < r1; r++) {
      long base = (long) r * cb;
      for (int w = 0; w < words; w++) {
        c[w] = word(codes, base, w, cb);
      }
      for (int j = 0; j < qn; j++) {
        int d = 0;
        int o = j * words;
        for (int w = 0; w < words; w++) {
          d += Long.bitCount(c[w] ^ q[o + w]);
        }
        if (d <= thr[j]) {
          st[j].offer(d, r, ids, tomb);
          thr[j] = st[j].thr;
        }
      }
    }
  }
}
