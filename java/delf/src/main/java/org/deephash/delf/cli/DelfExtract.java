package org.deephash.delf.cli;

import java.nio.file.Path;
import org.deephash.delf.data.Photos;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.io.Json;
import org.deephash.io.Npy;
import org.deephash.model.cli.TensorFlowCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code engine-cli delf extract}: the local features of one image. */
@Command(name = "extract", description = "Extract one image's keypoints, attention and descriptors (optionally to .npy).")
final class DelfExtract extends TensorFlowCommand {
  @Option(names = "--model", paramLabel = "DIR", required = true, description = "A DELF model folder (delf train).")
  Path model;

  @Option(names = "--image", paramLabel = "FILE", required = true, description = "A PNG or JPEG.")
  Path image;

  @Option(names = "--out", paramLabel = "PREFIX",
      description = "Write PREFIX.descriptors.npy (n x d) and PREFIX.keypoints.npy (n x 4: x, y, scale, attention).")
  String prefix;

  @Mixin
  DelfFlags.Extract extract;

  @Override
  protected void validate() {
    extract.validate();
  }

  @Override
  protected int run() throws Exception {
    Extractor ex = extract.extractor();
    try (DelfNet net = DelfTrainer.open(model)) {
      var img = Photos.load(image, 4096);
      long t0 = System.nanoTime();
      LocalFeatures f = ex.extract(net, img);
      double ms = (System.nanoTime() - t0) / 1e6;
      if (prefix != null) {
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
      out.println(new Json().put("image", image.toString()).put("width", img.getWidth()).put("height", img.getHeight())
          .put("keypoints", f.count()).put("dim", f.dim())
          .put("max_attention", Json.round(f.count() == 0 ? 0f : f.scores()[0], 4)).put("ms", Json.round(ms, 1)));
    }
    return 0;
  }
}
