package org.deephash.spi;

import java.util.Map;

/**
 * A backend that can say where the time of its last call went, for {@code engine-cli bench}.
 * Keys are phases such as {@code upload}, {@code scan}, {@code rerank}, {@code download},
 * {@code total}; values are milliseconds (device phases measured with device events).
 */
public interface TimedBackend {

  /** Phase times of the most recent search call on this backend; empty before the first. */
  Map<String, Double> lastTimingsMs();
}
