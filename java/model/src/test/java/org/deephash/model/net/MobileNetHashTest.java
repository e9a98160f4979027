package org.deephash.model.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.eval.Baselines;
import org.deephash.model.pretrained.MobileNetV2;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The hashing network on the MobileNetV2 backbone (random stand-in weights in place of the
 * ImageNet ones): PCA-ITQ written into its latent layer gives the codes of the fitted linear hash,
 * the exported model folder opens with {@link Encoder} and gives the same codes, and bad
 * configurations are refused.
 */
class MobileNetHashTest {
  static final int SIDE = 32;
  static final int BITS = 12;

  @TempDir
  Path dir;

  /** Random folded weights for every convolution through block 10 (He-scaled, small biases). */
  static Map<String, MobileNetV2.Folded> randomWeights(long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    Map<String, MobileNetV2.Folded> m = new LinkedHashMap<>();
    for (MobileNetV2.Conv c : MobileNetV2.layers(HashNetConfig.MOBILENET_BLOCK)) {
      int[] s = c.kernelShape();
      int fanIn = s[0] * s[1] * (c.depthwise() ? 1 : s[2]);
      float[] k = new float[s[0] * s[1] * s[2] * s[3]];
      for (int i = 0; i < k.length; i++) {
        k[i] = (float) (gaussian(r) * Math.sqrt(2.0 / fanIn) * 0.8);
      }
      float[] b = new float[c.out()];
      for (int i = 0; i < b.length; i++) {
        b[i] = (float) (0.05 * gaussian(r));
      }
      m.put(c.name(), new MobileNetV2.Folded(k, b));
    }
    m.put(HashNet.ATTENTION_1, new MobileNetV2.Folded(gaussians(r, 96 * 512, 0.1), gaussians(r, 512, 0.05)));
    m.put(HashNet.ATTENTION_2, new MobileNetV2.Folded(gaussians(r, 512, 0.05), new float[] {0.1f}));
    return m;
  }

  static float[] gaussians(SplittableRandom r, int n, double sd) {
    float[] v = new float[n];
    for (int i = 0; i < n; i++) {
      v[i] = (float) (gaussian(r) * sd);
    }
    return v;
  }

  static Dataset images(int n, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] px = new float[n * SIDE * SIDE * 3];
    for (int i = 0; i < px.length; i++) {
      px[i] = (float) r.nextDouble();
    }
    int[] labels = new int[n];
    List<String> sources = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      labels[i] = i % 3;
      sources.add("img" + i);
    }
    return new Dataset(n, SIDE, SIDE, 3, px, labels, List.of("a", "b", "c"), sources);
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {HashNetConfig.MEAN, HashNetConfig.ATTENTION})
  void itqCodesSurviveExportAndOpen(String pooling) throws Exception {
    HashNetConfig config = HashNetConfig.mobileNetV2(SIDE, SIDE, BITS, List.of("a", "b", "c")).withPooling(pooling);
    Dataset data = images(60, 3);
    ByteArrayOutputStream log = new ByteArrayOutputStream();
    Pipeline.TrainResult r = Pipeline.train(data, null, dir.resolve("m"), config, TrainOptions.defaults(), false,
        null, new Pipeline.Backbone(randomWeights(5), true, false), org.deephash.cli.api.Progress.none(),
        new PrintStream(log, true, StandardCharsets.UTF_8));
    assertTrue(log.toString(StandardCharsets.UTF_8).contains("PCA-ITQ"), log.toString(StandardCharsets.UTF_8));
    ModelDir md = r.model();
    assertEquals(config, md.readConfig());
    try (Encoder enc = Encoder.open(md.root())) {
      Encoding e = enc.encode(data);
      assertEquals(96, e.featureDim());
      // F7 is L2-normalised
      for (int i = 0; i < data.count(); i++) {
        double s = 0;
        for (int k = 0; k < 96; k++) {
          s += e.features()[i * 96 + k] * e.features()[i * 96 + k];
        }
        assertEquals(1.0, s, 1e-4);
      }
      // the codes are those of PCA-ITQ fitted on these features (same seed), up to bits on the boundary
      Baselines.LinearHash h = Baselines.itq(e.features(), data.count(), 96, BITS, 50, TrainOptions.defaults().seed());
      byte[] expected = h.encode(e.features(), data.count());
      int differ = 0;
      for (int i = 0; i < expected.length; i++) {
        differ += Integer.bitCount((expected[i] ^ e.codes()[i]) & 0xff);
      }
      assertTrue(differ <= data.count() * BITS / 100, differ + " bits differ from the reference PCA-ITQ");
      // and the latent layer is sigmoid((F7 - mean) P)
      float[] bias = h.bias();
      for (int b = 0; b < BITS; b++) {
        double z = bias[b];
        for (int k = 0; k < 96; k++) {
          z += e.features()[k] * h.projection()[k * BITS + b];
        }
        assertEquals(1 / (1 + Math.exp(-z)), e.latent()[b], 2e-3, "bit " + b);
      }
      // a second encoding of the same images gives the same codes
      assertArrayEquals(e.codes(), enc.encode(data).codes());
    }
  }

  @Test
  void theBackboneNeedsItsWeightsAndTheLayerItsShape() {
    HashNetConfig config = HashNetConfig.mobileNetV2(SIDE, SIDE, BITS, List.of("a", "b"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> HashNet.create(config, TrainOptions.defaults()));
    assertTrue(e.getMessage().contains("ImageNet weights"), e.getMessage());
    Map<String, MobileNetV2.Folded> noHead = new LinkedHashMap<>(randomWeights(1));
    noHead.remove(HashNet.ATTENTION_1);
    e = assertThrows(IllegalArgumentException.class, () -> HashNet.create(config.withPooling(HashNetConfig.ATTENTION),
        TrainOptions.defaults(), noHead).close());
    assertTrue(e.getMessage().contains("attention head"), e.getMessage());
    try (HashNet net = HashNet.create(config, TrainOptions.defaults(), randomWeights(1))) {
      e = assertThrows(IllegalArgumentException.class, () -> net.setHashLayer(new float[96 * BITS - 1],
          new float[BITS]));
      assertTrue(e.getMessage().contains("96 x 12"), e.getMessage());
    }
  }

  @Test
  void configRoundTripAndErrors() {
    HashNetConfig m = HashNetConfig.mobileNetV2(128, 96, 48, List.of("x", "y"));
    assertEquals(m, HashNetConfig.fromProperties(m.toProperties()));
    // a model.properties written before backbones existed is a scratch network
    HashNetConfig s = HashNetConfig.of(28, 28, 1, 48, List.of("x", "y"));
    Properties p = s.toProperties();
    p.remove("backbone");
    assertEquals(HashNetConfig.SCRATCH, HashNetConfig.fromProperties(p).backbone());
    assertEquals(s, HashNetConfig.fromProperties(p));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> new HashNetConfig(128, 128, 1, 48, 96, 0, 0, List.of("x", "y"), HashNetConfig.MOBILENET_V2));
    assertTrue(e.getMessage().contains("RGB"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> new HashNetConfig(128, 128, 3, 48, 96, 0, 0, List.of("x", "y"), "resnet"));
    assertTrue(e.getMessage().contains("unknown backbone 'resnet'"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class, () -> HashNetConfig.mobileNetV2(16, 16, 48, List.of("x", "y")));
    assertTrue(e.getMessage().contains("at least 32x32"), e.getMessage());
    e = assertThrows(IllegalArgumentException.class,
        () -> HashNetConfig.of(28, 28, 1, 48, List.of("x", "y")).withPooling(HashNetConfig.ATTENTION));
    assertTrue(e.getMessage().contains("pooling is mean for the scratch backbone"), e.getMessage());
    HashNetConfig a = m.withPooling(HashNetConfig.ATTENTION);
    assertEquals(a, HashNetConfig.fromProperties(a.toProperties()));
  }

  static double gaussian(SplittableRandom r) {
    return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
  }
}
