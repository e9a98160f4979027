package org.deephash.model.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Datasets;
import org.deephash.testing.RequiredData;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scratch network with batch-normalised convolutions ({@code train --batch-norm}), trained on
 * real Fashion-MNIST images: it learns, its inference path uses the running statistics (an image's
 * outputs do not depend on the batch around it), and the running statistics travel with the
 * checkpoint and the SavedModel.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BatchNormTest {
  static final int STEPS = 200;

  @TempDir
  static Path dir;

  Dataset test;
  HashNet net;
  HashNetConfig config;
  TrainOptions options;

  @BeforeAll
  void trainOnce() throws Exception {
    RequiredData.require(Files.isDirectory(Datasets.FASHION_MNIST), "Fashion-MNIST at " + Datasets.FASHION_MNIST,
        "apt-get install dataset-fashion-mnist");
    Dataset train = Datasets.load("fashion-mnist", Datasets.Split.TRAIN, 0, 0, 0).head(STEPS * 64);
    test = Datasets.load("fashion-mnist", Datasets.Split.TEST, 0, 0, 0).head(2000);
    config = new HashNetConfig(28, 28, 1, 48, 128, 16, 32, Datasets.FASHION_CLASSES).withBatchNorm(true);
    options = TrainOptions.defaults().withEpochs(1).withMaxSteps(STEPS);
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    net = new Trainer(new PrintStream(buf, true, StandardCharsets.UTF_8)).train(config, options, train, null,
        dir.resolve("ckpt"), false, null);
  }

  @AfterAll
  void close() {
    if (net != null) {
      net.close();
    }
  }

  @Test
  void theNormalisedNetworkLearns() {
    // the inference path with the running statistics: left at mean 0 / variance 1 they would not fit
    double acc = Trainer.accuracy(net, test);
    assertTrue(acc > 0.70, "test accuracy after " + STEPS + " steps: " + acc + " (chance 0.10)");
  }

  @Test
  void anImagesOutputsDoNotDependOnItsBatch() {
    int n = 37;
    float[] x = Arrays.copyOf(test.pixels(), n * 784);
    float[] batch = new float[n * 48];
    net.infer(x, n, null, batch, null);
    for (int i : new int[] {0, 5, 36}) {
      float[] one = new float[48];
      net.infer(Arrays.copyOfRange(x, i * 784, (i + 1) * 784), 1, null, one, null);
      assertArrayEquals(Arrays.copyOfRange(batch, i * 48, (i + 1) * 48), one, 1e-5f, "image " + i);
    }
  }

  @Test
  void theRunningStatisticsTravelWithCheckpointAndSavedModel() throws Exception {
    int n = 16;
    float[] x = Arrays.copyOf(test.pixels(), n * 784);
    float[] h = new float[n * 48];
    net.infer(x, n, null, h, null);
    float[] restoredH = new float[n * 48];
    try (HashNet restored = HashNet.restore(config, options, dir.resolve("ckpt").resolve(Trainer.CHECKPOINT))) {
      restored.infer(x, n, null, restoredH, null);
    }
    assertArrayEquals(h, restoredH);
    Path saved = dir.resolve("saved_model");
    net.export(saved);
    try (Encoder enc = Encoder.open(saved, config)) {
      assertArrayEquals(h, enc.batchSize(n).encode(x, n).latent());
    }
  }

  @Test
  void theSettingIsStoredWithTheModel() {
    Properties p = config.toProperties();
    assertEquals("true", p.getProperty("batchNorm"));
    assertTrue(HashNetConfig.fromProperties(p).batchNorm());
    p.remove("batchNorm"); // a model written before the option: no normalisation
    assertFalse(HashNetConfig.fromProperties(p).batchNorm());
  }

  @Test
  void thePretrainedBackboneRefusesIt() {
    HashNetConfig mobile = HashNetConfig.mobileNetV2(128, 128, 48, List.of("a", "b"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> mobile.withBatchNorm(true));
    assertTrue(e.getMessage().contains("scratch"), e.getMessage());
  }
}
