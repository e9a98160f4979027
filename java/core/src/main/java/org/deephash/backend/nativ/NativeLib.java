package org.deephash.backend.nativ;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The FFM bindings of {@code native/include/deephash.h}: the only class that names a native
 * symbol, and the one place where native status codes become exceptions.
 *
 * <p>The library is loaded once per JVM, on first use, from the jar ({@code
 * native/<os>-<arch>/libdeephash.so}, extracted to a temporary file that is deleted as soon as
 * it is mapped), or from the path in the system property {@code engine.native.library}. A
 * failure is not thrown here: it becomes the reasons that {@link NativeBackendProvider} reports.
 */
final class NativeLib {
  /** Must equal {@code DH_ABI_VERSION} of the library. */
  static final int ABI_VERSION = 3;

  static final int TIER_SCALAR = 1;
  static final int TIER_AVX2 = 2;
  static final int TIER_AVX512 = 3;

  /** Option of dh_hamming_topk: ids ascend with rows, so ties are ordered by row. */
  static final int IDS_ASCENDING = 1;

  /** Bit of the per-query flags: more than k rows qualified. */
  static final int FLAG_TRUNCATED = 1;

  static final String LIBRARY_PROPERTY = "engine.native.library";

  private static final int DH_OK = 0;
  private static final int DH_EINVAL = -1;
  private static final int DH_ENOMEM = -2;
  private static final int DH_EUNSUPPORTED = -3;

  private final String origin;
  private final int cpuTier;
  private final MethodHandle hammingTopk;
  private final MethodHandle hammingDistances;
  private final MethodHandle l2Norms;
  private final MethodHandle l2Topk;
  private final MethodHandle l2Sq8;
  private final MethodHandle l2RerankBounds;
  private final MethodHandle l2RerankRank;

  /** The outcome of the one load attempt: a library, or every reason there is none. */
  record Load(Optional<NativeLib> lib, List<String> reasons) {}

  private static final class Holder {
    static final Load LOAD = load();
  }

  private NativeLib(String origin, int cpuTier, MethodHandle[] h) {
    this.origin = origin;
    this.cpuTier = cpuTier;
    this.hammingTopk = h[0];
    this.hammingDistances = h[1];
    this.l2Norms = h[2];
    this.l2Topk = h[3];
    this.l2Sq8 = h[4];
    this.l2RerankBounds = h[5];
    this.l2RerankRank = h[6];
  }

  static Load get() {
    return Holder.LOAD;
  }

  /** Where the library came from, for reports. */
  String origin() {
    return origin;
  }

  /** The best tier the CPU supports ({@code TIER_*}). */
  int cpuTier() {
    return cpuTier;
  }

  static String tierName(int tier) {
    return switch (tier) {
      case TIER_SCALAR -> "scalar";
      case TIER_AVX2 -> "avx2";
      case TIER_AVX512 -> "avx512";
      default -> "tier" + tier;
    };
  }

  /** {@code TIER_*} for a name accepted by {@code engine.native.tier}, or -1. */
  static int tierOf(String name) {
    return switch (name.trim().toLowerCase(Locale.ROOT)) {
      case "scalar", "popcnt" -> TIER_SCALAR;
      case "avx2" -> TIER_AVX2;
      case "avx512", "avx-512" -> TIER_AVX512;
      default -> -1;
    };
  }

  /** The jar folder for this JVM's platform, e.g. {@code linux-x86_64}, or null when unsupported. */
  static String platform() {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    String o = os.startsWith("linux") ? "linux" : os.startsWith("mac") ? "macos" : os.startsWith("windows") ? "windows" : null;
    String a = switch (arch) {
      case "amd64", "x86_64", "x64" -> "x86_64";
      case "aarch64", "arm64" -> "aarch64";
      default -> null;
    };
    return o == null || a == null ? null : o + "-" + a;
  }

  @SuppressWarnings("restricted") // loading and binding the library is the point of this class
  private static Load load() {
    List<String> reasons = new ArrayList<>();
    Path path;
    String origin;
    String override = System.getProperty(LIBRARY_PROPERTY);
    if (override != null && !override.isBlank()) {
      path = Path.of(override.trim());
      origin = path.toString();
      if (!Files.isReadable(path)) {
        return failed(LIBRARY_PROPERTY + "=" + override + " is not a readable file");
      }
    } else {
      String platform = platform();
      if (platform == null) {
        return failed("no native library is built for " + System.getProperty("os.name") + "/"
            + System.getProperty("os.arch") + " (supported: linux, macos, windows on x86_64 or aarch64)");
      }
      String resource = "native/" + platform + "/" + System.mapLibraryName("deephash");
      origin = "jar:" + resource;
      try (InputStream in = NativeLib.class.getClassLoader().getResourceAsStream(resource)) {
        if (in == null) {
          return failed("the jar has no " + resource + ": it was built without cmake or a C compiler"
              + " (install both and rebuild, or set " + LIBRARY_PROPERTY + " to a built library)");
        }
        path = Files.createTempFile("deephash-", "-" + System.mapLibraryName("deephash"));
        Files.copy(in, path, StandardCopyOption.REPLACE_EXISTING);
      } catch (IOException e) {
        return failed("could not extract " + resource + " to a temporary file: " + e);
      }
    }
    SymbolLookup lookup;
    try {
      lookup = SymbolLookup.libraryLookup(path, Arena.global());
    } catch (IllegalCallerException e) {
      return failed("native access is disabled: run java with --enable-native-access=ALL-UNNAMED (" + e.getMessage() + ")");
    } catch (IllegalArgumentException e) {
      return failed("could not load " + origin + ": " + e.getMessage());
    } finally {
      if (origin.startsWith("jar:")) {
        // the mapping outlives the file on Unix; elsewhere the file is removed on exit
        try {
          Files.deleteIfExists(path);
        } catch (IOException e) {
          path.toFile().deleteOnExit();
        }
      }
    }
    Linker linker = Linker.nativeLinker();
    MethodHandle abi = bind(linker, lookup, "dh_abi_version", FunctionDescriptor.of(JAVA_INT), reasons);
    MethodHandle tier = bind(linker, lookup, "dh_cpu_tier", FunctionDescriptor.of(JAVA_INT), reasons);
    MethodHandle topk = bind(linker, lookup, "dh_hamming_topk", FunctionDescriptor.of(JAVA_INT,
        JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT,
        JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS), reasons);
    MethodHandle dist = bind(linker, lookup, "dh_hamming_distances", FunctionDescriptor.of(JAVA_INT,
        JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS), reasons);
    MethodHandle norms = bind(linker, lookup, "dh_l2_norms", FunctionDescriptor.of(JAVA_INT,
        ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS), reasons);
    MethodHandle l2 = bind(linker, lookup, "dh_l2_topk", FunctionDescriptor.of(JAVA_INT,
        JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT,
        JAVA_INT, ADDRESS, ADDRESS, ADDRESS), reasons);
    MethodHandle sq8 = bind(linker, lookup, "dh_l2_sq8", FunctionDescriptor.of(JAVA_INT,
        ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, ADDRESS, ADDRESS), reasons);
    MethodHandle bounds = bind(linker, lookup, "dh_l2_rerank_bounds", FunctionDescriptor.of(JAVA_INT,
        JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG,
        JAVA_LONG, ADDRESS), reasons);
    MethodHandle rank = bind(linker, lookup, "dh_l2_rerank_rank", FunctionDescriptor.of(JAVA_INT,
        ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS,
        ADDRESS), reasons);
    if (!reasons.isEmpty()) {
      return new Load(Optional.empty(), List.copyOf(reasons));
    }
    int version;
    int cpu;
    try {
      version = (int) abi.invokeExact();
      cpu = (int) tier.invokeExact();
    } catch (Throwable t) {
      return failed("calling " + origin + " failed: " + t);
    }
    if (version != ABI_VERSION) {
      return failed(origin + " has ABI version " + version + ", this jar needs " + ABI_VERSION + " (a stale build?)");
    }
    if (cpu < TIER_SCALAR) {
      return failed("this CPU has no POPCNT instruction, which the native kernels need");
    }
    return new Load(Optional.of(new NativeLib(origin, cpu, new MethodHandle[] {topk, dist, norms, l2, sq8, bounds, rank})),
        List.of());
  }

  private static Load failed(String reason) {
    return new Load(Optional.empty(), List.of(reason));
  }

  @SuppressWarnings("restricted")
  private static MethodHandle bind(Linker linker, SymbolLookup lookup, String name, FunctionDescriptor fd,
      List<String> reasons) {
    Optional<MemorySegment> sym = lookup.find(name);
    if (sym.isEmpty()) {
      reasons.add("the native library has no symbol " + name + " (a stale build?)");
      return null;
    }
    return linker.downcallHandle(sym.get(), fd);
  }

  /**
   * {@code dh_hamming_topk}: see deephash.h. Outputs are nq*k ints (dist, row) and nq ints (count,
   * flags); options is {@link #IDS_ASCENDING} or 0.
   */
  void hammingTopk(int tier, MemorySegment codes, int codeBytes, long rowBegin, long rowEnd, MemorySegment ids,
      MemorySegment tombstones, MemorySegment queries, int nq, int k, int maxDist, int options, MemorySegment outDist,
      MemorySegment outRow, MemorySegment outCount, MemorySegment outFlags) {
    int status = call(() -> (int) hammingTopk.invokeExact(tier, codes, codeBytes, rowBegin, rowEnd, ids, tombstones,
        queries, nq, k, maxDist, options, outDist, outRow, outCount, outFlags));
    check(status, "dh_hamming_topk", tier);
  }

  /** {@code dh_hamming_distances}: one query against rows [rowBegin, rowEnd), tombstones ignored. */
  void hammingDistances(int tier, MemorySegment codes, int codeBytes, long rowBegin, long rowEnd, MemorySegment query,
      MemorySegment out) {
    int status = call(() -> (int) hammingDistances.invokeExact(tier, codes, codeBytes, rowBegin, rowEnd, query, out));
    check(status, "dh_hamming_distances", tier);
  }

  /** {@code dh_l2_norms}: squared norms of feature rows [rowBegin, rowEnd) into out. */
  void l2Norms(MemorySegment features, int dim, long rowBegin, long rowEnd, MemorySegment out) {
    int status = call(() -> (int) l2Norms.invokeExact(features, dim, rowBegin, rowEnd, out));
    check(status, "dh_l2_norms", TIER_SCALAR);
  }

  /** {@code dh_l2_topk}: exhaustive Euclidean top-k; outputs nq*k floats and ints, nq counts. */
  void l2Topk(int tier, MemorySegment features, int dim, MemorySegment norms, long rowBegin, long rowEnd,
      MemorySegment ids, MemorySegment tombstones, MemorySegment queries, int nq, int k, int options,
      MemorySegment outDist, MemorySegment outRow, MemorySegment outCount) {
    int status = call(() -> (int) l2Topk.invokeExact(tier, features, dim, norms, rowBegin, rowEnd, ids, tombstones,
        queries, nq, k, options, outDist, outRow, outCount));
    check(status, "dh_l2_topk", tier);
  }

  /** {@code dh_l2_sq8}: the 8-bit copy of rows [rowBegin, rowEnd): dim codes and 4 floats a row. */
  void l2Sq8(MemorySegment features, int dim, long rowBegin, long rowEnd, MemorySegment codes,
      MemorySegment params) {
    int status = call(() -> (int) l2Sq8.invokeExact(features, dim, rowBegin, rowEnd, codes, params));
    check(status, "dh_l2_sq8", TIER_SCALAR);
  }

  /**
   * {@code dh_l2_rerank_bounds}: bounds of the reference distances of the pool entries whose row is
   * in [rowBegin, rowEnd), two floats an entry (indexed like poolRows); codes and params may be NULL.
   */
  void l2RerankBounds(int tier, MemorySegment features, int dim, MemorySegment norms, MemorySegment codes,
      MemorySegment params, MemorySegment queries, int nq, MemorySegment poolOffsets, MemorySegment poolRows,
      long rowBegin, long rowEnd, MemorySegment outBounds) {
    int status = call(() -> (int) l2RerankBounds.invokeExact(tier, features, dim, norms, codes, params, queries, nq,
        poolOffsets, poolRows, rowBegin, rowEnd, outBounds));
    check(status, "dh_l2_rerank_bounds", tier);
  }

  /** {@code dh_l2_rerank_rank}: each query's pool ranked by Euclidean distance from its bounds; pool indices out. */
  void l2RerankRank(MemorySegment features, int dim, MemorySegment ids, MemorySegment queries, int nq,
      MemorySegment poolOffsets, MemorySegment poolRows, MemorySegment bounds, int k, int options,
      MemorySegment outDist, MemorySegment outIndex, MemorySegment outCount) {
    int status = call(() -> (int) l2RerankRank.invokeExact(features, dim, ids, queries, nq, poolOffsets, poolRows,
        bounds, k, options, outDist, outIndex, outCount));
    check(status, "dh_l2_rerank_rank", TIER_SCALAR);
  }

  /** One call of a bound function (invokeExact needs its exact types at each call site). */
  @FunctionalInterface
  private interface Call {
    int status() throws Throwable;
  }

  /** The status of a call; what the call throws itself is rethrown as is, or wrapped when checked. */
  private static int call(Call c) {
    try {
      return c.status();
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

  /** The one mapping from native status codes to exceptions. */
  static void check(int status, String function, int tier) {
    switch (status) {
      case DH_OK -> {}
      case DH_EINVAL -> throw new IllegalArgumentException(function + " rejected its arguments (a bug in the caller)");
      case DH_ENOMEM -> throw new OutOfMemoryError(function + ": native scratch memory could not be allocated");
      case DH_EUNSUPPORTED -> throw new UnsupportedOperationException(
          function + ": the " + tierName(tier) + " kernels cannot run on this CPU");
      default -> throw new IllegalStateException(function + " returned unknown status " + status);
    }
  }
}
