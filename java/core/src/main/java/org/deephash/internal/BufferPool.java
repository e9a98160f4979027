package org.deephash.internal;

import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.function.LongFunction;
import java.util.function.ToLongFunction;

/**
 * Large work buffers kept between searches. A buffer allocated afresh is memory the process has not
 * touched yet: the JVM zeroes it and the kernel maps it page by page, and on the development VM a
 * page fault cost about 10 us (a batch's 4 MB array, 1000 faults, about 10 ms: more than the work
 * done in it). A search takes the smallest kept buffer that is large enough and gives it back when
 * done; at most {@code kept} buffers of at most {@code maxSize} each are kept. Thread-safe.
 *
 * @param <T> the buffer type (an array, a memory segment)
 */
public final class BufferPool<T> {
  private final ToLongFunction<T> size;
  private final LongFunction<T> allocate;
  private final int kept;
  private final long maxSize;
  private final ConcurrentLinkedDeque<T> free = new ConcurrentLinkedDeque<>();

  /**
   * @param size a buffer's size, in the unit {@code take} is asked in
   * @param allocate a new buffer of at least the given size
   * @param kept how many buffers are kept
   * @param maxSize larger buffers are not kept
   */
  public BufferPool(ToLongFunction<T> size, LongFunction<T> allocate, int kept, long maxSize) {
    this.size = size;
    this.allocate = allocate;
    this.kept = kept;
    this.maxSize = maxSize;
  }

  /** A buffer of at least {@code n}: the smallest kept one that is large enough, else a new one. */
  public T take(long n) {
    while (true) {
      T best = null;
      for (T b : free) {
        if (size.applyAsLong(b) >= n && (best == null || size.applyAsLong(b) < size.applyAsLong(best))) {
          best = b;
        }
      }
      if (best == null) {
        return allocate.apply(n);
      }
      if (free.removeFirstOccurrence(best)) {
        return best;
      } // another thread took it first: look again
    }
  }

  /**
   * Keeps {@code b} for a later take, unless it is too large or the pool is full of buffers at least
   * as large (then b replaces the smallest). Not to be called for a buffer still in use.
   */
  public void give(T b) {
    long n = size.applyAsLong(b);
    if (n > maxSize) {
      return;
    }
    if (free.size() >= kept) {
      T smallest = null;
      for (T k : free) {
        smallest = smallest == null || size.applyAsLong(k) < size.applyAsLong(smallest) ? k : smallest;
      }
      if (smallest == null || size.applyAsLong(smallest) >= n || !free.removeFirstOccurrence(smallest)) {
        return;
      }
    }
    free.offerFirst(b);
  }
}
