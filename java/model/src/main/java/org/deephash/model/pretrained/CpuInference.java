package org.deephash.model.pretrained;

import org.deephash.internal.VectorModule;

/**
 * Whether mobilenet_v2 networks (the hashing network's {@code Encoder}, DELF's {@code DelfNet})
 * run on {@link MobileNetV2Cpu} or on TensorFlow: on the CPU code unless {@code
 * -Ddeephash.inference=tensorflow} says otherwise or the Vector API module is absent. A class that
 * names no Vector API type, so that it can be asked without the module.
 */
public final class CpuInference {
  /** The system property that picks the inference: {@code vector} (the default) or {@code tensorflow}. */
  public static final String PROPERTY = "deephash.inference";

  private CpuInference() {}

  /**
   * True when {@link MobileNetV2Cpu} is to run.
   *
   * @throws IllegalArgumentException when the property is neither {@code vector} nor {@code tensorflow}
   */
  public static boolean chosen() {
    String p = System.getProperty(PROPERTY, "vector");
    if (!p.equals("vector") && !p.equals("tensorflow")) {
      throw new IllegalArgumentException("-D" + PROPERTY + " takes vector or tensorflow, not " + p);
    }
    return p.equals("vector") && VectorModule.present();
  }
}
