package org.deephash.cli;

import java.io.IOException;
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
import org.deephash.cli.api.CliCommand;
import org.deephash.cli.api.Progress;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code engine-cli import}: builds an index file from {@code .npy} arrays written by Python
 * (codes uint8 [N, B/8], features float32 [N, d], ids int64 [N], labels int32 [N]). The arrays
 * are memory-mapped and copied once into the table, so no heap is needed for them.
 */
@Command(name = "import", description = "Build an index file from .npy codes (and features, ids, labels).")
final class ImportCommand extends CliCommand {
  @Option(names = "--codes", paramLabel = "FILE", required = true,
      description = "Packed codes: uint8 [N, B/8] (bit i of a code is bit i%%8 of byte i/8).")
  Path codesFile;

  @Option(names = "--features", paramLabel = "FILE", description = "float32 [N, d] features for coarse-to-fine search.")
  Path featuresFile;

  @Option(names = "--ids", paramLabel = "FILE", description = "int64 [N] unique ids (default 0..N-1).")
  Path idsFile;

  @Option(names = "--labels", paramLabel = "FILE", description = "int32 [N] class labels.")
  Path labelsFile;

  @Option(names = "--paths", paramLabel = "FILE",
      description = "Text file with the source path of each row, one per line, N lines.")
  Path pathsFile;

  @Option(names = "--out", paramLabel = "FILE", required = true,
      description = "The index file to write (replaced atomically).")
  Path outFile;

  @Option(names = "--force", description = "Replace --out if it exists.")
  boolean force;

  @Option(names = "--mih", paramLabel = "M", arity = "0..1", fallbackValue = "0",
      description = "Also build multi-index hash tables (M tables of B/M-bit substrings; 0 or no value: automatic,"
          + " B / log2 N) for sub-linear exact radius and small-k search; saved in the index. About 5 bytes a code"
          + " per table.")
  Integer mih;

  @Override
  protected void validate() {
    if (mih != null) {
      requireRange("--mih", mih, 0, org.deephash.mih.MultiIndex.MAX_TABLES);
    }
    if (Files.exists(outFile) && !force) {
      throw usage(outFile + " exists; pass --force to replace it");
    }
  }

  @Override
  protected int execute() throws IOException {
    Progress progress = progress();
    long t0 = System.nanoTime();
    try (NpyArray codes = NpyInput.open(codesFile, NpyDType.UINT8, 2, "[N, B/8]");
        NpyArray features = featuresFile == null ? null
            : NpyInput.open(featuresFile, NpyDType.FLOAT32, 2, "[N, d]");
        NpyArray ids = idsFile == null ? null : NpyInput.open(idsFile, NpyDType.INT64, 1, "[N]");
        NpyArray labels = labelsFile == null ? null : NpyInput.open(labelsFile, NpyDType.INT32, 1, "[N]")) {
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
        NpyInput.requireRows(featuresFile, features, n, "a 2-D float32 array [N, d]", codesFile);
        long d = features.shape()[1];
        if (d < 1 || d > 65536) {
          throw bad(file(featuresFile) + ": expected a 2-D float32 array [N, d] with d in [1, 65536], got "
              + Arrays.toString(features.shape()));
        }
        dim = (int) d;
      }
      if (ids != null) {
        NpyInput.requireRows(idsFile, ids, n, "a 1-D int64 array [N]", codesFile);
      }
      if (labels != null) {
        NpyInput.requireRows(labelsFile, labels, n, "a 1-D int32 array [N]", codesFile);
      }
      List<String> paths = pathsFile == null ? null : readPaths(pathsFile);
      if (paths != null && paths.size() != n) {
        throw bad(file(pathsFile) + ": expected " + n + " lines (one path per row of "
            + file(codesFile) + "), got " + paths.size());
      }
      int rows = (int) n;
      try (CodeTable table = CodeTable.create((int) codeBytes * 8, dim, labels != null, rows)) {
        try (var p = progress.phase(String.format(Locale.ROOT, "copying %,d rows into the table", rows))) {
          table.addAll(rows, segment(ids), segment(codes), segment(features), segment(labels));
        }
        if (mih != null) {
          try (var p = progress.phase("building multi-index tables")) {
            table.buildMultiIndex(mih);
          }
        }
        try (var p = progress.phase("writing " + outFile)) {
          if (paths != null) {
            IndexFile.save(table, outFile, paths);
          } else {
            IndexFile.save(table, outFile);
          }
        }
        long bytes = Files.size(outFile);
        out.printf(Locale.ROOT, "wrote %s: %,d rows of %d-bit codes%s%s%s%s, %.1f MB in %.2f s%n", outFile, rows,
            table.bits(), dim > 0 ? ", " + dim + "-d features" : "", ids != null ? ", ids" : "",
            labels != null ? ", labels" : "", (paths != null ? ", paths" : "") + (mih != null ? ", multi-index tables" : ""),
            bytes / 1e6,
            (System.nanoTime() - t0) / 1e9);
      }
    }
    return 0;
  }

  /** The paths file's lines; errors name the file and say what it must be. */
  private static List<String> readPaths(Path file) throws IOException {
    org.deephash.io.InputFiles.requireRegular(file, "a text file of paths, one per line, in UTF-8");
    try {
      return Files.readAllLines(file, StandardCharsets.UTF_8);
    } catch (java.nio.charset.CharacterCodingException e) {
      throw new IllegalArgumentException(file + " is not UTF-8 text: write the paths file in UTF-8, one path a line");
    }
  }

  private static MemorySegment segment(NpyArray a) {
    return a == null ? null : a.data();
  }

  private static IllegalArgumentException bad(String message) {
    return new IllegalArgumentException(message);
  }

  private static String file(Path p) {
    return NpyInput.name(p);
  }
}
