package org.deephash.index;

import java.io.IOException;
import java.nio.file.Path;

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
    this(file, section, name(file) + ": " + message, true);
  }

  private IndexFormatException(Path file, String section, String fullMessage, boolean unused) {
    super(fullMessage);
    this.file = file;
    this.section = section;
  }

  /** A problem with a file's header: the message is prefixed {@code "header: "}. */
  public static IndexFormatException header(Path file, String message) {
    return new IndexFormatException(file, "header", "header: " + message);
  }

  /** A header that cannot be right: its checksum or fields disagree. */
  public static IndexFormatException corruptHeader(Path file, String message) {
    return header(file, message + ": the file is corrupt; rebuild it");
  }

  /**
   * A format version this build does not read, saying whether a newer build or a rebuild helps.
   *
   * @param shown the version as the file states it ("3", "3.1")
   * @param major its major version
   * @param newest the newest major version this build reads (it reads 1 to newest)
   */
  public static IndexFormatException unsupportedVersion(Path file, String shown, long major, int newest) {
    boolean newer = major > newest && major < 1000; // a huge number is damage, not the future
    return header(file, "format version " + shown + " is not supported (this build reads versions 1 "
        + (newest == 2 ? "and 2" : "to " + newest) + ")"
        + (newer ? ": use a newer deephash, or rebuild it with this one" : ": the header is corrupt; rebuild it"));
  }

  /**
   * A deephash file of another kind than the reader's: says what it is and what reads it, as in
   * {@code x.dhx is an IVF-PQ index of DELF local descriptors, not a code-table index: ...}.
   */
  public static IndexFormatException wrongKind(Path file, String actual, String expected, String howToOpen) {
    return new IndexFormatException(file, "header", name(file) + " is " + actual + ", not " + expected + ": "
        + howToOpen, true);
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
