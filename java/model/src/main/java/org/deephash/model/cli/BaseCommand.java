package org.deephash.model.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import org.deephash.Pool;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.DatasetException;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.TrainOptions;
import org.deephash.spi.CliCommand;

/**
 * Shared plumbing of the model's commands: argument parsing, and turning user errors (bad usage,
 * unusable datasets, missing files) into a one-line message and exit status 2 instead of a stack
 * trace.
 */
public abstract class BaseCommand implements CliCommand {

  /** Option names that take a value. */
  protected abstract List<String> valueOptions();

  /** Option names that are flags. */
  protected abstract List<String> flagOptions();

  /** Multi-line usage text. */
  protected abstract String usage();

  protected abstract int execute(Args args, PrintStream out, PrintStream err) throws Exception;

  @Override
  public final int run(String[] argv, PrintStream out, PrintStream err) throws Exception {
    try {
      Args args = new Args(argv, valueOptions(), flagOptions());
      if (args.flag("help")) {
        out.println(usage());
        return 0;
      }
      return execute(args, out, err);
    } catch (Args.UsageException | IllegalArgumentException e) {
      err.println("engine-cli " + name() + ": " + e.getMessage());
      if (e instanceof Args.UsageException) {
        err.println(usage());
      }
      return 2;
    } catch (DatasetException e) {
      err.println("engine-cli " + name() + ": " + e.getMessage());
      return 2;
    } catch (IOException e) {
      err.println("engine-cli " + name() + ": " + e.getMessage());
      return 1;
    }
  }

  static final List<String> TRAIN_VALUES = List.of("bits", "epochs", "batch", "lr", "lr-decay", "optimizer",
      "momentum", "weight-decay", "dropout", "ssdh-push", "ssdh-balance", "augment", "crop", "seed", "max-steps", "conv1", "conv2", "f7");

  static final String TRAIN_USAGE = """
        --bits B            code width, 12..256 (default 48)
          --conv1 N --conv2 N --f7 N   layer widths (default 32, 32, 512)
        --epochs N          passes over the training images (default 8)
        --batch N           images per step (default 64)
        --optimizer adam|momentum   (default adam)
        --lr X              initial learning rate (default 1e-3 for adam, 0.01 for momentum)
        --lr-decay X        learning rate multiplied by X after each epoch (default 0.7)
        --momentum X        SGD momentum (default 0.9)
        --weight-decay X    L2 weight decay (default 5e-5)
        --dropout X         dropout on F7 while training (default 0.5)
        --ssdh-push X       weight of the SSDH term pushing activations away from 0.5 (default 0.1)
        --ssdh-balance X    weight of the SSDH term keeping each bit on for half the images (default 0.1)
        --augment auto|none|flip|crop|flip,crop   (default auto: flip and crop for colour images)
        --crop P            padding in pixels of the random crop (default 4)
        --seed S            seed of weights, shuffling, augmentation and dropout (default 42)
        --max-steps N       stop after N steps (quick runs)""";

  /** The network for {@code train}'s images: --bits and the layer widths. */
  static HashNetConfig netConfig(Args a, Dataset train) {
    return HashNetConfig.of(train.height(), train.width(), train.channels(), a.getInt("bits", 48), train.classNames())
        .withWidths(a.getInt("conv1", HashNetConfig.DEFAULT_CONV1), a.getInt("conv2", HashNetConfig.DEFAULT_CONV2),
            a.getInt("f7", HashNetConfig.DEFAULT_F7));
  }

  static TrainOptions trainOptions(Args a, int channels) {
    TrainOptions d = TrainOptions.defaults();
    TrainOptions.Optimizer opt = switch (a.get("optimizer", "adam").toLowerCase(Locale.ROOT)) {
      case "adam" -> TrainOptions.Optimizer.ADAM;
      case "momentum", "sgd" -> TrainOptions.Optimizer.MOMENTUM;
      default -> throw new Args.UsageException("--optimizer is adam or momentum");
    };
    float lr = a.getFloat("lr", opt == TrainOptions.Optimizer.ADAM ? d.learningRate() : 0.01f);
    String aug = a.get("augment", "auto").toLowerCase(Locale.ROOT);
    boolean flip;
    boolean crop;
    switch (aug) {
      case "auto" -> {
        flip = channels == 3;
        crop = channels == 3;
      }
      case "none" -> {
        flip = false;
        crop = false;
      }
      default -> {
        List<String> parts = List.of(aug.split(","));
        for (String p : parts) {
          if (!p.equals("flip") && !p.equals("crop")) {
            throw new Args.UsageException("--augment takes auto, none, flip, crop or flip,crop (passed '" + aug + "')");
          }
        }
        flip = parts.contains("flip");
        crop = parts.contains("crop");
      }
    }
    return new TrainOptions(a.getInt("epochs", d.epochs()), a.getInt("batch", d.batch()), opt, lr,
        a.getFloat("lr-decay", d.lrDecay()), a.getFloat("momentum", d.momentum()),
        a.getFloat("weight-decay", d.weightDecay()), a.getFloat("dropout", d.dropout()),
        a.getFloat("ssdh-push", d.pushWeight()), a.getFloat("ssdh-balance", d.balanceWeight()), flip,
        crop ? a.getInt("crop", 4) : 0, a.getLong("seed", d.seed()), a.getInt("max-steps", 0));
  }

  static final List<String> POOL_VALUES = List.of("pool", "radius", "cap");

  static final String POOL_USAGE = """
        --pool M            coarse stage of HDS: the Hamming top-M (default 1000)
        --radius R          coarse stage of HDS: every code within Hamming radius R instead
        --cap C             at most C candidates from the radius (default 5000)""";

  static Pool pool(Args a, int defaultM) {
    if (a.has("radius")) {
      if (a.has("pool")) {
        throw new Args.UsageException("give --pool or --radius, not both");
      }
      return Pool.radius(a.getInt("radius", 2), a.getInt("cap", 5000));
    }
    return Pool.topM(a.getInt("pool", defaultM));
  }

  /** "HxWxC" or "HxW" (3 channels) for folder datasets. */
  static int[] size(Args a) {
    String s = a.get("size", "");
    if (s.isEmpty()) {
      return new int[] {0, 0, 0};
    }
    String[] p = s.toLowerCase(Locale.ROOT).split("x");
    try {
      if (p.length == 2) {
        return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1]), 3};
      }
      if (p.length == 3) {
        return new int[] {Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2])};
      }
    } catch (NumberFormatException e) {
      // fall through
    }
    throw new Args.UsageException("--size is HxW or HxWxC, e.g. 32x32x3 (passed '" + s + "')");
  }
}
