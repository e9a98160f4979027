package org.deephash.delf.search;

import java.awt.image.BufferedImage;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.deephash.cli.api.Progress;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.extract.Pca;
import org.deephash.delf.geometry.Ransac;
import org.deephash.delf.net.DelfNet;
import org.deephash.pq.IvfPqIndex;

/**
 * A database of images as DELF sees it: every image's local features, a PCA fitted on their
 * descriptors (all of them up to {@link #PCA_SAMPLE}, else the first images'), and the IVF-PQ index
 * of the projected descriptors with image id and keypoint.
 *
 * @param exact every indexed descriptor, PCA-projected, uncompressed, in index entry order (N x
 *     outDim): geometric verification matches a shortlisted image's own descriptors exactly
 * @param seconds time taken to build it
 */
public final class DelfDatabase {
  private final IvfPqIndex index;
  private final Pca pca;
  private final int images;
  private final float[] exact;
  private final double seconds;
  private final int[] starts;

  public DelfDatabase(IvfPqIndex index, Pca pca, int images, float[] exact, double seconds) {
    if (exact.length != (long) index.size() * index.dim()) {
      throw new IllegalArgumentException("exact descriptors: " + exact.length + " floats for " + index.size()
          + " entries of " + index.dim());
    }
    this.index = index;
    this.pca = pca;
    this.images = images;
    this.exact = exact;
    this.seconds = seconds;
    this.starts = starts();
  }

  public IvfPqIndex index() {
    return index;
  }


  public Pca pca() {
    return pca;
  }

  public int images() {
    return images;
  }

  public float[] exact() {
    return exact;
  }

  public double seconds() {
    return seconds;
  }

  /** The first entry of each image and one past the last (entries are grouped by image, in image order). */
  private int[] starts() {
    int[] start = new int[images + 1];
    int e = 0;
    for (int i = 0; i < images; i++) {
      start[i] = e;
      while (e < index.size() && index.imageId(e) == i) {
        e++;
      }
    }
    if (e != index.size()) {
      throw new IllegalStateException("index entries are not grouped by image in image order");
    }
    start[images] = e;
    return start;
  }

  /** Image {@code i}'s indexed keypoints with their exact projected descriptors (most attended first). */
  public LocalFeatures features(int i) {
    return features(i, Integer.MAX_VALUE);
  }

  /** The {@code max} most attended of image {@code i}'s indexed keypoints, copied without the rest. */
  public LocalFeatures features(int i, int max) {
    int a = starts[i];
    int n = Math.min(max, starts[i + 1] - a);
    int d = index.dim();
    float[] xy = new float[2 * n];
    for (int j = 0; j < n; j++) {
      xy[2 * j] = index.x(a + j);
      xy[2 * j + 1] = index.y(a + j);
    }
    return new LocalFeatures(n, d, java.util.Arrays.copyOfRange(exact, a * d, (a + n) * d), xy, new float[n],
        new float[n]);
  }

  /** Images whose pyramids are extracted together (their dense levels are held until selection). */
  static final int EXTRACT_WINDOW = 64;

  /** Pyramid levels of one size run through the network together, at most this many (the default). */
  public static final int EXTRACT_BATCH = 16;

  /** {@link #build(DelfNet, Extractor, List, int, int, int, PrintStream)} with batches of {@link #EXTRACT_BATCH}. */
  public static DelfDatabase build(DelfNet net, Extractor ex, List<BufferedImage> images, int pcaDim, int nlist,
      PrintStream log) {
    return build(net, ex, images, pcaDim, nlist, EXTRACT_BATCH, log);
  }

  /**
   * Extracts (pyramid levels of equal size {@code batch} at a time), fits PCA to {@code pcaDim}, and
   * indexes; {@code nlist} 0 picks about sqrt(descriptors) lists.
   */
  public static DelfDatabase build(DelfNet net, Extractor ex, List<BufferedImage> images, int pcaDim, int nlist,
      int batch, PrintStream log) {
    return build(net, ex, images, pcaDim, nlist, batch, Progress.none(), log);
  }

  /** As {@link #build(DelfNet, Extractor, List, int, int, int, PrintStream)}, drawing the extraction's progress. */
  public static DelfDatabase build(DelfNet net, Extractor ex, List<BufferedImage> images, int pcaDim, int nlist,
      int batch, Progress progress, PrintStream log) {
    long t0 = System.nanoTime();
    Builder b = new Builder(net.config().descriptorDim(), pcaDim, PCA_SAMPLE);
    // a window of images at a time: levels of equal size across the window share network calls
    try (Progress.Counter counter = progress.count("extracting local features", images.size(), "images")) {
      for (int a = 0; a < images.size(); a += EXTRACT_WINDOW) {
        int e = Math.min(images.size(), a + EXTRACT_WINDOW);
        for (LocalFeatures f : ex.extract(net, images.subList(a, e), batch)) {
          b.add(f);
        }
        counter.add(e - a);
      }
    }
    log.printf(Locale.ROOT, "extracted %d descriptors of %d images (%.0f s)%s%n", b.descriptors(), images.size(),
        (System.nanoTime() - t0) / 1e9, b.descriptors() > b.pcaSample() ? String.format(Locale.ROOT,
            "; PCA fitted on the first %d", b.pcaSample()) : "");
    return b.finish(nlist, progress, log, t0);
  }

  /**
   * Descriptors a database's PCA is fitted on, at most (rounded up to whole images): the first images'
   * until this many are held. Up to it, raw descriptors wait for the fit; past it, each image is
   * projected as it comes and its raw descriptors are dropped, so a database of 10M descriptors holds
   * 40 floats of each, not 96 twice over (a million 96-d descriptors fit a 96 x 96 covariance
   * far more closely than 40 directions need).
   */
  public static final int PCA_SAMPLE = 1 << 20;

  /**
   * Builds a database in a stream of images: {@link #add} each image's features in image order,
   * then {@link #finish}. The raw descriptors of the first images are held until at least {@code
   * pcaSample} are in (or the stream ends), PCA is fitted on them, and from then on every image is
   * projected as it is added.
   */
  public static final class Builder {
    private final int inDim;
    private final int pcaDim;
    private final int pcaSample;
    private final List<LocalFeatures> raw = new ArrayList<>();
    private int rawCount;
    private Pca pca;
    private final List<float[]> projected = new ArrayList<>();
    private final List<float[]> xys = new ArrayList<>();
    private final List<Integer> counts = new ArrayList<>();
    private long total;

    public Builder(int inDim, int pcaDim, int pcaSample) {
      if (pcaSample < 2) {
        throw new IllegalArgumentException("the PCA sample needs at least 2 descriptors, not " + pcaSample);
      }
      this.inDim = inDim;
      this.pcaDim = pcaDim;
      this.pcaSample = pcaSample;
    }

    /** Adds the next image's features (image id = the number added before). */
    public Builder add(LocalFeatures f) {
      if (f.dim() != inDim) {
        throw new IllegalArgumentException("descriptors of " + f.dim() + " floats, the database takes " + inDim);
      }
      if (total + f.count() > Integer.MAX_VALUE / Math.max(inDim, pcaDim)) {
        throw new IllegalArgumentException("more than " + Integer.MAX_VALUE / Math.max(inDim, pcaDim)
            + " descriptors: index fewer images or fewer keypoints per image (--max-features)");
      }
      total += f.count();
      if (pca == null) {
        raw.add(f);
        rawCount += f.count();
        if (rawCount >= pcaSample) {
          fit();
        }
      } else {
        keep(f);
      }
      return this;
    }

    /** Descriptors added so far. */
    public long descriptors() {
      return total;
    }

    /** Descriptors the PCA was (or will be) fitted on: those held until it was fitted. */
    public int pcaSample() {
      return rawCount;
    }

    private void fit() {
      float[] x = new float[rawCount * inDim];
      int o = 0;
      for (LocalFeatures f : raw) {
        System.arraycopy(f.descriptors(), 0, x, o * inDim, f.count() * inDim);
        o += f.count();
      }
      pca = Pca.fit(x, rawCount, inDim, pcaDim);
      for (LocalFeatures f : raw) {
        keep(f);
      }
      raw.clear();
    }

    private void keep(LocalFeatures f) {
      projected.add(pca.apply(f.descriptors(), f.count()));
      xys.add(f.xy());
      counts.add(f.count());
    }

    /** Fits PCA if not yet done and trains the IVF-PQ index ({@code nlist} 0: about sqrt(descriptors) lists). */
    public DelfDatabase finish(int nlist, Progress progress, PrintStream log, long startNanos) {
      if (pca == null) {
        fit();
      }
      int n = (int) total;
      float[] all = new float[n * pcaDim];
      float[] xy = new float[2 * n];
      int[] ids = new int[n];
      int o = 0;
      for (int i = 0; i < counts.size(); i++) {
        int c = counts.get(i);
        System.arraycopy(projected.get(i), 0, all, o * pcaDim, c * pcaDim);
        System.arraycopy(xys.get(i), 0, xy, 2 * o, 2 * c);
        Arrays.fill(ids, o, o + c, i);
        projected.set(i, null);
        o += c;
      }
      int lists = nlist > 0 ? nlist : defaultLists(n);
      IvfPqIndex.Params p = IvfPqIndex.Params.delf(lists);
      // k-means on 64 vectors per list is plenty for the coarse quantizer and keeps training to seconds
      p = new IvfPqIndex.Params(p.nlist(), p.m(), p.nbits(), p.kmeansIters(), p.seed(),
          Math.max(8192, 64 * lists));
      IvfPqIndex index;
      try (var phase = progress.phase("training the IVF-PQ index of " + n + " descriptors")) {
        index = IvfPqIndex.train(all, n, pcaDim, p);
        index.add(all, n, ids, xy);
      }
      double s = (System.nanoTime() - startNanos) / 1e9;
      log.printf(Locale.ROOT, "IVF-PQ: %d descriptors, %d lists, %d-bit codes (%.0f s in all)%n", n, lists,
          index.params().m() * index.params().nbits(), s);
      return new DelfDatabase(index, pca, counts.size(), all, s);
    }
  }

  /** The default number of coarse lists: about sqrt(descriptors), at least 16. */
  public static int defaultLists(int descriptors) {
    return Math.max(16, (int) Math.round(Math.sqrt(descriptors)));
  }

  /** A query's features, projected like the database's. */
  public LocalFeatures project(LocalFeatures f) {
    return f.withDescriptors(pca.apply(f.descriptors(), f.count()), pca.outDim());
  }

  /** RANSAC on an affine model as the verifier of {@link DelfSearch}. */
  public static DelfSearch.Verifier ransac(Ransac.Options o) {
    return new DelfSearch.Verifier() {
      @Override
      public double threshold() {
        return o.threshold();
      }

      @Override
      public java.util.Optional<Ransac.AffineFit> fit(float[] a, float[] b, int n) {
        double[] src = new double[2 * n];
        double[] dst = new double[2 * n];
        for (int i = 0; i < 2 * n; i++) {
          src[i] = a[i];
          dst[i] = b[i];
        }
        // implausible models are not scored at all, so that one cannot hide a plausible one with fewer inliers
        return Ransac.fitAffine(src, dst, o, DelfDatabase::plausible);
      }
    };
  }

  /**
   * Whether an affine model [a, b, tx, c, d, ty] could relate two views of one scene: no mirror,
   * an area scale within [1/25, 25], and an anisotropy (ratio of singular values) below 4. A
   * RANSAC fit outside that collapses many matches onto a line or a point and is not evidence.
   */
  public static boolean plausible(double[] m) {
    double a = m[0];
    double b = m[1];
    double c = m[3];
    double d = m[4];
    double det = a * d - b * c;
    if (!(det > 1.0 / 25) || det > 25) {
      return false;
    }
    double f = a * a + b * b + c * c + d * d;
    double disc = Math.sqrt(Math.max(0, f * f - 4 * det * det));
    double s1 = Math.sqrt((f + disc) / 2);
    double s2 = Math.sqrt(Math.max(1e-18, (f - disc) / 2));
    return s1 / s2 < 4;
  }
}
