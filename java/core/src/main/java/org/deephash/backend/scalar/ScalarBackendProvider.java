package org.deephash.backend.scalar;

import java.util.List;
import org.deephash.spi.BackendProvider;
import org.deephash.spi.SearchBackend;

/** The reference implementation, never chosen automatically (priority 0). */
public final class ScalarBackendProvider implements BackendProvider {
  @Override
  public String name() {
    return "scalar";
  }

  @Override
  public int priority() {
    return 0;
  }

  @Override
  public List<String> unavailableReasons() {
    return List.of();
  }

  @Override
  public SearchBackend create(int threads) {
    return new ScalarBackend();
  }
}
