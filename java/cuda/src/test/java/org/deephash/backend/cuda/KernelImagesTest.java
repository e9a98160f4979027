package org.deephash.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The kernel images in the jar: built for every architecture, each carrying every entry point the
 * backend launches. Runs on every machine; where this machine has no nvcc (so the build could not
 * make kernels) the content checks are skipped by assumption.
 */
class KernelImagesTest {

  /** The same places the CMake project looks for nvcc. */
  static boolean nvccHere() {
    for (String env : new String[] {"CUDACXX", "CUDA_HOME", "CUDA_PATH"}) {
      String v = System.getenv(env);
      if (v != null && (Files.isExecutable(Path.of(v)) || Files.isExecutable(Path.of(v, "bin", "nvcc")))) {
        return true;
      }
    }
    if (Files.isExecutable(Path.of("/usr/local/cuda/bin/nvcc"))) {
      return true;
    }
    for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "nvcc"))) {
        return true;
      }
    }
    return false;
  }

  private static List<String> images() {
    List<String> names = KernelImages.list();
    assumeTrue(!names.isEmpty() || nvccHere(), "no nvcc on this machine, so the build made no kernels");
    assertFalse(names.isEmpty(), "nvcc is here but the jar has no kernels: the CMake step failed (see the build log)");
    return names;
  }

  @Test
  void everyArchitectureWasBuilt() {
    List<String> names = images();
    for (int sm : new int[] {75, 80, 86, 89, 90}) {
      assertTrue(names.contains("deephash_kernels.sm_" + sm + ".cubin"), "no cubin for sm_" + sm + " in " + names);
    }
    assertTrue(names.contains("deephash_kernels.compute_90.ptx"), "no PTX for newer GPUs in " + names);
  }

  @Test
  void ptxHasEveryEntryPoint() {
    for (String n : images()) {
      if (!n.endsWith(".ptx")) {
        continue;
      }
      byte[] b = KernelImages.load(n);
      assertEquals(0, b[b.length - 1], "PTX must be NUL-terminated for cuModuleLoadData");
      String ptx = new String(b, 0, b.length - 1, StandardCharsets.US_ASCII);
      assertTrue(ptx.contains(".version 9.0") || ptx.matches("(?s).*\\.version \\d+\\.\\d+.*"), "no .version in " + n);
      Set<String> entries = new HashSet<>();
      Matcher m = Pattern.compile("\\.entry\\s+([A-Za-z_][A-Za-z0-9_]*)").matcher(ptx);
      while (m.find()) {
        entries.add(m.group(1));
      }
      for (String e : KernelImages.ENTRY_POINTS) {
        assertTrue(entries.contains(e), n + " lacks .entry " + e + " (has " + entries + ")");
      }
    }
  }

  @Test
  void cubinsHaveEveryEntryPoint() {
    for (String n : images()) {
      if (!n.endsWith(".cubin")) {
        continue;
      }
      Set<String> symbols = elfFunctionSymbols(KernelImages.load(n), n);
      for (String e : KernelImages.ENTRY_POINTS) {
        assertTrue(symbols.contains(e), n + " lacks the kernel symbol " + e);
      }
    }
  }

  /** Names of the STT_FUNC symbols of an ELF64 little-endian CUDA binary (EM_CUDA = 190). */
  static Set<String> elfFunctionSymbols(byte[] elf, String what) {
    ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
    assertTrue(elf.length > 64 && b.getInt(0) == 0x464c457f, what + " is not an ELF file");
    assertEquals(2, elf[4], what + " is not ELF64");
    assertEquals(190, b.getShort(0x12), what + " is not a CUDA ELF (e_machine)");
    long shoff = b.getLong(0x28);
    int shentsize = b.getShort(0x3A) & 0xffff;
    int shnum = b.getShort(0x3C) & 0xffff;
    Set<String> out = new HashSet<>();
    for (int i = 0; i < shnum; i++) {
      int sh = (int) (shoff + (long) i * shentsize);
      if (b.getInt(sh + 4) != 2) { // SHT_SYMTAB
        continue;
      }
      long off = b.getLong(sh + 0x18);
      long size = b.getLong(sh + 0x20);
      int link = b.getInt(sh + 0x28);
      long entsize = b.getLong(sh + 0x38);
      int str = (int) (shoff + (long) link * shentsize);
      long strOff = b.getLong(str + 0x18);
      for (long s = off; s + entsize <= off + size; s += entsize) {
        int name = b.getInt((int) s);
        int type = elf[(int) s + 4] & 0xf;
        if (type == 2) { // STT_FUNC
          int p = (int) (strOff + name);
          int e = p;
          while (elf[e] != 0) {
            e++;
          }
          out.add(new String(elf, p, e - p, StandardCharsets.US_ASCII));
        }
      }
    }
    return out;
  }

  @Test
  void imageChoiceFollowsComputeCapability() {
    List<String> all = List.of("deephash_kernels.sm_75.cubin", "deephash_kernels.sm_80.cubin",
        "deephash_kernels.sm_86.cubin", "deephash_kernels.sm_89.cubin", "deephash_kernels.sm_90.cubin",
        "deephash_kernels.compute_90.ptx");
    assertEquals(Optional.of("deephash_kernels.sm_75.cubin"), KernelImages.choose(7, 5, all));
    assertEquals(Optional.of("deephash_kernels.sm_80.cubin"), KernelImages.choose(8, 0, all));
    assertEquals(Optional.of("deephash_kernels.sm_86.cubin"), KernelImages.choose(8, 7, all)); // Orin: sm_86 cubin runs
    assertEquals(Optional.of("deephash_kernels.sm_89.cubin"), KernelImages.choose(8, 9, all));
    assertEquals(Optional.of("deephash_kernels.sm_90.cubin"), KernelImages.choose(9, 0, all));
    // Blackwell and later: no cubin of their major, the PTX is JIT-compiled
    assertEquals(Optional.of("deephash_kernels.compute_90.ptx"), KernelImages.choose(10, 0, all));
    assertEquals(Optional.of("deephash_kernels.compute_90.ptx"), KernelImages.choose(12, 0, all));
    // older than every image
    assertEquals(Optional.empty(), KernelImages.choose(7, 0, all));
    assertEquals(Optional.empty(), KernelImages.choose(9, 0, List.of()));
  }
}
