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
import org.deephash.Pool;
import org.deephash.index.IndexFile;

/**
 * The {@code spark-search} job as a program: the main class for {@code spark-submit}, and what
 * {@code engine-cli spark-search} runs (in a child JVM with Spark's class path, see {@link
 * SparkSearchCommand}). See docs/SPARK.md.
 */
public final class SparkSearchMain {
  static final String USAGE = """
      usage: spark-search (--shards A.dh,B.dh | --shards DIR | --table CODES.parquet --num-shards N [--shard-dir DIR])
                          --queries Q.parquet|Q.dh --k K [--pool-top M | --pool-radius R --pool-cap C]
                          --output OUT.parquet [flags]
        --shards LIST|DIR      index files, one per shard (comma-separated), or a directory of *.dh files
        --table PATH           a Parquet code table (id: long, code: binary, feature: array<float>) to shard first
        --num-shards N         shards to cut --table into (default: the default parallelism)
        --shard-dir DIR        where the staged shards go (default OUT.parquet.shards); must be reachable by every executor
        --queries PATH         Parquet (same columns; id names the query) or an index file
        --k K                  results per query (default 10)
        --pool-top M           coarse-to-fine: re-rank the Hamming top-M by Euclidean distance
        --pool-radius R, --pool-cap C   coarse-to-fine: re-rank the (at most C) codes within Hamming radius R
        --output PATH          results as Parquet: query_id, rank, id, hamming, distance (squared L2, null for Hamming top-k)
        --master URL           Spark master when not launched by spark-submit (default local[*])
        --backend NAME         force an engine backend on the executors: java, native, cuda (default: each executor's best)
        --query-block N        queries per task (default 4096)
        --broadcast-limit B    broadcast query sets up to B bytes, distribute larger ones (default 268435456)
        --merge-partitions N   partitions of the per-query merge and of the output (default: the default parallelism)
        --verify full|header   how much of each shard file executors check on first open (default full)
        --conf KEY=VALUE       a Spark setting (repeatable), e.g. --conf spark.task.resource.gpu.amount=1
        --json                 print one JSON line with the figures on stdout
      A GPU request (spark.task/executor.resource.gpu.amount) is refused in local mode: Spark would never schedule it.
      """;

  private static final List<String> VALUED = List.of("shards", "table", "num-shards", "shard-dir", "queries", "k",
      "pool-top", "pool-radius", "pool-cap", "output", "master", "backend", "query-block", "broadcast-limit",
      "merge-partitions", "verify", "conf");
  private static final List<String> BOOLEANS = List.of("json", "help");

  private SparkSearchMain() {}

  public static void main(String[] args) {
    int status;
    try {
      status = run(args, System.out, System.err);
    } catch (IllegalArgumentException e) {
      System.err.println("spark-search: " + e.getMessage());
      status = 2;
    } catch (Exception e) {
      System.err.println("spark-search: failed: " + e);
      if (System.getenv("ENGINE_DEBUG") != null) {
        e.printStackTrace();
      }
      status = 1;
    }
    System.out.flush();
    System.exit(status);
  }

  /** Runs the job; returns the exit status (0 ok, 2 bad usage or input). */
  static int run(String[] argv, PrintStream out, PrintStream err) throws IOException {
    Args a;
    try {
      a = Args.parse(argv, VALUED, BOOLEANS);
    } catch (Args.UsageError e) {
      err.println("spark-search: " + e.getMessage());
      err.print(USAGE);
      return 2;
    }
    if (a.has("help")) {
      out.print(USAGE);
      return 0;
    }
    SearchSpec spec = spec(a);
    JobOptions opts = JobOptions.defaults()
        .withQueryBlock(a.intValue("query-block", JobOptions.DEFAULT_QUERY_BLOCK, 1, CodeTable.MAX_ROWS))
        .withBroadcastLimitBytes(a.longValue("broadcast-limit", JobOptions.DEFAULT_BROADCAST_LIMIT, 0, Long.MAX_VALUE))
        .withMergePartitions(a.intValue("merge-partitions", 0, 0, 1 << 20))
        .withVerify(switch (a.get("verify", "full").toLowerCase(Locale.ROOT)) {
          case "full" -> IndexFile.Verify.FULL;
          case "header" -> IndexFile.Verify.HEADER_ONLY;
          default -> throw new Args.UsageError("--verify must be full or header");
        });
    if (a.has("shards") == a.has("table")) {
      throw new Args.UsageError("give the collection as --shards (index files) or as --table (Parquet), one of them");
    }
    String output = a.required("output", "where to write the results as Parquet");
    String queriesPath = a.required("queries", "the query codes: Parquet, or an index file");

    SparkConf conf = new SparkConf().setAppName("deephash spark-search");
    for (String kv : a.all("conf")) {
      int eq = kv.indexOf('=');
      if (eq <= 0) {
        throw new Args.UsageError("--conf takes KEY=VALUE (passed '" + kv + "')");
      }
      conf.set(kv.substring(0, eq), kv.substring(eq + 1));
    }
    if (a.has("master")) {
      conf.setMaster(a.get("master", null));
    } else if (!conf.contains("spark.master")) {
      conf.setMaster("local[*]"); // not under spark-submit
    }
    SparkSearch.rejectGpuInLocalMode(conf); // before the session: its first job would hang

    long t0 = System.nanoTime();
    // A session that already runs in this JVM (a test, a notebook) is used and left running.
    boolean ownSession = SparkSession.getDefaultSession().isEmpty();
    SparkSession spark = SparkSession.builder().config(conf).getOrCreate();
    try {
      List<String> shards;
      double stageSeconds = 0;
      if (a.has("table")) {
        int n = a.intValue("num-shards", spark.sparkContext().defaultParallelism(), 1, 1 << 20);
        String dir = a.get("shard-dir", output.replaceAll("/+$", "") + ".shards");
        long s0 = System.nanoTime();
        shards = ParquetTables.stage(spark, spark.read().parquet(a.get("table", null)), n, dir);
        stageSeconds = (System.nanoTime() - s0) / 1e9;
        err.println("spark-search: staged " + shards.size() + " shards in " + dir);
      } else {
        shards = shardList(a.get("shards", null));
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
        queryCount = a.has("json") ? q.count() : -1; // one more pass over the file, for the report only
        job = SparkSearch.run(spark, shards, q, spec, opts);
      }
      try (job) {
        job.writeParquet(output);
        double searchSeconds = (System.nanoTime() - s1) / 1e9;
        long results = spark.read().parquet(output).count();
        Map<String, Integer> backends = new TreeMap<>();
        for (TaskReport r : job.taskReports()) {
          backends.merge(r.backend() + (r.gpuAddresses().isEmpty() ? "" : "@gpu" + r.gpuAddresses()), 1, Integer::sum);
        }
        err.printf(Locale.ROOT, "spark-search: %s over %d shards -> %d rows in %s (%.2f s; backends %s)%n", spec,
            shards.size(), results, output, searchSeconds, backends);
        if (a.has("json")) {
          StringBuilder b = new StringBuilder();
          b.append("{\"command\":\"spark-search\",\"master\":\"").append(spark.sparkContext().master())
              .append("\",\"search\":\"").append(spec).append("\",\"shards\":").append(shards.size())
              .append(",\"queries\":").append(queryCount)
              .append(",\"results\":").append(results)
              .append(",\"stage_seconds\":").append(String.format(Locale.ROOT, "%.3f", stageSeconds))
              .append(",\"search_seconds\":").append(String.format(Locale.ROOT, "%.3f", searchSeconds))
              .append(",\"total_seconds\":")
              .append(String.format(Locale.ROOT, "%.3f", (System.nanoTime() - t0) / 1e9))
              .append(",\"tasks\":").append(job.taskReports().size()).append(",\"backends\":{");
          int i = 0;
          for (Map.Entry<String, Integer> e : backends.entrySet()) {
            b.append(i++ > 0 ? "," : "").append('"').append(e.getKey()).append("\":").append(e.getValue());
          }
          b.append("},\"output\":\"").append(output.replace("\\", "\\\\").replace("\"", "\\\"")).append("\"}");
          out.println(b);
        }
      }
      return 0;
    } finally {
      if (ownSession) {
        spark.stop();
      }
    }
  }

  private static SearchSpec spec(Args a) {
    int k = a.intValue("k", 10, 1, CodeTable.MAX_ROWS);
    SearchSpec spec;
    if (a.has("pool-top")) {
      if (a.has("pool-radius") || a.has("pool-cap")) {
        throw new Args.UsageError("--pool-top and --pool-radius/--pool-cap exclude each other");
      }
      spec = SearchSpec.coarseToFine(Pool.topM(a.intValue("pool-top", 0, 1, CodeTable.MAX_ROWS)), k);
    } else if (a.has("pool-radius") || a.has("pool-cap")) {
      if (!a.has("pool-radius") || !a.has("pool-cap")) {
        throw new Args.UsageError("a radius pool needs both --pool-radius R and --pool-cap C");
      }
      spec = SearchSpec.coarseToFine(Pool.radius(a.intValue("pool-radius", 0, 0, CodeTable.MAX_BITS),
          a.intValue("pool-cap", 0, 1, CodeTable.MAX_ROWS)), k);
    } else {
      spec = SearchSpec.hamming(k);
    }
    return a.has("backend") ? spec.withBackend(a.get("backend", null)) : spec;
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
      throw new Args.UsageError("--shards lists no files");
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
