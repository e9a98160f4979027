package org.deephash.cli.api;

import java.io.PrintStream;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The one progress reporter of every long command (import, search, index, eval, train, bench,
 * delf index/eval): status lines on stderr for steps that take longer than a second, nothing for
 * shorter ones.
 *
 * <ul>
 *   <li>{@link #phase}: a step of unknown length; after a second it prints {@code "label ... "},
 *       and completes the line with its time when it ends.
 *   <li>{@link #count}: a step that counts to a known total; redrawn in place at most once a
 *       second with the count, the percentage, the time so far and the time left (ETA), ended
 *       with its total time.
 * </ul>
 *
 * <p>It draws only when stderr is a terminal: the {@code engine-cli} launcher tells the JVM so
 * ({@code -Dengine.stderr.tty=true}); {@code ENGINE_PROGRESS=on|off} (or {@code
 * -Dengine.progress}) forces it either way, and {@code --quiet} turns it off. Results never go
 * here: they go to stdout, and messages the user must read are printed whatever this says.
 *
 * <pre>{@code
 * try (Progress.Counter c = progress.count("encoding", images, "images")) {
 *   for (...) { ...; c.add(batch); }
 * }
 * }</pre>
 */
public final class Progress implements AutoCloseable {
  private static final long DELAY_NS = 1_000_000_000L;
  private static final long REDRAW_NS = 1_000_000_000L;
  private static final Progress NONE = new Progress("", null, false, System::nanoTime);

  private final String prefix;
  private final PrintStream err;
  private final boolean enabled;
  private final LongSupplier clock;
  private ScheduledExecutorService timer;

  private Progress(String prefix, PrintStream err, boolean enabled, LongSupplier clock) {
    this.prefix = prefix;
    this.err = err;
    this.enabled = enabled;
    this.clock = clock;
  }

  /** A reporter that prints nothing. */
  public static Progress none() {
    return NONE;
  }

  /** A reporter that prints to {@code err} when {@code enabled}. */
  public static Progress to(String prefix, PrintStream err, boolean enabled) {
    return enabled ? new Progress(prefix, err, true, System::nanoTime) : NONE;
  }

  /** Draws with {@code clock} as the time (nanoseconds), for tests of what is drawn when. */
  static Progress withClock(String prefix, PrintStream err, LongSupplier clock) {
    return new Progress(prefix, err, true, clock);
  }

  /** The reporter of a command: on when stderr is a terminal (or forced), off with --quiet. */
  public static Progress forStderr(String prefix, PrintStream err, boolean quiet) {
    return to(prefix, err, !quiet && wanted());
  }

  /** Whether progress is wanted in this JVM: ENGINE_PROGRESS / engine.progress, else a terminal. */
  static boolean wanted() {
    String forced = System.getProperty("engine.progress");
    if (forced == null || forced.isBlank()) {
      forced = System.getenv("ENGINE_PROGRESS");
    }
    if (forced != null && !forced.isBlank() && !forced.equalsIgnoreCase("auto")) {
      return forced.equalsIgnoreCase("on") || forced.equalsIgnoreCase("true") || forced.equals("1");
    }
    return Boolean.getBoolean("engine.stderr.tty");
  }

  public boolean enabled() {
    return enabled;
  }

  /** Starts a step of unknown length; close it when the step ends. */
  public Phase phase(String label) {
    return new Phase(label);
  }

  /** Starts a step that counts {@code total} {@code unit} (e.g. "images"); close it when it ends. */
  public Counter count(String label, long total, String unit) {
    return new Counter(label, total, unit);
  }

  private synchronized ScheduledExecutorService timer() {
    if (timer == null) {
      timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "engine-cli-progress");
        t.setDaemon(true);
        return t;
      });
    }
    return timer;
  }

  @Override
  public synchronized void close() {
    if (timer != null) {
      timer.shutdownNow();
    }
  }

  /** A step of unknown length. */
  public final class Phase implements AutoCloseable {
    private final String label;
    private final long start = clock.getAsLong();
    private final ScheduledFuture<?> announce;
    private boolean announced;
    private boolean closed;

    private Phase(String label) {
      this.label = label;
      this.announce = enabled && err != null
          ? timer().schedule(this::announce, DELAY_NS, TimeUnit.NANOSECONDS) : null;
    }

    private synchronized void announce() {
      if (closed) {
        return;
      }
      announced = true;
      err.print(prefix + ": " + label + " ... ");
      err.flush();
    }

    /** Seconds since the step started. */
    public double seconds() {
      return (clock.getAsLong() - start) / 1e9;
    }

    @Override
    public synchronized void close() {
      if (closed) {
        return;
      }
      closed = true;
      if (announce == null) {
        return;
      }
      announce.cancel(false);
      double s = seconds();
      if (announced) {
        err.println(String.format(Locale.ROOT, "%.1f s", s));
      } else if (s >= DELAY_NS / 1e9) {
        err.println(String.format(Locale.ROOT, "%s: %s: %.1f s", prefix, label, s));
      }
    }
  }

  /** A step that counts to a known total. Thread-safe: workers may {@link #add} concurrently. */
  public final class Counter implements AutoCloseable {
    private final String label;
    private final long total;
    private final String unit;
    private final long start = clock.getAsLong();
    private final AtomicLong done = new AtomicLong();
    private long lastDraw;
    private int drawnWidth;
    private boolean closed;

    private Counter(String label, long total, String unit) {
      this.label = label;
      this.total = Math.max(0, total);
      this.unit = unit;
    }

    /** {@code n} more units are done. */
    public void add(long n) {
      long d = done.addAndGet(n);
      if (enabled) {
        maybeDraw(d);
      }
    }

    /** {@code d} units are done in all. */
    public void set(long d) {
      done.set(d);
      if (enabled) {
        maybeDraw(d);
      }
    }

    public long done() {
      return done.get();
    }

    private void maybeDraw(long d) {
      long now = clock.getAsLong();
      if (now - start < DELAY_NS) {
        return;
      }
      synchronized (this) {
        if (closed || (drawnWidth > 0 && now - lastDraw < REDRAW_NS)) {
          return;
        }
        lastDraw = now;
        draw(line(d, now, false), false);
      }
    }

    /** Erases the drawn line, so that a message can be printed on a line of its own; the next update redraws. */
    public synchronized void clear() {
      if (drawnWidth > 0) {
        err.print("\r" + " ".repeat(drawnWidth) + "\r");
        err.flush();
        drawnWidth = 0;
      }
    }

    private void draw(String text, boolean end) {
      String pad = text.length() < drawnWidth ? " ".repeat(drawnWidth - text.length()) : "";
      err.print("\r" + text + pad + (end ? "\n" : ""));
      err.flush();
      drawnWidth = end ? 0 : text.length();
    }

    /** The status line: "prefix: label 1,200/10,000 images (12%), 14 s, 1 min 43 s left". */
    String line(long d, long now, boolean end) {
      double elapsed = (now - start) / 1e9;
      StringBuilder sb = new StringBuilder(prefix).append(": ").append(label).append(' ');
      sb.append(String.format(Locale.ROOT, "%,d", d));
      if (total > 0) {
        sb.append(String.format(Locale.ROOT, "/%,d", total));
      }
      sb.append(' ').append(unit);
      if (total > 0) {
        sb.append(String.format(Locale.ROOT, " (%d%%)", Math.min(100, d * 100 / total)));
      }
      if (end) {
        sb.append(" in ").append(duration(elapsed));
      } else {
        sb.append(", ").append(duration(elapsed));
        if (total > 0 && d > 0 && d < total) {
          sb.append(", ").append(duration(elapsed * (total - d) / d)).append(" left");
        }
      }
      return sb.toString();
    }

    @Override
    public synchronized void close() {
      if (closed) {
        return;
      }
      closed = true;
      long now = clock.getAsLong();
      if (enabled && (drawnWidth > 0 || now - start >= DELAY_NS)) {
        draw(line(done.get(), now, true), true);
      }
    }
  }

  /** "42 s", "3 min 05 s", "2 h 04 min". */
  static String duration(double seconds) {
    long s = Math.round(seconds);
    if (seconds < 10) {
      return String.format(Locale.ROOT, "%.1f s", seconds);
    }
    if (s < 60) {
      return s + " s";
    }
    if (s < 3600) {
      return String.format(Locale.ROOT, "%d min %02d s", s / 60, s % 60);
    }
    return String.format(Locale.ROOT, "%d h %02d min", s / 3600, (s % 3600) / 60);
  }
}
