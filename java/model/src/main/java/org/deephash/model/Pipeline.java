package org.deephash.model;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.deephash.CodeTable;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.cli.api.Progress;
import org.deephash.index.IndexFile;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.DatasetException;
import org.deephash.model.data.PhotoFiles;
import org.deephash.model.data.PhotoThumbnails;
import org.deephash.model.data.PhotoIndex;
import org.deephash.model.data.Pixels;
import org.deephash.model.eval.Baselines;
import org.deephash.model.eval.Charts;
import org.deephash.model.eval.Evaluation;
import org.deephash.model.eval.FineStage;
import org.deephash.model.net.CodePacker;
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
   * Trains a network on {@code train}, writes {@code model.properties}, a checkpoint per epoch and
   * the SavedModel. With a {@code validation} split (carved from the training data, see {@link
   * ValidationSplit}; never the test queries) the epoch with the best validation accuracy is kept
   * and the fine stage of the coarse-to-fine search is chosen on it; both are recorded in the model.
   */
  public static TrainResult train(Dataset train, Dataset validation, Path modelDir, int bits, TrainOptions options,
      boolean resume, PrintStream log) throws IOException {
    return train(train, validation, modelDir,
        HashNetConfig.of(train.height(), train.width(), train.channels(), bits, train.classNames()), options, resume, log);
  }

  /** As {@link #train(Dataset, Dataset, Path, int, TrainOptions, boolean, PrintStream)} with the network given. */
  public static TrainResult train(Dataset train, Dataset validation, Path modelDir, HashNetConfig config,
      TrainOptions options, boolean resume, PrintStream log) throws IOException {
    return train(train, validation, modelDir, config, options, resume, null, Progress.none(), log);
  }

  /**
   * As {@link #train(Dataset, Dataset, Path, HashNetConfig, TrainOptions, boolean, PrintStream)},
   * recording {@code dataSpec} (what {@code Datasets.load} was given, or null) in the model folder
   * so that eval and index use the same data by default, and drawing progress with an ETA.
   */
  public static TrainResult train(Dataset train, Dataset validation, Path modelDir, HashNetConfig config,
      TrainOptions options, boolean resume, String dataSpec, Progress progress, PrintStream log) throws IOException {
    return train(train, validation, modelDir, config, options, resume, dataSpec, Backbone.NONE, progress, log);
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
  public static TrainResult train(Dataset train, Dataset validation, Path modelDir, HashNetConfig config,
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
    int all = train.count() + (validation == null ? 0 : validation.count());
    md.writeConfig(config, options, dataSpec == null ? null : new ModelDir.TrainedOn(dataSpec, all));
    log.printf(Locale.ROOT, "training %s on %d images (%s, %d classes)%s, %d epochs, batch %d, %s lr %.1e%s%n",
        "DLBHC " + bits + " bits", train.count(), train.shape(), train.classes(),
        validation == null ? "" : ", " + validation.count() + " held out for validation", options.epochs(),
        options.batch(), options.optimizer().name().toLowerCase(Locale.ROOT), options.learningRate(),
        options.averageDecay() > 0 ? ", weight average (decay " + options.averageDecay() + ") validated and kept" : "");
    Trainer.Summary[] summary = new Trainer.Summary[1];
    try (HashNet net = backbone.train() ? new Trainer(log).progress(progress).pretrained(backbone.pretrained())
        .train(config, options, train, validation, md.checkpoints(), resume, summary)
        : HashNet.create(config, options, backbone.pretrained())) {
      if (!backbone.train()) { // label-free: no epoch is trained or kept
        summary[0] = new Trainer.Summary(0, 0, Double.NaN, Double.NaN, new double[0], 0, new double[0]);
        net.saveCheckpoint(md.checkpoints().resolve(Trainer.CHECKPOINT));
      }
      if (backbone.itq()) {
        fitItq(net, train, options.seed(), log);
      }
      ModelDir.deleteTree(md.savedModel());
      net.export(md.savedModel());
    }
    Map<String, String> selection = new LinkedHashMap<>();
    Trainer.Summary sum = summary[0];
    if (validation != null) {
      selection.put("validation.images", Integer.toString(validation.count()));
      selection.put("selection.epoch", Integer.toString(sum.keptEpoch()));
      selection.put("selection.epochs", Integer.toString(sum.epochs()));
      selection.put("selection.validationAccuracy", String.format(Locale.ROOT, "%.6f", sum.keptValidationAccuracy()));
      selection.putAll(chooseFineStage(md, train, validation, progress, log));
      md.writeSelection(selection);
    }
    log.println("model written to " + modelDir);
    return new TrainResult(config, summary[0], md, (System.nanoTime() - t0) / 1e9);
  }

  /**
   * Refitting after selection ({@code train --refit}): trains the network again from its first
   * step (same seed and schedule) on {@code all} the training images, the validation split
   * included, for {@code epochs} epochs (chosen on validation: {@link Trainer#refitEpochs}), and exports it in place of the
   * selected network. The selection record stays as it was (the epoch and the fine stage were
   * chosen on validation before the split was trained on) and gains {@code refit.images} and
   * {@code refit.epochs}. Nothing here looks at the test queries either.
   */
  public static TrainResult refit(Dataset all, Path modelDir, HashNetConfig config, TrainOptions options, int epochs,
      Backbone backbone, Progress progress, PrintStream log) throws IOException {
    if (epochs < 1) {
      throw new IllegalArgumentException("refit needs at least one epoch (passed " + epochs + ")");
    }
    long t0 = System.nanoTime();
    ModelDir md = new ModelDir(modelDir);
    log.printf(Locale.ROOT, "refit: training again on all %d images for %d epochs%n",
        all.count(), epochs);
    Trainer.Summary[] summary = new Trainer.Summary[1];
    try (HashNet net = new Trainer(log).progress(progress).pretrained(backbone.pretrained())
        .train(config, options.withEpochs(epochs), all, null, md.checkpoints(), false, summary)) {
      if (backbone.itq()) {
        fitItq(net, all, options.seed(), log);
      }
      ModelDir.deleteTree(md.savedModel());
      net.export(md.savedModel());
    }
    md.writeSelection(Map.of("refit.images", Integer.toString(all.count()), "refit.epochs", Integer.toString(epochs)));
    log.println("refitted model written to " + modelDir);
    return new TrainResult(config, summary[0], md, (System.nanoTime() - t0) / 1e9);
  }

  /**
   * Scores every fine stage with the validation images as queries against the training images
   * (mean P@10 and full-list mAP), keeps the one {@link FineStage#choose} picks and returns what to
   * record: {@code fine.stage} and each candidate's figures.
   */
  static Map<String, String> chooseFineStage(ModelDir md, Dataset train, Dataset validation, Progress progress,
      PrintStream log) throws IOException {
    long t0 = System.nanoTime();
    Encoding db;
    Encoding q;
    try (Encoder enc = Encoder.open(md.root()).progress(progress)) {
      db = enc.encode(train);
      q = enc.encode(validation);
    }
    List<FineStage> stages = FineStage.reRankings();
    Map<FineStage, FineStage.Score> scores = new Evaluation(log).progress(progress).scoreStages(stages, db.bits(),
        db.featureDim(), db.codes(), db.features(), db.latent(), train.labels(), q.codes(), q.features(), q.latent(),
        validation.labels());
    FineStage.Score bcs = scores.remove(null);
    FineStage chosen = FineStage.choose(scores, bcs);
    Map<String, String> out = new LinkedHashMap<>();
    out.put("fine.stage", chosen.key());
    out.put("fine.validation.bcs", String.format(Locale.ROOT, "P@10 %.4f mAP %.4f", bcs.precisionAt10(),
        bcs.mapFull()));
    StringBuilder line = new StringBuilder(String.format(Locale.ROOT,
        "fine stage chosen on the %d validation images: %s (P@10 / full mAP: bcs %.4f / %.4f", validation.count(),
        chosen.key(), bcs.precisionAt10(), bcs.mapFull()));
    scores.forEach((s, f) -> {
      out.put("fine.validation." + s.key(), String.format(Locale.ROOT,
          "P@10 %.4f mAP %.4f gains %+.5f (se %.5f) / %+.5f (se %.5f)", f.precisionAt10(), f.mapFull(),
          f.precisionAt10() - bcs.precisionAt10(), f.precisionAt10Error(), f.mapFull() - bcs.mapFull(),
          f.mapFullError()));
      line.append(String.format(Locale.ROOT, ", %s %.4f / %.4f", s.key(), f.precisionAt10(), f.mapFull()));
    });
    log.printf(Locale.ROOT, "%s) in %.1f s%n", line, (System.nanoTime() - t0) / 1e9);
    return out;
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

  /** What indexing a photo folder produced. */
  public record PhotoIndexResult(int rows, int bits, List<PhotoFiles.Skipped> skipped, int ignored, double seconds) {}

  /**
   * Encodes every photo of a folder ({@link PhotoFiles#scan}: recursive, EXIF orientation applied)
   * with the model, converted to the model's input size and channels by {@link Pixels#of}, and
   * writes an index whose row paths are relative to the folder, with {@link PhotoIndex} beside it
   * (the folder and every skipped file). Photos are decoded on {@code threads} threads and encoded
   * in batches, the next batch decoding while one is encoded: memory holds two batches of pixels, not
   * the folder's.
   *
   * @throws DatasetException when no photo of the folder can be read
   */
  public static PhotoIndexResult indexPhotos(Path modelDir, Path folder, Path indexFile, int threads,
      Progress progress, PrintStream log) throws IOException {
    return indexPhotos(modelDir, folder, indexFile, threads, false, progress, log);
  }

  /**
   * As {@link #indexPhotos(Path, Path, Path, int, Progress, PrintStream)}; with {@code thumbnails},
   * each photo's grid thumbnail ({@link PhotoThumbnails#DEFAULT_SIZE} px) is written to the index's
   * thumbnail folder (made from the raster decoded for the model when it is large enough, else from
   * a second decode; the model's input is the same either way), so {@code serve} shows results
   * without decoding photos.
   */
  public static PhotoIndexResult indexPhotos(Path modelDir, Path folder, Path indexFile, int threads,
      boolean thumbnails, Progress progress, PrintStream log) throws IOException {
    long t0 = System.nanoTime();
    Path thumbDir = thumbnails ? PhotoThumbnails.dirFor(indexFile.toAbsolutePath()) : null;
    PhotoFiles.Listing listing;
    try (Progress.Phase p = progress.phase("listing " + folder)) {
      listing = PhotoFiles.scan(folder);
    }
    List<PhotoFiles.Skipped> skipped = new ArrayList<>(listing.skipped());
    List<String> paths = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, threads),
        Thread.ofPlatform().name("deephash-photos-", 0).daemon().factory());
    try (Encoder enc = Encoder.open(modelDir)) {
      HashNetConfig c = enc.config();
      int size = c.height() * c.width() * c.channels();
      int batch = Math.max(16, Math.min(256, (64 << 20) / (size * 4)));
      enc.batchSize(batch);
      try (CodeTable table = CodeTable.create(CodePacker.codeBytes(c.bits()) * 8, c.featureDim(), false,
              Math.max(1, listing.photos().size()));
          Progress.Counter counter = progress.count("indexing photos", listing.photos().size(), "photos")) {
        List<String> all = listing.photos();
        // the next batch decodes while this one is encoded
        List<Future<float[]>> next = decodeBatch(pool, listing.root(), all.subList(0, Math.min(all.size(), batch)), c,
            thumbDir);
        for (int start = 0; start < all.size(); start += batch) {
          List<String> part = all.subList(start, Math.min(all.size(), start + batch));
          List<Future<float[]>> decoded = next;
          int from = start + batch;
          next = decodeBatch(pool, listing.root(), all.subList(Math.min(all.size(), from),
              Math.min(all.size(), from + batch)), c, thumbDir);
          float[] pixels = new float[part.size() * size];
          int m = 0;
          for (int i = 0; i < part.size(); i++) {
            try {
              System.arraycopy(decoded.get(i).get(), 0, pixels, m * size, size);
              paths.add(part.get(i));
              m++;
            } catch (ExecutionException e) {
              Throwable why = e.getCause();
              String reason = why instanceof DatasetException d ? d.getMessage() : String.valueOf(why);
              String prefix = listing.root().resolve(part.get(i)) + ": ";
              skipped.add(new PhotoFiles.Skipped(part.get(i),
                  reason.startsWith(prefix) ? reason.substring(prefix.length()) : reason));
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              throw new IOException("interrupted while decoding photos", e);
            }
          }
          if (m > 0) {
            Encoding e = enc.encode(m == part.size() ? pixels : java.util.Arrays.copyOf(pixels, m * size), m);
            table.addAll(null, e.codes(), e.features(), null);
          }
          counter.add(part.size());
        }
        skipped.sort(Comparator.comparing(PhotoFiles.Skipped::path));
        if (paths.isEmpty()) {
          throw new DatasetException("no photo in " + folder + " could be read (" + listing.photos().size()
              + " JPEG/PNG/WebP/GIF/BMP files, " + skipped.size() + " skipped): nothing to index");
        }
        // the report first: the index file's appearance is what a watching server reacts to
        new PhotoIndex(listing.root(), paths.size(), List.copyOf(skipped)).write(indexFile);
        IndexFile.save(table, indexFile, paths);
      }
      double s = (System.nanoTime() - t0) / 1e9;
      log.printf(Locale.ROOT, "indexed %d photos of %s in %.1f s (%.0f photos/s), %d skipped; index written to %s%n",
          paths.size(), listing.root(), s, paths.size() / s, skipped.size(), indexFile);
      return new PhotoIndexResult(paths.size(), c.bits(), List.copyOf(skipped), listing.ignored(), s);
    } finally {
      pool.shutdownNow();
    }
  }

  private static List<Future<float[]>> decodeBatch(ExecutorService pool, Path root, List<String> part,
      HashNetConfig c, Path thumbDir) {
    Pixels.Channels channels = Pixels.Channels.of(c.channels());
    int thumb = PhotoThumbnails.DEFAULT_SIZE;
    List<Future<float[]>> decoded = new ArrayList<>(part.size());
    for (String rel : part) {
      Path file = root.resolve(rel);
      decoded.add(pool.submit(() -> {
        java.awt.image.BufferedImage img = photo(file, c);
        if (thumbDir != null) {
          BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
          Path t = PhotoThumbnails.file(thumbDir, file, a, thumb);
          if (!Files.exists(t)) {
            // the same raster when it is large enough for the thumbnail (never scaled up), else a second decode
            java.awt.image.BufferedImage src = Math.max(img.getWidth(), img.getHeight()) >= thumb ? img
                : PhotoFiles.read(file, PhotoThumbnails.decodeSide(thumb), PhotoThumbnails.decodeSide(thumb));
            PhotoThumbnails.write(thumbDir, t, PhotoThumbnails.make(src, thumb));
          }
        }
        return Pixels.of(img, c.height(), c.width(), channels);
      }));
    }
    return decoded;
  }

  /**
   * A photo as {@link #indexPhotos} reads it: upright (EXIF), decoded at no less than twice the
   * model's input size (as serve decodes uploads); {@code query} reads an image for a photo index
   * the same way, so that an indexed photo finds itself at distance 0.
   */
  public static java.awt.image.BufferedImage photo(Path file, HashNetConfig c) {
    return PhotoFiles.read(file, 2 * c.width(), 2 * c.height());
  }

  /** {@link #photo} as the model's input pixels. */
  public static float[] photoPixels(Path file, HashNetConfig c) {
    return Pixels.of(photo(file, c), c.height(), c.width(), Pixels.Channels.of(c.channels()));
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
    return evaluate(modelDir, database, queries, outDir, baselines, pool, esQueries, null, List.of(FineStage.F7), extra,
        progress, log);
  }

  /**
   * As {@link #evaluate(Path, Dataset, Dataset, Path, boolean, Pool, int, Map, PrintStream)}, with
   * the HDS row's fine stage given ({@code fine}), or null for the one recorded in the model (the
   * paper's F7 for a model from before the choice was recorded); the stages in {@code compare}
   * other than that one get rows {@code hds_KEY} after it.
   */
  public static EvalResult evaluate(Path modelDir, Dataset database, Dataset queries, Path outDir, boolean baselines,
      Pool pool, int esQueries, FineStage fine, List<FineStage> compare, Map<String, Object> extra, Progress progress,
      PrintStream log) throws IOException {
    FineStage stage = fine != null ? fine
        : FineStage.recordedBy(new ModelDir(modelDir));
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
    List<Evaluation.Row> rows = new Evaluation(log).progress(progress).pool(pool).esQueries(esQueries)
        .fineStage(stage).compareStages(compare).run(bits, db.featureDim(), db.codes(), db.features(),
            db.latent(), database.labels(), q.codes(), q.features(), q.latent(), queries.labels(), extraRows, hds);
    log.printf(Locale.ROOT, "ranked %d queries against %d database images in %.1f s%n", queries.count(),
        database.count(), (System.nanoTime() - t0) / 1e9);
    Map<String, Object> fields = new LinkedHashMap<>();
    fields.put("queries", queries.count());
    fields.put("database", database.count());
    fields.put("es_queries", Math.min(esQueries, queries.count()));
    fields.put("fine_stage", stage.key());
    fields.put("encode_images_per_s", perSecond);
    if (extra != null) {
      fields.putAll(extra);
    }
    String json = Evaluation.json(bits, accuracy, rows, fields);
    Files.createDirectories(outDir);
    String table = Evaluation.table(rows);
    Files.writeString(outDir.resolve("results.txt"), String.format(Locale.ROOT,
        "bits %d, accuracy %.4f, %d queries x %d database, encoding %.0f images/s, HDS fine stage %s%n%s", bits,
        accuracy, queries.count(), database.count(), perSecond, stage.key(), table));
    Files.writeString(outDir.resolve("results.json"), json + "\n");
    Charts.precisionCurves(outDir.resolve("precision.png"), rows,
        "Precision@k, " + bits + " bits, " + queries.count() + " queries x " + database.count() + " images");
    Charts.retrievalGrid(outDir.resolve("retrievals.png"), queries, database, hds[0], 12, 10);
    log.print(table);
    log.println("results, precision.png and retrievals.png written to " + outDir);
    return new EvalResult(bits, accuracy, perSecond, rows, json);
  }
}
