package org.deephash.spi;

import org.deephash.Pool;
import org.deephash.SearchResult;

/**
 * One implementation of the search contract. Instances are made by a {@link BackendProvider}
 * for one {@link org.deephash.GpuHashSearch} and may keep per-table state (device copies)
 * keyed by {@link TableView#version()}.
 *
 * <p>Arguments are validated by the facade; implementations may assume them valid. Every
 * operation is exact: Hamming distances equal the scalar oracle's, ties are broken by ascending
 * id. Deleted rows (tombstones) are never returned.
 */
public interface SearchBackend extends AutoCloseable {

  /** Short name, as accepted by the {@code engine.backend} property. */
  String name();

  /** Top-k by Hamming distance; each query's list has min(k, liveRows) entries. */
  SearchResult knn(TableView table, Queries queries, int k);

  /**
   * All rows within Hamming distance r, ranked; at most {@code cap} per query (the best cap
   * entries by distance then id) with the truncated flag set when more were within r.
   */
  SearchResult radius(TableView table, Queries queries, int r, int cap);

  /**
   * The paper's hierarchical search: the Hamming pool ({@link #knn} with m, or {@link #radius}
   * with r and a cap) re-ranked by squared Euclidean distance on the features; the best k (ties
   * by id) with both distances.
   */
  SearchResult coarseToFine(TableView table, Queries queries, Pool pool, int k);

  /**
   * Exhaustive top-k by squared Euclidean distance on the features (ties by id). Called only when
   * {@link #supportsExhaustive()}; otherwise the facade runs it on the best CPU backend.
   */
  SearchResult exhaustive(TableView table, Queries queries, int k);

  /** Whether {@link #exhaustive} runs here (true for the CPU backends). */
  default boolean supportsExhaustive() {
    return true;
  }

  /** Description of the hardware actually used (CPU tier, GPU name), for reports. */
  default String device() {
    return name();
  }

  @Override
  void close();
}
