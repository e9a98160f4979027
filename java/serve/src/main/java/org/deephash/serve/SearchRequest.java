package org.deephash.serve;

/**
 * A {@code POST /search} after parsing and validation ({@link RequestParser}): what to search
 * with and how. Nothing in it has touched the index or the model yet.
 *
 * @param source the query: an indexed image's id, a code (with its feature for HDS), or an upload
 * @param options the search options, every one within the server's limits
 */
record SearchRequest(Source source, Options options) {

  /** What the query is. */
  sealed interface Source permits ById, ByCode, ByImage {}

  /** An indexed image, by id: its code and feature come from the table. */
  record ById(long id) implements Source {}

  /** A packed code and, for HDS, its feature vector (null for BCS). */
  record ByCode(byte[] code, float[] feature) implements Source {}

  /**
   * An uploaded picture: its bytes and the size its header announces (within the limits); decoded
   * later, within the server's decode budget, and encoded by the model.
   */
  record ByImage(byte[] bytes, int width, int height) implements Source {}

  /**
   * @param mode HDS (Hamming pool re-ranked by Euclidean distance) or BCS (codes only)
   * @param k results wanted
   * @param pool the HDS top-m pool (when {@code radius < 0})
   * @param radius a Hamming radius, or -1 for none
   * @param cap most codes a radius returns
   */
  record Options(SearchService.Mode mode, int k, int pool, int radius, int cap) {}
}
