package org.deephash.spark;

import java.util.List;

/** JVM options a Spark driver or executor running the engine needs on JDK 25. */
public final class SparkJvm {
  private SparkJvm() {}

  /** The engine's own: the Vector API (Java backend) and native access (FFM, the native backend). */
  public static final List<String> ENGINE = List.of(
      "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED");

  /**
   * What Spark 4.2 needs in a JVM it did not launch itself (spark-submit's launcher adds the same to
   * drivers and executors it starts).
   */
  public static final List<String> SPARK = List.of(
      "--add-opens=java.base/java.lang=ALL-UNNAMED",
      "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
      "--add-opens=java.base/java.lang.reflect=ALL-UNNAMED",
      "--add-opens=java.base/java.io=ALL-UNNAMED",
      "--add-opens=java.base/java.net=ALL-UNNAMED",
      "--add-opens=java.base/java.nio=ALL-UNNAMED",
      "--add-opens=java.base/java.util=ALL-UNNAMED",
      "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
      "--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED",
      "--add-opens=java.base/jdk.internal.ref=ALL-UNNAMED",
      "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
      "--add-opens=java.base/sun.nio.cs=ALL-UNNAMED",
      "--add-opens=java.base/sun.util.calendar=ALL-UNNAMED",
      "-Dio.netty.tryReflectionSetAccessible=true",
      "--sun-misc-unsafe-memory-access=allow");

  /** True when this JVM can host a Spark driver: Spark on the class path, java.base opened to it. */
  static boolean canHostSpark() {
    try {
      Class.forName("org.apache.spark.sql.SparkSession", false, SparkJvm.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      return false;
    }
    Module unnamed = SparkJvm.class.getClassLoader().getUnnamedModule();
    return Object.class.getModule().isOpen("sun.nio.ch", unnamed)
        && Object.class.getModule().isOpen("java.nio", unnamed);
  }
}
