package org.deephash.delf.search;

import java.awt.image.BufferedImage;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.extract.Pca;
import org.deephash.delf.geometry.Ransac;
import org.deephash.delf.net.DelfNet;
import org.deephash.pq.IvfPqIndex;

/**
 * A database of images as DELF sees it: every image's local features, a PCA fitted on all their
 * descriptors, and the IVF-PQ index of the projected descriptors with image id and keypoint.
 *
 * @param seconds time taken to build it
 */
public record DelfDatabase(IvfPqIndex index, Pca pca, int images, double seconds) {

  /** Extracts, fits PCA to {@code pcaDim}, and indexes; {@code nlist} 0 picks about 4 sqrt(descriptors) lists. */
  public static DelfDatabase build(DelfNet net, Extractor ex, List<BufferedImage> images, int pcaDim, int nlist,
      PrintStream log) {
    long t0 = System.nanoTime();
    List<LocalFeatures> fs = new ArrayList<>();
    int total = 0;
    for (int i = 0; i < images.size(); i++) {
      LocalFeatures f = ex.extract(net, images.get(i));
      fs.add(f);
      total += f.count();
      if ((i + 1) % 50 == 0 || i + 1 == images.size()) {
        log.printf(Locale.ROOT, "extracted %d/%d images, %d descriptors (%.0f s)%n", i + 1, images.size(), total,
            (System.nanoTime() - t0) / 1e9);
      }
    }
    int d = net.config().descriptorDim();
    float[] all = new float[total * d];
    int[] ids = new int[total];
    float[] xy = new float[2 * total];
    int o = 0;
    for (int i = 0; i < fs.size(); i++) {
      LocalFeatures f = fs.get(i);
      System.arraycopy(f.descriptors(), 0, all, o * d, f.count() * d);
      System.arraycopy(f.xy(), 0, xy, 2 * o, 2 * f.count());
      Arrays.fill(ids, o, o + f.count(), i);
      o += f.count();
    }
    Pca pca = Pca.fit(all, total, d, pcaDim);
    float[] projected = pca.apply(all, total);
    int lists = nlist > 0 ? nlist : Math.max(16, (int) Math.round(4 * Math.sqrt(total)));
    IvfPqIndex index = IvfPqIndex.train(projected, total, pcaDim, IvfPqIndex.Params.delf(lists));
    index.add(projected, total, ids, xy);
    double s = (System.nanoTime() - t0) / 1e9;
    log.printf(Locale.ROOT, "IVF-PQ: %d descriptors, %d lists, %d-bit codes (%.0f s in all)%n", total, lists,
        index.params().m() * index.params().nbits(), s);
    return new DelfDatabase(index, pca, images.size(), s);
  }

  /** A query's features, projected like the database's. */
  public LocalFeatures project(LocalFeatures f) {
    return f.withDescriptors(pca.apply(f.descriptors(), f.count()), pca.outDim());
  }

  /** RANSAC on an affine model as the verifier of {@link DelfSearch}. */
  public static DelfSearch.Verifier ransac(Ransac.Options o) {
    return (a, b, n) -> {
      double[] src = new double[2 * n];
      double[] dst = new double[2 * n];
      for (int i = 0; i < 2 * n; i++) {
        src[i] = a[i];
        dst[i] = b[i];
      }
      return Ransac.fitAffine(src, dst, o).map(Ransac.AffineFit::inlierCount).orElse(0);
    };
  }
}
