package org.deephash.backend.java;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.deephash.spi.TableView;

/**
 * The inner loops of the Java backend, in two implementations chosen once per JVM (see {@link
 * JavaBackendProvider}): {@link VectorKernels} with the incubating Vector API, and {@link
 * ScalarKernels}, which needs nothing but the JDK and runs where the {@code jdk.incubator.vector}
 * module is absent. Only the vector one names a {@code jdk.incubator.vector} class, so this
 * interface and the scalar one load without the module.
 *
 * <p>Every method is exact in the same sense: Hamming distances are exact integers; Euclidean
 * values fed to selection are approximations whose rounding {@link FloatTopK} bounds, and the
 * distances returned are recomputed by {@link FloatTopK#reference}.
 */
interface Kernels {

  /** What runs, for reports ("Vector API, 8 x 64-bit lanes"). */
  String describe();

  /**
   * Scans rows [r0, r1) for queries [q0, q0 + qn) of {@code qCodes}: every row with
   * {@code d <= st[j].thr} goes to {@code st[j].add(d, row)}, rows in ascending order.
   */
  void hamming(TableView t, MemorySegment qCodes, int q0, int qn, TopK[] st, int r0, int r1, Scratch scratch);

  /**
   * out[j] = the m-th smallest Hamming distance (m >= 1) from query q0 + j of {@code qCodes} to the
   * n rows of {@code codes} (cb bytes each, contiguous), for j < qn; false, with out untouched,
   * where this implementation has no way quicker than a top-m search (the caller then runs one).
   * A large k's sampled starting threshold (see JavaBackend.sampleBounds).
   */
  default boolean kthDistances(MemorySegment codes, int cb, int n, MemorySegment qCodes, int q0, int qn, int m,
      int[] out, Scratch scratch) {
    return false;
  }

  /**
   * Exhaustive Euclidean scan of rows [r0, r1) for queries [q0, q0 + qn) of {@code queries}
   * (row-major, dim floats each): every row with approximate distance {@code a <= st[j].adm} goes
   * to {@code st[j].add(a, row)}, where a = ||q||^2 + ||x||^2 - 2 q.x.
   */
  void euclidean(TableView t, float[] norms, float[] queries, int q0, int qn, FloatTopK[] st, int r0, int r1,
      Scratch scratch);

  /**
   * out[i] = (the query at {@code qOffs[i]} of {@code queries}) . (feature row {@code rows[i]} of
   * {@code f}), dim floats each, for i < n. The fine stage of coarse-to-fine search: scattered rows
   * read in place (copying them into a block first measured slower in Java: the bytes move twice).
   */
  void dots(MemorySegment f, int dim, int[] rows, int[] qOffs, int n, float[] queries, float[] out);

  /**
   * As {@link #dots} over the 8-bit copy ({@link EightBitCopy}): out[i] = the query at
   * {@code qOffs[i]} . the row's unsigned byte codes ({@code codes}, dim bytes a row).
   */
  void dots8(MemorySegment codes, int dim, int[] rows, int[] qOffs, int n, float[] queries, float[] out);

  /** Reusable arrays of one task. */
  final class Scratch {
    long[] longs = new long[0];
    float[] floats = new float[0];
    float[] row = new float[0];
    /**
     * The Hamming kernels' flagged groups and lane distances. Allocated per kernel call they were
     * most of a search's garbage (a 4 KB array per block of 4 queries and tile of rows: 31 MB a
     * batch of 1000 queries over a million rows, a young collection every few searches).
     */
    final int[] hits = new int[VectorKernels.CHUNK];
    final long[] lanes = new long[64];
    /** One flag byte per group of a chunk, and a vector's worth to spare for the last read. */
    final byte[] flags = new byte[VectorKernels.CHUNK + 64];
    /**
     * scan8Codes's flagged rows of a chunk (hit mask << 32 | row) and their codes; doubled when a
     * chunk has more (up to its whole 8 CHUNK rows, while a threshold is still far above the k-th
     * distance).
     */
    long[] rowHits = new long[256];
    long[] rowCodes = new long[256];
    /** kthDistances's distances of one query to the rows, a byte each. */
    byte[] distances = new byte[0];
    /** scan8Codes's direct appends: the block's 8 lists and where each list's next entry goes. */
    final long[][] lists = new long[8][];
    final int[] ends = new int[8];

    /** Twice the room for flagged rows. */
    void moreRows() {
      rowHits = Arrays.copyOf(rowHits, 2 * rowHits.length);
      rowCodes = Arrays.copyOf(rowCodes, 2 * rowCodes.length);
    }

    long[] longs(int n) {
      if (longs.length < n) {
        longs = new long[n];
      }
      return longs;
    }

    float[] floats(int n) {
      if (floats.length < n) {
        floats = new float[n];
      }
      return floats;
    }

    float[] row(int n) {
      if (row.length < n) {
        row = new float[n];
      }
      return row;
    }
  }
}
