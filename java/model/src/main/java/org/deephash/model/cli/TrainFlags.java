package org.deephash.model.cli;

import java.util.List;
import java.util.Locale;
import org.deephash.cli.api.CliCommand;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.TrainOptions;
import org.deephash.model.net.Trainer;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The training options that {@code train} and {@code demo} share (a picocli mixin), checked before any data is read. */
public final class TrainFlags {
  private static final TrainOptions D = TrainOptions.defaults();
  /** Validation images held out by default (at most a tenth of the training set). */
  static final int DEFAULT_VALIDATION = 5000;

  /** Flags whose defaults are another schedule ({@code demo}'s): picocli shows and applies them. */
  static TrainFlags withSchedule(int epochs, float lrDecay) {
    TrainFlags f = new TrainFlags();
    f.epochs = epochs;
    f.lrDecay = lrDecay;
    return f;
  }

  /** --optimizer values; sgd is momentum. */
  enum Optimizer { adam, momentum, sgd }

  @Spec(Spec.Target.MIXEE)
  CommandSpec mixee;

  @Option(names = "--bits", paramLabel = "B",
      description = "Code width, " + HashNetConfig.MIN_BITS + "..." + HashNetConfig.MAX_BITS + " (default: ${DEFAULT-VALUE}).")
  int bits = 48;

  @Option(names = "--conv1", paramLabel = "N", description = "Filters of the first convolution (default: ${DEFAULT-VALUE}).")
  int conv1 = HashNetConfig.DEFAULT_CONV1;

  @Option(names = "--conv2", paramLabel = "N", description = "Filters of the second convolution (default: ${DEFAULT-VALUE}).")
  int conv2 = HashNetConfig.DEFAULT_CONV2;

  @Option(names = "--f7", paramLabel = "N", description = "Width of the F7 feature layer (default: ${DEFAULT-VALUE}).")
  int f7 = HashNetConfig.DEFAULT_F7;

  @Option(names = "--batch-norm",
      description = "Batch-normalise both convolutions (running statistics at inference).")
  boolean batchNorm;

  @Option(names = "--epochs", paramLabel = "N", description = "Passes over the training images (default: ${DEFAULT-VALUE}).")
  int epochs = D.epochs();

  @Option(names = "--batch", paramLabel = "N", description = "Images per step (default: ${DEFAULT-VALUE}).")
  int batch = D.batch();

  @Option(names = "--optimizer", paramLabel = "NAME", description = "adam or momentum (sgd) (default: ${DEFAULT-VALUE}).")
  Optimizer optimizer = Optimizer.adam;

  @Option(names = "--lr", paramLabel = "X",
      description = "Initial learning rate (default: 1e-3 for adam, 0.01 for momentum).")
  Float lr;

  @Option(names = "--lr-decay", paramLabel = "X",
      description = "Learning rate multiplied by X after each epoch (default: ${DEFAULT-VALUE}).")
  float lrDecay = D.lrDecay();

  @Option(names = "--momentum", paramLabel = "X", description = "SGD momentum, in [0, 1) (default: ${DEFAULT-VALUE}).")
  float momentum = D.momentum();

  @Option(names = "--weight-decay", paramLabel = "X", description = "L2 weight decay (default: ${DEFAULT-VALUE}).")
  float weightDecay = D.weightDecay();

  @Option(names = "--dropout", paramLabel = "X", description = "Dropout on F7 while training, in [0, 1) (default: ${DEFAULT-VALUE}).")
  float dropout = D.dropout();

  @Option(names = "--ssdh-push", paramLabel = "X",
      description = "Weight of the SSDH term pushing activations away from 0.5 (default: ${DEFAULT-VALUE}).")
  float push = D.pushWeight();

  @Option(names = "--ssdh-balance", paramLabel = "X",
      description = "Weight of the SSDH term keeping each bit on for half the images (default: ${DEFAULT-VALUE}).")
  float balance = D.balanceWeight();

  @Option(names = "--ema", paramLabel = "D",
      description = "Validate and export an exponential moving average of the weights, updated after every step"
          + " with decay D (0.999: about the last 1,000 steps; a shorter horizon during the first steps), in [0, 1);"
          + " 0: the trained weights (default: ${DEFAULT-VALUE}).")
  float ema = D.averageDecay();

  @Option(names = "--augment", paramLabel = "A",
      description = "auto, none, flip, crop or flip,crop (default: ${DEFAULT-VALUE}: flip and crop for colour images).")
  String augment = "auto";

  @Option(names = "--crop", paramLabel = "P", description = "Padding in pixels of the random crop (default: ${DEFAULT-VALUE}).")
  int crop = 4;

  @Option(names = "--seed", paramLabel = "S",
      description = "Seed of weights, shuffling, augmentation and dropout (default: ${DEFAULT-VALUE}).")
  long seed = D.seed();

  @Option(names = "--validation", paramLabel = "N",
      description = {"Training images held out (stratified, seeded by --seed) to choose the epoch to keep and",
          "the fine stage of the coarse-to-fine search; 0: none, keep the last epoch (default: 5000, at most",
          "a tenth of the training images)."})
  Integer validation;

  @Option(names = "--refit", description = {"After selection on the validation split, train again from the start on",
      "all training images (the split included) for as many epochs as the latest epoch within one standard error",
      "of the best validation accuracy, and keep that network; the fine stage stays the one chosen on validation.",
      "Twice the training time."})
  boolean refit;

  @Option(names = "--max-steps", paramLabel = "N", description = "Stop after N steps, 0 for no limit (quick runs).")
  int maxSteps = 0;

  private ParameterException usage(String message) {
    return new ParameterException(mixee.commandLine(), message);
  }

  /** Every range, before any data is read. */
  void validate() {
    range("--bits", bits, HashNetConfig.MIN_BITS, HashNetConfig.MAX_BITS);
    range("--conv1", conv1, 1, 4096);
    range("--conv2", conv2, 1, 4096);
    range("--f7", f7, 8, 65536);
    range("--epochs", epochs, 1, 1_000_000);
    range("--batch", batch, 1, 1 << 20);
    if (lr != null) {
      CliCommand.requireRange(mixee, "--lr", lr, 1e-9, 10);
    }
    CliCommand.requireRange(mixee, "--lr-decay", lrDecay, 1e-6, 10);
    halfOpenUnit("--momentum", momentum);
    halfOpenUnit("--weight-decay", weightDecay);
    halfOpenUnit("--dropout", dropout);
    halfOpenUnit("--ema", ema);
    CliCommand.requireRange(mixee, "--ssdh-push", push, 0, 1e6);
    CliCommand.requireRange(mixee, "--ssdh-balance", balance, 0, 1e6);
    range("--crop", crop, 0, 1024);
    range("--max-steps", maxSteps, 0, Integer.MAX_VALUE);
    if (validation != null) {
      range("--validation", validation, 0, Integer.MAX_VALUE);
    }
    if (refit && validation != null && validation == 0) {
      throw usage("--refit retrains for the epoch count chosen on the validation split: drop --validation 0");
    }
    augmentation(3);
  }

  /**
   * With --refit, trains again on all of {@code trainSet} (see {@link Pipeline#refit}) for the
   * epoch count {@link Trainer#refitEpochs} takes from the selection run's validation curve on
   * {@code validation}, and returns that result; otherwise {@code selected}.
   */
  Pipeline.TrainResult refitIfAsked(Pipeline.TrainResult selected, Dataset validation, Dataset trainSet,
      java.nio.file.Path model, HashNetConfig config, TrainOptions o, Pipeline.Backbone b,
      org.deephash.cli.api.Progress progress, java.io.PrintStream log) throws java.io.IOException {
    Trainer.Summary s = selected.summary();
    if (!refit || validation == null || s.keptEpoch() < 1) {
      return selected;
    }
    int epochs = Trainer.refitEpochs(s.validationAccuracy(), s.epochs(), validation.count());
    if (epochs != s.keptEpoch()) {
      log.printf(Locale.ROOT,
          "refit: epoch %d's validation accuracy %.4f is within one standard error (%.4f on %d images) of the best,"
              + " epoch %d's %.4f: the refit trains for %d epochs%n",
          epochs, s.validationAccuracy()[epochs - 1], Trainer.standardError(s.keptValidationAccuracy(),
              validation.count()), validation.count(), s.keptEpoch(), s.keptValidationAccuracy(), epochs);
    }
    return Pipeline.refit(trainSet, model, config, o, epochs, b, progress, log);
  }

  /** A fraction in [0, 1). */
  private void halfOpenUnit(String option, float v) {
    if (!(v >= 0 && v < 1)) {
      throw usage(option + " must be a number in [0, 1) (passed " + v + ")");
    }
  }

  private void range(String option, long v, long min, long max) {
    CliCommand.requireRange(mixee, option, v, min, max);
  }

  /** {flip, crop} for images with {@code channels} channels. */
  private boolean[] augmentation(int channels) {
    String a = augment.toLowerCase(Locale.ROOT);
    switch (a) {
      case "auto" -> {
        return new boolean[] {channels == 3, channels == 3};
      }
      case "none" -> {
        return new boolean[] {false, false};
      }
      default -> {
        List<String> parts = List.of(a.split(","));
        for (String p : parts) {
          if (!p.equals("flip") && !p.equals("crop")) {
            throw usage("--augment takes auto, none, flip, crop or flip,crop (passed '" + augment + "')");
          }
        }
        return new boolean[] {parts.contains("flip"), parts.contains("crop")};
      }
    }
  }

  /** The network for {@code train}'s images: --bits and the layer widths. */
  HashNetConfig netConfig(Dataset train) {
    return HashNetConfig.of(train.height(), train.width(), train.channels(), bits, train.classNames())
        .withWidths(conv1, conv2, f7).withBatchNorm(batchNorm);
  }

  /**
   * {training part, validation part} of the training images: the split of --validation images
   * (seeded by --seed), or {all, null} with --validation 0.
   */
  Dataset[] split(Dataset train) {
    int n = validation != null ? validation : Math.min(DEFAULT_VALIDATION, train.count() / 10);
    if (n == 0) {
      return new Dataset[] {train, null};
    }
    if (n >= train.count()) {
      throw usage("--validation " + n + " leaves no training image (the data set has " + train.count()
          + "): pass a smaller number, or 0 for none");
    }
    org.deephash.model.data.ValidationSplit s = org.deephash.model.data.ValidationSplit.of(train, n, seed);
    return new Dataset[] {s.train(), s.validation()};
  }

  TrainOptions trainOptions(int channels) {
    TrainOptions.Optimizer opt = optimizer == Optimizer.adam ? TrainOptions.Optimizer.ADAM
        : TrainOptions.Optimizer.MOMENTUM;
    float rate = lr != null ? lr : opt == TrainOptions.Optimizer.ADAM ? D.learningRate() : 0.01f;
    boolean[] aug = augmentation(channels);
    return new TrainOptions(epochs, batch, opt, rate, lrDecay, momentum, weightDecay, dropout, push, balance, aug[0],
        aug[1] ? crop : 0, seed, maxSteps, ema);
  }
}
