package org.deephash.model.cli;

import java.nio.file.Path;
import java.util.Locale;
import org.deephash.io.Json;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Datasets;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.TrainOptions;
import org.deephash.model.pretrained.MobileNetV2;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code engine-cli train}: trains the hashing network, exports it as a SavedModel and records what it was trained on. */
@Command(name = "train", description = "Train the DLBHC hashing network (TensorFlow) on a data set and export it.")
public final class TrainCommand extends TensorFlowCommand {
  @Option(names = "--data", paramLabel = "SPEC",
      description = {"fashion-mnist (default), idx:DIR, cifar10:DIR, or a folder with one subfolder per class",
          "(with train/ and test/ subfolders if it has them). Recorded in the model folder."})
  String data = TrainingData.DEFAULT_SPEC;

  @Option(names = "--size", paramLabel = "HxWxC",
      description = "Image size for folder data sets: HxW (3 channels) or HxWxC (default: 32x32x3).")
  String size;

  @Option(names = "--model", paramLabel = "DIR", description = "Where the model goes (default: ${DEFAULT-VALUE}).")
  Path model = Path.of("runs/model");

  @Option(names = "--resume", description = "Continue from the last checkpoint in DIR.")
  boolean resume;

  @Option(names = "--no-test",
      description = "Do not report the test accuracy of the trained model (it is never used to choose anything).")
  boolean noTest;

  @Option(names = "--backbone", paramLabel = "NAME", description = {"scratch (two convolutions, trained from scratch;",
      "the default) or mobilenet_v2: MobileNetV2 through block 10 from ImageNet weights (--pretrained),",
      "pooled, fine-tuned with the latent layer and classifier as in the paper (photos; --size default 128x128)."})
  String backbone = HashNetConfig.SCRATCH;

  @Option(names = "--pretrained", paramLabel = "DIR", description = {"The TF.js MobileNetV2 for --backbone mobilenet_v2",
      "(default: ${DEFAULT-VALUE}; bench/delf/setup-pretrained.sh)."})
  Path pretrained = Path.of("data/pretrained/mobilenet_v2");

  @Option(names = "--codes", paramLabel = "HOW", description = {"trained: the latent layer as trained (default);",
      "itq: after training, PCA-ITQ on the training images' F7 features replaces it; with --epochs 0 (mobilenet_v2",
      "only) no training at all: label-free codes from the ImageNet backbone."})
  String codes = "trained";

  @Mixin
  TrainFlags train;

  private int[] shape = {0, 0, 0};
  private boolean untrained;

  @Override
  protected void validate() {
    if (!backbone.equals(HashNetConfig.SCRATCH) && !backbone.equals(HashNetConfig.MOBILENET_V2)) {
      throw usage("--backbone is scratch or mobilenet_v2 (passed '" + backbone + "')");
    }
    if (!codes.equals("trained") && !codes.equals("itq")) {
      throw usage("--codes is trained or itq (passed '" + codes + "')");
    }
    boolean labelFree = train.epochs == 0;
    if (labelFree && !(codes.equals("itq") && backbone.equals(HashNetConfig.MOBILENET_V2))) {
      throw usage("--epochs 0 (no training) needs --backbone mobilenet_v2 --codes itq");
    }
    if (train.refit && (resume || labelFree)) {
      throw usage("--refit goes with a fresh training (not with --resume, nor with --epochs 0)");
    }
    if (train.batchNorm && backbone.equals(HashNetConfig.MOBILENET_V2)) {
      throw usage("--batch-norm is for --backbone scratch (mobilenet_v2 has its own, folded into its weights)");
    }
    if (labelFree) {
      train.epochs = 1; // recorded, not run
    }
    untrained = labelFree;
    train.validate();
    if (backbone.equals(HashNetConfig.MOBILENET_V2) && size == null) {
      shape = new int[] {128, 128, 3};
    }
    if (size != null) {
      shape = parseSize(size);
      if (shape == null) {
        throw usage("--size is HxW or HxWxC with sides in [8, 4096] and 1 to 4 channels, e.g. 32x32x3 (passed '"
            + size + "')");
      }
    }
  }

  /** {H, W, C} of "HxWxC" or "HxW" (3 channels), or null when malformed or out of range. */
  static int[] parseSize(String s) {
    String[] p = s.toLowerCase(Locale.ROOT).split("x");
    try {
      int[] r = p.length == 2 ? new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1]), 3}
          : p.length == 3 ? new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2])} : null;
      return r != null && r[0] >= 8 && r[0] <= 4096 && r[1] >= 8 && r[1] <= 4096 && r[2] >= 1 && r[2] <= 4 ? r : null;
    } catch (NumberFormatException e) {
      return null;
    }
  }

  @Override
  protected int run() throws Exception {
    Dataset trainSet = Datasets.load(data, Datasets.Split.TRAIN, shape[0], shape[1], shape[2]);
    Dataset test = noTest ? null : Datasets.load(data, Datasets.Split.TEST, shape[0], shape[1], shape[2]);
    TrainOptions o = train.trainOptions(trainSet.channels());
    boolean mobile = backbone.equals(HashNetConfig.MOBILENET_V2);
    if (mobile && trainSet.channels() != 3) {
      throw usage("--backbone mobilenet_v2 takes RGB images (the data has " + trainSet.channels() + " channels)");
    }
    HashNetConfig config = mobile ? HashNetConfig.mobileNetV2(trainSet.height(), trainSet.width(), train.bits,
        trainSet.classNames()) : train.netConfig(trainSet);
    Pipeline.Backbone b = new Pipeline.Backbone(mobile && !resume ? MobileNetV2.imageNet(pretrained) : null,
        codes.equals("itq"), !untrained);
    Dataset[] parts = train.split(trainSet);
    Pipeline.TrainResult selected = Pipeline.train(parts[0], parts[1], model, config, o, resume,
        TrainingData.canonical(data), b, progress(), err);
    Pipeline.TrainResult r = train.refitIfAsked(selected, parts[1], trainSet, model, config, o, b, progress(), err);
    double testAccuracy = Double.NaN;
    if (test != null) {
      try (var enc = org.deephash.model.net.Encoder.open(model)) {
        int[] predicted = enc.encode(test).predicted();
        int correct = 0;
        for (int i = 0; i < test.count(); i++) {
          correct += predicted[i] == test.labels()[i] ? 1 : 0;
        }
        testAccuracy = correct / (double) test.count();
      }
      err.printf(Locale.ROOT, "test accuracy of the kept model: %.4f (reported only; nothing is chosen on it)%n",
          testAccuracy);
    }
    out.println(new Json().put("command", "train").put("model", r.model().root().toString())
        .put("data", TrainingData.canonical(data)).put("epochs", selected.summary().epochs())
        .put("kept_epoch", selected.summary().keptEpoch())
        .put("validation_accuracy", Double.isNaN(selected.summary().keptValidationAccuracy()) ? null
            : Json.round(selected.summary().keptValidationAccuracy(), 5))
        .put("refit_images", r == selected ? null : trainSet.count())
        .put("refit_epochs", r == selected ? null : r.summary().epochs())
        .put("steps", r.summary().steps())
        .put("loss", Json.round(r.summary().lastLoss(), 5)).put("train_accuracy", Json.round(r.summary().trainAccuracy(), 5))
        .put("test_accuracy", Double.isNaN(testAccuracy) ? null : Json.round(testAccuracy, 5))
        .put("seconds", Json.round(selected.seconds() + (r == selected ? 0 : r.seconds()), 1)));
    return 0;
  }
}
