package org.deephash.delf.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
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
import org.deephash.model.cli.Args;
import org.deephash.model.cli.BaseCommand;

/** {@code engine-cli delf match A B}: match two images and draw the inlier correspondences. */
final class DelfMatch extends BaseCommand {
  @Override
  public String name() {
    return "match";
  }

  @Override
  public String summary() {
    return "match two images (mutual nearest neighbours + RANSAC) and write a PNG of the correspondences";
  }

  @Override
  protected List<String> valueOptions() {
    return List.of("model", "a", "b", "out", "max-side", "max-features", "scales", "ratio", "trials", "threshold",
        "min-inliers");
  }

  @Override
  protected List<String> flagOptions() {
    return List.of("help");
  }

  @Override
  protected String usage() {
    return """
        usage: engine-cli delf match --model DIR --a IMAGE --b IMAGE [--out match.png] [--ratio 0.9]
          writes the two images side by side: RANSAC inliers in green, other putative matches faint red
        """;
  }

  @Override
  protected int execute(Args a, PrintStream out, PrintStream err) throws Exception {
    Extractor ex = DelfExtract.extractor(a);
    try (DelfNet net = DelfTrainer.open(Path.of(a.require("model")))) {
      var ia = Photos.load(Path.of(a.require("a")), ex.baseSide());
      var ib = Photos.load(Path.of(a.require("b")), ex.baseSide());
      LocalFeatures fa = ex.extract(net, ia);
      LocalFeatures fb = ex.extract(net, ib);
      Ransac.Options ro = DelfQuery.ransac(a);
      PairMatch m = PairMatch.of(fa, fb, a.getFloat("ratio", 0.9f), ro);
      Path png = Path.of(a.get("out", "match.png"));
      boolean[] in = m.fit().map(Ransac.AffineFit::inliers).orElse(null);
      ImageIO.write(MatchPicture.draw(ia, m.ax(), ib, m.bx(), in, m.count(), 360, String.format(Locale.ROOT,
          "%d keypoints vs %d; %d mutual matches; %d RANSAC inliers", fa.count(), fb.count(), m.count(), m.inliers())),
          "png", png.toFile());
      out.printf(Locale.ROOT, "{\"keypoints_a\":%d,\"keypoints_b\":%d,\"matches\":%d,\"inliers\":%d,\"picture\":\"%s\"}%n",
          fa.count(), fb.count(), m.count(), m.inliers(), png);
    }
    return 0;
  }
}
