package org.deephash.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.deephash.index.IndexFile;
import org.deephash.index.IndexFormatException;
import org.deephash.index.IndexInfo;
import org.deephash.io.Json;
import org.deephash.cli.api.CliCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code engine-cli info index.dh}: prints an index file's header and verifies every section's
 * checksum; exits 1 naming each section that fails (or the header, when it cannot be read).
 */
@Command(name = "info", description = "Print an index file's header and verify every checksum (exit 1 if one fails).")
final class InfoCommand extends CliCommand {
  @Option(names = "--json", description = "Print one JSON line instead of the table.")
  boolean json;

  @Parameters(paramLabel = "INDEX", description = "The index file.")
  Path file;

  @Override
  protected int execute() throws IOException {
    IndexInfo info;
    try {
      info = IndexFile.info(file);
    } catch (IndexFormatException e) {
      err.println("info: " + e.getMessage());
      err.println("info: FAILED: header (the file cannot be read as an index; rebuild it with engine-cli import)");
      return 1;
    }
    List<String> bad = new ArrayList<>();
    for (IndexInfo.Section s : info.sections()) {
      if (!s.ok()) {
        bad.add(s.name());
      }
    }
    int mihTables = 0;
    long mihBytes = 0;
    for (IndexInfo.Section s : info.sections()) {
      if (s.name().startsWith("mih.r.")) {
        mihTables++;
      }
      if (s.name().startsWith("mih")) {
        mihBytes += s.length();
      }
    }
    double mihPerCode = info.rows() == 0 ? 0 : (double) mihBytes / info.rows();
    List<Path> debris = org.deephash.io.AtomicFiles.debris(file);
    if (json) {
      List<Json> sections = new ArrayList<>();
      for (IndexInfo.Section s : info.sections()) {
        sections.add(new Json().put("name", s.name()).put("offset", s.offset()).put("length", s.length())
            .put("crc32c", hex(s.storedCrc())).put("computed_crc32c", hex(s.computedCrc())).put("ok", s.ok()));
      }
      out.println(new Json().put("file", file.toString()).put("format_version", info.formatVersion())
          .put("file_bytes", info.fileBytes()).put("header_bytes", info.headerBytes())
          .put("header_crc32c", hex(info.headerCrc())).put("bits", info.bits()).put("dim", info.dim())
          .put("rows", info.rows()).put("deleted_rows", info.deletedRows()).put("live_rows", info.liveRows())
          .put("features", info.hasFeatures()).put("labels", info.hasLabels())
          .put("tombstones", info.hasTombstones()).put("paths", info.hasPaths())
          .put("mih_tables", mihTables).put("mih_bytes_per_code", Json.round(mihPerCode, 2))
          .put("debris", debris.stream().map(Path::toString).toList())
          .put("sections", sections).put("ok", bad.isEmpty()).put("corrupt_sections", bad));
    } else {
      out.printf(Locale.ROOT, "%s: deephash index, format version %d, %,d bytes%n", file, info.formatVersion(),
          info.fileBytes());
      out.printf(Locale.ROOT, "  rows        %,d (%,d live, %,d deleted)%n", info.rows(), info.liveRows(),
          info.deletedRows());
      out.printf(Locale.ROOT, "  codes       %d bits (%d bytes each)%n", info.bits(), info.bits() / 8);
      out.printf(Locale.ROOT, "  features    %s%n", info.hasFeatures() ? info.dim() + "-d float32" : "none");
      out.printf(Locale.ROOT, "  labels      %s%n", info.hasLabels() ? "int32" : "none");
      out.printf(Locale.ROOT, "  paths       %s%n", info.hasPaths() ? "yes" : "none");
      out.printf(Locale.ROOT, "  mih tables  %s%n", mihTables == 0 ? "none (every search scans)"
          : String.format(Locale.ROOT, "%d (%.1f bytes a code)", mihTables, mihPerCode));
      out.printf(Locale.ROOT, "  header      %,d bytes, CRC32C %s ok%n", info.headerBytes(), hex(info.headerCrc()));
      out.printf(Locale.ROOT, "%n  %-11s %14s %14s  %-10s %-10s %s%n", "section", "offset", "bytes", "CRC32C",
          "computed", "status");
      for (IndexInfo.Section s : info.sections()) {
        out.printf(Locale.ROOT, "  %-11s %,14d %,14d  %-10s %-10s %s%n", s.name(), s.offset(), s.length(),
            hex(s.storedCrc()), hex(s.computedCrc()), s.ok() ? "ok" : "CORRUPT");
      }
    }
    for (Path d : debris) {
      err.printf(Locale.ROOT, "info: %s (%,d bytes) is left from a save of this file that did not finish; the next"
          + " save removes it (or delete it)%n", d, java.nio.file.Files.size(d));
    }
    if (!bad.isEmpty()) {
      err.println("info: FAILED: checksum mismatch in section" + (bad.size() > 1 ? "s " : " ") + String.join(", ", bad)
          + " of " + file + ": the file is damaged; rebuild it (engine-cli import) or restore a copy");
      return 1;
    }
    return 0;
  }

  private static String hex(int crc) {
    return String.format("%08x", crc);
  }
}
