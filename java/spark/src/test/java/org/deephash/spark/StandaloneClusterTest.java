package org.deephash.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.spark.sql.Row;
import org.deephash.CodeTable;
import org.deephash.Pool;
import org.deephash.cli.api.Cli;
import org.deephash.index.IndexFile;
import org.deephash.io.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The job on a real standalone cluster: a Master and two Workers on 127.0.0.1, each its own JVM
 * started by Spark's launcher from this module's Maven class path ({@link StandaloneCluster}), jobs
 * submitted as a user would (SparkSubmit with the submit jar, or {@code engine-cli spark-search
 * --master spark://...}), executors launched by the workers. Every result is compared with the
 * single-machine engine. One worker is killed with SIGKILL in the middle of a job, which must still
 * give the exact answer. The workers advertise fake GPUs (a stub nvidia-smi behind the module's
 * discovery script), so GPU scheduling and the per-executor backend report are checked too (the
 * searches run on the CPU: no GPU here).
 *
 * <p>In the default test run (CI), bounded in time: about two minutes on 2 cores; {@code
 * -DexcludedGroups=cluster} leaves it out of a quick local run.
 */
@Tag("cluster")
@Timeout(value = 300, unit = TimeUnit.SECONDS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class StandaloneClusterTest {
  /** Fake GPUs of the two workers: each executor must be given addresses of its own worker only. */
  private static final List<List<String>> GPUS = List.of(List.of("0", "1"), List.of("2", "3"));
  private static final Pattern EXECUTOR_LINE = Pattern.compile("deephash executor (\\S+) on (\\S+): backend (\\S+) .*");

  @TempDir
  static Path dir;

  private static StandaloneCluster cluster;
  private static Collection collection;
  private static Path shards;
  private static QuerySet queries;
  private static Path queryParquet;
  private static Path queryIndex;

  @BeforeAll
  static void start() throws Exception {
    collection = new Collection(301, 30_000, 64, 8);
    shards = Files.createDirectories(dir.resolve("shards"));
    collection.save(shards, 4, 1, 302); // one shard empty
    queries = collection.queries(303, 300, true);
    queryParquet = dir.resolve("queries.parquet");
    SparkSearchTest.writeParquet(SharedSpark.local(), queries.ids(), queries.codes(), queries.features(), 8, 8,
        queryParquet.toString());
    queryIndex = dir.resolve("queries.dh");
    try (CodeTable t = CodeTable.create(64, 8, false)) {
      t.addAll(queries.ids(), queries.codes(), queries.features(), null);
      IndexFile.save(t, queryIndex);
    }
    cluster = new StandaloneCluster(dir.resolve("cluster"), StandaloneCluster.moduleSparkClassPath());
    cluster.startMaster();
  }

  @AfterAll
  static void stop() {
    if (cluster != null) {
      cluster.close(); // fails the class if a process of the cluster survives
    }
  }

  /** Two live workers before every test (the kill test leaves one). */
  @BeforeEach
  void twoWorkers() throws Exception {
    List<StandaloneCluster.Worker> live = cluster.liveWorkers();
    Set<List<String>> have = new HashSet<>();
    live.forEach(w -> have.add(w.gpus()));
    for (List<String> gpus : GPUS) {
      if (!have.contains(gpus)) {
        cluster.startWorker(2, "1536m", gpus);
      }
    }
    cluster.awaitWorkers(2);
  }

  static Path submitJar() {
    Path jar = Path.of(System.getProperty("deephash.submitJar", "target/missing-submit.jar"));
    assertTrue(Files.isRegularFile(jar), "no submit jar at " + jar + ": the build makes it before the tests");
    return jar;
  }

  /** Settings of every submission: small executors, the driver on 127.0.0.1, no UI. */
  private static List<String> common(int executorCores, int maxCores) {
    return List.of("--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.ui.enabled=false",
        "--conf", "spark.executor.memory=640m", "--conf", "spark.executor.cores=" + executorCores,
        "--conf", "spark.cores.max=" + maxCores);
  }

  private static List<Row> rows(String output) {
    return SharedSpark.local().read().parquet(output).collectAsList();
  }

  @Test
  @Order(1)
  void gpuSchedulingAndBackendReportPerExecutor() throws Exception {
    // One executor per worker, each with its worker's two GPUs and 2 cores: two tasks at a time,
    // one GPU each. No executor discovery script: on standalone the worker assigns the addresses.
    String out = dir.resolve("gpu.parquet").toString();
    List<String> args = new ArrayList<>(common(2, 4));
    args.addAll(List.of("--conf", "spark.executor.resource.gpu.amount=2", "--conf", "spark.task.resource.gpu.amount=1",
        submitJar().toString(), "--shards", shards.toString(), "--queries", queryParquet.toString(), "--k", "10",
        "--query-block", "100", "--output", out, "--json"));
    StandaloneCluster.Submission s = cluster.submit(args).await(Duration.ofSeconds(240));
    assertEquals(0, s.exitCode(), () -> StandaloneCluster.tail(s.stderr()));
    SearchSpec spec = SearchSpec.hamming(10);
    Collection.assertSame(queries, collection.oracle(queries, spec), rows(out), false);

    Map<String, Object> report = s.report();
    System.out.println("GPU job: " + report);
    assertEquals(4.0 * 3, report.get("tasks"), "units: 4 shards x 3 blocks of 100 queries");
    assertEquals(12.0, report.get("task_attempts"), "nothing failed, nothing ran twice");
    String app = (String) report.get("application");
    Map<String, StandaloneCluster.Worker> workerOf = new HashMap<>();
    Map<String, Path> logs = new HashMap<>();
    for (StandaloneCluster.Worker w : cluster.workers()) {
      StandaloneCluster.executorLogs(w, app).forEach((id, log) -> {
        workerOf.put(id, w);
        logs.put(id, log);
      });
    }
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> executors = (List<Map<String, Object>>) report.get("executors");
    assertEquals(2, executors.size(), report::toString);
    for (Map<String, Object> e : executors) {
      String id = (String) e.get("id");
      StandaloneCluster.Worker w = workerOf.get(id);
      assertNotNull(w, "executor " + id + " is in no worker's work directory: " + workerOf);
      @SuppressWarnings("unchecked")
      List<String> gpus = (List<String>) e.get("gpus");
      assertFalse(gpus.isEmpty(), "tasks on executor " + id + " had no GPU: " + e);
      assertTrue(w.gpus().containsAll(gpus), "executor " + id + " on " + w.name() + " (GPUs " + w.gpus()
          + ") was given " + gpus);
      assertEquals("127.0.0.1", e.get("host"));
      String backend = (String) e.get("backend");
      if (!backend.equals("cuda")) {
        String why = (String) e.get("cuda_skipped");
        assertTrue(why != null && !why.isBlank(), "no reason why CUDA was skipped: " + e);
      }
      // The executor's own log has one line with the same facts.
      List<String> lines;
      try (Stream<String> all = Files.lines(logs.get(id))) {
        lines = all.filter(l -> l.contains("deephash executor ")).toList();
      }
      assertEquals(1, lines.size(), "executor " + id + " logged " + lines);
      String line = lines.get(0).substring(lines.get(0).indexOf("deephash executor "));
      Matcher m = EXECUTOR_LINE.matcher(line);
      assertTrue(m.matches(), line);
      assertEquals(id, m.group(1), line);
      assertEquals(backend, m.group(3), line);
      assertTrue(line.contains("GPU ") && gpus.stream().anyMatch(g -> line.contains("GPU " + g + " from Spark")), line);
      assertEquals(backend.equals("cuda"), !line.contains("cuda skipped: "), line);
    }
    // The driver printed the same, one line per executor.
    assertEquals(2, s.stderr().lines().filter(l -> l.startsWith("spark-search: deephash executor ")).count(),
        () -> StandaloneCluster.tail(s.stderr()));
  }

  @Test
  @Order(2)
  void coarseToFineWithDistributedQueries() throws Exception {
    String out = dir.resolve("c2f.parquet").toString();
    List<String> args = new ArrayList<>(common(1, 2));
    args.addAll(List.of(submitJar().toString(), "--shards", shards.toString(), "--queries", queryIndex.toString(),
        "--k", "5", "--pool-top", "40", "--broadcast-limit", "0", "--query-block", "64", "--output", out, "--json"));
    StandaloneCluster.Submission s = cluster.submit(args).await(Duration.ofSeconds(240));
    assertEquals(0, s.exitCode(), () -> StandaloneCluster.tail(s.stderr()));
    Collection.assertSame(queries, collection.oracle(queries, SearchSpec.coarseToFine(Pool.topM(40), 5)), rows(out),
        true);
    Map<String, Object> report = s.report();
    assertEquals(4.0 * 5, report.get("tasks"), "units: 4 shards x 5 blocks of at most 64 queries");
    assertEquals(300.0, report.get("queries"));
    assertEquals(1500.0, report.get("results"));
  }

  @Test
  @Order(3)
  void engineCliShipsTheSubmitJarToACluster() throws Exception {
    // The driver runs here, as under engine-cli; only spark.jars gives the executors the job's classes.
    SharedSpark.stop();
    String out = dir.resolve("cli.parquet").toString();
    List<String> args = new ArrayList<>(List.of("--shards", shards.toString(), "--queries", queryParquet.toString(),
        "--k", "7", "--pool-radius", "18", "--pool-cap", "60", "--output", out, "--json", "--master",
        cluster.masterUrl()));
    List<String> conf = common(1, 2);
    for (int i = 0; i < conf.size(); i += 2) {
      args.add("--conf");
      args.add(conf.get(i + 1));
    }
    ByteArrayOutputStream stdout = new ByteArrayOutputStream();
    ByteArrayOutputStream stderr = new ByteArrayOutputStream();
    int status = Cli.run(new SparkSearchCommand(), args.toArray(new String[0]),
        new PrintStream(stdout, true, StandardCharsets.UTF_8), new PrintStream(stderr, true, StandardCharsets.UTF_8));
    String err = stderr.toString(StandardCharsets.UTF_8);
    assertEquals(0, status, err);
    assertTrue(err.contains("shipping " + submitJar().toAbsolutePath()), err);
    Map<String, Object> report = Json.object(stdout.toString(StandardCharsets.UTF_8).strip());
    assertEquals(cluster.masterUrl(), report.get("master"));
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> executors = (List<Map<String, Object>>) report.get("executors");
    assertFalse(executors.isEmpty(), report::toString);
    assertTrue(executors.stream().noneMatch(e -> "driver".equals(e.get("id"))), "searched in the driver: " + report);
    Collection.assertSame(queries, collection.oracle(queries, SearchSpec.coarseToFine(Pool.radius(18, 60), 7)),
        rows(out), true);
  }

  @Test
  @Order(4)
  void workerKilledMidJobStillGivesTheExactAnswer() throws Exception {
    Path markers = Files.createDirectories(dir.resolve("markers"));
    String out = dir.resolve("killed.parquet").toString();
    List<String> args = new ArrayList<>(common(1, 2));
    args.addAll(List.of("--jars", probeJar().toString(),
        "--conf", "spark.executorEnv." + SlowProbeProvider.MARKERS + "=" + markers,
        "--conf", "spark.executorEnv." + SlowProbeProvider.SLOW_MS + "=300",
        submitJar().toString(), "--shards", shards.toString(), "--queries", queryIndex.toString(), "--k", "10",
        "--pool-top", "30", "--query-block", "50", "--backend", SlowProbeProvider.NAME, "--output", out, "--json"));
    StandaloneCluster.Running running = cluster.submit(args);

    // Wait until one executor has finished a task and started its next one, then kill its worker:
    // the running task is lost, and so is the shuffle output of the finished one.
    StandaloneCluster.Worker victim = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
    while (victim == null) {
      Map<Long, Integer> perPid = new HashMap<>();
      try (Stream<Path> files = Files.list(markers)) {
        files.forEach(f -> perPid.merge(Long.parseLong(f.getFileName().toString().split("-")[0]), 1, Integer::sum));
      }
      for (StandaloneCluster.Worker w : cluster.liveWorkers()) {
        for (long pid : cluster.executorPids(w)) {
          if (perPid.getOrDefault(pid, 0) >= 2) {
            victim = w;
          }
        }
      }
      assertTrue(System.nanoTime() < deadline, "no executor started a second search in 180 s: " + perPid);
      Thread.sleep(50);
    }
    cluster.kill9(victim);
    StandaloneCluster.Submission s = running.await(Duration.ofSeconds(240));
    assertEquals(0, s.exitCode(), () -> StandaloneCluster.tail(s.stderr()));
    Collection.assertSame(queries, collection.oracle(queries, SearchSpec.coarseToFine(Pool.topM(30), 10)), rows(out),
        true);
    Map<String, Object> report = s.report();
    System.out.println("worker " + victim.name() + " killed: " + report);
    assertEquals(4.0 * 6, report.get("tasks"), "units: 4 shards x 6 blocks of 50 queries, each counted once");
    double attempts = (Double) report.get("task_attempts");
    assertTrue(attempts > 24, "the killed executor's finished work was lost and searched again: " + report);
    // The killed worker's executor reported what it finished before it was lost; the others (the
    // survivor, and any executor the master started in its place) searched the rest.
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> executors = (List<Map<String, Object>>) report.get("executors");
    Set<String> lost = StandaloneCluster.executorLogs(victim, (String) report.get("application")).keySet();
    Set<String> reported = new HashSet<>();
    executors.forEach(e -> reported.add((String) e.get("id")));
    assertEquals(1, lost.size(), "one executor on the killed worker: " + lost);
    assertTrue(reported.containsAll(lost) && reported.size() >= 2, "lost " + lost + ", reported " + report);
    for (Map<String, Object> e : executors) {
      assertEquals(SlowProbeProvider.NAME, e.get("backend"), report::toString);
      assertEquals("not tried: backend " + SlowProbeProvider.NAME + " was asked for", e.get("cuda_skipped"));
    }
  }

  /** A jar with the slow-probe backend and its service entry, for --jars. */
  private static Path probeJar() throws IOException {
    Path jar = dir.resolve("slow-probe.jar");
    Path classes = Path.of(SlowProbeProvider.class.getProtectionDomain().getCodeSource().getLocation().getPath());
    try (JarOutputStream j = new JarOutputStream(Files.newOutputStream(jar));
        Stream<Path> files = Files.walk(classes)) {
      for (Path f : files.filter(p -> p.getFileName().toString().startsWith("SlowProbeProvider")).toList()) {
        j.putNextEntry(new JarEntry(classes.relativize(f).toString()));
        Files.copy(f, j);
        j.closeEntry();
      }
      j.putNextEntry(new JarEntry("META-INF/services/org.deephash.spi.BackendProvider"));
      j.write((SlowProbeProvider.class.getName() + "\n").getBytes(StandardCharsets.UTF_8));
      j.closeEntry();
    }
    return jar;
  }
}
