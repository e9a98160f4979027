package org.deephash.cli.api;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** What the reporter draws, and when, on a clock the test moves. */
class ProgressTest {
  private static final long S = 1_000_000_000L;

  private final AtomicLong now = new AtomicLong();
  private final ByteArrayOutputStream buf = new ByteArrayOutputStream();
  private final Progress p = Progress.withClock("eval", new PrintStream(buf, true, StandardCharsets.UTF_8), now::get);

  private String drawn() {
    String s = buf.toString(StandardCharsets.UTF_8);
    buf.reset();
    return s;
  }

  @Test
  void aCounterDrawsAfterASecondAtMostOnceASecondWithTheTimeLeft() {
    Progress.Counter c = p.count("ranking", 10_000, "queries");
    c.add(100);
    assertEquals("", drawn(), "nothing in the first second");
    now.set(2 * S);
    c.add(1900);
    assertEquals("\reval: ranking 2,000/10,000 queries (20%), 2.0 s, 8.0 s left", drawn());
    now.set(2 * S + S / 2);
    c.add(500);
    assertEquals("", drawn(), "at most one redraw a second");
    now.set(40 * S);
    c.set(8000);
    String at40 = "eval: ranking 8,000/10,000 queries (80%), 40 s, 10 s left";
    assertEquals("\r" + at40 + "  ", drawn(), "padded to erase the longer line before it");
    now.set(200 * S);
    c.set(10_000);
    c.close();
    String at200 = "eval: ranking 10,000/10,000 queries (100%), 3 min 20 s";
    assertEquals("\r" + at200 + " ".repeat(Math.max(0, at40.length() - at200.length()))
        + "\reval: ranking 10,000/10,000 queries (100%) in 3 min 20 s\n", drawn());
  }

  @Test
  void clearErasesTheLineForAMessage() {
    Progress.Counter c = p.count("training", 100, "steps");
    now.set(3 * S);
    c.add(10);
    String line = "eval: training 10/100 steps (10%), 3.0 s, 27 s left";
    assertEquals("\r" + line, drawn());
    c.clear();
    assertEquals("\r" + " ".repeat(line.length()) + "\r", drawn());
    c.clear();
    assertEquals("", drawn(), "nothing to erase twice");
  }

  @Test
  void aShortCounterOrADisabledReporterDrawsNothing() {
    try (Progress.Counter c = p.count("quick", 5, "images")) {
      c.add(5);
    }
    assertEquals("", drawn());
    Progress off = Progress.to("eval", new PrintStream(buf, true, StandardCharsets.UTF_8), false);
    try (Progress.Counter c = off.count("slow", 5, "images")) {
      now.set(100 * S);
      c.add(5);
    }
    assertEquals("", drawn());
  }

  @Test
  void durationsReadNaturally() {
    assertEquals("0.4 s", Progress.duration(0.44));
    assertEquals("42 s", Progress.duration(42.2));
    assertEquals("3 min 05 s", Progress.duration(185));
    assertEquals("2 h 04 min", Progress.duration(2 * 3600 + 4 * 60 + 10));
  }
}
