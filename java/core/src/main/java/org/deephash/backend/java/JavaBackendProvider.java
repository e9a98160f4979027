package org.deephash.backend.java;

import java.util.List;
import jdk.incubator.vector.LongVector;
import org.deephash.spi.BackendProvider;
import org.deephash.spi.SearchBackend;

/**
 * The pure-Java backend (name {@code java}): always available. The property {@code
 * engine.java.vector=true|false} overrides the choice of vector or scalar popcount.
 */
public final class JavaBackendProvider implements BackendProvider {
  @Override
  public String name() {
    return "java";
  }

  @Override
  public int priority() {
    return 10;
  }

  @Override
  public List<String> unavailableReasons() {
    return List.of();
  }

  @Override
  public SearchBackend create(int threads) {
    return new JavaBackend(threads, useVectorPopcount());
  }

  /**
   * Vector popcount wherever vectors hold at least 4 longs (AVX2, AVX-512): measured 4x faster
   * than scalar POPCNT on an AVX2 machine (1M x 64-bit codes, 1000 queries), where C2 builds the
   * popcount from byte lookups; with VPOPCNTDQ it is a single instruction.
   */
  static boolean useVectorPopcount() {
    String forced = System.getProperty("engine.java.vector");
    if (forced != null) {
      return Boolean.parseBoolean(forced);
    }
    return LongVector.SPECIES_PREFERRED.length() >= 4;
  }
}
