package org.deephash.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.deephash.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The GPU discovery script (java/spark/scripts/discover-gpus.sh) against a stub nvidia-smi: the JSON
 * Spark reads when GPUs are listed, and a failure with one line on stderr (so the worker refuses to
 * start instead of advertising GPUs it lacks) when nvidia-smi is missing, fails or lists none.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class DiscoverGpusScriptTest {
  @TempDir
  Path dir;

  private record Run(int status, String stdout, String stderr) {}

  /** A PATH holding only bash, head and (when {@code smi} is not null) an nvidia-smi running {@code smi}. */
  private Path bin(String smi) throws IOException {
    Path bin = Files.createDirectories(dir.resolve("bin"));
    for (String tool : List.of("bash", "head")) {
      Path real = List.of(Path.of("/usr/bin", tool), Path.of("/bin", tool)).stream().filter(Files::isExecutable)
          .findFirst().orElseThrow(() -> new AssertionError("no " + tool + " in /usr/bin or /bin"));
      Files.createSymbolicLink(bin.resolve(tool), real);
    }
    if (smi != null) {
      Path p = bin.resolve("nvidia-smi");
      Files.writeString(p, "#!/bin/bash\n" + smi + "\n");
      Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
    }
    return bin;
  }

  private Run run(Path bin) throws Exception {
    Path out = dir.resolve("out");
    Path err = dir.resolve("err");
    ProcessBuilder pb = new ProcessBuilder("/bin/bash", StandaloneCluster.DISCOVERY_SCRIPT.toString())
        .redirectOutput(out.toFile()).redirectError(err.toFile());
    pb.environment().put("PATH", bin.toString());
    Process p = pb.start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the script hung");
    return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
        Files.readString(err, StandardCharsets.UTF_8));
  }

  @Test
  void listsEveryGpuIndexAsSparkExpects() throws Exception {
    // nvidia-smi must be asked for indices only, without a header
    Run r = run(bin("[ \"$*\" = '--query-gpu=index --format=csv,noheader' ] || { echo \"bad args: $*\" >&2; exit 2; }\n"
        + "printf '0\\n1\\n 2\\n3\\n'"));
    assertEquals(0, r.status(), r.stderr());
    assertEquals(1, r.stdout().lines().count(), r.stdout());
    Map<String, Object> json = Json.object(r.stdout().strip());
    assertEquals("gpu", json.get("name"));
    assertEquals(List.of("0", "1", "2", "3"), json.get("addresses"));
    assertEquals("", r.stderr());
  }

  @Test
  void oneGpu() throws Exception {
    Run r = run(bin("echo 0"));
    assertEquals(0, r.status(), r.stderr());
    assertEquals("{\"name\":\"gpu\",\"addresses\":[\"0\"]}", r.stdout().strip());
  }

  @Test
  void noNvidiaSmiFailsSayingSo() throws Exception {
    Run r = run(bin(null));
    assertEquals(1, r.status());
    assertEquals("", r.stdout());
    assertEquals(1, r.stderr().lines().count(), r.stderr());
    assertTrue(r.stderr().contains("nvidia-smi is not on the PATH"), r.stderr());
  }

  @Test
  void aFailingDriverFailsWithItsMessage() throws Exception {
    Run r = run(bin("echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\"\nexit 9"));
    assertEquals(1, r.status());
    assertEquals("", r.stdout());
    assertTrue(r.stderr().startsWith("discover-gpus: nvidia-smi failed: NVIDIA-SMI has failed"), r.stderr());
  }

  @Test
  void noGpuOrGarbageIsRefused() throws Exception {
    Run none = run(bin("exit 0"));
    assertEquals(1, none.status());
    assertTrue(none.stderr().contains("lists no GPU"), none.stderr());
    Files.writeString(dir.resolve("bin/nvidia-smi"), "#!/bin/bash\necho 'No devices were found'\n");
    Run garbage = run(dir.resolve("bin"));
    assertEquals(1, garbage.status());
    assertTrue(garbage.stderr().contains("where a GPU index was expected"), garbage.stderr());
  }
}
