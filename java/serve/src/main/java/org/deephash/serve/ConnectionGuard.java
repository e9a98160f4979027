package org.deephash.serve;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.deephash.io.Json;
import org.eclipse.jetty.io.Connection;

/**
 * Counts the server's connections and closes those that take too long to send a request. Jetty's
 * idle timeout closes a connection on which no byte moves; it does not stop a client that sends
 * one header byte every few seconds (a "slowloris"), which would hold a connection, out of the
 * capped number, for hours. So every connection not inside a request the handler is answering
 * must deliver its next request head within the request timeout, counted from when it opened or
 * from the end of its previous request; {@link #sweep} closes the ones that did not. (A body is
 * held to the same timeout by the handler itself, which can still answer 408 then.)
 */
final class ConnectionGuard implements Connection.Listener {
  /** Marks a connection whose request is in the handler: exempt from the sweep. */
  private static final long BUSY = Long.MIN_VALUE;

  private final long requestTimeoutNanos;
  private final Map<Connection, Long> waitingSince = new ConcurrentHashMap<>();
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicInteger peak = new AtomicInteger();
  private final AtomicLong accepted = new AtomicLong();
  private final AtomicLong headTimeouts = new AtomicLong();
  private final AtomicLong bodyTimeouts = new AtomicLong();
  private final AtomicLong malformed = new AtomicLong();

  ConnectionGuard(long requestTimeoutMs) {
    this.requestTimeoutNanos = requestTimeoutMs * 1_000_000L;
  }

  @Override
  public void onOpened(Connection c) {
    waitingSince.put(c, System.nanoTime());
    accepted.incrementAndGet();
    peak.accumulateAndGet(open.incrementAndGet(), Math::max);
  }

  @Override
  public void onClosed(Connection c) {
    if (waitingSince.remove(c) != null) {
      open.decrementAndGet();
    }
  }

  /** The handler took a request of {@code c}. */
  void requestStarted(Connection c) {
    waitingSince.replace(c, BUSY);
  }

  /** The handler answered it: the next request's head is due within the timeout. */
  void requestDone(Connection c) {
    waitingSince.replace(c, System.nanoTime());
  }

  void bodyTimedOut() {
    bodyTimeouts.incrementAndGet();
  }

  /** A request the HTTP parser refused before it reached the handler. */
  void malformed() {
    malformed.incrementAndGet();
  }

  /** Closes every connection that has been waiting for its request head longer than the timeout. */
  void sweep() {
    long now = System.nanoTime();
    for (Map.Entry<Connection, Long> e : waitingSince.entrySet()) {
      long since = e.getValue();
      if (since != BUSY && now - since > requestTimeoutNanos && waitingSince.remove(e.getKey(), since)) {
        open.decrementAndGet();
        headTimeouts.incrementAndGet();
        e.getKey().getEndPoint().close();
      }
    }
  }

  int open() {
    return open.get();
  }

  int peak() {
    return peak.get();
  }

  long headTimeouts() {
    return headTimeouts.get();
  }

  long bodyTimeouts() {
    return bodyTimeouts.get();
  }

  Json stats(int max) {
    return new Json().put("open", open.get()).put("peak", peak.get()).put("max", max).put("accepted", accepted.get())
        .put("head_timeouts", headTimeouts.get()).put("body_timeouts", bodyTimeouts.get())
        .put("malformed", malformed.get());
  }
}
