package org.deephash.bench;

import java.util.concurrent.TimeUnit;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
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
 * Per-call cost of an exact Hamming top-k over a random table: the whole path (facade, backend,
 * native kernels, merge). {@code -p backend=native,java -p tier=avx2,scalar -p k=10,1000}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class HammingKnnBenchmark {
  @Param({"native"})
  public String backend;

  /** Native tier cap (engine.native.tier); ignored by other backends. */
  @Param({"best"})
  public String tier;

  @Param({"64", "128", "256"})
  public int bits;

  @Param({"1000000"})
  public int n;

  @Param({"1", "1000"})
  public int queries;

  /** 1000: the selection's cost beside the scan's (the same scan as k = 10). */
  @Param({"10", "1000"})
  public int k;

  /** 0 = every core. */
  @Param({"0"})
  public int threads;

  private CodeTable table;
  private GpuHashSearch search;
  private byte[] queryCodes;

  @Setup(Level.Trial)
  public void setUp() {
    if (!tier.equals("best")) {
      System.setProperty("engine.native.tier", tier);
    }
    table = BenchData.table(bits, n);
    queryCodes = BenchData.randomCodes(BenchData.QUERY_SEED, queries, bits / 8);
    search = GpuHashSearch.open(table, new SearchOptions(backend, threads));
    BenchData.checkAgainstOracle(table, search, queryCodes, k);
    System.out.println("# device: " + search.device());
  }

  @Benchmark
  public SearchResult knn() {
    return search.query(queryCodes, k);
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    search.close();
    table.close();
    System.clearProperty("engine.native.tier");
  }
}
