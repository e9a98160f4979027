package org.deephash.delf.cli;

import java.awt.image.BufferedImage;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.deephash.delf.data.Photos;
import org.deephash.delf.data.Views;
import org.deephash.delf.net.DelfConfig;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.model.cli.Args;
import org.deephash.model.cli.BaseCommand;

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
        "lr", "lr-decay", "seed", "from");
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
        """ + PHOTOS_USAGE + String.format(Locale.ROOT, """

          --side N            training crop side, a multiple of 8 (default %d)
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
        : DelfNet.create(DelfConfig.of(images.size(), o.seed()));
    try (DelfNet net = new DelfTrainer(err).train(start, o, views(images), model)) {
      out.printf(Locale.ROOT, "{\"command\":\"delf train\",\"model\":\"%s\",\"photos\":%d,\"seconds\":%.1f}%n", model,
          images.size(), (System.nanoTime() - t0) / 1e9);
    }
    return 0;
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
