package org.deephash.backend.java;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.internal.Rerank;
import org.deephash.testing.ParitySuite;
import org.deephash.testing.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Java backend beyond the shared parity suite (which runs it with the Vector API): the scalar
 * loops a JVM without {@code jdk.incubator.vector} uses, the sampled threshold of a large k when
 * the sample misleads, and a JVM really started without the module.
 */
class JavaBackendTest {
  private static final long SEED = Long.getLong("test.seed", 5150L);

  /** The scalar loops (engine.java.vector=false) through the whole parity suite at every width. */
  @ParameterizedTest(name = "bits={0}")
  @ValueSource(ints = {8, 64, 72, 128, 256, 1024})
  void scalarLoopsMatchTheOracle(int bits) {
    withVector("false", () -> {
      try (CodeTable t = CodeTable.create(64, 0, false);
          GpuHashSearch s = GpuHashSearch.open(t, new SearchOptions("java", 2))) {
        assertTrue(s.device().contains("scalar popcount"), s.device());
      }
      new ParitySuite("java", 2).hamming(bits, 1000, SEED + bits);
      new ParitySuite("java", 2).hamming(bits, 100003, SEED + bits + 1, true);
      new ParitySuite("java", 2).exactEuclidean().euclidean(bits, 3000, 19, SEED ^ bits);
      if (bits == 64) { // pools of 180,000 entries: the fine stage's first pass in table order
        new ParitySuite("java", 2).exactEuclidean().euclidean(bits, 20000, 5, SEED ^ 7);
      }
    });
  }

  /** The fine stage with and without the 8-bit copy of the features (see ParitySuite), both loops. */
  @ParameterizedTest(name = "sq8={0} vector={1}")
  @CsvSource({"true,true", "false,true", "true,false"})
  void coarseToFineWithAndWithoutTheEightBitCopy(boolean sq8, boolean vector) {
    withVector(Boolean.toString(vector), () -> new ParitySuite("java", 3).eightBitCopy(sq8, SEED + 7));
  }

  /**
   * A batch whose pool entries and queries need more than 32 bits together (2049 queries, pools of
   * 600: 21 + 12 bits): the fine stage's sort by row then moves the queries in an array of their
   * own instead of inside its keys (JavaBackend.boundsInRowOrder); smaller batches pack them.
   */
  @Test
  void coarseToFineOfABatchTooLargeToPackItsQueriesInTheSortKeys() {
    SplittableRandom rnd = new SplittableRandom(SEED + 11);
    int n = 30_000;
    int dim = 24;
    int queries = 2049;
    byte[] codes = TestData.codes(rnd, n, 4);
    try (CodeTable t = TestData.table(32, dim, codes, TestData.ids(rnd, n), TestData.features(rnd, n, dim));
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        GpuHashSearch fast = GpuHashSearch.open(t, new SearchOptions("java", 2))) {
      byte[] q = TestData.queries(rnd, codes, n, queries, 4);
      float[] qf = TestData.features(rnd, queries, dim);
      ParitySuite.assertExactFloat(oracle.coarseToFine(q, qf, Pool.topM(600), 10),
          fast.coarseToFine(q, qf, Pool.topM(600), 10), true, "2049 queries, pools of 600");
    }
  }

  /** A malformed engine.rerank.sq8 leaves the java backend available (the fallback), with the copy. */
  @Test
  void malformedEightBitCopySettingLeavesTheFallbackAvailable() {
    String old = System.getProperty(Rerank.SQ8_PROPERTY);
    System.setProperty(Rerank.SQ8_PROPERTY, "yes");
    try {
      assertEquals(List.of(), new JavaBackendProvider().unavailableReasons());
      assertEquals(Rerank.SQ8_PROPERTY + "=yes is not true or false", Rerank.sq8Problem());
      assertTrue(Rerank.sq8Enabled());
      new JavaBackendProvider().create(1).close();
    } finally {
      if (old == null) {
        System.clearProperty(Rerank.SQ8_PROPERTY);
      } else {
        System.setProperty(Rerank.SQ8_PROPERTY, old);
      }
    }
  }

  @Test
  void vectorLoopsAreTheDefaultWhereTheModuleIs() {
    assertTrue(JavaBackendProvider.vectorModulePresent(), "the tests run with --add-modules jdk.incubator.vector");
    try (CodeTable t = CodeTable.create(64, 0, false);
        GpuHashSearch s = GpuHashSearch.open(t, new SearchOptions("java", 1))) {
      assertTrue(s.device().contains("Vector API"), s.device());
    }
  }

  /**
   * The rows the starting threshold of a large k is sampled from (every (rows / S)-th of the
   * split: S = 4096 for a few queries, 32768 for a split of 64 or more) equal the queries and all
   * others are their complement: the sample puts the k-th distance at 0 while only S rows are
   * there, so every query must be searched again from B.
   */
  @ParameterizedTest(name = "vector={0} batch={1}")
  @CsvSource({"true,false", "false,false", "true,true", "false,true"})
  void misleadingSampleIsSearchedAgain(String vector, boolean batch) {
    withVector(vector, () -> {
      int s = batch ? 32768 : 4096;
      int n = batch ? 300_000 : 40_000;
      int queries = batch ? 64 : 1;
      int k = s + 904;
      byte[] codes = new byte[n * 8];
      boolean[] sampled = new boolean[n];
      for (int i = 0; i < s; i++) {
        sampled[i * (n / s)] = true;
      }
      for (int r = 0; r < n; r++) {
        Arrays.fill(codes, r * 8, r * 8 + 8, sampled[r] ? (byte) 0 : (byte) -1);
      }
      try (CodeTable t = CodeTable.create(64, 0, false, n);
          GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
          GpuHashSearch fast = GpuHashSearch.open(t, new SearchOptions("java", 1))) {
        t.addAll(null, codes, null, null);
        byte[] q = new byte[8 * queries];
        SearchResult want = oracle.query(q, k);
        SearchResult got = fast.query(q, k);
        ParitySuite.assertSame(want, got, "misleading sample");
        for (int j = 0; j < queries; j++) {
          assertEquals(64, got.hamming(j, s), "rows beyond the sampled ones were found");
        }
      }
    });
  }

  /**
   * The sampled threshold's m-th smallest distance (VectorKernels.kthDistances) against a sort of
   * every distance: rows in clusters (a few bits from one of 5 centres) and at random, queries far
   * apart in turn (each is counted around the one before's answer g: T = g, T = g + 1, T below g
   * and T above g + 1, the last two by bisection), m from 1 to n; and the cases it leaves to a
   * top-m search (false, nothing written).
   */
  @Test
  void kthDistancesMatchASortOfEveryDistance() {
    SplittableRandom r = new SplittableRandom(SEED);
    int n = 4096;
    long[] centres = {r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong(), r.nextLong()};
    MemorySegment codes = Arena.ofAuto().allocate(8L * n, 8);
    for (int i = 0; i < n; i++) {
      long c = r.nextInt(3) == 0 ? r.nextLong() : centres[r.nextInt(5)];
      for (int f = r.nextInt(6); f > 0; f--) {
        c ^= 1L << r.nextInt(64);
      }
      codes.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i, c);
    }
    long[] qs = {centres[0], ~centres[0], r.nextLong(), centres[3], ~centres[3] ^ 5, centres[3] ^ 1, 0L, -1L,
        r.nextLong(), centres[1]};
    MemorySegment qc = Arena.ofAuto().allocate(8L * qs.length, 8);
    for (int j = 0; j < qs.length; j++) {
      qc.setAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, j, qs[j]);
    }
    VectorKernels kernels = new VectorKernels();
    if (!VectorKernels.kthInBytes()) { // 256-bit vectors: the top-m search does it
      assertTrue(!kernels.kthDistances(codes, 8, n, qc, 0, 1, 46, new int[1], new Kernels.Scratch()));
      return;
    }
    for (int m : new int[] {1, 2, 46, 700, 1500, n - 1, n}) {
      int[] got = new int[qs.length];
      assertTrue(kernels.kthDistances(codes, 8, n, qc, 0, qs.length, m, got, new Kernels.Scratch()));
      for (int j = 0; j < qs.length; j++) {
        int[] d = new int[n];
        for (int i = 0; i < n; i++) {
          d[i] = Long.bitCount(qs[j] ^ codes.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, i));
        }
        Arrays.sort(d);
        assertEquals(d[m - 1], got[j], "query " + j + " m=" + m);
      }
    }
    // a query range from the middle of the list: its first guess is not the one before it
    int[] two = new int[2];
    assertTrue(kernels.kthDistances(codes, 8, n, qc, 3, 2, 46, two, new Kernels.Scratch()));
    int[] all = new int[qs.length];
    kernels.kthDistances(codes, 8, n, qc, 0, qs.length, 46, all, new Kernels.Scratch());
    assertEquals(all[3], two[0]);
    assertEquals(all[4], two[1]);
    int[] untouched = {-7, -7};
    assertTrue(!kernels.kthDistances(codes, 8, n - 8, qc, 0, 2, 46, untouched, new Kernels.Scratch())
        && !kernels.kthDistances(codes, 16, n / 2, qc, 0, 2, 46, untouched, new Kernels.Scratch())
        && !kernels.kthDistances(codes, 8, n, qc, 0, 2, n + 1, untouched, new Kernels.Scratch())
        && !new ScalarKernels().kthDistances(codes, 8, n, qc, 0, 2, 46, untouched, new Kernels.Scratch()));
    assertEquals(-7, untouched[0]);
    assertEquals(-7, untouched[1]);
  }

  /**
   * A batch at k = 1000 whose first query has 6000 rows at distance 0 spread over the table: its
   * candidate list outgrows its share of the batch's shared array (room for 2k) and moves to one of
   * its own, while its neighbours' lists stay in theirs; then rows are added (the table's sample
   * is taken again) and the batch searched again. Both answers are the oracle's.
   */
  @ParameterizedTest(name = "vector={0}")
  @ValueSource(strings = {"true", "false"})
  void listsOutgrowingTheirShareOfTheBatchArray(String vector) {
    withVector(vector, () -> {
      int n = 300_000;
      int queries = 64;
      int k = 1000;
      java.util.SplittableRandom rnd = new java.util.SplittableRandom(SEED);
      byte[] q = new byte[8 * queries];
      rnd.nextBytes(q);
      byte[] codes = new byte[n * 8];
      rnd.nextBytes(codes);
      for (int r = 0; r < n; r += 50) {
        System.arraycopy(q, 0, codes, r * 8, 8);
      }
      try (CodeTable t = CodeTable.create(64, 0, false, n);
          GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
          GpuHashSearch fast = GpuHashSearch.open(t, new SearchOptions("java", 2))) {
        t.addAll(null, codes, null, null);
        SearchResult got = fast.query(q, k);
        ParitySuite.assertSame(oracle.query(q, k), got, "first search");
        assertEquals(0, got.hamming(0, k - 1), "the first query's list is all ties at 0");
        byte[] more = new byte[20_000 * 8];
        rnd.nextBytes(more);
        for (int r = 0; r < 20_000; r += 7) {
          System.arraycopy(q, 8, more, r * 8, 8); // ties at 0 for the second query now
        }
        t.addAll(null, more, null, null);
        got = fast.query(q, k);
        ParitySuite.assertSame(oracle.query(q, k), got, "after rows were added");
        assertEquals(0, got.hamming(1, k - 1), "the second query's list is all ties at 0");
      }
    });
  }

  /**
   * The vector loops at another vector size: a JVM limited to AVX2 (-XX:UseAVX=2: 4 lanes of 64
   * bits, groups of 4 rows, 32 flag bytes a vector) where this one has AVX-512, through the
   * Hamming parity suite and the tied pools. Only where the JVM has that flag (x86).
   */
  @Test
  void vectorLoopsAtTwoHundredFiftySixBits() throws Exception {
    String arch = System.getProperty("os.arch");
    org.junit.jupiter.api.Assumptions.assumeTrue(arch.equals("amd64") || arch.equals("x86_64"), "x86 only");
    Run r = run(List.of("--add-modules", "jdk.incubator.vector", "-XX:UseAVX=2"), "suite");
    assertEquals(0, r.exit, r.err + r.out);
    assertTrue(r.out.contains("device=java (2 threads, Vector API, 4 x 64-bit lanes)"), r.out);
    assertTrue(r.out.contains("parity=ok"), r.out);
  }

  @Test
  void forcingVectorsWithoutTheModuleNamesTheFlag() throws Exception {
    Run r = run(List.of("-Dengine.java.vector=true"), "force");
    assertTrue(r.exit != 0, r.err);
    assertTrue(r.err.contains("--add-modules jdk.incubator.vector"), r.err);
  }

  /**
   * A JVM started without {@code --add-modules jdk.incubator.vector}: the java backend loads,
   * answers as the oracle does, and says once, at debug level, that it uses the scalar loops.
   */
  @Test
  void runsWithoutTheVectorModule(@TempDir Path dir) throws Exception {
    Path logging = dir.resolve("logging.properties");
    Files.writeString(logging, String.join("\n",
        "handlers=java.util.logging.ConsoleHandler",
        "java.util.logging.ConsoleHandler.level=FINE",
        "org.deephash.backend.java.level=FINE",
        ".level=WARNING", ""));
    Run r = run(List.of("-Djava.util.logging.config.file=" + logging), "search");
    assertEquals(0, r.exit, r.err + r.out);
    assertTrue(r.out.contains("device=java (2 threads, scalar popcount)"), r.out);
    assertTrue(r.out.contains("parity=ok"), r.out);
    long lines = r.err.lines().filter(l -> l.contains("jdk.incubator.vector is not in this JVM")).count();
    assertEquals(1, lines, "one debug line, however many backends: " + r.err);
    Run quiet = run(List.of(), "search");
    assertEquals(0, quiet.exit, quiet.err);
    assertTrue(quiet.err.lines().noneMatch(l -> l.contains("jdk.incubator.vector")), "nothing at the default level: "
        + quiet.err);
  }

  private record Run(int exit, String out, String err) {}

  private static Run run(List<String> jvmArgs, String what) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("--enable-native-access=ALL-UNNAMED");
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(NoVectorModuleMain.class.getName());
    cmd.add(what);
    Process p = new ProcessBuilder(cmd).start();
    byte[] out = p.getInputStream().readAllBytes();
    byte[] err = p.getErrorStream().readAllBytes();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM did not finish");
    return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8), new String(err, StandardCharsets.UTF_8));
  }

  private static void withVector(String value, Runnable body) {
    String old = System.getProperty(JavaBackendProvider.VECTOR_PROPERTY);
    System.setProperty(JavaBackendProvider.VECTOR_PROPERTY, value);
    try {
      body.run();
    } finally {
      if (old == null) {
        System.clearProperty(JavaBackendProvider.VECTOR_PROPERTY);
      } else {
        System.setProperty(JavaBackendProvider.VECTOR_PROPERTY, old);
      }
    }
  }
}
