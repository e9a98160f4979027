package org.deephash.serve;

import java.util.Arrays;
import org.deephash.io.Json;

/**
 * Query counts and latencies of {@code POST /search} for {@code GET /stats}: every request by
 * status class, and p50/p99 over the latencies of the last {@value #WINDOW} successful ones.
 * A client that hung up before its answer was written is counted apart ({@code client_gone}):
 * neither a server error nor a client error the server could answer. Thread-safe.
 */
final class SearchStats {
  static final int WINDOW = 10_000;

  private long total;
  private long ok;
  private long clientErrors;
  private long serverErrors;
  private long clientGone;
  private final double[] ring = new double[WINDOW];
  private int filled;
  private int next;
  private double sum;

  /** Records one request: its HTTP status and how long it took. */
  synchronized void record(int status, double ms) {
    total++;
    if (status < 300) {
      ok++;
      ring[next] = ms;
      next = (next + 1) % ring.length;
      filled = Math.min(filled + 1, ring.length);
      sum += ms;
    } else if (status < 500) {
      clientErrors++;
    } else {
      serverErrors++;
    }
  }

  /** Records a request whose client went away before the answer could be written. */
  synchronized void recordGone() {
    total++;
    clientGone++;
  }

  synchronized Json counts() {
    return new Json().put("total", total).put("ok", ok).put("client_errors", clientErrors)
        .put("server_errors", serverErrors).put("client_gone", clientGone);
  }

  /** p50 and p99 (nearest rank) of the window, and the mean of every successful request; null when none. */
  synchronized Json latency() {
    double[] a = Arrays.copyOf(ring, filled);
    Arrays.sort(a);
    return new Json().put("window", filled).put("p50", filled == 0 ? null : Json.round(a[(filled - 1) / 2], 3))
        .put("p99", filled == 0 ? null : Json.round(a[(int) Math.ceil(0.99 * filled) - 1], 3))
        .put("mean_all", ok == 0 ? null : Json.round(sum / ok, 3));
  }
}
