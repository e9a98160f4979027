package org.deephash.bench;

import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Two builds of the engine timed call by call in one JVM: each build's classes loaded by a class
 * loader of its own (the platform loader as parent), one table each from the same random data,
 * then searches alternating between the two (which goes first alternates too). On a shared machine
 * whose load comes and goes over seconds, the ratio of each pair of calls is far steadier than two
 * processes run one after the other: a slow minute slows both sides of its pairs.
 *
 * <pre>
 * java -Xmx12g -Xmn4g -XX:+AlwaysPreTouch --add-modules jdk.incubator.vector \
 *   --enable-native-access=ALL-UNNAMED -Dengine.backend=java -cp bench/target/benchmarks.jar \
 *   org.deephash.bench.SideBySide OLD_CLASSES NEW_CLASSES knn 1000 40
 * </pre>
 *
 * Arguments: the two builds' class paths (a core module's {@code target/classes}), the search
 * ({@code knn}: top-k of 1000 random queries over 1M random codes; {@code hds}: coarse-to-fine
 * with a pool of 1000 and 128-d features), k, the number of pairs, and the code width in bits (64
 * unless given). Prints each
 * side's median, quartile and minimum, its page faults per call, the median of the pairs' ratios
 * (new / old) with its quartiles, and each side's median backend timings. Both sides read the same
 * system properties, so a native library under test is the same for both: this compares Java code
 * (for the C core, {@code dh_bench}).
 */
public final class SideBySide {
  private static final int ROWS = 1_000_000;
  private static final int QUERIES = 1000;
  private static final int POOL = 1000;

  private SideBySide() {}

  /** One build: its search object and the methods called on it. */
  private static final class Build {
    final Object search;
    final Method query;
    final Method coarseToFine;
    final Method timings;
    final Object pool;

    Build(String classPath, int bits, byte[] codes, float[] features, int dim) throws Exception {
      List<URL> urls = new ArrayList<>();
      for (String p : classPath.split(java.io.File.pathSeparator)) {
        if (!p.isEmpty()) {
          urls.add(Path.of(p).toUri().toURL());
        }
      }
      ClassLoader loader = new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getPlatformClassLoader());
      Class<?> table = loader.loadClass("org.deephash.CodeTable");
      Class<?> facade = loader.loadClass("org.deephash.GpuHashSearch");
      Class<?> pools = loader.loadClass("org.deephash.Pool");
      Object t = table.getMethod("create", int.class, int.class, boolean.class, int.class)
          .invoke(null, bits, dim, false, ROWS);
      table.getMethod("addAll", long[].class, byte[].class, float[].class, int[].class)
          .invoke(t, null, codes, features, null);
      search = facade.getMethod("open", table).invoke(null, t);
      query = facade.getMethod("query", byte[].class, int.class);
      coarseToFine = facade.getMethod("coarseToFine", byte[].class, float[].class, pools, int.class);
      timings = facade.getMethod("lastTimingsMs");
      pool = pools.getMethod("topM", int.class).invoke(null, POOL);
    }

    double run(boolean hds, byte[] q, float[] qf, int k) throws Exception {
      long t0 = System.nanoTime();
      if (hds) {
        coarseToFine.invoke(search, q, qf, pool, k);
      } else {
        query.invoke(search, q, k);
      }
      return (System.nanoTime() - t0) / 1e6;
    }
  }

  public static void main(String[] args) throws Exception {
    if (args.length < 5) {
      System.err.println("usage: SideBySide OLD_CLASSPATH NEW_CLASSPATH knn|hds K PAIRS [BITS]");
      System.exit(2);
    }
    boolean hds = args[2].equals("hds");
    int k = Integer.parseInt(args[3]);
    int pairs = Integer.parseInt(args[4]);
    int bits = args.length > 5 ? Integer.parseInt(args[5]) : 64;
    int dim = hds ? 128 : 0;
    BenchData.Searches data = BenchData.Searches.random(ROWS, QUERIES, bits, dim);
    byte[] codes = data.codes();
    float[] features = data.features();
    byte[] q = data.queries();
    float[] qf = data.queryFeatures();
    Build[] side = {new Build(args[0], bits, codes, features, dim), new Build(args[1], bits, codes, features, dim)};
    long warmUntil = System.nanoTime() + 4_000_000_000L;
    while (System.nanoTime() < warmUntil) {
      side[0].run(hds, q, qf, k);
      side[1].run(hds, q, qf, k);
    }
    double[][] ms = new double[2][pairs];
    long[] faults = new long[2];
    List<Map<String, List<Double>>> phases = List.of(new TreeMap<>(), new TreeMap<>());
    double[] ratio = new double[pairs];
    for (int i = 0; i < pairs; i++) {
      for (int j = 0; j < 2; j++) {
        int s = (i + j) % 2; // which side goes first alternates
        long f0 = majorAndMinorFaults();
        ms[s][i] = side[s].run(hds, q, qf, k);
        faults[s] += majorAndMinorFaults() - f0;
        @SuppressWarnings("unchecked")
        Map<String, Double> t = (Map<String, Double>) side[s].timings.invoke(side[s].search);
        t.forEach((key, v) -> phases.get(s).computeIfAbsent(key, x -> new ArrayList<>()).add(v));
      }
      ratio[i] = ms[1][i] / ms[0][i];
    }
    String[] names = {"old", "new"};
    for (int s = 0; s < 2; s++) {
      double[] m = ms[s].clone();
      Arrays.sort(m);
      System.out.printf(Locale.ROOT, "%s: median %.1f ms, quartile %.1f, min %.1f, %d page faults a call%n",
          names[s], m[pairs / 2], m[pairs / 4], m[0], faults[s] / pairs);
    }
    Arrays.sort(ratio);
    System.out.printf(Locale.ROOT, "new / old, pair by pair: median %.3f (quartiles %.3f, %.3f) over %d pairs%n",
        ratio[pairs / 2], ratio[pairs / 4], ratio[3 * pairs / 4], pairs);
    TreeSet<String> keys = new TreeSet<>(phases.get(0).keySet());
    keys.addAll(phases.get(1).keySet());
    for (String key : keys) {
      System.out.printf(Locale.ROOT, "  %-12s old %s  new %s%n", key, median(phases.get(0).get(key)),
          median(phases.get(1).get(key)));
    }
  }

  private static String median(List<Double> v) {
    if (v == null || v.isEmpty()) {
      return "-";
    }
    double[] a = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    return String.format(Locale.ROOT, "%.1f ms", a[a.length / 2]);
  }

  /** Page faults of this process so far (/proc/self/stat; 0 where there is none). */
  private static long majorAndMinorFaults() {
    try {
      String[] f = Files.readString(Path.of("/proc/self/stat")).split(" ");
      return Long.parseLong(f[9]) + Long.parseLong(f[11]);
    } catch (Exception e) {
      return 0;
    }
  }
}
