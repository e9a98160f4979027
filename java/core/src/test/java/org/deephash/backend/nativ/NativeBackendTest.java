package org.deephash.backend.nativ;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.deephash.BackendUnavailableException;
import org.deephash.Backends;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.testing.ParitySuite;
import org.deephash.testing.TestData;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The native backend: it must really load (unless {@code -Dengine.native.optional=true}, for
 * builds without a C toolchain), and the parity suite must pass with every instruction-set tier
 * this CPU supports forced in turn, so the scalar kernels are tested on an AVX2 machine too.
 */
class NativeBackendTest {
  private static final long SEED = Long.getLong("test.seed", 77_003L);
  private static final String OPTIONAL = "engine.native.optional";

  private static boolean loaded() {
    return new NativeBackendProvider().unavailableReasons().isEmpty();
  }

  private static void assumeLoaded() {
    Assumptions.assumeTrue(loaded() || !Boolean.getBoolean(OPTIONAL), "native library not built; " + OPTIONAL + "=true");
    assertTrue(loaded(), "the native backend did not load: " + new NativeBackendProvider().unavailableReasons());
  }

  @Test
  void libraryLoadsUnlessDeclaredOptional() {
    List<String> reasons = new NativeBackendProvider().unavailableReasons();
    if (Boolean.getBoolean(OPTIONAL)) {
      Assumptions.assumeTrue(reasons.isEmpty(), "native backend optional here and not available: " + reasons);
    }
    assertEquals(List.of(), reasons, "the native backend must load where cmake and a C compiler exist");
    assertEquals("native", Backends.byName("native").name());
    assertTrue(NativeBackendProvider.supportedTiers().contains("scalar"));
  }

  /**
   * Every tier except the one this JVM's native backend uses by default: org.deephash.ParityTest
   * already runs the whole suite on that one.
   */
  static Stream<Arguments> tierCases() {
    List<Arguments> out = new ArrayList<>();
    List<String> tiers = new ArrayList<>(NativeBackendProvider.supportedTiers());
    NativeLib.get().lib().ifPresent(lib -> tiers.remove(NativeLib.tierName(
        NativeBackendProvider.effectiveTier(lib.cpuTier(), NativeBackendProvider.tierCap()))));
    for (String tier : tiers) {
      for (int bits : ParitySuite.BITS) {
        for (int n : ParitySuite.SIZES) {
          out.add(Arguments.of(tier, bits, n));
        }
      }
    }
    return out.stream();
  }

  @ParameterizedTest(name = "tier={0} bits={1} n={2}")
  @MethodSource("tierCases")
  @Timeout(120)
  void hammingParityPerTier(String tier, int bits, int n) {
    assumeLoaded();
    withTier(tier, () -> {
      assertDevice(tier);
      // 3 threads: row ranges of unequal length, merged across parts
      new ParitySuite("native", 3).hamming(bits, n, SEED + bits * 131L + n);
    });
  }

  @ParameterizedTest(name = "tier={0}")
  @MethodSource("tiers")
  @Timeout(120)
  void euclideanParityPerTier(String tier) {
    assumeLoaded();
    withTier(tier, () -> {
      new ParitySuite("native", 2).exactEuclidean().euclidean(64, 1000, 16, SEED);
      new ParitySuite("native", 2).exactEuclidean().euclidean(200, 40000, 5, SEED + 1);
    });
  }

  /** The fine stage with and without the 8-bit copy of the features (see ParitySuite). */
  @ParameterizedTest(name = "sq8={0}")
  @ValueSource(booleans = {true, false})
  @Timeout(120)
  void coarseToFineWithAndWithoutTheEightBitCopy(boolean sq8) {
    assumeLoaded();
    new ParitySuite("native", 3).eightBitCopy(sq8, SEED + 7);
  }

  static Stream<String> tiers() {
    return NativeBackendProvider.supportedTiers().stream();
  }

  /** One query over many rows is split across threads, and the merge keeps the exact order. */
  @ParameterizedTest(name = "tier={0}")
  @MethodSource("tiers")
  void singleQuerySplitAcrossThreads(String tier) {
    assumeLoaded();
    withTier(tier, () -> {
      SplittableRandom rnd = new SplittableRandom(SEED);
      int n = 200_000;
      byte[] codes = TestData.codes(rnd, n, 8);
      long[] ids = TestData.ids(rnd, n);
      byte[] q = TestData.queries(rnd, codes, n, 1, 8);
      try (CodeTable t = TestData.table(64, 0, codes, ids, null);
          GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
          GpuHashSearch one = GpuHashSearch.open(t, new SearchOptions("native", 1));
          GpuHashSearch many = GpuHashSearch.open(t, new SearchOptions("native", 8))) {
        SearchResult e = oracle.query(q, 100);
        ParitySuite.assertSame(e, one.query(q, 100), "1 thread");
        ParitySuite.assertSame(e, many.query(q, 100), "8 threads");
        ParitySuite.assertSame(oracle.radius(q, 20, 7), many.radius(q, 20, 7), "radius 8 threads");
      }
    });
  }

  static Stream<Arguments> batchCases() {
    List<Arguments> out = new ArrayList<>();
    for (String tier : NativeBackendProvider.supportedTiers()) {
      for (int bits : new int[] {8, 24, 64, 128, 200, 256, 512}) {
        out.add(Arguments.of(tier, bits));
      }
    }
    return out.stream();
  }

  /** A batch of queries (100) takes the planar kernel at every width up to 512 bits. */
  @ParameterizedTest(name = "tier={0} bits={1}")
  @MethodSource("batchCases")
  @Timeout(120)
  void batchOfQueriesMatchesOracle(String tier, int bits) {
    assumeLoaded();
    withTier(tier, () -> {
      SplittableRandom rnd = new SplittableRandom(SEED ^ bits);
      int n = 3000;
      int cb = bits / 8;
      byte[] codes = TestData.codes(rnd, n, cb);
      long[] ids = TestData.ids(rnd, n);
      byte[] q = TestData.queries(rnd, codes, n, 100, cb);
      try (CodeTable t = TestData.table(bits, 0, codes, ids, null);
          GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
          GpuHashSearch fast = GpuHashSearch.open(t, new SearchOptions("native", 2))) {
        for (int k : new int[] {1, 10, 257}) {
          ParitySuite.assertSame(oracle.query(q, k), fast.query(q, k), "tier=" + tier + " bits=" + bits + " k=" + k);
        }
        ParitySuite.assertSame(oracle.radius(q, bits / 3, 20), fast.radius(q, bits / 3, 20), "radius bits=" + bits);
        for (int i = 0; i < n; i += 7) {
          t.delete(ids[i]);
        }
        ParitySuite.assertSame(oracle.query(q, 10), fast.query(q, 10), "after deletes bits=" + bits);
      }
    });
  }

  @Test
  void badEightBitCopySettingIsReported() {
    String old = System.getProperty(NativeBackendProvider.SQ8_PROPERTY);
    System.setProperty(NativeBackendProvider.SQ8_PROPERTY, "yes");
    try {
      assertTrue(new NativeBackendProvider().unavailableReasons().contains(
          NativeBackendProvider.SQ8_PROPERTY + "=yes is not true or false"));
      assertThrows(BackendUnavailableException.class, () -> new NativeBackendProvider().create(1));
    } finally {
      if (old == null) {
        System.clearProperty(NativeBackendProvider.SQ8_PROPERTY);
      } else {
        System.setProperty(NativeBackendProvider.SQ8_PROPERTY, old);
      }
    }
  }

  @Test
  void badTierIsReportedAndForcedBackendThrows() {
    String old = System.getProperty(NativeBackendProvider.TIER_PROPERTY);
    System.setProperty(NativeBackendProvider.TIER_PROPERTY, "sse9");
    try {
      assertTrue(new NativeBackendProvider().unavailableReasons().stream().anyMatch(r -> r.contains("sse9")));
      BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.byName("native"));
      assertTrue(e.getMessage().contains("not one of scalar, avx2, avx512"), e.getMessage());
    } finally {
      restore(old);
    }
  }

  @Test
  void tierCapNeverExceedsTheCpu() {
    assertEquals(NativeLib.TIER_SCALAR, NativeBackendProvider.effectiveTier(NativeLib.TIER_AVX2, "scalar"));
    assertEquals(NativeLib.TIER_AVX2, NativeBackendProvider.effectiveTier(NativeLib.TIER_AVX2, "avx512"));
    assertEquals(NativeLib.TIER_AVX512, NativeBackendProvider.effectiveTier(NativeLib.TIER_AVX512, null));
  }

  @Test
  void statusCodesMapToExceptions() {
    NativeLib.check(0, "f", 1);
    assertThrows(IllegalArgumentException.class, () -> NativeLib.check(-1, "f", 1));
    assertThrows(OutOfMemoryError.class, () -> NativeLib.check(-2, "f", 1));
    assertThrows(UnsupportedOperationException.class, () -> NativeLib.check(-3, "f", 3));
    assertThrows(IllegalStateException.class, () -> NativeLib.check(-99, "f", 1));
  }

  private static void assertDevice(String tier) {
    try (CodeTable t = CodeTable.create(64, 0, false);
        GpuHashSearch s = GpuHashSearch.open(t, SearchOptions.defaults().withBackend("native"))) {
      assertTrue(s.device().startsWith("native " + tier), "tier not applied: " + s.device());
    }
  }

  private static void withTier(String tier, Runnable body) {
    String old = System.getProperty(NativeBackendProvider.TIER_PROPERTY);
    System.setProperty(NativeBackendProvider.TIER_PROPERTY, tier);
    try {
      body.run();
    } finally {
      restore(old);
    }
  }

  private static void restore(String old) {
    if (old == null) {
      System.clearProperty(NativeBackendProvider.TIER_PROPERTY);
    } else {
      System.setProperty(NativeBackendProvider.TIER_PROPERTY, old);
    }
  }
}
