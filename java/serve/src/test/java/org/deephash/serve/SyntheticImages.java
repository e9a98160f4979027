package org.deephash.serve;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.AbstractList;
import java.util.List;
import java.util.SplittableRandom;
import org.deephash.model.data.Dataset;

/**
 * A generated stand-in for an image data set, so the serve tests never depend on one being
 * installed: 28 x 28 grey pictures of ten shapes (bars, squares, discs, diagonals, ...) at jittered
 * places, sizes and brightness, with noise. The pictures are written as an IDX image file, as
 * MNIST's are, and each image's source is {@code file#i}, so the server shows them exactly as it
 * shows an indexed MNIST-like data set.
 */
final class SyntheticImages {
  static final int SIDE = 28;
  static final List<String> CLASSES = List.of("hbar", "vbar", "square", "frame", "disc", "ring", "falling",
      "rising", "cross", "checker");

  private SyntheticImages() {}

  /**
   * {@code n} pictures from {@code seed}, written to {@code idxFile} (IDX 0x803, unsigned bytes) and
   * returned as the dataset a loader would read from it (pixels = byte / 255).
   */
  static Dataset write(Path idxFile, int n, long seed) throws IOException {
    SplittableRandom rnd = new SplittableRandom(seed);
    byte[] raw = new byte[n * SIDE * SIDE];
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      labels[i] = rnd.nextInt(CLASSES.size());
      draw(labels[i], rnd, raw, i * SIDE * SIDE);
    }
    try (OutputStream f = Files.newOutputStream(idxFile); DataOutputStream o = new DataOutputStream(f)) {
      o.writeInt(0x803);
      o.writeInt(n);
      o.writeInt(SIDE);
      o.writeInt(SIDE);
      o.write(raw);
    }
    float[] pixels = new float[raw.length];
    for (int i = 0; i < raw.length; i++) {
      pixels[i] = (raw[i] & 0xff) / 255f;
    }
    String base = idxFile.toString();
    List<String> sources = new AbstractList<>() {
      @Override
      public String get(int i) {
        return base + "#" + i;
      }

      @Override
      public int size() {
        return n;
      }
    };
    return new Dataset(n, SIDE, SIDE, 1, pixels, labels, CLASSES, sources);
  }

  private static void draw(int shape, SplittableRandom rnd, byte[] out, int base) {
    int cx = 14 + rnd.nextInt(-3, 4);
    int cy = 14 + rnd.nextInt(-3, 4);
    int r = 6 + rnd.nextInt(0, 4);
    int ink = 160 + rnd.nextInt(96);
    for (int y = 0; y < SIDE; y++) {
      for (int x = 0; x < SIDE; x++) {
        int dx = x - cx;
        int dy = y - cy;
        double d = Math.sqrt(dx * dx + dy * dy);
        boolean on = switch (shape) {
          case 0 -> Math.abs(dy) <= 2 && Math.abs(dx) <= r;
          case 1 -> Math.abs(dx) <= 2 && Math.abs(dy) <= r;
          case 2 -> Math.abs(dx) <= r && Math.abs(dy) <= r;
          case 3 -> Math.max(Math.abs(dx), Math.abs(dy)) <= r && Math.max(Math.abs(dx), Math.abs(dy)) >= r - 2;
          case 4 -> d <= r;
          case 5 -> d <= r && d >= r - 2.5;
          case 6 -> Math.abs(dx - dy) <= 2 && Math.abs(dx) <= r;
          case 7 -> Math.abs(dx + dy) <= 2 && Math.abs(dx) <= r;
          case 8 -> (Math.abs(dx) <= 1 || Math.abs(dy) <= 1) && Math.abs(dx) <= r && Math.abs(dy) <= r;
          default -> ((x / 4 + y / 4) & 1) == 0 && Math.abs(dx) <= r + 2 && Math.abs(dy) <= r + 2;
        };
        int v = (on ? ink : 0) + rnd.nextInt(0, 40);
        out[base + y * SIDE + x] = (byte) Math.min(255, v);
      }
    }
  }
}
