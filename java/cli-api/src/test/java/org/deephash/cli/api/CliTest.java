package org.deephash.cli.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The runner every command goes through: parsing settings, validation order, exit statuses, messages. */
class CliTest {
  record Run(int status, String out, String err) {}

  /** A command that records what ran, and fails as told. */
  @Command(name = "demo", description = "A test command.")
  static final class Demo extends CliCommand {
    final List<String> calls = new ArrayList<>();

    @Option(names = "--count", paramLabel = "N", description = "How many (default: ${DEFAULT-VALUE}).")
    int count = 3;

    @Option(names = "--name", paramLabel = "S", description = "A name.")
    String name;

    @Option(names = "--fail", paramLabel = "HOW", description = "io, missing, arg, usage, state.")
    String fail;

    @Override
    protected void validate() {
      calls.add("validate");
      requireRange("--count", count, 1, 10);
    }

    @Override
    protected int execute() throws Exception {
      calls.add("execute");
      if (fail != null) {
        switch (fail) {
          case "io" -> throw new IOException("disk on fire");
          case "missing" -> throw new NoSuchFileException("/nope/file.dh");
          case "arg" -> throw new IllegalArgumentException("k must be >= 1 (passed 0)");
          case "usage" -> throw usage("--name is needed with --fail usage");
          default -> throw new IllegalStateException("boom");
        }
      }
      out.println("count=" + count + " name=" + name);
      return 0;
    }
  }

  private static Run run(Demo d, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status = Cli.run(d, args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void parsesValidatesThenRuns() {
    Demo d = new Demo();
    Run r = run(d, "--count=4", "--name", "x");
    assertEquals(new Run(0, "count=4 name=x\n", ""), r);
    assertEquals(List.of("validate", "execute"), d.calls);
  }

  @Test
  void aRangeErrorStopsBeforeExecute() {
    Demo d = new Demo();
    Run r = run(d, "--count", "11");
    assertEquals(2, r.status());
    assertEquals("engine-cli demo: --count must be in [1, 10] (passed 11)\n"
        + "Run 'engine-cli demo --help' for its options.\n", r.err());
    assertEquals(List.of("validate"), d.calls);
  }

  @Test
  void repeatedSingleValueOptionIsAnError() {
    Demo d = new Demo();
    Run r = run(d, "--count", "2", "--count", "3");
    assertEquals(2, r.status());
    assertTrue(r.err().startsWith("engine-cli demo: option '--count' (N) should be specified only once"), r.err());
    assertEquals(List.of(), d.calls);
  }

  @Test
  void unknownOptionGetsASuggestion() {
    Run r = run(new Demo(), "--nmae", "x");
    assertEquals(2, r.status());
    assertTrue(r.err().startsWith("engine-cli demo: unknown option '--nmae' (and x); did you mean '--name'?"), r.err());
  }

  @Test
  void countsReadSuffixes() {
    assertEquals("count=2 name=null\n", run(new Demo(), "--count", "2").out());
    assertTrue(run(new Demo(), "--count", "1k").err().contains("--count must be in [1, 10] (passed 1000)"));
    assertEquals(2000L, Counts.parse("2k"));
    assertEquals(1_000_000L, Counts.parse("1e6"));
    assertEquals(1_500_000L, Counts.parse("1.5M"));
    assertEquals(3_000_000_000L, Counts.parse("3G"));
    assertEquals(-7L, Counts.parse("-7"));
    assertEquals(1_000_000L, Counts.parse("1_000_000"));
    Run bad = run(new Demo(), "--count", "0.5");
    assertTrue(bad.err().contains("'0.5' is not an integer (1000, 1e6, 1M and 500k are)"), bad.err());
    assertTrue(run(new Demo(), "--count", "Infinity").err().contains("is not an integer"));
    assertTrue(run(new Demo(), "--count", "9G").err().contains("is too large"));
  }

  @Test
  void failuresMapToOneLineAndAStatus() {
    assertFailure("io", 1, "engine-cli demo: disk on fire");
    assertFailure("missing", 2, "engine-cli demo: no such file: /nope/file.dh");
    assertFailure("arg", 2, "engine-cli demo: k must be >= 1 (passed 0)");
    assertFailure("state", 1, "engine-cli demo: failed: java.lang.IllegalStateException: boom");
    assertFailure("usage", 2, "engine-cli demo: --name is needed with --fail usage");
  }

  private static void assertFailure(String how, int status, String firstLine) {
    Run r = run(new Demo(), "--fail", how);
    assertEquals(status, r.status(), r.err());
    assertEquals(firstLine, r.err().lines().findFirst().orElse(""), r.err());
    assertTrue(!r.err().contains("\tat "), "no stack trace without ENGINE_DEBUG: " + r.err());
  }

  @Test
  void helpIsGeneratedWithDefaultsAndTheCommonOptions() {
    Run r = run(new Demo(), "-h");
    assertEquals(0, r.status());
    assertEquals("""
        Usage: engine-cli demo [OPTIONS]
        A test command.
              --count=N    How many (default: 3).
              --name=S     A name.
              --fail=HOW   io, missing, arg, usage, state.
          -h, --help       Show this help and exit.
          -q, --quiet      No progress lines on stderr (they are drawn only when stderr is a terminal).
        """, r.out());
  }
}
