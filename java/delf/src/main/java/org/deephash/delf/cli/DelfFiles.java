package org.deephash.delf.cli;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.deephash.cli.api.Progress;
import org.deephash.delf.data.Photos;

/**
 * The photos of a manifest folder, decoded for the DELF commands. (The index folder they write and
 * read is {@link org.deephash.delf.search.DelfIndexFolder}.)
 */
final class DelfFiles {
  private DelfFiles() {}

  /** The photos of a manifest folder with the given roles, loaded at most {@code maxSide} px. */
  static List<BufferedImage> load(Photos photos, List<Photos.Photo> list, int maxSide, Progress progress)
      throws IOException {
    List<BufferedImage> out = new ArrayList<>(list.size());
    try (Progress.Counter c = progress.count("decoding photos", list.size(), "photos")) {
      for (Photos.Photo p : list) {
        out.add(photos.load(p, maxSide));
        c.add(1);
      }
    }
    return out;
  }
}
