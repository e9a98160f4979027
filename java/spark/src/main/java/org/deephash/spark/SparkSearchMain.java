package org.deephash.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.SparkConf;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.deephash.CodeTable;
import org.deephash.cli.api.Cli;
import org.deephash.index.IndexFile;
import org.deephash.io.Json;

/**
 * The {@code spark-search} job as a program: the main class for {@code spark-submit}, and what
 * {@code engine-cli spark-search} runs (in a child JVM with Spark's class path, see {@link
 * SparkSearchCommand}). See docs/SPARK.md.
 */
public final class SparkSearchMain {
  private SparkSearchMain() {}

  /** The options are {@link SparkSearchCommand}'s, parsed and checked by the same picocli declaration. */
  public static void main(String[] args) {
    int status = Cli.run(new SparkSearchCommand(), args, System.out, System.err);
    System.out.flush();
    System.exit(status);
  }

  /** Runs the job the (validated) options describe; returns the exit status. */
  static int run(SparkSearchCommand a, PrintStream out, PrintStream err) throws IOException {
    SearchSpec spec = a.spec();
    JobOptions opts = a.jobOptions();
    String output = a.output;
    String queriesPath = a.queries;

    SparkConf conf = new SparkConf().setAppName("deephash spark-search");
    for (String kv : a.conf) {
      int eq = kv.indexOf('=');
      conf.set(kv.substring(0, eq), kv.substring(eq + 1));
    }
    if (a.master != null) {
      conf.setMaster(a.master);
    } else if (!conf.contains("spark.master")) {
      conf.setMaster("local[*]"); // not under spark-submit
    }
    SparkSearch.rejectGpuInLocalMode(conf); // before the session: its first job would hang
    // A cluster's executors need the job's classes: ship the submit jar unless spark-submit did.
    java.nio.file.Path shipped = SubmitJar.shipTo(conf);
    if (shipped != null) {
      err.println("spark-search: shipping " + shipped + " to the executors (spark.jars)");
    }

    long t0 = System.nanoTime();
    // A session that already runs in this JVM (a test, a notebook) is used and left running.
    boolean ownSession = SparkSession.getDefaultSession().isEmpty();
    SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
    try {
      List<String> shards;
      double stageSeconds = 0;
      if (a.table != null) {
        int n = a.numShards != null ? a.numShards : spark.sparkContext().defaultParallelism();
        String dir = a.shardDir != null ? a.shardDir : output.replaceAll("/+$", "") + ".shards";
        long s0 = System.nanoTime();
        shards = ParquetTables.stage(spark, spark.read().parquet(a.table), n, dir);
        stageSeconds = (System.nanoTime() - s0) / 1e9;
        err.println("spark-search: staged " + shards.size() + " shards in " + dir);
      } else {
        shards = shardList(a.shards);
      }
      long s1 = System.nanoTime();
      SearchJob job;
      long queryCount;
      if (queriesPath.endsWith(".dh")) {
        QuerySet q = readIndexQueries(Path.of(queriesPath), spec.isCoarseToFine());
        queryCount = q.count();
        job = SparkSearch.run(spark, shards, q, spec, opts);
      } else {
        Dataset<Row> q = spark.read().parquet(queriesPath);
        queryCount = a.json ? q.count() : -1; // one more pass over the file, for the report only
        job = SparkSearch.run(spark, shards, q, spec, opts);
      }
      try (job) {
        try {
          job.writeParquet(output);
        } catch (Exception e) { // SparkException is checked in Java, yet Scala code throws it from here
          IllegalArgumentException clear = olderJavaOnExecutors(e);
          if (clear != null) {
            throw clear;
          }
          throw e;
        }
        double searchSeconds = (System.nanoTime() - s1) / 1e9;
        long results = spark.read().parquet(output).count();
        List<TaskReport> reports = job.taskReports();
        Map<String, Integer> backends = new TreeMap<>();
        for (TaskReport r : reports) {
          backends.merge(r.backend() + (r.gpuAddresses().isEmpty() ? "" : "@gpu" + r.gpuAddresses()), 1, Integer::sum);
        }
        List<ExecutorReport> executors = ExecutorReport.of(reports);
        int units = job.units();
        err.printf(Locale.ROOT, "spark-search: %s over %d shards -> %d rows in %s (%.2f s; %d tasks, %d attempts;"
            + " backends %s)%n", spec, shards.size(), results, output, searchSeconds, units, reports.size(), backends);
        for (ExecutorReport e : executors) {
          err.println("spark-search: " + e.line());
        }
        if (a.json) {
          out.println(new Json().put("command", "spark-search").put("master", spark.sparkContext().master())
              .put("application", spark.sparkContext().applicationId())
              .put("search", spec.toString()).put("shards", shards.size()).put("queries", queryCount)
              .put("results", results).put("stage_seconds", Json.round(stageSeconds, 3))
              .put("search_seconds", Json.round(searchSeconds, 3))
              .put("total_seconds", Json.round((System.nanoTime() - t0) / 1e9, 3))
              .put("tasks", units).put("task_attempts", reports.size()).put("backends", backends)
              .put("executors", executors.stream().map(ExecutorReport::json).toList()).put("output", output));
        }
      }
      return 0;
    } finally {
      if (ownSession) {
        spark.stop();
      }
    }
  }

  private static final java.util.regex.Pattern CLASS_VERSION =
      java.util.regex.Pattern.compile("class file versions up to (\\d+)\\.0");

  /**
   * The failure of a job whose executors run a Java older than 25 (they cannot load the job's
   * classes), said in one line with the fix; null for any other failure. On standalone, executors
   * run their worker's JAVA_HOME unless spark.executorEnv.JAVA_HOME names another.
   */
  static IllegalArgumentException olderJavaOnExecutors(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      String m = String.valueOf(t.getMessage());
      if (t instanceof UnsupportedClassVersionError || m.contains("UnsupportedClassVersionError")) {
        java.util.regex.Matcher v = CLASS_VERSION.matcher(m);
        String java = v.find() ? "Java " + (Integer.parseInt(v.group(1)) - 44) : "a Java older than 25";
        return new IllegalArgumentException("the executors run " + java + " and the job needs JDK 25: set JAVA_HOME"
            + " of the workers to a JDK 25 (conf/spark-env.sh), or pass"
            + " --conf spark.executorEnv.JAVA_HOME=/path/to/jdk-25"
            + " (the same path on every worker)", failure);
      }
    }
    return null;
  }

  /** Comma-separated index files, or a directory: its *.dh files in name order. */
  static List<String> shardList(String spec) throws IOException {
    List<String> out = new ArrayList<>();
    for (String s : spec.split(",")) {
      String p = s.trim();
      if (p.isEmpty()) {
        continue;
      }
      if (p.contains("://") && !p.startsWith("file:")) {
        out.addAll(remoteShards(p));
        continue;
      }
      Path dir = p.startsWith("file:") ? Path.of(java.net.URI.create(p)) : Path.of(p);
      if (Files.isDirectory(dir)) {
        List<String> files = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.dh")) {
          ds.forEach(f -> files.add(f.toAbsolutePath().toString()));
        }
        if (files.isEmpty()) {
          throw new IllegalArgumentException("no *.dh index files in " + dir);
        }
        Collections.sort(files);
        out.addAll(files);
      } else {
        out.add(dir.toAbsolutePath().toString());
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("--shards lists no files");
    }
    return out;
  }

  /** A Hadoop URI: the file itself, or a directory's *.dh files in name order. */
  private static List<String> remoteShards(String uri) throws IOException {
    org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(uri);
    org.apache.hadoop.fs.FileSystem fs = p.getFileSystem(new org.apache.hadoop.conf.Configuration());
    if (!fs.getFileStatus(p).isDirectory()) {
      return List.of(uri);
    }
    List<String> files = new ArrayList<>();
    for (org.apache.hadoop.fs.FileStatus st : fs.listStatus(p)) {
      if (st.isFile() && st.getPath().getName().endsWith(".dh")) {
        files.add(st.getPath().toString());
      }
    }
    if (files.isEmpty()) {
      throw new IllegalArgumentException("no *.dh index files in " + uri);
    }
    Collections.sort(files);
    return files;
  }

  /** The live rows of an index file as queries (ids name them). */
  static QuerySet readIndexQueries(Path file, boolean withFeatures) throws IOException {
    try (CodeTable t = IndexFile.open(file)) {
      if (withFeatures && t.dim() == 0) {
        throw new IllegalArgumentException("the query index " + file + " has no features; coarse-to-fine needs them");
      }
      int n = t.liveCount();
      int cb = t.codeBytes();
      int dim = withFeatures ? t.dim() : 0;
      long[] ids = new long[n];
      byte[] codes = new byte[n * cb];
      float[] feats = withFeatures ? new float[n * dim] : null;
      int o = 0;
      for (int r = 0; r < t.size(); r++) {
        if (!t.isLive(r)) {
          continue;
        }
        ids[o] = t.id(r);
        System.arraycopy(t.code(r), 0, codes, o * cb, cb);
        if (feats != null) {
          System.arraycopy(t.feature(r), 0, feats, o * dim, dim);
        }
        o++;
      }
      return QuerySet.of(ids, codes, feats, cb, dim);
    }
  }
}
