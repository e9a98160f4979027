package org.deephash.internal;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import org.deephash.SearchResult;
import org.deephash.spi.TableView;

/**
 * The fine stage of coarse-to-fine search, shared by the CPU backends: each query's Hamming pool
 * is ranked by squared Euclidean distance, ties by ascending id, and the first k kept with both
 * distances. Backends differ only in how they compute the distance and how they spread queries
 * over threads; {@link #query} may run concurrently for different queries.
 */
public final class Rerank {
  /**
   * {@code false}: the CPU backends' fine stage reads the float features, not an 8-bit copy of them
   * (which costs dim + 16 bytes a row, built on the first coarse-to-fine search). Default true.
   */
  public static final String SQ8_PROPERTY = "engine.rerank.sq8";

  /** What is wrong with the {@link #SQ8_PROPERTY} setting (one line), or null when it is usable. */
  public static String sq8Problem() {
    String v = System.getProperty(SQ8_PROPERTY);
    return v == null || v.trim().equalsIgnoreCase("true") || v.trim().equalsIgnoreCase("false") ? null
        : SQ8_PROPERTY + "=" + v + " is not true or false";
  }

  /** The one warning of a backend that found no memory for the 8-bit copy (it reads the floats). */
  public static String sq8NoMemory(long rows, int dim) {
    return "no memory for the 8-bit copy of " + rows + " feature rows (" + (dim + 16L) * rows
        + " bytes): coarse-to-fine search reads the float features; -D" + SQ8_PROPERTY + "=false silences this";
  }

  /** Whether the fine stage may build and read the 8-bit copy (the setting, usable, is not false). */
  public static boolean sq8Enabled() {
    return !"false".equalsIgnoreCase(System.getProperty(SQ8_PROPERTY, "true").trim());
  }

  /** Squared Euclidean distance between query {@code query} and table row {@code row}. */
  @FunctionalInterface
  public interface Distance {
    float l2(int query, int row);
  }

  /**
   * The reference squared Euclidean distance between query q's features ({@code qf}, d floats a
   * query) and row {@code row}: float, summed in dimension order, as the scalar oracle defines it.
   * Backends that sum differently (SIMD, cuBLAS) agree with it to rounding.
   */
  public static float scalarL2(TableView t, MemorySegment qf, int q, int row) {
    int dim = t.dim();
    long qo = (long) q * dim;
    long ro = (long) row * dim;
    MemorySegment f = t.features();
    float s = 0;
    for (int j = 0; j < dim; j++) {
      float diff = qf.getAtIndex(JAVA_FLOAT_UNALIGNED, qo + j) - f.getAtIndex(JAVA_FLOAT_UNALIGNED, ro + j);
      s += diff * diff;
    }
    return s;
  }

  private final int[] offsets;
  private final long[] ids;
  private final int[] hamming;
  private final float[] distances;

  /** Output room for min(k, pool size) entries per query; the pool of query q is [pool[q], pool[q+1]). */
  public Rerank(int[] poolOffsets, int k) {
    int queries = poolOffsets.length - 1;
    offsets = new int[queries + 1];
    for (int q = 0; q < queries; q++) {
      offsets[q + 1] = offsets[q] + Math.min(k, poolOffsets[q + 1] - poolOffsets[q]);
    }
    ids = new long[offsets[queries]];
    hamming = new int[ids.length];
    distances = new float[ids.length];
  }

  /** Ranks query q's pool (rows and their Hamming distances, indexed by the pool offsets). */
  public void query(int q, TableView t, int[] poolOffsets, int[] poolRows, int[] poolHamming, Distance d) {
    int from = poolOffsets[q];
    int n = poolOffsets[q + 1] - from;
    int[] bits = new int[n];
    long[] id = new long[n];
    int[] index = new int[n];
    for (int i = 0; i < n; i++) {
      int row = poolRows[from + i];
      bits[i] = Float.floatToIntBits(d.l2(q, row));
      id[i] = t.id(row);
      index[i] = i;
    }
    Ranking.sort(bits, id, index, 0, n);
    int out = offsets[q];
    for (int i = 0; i < offsets[q + 1] - out; i++) {
      ids[out + i] = id[i];
      hamming[out + i] = poolHamming[from + index[i]];
      distances[out + i] = Float.intBitsToFloat(bits[i]);
    }
  }

  public SearchResult result() {
    return SearchResult.of(offsets, ids, hamming, distances, null);
  }
}
