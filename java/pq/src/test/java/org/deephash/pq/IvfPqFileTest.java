package org.deephash.pq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.deephash.index.IndexFormatException;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IvfPqFileTest {
  private static final int D = 40;
  private static final int N = 1500;

  @TempDir Path dir;
  private IvfPqIndex index;
  private float[] queries;

  @BeforeEach
  void build() {
    float[] x = IvfPqIndexTest.clustered(8, N, D, 10);
    index = IvfPqIndex.train(x, N, D, new IvfPqIndex.Params(12, 10, 5, 10, 3L, 1000), 1);
    index.add(x, N, IvfPqIndexTest.imageIds(0, N), IvfPqIndexTest.xy(0, N));
    queries = IvfPqIndexTest.clustered(9, 20, D, 10);
  }

  static void assertSameResults(IvfPqResult a, IvfPqResult b) {
    assertEquals(a.queryCount(), b.queryCount());
    for (int q = 0; q < a.queryCount(); q++) {
      assertEquals(a.hits(q), b.hits(q), "query " + q);
    }
  }

  @Test
  void roundTripGivesIdenticalSearchResults() throws IOException {
    Path file = dir.resolve("delf.ivfpq");
    index.save(file);
    IvfPqIndex loaded = IvfPqIndex.load(file);
    assertEquals(index.params(), loaded.params());
    assertEquals(index.size(), loaded.size());
    assertEquals(index.dim(), loaded.dim());
    assertArrayEquals(index.coarseCentroids(), loaded.coarseCentroids());
    assertArrayEquals(index.productQuantizer().centroids(), loaded.productQuantizer().centroids());
    for (int l = 0; l < index.nlist(); l++) {
      assertEquals(index.listSize(l), loaded.listSize(l));
    }
    for (int nprobe : new int[] {1, 4, 12}) {
      assertSameResults(index.search(queries, 20, 30, nprobe), loaded.search(queries, 20, 30, nprobe));
    }
    // Adding to a loaded index continues the entry numbering, as on the original.
    float[] more = IvfPqIndexTest.clustered(10, 50, D, 10);
    assertEquals(N, index.add(more, 50, IvfPqIndexTest.imageIds(N, 50), IvfPqIndexTest.xy(N, 50)));
    assertEquals(N, loaded.add(more, 50, IvfPqIndexTest.imageIds(N, 50), IvfPqIndexTest.xy(N, 50)));
    assertSameResults(index.search(queries, 20, 30, 12), loaded.search(queries, 20, 30, 12));
    // Saving the loaded index again writes the same bytes.
    Path a = dir.resolve("a.ivfpq");
    Path b = dir.resolve("b.ivfpq");
    index.save(a);
    loaded.save(b);
    assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
  }

  @Test
  void emptyIndexRoundTrips() throws IOException {
    float[] x = IvfPqIndexTest.clustered(8, 100, 8, 3);
    IvfPqIndex empty = IvfPqIndex.train(x, 100, 8, new IvfPqIndex.Params(3, 2, 3, 5, 1L, 100), 1);
    Path file = dir.resolve("empty.ivfpq");
    empty.save(file);
    IvfPqIndex loaded = IvfPqIndex.load(file);
    assertEquals(0, loaded.size());
    assertEquals(0, loaded.search(Arrays.copyOf(x, 8), 1, 5, 3).count(0));
  }

  /** Version 2: the container's 64-byte header, the 40 bytes of fields from 64, the section table from 104. */
  static final int TABLE = 104;
  static final int HEADER = 64 + 40 + 48 * 7 + 4;

  @Test
  void headerFieldsLieAtDocumentedOffsets() throws IOException {
    Path file = dir.resolve("i.ivfpq");
    index.save(file);
    ByteBuffer h = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    byte[] magic = new byte[8];
    h.get(0, magic);
    assertArrayEquals(new byte[] {(byte) 0x89, 'D', 'H', 'F', '\r', '\n', 0x1A, '\n'}, magic);
    assertEquals("IVPQ", new String(Arrays.copyOfRange(h.array(), 8, 12), java.nio.charset.StandardCharsets.US_ASCII));
    assertEquals(2, h.getShort(12), "major version");
    assertEquals(0, h.getShort(14), "minor version");
    assertEquals(HEADER, h.getInt(16), "header length");
    assertEquals(40, h.getInt(20), "fields length");
    assertEquals(7, h.getInt(24), "section count");
    assertEquals(Files.size(file), h.getLong(32), "file length");
    assertEquals(D, h.getInt(64));
    assertEquals(10, h.getInt(68), "m");
    assertEquals(5, h.getInt(72), "nbits");
    assertEquals(12, h.getInt(76), "nlist");
    assertEquals(N, h.getLong(80), "entries");
    assertEquals(3L, h.getLong(88), "seed");
    assertEquals(10, h.getInt(96), "kmeansIters");
    assertEquals(1000, h.getInt(100), "trainSample");
    long[] lengths = {12L * D * 4, 10L * 32 * 4 * 4, 13L * 8, N * 4L, N * 7L, N * 4L, N * 8L};
    List<String> names = List.of("coarse", "pq", "offsets", "ids", "codes", "images", "xy");
    long offset = 448; // align64(444)
    long[] offsets = new long[7];
    for (int i = 0; i < 7; i++) {
      int at = TABLE + 48 * i;
      assertEquals(names.get(i), new String(Arrays.copyOfRange(h.array(), at, at + names.get(i).length()),
          java.nio.charset.StandardCharsets.US_ASCII));
      assertEquals(0, h.get(at + names.get(i).length()), "name is NUL-padded");
      assertEquals(1, h.getInt(at + 16), "REQUIRED");
      assertEquals(offset, h.getLong(at + 24), "offset of section " + i);
      assertEquals(lengths[i], h.getLong(at + 32), "length of section " + i);
      CRC32C crc = new CRC32C();
      crc.update(h.array(), (int) offset, (int) lengths[i]);
      assertEquals((int) crc.getValue(), h.getInt(at + 20), "checksum of section " + i);
      offsets[i] = offset;
      offset = (offset + lengths[i] + 64 + 63) / 64 * 64;
    }
    assertEquals(Files.size(file), offset, "each section is followed by its padding, up to the end");
    CRC32C crc = new CRC32C();
    crc.update(h.array(), 0, HEADER - 4);
    assertEquals((int) crc.getValue(), h.getInt(HEADER - 4), "header checksum");
    // Section 'images' holds image ids by entry number; 'xy' the keypoints.
    assertEquals(IvfPqIndexTest.imageIds(0, N)[41], h.getInt((int) offsets[5] + 4 * 41));
    assertEquals(20.5f, h.getFloat((int) offsets[6] + 8 * 41));
    assertEquals(-41.25f, h.getFloat((int) offsets[6] + 8 * 41 + 4));
  }

  /**
   * A version-1 file written by the previous release (src/test/resources; the same index built
   * here from the same seeds) still loads, searches the same, and saves as the same version-2 bytes.
   */
  @Test
  void versionOneFilesStillLoad() throws IOException {
    Path v1 = dir.resolve("v1.dhq");
    try (var in = IvfPqFileTest.class.getResourceAsStream("v1-ivfpq.dhq")) {
      Files.write(v1, in.readAllBytes());
    }
    float[] x = IvfPqIndexTest.clustered(8, 150, 8, 5);
    IvfPqIndex fresh = IvfPqIndex.train(x, 150, 8, new IvfPqIndex.Params(4, 4, 3, 5, 3L, 200), 1);
    fresh.add(x, 150, IvfPqIndexTest.imageIds(0, 150), IvfPqIndexTest.xy(0, 150));
    IvfPqIndex old = IvfPqIndex.load(v1);
    assertEquals(fresh.params(), old.params());
    float[] q = IvfPqIndexTest.clustered(9, 10, 8, 5);
    for (int nprobe : new int[] {1, 4}) {
      assertSameResults(fresh.search(q, 10, 7, nprobe), old.search(q, 10, 7, nprobe));
    }
    Path a = dir.resolve("a.dhq");
    Path b = dir.resolve("b.dhq");
    fresh.save(a);
    old.save(b);
    assertArrayEquals(Files.readAllBytes(a), Files.readAllBytes(b));
    byte[] bad = Files.readAllBytes(v1);
    bad[bad.length - 3] ^= 4; // in 'xy', the last section
    Files.write(v1, bad);
    assertBroken(v1, "xy", "section 'xy' checksum mismatch");
  }

  private Path saved() throws IOException {
    Path file = dir.resolve("index.ivfpq");
    index.save(file);
    return file;
  }

  private static IndexFormatException assertBroken(Path file, String section, String... fragments) {
    IndexFormatException e = assertThrows(IndexFormatException.class, () -> IvfPqIndex.load(file));
    assertEquals(section, e.section(), e.getMessage());
    assertTrue(e.getMessage().startsWith(file.getFileName() + (section.equals("header")
        && e.getMessage().contains(" is a ") ? " is a " : ": ")), "names the file: " + e.getMessage());
    for (String f : fragments) {
      assertTrue(e.getMessage().contains(f), "message '" + e.getMessage() + "' lacks '" + f + "'");
    }
    return e;
  }

  @Test
  void aFlippedByteInAnySectionIsACheckSumMismatchOfThatSection() throws IOException {
    Path file = saved();
    byte[] good = Files.readAllBytes(file);
    ByteBuffer h = ByteBuffer.wrap(good).order(ByteOrder.LITTLE_ENDIAN);
    List<String> names = List.of("coarse", "pq", "offsets", "ids", "codes", "images", "xy");
    for (int i = 0; i < 7; i++) {
      long offset = h.getLong(TABLE + 48 * i + 24);
      long length = h.getLong(TABLE + 48 * i + 32);
      for (long at : new long[] {offset, offset + length / 2, offset + length - 1}) {
        byte[] bad = good.clone();
        bad[(int) at] ^= 0x10;
        Files.write(file, bad);
        assertBroken(file, names.get(i), "section '" + names.get(i) + "' checksum mismatch", "rebuild");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {28, 44, 64, 100, 150, 300, HEADER - 2})
  void aFlippedHeaderByteIsAHeaderChecksumMismatch(int at) throws IOException {
    Path file = saved();
    byte[] bad = Files.readAllBytes(file);
    bad[at] ^= 0x01;
    Files.write(file, bad);
    assertBroken(file, "header", "header checksum mismatch", "the file is corrupt; rebuild it");
  }

  @Test
  void truncatedFilesAreReportedAsTruncated() throws IOException {
    Path file = saved();
    byte[] good = Files.readAllBytes(file);
    for (int len : new int[] {0, 5}) {
      Files.write(file, Arrays.copyOf(good, len));
      assertBroken(file, "header", "too short to be an IVF-PQ index");
    }
    for (int len : new int[] {10, 63, 64, 100, HEADER - 1, HEADER, HEADER + 1, 5000, good.length - 1}) {
      Files.write(file, Arrays.copyOf(good, len));
      assertBroken(file, "header", "truncated");
    }
    byte[] longer = Arrays.copyOf(good, good.length + 3);
    Files.write(file, longer);
    assertBroken(file, "header", "3 more than the header says");
  }

  @Test
  void wrongMagicAndWrongVersion() throws IOException {
    Path file = saved();
    byte[] good = Files.readAllBytes(file);
    byte[] bad = good.clone();
    bad[3] = 'Z';
    Files.write(file, bad);
    assertBroken(file, "header", "not a deephash file (wrong magic bytes 8944485a0d0a1a0a)", "IvfPqIndex.save");
    bad = good.clone();
    bad[3] = 'X'; // the version-1 code table's magic
    Files.write(file, bad);
    assertBroken(file, "header", "index.ivfpq is a code-table index, not an IVF-PQ index", "IndexFile.open");
    Files.writeString(file, "descriptors,x,y\n1,2,3\n");
    assertBroken(file, "header", "wrong magic bytes");
    bad = good.clone();
    bad[12] = 3;
    Files.write(file, bad);
    assertBroken(file, "header", "format version 3.0 is not supported (this build reads versions 1 and 2)",
        "use a newer deephash");
    Arrays.fill(bad, 12, 14, (byte) 0xff);
    Files.write(file, bad);
    assertBroken(file, "header", "format version 65535.0 is not supported", "the header is corrupt");
  }

  /** A header field changed and the header checksum recomputed: the fields themselves are checked. */
  @Test
  void fieldsThatDoNotAddUpAreRejectedEvenWithAValidChecksum() throws IOException {
    Path file = saved();
    byte[] good = Files.readAllBytes(file);
    assertBroken(write(file, good, 72, 9), "header", "nbits must be in [1, 8] (passed 9)", "corrupt");
    assertBroken(write(file, good, 68, 7), "header", "d = 40 is not divisible by m = 7", "corrupt");
    assertBroken(write(file, good, 80, N + 1), "header", "section 'ids' is 6000 bytes long", "need 6004");
    assertBroken(write(file, good, 24, 6), "header", "header length " + HEADER + " does not match");
    assertBroken(write(file, good, TABLE + 48 * 6, 'z'), "header", "section 'zy' is required", "newer deephash");
  }

  private static Path write(Path file, byte[] good, int at, int value) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
    if (at >= TABLE) {
      b.put(at, (byte) value);
    } else {
      b.putInt(at, value);
    }
    if (at == 80) {
      b.putInt(84, 0);
    }
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, HEADER - 4);
    b.putInt(HEADER - 4, (int) crc.getValue());
    Files.write(file, b.array());
    return file;
  }

  @Test
  void savingIsAtomicAndLeavesNoTemporaryFiles() throws IOException {
    Path file = saved();
    byte[] first = Files.readAllBytes(file);
    float[] more = IvfPqIndexTest.clustered(11, 10, D, 10);
    index.add(more, 10, IvfPqIndexTest.imageIds(N, 10), IvfPqIndexTest.xy(N, 10));
    index.save(file); // replaces the file
    assertFalse(Arrays.equals(first, Files.readAllBytes(file)));
    assertEquals(N + 10, IvfPqIndex.load(file).size());
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(List.of(file), s.toList(), "only the index remains in the directory");
    }
    IOException e = assertThrows(IOException.class, () -> index.save(dir.resolve("no/such/dir/x.ivfpq")));
    assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> index.save(null));
    assertThrows(IllegalArgumentException.class, () -> IvfPqIndex.load(null));
  }
}
