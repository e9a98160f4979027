package org.deephash.delf.net;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.deephash.model.net.Layers;
import org.deephash.model.net.Optimizers;
import org.deephash.model.pretrained.MobileNetV2;
import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.SessionFunction;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * The DELF network in TensorFlow Java (graph mode): a fully convolutional backbone (a residual
 * network trained from scratch, or MobileNetV2 started from ImageNet weights, see {@link DelfConfig})
 * whose feature map gives dense local descriptors, and the attention head of Noh et al. (1x1 conv
 * {@code attentionHidden} + ReLU, 1x1 conv 1, softplus), each trained with image-level labels only:
 *
 * <ol>
 *   <li>{@link #trainDescriptors}: backbone + a classifier on the average-pooled descriptors;
 *   <li>{@link #trainAttention}: the descriptors fixed (no gradient reaches the backbone) and
 *       L2-normalised, the attention head + a second classifier on the attention-weighted mean of
 *       the descriptors.
 * </ol>
 *
 * {@link #extract} runs one image of any size (sides multiples of the stride) and returns its descriptor
 * map and attention scores. Not thread-safe: one caller at a time.
 */
public final class DelfNet implements AutoCloseable {
  public static final String SIGNATURE = "serving_default";
  public static final String INPUT = "images";
  public static final String FEATURES = "features";
  public static final String ATTENTION = "attention";

  private final DelfConfig config;
  private final Graph graph;
  private final Session session;
  private final Placeholder<TFloat32> images;
  private final Placeholder<TInt32> labels;
  private final Placeholder<TFloat32> learningRate;
  private final Operand<TFloat32> features;
  private final Operand<TFloat32> attention;
  private final Operand<TFloat32> loss1;
  private final Operand<TFloat32> acc1;
  private final Operand<TFloat32> loss2;
  private final Operand<TFloat32> acc2;
  private final Op train1;
  private final Op train2;
  private final List<Variable<TFloat32>> backboneVars = new ArrayList<>();
  private final List<Variable<TFloat32>> attentionVars = new ArrayList<>();
  private int seedIndex;
  /** The mobilenet_v2 backbone and attention head on the Vector API, made from the current weights on first use. */
  private org.deephash.model.pretrained.MobileNetV2Cpu cpu;
  private boolean cpuAllowed = org.deephash.model.pretrained.CpuInference.chosen();

  private DelfNet(DelfConfig config, Map<String, MobileNetV2.Folded> pretrained) {
    this.config = config;
    this.graph = new Graph();
    boolean ok = false;
    try {
      Ops tf = Ops.create(graph);
      images = tf.withName(INPUT).placeholder(TFloat32.class, Placeholder.shape(Shape.of(-1, -1, -1, 3)));
      labels = tf.withName("labels").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
      learningRate = tf.withName("learning_rate").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      int d = config.descriptorDim();
      Operand<TFloat32> x = config.backbone().equals(DelfConfig.RESIDUAL) ? residualBackbone(tf)
          : MobileNetV2.build(tf, images, MobileNetV2.LAST_IMAGENET_BLOCK,
              // backbone variables fine-tuned by stage 1, from the folded pretrained values (zeros before a restore)
              MobileNetV2.variables(tf, pretrained, "", new java.util.HashMap<>(), backboneVars));
      features = tf.withName(FEATURES).identity(x);

      // stage 1: average-pooled descriptors -> classifier
      Operand<TFloat32> pooled = tf.math.mean(features, tf.constant(new int[] {1, 2}));
      Variable<TFloat32> w1 = glorot(tf, backboneVars, "cls1_w", d, config.classes());
      Variable<TFloat32> b1 = zeros(tf, backboneVars, "cls1_b", config.classes());
      Operand<TFloat32> logits1 = tf.math.add(tf.linalg.matMul(pooled, w1), b1);
      loss1 = tf.withName("loss_descriptors").identity(Layers.crossEntropy(tf, logits1, labels, config.classes()));
      acc1 = Layers.accuracy(tf, logits1, labels);

      // attention head on the fixed, L2-normalised descriptors (as they are indexed)
      Operand<TFloat32> raw = tf.stopGradient(features);
      Operand<TFloat32> norm = tf.math.sqrt(tf.math.add(tf.reduceSum(tf.math.square(raw), tf.constant(3),
          org.tensorflow.op.core.ReduceSum.keepDims(true)), tf.constant(1e-12f)));
      Operand<TFloat32> fixed = tf.math.div(raw, norm);
      Variable<TFloat32> wa1 = conv(tf, attentionVars, "att1", 1, d, config.attentionHidden());
      Variable<TFloat32> ba1 = zeros(tf, attentionVars, "att1_b", config.attentionHidden());
      Variable<TFloat32> wa2 = conv(tf, attentionVars, "att2", 1, config.attentionHidden(), 1);
      Variable<TFloat32> ba2 = zeros(tf, attentionVars, "att2_b", 1);
      List<Long> ones = List.of(1L, 1L, 1L, 1L);
      Operand<TFloat32> h = tf.nn.relu(tf.nn.biasAdd(tf.nn.conv2d(fixed, wa1, ones, "SAME"), ba1));
      Operand<TFloat32> score = tf.math.softplus(tf.nn.biasAdd(tf.nn.conv2d(h, wa2, ones, "SAME"), ba2));
      attention = tf.withName(ATTENTION).identity(score);
      // stage 2: attention-weighted mean of the (fixed) descriptors -> classifier
      Operand<TFloat32> weighted = tf.math.mean(tf.math.mul(fixed, score), tf.constant(new int[] {1, 2}));
      Variable<TFloat32> w2 = glorot(tf, attentionVars, "cls2_w", d, config.classes());
      Variable<TFloat32> b2 = zeros(tf, attentionVars, "cls2_b", config.classes());
      Operand<TFloat32> logits2 = tf.math.add(tf.linalg.matMul(weighted, w2), b2);
      loss2 = tf.withName("loss_attention").identity(Layers.crossEntropy(tf, logits2, labels, config.classes()));
      acc2 = Layers.accuracy(tf, logits2, labels);

      train1 = Optimizers.adam(tf, loss1, backboneVars, learningRate, "train_descriptors", "descriptors_adam");
      train2 = Optimizers.adam(tf, loss2, attentionVars, learningRate, "train_attention", "attention_adam");
      session = new Session(graph);
      ok = true;
    } finally {
      if (!ok) {
        graph.close();
      }
    }
  }

  /** A new network with the residual backbone and seeded initial weights. */
  public static DelfNet create(DelfConfig config) {
    if (!config.backbone().equals(DelfConfig.RESIDUAL)) {
      throw new IllegalArgumentException("the " + config.backbone() + " backbone starts from pretrained weights:"
          + " use create(config, weights)");
    }
    return create(config, null);
  }

  /**
   * A new network whose MobileNetV2 backbone starts from {@code pretrained} (from
   * {@link MobileNetV2#fold}); the heads get seeded initial weights.
   */
  public static DelfNet create(DelfConfig config, Map<String, MobileNetV2.Folded> pretrained) {
    if (config.backbone().equals(DelfConfig.MOBILENET_V2) && pretrained == null) {
      throw new IllegalArgumentException("the MobileNetV2 backbone needs its ImageNet weights");
    }
    DelfNet net = new DelfNet(config, pretrained);
    net.session.initialize();
    return net;
  }

  /** A network restored from {@link #saveCheckpoint}. */
  public static DelfNet restore(DelfConfig config, Path checkpointPrefix) {
    DelfNet net = new DelfNet(config, null);
    try {
      net.session.restore(checkpointPrefix.toString());
    } catch (RuntimeException e) {
      net.close();
      throw e;
    }
    return net;
  }

  /**
   * The MobileNetV2 backbone's current (fine-tuned) weights, in the form {@link MobileNetV2#fold}
   * gives, plus the attention head as {@code attention_1} / {@code attention_2}: the hashing network
   * can start from them ({@code HashNet.create}), so that the hash codes and the local features come
   * from one trained backbone.
   */
  public Map<String, MobileNetV2.Folded> backboneWeights() {
    if (!config.backbone().equals(DelfConfig.MOBILENET_V2)) {
      throw new IllegalStateException("only the mobilenet_v2 backbone's weights can be handed over (this network is "
          + config.backbone() + ")");
    }
    Map<String, Variable<TFloat32>> byName = new java.util.HashMap<>();
    for (Variable<TFloat32> v : backboneVars) {
      byName.put(v.op().name(), v);
    }
    Map<String, MobileNetV2.Folded> out = new java.util.LinkedHashMap<>();
    for (MobileNetV2.Conv c : MobileNetV2.layers(MobileNetV2.LAST_IMAGENET_BLOCK)) {
      out.put(c.name(), new MobileNetV2.Folded(value(byName.get(c.name() + "_kernel")),
          value(byName.get(c.name() + "_bias"))));
    }
    Map<String, Variable<TFloat32>> att = new java.util.HashMap<>();
    for (Variable<TFloat32> v : attentionVars) {
      att.put(v.op().name(), v);
    }
    // the attention head (HashNet's keys), for attention pooling in a hashing network
    out.put("attention_1", new MobileNetV2.Folded(value(att.get("att1")), value(att.get("att1_b"))));
    out.put("attention_2", new MobileNetV2.Folded(value(att.get("att2")), value(att.get("att2_b"))));
    return out;
  }

  private float[] value(Variable<TFloat32> v) {
    if (v == null) {
      throw new IllegalStateException("a backbone variable is missing");
    }
    try (Result r = session.runner().fetch(v).run()) {
      TFloat32 t = (TFloat32) r.get(0);
      float[] out = new float[(int) t.size()];
      t.copyTo(DataBuffers.of(out, false, false));
      return out;
    }
  }

  public DelfConfig config() {
    return config;
  }

  /** Stem (stride 2), down (stride 4) + residual block, down (stride 8) + residual block. */
  private Operand<TFloat32> residualBackbone(Ops tf) {
    int c1 = config.width1();
    int c2 = config.width2();
    int d = config.descriptorDim();
    Operand<TFloat32> x = tf.math.sub(images, tf.constant(0.5f));
    x = convRelu(tf, x, conv(tf, backboneVars, "stem", 3, 3, c1), 2);
    x = convRelu(tf, x, conv(tf, backboneVars, "down2", 3, c1, c2), 2);
    x = residual(tf, x, "res2", c2);
    x = convRelu(tf, x, conv(tf, backboneVars, "down3", 3, c2, d), 2);
    return residual(tf, x, "res3", d);
  }

  private Operand<TFloat32> residual(Ops tf, Operand<TFloat32> x, String name, int c) {
    Operand<TFloat32> h = convRelu(tf, x, conv(tf, backboneVars, name + "_a", 3, c, c), 1);
    Variable<TFloat32> w = conv(tf, backboneVars, name + "_b", 3, c, c);
    Variable<TFloat32> b = zeros(tf, backboneVars, name + "_b_bias", c);
    Operand<TFloat32> y = tf.nn.biasAdd(tf.nn.conv2d(h, w, List.of(1L, 1L, 1L, 1L), "SAME"), b);
    return tf.nn.relu(tf.math.add(x, y));
  }

  private Operand<TFloat32> convRelu(Ops tf, Operand<TFloat32> x, Variable<TFloat32> w, int stride) {
    long s = stride;
    long c = w.shape().size(3);
    Variable<TFloat32> b = zeros(tf, backboneVars, w.op().name() + "_bias", (int) c);
    return tf.nn.relu(tf.nn.biasAdd(tf.nn.conv2d(x, w, List.of(1L, s, s, 1L), "SAME"), b));
  }

  /** He-normal k x k x in x out filters from a stateless generator keyed by the seed. */
  private Variable<TFloat32> conv(Ops tf, List<Variable<TFloat32>> group, String name, int k, int in, int out) {
    return random(tf, group, name, (float) Math.sqrt(2.0 / (k * k * in)), k, k, in, out);
  }

  private Variable<TFloat32> glorot(Ops tf, List<Variable<TFloat32>> group, String name, int in, int out) {
    return random(tf, group, name, (float) Math.sqrt(2.0 / (in + out)), in, out);
  }

  private Variable<TFloat32> random(Ops tf, List<Variable<TFloat32>> group, String name, float std, long... shape) {
    Variable<TFloat32> v = Layers.normal(tf, name, std, config.seed(), seedIndex++, shape);
    group.add(v);
    return v;
  }

  private static Variable<TFloat32> zeros(Ops tf, List<Variable<TFloat32>> group, String name, int n) {
    Variable<TFloat32> v = Layers.filled(tf, name, n, 0f);
    group.add(v);
    return v;
  }

  /** One stage-1 step (backbone + average-pool classifier) on n images of h x w x 3; returns {loss, accuracy}. */
  public float[] trainDescriptors(float[] batch, int[] batchLabels, int h, int w, float lr) {
    return step(train1, loss1, acc1, batch, batchLabels, h, w, lr);
  }

  /** One stage-2 step (attention head + its classifier; descriptors fixed); returns {loss, accuracy}. */
  public float[] trainAttention(float[] batch, int[] batchLabels, int h, int w, float lr) {
    return step(train2, loss2, acc2, batch, batchLabels, h, w, lr);
  }

  private float[] step(Op train, Operand<TFloat32> loss, Operand<TFloat32> acc, float[] batch, int[] batchLabels,
      int h, int w, float lr) {
    if (cpu != null) { // the weights move: the Vector API copy is made again on the next extraction
      cpu.close();
      cpu = null;
    }
    int n = batchLabels.length;
    check(batch, n, h, w);
    try (TFloat32 x = TFloat32.tensorOf(Shape.of(n, h, w, 3), DataBuffers.of(batch, true, false));
        TInt32 y = TInt32.tensorOf(Shape.of(n), DataBuffers.of(batchLabels, true, false));
        TFloat32 rate = TFloat32.scalarOf(lr);
        Result r = session.runner().feed(images, x).feed(labels, y).feed(learningRate, rate).addTarget(train)
            .fetch(loss).fetch(acc).run()) {
      return new float[] {((TFloat32) r.get(0)).getFloat(), ((TFloat32) r.get(1)).getFloat()};
    }
  }

  private void check(float[] batch, int n, int h, int w) {
    int s = config.stride();
    if (h % s != 0 || w % s != 0 || h < s || w < s) {
      throw new IllegalArgumentException("image sides must be positive multiples of " + s + " (passed "
          + h + "x" + w + ")");
    }
    if (batch.length != (long) n * h * w * 3) {
      throw new IllegalArgumentException("expected " + n + " images of " + h + "x" + w + "x3 floats, got "
          + batch.length + " floats");
    }
  }

  /** The dense output for one image of h x w x 3 floats in [0, 1]: descriptors and attention per cell. */
  public record DenseOutput(int rows, int cols, int dim, float[] descriptors, float[] attention) {}

  /** Runs the network on one image (sides multiples of the stride). */
  public DenseOutput extract(float[] image, int h, int w) {
    return extract(image, 1, h, w)[0];
  }

  /**
   * Runs the network once on {@code n} images of the same size, packed n x h x w x 3; one output per
   * image. A mobilenet_v2 network runs on the Vector API ({@code MobileNetV2Cpu}, about 3x
   * TensorFlow's speed) unless {@code -Ddeephash.inference=tensorflow} or the module is absent.
   */
  public DenseOutput[] extract(float[] images, int n, int h, int w) {
    check(images, n, h, w);
    if (cpuAllowed && config.backbone().equals(DelfConfig.MOBILENET_V2)) {
      return extractCpu(images, n, h, w);
    }
    try (TFloat32 x = TFloat32.tensorOf(Shape.of(n, h, w, 3), DataBuffers.of(images, true, false));
        Result r = session.runner().feed(this.images, x).fetch(features).fetch(attention).run()) {
      int rows = h / config.stride();
      int cols = w / config.stride();
      int d = config.descriptorDim();
      float[] f = new float[n * rows * cols * d];
      float[] a = new float[n * rows * cols];
      ((TFloat32) r.get(0)).copyTo(DataBuffers.of(f, false, false));
      ((TFloat32) r.get(1)).copyTo(DataBuffers.of(a, false, false));
      DenseOutput[] out = new DenseOutput[n];
      int cells = rows * cols;
      for (int i = 0; i < n; i++) {
        out[i] = new DenseOutput(rows, cols, d, Arrays.copyOfRange(f, i * cells * d, (i + 1) * cells * d),
            Arrays.copyOfRange(a, i * cells, (i + 1) * cells));
      }
      return out;
    }
  }

  /** Whether {@link #extract} may run on the Vector API (tests compare both; the default is {@code CpuInference.chosen()}). */
  void allowCpu(boolean allowed) {
    cpuAllowed = allowed;
  }

  private DenseOutput[] extractCpu(float[] images, int n, int h, int w) {
    if (cpu == null) {
      cpu = new org.deephash.model.pretrained.MobileNetV2Cpu(backboneWeights(), MobileNetV2.LAST_IMAGENET_BLOCK, true);
    }
    DenseOutput[] out = new DenseOutput[n];
    if (n == 1) {
      out[0] = extractCpu(images, 0, h, w, true); // one image: its layers over two cores
    } else {
      java.util.stream.IntStream.range(0, n).parallel().forEach(i -> out[i] = extractCpu(images, i, h, w, false));
    }
    return out;
  }

  /** Image i of a pack on {@link #cpu}: its layers split over two cores, or on this thread. */
  private DenseOutput extractCpu(float[] images, int i, int h, int w, boolean split) {
    int rows = h / config.stride();
    int cols = w / config.stride();
    int d = config.descriptorDim();
    float[] f = new float[rows * cols * d];
    float[] a = new float[rows * cols];
    int off = i * h * w * 3;
    if (split) {
      cpu.run(images, off, h, w, f, 0, a, 0);
    } else {
      cpu.runHere(images, off, h, w, f, 0, a, 0);
    }
    return new DenseOutput(rows, cols, d, f, a);
  }

  /** Writes every variable (weights and optimiser state) to {@code prefix.index} / {@code prefix.data-*}. */
  public void saveCheckpoint(Path prefix) throws IOException {
    Files.createDirectories(prefix.toAbsolutePath().getParent());
    session.save(prefix.toString());
  }

  /** Exports a SavedModel whose signature maps {@code images} (1 x H x W x 3) to {@code features} and {@code attention}. */
  public void export(Path dir) throws IOException {
    Signature sig = Signature.builder().key(SIGNATURE).input(INPUT, images).output(FEATURES, features)
        .output(ATTENTION, attention).build();
    SavedModelBundle.exporter(dir.toString()).withFunction(SessionFunction.create(sig, session)).export();
  }

  @Override
  public void close() {
    if (cpu != null) {
      cpu.close();
      cpu = null;
    }
    try {
      session.close();
    } finally {
      graph.close();
    }
  }
}
