package org.deephash.model.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.deephash.model.pretrained.CpuInference;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Vector API inference of the mobilenet_v2 hashing network against TensorFlow running the
 * exported SavedModel (random stand-in weights, through every block and both poolings): F7, the
 * latent activations and the class probabilities agree to float rounding, and a code bit differs
 * only where TensorFlow's activation is within rounding of 0.5.
 */
class MobileNetForwardTest {
  @TempDir
  Path dir;

  @ParameterizedTest
  @CsvSource({"32, 32, mean", "37, 45, mean", "128, 128, mean", "33, 40, attention"})
  void agreesWithTensorFlow(int height, int width, String pooling) throws Exception {
    HashNetConfig config = HashNetConfig.mobileNetV2(height, width, 48, List.of("a", "b", "c", "d"))
        .withPooling(pooling);
    Path saved = dir.resolve("saved");
    try (HashNet net = HashNet.create(config, TrainOptions.defaults(), MobileNetHashTest.randomWeights(7))) {
      net.export(saved);
    }
    int n = 9;
    float[] px = images(n, height, width);
    Encoding tf;
    Encoding vec;
    try (Encoder t = Encoder.open(saved, config, false); Encoder v = Encoder.open(saved, config, true)) {
      assertEquals("tensorflow", t.inference());
      assertEquals("vector", v.inference());
      tf = t.encode(px, n);
      vec = v.encode(px, n);
      // one image alone goes through the two-core split of each layer: the same sums, bit for bit
      int size = height * width * 3;
      for (int i = 0; i < n; i++) {
        Encoding one = v.encode(java.util.Arrays.copyOfRange(px, i * size, (i + 1) * size), 1);
        assertArrayEquals(java.util.Arrays.copyOfRange(vec.features(), i * 96, (i + 1) * 96), one.features());
        assertArrayEquals(java.util.Arrays.copyOfRange(vec.latent(), i * 48, (i + 1) * 48), one.latent());
      }
    }
    assertArrayEquals(tf.features(), vec.features(), 2e-5f, "F7");
    assertArrayEquals(tf.latent(), vec.latent(), 2e-5f, "latent activations");
    for (int i = 0; i < n; i++) {
      assertEquals(tf.predicted()[i], vec.predicted()[i], "class of image " + i);
      assertEquals(tf.confidence()[i], vec.confidence()[i], 2e-5f, "confidence of image " + i);
    }
    int differing = 0;
    for (int i = 0; i < n * 48; i++) {
      boolean a = tf.latent()[i] > 0.5f;
      boolean b = vec.latent()[i] > 0.5f;
      if (a != b) {
        differing++;
        assertEquals(0.5f, tf.latent()[i], 2e-5f, "a code bit flips only at the boundary");
      }
    }
    assertTrue(differing <= 1, differing + " code bits differ");
    // the features are not degenerate: images differ from each other
    assertTrue(Math.abs(tf.features()[0] - tf.features()[96]) + Math.abs(tf.features()[5] - tf.features()[101]) > 1e-3);
  }

  /** n smooth images with noise (so deeper layers see structure, not only noise), h x w x 3 in [0, 1]. */
  static float[] images(int n, int height, int width) {
    SplittableRandom r = new SplittableRandom(height * 31L + width);
    float[] px = new float[n * height * width * 3];
    for (int i = 0; i < px.length; i++) {
      int pixel = i / 3;
      int y = pixel / width % height;
      int x = pixel % width;
      px[i] = (float) Math.min(1, Math.max(0, 0.5 + 0.4 * Math.sin((x + 3 * (i % 3)) * 0.3 + y * 0.17 + i / (height
          * width * 3)) + 0.1 * r.nextGaussian()));
    }
    return px;
  }

  /**
   * A JVM without {@code --add-modules jdk.incubator.vector} opens a mobilenet_v2 model on
   * TensorFlow's inference (nothing of the Vector API is touched, so nothing fails) and gets
   * TensorFlow's codes.
   */
  @org.junit.jupiter.api.Test
  void aJvmWithoutTheVectorModuleRunsTensorFlow() throws Exception {
    HashNetConfig config = HashNetConfig.mobileNetV2(32, 32, 48, List.of("a", "b", "c", "d"));
    Path saved = dir.resolve("saved");
    try (HashNet net = HashNet.create(config, TrainOptions.defaults(), MobileNetHashTest.randomWeights(3))) {
      net.export(saved);
    }
    byte[] expected;
    try (Encoder t = Encoder.open(saved, config, false)) {
      expected = t.encode(images(3, 32, 32), 3).codes();
    }
    List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
        NoVectorEncodeMain.class.getName(), saved.toString(), "32", "32", "48");
    Process p = new ProcessBuilder(cmd).start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS), "the child JVM did not finish");
    assertEquals(0, p.exitValue(), err + out);
    assertTrue(out.contains("inference=tensorflow"), out);
    assertTrue(out.contains("codes=" + java.util.Arrays.toString(expected)), out + " expected " + java.util.Arrays.toString(expected));
  }

  @org.junit.jupiter.api.Test
  void theInferencePropertyTakesTwoValues() {
    String old = System.getProperty(CpuInference.PROPERTY);
    System.setProperty(CpuInference.PROPERTY, "gpu");
    try {
      var e = assertThrows(IllegalArgumentException.class, () -> Encoder.open(dir.resolve("none"),
          HashNetConfig.mobileNetV2(32, 32, 48, List.of("a", "b"))));
      assertEquals("-Ddeephash.inference takes vector or tensorflow, not gpu", e.getMessage());
    } finally {
      if (old == null) {
        System.clearProperty(CpuInference.PROPERTY);
      } else {
        System.setProperty(CpuInference.PROPERTY, old);
      }
    }
  }
}
