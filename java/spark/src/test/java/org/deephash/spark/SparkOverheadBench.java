package org.deephash.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.index.IndexFile;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * The overhead Spark adds: the same search by the engine alone (one table, every core) and by the
 * Spark job (the table cut into shards), on the same data. Opt-in, it takes minutes:
 *
 * <pre>
 * mvn -q test -pl java/spark -am -Dtest=SparkOverheadBench -Ddeephash.bench=true \
 *     -Dsurefire.failIfNoSpecifiedTests=false [-Dbench.n=1000000 -Dbench.q=1000 -Dbench.shards=4] \
 *     [-Dbench.master=standalone]
 * </pre>
 *
 * {@code bench.master}: {@code local} (default, local[2] in this JVM) or {@code standalone}: a real
 * standalone cluster on 127.0.0.1 ({@link StandaloneCluster}: a master, two workers of one core,
 * executors in their own JVMs fed the submit jar) driven from this JVM; the standalone run then also
 * times one whole {@code spark-submit} of the submit jar, cold (JVM starts, executors, shard mapping).
 *
 * <p>Prints one JSON line per search. Database and queries use independent seeds; a sample is checked
 * against the engine before timing; each figure is the median of 3 timed runs after a warm-up, with
 * the shards already mapped on the executors (the steady state of a long job).
 */
@EnabledIfSystemProperty(named = "deephash.bench", matches = "true")
class SparkOverheadBench {
  @TempDir
  Path dir;

  @Test
  @Timeout(value = 1500, unit = TimeUnit.SECONDS)
  void sparkVersusEngine() throws Exception {
    int n = Integer.getInteger("bench.n", 1_000_000);
    int nq = Integer.getInteger("bench.q", 1000);
    int shards = Integer.getInteger("bench.shards", 4);
    int dim = 32;
    Collection c = new Collection(1, n, 64, dim);
    QuerySet q = c.queries(2, nq, true);
    Path shardDir = java.nio.file.Files.createDirectories(dir.resolve("shards"));
    List<String> paths = c.save(shardDir, shards, 0, 3);
    Path whole = dir.resolve("whole.dh");
    try (CodeTable t = c.table()) {
      IndexFile.save(t, whole);
    }
    boolean standalone = System.getProperty("bench.master", "local").equals("standalone");
    if (!standalone) {
      run(SharedSpark.local(), c, q, paths, whole, n, nq, shards, dim);
      return;
    }
    SharedSpark.stop();
    try (StandaloneCluster cluster = new StandaloneCluster(dir.resolve("cluster"),
        StandaloneCluster.moduleSparkClassPath())) {
      cluster.startMaster();
      cluster.startWorker(1, "2g", List.of());
      cluster.startWorker(1, "2g", List.of());
      cluster.awaitWorkers(2);
      org.apache.spark.SparkConf conf = new org.apache.spark.SparkConf().setMaster(cluster.masterUrl())
          .setAppName("deephash-spark-overhead").set("spark.driver.host", "127.0.0.1").set("spark.ui.enabled", "false")
          .set("spark.executor.memory", "1500m").set("spark.executor.cores", "1");
      SubmitJar.shipTo(conf);
      SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
      try {
        // Executors start after the session: let them register and settle before the engine alone is
        // timed on the same cores.
        spark.range(0, 1000, 1, 4).count();
        Thread.sleep(5000);
        run(spark, c, q, paths, whole, n, nq, shards, dim);
      } finally {
        spark.stop();
        SparkSession.clearActiveSession();
        SparkSession.clearDefaultSession();
      }
      // One whole spark-submit, cold: what a user waits for, JVM starts and shard mapping included.
      Path queries = dir.resolve("queries.dh");
      try (CodeTable t = CodeTable.create(64, dim, false)) {
        t.addAll(q.ids(), q.codes(), q.features(), null);
        IndexFile.save(t, queries);
      }
      for (SearchSpec spec : List.of(SearchSpec.hamming(10), SearchSpec.coarseToFine(Pool.topM(100), 10))) {
        List<String> args = new java.util.ArrayList<>(List.of("--conf", "spark.driver.host=127.0.0.1", "--conf",
            "spark.ui.enabled=false", "--conf", "spark.executor.memory=1500m", "--conf", "spark.executor.cores=1",
            StandaloneClusterTest.submitJar().toString(), "--shards", shardDir.toString(), "--queries",
            queries.toString(), "--k", "10", "--query-block", String.valueOf(nq), "--output",
            dir.resolve("submit.parquet").toString(), "--json"));
        if (spec.isCoarseToFine()) {
          args.addAll(List.of("--pool-top", "100"));
        }
        long t0 = System.nanoTime();
        StandaloneCluster.Submission sub = cluster.submit(args).await(java.time.Duration.ofSeconds(600));
        double wall = (System.nanoTime() - t0) / 1e9;
        assertEquals(0, sub.exitCode(), () -> StandaloneCluster.tail(sub.stderr()));
        java.util.Map<String, Object> report = sub.report();
        System.out.printf(Locale.ROOT, "{\"bench\":\"spark-submit-cold\",\"search\":\"%s\",\"n\":%d,\"queries\":%d,"
            + "\"shards\":%d,\"submit_wall_s\":%.3f,\"job_search_s\":%s,\"job_total_s\":%s,\"executors\":%s,"
            + "\"load_avg\":%.1f}%n", spec, n, nq, shards, wall, report.get("search_seconds"),
            report.get("total_seconds"), ((List<?>) report.get("executors")).size(),
            ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
      }
    }
  }

  private void run(SparkSession spark, Collection c, QuerySet q, List<String> paths, Path whole, int n, int nq,
      int shards, int dim) throws Exception {
    LongAdder shuffleBytes = new LongAdder();
    LongAdder taskEnds = new LongAdder();
    spark.sparkContext().addSparkListener(new SparkListener() {
      @Override
      public void onTaskEnd(SparkListenerTaskEnd e) {
        if (e.taskMetrics() != null) {
          shuffleBytes.add(e.taskMetrics().shuffleWriteMetrics().bytesWritten());
        }
        taskEnds.increment();
      }
    });
    for (SearchSpec spec : List.of(SearchSpec.hamming(10), SearchSpec.coarseToFine(Pool.topM(100), 10))) {
      double[] engine = new double[3];
      String backend;
      SearchResult expected;
      try (CodeTable t = IndexFile.open(whole); GpuHashSearch s = GpuHashSearch.open(t)) {
        backend = s.backendName();
        expected = search(s, q, spec); // warm-up
        for (int r = 0; r < engine.length; r++) {
          long t0 = System.nanoTime();
          search(s, q, spec);
          engine[r] = (System.nanoTime() - t0) / 1e9;
        }
      }
      JobOptions o = JobOptions.defaults().withQueryBlock(nq);
      try (SearchJob job = SparkSearch.run(spark, paths, q.slice(0, 50), spec, o)) {
        Collection.assertSame(q.slice(0, 50), subset(expected, 50), job.results().collectAsList(),
            spec.isCoarseToFine());
      }
      double[] collect = new double[3];
      double[] parquet = new double[3];
      for (int r = -1; r < collect.length; r++) {
        long t0 = System.nanoTime();
        try (SearchJob job = SparkSearch.run(spark, paths, q, spec, o)) {
          List<Row> rows = job.results().collectAsList();
          assertEquals((long) nq * spec.k(), rows.size());
        }
        if (r >= 0) {
          collect[r] = (System.nanoTime() - t0) / 1e9;
        }
        t0 = System.nanoTime();
        try (SearchJob job = SparkSearch.run(spark, paths, q, spec, o)) {
          job.writeParquet(dir.resolve("out.parquet").toString());
        }
        if (r >= 0) {
          parquet[r] = (System.nanoTime() - t0) / 1e9;
        }
      }
      // Shuffle volume of one job (the listener bus is asynchronous: wait until it went quiet).
      quiet(taskEnds);
      shuffleBytes.reset();
      try (SearchJob job = SparkSearch.run(spark, paths, q, spec, o)) {
        job.results().collectAsList();
      }
      quiet(taskEnds);
      long shuffle = shuffleBytes.sum();
      // Fixed cost of a job: one query.
      double[] one = new double[3];
      for (int r = -1; r < one.length; r++) {
        long t0 = System.nanoTime();
        try (SearchJob job = SparkSearch.run(spark, paths, q.slice(0, 1), spec, o)) {
          job.results().collectAsList();
        }
        if (r >= 0) {
          one[r] = (System.nanoTime() - t0) / 1e9;
        }
      }
      double e = median(engine);
      double sc = median(collect);
      double sp = median(parquet);
      System.out.printf(Locale.ROOT, "{\"bench\":\"spark-overhead\",\"search\":\"%s\",\"n\":%d,\"bits\":64,\"dim\":%d,"
          + "\"queries\":%d,\"shards\":%d,\"master\":\"%s\",\"backend\":\"%s\",\"engine_s\":%.3f,"
          + "\"engine_qps\":%.0f,\"spark_collect_s\":%.3f,\"spark_collect_qps\":%.0f,\"spark_parquet_s\":%.3f,"
          + "\"spark_parquet_qps\":%.0f,\"spark_one_query_s\":%.3f,\"shuffle_bytes\":%d,"
          + "\"shuffle_bytes_per_query_shard\":%.1f,\"load_avg\":%.1f}%n", spec, n, dim, nq, shards,
          spark.sparkContext().master(), backend, e, nq / e, sc, nq / sc, sp, nq / sp, median(one), shuffle,
          shuffle / (double) nq / shards,
          ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    }
  }

  private static SearchResult search(GpuHashSearch s, QuerySet q, SearchSpec spec) {
    return spec.isCoarseToFine()
        ? s.coarseToFine(q.codes(), q.features(), spec.pool(), spec.k())
        : s.query(q.codes(), spec.k());
  }

  /** The first {@code count} queries' lists of {@code r}. */
  private static SearchResult subset(SearchResult r, int count) {
    int[] offsets = new int[count + 1];
    for (int i = 0; i < count; i++) {
      offsets[i + 1] = offsets[i] + r.count(i);
    }
    long[] allIds = new long[offsets[count]];
    int[] ham = new int[offsets[count]];
    float[] dist = r.hasDistances() ? new float[offsets[count]] : null;
    for (int i = 0; i < count; i++) {
      System.arraycopy(r.ids(i), 0, allIds, offsets[i], r.count(i));
      System.arraycopy(r.hammings(i), 0, ham, offsets[i], r.count(i));
      if (dist != null) {
        System.arraycopy(r.distances(i), 0, dist, offsets[i], r.count(i));
      }
    }
    return SearchResult.of(offsets, allIds, ham, dist, null);
  }

  private static void quiet(LongAdder events) throws InterruptedException {
    long seen = -1;
    while (seen != events.sum()) {
      seen = events.sum();
      Thread.sleep(500);
    }
  }

  private static double median(double[] v) {
    double[] s = v.clone();
    Arrays.sort(s);
    return s[s.length / 2];
  }
}
