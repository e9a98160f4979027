package org.deephash.backend.cuda;

import jcuda.Pointer;
import jcuda.jcublas.JCublas2;
import jcuda.jcublas.cublasHandle;
import jcuda.jcublas.cublasOperation;
import jcuda.runtime.cudaStream_t;

/** cuBLAS through JCublas2 (needs libcublas.so.12). */
final class JCublasBlas implements Blas {
  private final cublasHandle handle = new cublasHandle();
  private boolean closed;

  JCublasBlas() {
    Cuda.checkBlas(JCublas2.cublasCreate(handle), "cublasCreate");
    // plain FP32: no TF32 tensor-op math that would change the distances
    Cuda.checkBlas(JCublas2.cublasSetMathMode(handle, 0), "cublasSetMathMode(CUBLAS_DEFAULT_MATH)");
    int[] v = {0};
    Cuda.checkBlas(JCublas2.cublasGetVersion(handle, v), "cublasGetVersion");
    version = FfmBlas.versionString(v[0]);
  }

  private final String version;

  @Override
  public void setStream(Pointers.Stream stream) {
    Cuda.checkBlas(JCublas2.cublasSetStream(handle, new cudaStream_t(stream)), "cublasSetStream");
  }

  @Override
  public void sgemmStridedBatched(boolean transA, int m, int n, int k, float alpha, DeviceBuffer a, int lda,
      long strideA, DeviceBuffer b, int ldb, long strideB, float beta, DeviceBuffer c, int ldc, long strideC,
      int batch) {
    Cuda.checkBlas(JCublas2.cublasSgemmStridedBatched(handle,
        transA ? cublasOperation.CUBLAS_OP_T : cublasOperation.CUBLAS_OP_N, cublasOperation.CUBLAS_OP_N,
        m, n, k, Pointer.to(new float[] {alpha}), a.ptr(), lda, strideA, b.ptr(), ldb, strideB,
        Pointer.to(new float[] {beta}), c.ptr(), ldc, strideC, batch), "cublasSgemmStridedBatched");
  }

  @Override
  public String describe() {
    return "cuBLAS " + version + " (libcublas.so.12) via JCublas2";
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      Cuda.checkBlas(JCublas2.cublasDestroy(handle), "cublasDestroy");
    }
  }
}
