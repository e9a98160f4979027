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
import org.deephash.delf.net.MobileNetV2;
import org.deephash.model.cli.Args;
import org.deephash.model.cli.BaseCommand;
import org.deephash.model.pretrained.TfjsLayersModel;

/** {@code engine-cli delf train}: the two-stage DELF training on the training photos' augmented views. */
final class DelfTrain extends BaseCommand {
  static final String PHOTOS_USAGE = """
          --photos DIR        the photo folder made by bench/delf/setup-photos.sh (default data/photos)
          --max-side N        photos are loaded with their longer side at most N px (default 256)""";

  @Override
  public String name() {
    return "train";
  }

  @Override
  public String summary() {
    return "train the backbone (stage 1) then the attention head (stage 2) on the training photos";
  }

  @Override
  protected List<String> valueOptions() {
    return List.of("photos", "model", "max-side", "side", "batch", "views", "descriptor-epochs", "attention-epochs",
        "lr", "lr-decay", "seed", "from", "backbone", "pretrained");
  }

  @Override
  protected List<String> flagOptions() {
    return List.of("help");
  }

  @Override
  protected String usage() {
    DelfTrainer.Options d = DelfTrainer.Options.defaults();
    return """
        usage: engine-cli delf train [--photos DIR] [--model DIR] [options]
          --model DIR         where the network goes (default runs/delf)
          --backbone B        residual (trained from scratch, stride 8; the default) or mobilenet_v2
                              (MobileNetV2 through block 10, ImageNet weights, stride 16)
          --pretrained DIR    the TF.js MobileNetV2 for --backbone mobilenet_v2
                              (default data/pretrained/mobilenet_v2, made by bench/delf/setup-pretrained.sh)
        """ + PHOTOS_USAGE + String.format(Locale.ROOT, """

          --side N            training crop side, a multiple of the stride (8, or 16 for mobilenet_v2; default %d)
          --batch N           images per step (default %d)
          --views N           augmented views of each photo per epoch (default %d)
          --descriptor-epochs N   stage 1 epochs (default %d)
          --attention-epochs N    stage 2 epochs, descriptors fixed, scale augmentation (default %d)
          --lr X --lr-decay X --seed S
          --from DIR          continue from a trained network (e.g. --descriptor-epochs 0 to train attention only)
        """, d.side(), d.batch(), d.viewsPerPhoto(), d.descriptorEpochs(), d.attentionEpochs());
  }

  @Override
  protected int execute(Args a, PrintStream out, PrintStream err) throws Exception {
    DelfTrainer.Options d = DelfTrainer.Options.defaults();
    DelfTrainer.Options o = new DelfTrainer.Options(a.getInt("side", d.side()), a.getInt("batch", d.batch()),
        a.getInt("views", d.viewsPerPhoto()), a.getInt("descriptor-epochs", d.descriptorEpochs()),
        a.getInt("attention-epochs", d.attentionEpochs()), a.getFloat("lr", d.lr()), a.getFloat("lr-decay", d.lrDecay()),
        a.getLong("seed", d.seed()));
    Photos photos = Photos.read(Path.of(a.get("photos", "data/photos")).resolve("manifest.tsv"));
    List<Photos.Photo> train = photos.withRole(Photos.Role.TRAIN);
    List<BufferedImage> images = DelfFiles.load(photos, train, a.getInt("max-side", 256));
    err.printf(Locale.ROOT, "training DELF on %d photos (one class each), %d views each per epoch%n", images.size(),
        o.viewsPerPhoto());
    Path model = Path.of(a.get("model", "runs/delf"));
    long t0 = System.nanoTime();
    DelfNet start = a.has("from") ? DelfTrainer.open(Path.of(a.get("from", null)))
        : create(a.get("backbone", DelfConfig.RESIDUAL), Path.of(a.get("pretrained", "data/pretrained/mobilenet_v2")),
            images.size(), o.seed(), err);
    try (DelfNet net = new DelfTrainer(err).train(start, o, views(images), model)) {
      out.printf(Locale.ROOT, "{\"command\":\"delf train\",\"model\":\"%s\",\"photos\":%d,\"seconds\":%.1f}%n", model,
          images.size(), (System.nanoTime() - t0) / 1e9);
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
      default -> throw new Args.UsageException("--backbone takes " + DelfConfig.RESIDUAL + " or "
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
