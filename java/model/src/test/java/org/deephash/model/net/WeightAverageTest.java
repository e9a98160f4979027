package org.deephash.model.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import java.util.SplittableRandom;
import org.deephash.model.data.Dataset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The exponential moving average of the weights ({@code --ema}): it follows a plain reference
 * average of the weights read after every step, swaps in and out exactly, survives a checkpoint,
 * and is what the trainer validates and returns.
 */
class WeightAverageTest {
  static final HashNetConfig CONFIG = new HashNetConfig(8, 8, 1, 12, 16, 4, 4, List.of("a", "b", "c"));
  static final List<String> NAMES = List.of("conv1_w", "conv1_b", "conv2_w", "f7_w", "f7_b", "h_w", "h_b", "f8_w", "f8_b");

  @TempDir
  Path dir;

  /** n random 8x8 images whose label is the brightest third of the image (learnable). */
  static Dataset images(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] px = new float[n * 64];
    int[] labels = new int[n];
    for (int i = 0; i < n; i++) {
      int label = r.nextInt(3);
      labels[i] = label;
      for (int p = 0; p < 64; p++) {
        float base = (p % 8) * 3 / 8 == label ? 0.6f : 0.2f;
        px[i * 64 + p] = base + 0.4f * r.nextFloat();
      }
    }
    return new Dataset(n, 8, 8, 1, px, labels, List.of("a", "b", "c"), java.util.Collections.nCopies(n, "synthetic"));
  }

  static TrainOptions options(float decay) {
    return TrainOptions.defaults().withEpochs(2).withAverage(decay);
  }

  static float[] batch(Dataset d, int from, int n) {
    return Arrays.copyOfRange(d.pixels(), from * 64, (from + n) * 64);
  }

  @Test
  void theAverageFollowsAPlainReferenceOfTheWeightsAfterEveryStep() {
    float decay = 0.8f;
    Dataset data = images(64 * 6, 1);
    try (HashNet net = HashNet.create(CONFIG, options(decay))) {
      double[][] reference = new double[NAMES.size()][];
      for (int v = 0; v < NAMES.size(); v++) {
        float[] w = net.variable(NAMES.get(v));
        reference[v] = new double[w.length];
        for (int i = 0; i < w.length; i++) {
          reference[v][i] = w[i];
        }
      }
      float[][] last = new float[NAMES.size()][];
      for (int step = 0; step < 6; step++) {
        long t = 3 + 7L * step; // global step numbers need not start at 0 (a resumed run)
        net.trainStep(batch(data, step * 64, 64), Arrays.copyOfRange(data.labels(), step * 64, step * 64 + 64), 1e-2f,
            t);
        double d = Math.min(decay, (1.0 + t) / (10.0 + t)); // the warm-up: a short horizon at first
        for (int v = 0; v < NAMES.size(); v++) {
          last[v] = net.variable(NAMES.get(v));
          for (int i = 0; i < last[v].length; i++) {
            reference[v][i] = d * reference[v][i] + (1 - d) * last[v][i];
          }
        }
      }
      net.useAverage();
      for (int v = 0; v < NAMES.size(); v++) {
        float[] a = net.variable(NAMES.get(v));
        boolean moved = false;
        for (int i = 0; i < a.length; i++) {
          assertEquals(reference[v][i], a[i], 1e-5 + 1e-5 * Math.abs(reference[v][i]), NAMES.get(v) + "[" + i + "]");
          moved |= a[i] != last[v][i];
        }
        assertTrue(moved, NAMES.get(v) + ": the average equals the trained weights");
      }
      net.useAverage(); // idempotent: the trained weights kept aside are not overwritten by the average
      net.useTrained();
      for (int v = 0; v < NAMES.size(); v++) {
        assertArrayEquals(last[v], net.variable(NAMES.get(v)), NAMES.get(v) + " after swapping back");
      }
    }
  }

  @Test
  void withoutAnAverageTheWeightsStay() {
    Dataset d = images(64, 2);
    try (HashNet net = HashNet.create(CONFIG, options(0f))) {
      net.trainStep(d.pixels(), d.labels(), 1e-2f, 0);
      float[] w = net.variable("h_w");
      net.useAverage();
      assertArrayEquals(w, net.variable("h_w"));
      net.trainStep(d.pixels(), d.labels(), 1e-2f, 1); // allowed: nothing was swapped
    }
  }

  @Test
  void noStepOrCheckpointWhileTheAverageIsInPlace() throws Exception {
    Dataset d = images(64, 3);
    try (HashNet net = HashNet.create(CONFIG, options(0.9f))) {
      net.trainStep(d.pixels(), d.labels(), 1e-2f, 0);
      net.useAverage();
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> net.trainStep(d.pixels(), d.labels(), 1e-2f, 1));
      assertTrue(e.getMessage().contains("useTrained"), e.getMessage());
      assertThrows(IllegalStateException.class, () -> net.saveCheckpoint(dir.resolve("c/ckpt")));
      net.useTrained();
      net.trainStep(d.pixels(), d.labels(), 1e-2f, 1);
    }
  }

  @Test
  void aCheckpointKeepsTheTrainedWeightsAndTheAverage() throws Exception {
    Dataset d = images(128, 4);
    TrainOptions o = options(0.7f);
    try (HashNet net = HashNet.create(CONFIG, o)) {
      for (int step = 0; step < 2; step++) {
        net.trainStep(batch(d, step * 64, 64), Arrays.copyOfRange(d.labels(), step * 64, step * 64 + 64), 1e-2f, step);
      }
      net.saveCheckpoint(dir.resolve("c/ckpt"));
      try (HashNet back = HashNet.restore(CONFIG, o, dir.resolve("c/ckpt"))) {
        assertArrayEquals(net.variable("f7_w"), back.variable("f7_w"));
        float[] trained = new float[d.count() * 3];
        net.infer(d.pixels(), d.count(), null, null, trained);
        net.useAverage();
        back.useAverage();
        float[] a = new float[d.count() * 3];
        float[] b = new float[d.count() * 3];
        net.infer(d.pixels(), d.count(), null, null, a);
        back.infer(d.pixels(), d.count(), null, null, b);
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, trained), "the average gives the same outputs as the trained weights");
      }
    }
  }

  @Test
  void theTrainerValidatesAndReturnsTheAverage() throws Exception {
    Dataset train = images(64 * 8, 5);
    Dataset validation = images(300, 6);
    Trainer.Summary[] s = new Trainer.Summary[1];
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    TrainOptions o = options(0.9f).withEpochs(3);
    try (HashNet net = new Trainer(new PrintStream(log, true, StandardCharsets.UTF_8)).train(CONFIG, o, train,
        validation, dir.resolve("ckpt"), false, s)) {
      assertEquals(s[0].keptValidationAccuracy(), Trainer.accuracy(net, validation), 0.0,
          "the returned network is the one validated for the kept epoch " + s[0].keptEpoch());
      assertTrue(s[0].keptValidationAccuracy() > 0.5, log.toString(StandardCharsets.UTF_8));
      // resuming from the last checkpoint (trained weights) and swapping the average in gives the same network
      // when the last epoch was kept
      if (s[0].keptEpoch() == s[0].epochs()) {
        try (HashNet back = HashNet.restore(CONFIG, o, dir.resolve("ckpt").resolve(Trainer.CHECKPOINT))) {
          back.useAverage();
          assertArrayEquals(net.variable("h_w"), back.variable("h_w"));
        }
      }
    }
  }

  @Test
  void theDecayIsRecordedAndOldOptionsReadAsNone() {
    TrainOptions o = options(0.999f);
    Properties p = o.toProperties();
    assertEquals("0.999", p.getProperty("averageDecay"));
    assertEquals(o, TrainOptions.fromProperties(p));
    p.remove("averageDecay");
    assertEquals(0f, TrainOptions.fromProperties(p).averageDecay());
    assertThrows(IllegalArgumentException.class, () -> TrainOptions.defaults().withAverage(1f));
    assertThrows(IllegalArgumentException.class, () -> TrainOptions.defaults().withAverage(-0.1f));
  }
}
