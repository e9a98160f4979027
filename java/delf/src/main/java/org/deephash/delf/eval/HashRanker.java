package org.deephash.delf.eval;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchResult;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Pixels;
import org.deephash.model.eval.Baselines;
import org.deephash.model.net.Encoder;
import org.deephash.model.net.Encoding;
import org.deephash.model.net.HashNet;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.ModelDir;
import org.deephash.model.net.TrainOptions;
import org.deephash.model.pretrained.MobileNetV2;

/**
 * The hashing network (DLBHC) as a global method on the same benchmark: trained on augmented
 * views of the training photos (each photo a class), its codes rank the database by Hamming
 * distance (ties by database order), the engine's exact search. Two networks:
 * <ul>
 *   <li>{@link #train}: the network from scratch at 32 x 32 RGB;
 *   <li>{@link #trainMobileNet}: the paper's recipe, an ImageNet-pretrained CNN (MobileNetV2
 *       through block 10, pooled) fine-tuned with the latent layer and the classifier on fresh
 *       views every epoch; its codes are the trained latent layer's ({@link Codes#TRAINED}) or
 *       PCA-ITQ fitted on the pooled features of training views ({@link Codes#ITQ}, label-free
 *       when no epoch is run).
 * </ul>
 * Either is a model folder that {@link Encoder#open} opens (the serving signature of
 * {@link org.deephash.model.net.HashNet}).
 */
public final class HashRanker implements DelfBenchmark.Ranker, AutoCloseable {
  static final int SIDE = 32;

  private final Encoder encoder;
  private CodeTable table;
  private GpuHashSearch search;
  private int size;
  private float[] dbFeatures;
  private int featureDim;

  private HashRanker(Encoder encoder) {
    this.encoder = encoder;
  }

  /** Where a MobileNetV2 network's codes come from. */
  public enum Codes {
    /** The latent layer trained with the classifier (the paper). */
    TRAINED,
    /** PCA-ITQ on the pooled features (F7) of training views, written into the latent layer. */
    ITQ
  }

  /** Settings of {@link #trainMobileNet}. */
  public record MobileNetOptions(int side, int bits, int viewsPerPhoto, int epochs, int batch, float lr, float lrDecay,
      int itqViewsPerPhoto, long seed, String pooling) {
    public MobileNetOptions {
      if (side < 32 || bits < HashNetConfig.MIN_BITS || bits > 96 || viewsPerPhoto < 1 || epochs < 0 || batch < 1
          || !(lr > 0) || !(lrDecay > 0) || itqViewsPerPhoto < 1) {
        throw new IllegalArgumentException("bad hashing options (side >= 32, bits in [12, 96], the rest positive): "
            + this);
      }
    }
  }

  /**
   * Trains the MobileNetV2 hashing network, started from {@code pretrained} (ImageNet's weights or a
   * DELF model's fine-tuned backbone), on fresh views of the training photos ({@code epochs} passes
   * of {@code viewsPerPhoto} views per photo, Adam, learning rate decayed per epoch; 0 epochs: no
   * training) and writes one model folder per entry of {@code codes}, to {@code dirs} in the same
   * order (the ITQ ones after fitting PCA-ITQ into the latent layer). Returns those folders.
   */
  public static List<Path> trainMobileNet(DelfTrainer.ViewSource views, Map<String, MobileNetV2.Folded> pretrained,
      MobileNetOptions o, List<Codes> codes, List<Path> dirs, PrintStream log) throws IOException {
    List<String> names = new ArrayList<>();
    for (int c = 0; c < views.photos(); c++) {
      names.add("photo" + c);
    }
    HashNetConfig config = HashNetConfig.mobileNetV2(o.side(), o.side(), o.bits(), names).withPooling(o.pooling());
    TrainOptions d = TrainOptions.defaults();
    TrainOptions to = new TrainOptions(Math.max(1, o.epochs()), o.batch(), TrainOptions.Optimizer.ADAM, o.lr(),
        o.lrDecay(), d.momentum(), 0f, 0f, d.pushWeight(), d.balanceWeight(), false, 0, o.seed(), 0);
    SplittableRandom rnd = new SplittableRandom(o.seed());
    int side = o.side();
    if (o.epochs() == 0) {
      log.println("hash (mobilenet_v2): no fine-tuning, the backbone's weights as given");
    }
    try (HashNet net = HashNet.create(config, to, pretrained)) {
      long step = 0;
      for (int e = 0; e < o.epochs(); e++) {
        float lr = o.lr() * (float) Math.pow(o.lrDecay(), e);
        long t0 = System.nanoTime();
        int total = views.photos() * o.viewsPerPhoto();
        int[] order = DelfTrainer.epochOrder(views.photos(), o.viewsPerPhoto(), rnd);
        double loss = 0;
        double acc = 0;
        int steps = 0;
        for (int start = 0; start + o.batch() <= total; start += o.batch()) {
          int[] y = new int[o.batch()];
          float[] x = DelfTrainer.viewBatch(views, order, start, y, side, rnd);
          float[] la = net.trainStep(x, y, lr, step++);
          loss += la[0];
          acc += la[1];
          steps++;
        }
        log.printf(Locale.ROOT, "hash (mobilenet_v2) epoch %d/%d  steps %d  lr %.2e  loss %.4f  train-acc %.4f  time %.1f s%n",
            e + 1, o.epochs(), steps, lr, loss / Math.max(1, steps), acc / Math.max(1, steps),
            (System.nanoTime() - t0) / 1e9);
      }
      List<Path> out = new ArrayList<>();
      for (int k = 0; k < codes.size(); k++) {
        if (codes.get(k) == Codes.ITQ) {
          fitItq(net, views, o, rnd.split(), log);
        }
        Path dir = dirs.get(k);
        ModelDir md = new ModelDir(dir);
        md.writeConfig(config, to);
        net.saveCheckpoint(md.checkpoints().resolve(org.deephash.model.net.Trainer.CHECKPOINT));
        ModelDir.deleteTree(md.savedModel());
        net.export(md.savedModel());
        out.add(dir);
      }
      return out;
    }
  }

  /** PCA-ITQ on the pooled features of {@code itqViewsPerPhoto} views of each training photo, into H. */
  static void fitItq(HashNet net, DelfTrainer.ViewSource views, MobileNetOptions o, SplittableRandom rnd,
      PrintStream log) {
    int side = o.side();
    int d = net.config().featureDim();
    int n = views.photos() * o.itqViewsPerPhoto();
    float[] f = new float[n * d];
    int chunk = 32;
    for (int start = 0; start < n; start += chunk) {
      int m = Math.min(chunk, n - start);
      float[] x = new float[m * side * side * 3];
      for (int j = 0; j < m; j++) {
        float[] px = Pixels.of(views.view((start + j) % views.photos(), rnd.split()), side, side, Pixels.Channels.RGB);
        System.arraycopy(px, 0, x, j * px.length, px.length);
      }
      float[] fm = new float[m * d];
      net.infer(x, m, fm, null, null);
      System.arraycopy(fm, 0, f, start * d, fm.length);
    }
    long t0 = System.nanoTime();
    Baselines.LinearHash h = Baselines.itq(f, n, d, o.bits(), 50, o.seed());
    net.setHashLayer(h.projection(), h.bias());
    log.printf(Locale.ROOT, "PCA-ITQ (%d bits) fitted on the pooled features of %d training views in %.1f s%n",
        o.bits(), n, (System.nanoTime() - t0) / 1e9);
  }

  /** Opens a model folder written by training. */
  public static HashRanker open(Path dir) throws IOException {
    return new HashRanker(Encoder.open(dir));
  }

  /** Trains a 48-bit network on {@code viewsPerPhoto} views of each training photo and opens it. */
  public static HashRanker train(DelfTrainer.ViewSource views, int viewsPerPhoto, int epochs, Path dir, long seed,
      PrintStream log) throws IOException {
    int n = views.photos() * viewsPerPhoto;
    float[] px = new float[n * SIDE * SIDE * 3];
    int[] labels = new int[n];
    List<String> names = new ArrayList<>();
    List<String> sources = new ArrayList<>();
    for (int c = 0; c < views.photos(); c++) {
      names.add("photo" + c);
    }
    SplittableRandom rnd = new SplittableRandom(seed);
    for (int i = 0; i < n; i++) {
      labels[i] = i % views.photos();
      float[] p = Pixels.of(views.view(labels[i], rnd.split()), SIDE, SIDE, Pixels.Channels.RGB);
      System.arraycopy(p, 0, px, i * p.length, p.length);
      sources.add("view" + i);
    }
    Dataset data = new Dataset(n, SIDE, SIDE, 3, px, labels, names, sources);
    HashNetConfig config = HashNetConfig.of(SIDE, SIDE, 3, 48, names);
    // the Fashion-MNIST defaults, with a slower decay for the longer schedule and flip + crop augmentation
    TrainOptions d = TrainOptions.defaults();
    TrainOptions o = new TrainOptions(epochs, d.batch(), d.optimizer(), d.learningRate(), 0.9f, d.momentum(),
        d.weightDecay(), d.dropout(), d.pushWeight(), d.balanceWeight(), true, 2, seed, 0);
    Pipeline.train(data, null, dir, config, o, false, log);
    return new HashRanker(Encoder.open(dir));
  }

  @Override
  public void index(List<BufferedImage> database) {
    size = database.size();
    // a chunk of images at a time: the pixels of 10,000 photos at 128 px would be 2 GB of floats at once
    for (int a = 0; a == 0 || a < size; a += INDEX_CHUNK) { // once at least: an empty database still gets its table
      Encoding e = encode(database.subList(a, Math.min(size, a + INDEX_CHUNK)));
      if (a == 0) {
        featureDim = e.featureDim();
        dbFeatures = new float[size * featureDim];
        table = CodeTable.create(e.engineBits(), 0, false, size);
      }
      System.arraycopy(e.features(), 0, dbFeatures, a * featureDim, e.count() * featureDim);
      table.addAll(null, e.codes(), null, null);
    }
    search = GpuHashSearch.open(table);
  }

  /**
   * Database images encoded together by {@link #index}: a multiple of the encoder's batch (500), so
   * the network sees the same batches as when the whole database is encoded at once.
   */
  static final int INDEX_CHUNK = 1000;

  @Override
  public DelfBenchmark.Ranked rank(BufferedImage query) {
    Encoding e = encode(List.of(query));
    SearchResult r = search.query(e.codes(), size);
    int[] ranking = new int[r.count(0)];
    for (int i = 0; i < ranking.length; i++) {
      ranking[i] = (int) r.id(0, i);
    }
    // confidence: fewer differing bits, surer
    return new DelfBenchmark.Ranked(ranking, ranking.length == 0 ? 0 : 1.0 - r.hamming(0, 0) / (double) e.bits());
  }

  /**
   * The paper's coarse-to-fine search (HDS) over the same index: the {@code pool} nearest codes in
   * Hamming distance re-ranked by Euclidean distance of their F7 features, then the rest in Hamming
   * order. Index the database through this ranker (or the one it came from) first.
   */
  public DelfBenchmark.Ranker hds(int pool) {
    if (pool < 1) {
      throw new IllegalArgumentException("the HDS pool must be >= 1 (passed " + pool + ")");
    }
    return new DelfBenchmark.Ranker() {
      @Override
      public void index(List<BufferedImage> database) {
        if (search == null) {
          HashRanker.this.index(database);
        }
      }

      @Override
      public DelfBenchmark.Ranked rank(BufferedImage query) {
        Encoding e = encode(List.of(query));
        SearchResult r = search.query(e.codes(), size);
        int n = r.count(0);
        int m = Math.min(pool, n);
        Integer[] head = new Integer[m];
        double[] dist = new double[size];
        for (int i = 0; i < m; i++) {
          int id = (int) r.id(0, i);
          head[i] = id;
          double s = 0;
          for (int k = 0; k < featureDim; k++) {
            double d = e.features()[k] - dbFeatures[id * featureDim + k];
            s += d * d;
          }
          dist[id] = s;
        }
        java.util.Arrays.sort(head, (a, b) -> dist[a] != dist[b] ? Double.compare(dist[a], dist[b])
            : Integer.compare(a, b));
        int[] ranking = new int[n];
        for (int i = 0; i < n; i++) {
          ranking[i] = i < m ? head[i] : (int) r.id(0, i);
        }
        return new DelfBenchmark.Ranked(ranking, m == 0 ? 0 : 1.0 / (1.0 + Math.sqrt(dist[head[0]])));
      }
    };
  }

  /** The engine's search over the indexed database codes ({@link #index} first). */
  public GpuHashSearch search() {
    if (search == null) {
      throw new IllegalStateException("index the database first");
    }
    return search;
  }

  /** One image's packed code (the engine's code width). */
  public byte[] code(BufferedImage image) {
    return encode(List.of(image)).codes();
  }

  /** One image's packed code and F7 features. */
  public Encoding encodeOne(BufferedImage image) {
    return encode(List.of(image));
  }

  /** Database image i's F7 features ({@link #index} first). */
  public float[] databaseF7(int i) {
    return java.util.Arrays.copyOfRange(dbFeatures, i * featureDim, (i + 1) * featureDim);
  }

  private Encoding encode(List<BufferedImage> images) {
    int h = encoder.config().height();
    int w = encoder.config().width();
    float[] px = new float[images.size() * h * w * 3];
    for (int i = 0; i < images.size(); i++) {
      float[] p = Pixels.of(images.get(i), h, w, Pixels.Channels.RGB);
      System.arraycopy(p, 0, px, i * p.length, p.length);
    }
    return encoder.encode(px, images.size());
  }

  @Override
  public void close() {
    try {
      if (search != null) {
        search.close();
      }
      if (table != null) {
        table.close();
      }
    } finally {
      encoder.close();
    }
  }
}
