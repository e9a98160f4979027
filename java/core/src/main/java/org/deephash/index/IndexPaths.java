package org.deephash.index;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.AbstractList;
import java.util.RandomAccess;

/**
 * The source path of every row of an index (for example the image file a code was computed
 * from): an immutable {@code List<String>} indexed by row, {@code get(row)}.
 *
 * <p>The strings are held as one UTF-8 block on the heap and decoded on access, about one byte per
 * character instead of a String object per row.
 *
 * <pre>{@code
 * try (LoadedIndex index = IndexFile.load(Path.of("index.dh"))) {
 *   SearchResult r = search.query(queryCode, 10);
 *   int row = ...; // the row of a result id
 *   String image = index.paths().get(row);
 * }
 * }</pre>
 */
public final class IndexPaths extends AbstractList<String> implements RandomAccess {
  /** A Java array holds at most this many bytes. */
  static final long MAX_BYTES = Integer.MAX_VALUE - 8;

  private final Path file;
  private final byte[] utf8;
  /** size()+1 ascending offsets into utf8. */
  private final int[] offsets;

  private IndexPaths(Path file, byte[] utf8, int[] offsets) {
    this.file = file;
    this.utf8 = utf8;
    this.offsets = offsets;
  }

  /**
   * Copies a paths section: (rows+1) little-endian u64 offsets into the string bytes that follow
   * them, starting at 0, ascending, the last equal to the string bytes' length.
   */
  static IndexPaths read(Path file, MemorySegment section, int rows) throws IndexFormatException {
    long table = 8L * (rows + 1);
    long dataBytes = section.byteSize() - table;
    if (dataBytes > MAX_BYTES) {
      throw new IndexFormatException(file, "paths", "section 'paths' holds " + dataBytes
          + " bytes of strings, more than " + MAX_BYTES + " this build can load");
    }
    int[] offsets = new int[rows + 1];
    long previous = 0;
    for (int r = 0; r <= rows; r++) {
      long o = section.getAtIndex(JAVA_LONG_UNALIGNED, r);
      if ((r == 0 && o != 0) || o < previous || o > dataBytes || (r == rows && o != dataBytes)) {
        throw new IndexFormatException(file, "paths", "section 'paths': offset " + r + " (" + o
            + ") is out of order or out of bounds: the file is corrupt; rebuild it");
      }
      offsets[r] = (int) o;
      previous = o;
    }
    byte[] utf8 = section.asSlice(table, dataBytes).toArray(JAVA_BYTE);
    return new IndexPaths(file, utf8, offsets);
  }

  /** The path of row {@code row}. */
  @Override
  public String get(int row) {
    if (row < 0 || row >= size()) {
      throw new IndexOutOfBoundsException("row " + row + " out of [0, " + size() + ")");
    }
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(utf8, offsets[row], offsets[row + 1] - offsets[row]))
          .toString();
    } catch (CharacterCodingException e) {
      // Only reachable when checksums were skipped (Verify.HEADER_ONLY) on a damaged file.
      throw new UncheckedIOException(new IndexFormatException(file, "paths", "section 'paths': the path of row "
          + row + " is not valid UTF-8: the file is corrupt; rebuild it"));
    }
  }

  /** Number of rows. */
  @Override
  public int size() {
    return offsets.length - 1;
  }
}
