package org.deephash.serve;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.deephash.delf.data.Photos;
import org.deephash.delf.eval.MatchPicture;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.geometry.Ransac;
import org.deephash.delf.search.DelfDatabase;
import org.deephash.delf.search.DelfIndexFolder;
import org.deephash.delf.search.DelfSearch;
import org.deephash.delf.search.PairMatch;

/**
 * Results verified by DELF local features ({@code serve --delf DIR}): a DELF index folder made by
 * {@code engine-cli delf index --images PHOTOS} over the photos the hash index was made from. For a
 * query by an indexed photo, each result's photo is matched against the query's (mutual nearest
 * neighbours of the most attended keypoints, Lowe's ratio test, as {@code delf match}) and RANSAC
 * fits an affine model; the inlier count goes with the result, and {@code /matches/{q}/{r}} draws the
 * correspondences. Rows are paired with the DELF folder's images by file (absolute, normalised
 * path), so the two indexes may list the photos in different orders; a photo the DELF folder does
 * not hold gets 0 inliers (and a 404 for its picture).
 *
 * <p>The hash codes pick the shortlist; verification runs on the results only, so its cost does not
 * grow with the collection (about a pair match and a RANSAC per result).
 */
final class DelfVerifier implements Verifier {
  /** Keypoints matched per photo (the most attended), as DELF's verification. */
  static final int KEYPOINTS = 300;
  /** Results verified per query at most (the rest get 0). */
  static final int MAX_VERIFIED = 100;

  private final DelfDatabase db;
  private final Map<Path, Integer> imageOf;
  private final int baseSide;
  private final Ransac.Options ransac;

  private DelfVerifier(DelfIndexFolder.Opened folder) {
    this.db = folder.database();
    this.imageOf = new HashMap<>();
    for (DelfIndexFolder.Image im : folder.images()) {
      imageOf.put(key(im.path()), im.index());
    }
    this.baseSide = folder.baseSide();
    this.ransac = new Ransac.Options(1000, 6.0, Math.max(3, DelfSearch.Params.defaults().minInliers()), 0L);
  }

  /** Opens a DELF index folder; IOException naming what is wrong with it. */
  static DelfVerifier open(Path folder) throws IOException {
    return new DelfVerifier(DelfIndexFolder.open(folder));
  }

  /** How many of the generation's live rows have local features here (for the start-up line). */
  int covered(IndexGeneration gen) {
    int n = 0;
    for (int row = 0; row < gen.table().size(); row++) {
      if (gen.table().isLive(row) && image(gen, row) >= 0) {
        n++;
      }
    }
    return n;
  }

  @Override
  public int[] inliers(IndexGeneration gen, int queryRow, int[] rows) {
    int q = image(gen, queryRow);
    if (q < 0) {
      return null; // the query has no local features: nothing to verify against
    }
    LocalFeatures qf = db.features(q, KEYPOINTS);
    int[] out = new int[rows.length];
    for (int i = 0; i < rows.length && i < MAX_VERIFIED; i++) {
      int r = image(gen, rows[i]);
      if (r >= 0) {
        out[i] = PairMatch.of(qf, db.features(r, KEYPOINTS), DelfSearch.RATIO, ransac).inliers();
      }
    }
    return out;
  }

  @Override
  public byte[] correspondences(IndexGeneration gen, int queryRow, int resultRow) {
    Path qFile = gen.images().photoFile(queryRow);
    Path rFile = gen.images().photoFile(resultRow);
    int q = image(qFile);
    int r = image(rFile);
    if (q < 0 || r < 0) {
      throw new ApiException(404, "the DELF index given to serve --delf holds no local features for "
          + (q < 0 ? "the query's" : "the result's") + " photo");
    }
    PairMatch m = PairMatch.of(db.features(q, KEYPOINTS), db.features(r, KEYPOINTS), DelfSearch.RATIO, ransac);
    boolean[] in = m.fit().map(Ransac.AffineFit::inliers).orElse(null);
    BufferedImage a;
    BufferedImage b;
    try {
      // the keypoints are in the pixels of each photo as it was extracted: loaded the same way
      a = Photos.load(qFile, baseSide);
      b = Photos.load(rFile, baseSide);
    } catch (IOException e) {
      throw new ApiException(404, "a photo of this pair cannot be read any more: " + e.getMessage());
    }
    BufferedImage pic = MatchPicture.draw(a, m.ax(), b, m.bx(), in, m.count(), 360, String.format(Locale.ROOT,
        "%d tentative matches, %d RANSAC inliers", m.count(), m.inliers()));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      ImageIO.write(pic, "png", out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }

  /** The DELF image of a row, or -1. */
  private int image(IndexGeneration gen, int row) {
    return image(gen.images().photoFile(row));
  }

  /** The DELF image of a photo file (null: none), or -1. */
  private int image(Path file) {
    Integer i = file == null ? null : imageOf.get(key(file));
    return i == null ? -1 : i;
  }

  private static Path key(Path p) {
    return p.toAbsolutePath().normalize();
  }
}
