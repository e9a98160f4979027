package org.deephash.bench;

import java.util.Arrays;
import java.util.Locale;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;

/**
 * Standalone end-to-end timing of {@code GpuHashSearch.query}: checks a query against the oracle,
 * warms up, then prints one JSON line with the median of the timed runs and the device used.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *   -cp bench/target/benchmarks.jar org.deephash.bench.ScanTiming native 64 1000000 1000 10 2 7
 * </pre>
 * Arguments: backend bits n queries k threads runs (defaults: native 64 1000000 1000 10 0 7).
 */
public final class ScanTiming {
  private ScanTiming() {}

  public static void main(String[] args) {
    String backend = arg(args, 0, "native");
    int bits = Integer.parseInt(arg(args, 1, "64"));
    int n = Integer.parseInt(arg(args, 2, "1000000"));
    int q = Integer.parseInt(arg(args, 3, "1000"));
    int k = Integer.parseInt(arg(args, 4, "10"));
    int threads = Integer.parseInt(arg(args, 5, "0"));
    int runs = Integer.parseInt(arg(args, 6, "7"));
    byte[] queries = BenchData.randomCodes(BenchData.QUERY_SEED, q, bits / 8);
    try (CodeTable t = BenchData.table(bits, n);
        GpuHashSearch s = GpuHashSearch.open(t, new SearchOptions(backend, threads))) {
      BenchData.checkAgainstOracle(t, s, queries, k);
      long warmUntil = System.nanoTime() + 2_000_000_000L;
      int warm = 0;
      while (warm < 3 || System.nanoTime() < warmUntil) {
        s.query(queries, k);
        warm++;
      }
      double[] ms = new double[runs];
      for (int i = 0; i < runs; i++) {
        long t0 = System.nanoTime();
        s.query(queries, k);
        ms[i] = (System.nanoTime() - t0) / 1e6;
      }
      Arrays.sort(ms);
      double median = ms[runs / 2];
      System.out.println(String.format(Locale.ROOT,
          "{\"backend\":\"%s\",\"device\":\"%s\",\"bits\":%d,\"n\":%d,\"queries\":%d,\"k\":%d,\"threads\":%d,"
              + "\"runs\":%d,\"median_ms\":%.3f,\"min_ms\":%.3f,\"gcodes_per_s\":%.3f}",
          s.backendName(), s.device(), bits, n, q, k, threads, runs, median, ms[0], (double) n * q / median / 1e6));
    }
  }

  private static String arg(String[] a, int i, String def) {
    return a.length > i ? a[i] : def;
  }
}
