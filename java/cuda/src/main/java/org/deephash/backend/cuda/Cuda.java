package org.deephash.backend.cuda;

import jcuda.driver.CUresult;

/** The one place where CUDA driver and cuBLAS status codes become exceptions. */
final class Cuda {
  private Cuda() {}

  /** Throws {@link CudaException} unless {@code result} is CUDA_SUCCESS. */
  static void check(int result, String call) {
    if (result != CUresult.CUDA_SUCCESS) {
      throw error(result, call);
    }
  }

  /** The exception for a failed driver call (for cleanup paths that collect the first failure). */
  static CudaException error(int result, String call) {
    return new CudaException(call + ": " + CUresult.stringFor(result) + " (" + result + ")", result);
  }

  /** Throws {@link CudaException} unless a cuBLAS status is CUBLAS_STATUS_SUCCESS. */
  static void checkBlas(int status, String call) {
    if (status != 0) {
      throw new CudaException(call + ": " + blasStatus(status) + " (" + status + ")", status);
    }
  }

  static String blasStatus(int status) {
    return switch (status) {
      case 0 -> "CUBLAS_STATUS_SUCCESS";
      case 1 -> "CUBLAS_STATUS_NOT_INITIALIZED";
      case 3 -> "CUBLAS_STATUS_ALLOC_FAILED";
      case 7 -> "CUBLAS_STATUS_INVALID_VALUE";
      case 8 -> "CUBLAS_STATUS_ARCH_MISMATCH";
      case 11 -> "CUBLAS_STATUS_MAPPING_ERROR";
      case 13 -> "CUBLAS_STATUS_EXECUTION_FAILED";
      case 14 -> "CUBLAS_STATUS_INTERNAL_ERROR";
      case 15 -> "CUBLAS_STATUS_NOT_SUPPORTED";
      case 16 -> "CUBLAS_STATUS_LICENSE_ERROR";
      default -> "cuBLAS status";
    };
  }
}
