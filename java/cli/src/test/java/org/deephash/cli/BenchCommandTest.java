package org.deephash.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.deephash.io.Json;
import org.junit.jupiter.api.Test;

class BenchCommandTest {
  private static final List<String> REQUIRED = List.of("backend", "device", "n", "bits", "queries", "k", "threads",
      "median_ms", "min_ms", "max_ms", "qps", "gcodes_per_s", "verified", "hds_median_ms", "es_median_ms",
      "speedup_es_over_bcs", "es_queries", "busy_median");

  @Test
  void smallBenchPrintsOneVerifiedJsonLine() {
    CliRun r = CliRun.of("bench", "--n", "5000", "--queries", "10", "--runs", "1", "--json");
    assertEquals(0, r.status(), r.toString());
    List<String> lines = r.out().lines().toList();
    assertEquals(1, lines.size(), r.toString());
    Map<String, Object> j = Json.object(lines.get(0));
    for (String key : REQUIRED) {
      assertTrue(j.containsKey(key), "missing " + key + " in " + lines.get(0));
    }
    assertEquals(Boolean.TRUE, j.get("verified"), r.toString());
    assertEquals(5000.0, j.get("n"));
    assertEquals(64.0, j.get("bits"));
    assertEquals(10.0, j.get("queries"));
    assertEquals(10.0, j.get("k"));
    // The reported figures describe the runs that were timed: median of runs_ms, min and max of them.
    List<?> runs = (List<?>) j.get("runs_ms");
    assertEquals(1, runs.size(), r.toString());
    assertEquals((Double) runs.get(0), (Double) j.get("median_ms"), 0.0);
    assertEquals((Double) runs.get(0), (Double) j.get("min_ms"), 0.0);
    assertEquals((Double) runs.get(0), (Double) j.get("max_ms"), 0.0);
    assertTrue((Double) j.get("median_ms") > 0, r.toString());
    // CPU time of the JVM's threads over wall time x threads: some work was counted, and no more than
    // every thread of a small JVM could have done
    double busy = (Double) j.get("busy_median");
    assertTrue(busy > 0 && busy < 8, r.toString());
  }

  @Test
  void figuresFromTimedRunsMatchHandComputedValues() {
    // 5,000 codes x 10 queries; runs of 4, 2 and 3 ms: median 3 ms, so 10 / 0.003 s = 3,333.3 queries/s
    // and 50,000 pairs / 0.003 s = 1.6667e7 pairs/s = 0.016667 Gcodes/s.
    BenchCommand.Figures f = BenchCommand.Figures.of(5000, 10, new double[] {4, 2, 3});
    assertEquals(3.0, f.medianMs());
    assertEquals(2.0, f.minMs());
    assertEquals(4.0, f.maxMs());
    assertEquals(3333.333, f.qps(), 1e-3);
    assertEquals(0.0166667, f.gcodesPerS(), 1e-7);
    // an even number of runs: the mean of the middle two
    assertEquals(2.5, BenchCommand.Figures.of(1, 1, new double[] {4, 1, 2, 3}).medianMs());
  }

  @Test
  void everyAvailableBackendVerifiesAtOddWidthsAndSizes() {
    for (String backend : org.deephash.Backends.available().stream().map(p -> p.name()).toList()) {
      for (String bits : List.of("8", "72", "256")) {
        CliRun r = CliRun.of("bench", "--backend", backend, "--n", "1013", "--bits", bits, "--queries", "7", "--k",
            "13", "--dim", "6", "--pool", "50", "--runs", "1", "--warmup", "0", "--verify", "7", "--verify-l2", "7",
            "--json");
        assertEquals(0, r.status(), backend + " " + bits + ": " + r);
        Map<String, Object> j = Json.object(r.out().strip());
        assertEquals(backend, j.get("backend"));
        assertEquals(Boolean.TRUE, j.get("verified"), r.toString());
      }
    }
  }

  @Test
  void withoutFeaturesOnlyTheHammingFiguresAreReported() {
    Map<String, Object> j = benchJson("--n", "300", "--queries", "3", "--dim", "0", "--k", "400", "--pool", "400",
        "--runs", "2");
    assertEquals(Boolean.TRUE, j.get("verified"));
    assertTrue(!j.containsKey("es_median_ms") && !j.containsKey("hds_median_ms"), j.toString());
  }

  @Test
  void tableOutputIsReadable() {
    CliRun r = CliRun.of("bench", "--n", "2000", "--queries", "5", "--runs", "3", "--dim", "8");
    assertEquals(0, r.status(), r.toString());
    assertTrue(r.out().contains("BCS  exact Hamming top-10"), r.toString());
    assertTrue(r.out().contains("verified against the scalar oracle"), r.toString());
  }

  @Test
  void verifiedIsReportedOnlyWhenQueriesWereChecked() {
    // ResultComparisonTest covers what a mismatch looks like; here, the verdict reaches the report.
    assertEquals(Boolean.TRUE, benchJson("--backend", "scalar", "--n", "300", "--queries", "4", "--dim", "4", "--runs",
        "1", "--warmup", "0", "--verify", "4", "--verify-l2", "4").get("verified"));
    assertEquals(Boolean.FALSE, benchJson("--n", "300", "--queries", "4", "--dim", "0", "--runs", "1", "--warmup", "0",
        "--verify", "0").get("verified"));
  }

  @Test
  void warmUpRunsWhatIsAskedAndTwoSecondsThenStopsOnceTheJitIsAboutIdle() {
    Map<String, Object> j = benchJson("--n", "300", "--queries", "4", "--dim", "0", "--runs", "1", "--warmup", "3",
        "--verify", "0");
    double runs = ((Number) j.get("warmup_runs")).doubleValue();
    double seconds = ((Number) j.get("warmup_s")).doubleValue();
    assertTrue(runs >= 3, "warm-up runs " + runs);
    assertTrue(seconds >= 2 && seconds < 31, "warm-up seconds " + seconds); // 2 s at least, 30 s at most
    // a search of 300 rows leaves the JIT idle well before the cap
    assertEquals(Boolean.TRUE, j.get("warmup_jit_idle"), j.toString());
    // --warmup-max 0: the runs asked and 2 s, not a run more than it takes to pass them
    double cappedSeconds = ((Number) benchJson("--n", "300", "--queries", "4", "--dim", "0", "--runs", "1",
        "--warmup", "3", "--warmup-max", "0", "--verify", "0").get("warmup_s")).doubleValue();
    assertTrue(cappedSeconds >= 2 && cappedSeconds < 3, "capped warm-up seconds " + cappedSeconds);
    CliRun none = CliRun.of("bench", "--n", "300", "--queries", "4", "--dim", "0", "--runs", "1", "--warmup", "0",
        "--verify", "0");
    assertEquals(0, none.status(), none.toString());
    assertTrue(none.out().contains("median of 1 runs after no warm-up"), none.toString());
  }

  /** {@code engine-cli bench ARGS --json}, which must succeed: its JSON line. */
  private static Map<String, Object> benchJson(String... args) {
    String[] all = new String[args.length + 2];
    all[0] = "bench";
    System.arraycopy(args, 0, all, 1, args.length);
    all[all.length - 1] = "--json";
    CliRun r = CliRun.of(all);
    assertEquals(0, r.status(), r.toString());
    return Json.object(r.out().strip());
  }
}
