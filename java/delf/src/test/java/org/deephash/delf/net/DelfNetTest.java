package org.deephash.delf.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.deephash.model.data.Pixels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The two training stages on tiny synthetic photos: what moves, what stays, and that a saved network reloads exactly. */
class DelfNetTest {
  @TempDir
  Path dir;

  static final DelfConfig SMALL = new DelfConfig(DelfConfig.RESIDUAL, 8, 16, 16, 32, 3, 7);

  /** Three "photos": differently coloured shapes; a view is a random crop. */
  static DelfTrainer.ViewSource shapes() {
    BufferedImage[] photos = new BufferedImage[3];
    for (int i = 0; i < 3; i++) {
      BufferedImage b = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
      Graphics2D g = b.createGraphics();
      g.setColor(new Color(40 * i, 200 - 60 * i, 90));
      g.fillRect(0, 0, 64, 64);
      g.setColor(Color.WHITE);
      if (i == 0) {
        g.fillOval(10, 10, 40, 40);
      } else if (i == 1) {
        g.fillRect(8, 20, 48, 20);
      } else {
        g.fillPolygon(new int[] {32, 8, 56}, new int[] {6, 58, 58}, 3);
      }
      g.dispose();
      photos[i] = b;
    }
    return new DelfTrainer.ViewSource() {
      @Override
      public int photos() {
        return 3;
      }

      @Override
      public BufferedImage view(int i, SplittableRandom r) {
        int x = r.nextInt(12);
        int y = r.nextInt(12);
        return photos[i].getSubimage(x, y, 52, 52);
      }
    };
  }

  @Test
  void stageTwoLeavesTheDescriptorsAloneAndASavedNetworkReloadsExactly() throws Exception {
    float[] img = Pixels.of(shapes().view(1, new SplittableRandom(1)), 32, 32, Pixels.Channels.RGB);
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    DelfTrainer.Options stage1 = new DelfTrainer.Options(32, 6, 4, 2, 0, 3e-3f, 1f, 1);
    try (DelfNet net = new DelfTrainer(quiet).train(SMALL, stage1, shapes(), dir.resolve("m1"))) {
      DelfNet.DenseOutput before = net.extract(img, 32, 32);
      assertEquals(4, before.rows());
      assertEquals(16, before.dim());
      float[] x = new float[6 * 32 * 32 * 3];
      for (int i = 0; i < 6; i++) {
        System.arraycopy(img, 0, x, i * img.length, img.length);
      }
      for (int s = 0; s < 5; s++) {
        net.trainAttention(x, new int[] {1, 1, 1, 1, 1, 1}, 32, 32, 1e-2f);
      }
      DelfNet.DenseOutput after = net.extract(img, 32, 32);
      assertArrayEquals(before.descriptors(), after.descriptors(), "stage 2 must not move the backbone");
      assertFalse(Arrays.equals(before.attention(), after.attention()), "stage 2 trains the attention head");
      for (float a : after.attention()) {
        assertTrue(a >= 0, "softplus attention is non-negative");
      }
      DelfTrainer.save(net, stage1, dir.resolve("m2"));
      try (DelfNet back = DelfTrainer.open(dir.resolve("m2"))) {
        DelfNet.DenseOutput again = back.extract(img, 32, 32);
        assertArrayEquals(after.descriptors(), again.descriptors());
        assertArrayEquals(after.attention(), again.attention());
      }
    }
  }

  @Test
  void stageOneLearnsThePhotos() throws Exception {
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    DelfTrainer.Options o = new DelfTrainer.Options(32, 6, 10, 6, 1, 3e-3f, 1f, 3);
    try (DelfNet net = new DelfTrainer(new PrintStream(log, true, StandardCharsets.UTF_8)).train(SMALL, o, shapes(),
        dir.resolve("m"))) {
      String text = log.toString(StandardCharsets.UTF_8);
      assertTrue(text.contains("descriptors epoch 6/6") && text.contains("attention epoch 1/1"), text);
      String last = text.lines().filter(l -> l.startsWith("descriptors epoch 6/6")).findFirst().orElseThrow();
      double acc = Double.parseDouble(last.replaceAll(".*train-acc ([0-9.]+).*", "$1"));
      assertTrue(acc > 0.6, "three shapes are easy (chance 0.33): " + last);
    }
  }

  @Test
  void badInput() {
    try (DelfNet net = DelfNet.create(SMALL)) {
      assertThrows(IllegalArgumentException.class, () -> net.extract(new float[30 * 30 * 3], 30, 30));
      assertThrows(IllegalArgumentException.class, () -> net.extract(new float[10], 32, 32));
    }
    assertThrows(IllegalArgumentException.class, () -> new DelfConfig(DelfConfig.RESIDUAL, 8, 16, 4, 32, 3, 1));
    assertThrows(IllegalArgumentException.class, () -> new DelfTrainer.Options(30, 6, 4, 2, 0, 3e-3f, 1f, 1));
    assertEquals(7.5f, SMALL.centre(0));
    assertEquals(15.5f, SMALL.centre(1));
    DelfConfig mobile = DelfConfig.mobileNet(3, 1);
    assertEquals(16, mobile.stride());
    assertEquals(15.5f, mobile.centre(0));
    assertEquals(31.5f, mobile.centre(1));
    assertThrows(IllegalArgumentException.class, () -> DelfNet.create(mobile));
    assertThrows(IllegalArgumentException.class, () -> new DelfConfig("vgg", 8, 16, 16, 32, 3, 1));
    assertThrows(IllegalArgumentException.class, () -> new DelfConfig(DelfConfig.MOBILENET_V2, 8, 16, 96, 32, 3, 1));
    // a model folder written before the backbone was recorded is the residual one
    java.util.Properties old = SMALL.toProperties();
    old.remove("backbone");
    assertEquals(SMALL, DelfConfig.fromProperties(old));
  }
}
