package org.deephash.delf.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.deephash.io.Json;
import org.deephash.model.pretrained.MobileNetV2;
import org.deephash.model.pretrained.TfjsLayersModel;
import org.deephash.testing.RequiredData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.types.TFloat32;

/**
 * The TensorFlow graph of {@link MobileNetV2} (BN folded, stride-2 padding) against a plain-Java
 * forward pass of the Keras layers as the TF.js model describes them (BN applied as its own layer,
 * {@code ZeroPadding2D} then VALID convolution, residual adds where the topology has an Add layer).
 */
class MobileNetV2Test {
  /** Written by bench/delf/setup-pretrained.sh; the test that needs it is skipped without it. */
  static final Path NSFWJS = Path.of(System.getProperty("deephash.root", "../.."), "data/pretrained/mobilenet_v2");

  @TempDir
  Path dir;

  @Test
  void graphMatchesPlainKerasForwardOnSyntheticWeights() throws IOException {
    int last = 3;
    TfjsLayersModel model = TfjsLayersModel.read(synthetic(dir, last, 11));
    float[] image = randomImage(32, 48, 5);
    float[] expected = reference(model, last, image, 32, 48);
    float[] got = graph(MobileNetV2.fold(model, last), last, image, 32, 48);
    assertEquals((32 / 8) * (48 / 8) * MobileNetV2.channels(last), got.length);
    assertClose(expected, got, 1e-4);
  }

  @Test
  void graphMatchesPlainKerasForwardOnImageNetWeights() throws IOException {
    RequiredData.require(Files.isRegularFile(NSFWJS.resolve("model.min.js")),
        "the ImageNet MobileNetV2 of npm nsfwjs at " + NSFWJS.toAbsolutePath().normalize(),
        "run bench/delf/setup-pretrained.sh (needs npm)");
    TfjsLayersModel model = TfjsLayersModel.read(NSFWJS);
    int last = MobileNetV2.LAST_IMAGENET_BLOCK;
    float[] image = randomImage(48, 32, 9);
    float[] expected = reference(model, last, image, 48, 32);
    float[] got = graph(MobileNetV2.fold(model, last), last, image, 48, 32);
    assertEquals(3 * 2 * 96, got.length);
    assertClose(expected, got, 1e-3);
  }

  @Test
  void specMatchesKerasShapes() {
    assertEquals(16, MobileNetV2.stride(MobileNetV2.LAST_IMAGENET_BLOCK));
    assertEquals(96, MobileNetV2.channels(MobileNetV2.LAST_IMAGENET_BLOCK));
    List<MobileNetV2.Conv> l = MobileNetV2.layers(1);
    assertEquals(List.of("Conv1", "expanded_conv_depthwise", "expanded_conv_project", "block_1_expand",
        "block_1_depthwise", "block_1_project"), l.stream().map(MobileNetV2.Conv::name).toList());
    assertEquals(96, l.get(3).out()); // 16 x 6
    assertThrows(IllegalArgumentException.class, () -> MobileNetV2.layers(17));
  }

  @Test
  void foldRefusesAnotherNetwork() throws IOException {
    Path p = synthetic(dir, 1, 3);
    Files.writeString(p.resolve("model.json"), Files.readString(p.resolve("model.json"))
        .replace("\"name\":\"block_1_depthwise\",\"class_name\":\"DepthwiseConv2D\"",
            "\"name\":\"block_1_depthwise\",\"class_name\":\"SeparableConv2D\""));
    TfjsLayersModel m = TfjsLayersModel.read(p);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MobileNetV2.fold(m, 1));
    assertTrue(e.getMessage().contains("block_1_depthwise is a SeparableConv2D"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> MobileNetV2.fold(m, 2), "block_2 is missing");
  }

  @Test
  void delfNetStartsFromThePretrainedWeightsAndRestoresThem() throws IOException {
    int last = MobileNetV2.LAST_IMAGENET_BLOCK;
    TfjsLayersModel model = TfjsLayersModel.read(synthetic(dir, last, 21));
    float[] image = randomImage(32, 48, 2);
    float[] expected = reference(model, last, image, 32, 48);
    DelfConfig config = DelfConfig.mobileNet(3, 5);
    Path ckpt = dir.resolve("ckpt").resolve("ckpt");
    float[] trained;
    try (DelfNet net = DelfNet.create(config, MobileNetV2.fold(model, last))) {
      DelfNet.DenseOutput o = net.extract(image, 32, 48);
      assertEquals(2, o.rows());
      assertEquals(3, o.cols());
      assertClose(expected, o.descriptors(), 1e-4);
      float[] batch = new float[3 * 32 * 32 * 3];
      for (int i = 0; i < batch.length; i++) {
        batch[i] = (i * 7919 % 255) / 255f;
      }
      float[] la = net.trainDescriptors(batch, new int[] {0, 1, 2}, 32, 32, 1e-3f);
      assertTrue(Float.isFinite(la[0]));
      trained = net.extract(image, 32, 48).descriptors();
      assertTrue(maxDiff(expected, trained) > 0, "stage 1 fine-tunes the backbone");
      net.saveCheckpoint(ckpt);
    }
    try (DelfNet back = DelfNet.restore(config, ckpt)) {
      assertEquals(0.0, maxDiff(trained, back.extract(image, 32, 48).descriptors()));
      assertThrows(IllegalArgumentException.class, () -> back.extract(new float[24 * 24 * 3], 24, 24));
    }
  }

  @Test
  void theVectorApiExtractionAgreesWithTensorFlow() throws IOException {
    int last = MobileNetV2.LAST_IMAGENET_BLOCK;
    TfjsLayersModel model = TfjsLayersModel.read(synthetic(dir, last, 23));
    int n = 3;
    int h = 48;
    int w = 64;
    float[] batch = new float[n * h * w * 3];
    for (int i = 0; i < n; i++) {
      System.arraycopy(randomImage(h, w, 30 + i), 0, batch, i * h * w * 3, h * w * 3);
    }
    try (DelfNet net = DelfNet.create(DelfConfig.mobileNet(3, 5), MobileNetV2.fold(model, last))) {
      net.allowCpu(false);
      DelfNet.DenseOutput[] tf = net.extract(batch, n, h, w);
      net.allowCpu(true);
      DelfNet.DenseOutput[] cpu = net.extract(batch, n, h, w);
      for (int i = 0; i < n; i++) {
        assertEquals(tf[i].rows(), cpu[i].rows());
        assertEquals(tf[i].cols(), cpu[i].cols());
        assertClose(tf[i].descriptors(), cpu[i].descriptors(), 1e-5);
        assertArrayEquals(tf[i].attention(), cpu[i].attention(), 1e-5f, "attention of image " + i);
        // one image alone goes through the two-core split: the same sums as in the batch, bit for bit
        DelfNet.DenseOutput one = net.extract(java.util.Arrays.copyOfRange(batch, i * h * w * 3, (i + 1) * h * w * 3),
            h, w);
        assertArrayEquals(cpu[i].descriptors(), one.descriptors());
        assertArrayEquals(cpu[i].attention(), one.attention());
      }
      boolean varies = false;
      for (int c = 1; c < cpu[0].attention().length; c++) {
        varies |= Math.abs(cpu[0].attention()[c] - cpu[0].attention()[0]) > 1e-3;
      }
      assertTrue(varies, "attention differs between cells");
    }
  }

  private static double maxDiff(float[] a, float[] b) {
    double m = 0;
    for (int i = 0; i < a.length; i++) {
      m = Math.max(m, Math.abs(a[i] - b[i]));
    }
    return m;
  }

  // ---- the plain reference ----

  /** The Keras forward pass, layer by layer, from the model's own (unfolded) weights. */
  static float[] reference(TfjsLayersModel m, int last, float[] image, int h, int w) {
    Tensor x = new Tensor(h, w, 3, image.clone());
    for (int i = 0; i < x.v.length; i++) {
      x.v[i] = x.v[i] * 2 - 1;
    }
    Tensor blockIn = null;
    for (MobileNetV2.Conv c : MobileNetV2.layers(last)) {
      String block = c.name().substring(0, Math.max(0, c.name().lastIndexOf('_')));
      if (c.name().endsWith("_expand") || c.name().equals("expanded_conv_depthwise")) {
        blockIn = x;
      }
      if (c.stride() == 2) {
        x = x.padBottomRight();
      }
      float[] k = m.weights().get(c.name() + (c.depthwise() ? "/depthwise_kernel" : "/kernel")).values();
      x = convolve(x, k, c.k(), c.out(), c.stride(), c.depthwise(), c.stride() == 1);
      double eps = ((Number) m.layer(c.bn()).config().get("epsilon")).doubleValue();
      float[] g = m.weights().get(c.bn() + "/gamma").values();
      float[] b = m.weights().get(c.bn() + "/beta").values();
      float[] mu = m.weights().get(c.bn() + "/moving_mean").values();
      float[] var = m.weights().get(c.bn() + "/moving_variance").values();
      for (int i = 0; i < x.v.length; i++) {
        int o = i % x.c;
        double v = (x.v[i] - mu[o]) / Math.sqrt(var[o] + eps) * g[o] + b[o];
        x.v[i] = (float) (c.relu6() ? Math.min(6, Math.max(0, v)) : v);
      }
      if (c.name().endsWith("_project") && hasLayer(m, block + "_add")) {
        for (int i = 0; i < x.v.length; i++) {
          x.v[i] += blockIn.v[i];
        }
      }
    }
    return x.v;
  }

  private static boolean hasLayer(TfjsLayersModel m, String name) {
    return m.layers().stream().anyMatch(l -> l.name().equals(name) && l.className().equals("Add"));
  }

  record Tensor(int h, int w, int c, float[] v) {
    float at(int y, int x, int ch) {
      return y < 0 || x < 0 || y >= h || x >= w ? 0f : v[(y * w + x) * c + ch];
    }

    Tensor padBottomRight() {
      Tensor p = new Tensor(h + 1, w + 1, c, new float[(h + 1) * (w + 1) * c]);
      for (int y = 0; y < h; y++) {
        System.arraycopy(v, y * w * c, p.v, y * (w + 1) * c, w * c);
      }
      return p;
    }
  }

  /** A k x k convolution (depthwise or full) with the given stride; "same" pads (k-1)/2 on each side. */
  private static Tensor convolve(Tensor x, float[] kernel, int k, int out, int stride, boolean depthwise,
      boolean same) {
    int pad = same ? (k - 1) / 2 : 0;
    int oh = same ? x.h() : (x.h() - k) / stride + 1;
    int ow = same ? x.w() : (x.w() - k) / stride + 1;
    Tensor y = new Tensor(oh, ow, out, new float[oh * ow * out]);
    for (int r = 0; r < oh; r++) {
      for (int col = 0; col < ow; col++) {
        for (int o = 0; o < out; o++) {
          double s = 0;
          for (int dy = 0; dy < k; dy++) {
            for (int dx = 0; dx < k; dx++) {
              int iy = r * stride + dy - pad;
              int ix = col * stride + dx - pad;
              if (depthwise) {
                s += kernel[(dy * k + dx) * x.c() + o] * x.at(iy, ix, o);
              } else {
                for (int i = 0; i < x.c(); i++) {
                  s += kernel[((dy * k + dx) * x.c() + i) * out + o] * x.at(iy, ix, i);
                }
              }
            }
          }
          y.v()[(r * ow + col) * out + o] = (float) s;
        }
      }
    }
    return y;
  }

  /** Runs {@link MobileNetV2#build} with the folded weights as constants. */
  static float[] graph(Map<String, MobileNetV2.Folded> folded, int last, float[] image, int h, int w) {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat32> in = tf.placeholder(TFloat32.class, Placeholder.shape(Shape.of(1, h, w, 3)));
      Operand<TFloat32> out = MobileNetV2.build(tf, in, last, new MobileNetV2.WeightSource() {
        @Override
        public Operand<TFloat32> kernel(MobileNetV2.Conv c) {
          int[] d = c.kernelShape();
          return tf.constant(Shape.of(d[0], d[1], d[2], d[3]), DataBuffers.of(folded.get(c.name()).kernel(), true,
              false));
        }

        @Override
        public Operand<TFloat32> bias(MobileNetV2.Conv c) {
          return tf.constant(folded.get(c.name()).bias());
        }
      });
      try (TFloat32 x = TFloat32.tensorOf(Shape.of(1, h, w, 3), DataBuffers.of(image, true, false));
          TFloat32 y = (TFloat32) s.runner().feed(in, x).fetch(out).run().get(0)) {
        float[] v = new float[(int) y.shape().size()];
        y.copyTo(DataBuffers.of(v, false, false));
        return v;
      }
    }
  }

  private static void assertClose(float[] expected, float[] got, double tol) {
    assertEquals(expected.length, got.length);
    double scale = 0;
    for (float e : expected) {
      scale = Math.max(scale, Math.abs(e));
    }
    assertTrue(scale > 0.1, "a non-trivial output (max |x| " + scale + ")");
    for (int i = 0; i < expected.length; i++) {
      assertEquals(expected[i], got[i], tol * Math.max(1, scale), "element " + i);
    }
  }

  static float[] randomImage(int h, int w, long seed) {
    SplittableRandom r = new SplittableRandom(seed);
    float[] v = new float[h * w * 3];
    for (int i = 0; i < v.length; i++) {
      v[i] = (float) r.nextDouble();
    }
    return v;
  }

  /**
   * Writes a TF.js layers model (model.json + one binary shard) of MobileNetV2 through block
   * {@code last} with random weights, the BN statistics and kernels uint8-quantized as nsfwjs's are.
   */
  static Path synthetic(Path dir, int last, long seed) throws IOException {
    SplittableRandom r = new SplittableRandom(seed);
    List<Object> layers = new ArrayList<>();
    List<Object> weights = new ArrayList<>();
    ByteBuffer bytes = ByteBuffer.allocate(8 << 20).order(ByteOrder.LITTLE_ENDIAN);
    for (MobileNetV2.Conv c : MobileNetV2.layers(last)) {
      layers.add(layer(c.name(), c.depthwise() ? "DepthwiseConv2D" : "Conv2D",
          Map.of("strides", List.of(c.stride(), c.stride()), "use_bias", false)));
      layers.add(layer(c.bn(), "BatchNormalization", Map.of("epsilon", 0.001)));
      int fanIn = c.depthwise() ? c.k() * c.k() : c.k() * c.k() * c.in();
      double std = Math.sqrt(2.0 / fanIn);
      int[] ks = c.kernelShape();
      String kname = c.name() + (c.depthwise() ? "/depthwise_kernel" : "/kernel");
      quantized(weights, bytes, kname, ks, -2 * std, 4 * std / 255, r);
      quantized(weights, bytes, c.bn() + "/gamma", new int[] {c.out()}, 0.5, 1.0 / 255, r);
      plain(weights, bytes, c.bn() + "/beta", c.out(), -0.2, 0.4, r);
      plain(weights, bytes, c.bn() + "/moving_mean", c.out(), -0.3, 0.6, r);
      quantized(weights, bytes, c.bn() + "/moving_variance", new int[] {c.out()}, 0.5, 2.0 / 255, r);
    }
    for (int b = 0; b <= last; b++) {
      if (MobileNetV2.residual(b)) {
        layers.add(layer("block_" + b + "_add", "Add", Map.of()));
      }
    }
    Map<String, Object> doc = Map.of("modelTopology", Map.of("model_config", Map.of("class_name", "Model", "config",
        Map.of("name", "synthetic", "layers", layers))), "weightsManifest",
        List.of(Map.of("paths", List.of("weights.bin"), "weights", weights)));
    StringBuilder sb = new StringBuilder();
    Json.write(sb, doc);
    Files.writeString(dir.resolve("model.json"), sb);
    Files.write(dir.resolve("weights.bin"), java.util.Arrays.copyOf(bytes.array(), bytes.position()));
    return dir;
  }

  private static Map<String, Object> layer(String name, String className, Map<String, Object> config) {
    Map<String, Object> l = new java.util.LinkedHashMap<>();
    l.put("name", name);
    l.put("class_name", className);
    l.put("config", config);
    l.put("inbound_nodes", List.of());
    return l;
  }

  private static void quantized(List<Object> weights, ByteBuffer bytes, String name, int[] shape, double min,
      double scale, SplittableRandom r) {
    int n = 1;
    for (int d : shape) {
      n *= d;
    }
    for (int i = 0; i < n; i++) {
      bytes.put((byte) r.nextInt(256));
    }
    weights.add(Map.of("name", name, "shape", java.util.Arrays.stream(shape).boxed().toList(), "dtype", "float32",
        "quantization", Map.of("min", min, "scale", scale, "dtype", "uint8")));
  }

  private static void plain(List<Object> weights, ByteBuffer bytes, String name, int n, double lo, double width,
      SplittableRandom r) {
    for (int i = 0; i < n; i++) {
      bytes.putFloat((float) (lo + width * r.nextDouble()));
    }
    weights.add(Map.of("name", name, "shape", List.of(n), "dtype", "float32"));
  }
}
