package org.deephash.backend.cuda;

/**
 * Sizes shared by the host code and the kernels (keep in step with the #defines of
 * cuda/src/deephash_kernels.cu), and the arithmetic that plans a call. Pure Java: unit-tested
 * without a GPU.
 */
final class Plan {
  /** Rows scanned by one block (DH_ROWS_PER_BLOCK). */
  static final int ROWS_PER_BLOCK = 4096;
  /** Threads of a scan block (DH_THREADS). */
  static final int THREADS = 256;
  /** Largest candidate list one block orders in shared memory (DH_SORT_MAX). */
  static final int SORT_MAX = 4096;
  /** Threads of the sorting block (DH_SORT_THREADS). */
  static final int SORT_THREADS = 1024;
  /** Bytes of the per-query selection state (sizeof(DhQueryState)). */
  static final int STATE_BYTES = 64;
  /** Offsets in DhQueryState. */
  static final int STATE_TARGET = 0;
  static final int STATE_TOTAL = 36;
  /** At most this many queries per launch (grid.y). */
  static final int MAX_BATCH = 65535;

  private Plan() {}

  /** 64-bit words per padded code on the device. */
  static int words(int bits) {
    return (bits + 63) / 64;
  }

  /** Scan kernel variant for a padded width: w1, w2, w4 or the generic wn. */
  static String variant(int words) {
    return switch (words) {
      case 1 -> "w1";
      case 2 -> "w2";
      case 4 -> "w4";
      default -> "wn";
    };
  }

  /** Row chunks (grid.x) of a scan over {@code rows} rows. */
  static int chunks(int rows) {
    return Math.max(1, (rows + ROWS_PER_BLOCK - 1) / ROWS_PER_BLOCK);
  }

  /** Private shared histograms per scan block: several when the bins are few (less atomic contention). */
  static int histCopies(int bins) {
    return bins <= 257 ? 8 : 1;
  }

  /**
   * Candidate capacity per query for lists of at most {@code stride} results: room for every
   * certain row plus an equal class that still fits one sorting block, or (stride above
   * SORT_MAX, ordered on the host) the list plus SORT_MAX ties.
   */
  static int candStride(int stride) {
    return stride <= SORT_MAX ? SORT_MAX : stride + SORT_MAX;
  }

  /** Whether the device orders lists of this length (else the host does). */
  static boolean sortsOnDevice(int stride) {
    return stride <= SORT_MAX;
  }

  /** Queries per batch so that per-query buffers fit {@code budget} bytes. */
  static int batch(long perQueryBytes, long budget, int queries, int maxBatch) {
    long b = budget / Math.max(1, perQueryBytes);
    return (int) Math.max(1, Math.min(Math.min(b, queries), Math.min(maxBatch, MAX_BATCH)));
  }

  /** Rows per shard (a multiple of ROWS_PER_BLOCK, so shard starts are word-aligned in the tombstones). */
  static int shardRows(long budgetBytes, long bytesPerRow, int rows, int forced) {
    long r = forced > 0 ? forced : budgetBytes / Math.max(1, bytesPerRow);
    r = Math.max(ROWS_PER_BLOCK, r / ROWS_PER_BLOCK * ROWS_PER_BLOCK);
    return (int) Math.min(r, Math.max(rows, 1));
  }
}
