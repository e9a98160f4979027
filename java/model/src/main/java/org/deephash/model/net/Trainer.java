package org.deephash.model.net;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import org.deephash.cli.api.Progress;
import org.deephash.model.data.Dataset;
import org.deephash.model.pretrained.MobileNetV2;

/**
 * Trains a {@link HashNet} epoch by epoch: seeded shuffling and augmentation (random crop after
 * zero padding, horizontal flip), the learning-rate schedule, a checkpoint after every epoch,
 * and one progress line per epoch (loss, training accuracy, validation accuracy, time).
 *
 * <p>Model selection: when a validation split is given (images carved from the training data,
 * never the test queries), its accuracy is measured after every epoch, the best epoch's weights
 * are kept in {@code checkpoint/best/} and the returned network holds them; the log says which
 * epoch was kept. Without a validation split, the last epoch is kept.
 *
 * <p>With a weight average ({@link TrainOptions#averageDecay}) the network is validated, kept and
 * returned with the average of its weights in place; training and checkpoints use the trained ones.
 *
 * <p>A run is repeatable: the order of each epoch, the augmentation of each batch and the dropout
 * of each step derive from the seed and the epoch or step number, so a run resumed from a
 * checkpoint takes the same path as one that was never interrupted.
 */
public final class Trainer {
  /** Checkpoint prefix inside a checkpoint folder. */
  public static final String CHECKPOINT = "ckpt";
  public static final String STATE = "state.properties";
  /** Folder of the best epoch's checkpoint, inside the checkpoint folder. */
  public static final String BEST = "best";

  private final PrintStream log;
  private Progress progress = Progress.none();
  private Map<String, MobileNetV2.Folded> pretrained;

  public Trainer(PrintStream log) {
    this.log = log;
  }

  /** Draws the steps done and the time left (the default draws nothing). */
  public Trainer progress(Progress p) {
    this.progress = p;
    return this;
  }

  /** The ImageNet weights a new {@code mobilenet_v2} network starts from ({@link MobileNetV2#fold}). */
  public Trainer pretrained(Map<String, MobileNetV2.Folded> weights) {
    this.pretrained = weights;
    return this;
  }

  /** What a finished run reports. */
  public record Summary(int epochs, long steps, double lastLoss, double trainAccuracy, double[] validationAccuracy,
      int keptEpoch, double[] epochSeconds) {

    /** Validation accuracy of the kept epoch (NaN without a validation split). */
    public double keptValidationAccuracy() {
      return keptEpoch >= 1 && keptEpoch <= validationAccuracy.length ? validationAccuracy[keptEpoch - 1] : Double.NaN;
    }
  }

  /**
   * The epoch to keep (0-based) given the validation figure after each epoch: the highest, the
   * earliest among equals; NaN figures never win. -1 when there is none.
   */
  public static int bestEpoch(double[] metric, int epochs) {
    if (epochs > metric.length) {
      throw new IllegalArgumentException(epochs + " epochs but " + metric.length + " figures");
    }
    int best = -1;
    for (int e = 0; e < epochs; e++) {
      if (!Double.isNaN(metric[e]) && (best < 0 || metric[e] > metric[best])) {
        best = e;
      }
    }
    return best;
  }

  /** The binomial standard error sqrt(p (1 - p) / n) of an accuracy {@code p} measured on {@code n} images. */
  public static double standardError(double p, int n) {
    return Math.sqrt(p * (1 - p) / n);
  }

  /**
   * How many epochs a refit ({@code train --refit}) trains for, given the validation accuracy after
   * each epoch on {@code images} held-out images: the LATEST epoch whose accuracy is within one
   * standard error of the best, the error being the binomial sqrt(p (1 - p) / n) of the best
   * accuracy p. Epochs closer than that are not told apart by the split (5,000 images: about
   * 0.0036 at p = 0.93), and among them the one trained longest, at the lowest learning rate, is
   * the one the refit should reproduce; a clearly better early epoch still wins. NaN figures are
   * skipped; 0 when there is none.
   */
  public static int refitEpochs(double[] accuracy, int epochs, int images) {
    int best = bestEpoch(accuracy, epochs);
    if (best < 0) {
      return 0;
    }
    if (images < 1) {
      throw new IllegalArgumentException("the validation split has no images");
    }
    double floor = accuracy[best] - standardError(accuracy[best], images);
    int latest = best;
    for (int e = best + 1; e < epochs; e++) {
      if (!Double.isNaN(accuracy[e]) && accuracy[e] >= floor) {
        latest = e;
      }
    }
    return latest + 1;
  }

  /**
   * Trains from scratch, or resumes from {@code checkpointDir} when it holds a checkpoint and
   * {@code resume} is set. Returns the trained network (the caller closes it).
   *
   * @param validation images to measure accuracy on after each epoch and to choose the epoch to
   *     keep (a split of the training data, never the test queries), or null to keep the last
   * @param checkpointDir where to write a checkpoint after each epoch, or null for none (a
   *     temporary folder then holds the best epoch's weights)
   */
  public HashNet train(HashNetConfig config, TrainOptions options, Dataset train, Dataset validation,
      Path checkpointDir, boolean resume, Summary[] summaryOut) throws IOException {
    if (train.height() != config.height() || train.width() != config.width() || train.channels() != config.channels()) {
      throw new IllegalArgumentException("training images are " + train.shape() + " but the network takes "
          + config.height() + "x" + config.width() + "x" + config.channels());
    }
    int startEpoch = 0;
    long step = 0;
    double[] valAcc = new double[options.epochs()];
    java.util.Arrays.fill(valAcc, Double.NaN);
    HashNet net;
    Path state = checkpointDir == null ? null : checkpointDir.resolve(STATE);
    if (resume && state != null && Files.isRegularFile(state)) {
      Properties p = new Properties();
      try (var in = Files.newBufferedReader(state)) {
        p.load(in);
      }
      startEpoch = Integer.parseInt(p.getProperty("epochsDone"));
      step = Long.parseLong(p.getProperty("steps"));
      String history = p.getProperty("validationAccuracy", "");
      String[] parts = history.isEmpty() ? new String[0] : history.split(",");
      for (int i = 0; i < Math.min(parts.length, valAcc.length); i++) {
        valAcc[i] = Double.parseDouble(parts[i]);
      }
      net = HashNet.restore(config, options, checkpointDir.resolve(CHECKPOINT));
      log.printf(Locale.ROOT, "resumed from %s after epoch %d (step %d)%n", checkpointDir, startEpoch, step);
    } else {
      net = HashNet.create(config, options, pretrained);
    }
    Path tmp = null;
    try {
      Path bestDir;
      if (checkpointDir != null) {
        bestDir = checkpointDir.resolve(BEST);
      } else if (validation != null) {
        tmp = Files.createTempDirectory("deephash-best");
        bestDir = tmp;
      } else {
        bestDir = null;
      }
      Summary s = loop(net, options, train, validation, checkpointDir, bestDir, startEpoch, step, valAcc);
      if (validation != null && s.keptEpoch() >= 1 && s.keptEpoch() < s.epochs()) {
        net.close();
        net = HashNet.restore(config, options, bestDir.resolve(CHECKPOINT));
      }
      net.useAverage();
      if (validation != null && s.keptEpoch() >= 1) {
        log.printf(Locale.ROOT, "kept epoch %d of %d: best validation accuracy %.4f (last epoch %.4f)%n", s.keptEpoch(),
            s.epochs(), s.keptValidationAccuracy(), s.validationAccuracy()[s.epochs() - 1]);
      }
      if (summaryOut != null && summaryOut.length > 0) {
        summaryOut[0] = s;
      }
      return net;
    } catch (IOException | RuntimeException e) {
      net.close();
      throw e;
    } finally {
      if (tmp != null) {
        ModelDir.deleteTree(tmp);
      }
    }
  }

  private Summary loop(HashNet net, TrainOptions o, Dataset train, Dataset validation, Path checkpointDir, Path bestDir,
      int startEpoch, long step, double[] valAcc) throws IOException {
    int n = train.count();
    int size = train.imageSize();
    int b = Math.min(o.batch(), n);
    float[] batch = new float[b * size];
    int[] batchLabels = new int[b];
    double[] seconds = new double[o.epochs()];
    double lastLoss = Double.NaN;
    double trainAcc = Double.NaN;
    int epoch = startEpoch;
    long perEpoch = n / b;
    long planned = (long) (o.epochs() - startEpoch) * perEpoch;
    if (o.maxSteps() > 0) {
      planned = Math.max(0, Math.min(planned, o.maxSteps() - step));
    }
    try (Progress.Counter counter = progress.count("training", planned, "steps")) {
      for (; epoch < o.epochs(); epoch++) {
        if (o.maxSteps() > 0 && step >= o.maxSteps()) {
          break;
        }
        long t0 = System.nanoTime();
        int[] order = permutation(n, new SplittableRandom(o.seed() * 1_000_003L + epoch));
        SplittableRandom aug = new SplittableRandom(o.seed() * 7_919L + epoch);
        float lr = o.learningRate(epoch);
        double lossSum = 0;
        double accSum = 0;
        int batches = 0;
        for (int start = 0; start + b <= n; start += b) {
          for (int j = 0; j < b; j++) {
            int src = order[start + j];
            batchLabels[j] = train.labels()[src];
            copyAugmented(train, src, batch, j * size, o, aug);
          }
          float[] la = net.trainStep(batch, batchLabels, lr, step++);
          counter.add(1);
          lossSum += la[0];
          accSum += la[1];
          batches++;
          if (o.maxSteps() > 0 && step >= o.maxSteps()) {
            break;
          }
        }
        seconds[epoch] = (System.nanoTime() - t0) / 1e9;
        lastLoss = lossSum / Math.max(1, batches);
        trainAcc = accSum / Math.max(1, batches);
        String valPart = "";
        boolean best = false;
        if (validation != null) {
          long t1 = System.nanoTime();
          net.useAverage();
          valAcc[epoch] = accuracy(net, validation);
          net.useTrained();
          best = bestEpoch(valAcc, epoch + 1) == epoch;
          valPart = String.format(Locale.ROOT, "  val-acc %.4f%s (%.1f s)", valAcc[epoch], best ? " *" : "",
              (System.nanoTime() - t1) / 1e9);
          if (best) {
            net.saveCheckpoint(bestDir.resolve(CHECKPOINT));
          }
        }
        counter.clear();
        log.printf(Locale.ROOT, "epoch %d/%d  steps %d  lr %.2e  loss %.4f  train-acc %.4f%s  time %.1f s%n",
            epoch + 1, o.epochs(), batches, lr, lastLoss, trainAcc, valPart, seconds[epoch]);
        if (checkpointDir != null) {
          net.saveCheckpoint(checkpointDir.resolve(CHECKPOINT));
          Properties p = o.toProperties();
          p.setProperty("epochsDone", Integer.toString(epoch + 1));
          p.setProperty("steps", Long.toString(step));
          StringBuilder h = new StringBuilder();
          for (int e = 0; e <= epoch; e++) {
            h.append(e == 0 ? "" : ",").append(valAcc[e]);
          }
          p.setProperty("validationAccuracy", h.toString());
          try (var out = Files.newBufferedWriter(checkpointDir.resolve(STATE))) {
            p.store(out, "deephash training state");
          }
        }
      }
    }
    int kept = validation == null ? epoch : bestEpoch(valAcc, epoch) + 1;
    return new Summary(epoch, step, lastLoss, trainAcc, valAcc, kept, seconds);
  }

  /** Top-1 accuracy of the inference path on a dataset. */
  public static double accuracy(HashNet net, Dataset data) {
    int size = data.imageSize();
    int classes = net.config().classes();
    int bs = 500;
    float[] probs = new float[bs * classes];
    long correct = 0;
    for (int start = 0; start < data.count(); start += bs) {
      int m = Math.min(bs, data.count() - start);
      float[] x = new float[m * size];
      System.arraycopy(data.pixels(), start * size, x, 0, x.length);
      float[] p = m == bs ? probs : new float[m * classes];
      net.infer(x, m, null, null, p);
      for (int i = 0; i < m; i++) {
        if (argMax(p, i * classes, classes) == data.labels()[start + i]) {
          correct++;
        }
      }
    }
    return correct / (double) data.count();
  }

  static int argMax(float[] v, int off, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) {
      if (v[off + i] > v[off + best]) {
        best = i;
      }
    }
    return best;
  }

  static int[] permutation(int n, SplittableRandom rnd) {
    int[] p = new int[n];
    for (int i = 0; i < n; i++) {
      p[i] = i;
    }
    for (int i = n - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      int t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** Copies image src into dst at off, randomly shifted (crop of the zero-padded image) and flipped. */
  static void copyAugmented(Dataset d, int src, float[] dst, int off, TrainOptions o, SplittableRandom rnd) {
    int h = d.height();
    int w = d.width();
    int c = d.channels();
    int base = src * h * w * c;
    float[] px = d.pixels();
    int pad = o.cropPad();
    boolean flip = o.flip() && rnd.nextBoolean();
    if (pad == 0 && !flip) {
      System.arraycopy(px, base, dst, off, h * w * c);
      return;
    }
    int dy = pad == 0 ? 0 : rnd.nextInt(2 * pad + 1) - pad;
    int dx = pad == 0 ? 0 : rnd.nextInt(2 * pad + 1) - pad;
    for (int y = 0; y < h; y++) {
      int sy = y + dy;
      for (int x = 0; x < w; x++) {
        int sx0 = flip ? w - 1 - x : x;
        int sx = sx0 + dx;
        int o0 = off + (y * w + x) * c;
        if (sy < 0 || sy >= h || sx < 0 || sx >= w) {
          for (int ch = 0; ch < c; ch++) {
            dst[o0 + ch] = 0f;
          }
        } else {
          System.arraycopy(px, base + (sy * w + sx) * c, dst, o0, c);
        }
      }
    }
  }
}
