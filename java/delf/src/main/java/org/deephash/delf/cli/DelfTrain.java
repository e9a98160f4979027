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
      description = {"auto (the default: " + DelfConfig.MOBILENET_V2 + " when the pretrained weights are there, else "
          + DelfConfig.RESIDUAL + "), " + DelfConfig.MOBILENET_V2 + " (MobileNetV2 through block 10, ImageNet weights,",
          "stride 16) or " + DelfConfig.RESIDUAL + " (trained from scratch, stride 8)."})
  String backbone = AUTO;

  @Option(names = "--pretrained", paramLabel = "DIR",
      description = {"The TF.js MobileNetV2 for --backbone " + DelfConfig.MOBILENET_V2 + " (default: ${DEFAULT-VALUE},",
          "made by bench/delf/setup-pretrained.sh)."})
  Path pretrained = Path.of("data/pretrained/mobilenet_v2");

  @Option(names = "--from", paramLabel = "DIR",
      description = "Continue from a trained network (e.g. --descriptor-epochs 0 to train attention only).")
  Path from;

  @Option(names = "--side", paramLabel = "N",
      description = {"Training crop side, a multiple of the stride (8, or 16 for mobilenet_v2) (default: "
          + RECIPE_SIDE + " for mobilenet_v2, " + 96 + " for residual)."})
  Integer side;

  @Option(names = "--batch", paramLabel = "N", description = "Images per step (default: ${DEFAULT-VALUE}).")
  int batch = D.batch();

  @Option(names = "--views", paramLabel = "N",
      description = "Augmented views of each photo per epoch (default: " + RECIPE_VIEWS + " for mobilenet_v2, 12 for residual).")
  Integer views;

  @Option(names = "--descriptor-epochs", paramLabel = "N",
      description = {"Stage 1 epochs (default: the recipe below for mobilenet_v2, " + 6 + " for residual). Without any of",
          "the four schedule options, mobilenet_v2 trains with the recipe of docs/DELF.md: stage 1 " + WARMUP_EPOCHS
              + " epochs at " + WARMUP_LR + ",",
          "then " + RECIPE_DESCRIPTOR_EPOCHS + " at " + RECIPE_LR + " (decay " + RECIPE_DECAY + " per epoch), stage 2 "
              + RECIPE_ATTENTION_EPOCHS + " epochs."})
  Integer descriptorEpochs;

  @Option(names = "--attention-epochs", paramLabel = "N",
      description = "Stage 2 epochs, descriptors fixed, scale augmentation (default: the recipe, or 3 for residual).")
  Integer attentionEpochs;

  @Option(names = "--lr", paramLabel = "X", description = "Learning rate (default: the recipe, or 1e-3 for residual).")
  Float lr;

  @Option(names = "--lr-decay", paramLabel = "X",
      description = "Learning rate factor per epoch (default: the recipe, or 0.75 for residual).")
  Float lrDecay;

  @Option(names = "--seed", paramLabel = "S", description = "Seed of weights and views (default: ${DEFAULT-VALUE}).")
  long seed = D.seed();

  /** {@code --backbone auto}: MobileNetV2 when its weights are present. */
  static final String AUTO = "auto";
  // The recipe behind the README's DELF figure (docs/DELF.md): a warm-up of stage 1 at a low rate,
  // then stage 1 at 5e-4 and stage 2, at side 128 with 16 views per photo and epoch.
  static final int RECIPE_SIDE = 128;
  static final int RECIPE_VIEWS = 16;
  static final int WARMUP_EPOCHS = 4;
  static final float WARMUP_LR = 1e-4f;
  static final int RECIPE_DESCRIPTOR_EPOCHS = 8;
  static final int RECIPE_ATTENTION_EPOCHS = 8;
  static final float RECIPE_LR = 5e-4f;
  static final float RECIPE_DECAY = 0.85f;

  /** The backbone to train, once resolved. */
  private String use;

  @Override
  protected void validate() {
    if (!backbone.equals(AUTO) && !backbone.equals(DelfConfig.RESIDUAL) && !backbone.equals(DelfConfig.MOBILENET_V2)) {
      throw usage("--backbone takes " + AUTO + ", " + DelfConfig.RESIDUAL + " or " + DelfConfig.MOBILENET_V2
          + " (passed '" + backbone + "')");
    }
    use = !backbone.equals(AUTO) ? backbone
        : from == null && Files.isDirectory(pretrained) ? DelfConfig.MOBILENET_V2 : DelfConfig.RESIDUAL;
    requireRange("--max-side", maxSide, 16, 16384);
    int stride = use.equals(DelfConfig.MOBILENET_V2) && from == null ? 16 : 8;
    if (side != null) {
      requireRange("--side", side, 16, 4096);
      if (side % stride != 0) {
        throw usage("--side must be a multiple of " + stride + " (passed " + side + ")");
      }
    }
    requireRange("--batch", batch, 1, 4096);
    if (views != null) {
      requireRange("--views", views, 1, 100_000);
    }
    if (descriptorEpochs != null) {
      requireRange("--descriptor-epochs", descriptorEpochs, 0, 100_000);
    }
    if (attentionEpochs != null) {
      requireRange("--attention-epochs", attentionEpochs, 0, 100_000);
    }
    if (lr != null) {
      requireRange("--lr", lr, 1e-9, 10);
    }
    if (lrDecay != null) {
      requireRange("--lr-decay", lrDecay, 1e-6, 10);
    }
  }

  /**
   * The phases to train: the recipe (two phases) for a new MobileNetV2 when no schedule option is
   * given, else one phase from the options and the residual network's defaults.
   */
  List<DelfTrainer.Options> schedule() {
    boolean mobile = use.equals(DelfConfig.MOBILENET_V2) && from == null;
    int s = side != null ? side : mobile ? RECIPE_SIDE : D.side();
    int v = views != null ? views : mobile ? RECIPE_VIEWS : D.viewsPerPhoto();
    if (mobile && descriptorEpochs == null && attentionEpochs == null && lr == null && lrDecay == null) {
      return List.of(new DelfTrainer.Options(s, batch, v, WARMUP_EPOCHS, 0, WARMUP_LR, D.lrDecay(), seed),
          new DelfTrainer.Options(s, batch, v, RECIPE_DESCRIPTOR_EPOCHS, RECIPE_ATTENTION_EPOCHS, RECIPE_LR,
              RECIPE_DECAY, seed + 1));
    }
    return List.of(new DelfTrainer.Options(s, batch, v, descriptorEpochs != null ? descriptorEpochs
        : D.descriptorEpochs(), attentionEpochs != null ? attentionEpochs : D.attentionEpochs(),
        lr != null ? lr : D.lr(), lrDecay != null ? lrDecay : D.lrDecay(), seed));
  }

  @Override
  protected int run() throws Exception {
    List<DelfTrainer.Options> phases = schedule();
    Photos photos = Photos.read(photosDir.resolve("manifest.tsv"));
    List<Photos.Photo> train = photos.withRole(Photos.Role.TRAIN);
    if (backbone.equals(AUTO) && use.equals(DelfConfig.RESIDUAL) && from == null) {
      err.println(commandPath() + ": note: no pretrained MobileNetV2 at " + pretrained + ", so the residual backbone is"
          + " trained from scratch; run bench/delf/setup-pretrained.sh for the recommended network");
    }
    List<BufferedImage> images = DelfFiles.load(photos, train, maxSide, progress());
    err.printf(Locale.ROOT, "training DELF (%s) on %d photos (one class each), side %d, %d views each per epoch%n",
        from != null ? "from " + from : use, images.size(), phases.get(0).side(), phases.get(0).viewsPerPhoto());
    for (int i = 0; i < phases.size(); i++) {
      DelfTrainer.Options o = phases.get(i);
      err.printf(Locale.ROOT, "phase %d/%d: stage 1 %d epochs, stage 2 %d epochs, lr %.1e, decay %.2f per epoch%n",
          i + 1, phases.size(), o.descriptorEpochs(), o.attentionEpochs(), o.lr(), o.lrDecay());
    }
    long t0 = System.nanoTime();
    DelfNet net = from != null ? DelfTrainer.open(from) : create(use, pretrained, images.size(), seed, err);
    DelfTrainer trainer = new DelfTrainer(err);
    for (DelfTrainer.Options o : phases) {
      net = trainer.train(net, o, views(images), model);
    }
    try (DelfNet done = net) {
      out.println(new Json().put("command", "delf train").put("model", model.toString()).put("backbone",
          done.config().backbone()).put("photos", images.size()).put("phases", phases.size())
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
