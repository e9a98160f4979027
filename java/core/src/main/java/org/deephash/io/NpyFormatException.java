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
    super(name(file) + ": " + problem);
    this.file = file;
  }

  /** The offending file. */
  public Path file() {
    return file;
  }

  static String name(Path file) {
    Path n = file.getFileName();
    return n == null ? file.toString() : n.toString();
  }
}
