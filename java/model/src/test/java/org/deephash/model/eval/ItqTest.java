package org.deephash.model.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * PCA-ITQ (Gong and Lazebnik) on a small synthetic set: the projection is a rotation of the
 * principal subspace (checked against a plain-Java Jacobi eigen-decomposition), the quantization
 * loss never increases, the codes are the signs of the centred projection, and a fixed seed gives
 * fixed codes.
 */
class ItqTest {
  static final int N = 300;
  static final int DIM = 8;
  static final int BITS = 4;

  /** Anisotropic Gaussian data (standard deviations 6, 5, ... 1, 0.5) in a random orthogonal basis, offset. */
  static float[] data() {
    SplittableRandom r = new SplittableRandom(11);
    double[] sd = {6, 5, 4, 3, 2, 1, 0.5, 0.5};
    double[][] q = randomOrthogonal(r, DIM);
    float[] x = new float[N * DIM];
    for (int i = 0; i < N; i++) {
      double[] z = new double[DIM];
      for (int k = 0; k < DIM; k++) {
        z[k] = gaussian(r) * sd[k];
      }
      for (int j = 0; j < DIM; j++) {
        double s = 3 + j;
        for (int k = 0; k < DIM; k++) {
          s += q[j][k] * z[k];
        }
        x[i * DIM + j] = (float) s;
      }
    }
    return x;
  }

  @Test
  void projectionIsARotationOfThePrincipalSubspace() {
    float[] x = data();
    Baselines.LinearHash h = Baselines.itq(x, N, DIM, BITS, 50, 7L);
    float[] p = h.projection();
    // orthonormal columns: P^T P = I (PCA basis times an orthogonal rotation)
    for (int a = 0; a < BITS; a++) {
      for (int b = 0; b < BITS; b++) {
        double s = 0;
        for (int r = 0; r < DIM; r++) {
          s += (double) p[r * BITS + a] * p[r * BITS + b];
        }
        assertEquals(a == b ? 1.0 : 0.0, s, 1e-4, "P^T P at " + a + "," + b);
      }
    }
    // the variance it keeps, trace(P^T C P), is the sum of the top BITS eigenvalues of C
    double[][] c = covariance(x);
    double kept = 0;
    for (int a = 0; a < BITS; a++) {
      for (int i = 0; i < DIM; i++) {
        for (int j = 0; j < DIM; j++) {
          kept += p[i * BITS + a] * c[i][j] * p[j * BITS + a];
        }
      }
    }
    double[] ev = jacobiEigenvalues(c);
    java.util.Arrays.sort(ev);
    double top = 0;
    for (int k = 0; k < BITS; k++) {
      top += ev[DIM - 1 - k];
    }
    assertEquals(top, kept, 1e-3 * top);
    // the mean is the data mean
    for (int j = 0; j < DIM; j++) {
      double m = 0;
      for (int i = 0; i < N; i++) {
        m += x[i * DIM + j];
      }
      assertEquals(m / N, h.mean()[j], 1e-4);
    }
  }

  @Test
  void quantizationLossNeverIncreases() {
    double[] loss = new double[30];
    Baselines.itq(data(), N, DIM, BITS, loss.length, 7L, loss);
    for (int t = 1; t < loss.length; t++) {
      assertTrue(loss[t] <= loss[t - 1] * (1 + 1e-5), "iteration " + t + ": " + loss[t - 1] + " -> " + loss[t]);
    }
    assertTrue(loss[loss.length - 1] < loss[0], "ITQ did not lower the loss from " + loss[0]);
  }

  @Test
  void codesAreSignsOfTheCentredProjectionAndFixedForASeed() {
    float[] x = data();
    Baselines.LinearHash h = Baselines.itq(x, N, DIM, BITS, 50, 7L);
    byte[] codes = h.encode(x, N);
    float[] bias = h.bias();
    for (int i = 0; i < N; i++) {
      for (int b = 0; b < BITS; b++) {
        double z = bias[b];
        for (int j = 0; j < DIM; j++) {
          z += (double) x[i * DIM + j] * h.projection()[j * BITS + b];
        }
        boolean bit = (codes[i] >> b & 1) == 1;
        if (Math.abs(z) > 1e-3) {
          assertEquals(z > 0, bit, "row " + i + " bit " + b + ": x P + bias = " + z);
        }
      }
    }
    // golden: the first 16 codes of this seed (one byte each, 4 bits used)
    assertEquals(GOLDEN, HexFormat.of().formatHex(codes, 0, 16));
    assertEquals(GOLDEN, HexFormat.of().formatHex(Baselines.itq(x, N, DIM, BITS, 50, 7L).encode(x, N), 0, 16));
  }

  static final String GOLDEN = "010d05040507030e040b050804020202";

  @Test
  void moreBitsThanDimensionsIsRefused() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Baselines.itq(data(), N, DIM, DIM + 1, 5, 7L));
    assertTrue(e.getMessage().contains("bits <= input dimension"), e.getMessage());
  }

  static double[][] covariance(float[] x) {
    double[] m = new double[DIM];
    for (int i = 0; i < N; i++) {
      for (int j = 0; j < DIM; j++) {
        m[j] += x[i * DIM + j] / (double) N;
      }
    }
    double[][] c = new double[DIM][DIM];
    for (int i = 0; i < N; i++) {
      for (int a = 0; a < DIM; a++) {
        for (int b = 0; b < DIM; b++) {
          c[a][b] += (x[i * DIM + a] - m[a]) * (x[i * DIM + b] - m[b]);
        }
      }
    }
    return c;
  }

  /** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations (the plain reference). */
  static double[] jacobiEigenvalues(double[][] in) {
    int n = in.length;
    double[][] a = new double[n][];
    for (int i = 0; i < n; i++) {
      a[i] = in[i].clone();
    }
    for (int sweep = 0; sweep < 100; sweep++) {
      double off = 0;
      for (int p = 0; p < n; p++) {
        for (int q = p + 1; q < n; q++) {
          off += a[p][q] * a[p][q];
        }
      }
      if (off < 1e-20) {
        break;
      }
      for (int p = 0; p < n; p++) {
        for (int q = p + 1; q < n; q++) {
          if (Math.abs(a[p][q]) < 1e-300) {
            continue;
          }
          double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
          double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
          if (theta == 0) {
            t = 1;
          }
          double cs = 1 / Math.sqrt(t * t + 1);
          double sn = t * cs;
          for (int k = 0; k < n; k++) {
            double akp = a[k][p];
            double akq = a[k][q];
            a[k][p] = cs * akp - sn * akq;
            a[k][q] = sn * akp + cs * akq;
          }
          for (int k = 0; k < n; k++) {
            double apk = a[p][k];
            double aqk = a[q][k];
            a[p][k] = cs * apk - sn * aqk;
            a[q][k] = sn * apk + cs * aqk;
          }
        }
      }
    }
    double[] ev = new double[n];
    for (int i = 0; i < n; i++) {
      ev[i] = a[i][i];
    }
    return ev;
  }

  static double[][] randomOrthogonal(SplittableRandom r, int n) {
    double[][] q = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j < n; j++) {
        q[i][j] = gaussian(r);
      }
      for (int k = 0; k < i; k++) {
        double d = 0;
        for (int j = 0; j < n; j++) {
          d += q[i][j] * q[k][j];
        }
        for (int j = 0; j < n; j++) {
          q[i][j] -= d * q[k][j];
        }
      }
      double norm = 0;
      for (int j = 0; j < n; j++) {
        norm += q[i][j] * q[i][j];
      }
      norm = Math.sqrt(norm);
      for (int j = 0; j < n; j++) {
        q[i][j] /= norm;
      }
    }
    return q;
  }

  static double gaussian(SplittableRandom r) {
    return Math.sqrt(-2 * Math.log(1 - r.nextDouble())) * Math.cos(2 * Math.PI * r.nextDouble());
  }
}
