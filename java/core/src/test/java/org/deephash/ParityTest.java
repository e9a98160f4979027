package org.deephash;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.deephash.spi.BackendProvider;
import org.deephash.testing.ParitySuite;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The parity suite against every backend this machine can run (the oracle excepted). */
class ParityTest {
  private static final long SEED = Long.getLong("test.seed", 20261123L);

  static List<String> backends() {
    List<String> out = new ArrayList<>();
    for (BackendProvider p : Backends.available()) {
      if (!p.name().equals("scalar")) {
        out.add(p.name());
      }
    }
    // the multi-index tables sit in the facade: one backend with them forced covers them
    out.add("java" + ParitySuite.MIH);
    return out;
  }

  static Stream<Arguments> hammingCases() {
    List<Arguments> out = new ArrayList<>();
    for (String b : backends()) {
      for (int bits : ParitySuite.BITS) {
        for (int n : ParitySuite.SIZES) {
          out.add(Arguments.of(b, bits, n));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0} bits={1} n={2}")
  @MethodSource("hammingCases")
  @Timeout(120)
  void hammingMatchesOracle(String backend, int bits, int n) {
    new ParitySuite(backend, 2).hamming(bits, n, SEED + bits * 31L + n);
    // one thread takes the unsplit path
    if (n == 1000) {
      new ParitySuite(backend, 1).hamming(bits, n, SEED + bits);
    }
    if (n == 100003) {
      new ParitySuite(backend, 2).hamming(bits, n, SEED + bits * 17L, true);
    }
  }

  static Stream<Arguments> euclideanCases() {
    List<Arguments> out = new ArrayList<>();
    for (String b : backends()) {
      out.add(Arguments.of(b, 64, 1000, 16));
      out.add(Arguments.of(b, 48, 7, 3));
      out.add(Arguments.of(b, 128, 1, 33));
      out.add(Arguments.of(b, 24, 20000, 7));
      out.add(Arguments.of(b, 256, 0, 8));
      out.add(Arguments.of(b, 64, 3000, 128));
      out.add(Arguments.of(b, 128, 5000, 17));
    }
    return out.stream();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("backends")
  @Timeout(120)
  void tiedPoolsMatchOracle(String backend) {
    ParitySuite suite = new ParitySuite(backend, 2);
    if (backend.startsWith("java") || backend.equals("native")) {
      suite = suite.exactEuclidean();
    }
    suite.tiedPools(SEED ^ 0x7e1d);
  }

  @ParameterizedTest(name = "{0} bits={1} n={2} d={3}")
  @MethodSource("euclideanCases")
  @Timeout(120)
  void euclideanMatchesOracle(String backend, int bits, int n, int dim) {
    ParitySuite suite = new ParitySuite(backend, 2);
    // java and native rank by the oracle's own sums: bit-identical distances (a GPU's GEMM may round)
    if (backend.equals("java") || backend.equals("native")) {
      suite = suite.exactEuclidean();
    }
    suite.euclidean(bits, n, dim, SEED ^ (bits * 131L + n));
  }
}
