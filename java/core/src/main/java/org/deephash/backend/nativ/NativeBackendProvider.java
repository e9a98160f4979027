package org.deephash.backend.nativ;

import java.util.ArrayList;
import java.util.List;
import org.deephash.BackendUnavailableException;
import org.deephash.internal.Rerank;
import org.deephash.spi.BackendProvider;
import org.deephash.spi.SearchBackend;

/**
 * The native SIMD backend ({@code engine.backend=native}): the C kernels of {@code native/},
 * bound through the FFM API, with the instruction-set tier picked at run time (AVX-512 VPOPCNTQ,
 * AVX2, scalar POPCNT).
 *
 * <p>The property {@code engine.native.tier} (or the environment variable {@code
 * DEEPHASH_NATIVE_TIER}) caps the tier: {@code scalar}, {@code avx2} or {@code avx512}; a cap above
 * what the CPU supports has no effect. It is read when a backend is created, so tests can run
 * every tier in turn.
 *
 * <pre>{@code
 * // java -Dengine.backend=native -Dengine.native.tier=avx2 ...
 * try (GpuHashSearch s = GpuHashSearch.open(table, SearchOptions.defaults().withBackend("native"))) {
 *   System.out.println(s.device()); // native avx2, 2 threads
 * }
 * }</pre>
 */
public final class NativeBackendProvider implements BackendProvider {
  public static final String TIER_PROPERTY = "engine.native.tier";
  public static final String TIER_ENV = "DEEPHASH_NATIVE_TIER";
  /** See {@link Rerank#SQ8_PROPERTY}. */
  public static final String SQ8_PROPERTY = Rerank.SQ8_PROPERTY;

  @Override
  public String name() {
    return "native";
  }

  @Override
  public int priority() {
    return 20;
  }

  @Override
  public List<String> unavailableReasons() {
    List<String> reasons = new ArrayList<>(NativeLib.get().reasons());
    String cap = tierCap();
    if (cap != null && NativeLib.tierOf(cap) < 0) {
      reasons.add(TIER_PROPERTY + "=" + cap + " is not one of scalar, avx2, avx512");
    }
    String sq8 = Rerank.sq8Problem();
    if (sq8 != null) {
      reasons.add(sq8);
    }
    return reasons;
  }

  @Override
  public SearchBackend create(int threads) {
    List<String> reasons = unavailableReasons();
    if (!reasons.isEmpty()) {
      throw new BackendUnavailableException(name(), reasons);
    }
    NativeLib lib = NativeLib.get().lib().orElseThrow();
    return new NativeBackend(lib, effectiveTier(lib.cpuTier(), tierCap()), threads, Rerank.sq8Enabled());
  }

  /** The tiers this machine can run, lowest first; empty when the library did not load. */
  public static List<String> supportedTiers() {
    return NativeLib.get().lib().map(lib -> {
      List<String> names = new ArrayList<>();
      for (int t = NativeLib.TIER_SCALAR; t <= lib.cpuTier(); t++) {
        names.add(NativeLib.tierName(t));
      }
      return List.copyOf(names);
    }).orElse(List.of());
  }

  static String tierCap() {
    String cap = System.getProperty(TIER_PROPERTY);
    if (cap == null || cap.isBlank()) {
      cap = System.getenv(TIER_ENV);
    }
    return cap == null || cap.isBlank() ? null : cap.trim();
  }

  static int effectiveTier(int cpuTier, String cap) {
    return cap == null ? cpuTier : Math.min(cpuTier, NativeLib.tierOf(cap));
  }
}
