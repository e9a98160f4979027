package org.deephash.model.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetsTest {
  @TempDir
  Path dir;

  static void writeIdx(Path images, Path labels, int n, int rows, int cols, boolean gzip) throws IOException {
    ByteArrayOutputStream a = new ByteArrayOutputStream();
    DataOutputStream o = new DataOutputStream(a);
    o.writeInt(0x803);
    o.writeInt(n);
    o.writeInt(rows);
    o.writeInt(cols);
    for (int i = 0; i < n * rows * cols; i++) {
      o.writeByte(i % 256);
    }
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    DataOutputStream l = new DataOutputStream(b);
    l.writeInt(0x801);
    l.writeInt(n);
    for (int i = 0; i < n; i++) {
      l.writeByte(i % 3);
    }
    write(images, a.toByteArray(), gzip);
    write(labels, b.toByteArray(), gzip);
  }

  private static void write(Path p, byte[] data, boolean gzip) throws IOException {
    try (OutputStream out = gzip ? new GZIPOutputStream(Files.newOutputStream(p)) : Files.newOutputStream(p)) {
      out.write(data);
    }
  }

  @Test
  void readsPlainAndGzippedIdx() throws IOException {
    writeIdx(dir.resolve("train-images-idx3-ubyte.gz"), dir.resolve("train-labels-idx1-ubyte.gz"), 5, 4, 3, true);
    writeIdx(dir.resolve("t10k-images-idx3-ubyte"), dir.resolve("t10k-labels-idx1-ubyte"), 2, 4, 3, false);
    Dataset train = Datasets.load("idx:" + dir, Datasets.Split.TRAIN, 0, 0, 0);
    assertEquals(5, train.count());
    assertEquals("4x3x1", train.shape());
    assertEquals(13 / 255f, train.pixels()[13]);
    assertEquals(2, train.labels()[2]);
    assertEquals(3, train.classes());
    assertTrue(train.sources().get(4).endsWith("train-images-idx3-ubyte.gz#4"));
    assertEquals(2, Datasets.load("idx:" + dir, Datasets.Split.TEST, 0, 0, 0).count());
  }

  @Test
  void badIdxFilesNameTheFile() throws IOException {
    writeIdx(dir.resolve("train-images-idx3-ubyte"), dir.resolve("train-labels-idx1-ubyte"), 5, 4, 3, false);
    // Swap: labels given as images.
    DatasetException e = assertThrows(DatasetException.class,
        () -> Datasets.idx(dir.resolve("train-labels-idx1-ubyte"), dir.resolve("train-images-idx3-ubyte"), null));
    assertTrue(e.getMessage().contains("train-labels-idx1-ubyte") && e.getMessage().contains("0x803"), e.getMessage());
    // Truncated image file.
    byte[] all = Files.readAllBytes(dir.resolve("train-images-idx3-ubyte"));
    Files.write(dir.resolve("cut"), java.util.Arrays.copyOf(all, all.length - 7));
    e = assertThrows(DatasetException.class, () -> Datasets.idx(dir.resolve("cut"), dir.resolve("train-labels-idx1-ubyte"), null));
    assertTrue(e.getMessage().contains("cut") && e.getMessage().contains("truncated"), e.getMessage());
    e = assertThrows(DatasetException.class, () -> Datasets.load("idx:" + dir.resolve("nowhere"), Datasets.Split.TRAIN, 0, 0, 0));
    assertTrue(e.getMessage().contains("nowhere"), e.getMessage());
  }

  @Test
  void cifarBatchesOfTheWrongSizeAreReported() throws IOException {
    Files.write(dir.resolve("test_batch.bin"), new byte[3073 * 2 + 5]);
    DatasetException e = assertThrows(DatasetException.class, () -> Datasets.cifar10(dir, Datasets.Split.TEST));
    assertTrue(e.getMessage().contains("test_batch.bin") && e.getMessage().contains("3073"), e.getMessage());
    byte[] ok = new byte[3073 * 2];
    ok[0] = 3;
    ok[1 + 1024] = (byte) 255; // green plane, pixel 0
    ok[3073] = 9;
    Files.write(dir.resolve("test_batch.bin"), ok);
    Dataset d = Datasets.cifar10(dir, Datasets.Split.TEST);
    assertEquals(2, d.count());
    assertEquals("32x32x3", d.shape());
    assertEquals(3, d.labels()[0]);
    assertEquals(1f, d.pixels()[1]); // pixel 0, channel G (HWC layout)
    assertEquals(0f, d.pixels()[0]);
  }

  @Test
  void folderDatasetResizesAndReportsProblemsByFileName() throws IOException {
    Path root = dir.resolve("photos");
    png(root.resolve("cats/a.png"), 40, 30, 0xff0000);
    png(root.resolve("cats/b.png"), 10, 10, 0x00ff00);
    png(root.resolve("dogs/c.png"), 20, 20, 0x0000ff);
    Dataset d = Datasets.folder(root, 16, 16, 3);
    assertEquals(3, d.count());
    assertEquals(java.util.List.of("cats", "dogs"), d.classNames());
    assertEquals(1, d.labels()[2]);
    assertEquals(1f, d.pixels()[0], 1e-6); // red
    assertTrue(d.sources().get(2).endsWith("c.png"));

    Files.writeString(root.resolve("dogs/broken.jpg"), "not a jpeg");
    Files.createDirectories(root.resolve("birds"));
    DatasetException e = assertThrows(DatasetException.class, () -> Datasets.folder(root, 16, 16, 3));
    assertTrue(e.getMessage().contains("broken.jpg"), e.getMessage());
    assertTrue(e.getMessage().contains("birds") && e.getMessage().contains("empty class"), e.getMessage());
  }

  static void png(Path p, int w, int h, int rgb) throws IOException {
    Files.createDirectories(p.getParent());
    BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < h; y++) {
      for (int x = 0; x < w; x++) {
        img.setRGB(x, y, rgb);
      }
    }
    ImageIO.write(img, "png", p.toFile());
  }
}
