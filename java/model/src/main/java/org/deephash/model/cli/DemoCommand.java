package org.deephash.model.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Datasets;
import org.deephash.model.data.Pixels;
import org.deephash.model.net.TrainOptions;

/**
 * {@code engine-cli demo}: the whole pipeline on Fashion-MNIST with good defaults: train, export,
 * encode through the SavedModel, evaluate like the paper (with baselines and pictures), write an
 * index file of the 60,000 training images and query it with one test image saved as PNG.
 */
public final class DemoCommand extends BaseCommand {
  @Override
  public String name() {
    return "demo";
  }

  @Override
  public String summary() {
    return "train, index, query and evaluate on Fashion-MNIST end to end (about 5 minutes on 2 cores)";
  }

  @Override
  protected List<String> valueOptions() {
    List<String> v = new java.util.ArrayList<>(TRAIN_VALUES);
    v.addAll(List.of("out", "data", "es-queries"));
    return v;
  }

  @Override
  protected List<String> flagOptions() {
    return List.of("json", "no-baselines", "help");
  }

  @Override
  protected String usage() {
    return """
        usage: engine-cli demo [--out DIR] [--json] [training options]
          --out DIR           everything goes here (default target/demo): model/, index file,
                              results.txt, results.json, precision.png, retrievals.png, query.png
          --data SPEC         fashion-mnist (default) or idx:DIR with the same layout
          --json              end with the evaluation's JSON line on standard output
          --es-queries N      queries for the exhaustive Euclidean row (default 1000 of 10,000: ES scans
                              60,000 x 512 floats per query, the slowest row on a CPU)
          --no-baselines      skip LSH and PCA-ITQ
        """ + TRAIN_USAGE;
  }

  @Override
  protected int execute(Args a, PrintStream out, PrintStream err) throws Exception {
    long t0 = System.nanoTime();
    Path dir = Path.of(a.get("out", "target/demo"));
    Files.createDirectories(dir);
    String spec = a.get("data", "fashion-mnist");
    Dataset train = Datasets.load(spec, Datasets.Split.TRAIN, 0, 0, 0);
    Dataset test = Datasets.load(spec, Datasets.Split.TEST, 0, 0, 0);
    TrainOptions o = trainOptions(a, train.channels());
    err.println("== 1/4 train");
    Pipeline.TrainResult tr = Pipeline.train(train, test, dir.resolve("model"), netConfig(a, train), o, false, err);
    double[] epochSeconds = tr.summary().epochSeconds();
    double[] done = java.util.Arrays.copyOf(epochSeconds, tr.summary().epochs());
    java.util.Arrays.sort(done);
    double medianEpoch = done.length == 0 ? Double.NaN : done[done.length / 2];

    err.println("== 2/4 index the training images");
    Path index = dir.resolve("fashion-train.dhx");
    Pipeline.index(tr.model().root(), train, index, err);

    err.println("== 3/4 query with one test image");
    Path query = dir.resolve("query.png");
    writePng(test, 0, query);
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int rc = new QueryCommand().run(new String[] {"--model", tr.model().root().toString(), "--index", index.toString(),
        "--image", query.toString(), "--k", "5"}, new PrintStream(buf, true, StandardCharsets.UTF_8), err);
    if (rc != 0) {
      return rc;
    }
    err.print(buf.toString(StandardCharsets.UTF_8));

    err.println("== 4/4 evaluate: 10,000 test queries against the 60,000 training images");
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("epochs", tr.summary().epochs());
    extra.put("epoch_s_median", medianEpoch);
    extra.put("train_s", tr.seconds());
    Pipeline.EvalResult r = Pipeline.evaluate(tr.model().root(), train, test, dir, !a.flag("no-baselines"),
        org.deephash.Pool.topM(1000), a.getInt("es-queries", 1000), extra, err);
    double wall = (System.nanoTime() - t0) / 1e9;
    err.printf(Locale.ROOT, "demo finished in %.0f s (median epoch %.1f s); everything is in %s%n", wall, medianEpoch,
        dir);
    if (a.flag("json")) {
      out.println(r.json().substring(0, r.json().length() - 1) + String.format(Locale.ROOT, ",\"demo_s\":%.1f}", wall));
    }
    return 0;
  }

  private static void writePng(Dataset d, int i, Path file) throws java.io.IOException {
    ImageIO.write(Pixels.toImage(d, i), "png", file.toFile());
  }
}
