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

  @Test
  void headerFieldsLieAtDocumentedOffsets() throws IOException {
    Path file = dir.resolve("i.ivfpq");
    index.save(file);
    ByteBuffer h = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    byte[] magic = new byte[8];
    h.get(0, magic);
    assertArrayEquals(new byte[] {(byte) 0x89, 'D', 'H', 'Q', '\r', '\n', 0x1A, '\n'}, magic);
    assertEquals(1, h.getInt(8), "version");
    assertEquals(244, h.getInt(12), "header length");
    assertEquals(D, h.getInt(16));
    assertEquals(10, h.getInt(20), "m");
    assertEquals(5, h.getInt(24), "nbits");
    assertEquals(12, h.getInt(28), "nlist");
    assertEquals(N, h.getLong(32), "entries");
    assertEquals(Files.size(file), h.getLong(40), "file length");
    assertEquals(3L, h.getLong(48), "seed");
    assertEquals(10, h.getInt(56), "kmeansIters");
    assertEquals(1000, h.getInt(60), "trainSample");
    assertEquals(7, h.getInt(64), "section count");
    long[] lengths = {12L * D * 4, 10L * 32 * 4 * 4, 13L * 8, N * 4L, N * 7L, N * 4L, N * 8L};
    long offset = 244;
    for (int i = 0; i < 7; i++) {
      int at = 72 + 24 * i;
      assertEquals(i + 1, h.getInt(at), "kind of section " + i);
      assertEquals(offset, h.getLong(at + 8), "offset of section " + i);
      assertEquals(lengths[i], h.getLong(at + 16), "length of section " + i);
      CRC32C crc = new CRC32C();
      crc.update(h.array(), (int) offset, (int) lengths[i]);
      assertEquals((int) crc.getValue(), h.getInt(at + 4), "checksum of section " + i);
      offset += lengths[i];
    }
    assertEquals(Files.size(file), offset, "sections are back to back up to the end");
    CRC32C crc = new CRC32C();
    crc.update(h.array(), 0, 240);
    assertEquals((int) crc.getValue(), h.getInt(240), "header checksum");
    // Section 'images' holds image ids by entry number; 'xy' the keypoints.
    long images = 244 + lengths[0] + lengths[1] + lengths[2] + lengths[3] + lengths[4];
    assertEquals(IvfPqIndexTest.imageIds(0, N)[41], h.getInt((int) images + 4 * 41));
    assertEquals(20.5f, h.getFloat((int) (images + lengths[5]) + 8 * 41));
    assertEquals(-41.25f, h.getFloat((int) (images + lengths[5]) + 8 * 41 + 4));
  }

  private Path saved() throws IOException {
    Path file = dir.resolve("index.ivfpq");
    index.save(file);
    return file;
  }

  private static IndexFormatException assertBroken(Path file, String section, String... fragments) {
    IndexFormatException e = assertThrows(IndexFormatException.class, () -> IvfPqIndex.load(file));
    assertEquals(section, e.section(), e.getMessage());
    assertTrue(e.getMessage().startsWith(file.getFileName() + ": "), "names the file: " + e.getMessage());
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
      long offset = h.getLong(72 + 24 * i + 8);
      long length = h.getLong(72 + 24 * i + 16);
      for (long at : new long[] {offset, offset + length / 2, offset + length - 1}) {
        byte[] bad = good.clone();
        bad[(int) at] ^= 0x10;
        Files.write(file, bad);
        assertBroken(file, names.get(i), "section '" + names.get(i) + "' checksum mismatch", "rebuild");
      }
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {13, 16, 32, 64, 100, 239})
  void aFlippedHeaderByteIsAHeaderChecksumMismatch(int at) throws IOException {
    Path file = saved();
    byte[] bad = Files.readAllBytes(file);
    bad[at] ^= 0x01;
    Files.write(file, bad);
    assertBroken(file, "header", "header checksum mismatch", "the file is corrupt; rebuild the index");
  }

  @Test
  void truncatedFilesAreReportedAsTruncated() throws IOException {
    Path file = saved();
    byte[] good = Files.readAllBytes(file);
    for (int len : new int[] {0, 5}) {
      Files.write(file, Arrays.copyOf(good, len));
      assertBroken(file, "header", "too short to be an IVF-PQ index");
    }
    for (int len : new int[] {10, 100, 243, 244, 245, 5000, good.length - 1}) {
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
    assertBroken(file, "header", "not an IVF-PQ index file (wrong magic bytes 8944485a0d0a1a0a)",
        "IvfPqIndex.save");
    bad = good.clone();
    bad[3] = 'X';
    Files.write(file, bad);
    assertBroken(file, "header", "deephash code-table index", "IndexFile.open");
    Files.writeString(file, "descriptors,x,y\n1,2,3\n");
    assertBroken(file, "header", "wrong magic bytes");
    bad = good.clone();
    bad[8] = 2;
    Files.write(file, bad);
    assertBroken(file, "header", "format version 2 is not supported (this build reads version 1)",
        "use a newer deephash");
    Arrays.fill(bad, 8, 12, (byte) 0xff);
    Files.write(file, bad);
    assertBroken(file, "header", "format version 4294967295 is not supported", "the header is corrupt");
  }

  /** A header field changed and the header checksum recomputed: the fields themselves are checked. */
  @Test
  void fieldsThatDoNotAddUpAreRejectedEvenWithAValidChecksum() throws IOException {
    Path file = saved();
    byte[] good = Files.readAllBytes(file);
    assertBroken(write(file, good, 24, 9), "header", "nbits must be in [1, 8] (passed 9)", "corrupt");
    assertBroken(write(file, good, 20, 7), "header", "d = 40 is not divisible by m = 7", "corrupt");
    assertBroken(write(file, good, 32, N + 1), "header", "section table entry 3", "should be kind 4");
    assertBroken(write(file, good, 68, 1), "header", "reserved bytes 68-71 are not zero");
    assertBroken(write(file, good, 64, 6), "header", "section count 6 should be 244 and 7");
  }

  private static Path write(Path file, byte[] good, int at, int value) throws IOException {
    ByteBuffer b = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN);
    b.putInt(at, value);
    if (at == 32) {
      b.putInt(36, 0);
    }
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, 240);
    b.putInt(240, (int) crc.getValue());
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
