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
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.geometry.Ransac;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
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
 *
 * <p>Uploads: with the DELF model that made the folder (recorded in it by {@code delf index}, or
 * given as {@code serve --delf-model}), an uploaded photo's local features are extracted as the
 * indexed photos' were (same longer side, pyramid, keypoint count, PCA) and its results are
 * verified the same way. The {@value #RECENT_UPLOADS} most recent uploads are kept (picture and
 * features, about 0.5 MB each) so that their correspondences can be drawn on a click.
 */
final class DelfVerifier implements Verifier, AutoCloseable {
  /** Keypoints matched per photo (the most attended), as DELF's verification. */
  static final int KEYPOINTS = DelfSearch.Params.defaults().verifyKeypoints();
  /** Lowe's ratio of the matches, as DELF's verification. */
  static final double RATIO = DelfSearch.Params.defaults().ratio();
  /** Results verified per query at most (the rest get 0). */
  static final int MAX_VERIFIED = 100;

  /** Uploads whose pictures and features are kept for their correspondence pictures. */
  static final int RECENT_UPLOADS = 32;

  private final DelfDatabase db;
  private final Map<Path, Integer> imageOf;
  private final int baseSide;
  private final Ransac.Options ransac;
  private final Extractor extractor;
  private final DelfNet net;
  private final String uploadNote;
  private final Map<String, Upload> recent = new java.util.LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Upload> eldest) {
      return size() > RECENT_UPLOADS;
    }
  };
  private final java.security.SecureRandom keys = new java.security.SecureRandom();

  /** A recent upload: the picture its keypoints are in, and its verification features. */
  private record Upload(BufferedImage picture, LocalFeatures features) {}

  private DelfVerifier(DelfIndexFolder.Opened folder, DelfNet net, String uploadNote) {
    this.db = folder.database();
    this.imageOf = new HashMap<>();
    for (DelfIndexFolder.Image im : folder.images()) {
      imageOf.put(key(im.path()), im.index());
    }
    this.baseSide = folder.baseSide();
    this.ransac = new Ransac.Options(1000, DelfSearch.INLIER_THRESHOLD_PX,
        Math.max(3, DelfSearch.Params.defaults().minInliers()), 0L);
    this.extractor = folder.extractor();
    this.net = net;
    this.uploadNote = uploadNote;
  }

  /** Opens a DELF index folder, uploads verified with the model it records (when there); IOException naming what is wrong. */
  static DelfVerifier open(Path folder) throws IOException {
    return open(folder, null);
  }

  /**
   * Opens a DELF index folder. Uploads are verified with {@code model} when given (an IOException
   * when it is not a DELF model), else with the model the folder records when that is still there,
   * else not at all ({@link #uploadNote()} says why).
   */
  static DelfVerifier open(Path folder, Path model) throws IOException {
    DelfIndexFolder.Opened f = DelfIndexFolder.open(folder);
    if (model != null) {
      return new DelfVerifier(f, DelfTrainer.open(model), "uploads verified with the DELF model " + model);
    }
    if (f.model() == null) {
      return new DelfVerifier(f, null, "uploads are not verified: " + folder + " records no DELF model (made before"
          + " delf index recorded it); pass --delf-model DIR");
    }
    if (!java.nio.file.Files.isRegularFile(f.model().resolve("delf.properties"))) {
      return new DelfVerifier(f, null, "uploads are not verified: the DELF model " + f.model() + " that made "
          + folder + " is not there any more; pass --delf-model DIR");
    }
    return new DelfVerifier(f, DelfTrainer.open(f.model()), "uploads verified with the DELF model " + f.model());
  }

  /** Whether uploads are verified, and with which model (for the start-up line). */
  String uploadNote() {
    return uploadNote;
  }

  @Override
  public void close() {
    if (net != null) {
      net.close();
    }
  }

  @Override
  public int uploadSide() {
    return net == null ? 0 : baseSide;
  }

  @Override
  public UploadCheck inliers(IndexGeneration gen, BufferedImage upload, int[] rows) {
    if (net == null) {
      return null;
    }
    LocalFeatures qf = db.project(extractor.extract(net, upload)).head(KEYPOINTS);
    int[] out = verify(gen, qf, rows);
    String key = Long.toHexString(keys.nextLong() & Long.MAX_VALUE);
    synchronized (recent) {
      recent.put(key, new Upload(upload, qf));
    }
    return new UploadCheck(key, out);
  }

  @Override
  public byte[] correspondences(IndexGeneration gen, String uploadKey, int resultRow) {
    Upload u;
    synchronized (recent) {
      u = recent.get(uploadKey);
    }
    if (u == null) {
      throw new ApiException(404, "no recent upload has the key '" + RequestParser.safe(uploadKey) + "' (the server"
          + " keeps the last " + RECENT_UPLOADS + "): search with the image again");
    }
    Path rFile = gen.images().photoFile(resultRow);
    int r = image(rFile);
    if (r < 0) {
      throw new ApiException(404, "the DELF index given to serve --delf holds no local features for the result's photo");
    }
    PairMatch m = PairMatch.of(u.features(), db.features(r, KEYPOINTS), RATIO, ransac);
    BufferedImage b;
    try {
      b = Photos.load(rFile, baseSide);
    } catch (IOException e) {
      throw new ApiException(404, "the result's photo cannot be read any more: " + e.getMessage());
    }
    return picture(u.picture(), b, m);
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
    return verify(gen, db.features(q, KEYPOINTS), rows);
  }

  /** Inliers of each row's photo against the query's features (the first {@value #MAX_VERIFIED} rows; 0 without features). */
  private int[] verify(IndexGeneration gen, LocalFeatures qf, int[] rows) {
    int[] out = new int[rows.length];
    for (int i = 0; i < rows.length && i < MAX_VERIFIED; i++) {
      int r = image(gen, rows[i]);
      if (r >= 0) {
        out[i] = PairMatch.of(qf, db.features(r, KEYPOINTS), RATIO, ransac).inliers();
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
    PairMatch m = PairMatch.of(db.features(q, KEYPOINTS), db.features(r, KEYPOINTS), RATIO, ransac);
    BufferedImage a;
    BufferedImage b;
    try {
      // the keypoints are in the pixels of each photo as it was extracted: loaded the same way
      a = Photos.load(qFile, baseSide);
      b = Photos.load(rFile, baseSide);
    } catch (IOException e) {
      throw new ApiException(404, "a photo of this pair cannot be read any more: " + e.getMessage());
    }
    return picture(a, b, m);
  }

  /** The correspondences of a pair drawn as {@code delf match} draws them, as a PNG. */
  private static byte[] picture(BufferedImage a, BufferedImage b, PairMatch m) {
    boolean[] in = m.fit().map(Ransac.AffineFit::inliers).orElse(null);
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
