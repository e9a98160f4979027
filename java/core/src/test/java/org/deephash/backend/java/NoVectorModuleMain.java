package org.deephash.backend.java;

import java.util.SplittableRandom;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.testing.ParitySuite;
import org.deephash.testing.TestData;

/**
 * Run by {@link JavaBackendTest} in a JVM started without {@code jdk.incubator.vector}: "search"
 * opens the java backend twice, compares a Hamming and an exhaustive search with the oracle and
 * prints the device; "force" opens it with engine.java.vector=true (which must fail). "suite", in
 * a JVM with the module but other vector sizes (-XX:UseAVX=2), runs the Hamming parity suite at
 * 64 and 256 bits and the tied pools.
 */
public final class NoVectorModuleMain {
  private NoVectorModuleMain() {}

  public static void main(String[] args) {
    if (args[0].equals("suite")) {
      ParitySuite suite = new ParitySuite("java", 2);
      suite.hamming(64, 100003, 11, true);
      suite.hamming(256, 5000, 12);
      suite.exactEuclidean().tiedPools(13);
      try (CodeTable t = CodeTable.create(64, 0, false);
          GpuHashSearch s = GpuHashSearch.open(t, new SearchOptions("java", 2))) {
        System.out.println("device=" + s.device());
      }
      System.out.println("parity=ok");
      return;
    }
    SplittableRandom rnd = new SplittableRandom(7);
    int n = 5000;
    byte[] codes = TestData.codes(rnd, n, 16);
    long[] ids = TestData.ids(rnd, n);
    float[] feats = TestData.features(rnd, n, 9);
    byte[] q = TestData.queries(rnd, codes, n, 5, 16);
    float[] qf = TestData.features(rnd, 5, 9);
    try (CodeTable t = TestData.table(128, 9, codes, ids, feats);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        GpuHashSearch a = GpuHashSearch.open(t, new SearchOptions("java", 2));
        GpuHashSearch b = GpuHashSearch.open(t, new SearchOptions("java", 2))) {
      if (args[0].equals("force")) {
        return; // not reached: opening with engine.java.vector=true threw
      }
      SearchResult want = oracle.query(q, 17);
      ParitySuite.assertSame(want, a.query(q, 17), "no vector module");
      ParitySuite.assertSame(want, b.query(q, 17), "no vector module, second backend");
      ParitySuite.assertExactFloat(oracle.exhaustive(qf, 11), a.exhaustive(qf, 11), false, "no vector module");
      System.out.println("device=" + a.device());
      System.out.println("parity=ok");
    }
  }
}
