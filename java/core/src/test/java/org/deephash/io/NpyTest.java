package org.deephash.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Reads fixtures written by NumPy (see resources/org/deephash/io/npy/make_fixtures.py). */
class NpyTest {
  @TempDir Path dir;

  private Path fixture(String name) throws IOException {
    try (InputStream in = NpyTest.class.getResourceAsStream("npy/" + name)) {
      if (in == null) {
        throw new IOException("missing test resource npy/" + name);
      }
      Path p = dir.resolve(name);
      Files.copy(in, p);
      return p;
    }
  }

  @Test
  void readsUint8() throws IOException {
    try (NpyArray a = Npy.read(fixture("u1_2x3_v1.npy"))) {
      assertEquals(NpyDType.UINT8, a.dtype());
      assertArrayEquals(new long[] {2, 3}, a.shape());
      assertEquals(2, a.rows());
      assertEquals(3, a.rowLength());
      assertArrayEquals(new byte[] {0, 40, 80, 120, (byte) 160, (byte) 200}, a.toByteArray());
      assertEquals(1, a.header().major());
    }
  }

  @Test
  void readsFloat32() throws IOException {
    try (NpyArray a = Npy.read(fixture("f4_3x4_v1.npy"), NpyDType.FLOAT32)) {
      assertArrayEquals(new long[] {3, 4}, a.shape());
      float[] want = new float[12];
      for (int i = 0; i < 12; i++) {
        want[i] = i * 0.5f - 1;
      }
      assertArrayEquals(want, a.toFloatArray());
      assertEquals(48, a.data().byteSize());
    }
  }

  @Test
  void readsInt64AndInt32() throws IOException {
    try (NpyArray a = Npy.read(fixture("i8_5_v1.npy"), NpyDType.INT64)) {
      assertArrayEquals(new long[] {-1, 0, 1, 1L << 40, -(1L << 62)}, a.toLongArray());
      assertEquals(1, a.ndim());
    }
    try (NpyArray a = Npy.read(fixture("i4_2x2_v1.npy"), NpyDType.INT32)) {
      assertArrayEquals(new int[] {-7, 0, Integer.MAX_VALUE, Integer.MIN_VALUE}, a.toIntArray());
    }
  }

  @Test
  void readsFormatVersions2And3() throws IOException {
    try (NpyArray a = Npy.read(fixture("f4_2x3_v2.npy"))) {
      assertEquals(2, a.header().major());
      assertArrayEquals(new float[] {1.5f, -2.25f, 3e-8f, 1e30f, 0f, -0f}, a.toFloatArray());
    }
    try (NpyArray a = Npy.read(fixture("u1_4_v3.npy"))) {
      assertEquals(3, a.header().major());
      assertArrayEquals(new byte[] {1, 2, (byte) 254, (byte) 255}, a.toByteArray());
    }
  }

  @Test
  void readsScalarAndEmptyArrays() throws IOException {
    try (NpyArray a = Npy.read(fixture("f4_scalar_v1.npy"))) {
      assertEquals(0, a.ndim());
      assertEquals(1, a.elementCount());
      assertArrayEquals(new float[] {3.5f}, a.toFloatArray());
    }
    try (NpyArray a = Npy.read(fixture("f4_0x4_v1.npy"))) {
      assertArrayEquals(new long[] {0, 4}, a.shape());
      assertEquals(0, a.elementCount());
      assertEquals(0, a.toFloatArray().length);
    }
  }

  @Test
  void headerOnly() throws IOException {
    NpyHeader h = Npy.header(fixture("f4_3x4_v1.npy"));
    assertEquals(NpyDType.FLOAT32, h.dtype());
    assertArrayEquals(new long[] {3, 4}, h.shape());
    assertEquals(128, h.dataOffset());
    assertEquals(48, h.dataBytes());
  }

  /** Our writer must produce exactly the bytes NumPy writes (format 1.0, header padded to 64). */
  @Test
  void writerMatchesNumpyByteForByte() throws IOException {
    Path out = dir.resolve("out.npy");
    float[] f = new float[12];
    for (int i = 0; i < 12; i++) {
      f[i] = i * 0.5f - 1;
    }
    Npy.write(out, f, 3, 4);
    assertArrayEquals(Files.readAllBytes(fixture("f4_3x4_v1.npy")), Files.readAllBytes(out));
    Npy.write(out, new byte[] {0, 40, 80, 120, (byte) 160, (byte) 200}, 2, 3);
    assertArrayEquals(Files.readAllBytes(fixture("u1_2x3_v1.npy")), Files.readAllBytes(out));
    Npy.write(out, new long[] {-1, 0, 1, 1L << 40, -(1L << 62)});
    assertArrayEquals(Files.readAllBytes(fixture("i8_5_v1.npy")), Files.readAllBytes(out));
    Npy.write(out, new int[] {-7, 0, Integer.MAX_VALUE, Integer.MIN_VALUE}, 2, 2);
    assertArrayEquals(Files.readAllBytes(fixture("i4_2x2_v1.npy")), Files.readAllBytes(out));
    Npy.write(out, NpyDType.FLOAT32, new long[0], MemorySegment.ofArray(new float[] {3.5f}));
    assertArrayEquals(Files.readAllBytes(fixture("f4_scalar_v1.npy")), Files.readAllBytes(out));
    Npy.write(out, new float[0], 0, 4);
    assertArrayEquals(Files.readAllBytes(fixture("f4_0x4_v1.npy")), Files.readAllBytes(out));
  }

  @Test
  void roundTripsEveryDtype() throws IOException {
    Random rnd = new Random(7);
    Path p = dir.resolve("rt.npy");
    for (int n : new int[] {0, 1, 13, 207, 70_001}) {
      byte[] b = new byte[n];
      rnd.nextBytes(b);
      Npy.write(p, b);
      try (NpyArray a = Npy.read(p, NpyDType.UINT8)) {
        assertArrayEquals(b, a.toByteArray(), "n=" + n);
      }
      int[] ints = rnd.ints(n).toArray();
      Npy.write(p, ints);
      try (NpyArray a = Npy.read(p, NpyDType.INT32)) {
        assertArrayEquals(ints, a.toIntArray(), "n=" + n);
      }
      long[] longs = rnd.longs(n).toArray();
      Npy.write(p, longs);
      try (NpyArray a = Npy.read(p, NpyDType.INT64)) {
        assertArrayEquals(longs, a.toLongArray(), "n=" + n);
      }
      float[] floats = new float[n];
      for (int i = 0; i < n; i++) {
        floats[i] = (float) rnd.nextGaussian();
      }
      Npy.write(p, floats, 1, n);
      try (NpyArray a = Npy.read(p, NpyDType.FLOAT32)) {
        assertArrayEquals(new long[] {1, n}, a.shape());
        assertArrayEquals(floats, a.toFloatArray(), "n=" + n);
      }
    }
  }

  @Test
  void writesFromOffHeapSegments() throws IOException {
    Path p = dir.resolve("seg.npy");
    try (var arena = java.lang.foreign.Arena.ofConfined()) {
      MemorySegment s = arena.allocate(3 * 5 * 4);
      for (int i = 0; i < 15; i++) {
        s.setAtIndex(java.lang.foreign.ValueLayout.JAVA_FLOAT, i, i);
      }
      Npy.write(p, NpyDType.FLOAT32, new long[] {3, 5}, s);
    }
    try (NpyArray a = Npy.read(p)) {
      assertEquals(14f, a.toFloatArray()[14]);
    }
  }

  @Test
  void wrongDtypeSaysHowToConvert() throws IOException {
    Path f8 = fixture("f8_2_v1.npy");
    NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read(f8, NpyDType.FLOAT32));
    assertEquals("f8_2_v1.npy: expected float32 ('<f4'), got '<f8': convert with arr.astype(np.float32)",
        e.getMessage());
    e = assertThrows(NpyFormatException.class, () -> Npy.read(f8));
    assertTrue(e.getMessage().contains("dtype '<f8' is not supported"), e.getMessage());
    Path u1 = fixture("u1_4_v3.npy");
    e = assertThrows(NpyFormatException.class, () -> Npy.read(u1, NpyDType.INT64));
    assertTrue(e.getMessage().contains("expected int64 ('<i8'), got '|u1'"), e.getMessage());
  }

  @Test
  void rejectsBigEndianFortranStructuredAndNpz() throws IOException {
    assertMessage(fixture("f4_bigendian_2_v1.npy"), "dtype '>f4' is not supported", "newbyteorder('<')");
    assertMessage(fixture("f4_fortran_2x3_v1.npy"), "Fortran-ordered", "np.ascontiguousarray");
    assertMessage(fixture("structured_v1.npy"), "structured dtypes");
    assertMessage(fixture("two.npz"), "zip archive (.npz)");
  }

  @Test
  void truncatedDataIsReported() throws IOException {
    byte[] full = Files.readAllBytes(fixture("f4_3x4_v1.npy"));
    Path p = dir.resolve("cut.npy");
    Files.write(p, Arrays.copyOf(full, full.length - 1));
    assertMessage(p, "cut.npy: truncated: shape [3, 4] of float32 ('<f4') needs 48 bytes of data, the file has 47");
    for (int cut : new int[] {0, 3, 6, 9, 11, 60, 127}) {
      Files.write(p, Arrays.copyOf(full, cut));
      NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read(p), "cut at " + cut);
      assertTrue(e.getMessage().startsWith("cut.npy: "), e.getMessage());
      assertTrue(e.getMessage().contains(cut < 6 ? "not a .npy file" : "truncated"), e.getMessage());
    }
  }

  @Test
  void badMagicAndVersion() throws IOException {
    Path p = dir.resolve("bad.npy");
    Files.writeString(p, "just some text that is long enough to hold a header");
    assertMessage(p, "not a .npy file");
    byte[] full = Files.readAllBytes(fixture("u1_2x3_v1.npy"));
    full[6] = 4;
    Files.write(p, full);
    assertMessage(p, "unsupported .npy format version 4.0");
  }

  @Test
  void malformedHeaders() throws IOException {
    assertMessage(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) "), "malformed header");
    assertMessage(npy("['descr', '<f4']"), "not a dict");
    assertMessage(npy("{'descr': '<f4', 'shape': (2,), }"), "header keys must be exactly");
    assertMessage(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}"), "header keys");
    assertMessage(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }"), "non-negative");
    assertMessage(npy("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }"), "must be a tuple");
    assertMessage(npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }"), "True or False");
    assertMessage(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
        "too large");
    assertMessage(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }"),
        "not a valid 64-bit integer");
  }

  /** A hostile header nested 3,000 levels deep: one clear error, no StackOverflowError. */
  @Test
  void deeplyNestedHeadersAreRefused() throws IOException {
    String deep = "[".repeat(3000) + "]".repeat(3000);
    assertMessage(npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + deep + ", }"), "nested deeper than 32");
    // 32 levels are still parsed (and then refused for what they are, not for their depth)
    String ok = "(".repeat(31) + "2," + ")".repeat(31);
    NpyFormatException e = assertThrows(NpyFormatException.class,
        () -> Npy.read(npy("{'descr': '<f4', 'fortran_order': False, 'shape': " + ok + ", }"), NpyDType.FLOAT32));
    assertTrue(!e.getMessage().contains("nested deeper"), e.getMessage());
  }

  @Test
  void acceptsOldPythonLongsAndDoubleQuotes() throws IOException {
    Path p = npy("{\"descr\": \"<i4\", \"fortran_order\": False, \"shape\": (2L, 1L)}", 1, 2);
    try (NpyArray a = Npy.read(p, NpyDType.INT32)) {
      assertArrayEquals(new long[] {2, 1}, a.shape());
      assertArrayEquals(new int[] {1, 2}, a.toIntArray());
    }
  }

  @Test
  void writeValidatesArguments() {
    Path p = dir.resolve("x.npy");
    assertThrows(IllegalArgumentException.class, () -> Npy.write(p, new float[5], 2, 3));
    assertThrows(IllegalArgumentException.class,
        () -> Npy.write(p, NpyDType.INT64, new long[] {4}, MemorySegment.ofArray(new long[3])));
    IOException e = assertThrows(IOException.class, () -> Npy.write(dir.resolve("missing/x.npy"), new float[1]));
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
  }

  @Test
  void writeReplacesAtomicallyAndLeavesNoTemporaryFiles() throws IOException {
    Path p = dir.resolve("a.npy");
    Npy.write(p, new float[] {1, 2});
    Npy.write(p, new float[] {3, 4, 5});
    try (NpyArray a = Npy.read(p)) {
      assertArrayEquals(new float[] {3, 4, 5}, a.toFloatArray());
    }
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(List.of(p), s.toList());
    }
  }

  @Test
  void closedArrayCannotBeRead() throws IOException {
    NpyArray a = Npy.read(fixture("f4_3x4_v1.npy"));
    a.close();
    a.close();
    assertThrows(IllegalStateException.class, a::toFloatArray);
  }

  /** A version 1.0 file with this header text and int32 data. */
  private Path npy(String dict, int... data) throws IOException {
    byte[] text = (dict + "\n").getBytes(StandardCharsets.ISO_8859_1);
    ByteBuffer b = ByteBuffer.allocate(10 + text.length + 4 * data.length).order(ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) text.length).put(text);
    for (int v : data) {
      b.putInt(v);
    }
    Path p = dir.resolve("h" + Math.abs(dict.hashCode()) + ".npy");
    Files.write(p, b.array());
    return p;
  }

  private static void assertMessage(Path p, String... parts) {
    NpyFormatException e = assertThrows(NpyFormatException.class, () -> Npy.read(p));
    assertTrue(e.getMessage().startsWith(p.getFileName() + ": "), e.getMessage());
    for (String part : parts) {
      assertTrue(e.getMessage().contains(part), "'" + part + "' not in: " + e.getMessage());
    }
    assertEquals(p, e.file());
  }
}
