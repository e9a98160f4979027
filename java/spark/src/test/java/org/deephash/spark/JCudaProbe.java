package org.deephash.spark;

/**
 * Run in a child JVM whose class path is the submit jar (plus this class): loads JCuda's runtime
 * binding, whose native library JCuda extracts from the jar, and prints what cudaGetDeviceCount
 * returned (35, "insufficient driver", on a machine without the NVIDIA driver; 0 with a GPU).
 */
public final class JCudaProbe {
  private JCudaProbe() {}

  public static void main(String[] args) {
    int[] count = new int[1];
    int status = jcuda.runtime.JCuda.cudaGetDeviceCount(count);
    System.out.println("status=" + status + " devices=" + count[0] + " from "
        + jcuda.runtime.JCuda.class.getProtectionDomain().getCodeSource().getLocation());
  }
}
