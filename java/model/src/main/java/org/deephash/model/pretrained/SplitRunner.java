package org.deephash.model.pretrained;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Splits a range of work between the calling thread and one helper thread, for the layers of one
 * image's forward pass ({@link MobileNetV2Cpu}). A layer takes 10-300 microseconds, too little for
 * a pool's hand-off (a parked thread takes tens of microseconds to wake), so the helper spins for a
 * while after each range and parks only when no layer follows. The range is cut into pieces that
 * both threads take in turn, so when the helper is late (its core busy elsewhere) the caller takes
 * the pieces it has not started and never waits for more than the piece the helper holds. One
 * caller at a time ({@link #tryAcquire}); others run their images on their own thread.
 */
final class SplitRunner implements AutoCloseable {
  /** Work over [from, to). */
  interface Range {
    void run(int from, int to);
  }

  /** How long the helper spins for the next range before it parks. */
  private static final long SPIN_NANOS = 200_000;

  /** Pieces a range is cut into, at most (fits the state's 8-bit count). */
  private static final int PIECES = 8;

  /**
   * The range on offer: a generation (24 bits, so that a helper that read an older range's fields
   * cannot claim a piece of a newer one), the piece count (8 bits) and the next free piece (32 bits).
   * Fields of a range are written before its state, and only once every piece of the last range is done.
   */
  private final AtomicLong state = new AtomicLong();
  private final AtomicInteger done = new AtomicInteger();
  private final ReentrantLock owner = new ReentrantLock();
  private final Thread helper;
  private volatile Range task;
  private volatile int size;
  private volatile int step;
  private volatile boolean parked;
  private volatile boolean closed;
  private volatile Throwable failure;
  private int generation;

  SplitRunner(String name) {
    helper = Thread.ofPlatform().daemon().name(name).start(this::loop);
  }

  /** Whether a second core is there to help. */
  static boolean worthIt() {
    return Runtime.getRuntime().availableProcessors() >= 2;
  }

  /** Takes the runner for one image, or returns false when another caller holds it. */
  boolean tryAcquire() {
    return owner.tryLock();
  }

  void release() {
    owner.unlock();
  }

  /**
   * Runs {@code r} over [0, n) in pieces of a multiple of {@code align} rows, taken by this thread
   * and the helper; returns when every piece is done, rethrowing what the helper threw.
   */
  void split(Range r, int n, int align) {
    int s = Math.max(align, (n / PIECES + align - 1) / align * align);
    int count = (n + s - 1) / s;
    if (count <= 1) {
      r.run(0, n);
      return;
    }
    task = r;
    size = n;
    step = s;
    done.set(0);
    generation = (generation + 1) & 0xFFFFFF;
    state.set(((long) generation << 40) | ((long) count << 32));
    if (parked) {
      LockSupport.unpark(helper);
    }
    runPieces(r, n, s);
    while (done.get() != count) {
      Thread.onSpinWait();
    }
    Throwable t = failure;
    if (t != null) {
      failure = null;
      if (t instanceof RuntimeException e) {
        throw e;
      }
      if (t instanceof Error e) {
        throw e;
      }
      throw new IllegalStateException(t);
    }
  }

  /** Takes and runs free pieces of the current range until none is left; false when there was none. */
  private boolean runPieces(Range r, int n, int s) {
    boolean any = false;
    while (true) {
      long st = state.get();
      int count = (int) (st >>> 32) & 0xFF;
      int i = (int) st;
      if (i >= count) {
        return any;
      }
      // the helper reads the fields after the state: they belong to this state's range unless it moved on
      Range rr = r != null ? r : task;
      int nn = r != null ? n : size;
      int ss = r != null ? s : step;
      if (!state.compareAndSet(st, st + 1)) {
        continue;
      }
      any = true;
      try {
        rr.run(i * ss, Math.min(nn, (i + 1) * ss));
      } finally {
        done.incrementAndGet();
      }
    }
  }

  private void loop() {
    long idleSince = System.nanoTime();
    while (!closed) {
      boolean worked;
      try {
        worked = runPieces(null, 0, 0);
      } catch (Throwable t) {
        failure = t;
        worked = true;
      }
      if (worked) {
        idleSince = System.nanoTime();
      } else if (System.nanoTime() - idleSince < SPIN_NANOS) {
        Thread.onSpinWait();
      } else {
        parked = true;
        long st = state.get();
        if ((int) st >= ((int) (st >>> 32) & 0xFF) && !closed) {
          LockSupport.park(this);
        }
        parked = false;
        idleSince = System.nanoTime();
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    LockSupport.unpark(helper);
  }
}
