package org.deephash.index;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.index.IndexFile.SaveOption;
import org.deephash.index.IndexFile.Verify;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IndexFileTest {
  private static final SearchOptions SCALAR = SearchOptions.defaults().withBackend("scalar");

  @TempDir Path dir;

  /** A table of n random rows; ids are unique, unsorted and include extremes. */
  static CodeTable table(long seed, int bits, int dim, boolean labels, int n) {
    SplittableRandom rnd = new SplittableRandom(seed);
    int cb = bits / 8;
    byte[] codes = new byte[n * cb];
    for (int i = 0; i < codes.length; i++) {
      codes[i] = (byte) rnd.nextInt(256);
    }
    if (n > 3) {
      System.arraycopy(codes, 0, codes, 3 * cb, cb); // a duplicate code: ties broken by id
    }
    long[] ids = new long[n];
    for (int i = 0; i < n; i++) {
      ids[i] = (i * 7919L - 3L * n) * (i % 2 == 0 ? 1 : -1);
    }
    if (n > 2) {
      ids[0] = Long.MAX_VALUE;
      ids[1] = Long.MIN_VALUE;
    }
    float[] feats = dim == 0 ? null : new float[n * dim];
    if (feats != null) {
      for (int i = 0; i < feats.length; i++) {
        feats[i] = (float) rnd.nextGaussian();
      }
    }
    int[] labs = labels ? rnd.ints(n, -5, 1000).toArray() : null;
    CodeTable t = CodeTable.create(bits, dim, labels, Math.max(1, n));
    t.addAll(ids, codes, feats, labs);
    return t;
  }

  static List<String> paths(int n) {
    List<String> p = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      p.add(i % 5 == 0 ? "" : "images/" + i + (i % 3 == 0 ? "/caf\u00e9_\u65e5\u672c_\ud83d\ude00.jpg" : ".png"));
    }
    return p;
  }

  /** Row-by-row equality of {@code actual} with the live rows of {@code expected}, in order. */
  static void assertSameLiveRows(CodeTable expected, CodeTable actual) {
    assertEquals(expected.bits(), actual.bits());
    assertEquals(expected.dim(), actual.dim());
    assertEquals(expected.hasLabels(), actual.hasLabels());
    assertEquals(expected.liveCount(), actual.size());
    assertEquals(actual.size(), actual.liveCount());
    int r = 0;
    for (int e = 0; e < expected.size(); e++) {
      if (!expected.isLive(e)) {
        continue;
      }
      assertEquals(expected.id(e), actual.id(r), "id of row " + r);
      assertArrayEquals(expected.code(e), actual.code(r), "code of row " + r);
      if (expected.hasFeatures()) {
        assertArrayEquals(expected.feature(e), actual.feature(r), "feature of row " + r);
      }
      if (expected.hasLabels()) {
        assertEquals(expected.label(e), actual.label(r), "label of row " + r);
      }
      assertTrue(actual.contains(expected.id(e)));
      r++;
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {8, 24, 64, 72, 256, 4096})
  void roundTripsEveryField(int bits) throws IOException {
    Path file = dir.resolve("index.dh");
    try (CodeTable t = table(bits, bits, 12, true, 207)) {
      List<String> paths = paths(207);
      IndexFile.save(t, file, paths);
      try (LoadedIndex loaded = IndexFile.load(file)) {
        assertSameLiveRows(t, loaded.table());
        assertEquals(paths, loaded.paths());
        assertEquals("images/3/caf\u00e9_\u65e5\u672c_\ud83d\ude00.jpg", loaded.path(3));
        assertSearchesAgree(t, loaded.table(), bits);
      }
    }
  }

  @Test
  void tableWithoutFeaturesLabelsOrPaths() throws IOException {
    Path file = dir.resolve("plain.dh");
    try (CodeTable t = table(1, 64, 0, false, 100)) {
      IndexFile.save(t, file);
      try (LoadedIndex loaded = IndexFile.load(file)) {
        assertFalse(loaded.hasPaths());
        assertNull(loaded.paths());
        assertThrows(IllegalStateException.class, () -> loaded.path(0));
        assertSameLiveRows(t, loaded.table());
        assertSearchesAgree(t, loaded.table(), 64);
      }
      IndexInfo info = IndexFile.info(file);
      assertEquals(List.of("codes", "ids"), info.sections().stream().map(IndexInfo.Section::name).toList());
    }
  }

  @Test
  void deletedRowsAreCompactedAwayWithTheirPaths() throws IOException {
    Path file = dir.resolve("index.dh");
    try (CodeTable t = table(2, 128, 8, true, 300)) {
      List<String> paths = paths(300);
      List<String> livePaths = new ArrayList<>();
      for (int r = 0; r < 300; r++) {
        if (r % 3 == 1 || (r > 100 && r < 170) || r == 299) {
          assertTrue(t.delete(t.id(r)));
        } else {
          livePaths.add(paths.get(r));
        }
      }
      IndexFile.save(t, file, paths);
      try (LoadedIndex loaded = IndexFile.load(file)) {
        assertSameLiveRows(t, loaded.table());
        assertEquals(livePaths, loaded.paths());
        assertSearchesAgree(t, loaded.table(), 128);
      }
      IndexInfo info = IndexFile.info(file);
      assertEquals(t.liveCount(), info.rows());
      assertEquals(0, info.deletedRows());
      assertFalse(info.hasTombstones());
    }
  }

  @Test
  void keepDeletedWritesTombstones() throws IOException {
    Path file = dir.resolve("index.dh");
    try (CodeTable t = table(3, 64, 4, false, 130)) {
      for (int r : new int[] {0, 5, 63, 64, 127, 129}) {
        t.delete(t.id(r));
      }
      IndexFile.save(t, file, paths(130), SaveOption.KEEP_DELETED);
      try (LoadedIndex loaded = IndexFile.load(file)) {
        CodeTable l = loaded.table();
        assertEquals(130, l.size());
        assertEquals(124, l.liveCount());
        assertEquals(paths(130), loaded.paths());
        for (int r = 0; r < 130; r++) {
          assertEquals(t.isLive(r), l.isLive(r), "row " + r);
          assertEquals(t.id(r), l.id(r));
          assertArrayEquals(t.code(r), l.code(r));
        }
        assertFalse(l.contains(t.id(5)));
        assertSearchesAgree(t, l, 64);
        // A loaded table still accepts changes; the deletion shows in the next save.
        assertTrue(l.delete(l.id(1)));
        Path again = dir.resolve("again.dh");
        IndexFile.save(l, again);
        try (CodeTable c = IndexFile.open(again)) {
          assertSameLiveRows(l, c);
          assertEquals(123, c.size());
        }
      }
      IndexInfo info = IndexFile.info(file);
      assertTrue(info.hasTombstones());
      assertEquals(6, info.deletedRows());
      assertEquals(124, info.liveRows());
    }
  }

  @Test
  void zeroRowTables() throws IOException {
    Path file = dir.resolve("empty.dh");
    for (int dim : new int[] {0, 16}) {
      try (CodeTable t = CodeTable.create(64, dim, dim > 0)) {
        IndexFile.save(t, file, List.of());
        try (LoadedIndex loaded = IndexFile.load(file)) {
          assertEquals(0, loaded.table().size());
          assertEquals(List.of(), loaded.paths());
          try (GpuHashSearch s = GpuHashSearch.open(loaded.table(), SCALAR)) {
            assertEquals(0, s.query(new byte[8], 5).count(0));
          }
        }
        IndexInfo info = IndexFile.info(file);
        assertTrue(info.ok());
        assertEquals(0, info.rows());
      }
    }
    // Every row deleted compacts to an empty index.
    try (CodeTable t = table(4, 16, 0, false, 5)) {
      for (int r = 0; r < 5; r++) {
        t.delete(t.id(r));
      }
      IndexFile.save(t, file);
      try (CodeTable l = IndexFile.open(file)) {
        assertEquals(0, l.size());
      }
    }
  }

  @Test
  void loadedTableGrowsAndCanBeSavedOverItsOwnFile() throws IOException {
    Path file = dir.resolve("index.dh");
    try (CodeTable t = table(5, 32, 2, true, 50)) {
      IndexFile.save(t, file);
      try (CodeTable l = IndexFile.open(file)) {
        l.add(123_456_789L, new byte[] {1, 2, 3, 4}, new float[] {0.5f, -0.5f}, 9);
        t.add(123_456_789L, new byte[] {1, 2, 3, 4}, new float[] {0.5f, -0.5f}, 9);
        IndexFile.save(l, file); // replaces the file l was mapped from
        assertSameLiveRows(t, l);
      }
      try (CodeTable l = IndexFile.open(file)) {
        assertSameLiveRows(t, l);
      }
    }
  }

  @Test
  void closedTableIsNotReadable() throws IOException {
    Path file = dir.resolve("index.dh");
    try (CodeTable t = table(6, 64, 0, false, 10)) {
      IndexFile.save(t, file);
    }
    CodeTable l = IndexFile.open(file);
    l.close();
    assertThrows(IllegalStateException.class, () -> l.id(0));
    assertThrows(IllegalStateException.class, () -> IndexFile.save(l, dir.resolve("x.dh")));
  }

  @Test
  void infoDescribesTheFile() throws IOException {
    Path file = dir.resolve("index.dh");
    try (CodeTable t = table(7, 48, 3, true, 33)) {
      IndexFile.save(t, file, paths(33));
    }
    IndexInfo info = IndexFile.info(file);
    assertEquals(IndexFile.FORMAT_VERSION, info.formatVersion());
    assertEquals(Files.size(file), info.fileBytes());
    assertEquals(48, info.bits());
    assertEquals(3, info.dim());
    assertEquals(33, info.rows());
    assertTrue(info.hasFeatures() && info.hasLabels() && info.hasPaths() && !info.hasTombstones());
    assertEquals(List.of("codes", "ids", "features", "labels", "paths"),
        info.sections().stream().map(IndexInfo.Section::name).toList());
    assertEquals(64 + 32 + 48 * 5 + 4, info.headerBytes());
    long expectedOffset = 384; // align64(340)
    for (IndexInfo.Section s : info.sections()) {
      assertTrue(s.ok());
      assertEquals(s.storedCrc(), s.computedCrc());
      assertEquals(expectedOffset, s.offset(), s.name());
      expectedOffset = (s.offset() + s.length() + 64 + 63) / 64 * 64;
    }
    assertEquals(expectedOffset, info.fileBytes());
    assertEquals(33 * 6, info.sections().get(0).length());
    assertEquals(33 * 8, info.sections().get(1).length());
    assertEquals(33 * 3 * 4, info.sections().get(2).length());
    assertEquals(33 * 4, info.sections().get(3).length());
  }

  /** The header fields lie where docs/INDEX_FORMAT.md says. */
  @Test
  void headerFieldsLieAtDocumentedOffsets() throws IOException {
    Path file = dir.resolve("index.dh");
    try (CodeTable t = table(8, 40, 7, true, 21)) {
      t.delete(t.id(2));
      IndexFile.save(t, file, paths(21), SaveOption.KEEP_DELETED);
    }
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    byte[] magic = new byte[8];
    b.get(0, magic);
    assertArrayEquals(new byte[] {(byte) 0x89, 'D', 'H', 'F', '\r', '\n', 0x1A, '\n'}, magic);
    assertEquals("CTAB", ascii(b, 8, 4)); // kind
    assertEquals(2, b.getShort(12)); // major version
    assertEquals(1, b.getShort(14)); // minor version (2.1: the optional multi-index sections)
    int sections = b.getInt(24);
    assertEquals(6, sections);
    assertEquals(32, b.getInt(20)); // format fields length
    assertEquals(64 + 32 + 48 * 6 + 4, b.getInt(16)); // header bytes
    assertEquals(b.capacity(), b.getLong(32)); // file bytes
    // The code table's fields, from byte 64.
    assertEquals(40, b.getInt(64)); // bits
    assertEquals(7, b.getInt(68)); // dim
    assertEquals(21, b.getLong(72)); // rows
    assertEquals(1, b.getLong(80)); // deleted rows
    List<String> names = new ArrayList<>();
    long previousEnd = (b.getInt(16) + 63) / 64 * 64;
    for (int i = 0; i < sections; i++) {
      int at = 96 + 48 * i;
      names.add(ascii(b, at, 16));
      long offset = b.getLong(at + 24);
      long length = b.getLong(at + 32);
      assertEquals(previousEnd, offset, "section " + i + " starts right after the previous one's padding");
      CRC32C crc = new CRC32C();
      crc.update(b.array(), (int) offset, (int) length);
      assertEquals((int) crc.getValue(), b.getInt(at + 20));
      assertEquals(names.get(i).equals("paths") ? 0 : 1, b.getInt(at + 16), "REQUIRED flag of " + names.get(i));
      for (long p = offset + length; p < offset + length + 64; p++) {
        assertEquals(0, b.get((int) p), "padding after " + names.get(i));
      }
      previousEnd = (offset + length + 64 + 63) / 64 * 64;
    }
    assertEquals(b.capacity(), previousEnd);
    assertEquals(List.of("codes", "ids", "features", "labels", "tombstones", "paths"), names);
    CRC32C crc = new CRC32C();
    int headerBytes = b.getInt(16);
    crc.update(b.array(), 0, headerBytes - 4);
    assertEquals((int) crc.getValue(), b.getInt(headerBytes - 4));
    // Paths: 22 u64 offsets, then the UTF-8 bytes.
    long pathsOffset = b.getLong(96 + 48 * 5 + 24);
    assertEquals(0, b.getLong((int) pathsOffset));
    assertEquals(0, b.getLong((int) pathsOffset + 8)); // row 0's path is ""
    assertEquals("images/1.png".length(), b.getLong((int) pathsOffset + 16));
    // Codes: row r at r * B/8.
    long codesOffset = b.getLong(96 + 24);
    try (CodeTable t = IndexFile.open(file)) {
      assertEquals(t.code(3)[4], b.get((int) codesOffset + 3 * 5 + 4));
    }
  }

  static String ascii(ByteBuffer b, int at, int n) {
    StringBuilder s = new StringBuilder();
    for (int i = at; i < at + n && b.get(i) != 0; i++) {
      s.append((char) b.get(i));
    }
    return s.toString();
  }

  @Test
  void everyCorruptedSectionIsNamed() throws IOException {
    Path good = dir.resolve("good.dh");
    try (CodeTable t = table(9, 64, 4, true, 70)) {
      t.delete(t.id(3));
      IndexFile.save(t, good, paths(70), SaveOption.KEEP_DELETED);
    }
    IndexInfo info = IndexFile.info(good);
    assertEquals(6, info.sections().size());
    byte[] bytes = Files.readAllBytes(good);
    Path bad = dir.resolve("bad.dh");
    for (IndexInfo.Section s : info.sections()) {
      for (long at : new long[] {s.offset(), s.offset() + s.length() / 2, s.offset() + s.length() - 1}) {
        byte[] copy = bytes.clone();
        copy[(int) at] ^= 0x10;
        Files.write(bad, copy);
        IndexFormatException e = assertThrows(IndexFormatException.class, () -> IndexFile.load(bad),
            s.name() + " byte " + at);
        assertEquals(s.name(), e.section());
        assertTrue(e.getMessage().startsWith("bad.dh: section '" + s.name() + "' checksum mismatch (stored 0x"),
            e.getMessage());
        assertTrue(e.getMessage().endsWith("the file is corrupt; rebuild it"), e.getMessage());
        IndexInfo badInfo = IndexFile.info(bad);
        assertFalse(badInfo.ok());
        for (IndexInfo.Section b : badInfo.sections()) {
          assertEquals(!b.name().equals(s.name()), b.ok(), b.name());
        }
      }
    }
  }

  @Test
  void everyCorruptedHeaderByteIsDetected() throws IOException {
    Path good = dir.resolve("good.dh");
    try (CodeTable t = table(10, 64, 4, true, 70)) {
      IndexFile.save(t, good, paths(70));
    }
    byte[] bytes = Files.readAllBytes(good);
    int headerBytes = IndexFile.info(good).headerBytes();
    Path bad = dir.resolve("bad.dh");
    for (int at = 0; at < headerBytes; at++) {
      for (int bit : new int[] {0x01, 0x80}) {
        byte[] copy = bytes.clone();
        copy[at] ^= (byte) bit;
        Files.write(bad, copy);
        int where = at;
        IndexFormatException e = assertThrows(IndexFormatException.class, () -> IndexFile.open(bad, Verify.HEADER_ONLY),
            "header byte " + at);
        assertEquals("header", e.section(), e.getMessage());
        assertTrue(e.getMessage().startsWith("bad.dh: header: "), e.getMessage());
        String expected = where < 8 ? "not a deephash file" : where < 12 ? "unknown file kind"
            : where < 14 ? "format version" : "";
        assertTrue(e.getMessage().contains(expected), e.getMessage());
        assertThrows(IndexFormatException.class, () -> IndexFile.info(bad));
      }
    }
  }

  @Test
  void truncationAtAnyPointIsDetected() throws IOException {
    Path good = dir.resolve("good.dh");
    try (CodeTable t = table(11, 64, 4, false, 70)) {
      IndexFile.save(t, good, paths(70));
    }
    byte[] bytes = Files.readAllBytes(good);
    IndexInfo info = IndexFile.info(good);
    Path bad = dir.resolve("cut.dh");
    List<Integer> cuts = new ArrayList<>(List.of(0, 1, 7, 8, 12, 63, 64, 100, info.headerBytes() - 1,
        info.headerBytes(), bytes.length - 1));
    for (IndexInfo.Section s : info.sections()) {
      cuts.add((int) s.offset());
      cuts.add((int) (s.offset() + s.length() / 2));
    }
    for (int cut : cuts) {
      Files.write(bad, Arrays.copyOf(bytes, cut));
      for (Verify v : Verify.values()) {
        IndexFormatException e = assertThrows(IndexFormatException.class, () -> IndexFile.open(bad, v),
            "cut at " + cut);
        assertEquals("header", e.section());
        assertTrue(e.getMessage().contains(cut < 8 ? "too short" : "truncated"), e.getMessage());
      }
    }
    byte[] longer = Arrays.copyOf(bytes, bytes.length + 10);
    Files.write(bad, longer);
    IndexFormatException e = assertThrows(IndexFormatException.class, () -> IndexFile.open(bad));
    assertTrue(e.getMessage().contains("10 more than the header says"), e.getMessage());
  }

  @Test
  void wrongMagicAndNewerVersion() throws IOException {
    Path file = dir.resolve("x.dh");
    Files.writeString(file, "PK\u0003\u0004 this is not an index, but it is long enough to have a header.........");
    IndexFormatException e = assertThrows(IndexFormatException.class, () -> IndexFile.open(file));
    assertTrue(e.getMessage().startsWith("x.dh: header: not a deephash file (wrong magic bytes 504b0304"),
        e.getMessage());
    assertTrue(e.getMessage().endsWith("expected a code-table index: write one with `engine-cli import` or"
        + " IndexFile.save"), e.getMessage());

    try (CodeTable t = table(12, 64, 0, false, 3)) {
      IndexFile.save(t, file);
    }
    patchHeader(file, b -> b.putShort(12, (short) 3));
    e = assertThrows(IndexFormatException.class, () -> IndexFile.open(file));
    assertEquals("x.dh: header: format version 3.1 is not supported (this build reads versions 1 and 2): use a newer"
        + " deephash, or rebuild it with this one", e.getMessage());
    patchHeader(file, b -> b.putShort(12, (short) 0xffff));
    e = assertThrows(IndexFormatException.class, () -> IndexFile.open(file));
    assertTrue(e.getMessage().endsWith("the header is corrupt; rebuild it"), e.getMessage());
  }

  /** A later minor version of the same major version opens: it may only add what this reader can skip. */
  @Test
  void newerMinorVersionOpens() throws IOException {
    Path file = dir.resolve("x.dh");
    try (CodeTable t = table(22, 64, 3, true, 30)) {
      IndexFile.save(t, file);
      patchHeader(file, b -> b.putShort(14, (short) 7));
      try (CodeTable l = IndexFile.open(file)) {
        assertSameLiveRows(t, l);
      }
    }
  }

  /** Header fields that pass the checksum (a buggy writer) are still validated before mapping. */
  @Test
  void inconsistentHeaderFieldsAreRejected() throws IOException {
    Path file = dir.resolve("x.dh");
    // Fields from byte 64 (bits, dim, rows, deleted); section table from 96, 48 bytes an entry:
    // name (16), flags, crc, offset, length.
    expectHeaderError(file, b -> b.putInt(64, 12), "header", "code width 12 bits");
    expectHeaderError(file, b -> b.putInt(64, 8192), "header", "code width 8192 bits");
    expectHeaderError(file, b -> b.putInt(64, 0), "header", "code width 0 bits");
    expectHeaderError(file, b -> b.putInt(68, -1), "header", "feature dimension 4294967295");
    expectHeaderError(file, b -> b.putInt(68, 0), "header", "feature dimension is 0 but the file has a 'features'");
    expectHeaderError(file, b -> b.putLong(72, -1), "header", "row count 18446744073709551615");
    expectHeaderError(file, b -> b.putLong(72, 11), "codes", "should be 88 bytes long for 11 rows");
    expectHeaderError(file, b -> b.putLong(80, 1), "header", "deleted row count 1");
    expectHeaderError(file, b -> b.put(96, "Codes".getBytes(StandardCharsets.US_ASCII)), "header", "invalid name");
    expectHeaderError(file, b -> b.put(96, new byte[16]), "header", "empty name");
    expectHeaderError(file, b -> {
      b.put(96, "zzz\0\0".getBytes(StandardCharsets.US_ASCII));
      b.putInt(96 + 16, 0); // optional, so it is skipped: then there is no codes section
    }, "header", "no 'codes' section");
    expectHeaderError(file, b -> b.put(96 + 48, "codes".getBytes(StandardCharsets.US_ASCII)).put(96 + 48 + 5, (byte) 0),
        "header", "'codes' appears twice");
    expectHeaderError(file, b -> b.putLong(96 + 24, 65), "header", "must start at a multiple of 64");
    expectHeaderError(file, b -> b.putLong(96 + 24, 0), "header", "must start at a multiple of 64");
    expectHeaderError(file, b -> b.putLong(96 + 48 + 24, b.getLong(96 + 24)), "header", "at or after byte");
    expectHeaderError(file, b -> b.putLong(96 + 48 * 2 + 24, 1L << 40), "features", "does not fit in the file");
    expectHeaderError(file, b -> b.putLong(96 + 48 * 2 + 32, -64), "features", "does not fit in the file");
    expectHeaderError(file, b -> b.putLong(96 + 32, 8 * 10 + 8), "codes", "should be 80 bytes long");
    expectHeaderError(file, b -> b.putInt(24, 2000), "header", "section count 2000");
    expectHeaderError(file, b -> b.putInt(24, 2), "header", "header length");
    expectHeaderError(file, b -> b.putInt(16, 400), "header", "header length 400");
    expectHeaderError(file, b -> b.putInt(20, 12), "header", "format fields length 12");
  }

  /** An unknown section this build must understand refuses the file; an unknown optional one is skipped. */
  @Test
  void unknownSectionsAreSkippedUnlessRequired() throws IOException {
    Path file = dir.resolve("future.dh");
    try (CodeTable t = table(23, 64, 0, false, 40)) {
      writeWithExtraSection(t, file, 0);
      try (CodeTable l = IndexFile.open(file)) {
        assertSameLiveRows(t, l);
        assertSearchesAgree(t, l, 64);
      }
      IndexInfo info = IndexFile.info(file);
      assertEquals(List.of("codes", "ids", "mih.0"), info.sections().stream().map(IndexInfo.Section::name).toList());
      assertTrue(info.ok());

      writeWithExtraSection(t, file, SectionFile.REQUIRED);
      IndexFormatException e = assertThrows(IndexFormatException.class, () -> IndexFile.open(file));
      assertEquals("future.dh: header: section 'mih.0' is required to read this file (format version 2.1) but this"
          + " deephash does not know it: read it with the newer deephash that wrote it", e.getMessage());
    }
  }

  /** A version-2.1 code table as a later build might write it: an extra section after the known ones. */
  private static void writeWithExtraSection(CodeTable t, Path file, int flags) throws IOException {
    ByteBuffer fields = ByteBuffer.allocate(40).order(ByteOrder.LITTLE_ENDIAN); // 8 bytes more than 2.0 has
    fields.putInt(0, t.bits()).putInt(4, t.dim()).putLong(8, t.size()).putLong(32, 0x5eed);
    byte[] codes = new byte[t.size() * t.codeBytes()];
    long[] ids = new long[t.size()];
    for (int r = 0; r < t.size(); r++) {
      System.arraycopy(t.code(r), 0, codes, r * t.codeBytes(), t.codeBytes());
      ids[r] = t.id(r);
    }
    SectionFileWriter.write(file, FileKind.CODE_TABLE, 2, 1, fields.array(),
        List.of(new SectionFileWriter.Planned("codes", SectionFile.REQUIRED),
            new SectionFileWriter.Planned("ids", SectionFile.REQUIRED),
            new SectionFileWriter.Planned("mih.0", flags)), out -> {
          out.begin("codes");
          out.put(codes);
          out.end();
          out.begin("ids");
          out.put(java.lang.foreign.MemorySegment.ofArray(ids), 0, 8L * ids.length);
          out.end();
          out.begin("mih.0");
          for (int i = 0; i < 1000; i++) {
            out.putInt(i);
          }
          out.end();
        });
  }

  /** The other kind of deephash file, a NumPy array, anything else: each is named, with what to use. */
  @Test
  void filesOfAnotherKindSayWhatTheyAre() throws IOException {
    Path pq = dir.resolve("x.dhx");
    SectionFileWriter.write(pq, FileKind.IVF_PQ, 2, 0, new byte[8], List.of(), out -> { });
    IndexFormatException e = assertThrows(IndexFormatException.class, () -> IndexFile.open(pq));
    assertEquals("x.dhx is an IVF-PQ index of DELF local descriptors, not a code-table index: it is the"
        + " descriptors.dhq of a DELF index folder: query the folder with `engine-cli delf query --index DIR`",
        e.getMessage());
    assertEquals("header", e.section());
    assertThrows(IndexFormatException.class, () -> IndexFile.info(pq));
    // A version-1 IVF-PQ file (its own magic) is recognised too.
    byte[] v1 = new byte[300];
    System.arraycopy(new byte[] {(byte) 0x89, 'D', 'H', 'Q', '\r', '\n', 0x1A, '\n', 1}, 0, v1, 0, 9);
    Files.write(pq, v1);
    e = assertThrows(IndexFormatException.class, () -> IndexFile.open(pq));
    assertTrue(e.getMessage().startsWith("x.dhx is an IVF-PQ index of DELF local descriptors, not a code-table"),
        e.getMessage());
    Path npy = dir.resolve("codes.npy");
    Files.write(npy, new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0});
    e = assertThrows(IndexFormatException.class, () -> IndexFile.open(npy));
    assertEquals("codes.npy: header: this is a NumPy array (.npy), not a code-table index: write one with"
        + " `engine-cli import` or IndexFile.save", e.getMessage());
  }

  private void expectHeaderError(Path file, Consumer<ByteBuffer> patch, String section, String text)
      throws IOException {
    try (CodeTable t = table(13, 64, 2, false, 10)) {
      IndexFile.save(t, file);
    }
    patchHeader(file, patch);
    for (Verify v : Verify.values()) {
      IndexFormatException e = assertThrows(IndexFormatException.class, () -> IndexFile.open(file, v), text);
      assertEquals(section, e.section(), e.getMessage());
      assertTrue(e.getMessage().contains(text), "'" + text + "' not in: " + e.getMessage());
      assertTrue(e.getMessage().contains("rebuild"), e.getMessage());
    }
  }

  /** Applies {@code patch} to the header and recomputes its checksum, as a buggy writer would. */
  static void patchHeader(Path file, Consumer<ByteBuffer> patch) throws IOException {
    byte[] bytes = Files.readAllBytes(file);
    ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    int headerBytes = b.getInt(16);
    patch.accept(b);
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, headerBytes - 4);
    b.putInt(headerBytes - 4, (int) crc.getValue());
    Files.write(file, bytes);
  }

  /** Without checksums (HEADER_ONLY) damaged tombstones and paths are still caught structurally. */
  @Test
  void headerOnlyStillValidatesTombstonesAndPaths() throws IOException {
    Path file = dir.resolve("x.dh");
    try (CodeTable t = table(14, 64, 0, false, 70)) {
      t.delete(t.id(4));
      IndexFile.save(t, file, paths(70), SaveOption.KEEP_DELETED);
    }
    IndexInfo info = IndexFile.info(file);
    byte[] good = Files.readAllBytes(file);
    IndexInfo.Section tomb = info.sections().get(2);
    IndexInfo.Section paths = info.sections().get(3);
    assertEquals("tombstones", tomb.name());

    byte[] bytes = good.clone();
    bytes[(int) tomb.offset() + 15] = (byte) 0x80; // row 127: past the last row
    Files.write(file, bytes);
    IndexFormatException e = assertThrows(IndexFormatException.class, () -> IndexFile.open(file, Verify.HEADER_ONLY));
    assertEquals("tombstones", e.section());
    assertTrue(e.getMessage().contains("past the last row"), e.getMessage());

    bytes = good.clone();
    bytes[(int) tomb.offset()] |= 1; // one more deleted row than the header says
    Files.write(file, bytes);
    e = assertThrows(IndexFormatException.class, () -> IndexFile.open(file, Verify.HEADER_ONLY));
    assertTrue(e.getMessage().contains("marks 2 rows deleted, the header says 1"), e.getMessage());

    bytes = good.clone();
    bytes[(int) paths.offset() + 8 * 5 + 1] = 0x7F; // a huge offset
    Files.write(file, bytes);
    e = assertThrows(IndexFormatException.class, () -> IndexFile.load(file, Verify.HEADER_ONLY));
    assertEquals("paths", e.section());
    assertTrue(e.getMessage().contains("offset 5"), e.getMessage());

    bytes = good.clone();
    int firstNonEmpty = (int) (paths.offset() + 8 * 71);
    bytes[firstNonEmpty] = (byte) 0xFF; // not UTF-8
    Files.write(file, bytes);
    try (LoadedIndex l = IndexFile.load(file, Verify.HEADER_ONLY)) {
      UncheckedIOException u = assertThrows(UncheckedIOException.class, () -> l.path(1));
      assertTrue(u.getCause().getMessage().contains("row 1 is not valid UTF-8"), u.getMessage());
    }
    // The default, FULL, refuses the file outright.
    e = assertThrows(IndexFormatException.class, () -> IndexFile.load(file));
    assertEquals("paths", e.section());
  }

  @Test
  void headerOnlyOpensWithoutReadingSections() throws IOException {
    Path file = dir.resolve("x.dh");
    try (CodeTable t = table(15, 64, 0, false, 20)) {
      IndexFile.save(t, file);
      IndexInfo.Section codes = IndexFile.info(file).sections().get(0);
      byte[] bytes = Files.readAllBytes(file);
      bytes[(int) codes.offset()] ^= 1;
      Files.write(file, bytes);
      assertThrows(IndexFormatException.class, () -> IndexFile.open(file));
      try (CodeTable l = IndexFile.open(file, Verify.HEADER_ONLY)) {
        assertEquals(t.code(0)[0] ^ 1, l.code(0)[0]); // trusted as it is
      }
    }
  }

  /** Checksums are verified per section on first use: opening for search does not read (or check) the paths. */
  @Test
  void openChecksOnlyWhatItMaps() throws IOException {
    Path file = dir.resolve("x.dh");
    try (CodeTable t = table(24, 64, 2, true, 50)) {
      IndexFile.save(t, file, paths(50));
      IndexInfo.Section paths = IndexFile.info(file).sections().get(4);
      assertEquals("paths", paths.name());
      byte[] bytes = Files.readAllBytes(file);
      bytes[(int) (paths.offset() + paths.length() - 1)] ^= 0x20; // a character of the last path
      Files.write(file, bytes);
      try (CodeTable l = IndexFile.open(file)) {
        assertSameLiveRows(t, l);
      }
      IndexFormatException e = assertThrows(IndexFormatException.class, () -> IndexFile.load(file));
      assertEquals("paths", e.section());
      assertTrue(e.getMessage().startsWith("x.dh: section 'paths' checksum mismatch"), e.getMessage());
      assertFalse(IndexFile.info(file).ok());
    }
  }

  /**
   * A version-1 file (written by the previous release, before the container; kept under
   * src/test/resources) still opens with every row, deletion and path, and saving it writes
   * version 2: the conversion docs/INDEX_FORMAT.md describes.
   */
  @Test
  void versionOneFilesStillOpenAndSaveAsVersionTwo() throws IOException {
    Path v1 = dir.resolve("v1.dhx");
    try (var in = IndexFileTest.class.getResourceAsStream("v1-table.dhx")) {
      Files.write(v1, in.readAllBytes());
    }
    try (CodeTable expected = table(21, 40, 3, true, 37)) {
      expected.delete(expected.id(2));
      expected.delete(expected.id(30));
      IndexInfo info = IndexFile.info(v1);
      assertEquals(1, info.formatVersion());
      assertTrue(info.ok());
      assertEquals(List.of("codes", "ids", "features", "labels", "tombstones", "paths"),
          info.sections().stream().map(IndexInfo.Section::name).toList());
      assertEquals(2, info.deletedRows());
      Path v2 = dir.resolve("v2.dhx");
      try (LoadedIndex l = IndexFile.load(v1)) {
        assertEquals(37, l.table().size());
        for (int r = 0; r < 37; r++) {
          assertEquals(expected.isLive(r), l.table().isLive(r), "row " + r);
          assertEquals(expected.id(r), l.table().id(r));
          assertArrayEquals(expected.code(r), l.table().code(r));
          assertArrayEquals(expected.feature(r), l.table().feature(r));
          assertEquals(expected.label(r), l.table().label(r));
        }
        assertEquals(paths(37), l.paths());
        assertSearchesAgree(expected, l.table(), 40);
        IndexFile.save(l.table(), v2, l.paths(), SaveOption.KEEP_DELETED);
      }
      assertEquals(IndexFile.FORMAT_VERSION, IndexFile.info(v2).formatVersion());
      try (LoadedIndex l = IndexFile.load(v2)) {
        assertEquals(35, l.table().liveCount());
        assertSearchesAgree(expected, l.table(), 40);
      }
      // In place: every row, deletion and path kept, now in version 2.
      Path copy = dir.resolve("copy.dhx");
      Files.copy(v1, copy);
      IndexFile.rewrite(copy);
      assertEquals(IndexFile.FORMAT_VERSION, IndexFile.info(copy).formatVersion());
      assertArrayEquals(Files.readAllBytes(v2), Files.readAllBytes(copy));
      // Damage is still caught in a version-1 file, naming the section.
      byte[] bytes = Files.readAllBytes(v1);
      IndexInfo.Section ids = info.sections().get(1);
      bytes[(int) ids.offset() + 3] ^= 1;
      Files.write(v1, bytes);
      IndexFormatException e = assertThrows(IndexFormatException.class, () -> IndexFile.open(v1));
      assertTrue(e.getMessage().startsWith("v1.dhx: section 'ids' checksum mismatch"), e.getMessage());
      bytes[9] = 1; // version 257 under the version-1 magic: damage, the header checksum catches it first
      Files.write(v1, bytes);
      e = assertThrows(IndexFormatException.class, () -> IndexFile.open(v1));
      assertEquals("header", e.section());
    }
  }

  @Test
  void failedSaveKeepsTheOriginalFile() throws IOException {
    Path file = dir.resolve("index.dh");
    try (CodeTable t = table(16, 64, 4, true, 50)) {
      IndexFile.save(t, file, paths(50));
    }
    byte[] original = Files.readAllBytes(file);
    try (CodeTable other = table(17, 128, 0, false, 500)) {
      IOException e = assertThrows(IOException.class,
          () -> IndexFile.write(other, file, null, false, ch -> {
            throw new IOException("disk full (injected)");
          }));
      assertEquals("disk full (injected)", e.getMessage());
      assertThrows(IllegalStateException.class,
          () -> IndexFile.write(other, file, null, false, ch -> {
            throw new IllegalStateException("crash (injected)");
          }));
      // Even the channel's state at the failure point is of no consequence: half a file is never renamed.
      assertThrows(IOException.class, () -> IndexFile.write(other, file, null, false, out -> {
        out.channel().truncate(100);
        throw new IOException("power cut (injected)");
      }));
    }
    assertArrayEquals(original, Files.readAllBytes(file));
    assertOnlyFiles(file);
    try (LoadedIndex l = IndexFile.load(file)) {
      assertEquals(50, l.table().size());
    }
  }

  @Test
  void saveOverADirectoryFailsCleanly() throws IOException {
    Path target = dir.resolve("taken");
    Files.createDirectory(target);
    Files.writeString(target.resolve("keep.txt"), "x");
    try (CodeTable t = table(18, 64, 0, false, 5)) {
      assertThrows(IOException.class, () -> IndexFile.save(t, target));
      IOException e = assertThrows(IOException.class, () -> IndexFile.save(t, dir.resolve("no/such/dir/i.dh")));
      assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }
    assertTrue(Files.isDirectory(target));
    assertOnlyFiles(target);
  }

  @Test
  void saveValidatesArguments() {
    Path file = dir.resolve("x.dh");
    try (CodeTable t = table(19, 64, 0, false, 5)) {
      IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
          () -> IndexFile.save(t, file, paths(4)));
      assertTrue(e.getMessage().contains("table.size() = 5"), e.getMessage());
      List<String> withNull = new ArrayList<>(paths(5));
      withNull.set(2, null);
      assertThrows(IllegalArgumentException.class, () -> IndexFile.save(t, file, withNull));
      assertThrows(IllegalArgumentException.class, () -> IndexFile.save(t, file, (List<String>) null));
      assertThrows(IllegalArgumentException.class, () -> IndexFile.save(null, file));
    }
    assertFalse(Files.exists(file));
  }

  private void assertOnlyFiles(Path... expected) throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(Arrays.stream(expected).sorted().toList(), s.sorted().toList(), "stray temporary files");
    }
  }

  /** Every search the engine offers returns the same on the saved-and-loaded table. */
  static void assertSearchesAgree(CodeTable expected, CodeTable actual, int bits) {
    SplittableRandom rnd = new SplittableRandom(bits * 31L);
    int cb = bits / 8;
    int q = 7;
    byte[] queries = new byte[q * cb];
    for (int i = 0; i < queries.length; i++) {
      queries[i] = (byte) rnd.nextInt(256);
    }
    if (actual.size() > 0) {
      System.arraycopy(actual.code(0), 0, queries, 0, cb); // distance 0, a tie with the duplicate
    }
    try (GpuHashSearch a = GpuHashSearch.open(expected, SCALAR); GpuHashSearch b = GpuHashSearch.open(actual, SCALAR)) {
      for (int k : new int[] {1, 10, 1000}) {
        assertSameResult(a.query(queries, k), b.query(queries, k));
      }
      assertSameResult(a.radius(queries, bits / 2, 50), b.radius(queries, bits / 2, 50));
      if (expected.hasFeatures()) {
        float[] qf = new float[q * expected.dim()];
        for (int i = 0; i < qf.length; i++) {
          qf[i] = (float) rnd.nextGaussian();
        }
        assertSameResult(a.coarseToFine(queries, qf, Pool.topM(40), 5), b.coarseToFine(queries, qf, Pool.topM(40), 5));
        assertSameResult(a.exhaustive(qf, 9), b.exhaustive(qf, 9));
      }
    }
  }

  private static void assertSameResult(SearchResult x, SearchResult y) {
    assertEquals(x.queryCount(), y.queryCount());
    for (int i = 0; i < x.queryCount(); i++) {
      assertArrayEquals(x.ids(i), y.ids(i), "ids of query " + i);
      if (x.hasHamming()) {
        assertArrayEquals(x.hammings(i), y.hammings(i));
      }
      if (x.hasDistances()) {
        assertArrayEquals(x.distances(i), y.distances(i));
      }
      assertEquals(x.truncated(i), y.truncated(i));
    }
  }
}
