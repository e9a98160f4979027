package org.deephash.model.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Datasets;
import org.deephash.testing.RequiredData;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Trains on real Fashion-MNIST images (skipped, by assumption, where the dataset is not
 * installed): a few hundred steps must lift accuracy far above chance, and the exported SavedModel
 * and the checkpoint must reproduce the network's outputs exactly.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HashNetTest {
  static final int STEPS = 250;

  @TempDir
  static Path dir;

  Dataset train;
  Dataset test;
  HashNet net;
  HashNetConfig config;
  TrainOptions options;
  String log;

  @BeforeAll
  void trainOnce() throws Exception {
    RequiredData.require(Files.isDirectory(Datasets.FASHION_MNIST), "Fashion-MNIST at " + Datasets.FASHION_MNIST,
        "apt-get install dataset-fashion-mnist");
    train = Datasets.load("fashion-mnist", Datasets.Split.TRAIN, 0, 0, 0).head(STEPS * 64);
    test = Datasets.load("fashion-mnist", Datasets.Split.TEST, 0, 0, 0).head(2000);
    config = new HashNetConfig(28, 28, 1, 48, 128, 16, 32, Datasets.FASHION_CLASSES);
    options = TrainOptions.defaults().withEpochs(1).withMaxSteps(STEPS).withAugmentation(true, 2);
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    net = new Trainer(new PrintStream(buf, true, StandardCharsets.UTF_8)).train(config, options, train, null,
        dir.resolve("ckpt"), false, null);
    log = buf.toString(StandardCharsets.UTF_8);
  }

  @org.junit.jupiter.api.AfterAll
  void close() {
    if (net != null) {
      net.close();
    }
  }

  @Test
  void aFewHundredStepsLiftAccuracyFarAboveChance() {
    double acc = Trainer.accuracy(net, test);
    assertTrue(acc > 0.60, "test accuracy after " + STEPS + " steps: " + acc + " (chance 0.10)");
    assertTrue(log.contains("epoch 1/1") && log.contains("loss") && log.contains("time"), log);
  }

  @Test
  void exportedSavedModelReproducesTheOutputsExactly() throws Exception {
    int n = 37;
    float[] x = java.util.Arrays.copyOf(test.pixels(), n * 784);
    float[] f = new float[n * config.featureDim()];
    float[] h = new float[n * config.bits()];
    float[] p = new float[n * config.classes()];
    net.infer(x, n, f, h, p);
    Path saved = dir.resolve("saved_model");
    net.export(saved);
    try (Encoder enc = Encoder.open(saved, config)) {
      // Same batch as the training session: bit-identical outputs.
      Encoding e = enc.batchSize(n).encode(x, n);
      assertArrayEquals(f, e.features());
      assertArrayEquals(h, e.latent());
      assertArrayEquals(CodePacker.pack(h, n, 48), e.codes());
      for (int i = 0; i < n; i++) {
        assertEquals(Trainer.argMax(p, i * 10, 10), e.predicted()[i]);
      }
      // Other batch sizes may pick other CPU kernels (last-bit float differences), never more.
      Encoding small = enc.batchSize(16).encode(x, n);
      assertArrayEquals(f, small.features(), 1e-4f);
      assertArrayEquals(h, small.latent(), 1e-5f);
    }
  }

  @Test
  void checkpointRestoresTheSameNetwork() {
    int n = 8;
    float[] x = java.util.Arrays.copyOf(test.pixels(), n * 784);
    float[] h1 = new float[n * 48];
    float[] h2 = new float[n * 48];
    net.infer(x, n, null, h1, null);
    try (HashNet restored = HashNet.restore(config, options, dir.resolve("ckpt").resolve(Trainer.CHECKPOINT))) {
      restored.infer(x, n, null, h2, null);
    }
    assertArrayEquals(h1, h2);
  }

  @Test
  void theSeedFixesTheInitialWeights() {
    int n = 4;
    float[] x = java.util.Arrays.copyOf(test.pixels(), n * 784);
    float[] a = new float[n * 48];
    float[] b = new float[n * 48];
    float[] c = new float[n * 48];
    try (HashNet n1 = HashNet.create(config, options); HashNet n2 = HashNet.create(config, options);
        HashNet n3 = HashNet.create(config, options.withSeed(7))) {
      n1.infer(x, n, null, a, null);
      n2.infer(x, n, null, b, null);
      n3.infer(x, n, null, c, null);
    }
    assertArrayEquals(a, b);
    assertTrue(!java.util.Arrays.equals(a, c));
  }
}
