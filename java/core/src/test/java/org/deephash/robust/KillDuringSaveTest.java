package org.deephash.robust;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.testing.ParitySuite;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.index.IndexFile;
import org.deephash.io.AtomicFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * kill -9 during saves, in a loop: another JVM saves an index over an existing one again and
 * again and is killed at a random moment. Every time the index on disk must verify, answer exactly
 * as before, and the next save must leave no temporary file behind. {@code
 * -Ddeephash.robust.kills=N} runs N kills (default 4: bounded for CI).
 */
class KillDuringSaveTest {
  private static final int KILLS = Integer.getInteger("deephash.robust.kills", 4);
  private static final int ROWS = 400_000;

  @TempDir Path dir;

  @Test
  @Timeout(value = 10, unit = TimeUnit.MINUTES)
  void theOldIndexSurvivesAndNoDebrisRemains() throws Exception {
    Path file = dir.resolve("live.dh");
    // the index that must survive, written by the same code the victim runs
    Process first = victim(file, 7);
    awaitSaving(first);
    first.waitFor(200, TimeUnit.MILLISECONDS);
    while (!Files.exists(file)) {
      Thread.sleep(20);
    }
    first.destroyForcibly().waitFor();
    SearchResult before = answers(file);
    SplittableRandom rnd = new SplittableRandom(20261204L);
    int leftBehind = 0;
    for (int i = 0; i < KILLS; i++) {
      Process p = victim(file, 7);
      awaitSaving(p);
      Thread.sleep(rnd.nextInt(20, 600)); // somewhere inside a save of a ~30 MB file
      p.destroyForcibly().waitFor(); // SIGKILL: no shutdown hooks, no cleanup
      leftBehind += AtomicFiles.debris(file).size();
      ParitySuite.assertSame(before, answers(file), "after kill " + i); // verified, identical
    }
    System.out.println("kill -9 during save: " + KILLS + " kills, " + leftBehind + " temporary files left behind");
    try (CodeTable t = IndexFile.open(file)) {
      IndexFile.save(t, file); // the next save cleans up
    }
    List<Path> debris = AtomicFiles.debris(file);
    assertEquals(List.of(), debris);
    try (var s = Files.list(dir)) {
      assertEquals(List.of("live.dh"), s.map(p -> p.getFileName().toString()).sorted().toList());
    }
  }

  private Process victim(Path file, long seed) throws IOException {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
        SaveLoop.class.getName(), file.toString(), Integer.toString(ROWS), Long.toString(seed))
        .redirectErrorStream(true).start();
  }

  private static void awaitSaving(Process p) throws IOException {
    BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream()));
    String line = r.readLine();
    assertTrue("saving".equals(line), "the saving process said: " + line);
  }

  /** Opens the index with every checksum verified and searches it (scan and multi-index tables). */
  private static SearchResult answers(Path file) throws IOException {
    byte[] q = new byte[8 * 16];
    new SplittableRandom(3).nextBytes(q);
    try (CodeTable t = IndexFile.open(file, IndexFile.Verify.FULL);
        GpuHashSearch scan = GpuHashSearch.open(t, new SearchOptions("java", 1, "scan"));
        GpuHashSearch mih = GpuHashSearch.open(t, new SearchOptions("java", 1, "mih"))) {
      SearchResult r = scan.query(q, 10);
      ParitySuite.assertSame(r, mih.query(q, 10), "scan and tables");
      return r;
    }
  }

  /** Debris of a dead writer is listed and removed by the next save; a live writer's file is not. */
  @Test
  void debrisOfDeadWritersOnlyIsRemoved() throws Exception {
    Path file = dir.resolve("x.dh");
    Process gone = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-version")
        .redirectErrorStream(true).start();
    gone.getInputStream().readAllBytes();
    gone.waitFor();
    Path dead = dir.resolve(".x.dh." + gone.pid() + ".00ff.tmp");
    Path legacy = dir.resolve(".x.dh.1a2b3c.tmp"); // an older build's name, without a process id
    Path live = dir.resolve(".x.dh." + ProcessHandle.current().pid() + ".abcd.tmp");
    Path other = dir.resolve(".y.dh." + gone.pid() + ".00ff.tmp");
    for (Path p : List.of(dead, legacy, live, other)) {
      Files.write(p, new byte[1000]);
    }
    assertEquals(List.of(legacy, dead).stream().sorted().toList(), AtomicFiles.debris(file).stream().sorted().toList());
    try (CodeTable t = CodeTable.create(64, 0, false)) {
      IndexFile.save(t, file);
    }
    assertTrue(!Files.exists(dead) && !Files.exists(legacy), "the dead writers' files are gone");
    assertTrue(Files.exists(live) && Files.exists(other), "a live write and another file's are kept");
  }
}
