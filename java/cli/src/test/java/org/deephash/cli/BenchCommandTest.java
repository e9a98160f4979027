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
      "speedup_es_over_bcs", "es_queries");

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
    double median = (Double) j.get("median_ms");
    assertTrue(median > 0, r.toString());
    // Both figures are printed rounded to 3 decimals: allow exactly what that rounding can move.
    double gcodes = 5000.0 * 10 / (median / 1e3) / 1e9;
    assertEquals(gcodes, (Double) j.get("gcodes_per_s"), gcodes * 0.0005 / median + 0.0005 + 1e-9);
    double es = (Double) j.get("es_median_ms");
    assertEquals(es / median, (Double) j.get("speedup_es_over_bcs"),
        es / median * (0.0005 / median + 0.0005 / es) + 0.005 + 1e-9);
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
    CliRun r = CliRun.of("bench", "--n", "300", "--queries", "3", "--dim", "0", "--k", "400", "--pool", "400",
        "--runs", "2", "--json");
    assertEquals(0, r.status(), r.toString());
    Map<String, Object> j = Json.object(r.out().strip());
    assertEquals(Boolean.TRUE, j.get("verified"));
    assertTrue(!j.containsKey("es_median_ms") && !j.containsKey("hds_median_ms"), r.toString());
  }

  @Test
  void tableOutputIsReadable() {
    CliRun r = CliRun.of("bench", "--n", "2000", "--queries", "5", "--runs", "3", "--dim", "8");
    assertEquals(0, r.status(), r.toString());
    assertTrue(r.out().contains("BCS  exact Hamming top-10"), r.toString());
    assertTrue(r.out().contains("verified against the scalar oracle"), r.toString());
  }

  @Test
  void medianOfEvenAndOddRuns() {
    assertEquals(2.0, BenchCommand.median(new double[] {3, 1, 2}));
    assertEquals(2.5, BenchCommand.median(new double[] {4, 1, 2, 3}));
  }
}
