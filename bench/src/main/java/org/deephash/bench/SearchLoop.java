package org.deephash.bench;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;

/**
 * One search repeated for a while, for a profiler to attach to (bench/profile-java.sh): 1000
 * random queries over 1M random codes, top-k ({@code knn}) or coarse-to-fine with a pool of 1000
 * on 128-d features ({@code hds}), the backend of {@code -Dengine.backend}. Prints the median time
 * and backend timings of every 20 searches, so a profile can be set beside the times it covered.
 *
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Dengine.backend=java \
 *   -cp bench/target/benchmarks.jar org.deephash.bench.SearchLoop knn 1000 60
 * </pre>
 *
 * Arguments: knn|hds, k, seconds, and the code width in bits (64 unless given).
 */
public final class SearchLoop {
  private static final int ROWS = 1_000_000;
  private static final int QUERIES = 1000;
  private static final int POOL = 1000;
  private static final int DIM = 128;
  private static final int REPORT_EVERY = 20;

  private SearchLoop() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 3 || !(args[0].equals("knn") || args[0].equals("hds"))) {
      System.err.println("usage: SearchLoop knn|hds K SECONDS [BITS]");
      System.exit(2);
    }
    boolean hds = args[0].equals("hds");
    int k = Integer.parseInt(args[1]);
    long seconds = Long.parseLong(args[2]);
    int bits = args.length > 3 ? Integer.parseInt(args[3]) : 64;
    int dim = hds ? DIM : 0;
    BenchData.Searches data = BenchData.Searches.random(ROWS, QUERIES, bits, dim);
    byte[] q = data.queries();
    float[] qf = data.queryFeatures();
    try (CodeTable t = CodeTable.create(bits, dim, false, ROWS); GpuHashSearch s = GpuHashSearch.open(t)) {
      t.addAll(null, data.codes(), data.features(), null);
      Pool pool = Pool.topM(POOL);
      System.out.printf(Locale.ROOT, "%s, %s k=%d, %d-bit codes, %d s%n", s.backendName(), args[0], k, bits, seconds);
      double[] ms = new double[REPORT_EVERY];
      int n = 0;
      long end = System.nanoTime() + seconds * 1_000_000_000L;
      while (System.nanoTime() < end) {
        long t0 = System.nanoTime();
        if (hds) {
          s.coarseToFine(q, qf, pool, k);
        } else {
          s.query(q, k);
        }
        ms[n++] = (System.nanoTime() - t0) / 1e6;
        if (n == REPORT_EVERY) {
          Arrays.sort(ms);
          Map<String, Double> phases = s.lastTimingsMs(); // the last search's stages, where the backend times them
          System.out.printf(Locale.ROOT, "median %.1f ms, min %.1f%s%n", ms[n / 2], ms[0],
              phases.isEmpty() ? "" : "  " + phases);
          System.out.flush();
          n = 0;
        }
      }
    }
  }
}
