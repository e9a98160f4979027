package org.deephash.spi;

import java.util.List;

/**
 * Makes {@link SearchBackend}s; found with {@link java.util.ServiceLoader}. A provider that
 * cannot work in this environment (no GPU, no native library) says why in {@link
 * #unavailableReasons()} instead of throwing.
 */
public interface BackendProvider {

  /** The name matched against the {@code engine.backend} property. */
  String name();

  /** Higher wins when the backend is chosen automatically. */
  int priority();

  /** Empty when the backend can be used here; otherwise every reason it cannot. */
  List<String> unavailableReasons();

  /** A new backend using at most {@code threads} CPU threads. */
  SearchBackend create(int threads);
}
