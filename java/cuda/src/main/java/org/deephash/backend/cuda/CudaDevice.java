package org.deephash.backend.cuda;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuFuncSetAttribute;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuModuleUnload;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUfunction_attribute;
import jcuda.driver.CUmodule;

/**
 * One GPU as the backend uses it: the device's primary context, the kernel module loaded from the
 * jar, and the device's description. Not thread-safe: the owner serialises calls and makes the
 * context current on the calling thread ({@link #makeCurrent()}).
 */
final class CudaDevice implements AutoCloseable {
  /** Dynamic shared memory of dh_sort_topk: DH_SORT_MAX * (8 + 4 + 2) bytes. */
  static final int SORT_SHARED_BYTES = Plan.SORT_MAX * 14;

  private final CUdevice device = new CUdevice();
  private final CUcontext context = new CUcontext();
  private final CUmodule module = new CUmodule();
  private final Map<String, CUfunction> functions = new HashMap<>();
  final int major;
  final int minor;
  final String name;
  final String image;
  final int multiprocessors;
  final int clockMhz;
  final long totalMemory;
  final int driverVersion;
  private boolean closed;

  /** Initialises the driver; throws {@link CudaException} or {@link IllegalStateException} with the reason. */
  CudaDevice(int ordinal) {
    Cuda.check(cuInit(0), "cuInit");
    int[] count = {0};
    Cuda.check(cuDeviceGetCount(count), "cuDeviceGetCount");
    if (ordinal >= count[0]) {
      throw new IllegalStateException(count[0] == 0 ? "no CUDA device"
          : "CUDA device " + ordinal + " requested but only " + count[0] + " present");
    }
    Cuda.check(cuDeviceGet(device, ordinal), "cuDeviceGet");
    major = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
    minor = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
    byte[] nm = new byte[256];
    Cuda.check(cuDeviceGetName(nm, nm.length, device), "cuDeviceGetName");
    int len = 0;
    while (len < nm.length && nm[len] != 0) {
      len++;
    }
    name = new String(nm, 0, len, StandardCharsets.US_ASCII);
    multiprocessors = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
    clockMhz = attribute(CUdevice_attribute.CU_DEVICE_ATTRIBUTE_CLOCK_RATE) / 1000;
    long[] mem = {0};
    Cuda.check(cuDeviceTotalMem(mem, device), "cuDeviceTotalMem");
    totalMemory = mem[0];
    int[] dv = {0};
    Cuda.check(cuDriverGetVersion(dv), "cuDriverGetVersion");
    driverVersion = dv[0];

    List<String> images = KernelImages.list();
    if (images.isEmpty()) {
      throw new IllegalStateException(KernelImages.MISSING);
    }
    image = KernelImages.choose(major, minor, images).orElseThrow(() -> new IllegalStateException(
        "no kernel image for sm_" + major + minor + " in the jar (has " + images + ")"));
    Cuda.check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
    try {
      makeCurrent();
      Cuda.check(cuModuleLoadData(module, KernelImages.load(image)), "cuModuleLoadData(" + image + ")");
      for (String entry : KernelImages.ENTRY_POINTS) {
        CUfunction f = new CUfunction();
        Cuda.check(cuModuleGetFunction(f, module, entry), "cuModuleGetFunction(" + entry + ")");
        functions.put(entry, f);
      }
      Cuda.check(cuFuncSetAttribute(functions.get("dh_sort_topk"),
          CUfunction_attribute.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, SORT_SHARED_BYTES),
          "cuFuncSetAttribute(dh_sort_topk, " + SORT_SHARED_BYTES + " bytes of shared memory)");
    } catch (RuntimeException e) {
      cuDevicePrimaryCtxRelease(device);
      throw e;
    }
  }

  private int attribute(int attr) {
    int[] v = {0};
    Cuda.check(cuDeviceGetAttribute(v, attr, device), "cuDeviceGetAttribute(" + attr + ")");
    return v[0];
  }

  /** Binds this device's context to the calling thread. */
  void makeCurrent() {
    Cuda.check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
  }

  /** Free device memory now, in bytes. */
  long freeMemory() {
    long[] free = {0};
    long[] total = {0};
    Cuda.check(cuMemGetInfo(free, total), "cuMemGetInfo");
    return free[0];
  }

  String describe() {
    return name + " (sm_" + major + minor + ", " + multiprocessors + " SMs, " + clockMhz + " MHz, "
        + (totalMemory >> 20) + " MiB, driver " + driverVersion / 1000 + "." + (driverVersion % 1000) / 10
        + ", kernels " + image + ")";
  }

  /**
   * Launches {@code entry} on {@code stream}. Arguments: {@link DeviceBuffer} (its address),
   * {@link DeviceBuffer.Slice} (an address inside one), null
   * (a null device pointer), Integer, Long, Float.
   */
  void launch(String entry, int gridX, int gridY, int block, int sharedBytes, Pointers.Stream stream, Object... args) {
    NativePointerObject[] params = new NativePointerObject[args.length];
    for (int i = 0; i < args.length; i++) {
      Object a = args[i];
      params[i] = switch (a) {
        case null -> Pointer.to(new CUdeviceptr());
        case DeviceBuffer b -> Pointer.to(b.ptr());
        case DeviceBuffer.Slice sl -> Pointer.to(sl.buffer().ptr().withByteOffset(sl.offset()));
        case Integer v -> Pointer.to(new int[] {v});
        case Long v -> Pointer.to(new long[] {v});
        case Float v -> Pointer.to(new float[] {v});
        default -> throw new IllegalArgumentException("kernel argument of type " + a.getClass());
      };
    }
    CUfunction f = functions.get(entry);
    if (f == null) {
      throw new IllegalArgumentException("no kernel " + entry);
    }
    Cuda.check(cuLaunchKernel(f, gridX, gridY, 1, block, 1, 1, sharedBytes, stream, Pointer.to(params), null),
        "cuLaunchKernel(" + entry + ", grid " + gridX + "x" + gridY + ", block " + block + ")");
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      makeCurrent();
      Cuda.check(cuModuleUnload(module), "cuModuleUnload");
      Cuda.check(cuDevicePrimaryCtxRelease(device), "cuDevicePrimaryCtxRelease");
    }
  }
}
