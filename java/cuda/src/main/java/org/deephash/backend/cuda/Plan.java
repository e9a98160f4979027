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
  /** Largest grid.y of a launch; the bounded scan loops over more row chunks than this. */
  static final int MAX_GRID_Y = 65535;
  /**
   * Largest k (or top-m pool) the bounded path serves: above it the certain rows plus the ties
   * at the threshold of random codes no longer fit one sorting block, and the histogram path
   * (with its id-digit refinement) is the faster exact choice.
   */
  static final int BOUND_MAX_K = 1024;
  /** Rows a bounded-scan block visits per chunk (DH_BOUND_ROWS). */
  static final int BOUND_ROWS = 4096;
  /** Property that forces the selection path: {@code auto} (default) or {@code histogram}. */
  static final String SELECTION_PROPERTY = "deephash.cuda.selection";

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

  /**
   * Whether a search takes the bounded path: top-k (no radius cut) with k <= BOUND_MAX_K, unless
   * {@value #SELECTION_PROPERTY}=histogram forces the histogram path.
   */
  static boolean bounded(int selectK, int maxDist, int bits, String selection) {
    if (selection != null && !selection.equals("auto") && !selection.equals("histogram")) {
      throw new IllegalArgumentException(SELECTION_PROPERTY + " must be auto or histogram (was '" + selection + "')");
    }
    return !"histogram".equals(selection) && maxDist >= bits && selectK >= 1 && selectK <= BOUND_MAX_K;
  }

  /** Queries a bounded-scan block holds in registers (the QB of its kernel variant). */
  static int boundQueries(int words) {
    return switch (words) {
      case 1 -> 16;
      case 2 -> 8;
      default -> 4;
    };
  }

  /**
   * Filter-list capacity per query of the bounded path: 16 k, at least one sorting block. The
   * sample below is sized so that the expected list is about a quarter of it.
   */
  static int filterCap(int k) {
    return (int) Math.min(65536, Math.max(SORT_MAX, 16L * k));
  }

  /**
   * The bounded path's sample: every {@code stride}-th chunk of ROWS_PER_BLOCK rows, spread over
   * the table, about 4k/cap of it (at least 4 chunks) so that the rows below the sample's k-th
   * distance fill about a quarter of the filter list.
   */
  static int sampleStride(int rows, int k, int cap) {
    int chunks = chunks(rows);
    long want = Math.max(4, (chunks * 4L * k + cap - 1) / cap);
    return (int) Math.max(1, chunks / want);
  }

  /** Chunks the sample histogram visits for a stride. */
  static int sampleChunks(int rows, int stride) {
    return (chunks(rows) + stride - 1) / stride;
  }

  /**
   * Where the ranked lists of a batch lie in one buffer, so that one copy brings them back: ids
   * (8-byte aligned) first, then keys, rows and per-query counts ({@code -1} = the bounded path
   * overflowed and the batch is redone).
   */
  record Lists(int queries, int stride) {
    long id() {
      return 0;
    }

    long key() {
      return (long) queries * stride * 8;
    }

    long row() {
      return key() + (long) queries * stride * 4;
    }

    long count() {
      return row() + (long) queries * stride * 4;
    }

    long bytes() {
      return count() + queries * 4L;
    }
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
