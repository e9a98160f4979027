package org.deephash.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;

import jcuda.driver.CUdeviceptr;

/** Device memory owned by one object: allocated on construction, freed by {@link #close()}. */
final class DeviceBuffer implements AutoCloseable {
  private final Pointers.DevicePointer ptr = new Pointers.DevicePointer();
  private final long bytes;
  private boolean closed;

  DeviceBuffer(long bytes) {
    this.bytes = Math.max(bytes, 8);
    Cuda.check(cuMemAlloc(ptr, this.bytes), "cuMemAlloc(" + this.bytes + " bytes)");
  }

  /** A buffer of at least {@code bytes}: {@code current} when it is big enough, else a new one (current freed). */
  static DeviceBuffer atLeast(DeviceBuffer current, long bytes) {
    if (current != null && current.bytes >= bytes) {
      return current;
    }
    if (current != null) {
      current.close();
    }
    // grow geometrically so a sequence of slightly larger calls does not reallocate each time
    long size = current == null ? bytes : Math.max(bytes, current.bytes + current.bytes / 2);
    return new DeviceBuffer(size);
  }

  CUdeviceptr ptr() {
    return ptr;
  }

  /** The raw device address plus {@code offset} bytes (for the FFM cuBLAS binding). */
  long address(long offset) {
    return ptr.address() + offset;
  }

  long bytes() {
    return bytes;
  }

  /** The part of this buffer from {@code offset} bytes on, as a kernel argument. */
  Slice at(long offset) {
    return new Slice(this, offset);
  }

  /** A kernel argument pointing {@code offset} bytes into a buffer. */
  record Slice(DeviceBuffer buffer, long offset) {}

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      Cuda.check(cuMemFree(ptr), "cuMemFree");
    }
  }
}
