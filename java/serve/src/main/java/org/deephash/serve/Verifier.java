package org.deephash.serve;

/**
 * Geometric verification of a search's results (issue 20, part 3): for a query by an indexed
 * image, the number of local-feature correspondences (DELF descriptors matched, RANSAC inliers)
 * between the query and each result, and a picture of those correspondences for one pair. The
 * page shows the count under each result and draws the picture when one is clicked.
 *
 * <p>Uploads (a photo from outside the index) are verified too when the implementation can extract
 * local features from a picture ({@link #uploadSide()} above 0): the server decodes the upload to
 * that size and asks for the inlier counts, and the pictures are kept for a while under a key.
 *
 * <p>This is the extension point: {@link #NONE} (the only implementation in this module) knows no
 * local features, so answers carry no {@code inliers} field and {@code GET /matches/{q}/{r}} is a
 * 404 that says so. An implementation over the DELF features of the indexed photos (the
 * hash-shortlist and verification API of {@code java/delf}) plugs in at {@link HttpApi#start}.
 */
interface Verifier {
  /**
   * An upload's verification: the inlier count of each result against the uploaded picture, and the
   * key that names the upload in {@code GET /matches/upload-{key}/{resultId}} while it is recent.
   */
  record UploadCheck(String key, int[] inliers) {}

  /** The longer side, in pixels, an upload is brought to for local features; 0 when uploads are not verified. */
  default int uploadSide() {
    return 0;
  }

  /**
   * Inlier counts of {@code rows} against an uploaded picture (RGB, longer side {@link #uploadSide()}
   * at most); null when this verifier does not verify uploads.
   */
  default UploadCheck inliers(IndexGeneration gen, java.awt.image.BufferedImage upload, int[] rows) {
    return null;
  }

  /**
   * A PNG of the correspondences between a recent upload (its {@link UploadCheck#key}) and a row.
   *
   * @throws ApiException 404 when the key names no recent upload
   */
  default byte[] correspondences(IndexGeneration gen, String uploadKey, int resultRow) {
    throw new ApiException(404, "this server does not verify uploads by local features, so it draws no"
        + " correspondences for them");
  }

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
