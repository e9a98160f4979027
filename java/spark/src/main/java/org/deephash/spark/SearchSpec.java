package org.deephash.spark;

import java.io.Serializable;
import java.util.Objects;
import org.deephash.Pool;

/**
 * What a {@link SparkSearch} job computes for every query: the exact Hamming top-k, or the
 * coarse-to-fine search (a Hamming pool re-ranked by squared Euclidean distance), with the same
 * answer as {@link org.deephash.GpuHashSearch} over the whole collection on one machine.
 *
 * <pre>{@code
 * SearchSpec knn = SearchSpec.hamming(10);
 * SearchSpec hds = SearchSpec.coarseToFine(Pool.topM(1000), 10).withBackend("native");
 * }</pre>
 */
public final class SearchSpec implements Serializable {
  private static final long serialVersionUID = 1L;

  private final int k;
  // Pool itself is not Serializable; its three fields travel instead.
  private final Pool.Kind poolKind;
  private final int poolSize;
  private final int poolRadius;
  private final String backend;

  private SearchSpec(int k, Pool pool, String backend) {
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1 (passed " + k + ")");
    }
    this.k = k;
    this.poolKind = pool == null ? null : pool.kind();
    this.poolSize = pool == null ? 0 : pool.size();
    this.poolRadius = pool == null ? -1 : pool.radius();
    this.backend = backend;
  }

  /** Exact top-k by Hamming distance, ties by ascending id. */
  public static SearchSpec hamming(int k) {
    return new SearchSpec(k, null, null);
  }

  /** The engine's coarse-to-fine search: {@code pool} by Hamming distance, best k by Euclidean distance. */
  public static SearchSpec coarseToFine(Pool pool, int k) {
    if (pool == null) {
      throw new IllegalArgumentException("pool must not be null (Pool.topM(m) or Pool.radius(r, cap))");
    }
    return new SearchSpec(k, pool, null);
  }

  /**
   * Forces an engine backend on the executors ({@code java}, {@code native}, {@code cuda}); null (the
   * default) lets each executor pick its best (CUDA where a GPU is assigned and the kernels load).
   */
  public SearchSpec withBackend(String name) {
    return new SearchSpec(k, pool(), name);
  }

  public int k() {
    return k;
  }

  /** The coarse pool, or null for a Hamming top-k. */
  public Pool pool() {
    return poolKind == null ? null : new Pool(poolKind, poolSize, poolRadius);
  }

  public String backend() {
    return backend;
  }

  public boolean isCoarseToFine() {
    return poolKind != null;
  }

  /**
   * How many entries per query each shard sends and the merge keeps: k for a Hamming top-k, the
   * pool size (m, or the radius cap) for coarse-to-fine, whose fine stage needs the whole global pool.
   */
  int listLimit() {
    return poolKind == null ? k : poolSize;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof SearchSpec s && s.k == k && s.poolKind == poolKind && s.poolSize == poolSize
        && s.poolRadius == poolRadius && Objects.equals(s.backend, backend);
  }

  @Override
  public int hashCode() {
    return Objects.hash(k, poolKind, poolSize, poolRadius, backend);
  }

  @Override
  public String toString() {
    return poolKind == null
        ? "hamming top-" + k
        : "coarse-to-fine " + (poolKind == Pool.Kind.TOP_M ? "top-" + poolSize : "radius " + poolRadius + " cap "
            + poolSize) + " -> top-" + k;
  }
}
