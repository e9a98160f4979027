package org.deephash.model.net;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
import org.tensorflow.op.core.Assign;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;

/**
 * The DLBHC hashing network, defined and trained in TensorFlow graph mode.
 *
 * <pre>
 *   images H x W x C -> conv 5x5 (conv1) [batch norm] ReLU -> max pool 2 -> conv 5x5 (conv2) [batch norm] ReLU
 *     -> max pool 2
 *     -> F7: fully connected (featureDim) ReLU [dropout while training]
 *     -> H: fully connected (bits) sigmoid            codes = H > 0.5
 *     -> F8: fully connected (classes) softmax        trained with cross-entropy on class labels
 * </pre>
 *
 * The loss adds the optional SSDH terms (push activations of H away from 0.5; keep each bit on
 * for half the images of a batch) and L2 weight decay. Adam and momentum SGD are built from the
 * raw training ops so that the learning rate is fed per step (the schedule).
 *
 * <p>With the {@code mobilenet_v2} backbone ({@link HashNetConfig}) the two conv/pool blocks and F7
 * give way to MobileNetV2 through block 10, started from ImageNet weights, average-pooled and
 * L2-normalised; as in the paper, the whole network (backbone included) is fine-tuned with the
 * latent layer and the classifier. {@link #setHashLayer} replaces H's weights, for codes fitted
 * without labels (PCA-ITQ on F7, {@link org.deephash.model.eval.Baselines#itq}).
 *
 * <p>The graph holds two forward paths over the same variables: a training path (dropout, seeded
 * per step) and a deterministic inference path that the serving signature exports: input {@code
 * images}, outputs {@code features} (F7), {@code latent} (H) and {@code probabilities} (F8).
 *
 * <pre>{@code
 * try (HashNet net = HashNet.create(config, options)) {
 *   float[] lossAndAccuracy = net.trainStep(images, labels, batch, 1e-3f, step);
 *   net.export(Path.of("model/saved_model"));
 * }
 * }</pre>
 */
public final class HashNet implements AutoCloseable {
  public static final String SIGNATURE = Signature.DEFAULT_KEY;
  public static final String INPUT = "images";
  public static final String FEATURES = "features";
  public static final String LATENT = "latent";
  /** The hash layer's variables: {@code H = sigmoid(hashInputScale * F7 w + b)}. */
  static final String HASH_WEIGHTS = "h_w";
  static final String HASH_BIAS = "h_b";
  public static final String PROBABILITIES = "probabilities";

  private final HashNetConfig config;
  private final TrainOptions options;
  private final Graph graph;
  private final Session session;
  private final Placeholder<TFloat32> images;
  private final Placeholder<TInt32> labels;
  private final Placeholder<TFloat32> learningRate;
  private final Placeholder<TInt64> stepSeed;
  private final Operand<TFloat32> loss;
  private final Operand<TFloat32> accuracy;
  private final Op train;
  private final Operand<TFloat32> features;
  private final Operand<TFloat32> latent;
  private final Operand<TFloat32> probabilities;
  private final List<Variable<TFloat32>> weights = new ArrayList<>();
  private final List<Variable<TFloat32>> variables = new ArrayList<>();
  private final Map<String, Variable<TFloat32>> backbone = new HashMap<>();
  private final Placeholder<TFloat32> hashWeightsIn;
  private final Placeholder<TFloat32> hashBiasIn;
  private final Op setHash;
  /** The weight average ({@link TrainOptions#averageDecay}): null without one. */
  private final Average average;
  /** Whether the variables hold the average (after {@link #useAverage}) rather than the trained weights. */
  private boolean averaged;
  private int seedIndex;

  private HashNet(HashNetConfig config, TrainOptions options, Map<String, MobileNetV2.Folded> pretrained) {
    this.config = config;
    this.options = options;
    this.graph = new Graph();
    boolean ok = false;
    try {
      Ops tf = Ops.create(graph);
      images = tf.withName(INPUT).placeholder(TFloat32.class,
          Placeholder.shape(Shape.of(-1, config.height(), config.width(), config.channels())));
      labels = tf.withName("labels").placeholder(TInt32.class, Placeholder.shape(Shape.of(-1)));
      learningRate = tf.withName("learning_rate").placeholder(TFloat32.class, Placeholder.shape(Shape.scalar()));
      stepSeed = tf.withName("step_seed").placeholder(TInt64.class, Placeholder.shape(Shape.of(2)));

      int c = config.channels();
      boolean mobile = config.pretrainedBackbone();
      pretrainedWeights = pretrained;
      // the backbone's variables, one per kernel and bias, made once and shared by both paths
      MobileNetV2.WeightSource mobileWeights = mobile ? MobileNetV2.variables(tf, pretrained, "mnv2_", backbone, variables)
          : null;
      Trunk trunk = mobile ? null : trunkVariables(tf, c);
      Variable<TFloat32> wh = glorot(tf, HASH_WEIGHTS, config.featureDim(), config.bits());
      Variable<TFloat32> bh = bias(tf, HASH_BIAS, config.bits(), 0f);
      Variable<TFloat32> w8 = glorot(tf, "f8_w", config.bits(), config.classes());
      Variable<TFloat32> b8 = bias(tf, "f8_b", config.classes(), 0f);

      // Training path.
      List<Op> statistics = new ArrayList<>();
      Operand<TFloat32> f7t = mobile ? pooled(tf, images, mobileWeights) : trunk.apply(tf, images, statistics);
      if (options.dropout() > 0) {
        float keep = 1f - options.dropout();
        Operand<TFloat32> u = tf.random.statelessRandomUniform(tf.shape(f7t), stepSeed);
        Operand<TFloat32> mask = tf.math.floor(tf.math.add(u, tf.constant(keep)));
        f7t = tf.math.mul(f7t, tf.math.mul(mask, tf.constant(1f / keep)));
      }
      // the pooled MobileNetV2 features are unit vectors (entries ~ 1/sqrt(d)): scaled by sqrt(d) into H,
      // so that H's fresh weights do not leave every unit at 0.5 (training then does not start)
      Operand<TFloat32> ht = tf.math.sigmoid(dense(tf, toHash(tf, f7t), wh, bh));
      Operand<TFloat32> logits = dense(tf, ht, w8, b8);
      Operand<TFloat32> ce = Layers.crossEntropy(tf, logits, labels, config.classes());
      Operand<TFloat32> total = ce;
      Operand<TFloat32> centred = tf.math.sub(ht, tf.constant(0.5f));
      if (options.pushWeight() > 0) {
        Operand<TFloat32> push = tf.math.neg(tf.math.mean(tf.math.square(centred), tf.constant(new int[] {0, 1})));
        total = tf.math.add(total, tf.math.mul(tf.constant(options.pushWeight()), push));
      }
      if (options.balanceWeight() > 0) {
        Operand<TFloat32> perBit = tf.math.mean(centred, tf.constant(0));
        Operand<TFloat32> balance = tf.math.mean(tf.math.square(perBit), tf.constant(0));
        total = tf.math.add(total, tf.math.mul(tf.constant(options.balanceWeight()), balance));
      }
      if (options.weightDecay() > 0) {
        Operand<TFloat32> l2 = null;
        for (Variable<TFloat32> w : weights) {
          Operand<TFloat32> term = tf.nn.l2Loss(w);
          l2 = l2 == null ? term : tf.math.add(l2, term);
        }
        total = tf.math.add(total, tf.math.mul(tf.constant(options.weightDecay()), l2));
      }
      loss = tf.withName("loss").identity(total);
      accuracy = tf.withName("accuracy").identity(Layers.accuracy(tf, logits, labels));
      Op step = optimizer(tf);
      average = options.averageDecay() > 0 ? Average.of(tf, variables, step, stepSeed, options.averageDecay()) : null;
      if (!statistics.isEmpty() || average != null) {
        // batch normalisation's running statistics and the weight average move with every training step
        List<Op> all = new ArrayList<>(statistics);
        all.add(average != null ? average.update() : step);
        step = tf.withControlDependencies(all).withName("train_step").noOp();
      }
      train = step;

      // Inference path: the same variables, no dropout.
      Operand<TFloat32> f7 = mobile ? pooled(tf, images, mobileWeights) : trunk.apply(tf, images, null);
      features = tf.withName(FEATURES).identity(f7);
      latent = tf.withName(LATENT).math.sigmoid(dense(tf, toHash(tf, f7), wh, bh));
      probabilities = tf.withName(PROBABILITIES).nn.softmax(dense(tf, latent, w8, b8));

      // H's weights set from outside (codes fitted without labels)
      hashWeightsIn = tf.withName("hash_weights_in").placeholder(TFloat32.class,
          Placeholder.shape(Shape.of(config.featureDim(), config.bits())));
      hashBiasIn = tf.withName("hash_bias_in").placeholder(TFloat32.class, Placeholder.shape(Shape.of(config.bits())));
      Assign<TFloat32> aw = tf.assign(wh, hashWeightsIn);
      Assign<TFloat32> ab = tf.assign(bh, hashBiasIn);
      setHash = tf.withName("set_hash_layer").withControlDependencies(List.of(aw, ab)).noOp();
      session = new Session(graph);
      ok = true;
    } finally {
      if (!ok) {
        graph.close();
      }
    }
  }

  /** A new network with freshly initialised (seeded) weights; the scratch backbone only. */
  public static HashNet create(HashNetConfig config, TrainOptions options) {
    return create(config, options, null);
  }

  /**
   * A new network: the {@code mobilenet_v2} backbone starts from {@code pretrained} (from {@link
   * MobileNetV2#fold}), every other layer from freshly initialised (seeded) weights.
   */
  public static HashNet create(HashNetConfig config, TrainOptions options, Map<String, MobileNetV2.Folded> pretrained) {
    if (config.pretrainedBackbone() && pretrained == null) {
      throw new IllegalArgumentException("the " + config.backbone() + " backbone starts from ImageNet weights:"
          + " pass them (--pretrained DIR, made by bench/delf/setup-pretrained.sh)");
    }
    HashNet net = new HashNet(config, options, config.pretrainedBackbone() ? pretrained : null);
    net.session.initialize();
    if (net.average != null) {
      net.session.runner().addTarget(net.average.reset()).run().close();
    }
    return net;
  }

  /** A network restored from a checkpoint written by {@link #saveCheckpoint}. */
  public static HashNet restore(HashNetConfig config, TrainOptions options, Path checkpointPrefix) {
    HashNet net = new HashNet(config, options, null);
    try {
      net.session.restore(checkpointPrefix.toString());
    } catch (RuntimeException e) {
      net.close();
      throw e;
    }
    return net;
  }

  public HashNetConfig config() {
    return config;
  }

  public TrainOptions options() {
    return options;
  }

  /** Running statistics of batch normalisation: {@code running = m running + (1 - m) batch}. */
  static final float NORM_MOMENTUM = 0.99f;
  static final float NORM_EPSILON = 1e-3f;

  /**
   * Batch normalisation of one layer's channels: the learned scale {@code gamma} and shift {@code
   * beta}, and the running mean and variance that the inference path uses (not trained).
   */
  private record Norm(Variable<TFloat32> gamma, Variable<TFloat32> beta, Variable<TFloat32> mean,
      Variable<TFloat32> variance) {

    /**
     * {@code (x - mean) gamma / sqrt(variance + eps) + beta} per channel (the last axis). With
     * {@code updates} non-null (training) the mean and variance are the batch's, over every other
     * axis, and the ops that move the running statistics towards them are added to {@code updates};
     * with null, the running statistics.
     */
    Operand<TFloat32> apply(Ops tf, Operand<TFloat32> x, List<Op> updates) {
      Operand<TFloat32> mu = mean;
      Operand<TFloat32> var = variance;
      if (updates != null) {
        Operand<TInt32> axes = tf.constant(new int[] {0, 1, 2});
        mu = tf.math.mean(x, axes);
        var = tf.math.mean(tf.math.square(tf.math.sub(x, mu)), axes);
        Operand<TFloat32> keep = tf.constant(NORM_MOMENTUM);
        Operand<TFloat32> move = tf.constant(1f - NORM_MOMENTUM);
        updates.add(tf.assign(mean, tf.math.add(tf.math.mul(mean, keep), tf.math.mul(mu, move))));
        updates.add(tf.assign(variance, tf.math.add(tf.math.mul(variance, keep), tf.math.mul(var, move))));
      }
      Operand<TFloat32> scale = tf.math.mul(gamma, tf.math.rsqrt(tf.math.add(var, tf.constant(NORM_EPSILON))));
      return tf.math.add(tf.math.mul(tf.math.sub(x, mu), scale), beta);
    }
  }

  /**
   * The scratch trunk's variables: two 5x5 convolutions (each with a bias, or batch-normalised) and
   * F7.
   */
  private record Trunk(Variable<TFloat32> w1, Variable<TFloat32> b1, Norm n1, Variable<TFloat32> w2,
      Variable<TFloat32> b2, Norm n2, Variable<TFloat32> w7, Variable<TFloat32> b7) {

    /** F7 of images {@code x}: the training path when {@code updates} is non-null (see {@link Norm#apply}). */
    Operand<TFloat32> apply(Ops tf, Operand<TFloat32> x, List<Op> updates) {
      Operand<TInt32> pool = tf.constant(new int[] {1, 2, 2, 1});
      Operand<TFloat32> h = tf.nn.maxPool(conv(tf, x, w1, b1, n1, updates), pool, pool, "SAME");
      h = tf.nn.maxPool(conv(tf, h, w2, b2, n2, updates), pool, pool, "SAME");
      long flat = w7.shape().size(0);
      h = tf.reshape(h, tf.constant(new long[] {-1, flat}));
      return tf.nn.relu(dense(tf, h, w7, b7));
    }

    private static Operand<TFloat32> conv(Ops tf, Operand<TFloat32> x, Variable<TFloat32> w, Variable<TFloat32> b,
        Norm n, List<Op> updates) {
      Operand<TFloat32> y = tf.nn.conv2d(x, w, List.of(1L, 1L, 1L, 1L), "SAME");
      return tf.nn.relu(n == null ? tf.nn.biasAdd(y, b) : n.apply(tf, y, updates));
    }
  }

  private Trunk trunkVariables(Ops tf, int c) {
    boolean bn = config.batchNorm();
    Variable<TFloat32> w1 = weight(tf, "conv1_w", 5 * 5 * c, 5, 5, c, config.conv1());
    Variable<TFloat32> b1 = bn ? null : bias(tf, "conv1_b", config.conv1(), 0f);
    Norm n1 = bn ? norm(tf, "conv1", config.conv1()) : null;
    Variable<TFloat32> w2 = weight(tf, "conv2_w", 5 * 5 * config.conv1(), 5, 5, config.conv1(), config.conv2());
    Variable<TFloat32> b2 = bn ? null : bias(tf, "conv2_b", config.conv2(), 0f);
    Norm n2 = bn ? norm(tf, "conv2", config.conv2()) : null;
    Variable<TFloat32> w7 = weight(tf, "f7_w", config.flatDim(), config.flatDim(), config.featureDim());
    Variable<TFloat32> b7 = bias(tf, "f7_b", config.featureDim(), 0f);
    return new Trunk(w1, b1, n1, w2, b2, n2, w7, b7);
  }

  /** gamma 1 and beta 0 (trained, not decayed); running mean 0 and variance 1 (not trained). */
  private Norm norm(Ops tf, String layer, int n) {
    Variable<TFloat32> gamma = bias(tf, layer + "_gamma", n, 1f);
    Variable<TFloat32> beta = bias(tf, layer + "_beta", n, 0f);
    return new Norm(gamma, beta, Layers.filled(tf, layer + "_mean", n, 0f), Layers.filled(tf, layer + "_variance", n, 1f));
  }

  /** F7 as H sees it: times {@link #hashInputScale()}. */
  private Operand<TFloat32> toHash(Ops tf, Operand<TFloat32> f7) {
    float k = hashInputScale();
    return k == 1f ? f7 : tf.math.mul(f7, tf.constant(k));
  }

  /** H's input is F7 times this: sqrt(F7's size) for the pooled, unit-length MobileNetV2 features, else 1. */
  float hashInputScale() {
    return hashInputScale(config);
  }

  static float hashInputScale(HashNetConfig config) {
    return config.pretrainedBackbone() ? (float) Math.sqrt(config.featureDim()) : 1f;
  }

  /** Keys of the attention head's weights in the pretrained map ({@code attention} pooling). */
  public static final String ATTENTION_1 = "attention_1";
  public static final String ATTENTION_2 = "attention_2";

  /**
   * MobileNetV2 through block 10, pooled over the cells (mean; or the attention-weighted mean of the
   * L2-normalised cells), L2-normalised.
   */
  private Operand<TFloat32> pooled(Ops tf, Operand<TFloat32> x, MobileNetV2.WeightSource w) {
    Operand<TFloat32> f = MobileNetV2.build(tf, x, HashNetConfig.MOBILENET_BLOCK, w);
    if (config.pooling().equals(HashNetConfig.ATTENTION)) {
      Operand<TFloat32> cn = tf.math.sqrt(tf.math.add(tf.reduceSum(tf.math.square(f), tf.constant(3),
          org.tensorflow.op.core.ReduceSum.keepDims(true)), tf.constant(1e-12f)));
      Operand<TFloat32> unit = tf.math.div(f, cn);
      int d = config.featureDim();
      int hidden = HashNetConfig.ATTENTION_HIDDEN;
      List<Long> ones = List.of(1L, 1L, 1L, 1L);
      Operand<TFloat32> h = tf.nn.relu(tf.nn.biasAdd(tf.nn.conv2d(unit,
          attention(tf, ATTENTION_1 + "_kernel", true, 1, 1, d, hidden), ones, "SAME"),
          attention(tf, ATTENTION_1 + "_bias", false, hidden)));
      Operand<TFloat32> score = tf.math.softplus(tf.nn.biasAdd(tf.nn.conv2d(h,
          attention(tf, ATTENTION_2 + "_kernel", true, 1, 1, hidden, 1), ones, "SAME"),
          attention(tf, ATTENTION_2 + "_bias", false, 1)));
      f = tf.math.mul(unit, score);
    }
    Operand<TFloat32> p = tf.math.mean(f, tf.constant(new int[] {1, 2}));
    Operand<TFloat32> norm = tf.math.sqrt(tf.math.add(tf.reduceSum(tf.math.square(p), tf.constant(1),
        org.tensorflow.op.core.ReduceSum.keepDims(true)), tf.constant(1e-12f)));
    return tf.math.div(p, norm);
  }

  private Map<String, MobileNetV2.Folded> pretrainedWeights;

  /** A variable of the attention head (made once, shared by both paths; fine-tuned with the backbone). */
  private Variable<TFloat32> attention(Ops tf, String name, boolean kernel, int... dims) {
    return backbone.computeIfAbsent(name, k -> {
      Ops init = tf.withInitScope();
      Shape shape = Shape.of(Arrays.stream(dims).asLongStream().toArray());
      float[] values = null;
      if (pretrainedWeights != null) {
        String layer = name.substring(0, name.lastIndexOf('_'));
        MobileNetV2.Folded f = pretrainedWeights.get(layer);
        if (f == null) {
          throw new IllegalArgumentException("attention pooling needs the attention head's weights (" + layer
              + "): hand them over from a DELF model");
        }
        values = kernel ? f.kernel() : f.bias();
        if (values.length != shape.size()) {
          throw new IllegalArgumentException(layer + " has " + values.length + " values, expected " + shape);
        }
      }
      Operand<TFloat32> value = values == null ? init.zeros(init.constant(shape.asArray()), TFloat32.class)
          : init.constant(shape, DataBuffers.of(values, true, false));
      Variable<TFloat32> v = tf.withName("mnv2_" + k).variable(value);
      variables.add(v);
      return v;
    });
  }

  private static Operand<TFloat32> dense(Ops tf, Operand<TFloat32> x, Operand<TFloat32> w, Operand<TFloat32> b) {
    return tf.nn.biasAdd(tf.linalg.matMul(x, w), b);
  }

  /** He-normal weights (ReLU layers), drawn from a stateless generator keyed by the run's seed. */
  private Variable<TFloat32> weight(Ops tf, String name, int fanIn, long... shape) {
    return random(tf, name, (float) Math.sqrt(2.0 / fanIn), shape);
  }

  /** Glorot-normal weights for the sigmoid and softmax layers. */
  private Variable<TFloat32> glorot(Ops tf, String name, int fanIn, int fanOut) {
    return random(tf, name, (float) Math.sqrt(2.0 / (fanIn + fanOut)), fanIn, fanOut);
  }

  private Variable<TFloat32> random(Ops tf, String name, float std, long... shape) {
    Variable<TFloat32> v = Layers.normal(tf, name, std, options.seed(), seedIndex++, shape);
    weights.add(v);
    variables.add(v);
    return v;
  }

  private Variable<TFloat32> bias(Ops tf, String name, int n, float value) {
    Variable<TFloat32> v = Layers.filled(tf, name, n, value);
    variables.add(v);
    return v;
  }

  /**
   * With the pretrained backbone the new layers (H, F8) learn {@value #NEW_LAYER_LR} times faster
   * than the backbone, as fine-tuning in the paper does (its new layers had a higher learning rate).
   */
  public static final float NEW_LAYER_LR = 10f;

  private Op optimizer(Ops tf) {
    if (config.pretrainedBackbone()) {
      List<Variable<TFloat32>> head = new ArrayList<>(variables);
      head.removeAll(backbone.values());
      List<Variable<TFloat32>> trunkVars = new ArrayList<>(variables);
      trunkVars.retainAll(backbone.values());
      Operand<TFloat32> fast = tf.math.mul(learningRate, tf.constant(NEW_LAYER_LR));
      if (options.optimizer() == TrainOptions.Optimizer.ADAM) {
        Op a = Optimizers.adam(tf, loss, trunkVars, learningRate, "train_backbone", "adam");
        Op b = Optimizers.adam(tf, loss, head, fast, "train_head", "adam_head");
        return tf.withControlDependencies(List.of(a, b)).withName("train").noOp();
      }
      Op a = Optimizers.momentum(tf, loss, trunkVars, learningRate, options.momentum(), "train_backbone");
      Op b = Optimizers.momentum(tf, loss, head, fast, options.momentum(), "train_head");
      return tf.withControlDependencies(List.of(a, b)).withName("train").noOp();
    }
    return options.optimizer() == TrainOptions.Optimizer.ADAM
        ? Optimizers.adam(tf, loss, variables, learningRate, "train", "adam")
        : Optimizers.momentum(tf, loss, variables, learningRate, options.momentum(), "train");
  }

  /**
   * One optimisation step on a batch.
   *
   * @param batchImages n x H x W x C floats
   * @param batchLabels n labels
   * @param step global step number: seeds this step's dropout
   * @return {loss, batch accuracy} before the update
   */
  public float[] trainStep(float[] batchImages, int[] batchLabels, float lr, long step) {
    if (averaged) {
      throw new IllegalStateException("the weight average is in place: call useTrained() before training on");
    }
    int n = batchLabels.length;
    try (TFloat32 x = TFloat32.tensorOf(imageShape(n), DataBuffers.of(batchImages, true, false));
        TInt32 y = TInt32.tensorOf(Shape.of(n), DataBuffers.of(batchLabels, true, false));
        TFloat32 rate = TFloat32.scalarOf(lr);
        TInt64 seed = TInt64.vectorOf(options.seed(), step);
        Result r = session.runner().feed(images, x).feed(labels, y).feed(learningRate, rate).feed(stepSeed, seed)
            .addTarget(train).fetch(loss).fetch(accuracy).run()) {
      return new float[] {((TFloat32) r.get(0)).getFloat(), ((TFloat32) r.get(1)).getFloat()};
    }
  }

  /**
   * The ops of the exponential moving average of the trained variables (Polyak averaging). After
   * every optimiser step (a control dependency), {@code average -= (1 - d) (average - w)} for each
   * variable, with {@code d = min(decay, (1 + t) / (10 + t))} at global step t (the step fed with
   * the dropout seed): early steps average over a short horizon, so the average does not drag the
   * initial weights along (a short run gets a useful average too), and from about {@code 10 / (1 -
   * decay)} steps on it is the plain average of the given decay. The inference path reads the variables themselves, so validating or exporting
   * the average swaps it in: {@code keep = w} (one run), then {@code w = average} (a second run, so
   * that no assignment races a read of the same variable); {@code w = keep} swaps the trained
   * weights back. All three sets are variables, so a checkpoint holds them; checkpoints are written
   * with the trained weights in place.
   */
  private record Average(Op update, Op reset, Op keep, Op load, Op back) {
    static Average of(Ops tf, List<Variable<TFloat32>> vars, Op step, Operand<TInt64> stepSeed, float decay) {
      Ops after = tf.withControlDependencies(List.of(step));
      Operand<TFloat32> t = tf.dtypes.cast(tf.gather(stepSeed, tf.constant(1), tf.constant(0)), TFloat32.class);
      Operand<TFloat32> warm = tf.math.div(tf.math.add(t, tf.constant(1f)), tf.math.add(t, tf.constant(10f)));
      Operand<TFloat32> rate = tf.math.sub(tf.constant(1f), tf.math.minimum(tf.constant(decay), warm));
      List<Op> update = new ArrayList<>();
      List<Op> reset = new ArrayList<>();
      List<Op> keep = new ArrayList<>();
      List<Op> load = new ArrayList<>();
      List<Op> back = new ArrayList<>();
      for (Variable<TFloat32> w : vars) {
        String name = w.op().name();
        Ops init = tf.withInitScope();
        Operand<TFloat32> zeros = init.zeros(init.constant(w.shape().asArray()), TFloat32.class);
        Variable<TFloat32> a = tf.withName("average_" + name).variable(zeros);
        Variable<TFloat32> k = tf.withName("trained_" + name).variable(zeros);
        update.add(after.assignSub(a, after.math.mul(rate, after.math.sub(a, w))));
        reset.add(tf.assign(a, w));
        keep.add(tf.assign(k, w));
        load.add(tf.assign(w, a));
        back.add(tf.assign(w, k));
      }
      return new Average(group(tf, "average_update", update), group(tf, "average_reset", reset),
          group(tf, "average_keep", keep), group(tf, "average_load", load), group(tf, "average_back", back));
    }

    private static Op group(Ops tf, String name, List<Op> ops) {
      return tf.withControlDependencies(ops).withName(name).noOp();
    }
  }

  /**
   * Puts the weight average in place of the trained weights (for validation, export and search);
   * nothing without an average or when it is already in place. No training step may follow until
   * {@link #useTrained}.
   */
  public void useAverage() {
    if (average == null || averaged) {
      return;
    }
    session.runner().addTarget(average.keep()).run().close();
    session.runner().addTarget(average.load()).run().close();
    averaged = true;
  }

  /** Puts the trained weights back after {@link #useAverage} (nothing otherwise). */
  public void useTrained() {
    if (averaged) {
      session.runner().addTarget(average.back()).run().close();
      averaged = false;
    }
  }

  /** The current value of the variable named {@code name} (e.g. {@code h_w}), flattened row-major. */
  float[] variable(String name) {
    try (Result r = session.runner().fetch(name).run()) {
      TFloat32 t = (TFloat32) r.get(0);
      float[] out = new float[Math.toIntExact(t.shape().size())];
      t.copyTo(DataBuffers.of(out, false, false));
      return out;
    }
  }

  /** Runs the inference path on n images; fills whichever of the outputs are non-null. */
  public void infer(float[] batchImages, int n, float[] featuresOut, float[] latentOut, float[] probabilitiesOut) {
    try (TFloat32 x = TFloat32.tensorOf(imageShape(n), DataBuffers.of(batchImages, true, false))) {
      var runner = session.runner().feed(images, x);
      List<float[]> outs = new ArrayList<>();
      if (featuresOut != null) {
        runner.fetch(features);
        outs.add(featuresOut);
      }
      if (latentOut != null) {
        runner.fetch(latent);
        outs.add(latentOut);
      }
      if (probabilitiesOut != null) {
        runner.fetch(probabilities);
        outs.add(probabilitiesOut);
      }
      try (Result r = runner.run()) {
        for (int i = 0; i < outs.size(); i++) {
          ((TFloat32) r.get(i)).copyTo(DataBuffers.of(outs.get(i), false, false));
        }
      }
    }
  }

  /**
   * Replaces the latent layer's weights: {@code H = sigmoid(F7 w + b)}, {@code w} featureDim x bits
   * (row-major), {@code b} bits. With {@code w} = P, {@code b} = -mean P of a linear hash fitted on
   * F7 (PCA-ITQ), the network's codes (H > 0.5) are that hash's signs of {@code (F7 - mean) P}.
   */
  public void setHashLayer(float[] w, float[] b) {
    if (w.length != config.featureDim() * config.bits() || b.length != config.bits()) {
      throw new IllegalArgumentException("the hash layer is " + config.featureDim() + " x " + config.bits()
          + " weights and " + config.bits() + " biases (passed " + w.length + " and " + b.length + ")");
    }
    float k = hashInputScale();
    float[] scaled = w.clone();
    for (int i = 0; i < scaled.length; i++) {
      scaled[i] /= k;
    }
    try (TFloat32 tw = TFloat32.tensorOf(Shape.of(config.featureDim(), config.bits()),
        DataBuffers.of(scaled, true, false));
        TFloat32 tb = TFloat32.tensorOf(Shape.of(config.bits()), DataBuffers.of(b, true, false))) {
      session.runner().feed(hashWeightsIn, tw).feed(hashBiasIn, tb).addTarget(setHash).run().close();
    }
  }

  private Shape imageShape(int n) {
    return Shape.of(n, config.height(), config.width(), config.channels());
  }

  /** Writes every variable (weights and optimizer state) to {@code prefix.index} / {@code prefix.data-*}. */
  public void saveCheckpoint(Path prefix) throws IOException {
    if (averaged) {
      throw new IllegalStateException("checkpoints hold the trained weights: call useTrained() first");
    }
    Files.createDirectories(prefix.toAbsolutePath().getParent());
    session.save(prefix.toString());
  }

  /**
   * Exports a SavedModel (tag {@code serve}) whose signature {@value #SIGNATURE} maps {@code images}
   * (n x H x W x C float32 in [0, 1]) to {@code features}, {@code latent} and {@code probabilities}.
   */
  public void export(Path dir) throws IOException {
    Signature sig = Signature.builder().key(SIGNATURE).input(INPUT, images).output(FEATURES, features)
        .output(LATENT, latent).output(PROBABILITIES, probabilities).build();
    SavedModelBundle.exporter(dir.toString()).withFunction(SessionFunction.create(sig, session)).export();
  }

  @Override
  public void close() {
    try {
      session.close();
    } finally {
      graph.close();
    }
  }

  @Override
  public String toString() {
    return "HashNet" + Arrays.asList(config.height(), config.width(), config.channels()) + " -> F7 "
        + config.featureDim() + " -> H " + config.bits() + " -> F8 " + config.classes();
  }
}
