package org.deephash.backend.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;

import java.util.HashMap;
import java.util.Map;
import jcuda.driver.CUevent;

/**
 * What one stream of the pipeline owns: the stream, its timing events, and named device and
 * pinned buffers that grow as calls need (kept between calls so a steady workload allocates
 * nothing).
 */
final class Workspace implements AutoCloseable {
  static final int EVENTS = 5;
  final Pointers.Stream stream = new Pointers.Stream();
  private final CUevent[] events = new CUevent[EVENTS];
  private final Map<String, DeviceBuffer> device = new HashMap<>();
  private final Map<String, PinnedBuffer> pinned = new HashMap<>();
  private boolean closed;

  Workspace() {
    Cuda.check(cuStreamCreate(stream, 1 /* CU_STREAM_NON_BLOCKING */), "cuStreamCreate");
    try {
      for (int i = 0; i < EVENTS; i++) {
        events[i] = new CUevent();
        Cuda.check(cuEventCreate(events[i], 0), "cuEventCreate");
      }
    } catch (RuntimeException e) {
      close();
      throw e;
    }
  }

  DeviceBuffer device(String role, long bytes) {
    DeviceBuffer b = DeviceBuffer.atLeast(device.get(role), bytes);
    device.put(role, b);
    return b;
  }

  PinnedBuffer pinned(String role, long bytes) {
    PinnedBuffer b = PinnedBuffer.atLeast(pinned.get(role), bytes);
    pinned.put(role, b);
    return b;
  }

  void record(int event) {
    Cuda.check(cuEventRecord(events[event], stream), "cuEventRecord");
  }

  /** Milliseconds between two recorded events (both completed). */
  double elapsed(int from, int to) {
    float[] ms = {0};
    Cuda.check(cuEventElapsedTime(ms, events[from], events[to]), "cuEventElapsedTime");
    return ms[0];
  }

  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    RuntimeException first = null;
    for (AutoCloseable c : device.values()) {
      first = closeQuietly(c, first);
    }
    for (AutoCloseable c : pinned.values()) {
      first = closeQuietly(c, first);
    }
    for (CUevent e : events) {
      if (e != null) {
        int r = cuEventDestroy(e);
        if (r != 0 && first == null) {
          first = Cuda.error(r, "cuEventDestroy");
        }
      }
    }
    int r = cuStreamDestroy(stream);
    if (r != 0 && first == null) {
      first = Cuda.error(r, "cuStreamDestroy");
    }
    if (first != null) {
      throw first;
    }
  }

  private static RuntimeException closeQuietly(AutoCloseable c, RuntimeException first) {
    try {
      c.close();
      return first;
    } catch (Exception e) {
      return first != null ? first : (e instanceof RuntimeException re ? re : new IllegalStateException(e));
    }
  }
}
