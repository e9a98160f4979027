package org.deephash.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.deephash.model.data.Dataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The packed image files behind /images are loaded once for every generation, and again when they change. */
class IndexImagesTest {
  @TempDir
  Path dir;

  @Test
  void packedFilesAreSharedUntilTheFileChanges() throws Exception {
    Path idx = dir.resolve("images-idx3-ubyte");
    SyntheticImages.write(idx, 20, 1);
    IndexImages.PackedFiles packed = new IndexImages.PackedFiles();
    Dataset first = packed.get(idx.toString());
    assertEquals(20, first.count());
    assertSame(first, packed.get(idx.toString()), "a second generation reads the loaded file");
    SyntheticImages.write(idx, 30, 2);
    Files.setLastModifiedTime(idx, FileTime.fromMillis(Files.getLastModifiedTime(idx).toMillis() + 5000));
    Dataset changed = packed.get(idx.toString());
    assertNotSame(first, changed);
    assertEquals(30, changed.count(), "a changed file is loaded again");
  }
}
