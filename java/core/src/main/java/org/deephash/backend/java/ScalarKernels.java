package org.deephash.backend.java;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.MemorySegment;
import org.deephash.spi.TableView;

/**
 * The Java backend's loops without the Vector API (a JVM without {@code jdk.incubator.vector}, or
 * {@code engine.java.vector=false}): {@code Long.bitCount} per 64-bit word, each code word loaded
 * once per block of queries, specialised for 64, 128 and 256 bits; plain float loops for the
 * Euclidean stages.
 */
final class ScalarKernels implements Kernels {

  @Override
  public String describe() {
    return "scalar popcount";
  }

  /** Word w of the code at byte {@code base} of {@code seg}, masked to the code's bytes. */
  static long word(MemorySegment seg, long base, int w, int codeBytes) {
    long v = seg.get(JAVA_LONG_UNALIGNED, base + 8L * w);
    int left = codeBytes - 8 * w;
    return left >= 8 ? v : v & ((1L << (8 * left)) - 1);
  }

  private static int[] thresholds(TopK[] st, int qn) {
    int[] thr = new int[qn];
    for (int j = 0; j < qn; j++) {
      thr[j] = st[j].thr;
    }
    return thr;
  }

  @Override
  public void hamming(TableView t, MemorySegment qc, int q0, int qn, TopK[] st, int r0, int r1, Scratch scratch) {
    switch (t.codeBytes()) {
      case 8 -> scan64(t, qc, q0, qn, st, r0, r1);
      case 16 -> scan128(t, qc, q0, qn, st, r0, r1);
      case 32 -> scan256(t, qc, q0, qn, st, r0, r1);
      default -> scanGeneric(t, qc, q0, qn, st, r0, r1);
    }
  }

  static void scan64(TableView t, MemorySegment qc, int q0, int qn, TopK[] st, int r0, int r1) {
    MemorySegment codes = t.codes();
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
          st[j].add(d, r);
          thr[j] = st[j].thr;
        }
      }
    }
  }

  private static void scan128(TableView t, MemorySegment qc, int q0, int qn, TopK[] st, int r0, int r1) {
    MemorySegment codes = t.codes();
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
          st[j].add(d, r);
          thr[j] = st[j].thr;
        }
      }
    }
  }

  private static void scan256(TableView t, MemorySegment qc, int q0, int qn, TopK[] st, int r0, int r1) {
    MemorySegment codes = t.codes();
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
          st[j].add(d, r);
          thr[j] = st[j].thr;
        }
      }
    }
  }

  static void scanGeneric(TableView t, MemorySegment qc, int q0, int qn, TopK[] st, int r0, int r1) {
    MemorySegment codes = t.codes();
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
          st[j].add(d, r);
          thr[j] = st[j].thr;
        }
      }
    }
  }

  @Override
  public void euclidean(TableView t, float[] norms, float[] queries, int q0, int qn, FloatTopK[] st, int r0, int r1,
      Scratch scratch) {
    MemorySegment f = t.features();
    int dim = t.dim();
    for (int r = r0; r < r1; r++) {
      long fo = (long) r * dim * 4;
      float xx = norms[r];
      for (int j = 0; j < qn; j++) {
        int qo = (q0 + j) * dim;
        float dot = 0;
        for (int p = 0; p < dim; p++) {
          dot += queries[qo + p] * f.get(JAVA_FLOAT_UNALIGNED, fo + 4L * p);
        }
        float a = (st[j].qq + xx) - 2 * dot;
        if (a <= st[j].adm) {
          st[j].add(a, r);
        }
      }
    }
  }

  @Override
  public void dots(MemorySegment f, int dim, int[] rows, int[] qOffs, int n, float[] queries, float[] out) {
    for (int i = 0; i < n; i++) {
      long fo = (long) rows[i] * dim * 4;
      int qo = qOffs[i];
      float dot = 0;
      for (int p = 0; p < dim; p++) {
        dot += queries[qo + p] * f.get(JAVA_FLOAT_UNALIGNED, fo + 4L * p);
      }
      out[i] = dot;
    }
  }

  @Override
  public void dots8(MemorySegment codes, int dim, int[] rows, int[] qOffs, int n, float[] queries, float[] out) {
    for (int i = 0; i < n; i++) {
      long co = (long) rows[i] * dim;
      int qo = qOffs[i];
      float dot = 0;
      for (int p = 0; p < dim; p++) {
        dot += queries[qo + p] * (codes.get(JAVA_BYTE, co + p) & 0xFF);
      }
      out[i] = dot;
    }
  }
}
