package org.deephash.backend.cuda;

/**
 * A CUDA driver or cuBLAS call failed. {@link #code()} is the CUresult or cublasStatus_t value;
 * the message names the call and the status (for example {@code cuMemAlloc(1073741824 bytes):
 * CUDA_ERROR_OUT_OF_MEMORY (2)}).
 */
public final class CudaException extends RuntimeException {
  private final int code;

  CudaException(String message, int code) {
    super(message);
    this.code = code;
  }

  /** The status code the failing call returned. */
  public int code() {
    return code;
  }
}
