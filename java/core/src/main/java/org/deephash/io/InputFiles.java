package org.deephash.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Checks on a file a user names before it is opened: opening a FIFO for reading blocks until a
 * writer appears (so `info` on one would hang), and a directory or a device gives errors that do
 * not name the file. Every reader of user files calls {@link #requireRegular} first.
 */
public final class InputFiles {
  private InputFiles() {}

  /**
   * Throws an {@link IOException} naming {@code file} and {@code what} it should be, unless it is
   * a regular file (symbolic links followed).
   */
  public static void requireRegular(Path file, String what) throws IOException {
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(file, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      throw new NoSuchFileException(file.toString(), null, "no such file: pass " + what);
    }
    if (a.isRegularFile()) {
      return;
    }
    String kind = a.isDirectory() ? "a directory"
        : a.isSymbolicLink() || Files.isSymbolicLink(file) && !Files.exists(file, LinkOption.NOFOLLOW_LINKS)
            ? "a broken link"
        : a.isOther() ? "not a regular file (a FIFO, socket or device)" : "not a regular file";
    throw new IOException(file + " is " + kind + ": pass " + what);
  }
}
