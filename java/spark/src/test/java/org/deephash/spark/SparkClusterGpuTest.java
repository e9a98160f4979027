package org.deephash.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.spark.sql.SparkSession;
import org.deephash.Pool;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPU scheduling on a real (local-cluster) standalone cluster: two workers, each with a "GPU" found
 * by a stub discovery script, executors in their own JVMs. Every task must see its GPU address and
 * hand it to the engine ({@link SparkSearch#DEVICE_PROPERTY}); the test backend {@code
 * device-probe} records what the engine saw. No real GPU is involved: the search runs on the CPU.
 *
 * <p>local-cluster launches executors the way a Spark install would: it needs SPARK_HOME (here an
 * empty directory with jars/), SPARK_SCALA_VERSION, spark.testing and absolute class path entries
 * (the pom's surefire settings and {@link #cluster}).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class SparkClusterGpuTest {
  @TempDir
  static Path dir;

  @AfterAll
  static void back() {
    SparkSession.getDefaultSession().foreach(s -> {
      s.stop();
      return null;
    });
    SparkSession.clearActiveSession();
    SparkSession.clearDefaultSession();
  }

  static SparkSession cluster(Path script) throws Exception {
    SharedSpark.stop();
    String home = System.getenv("SPARK_HOME");
    if (home == null) {
      throw new IllegalStateException("SPARK_HOME is not set: run through Maven (the surefire configuration sets it)");
    }
    Files.createDirectories(Path.of(home, "jars"));
    System.setProperty("spark.testing", "true");
    System.setProperty("spark.test.home", home);
    // Surefire may run tests from a manifest-only jar; its real class path is in this property.
    String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    List<String> abs = new ArrayList<>();
    for (String e : cp.split(File.pathSeparator)) {
      if (!e.isEmpty()) {
        abs.add(Path.of(e).toAbsolutePath().toString());
      }
    }
    String flags = String.join(" ", SparkJvm.ENGINE) + " " + String.join(" ", SparkJvm.SPARK);
    return SparkSession.builder()
        .master("local-cluster[2,1,1024]")
        .appName("deephash-spark-gpu-test")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.executor.extraClassPath", String.join(File.pathSeparator, abs))
        .config("spark.executor.extraJavaOptions", flags)
        .config("spark.worker.resource.gpu.amount", "1")
        .config("spark.worker.resource.gpu.discoveryScript", script.toString())
        .config("spark.executor.resource.gpu.amount", "1")
        .config("spark.executor.resource.gpu.discoveryScript", script.toString())
        .config("spark.task.resource.gpu.amount", "1")
        .getOrCreate();
  }

  @Test
  void eachTaskHandsItsGpuAddressToTheEngine() throws Exception {
    Path script = dir.resolve("gpus.sh");
    Files.writeString(script, "#!/usr/bin/env bash\necho '{\"name\":\"gpu\",\"addresses\":[\"0\"]}'\n");
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
    Collection c = new Collection(101, 2000, 64, 8);
    List<String> shards = c.save(dir, 4, 0, 102);
    QuerySet q = c.queries(103, 100, true);
    SearchSpec spec = SearchSpec.coarseToFine(Pool.topM(25), 5).withBackend(DeviceProbeProvider.NAME);

    SparkSession spark = cluster(script);
    try {
      int executors = awaitExecutors(spark, 2);
      try (SearchJob job = SparkSearch.run(spark, shards, q, spec, JobOptions.defaults())) {
        Collection.assertSame(q, c.oracle(q, spec), job.results().collectAsList(), true);
        List<TaskReport> reports = job.taskReports();
        assertEquals(4, reports.size(), reports::toString);
        for (TaskReport r : reports) {
          assertFalse(r.executorId().equals("driver"), "ran in the driver, not on an executor: " + r);
          assertEquals(List.of("0"), r.gpuAddresses(), r::toString);
          assertEquals("0", r.deviceHint(), r::toString);
          assertEquals(DeviceProbeProvider.NAME, r.backend(), r::toString);
          assertEquals("device=0", r.device(), "the engine's backend did not see the address: " + r);
        }
        // Both executors had registered before the job, each with one GPU and one core: the first two
        // tasks start one on each, so every executor ran tasks, and no task ran elsewhere.
        assertEquals(executors, reports.stream().map(TaskReport::executorId).distinct().count(), reports::toString);
      }
    } finally {
      spark.stop();
    }
  }
  /** Waits until {@code n} executors (besides the driver) have registered; returns how many there are. */
  private static int awaitExecutors(SparkSession spark, int n) throws InterruptedException {
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (true) {
      int executors = spark.sparkContext().statusTracker().getExecutorInfos().length - 1; // the driver is listed too
      if (executors >= n) {
        return executors;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("only " + executors + " of " + n + " executors registered in 60 s");
      }
      Thread.sleep(100);
    }
  }
}
