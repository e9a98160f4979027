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
import org.deephash.spi.CliCommand;

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
public final class SparkSearchCommand implements CliCommand {
  static final String CLASSPATH_FILE = "spark-classpath.txt";

  @Override
  public String name() {
    return "spark-search";
  }

  @Override
  public String summary() {
    return "batch search over sharded index files or a Parquet table on Apache Spark (local mode or --master)";
  }

  @Override
  public int run(String[] args, PrintStream out, PrintStream err) throws Exception {
    if (SparkJvm.canHostSpark()) {
      return SparkSearchMain.run(args, out, err);
    }
    return runInChildJvm(args, out, err);
  }

  /** Runs the job in a child JVM that can host Spark; its output goes to this process's stdout and stderr. */
  int runInChildJvm(String[] args, PrintStream out, PrintStream err) throws IOException {
    for (String a : args) {
      if (a.equals("--help") || a.equals("-h")) {
        out.print(SparkSearchMain.USAGE);
        return 0;
      }
    }
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
    if (!cmd.contains("jdk.incubator.vector")) {
      cmd.addAll(SparkJvm.ENGINE);
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
