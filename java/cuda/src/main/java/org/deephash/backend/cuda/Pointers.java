package org.deephash.backend.cuda;

import java.lang.foreign.MemorySegment;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUstream;

/**
 * JCuda pointers made from raw addresses. {@code Pointer.to(segment.asByteBuffer())} stops at
 * 2 GiB; these use JCuda's protected address constructors, which have no limit, and expose the
 * raw values that the FFM cuBLAS binding needs.
 */
final class Pointers {
  private Pointers() {}

  /** A host pointer to an off-heap segment's first byte. */
  static Pointer host(MemorySegment segment) {
    if (!segment.isNative()) {
      throw new IllegalArgumentException("a host pointer needs an off-heap segment");
    }
    return new HostPointer(segment.address());
  }

  /** A host pointer to a raw address. */
  static final class HostPointer extends Pointer {
    HostPointer(long address) {
      super(address);
    }
  }

  /** A device pointer that tells its address (cuMemAlloc fills it in). */
  static final class DevicePointer extends CUdeviceptr {
    long address() {
      return getNativePointer() + getByteOffset();
    }
  }

  /** A stream that tells its handle (cuStreamCreate fills it in). */
  static final class Stream extends CUstream {
    long handle() {
      return getNativePointer();
    }
  }
}
