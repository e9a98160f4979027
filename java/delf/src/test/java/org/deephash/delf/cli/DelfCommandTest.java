package org.deephash.delf.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DelfCommandTest {
  @TempDir
  Path dir;

  record Run(int rc, String out, String err) {}

  static Run run(String... args) throws Exception {
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    int rc = new DelfCommand().run(args, new PrintStream(o, true, StandardCharsets.UTF_8),
        new PrintStream(e, true, StandardCharsets.UTF_8));
    return new Run(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
  }

  @Test
  void usageAndErrors() throws Exception {
    Run help = run("--help");
    assertEquals(0, help.rc());
    for (String c : new String[] {"train", "extract", "index", "query", "eval", "match"}) {
      assertTrue(help.out().contains(c), c);
    }
    assertEquals(2, run().rc());
    Run unknown = run("fly");
    assertEquals(2, unknown.rc());
    assertTrue(unknown.err().contains("unknown command 'fly'"), unknown.err());
    Run noModel = run("extract", "--model", dir.resolve("none").toString(), "--image", "x.png");
    assertEquals(1, noModel.rc());
    assertTrue(noModel.err().contains("holds no DELF model"), noModel.err());
    Run noPhotos = run("train", "--photos", dir.toString());
    assertTrue(noPhotos.rc() != 0);
    assertTrue(noPhotos.err().contains("manifest"), noPhotos.err());
    Run badScales = run("extract", "--model", "m", "--image", "x.png", "--scales", "1,zwei");
    assertEquals(2, badScales.rc());
    assertTrue(badScales.err().contains("--scales"), badScales.err());
  }
}
