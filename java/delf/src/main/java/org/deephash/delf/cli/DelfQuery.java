package org.deephash.delf.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.deephash.delf.data.Photos;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.geometry.Ransac;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.delf.search.DelfDatabase;
import org.deephash.delf.search.DelfSearch;
import org.deephash.model.cli.Args;
import org.deephash.model.cli.BaseCommand;

/** {@code engine-cli delf query}: one image in, the indexed images showing the same thing out. */
final class DelfQuery extends BaseCommand {
  static final String SEARCH_USAGE = """
          --neighbours N      nearest database descriptors per query descriptor (default 10)
          --nprobe N          IVF lists visited per query descriptor (default 16)
          --shortlist N       images verified by RANSAC (default 50)
          --verify-keypoints N  keypoints of the query and of each shortlisted image matched exactly
                              for verification (default 300, the most attended)
          --trials N --threshold PX --min-inliers N   RANSAC (default 1000, 6 px, 12)
          --no-ransac         rank by votes only""";

  @Override
  public String name() {
    return "query";
  }

  @Override
  public String summary() {
    return "find the indexed images of the same object or place: votes, shortlist, RANSAC re-rank";
  }

  @Override
  protected List<String> valueOptions() {
    return List.of("model", "index", "image", "k", "max-side", "max-features", "scales", "neighbours", "nprobe",
        "shortlist", "trials", "threshold", "min-inliers", "verify-keypoints");
  }

  @Override
  protected List<String> flagOptions() {
    return List.of("help", "no-ransac", "json");
  }

  @Override
  protected String usage() {
    return """
        usage: engine-cli delf query --model DIR --index DIR --image FILE [--k 10] [--json]
        """ + SEARCH_USAGE;
  }

  static DelfSearch.Params searchParams(Args a) {
    DelfSearch.Params d = DelfSearch.Params.defaults();
    return new DelfSearch.Params(a.getInt("neighbours", d.neighbours()), a.getInt("nprobe", d.nprobe()),
        a.getInt("shortlist", d.shortlist()), a.getInt("min-inliers", d.minInliers()),
        a.getInt("verify-keypoints", d.verifyKeypoints()));
  }

  static Ransac.Options ransac(Args a) {
    return new Ransac.Options(a.getInt("trials", 1000), a.getFloat("threshold", 6f),
        Math.max(3, a.getInt("min-inliers", DelfSearch.Params.defaults().minInliers())), 0L);
  }

  @Override
  protected int execute(Args a, PrintStream out, PrintStream err) throws Exception {
    Extractor ex = DelfExtract.extractor(a);
    DelfFiles.Opened idx = DelfFiles.open(Path.of(a.require("index")));
    int k = a.getInt("k", 10);
    try (DelfNet net = DelfTrainer.open(Path.of(a.require("model")))) {
      var img = Photos.load(Path.of(a.require("image")), ex.baseSide());
      long t0 = System.nanoTime();
      DelfDatabase db = new DelfDatabase(idx.index(), idx.pca(), idx.images().size(), idx.exact(), 0);
      LocalFeatures f = db.project(ex.extract(net, img));
      double extractMs = (System.nanoTime() - t0) / 1e6;
      DelfSearch.Answer r = new DelfSearch(db, searchParams(a))
          .search(f, a.flag("no-ransac") ? null : DelfDatabase.ransac(ransac(a)));
      StringBuilder b = new StringBuilder();
      if (a.flag("json")) {
        b.append(String.format(Locale.ROOT, "{\"keypoints\":%d,\"extract_ms\":%.1f,\"ann_ms\":%.1f,\"ransac_ms\":%.1f,"
            + "\"results\":[", f.count(), extractMs, r.annMs(), r.ransacMs()));
      } else {
        b.append(String.format(Locale.ROOT, "# %d keypoints; extract %.0f ms, ANN %.0f ms, RANSAC %.0f ms%n"
            + "# rank\tinliers\tvotes\tid\tpath%n", f.count(), extractMs, r.annMs(), r.ransacMs()));
      }
      for (int i = 0; i < Math.min(k, r.images().length); i++) {
        int im = r.images()[i];
        DelfFiles.Image image = idx.images().get(im);
        if (a.flag("json")) {
          b.append(i == 0 ? "" : ",").append(String.format(Locale.ROOT,
              "{\"rank\":%d,\"inliers\":%d,\"votes\":%d,\"id\":\"%s\",\"path\":\"%s\"}", i + 1, r.inliers()[im],
              r.votes()[im], image.id().replace("\"", "\\\""), image.path().toString().replace("\"", "\\\"")));
        } else {
          b.append(String.format(Locale.ROOT, "%d\t%d\t%d\t%s\t%s%n", i + 1, r.inliers()[im], r.votes()[im], image.id(),
              image.path()));
        }
      }
      out.print(a.flag("json") ? b.append("]}\n") : b);
    }
    return 0;
  }
}
