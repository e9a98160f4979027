package org.deephash.pq;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * An inverted-file index with product-quantized residuals (IVF-PQ, Jégou et al., PAMI 2011) over
 * local descriptors, each tagged with the image it comes from and its keypoint location: the index
 * DELF (Noh et al., ICCV 2017) uses to find, for every query descriptor, its nearest database
 * descriptors and hence candidate images and matching keypoints.
 *
 * <p>A coarse quantizer of {@code nlist} centroids splits the space into cells; a vector is stored
 * in the inverted list of its nearest coarse centroid, as the {@link ProductQuantizer} code of its
 * residual (the vector minus that centroid). A search visits the {@code nprobe} lists whose
 * centroids are nearest to the query and ranks their entries by the ADC distance of the query's
 * residual to each code: {@code |q - c_list - decode(code)|^2}. Entries are numbered 0, 1, 2 ...
 * in insertion order; ties in distance go to the lower entry number. With {@code nprobe = nlist}
 * the search is exact with respect to the ADC distances.
 *
 * <p>Training and the ranking are deterministic (see {@link KMeans}): the same data and {@link
 * Params} give the same index and the same results on every machine and thread count.
 *
 * <p>Searches may run concurrently with each other, but not with {@link #add} or {@link #save}.
 *
 * <pre>{@code
 * IvfPqIndex.Params p = IvfPqIndex.Params.delf(1024);      // m = 10, nbits = 5: 50-bit codes
 * IvfPqIndex index = IvfPqIndex.train(sample, nSample, 40, p);
 * index.add(descriptors, n, imageIds, xy);                  // xy: x0, y0, x1, y1, ...
 * IvfPqResult r = index.search(queryDescriptors, nq, 60, 8);
 * index.save(Path.of("delf.ivfpq"));
 * IvfPqIndex again = IvfPqIndex.load(Path.of("delf.ivfpq"));
 * }</pre>
 */
public final class IvfPqIndex {
  /** Largest vector dimension accepted. */
  public static final int MAX_DIM = 65536;
  /** Largest number of coarse lists. */
  public static final int MAX_NLIST = 1 << 24;
  /** Largest number of entries one index holds; shard beyond it. */
  public static final int MAX_ENTRIES = 1 << 30;

  /**
   * Training parameters.
   *
   * @param nlist number of coarse centroids (inverted lists), in [1, {@value IvfPqIndex#MAX_NLIST}]; a few
   *     times sqrt(number of entries) is a usual choice
   * @param m number of PQ sub-quantizers; must divide the dimension d
   * @param nbits bits per sub-quantizer index, in [1, 8]; a code is {@code m * nbits} bits
   * @param kmeansIters most Lloyd iterations of each k-means (coarse and every sub-quantizer), >= 0
   * @param seed seeds the training sample and every k-means
   * @param trainSample train on at most this many vectors (a seeded random subset when more are
   *     given), >= 1
   */
  public record Params(int nlist, int m, int nbits, int kmeansIters, long seed, int trainSample) {
    public Params {
      if (nlist < 1 || nlist > MAX_NLIST) {
        throw new IllegalArgumentException("nlist must be in [1, " + MAX_NLIST + "] (passed " + nlist + ")");
      }
      if (m < 1) {
        throw new IllegalArgumentException("m (the number of sub-quantizers) must be >= 1 (passed " + m + ")");
      }
      if (nbits < 1 || nbits > 8) {
        throw new IllegalArgumentException("nbits must be in [1, 8] (passed " + nbits + ")");
      }
      if (kmeansIters < 0) {
        throw new IllegalArgumentException("kmeansIters must be >= 0 (passed " + kmeansIters + ")");
      }
      if (trainSample < 1) {
        throw new IllegalArgumentException("trainSample must be >= 1 (passed " + trainSample + ")");
      }
    }

    /**
     * The DELF setting for 40-dimensional descriptors: m = 10, nbits = 5 (50-bit codes), 25 k-means
     * iterations, seed 42, and a training sample of 256 vectors per coarse centroid (at least
     * 8192, enough for the 32 centroids of each sub-quantizer).
     */
    public static Params delf(int nlist) {
      return new Params(nlist, 10, 5, 25, 42L, (int) Math.min(MAX_ENTRIES, 256L * Math.max(nlist, 32)));
    }
  }

  private final int d;
  private final Params params;
  private final float[] coarse;
  private final ProductQuantizer pq;
  private final int codeBytes;
  // Inverted lists: entry numbers (ascending) and their codes, contiguous per list.
  private final int[][] listIds;
  private final byte[][] listCodes;
  private final int[] listSizes;
  // Per entry, by entry number.
  private int[] imageIds = new int[0];
  private float[] xs = new float[0];
  private float[] ys = new float[0];
  private int size;

  IvfPqIndex(int d, Params params, float[] coarse, ProductQuantizer pq) {
    this.d = d;
    this.params = params;
    this.coarse = coarse;
    this.pq = pq;
    this.codeBytes = pq.codeBytes();
    this.listIds = new int[params.nlist()][];
    this.listCodes = new byte[params.nlist()][];
    this.listSizes = new int[params.nlist()];
    Arrays.fill(listIds, new int[0]);
    Arrays.fill(listCodes, new byte[0]);
  }

  /** Trains with one thread per available processor; the result does not depend on the count. */
  public static IvfPqIndex train(float[] vectors, int n, int d, Params p) {
    return train(vectors, n, d, p, Runtime.getRuntime().availableProcessors());
  }

  /**
   * Trains an empty index: the coarse quantizer by k-means on (a sample of) {@code vectors}, then
   * the product quantizer on the residuals of that sample to their nearest coarse centroids. The
   * vectors are not added; call {@link #add}.
   *
   * <p>Seeds: {@code rnd = new SplittableRandom(p.seed())} gives, by successive {@code
   * nextLong()}, the sampling seed (a partial Fisher-Yates shuffle of the row numbers, the chosen
   * rows then taken in ascending order), the coarse k-means seed and the PQ seed.
   *
   * @param vectors n rows of d finite floats, row-major
   * @param n number of vectors; the sample, {@code min(n, p.trainSample())}, must be at least
   *     {@code max(nlist, 2^nbits)}
   * @param d dimension; must be divisible by {@code p.m()}
   * @param threads k-means threads, >= 1
   * @throws IllegalArgumentException when an argument is out of range, with what to fix
   */
  public static IvfPqIndex train(float[] vectors, int n, int d, Params p, int threads) {
    if (p == null) {
      throw new IllegalArgumentException("params must not be null; use Params.delf(nlist) for the DELF defaults");
    }
    ProductQuantizer.checkShape(d, p.m(), p.nbits());
    Vectors.requireRows(vectors, "vectors", n, d);
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1 (passed " + threads + ")");
    }
    if ((long) p.nlist() * d > Vectors.MAX_ARRAY) {
      throw new IllegalArgumentException("nlist * d = " + (long) p.nlist() * d + " floats of coarse centroids is"
          + " too many: lower nlist");
    }
    int sampleSize = Math.min(n, p.trainSample());
    int needed = Math.max(p.nlist(), 1 << p.nbits());
    if (sampleSize < needed) {
      throw new IllegalArgumentException("training with nlist = " + p.nlist() + " and nbits = " + p.nbits()
          + " needs at least max(nlist, 2^nbits) = " + needed + " vectors, but it would use " + sampleSize
          + " (n = " + n + ", trainSample = " + p.trainSample() + "): give more vectors, raise trainSample, or"
          + " lower nlist or nbits");
    }
    SplittableRandom rnd = new SplittableRandom(p.seed());
    long sampleSeed = rnd.nextLong();
    long coarseSeed = rnd.nextLong();
    long pqSeed = rnd.nextLong();
    float[] sample = sample(vectors, n, d, sampleSize, sampleSeed);

    KMeans.Result coarse = KMeans.train(sample, sampleSize, d, p.nlist(), p.kmeansIters(), coarseSeed, threads);
    float[] centroids = coarse.centroidsNoCopy();
    int[] assign = coarse.assignmentNoCopy();
    float[] residuals = new float[sampleSize * d];
    for (int i = 0; i < sampleSize; i++) {
      int c = assign[i] * d;
      for (int j = 0; j < d; j++) {
        residuals[i * d + j] = sample[i * d + j] - centroids[c + j];
      }
    }
    ProductQuantizer pq = ProductQuantizer.train(residuals, sampleSize, d, p.m(), p.nbits(), p.kmeansIters(), pqSeed,
        threads);
    return new IvfPqIndex(d, p, centroids, pq);
  }

  /** {@code count} rows of {@code vectors}: all of them in order, or a seeded subset in row order. */
  private static float[] sample(float[] vectors, int n, int d, int count, long seed) {
    if (count == n) {
      return vectors;
    }
    int[] rows = new int[n];
    for (int i = 0; i < n; i++) {
      rows[i] = i;
    }
    SplittableRandom rnd = new SplittableRandom(seed);
    for (int i = 0; i < count; i++) {
      int j = i + rnd.nextInt(n - i);
      int t = rows[i];
      rows[i] = rows[j];
      rows[j] = t;
    }
    int[] chosen = Arrays.copyOf(rows, count);
    Arrays.sort(chosen);
    float[] out = new float[count * d];
    for (int i = 0; i < count; i++) {
      System.arraycopy(vectors, chosen[i] * d, out, i * d, d);
    }
    return out;
  }

  /**
   * Adds n descriptors with their images and keypoint locations. They get entry numbers {@code
   * size()} to {@code size() + n - 1}. Nothing is added when an argument is invalid.
   *
   * @param vectors n rows of d finite floats, row-major
   * @param imageIds n image ids, any int values
   * @param xy 2n finite floats: x and y of each keypoint, interleaved ({@code x0, y0, x1, y1, ...})
   * @return the entry number of the first vector added
   * @throws IllegalArgumentException when an argument is invalid or the index would grow beyond
   *     {@link #MAX_ENTRIES}
   */
  public int add(float[] vectors, int n, int[] imageIds, float[] xy) {
    Vectors.requireRows(vectors, "vectors", n, d);
    if (imageIds == null || imageIds.length != n) {
      throw new IllegalArgumentException("imageIds must hold one id per vector, n = " + n + " (passed "
          + (imageIds == null ? "null" : imageIds.length + " ids") + ")");
    }
    if (xy == null || xy.length != 2L * n) {
      throw new IllegalArgumentException("xy must hold 2 * n = " + 2L * n + " floats, the keypoints' x and y"
          + " interleaved (passed " + (xy == null ? "null" : xy.length + " floats") + ")");
    }
    for (int i = 0; i < xy.length; i++) {
      if (!Float.isFinite(xy[i])) {
        throw new IllegalArgumentException("xy[" + i + "] (the " + (i % 2 == 0 ? "x" : "y") + " of keypoint " + i / 2
            + ") is " + xy[i] + ": keypoint locations must be finite");
      }
    }
    if ((long) size + n > MAX_ENTRIES) {
      throw new IllegalArgumentException("the index holds " + size + " entries; adding " + n + " would exceed the"
          + " maximum of " + MAX_ENTRIES + ": shard the collection over several indexes");
    }
    int[] lists = new int[n];
    int[] extra = new int[listSizes.length];
    // the coarse assignment, blocks of points over the cores (each point's list depends on nothing else)
    Vectors.NearestFinder finder = coarseFinder();
    int block = 4096;
    java.util.stream.IntStream.range(0, (n + block - 1) / block).parallel().forEach(b -> {
      float[] dist = finder.scratch();
      for (int i = b * block, end = Math.min(n, i + block); i < end; i++) {
        lists[i] = finder.nearest(vectors, i * d, dist);
      }
    });
    for (int i = 0; i < n; i++) {
      extra[lists[i]]++;
    }
    for (int l = 0; l < extra.length; l++) {
      if ((long) (listSizes[l] + extra[l]) * codeBytes > Vectors.MAX_ARRAY) {
        throw new IllegalArgumentException("inverted list " + l + " would hold " + (listSizes[l] + extra[l])
            + " codes, more than one array takes: train with a larger nlist");
      }
    }
    int first = size;
    ensureEntryCapacity(size + n);
    float[] residual = new float[d];
    for (int i = 0; i < n; i++) {
      int l = lists[i];
      int c = l * d;
      for (int j = 0; j < d; j++) {
        residual[j] = vectors[i * d + j] - coarse[c + j];
      }
      int slot = listSizes[l];
      if (slot == listIds[l].length) {
        int cap = Math.min(Vectors.grow(slot, (long) slot + extra[l]), Vectors.MAX_ARRAY / codeBytes);
        listIds[l] = Arrays.copyOf(listIds[l], cap);
        listCodes[l] = Arrays.copyOf(listCodes[l], cap * codeBytes);
      }
      pq.encode(residual, 0, listCodes[l], slot * codeBytes);
      listIds[l][slot] = size;
      listSizes[l] = slot + 1;
      extra[l]--;
      this.imageIds[size] = imageIds[i];
      xs[size] = xy[2 * i];
      ys[size] = xy[2 * i + 1];
      size++;
    }
    return first;
  }

  private volatile Vectors.NearestFinder coarseFinder;

  /** The coarse centroids transposed for {@link Vectors.NearestFinder}, made on first use (they never change). */
  private Vectors.NearestFinder coarseFinder() {
    Vectors.NearestFinder f = coarseFinder;
    if (f == null) {
      coarseFinder = f = new Vectors.NearestFinder(coarse, listSizes.length, d);
    }
    return f;
  }

  private void ensureEntryCapacity(int needed) {
    if (needed > imageIds.length) {
      int cap = Vectors.grow(imageIds.length, needed);
      imageIds = Arrays.copyOf(imageIds, cap);
      xs = Arrays.copyOf(xs, cap);
      ys = Arrays.copyOf(ys, cap);
    }
  }

  /**
   * Finds, for each query, the k entries of the {@code nprobe} nearest lists with the smallest ADC
   * squared distance, ties to the lower entry number.
   *
   * @param queries nq rows of d finite floats, row-major
   * @param nq number of queries, >= 0
   * @param k results per query, >= 1 (fewer come back when the probed lists hold fewer entries)
   * @param nprobe lists visited per query, in [1, nlist]; nlist makes the search exhaustive
   * @throws IllegalArgumentException when an argument is out of range, with what to fix
   */
  public IvfPqResult search(float[] queries, int nq, int k, int nprobe) {
    Vectors.requireRows(queries, "queries", nq, "nq", d);
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1 (passed " + k + ")");
    }
    int nlist = listSizes.length;
    if (nprobe < 1 || nprobe > nlist) {
      throw new IllegalArgumentException("nprobe must be in [1, nlist = " + nlist + "] (passed " + nprobe + ")"
          + (nprobe > nlist ? ": nprobe = nlist already visits every list" : ""));
    }
    if ((long) nq * k > Vectors.MAX_ARRAY) {
      throw new IllegalArgumentException("nq * k = " + (long) nq * k + " results do not fit in one array: search"
          + " in smaller batches");
    }
    int[] counts = new int[nq];
    int[] entries = new int[nq * k];
    float[] distances = new float[nq * k];
    Vectors.NearestFinder finder = coarseFinder();
    // blocks of queries over the cores: each query's answer depends on nothing but the index
    int block = 64;
    java.util.stream.IntStream blocks = java.util.stream.IntStream.range(0, (nq + block - 1) / block);
    (nq > block ? blocks.parallel() : blocks).forEach(b -> {
      TopK lists = new TopK(nprobe);
      int[] probe = new int[nprobe];
      float[] probeDist = new float[nprobe];
      TopK best = new TopK(k);
      float[] residual = new float[d];
      float[] table = new float[pq.m() * pq.ksub()];
      float[] coarseDist = finder.scratch();
      for (int q = b * block, end = Math.min(nq, q + block); q < end; q++) {
        int qo = q * d;
        finder.distances(queries, qo, coarseDist);
        for (int l = 0; l < nlist; l++) {
          lists.offer(coarseDist[l], l);
        }
        int probes = lists.drainSorted(probeDist, probe, 0);
        for (int p = 0; p < probes; p++) {
          int l = probe[p];
          int sz = listSizes[l];
          if (sz == 0) {
            continue;
          }
          int c = l * d;
          for (int j = 0; j < d; j++) {
            residual[j] = queries[qo + j] - coarse[c + j];
          }
          pq.lookupTable(residual, 0, table);
          int[] ids = listIds[l];
          byte[] codes = listCodes[l];
          for (int s = 0; s < sz; s++) {
            best.offer(pq.adcUnchecked(table, codes, s * codeBytes), ids[s]);
          }
        }
        counts[q] = best.drainSorted(distances, entries, q * k);
      }
    });
    int[] images = new int[nq * k];
    float[] rx = new float[nq * k];
    float[] ry = new float[nq * k];
    for (int q = 0; q < nq; q++) {
      for (int i = q * k; i < q * k + counts[q]; i++) {
        int e = entries[i];
        images[i] = imageIds[e];
        rx[i] = xs[e];
        ry[i] = ys[e];
      }
    }
    return new IvfPqResult(k, counts, entries, images, rx, ry, distances);
  }

  /**
   * Saves the index to {@code file} atomically (readers see the old file or the new one, never a
   * partial one) in the checksummed format of {@code docs/PQ.md}.
   *
   * @throws IOException when the file cannot be written; an existing file is then unchanged
   */
  public void save(Path file) throws IOException {
    if (file == null) {
      throw new IllegalArgumentException("file must not be null");
    }
    PqFile.write(this, file);
  }

  /**
   * Loads an index saved by {@link #save}, verifying the header and every section checksum.
   *
   * @throws org.deephash.index.IndexFormatException when the file is not a valid IVF-PQ index
   *     (wrong magic, unsupported version, truncated, corrupt), naming the file and the fault
   * @throws IOException when the file cannot be read
   */
  public static IvfPqIndex load(Path file) throws IOException {
    if (file == null) {
      throw new IllegalArgumentException("file must not be null");
    }
    return PqFile.read(file);
  }

  /** Vector dimension d. */
  public int dim() {
    return d;
  }

  /** The training parameters. */
  public Params params() {
    return params;
  }

  /** Number of coarse lists. */
  public int nlist() {
    return listSizes.length;
  }

  /** Number of entries added. */
  public int size() {
    return size;
  }

  /** Number of entries in inverted list l. */
  public int listSize(int l) {
    return listSizes[Objects.checkIndex(l, listSizes.length)];
  }

  /** A copy of the coarse centroids: nlist rows of d floats. */
  public float[] coarseCentroids() {
    return coarse.clone();
  }

  /** The product quantizer of the residuals. */
  public ProductQuantizer productQuantizer() {
    return pq;
  }

  /** Image id of entry e. */
  public int imageId(int e) {
    return imageIds[Objects.checkIndex(e, size)];
  }

  /** Keypoint x of entry e. */
  public float x(int e) {
    return xs[Objects.checkIndex(e, size)];
  }

  /** Keypoint y of entry e. */
  public float y(int e) {
    return ys[Objects.checkIndex(e, size)];
  }

  // Package-private views for PqFile: no copies.

  float[] coarseNoCopy() {
    return coarse;
  }

  int[] listIds(int l) {
    return listIds[l];
  }

  byte[] listCodes(int l) {
    return listCodes[l];
  }

  int[] imageIdsNoCopy() {
    return imageIds;
  }

  float[] xsNoCopy() {
    return xs;
  }

  float[] ysNoCopy() {
    return ys;
  }

  /** Installs loaded lists and entries (sizes as arrays' lengths); for PqFile. */
  void restore(int[][] ids, byte[][] codes, int[] images, float[] x, float[] y) {
    for (int l = 0; l < ids.length; l++) {
      listIds[l] = ids[l];
      listCodes[l] = codes[l];
      listSizes[l] = ids[l].length;
    }
    imageIds = images;
    xs = x;
    ys = y;
    size = images.length;
  }

  @Override
  public String toString() {
    return "IvfPqIndex[d=" + d + ", nlist=" + listSizes.length + ", m=" + pq.m() + ", nbits=" + pq.nbits() + ", size="
        + size + "]";
  }
}
