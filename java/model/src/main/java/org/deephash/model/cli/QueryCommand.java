package org.deephash.model.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.index.IndexFile;
import org.deephash.index.LoadedIndex;
import org.deephash.model.data.Datasets;
import org.deephash.model.net.Encoder;
import org.deephash.model.net.Encoding;
import org.deephash.model.net.HashNetConfig;

/** {@code engine-cli query}: one image file in, the top-k paths and distances out. */
public final class QueryCommand extends BaseCommand {
  @Override
  public String name() {
    return "query";
  }

  @Override
  public String summary() {
    return "find the images of an index most similar to one image file (Hamming or coarse-to-fine)";
  }

  @Override
  protected List<String> valueOptions() {
    return List.of("model", "index", "image", "k", "mode", "pool", "radius", "cap");
  }

  @Override
  protected List<String> flagOptions() {
    return List.of("json", "help");
  }

  @Override
  protected String usage() {
    return """
        usage: engine-cli query --model DIR --index FILE --image FILE [--k 10] [--mode hds|bcs] [--json]
          --image FILE        a PNG or JPEG (resized and converted to the model's input)
          --mode hds          coarse to fine (default): Hamming pool, re-ranked by Euclidean on F7
          --mode bcs          Hamming distance of the codes only
        """ + POOL_USAGE.replace("(default 1000)", "(default 100)");
  }

  @Override
  protected int execute(Args a, PrintStream out, PrintStream err) throws Exception {
    Path model = Path.of(a.require("model"));
    Path imageFile = Path.of(a.require("image"));
    int k = a.getInt("k", 10);
    String mode = a.get("mode", "hds").toLowerCase(Locale.ROOT);
    if (!mode.equals("hds") && !mode.equals("bcs")) {
      throw new Args.UsageException("--mode is hds or bcs");
    }
    Pool pool = pool(a, 100);
    Encoding e;
    HashNetConfig c;
    try (Encoder enc = Encoder.open(model)) {
      c = enc.config();
      float[] px = Datasets.readImage(imageFile, c.height(), c.width(), c.channels());
      e = enc.encode(px, 1);
    }
    try (LoadedIndex idx = IndexFile.load(Path.of(a.require("index")));
        GpuHashSearch search = GpuHashSearch.open(idx.table())) {
      if (idx.table().bits() != e.engineBits()) {
        throw new IllegalArgumentException("the index holds " + idx.table().bits() + "-bit codes but the model makes "
            + e.bits() + "-bit codes: index with the same model");
      }
      long t0 = System.nanoTime();
      SearchResult r = mode.equals("bcs") ? search.query(e.codes(), k)
          : search.coarseToFine(e.codes(), e.features(), pool, k);
      double ms = (System.nanoTime() - t0) / 1e6;
      String predicted = c.classNames().get(e.predicted()[0]);
      if (a.flag("json")) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "{\"image\":\"%s\",\"predicted\":\"%s\",\"mode\":\"%s\",\"ms\":%.3f,\"results\":[",
            esc(imageFile.toString()), esc(predicted), mode, ms));
        for (int j = 0; j < r.count(0); j++) {
          int row = (int) r.id(0, j);
          b.append(j == 0 ? "" : ",").append(String.format(Locale.ROOT, "{\"rank\":%d,\"id\":%d,\"path\":\"%s\",\"hamming\":%d",
              j + 1, row, esc(path(idx, row)), r.hamming(0, j)));
          if (r.hasDistances()) {
            b.append(String.format(Locale.ROOT, ",\"euclidean\":%.4f", Math.sqrt(r.distance(0, j))));
          }
          if (idx.table().hasLabels()) {
            b.append(",\"label\":\"").append(esc(label(c, idx.table().label(row)))).append('"');
          }
          b.append('}');
        }
        out.println(b.append("]}"));
      } else {
        out.printf(Locale.ROOT, "# %s: predicted class %s; %s search, %.2f ms%n", imageFile, predicted, mode, ms);
        out.println("# rank\thamming\t" + (r.hasDistances() ? "euclidean\t" : "") + "label\tpath");
        for (int j = 0; j < r.count(0); j++) {
          int row = (int) r.id(0, j);
          out.printf(Locale.ROOT, "%d\t%d\t%s%s\t%s%n", j + 1, r.hamming(0, j),
              r.hasDistances() ? String.format(Locale.ROOT, "%.4f\t", Math.sqrt(r.distance(0, j))) : "",
              idx.table().hasLabels() ? label(c, idx.table().label(row)) : "-", path(idx, row));
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

  static String esc(String s) {
    return s.replace("\\", "\\\\").replace("\"", "\\\"");
  }
}
