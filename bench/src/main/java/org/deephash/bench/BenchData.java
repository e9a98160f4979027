package org.deephash.bench;

import java.util.SplittableRandom;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;

/** Random tables and queries with independent seeds, and the oracle check done before any timing. */
final class BenchData {
  static final long TABLE_SEED = 1L;
  static final long QUERY_SEED = 2L;

  private BenchData() {}

  static byte[] randomCodes(long seed, int n, int codeBytes) {
    byte[] b = new byte[n * codeBytes];
    SplittableRandom rnd = new SplittableRandom(seed);
    for (int i = 0; i < b.length; i += 8) {
      long v = rnd.nextLong();
      for (int j = 0; j < 8 && i + j < b.length; j++) {
        b[i + j] = (byte) (v >>> (8 * j));
      }
    }
    return b;
  }

  /**
   * Random codes, features (where dim > 0) and queries of the loops that time whole searches
   * (SideBySide, SearchLoop), all from one stream.
   */
  record Searches(byte[] codes, float[] features, byte[] queries, float[] queryFeatures) {
    static Searches random(int rows, int queries, int bits, int dim) {
      SplittableRandom rnd = new SplittableRandom(QUERY_SEED);
      byte[] codes = new byte[rows * (bits / 8)];
      rnd.nextBytes(codes);
      float[] features = dim > 0 ? floats(rnd, rows * dim) : null;
      byte[] q = new byte[queries * (bits / 8)];
      rnd.nextBytes(q);
      return new Searches(codes, features, q, dim > 0 ? floats(rnd, queries * dim) : null);
    }

    private static float[] floats(SplittableRandom rnd, int n) {
      float[] f = new float[n];
      for (int i = 0; i < n; i++) {
        f[i] = (float) rnd.nextDouble();
      }
      return f;
    }
  }

  static CodeTable table(int bits, int n) {
    CodeTable t = CodeTable.create(bits, 0, false, n);
    t.addAll(null, randomCodes(TABLE_SEED, n, bits / 8), null, null);
    return t;
  }

  /** Throws unless the first query's top-k equals the scalar oracle's (distances and ids). */
  static void checkAgainstOracle(CodeTable t, GpuHashSearch s, byte[] queries, int k) {
    byte[] first = java.util.Arrays.copyOf(queries, t.codeBytes());
    try (GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1))) {
      SearchResult e = oracle.query(first, k);
      SearchResult a = s.query(first, k);
      if (!java.util.Arrays.equals(e.hammings(0), a.hammings(0)) || !java.util.Arrays.equals(e.ids(0), a.ids(0))) {
        throw new IllegalStateException(s.backendName() + " disagrees with the oracle: " + java.util.Arrays.toString(
            a.hammings(0)) + " vs " + java.util.Arrays.toString(e.hammings(0)));
      }
    }
  }
}
