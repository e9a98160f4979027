package org.deephash.delf.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.deephash.delf.data.Photos;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.io.Npy;
import org.deephash.model.cli.Args;
import org.deephash.model.cli.BaseCommand;

/** {@code engine-cli delf extract}: the local features of one image. */
final class DelfExtract extends BaseCommand {
  @Override
  public String name() {
    return "extract";
  }

  @Override
  public String summary() {
    return "extract one image's keypoints, attention and descriptors (optionally to .npy)";
  }

  @Override
  protected List<String> valueOptions() {
    return List.of("model", "image", "max-side", "max-features", "scales", "out");
  }

  @Override
  protected List<String> flagOptions() {
    return List.of("help");
  }

  @Override
  protected String usage() {
    return """
        usage: engine-cli delf extract --model DIR --image FILE [--out PREFIX] [--max-features 1000] [--scales 0.25,...,2]
          --out PREFIX        writes PREFIX.descriptors.npy (n x d) and PREFIX.keypoints.npy (n x 4: x, y, scale,
                              attention)
        """;
  }

  static Extractor extractor(Args a) {
    Extractor d = Extractor.defaults();
    float[] scales = d.scales();
    if (a.has("scales")) {
      String[] s = a.get("scales", "").split(",");
      scales = new float[s.length];
      for (int i = 0; i < s.length; i++) {
        try {
          scales[i] = Float.parseFloat(s[i].strip());
        } catch (NumberFormatException e) {
          throw new Args.UsageException("--scales takes numbers separated by commas (passed '" + a.get("scales", "")
              + "')");
        }
      }
    }
    return new Extractor(a.getInt("max-side", d.baseSide()), scales, a.getInt("max-features", d.maxFeatures()),
        d.minAttention());
  }

  @Override
  protected int execute(Args a, PrintStream out, PrintStream err) throws Exception {
    Extractor ex = extractor(a);
    try (DelfNet net = DelfTrainer.open(Path.of(a.require("model")))) {
      var img = Photos.load(Path.of(a.require("image")), 4096);
      long t0 = System.nanoTime();
      LocalFeatures f = ex.extract(net, img);
      double ms = (System.nanoTime() - t0) / 1e6;
      if (a.has("out")) {
        String prefix = a.get("out", null);
        Npy.write(Path.of(prefix + ".descriptors.npy"), f.descriptors(), f.count(), f.dim());
        float[] k = new float[4 * f.count()];
        for (int i = 0; i < f.count(); i++) {
          k[4 * i] = f.xy()[2 * i];
          k[4 * i + 1] = f.xy()[2 * i + 1];
          k[4 * i + 2] = f.scales()[i];
          k[4 * i + 3] = f.scores()[i];
        }
        Npy.write(Path.of(prefix + ".keypoints.npy"), k, f.count(), 4);
      }
      out.printf(Locale.ROOT, "{\"image\":\"%s\",\"width\":%d,\"height\":%d,\"keypoints\":%d,\"dim\":%d,"
          + "\"max_attention\":%.4f,\"ms\":%.1f}%n", a.require("image").replace("\"", "\\\""), img.getWidth(),
          img.getHeight(), f.count(), f.dim(), f.count() == 0 ? 0f : f.scores()[0], ms);
    }
    return 0;
  }
}
