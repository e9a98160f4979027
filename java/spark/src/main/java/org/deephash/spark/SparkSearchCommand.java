package org.deephash.spark;

import java.io.File;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.deephash.CodeTable;
import org.deephash.Pool;
import org.deephash.cli.api.CliCommand;
import org.deephash.index.IndexFile;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/**
 * {@code engine-cli spark-search}: a batch search on Spark in local mode (or on any master given
 * with --master), for jobs small enough for one machine; larger ones go through spark-submit with
 * {@link SparkSearchMain}.
 *
 * <p>Spark is a provided dependency (a cluster supplies it), so the CLI's class path does not hold
 * it, and a Spark driver needs java.base opened to it. When this JVM lacks either, the command runs
 * the job in a child JVM with the same JVM options, Spark's flags ({@link SparkJvm#SPARK}), and a
 * class path extended by Spark's jars: the list the build wrote to {@code
 * java/spark/target/spark-classpath.txt}, or {@code DEEPHASH_SPARK_CLASSPATH}, or {@code
 * $SPARK_HOME/jars/*}.
 */
@Command(name = "spark-search",
    description = "Batch search over sharded index files or a Parquet table on Apache Spark (local mode or --master).",
    footer = "A GPU request (spark.task/executor.resource.gpu.amount) is refused in local mode: Spark would never"
        + " schedule it.")
public final class SparkSearchCommand extends CliCommand {
  static final String CLASSPATH_FILE = "spark-classpath.txt";

  /** How much of each shard file executors check on first open. */
  enum Verify { full, header }

  @Option(names = "--shards", paramLabel = "LIST|DIR",
      description = "Index files, one per shard (comma-separated), or a directory of *.dh files.")
  String shards;

  @Option(names = "--table", paramLabel = "PATH",
      description = "A Parquet code table (id: long, code: binary, feature: array<float>) to shard first.")
  String table;

  @Option(names = "--num-shards", paramLabel = "N", description = "Shards to cut --table into (default: the default parallelism).")
  Integer numShards;

  @Option(names = "--shard-dir", paramLabel = "DIR",
      description = "Where the staged shards go (default: OUTPUT.shards); must be reachable by every executor.")
  String shardDir;

  @Option(names = "--queries", paramLabel = "PATH", required = true,
      description = "Parquet (same columns; id names the query) or an index file (.dh).")
  String queries;

  @Option(names = "--k", paramLabel = "K", description = "Results per query (default: ${DEFAULT-VALUE}).")
  int k = 10;

  @Option(names = "--pool-top", paramLabel = "M", description = "Coarse-to-fine: re-rank the Hamming top-M by Euclidean distance.")
  Integer poolTop;

  @Option(names = "--pool-radius", paramLabel = "R",
      description = "Coarse-to-fine: re-rank the (at most --pool-cap) codes within Hamming radius R.")
  Integer poolRadius;

  @Option(names = "--pool-cap", paramLabel = "C", description = "The cap of a radius pool.")
  Integer poolCap;

  @Option(names = "--output", paramLabel = "PATH", required = true,
      description = "Results as Parquet: query_id, rank, id, hamming, distance (squared L2, null for Hamming top-k).")
  String output;

  @Option(names = "--master", paramLabel = "URL",
      description = "Spark master when not launched by spark-submit (default: local[*]); a cluster master"
          + " (spark://...) is sent the submit jar (spark.jars).")
  String master;

  @Option(names = "--backend", paramLabel = "NAME",
      description = "Force an engine backend on the executors: java, native, cuda (default: each executor's best).")
  String backend;

  @Option(names = "--query-block", paramLabel = "N", description = "Queries per task (default: ${DEFAULT-VALUE}).")
  int queryBlock = JobOptions.DEFAULT_QUERY_BLOCK;

  @Option(names = "--broadcast-limit", paramLabel = "B",
      description = "Broadcast query sets up to B bytes, distribute larger ones (default: ${DEFAULT-VALUE}).")
  long broadcastLimit = JobOptions.DEFAULT_BROADCAST_LIMIT;

  @Option(names = "--merge-partitions", paramLabel = "N",
      description = "Partitions of the per-query merge and of the output (default: the default parallelism).")
  int mergePartitions = 0;

  @Option(names = "--verify", paramLabel = "HOW",
      description = "full or header: how much of each shard file executors check on first open (default: ${DEFAULT-VALUE}).")
  Verify verify = Verify.full;

  @Option(names = "--conf", paramLabel = "KEY=VALUE",
      description = "A Spark setting (repeatable), e.g. --conf spark.task.resource.gpu.amount=1.")
  List<String> conf = new ArrayList<>();

  @Option(names = "--json", description = "Print one JSON line with the figures on stdout.")
  boolean json;

  @Override
  protected void validate() {
    if ((shards == null) == (table == null)) {
      throw usage("give the collection as --shards (index files) or as --table (Parquet), one of them");
    }
    if (table == null && (numShards != null || shardDir != null)) {
      throw usage("--num-shards and --shard-dir go with --table");
    }
    if (numShards != null) {
      requireRange("--num-shards", numShards, 1, 1 << 20);
    }
    requireRange("--k", k, 1, CodeTable.MAX_ROWS);
    if (poolTop != null) {
      if (poolRadius != null || poolCap != null) {
        throw usage("--pool-top and --pool-radius/--pool-cap exclude each other");
      }
      requireRange("--pool-top", poolTop, 1, CodeTable.MAX_ROWS);
    } else if (poolRadius != null || poolCap != null) {
      if (poolRadius == null || poolCap == null) {
        throw usage("a radius pool needs both --pool-radius R and --pool-cap C");
      }
      requireRange("--pool-radius", poolRadius, 0, CodeTable.MAX_BITS);
      requireRange("--pool-cap", poolCap, 1, CodeTable.MAX_ROWS);
    }
    requireRange("--query-block", queryBlock, 1, CodeTable.MAX_ROWS);
    requireRange("--broadcast-limit", broadcastLimit, 0, Long.MAX_VALUE);
    requireRange("--merge-partitions", mergePartitions, 0, 1 << 20);
    for (String kv : conf) {
      if (kv.indexOf('=') <= 0) {
        throw usage("--conf takes KEY=VALUE (passed '" + kv + "')");
      }
    }
  }

  /** The search the options ask for. */
  SearchSpec spec() {
    SearchSpec s = poolTop != null ? SearchSpec.coarseToFine(Pool.topM(poolTop), k)
        : poolRadius != null ? SearchSpec.coarseToFine(Pool.radius(poolRadius, poolCap), k)
        : SearchSpec.hamming(k);
    return backend != null ? s.withBackend(backend) : s;
  }

  JobOptions jobOptions() {
    return JobOptions.defaults().withQueryBlock(queryBlock).withBroadcastLimitBytes(broadcastLimit)
        .withMergePartitions(mergePartitions)
        .withVerify(verify == Verify.full ? IndexFile.Verify.FULL : IndexFile.Verify.HEADER_ONLY);
  }

  @Override
  protected int execute() throws Exception {
    if (SparkJvm.canHostSpark()) {
      return SparkSearchMain.run(this, out, err);
    }
    return runInChildJvm(typedArgs(), out, err);
  }

  /** The options as given, for the child JVM to parse again with this same declaration. */
  private String[] typedArgs() {
    List<String> args = new ArrayList<>();
    for (OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) {
      if (o.arity().max() == 0) {
        args.add(o.longestName());
        continue;
      }
      for (String v : o.originalStringValues()) {
        args.add(o.longestName());
        args.add(v);
      }
    }
    return args.toArray(new String[0]);
  }

  /**
   * Runs the job in a child JVM that can host Spark (its options were checked here first); its
   * output goes to this process's stdout and stderr.
   */
  int runInChildJvm(String[] args, PrintStream out, PrintStream err) throws IOException {
    String sparkClassPath = sparkClassPath();
    if (sparkClassPath == null) {
      err.println("spark-search: Spark 4.2 is not on the class path. Build the module (mvn -DskipTests package -pl"
          + " java/spark -am writes java/spark/target/" + CLASSPATH_FILE + "), or set SPARK_HOME to a Spark 4.2"
          + " (Scala 2.13) install, or DEEPHASH_SPARK_CLASSPATH to its jars.");
      return 2;
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    for (String o : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (!o.startsWith("-agentlib:jdwp") && !o.startsWith("-Djava.class.path")) {
        cmd.add(o);
      }
    }
    // The engine's flags as this JVM has them: the Vector API module only where the launcher added it.
    if (cmd.stream().noneMatch(o -> o.startsWith("--enable-native-access"))) {
      cmd.add("--enable-native-access=ALL-UNNAMED");
    }
    cmd.addAll(SparkJvm.SPARK);
    java.net.URL logConfig = SparkSearchCommand.class.getResource("log4j2-cli.properties");
    if (logConfig != null && System.getProperty("log4j2.configurationFile") == null) {
      cmd.add("-Dlog4j2.configurationFile=" + logConfig);
    }
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path") + File.pathSeparator + ownJar() + File.pathSeparator
        + sparkClassPath);
    cmd.add(SparkSearchMain.class.getName());
    cmd.addAll(List.of(args));
    out.flush();
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    try {
      return p.waitFor();
    } catch (InterruptedException e) {
      p.destroy();
      Thread.currentThread().interrupt();
      return 1;
    }
  }

  /** Where this class was loaded from (the module's jar or classes directory). */
  private static String ownJar() {
    try {
      return Path.of(SparkSearchCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
    } catch (Exception e) {
      return "";
    }
  }

  /** Spark's jars as a class path, or null when none is found. */
  static String sparkClassPath() throws IOException {
    String env = System.getenv("DEEPHASH_SPARK_CLASSPATH");
    if (env != null && !env.isBlank()) {
      return env;
    }
    String own = ownJar();
    if (!own.isEmpty()) {
      // target/deephash-spark-*.jar or target/classes: the build wrote the list into target/.
      Path target = Path.of(own).getParent();
      for (Path candidate : new Path[] {target.resolve(CLASSPATH_FILE), Path.of(own).resolve(CLASSPATH_FILE)}) {
        if (Files.isRegularFile(candidate)) {
          String cp = Files.readString(candidate, StandardCharsets.UTF_8).trim();
          if (!cp.isEmpty() && allExist(cp)) {
            return cp;
          }
        }
      }
    }
    String home = System.getenv("SPARK_HOME");
    if (home != null && Files.isDirectory(Path.of(home, "jars"))) {
      return Path.of(home, "jars").toString() + File.separator + "*";
    }
    return null;
  }

  private static boolean allExist(String cp) {
    for (String e : cp.split(File.pathSeparator)) {
      if (!e.isEmpty() && !Files.exists(Path.of(e))) {
        return false;
      }
    }
    return true;
  }
}
