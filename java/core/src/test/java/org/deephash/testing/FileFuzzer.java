package org.deephash.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.TreeMap;

/**
 * A seeded fuzzer of deephash container files (docs/INDEX_FORMAT.md): bit flips in every region
 * (fixed header, format fields, section table, each section, padding), random bytes, truncations,
 * and header or section-table fields set to extremes. Each mutated file goes to a reader that must
 * end in a clean {@link IOException} whose one-line message names the file, or in an answer
 * identical to the original file's: never another exception, a crash or a hang (callers put a
 * timeout on their test). Returns the outcome counts for the docs.
 */
public final class FileFuzzer {
  /** What a reader makes of a file: an answer to compare (equals), or an IOException. */
  @FunctionalInterface
  public interface Reader {
    Object read(Path file) throws IOException;
  }

  private FileFuzzer() {}

  public static TreeMap<String, Integer> run(Path original, Path work, int cases, long seed, Reader reader)
      throws IOException {
    byte[] good = Files.readAllBytes(original);
    Object want = reader.read(original);
    ByteBuffer h = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN);
    int headerBytes = h.getInt(16);
    int fieldsBytes = h.getInt(20);
    int sections = h.getInt(24);
    int tableStart = 64 + fieldsBytes;
    SplittableRandom rnd = new SplittableRandom(seed);
    TreeMap<String, Integer> outcomes = new TreeMap<>();
    for (int c = 0; c < cases; c++) {
      byte[] b = good.clone();
      String region;
      switch (c % 8) {
        case 0 -> {
          region = "fixed header";
          flip(b, rnd.nextInt(64), rnd);
        }
        case 1 -> {
          region = "format fields";
          flip(b, 64 + rnd.nextInt(Math.max(1, fieldsBytes)), rnd);
        }
        case 2 -> {
          region = "section table";
          flip(b, tableStart + rnd.nextInt(Math.max(1, 48 * sections)), rnd);
        }
        case 3 -> {
          region = "sections";
          flip(b, headerBytes + rnd.nextInt(b.length - headerBytes), rnd);
        }
        case 4 -> {
          region = "random bytes";
          for (int i = 0; i < 1 + rnd.nextInt(8); i++) {
            b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
          }
        }
        case 5 -> {
          region = "truncated";
          b = Arrays.copyOf(b, rnd.nextInt(b.length));
        }
        case 6 -> {
          region = "header field extreme";
          int[] at = {12, 14, 16, 20, 24, 32};
          int o = at[rnd.nextInt(at.length)];
          long v = new long[] {0, 1, -1, Integer.MAX_VALUE, Long.MAX_VALUE, good.length + 64L, 65535}[rnd.nextInt(7)];
          put(b, o, o < 16 ? 2 : o == 32 ? 8 : 4, v);
        }
        default -> {
          region = "section entry extreme";
          int entry = tableStart + 48 * rnd.nextInt(Math.max(1, sections));
          int[] at = {16, 24, 32}; // crc, offset, length
          int o = at[rnd.nextInt(at.length)];
          long v = new long[] {0, 1, -1, Long.MAX_VALUE, good.length, good.length - 64L, 1L << 40}[rnd.nextInt(7)];
          if (entry + o + 8 <= b.length) {
            put(b, entry + o, o == 16 ? 4 : 8, v);
          }
        }
      }
      Path p = work.resolve("case" + c + original.getFileName());
      Files.write(p, b);
      String outcome;
      try {
        Object got = reader.read(p);
        assertEquals(want, got, "case " + c + " (" + region + "): the file was read but answers differently");
        outcome = "read, identical";
      } catch (IOException e) {
        String m = String.valueOf(e.getMessage());
        assertTrue(m.contains(p.getFileName().toString()), "case " + c + " (" + region + "): " + m);
        assertEquals(1, m.lines().count(), "case " + c + ": one line: " + m);
        outcome = "refused";
      }
      Files.delete(p);
      outcomes.merge(region + " -> " + outcome, 1, Integer::sum);
    }
    return outcomes;
  }

  private static void flip(byte[] b, int at, SplittableRandom rnd) {
    b[at] ^= (byte) (1 << rnd.nextInt(8));
  }

  private static void put(byte[] b, int at, int size, long v) {
    for (int i = 0; i < size && at + i < b.length; i++) {
      b[at + i] = (byte) (v >>> (8 * i));
    }
  }
}
