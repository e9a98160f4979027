package org.deephash.serve;

import org.deephash.io.Json;

/**
 * A bound on the decoded pixels in flight, across every request: an upload reserves the bytes its
 * raster will take before a pixel is decoded, and gives them back when the model input is made
 * from it. A small compressed file can announce a large raster (a 130 KB PNG of 4096 x 4096
 * 16-bit RGBA pixels decodes to 128 MiB), so limits on the body and on each image alone do not
 * bound memory when many such uploads arrive at once; this does. What does not fit now is refused
 * at once (503, retry later) rather than queued, so a flood cannot pile up waiting threads either.
 *
 * <p>Thread-safe. Its counters are in {@code /stats} and are what the hostile-client test checks
 * memory against: the peak of reserved bytes, and how often a raster turned out larger than its
 * reservation (never, if the estimate is right).
 */
final class DecodeBudget {
  private final long capacity;
  private long inFlight;
  private long peak;
  private long granted;
  private long refused;
  private long underestimated;

  DecodeBudget(long capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("the decode budget must be positive (passed " + capacity + ")");
    }
    this.capacity = capacity;
  }

  long capacity() {
    return capacity;
  }

  /** A reservation; closing it gives the bytes back. */
  final class Permit implements AutoCloseable {
    private final long bytes;
    private boolean closed;

    private Permit(long bytes) {
      this.bytes = bytes;
    }

    /** Reports the raster's real size: one larger than the reservation is counted (the estimate was wrong). */
    void observe(long actualBytes) {
      if (actualBytes > bytes) {
        synchronized (DecodeBudget.this) {
          underestimated++;
        }
      }
    }

    @Override
    public void close() {
      synchronized (DecodeBudget.this) {
        if (!closed) {
          closed = true;
          inFlight -= bytes;
        }
      }
    }
  }

  /** Reserves {@code bytes}, or returns null when they do not fit beside what is in flight now. */
  synchronized Permit tryAcquire(long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("bytes must not be negative (passed " + bytes + ")");
    }
    if (bytes > capacity - inFlight) {
      refused++;
      return null;
    }
    inFlight += bytes;
    peak = Math.max(peak, inFlight);
    granted++;
    return new Permit(bytes);
  }

  synchronized long inFlight() {
    return inFlight;
  }

  synchronized long peak() {
    return peak;
  }

  synchronized long refused() {
    return refused;
  }

  synchronized long underestimated() {
    return underestimated;
  }

  synchronized Json stats() {
    return new Json().put("budget_bytes", capacity).put("in_flight_bytes", inFlight).put("peak_bytes", peak)
        .put("decoded", granted).put("refused", refused).put("underestimated", underestimated);
  }
}
