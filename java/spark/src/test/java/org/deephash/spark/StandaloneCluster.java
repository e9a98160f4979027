package org.deephash.spark;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.deephash.io.Json;

/**
 * A real standalone Spark cluster on 127.0.0.1, for tests and benchmarks: a Master and Workers, each
 * in its own JVM, started through {@code bin/spark-class} (Spark's launcher library builds their
 * command lines, as in a Spark distribution) from a SPARK_HOME whose {@code jars/} is this module's
 * Maven class path of Spark ({@code target/spark-classpath.txt}, linked, not copied); jobs go in
 * through {@code SparkSubmit} the same way. Workers launch executors as on any cluster.
 *
 * <p>A worker may be given fake GPUs: a stub {@code nvidia-smi} on its PATH prints their indices and
 * the repository's discovery script ({@code java/spark/scripts/discover-gpus.sh}) turns them into
 * the worker's GPU resource.
 *
 * <p>{@link #close()} stops everything started here, executors included (also those of a worker
 * killed with {@link #kill9}), and fails when a process is still alive afterwards; a shutdown hook
 * does the same if the JVM exits first.
 */
final class StandaloneCluster implements AutoCloseable {
  /** The discovery script that ships with the module. */
  static final Path DISCOVERY_SCRIPT = Path.of("scripts", "discover-gpus.sh").toAbsolutePath();

  /** A worker process, its work directory and the fake GPU indices it advertises. */
  record Worker(String name, Process process, Path workDir, List<String> gpus) {}

  /** A finished SparkSubmit run. */
  record Submission(int exitCode, String stdout, String stderr) {
    /** The job's JSON report: the last stdout line that is a JSON object. */
    Map<String, Object> report() {
      String[] lines = stdout.strip().split("\n");
      for (int i = lines.length - 1; i >= 0; i--) {
        if (lines[i].startsWith("{")) {
          return Json.object(lines[i]);
        }
      }
      throw new AssertionError("no JSON report on the driver's stdout:\n" + stdout + "\nstderr:\n" + tail(stderr));
    }
  }

  /** A SparkSubmit run in progress. */
  final class Running {
    private final Process process;
    private final Path out;
    private final Path err;

    private Running(Process process, Path out, Path err) {
      this.process = process;
      this.out = out;
      this.err = err;
    }

    /** Waits for the driver to exit; kills it (and fails) after {@code timeout}. */
    Submission await(Duration timeout) throws IOException, InterruptedException {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        destroyTree(process);
        throw new AssertionError("spark-submit did not finish in " + timeout + "; its log:\n" + tail(read(err)));
      }
      return new Submission(process.exitValue(), read(out), read(err));
    }
  }

  private final Path root;
  private final Path home;
  private final List<Process> started = new ArrayList<>();
  /** Processes seen below the started ones (executors): stopped by close() even when orphaned. */
  private final Set<ProcessHandle> seen = new LinkedHashSet<>();
  private final List<Worker> workers = new ArrayList<>();
  private final Thread hook;
  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private int masterPort;
  private int masterUiPort;
  private int names;

  /**
   * Lays out SPARK_HOME under {@code root}: jars/ linking every jar of {@code sparkClassPath}, the
   * test's bin/spark-class and conf/log4j2.properties.
   */
  StandaloneCluster(Path root, String sparkClassPath) throws IOException {
    this.root = root.toAbsolutePath();
    this.home = this.root.resolve("spark-home");
    Files.createDirectories(home.resolve("jars"));
    Files.createDirectories(home.resolve("bin"));
    Files.createDirectories(home.resolve("conf"));
    for (String e : sparkClassPath.strip().split(":")) {
      if (e.isEmpty()) {
        continue;
      }
      Path jar = Path.of(e);
      if (!Files.isRegularFile(jar)) {
        throw new IllegalStateException("a Spark jar of the class path is missing: " + jar + " (rebuild the module)");
      }
      Path link = home.resolve("jars").resolve(jar.getFileName());
      if (!Files.exists(link)) {
        Files.createSymbolicLink(link, jar);
      }
    }
    copyResource("standalone/bin/spark-class", home.resolve("bin/spark-class"), true);
    copyResource("standalone/conf/log4j2.properties", home.resolve("conf/log4j2.properties"), false);
    hook = new Thread(this::stopAll, "standalone-cluster-stop");
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** The module's Spark class path as the build wrote it. */
  static String moduleSparkClassPath() throws IOException {
    Path file = Path.of(System.getProperty("deephash.sparkClasspath", "target/spark-classpath.txt"));
    if (!Files.isRegularFile(file)) {
      throw new IllegalStateException(file + " is missing: run the tests through Maven (the build writes it)");
    }
    return Files.readString(file, StandardCharsets.UTF_8);
  }

  String masterUrl() {
    return "spark://127.0.0.1:" + masterPort;
  }

  Path home() {
    return home;
  }

  List<Worker> workers() {
    return List.copyOf(workers);
  }

  /** Starts the Master and waits until it is ALIVE. */
  void startMaster() throws IOException, InterruptedException {
    masterPort = freePort();
    masterUiPort = freePort();
    Process p = start("master", env(), List.of("org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
        "--port", String.valueOf(masterPort), "--webui-port", String.valueOf(masterUiPort)));
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (true) {
      Map<String, Object> state = masterState();
      if (state != null && "ALIVE".equals(state.get("status"))) {
        return;
      }
      checkAlive(p, "master");
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the master did not come up in 90 s:\n" + tail(log("master")));
      }
      Thread.sleep(200);
    }
  }

  /**
   * Starts a worker with {@code cores} cores and {@code memory} (e.g. "1536m"); with {@code gpus}
   * (indices, may be empty) it advertises those GPUs, found by the discovery script through a stub
   * nvidia-smi.
   */
  Worker startWorker(int cores, String memory, List<String> gpus) throws IOException {
    String name = "worker-" + (++names);
    Path work = Files.createDirectories(root.resolve(name));
    Map<String, String> env = env();
    if (!gpus.isEmpty()) {
      Path bin = Files.createDirectories(root.resolve(name + "-bin"));
      Path smi = bin.resolve("nvidia-smi");
      Files.writeString(smi, "#!/bin/sh\nprintf '" + String.join("\\n", gpus) + "\\n'\n");
      Files.setPosixFilePermissions(smi, PosixFilePermissions.fromString("rwxr-xr-x"));
      env.put("PATH", bin + ":" + System.getenv("PATH"));
      env.put("SPARK_WORKER_OPTS", "-Dspark.worker.resource.gpu.amount=" + gpus.size()
          + " -Dspark.worker.resource.gpu.discoveryScript=" + DISCOVERY_SCRIPT);
    }
    Process p = start(name, env, List.of("org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
        "--cores", String.valueOf(cores), "--memory", memory, "--work-dir", work.toString(),
        "--webui-port", String.valueOf(freePort()), masterUrl()));
    Worker w = new Worker(name, p, work, List.copyOf(gpus));
    workers.add(w);
    return w;
  }

  /** Waits until {@code n} workers are ALIVE at the master. */
  void awaitWorkers(int n) throws IOException, InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
    while (true) {
      Map<String, Object> state = masterState();
      if (state != null && ((Number) state.get("aliveworkers")).intValue() >= n) {
        return;
      }
      if (liveWorkers().size() < n || System.nanoTime() > deadline) {
        StringBuilder logs = new StringBuilder();
        for (Worker w : workers) {
          logs.append(w.name()).append(":\n").append(tail(log(w.name()))).append('\n');
        }
        throw new AssertionError(n + " workers did not register (" + liveWorkers().size() + " running); master: "
            + state + "\n" + logs);
      }
      Thread.sleep(200);
    }
  }

  /** Workers whose process still runs. */
  List<Worker> liveWorkers() {
    return workers.stream().filter(w -> w.process().isAlive()).toList();
  }

  /** Runs SparkSubmit (client mode) against this cluster with {@code args} after {@code --master}. */
  Running submit(List<String> args) throws IOException {
    String name = "submit-" + (++names);
    List<String> cmd = new ArrayList<>(List.of("org.apache.spark.deploy.SparkSubmit", "--master", masterUrl()));
    cmd.addAll(args);
    Process p = start(name, env(), cmd);
    return new Running(p, root.resolve(name + ".out"), root.resolve(name + ".log"));
  }

  /**
   * Kills the worker with SIGKILL (kill -9): no shutdown hook runs, its executors lose their worker
   * and exit on their own (they are stopped by close() if they do not).
   */
  void kill9(Worker w) throws InterruptedException {
    w.process().descendants().forEach(seen::add);
    w.process().destroyForcibly(); // SIGKILL on Unix
    w.process().waitFor(30, TimeUnit.SECONDS);
  }

  /** Executor process ids below a worker now. */
  Set<Long> executorPids(Worker w) {
    Set<Long> pids = new LinkedHashSet<>();
    w.process().descendants().forEach(h -> {
      seen.add(h);
      pids.add(h.pid());
    });
    return pids;
  }

  /**
   * The executors a worker ran for application {@code appId}: executor id to its stderr (the worker
   * keeps them in WORKDIR/APP/EXECUTOR/stderr).
   */
  static Map<String, Path> executorLogs(Worker w, String appId) throws IOException {
    Map<String, Path> out = new HashMap<>();
    Path app = w.workDir().resolve(appId);
    if (!Files.isDirectory(app)) {
      return out;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(app)) {
      for (Path d : ds) {
        if (Files.isRegularFile(d.resolve("stderr"))) {
          out.put(d.getFileName().toString(), d.resolve("stderr"));
        }
      }
    }
    return out;
  }

  /** The master's view (its web UI's JSON), or null while it does not answer. */
  Map<String, Object> masterState() throws InterruptedException {
    try {
      URI json = URI.create("http://127.0.0.1:" + masterUiPort + "/json/");
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(json)
          .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? Json.object(r.body()) : null;
    } catch (IOException e) {
      return null;
    }
  }

  String log(String name) {
    try {
      return read(root.resolve(name + ".log"));
    } catch (IOException e) {
      return "(no log: " + e.getMessage() + ")";
    }
  }

  private Map<String, String> env() {
    Map<String, String> env = new HashMap<>();
    env.put("SPARK_HOME", home.toString());
    env.put("SPARK_CONF_DIR", home.resolve("conf").toString());
    env.put("SPARK_SCALA_VERSION", "2.13");
    env.put("JAVA_HOME", System.getProperty("java.home"));
    env.put("SPARK_LOCAL_IP", "127.0.0.1");
    env.put("SPARK_LOCAL_DIRS", root.resolve("local").toString());
    env.put("SPARK_DAEMON_MEMORY", "384m");
    env.put("SPARK_DRIVER_MEMORY", "768m");
    return env;
  }

  private Process start(String name, Map<String, String> env, List<String> args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(home.resolve("bin/spark-class").toString());
    cmd.addAll(args);
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(root.toFile())
        .redirectOutput(root.resolve(name + ".out").toFile()).redirectError(root.resolve(name + ".log").toFile());
    // Only what the cluster is given here: not the test JVM's SPARK_HOME and friends.
    pb.environment().keySet().removeIf(k -> k.startsWith("SPARK_") || k.equals("JAVA_TOOL_OPTIONS"));
    pb.environment().putAll(env);
    synchronized (started) {
      Process p = pb.start();
      started.add(p);
      return p;
    }
  }

  private void checkAlive(Process p, String name) {
    if (!p.isAlive()) {
      throw new AssertionError(name + " exited with status " + p.exitValue() + ":\n" + tail(log(name)));
    }
  }

  /** Stops drivers, then workers (which stop their executors), then the master; then any leftover. */
  @Override
  public void close() {
    stopAll();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException e) {
      // the JVM is exiting: the hook runs anyway
    }
    List<String> alive = new ArrayList<>();
    for (ProcessHandle h : everything()) {
      if (h.isAlive()) {
        alive.add(h.pid() + " " + h.info().commandLine().orElse("?"));
      }
    }
    if (!alive.isEmpty()) {
      throw new AssertionError("processes of the test cluster outlived close(): " + alive);
    }
  }

  private void stopAll() {
    List<Process> ps;
    synchronized (started) {
      ps = new ArrayList<>(started);
    }
    for (int i = ps.size() - 1; i >= 0; i--) {
      ps.get(i).descendants().forEach(seen::add);
    }
    // Reverse start order: drivers, workers, master. SIGTERM first, so workers stop their executors.
    for (int i = ps.size() - 1; i >= 0; i--) {
      ps.get(i).destroy();
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    for (ProcessHandle h : everything()) {
      long left = Math.max(0, deadline - System.nanoTime());
      try {
        h.onExit().get(left, TimeUnit.NANOSECONDS);
      } catch (Exception e) {
        h.destroyForcibly();
      }
    }
    for (ProcessHandle h : everything()) {
      try {
        h.onExit().get(10, TimeUnit.SECONDS);
      } catch (Exception e) {
        // reported by close()
      }
    }
  }

  private List<ProcessHandle> everything() {
    List<ProcessHandle> all = new ArrayList<>();
    synchronized (started) {
      started.forEach(p -> all.add(p.toHandle()));
    }
    all.addAll(seen);
    return all;
  }

  private static void destroyTree(Process p) {
    p.descendants().forEach(ProcessHandle::destroyForcibly);
    p.destroyForcibly();
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    }
  }

  static String read(Path p) throws IOException {
    return Files.exists(p) ? Files.readString(p, StandardCharsets.UTF_8) : "";
  }

  static String tail(String s) {
    String[] lines = s.split("\n");
    return String.join("\n", java.util.Arrays.copyOfRange(lines, Math.max(0, lines.length - 40), lines.length));
  }

  private static void copyResource(String name, Path to, boolean executable) throws IOException {
    try (InputStream in = StandaloneCluster.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) {
        throw new UncheckedIOException(new IOException("test resource " + name + " is missing"));
      }
      Files.write(to, in.readAllBytes());
    }
    if (executable) {
      Files.setPosixFilePermissions(to, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
  }
}
