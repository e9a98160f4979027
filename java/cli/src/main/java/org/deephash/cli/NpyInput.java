package org.deephash.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import org.deephash.io.Npy;
import org.deephash.io.NpyArray;
import org.deephash.io.NpyDType;
import org.deephash.io.NpyFormatException;

/**
 * Opens the {@code .npy} inputs of import and search and checks their type and shape; a mismatch is
 * an {@link IllegalArgumentException} (bad input, exit status 2) whose message says what was
 * expected: {@code "codes.npy: expected a 2-D uint8 array [N, B/8], got
 * float32 [1000]"}.
 */
final class NpyInput {
  private NpyInput() {}

  /**
   * Maps {@code file} and checks its element type and number of dimensions.
   *
   * @param expected what the array must be, for messages, e.g. {@code "[N, B/8]"}
   */
  static NpyArray open(Path file, NpyDType dtype, int ndim, String expected) throws IOException {
    String want = "expected a " + ndim + "-D " + dtype.numpyName() + " array " + expected;
    NpyArray a;
    try {
      a = Npy.read(file);
    } catch (NpyFormatException e) {
      // Npy names the file and the problem; add what this input had to be.
      String problem = e.getMessage();
      String prefix = name(file) + ": ";
      if (problem.startsWith(prefix)) {
        problem = problem.substring(prefix.length());
      }
      throw new IllegalArgumentException(name(file) + ": " + want + "; " + problem);
    }
    if (a.dtype() != dtype || a.ndim() != ndim) {
      String got = a.dtype().numpyName() + " " + Arrays.toString(a.shape());
      a.close();
      throw new IllegalArgumentException(name(file) + ": " + want + ", got " + got
          + (a.dtype() != dtype ? " (convert with arr.astype(np." + dtype.numpyName() + "))" : ""));
    }
    return a;
  }

  /** Throws when {@code a}'s first dimension is not {@code rows}. */
  static void requireRows(Path file, NpyArray a, long rows, String expected, Path rowsFrom) {
    if (a.rows() != rows) {
      throw new IllegalArgumentException(name(file) + ": expected " + expected + " with N = " + rows
          + " rows (as in " + name(rowsFrom) + "), got " + Arrays.toString(a.shape()));
    }
  }

  static String name(Path file) {
    Path n = file.getFileName();
    return n == null ? file.toString() : n.toString();
  }
}
