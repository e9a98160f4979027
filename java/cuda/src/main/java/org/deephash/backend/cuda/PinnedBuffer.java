package org.deephash.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemHostRegister;
import static jcuda.driver.JCudaDriver.cuMemHostUnregister;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import jcuda.Pointer;

/**
 * Page-locked host memory backed by a Panama segment: allocated in its own arena and registered
 * with the driver (cuMemHostRegister) so asynchronous copies really overlap with kernels.
 */
final class PinnedBuffer implements AutoCloseable {
  private final Arena arena = Arena.ofShared();
  private final MemorySegment segment;
  private final Pointer pointer;
  private boolean closed;

  PinnedBuffer(long bytes) {
    segment = arena.allocate(Math.max(bytes, 64), 4096);
    pointer = Pointers.host(segment);
    try {
      Cuda.check(cuMemHostRegister(pointer, segment.byteSize(), 0), "cuMemHostRegister(" + segment.byteSize() + " bytes)");
    } catch (RuntimeException e) {
      arena.close();
      throw e;
    }
  }

  static PinnedBuffer atLeast(PinnedBuffer current, long bytes) {
    if (current != null && current.segment.byteSize() >= bytes) {
      return current;
    }
    long size = current == null ? bytes : Math.max(bytes, current.segment.byteSize() * 3 / 2);
    if (current != null) {
      current.close();
    }
    return new PinnedBuffer(size);
  }

  MemorySegment segment() {
    return segment;
  }

  /** A host pointer {@code offset} bytes into the buffer. */
  Pointer at(long offset) {
    return new Pointers.HostPointer(segment.address() + offset);
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      try {
        Cuda.check(cuMemHostUnregister(pointer), "cuMemHostUnregister");
      } finally {
        arena.close();
      }
    }
  }
}
