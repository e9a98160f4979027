package org.deephash.spi;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A consistent snapshot of a {@link org.deephash.CodeTable}, valid for the duration of one search
 * call (the table's read lock is held). Backends read the segments directly: no copy.
 *
 * <p>Layout: row r's code is bytes [r*codeBytes, (r+1)*codeBytes) of {@code codes}; bit i of a code
 * is bit (i mod 8) of byte i/8, so reading a code as little-endian 64-bit words gives bit i at bit
 * (i mod 64) of word i/64. {@code codes} has at least 8 readable bytes past the last code, so a
 * width that is not a multiple of 64 may read a whole word and mask it. Features are float32
 * row-major (rows x dim), ids int64, labels int32.
 *
 * @param bits code width B, a multiple of 8 in [8, 4096]
 * @param codeBytes B/8, the row stride of {@code codes}
 * @param dim feature dimension, 0 when the table has no features
 * @param rows number of rows, deleted ones included
 * @param liveRows rows not deleted
 * @param codes packed codes
 * @param features float32 features or {@link MemorySegment#NULL}
 * @param ids int64 ids
 * @param labels int32 labels or {@link MemorySegment#NULL}
 * @param tombstones bitmap of deleted rows (bit r of little-endian word r/64), or {@link
 *     MemorySegment#NULL} when no row is deleted
 * @param version changes whenever rows are added or deleted
 * @param idsAscending whether ids[r] < ids[r + 1] for every row, so that ordering ties by id is
 *     ordering them by row
 */
public record TableView(
    int bits,
    int codeBytes,
    int dim,
    int rows,
    int liveRows,
    MemorySegment codes,
    MemorySegment features,
    MemorySegment ids,
    MemorySegment labels,
    MemorySegment tombstones,
    long version,
    boolean idsAscending) {

  /**
   * Whether every row's id is its row number: ids that ascend strictly from 0 at row 0 to rows - 1
   * at the last row can be nothing else (the usual case: rows added without ids). Callers then
   * skip the id lookups, random reads of the ids segment for every result.
   */
  public boolean idsAreRows() {
    return idsAscending
        && rows > 0
        && ids.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, 0) == 0
        && ids.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, rows - 1) == rows - 1;
  }

  public boolean hasTombstones() {
    return tombstones.byteSize() != 0;
  }

  public boolean isLive(int row) {
    if (!hasTombstones()) {
      return true;
    }
    long word = tombstones.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, row >>> 6);
    return (word & (1L << row)) == 0;
  }

  public long id(int row) {
    return ids.getAtIndex(ValueLayout.JAVA_LONG_UNALIGNED, row);
  }
}
