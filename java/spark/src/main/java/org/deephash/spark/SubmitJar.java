package org.deephash.spark;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.apache.spark.SparkConf;

/**
 * The submit jar ({@code deephash-spark-VERSION-submit.jar}, built by this module's assembly): the
 * job, the engine, the CUDA backend and their dependencies in one file, which executors on a
 * cluster need because they run in JVMs that have only Spark on their class path.
 *
 * <p>{@code spark-submit} ships the jar it is given itself. A driver started otherwise ({@code
 * engine-cli spark-search --master spark://...}) must name it in {@code spark.jars}: {@link
 * #shipTo} does that for every master that is not {@code local}.
 */
final class SubmitJar {
  /** Names the submit jar, for a driver whose own classes come from elsewhere. */
  static final String ENV = "DEEPHASH_SPARK_SUBMIT_JAR";

  private SubmitJar() {}

  /**
   * Sets {@code spark.jars} to the submit jar when the master runs executors in other JVMs and the
   * configuration ships no jars yet (spark-submit has set it to the application jar). Returns the
   * jar set, or null when nothing was needed.
   *
   * @throws IllegalArgumentException when the jar is needed and cannot be found, saying how to build
   *     or name it
   */
  static Path shipTo(SparkConf conf) {
    String master = conf.get("spark.master", "");
    if (master.isEmpty() || SparkSearch.isLocalMaster(master) || !conf.get("spark.jars", "").isBlank()) {
      return null;
    }
    Path jar = locate(master, ownLocation());
    conf.set("spark.jars", jar.toUri().toString());
    return jar;
  }

  /**
   * The submit jar: {@value #ENV}, or {@code own} (where these classes came from) when it is one,
   * or the newest one beside it.
   */
  static Path locate(String master, Path own) {
    String env = System.getenv(ENV);
    if (env != null && !env.isBlank()) {
      Path p = Path.of(env.trim()).toAbsolutePath();
      if (!Files.isRegularFile(p)) {
        throw new IllegalArgumentException(ENV + " names " + p + ", which is not a file: point it at"
            + " deephash-spark-VERSION-submit.jar");
      }
      return p;
    }
    if (own != null && Files.isRegularFile(own) && own.getFileName().toString().endsWith("-submit.jar")) {
      return own;
    }
    // target/deephash-spark-VERSION.jar or target/classes: the build puts the submit jar in target/.
    Path found = own == null ? null : newestSubmitJar(own.getParent());
    if (found == null) {
      throw new IllegalArgumentException("master " + master + " runs executors in their own JVMs, which need the"
          + " job's classes, and no deephash-spark submit jar was found" + (own == null ? "" : " beside " + own)
          + ": build it (mvn -DskipTests package -pl java/spark -am writes java/spark/target/"
          + "deephash-spark-VERSION-submit.jar), or name it with " + ENV + " or --conf spark.jars=PATH");
    }
    return found;
  }

  private static Path newestSubmitJar(Path dir) {
    if (dir == null || !Files.isDirectory(dir)) {
      return null;
    }
    Path best = null;
    FileTime bestTime = null;
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "deephash-spark-*-submit.jar")) {
      for (Path p : ds) {
        FileTime t = Files.getLastModifiedTime(p);
        if (best == null || t.compareTo(bestTime) > 0) {
          best = p;
          bestTime = t;
        }
      }
    } catch (IOException e) {
      return null;
    }
    return best == null ? null : best.toAbsolutePath();
  }

  /** Where this module's classes were loaded from (a jar or a classes directory), or null. */
  static Path ownLocation() {
    try {
      return Path.of(SubmitJar.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toAbsolutePath();
    } catch (Exception e) {
      return null;
    }
  }
}
