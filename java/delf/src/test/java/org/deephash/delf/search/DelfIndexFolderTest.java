package org.deephash.delf.search;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.Pca;
import org.deephash.pq.IvfPqIndex;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The index folder records how its features were extracted and by which model, so that a server
 * can extract an uploaded query the same way; folders written before the record still open.
 */
class DelfIndexFolderTest {
  private static final int DIM = 8;

  private static Path folder(Path dir, Extractor ex, Path model) throws IOException {
    Random rnd = new Random(3);
    int n = 64;
    float[] desc = new float[n * DIM];
    float[] xy = new float[2 * n];
    int[] image = new int[n];
    for (int i = 0; i < desc.length; i++) {
      desc[i] = (float) rnd.nextGaussian();
    }
    for (int i = 0; i < n; i++) {
      image[i] = i / 32;
      xy[2 * i] = i;
      xy[2 * i + 1] = i;
    }
    IvfPqIndex index = IvfPqIndex.train(desc, n, DIM, new IvfPqIndex.Params(2, 2, 4, 5, 1L, 4096));
    index.add(desc, n, image, xy);
    float[] identity = new float[DIM * DIM];
    for (int j = 0; j < DIM; j++) {
      identity[j * DIM + j] = 1;
    }
    Path out = dir.resolve("delf");
    DelfIndexFolder.save(out, index, new Pca(DIM, DIM, new float[DIM], identity), desc,
        List.of(new DelfIndexFolder.Image(0, "a", dir.resolve("a.jpg")), new DelfIndexFolder.Image(1, "b",
            dir.resolve("b.jpg"))), ex, model);
    return out;
  }

  @Test
  void theExtractionSettingsAndTheModelComeBack(@TempDir Path dir) throws IOException {
    Extractor ex = new Extractor(320, new float[] {0.5f, 0.70711f, 1f}, 500, 0.25f);
    Path model = dir.resolve("models/my delf: v2"); // a space and a colon survive
    DelfIndexFolder.Opened o = DelfIndexFolder.open(folder(dir, ex, model));
    assertEquals(320, o.baseSide());
    assertArrayEquals(ex.scales(), o.extractor().scales());
    assertEquals(500, o.extractor().maxFeatures());
    assertEquals(0.25f, o.extractor().minAttention());
    assertEquals(model.toAbsolutePath().normalize(), o.model());
  }

  @Test
  void aFolderWithoutTheRecordMeansTheDefaultsAndNoModel(@TempDir Path dir) throws IOException {
    Path f = folder(dir, Extractor.defaults(), null);
    assertNull(DelfIndexFolder.open(f).model());
    // as written before the settings were recorded: the side only, or nothing
    Files.writeString(f.resolve("extract.properties"), "base_side=200\n");
    DelfIndexFolder.Opened o = DelfIndexFolder.open(f);
    assertEquals(200, o.baseSide());
    assertArrayEquals(Extractor.PAPER_SCALES, o.extractor().scales());
    assertEquals(Extractor.defaults().maxFeatures(), o.extractor().maxFeatures());
    assertNull(o.model());
    Files.delete(f.resolve("extract.properties"));
    assertEquals(Extractor.defaults().baseSide(), DelfIndexFolder.open(f).baseSide());
  }

  @Test
  void damagedSettingsAreRefusedInOneLineSayingWhatToDo(@TempDir Path dir) throws IOException {
    Path f = folder(dir, Extractor.defaults(), null);
    for (String bad : new String[] {"scales=0.5,big\n", "scales=0.5,9\n", "max_features=0\n", "base_side=x\n"}) {
      Files.writeString(f.resolve("extract.properties"), bad);
      IOException e = assertThrows(IOException.class, () -> DelfIndexFolder.open(f), bad);
      assertTrue(e.getMessage().contains("extract.properties") && e.getMessage().contains("delf index")
          && !e.getMessage().contains("\n"), e.getMessage());
    }
  }
}
