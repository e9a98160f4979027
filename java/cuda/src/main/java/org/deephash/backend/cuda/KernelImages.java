package org.deephash.backend.cuda;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The kernel images the build put in the jar (cubins per architecture and PTX for newer GPUs,
 * listed in {@code kernels.list}) and the choice of one for a device. Never compiles anything.
 */
final class KernelImages {
  static final String DIR = "/org/deephash/cuda/kernels/";
  static final String LIST = DIR + "kernels.list";
  static final String MISSING = "kernels missing from the jar: build bug or no nvcc at build time";

  /** Every kernel entry point the backend launches; the build must produce them all. */
  static final List<String> ENTRY_POINTS = List.of(
      "dh_repack_codes",
      "dh_scan_hist_w1", "dh_scan_hist_w2", "dh_scan_hist_w4", "dh_scan_hist_wn",
      "dh_select_threshold",
      "dh_scan_digit_w1", "dh_scan_digit_w2", "dh_scan_digit_w4", "dh_scan_digit_wn",
      "dh_select_digit",
      "dh_scan_emit_w1", "dh_scan_emit_w2", "dh_scan_emit_w4", "dh_scan_emit_wn",
      "dh_sort_topk",
      "dh_select_bound", "dh_cand_select",
      "dh_scan_bound_w1", "dh_scan_bound_w2", "dh_scan_bound_w4", "dh_scan_bound_wn",
      "dh_row_sqnorms", "dh_gather_features", "dh_l2_finalize");

  private static final Pattern CUBIN = Pattern.compile("deephash_kernels\\.sm_(\\d+)\\.cubin");
  private static final Pattern PTX = Pattern.compile("deephash_kernels\\.compute_(\\d+)\\.ptx");

  private KernelImages() {}

  /** The image names in the jar; empty when the build had no nvcc. */
  static List<String> list() {
    try (InputStream in = KernelImages.class.getResourceAsStream(LIST)) {
      if (in == null) {
        return List.of();
      }
      List<String> names = new ArrayList<>();
      for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
        if (!line.isBlank() && KernelImages.class.getResource(DIR + line.trim()) != null) {
          names.add(line.trim());
        }
      }
      return names;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + LIST, e);
    }
  }

  /**
   * The best image for compute capability major.minor: a cubin of the same major version and the
   * highest minor not above the device's (cubins run on later minors of their major), else the
   * PTX of the highest virtual architecture not above the device (the driver JIT-compiles it).
   */
  static Optional<String> choose(int major, int minor, List<String> names) {
    int cc = major * 10 + minor;
    String best = null;
    int bestCc = -1;
    for (String n : names) {
      Matcher m = CUBIN.matcher(n);
      if (m.matches()) {
        int a = Integer.parseInt(m.group(1));
        if (a / 10 == major && a <= cc && a > bestCc) {
          best = n;
          bestCc = a;
        }
      }
    }
    if (best != null) {
      return Optional.of(best);
    }
    for (String n : names) {
      Matcher m = PTX.matcher(n);
      if (m.matches()) {
        int a = Integer.parseInt(m.group(1));
        if (a <= cc && a > bestCc) {
          best = n;
          bestCc = a;
        }
      }
    }
    return Optional.ofNullable(best);
  }

  /** The image's bytes; PTX is NUL-terminated as cuModuleLoadData expects of text images. */
  static byte[] load(String name) {
    try (InputStream in = KernelImages.class.getResourceAsStream(DIR + name)) {
      if (in == null) {
        throw new IllegalStateException(MISSING + " (" + name + ")");
      }
      byte[] b = in.readAllBytes();
      if (!name.endsWith(".ptx")) {
        return b;
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream(b.length + 1);
      out.write(b, 0, b.length);
      out.write(0);
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read kernel image " + name, e);
    }
  }
}
