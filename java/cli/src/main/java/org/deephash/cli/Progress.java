package org.deephash.cli;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * Progress on stderr for phases that take longer than a second: a phase that finishes sooner
 * prints nothing; a longer one prints "label ... " once the second has passed and completes the
 * line with its time when it ends. Keeps short runs (and tests) quiet without hiding a slow step.
 */
final class Progress implements AutoCloseable {
  private static final long DELAY_MS = 1000;
  private final String prefix;
  private final PrintStream err;
  private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "engine-cli-progress");
    t.setDaemon(true);
    return t;
  });

  Progress(String prefix, PrintStream err) {
    this.prefix = prefix;
    this.err = err;
  }

  /** Starts a phase; close it when the phase ends. */
  Phase phase(String label) {
    return new Phase(label);
  }

  final class Phase implements AutoCloseable {
    private final String label;
    private final long start = System.nanoTime();
    private final ScheduledFuture<?> announce;
    private boolean announced;
    private boolean closed;

    private Phase(String label) {
      this.label = label;
      this.announce = timer.schedule(this::announce, DELAY_MS, TimeUnit.MILLISECONDS);
    }

    private synchronized void announce() {
      if (closed) {
        return;
      }
      announced = true;
      err.print(prefix + ": " + label + " ... ");
      err.flush();
    }

    /** Seconds since the phase started. */
    double seconds() {
      return (System.nanoTime() - start) / 1e9;
    }

    @Override
    public synchronized void close() {
      closed = true;
      announce.cancel(false);
      double s = seconds();
      if (announced) {
        err.println(String.format(Locale.ROOT, "%.1f s", s));
      } else if (s >= DELAY_MS / 1000.0) {
        err.println(String.format(Locale.ROOT, "%s: %s: %.1f s", prefix, label, s));
      }
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
