package org.deephash.model.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Datasets;
import org.deephash.model.net.TrainOptions;

/** {@code engine-cli train}: trains the hashing network and exports it as a SavedModel. */
public final class TrainCommand extends BaseCommand {
  @Override
  public String name() {
    return "train";
  }

  @Override
  public String summary() {
    return "train the DLBHC hashing network (TensorFlow) on a dataset and export it";
  }

  @Override
  protected List<String> valueOptions() {
    List<String> v = new ArrayList<>(TRAIN_VALUES);
    v.addAll(List.of("data", "model", "size"));
    return v;
  }

  @Override
  protected List<String> flagOptions() {
    return List.of("resume", "no-test", "help");
  }

  @Override
  protected String usage() {
    return """
        usage: engine-cli train [--data SPEC] [--model DIR] [options]
          --data SPEC         fashion-mnist (default), idx:DIR, cifar10:DIR, or a folder with one
                              subfolder per class (with train/ and test/ subfolders if it has them)
          --size HxWxC        image size for folder datasets (default 32x32x3)
          --model DIR         where the model goes (default runs/model)
          --resume            continue from the last checkpoint in DIR
          --no-test           do not report test accuracy after each epoch
        """ + TRAIN_USAGE;
  }

  @Override
  protected int execute(Args a, PrintStream out, PrintStream err) throws Exception {
    int[] size = size(a);
    String spec = a.get("data", "fashion-mnist");
    Dataset train = Datasets.load(spec, Datasets.Split.TRAIN, size[0], size[1], size[2]);
    Dataset test = a.flag("no-test") ? null : Datasets.load(spec, Datasets.Split.TEST, size[0], size[1], size[2]);
    TrainOptions o = trainOptions(a, train.channels());
    Pipeline.TrainResult r = Pipeline.train(train, test, Path.of(a.get("model", "runs/model")), netConfig(a, train), o,
        a.flag("resume"), err);
    out.printf(Locale.ROOT, "{\"command\":\"train\",\"model\":\"%s\",\"epochs\":%d,\"steps\":%d,\"loss\":%.5f,"
        + "\"train_accuracy\":%.5f,\"test_accuracy\":%s,\"seconds\":%.1f}%n", r.model().root(), r.summary().epochs(),
        r.summary().steps(), r.summary().lastLoss(), r.summary().trainAccuracy(),
        Double.isNaN(r.summary().testAccuracy()) ? "null" : String.format(Locale.ROOT, "%.5f", r.summary().testAccuracy()),
        r.seconds());
    return 0;
  }
}
