package org.deephash.model.eval;

import java.util.SplittableRandom;
import org.deephash.model.net.CodePacker;

/**
 * The classic unsupervised baselines the paper compares with, computed on raw pixels at the same
 * code width: LSH (random hyperplanes through the data mean) and PCA-ITQ (PCA to B dimensions,
 * then an orthogonal rotation fitted by iterative quantization, Gong and Lazebnik 2011).
 * Both are a linear map then a sign: {@code code = sign((x - mean) P)}.
 */
public final class Baselines {
  private Baselines() {}

  /** A fitted linear hash: {@code mean} (d) and {@code projection} (d x bits, row-major). */
  public record LinearHash(String name, int dim, int bits, float[] mean, float[] projection) {

    /** Codes of n inputs (n x d row-major), packed like the network's codes. */
    public byte[] encode(float[] x, int n) {
      float[] centred = centre(x, n, dim, mean);
      float[] z = Linalg.matmul(centred, n, dim, false, projection, dim, bits, false);
      return CodePacker.packSigns(z, n, bits);
    }

    /** {@code -mean P}: with it, {@code x P + bias = (x - mean) P}, the form of a dense layer. */
    public float[] bias() {
      float[] b = new float[bits];
      for (int c = 0; c < bits; c++) {
        double s = 0;
        for (int r = 0; r < dim; r++) {
          s += (double) mean[r] * projection[r * bits + c];
        }
        b[c] = (float) -s;
      }
      return b;
    }
  }

  /** LSH: Gaussian random hyperplanes through the mean of {@code train}. */
  public static LinearHash lsh(float[] train, int n, int dim, int bits, long seed) {
    float[] mean = mean(train, n, dim);
    SplittableRandom rnd = new SplittableRandom(seed);
    float[] p = new float[dim * bits];
    for (int i = 0; i < p.length; i++) {
      p[i] = (float) gaussian(rnd);
    }
    return new LinearHash("lsh", dim, bits, mean, p);
  }

  /** PCA-ITQ fitted on {@code train} (n x dim) with {@code iterations} rounds (50 in the original paper). */
  public static LinearHash itq(float[] train, int n, int dim, int bits, int iterations, long seed) {
    return itq(train, n, dim, bits, iterations, seed, null);
  }

  /**
   * As {@link #itq(float[], int, int, int, int, long)}; when {@code lossOut} is given (length
   * {@code iterations}), entry t gets the quantization loss {@code ||B - V R||^2} of iteration t
   * (codes B of the rotation R before that iteration's update), which ITQ never increases.
   */
  public static LinearHash itq(float[] train, int n, int dim, int bits, int iterations, long seed, double[] lossOut) {
    if (bits > dim) {
      throw new IllegalArgumentException("PCA-ITQ needs bits <= input dimension (" + bits + " > " + dim + ")");
    }
    float[] mean = mean(train, n, dim);
    float[] xc = centre(train, n, dim, mean);
    float[] cov = Linalg.matmul(xc, n, dim, true, xc, n, dim, false);
    float[][] eig = Linalg.eigh(cov, dim);
    // Top-`bits` eigenvectors (eigenvalues come ascending): columns dim-1, dim-2, ...
    float[] pca = new float[dim * bits];
    for (int r = 0; r < dim; r++) {
      for (int c = 0; c < bits; c++) {
        pca[r * bits + c] = eig[1][r * dim + (dim - 1 - c)];
      }
    }
    float[] v = Linalg.matmul(xc, n, dim, false, pca, dim, bits, false);
    SplittableRandom rnd = new SplittableRandom(seed);
    float[] g = new float[bits * bits];
    for (int i = 0; i < g.length; i++) {
      g[i] = (float) gaussian(rnd);
    }
    float[] rot = Linalg.svd(g, bits)[0]; // a random orthogonal matrix
    float[] b = new float[n * bits];
    for (int it = 0; it < iterations; it++) {
      float[] z = Linalg.matmul(v, n, bits, false, rot, bits, bits, false);
      double loss = 0;
      for (int i = 0; i < z.length; i++) {
        b[i] = z[i] >= 0 ? 1f : -1f;
        double e = b[i] - z[i];
        loss += e * e;
      }
      if (lossOut != null && it < lossOut.length) {
        lossOut[it] = loss;
      }
      float[] c = Linalg.matmul(b, n, bits, true, v, n, bits, false); // B^T V
      float[][] usv = Linalg.svd(c, bits); // C = UB S UA^T
      rot = Linalg.matmul(usv[2], bits, bits, false, usv[0], bits, bits, true); // R = UA UB^T
    }
    float[] proj = Linalg.matmul(pca, dim, bits, false, rot, bits, bits, false);
    return new LinearHash("itq", dim, bits, mean, proj);
  }

  static float[] mean(float[] x, int n, int dim) {
    double[] s = new double[dim];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < dim; j++) {
        s[j] += x[i * dim + j];
      }
    }
    float[] m = new float[dim];
    for (int j = 0; j < dim; j++) {
      m[j] = (float) (s[j] / Math.max(1, n));
    }
    return m;
  }

  static float[] centre(float[] x, int n, int dim, float[] mean) {
    float[] c = new float[n * dim];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < dim; j++) {
        c[i * dim + j] = x[i * dim + j] - mean[j];
      }
    }
    return c;
  }

  private static double gaussian(SplittableRandom r) {
    double u1 = r.nextDouble();
    double u2 = r.nextDouble();
    return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
  }
}
