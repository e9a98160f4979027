package org.deephash.model.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.index.IndexFile;
import org.deephash.index.LoadedIndex;
import org.deephash.io.Json;
import org.deephash.model.data.Datasets;
import org.deephash.model.eval.FineSearch;
import org.deephash.model.eval.FineStage;
import org.deephash.model.net.Encoder;
import org.deephash.model.net.Encoding;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.ModelDir;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code engine-cli query}: one image file in, the top-k paths and distances out. The image is
 * resized to the input the model records; labels are named with the model's label names.
 */
@Command(name = "query",
    description = "Find the images of an index most similar to one image file (Hamming or coarse-to-fine).")
public final class QueryCommand extends TensorFlowCommand {
  /** hds: coarse to fine; bcs: Hamming only. */
  enum Mode { hds, bcs }

  @Option(names = "--model", paramLabel = "DIR", required = true, description = "The model that made the index.")
  Path model;

  @Option(names = "--index", paramLabel = "FILE", required = true, description = "An index file (engine-cli index).")
  Path indexFile;

  @Option(names = "--image", paramLabel = "FILE", required = true,
      description = "A PNG or JPEG (resized and converted to the model's input).")
  Path imageFile;

  @Option(names = "--k", paramLabel = "K", description = "Results (default: ${DEFAULT-VALUE}).")
  int k = 10;

  @Option(names = "--mode", paramLabel = "MODE",
      description = {"hds: coarse to fine, Hamming pool re-ordered by the fine stage (the default);",
          "bcs: Hamming distance of the codes only."})
  Mode mode = Mode.hds;

  @Option(names = "--fine", paramLabel = "STAGE",
      description = {"Fine stage of hds: f7 (the paper, the engine's coarse-to-fine search), f7n, latent, f7n-ties,",
          "latent-ties or none (the codes' order) (default: the model's, chosen on its validation split; the latent",
          "stages compute the pool's latent activations from the F7 features the index holds)."})
  String fine;

  @Option(names = "--json", description = "Print one JSON line instead of the table.")
  boolean json;

  @Mixin
  PoolFlags poolFlags;

  private Pool pool;

  @Override
  protected void validate() {
    requireRange("--k", k, 1, 1 << 20);
    pool = poolFlags.pool(100);
    if (fine != null) {
      try {
        stage = FineStage.of(fine);
      } catch (IllegalArgumentException e) {
        throw usage("--fine: " + e.getMessage());
      }
    }
  }

  private FineStage stage;

  @Override
  protected int run() throws Exception {
    try (Encoder enc = Encoder.open(model)) {
      HashNetConfig c = enc.config();
      // an index of a photo folder: the image read as index --photos read them (upright, decoded at twice the
      // input size), else as a data set folder's images are
      float[] px = org.deephash.model.data.PhotoIndex.read(indexFile).isPresent()
          ? org.deephash.model.Pipeline.photoPixels(imageFile, c)
          : Datasets.readImage(imageFile, c.height(), c.width(), c.channels());
      return search(enc, c, enc.encode(px, 1));
    }
  }

  private int search(Encoder enc, HashNetConfig c, Encoding e) throws Exception {
    try (LoadedIndex idx = IndexFile.load(indexFile);
        GpuHashSearch search = GpuHashSearch.open(idx.table())) {
      if (idx.table().bits() != e.engineBits()) {
        throw new IllegalArgumentException("the index holds " + idx.table().bits() + "-bit codes but the model makes "
            + e.bits() + "-bit codes: index with the same model");
      }
      if (mode == Mode.hds && idx.table().dim() != e.featureDim()) {
        throw new IllegalArgumentException("the index holds " + idx.table().dim() + "-d features but the model makes "
            + e.featureDim() + "-d features: index with the same model (or use --mode bcs)");
      }
      FineStage use = stage != null ? stage
          : FineStage.recordedBy(new ModelDir(model));
      long t0 = System.nanoTime();
      SearchResult r = mode == Mode.bcs ? search.query(e.codes(), k)
          : FineSearch.search(search, idx.table(), use, enc::latentOf, e.bits(), e.codes(), e.features(), pool, k);
      double ms = (System.nanoTime() - t0) / 1e6;
      String predicted = c.classNames().get(e.predicted()[0]);
      boolean labels = idx.table().hasLabels();
      if (json) {
        List<Json> results = new ArrayList<>();
        for (int j = 0; j < r.count(0); j++) {
          int row = (int) r.id(0, j);
          Json hit = new Json().put("rank", j + 1).put("id", row).put("path", path(idx, row))
              .put("hamming", r.hamming(0, j));
          if (r.hasDistances()) {
            hit.put("euclidean", Json.round(Math.sqrt(r.distance(0, j)), 4));
          }
          if (labels) {
            hit.put("label", label(c, idx.table().label(row)));
          }
          results.add(hit);
        }
        out.println(new Json().put("image", imageFile.toString()).put("predicted", predicted).put("mode", mode.name())
            .put("fine_stage", mode == Mode.hds ? use.key() : null).put("ms", Json.round(ms, 3))
            .put("results", results));
      } else {
        out.printf(Locale.ROOT, "# %s: predicted class %s; %s search%s, %.2f ms%n", imageFile, predicted, mode,
            mode == Mode.hds ? " (fine stage " + use.key() + ")" : "", ms);
        out.println("# rank\thamming\t" + (r.hasDistances() ? "euclidean\t" : "") + "label\tpath");
        for (int j = 0; j < r.count(0); j++) {
          int row = (int) r.id(0, j);
          out.printf(Locale.ROOT, "%d\t%d\t%s%s\t%s%n", j + 1, r.hamming(0, j),
              r.hasDistances() ? String.format(Locale.ROOT, "%.4f\t", Math.sqrt(r.distance(0, j))) : "",
              labels ? label(c, idx.table().label(row)) : "-", path(idx, row));
        }
      }
    }
    return 0;
  }

  private static String path(LoadedIndex idx, int row) {
    return idx.hasPaths() ? idx.path(row) : "#" + row;
  }

  private static String label(HashNetConfig c, int l) {
    return l >= 0 && l < c.classes() ? c.classNames().get(l) : Integer.toString(l);
  }
}
