package org.deephash.model;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.deephash.CodeTable;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.cli.api.Progress;
import org.deephash.index.IndexFile;
import org.deephash.model.data.Dataset;
import org.deephash.model.eval.Baselines;
import org.deephash.model.eval.Charts;
import org.deephash.model.eval.Evaluation;
import org.deephash.model.net.Encoder;
import org.deephash.model.net.Encoding;
import org.deephash.model.net.HashNet;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.ModelDir;
import org.deephash.model.net.TrainOptions;
import org.deephash.model.net.Trainer;
import org.deephash.model.pretrained.MobileNetV2;

/**
 * The steps the command line runs: train (and export), index, evaluate. Model code ends at
 * {@link Encoding}; this class hands packed codes and features to the engine.
 */
public final class Pipeline {
  private Pipeline() {}

  /** What training produced. */
  public record TrainResult(HashNetConfig config, Trainer.Summary summary, ModelDir model, double seconds) {}

  /**
   * Trains a network on {@code train} (reporting accuracy on {@code test} after each epoch when
   * given), writes {@code model.properties}, a checkpoint per epoch and the SavedModel.
   */
  public static TrainResult train(Dataset train, Dataset test, Path modelDir, int bits, TrainOptions options,
      boolean resume, PrintStream log) throws IOException {
    return train(train, test, modelDir,
        HashNetConfig.of(train.height(), train.width(), train.channels(), bits, train.classNames()), options, resume, log);
  }

  /** As {@link #train(Dataset, Dataset, Path, int, TrainOptions, boolean, PrintStream)} with the network given. */
  public static TrainResult train(Dataset train, Dataset test, Path modelDir, HashNetConfig config,
      TrainOptions options, boolean resume, PrintStream log) throws IOException {
    return train(train, test, modelDir, config, options, resume, null, Progress.none(), log);
  }

  /**
   * As {@link #train(Dataset, Dataset, Path, HashNetConfig, TrainOptions, boolean, PrintStream)},
   * recording {@code dataSpec} (what {@code Datasets.load} was given, or null) in the model folder
   * so that eval and index use the same data by default, and drawing progress with an ETA.
   */
  public static TrainResult train(Dataset train, Dataset test, Path modelDir, HashNetConfig config,
      TrainOptions options, boolean resume, String dataSpec, Progress progress, PrintStream log) throws IOException {
    return train(train, test, modelDir, config, options, resume, dataSpec, Backbone.NONE, progress, log);
  }

  /**
   * For the {@code mobilenet_v2} backbone: the ImageNet weights a new network starts from, and
   * whether its codes are replaced by PCA-ITQ fitted on the training images' pooled features
   * (F7) after training; with {@code train} false the network is not trained at all (label-free
   * codes: the ImageNet backbone as it is, then PCA-ITQ).
   */
  public record Backbone(Map<String, MobileNetV2.Folded> pretrained, boolean itq, boolean train) {
    public static final Backbone NONE = new Backbone(null, false, true);
  }

  /** As above, with the pretrained backbone's weights and PCA-ITQ codes ({@link Backbone}). */
  public static TrainResult train(Dataset train, Dataset test, Path modelDir, HashNetConfig config,
      TrainOptions options, boolean resume, String dataSpec, Backbone backbone, Progress progress, PrintStream log)
      throws IOException {
    if (config.pretrainedBackbone() && backbone.pretrained() == null && !resume) {
      throw new IllegalArgumentException("the " + config.backbone() + " backbone needs its ImageNet weights"
          + " (--pretrained DIR, made by bench/delf/setup-pretrained.sh)");
    }
    if (backbone.itq() && config.bits() > config.featureDim()) {
      throw new IllegalArgumentException("PCA-ITQ codes need bits <= F7's " + config.featureDim() + " (passed "
          + config.bits() + ")");
    }
    long t0 = System.nanoTime();
    ModelDir md = new ModelDir(modelDir);
    int bits = config.bits();
    if (resume && Files.isRegularFile(md.properties())) {
      HashNetConfig saved = md.readConfig();
      if (!saved.equals(config)) {
        throw new IllegalArgumentException("cannot resume: " + modelDir + " holds a different network (" + saved
            + "); train into a new folder");
      }
    }
    md.writeConfig(config, options, dataSpec == null ? null : new ModelDir.TrainedOn(dataSpec, train.count()));
    log.printf(Locale.ROOT, "training %s on %d images (%s, %d classes), %d epochs, batch %d, %s lr %.1e%n",
        "DLBHC " + bits + " bits", train.count(), train.shape(), train.classes(), options.epochs(), options.batch(),
        options.optimizer().name().toLowerCase(Locale.ROOT), options.learningRate());
    Trainer.Summary[] summary = new Trainer.Summary[1];
    try (HashNet net = backbone.train() ? new Trainer(log).progress(progress).pretrained(backbone.pretrained())
        .train(config, options, train, test, md.checkpoints(), resume, summary)
        : HashNet.create(config, options, backbone.pretrained())) {
      if (!backbone.train()) {
        summary[0] = new Trainer.Summary(0, 0, Double.NaN, Double.NaN, Double.NaN, new double[0]);
        net.saveCheckpoint(md.checkpoints().resolve(Trainer.CHECKPOINT));
      }
      if (backbone.itq()) {
        fitItq(net, train, options.seed(), log);
      }
      deleteTree(md.savedModel());
      net.export(md.savedModel());
    }
    log.println("model written to " + modelDir);
    return new TrainResult(config, summary[0], md, (System.nanoTime() - t0) / 1e9);
  }

  /**
   * Replaces the latent layer of {@code net} by PCA-ITQ (50 iterations) fitted on the F7 features
   * of {@code data}: the codes become {@code sign((F7 - mean) P)}.
   */
  public static Baselines.LinearHash fitItq(HashNet net, Dataset data, long seed, PrintStream log) {
    HashNetConfig c = net.config();
    int d = c.featureDim();
    int n = data.count();
    int size = data.imageSize();
    float[] f = new float[n * d];
    int chunk = 64;
    for (int start = 0; start < n; start += chunk) {
      int m = Math.min(chunk, n - start);
      float[] x = java.util.Arrays.copyOfRange(data.pixels(), start * size, (start + m) * size);
      float[] fm = new float[m * d];
      net.infer(x, m, fm, null, null);
      System.arraycopy(fm, 0, f, start * d, fm.length);
    }
    Baselines.LinearHash h = Baselines.itq(f, n, d, c.bits(), 50, seed);
    net.setHashLayer(h.projection(), h.bias());
    log.printf(Locale.ROOT, "latent layer set to PCA-ITQ (%d bits) fitted on the F7 features of %d images%n",
        c.bits(), n);
    return h;
  }

  /** Encodes {@code data} with the model and writes an index file with codes, features, ids, labels and source paths. */
  public static Encoding index(Path modelDir, Dataset data, Path indexFile, PrintStream log) throws IOException {
    return index(modelDir, data, indexFile, Progress.none(), log);
  }

  /** As {@link #index(Path, Dataset, Path, PrintStream)}, drawing the encoding's progress. */
  public static Encoding index(Path modelDir, Dataset data, Path indexFile, Progress progress, PrintStream log)
      throws IOException {
    try (Encoder enc = Encoder.open(modelDir).progress(progress)) {
      long t0 = System.nanoTime();
      Encoding e = enc.encode(data);
      double s = (System.nanoTime() - t0) / 1e9;
      log.printf(Locale.ROOT, "encoded %d images in %.1f s (%.0f images/s)%n", data.count(), s, data.count() / s);
      try (CodeTable table = CodeTable.create(e.engineBits(), e.featureDim(), true, data.count())) {
        table.addAll(null, e.codes(), e.features(), data.labels());
        IndexFile.save(table, indexFile, data.sources());
      }
      log.println("index written to " + indexFile + " (" + data.count() + " rows, " + e.bits() + "-bit codes, F7 "
          + e.featureDim() + ")");
      return e;
    }
  }

  /** What an evaluation produced. */
  public record EvalResult(int bits, double accuracy, double encodeImagesPerSecond, List<Evaluation.Row> rows,
      String json) {}

  /**
   * The paper's protocol: {@code queries} against {@code database}, rows BCS, ES, HDS and (when
   * asked) LSH and PCA-ITQ at the same width. Writes results.txt, results.json, precision.png and
   * retrievals.png to {@code outDir}.
   */
  public static EvalResult evaluate(Path modelDir, Dataset database, Dataset queries, Path outDir, boolean baselines,
      Pool pool, int esQueries, Map<String, Object> extra, PrintStream log) throws IOException {
    return evaluate(modelDir, database, queries, outDir, baselines, pool, esQueries, extra, Progress.none(), log);
  }

  /** As {@link #evaluate(Path, Dataset, Dataset, Path, boolean, Pool, int, Map, PrintStream)}, drawing progress. */
  public static EvalResult evaluate(Path modelDir, Dataset database, Dataset queries, Path outDir, boolean baselines,
      Pool pool, int esQueries, Map<String, Object> extra, Progress progress, PrintStream log) throws IOException {
    Encoding db;
    Encoding q;
    double perSecond;
    int bits;
    try (Encoder enc = Encoder.open(modelDir).progress(progress)) {
      bits = enc.config().bits();
      enc.encode(queries.head(Math.min(500, queries.count()))); // warm-up
      long t0 = System.nanoTime();
      db = enc.encode(database);
      double s = (System.nanoTime() - t0) / 1e9;
      perSecond = database.count() / s;
      log.printf(Locale.ROOT, "encoded the database: %d images in %.1f s (%.0f images/s)%n", database.count(), s,
          perSecond);
      q = enc.encode(queries);
    }
    long correct = 0;
    for (int i = 0; i < queries.count(); i++) {
      if (q.predicted()[i] == queries.labels()[i]) {
        correct++;
      }
    }
    double accuracy = correct / (double) queries.count();
    log.printf(Locale.ROOT, "classification accuracy on the %d queries: %.4f%n", queries.count(), accuracy);
    List<Evaluation.CodeRow> extraRows = new ArrayList<>();
    if (baselines) {
      int dim = database.imageSize();
      long t0 = System.nanoTime();
      Progress.Phase fitting = progress.phase("fitting the LSH and PCA-ITQ baselines");
      Baselines.LinearHash lsh = Baselines.lsh(database.pixels(), database.count(), dim, bits, 7L);
      extraRows.add(new Evaluation.CodeRow("lsh", "LSH: random hyperplanes on pixels", bits,
          lsh.encode(database.pixels(), database.count()), lsh.encode(queries.pixels(), queries.count())));
      Baselines.LinearHash itq = Baselines.itq(database.pixels(), database.count(), dim, bits, 50, 7L);
      extraRows.add(new Evaluation.CodeRow("itq", "PCA-ITQ on pixels", bits,
          itq.encode(database.pixels(), database.count()), itq.encode(queries.pixels(), queries.count())));
      fitting.close();
      log.printf(Locale.ROOT, "fitted LSH and PCA-ITQ baselines in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }
    SearchResult[] hds = new SearchResult[1];
    long t0 = System.nanoTime();
    List<Evaluation.Row> rows = new Evaluation(log).progress(progress).pool(pool).esQueries(esQueries).run(bits, db.featureDim(), db.codes(), db.features(),
        database.labels(), q.codes(), q.features(), queries.labels(), extraRows, hds);
    log.printf(Locale.ROOT, "ranked %d queries against %d database images in %.1f s%n", queries.count(),
        database.count(), (System.nanoTime() - t0) / 1e9);
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("queries", queries.count());
    fields.put("database", database.count());
    fields.put("es_queries", Math.min(esQueries, queries.count()));
    fields.put("encode_images_per_s", perSecond);
    if (extra != null) {
      fields.putAll(extra);
    }
    String json = Evaluation.json(bits, accuracy, rows, fields);
    Files.createDirectories(outDir);
    String table = Evaluation.table(rows);
    Files.writeString(outDir.resolve("results.txt"), String.format(Locale.ROOT,
        "bits %d, accuracy %.4f, %d queries x %d database, encoding %.0f images/s%n%s", bits, accuracy,
        queries.count(), database.count(), perSecond, table));
    Files.writeString(outDir.resolve("results.json"), json + "\n");
    Charts.precisionCurves(outDir.resolve("precision.png"), rows,
        "Precision@k, " + bits + " bits, " + queries.count() + " queries x " + database.count() + " images");
    Charts.retrievalGrid(outDir.resolve("retrievals.png"), queries, database, hds[0], 12, 10);
    log.print(table);
    log.println("results, precision.png and retrievals.png written to " + outDir);
    return new EvalResult(bits, accuracy, perSecond, rows, json);
  }

  static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(x);
      }
    }
  }
}
