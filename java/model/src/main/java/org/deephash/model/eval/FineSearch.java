package org.deephash.model.eval;

import java.util.Arrays;
import java.util.stream.IntStream;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchResult;

/**
 * The coarse-to-fine search (HDS) over an index with any {@link FineStage}: the engine's Hamming
 * pool, then the pool re-ordered by the stage. An index stores F7 only; the stages that rank on
 * the latent activations compute them from the pool's F7 rows through the model's hash layer
 * ({@link LatentLayer}, {@code Encoder::latentOf}), so the model's chosen stage works on every
 * index it made. The paper's stage ({@link FineStage#F7}) is the engine's own {@link
 * GpuHashSearch#coarseToFine} (GPU or native re-rank). Used by {@code query} and {@code serve}.
 */
public final class FineSearch {
  /** The model's hash layer: latent activations (n x bits) of F7 rows (n x featureDim). */
  @FunctionalInterface
  public interface LatentLayer {
    float[] latentOf(float[] f7, int n);
  }

  private FineSearch() {}

  /**
   * Searches with {@code stage}.
   *
   * @param table the index's table, with its F7 features
   * @param latent the model's hash layer, or null (then the latent stages are refused)
   * @param queryCodes q codes of {@code table.codeBytes()} bytes
   * @param queryF7 q x {@code table.dim()} features
   * @param bits the model's code width (the latent activations' width)
   * @return the best k of each query's pool, with Hamming distances and the stage's squared
   *     distances; ties by ascending id
   */
  public static SearchResult search(GpuHashSearch search, CodeTable table, FineStage stage, LatentLayer latent,
      int bits, byte[] queryCodes, float[] queryF7, Pool pool, int k) {
    if (stage == FineStage.F7) {
      return search.coarseToFine(queryCodes, queryF7, pool, k);
    }
    if (stage.usesLatent() && latent == null) {
      throw new IllegalArgumentException("fine stage " + stage.key() + " needs the model's hash layer");
    }
    int q = queryCodes.length / table.codeBytes();
    int dim = table.dim();
    if (stage != FineStage.NONE && queryF7.length != (long) q * dim) {
      throw new IllegalArgumentException("expected " + q + " query features of " + dim + " floats, got "
          + queryF7.length + " floats");
    }
    SearchResult coarse = coarse(search, queryCodes, pool);
    if (stage == FineStage.NONE) {
      return rerank(stage, coarse, new float[0], null, new float[0], 0, k);
    }
    int total = coarse.totalCount();
    float[] f7 = new float[total * dim];
    int[][] rows = new int[q][];
    int at = 0;
    for (int i = 0; i < q; i++) {
      long[] ids = coarse.ids(i);
      rows[i] = new int[ids.length];
      for (int j = 0; j < ids.length; j++, at++) {
        int row = table.rowOf(ids[j]);
        if (row < 0) {
          throw new IllegalStateException("row of id " + ids[j] + " was deleted during the search");
        }
        System.arraycopy(table.feature(row), 0, f7, at * dim, dim);
        rows[i][j] = at;
      }
    }
    float[] db = stage.features(f7, dim, stage.usesLatent() ? latent.latentOf(f7, total) : null, bits, total);
    float[] qf = stage.features(queryF7, dim, stage.usesLatent() ? latent.latentOf(queryF7, q) : null, bits, q);
    return rerank(stage, coarse, db, rows, qf, stage.dim(dim, bits), k);
  }

  /** The coarse stage: each query's Hamming pool (its top m, or every code within a radius, capped). */
  static SearchResult coarse(GpuHashSearch search, byte[] queryCodes, Pool pool) {
    return pool.kind() == Pool.Kind.TOP_M ? search.query(queryCodes, pool.size())
        : search.radius(queryCodes, pool.radius(), pool.size());
  }

  /**
   * Re-orders every query's pool of {@code coarse} with {@code stage} and keeps the best k of each.
   *
   * @param db fine features, one row per item
   * @param rows per query, the row of {@code db} of each pool item; null when an item's row is its id
   * @param queries q x dim fine features of the queries
   */
  static SearchResult rerank(FineStage stage, SearchResult coarse, float[] db, int[][] rows, float[] queries, int dim,
      int k) {
    int q = coarse.queryCount();
    long[][] ids = new long[q][];
    int[][] ham = new int[q][];
    float[][] dist = new float[q][];
    IntStream.range(0, q).parallel().forEach(i -> {
      long[] pid = coarse.ids(i);
      int[] ph = coarse.hammings(i);
      float[] d = new float[pid.length];
      int[] order = rows == null ? stage.order(pid, ph, queries, i * dim, db, dim, d)
          : stage.order(pid, ph, queries, i * dim, db, rows[i], dim, d);
      int m = Math.min(k, order.length);
      ids[i] = new long[m];
      ham[i] = new int[m];
      dist[i] = Arrays.copyOf(d, m);
      for (int j = 0; j < m; j++) {
        ids[i][j] = pid[order[j]];
        ham[i][j] = ph[order[j]];
      }
    });
    int[] offsets = new int[q + 1];
    for (int i = 0; i < q; i++) {
      offsets[i + 1] = offsets[i] + ids[i].length;
    }
    long[] allIds = new long[offsets[q]];
    int[] allHam = new int[offsets[q]];
    float[] allDist = new float[offsets[q]];
    boolean[] truncated = new boolean[q];
    for (int i = 0; i < q; i++) {
      System.arraycopy(ids[i], 0, allIds, offsets[i], ids[i].length);
      System.arraycopy(ham[i], 0, allHam, offsets[i], ham[i].length);
      System.arraycopy(dist[i], 0, allDist, offsets[i], dist[i].length);
      truncated[i] = coarse.truncated(i);
    }
    // the codes' order measures no distance: none is reported
    return SearchResult.of(offsets, allIds, allHam, stage == FineStage.NONE ? null : allDist, truncated)
        .withMethod("hds-" + stage.key());
  }
}
