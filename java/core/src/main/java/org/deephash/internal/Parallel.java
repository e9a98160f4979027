package org.deephash.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntConsumer;

/**
 * The search backends' one scheme for parallel work: n tasks run on the calling thread and up to
 * {@code threads - 1} helpers from a pool, each taking the next task not yet taken. The caller works
 * instead of waiting, so a call hands off to one thread fewer (a single query's latency is mostly
 * such hand-offs), and uneven tasks balance themselves.
 */
public final class Parallel {
  private Parallel() {}

  /**
   * Runs {@code body} for 0..n-1 ({@code pool} null: all on the calling thread). {@code first} runs
   * on the calling thread once the helpers have been started (work that overlaps theirs). After a
   * failure no new task is taken, and the first failure is rethrown once every running task has
   * ended.
   */
  public static void forEach(ForkJoinPool pool, int threads, int n, IntConsumer body, Runnable first) {
    AtomicInteger next = new AtomicInteger();
    Runnable loop = () -> {
      for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) {
        try {
          body.accept(i);
        } catch (RuntimeException | Error e) {
          next.set(n); // the others take no new task
          throw e;
        }
      }
    };
    int helpers = pool == null ? 0 : Math.max(0, Math.min(n, threads) - 1);
    List<ForkJoinTask<?>> started = new ArrayList<>(helpers);
    for (int h = 0; h < helpers; h++) {
      started.add(pool.submit(loop));
    }
    Throwable failure = null;
    try {
      first.run();
      loop.run();
    } catch (RuntimeException | Error e) {
      next.set(n);
      failure = e;
    }
    for (ForkJoinTask<?> f : started) {
      try {
        f.join();
      } catch (RuntimeException | Error e) {
        failure = failure == null ? e : failure;
      }
    }
    if (failure instanceof RuntimeException re) {
      throw re;
    }
    if (failure instanceof Error err) {
      throw err;
    }
  }
}
