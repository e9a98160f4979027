package org.deephash.serve;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Collects requests that arrive close together into batches for one worker thread: the first
 * request of a batch waits at most {@code window} for others (up to {@code maxBatch}), then the
 * whole batch goes to the handler, which completes each request's future. So concurrent callers
 * share one engine call (one GPU launch, one pass of the native scan) and each gets its own
 * answer back. The queue is bounded: when it is full {@link #submit} fails at once rather than
 * letting latency grow without limit.
 *
 * <p>{@code between} runs on the worker thread before every batch and at least every 100 ms while
 * idle: the place to change what the handler works on (the served index) without ever changing it
 * under a batch.
 *
 * @param <Q> a request
 * @param <R> its answer
 */
final class MicroBatcher<Q, R> implements AutoCloseable {

  /** A request waiting in a batch, with the future its caller waits on. */
  record Pending<Q, R>(Q request, CompletableFuture<R> future, long enqueuedNanos) {}

  private final BlockingQueue<Pending<Q, R>> queue;
  private final long windowNanos;
  private final int maxBatch;
  private final Runnable between;
  private final Consumer<List<Pending<Q, R>>> handler;
  private final Thread worker;
  private volatile boolean closed;

  MicroBatcher(String name, long windowMicros, int maxBatch, int maxQueued, Runnable between,
      Consumer<List<Pending<Q, R>>> handler) {
    this.queue = new ArrayBlockingQueue<>(maxQueued);
    this.windowNanos = windowMicros * 1000;
    this.maxBatch = maxBatch;
    this.between = between;
    this.handler = handler;
    this.worker = Thread.ofPlatform().name(name).daemon().start(this::loop);
  }

  /** Queues a request; the future completes with its answer, or exceptionally. */
  CompletableFuture<R> submit(Q request) {
    if (closed) {
      return CompletableFuture.failedFuture(new ApiException(503, "the server is shutting down"));
    }
    Pending<Q, R> p = new Pending<>(request, new CompletableFuture<>(), System.nanoTime());
    if (!queue.offer(p)) {
      return CompletableFuture.failedFuture(new ApiException(503, "server busy: " + queue.size()
          + " queries are waiting; retry later"));
    }
    return p.future();
  }

  private void loop() {
    List<Pending<Q, R>> batch = new ArrayList<>(maxBatch);
    while (!closed) {
      try {
        between.run();
        Pending<Q, R> first = queue.poll(100, TimeUnit.MILLISECONDS);
        if (first == null) {
          continue;
        }
        batch.add(first);
        long deadline = System.nanoTime() + windowNanos;
        while (batch.size() < maxBatch) {
          long left = deadline - System.nanoTime();
          Pending<Q, R> next = left > 0 ? queue.poll(left, TimeUnit.NANOSECONDS) : queue.poll();
          if (next == null) {
            break;
          }
          batch.add(next);
        }
        try {
          handler.accept(batch);
        } catch (RuntimeException | Error e) {
          for (Pending<Q, R> p : batch) {
            p.future().completeExceptionally(e);
          }
        }
        batch.clear();
      } catch (InterruptedException e) {
        break;
      } catch (RuntimeException e) {
        // `between` failed: the batcher must outlive it (the next pass tries again)
        batch.clear();
      }
    }
    Pending<Q, R> p;
    while ((p = queue.poll()) != null) {
      p.future().completeExceptionally(new ApiException(503, "the server is shutting down"));
    }
  }

  @Override
  public void close() {
    closed = true;
    worker.interrupt();
    try {
      worker.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
