package org.deephash.delf.cli;

import java.nio.file.Path;
import java.util.Locale;
import javax.imageio.ImageIO;
import org.deephash.delf.data.Photos;
import org.deephash.delf.eval.MatchPicture;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.geometry.Ransac;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.delf.search.PairMatch;
import org.deephash.io.Json;
import org.deephash.model.cli.TensorFlowCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code engine-cli delf match --a A --b B}: match two images and draw the inlier correspondences. */
@Command(name = "match",
    description = "Match two images (mutual nearest neighbours + RANSAC) and write a PNG of the correspondences.",
    footer = "The PNG shows the two images side by side: RANSAC inliers in green, other putative matches faint red.")
final class DelfMatch extends TensorFlowCommand {
  @Option(names = "--model", paramLabel = "DIR", required = true, description = "A DELF model folder (delf train).")
  Path model;

  @Option(names = "--a", paramLabel = "IMAGE", required = true, description = "The first image.")
  Path a;

  @Option(names = "--b", paramLabel = "IMAGE", required = true, description = "The second image.")
  Path b;

  @Option(names = "--out", paramLabel = "PNG", description = "The picture to write (default: ${DEFAULT-VALUE}).")
  Path png = Path.of("match.png");

  @Option(names = "--ratio", paramLabel = "R",
      description = "Lowe's ratio test for putative matches, in (0, 1] (default: ${DEFAULT-VALUE}).")
  float ratio = 0.9f;

  @Mixin
  DelfFlags.Extract extract;

  @Mixin
  DelfFlags.Verify verify;

  @Override
  protected void validate() {
    extract.validate();
    verify.validate();
    requireRange("--ratio", ratio, 1e-6, 1);
  }

  @Override
  protected int run() throws Exception {
    Extractor ex = extract.extractor();
    try (DelfNet net = DelfTrainer.open(model)) {
      var ia = Photos.load(a, ex.baseSide());
      var ib = Photos.load(b, ex.baseSide());
      LocalFeatures fa = ex.extract(net, ia);
      LocalFeatures fb = ex.extract(net, ib);
      PairMatch m = PairMatch.of(fa, fb, ratio, verify.ransac());
      boolean[] in = m.fit().map(Ransac.AffineFit::inliers).orElse(null);
      ImageIO.write(MatchPicture.draw(ia, m.ax(), ib, m.bx(), in, m.count(), 360, String.format(Locale.ROOT,
          "%d keypoints vs %d; %d mutual matches; %d RANSAC inliers", fa.count(), fb.count(), m.count(), m.inliers())),
          "png", png.toFile());
      out.println(new Json().put("keypoints_a", fa.count()).put("keypoints_b", fb.count()).put("matches", m.count())
          .put("inliers", m.inliers()).put("picture", png.toString()));
    }
    return 0;
  }
}
