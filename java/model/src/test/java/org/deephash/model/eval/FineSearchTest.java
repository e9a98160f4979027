package org.deephash.model.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.junit.jupiter.api.Test;

/**
 * The coarse-to-fine search over an index with each fine stage, against a plain reference: every
 * row's Hamming distance by bit count, the pool = the m nearest (ties by id), the pool sorted by
 * the stage's key. The latent activations come from a hash layer applied to the index's F7 rows.
 */
class FineSearchTest {
  private static final int N = 700;
  private static final int Q = 12;
  private static final int DIM = 5;
  private static final int BITS = 16;

  /** A toy hash layer: H_j = sigmoid(sum_d F7_d * ((j + d) % 3 - 1)). */
  private static float[] latentOf(float[] f7, int n) {
    float[] out = new float[n * BITS];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < BITS; j++) {
        double s = 0;
        for (int d = 0; d < DIM; d++) {
          s += f7[i * DIM + d] * ((j + d) % 3 - 1);
        }
        out[i * BITS + j] = (float) (1 / (1 + Math.exp(-s)));
      }
    }
    return out;
  }

  @Test
  void everyStageEqualsThePlainReference() {
    SplittableRandom rnd = new SplittableRandom(11);
    float[] f7 = new float[N * DIM];
    byte[] codes = new byte[N * 2];
    for (int i = 0; i < N; i++) {
      for (int d = 0; d < DIM; d++) {
        f7[i * DIM + d] = (float) rnd.nextGaussian() + (i % 4);
      }
      // few distinct codes: many Hamming ties, so the ties-only stages matter
      int c = 1 << rnd.nextInt(16) | 1 << rnd.nextInt(16) | (i % 4) * 0x1111;
      codes[2 * i] = (byte) c;
      codes[2 * i + 1] = (byte) (c >>> 8);
    }
    float[] qf7 = new float[Q * DIM];
    byte[] qc = new byte[Q * 2];
    for (int i = 0; i < Q; i++) {
      for (int d = 0; d < DIM; d++) {
        qf7[i * DIM + d] = (float) rnd.nextGaussian() + (i % 4);
      }
      int c = (i % 4) * 0x1111 ^ 1 << rnd.nextInt(16);
      qc[2 * i] = (byte) c;
      qc[2 * i + 1] = (byte) (c >>> 8);
    }
    int m = 150;
    int k = 40;
    try (CodeTable t = CodeTable.create(BITS, DIM, false, N)) {
      // ids are not row numbers: the search must go from ids to rows
      long[] ids = new long[N];
      for (int i = 0; i < N; i++) {
        ids[i] = 1000L + 3L * i;
      }
      t.addAll(ids, codes, f7, null);
      try (GpuHashSearch s = GpuHashSearch.open(t)) {
        for (FineStage stage : FineStage.values()) {
          SearchResult r = FineSearch.search(s, t, stage, FineSearchTest::latentOf, BITS, qc, qf7, Pool.topM(m), k);
          for (int q = 0; q < Q; q++) {
            long[] want = reference(stage, codes, f7, qc, qf7, q, m, k, ids);
            assertArrayEquals(want, r.ids(q), stage.key() + ", query " + q);
            assertEquals(stage != FineStage.NONE, r.hasDistances(), stage.key());
          }
        }
        assertThrows(IllegalArgumentException.class,
            () -> FineSearch.search(s, t, FineStage.LATENT, null, BITS, qc, qf7, Pool.topM(m), k));
      }
    }
  }

  private static long[] reference(FineStage stage, byte[] codes, float[] f7, byte[] qc, float[] qf7, int q, int m,
      int k, long[] ids) {
    int qcode = (qc[2 * q] & 0xff) | (qc[2 * q + 1] & 0xff) << 8;
    int[] ham = new int[N];
    Integer[] all = new Integer[N];
    for (int i = 0; i < N; i++) {
      int c = (codes[2 * i] & 0xff) | (codes[2 * i + 1] & 0xff) << 8;
      ham[i] = Integer.bitCount(c ^ qcode);
      all[i] = i;
    }
    Arrays.sort(all, (a, b) -> ham[a] != ham[b] ? Integer.compare(ham[a], ham[b]) : Long.compare(ids[a], ids[b]));
    Integer[] pool = Arrays.copyOf(all, m);
    float[] qrow = Arrays.copyOfRange(qf7, q * DIM, (q + 1) * DIM);
    double[] key = new double[N];
    for (int i : pool) {
      float[] row = Arrays.copyOfRange(f7, i * DIM, (i + 1) * DIM);
      key[i] = switch (stage) {
        case F7 -> squared(row, qrow);
        case F7_NORM, F7_NORM_TIES -> squared(unit(row), unit(qrow));
        case LATENT, LATENT_TIES -> squared(latentOf(row, 1), latentOf(qrow, 1));
        case NONE -> 0;
      };
    }
    Arrays.sort(pool, (a, b) -> {
      if (stage.tiesOnly() && ham[a] != ham[b]) {
        return Integer.compare(ham[a], ham[b]);
      }
      int c = Double.compare(key[a], key[b]);
      return c != 0 ? c : Long.compare(ids[a], ids[b]);
    });
    long[] out = new long[k];
    for (int j = 0; j < k; j++) {
      out[j] = ids[pool[j]];
    }
    return out;
  }

  private static float[] unit(float[] v) {
    double s = 0;
    for (float x : v) {
      s += x * x;
    }
    float[] out = v.clone();
    for (int i = 0; i < out.length; i++) {
      out[i] /= (float) Math.sqrt(s);
    }
    return out;
  }

  private static double squared(float[] a, float[] b) {
    double s = 0;
    for (int i = 0; i < a.length; i++) {
      double t = a[i] - b[i];
      s += t * t;
    }
    return s;
  }
}
