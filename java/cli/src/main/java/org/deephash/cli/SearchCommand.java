package org.deephash.cli;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.index.IndexFile;
import org.deephash.io.Json;
import org.deephash.io.NpyArray;
import org.deephash.io.NpyDType;
import org.deephash.spi.CliCommand;

/**
 * {@code engine-cli search}: searches an index file with a batch of query codes from a {@code
 * .npy} file. Hamming top-k by default; {@code --radius} for every code within a distance; with
 * {@code --query-features}, the coarse-to-fine search (Hamming pool re-ranked by Euclidean
 * distance).
 */
final class SearchCommand implements CliCommand {

  @Override
  public String name() {
    return "search";
  }

  @Override
  public String summary() {
    return "search an index with .npy query codes: Hamming top-k, radius, or coarse-to-fine with features";
  }

  @Override
  public int run(String[] args, PrintStream out, PrintStream err) throws IOException {
    Flags f = new Flags("search", "engine-cli search --index index.dh --queries q.npy [--query-features qf.npy]"
        + " [--k 10] [--radius r --cap c] [--pool m] [--format csv|jsonl] [--out results.csv]")
        .value("index", "FILE", "index file written by 'engine-cli import'")
        .value("queries", "FILE", "query codes: uint8 [Q, B/8] with the index's B")
        .value("query-features", "FILE", "float32 [Q, d] query features: coarse-to-fine search (optional)")
        .value("k", "K", "results per query (default 10)")
        .value("radius", "R", "every code within Hamming distance R instead of top-k (with features: the pool)")
        .value("cap", "C", "most results per query of a radius search, or the radius pool's size (default 1000)")
        .value("pool", "M", "coarse-to-fine: Hamming pool size m when no --radius (default max(1000, k))")
        .value("format", "FMT", "csv (one row per result) or jsonl (one line per query) (default csv)")
        .value("out", "FILE", "write results here (default: stdout)")
        .value("backend", "NAME", "java, native, cuda or scalar (default: the JVM's choice)")
        .value("threads", "T", "CPU threads, 0 = all cores (default 0)")
        .flag("no-verify", "skip the section checksums when opening (for large indexes you trust)")
        .parse(args);
    if (f.helpRequested()) {
      out.print(f.usage());
      return 0;
    }
    Path indexFile = f.requiredPath("index");
    Path queriesFile = f.requiredPath("queries");
    Path qfFile = f.path("query-features");
    int k = f.intValue("k", 10, 1, 1 << 20);
    boolean radiusMode = f.has("radius");
    int radius = f.intValue("radius", 0, 0, CodeTable.MAX_BITS);
    int cap = f.intValue("cap", 1000, 1, CodeTable.MAX_ROWS);
    if (f.has("cap") && !radiusMode) {
      throw f.usage("--cap goes with --radius (for top-k use --k; for the coarse-to-fine pool --pool)");
    }
    int pool = f.intValue("pool", Math.max(1000, k), 1, CodeTable.MAX_ROWS);
    if (f.has("pool") && (qfFile == null || radiusMode)) {
      throw f.usage(qfFile == null ? "--pool needs --query-features (it sizes the coarse-to-fine Hamming pool)"
          : "give either --pool (top-m pool) or --radius/--cap (radius pool), not both");
    }
    String format = f.choice("format", "csv", "csv", "jsonl");
    Path outFile = f.path("out");
    SearchOptions options = SearchOptions.defaults().withThreads(f.intValue("threads", 0, 0, 4096));
    if (f.has("backend")) {
      options = options.withBackend(f.string("backend", null));
    }
    IndexFile.Verify verify = f.has("no-verify") ? IndexFile.Verify.HEADER_ONLY : IndexFile.Verify.FULL;

    try (CodeTable table = IndexFile.open(indexFile, verify);
        NpyArray q = NpyInput.open("search", queriesFile, NpyDType.UINT8, 2, "[Q, B/8]");
        NpyArray qf = qfFile == null ? null : NpyInput.open("search", qfFile, NpyDType.FLOAT32, 2, "[Q, d]")) {
      if (q.shape()[1] != table.codeBytes()) {
        throw bad(file(queriesFile) + ": expected a 2-D uint8 array [Q, " + table.codeBytes() + "] ("
            + table.bits() + "-bit codes, as in " + file(indexFile) + "), got "
            + Arrays.toString(q.shape()));
      }
      if (radiusMode && radius > table.bits()) {
        throw f.usage("--radius must be in [0, " + table.bits() + "] for " + table.bits() + "-bit codes (passed "
            + radius + ")");
      }
      if (q.elementCount() > Integer.MAX_VALUE - 8) {
        throw bad(file(queriesFile) + " holds too many queries for one batch: split it");
      }
      byte[] codes = q.toByteArray();
      float[] features = null;
      if (qf != null) {
        if (!table.hasFeatures()) {
          throw bad(file(indexFile) + " has no features: coarse-to-fine search needs an index imported"
              + " with --features (or drop --query-features)");
        }
        NpyInput.requireRows("search", qfFile, qf, q.rows(), "a 2-D float32 array [Q, " + table.dim() + "]",
            queriesFile);
        if (qf.shape()[1] != table.dim()) {
          throw bad(file(qfFile) + ": expected a 2-D float32 array [Q, " + table.dim() + "] (d as in "
              + file(indexFile) + "), got " + Arrays.toString(qf.shape()));
        }
        if (qf.elementCount() > Integer.MAX_VALUE - 8) {
          throw bad(file(qfFile) + " holds too many queries for one batch: split it");
        }
        features = qf.toFloatArray();
      }
      try (GpuHashSearch search = GpuHashSearch.open(table, options)) {
        long t0 = System.nanoTime();
        SearchResult r;
        String what;
        if (features != null) {
          Pool p = radiusMode ? Pool.radius(radius, cap) : Pool.topM(pool);
          r = search.coarseToFine(codes, features, p, k);
          what = "coarse-to-fine (" + (radiusMode ? "radius " + radius + ", cap " + cap : "pool " + pool) + "), k=" + k;
        } else if (radiusMode) {
          r = search.radius(codes, radius, cap);
          what = "radius " + radius + " (cap " + cap + ")";
        } else {
          r = search.query(codes, k);
          what = "Hamming top-" + k;
        }
        double ms = (System.nanoTime() - t0) / 1e6;
        write(r, format, radiusMode && features == null, outFile, out);
        err.printf(Locale.ROOT, "search: %,d queries, %s over %,d rows with backend %s: %.1f ms, %,d results%s%n",
            r.queryCount(), what, table.liveCount(), search.backendName(), ms, r.totalCount(),
            outFile != null ? " written to " + outFile : "");
      }
    }
    return 0;
  }

  private static void write(SearchResult r, String format, boolean withTruncated, Path outFile, PrintStream stdout)
      throws IOException {
    Writer w = outFile == null
        ? new BufferedWriter(new OutputStreamWriter(stdout, StandardCharsets.UTF_8), 1 << 16)
        : Files.newBufferedWriter(outFile, StandardCharsets.UTF_8);
    try {
      if (format.equals("csv")) {
        csv(r, withTruncated, w);
      } else {
        jsonl(r, withTruncated, w);
      }
    } finally {
      if (outFile == null) {
        w.flush(); // never close stdout
      } else {
        w.close();
      }
    }
  }

  private static void csv(SearchResult r, boolean withTruncated, Writer w) throws IOException {
    StringBuilder sb = new StringBuilder("query,rank,id");
    sb.append(r.hasHamming() ? ",hamming" : "").append(r.hasDistances() ? ",distance" : "")
        .append(withTruncated ? ",truncated" : "").append('\n');
    w.write(sb.toString());
    for (int q = 0; q < r.queryCount(); q++) {
      for (int i = 0; i < r.count(q); i++) {
        sb.setLength(0);
        sb.append(q).append(',').append(i).append(',').append(r.id(q, i));
        if (r.hasHamming()) {
          sb.append(',').append(r.hamming(q, i));
        }
        if (r.hasDistances()) {
          sb.append(',').append(r.distance(q, i));
        }
        if (withTruncated) {
          sb.append(',').append(r.truncated(q));
        }
        w.write(sb.append('\n').toString());
      }
    }
  }

  private static void jsonl(SearchResult r, boolean withTruncated, Writer w) throws IOException {
    for (int q = 0; q < r.queryCount(); q++) {
      Json j = new Json().put("query", q).put("ids", r.ids(q));
      if (r.hasHamming()) {
        j.put("hamming", r.hammings(q));
      }
      if (r.hasDistances()) {
        j.put("distances", r.distances(q));
      }
      if (withTruncated) {
        j.put("truncated", r.truncated(q));
      }
      w.write(j.toString());
      w.write('\n');
    }
  }

  private UsageException bad(String message) {
    return UsageException.badInput(name(), message);
  }

  private static String file(Path p) {
    return NpyInput.name(p);
  }
}
