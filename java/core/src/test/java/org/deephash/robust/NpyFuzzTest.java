package org.deephash.robust;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.deephash.io.Npy;
import org.deephash.io.NpyArray;
import org.deephash.io.NpyFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A seeded fuzzer of .npy files (what `engine-cli import` reads from users): bit flips and random
 * bytes in the header, truncations, the header length set to extremes, deep nesting, huge shapes.
 * Every case must end in a clean {@link NpyFormatException} that names the file, or in an array
 * that agrees with what the file says (the original data where the header still says the same);
 * never another exception, a crash or a hang. .npy has no checksum, so flips in the data region
 * are not detectable and are not tried. The counts are printed for docs/ROBUSTNESS.md.
 * {@code -Ddeephash.fuzz.cases=N} runs more cases.
 */
class NpyFuzzTest {
  private static final long SEED = Long.getLong("test.seed", 20261204L);
  private static final int CASES = Integer.getInteger("deephash.fuzz.cases", 600);

  @TempDir Path dir;

  @Test
  @Timeout(120)
  void mutatedFilesAreRefusedOrReadConsistently() throws IOException {
    float[] data = new float[5 * 3];
    for (int i = 0; i < data.length; i++) {
      data[i] = i * 0.5f - 3;
    }
    Path good = dir.resolve("good.npy");
    Npy.write(good, data, 5, 3);
    byte[] original = Files.readAllBytes(good);
    int headerEnd = 10 + ((original[8] & 0xFF) | (original[9] & 0xFF) << 8);
    SplittableRandom rnd = new SplittableRandom(SEED);
    TreeMap<String, Integer> outcomes = new TreeMap<>();
    for (int c = 0; c < CASES; c++) {
      byte[] b = original.clone();
      String kind;
      switch (c % 7) {
        case 0 -> {
          kind = "bit flip in header";
          int at = rnd.nextInt(headerEnd);
          b[at] ^= (byte) (1 << rnd.nextInt(8));
        }
        case 1 -> {
          kind = "random bytes in header";
          for (int i = 0; i < 1 + rnd.nextInt(4); i++) {
            b[rnd.nextInt(headerEnd)] = (byte) rnd.nextInt(256);
          }
        }
        case 2 -> {
          kind = "truncated";
          b = Arrays.copyOf(b, rnd.nextInt(b.length));
        }
        case 3 -> {
          kind = "header length extreme";
          int v = new int[] {0, 1, 0xFFFF, headerEnd, headerEnd + 64, rnd.nextInt(0x10000)}[rnd.nextInt(6)];
          b[8] = (byte) v;
          b[9] = (byte) (v >>> 8);
        }
        case 4 -> {
          kind = "deep nesting";
          b = header("{'descr': '<f4', 'fortran_order': False, 'shape': " + "(".repeat(100 + rnd.nextInt(5000))
              + "5, 3" + ")".repeat(10) + ", }", original, headerEnd);
        }
        case 5 -> {
          kind = "shape extreme";
          String dimText = new String[] {"-1", "0", "9223372036854775807", "4294967296", "99999999999999999999",
              "5, 3, 0", "1e3"}[rnd.nextInt(7)];
          b = header("{'descr': '<f4', 'fortran_order': False, 'shape': (" + dimText + ",), }", original, headerEnd);
        }
        default -> {
          kind = "dtype and order";
          String d = new String[] {"'<f8'", "'>f4'", "'|b1'", "'<U4'", "[('a', '<f4')]", "'<f4' * 99", "None"}
              [rnd.nextInt(7)];
          b = header("{'descr': " + d + ", 'fortran_order': " + (rnd.nextBoolean() ? "True" : "0") + ", 'shape': (5, 3), }",
              original, headerEnd);
        }
      }
      Path p = dir.resolve("case" + c + ".npy");
      Files.write(p, b);
      String outcome;
      try (NpyArray a = Npy.read(p)) {
        if (Arrays.equals(a.shape(), new long[] {5, 3}) && a.dtype() == org.deephash.io.NpyDType.FLOAT32) {
          assertArrayEquals(data, a.toFloatArray(), "case " + c + " (" + kind + "): same header, other data");
          outcome = "read, identical";
        } else {
          // the mutation made another valid header: the array holds exactly what that header says
          long elements = 1;
          for (long d : a.shape()) {
            elements *= d;
          }
          assertEquals(elements, a.elementCount(), "case " + c);
          assertEquals(elements * a.dtype().itemSize(), a.data().byteSize(), "case " + c + " (" + kind + ")");
          outcome = "read, other valid header";
        }
      } catch (NpyFormatException e) {
        assertTrue(e.getMessage().startsWith(p.getFileName() + ": "), "case " + c + ": " + e.getMessage());
        assertTrue(e.getMessage().lines().count() == 1, "one line: " + e.getMessage());
        outcome = "refused";
      }
      outcomes.merge(kind + " -> " + outcome, 1, Integer::sum);
    }
    System.out.println("npy fuzz (" + CASES + " cases, seed " + SEED + "): " + outcomes);
    assertTrue(outcomes.keySet().stream().anyMatch(k -> k.endsWith("refused")));
  }

  /** The file with its header text replaced (padded as the format wants), data kept. */
  private static byte[] header(String dict, byte[] original, int headerEnd) {
    byte[] text = (dict + "\n").getBytes(StandardCharsets.ISO_8859_1);
    int len = Math.min(text.length, 0xFFFF);
    byte[] out = new byte[10 + len + original.length - headerEnd];
    System.arraycopy(original, 0, out, 0, 8);
    out[8] = (byte) len;
    out[9] = (byte) (len >>> 8);
    System.arraycopy(text, 0, out, 10, len);
    System.arraycopy(original, headerEnd, out, 10 + len, original.length - headerEnd);
    return out;
  }
}
