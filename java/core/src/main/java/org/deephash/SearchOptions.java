package org.deephash;

/**
 * Options of a {@link GpuHashSearch}.
 *
 * @param backend backend name ({@code java}, {@code native}, {@code cuda}, {@code scalar}), or
 *     null for the one chosen for this JVM (property {@code engine.backend}, else the best that loads)
 * @param threads CPU threads a search may use; 0 means every available processor
 */
public record SearchOptions(String backend, int threads) {

  public SearchOptions {
    if (threads < 0) {
      throw new IllegalArgumentException("threads must be >= 0 (0 = all cores), passed " + threads);
    }
  }

  public static SearchOptions defaults() {
    return new SearchOptions(null, 0);
  }

  public SearchOptions withBackend(String name) {
    return new SearchOptions(name, threads);
  }

  public SearchOptions withThreads(int n) {
    return new SearchOptions(backend, n);
  }

  int resolvedThreads() {
    return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
  }
}
