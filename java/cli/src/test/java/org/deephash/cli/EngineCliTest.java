package org.deephash.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Dispatch, help and the shared flag parser. */
class EngineCliTest {

  @Test
  void noArgumentsListsEveryBuiltInCommand() {
    CliRun r = CliRun.of();
    assertEquals(0, r.status(), r.toString());
    for (String c : List.of("bench", "import", "search", "info", "backends")) {
      assertTrue(r.out().contains("  " + c + " "), c + " missing from the list:\n" + r);
    }
    assertEquals(r.out(), CliRun.of("help").out());
  }

  @Test
  void unknownCommandSaysWhatToDoAndExits2() {
    CliRun r = CliRun.of("bnech");
    assertEquals(2, r.status());
    assertTrue(r.err().contains("unknown command 'bnech'"), r.toString());
    assertTrue(r.err().contains("did you mean 'bench'"), r.toString());
    assertTrue(r.err().contains("engine-cli help"), r.toString());
  }

  @Test
  void helpForACommandPrintsItsFlags() {
    CliRun r = CliRun.of("help", "bench");
    assertEquals(0, r.status(), r.toString());
    assertTrue(r.out().contains("--bits B"), r.toString());
    assertEquals(r.out(), CliRun.of("bench", "--help").out());
    assertEquals(2, CliRun.of("help", "nosuch").status());
  }

  @Test
  void unknownFlagIsRejectedWithASuggestion() {
    CliRun r = CliRun.of("bench", "--kk", "3");
    assertEquals(2, r.status());
    assertTrue(r.err().contains("unknown flag --kk; did you mean --k?"), r.toString());
    assertTrue(r.err().contains("engine-cli bench --help"), r.toString());
  }

  @Test
  void badValuesNameTheFlagAndTheRange() {
    assertUsage(CliRun.of("bench", "--n", "abc"), "--n must be an integer in [1, ");
    assertUsage(CliRun.of("bench", "--n", "0"), "(passed 0)");
    assertUsage(CliRun.of("bench", "--bits", "12"), "--bits must be a multiple of 8 (passed 12)");
    assertUsage(CliRun.of("bench", "--bits", "8192"), "--bits must be an integer in [8, 4096]");
    assertUsage(CliRun.of("bench", "--k"), "--k needs a value");
    assertUsage(CliRun.of("bench", "--k", "--json"), "--k needs a value");
    assertUsage(CliRun.of("bench", "--k", "5", "--k", "6"), "--k was given twice");
    assertUsage(CliRun.of("bench", "--json=yes"), "--json takes no value");
    assertUsage(CliRun.of("bench", "extra"), "unexpected argument 'extra'");
    assertUsage(CliRun.of("bench", "-n", "5"), "unknown option '-n'");
    assertUsage(CliRun.of("bench", "--k", "20", "--pool", "10"), "--pool (HDS pool size m) must be >= --k");
    assertUsage(CliRun.of("info"), "missing INDEX");
    assertUsage(CliRun.of("search", "--queries", "q.npy"), "missing --index FILE");
    assertUsage(CliRun.of("search", "--index", "x", "--queries", "q", "--format", "xml"),
        "--format must be one of csv, jsonl (passed 'xml')");
  }

  private static void assertUsage(CliRun r, String fragment) {
    assertEquals(2, r.status(), r.toString());
    assertTrue(r.err().contains(fragment), "expected '" + fragment + "' in:\n" + r);
  }

  @Test
  void flagsParseTypedValues() {
    Flags f = new Flags("t", "t")
        .value("n", "N", "count")
        .value("x", "X", "ratio")
        .value("seed", "S", "seed")
        .value("name", "S", "name")
        .flag("json", "json")
        .positionals("FILE", 0, 2)
        .parse(new String[] {"--n", "1M", "--x=0.5", "--seed", "-7", "a", "--json", "--", "--name"});
    assertEquals(1_000_000, f.intValue("n", 0, 1, Integer.MAX_VALUE));
    assertEquals(0.5, f.doubleValue("x", 0, 0, 1));
    assertEquals(-7, f.longValue("seed", 0, Long.MIN_VALUE, Long.MAX_VALUE));
    assertTrue(f.has("json"));
    assertEquals("dflt", f.string("name", "dflt"));
    assertEquals(List.of("a", "--name"), f.positionals());
    assertEquals(12_000, new Flags("t", "t").value("n", "N", "").parse(new String[] {"--n", "12k"})
        .intValue("n", 0, 0, 100_000));
    assertEquals(1_000_000, new Flags("t", "t").value("n", "N", "").parse(new String[] {"--n", "1e6"})
        .intValue("n", 0, 0, Integer.MAX_VALUE));
    UsageException e = assertThrows(UsageException.class,
        () -> new Flags("t", "t").value("x", "X", "").parse(new String[] {"--x", "2"}).doubleValue("x", 0, 0, 1));
    assertTrue(e.getMessage().contains("--x must be a number in [0.0, 1.0] (passed 2)"), e.getMessage());
    assertThrows(IllegalStateException.class, () -> new Flags("t", "t").parse(new String[0]).has("undeclared"));
  }

  @Test
  void backendsListsTheOracle() {
    CliRun r = CliRun.of("backends", "--available");
    assertEquals(0, r.status(), r.toString());
    assertTrue(r.out().lines().anyMatch("scalar"::equals), r.toString());
  }
}
