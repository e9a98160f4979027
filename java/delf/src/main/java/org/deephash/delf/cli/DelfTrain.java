package org.deephash.delf.cli;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.deephash.delf.data.Photos;
import org.deephash.delf.data.Views;
import org.deephash.delf.net.DelfConfig;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.io.Json;
import org.deephash.model.cli.TensorFlowCommand;
import org.deephash.model.pretrained.MobileNetV2;
import org.deephash.model.pretrained.TfjsLayersModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code engine-cli delf train}: the two-stage DELF training on the training photos' augmented views. */
@Command(name = "train",
    description = "Train the backbone (stage 1) then the attention head (stage 2) on the training photos.")
final class DelfTrain extends TensorFlowCommand {
  private static final DelfTrainer.Options D = DelfTrainer.Options.defaults();

  @Option(names = "--photos", paramLabel = "DIR",
      description = "The photo folder made by bench/delf/setup-photos.sh (default: ${DEFAULT-VALUE}).")
  Path photosDir = Path.of("data/photos");

  @Option(names = "--max-side", paramLabel = "N",
      description = "Photos are loaded with their longer side at most N px (default: ${DEFAULT-VALUE}).")
  int maxSide = 256;

  @Option(names = "--model", paramLabel = "DIR", description = "Where the network goes (default: ${DEFAULT-VALUE}).")
  Path model = Path.of("runs/delf");

  @Option(names = "--backbone", paramLabel = "B",
      description = {DelfConfig.RESIDUAL + " (trained from scratch, stride 8; the default) or " + DelfConfig.MOBILENET_V2,
          "(MobileNetV2 through block 10, ImageNet weights, stride 16)."})
  String backbone = DelfConfig.RESIDUAL;

  @Option(names = "--pretrained", paramLabel = "DIR",
      description = {"The TF.js MobileNetV2 for --backbone " + DelfConfig.MOBILENET_V2 + " (default: ${DEFAULT-VALUE},",
          "made by bench/delf/setup-pretrained.sh)."})
  Path pretrained = Path.of("data/pretrained/mobilenet_v2");

  @Option(names = "--from", paramLabel = "DIR",
      description = "Continue from a trained network (e.g. --descriptor-epochs 0 to train attention only).")
  Path from;

  @Option(names = "--side", paramLabel = "N",
      description = "Training crop side, a multiple of the stride (8, or 16 for mobilenet_v2) (default: ${DEFAULT-VALUE}).")
  int side = D.side();

  @Option(names = "--batch", paramLabel = "N", description = "Images per step (default: ${DEFAULT-VALUE}).")
  int batch = D.batch();

  @Option(names = "--views", paramLabel = "N", description = "Augmented views of each photo per epoch (default: ${DEFAULT-VALUE}).")
  int views = D.viewsPerPhoto();

  @Option(names = "--descriptor-epochs", paramLabel = "N", description = "Stage 1 epochs (default: ${DEFAULT-VALUE}).")
  int descriptorEpochs = D.descriptorEpochs();

  @Option(names = "--attention-epochs", paramLabel = "N",
      description = "Stage 2 epochs, descriptors fixed, scale augmentation (default: ${DEFAULT-VALUE}).")
  int attentionEpochs = D.attentionEpochs();

  @Option(names = "--lr", paramLabel = "X", description = "Learning rate (default: ${DEFAULT-VALUE}).")
  float lr = D.lr();

  @Option(names = "--lr-decay", paramLabel = "X", description = "Learning rate factor per epoch (default: ${DEFAULT-VALUE}).")
  float lrDecay = D.lrDecay();

  @Option(names = "--seed", paramLabel = "S", description = "Seed of weights and views (default: ${DEFAULT-VALUE}).")
  long seed = D.seed();

  @Override
  protected void validate() {
    if (!backbone.equals(DelfConfig.RESIDUAL) && !backbone.equals(DelfConfig.MOBILENET_V2)) {
      throw usage("--backbone takes " + DelfConfig.RESIDUAL + " or " + DelfConfig.MOBILENET_V2 + " (passed '"
          + backbone + "')");
    }
    requireRange("--max-side", maxSide, 16, 16384);
    int stride = backbone.equals(DelfConfig.MOBILENET_V2) && from == null ? 16 : 8;
    requireRange("--side", side, 16, 4096);
    if (side % stride != 0) {
      throw usage("--side must be a multiple of " + stride + " (passed " + side + ")");
    }
    requireRange("--batch", batch, 1, 4096);
    requireRange("--views", views, 1, 100_000);
    requireRange("--descriptor-epochs", descriptorEpochs, 0, 100_000);
    requireRange("--attention-epochs", attentionEpochs, 0, 100_000);
    requireRange("--lr", lr, 1e-9, 10);
    requireRange("--lr-decay", lrDecay, 1e-6, 10);
  }

  @Override
  protected int run() throws Exception {
    DelfTrainer.Options o = new DelfTrainer.Options(side, batch, views, descriptorEpochs, attentionEpochs, lr, lrDecay,
        seed);
    Photos photos = Photos.read(photosDir.resolve("manifest.tsv"));
    List<Photos.Photo> train = photos.withRole(Photos.Role.TRAIN);
    List<BufferedImage> images = DelfFiles.load(photos, train, maxSide, progress());
    err.printf(Locale.ROOT, "training DELF on %d photos (one class each), %d views each per epoch%n", images.size(),
        o.viewsPerPhoto());
    long t0 = System.nanoTime();
    DelfNet start = from != null ? DelfTrainer.open(from) : create(backbone, pretrained, images.size(), o.seed(), err);
    try (DelfNet net = new DelfTrainer(err).train(start, o, views(images), model)) {
      out.println(new Json().put("command", "delf train").put("model", model.toString()).put("photos", images.size())
          .put("seconds", Json.round((System.nanoTime() - t0) / 1e9, 1)));
    }
    return 0;
  }

  /** A new network: the residual backbone from seeded weights, or MobileNetV2 from its ImageNet weights. */
  static DelfNet create(String backbone, Path pretrained, int classes, long seed, PrintStream err) throws IOException {
    switch (backbone) {
      case DelfConfig.RESIDUAL -> {
        return DelfNet.create(DelfConfig.of(classes, seed));
      }
      case DelfConfig.MOBILENET_V2 -> { }
      default -> throw new IllegalArgumentException("--backbone takes " + DelfConfig.RESIDUAL + " or "
          + DelfConfig.MOBILENET_V2 + " (passed '" + backbone + "')");
    }
    DelfConfig config = DelfConfig.mobileNet(classes, seed);
    if (!Files.isDirectory(pretrained)) {
      throw new IOException("no pretrained MobileNetV2 at " + pretrained
          + ": run bench/delf/setup-pretrained.sh (or pass --pretrained DIR)");
    }
    TfjsLayersModel model = TfjsLayersModel.read(pretrained);
    err.printf(Locale.ROOT, "MobileNetV2 through block %d from %s (%d weights)%n", MobileNetV2.LAST_IMAGENET_BLOCK,
        pretrained, model.weights().size());
    return DelfNet.create(config, MobileNetV2.fold(model, MobileNetV2.LAST_IMAGENET_BLOCK));
  }

  /** Strongly augmented training views of the photos (photo i = class i). */
  static DelfTrainer.ViewSource views(List<BufferedImage> images) {
    return new DelfTrainer.ViewSource() {
      @Override
      public int photos() {
        return images.size();
      }

      @Override
      public BufferedImage view(int i, SplittableRandom random) {
        return Views.training(images.get(i), random.nextLong()).image();
      }
    };
  }
}
