package org.deephash.model.net;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.deephash.cli.api.Progress;
import org.deephash.model.data.Dataset;
import org.deephash.model.pretrained.CpuInference;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.SessionFunction;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.types.TFloat32;

/**
 * Encodes images with an exported SavedModel: batches go through the serving signature and come
 * back as packed codes, F7 features, latent activations and predicted classes ({@link Encoding}).
 * The encoder knows nothing of search: callers hand its output to the engine.
 *
 * <pre>{@code
 * try (Encoder enc = Encoder.open(Path.of("runs/demo/model"))) {
 *   Encoding e = enc.encode(dataset);
 *   table.addAll(null, e.codes(), e.features(), dataset.labels());
 * }
 * }</pre>
 */
public final class Encoder implements AutoCloseable {
  private final SavedModelBundle bundle;
  private final SessionFunction serve;
  private final HashNetConfig config;
  private final MobileNetForward forward;
  private int batchSize = 500;
  private Progress progress = Progress.none();

  private Encoder(SavedModelBundle bundle, HashNetConfig config, boolean vector) {
    this.bundle = bundle;
    this.config = config;
    this.serve = bundle.function(HashNet.SIGNATURE);
    this.forward = vector ? new MobileNetForward(config, this::variable) : null;
  }

  /** mobilenet_v2 models run on {@link MobileNetForward} unless {@link CpuInference} says TensorFlow. */
  private static boolean useVectorForward(HashNetConfig config) {
    return CpuInference.chosen() && config.pretrainedBackbone();
  }

  /** What runs the network: {@code vector} (mobilenet_v2 on the Vector API) or {@code tensorflow}. */
  public String inference() {
    return forward != null ? "vector" : "tensorflow";
  }

  /** A variable of the SavedModel, by name, as floats. */
  private float[] variable(String name) {
    try (Result r = bundle.session().runner().fetch(name).run()) {
      TFloat32 t = (TFloat32) r.get(0);
      float[] v = new float[Math.toIntExact(t.shape().size())];
      t.copyTo(DataBuffers.of(v, false, false));
      return v;
    }
  }

  /** Opens a model folder written by training ({@link ModelDir}). */
  public static Encoder open(Path modelDir) throws IOException {
    ModelDir dir = new ModelDir(modelDir);
    return open(dir.savedModel(), dir.readConfig());
  }

  /** Opens a SavedModel exported by {@link HashNet#export}, for a network of the given shape. */
  public static Encoder open(Path savedModel, HashNetConfig config) throws IOException {
    return open(savedModel, config, useVectorForward(config));
  }

  /** As {@link #open(Path, HashNetConfig)}, on {@link MobileNetForward} or not whatever the property says. */
  static Encoder open(Path savedModel, HashNetConfig config, boolean vector) throws IOException {
    if (!Files.isRegularFile(savedModel.resolve("saved_model.pb"))) {
      throw new IOException(savedModel + " holds no SavedModel (saved_model.pb): train a model first");
    }
    SavedModelBundle b = SavedModelBundle.load(savedModel.toString(), SavedModelBundle.DEFAULT_TAG);
    try {
      return new Encoder(b, config, vector);
    } catch (RuntimeException e) {
      b.close();
      throw e;
    }
  }

  public HashNetConfig config() {
    return config;
  }

  /** Images per call to the model (default 500). */
  public Encoder batchSize(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("batch size must be >= 1");
    }
    this.batchSize = n;
    return this;
  }

  /** Draws the progress of long encodings (the default draws nothing). */
  public Encoder progress(Progress p) {
    this.progress = p;
    return this;
  }

  /** Encodes every image of a dataset of the network's input shape. */
  public Encoding encode(Dataset data) {
    if (data.height() != config.height() || data.width() != config.width() || data.channels() != config.channels()) {
      throw new IllegalArgumentException("images are " + data.shape() + " but the model takes " + config.height() + "x"
          + config.width() + "x" + config.channels() + ": resize them (folder datasets take --size)");
    }
    return encode(data.pixels(), data.count());
  }

  /** Encodes n images given as n x H x W x C floats in [0, 1]. */
  public Encoding encode(float[] pixels, int n) {
    int size = config.height() * config.width() * config.channels();
    if (pixels.length != (long) n * size) {
      throw new IllegalArgumentException("expected " + n + " images of " + size + " floats, got " + pixels.length + " floats");
    }
    int d = config.featureDim();
    int bits = config.bits();
    int classes = config.classes();
    float[] features = new float[n * d];
    float[] latent = new float[n * bits];
    int[] predicted = new int[n];
    float[] confidence = new float[n];
    float[] probs = new float[batchSize * classes];
    try (Progress.Counter counter = progress.count("encoding", n, "images")) {
      if (forward != null) {
        encodeForward(pixels, n, size, features, latent, predicted, confidence, counter);
      } else {
        encodeBatches(pixels, n, size, features, latent, predicted, confidence, probs, counter);
      }
    }
    return new Encoding(n, bits, d, CodePacker.pack(latent, n, bits), features, latent, predicted, confidence);
  }

  /** {@link MobileNetForward}, the images of a chunk spread over the cores. */
  private void encodeForward(float[] pixels, int n, int size, float[] features, float[] latent, int[] predicted,
      float[] confidence, Progress.Counter counter) {
    int classes = config.classes();
    float[] probs = new float[n * classes];
    int chunk = 64;
    for (int start = 0; start < n; start += chunk) {
      int end = Math.min(n, start + chunk);
      if (end - start == 1) {
        // one image: its layers split over two cores
        forward.forward(pixels, start * size, start, features, latent, probs, true);
      } else {
        java.util.stream.IntStream.range(start, end).parallel().forEach(i ->
            forward.forward(pixels, i * size, i, features, latent, probs, false));
      }
      for (int i = start; i < end; i++) {
        int best = Trainer.argMax(probs, i * classes, classes);
        predicted[i] = best;
        confidence[i] = probs[i * classes + best];
      }
      counter.add(end - start);
    }
  }

  private void encodeBatches(float[] pixels, int n, int size, float[] features, float[] latent, int[] predicted,
      float[] confidence, float[] probs, Progress.Counter counter) {
    int d = config.featureDim();
    int bits = config.bits();
    int classes = config.classes();
    for (int start = 0; start < n; start += batchSize) {
      int m = Math.min(batchSize, n - start);
      try (TFloat32 x = TFloat32.tensorOf(Shape.of(m, config.height(), config.width(), config.channels()),
              DataBuffers.of(pixels, true, false).slice((long) start * size, (long) m * size));
          Result r = serve.call(Map.of(HashNet.INPUT, x))) {
        ((TFloat32) r.get(HashNet.FEATURES).orElseThrow())
            .copyTo(DataBuffers.of(features, false, false).slice((long) start * d, (long) m * d));
        ((TFloat32) r.get(HashNet.LATENT).orElseThrow())
            .copyTo(DataBuffers.of(latent, false, false).slice((long) start * bits, (long) m * bits));
        ((TFloat32) r.get(HashNet.PROBABILITIES).orElseThrow())
            .copyTo(DataBuffers.of(probs, false, false).slice(0, (long) m * classes));
      }
      for (int i = 0; i < m; i++) {
        int best = Trainer.argMax(probs, i * classes, classes);
        predicted[start + i] = best;
        confidence[start + i] = probs[i * classes + best];
      }
      counter.add(m);
    }
  }

  /**
   * The latent (hash-layer) activations of F7 feature rows: {@code H = sigmoid(F7 w + b)} with the
   * model's hash-layer weights (read once from the SavedModel), run on features the network made
   * earlier (for example the F7 column of an index), so a fine stage that ranks on the latent
   * activations needs only F7 stored. Equal to {@link Encoding#latent()} of the same images up to
   * float rounding (the sums are taken in double here, in float by TensorFlow).
   *
   * @param f7 n x featureDim features, as {@link Encoding#features()}
   * @return n x bits activations in [0, 1]
   */
  public float[] latentOf(float[] f7, int n) {
    int d = config.featureDim();
    int bits = config.bits();
    if (f7.length != (long) n * d) {
      throw new IllegalArgumentException("expected " + n + " rows of " + d + " features, got " + f7.length + " floats");
    }
    float[][] layer = hashLayer();
    float[] w = layer[0];
    float[] b = layer[1];
    double k = HashNet.hashInputScale(config);
    float[] out = new float[n * bits];
    double[] acc = new double[bits];
    for (int i = 0; i < n; i++) {
      java.util.Arrays.fill(acc, 0);
      for (int j = 0; j < d; j++) {
        double x = f7[i * d + j] * k;
        if (x != 0) {
          for (int h = 0, o = j * bits; h < bits; h++) {
            acc[h] += x * w[o + h];
          }
        }
      }
      for (int h = 0; h < bits; h++) {
        out[i * bits + h] = (float) (1 / (1 + Math.exp(-(acc[h] + b[h]))));
      }
    }
    return out;
  }

  private volatile float[][] hashLayer;

  /** The hash layer's weights (featureDim x bits, row-major) and biases, fetched on first use. */
  private float[][] hashLayer() {
    float[][] l = hashLayer;
    if (l == null) {
      synchronized (this) {
        l = hashLayer;
        if (l == null) {
          float[] w = new float[config.featureDim() * config.bits()];
          float[] b = new float[config.bits()];
          try (Result r = bundle.session().runner().fetch(HashNet.HASH_WEIGHTS).fetch(HashNet.HASH_BIAS).run()) {
            ((TFloat32) r.get(0)).copyTo(DataBuffers.of(w, false, false));
            ((TFloat32) r.get(1)).copyTo(DataBuffers.of(b, false, false));
          }
          hashLayer = l = new float[][] {w, b};
        }
      }
    }
    return l;
  }

  @Override
  public void close() {
    if (forward != null) {
      forward.close();
    }
    bundle.close();
  }
}
