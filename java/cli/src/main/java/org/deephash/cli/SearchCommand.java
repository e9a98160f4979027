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
import org.deephash.cli.api.CliCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code engine-cli search}: searches an index file with a batch of query codes from a {@code
 * .npy} file. Hamming top-k by default; {@code --radius} for every code within a distance; with
 * {@code --query-features}, the coarse-to-fine search (Hamming pool re-ranked by Euclidean
 * distance).
 */
@Command(name = "search",
    description = "Search an index with .npy query codes: Hamming top-k, radius, or coarse-to-fine with features.")
final class SearchCommand extends CliCommand {
  /** How results are written. */
  enum Format { csv, jsonl }

  @Option(names = "--index", paramLabel = "FILE", required = true, description = "Index file written by 'engine-cli import'.")
  Path indexFile;

  @Option(names = "--queries", paramLabel = "FILE", required = true,
      description = "Query codes: uint8 [Q, B/8] with the index's B.")
  Path queriesFile;

  @Option(names = "--query-features", paramLabel = "FILE",
      description = "float32 [Q, d] query features: coarse-to-fine search.")
  Path qfFile;

  @Option(names = "--k", paramLabel = "K", description = "Results per query (default: ${DEFAULT-VALUE}).")
  int k = 10;

  @Option(names = "--radius", paramLabel = "R",
      description = "Every code within Hamming distance R instead of top-k (with features: the pool).")
  Integer radiusOption;

  @Option(names = "--cap", paramLabel = "C",
      description = "Most results per query of a radius search, or the radius pool's size (default: 1000).")
  Integer capOption;

  @Option(names = "--pool", paramLabel = "M",
      description = "Coarse-to-fine: Hamming pool size m when no --radius (default: max(1000, K)).")
  Integer poolOption;

  @Option(names = "--format", paramLabel = "FMT",
      description = "csv (one row per result) or jsonl (one line per query) (default: ${DEFAULT-VALUE}).")
  Format format = Format.csv;

  @Option(names = "--out", paramLabel = "FILE", description = "Write results here (default: stdout).")
  Path outFile;

  @Option(names = "--backend", paramLabel = "NAME", description = "java, native, cuda or scalar (default: the JVM's choice).")
  String backend;

  @Option(names = "--threads", paramLabel = "T", description = "CPU threads, 0 = all cores (default: ${DEFAULT-VALUE}).")
  int threads = 0;

  @Option(names = "--method", paramLabel = "M",
      description = "How the Hamming stage finds codes: auto (default: the index's multi-index tables when they are"
          + " cheaper than a scan), scan, or mih (the tables; the index must have them: import --mih).")
  String method;

  @Option(names = "--repeat", paramLabel = "N",
      description = "Time the search: warm up (at least one run and half a second), then run it N-1 more times and"
          + " report the median (for side-by-side timings; default: ${DEFAULT-VALUE}, one untimed-warm-up-free run).")
  int repeat = 1;

  @Option(names = "--no-verify", description = "Skip the section checksums when opening (for large indexes you trust).")
  boolean noVerify;

  private int cap;
  private int pool;

  @Override
  protected void validate() {
    requireRange("--k", k, 1, 1 << 20);
    if (radiusOption != null) {
      requireRange("--radius", radiusOption, 0, CodeTable.MAX_BITS);
    }
    cap = capOption == null ? 1000 : capOption;
    requireRange("--cap", cap, 1, CodeTable.MAX_ROWS);
    if (capOption != null && radiusOption == null) {
      throw usage("--cap goes with --radius (for top-k use --k; for the coarse-to-fine pool --pool)");
    }
    pool = poolOption == null ? Math.max(1000, k) : poolOption;
    requireRange("--pool", pool, 1, CodeTable.MAX_ROWS);
    if (poolOption != null && (qfFile == null || radiusOption != null)) {
      throw usage(qfFile == null ? "--pool needs --query-features (it sizes the coarse-to-fine Hamming pool)"
          : "give either --pool (top-m pool) or --radius/--cap (radius pool), not both");
    }
    requireRange("--threads", threads, 0, 4096);
    requireRange("--repeat", repeat, 1, 10_000);
    if (method != null && !method.equals("auto") && !method.equals("scan") && !method.equals("mih")) {
      throw usage("--method must be auto, scan or mih (passed '" + method + "')");
    }
  }

  @Override
  protected int execute() throws IOException {
    boolean radiusMode = radiusOption != null;
    int radius = radiusMode ? radiusOption : 0;
    SearchOptions options = SearchOptions.defaults().withThreads(threads).withMethod(method);
    if (backend != null) {
      options = options.withBackend(backend);
    }
    IndexFile.Verify verify = noVerify ? IndexFile.Verify.HEADER_ONLY : IndexFile.Verify.FULL;
    if (radiusMode) {
      // From the header alone, before the full open verifies every checksum (minutes on a large index).
      try (CodeTable header = IndexFile.open(indexFile, IndexFile.Verify.HEADER_ONLY)) {
        if (radius > header.bits()) {
          throw usage("--radius must be in [0, " + header.bits() + "] for " + header.bits() + "-bit codes (passed "
              + radius + ")");
        }
      }
    }

    try (CodeTable table = IndexFile.open(indexFile, verify);
        NpyArray q = NpyInput.open(queriesFile, NpyDType.UINT8, 2, "[Q, B/8]");
        NpyArray qf = qfFile == null ? null : NpyInput.open(qfFile, NpyDType.FLOAT32, 2, "[Q, d]")) {
      if (q.shape()[1] != table.codeBytes()) {
        throw bad(file(queriesFile) + ": expected a 2-D uint8 array [Q, " + table.codeBytes() + "] ("
            + table.bits() + "-bit codes, as in " + file(indexFile) + "), got "
            + Arrays.toString(q.shape()));
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
        NpyInput.requireRows(qfFile, qf, q.rows(), "a 2-D float32 array [Q, " + table.dim() + "]",
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
      try (GpuHashSearch search = GpuHashSearch.open(table, options);
          var phase = progress().phase(String.format(Locale.ROOT, "searching %,d queries over %,d rows", q.rows(),
              table.liveCount()))) {
        SearchResult r = null;
        String what;
        if (features != null) {
          what = "coarse-to-fine (" + (radiusMode ? "radius " + radius + ", cap " + cap : "pool " + pool) + "), k=" + k;
        } else if (radiusMode) {
          what = "radius " + radius + " (cap " + cap + ")";
        } else {
          what = "Hamming top-" + k;
        }
        double[] runs = new double[repeat];
        long warmUntil = System.nanoTime() + (repeat > 1 ? 500_000_000L : 0);
        for (int i = 0; i < repeat; i++) {
          if (i == 1) {
            // warm-up: the JIT compiles the search loops in the first calls
            while (System.nanoTime() < warmUntil) {
              search(search, features, codes, radiusMode, radius, cap, k);
            }
          }
          long t0 = System.nanoTime();
          r = search(search, features, codes, radiusMode, radius, cap, k);
          runs[i] = (System.nanoTime() - t0) / 1e6;
        }
        double[] timed = repeat == 1 ? runs : Arrays.copyOfRange(runs, 1, repeat);
        Arrays.sort(timed);
        double ms = timed.length % 2 == 1 ? timed[timed.length / 2]
            : (timed[timed.length / 2 - 1] + timed[timed.length / 2]) / 2;
        phase.close();
        write(r, format, radiusMode && features == null, outFile, out);
        err.printf(Locale.ROOT, "search: %,d queries, %s over %,d rows with backend %s (%s): %.3f ms%s, %,d results%s%n",
            r.queryCount(), what, table.liveCount(), search.backendName(),
            r.method().equals("mih") ? "multi-index tables" : "scan", ms,
            repeat > 1 ? " (median of " + (repeat - 1) + " after a warm-up)" : "", r.totalCount(),
            outFile != null ? " written to " + outFile : "");
      }
    }
    return 0;
  }

  private SearchResult search(GpuHashSearch search, float[] features, byte[] codes, boolean radiusMode, int radius,
      int cap, int k) {
    if (features != null) {
      return search.coarseToFine(codes, features, radiusMode ? Pool.radius(radius, cap) : Pool.topM(pool), k);
    }
    return radiusMode ? search.radius(codes, radius, cap) : search.query(codes, k);
  }

  private static void write(SearchResult r, Format format, boolean withTruncated, Path outFile, PrintStream stdout)
      throws IOException {
    Writer w = outFile == null
        ? new BufferedWriter(new OutputStreamWriter(stdout, StandardCharsets.UTF_8), 1 << 16)
        : Files.newBufferedWriter(outFile, StandardCharsets.UTF_8);
    try {
      if (format == Format.csv) {
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
      Json j = new Json().put("query", q).put("method", r.method()).put("ids", r.ids(q));
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

  private static IllegalArgumentException bad(String message) {
    return new IllegalArgumentException(message);
  }

  private static String file(Path p) {
    return NpyInput.name(p);
  }
}
