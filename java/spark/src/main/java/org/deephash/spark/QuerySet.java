package org.deephash.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A batch of queries held in memory: ids, packed codes and (for coarse-to-fine) features. Small
 * enough sets are broadcast to every executor once; larger ones are cut into blocks and
 * distributed (see {@link JobOptions#broadcastLimitBytes()}).
 *
 * <pre>{@code
 * QuerySet q = QuerySet.of(new long[] {7, 8}, codes16Bytes, null, 8, 0);   // two 64-bit codes
 * }</pre>
 */
public final class QuerySet implements Serializable {
  private static final long serialVersionUID = 1L;

  private final long[] ids;
  private final byte[] codes;
  private final float[] features;
  private final int codeBytes;
  private final int dim;

  private QuerySet(long[] ids, byte[] codes, float[] features, int codeBytes, int dim) {
    this.ids = ids;
    this.codes = codes;
    this.features = features;
    this.codeBytes = codeBytes;
    this.dim = dim;
  }

  /**
   * Wraps arrays without copying.
   *
   * @param ids one unique id per query (they name the queries in the output, and the merge groups by them)
   * @param codes ids.length codes of codeBytes bytes each
   * @param features ids.length x dim floats, or null for Hamming-only jobs (then dim is 0)
   */
  public static QuerySet of(long[] ids, byte[] codes, float[] features, int codeBytes, int dim) {
    if (ids == null || codes == null) {
      throw new IllegalArgumentException("query ids and codes must not be null");
    }
    if (codeBytes < 1 || codes.length != (long) ids.length * codeBytes) {
      throw new IllegalArgumentException("queries: " + ids.length + " ids need " + ids.length + " x " + codeBytes
          + " code bytes, got " + codes.length);
    }
    if (features == null ? dim != 0 : (dim < 1 || features.length != (long) ids.length * dim)) {
      throw new IllegalArgumentException("queries: " + ids.length + " ids need " + ids.length + " x " + dim
          + " feature floats, got " + (features == null ? "none" : features.length));
    }
    long[] sorted = ids.clone();
    Arrays.sort(sorted);
    for (int i = 1; i < sorted.length; i++) {
      if (sorted[i] == sorted[i - 1]) {
        throw new IllegalArgumentException("query id " + sorted[i] + " appears twice: query ids must be unique");
      }
    }
    return new QuerySet(ids, codes, features, codeBytes, dim);
  }

  public int count() {
    return ids.length;
  }

  public int codeBytes() {
    return codeBytes;
  }

  public int dim() {
    return dim;
  }

  public boolean hasFeatures() {
    return features != null;
  }

  long[] ids() {
    return ids;
  }

  byte[] codes() {
    return codes;
  }

  float[] features() {
    return features;
  }

  /** Bytes this set takes in memory (and roughly on the wire). */
  public long byteSize() {
    return ids.length * (8L + codeBytes + 4L * dim);
  }

  /** Consecutive blocks of at most {@code size} queries. */
  List<QuerySet> blocks(int size) {
    List<QuerySet> out = new ArrayList<>();
    for (int from = 0; from < ids.length; from += size) {
      out.add(slice(from, Math.min(ids.length, from + size)));
    }
    return out;
  }

  QuerySet slice(int from, int to) {
    return new QuerySet(
        Arrays.copyOfRange(ids, from, to),
        Arrays.copyOfRange(codes, from * codeBytes, to * codeBytes),
        features == null ? null : Arrays.copyOfRange(features, from * dim, to * dim),
        codeBytes, dim);
  }
}
