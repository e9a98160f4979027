package org.deephash.index;

import java.nio.file.Path;
import java.util.List;

/**
 * What an index file holds, for {@code deephash info}: the header fields and, per section, its
 * place in the file and whether its checksum matches. Made by {@link IndexFile#info(Path)}, which
 * reads every section once to compute the checksums.
 *
 * <pre>{@code
 * IndexInfo info = IndexFile.info(Path.of("index.dh"));
 * System.out.println(info.rows() + " rows of " + info.bits() + "-bit codes");
 * for (IndexInfo.Section s : info.sections()) {
 *   System.out.printf("%-10s %12d %12d %s%n", s.name(), s.offset(), s.length(), s.ok() ? "ok" : "CORRUPT");
 * }
 * }</pre>
 *
 * @param file the file
 * @param formatVersion the file's major format version: {@link IndexFile#FORMAT_VERSION}, or 1 for a
 *     file written before the sectioned container (it opens; saving it writes the current version)
 * @param fileBytes the file's length
 * @param headerBytes the header's length, section table and header checksum included
 * @param headerCrc the header's CRC32C (stored and computed agree, or {@code info} would have thrown)
 * @param bits code width B
 * @param dim feature dimension, 0 without features
 * @param rows rows stored (deleted ones included when the file has a tombstones section)
 * @param deletedRows rows marked deleted in the tombstones section (0 without one)
 * @param hasFeatures whether a features section is present (dim > 0)
 * @param hasLabels whether a labels section is present
 * @param hasTombstones whether a tombstones section is present
 * @param hasPaths whether a paths section is present
 * @param sections the sections in file order, optional ones this build does not know included
 */
public record IndexInfo(
    Path file,
    int formatVersion,
    long fileBytes,
    int headerBytes,
    int headerCrc,
    int bits,
    int dim,
    int rows,
    long deletedRows,
    boolean hasFeatures,
    boolean hasLabels,
    boolean hasTombstones,
    boolean hasPaths,
    List<Section> sections) {

  public IndexInfo {
    sections = List.copyOf(sections);
  }

  /**
   * One section.
   *
   * @param name {@code codes}, {@code ids}, {@code features}, {@code labels}, {@code tombstones},
   *     {@code paths}, or the name of an optional section a later version added
   * @param offset byte offset in the file (a multiple of 64)
   * @param length bytes of data (padding excluded)
   * @param storedCrc the CRC32C recorded in the header
   * @param computedCrc the CRC32C of the bytes in the file now
   * @param ok whether they agree
   */
  public record Section(String name, long offset, long length, int storedCrc, int computedCrc, boolean ok) {}

  /** Rows not deleted. */
  public long liveRows() {
    return rows - deletedRows;
  }

  /** Whether every section's checksum matches. */
  public boolean ok() {
    return sections.stream().allMatch(Section::ok);
  }
}
