package org.deephash.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.deephash.CodeTable;
import org.deephash.index.IndexFile;
import org.deephash.io.NpyArray;
import org.deephash.io.NpyDType;
import org.deephash.spi.CliCommand;

/**
 * {@code engine-cli import}: builds an index file from {@code .npy} arrays written by Python
 * (codes uint8 [N, B/8], features float32 [N, d], ids int64 [N], labels int32 [N]). The arrays
 * are memory-mapped and copied once into the table, so no heap is needed for them.
 */
final class ImportCommand implements CliCommand {

  @Override
  public String name() {
    return "import";
  }

  @Override
  public String summary() {
    return "build an index file from .npy codes (and features, ids, labels)";
  }

  @Override
  public int run(String[] args, PrintStream out, PrintStream err) throws IOException {
    Flags f = new Flags("import",
        "engine-cli import --codes c.npy [--features f.npy] [--ids i.npy] [--labels l.npy] [--paths p.txt]"
            + " --out index.dh")
        .value("codes", "FILE", "packed codes: uint8 [N, B/8] (bit i of a code is bit i%8 of byte i/8)")
        .value("features", "FILE", "float32 [N, d] features for coarse-to-fine search (optional)")
        .value("ids", "FILE", "int64 [N] unique ids (optional; default 0..N-1)")
        .value("labels", "FILE", "int32 [N] class labels (optional)")
        .value("paths", "FILE", "text file with the source path of each row, one per line, N lines (optional)")
        .value("out", "FILE", "the index file to write (replaced atomically)")
        .flag("force", "replace --out if it exists")
        .parse(args);
    if (f.helpRequested()) {
      out.print(f.usage());
      return 0;
    }
    Path codesFile = f.requiredPath("codes");
    Path outFile = f.requiredPath("out");
    Path featuresFile = f.path("features");
    Path idsFile = f.path("ids");
    Path labelsFile = f.path("labels");
    Path pathsFile = f.path("paths");
    if (Files.exists(outFile) && !f.has("force")) {
      throw f.usage(outFile + " exists; pass --force to replace it");
    }
    long t0 = System.nanoTime();
    try (NpyArray codes = NpyInput.open("import", codesFile, NpyDType.UINT8, 2, "[N, B/8]");
        NpyArray features = featuresFile == null ? null
            : NpyInput.open("import", featuresFile, NpyDType.FLOAT32, 2, "[N, d]");
        NpyArray ids = idsFile == null ? null : NpyInput.open("import", idsFile, NpyDType.INT64, 1, "[N]");
        NpyArray labels = labelsFile == null ? null : NpyInput.open("import", labelsFile, NpyDType.INT32, 1, "[N]")) {
      long n = codes.rows();
      long codeBytes = codes.shape()[1];
      if (codeBytes < 1 || codeBytes > CodeTable.MAX_BITS / 8) {
        throw bad(file(codesFile) + ": expected a 2-D uint8 array [N, B/8] with B/8 in [1, "
            + CodeTable.MAX_BITS / 8 + "] bytes per code, got " + Arrays.toString(codes.shape()));
      }
      if (n > CodeTable.MAX_ROWS) {
        throw bad(file(codesFile) + ": " + n + " rows; an index holds at most " + CodeTable.MAX_ROWS
            + ": split it into shards");
      }
      int dim = 0;
      if (features != null) {
        NpyInput.requireRows("import", featuresFile, features, n, "a 2-D float32 array [N, d]", codesFile);
        long d = features.shape()[1];
        if (d < 1 || d > 65536) {
          throw bad(file(featuresFile) + ": expected a 2-D float32 array [N, d] with d in [1, 65536], got "
              + Arrays.toString(features.shape()));
        }
        dim = (int) d;
      }
      if (ids != null) {
        NpyInput.requireRows("import", idsFile, ids, n, "a 1-D int64 array [N]", codesFile);
      }
      if (labels != null) {
        NpyInput.requireRows("import", labelsFile, labels, n, "a 1-D int32 array [N]", codesFile);
      }
      List<String> paths = pathsFile == null ? null : Files.readAllLines(pathsFile, StandardCharsets.UTF_8);
      if (paths != null && paths.size() != n) {
        throw bad(file(pathsFile) + ": expected " + n + " lines (one path per row of "
            + file(codesFile) + "), got " + paths.size());
      }
      int rows = (int) n;
      try (CodeTable table = CodeTable.create((int) codeBytes * 8, dim, labels != null, rows)) {
        table.addAll(rows, segment(ids), segment(codes), segment(features), segment(labels));
        if (paths != null) {
          IndexFile.save(table, outFile, paths);
        } else {
          IndexFile.save(table, outFile);
        }
        long bytes = Files.size(outFile);
        out.printf(Locale.ROOT, "wrote %s: %,d rows of %d-bit codes%s%s%s%s, %.1f MB in %.2f s%n", outFile, rows,
            table.bits(), dim > 0 ? ", " + dim + "-d features" : "", ids != null ? ", ids" : "",
            labels != null ? ", labels" : "", paths != null ? ", paths" : "", bytes / 1e6,
            (System.nanoTime() - t0) / 1e9);
      }
    }
    return 0;
  }

  private static MemorySegment segment(NpyArray a) {
    return a == null ? null : a.data();
  }

  private UsageException bad(String message) {
    return UsageException.badInput(name(), message);
  }

  private static String file(Path p) {
    return NpyInput.name(p);
  }
}
