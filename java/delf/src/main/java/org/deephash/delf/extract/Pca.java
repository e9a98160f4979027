package org.deephash.delf.extract;

import org.deephash.model.eval.Linalg;

/**
 * PCA fitted on database descriptors: y = P (x - mean), keeping the {@code outDim} directions of
 * largest variance, then L2-normalised (the paper's L2 -> PCA 40 -> L2).
 *
 * @param mean the inDim mean
 * @param components outDim x inDim, row i the i-th principal direction
 */
public record Pca(int inDim, int outDim, float[] mean, float[] components) {
  public Pca {
    if (outDim < 1 || outDim > inDim || mean.length != inDim || components.length != (long) outDim * inDim) {
      throw new IllegalArgumentException("PCA from " + inDim + " to " + outDim + " dimensions needs a mean of "
          + inDim + " and " + outDim + " x " + inDim + " components");
    }
  }

  /** Fits on n row-major vectors of inDim floats. */
  public static Pca fit(float[] x, int n, int inDim, int outDim) {
    if (n < 2 || x.length != (long) n * inDim) {
      throw new IllegalArgumentException("PCA needs at least 2 vectors of " + inDim + " floats (passed " + n + ")");
    }
    if (outDim > inDim) {
      throw new IllegalArgumentException("PCA cannot keep " + outDim + " of " + inDim + " dimensions");
    }
    double[] mean = new double[inDim];
    for (int i = 0; i < n; i++) {
      for (int k = 0; k < inDim; k++) {
        mean[k] += x[i * inDim + k];
      }
    }
    float[] m = new float[inDim];
    for (int k = 0; k < inDim; k++) {
      m[k] = (float) (mean[k] / n);
    }
    float[] centred = new float[x.length];
    for (int i = 0; i < n; i++) {
      for (int k = 0; k < inDim; k++) {
        centred[i * inDim + k] = x[i * inDim + k] - m[k];
      }
    }
    float[] cov = Linalg.matmul(centred, n, inDim, true, centred, n, inDim, false);
    for (int i = 0; i < cov.length; i++) {
      cov[i] /= (n - 1);
    }
    float[][] eig = Linalg.eigh(cov, inDim); // ascending eigenvalues, eigenvectors as columns
    float[] comp = new float[outDim * inDim];
    for (int r = 0; r < outDim; r++) {
      int col = inDim - 1 - r;
      for (int k = 0; k < inDim; k++) {
        comp[r * inDim + k] = eig[1][k * inDim + col];
      }
    }
    return new Pca(inDim, outDim, m, comp);
  }

  /** Projects n vectors and L2-normalises each result. */
  public float[] apply(float[] x, int n) {
    if (x.length != (long) n * inDim) {
      throw new IllegalArgumentException("expected " + n + " vectors of " + inDim + " floats, got " + x.length);
    }
    float[] y = new float[n * outDim];
    for (int i = 0; i < n; i++) {
      for (int r = 0; r < outDim; r++) {
        double s = 0;
        for (int k = 0; k < inDim; k++) {
          s += (double) components[r * inDim + k] * (x[i * inDim + k] - mean[k]);
        }
        y[i * outDim + r] = (float) s;
      }
      Extractor.normalize(y, i * outDim, outDim);
    }
    return y;
  }
}
