package org.deephash.robust;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.deephash.index.IndexFile;
import org.deephash.io.Npy;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** A FIFO, a directory or a broken link where a file is expected: a prompt error naming it, never a hang. */
class NotAFileTest {
  @TempDir Path dir;

  @Test
  @Timeout(value = 20, unit = TimeUnit.SECONDS) // opening a FIFO for reading would block forever
  void fifoDirectoryAndBrokenLinkAreRefusedByName() throws Exception {
    Path fifo = dir.resolve("pipe.dh");
    Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
    assumeTrue(mk.waitFor() == 0, "mkfifo is needed for the FIFO case");
    Path folder = Files.createDirectory(dir.resolve("folder.dh"));
    Path link = Files.createSymbolicLink(dir.resolve("link.dh"), dir.resolve("missing"));
    for (Path p : new Path[] {fifo, folder, link}) {
      IOException e = assertThrows(IOException.class, () -> IndexFile.open(p));
      assertTrue(e.getMessage().startsWith(p.toString()) || e.getMessage().contains(p.getFileName().toString()),
          e.getMessage());
      assertTrue(e.getMessage().contains("code-table index"), e.getMessage());
      IOException n = assertThrows(IOException.class, () -> Npy.read(p));
      assertTrue(n.getMessage().contains(p.getFileName().toString()) && n.getMessage().contains(".npy"),
          n.getMessage());
    }
    IOException e = assertThrows(IOException.class, () -> IndexFile.info(fifo));
    assertTrue(e.getMessage().contains("FIFO"), e.getMessage());
  }
}
