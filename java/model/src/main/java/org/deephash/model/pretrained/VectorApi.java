package org.deephash.model.pretrained;

/**
 * Whether the incubating Vector API ({@code jdk.incubator.vector}) is loaded. Asked here, in a
 * class that names none of its types: a class that does (such as {@link MobileNetV2Cpu}) cannot
 * even be linked without the module, so it cannot answer this question itself.
 */
public final class VectorApi {
  private static final boolean AVAILABLE = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();

  private VectorApi() {}

  /** True when {@link MobileNetV2Cpu} can run. */
  public static boolean available() {
    return AVAILABLE;
  }
}
