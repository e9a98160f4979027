package org.deephash;

import java.util.List;

/** A backend was asked for by name but cannot run here; the message lists every reason. */
public final class BackendUnavailableException extends RuntimeException {
  private final List<String> reasons;

  public BackendUnavailableException(String backend, List<String> reasons) {
    super("backend '" + backend + "' cannot be used: " + String.join("; ", reasons));
    this.reasons = List.copyOf(reasons);
  }

  public List<String> reasons() {
    return reasons;
  }
}
