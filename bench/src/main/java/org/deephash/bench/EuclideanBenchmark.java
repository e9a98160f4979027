package org.deephash.bench;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Per-call cost of the paper's Euclidean searches on random 64-bit codes and d-dimensional
 * features: coarse-to-fine (HDS: Hamming pool of m, re-ranked) and exhaustive (ES), beside the
 * Hamming top-k alone (BCS) on the same table. {@code -p backend=native,java}. Both results are
 * checked against the scalar oracle (bit-identical distances) before timing.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class EuclideanBenchmark {
  @Param({"native"})
  public String backend;

  @Param({"1000000"})
  public int n;

  @Param({"128"})
  public int dim;

  @Param({"1000"})
  public int queries;

  /** Queries of the exhaustive search (it reads every feature). */
  @Param({"50"})
  public int esQueries;

  @Param({"1000"})
  public int pool;

  @Param({"10"})
  public int k;

  private CodeTable table;
  private GpuHashSearch search;
  private byte[] queryCodes;
  private float[] queryFeatures;
  private float[] esFeatures;

  @Setup(Level.Trial)
  public void setUp() {
    table = CodeTable.create(64, dim, false, n);
    float[] f = features(BenchData.TABLE_SEED, n, dim);
    table.addAll(null, BenchData.randomCodes(BenchData.TABLE_SEED, n, 8), f, null);
    queryCodes = BenchData.randomCodes(BenchData.QUERY_SEED, queries, 8);
    queryFeatures = features(BenchData.QUERY_SEED, queries, dim);
    esFeatures = java.util.Arrays.copyOf(queryFeatures, esQueries * dim);
    search = GpuHashSearch.open(table, new SearchOptions(backend, 0));
    try (GpuHashSearch oracle = GpuHashSearch.open(table, new SearchOptions("scalar", 1))) {
      byte[] c = java.util.Arrays.copyOf(queryCodes, 8);
      float[] qf = java.util.Arrays.copyOf(queryFeatures, dim);
      same(oracle.coarseToFine(c, qf, Pool.topM(pool), k), search.coarseToFine(c, qf, Pool.topM(pool), k), "HDS");
      same(oracle.exhaustive(qf, k), search.exhaustive(qf, k), "ES");
    }
    System.out.println("# device: " + search.device());
  }

  private static float[] features(long seed, int n, int dim) {
    float[] f = new float[n * dim];
    SplittableRandom r = new SplittableRandom(seed ^ 0x5DEECE66DL);
    for (int i = 0; i < f.length; i++) {
      f[i] = (r.nextInt() >>> 8) * 0x1.0p-24f;
    }
    return f;
  }

  private static void same(SearchResult e, SearchResult a, String what) {
    if (!java.util.Arrays.equals(e.ids(0), a.ids(0)) || !java.util.Arrays.equals(e.distances(0), a.distances(0))) {
      throw new IllegalStateException(what + " disagrees with the oracle: " + java.util.Arrays.toString(a.distances(0))
          + " vs " + java.util.Arrays.toString(e.distances(0)));
    }
  }

  @Benchmark
  public SearchResult bcs() {
    return search.query(queryCodes, k);
  }

  @Benchmark
  public SearchResult hds() {
    return search.coarseToFine(queryCodes, queryFeatures, Pool.topM(pool), k);
  }

  @Benchmark
  public SearchResult es() {
    return search.exhaustive(esFeatures, k);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    search.close();
    table.close();
  }
}
