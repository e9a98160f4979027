package org.deephash.testing;

import java.util.SplittableRandom;
import org.deephash.CodeTable;

/**
 * Random tables for parity tests: duplicate codes, clustered codes (many equal distances) and
 * ids that are unique but neither sorted nor positive, so the tie rule (ascending id) is exercised
 * independently of row order.
 */
public final class TestData {
  private TestData() {}

  public static byte[] codes(SplittableRandom rnd, int n, int codeBytes) {
    byte[] c = new byte[n * codeBytes];
    for (int i = 0; i < n; i++) {
      int mode = rnd.nextInt(8);
      if (mode == 0 && i > 0) {
        // an exact duplicate of an earlier row
        System.arraycopy(c, rnd.nextInt(i) * codeBytes, c, i * codeBytes, codeBytes);
      } else if (mode == 1) {
        // a sparse code: few bits set, so distances cluster and tie
        for (int b = 0; b < codeBytes; b++) {
          c[i * codeBytes + b] = (byte) (rnd.nextInt(16) == 0 ? 1 << rnd.nextInt(8) : 0);
        }
      } else {
        for (int b = 0; b < codeBytes; b++) {
          c[i * codeBytes + b] = (byte) rnd.nextInt(256);
        }
      }
    }
    return c;
  }

  /** Unique ids in shuffled order, negative ones and extremes included. */
  public static long[] ids(SplittableRandom rnd, int n) {
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = (long) i * 7919L - 3L * n;
    }
    if (n > 2) {
      ids[0] = Long.MAX_VALUE;
      ids[1] = Long.MIN_VALUE + 1;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      long t = ids[i];
      ids[i] = ids[j];
      ids[j] = t;
    }
    return ids;
  }

  public static float[] features(SplittableRandom rnd, int n, int dim) {
    float[] f = new float[n * dim];
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) (rnd.nextDouble() * 2 - 1);
    }
    return f;
  }

  /** Queries: some copies of table rows (distance 0), some random. */
  public static byte[] queries(SplittableRandom rnd, byte[] tableCodes, int n, int q, int codeBytes) {
    byte[] out = codes(rnd, q, codeBytes);
    for (int i = 0; i < q; i += 2) {
      if (n > 0) {
        System.arraycopy(tableCodes, rnd.nextInt(n) * codeBytes, out, i * codeBytes, codeBytes);
      }
    }
    return out;
  }

  public static CodeTable table(int bits, int dim, byte[] codes, long[] ids, float[] features) {
    CodeTable t = CodeTable.create(bits, dim, false, Math.max(1, ids.length));
    t.addAll(ids, codes, features, null);
    return t;
  }
}
