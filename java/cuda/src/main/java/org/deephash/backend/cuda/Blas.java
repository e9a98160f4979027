package org.deephash.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The cuBLAS calls the re-rank needs. JCublas 12.6 links libcublas.so.12; a host with only CUDA
 * 13's libcublas.so.13 gets the same C functions bound through the FFM API instead. Chosen at run
 * time by {@link #open}.
 */
interface Blas extends AutoCloseable {

  /** Runs later calls on {@code stream}. */
  void setStream(Pointers.Stream stream);

  /**
   * Column-major C_i = alpha op(A_i) op(B_i) + beta C_i for i < batch, with A_i = A + i*strideA
   * (strides in elements). {@code transA} true means op(A) = A^T.
   */
  void sgemmStridedBatched(boolean transA, int m, int n, int k, float alpha,
      DeviceBuffer a, int lda, long strideA, DeviceBuffer b, int ldb, long strideB,
      float beta, DeviceBuffer c, int ldc, long strideC, int batch);

  /** e.g. {@code "cuBLAS 13.0.2 (/opt/cublas/lib/libcublas.so.13) via FFM"}: version, library, binding. */
  String describe();

  @Override
  void close();

  /** Property naming the folder that holds libcublas (takes precedence over every other place). */
  String DIR_PROPERTY = "engine.cuda.cublasDir";
  /** Environment variable with the same meaning, used when the property is not set. */
  String DIR_ENV = "ENGINE_CUBLAS_DIR";

  /** The folder the user named for libcublas (property, then environment), or null. */
  static Path configuredDir() {
    String v = System.getProperty(DIR_PROPERTY);
    if (v == null || v.isBlank()) {
      v = System.getenv(DIR_ENV);
    }
    return v == null || v.isBlank() ? null : Path.of(v);
  }

  /** Directories searched for libcublas besides the loader's default path. */
  static List<Path> searchDirs() {
    List<Path> dirs = new ArrayList<>();
    for (String env : new String[] {"CUDA_HOME", "CUDA_PATH"}) {
      String v = System.getenv(env);
      if (v != null && !v.isBlank()) {
        dirs.add(Path.of(v, "lib64"));
      }
    }
    dirs.add(Path.of("/usr/local/cuda/lib64"));
    dirs.add(Path.of("/usr/lib/x86_64-linux-gnu"));
    return dirs;
  }

  /**
   * Where {@code soname} can be opened from: the configured folder only, when one is named
   * ({@value #DIR_PROPERTY} or {@value #DIR_ENV}); else the loader's default path, then the CUDA
   * directories.
   */
  @SuppressWarnings("restricted")
  static Optional<String> locate(String soname) {
    Path configured = configuredDir();
    if (configured != null) {
      Path p = configured.resolve(soname);
      return Files.isRegularFile(p) ? Optional.of(p.toAbsolutePath().toString()) : Optional.empty();
    }
    try (Arena a = Arena.ofConfined()) {
      SymbolLookup.libraryLookup(soname, a);
      return Optional.of(soname);
    } catch (IllegalArgumentException | IllegalCallerException e) {
      // not on the default search path
    }
    for (Path d : searchDirs()) {
      Path p = d.resolve(soname);
      if (Files.isRegularFile(p)) {
        return Optional.of(p.toString());
      }
    }
    return Optional.empty();
  }

  /** Null when a cuBLAS can be bound, else why not. */
  static String unavailableReason() {
    if (locate("libcublas.so.12").isPresent() || locate("libcublas.so.13").isPresent()) {
      return null;
    }
    Path configured = configuredDir();
    if (configured != null) {
      return "cuBLAS missing: neither libcublas.so.12 nor libcublas.so.13 in " + configured + " (named by "
          + (System.getProperty(DIR_PROPERTY) != null ? "-D" + DIR_PROPERTY : DIR_ENV) + "): name the folder that holds"
          + " them (find / -name 'libcublas.so*')";
    }
    return "cuBLAS missing: neither libcublas.so.12 nor libcublas.so.13 found (install the CUDA toolkit's "
        + "libcublas, or name its folder with " + DIR_ENV + "=DIR or -D" + DIR_PROPERTY + "=DIR)";
  }

  /**
   * Binds cuBLAS in the current context: JCublas2 when libcublas.so.12 loads, else FFM on
   * libcublas.so.13 (or .12). Throws {@link IllegalStateException} with every attempt's reason.
   */
  static Blas open() {
    List<String> failures = new ArrayList<>();
    if (locate("libcublas.so.12").isPresent()) {
      try {
        return new JCublasBlas();
      } catch (LinkageError | RuntimeException e) {
        failures.add("JCublas2: " + e);
      }
    }
    for (String so : new String[] {"libcublas.so.13", "libcublas.so.12"}) {
      Optional<String> where = locate(so);
      if (where.isPresent()) {
        try {
          return new FfmBlas(where.get());
        } catch (RuntimeException e) {
          failures.add("FFM " + where.get() + ": " + e);
        }
      }
    }
    if (failures.isEmpty()) {
      failures.add(unavailableReason());
    }
    throw new IllegalStateException("cannot bind cuBLAS: " + String.join("; ", failures));
  }
}
