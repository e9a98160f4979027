package org.deephash.model.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.deephash.cli.api.Cli;
import org.deephash.io.Json;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Datasets;
import org.deephash.model.data.Pixels;
import org.deephash.model.net.TrainOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code engine-cli demo}: the whole pipeline on Fashion-MNIST with good defaults: train, export,
 * encode through the SavedModel, evaluate like the paper (with baselines and pictures), write an
 * index file of the 60,000 training images and query it with one test image saved as PNG.
 */
@Command(name = "demo",
    description = "Train (the documented recipe: 14 epochs), index, query and evaluate on Fashion-MNIST end to"
        + " end (about 5 minutes on 2 idle cores).")
public final class DemoCommand extends TensorFlowCommand {
  @Option(names = "--out", paramLabel = "DIR",
      description = {"Everything goes here (default: ${DEFAULT-VALUE}): model/, the index file, results.txt,",
          "results.json, precision.png, retrievals.png, query.png."})
  Path outDir = Path.of("target/demo");

  @Option(names = "--data", paramLabel = "SPEC",
      description = "fashion-mnist (default) or idx:DIR with the same layout.")
  String data = TrainingData.DEFAULT_SPEC;

  @Option(names = "--json", description = "End with the evaluation's JSON line on standard output.")
  boolean json;

  @Option(names = "--es-queries", paramLabel = "N",
      description = {"Queries for the exhaustive Euclidean row (default: ${DEFAULT-VALUE} of 10,000: ES scans",
          "60,000 x 512 floats per query, the slowest row on a CPU)."})
  int esQueries = 1000;

  @Option(names = "--no-baselines", description = "Skip LSH and PCA-ITQ.")
  boolean noBaselines;

  /** The documented recipe (docs/MODEL.md): 14 epochs, learning rate x 0.8 an epoch, about 5 minutes. */
  static final int DEMO_EPOCHS = 14;

  static final float DEMO_LR_DECAY = 0.8f;

  @Mixin
  TrainFlags train = TrainFlags.withSchedule(DEMO_EPOCHS, DEMO_LR_DECAY);

  @Override
  protected void validate() {
    train.validate();
    requireRange("--es-queries", esQueries, 1, Integer.MAX_VALUE);
  }

  @Override
  protected int run() throws Exception {
    long t0 = System.nanoTime();
    Path dir = outDir;
    Files.createDirectories(dir);
    Dataset trainSet = Datasets.load(data, Datasets.Split.TRAIN, 0, 0, 0);
    Dataset test = Datasets.load(data, Datasets.Split.TEST, 0, 0, 0);
    TrainOptions o = train.trainOptions(trainSet.channels());
    err.println("== 1/4 train");
    Dataset[] parts = train.split(trainSet);
    Pipeline.TrainResult tr = Pipeline.train(parts[0], parts[1], dir.resolve("model"), train.netConfig(trainSet), o,
        false, TrainingData.canonical(data), progress(), err);
    Pipeline.TrainResult refitted = train.refitIfAsked(tr, parts[1], trainSet, dir.resolve("model"), train.netConfig(trainSet), o,
        Pipeline.Backbone.NONE, progress(), err);
    double[] epochSeconds = tr.summary().epochSeconds();
    double[] done = java.util.Arrays.copyOf(epochSeconds, tr.summary().epochs());
    java.util.Arrays.sort(done);
    double medianEpoch = done.length == 0 ? Double.NaN : done[done.length / 2];

    err.println("== 2/4 index the training images");
    Path index = dir.resolve("fashion-train.dhx");
    Pipeline.index(tr.model().root(), trainSet, index, progress(), err);

    err.println("== 3/4 query with one test image");
    Path query = dir.resolve("query.png");
    writePng(test, 0, query);
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int rc = Cli.run(new QueryCommand(), new String[] {"--model", tr.model().root().toString(), "--index",
        index.toString(), "--image", query.toString(), "--k", "5"}, new PrintStream(buf, true, StandardCharsets.UTF_8),
        err);
    if (rc != 0) {
      return rc;
    }
    err.print(buf.toString(StandardCharsets.UTF_8));

    err.println("== 4/4 evaluate: 10,000 test queries against the 60,000 training images");
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("epochs", tr.summary().epochs());
    extra.put("kept_epoch", tr.summary().keptEpoch());
    extra.put("epoch_s_median", medianEpoch);
    extra.put("train_s", tr.seconds() + (refitted == tr ? 0 : refitted.seconds()));
    if (refitted != tr) {
      extra.put("refit_images", trainSet.count());
      extra.put("refit_epochs", refitted.summary().epochs());
    }
    Pipeline.EvalResult r = Pipeline.evaluate(tr.model().root(), trainSet, test, dir, !noBaselines,
        org.deephash.Pool.topM(1000), esQueries, extra, progress(), err);
    double wall = (System.nanoTime() - t0) / 1e9;
    err.printf(Locale.ROOT, "demo finished in %.0f s (median epoch %.1f s); everything is in %s%n", wall, medianEpoch,
        dir);
    if (json) {
      Map<String, Object> all = Json.object(r.json());
      all.put("demo_s", Json.round(wall, 1));
      StringBuilder line = new StringBuilder();
      Json.write(line, all);
      out.println(line);
    }
    return 0;
  }

  private static void writePng(Dataset d, int i, Path file) throws java.io.IOException {
    ImageIO.write(Pixels.toImage(d, i), "png", file.toFile());
  }
}
