package org.deephash;

/**
 * Options of a {@link GpuHashSearch}.
 *
 * @param backend backend name ({@code java}, {@code native}, {@code cuda}, {@code scalar}), or
 *     null for the one chosen for this JVM (property {@code engine.backend}, else the best that loads)
 * @param threads CPU threads a search may use; 0 means every available processor
 * @param method how the Hamming stage finds codes: {@code auto}, {@code scan} or {@code mih}
 *     (multi-index tables, {@link CodeTable#buildMultiIndex}); null for the property
 *     {@code engine.method}, else auto. The scalar oracle always scans.
 */
public record SearchOptions(String backend, int threads, String method) {

  public SearchOptions {
    if (threads < 0) {
      throw new IllegalArgumentException("threads must be >= 0 (0 = all cores), passed " + threads);
    }
    if (method != null && !method.equals("auto") && !method.equals("scan") && !method.equals("mih")) {
      throw new IllegalArgumentException("method must be auto, scan or mih (passed '" + method + "')");
    }
  }

  public SearchOptions(String backend, int threads) {
    this(backend, threads, null);
  }

  public SearchOptions withMethod(String m) {
    return new SearchOptions(backend, threads, m);
  }

  public static SearchOptions defaults() {
    return new SearchOptions(null, 0);
  }

  public SearchOptions withBackend(String name) {
    return new SearchOptions(name, threads, method);
  }

  public SearchOptions withThreads(int n) {
    return new SearchOptions(backend, n, method);
  }

  int resolvedThreads() {
    return threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
  }
}
