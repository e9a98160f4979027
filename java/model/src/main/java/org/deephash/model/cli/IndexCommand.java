package org.deephash.model.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Datasets;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.ModelDir;

/** {@code engine-cli index}: encodes a dataset or folder into an index file. */
public final class IndexCommand extends BaseCommand {
  @Override
  public String name() {
    return "index";
  }

  @Override
  public String summary() {
    return "encode images with a trained model into an index file (codes, features, ids, labels, paths)";
  }

  @Override
  protected List<String> valueOptions() {
    return List.of("model", "data", "split", "out");
  }

  @Override
  protected List<String> flagOptions() {
    return List.of("help");
  }

  @Override
  protected String usage() {
    return """
        usage: engine-cli index --model DIR [--data SPEC] [--split train|test] --out FILE
          --data SPEC     fashion-mnist (default), idx:DIR, cifar10:DIR or a folder of class subfolders
          --split S       which part of the dataset to index (default train: the database)
          --out FILE      the index file to write
        Row i of the index has id i; its path is the image file (or FILE#i inside packed datasets).""";
  }

  @Override
  protected int execute(Args a, PrintStream out, PrintStream err) throws Exception {
    Path model = Path.of(a.require("model"));
    HashNetConfig c = new ModelDir(model).readConfig();
    Datasets.Split split = switch (a.get("split", "train").toLowerCase(Locale.ROOT)) {
      case "train" -> Datasets.Split.TRAIN;
      case "test" -> Datasets.Split.TEST;
      default -> throw new Args.UsageException("--split is train or test");
    };
    Dataset d = Datasets.load(a.get("data", "fashion-mnist"), split, c.height(), c.width(), c.channels());
    Path file = Path.of(a.require("out"));
    long t0 = System.nanoTime();
    Pipeline.index(model, d, file, err);
    out.printf(Locale.ROOT, "{\"command\":\"index\",\"index\":\"%s\",\"rows\":%d,\"bits\":%d,\"seconds\":%.1f}%n",
        file, d.count(), c.bits(), (System.nanoTime() - t0) / 1e9);
    return 0;
  }
}
