package org.deephash.backend.cuda;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * cuBLAS bound directly through the FFM API, for hosts whose only cuBLAS is CUDA 13's
 * libcublas.so.13 (which JCublas 12.6's native library cannot link). Same C functions as JCublas2:
 * cublasCreate_v2, cublasSetStream_v2, cublasSetMathMode, cublasSgemmStridedBatched, cublasDestroy_v2.
 */
final class FfmBlas implements Blas {
  private final Arena arena = Arena.ofShared();
  private final String library;
  private final MethodHandle setStream;
  private final MethodHandle gemm;
  private final MethodHandle destroy;
  private final MemorySegment handle;
  private final MemorySegment scalars;
  private final String version;
  private boolean closed;

  @SuppressWarnings("restricted") // the module runs with --enable-native-access (engine.jvm.flags)
  FfmBlas(String library) {
    this.library = library;
    try {
      Linker linker = Linker.nativeLinker();
      preloadLt(library, arena);
      SymbolLookup lib = SymbolLookup.libraryLookup(library, arena);
      MethodHandle create = linker.downcallHandle(find(lib, "cublasCreate_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
      MethodHandle mathMode = linker.downcallHandle(find(lib, "cublasSetMathMode"),
          FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
      setStream = linker.downcallHandle(find(lib, "cublasSetStream_v2"),
          FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
      destroy = linker.downcallHandle(find(lib, "cublasDestroy_v2"), FunctionDescriptor.of(JAVA_INT, ADDRESS));
      // cublasStatus_t cublasSgemmStridedBatched(handle, transa, transb, m, n, k, const float* alpha,
      //   const float* A, lda, long long strideA, const float* B, ldb, long long strideB,
      //   const float* beta, float* C, ldc, long long strideC, batchCount)
      gemm = linker.downcallHandle(find(lib, "cublasSgemmStridedBatched"), FunctionDescriptor.of(JAVA_INT,
          ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG,
          ADDRESS, JAVA_INT, JAVA_LONG, ADDRESS, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_INT));
      MethodHandle getVersion = linker.downcallHandle(find(lib, "cublasGetVersion_v2"),
          FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
      MemorySegment out = arena.allocate(ADDRESS);
      Cuda.checkBlas((int) create.invokeExact(out), "cublasCreate_v2");
      handle = out.get(ADDRESS, 0);
      MemorySegment v = arena.allocate(JAVA_INT);
      Cuda.checkBlas((int) getVersion.invokeExact(handle, v), "cublasGetVersion_v2");
      version = versionString(v.get(JAVA_INT, 0));
      Cuda.checkBlas((int) mathMode.invokeExact(handle, 0), "cublasSetMathMode(CUBLAS_DEFAULT_MATH)");
      scalars = arena.allocate(JAVA_FLOAT, 2);
    } catch (RuntimeException | Error e) {
      arena.close();
      throw e;
    } catch (Throwable t) {
      arena.close();
      throw new IllegalStateException("cuBLAS binding failed: " + t, t);
    }
  }

  /**
   * Opens libcublasLt from the folder of {@code library} first, when it is there: a libcublas
   * opened by path finds its Lt dependency then, even where the folder is not on the loader's
   * path and the library carries no $ORIGIN run path.
   */
  @SuppressWarnings("restricted")
  private static void preloadLt(String library, Arena arena) {
    java.nio.file.Path p = java.nio.file.Path.of(library);
    if (p.getParent() == null) {
      return; // a bare soname: the loader's path serves both
    }
    java.nio.file.Path lt = p.getParent().resolve(p.getFileName().toString().replace("libcublas.", "libcublasLt."));
    if (java.nio.file.Files.isRegularFile(lt)) {
      SymbolLookup.libraryLookup(lt, arena);
    }
  }

  /** cuBLAS encodes its version as major * 10000 + minor * 100 + patch (13.0.2 = 130002). */
  static String versionString(int v) {
    return (v / 10000) + "." + (v / 100 % 100) + "." + (v % 100);
  }

  private static MemorySegment find(SymbolLookup lib, String name) {
    return lib.find(name).orElseThrow(() -> new IllegalStateException("cuBLAS has no symbol " + name));
  }

  @Override
  public void setStream(Pointers.Stream stream) {
    try {
      Cuda.checkBlas((int) setStream.invokeExact(handle, MemorySegment.ofAddress(stream.handle())), "cublasSetStream_v2");
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  @Override
  public void sgemmStridedBatched(boolean transA, int m, int n, int k, float alpha, DeviceBuffer a, int lda,
      long strideA, DeviceBuffer b, int ldb, long strideB, float beta, DeviceBuffer c, int ldc, long strideC,
      int batch) {
    // host pointer mode: alpha and beta are read when the call is made, so one scratch pair suffices
    scalars.setAtIndex(JAVA_FLOAT, 0, alpha);
    scalars.setAtIndex(JAVA_FLOAT, 1, beta);
    try {
      int status = (int) gemm.invokeExact(handle, transA ? 1 : 0, 0, m, n, k, scalars,
          MemorySegment.ofAddress(a.address(0)), lda, strideA, MemorySegment.ofAddress(b.address(0)), ldb, strideB,
          scalars.asSlice(4), MemorySegment.ofAddress(c.address(0)), ldc, strideC, batch);
      Cuda.checkBlas(status, "cublasSgemmStridedBatched");
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  @Override
  public String describe() {
    return "cuBLAS " + version + " (" + library + ") via FFM";
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      try {
        Cuda.checkBlas((int) destroy.invokeExact(handle), "cublasDestroy_v2");
      } catch (RuntimeException | Error e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException(t);
      } finally {
        arena.close();
      }
    }
  }
}
