package org.deephash;

import java.util.Arrays;

/**
 * Results of one batched search: for each of the Q queries, a ranked list of ids with their
 * Hamming distances and/or squared Euclidean distances.
 *
 * <p>Lists are ranked by the operation's primary distance, ties broken by ascending id. Lists may
 * have different lengths (radius search; a table with fewer live codes than k). Which distances
 * are present depends on the operation: {@link GpuHashSearch#query} and {@link
 * GpuHashSearch#radius} carry Hamming distances, {@link GpuHashSearch#exhaustive} carries
 * Euclidean distances, {@link GpuHashSearch#coarseToFine} carries both.
 *
 * <pre>{@code
 * SearchResult r = search.query(queryCodes, 10);
 * for (int i = 0; i < r.count(0); i++) {
 *   System.out.println(r.id(0, i) + " at Hamming distance " + r.hamming(0, i));
 * }
 * }</pre>
 */
public final class SearchResult {
  private final int[] offsets;
  private final long[] ids;
  private final int[] hamming;
  private final float[] distances;
  private final boolean[] truncated;
  private final String method;

  private SearchResult(int[] offsets, long[] ids, int[] hamming, float[] distances, boolean[] truncated,
      String method) {
    this.offsets = offsets;
    this.ids = ids;
    this.hamming = hamming;
    this.distances = distances;
    this.truncated = truncated;
    this.method = method;
  }

  /**
   * How the Hamming stage found the codes: {@code "scan"} (every code compared) or {@code "mih"}
   * (multi-index hash tables probed; {@link CodeTable#buildMultiIndex}).
   */
  public String method() {
    return method;
  }

  /** The same result labelled with the method that found it (no copy). */
  public SearchResult withMethod(String method) {
    return new SearchResult(offsets, ids, hamming, distances, truncated, method);
  }

  /**
   * Wraps result arrays without copying. For backends.
   *
   * @param offsets Q+1 ascending offsets; query q owns entries [offsets[q], offsets[q+1])
   * @param ids ids, length offsets[Q]
   * @param hamming Hamming distances, length offsets[Q], or null
   * @param distances squared Euclidean distances, length offsets[Q], or null
   * @param truncated per query: did a cap cut the list (radius search), or null
   */
  public static SearchResult of(int[] offsets, long[] ids, int[] hamming, float[] distances, boolean[] truncated) {
    if (offsets == null || offsets.length < 1 || offsets[0] != 0) {
      throw new IllegalArgumentException("offsets must start with 0 and have Q+1 entries");
    }
    int total = offsets[offsets.length - 1];
    if (ids.length != total) {
      throw new IllegalArgumentException("ids.length " + ids.length + " != offsets[Q] " + total);
    }
    if (hamming != null && hamming.length != total) {
      throw new IllegalArgumentException("hamming.length " + hamming.length + " != " + total);
    }
    if (distances != null && distances.length != total) {
      throw new IllegalArgumentException("distances.length " + distances.length + " != " + total);
    }
    if (truncated != null && truncated.length != offsets.length - 1) {
      throw new IllegalArgumentException("truncated.length must equal the query count");
    }
    return new SearchResult(offsets, ids, hamming, distances, truncated, "scan");
  }

  /** Fixed-stride result: every query has exactly {@code perQuery} entries. */
  public static SearchResult fixed(int queries, int perQuery, long[] ids, int[] hamming, float[] distances) {
    int[] offsets = new int[queries + 1];
    for (int q = 0; q <= queries; q++) {
      offsets[q] = q * perQuery;
    }
    return of(offsets, ids, hamming, distances, null);
  }

  public int queryCount() {
    return offsets.length - 1;
  }

  /** Number of results of query {@code q}. */
  public int count(int q) {
    return offsets[q + 1] - offsets[q];
  }

  /** Total number of results over all queries. */
  public int totalCount() {
    return offsets[offsets.length - 1];
  }

  public long id(int q, int rank) {
    return ids[index(q, rank)];
  }

  /** Hamming distance of the result at {@code rank}; only for operations that compute it. */
  public int hamming(int q, int rank) {
    if (hamming == null) {
      throw new IllegalStateException("this result has no Hamming distances (exhaustive Euclidean search)");
    }
    return hamming[index(q, rank)];
  }

  /** Squared Euclidean distance of the result at {@code rank}; only for feature-based operations. */
  public float distance(int q, int rank) {
    if (distances == null) {
      throw new IllegalStateException("this result has no Euclidean distances (Hamming-only search)");
    }
    return distances[index(q, rank)];
  }

  public boolean hasHamming() {
    return hamming != null;
  }

  public boolean hasDistances() {
    return distances != null;
  }

  /** True when the cap of a radius search cut query q's list (more codes were within the radius). */
  public boolean truncated(int q) {
    return truncated != null && truncated[q];
  }

  public long[] ids(int q) {
    return Arrays.copyOfRange(ids, offsets[q], offsets[q + 1]);
  }

  public int[] hammings(int q) {
    if (hamming == null) {
      throw new IllegalStateException("this result has no Hamming distances (exhaustive Euclidean search)");
    }
    return Arrays.copyOfRange(hamming, offsets[q], offsets[q + 1]);
  }

  public float[] distances(int q) {
    if (distances == null) {
      throw new IllegalStateException("this result has no Euclidean distances (Hamming-only search)");
    }
    return Arrays.copyOfRange(distances, offsets[q], offsets[q + 1]);
  }

  private int index(int q, int rank) {
    int n = count(q);
    if (rank < 0 || rank >= n) {
      throw new IndexOutOfBoundsException("rank " + rank + " out of [0, " + n + ") for query " + q);
    }
    return offsets[q] + rank;
  }

  @Override
  public String toString() {
    return "SearchResult[queries=" + queryCount() + ", results=" + totalCount() + "]";
  }
}
