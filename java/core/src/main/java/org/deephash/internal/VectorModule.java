package org.deephash.internal;

/**
 * Whether the running JVM has the incubating Vector API ({@code jdk.incubator.vector}). Asked here,
 * in a class that names none of its types: a class that does cannot even be linked without the
 * module, so it cannot answer the question itself. The Java backend, the IVF-PQ coarse step and
 * the mobilenet_v2 inference ask it before touching their vector classes.
 */
public final class VectorModule {
  /** The module's name, for messages that say how to add it. */
  public static final String NAME = "jdk.incubator.vector";

  private static final boolean PRESENT = ModuleLayer.boot().findModule(NAME).isPresent();

  private VectorModule() {}

  public static boolean present() {
    return PRESENT;
  }
}
