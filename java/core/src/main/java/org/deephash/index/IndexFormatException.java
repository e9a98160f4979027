package org.deephash.index;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.zip.CRC32C;
import org.deephash.io.Hex;

/**
 * An index file that cannot be used: not an index, an unsupported format version, truncated, or
 * corrupt (a checksum or a header field that does not add up). The message names the file, the
 * part of it at fault ({@link #section()}: {@code "header"} or a section such as {@code "codes"})
 * and what to do; an index is derived data, so the usual fix is to rebuild it.
 *
 * <pre>{@code
 * try (CodeTable t = IndexFile.open(path)) {
 *   ...
 * } catch (IndexFormatException e) {
 *   System.err.println(e.getMessage()); // "index.dh: section 'codes' checksum mismatch (...)"
 * }
 * }</pre>
 */
public final class IndexFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;
  private final String section;

  /**
   * @param file the index file
   * @param section {@code "header"} or a section name
   * @param message what is wrong and what to do, without the file name (it is prepended)
   */
  public IndexFormatException(Path file, String section, String message) {
    super(name(file) + ": " + message);
    this.file = file;
    this.section = section;
  }

  /** A problem with a file's header: the message is prefixed {@code "header: "}. */
  public static IndexFormatException header(Path file, String message) {
    return new IndexFormatException(file, "header", "header: " + message);
  }

  /** A header that cannot be right: its checksum or fields disagree. */
  public static IndexFormatException corruptHeader(Path file, String message) {
    return header(file, message + ": the file is corrupt; rebuild the index");
  }

  /**
   * Checks a header whose last 4 bytes are the CRC-32C of the {@code headerBytes - 4} before them
   * (both index formats end their header this way), so no field is trusted before it matches.
   */
  public static void verifyHeaderChecksum(Path file, ByteBuffer h, int headerBytes)
      throws IndexFormatException {
    int stored = h.getInt(headerBytes - 4);
    CRC32C crc = new CRC32C();
    crc.update(h.array(), 0, headerBytes - 4);
    int computed = (int) crc.getValue();
    if (stored != computed) {
      throw corruptHeader(file, "header checksum mismatch (stored " + Hex.word(stored)
          + ", computed " + Hex.word(computed) + ")");
    }
  }

  /** A format version this build does not read, saying whether a newer build or a rebuild helps. */
  public static IndexFormatException unsupportedVersion(Path file, int version, int supported) {
    return header(file, "format version " + Integer.toUnsignedString(version) + " is not supported (this build"
        + " reads version " + supported + ")" + (version > supported && version < 1000
            ? ": use a newer deephash, or rebuild the index with this one"
            : ": the header is corrupt; rebuild the index"));
  }

  /** The index file. */
  public Path file() {
    return file;
  }

  /** {@code "header"} or the name of the faulty section ({@code "codes"}, {@code "ids"}, ...). */
  public String section() {
    return section;
  }

  static String name(Path file) {
    Path n = file.getFileName();
    return n == null ? file.toString() : n.toString();
  }
}
