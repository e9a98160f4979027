package org.deephash.model.eval;

import org.tensorflow.Graph;
import org.tensorflow.Operand;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Placeholder;
import org.tensorflow.op.linalg.MatMul;
import org.tensorflow.op.linalg.SelfAdjointEig;
import org.tensorflow.op.linalg.Svd;
import org.tensorflow.types.TFloat32;

/**
 * Dense linear algebra for the baselines, run by TensorFlow (multi-threaded BLAS-class kernels):
 * row-major float matrices in, row-major float matrices out. Each call builds a tiny graph.
 */
public final class Linalg {
  private Linalg() {}

  /** C = op(A) op(B) with A m x k (or k x m when transposed) and B k x n (or n x k). */
  public static float[] matmul(float[] a, int aRows, int aCols, boolean transA, float[] b, int bRows, int bCols,
      boolean transB) {
    int m = transA ? aCols : aRows;
    int n = transB ? bRows : bCols;
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat32> pa = tf.placeholder(TFloat32.class);
      Placeholder<TFloat32> pb = tf.placeholder(TFloat32.class);
      Operand<TFloat32> c = tf.linalg.matMul(pa, pb, MatMul.transposeA(transA), MatMul.transposeB(transB));
      try (TFloat32 ta = TFloat32.tensorOf(Shape.of(aRows, aCols), DataBuffers.of(a, true, false));
          TFloat32 tb = TFloat32.tensorOf(Shape.of(bRows, bCols), DataBuffers.of(b, true, false));
          Result r = s.runner().feed(pa, ta).feed(pb, tb).fetch(c).run()) {
        float[] out = new float[m * n];
        ((TFloat32) r.get(0)).copyTo(DataBuffers.of(out, false, false));
        return out;
      }
    }
  }

  /** Eigen-decomposition of a symmetric n x n matrix: {eigenvalues (ascending), eigenvectors as columns (n x n)}. */
  public static float[][] eigh(float[] sym, int n) {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat32> p = tf.placeholder(TFloat32.class);
      SelfAdjointEig<TFloat32> e = tf.linalg.selfAdjointEig(p, SelfAdjointEig.computeV(true));
      try (TFloat32 t = TFloat32.tensorOf(Shape.of(n, n), DataBuffers.of(sym, true, false));
          Result r = s.runner().feed(p, t).fetch(e.e()).fetch(e.v()).run()) {
        float[] values = new float[n];
        float[] vectors = new float[n * n];
        ((TFloat32) r.get(0)).copyTo(DataBuffers.of(values, false, false));
        ((TFloat32) r.get(1)).copyTo(DataBuffers.of(vectors, false, false));
        return new float[][] {values, vectors};
      }
    }
  }

  /** SVD of a square n x n matrix M = U diag(s) V^T: {U, s, V}, U and V row-major n x n. */
  public static float[][] svd(float[] m, int n) {
    try (Graph g = new Graph(); Session s = new Session(g)) {
      Ops tf = Ops.create(g);
      Placeholder<TFloat32> p = tf.placeholder(TFloat32.class);
      Svd<TFloat32> d = tf.linalg.svd(p, Svd.computeUv(true), Svd.fullMatrices(true));
      try (TFloat32 t = TFloat32.tensorOf(Shape.of(n, n), DataBuffers.of(m, true, false));
          Result r = s.runner().feed(p, t).fetch(d.u()).fetch(d.s()).fetch(d.v()).run()) {
        float[] u = new float[n * n];
        float[] sv = new float[n];
        float[] v = new float[n * n];
        ((TFloat32) r.get(0)).copyTo(DataBuffers.of(u, false, false));
        ((TFloat32) r.get(1)).copyTo(DataBuffers.of(sv, false, false));
        ((TFloat32) r.get(2)).copyTo(DataBuffers.of(v, false, false));
        return new float[][] {u, sv, v};
      }
    }
  }
}
