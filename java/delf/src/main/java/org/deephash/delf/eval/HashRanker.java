package org.deephash.delf.eval;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchResult;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Pixels;
import org.deephash.model.net.Encoder;
import org.deephash.model.net.Encoding;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.TrainOptions;

/**
 * The hashing network (DLBHC) as a global baseline on the same benchmark: trained on augmented
 * views of the training photos (each photo a class, 32 x 32 RGB), its codes rank the database by
 * Hamming distance (ties by database order), the engine's exact search.
 */
public final class HashRanker implements DelfBenchmark.Ranker, AutoCloseable {
  static final int SIDE = 32;

  private final Encoder encoder;
  private CodeTable table;
  private GpuHashSearch search;
  private int size;

  private HashRanker(Encoder encoder) {
    this.encoder = encoder;
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
    Encoding e = encode(database);
    size = database.size();
    table = CodeTable.create(e.engineBits(), 0, false, size);
    table.addAll(null, e.codes(), null, null);
    search = GpuHashSearch.open(table);
  }

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

  private Encoding encode(List<BufferedImage> images) {
    float[] px = new float[images.size() * SIDE * SIDE * 3];
    for (int i = 0; i < images.size(); i++) {
      float[] p = Pixels.of(images.get(i), SIDE, SIDE, Pixels.Channels.RGB);
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
