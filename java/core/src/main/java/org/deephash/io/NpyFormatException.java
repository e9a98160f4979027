package org.deephash.io;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A {@code .npy} file the engine cannot read: not a {@code .npy} file, truncated, an unsupported
 * format version, dtype or memory order. The message names the file and says how to fix it.
 */
public final class NpyFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;

  public NpyFormatException(Path file, String problem) {
    super(name(file) + ": " + oneLine(problem));
    this.file = file;
  }

  /** The offending file. */
  public Path file() {
    return file;
  }

  /**
   * The problem as one printable line: a hostile header can hold newlines, control characters and
   * bytes of any value, which must not reach a terminal or a log as they are.
   */
  static String oneLine(String problem) {
    StringBuilder b = new StringBuilder(problem.length());
    for (int i = 0; i < problem.length(); i++) {
      char c = problem.charAt(i);
      if (c >= 0x20 && c < 0x7f) {
        b.append(c);
      } else if (c == '\n' || c == '\r' || c == '\t') {
        b.append(' ');
      } else {
        b.append(String.format("\\x%02x", (int) c & 0xff));
      }
    }
    return b.toString();
  }

  static String name(Path file) {
    Path n = file.getFileName();
    return n == null ? file.toString() : n.toString();
  }
}
