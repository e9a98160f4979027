package org.deephash.serve;

/**
 * Geometric verification of a search's results (issue 20, part 3): for a query by an indexed
 * image, the number of local-feature correspondences (DELF descriptors matched, RANSAC inliers)
 * between the query and each result, and a picture of those correspondences for one pair. The
 * page shows the count under each result and draws the picture when one is clicked.
 *
 * <p>This is the extension point: {@link #NONE} (the only implementation in this module) knows no
 * local features, so answers carry no {@code inliers} field and {@code GET /matches/{q}/{r}} is a
 * 404 that says so. An implementation over the DELF features of the indexed photos (the
 * hash-shortlist and verification API of {@code java/delf}) plugs in at {@link HttpApi#start}.
 */
interface Verifier {
  /**
   * Inlier counts of {@code rows} against {@code queryRow}, in the same generation, one per row;
   * null when this verifier cannot tell (no local features).
   */
  int[] inliers(IndexGeneration gen, int queryRow, int[] rows);

  /**
   * A PNG of the correspondences between two rows (the query left, the result right, inliers
   * joined by lines).
   *
   * @throws ApiException 404 when there are no local features for them
   */
  byte[] correspondences(IndexGeneration gen, int queryRow, int resultRow);

  /** No local features: no inlier counts, no pictures. */
  Verifier NONE = new Verifier() {
    @Override
    public int[] inliers(IndexGeneration gen, int queryRow, int[] rows) {
      return null;
    }

    @Override
    public byte[] correspondences(IndexGeneration gen, int queryRow, int resultRow) {
      throw new ApiException(404, "this server has no local (DELF) features for its index, so it draws no"
          + " correspondences; results carry no inlier counts");
    }
  };
}
