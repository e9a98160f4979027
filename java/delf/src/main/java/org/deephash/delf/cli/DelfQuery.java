package org.deephash.delf.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.deephash.delf.data.Photos;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.delf.search.DelfDatabase;
import org.deephash.delf.search.DelfIndexFolder;
import org.deephash.delf.search.DelfSearch;
import org.deephash.io.Json;
import org.deephash.model.cli.TensorFlowCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code engine-cli delf query}: one image in, the indexed images showing the same thing out. */
@Command(name = "query",
    description = "Find the indexed images of the same object or place: votes, shortlist, RANSAC re-rank.")
final class DelfQuery extends TensorFlowCommand {
  @Option(names = "--model", paramLabel = "DIR", required = true, description = "The DELF model that made the index.")
  Path model;

  @Option(names = "--index", paramLabel = "DIR", required = true, description = "A DELF index folder (delf index).")
  Path index;

  @Option(names = "--image", paramLabel = "FILE", required = true, description = "The query image (PNG or JPEG).")
  Path image;

  @Option(names = "--k", paramLabel = "K", description = "Results (default: ${DEFAULT-VALUE}).")
  int k = 10;

  @Option(names = "--no-ransac", description = "Rank by votes only.")
  boolean noRansac;

  @Option(names = "--json", description = "Print one JSON line instead of the table.")
  boolean json;

  @Mixin
  DelfFlags.Extract extract;

  @Mixin
  DelfFlags.Search search;

  @Mixin
  DelfFlags.Verify verify;

  @Override
  protected void validate() {
    requireRange("--k", k, 1, 1 << 20);
    extract.validate();
    search.validate();
    verify.validate();
  }

  @Override
  protected int run() throws Exception {
    Extractor ex = extract.extractor();
    DelfIndexFolder.Opened idx = DelfIndexFolder.open(index);
    try (DelfNet net = DelfTrainer.open(model)) {
      var img = Photos.load(image, ex.baseSide());
      long t0 = System.nanoTime();
      DelfDatabase db = idx.database();
      LocalFeatures f = db.project(ex.extract(net, img));
      double extractMs = (System.nanoTime() - t0) / 1e6;
      DelfSearch.Answer r = new DelfSearch(db, search.params(verify))
          .search(f, noRansac ? null : DelfDatabase.ransac(verify.ransac()));
      int n = Math.min(k, r.images().length);
      if (json) {
        List<Json> results = new ArrayList<>();
        for (int i = 0; i < n; i++) {
          int im = r.images()[i];
          DelfIndexFolder.Image hit = idx.images().get(im);
          results.add(new Json().put("rank", i + 1).put("inliers", r.inliers()[im]).put("votes", r.votes()[im])
              .put("significance", Json.round(r.significance()[im], 2)).put("id", hit.id()).put("path", hit.path().toString()));
        }
        out.println(new Json().put("keypoints", f.count()).put("extract_ms", Json.round(extractMs, 1))
            .put("ann_ms", Json.round(r.annMs(), 1)).put("ransac_ms", Json.round(r.ransacMs(), 1))
            .put("results", results));
        return 0;
      }
      out.printf(Locale.ROOT, "# %d keypoints; extract %.0f ms, ANN %.0f ms, RANSAC %.0f ms%n"
          + "# rank\tinliers\tvotes\tsignificance\tid\tpath%n", f.count(), extractMs, r.annMs(), r.ransacMs());
      for (int i = 0; i < n; i++) {
        int im = r.images()[i];
        DelfIndexFolder.Image hit = idx.images().get(im);
        out.printf(Locale.ROOT, "%d\t%d\t%d\t%.2f\t%s\t%s%n", i + 1, r.inliers()[im], r.votes()[im],
            r.significance()[im], hit.id(), hit.path());
      }
    }
    return 0;
  }
}
