package org.deephash.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Dispatch, help and the picocli settings every command shares. */
class EngineCliTest {

  @Test
  void noArgumentsListsEveryCommand() {
    CliRun r = CliRun.of();
    assertEquals(0, r.status(), r.toString());
    for (String c : List.of("bench", "import", "search", "info", "backends", "train", "index", "query", "eval", "demo",
        "delf", "serve", "spark-search", "help")) {
      assertTrue(r.out().contains("  " + c + " "), c + " missing from the list:\n" + r);
    }
    assertEquals(r.out(), CliRun.of("--help").out());
    assertEquals(r.out(), CliRun.of("-h").out());
    assertEquals(r.out(), CliRun.of("help").out());
  }

  @Test
  void unknownCommandSuggestsTheNearestAndExits2() {
    CliRun r = CliRun.of("bnech");
    assertEquals(2, r.status());
    assertEquals("engine-cli: unknown command 'bnech'; did you mean 'bench'?\n"
        + "Run 'engine-cli --help' for its commands.\n", r.err(), r.toString());
    assertEquals("", r.out());
  }

  @Test
  void helpForACommandPrintsItsOptionsAligned() {
    CliRun r = CliRun.of("help", "bench");
    assertEquals(0, r.status(), r.toString());
    assertEquals(r.out(), CliRun.of("bench", "--help").out());
    assertEquals(r.out(), CliRun.of("bench", "-h").out());
    assertTrue(r.out().startsWith("Usage: engine-cli bench [OPTIONS]"), r.out());
    assertTrue(r.out().contains("--bits=B"), r.out());
    assertTrue(r.out().contains("(default: 64)"), "defaults come from the fields:\n" + r.out());
    assertAligned(r.out());
    assertEquals(2, CliRun.of("help", "nosuch").status());
  }

  /** Every option line starts its description in one column. */
  static void assertAligned(String help) {
    Pattern option = Pattern.compile("^( +(?:-\\w, )?--[\\w-]+(?:=\\S+)?)( +)(\\S.*)$");
    int column = -1;
    int options = 0;
    for (String line : help.split("\n")) {
      Matcher m = option.matcher(line);
      if (m.matches() && m.group(2).length() >= 2) {
        int c = m.group(1).length() + m.group(2).length();
        assertTrue(column < 0 || c == column, "description at column " + c + ", not " + column + ": '" + line
            + "' in\n" + help);
        column = c;
        options++;
      }
    }
    assertTrue(options >= 2, "no option lines in\n" + help);
  }

  @Test
  void everyCommandHasGeneratedHelpWithTheCommonOptions() {
    for (List<String> cmd : List.of(List.of("bench"), List.of("import"), List.of("search"), List.of("info"),
        List.of("backends"), List.of("train"), List.of("index"), List.of("query"), List.of("eval"), List.of("demo"),
        List.of("serve"), List.of("spark-search"), List.of("delf"), List.of("delf", "train"), List.of("delf", "extract"),
        List.of("delf", "index"), List.of("delf", "query"), List.of("delf", "eval"), List.of("delf", "match"))) {
      for (String h : List.of("-h", "--help")) {
        String[] args = new java.util.ArrayList<String>(cmd) {{ add(h); }}.toArray(new String[0]);
        CliRun r = CliRun.of(args);
        assertEquals(0, r.status(), cmd + " " + h + ": " + r);
        assertTrue(r.out().startsWith("Usage: engine-cli " + String.join(" ", cmd)), r.out());
        assertTrue(r.out().contains("-h, --help"), r.out());
        assertFalse(r.out().contains("%n"), r.out());
        if (!cmd.equals(List.of("delf"))) {
          assertTrue(r.out().contains("-q, --quiet"), r.out());
          assertAligned(r.out());
        }
      }
    }
  }

  @Test
  void unknownOptionIsRejectedWithASuggestion() {
    CliRun r = CliRun.of("bench", "--kk", "3");
    assertEquals(2, r.status());
    assertTrue(r.err().startsWith("engine-cli bench: unknown option '--kk'"), r.toString());
    assertTrue(r.err().contains("did you mean '--k'"), r.toString());
    assertTrue(r.err().contains("Run 'engine-cli bench --help' for its options."), r.toString());
  }

  @Test
  void badValuesNameTheOptionAndTheRangeBeforeAnyWork() {
    assertUsage(CliRun.of("bench", "--n", "abc"), "'abc' is not an integer");
    assertUsage(CliRun.of("bench", "--n", "0"), "--n must be in [1, ");
    assertUsage(CliRun.of("bench", "--bits", "12"), "--bits must be a multiple of 8 (passed 12)");
    assertUsage(CliRun.of("bench", "--bits", "8192"), "--bits must be in [8, 4096] (passed 8192)");
    assertUsage(CliRun.of("bench", "--k"), "Missing required parameter for option '--k'");
    assertUsage(CliRun.of("bench", "--k", "--json"), "Expected parameter for option '--k' but found '--json'");
    assertUsage(CliRun.of("bench", "--k", "5", "--k", "6"), "option '--k' (K) should be specified only once");
    assertUsage(CliRun.of("bench", "--json", "--json"), "should be specified only once");
    assertUsage(CliRun.of("bench", "extra"), "unexpected argument 'extra'");
    assertUsage(CliRun.of("bench", "--k", "20", "--pool", "10"), "--pool (HDS pool size m) must be >= --k (10 < 20)");
    assertUsage(CliRun.of("bench", "--es-queries", "-1"), "--es-queries must be in [0, 10000000] (passed -1)");
    assertUsage(CliRun.of("info"), "Missing required parameter: 'INDEX'");
    assertUsage(CliRun.of("search", "--queries", "q.npy"), "Missing required option: '--index=FILE'");
    assertUsage(CliRun.of("search", "--index", "x", "--queries", "q", "--format", "xml"),
        "Invalid value for option '--format': expected one of [csv, jsonl] (case-insensitive) but was 'xml'");
    assertUsage(CliRun.of("search", "--index", "x", "--queries", "q", "--cap", "5"), "--cap goes with --radius");
    assertUsage(CliRun.of("serve", "--index", "x", "--delf-model", "m"), "--delf-model goes with --delf DIR");
  }

  @Test
  void countsAcceptSuffixesAndExponents() {
    // 2k rows at the smallest sizes: quick, and proves 2k parsed as 2000 (the JSON echoes it).
    CliRun r = CliRun.of("bench", "--n", "2k", "--queries", "1e1", "--runs", "1", "--warmup", "0", "--dim", "0",
        "--json");
    assertEquals(0, r.status(), r.toString());
    assertTrue(r.out().contains("\"n\":2000,"), r.out());
    assertTrue(r.out().contains("\"queries\":10,"), r.out());
  }

  static void assertUsage(CliRun r, String fragment) {
    assertEquals(2, r.status(), r.toString());
    assertTrue(r.err().contains(fragment), "expected '" + fragment + "' in:\n" + r);
    assertEquals("", r.out(), "nothing on stdout: " + r);
  }

  @Test
  void backendsListsTheOracleAndMarksTheChoice() {
    CliRun r = CliRun.of("backends", "--available");
    assertEquals(0, r.status(), r.toString());
    assertTrue(r.out().lines().anyMatch("scalar"::equals), r.toString());
    CliRun all = CliRun.of("backends");
    assertEquals(1, all.out().lines().filter(l -> l.endsWith("<- chosen")).count(), all.toString());
  }

  @Test
  void anOrdinaryCommandWritesNothingToStderr() {
    CliRun r = CliRun.of("bench", "--n", "500", "--queries", "2", "--runs", "1", "--warmup", "0", "--dim", "0");
    assertEquals(0, r.status(), r.toString());
    assertEquals("", r.err(), "no warnings, no progress when stderr is not a terminal");
  }
}
