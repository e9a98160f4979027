package org.deephash.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.cli.api.Cli;
import org.deephash.index.IndexFile;
import org.deephash.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Spark job against the single-machine engine, in local[2]: results must be equal exactly (ids,
 * order, Hamming distances, bit-identical Euclidean distances) on data full of ties. Executor
 * failures show up as hangs, hence a timeout on every test.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class SparkSearchTest {
  @TempDir
  Path dir;

  static Stream<Arguments> hammingCases() {
    // shards, empty shards, k, code bits, seed
    return Stream.of(
        Arguments.of(1, 0, 10, 64, 11L),
        Arguments.of(3, 0, 1, 64, 12L),
        Arguments.of(5, 1, 37, 128, 13L),
        Arguments.of(8, 2, 100, 24, 14L));
  }

  @ParameterizedTest(name = "{0} shards ({1} empty), k={2}, {3} bits")
  @MethodSource("hammingCases")
  void hammingTopKEqualsEngine(int shards, int empty, int k, int bits, long seed) throws Exception {
    Collection c = new Collection(seed, 2500, bits, 0);
    List<String> paths = c.save(dir, shards, empty, seed + 100);
    QuerySet q = c.queries(seed + 200, 300, false);
    SearchSpec spec = SearchSpec.hamming(k);
    try (SearchJob job = SparkSearch.run(SharedSpark.local(), paths, q, spec, JobOptions.defaults().withQueryBlock(128))) {
      Collection.assertSame(q, c.oracle(q, spec), job.results().collectAsList(), false);
    }
  }

  static Stream<Arguments> poolCases() {
    return Stream.of(
        Arguments.of(Pool.topM(40), 5, 4),
        Arguments.of(Pool.topM(1), 1, 3),
        Arguments.of(Pool.radius(20, 25), 10, 6));
  }

  @ParameterizedTest(name = "{0}, k={1}, {2} shards")
  @MethodSource("poolCases")
  void coarseToFineEqualsEngine(Pool pool, int k, int shards) throws Exception {
    Collection c = new Collection(21, 3000, 32, 12);
    List<String> paths = c.save(dir, shards, 1, 22);
    QuerySet q = c.queries(23, 250, true);
    SearchSpec spec = SearchSpec.coarseToFine(pool, k);
    try (SearchJob job = SparkSearch.run(SharedSpark.local(), paths, q, spec, JobOptions.defaults())) {
      Collection.assertSame(q, c.oracle(q, spec), job.results().collectAsList(), true);
    }
  }

  /**
   * The trap the job avoids: re-ranking each shard's own top-m pool and merging the winners is not
   * the single-machine search. On this data it differs, so the equality above is a real check.
   */
  @Test
  void perShardPoolsMergedAreNotTheGlobalPool() throws Exception {
    Collection c = new Collection(21, 3000, 32, 12);
    List<String> paths = c.save(dir, 4, 1, 22);
    QuerySet q = c.queries(23, 250, true);
    Pool pool = Pool.topM(40);
    SearchResult global = c.oracle(q, SearchSpec.coarseToFine(pool, 5));
    int differing = 0;
    List<SearchResult> shardResults = new ArrayList<>();
    for (String p : paths) {
      try (CodeTable t = IndexFile.open(Path.of(p)); GpuHashSearch s = GpuHashSearch.open(t)) {
        shardResults.add(s.coarseToFine(q.codes(), q.features(), pool, 5));
      }
    }
    for (int i = 0; i < q.count(); i++) {
      Candidates merged = new Candidates(new long[0], new int[0], new float[0]);
      for (SearchResult r : shardResults) {
        merged = Candidates.merge(merged, Candidates.byHamming(r.ids(i), r.hammings(i), r.distances(i)), 1 << 20);
      }
      long[] naive = merged.rerankByDistance(5).ids;
      if (!java.util.Arrays.equals(naive, global.ids(i))) {
        differing++;
      }
    }
    assertTrue(differing > 0, "per-shard pools happened to equal the global pool for every query; pick other data");
  }

  @Test
  void parquetInAndOut() throws Exception {
    SparkSession spark = SharedSpark.local();
    Collection c = new Collection(31, 1500, 48, 6);
    QuerySet q = c.queries(32, 120, true);
    String table = dir.resolve("codes.parquet").toString();
    String queries = dir.resolve("queries.parquet").toString();
    writeParquet(spark, c.ids, c.codes, c.features, 6, 6, table);
    writeParquet(spark, q.ids(), q.codes(), q.features(), 6, 6, queries);

    List<String> shards = ParquetTables.stage(spark, spark.read().parquet(table), 5, dir.resolve("shards").toString());
    assertEquals(5, shards.size());
    int rows = 0;
    for (String s : shards) {
      try (CodeTable t = IndexFile.open(Path.of(s))) {
        rows += t.size();
      }
    }
    assertEquals(c.n, rows);

    SearchSpec spec = SearchSpec.coarseToFine(Pool.topM(30), 7);
    String out = dir.resolve("out.parquet").toString();
    try (SearchJob job = SparkSearch.run(spark, shards, spark.read().parquet(queries), spec, JobOptions.defaults())) {
      job.writeParquet(out);
    }
    Dataset<Row> back = spark.read().parquet(out);
    assertEquals(SparkSearch.RESULT_SCHEMA.fieldNames().length, back.schema().fields().length);
    Collection.assertSame(q, c.oracle(q, spec), back.collectAsList(), true);
  }

  @Test
  void stagingMoreShardsThanRowsLeavesEmptyShards() throws Exception {
    SparkSession spark = SharedSpark.local();
    Collection c = new Collection(41, 3, 64, 0);
    String table = dir.resolve("tiny.parquet").toString();
    writeParquet(spark, c.ids, c.codes, null, 8, 0, table);
    List<String> shards = ParquetTables.stage(spark, spark.read().parquet(table), 6, dir.resolve("s").toString());
    assertEquals(6, shards.size());
    QuerySet q = c.queries(42, 10, false);
    SearchSpec spec = SearchSpec.hamming(5); // k above the collection size: each list has all 3 rows
    try (SearchJob job = SparkSearch.run(spark, shards, q, spec, JobOptions.defaults())) {
      List<Row> rows = job.results().collectAsList();
      assertEquals(30, rows.size());
      Collection.assertSame(q, c.oracle(q, spec), rows, false);
    }
  }

  @Test
  void onlyEmptyShardsGiveNoRows() throws Exception {
    Collection c = new Collection(51, 0, 64, 4);
    List<String> shards = c.save(dir, 3, 3, 52);
    QuerySet q = new Collection(53, 10, 64, 4).queries(54, 5, true);
    try (SearchJob job = SparkSearch.run(SharedSpark.local(), shards, q, SearchSpec.coarseToFine(Pool.topM(5), 2),
        JobOptions.defaults())) {
      assertEquals(0, job.results().count());
    }
  }

  @Test
  void queryBatchLargerThanShardsAndDistributedQueries() throws Exception {
    Collection c = new Collection(61, 400, 64, 0);
    List<String> shards = c.save(dir, 6, 0, 62);
    QuerySet q = c.queries(63, 1500, false); // 1500 queries, shards of ~70 rows, k above a shard's size
    SearchSpec spec = SearchSpec.hamming(90);
    // broadcast limit 0: the queries stay distributed (blocks x shards, a cartesian product)
    JobOptions distributed = JobOptions.defaults().withBroadcastLimitBytes(0).withQueryBlock(400);
    try (SearchJob job = SparkSearch.run(SharedSpark.local(), shards, q, spec, distributed)) {
      Collection.assertSame(q, c.oracle(q, spec), job.results().collectAsList(), false);
      List<TaskReport> reports = job.taskReports();
      assertEquals(6 * 4, reports.size(), "one task per (shard, block of 400 queries)");
      // Every shard was mapped at most once in this JVM, then reused by the other tasks.
      assertTrue(reports.stream().filter(TaskReport::shardOpenedHere).count() <= shards.size(), reports::toString);
      assertTrue(reports.stream().allMatch(r -> r.gpuAddresses().isEmpty() && r.deviceHint() == null));
    }
  }

  @Test
  void distributedParquetQueries() throws Exception {
    SparkSession spark = SharedSpark.local();
    Collection c = new Collection(71, 800, 32, 3);
    List<String> shards = c.save(dir, 3, 0, 72);
    QuerySet q = c.queries(73, 200, true);
    String queries = dir.resolve("q.parquet").toString();
    writeParquet(spark, q.ids(), q.codes(), q.features(), 4, 3, queries);
    SearchSpec spec = SearchSpec.coarseToFine(Pool.radius(12, 50), 4);
    JobOptions distributed = JobOptions.defaults().withBroadcastLimitBytes(0).withQueryBlock(64);
    try (SearchJob job = SparkSearch.run(spark, shards, spark.read().parquet(queries), spec, distributed)) {
      Collection.assertSame(q, c.oracle(q, spec), job.results().collectAsList(), true);
    }
  }

  @Test
  void gpuRequestInLocalModeIsRejected() {
    SparkConf conf = new SparkConf().setMaster("local[*]").set("spark.task.resource.gpu.amount", "1");
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SparkSearch.rejectGpuInLocalMode(conf));
    assertTrue(e.getMessage().contains("local mode never assigns GPUs"), e.getMessage());
    // the CLI refuses before it starts a session
    ByteArrayOutputStream cliErr = new ByteArrayOutputStream();
    int refused = Cli.run(new SparkSearchCommand(), new String[] {"--shards", "x.dh", "--queries", "q.dh", "--output",
        "o", "--master", "local[2]", "--conf", "spark.executor.resource.gpu.amount=1"},
        new PrintStream(OutputStream.nullOutputStream()), new PrintStream(cliErr, true, StandardCharsets.UTF_8));
    assertEquals(2, refused);
    assertTrue(cliErr.toString(StandardCharsets.UTF_8).contains("spark.executor.resource.gpu.amount"),
        cliErr.toString(StandardCharsets.UTF_8));
    SparkSearch.rejectGpuInLocalMode(new SparkConf().setMaster("local-cluster[2,1,1024]")
        .set("spark.task.resource.gpu.amount", "1"));
    SparkSearch.rejectGpuInLocalMode(new SparkConf().setMaster("local[2]"));
  }

  @Test
  void executorsOnAnOlderJavaAreToldInOneLine() {
    // As Spark reports it when a worker launches executors with its JDK 17 (seen on a standalone cluster).
    Exception failure = new org.apache.spark.SparkException("Job aborted due to stage failure: Task 1 in"
        + " stage 0.0 failed 2 times, most recent failure: Lost task 1.1 in stage 0.0 (TID 3) (127.0.0.1 executor 0):"
        + " java.lang.UnsupportedClassVersionError: org/deephash/spark/SearchSpec has been compiled by a more recent"
        + " version of the Java Runtime (class file version 69.0), this version of the Java Runtime only recognizes"
        + " class file versions up to 61.0");
    IllegalArgumentException e = SparkSearchMain.olderJavaOnExecutors(failure);
    assertTrue(e != null && e.getMessage().startsWith("the executors run Java 17 and the job needs JDK 25")
        && e.getMessage().contains("spark.executorEnv.JAVA_HOME"), String.valueOf(e));
    assertTrue(SparkSearchMain.olderJavaOnExecutors(new RuntimeException("disk full")) == null);
  }

  @Test
  void mismatchedCodeWidthSaysWhatToFix() throws Exception {
    Collection c = new Collection(81, 50, 64, 0);
    List<String> shards = c.save(dir, 2, 0, 82);
    QuerySet q = new Collection(83, 10, 32, 0).queries(84, 3, false);
    Exception e = assertThrows(Exception.class, () -> {
      try (SearchJob job = SparkSearch.run(SharedSpark.local(), shards, q, SearchSpec.hamming(3),
          JobOptions.defaults())) {
        job.results().collectAsList();
      }
    });
    assertTrue(String.valueOf(e.getMessage()).contains("same code width"), e.getMessage());
  }

  @Test
  void engineCliCommand() throws Exception {
    Collection c = new Collection(91, 600, 64, 5);
    Path shards = Files.createDirectories(dir.resolve("idx"));
    c.save(shards, 3, 0, 92);
    QuerySet q = c.queries(93, 40, true);
    Path queries = dir.resolve("queries.dh");
    try (CodeTable t = CodeTable.create(64, 5, false)) {
      t.addAll(q.ids(), q.codes(), q.features(), null);
      IndexFile.save(t, queries);
    }
    String out = dir.resolve("cli.parquet").toString();
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    int status = Cli.run(new SparkSearchCommand(), new String[] {"--shards", shards.toString(), "--queries",
        queries.toString(), "--k", "4", "--pool-top", "20", "--output", out, "--json"},
        new PrintStream(stdout, true, StandardCharsets.UTF_8), System.err);
    assertEquals(0, status);
    String json = stdout.toString(StandardCharsets.UTF_8);
    Map<String, Object> report = Json.object(json.strip());
    assertEquals(160.0, report.get("results"), json);
    assertEquals(40.0, report.get("queries"), json);
    assertEquals(3.0, report.get("shards"), json);
    assertEquals(out, report.get("output"), json);
    assertEquals(3.0, report.get("tasks"), "3 shards x 1 block of queries: " + json);
    assertEquals(3.0, report.get("task_attempts"), json);
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> executors = (List<Map<String, Object>>) report.get("executors");
    assertEquals(1, executors.size(), json);
    assertEquals("driver", executors.get(0).get("id"), "local mode searches in the driver: " + json);
    assertEquals(3.0, executors.get(0).get("task_attempts"), json);
    if (!"cuda".equals(executors.get(0).get("backend"))) {
      assertTrue(String.valueOf(executors.get(0).get("cuda_skipped")).length() > 10, "why not CUDA? " + json);
    }
    Collection.assertSame(q, c.oracle(q, SearchSpec.coarseToFine(Pool.topM(20), 4)),
        SharedSpark.local().read().parquet(out).collectAsList(), true);
  }

  static void writeParquet(SparkSession spark, long[] ids, byte[] codes, float[] features, int codeBytes, int dim,
      String path) {
    StructType schema = new StructType()
        .add("id", DataTypes.LongType, false)
        .add("code", DataTypes.BinaryType, false);
    if (features != null) {
      schema = schema.add("feature", DataTypes.createArrayType(DataTypes.FloatType, false), false);
    }
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < ids.length; i++) {
      byte[] code = java.util.Arrays.copyOfRange(codes, i * codeBytes, (i + 1) * codeBytes);
      if (features == null) {
        rows.add(RowFactory.create(ids[i], code));
      } else {
        List<Float> f = new ArrayList<>();
        for (int d = 0; d < dim; d++) {
          f.add(features[i * dim + d]);
        }
        rows.add(RowFactory.create(ids[i], code, f));
      }
    }
    spark.createDataFrame(rows, schema).repartition(3).write().mode("overwrite").parquet(path);
  }
}
