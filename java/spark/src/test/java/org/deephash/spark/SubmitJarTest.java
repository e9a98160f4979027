package org.deephash.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import org.apache.spark.SparkConf;
import org.junit.jupiter.api.Test;

/**
 * The submit jar as the build made it: everything a cluster's executors need to run the job on any
 * backend, the CUDA one included, and none of what the cluster brings (Spark, Scala, Hadoop).
 */
class SubmitJarTest {

  private static List<String> entries() throws IOException {
    try (JarFile jar = new JarFile(StandaloneClusterTest.submitJar().toFile())) {
      return Collections.list(jar.entries()).stream().map(JarEntry::getName).toList();
    }
  }

  private static String text(String entry) throws IOException {
    try (JarFile jar = new JarFile(StandaloneClusterTest.submitJar().toFile())) {
      JarEntry e = jar.getJarEntry(entry);
      assertTrue(e != null, "no " + entry + " in the submit jar");
      try (InputStream in = jar.getInputStream(e)) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
    }
  }

  @Test
  void carriesTheJobTheEngineAndTheCudaBackend() throws IOException {
    List<String> names = entries();
    for (String c : List.of(
        "org/deephash/spark/SparkSearchMain.class", "org/deephash/spark/SparkSearchCommand.class",
        "org/deephash/GpuHashSearch.class", "org/deephash/index/IndexFile.class",
        "org/deephash/cli/api/Cli.class", "picocli/CommandLine.class",
        "org/deephash/backend/cuda/CudaBackendProvider.class", "org/deephash/backend/cuda/CudaBackend.class",
        "jcuda/driver/JCudaDriver.class", "jcuda/runtime/JCuda.class", "jcuda/jcublas/JCublas2.class")) {
      assertTrue(names.contains(c), "the submit jar lacks " + c);
    }
    // The natives JCuda loads from the class path, and core's own library.
    for (String lib : List.of("lib/libJCudaDriver-12.6.0-linux-x86_64.so", "lib/libJCudaRuntime-12.6.0-linux-x86_64.so",
        "lib/libJCublas2-12.6.0-linux-x86_64.so")) {
      assertTrue(names.contains(lib), "the submit jar lacks JCuda's " + lib);
    }
    assertTrue(names.stream().filter(n -> n.startsWith("lib/"))
        .noneMatch(n -> n.contains("NvPTXCompiler") || n.contains("JNvrtc")),
        "the PTX compiler and NVRTC libraries are not needed (kernels are prebuilt)");
    // Every backend provider registered in one merged service file (a jar-merging build that keeps
    // only one module's copy would drop the CUDA backend silently).
    List<String> providers = text("META-INF/services/org.deephash.spi.BackendProvider").lines()
        .map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("#")).sorted().toList();
    assertEquals(List.of("org.deephash.backend.cuda.CudaBackendProvider",
        "org.deephash.backend.java.JavaBackendProvider", "org.deephash.backend.nativ.NativeBackendProvider",
        "org.deephash.backend.scalar.ScalarBackendProvider"), providers);
    assertTrue(text("META-INF/MANIFEST.MF").contains("Main-Class: org.deephash.spark.SparkSearchMain"));
  }

  @Test
  void carriesTheKernelsAndTheNativeLibraryTheModulesBuilt() throws IOException {
    List<String> names = entries();
    // What core and cuda carry on this class path must be in the jar: core's native library (built
    // where cmake and a C compiler are) and the CUDA kernels (built where nvcc is).
    ClassLoader cl = SubmitJarTest.class.getClassLoader();
    String lib = "native/linux-x86_64/libdeephash.so";
    if (cl.getResource(lib) != null) {
      assertTrue(names.contains(lib), "the submit jar lacks core's " + lib);
    }
    List<String> kernels = new ArrayList<>();
    try (InputStream in = cl.getResourceAsStream("org/deephash/cuda/kernels/kernels.list")) {
      if (in != null) {
        new String(in.readAllBytes(), StandardCharsets.UTF_8).lines().map(String::strip).filter(l -> !l.isEmpty())
            .forEach(k -> kernels.add("org/deephash/cuda/kernels/" + k));
      }
    }
    if (nvccHere()) {
      assertTrue(kernels.contains("org/deephash/cuda/kernels/deephash_kernels.sm_90.cubin")
          && kernels.contains("org/deephash/cuda/kernels/deephash_kernels.compute_90.ptx"),
          "nvcc is here but the CUDA module has no kernels: " + kernels);
    }
    for (String k : kernels) {
      assertTrue(names.contains(k), "the submit jar lacks the kernel image " + k);
    }
    if (!kernels.isEmpty()) {
      assertTrue(names.contains("org/deephash/cuda/kernels/kernels.list"));
    }
  }

  /** Where the CUDA module's build looks for nvcc (cuda/CMakeLists.txt). */
  private static boolean nvccHere() {
    List<Path> places = new ArrayList<>(List.of(Path.of("/usr/local/cuda/bin/nvcc")));
    for (String env : List.of("CUDACXX", "CUDA_HOME", "CUDA_PATH")) {
      String v = System.getenv(env);
      if (v != null && !v.isBlank()) {
        places.add(Path.of(v));
        places.add(Path.of(v, "bin", "nvcc"));
      }
    }
    for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (!d.isEmpty()) {
        places.add(Path.of(d, "nvcc"));
      }
    }
    return places.stream().anyMatch(p -> Files.isRegularFile(p) && Files.isExecutable(p));
  }

  @Test
  void jcudaLoadsItsNativeLibraryFromTheSubmitJar(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
    // A JVM with the submit jar alone (and the probe class): JCuda finds its native library inside
    // the jar, extracts and loads it. No driver here is fine: the runtime binding still loads and
    // answers (cudaErrorInsufficientDriver, 35); a missing library would be an UnsatisfiedLinkError.
    Path classes = Path.of(JCudaProbe.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    Path jar = StandaloneClusterTest.submitJar().toAbsolutePath();
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED", "-Djava.io.tmpdir=" + tmp,
        "-cp", jar + ":" + classes, JCudaProbe.class.getName()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "the probe hung");
    assertEquals(0, p.exitValue(), out);
    java.util.regex.Matcher m =
        java.util.regex.Pattern.compile("status=(\\d+) devices=(\\d+) from (\\S+)").matcher(out);
    assertTrue(m.find(), out);
    assertTrue(m.group(1).equals("0") || m.group(1).equals("35"), "cudaGetDeviceCount: " + out);
    assertEquals(jar, Path.of(java.net.URI.create(m.group(3))), "JCuda came from elsewhere: " + out);
  }

  @Test
  void leavesOutWhatTheClusterProvides() throws IOException {
    List<String> bad = entries().stream().filter(n -> n.startsWith("org/apache/spark/") || n.startsWith("scala/")
        || n.startsWith("org/apache/hadoop/") || n.startsWith("org/apache/parquet/") || n.startsWith("org/slf4j/")
        || n.startsWith("org/apache/logging/log4j/") || n.startsWith("io/netty/")).limit(5).toList();
    assertEquals(List.of(), bad, "classes the cluster provides are in the submit jar");
    long size = Files.size(StandaloneClusterTest.submitJar());
    assertTrue(size < 8L << 20, "the submit jar grew to " + size + " bytes (docs/SPARK.md states its size)");
  }

  @Test
  void shippedToClusterMastersOnly() {
    SparkConf local = new SparkConf().setMaster("local[2]");
    assertNull(SubmitJar.shipTo(local));
    assertTrue(local.get("spark.jars", "").isEmpty());

    SparkConf submitted = new SparkConf().setMaster("spark://head:7077").set("spark.jars", "file:/app.jar");
    assertNull(SubmitJar.shipTo(submitted), "spark-submit already ships its jar");
    assertEquals("file:/app.jar", submitted.get("spark.jars"));

    SparkConf cluster = new SparkConf().setMaster("spark://head:7077");
    Path jar = SubmitJar.shipTo(cluster);
    assertEquals(StandaloneClusterTest.submitJar().toAbsolutePath(), jar);
    assertEquals(jar.toUri().toString(), cluster.get("spark.jars"));
  }

  @Test
  void noSubmitJarBesideTheClassesSaysHowToGetOne() {
    // What a driver sees when its classes come from a place without a submit jar next to it.
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> SubmitJar.locate("spark://head:7077", Path.of("/nonexistent/target/deephash-spark.jar")));
    assertTrue(e.getMessage().contains("mvn -DskipTests package -pl java/spark -am")
        && e.getMessage().contains("spark.jars"), e.getMessage());
  }
}
