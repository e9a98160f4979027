package org.deephash.delf.net;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Properties;
import java.util.SplittableRandom;
import org.deephash.io.AtomicFiles;
import org.deephash.model.data.Pixels;

/**
 * Trains DELF in the paper's two stages with image-level labels only: each training photo is its
 * own class, and every step sees fresh augmented views of the photos.
 *
 * <ol>
 *   <li>descriptors: {@code descriptorEpochs} passes of {@code viewsPerPhoto} views per photo at
 *       {@code side} x {@code side};
 *   <li>attention: {@code attentionEpochs} passes with the backbone fixed and scale augmentation
 *       (each batch at a side drawn from side/2, 3 side/4, side, 3 side/2, rounded to multiples of 8).
 * </ol>
 * Progress (loss, accuracy, time) is printed per epoch; the model folder gets {@code delf.properties},
 * the checkpoint and a SavedModel.
 */
public final class DelfTrainer {

  /** Augmented views of the training photos; photo i is class i. */
  public interface ViewSource {
    int photos();

    /** A random view of photo {@code i}, any size (it is resized to the batch side). */
    BufferedImage view(int i, SplittableRandom random);
  }

  /** Training settings. */
  public record Options(int side, int batch, int viewsPerPhoto, int descriptorEpochs, int attentionEpochs, float lr,
      float lrDecay, long seed) {
    public Options {
      if (side < 16 || side % 8 != 0 || batch < 1 || viewsPerPhoto < 1 || descriptorEpochs < 0
          || attentionEpochs < 0 || !(lr > 0) || !(lrDecay > 0)) {
        throw new IllegalArgumentException("bad DELF training options: the side must be a multiple of 8 (>= 16), the"
            + " rest positive: " + this);
      }
    }

    public static Options defaults() {
      return new Options(96, 32, 12, 6, 3, 1e-3f, 0.75f, 42);
    }
  }

  private final PrintStream log;

  public DelfTrainer(PrintStream log) {
    this.log = log;
  }

  /** Trains a new network on {@code views} and writes it to {@code modelDir}. */
  public DelfNet train(DelfConfig config, Options o, ViewSource views, Path modelDir) throws IOException {
    return train(DelfNet.create(config), o, views, modelDir);
  }

  /**
   * Continues training {@code net} (a new one, or one opened with {@link #open} to run more
   * epochs of either stage, e.g. attention only with {@code descriptorEpochs} 0); takes ownership.
   */
  public DelfNet train(DelfNet net, Options o, ViewSource views, Path modelDir) throws IOException {
    DelfConfig config = net.config();
    if (views.photos() != config.classes()) {
      net.close();
      throw new IllegalArgumentException("the network has " + config.classes() + " classes but there are "
          + views.photos() + " training photos");
    }
    if (o.side() % config.stride() != 0) {
      net.close();
      throw new IllegalArgumentException("the training side " + o.side() + " is not a multiple of the "
          + config.backbone() + " backbone's stride " + config.stride() + ": pass --side " + Math.max(
              2 * config.stride(), Math.round((float) o.side() / config.stride()) * config.stride()));
    }
    try {
      SplittableRandom rnd = new SplittableRandom(o.seed());
      int epochs = o.descriptorEpochs() + o.attentionEpochs();
      for (int e = 0; e < epochs; e++) {
        boolean stage1 = e < o.descriptorEpochs();
        int stageEpoch = stage1 ? e : e - o.descriptorEpochs();
        float lr = o.lr() * (float) Math.pow(o.lrDecay(), stageEpoch);
        long t0 = System.nanoTime();
        int total = views.photos() * o.viewsPerPhoto();
        int[] order = epochOrder(views.photos(), o.viewsPerPhoto(), rnd);
        double loss = 0;
        double acc = 0;
        int steps = 0;
        for (int start = 0; start + o.batch() <= total; start += o.batch()) {
          int side = stage1 ? o.side() : scaledSide(o.side(), config.stride(), rnd);
          int[] y = new int[o.batch()];
          float[] x = viewBatch(views, order, start, y, side, rnd);
          float[] la = stage1 ? net.trainDescriptors(x, y, side, side, lr) : net.trainAttention(x, y, side, side, lr);
          loss += la[0];
          acc += la[1];
          steps++;
        }
        log.printf(Locale.ROOT, "%s epoch %d/%d  steps %d  lr %.2e  loss %.4f  train-acc %.4f  time %.1f s%n",
            stage1 ? "descriptors" : "attention", stageEpoch + 1, stage1 ? o.descriptorEpochs() : o.attentionEpochs(),
            steps, lr, loss / Math.max(1, steps), acc / Math.max(1, steps), (System.nanoTime() - t0) / 1e9);
      }
      save(net, o, modelDir);
      return net;
    } catch (IOException | RuntimeException e) {
      net.close();
      throw e;
    }
  }

  /** An epoch's draws: each photo {@code viewsPerPhoto} times, shuffled. */
  public static int[] epochOrder(int photos, int viewsPerPhoto, SplittableRandom rnd) {
    int total = photos * viewsPerPhoto;
    int[] order = new int[total];
    for (int i = 0; i < total; i++) {
      order[i] = i % photos;
    }
    for (int i = total - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      int t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    return order;
  }

  /**
   * One batch of training views, {@code side x side} RGB: a fresh augmented view of each photo
   * {@code order[start + j]}, whose index goes to {@code labels[j]} (a photo is its own class).
   */
  public static float[] viewBatch(ViewSource views, int[] order, int start, int[] labels, int side,
      SplittableRandom rnd) {
    float[] x = new float[labels.length * side * side * 3];
    for (int j = 0; j < labels.length; j++) {
      labels[j] = order[start + j];
      float[] px = Pixels.of(views.view(labels[j], rnd.split()), side, side, Pixels.Channels.RGB);
      System.arraycopy(px, 0, x, j * px.length, px.length);
    }
    return x;
  }

  private static int scaledSide(int side, int stride, SplittableRandom rnd) {
    float[] f = {0.5f, 0.75f, 1f, 1.5f};
    int s = Math.round(side * f[rnd.nextInt(f.length)] / stride) * stride;
    return Math.max(2 * stride, s);
  }

  /** Writes {@code delf.properties}, the checkpoint and the SavedModel. */
  public static void save(DelfNet net, Options o, Path dir) throws IOException {
    Files.createDirectories(dir);
    net.saveCheckpoint(dir.resolve("checkpoint").resolve("ckpt"));
    Path saved = dir.resolve("saved_model");
    org.deephash.model.net.ModelDir.deleteTree(saved);
    net.export(saved);
    Properties p = net.config().toProperties();
    p.setProperty("train.side", Integer.toString(o.side()));
    p.setProperty("train.batch", Integer.toString(o.batch()));
    p.setProperty("train.viewsPerPhoto", Integer.toString(o.viewsPerPhoto()));
    p.setProperty("train.descriptorEpochs", Integer.toString(o.descriptorEpochs()));
    p.setProperty("train.attentionEpochs", Integer.toString(o.attentionEpochs()));
    p.setProperty("train.lr", Float.toString(o.lr()));
    p.setProperty("train.seed", Long.toString(o.seed()));
    java.io.StringWriter text = new java.io.StringWriter();
    p.store(text, "deephash DELF network");
    byte[] bytes = text.toString().getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    AtomicFiles.write(dir.resolve("delf.properties"), ch -> ch.write(java.nio.ByteBuffer.wrap(bytes)));
  }

  /** Opens a model folder written by {@link #save}. */
  public static DelfNet open(Path dir) throws IOException {
    Path props = dir.resolve("delf.properties");
    if (!Files.isRegularFile(props)) {
      throw new IOException(dir + " holds no DELF model (delf.properties): train one with engine-cli delf train");
    }
    Properties p = new Properties();
    try (var in = Files.newInputStream(props)) {
      p.load(in);
    }
    return DelfNet.restore(DelfConfig.fromProperties(p), dir.resolve("checkpoint").resolve("ckpt"));
  }
}
