package org.deephash.backend.java;

import java.util.List;
import java.util.logging.Logger;
import org.deephash.internal.Rerank;
import org.deephash.spi.BackendProvider;
import org.deephash.spi.SearchBackend;

/**
 * The pure-Java backend (name {@code java}): always available.
 *
 * <p>Its loops use the incubating Vector API when the JVM has the {@code jdk.incubator.vector}
 * module ({@code --add-modules jdk.incubator.vector}) and vectors hold at least 4 longs (AVX2,
 * AVX-512); otherwise plain Java ones. The module is probed at run time, as Lucene's
 * VectorizationProvider does, so a JVM started without it runs the scalar loops and says so in one
 * FINE (debug) log line instead of failing: only {@link VectorKernels} names a Vector API class,
 * and it is loaded only after the probe. The property {@code engine.java.vector=true|false} forces
 * the choice; {@code true} without the module throws, naming the flag to add.
 */
public final class JavaBackendProvider implements BackendProvider {
  public static final String VECTOR_PROPERTY = "engine.java.vector";
  static final String MODULE = org.deephash.internal.VectorModule.NAME;
  private static final Logger LOG = Logger.getLogger(JavaBackendProvider.class.getName());

  @Override
  public String name() {
    return "java";
  }

  @Override
  public int priority() {
    return 10;
  }

  /**
   * Always available: the fallback of every other backend. (A malformed {@link Rerank#SQ8_PROPERTY}
   * makes the native backend unavailable with that reason; this one then reads it as the default.)
   */
  @Override
  public List<String> unavailableReasons() {
    return List.of();
  }

  @Override
  public SearchBackend create(int threads) {
    return new JavaBackend(threads, kernels(), Rerank.sq8Enabled());
  }

  /** Whether the running JVM has the Vector API module. */
  static boolean vectorModulePresent() {
    return org.deephash.internal.VectorModule.present();
  }

  /** Logs once per JVM that the module is missing (the holder's initialisation runs once). */
  private static final class MissingModule {
    static {
      LOG.fine("java backend: " + MODULE + " is not in this JVM (add --add-modules " + MODULE
          + " to use it); scalar loops are used");
    }

    static void note() {}
  }

  /** The loops for the current settings (read at each backend's creation, so tests can switch). */
  static Kernels kernels() {
    String forced = System.getProperty(VECTOR_PROPERTY);
    boolean present = vectorModulePresent();
    if (forced != null && !forced.isBlank()) {
      if (!Boolean.parseBoolean(forced.trim())) {
        return new ScalarKernels();
      }
      if (!present) {
        throw new IllegalStateException(VECTOR_PROPERTY + "=true but the " + MODULE + " module is not in this JVM: "
            + "run java with --add-modules " + MODULE);
      }
      return vectorKernels(true);
    }
    if (!present) {
      MissingModule.note();
      return new ScalarKernels();
    }
    return vectorKernels(false);
  }

  /** Loads {@link VectorKernels}: only ever called once the module is known to be present. */
  private static Kernels vectorKernels(boolean forced) {
    return forced || VectorKernels.worthwhile() ? new VectorKernels() : new ScalarKernels();
  }
}
