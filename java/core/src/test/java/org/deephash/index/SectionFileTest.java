package org.deephash.index;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.deephash.index.SectionFileWriter.Planned;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The container on its own, with a made-up schema: layout, lazy verification, compatibility rules, atomic writes. */
class SectionFileTest {
  private static final SectionFile.Schema SCHEMA = new SectionFile.Schema(FileKind.CODE_TABLE, 7,
      Set.of("small", "big", "empty"));

  @TempDir Path dir;

  /** Bytes that cross the writer's 1 MiB buffer several times, written in mixed pieces. */
  private static byte[] big() {
    byte[] b = new byte[3 * (1 << 20) + 13];
    new SplittableRandom(5).nextBytes(b);
    return b;
  }

  private static void writeSample(Path file, int extraFlags) throws IOException {
    byte[] big = big();
    List<Planned> plan = List.of(new Planned("small", SectionFile.REQUIRED), new Planned("big", 0),
        new Planned("empty", 0), new Planned("later.v2", extraFlags));
    SectionFileWriter.write(file, FileKind.CODE_TABLE, 7, 3, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, plan, out -> {
      out.begin("small");
      out.putInt(42);
      out.putLong(-1L);
      out.putFloat(1.5f);
      out.end();
      out.begin("big");
      out.put(MemorySegment.ofArray(big), 0, 0);
      out.put(MemorySegment.ofArray(big), 0, 1000);
      for (int i = 1000; i < 1100; i++) {
        out.put(new byte[] {big[i]});
      }
      out.put(MemorySegment.ofArray(big), 1100, big.length - 1100);
      out.end();
      out.begin("empty");
      out.end();
      out.begin("later.v2");
      out.put(new byte[] {9, 9, 9});
      out.end();
    });
  }

  @Test
  void sectionsRoundTripAlignedAndPadded() throws IOException {
    Path file = dir.resolve("f.bin");
    writeSample(file, 0);
    byte[] raw = Files.readAllBytes(file);
    try (SectionFile f = SectionFile.open(file, SCHEMA, true)) {
      assertEquals(FileKind.CODE_TABLE, f.kind());
      assertEquals(7, f.majorVersion());
      assertEquals(3, f.minorVersion());
      assertEquals(raw.length, f.fileBytes());
      assertEquals(8, f.fields().capacity());
      assertEquals(0x0807060504030201L, f.fields().getLong(0));
      assertEquals(List.of("small", "big", "empty", "later.v2"), f.sections().stream().map(SectionFile.Section::name)
          .toList());
      assertEquals(List.of(true, true, true, false), f.sections().stream().map(SectionFile.Section::known).toList());
      MemorySegment small = f.section("small");
      assertEquals(16, small.byteSize());
      assertEquals(42, small.get(JAVA_INT_UNALIGNED, 0));
      assertArrayEquals(big(), f.section("big").toArray(JAVA_BYTE));
      assertEquals(0, f.section("empty").byteSize());
      long previousEnd = 0;
      for (SectionFile.Section s : f.sections()) {
        assertEquals(0, s.offset() % 64, s.name() + " is 64-byte aligned");
        assertTrue(s.offset() >= previousEnd + 64 || previousEnd == 0, s.name());
        for (long p = s.offset() + s.length(); p < s.offset() + s.length() + 64; p++) {
          assertEquals(0, raw[(int) p], "padding after " + s.name());
        }
        CRC32C crc = new CRC32C();
        crc.update(raw, (int) s.offset(), (int) s.length());
        assertEquals((int) crc.getValue(), s.crc(), s.name());
        previousEnd = s.offset() + s.length();
      }
      assertEquals(16 + 64, f.padded("small").byteSize());
      assertFalse(f.has("nope"));
      assertThrows(IllegalArgumentException.class, () -> f.section("nope"));
    }
  }

  /** A damaged section is refused, naming it, only when it is asked for; the others stay usable. */
  @Test
  void checksumsAreVerifiedPerSectionOnFirstUse() throws IOException {
    Path file = dir.resolve("f.bin");
    writeSample(file, 0);
    long bigOffset;
    try (SectionFile f = SectionFile.open(file, SCHEMA, true)) {
      bigOffset = f.find("big").offset();
    }
    byte[] raw = Files.readAllBytes(file);
    raw[(int) bigOffset + 2_000_000] ^= 1;
    Files.write(file, raw);
    try (SectionFile f = SectionFile.open(file, SCHEMA, true)) {
      assertEquals(42, f.section("small").get(JAVA_INT_UNALIGNED, 0));
      for (int attempt = 0; attempt < 2; attempt++) {
        IndexFormatException e = assertThrows(IndexFormatException.class, () -> f.section("big"));
        assertEquals("big", e.section());
        assertTrue(e.getMessage().startsWith("f.bin: section 'big' checksum mismatch (stored 0x"), e.getMessage());
        assertTrue(e.getMessage().endsWith("the file is corrupt; rebuild it"), e.getMessage());
      }
      SectionFile.Section big = f.find("big");
      assertTrue(f.crc(big) != big.crc());
    }
    try (SectionFile f = SectionFile.open(file, SCHEMA, false)) {
      assertEquals(raw[(int) bigOffset + 2_000_000], f.section("big").get(JAVA_BYTE, 2_000_000)); // trusted as it is
    }
  }

  @Test
  void unknownRequiredSectionsRefuseTheFileAndOptionalOnesAreSkipped() throws IOException {
    Path file = dir.resolve("f.bin");
    writeSample(file, SectionFile.REQUIRED);
    IndexFormatException e = assertThrows(IndexFormatException.class, () -> SectionFile.open(file, SCHEMA, true));
    assertTrue(e.getMessage().contains("section 'later.v2' is required to read this file (format version 7.3)"),
        e.getMessage());
    SectionFile.Schema knowing = new SectionFile.Schema(FileKind.CODE_TABLE, 7, Set.of("small", "big", "later.v2"));
    try (SectionFile f = SectionFile.open(file, knowing, true)) {
      assertArrayEquals(new byte[] {9, 9, 9}, f.section("later.v2").toArray(JAVA_BYTE));
      assertFalse(f.find("empty").known());
    }
  }

  @Test
  void otherKindsAndMajorVersionsAreRefused() throws IOException {
    Path file = dir.resolve("f.bin");
    writeSample(file, 0);
    IndexFormatException e = assertThrows(IndexFormatException.class,
        () -> SectionFile.open(file, new SectionFile.Schema(FileKind.IVF_PQ, 7, Set.of()), true));
    assertTrue(e.getMessage().startsWith("f.bin is a code-table index, not an IVF-PQ index of DELF local"
        + " descriptors: open it with IndexFile.open"), e.getMessage());
    e = assertThrows(IndexFormatException.class,
        () -> SectionFile.open(file, new SectionFile.Schema(FileKind.CODE_TABLE, 8, Set.of()), true));
    assertTrue(e.getMessage().contains("format version 7.3 is not supported (this build reads versions 1 to 8)"),
        e.getMessage());
    byte[] raw = Files.readAllBytes(file);
    raw[8] = 'Q';
    Files.write(file, raw);
    e = assertThrows(IndexFormatException.class, () -> SectionFile.open(file, SCHEMA, true));
    assertTrue(e.getMessage().contains("unknown file kind 'QTAB'"), e.getMessage());
  }

  @Test
  void aFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws IOException {
    Path file = dir.resolve("f.bin");
    writeSample(file, 0);
    byte[] before = Files.readAllBytes(file);
    List<Planned> plan = List.of(new Planned("small", 0), new Planned("big", 0));
    IOException io = assertThrows(IOException.class, () -> SectionFileWriter.write(file, FileKind.CODE_TABLE, 7, 0,
        new byte[0], plan, out -> {
          out.begin("small");
          out.put(new byte[5000]);
          out.end();
          out.channel().truncate(10);
          throw new IOException("disk full (injected)");
        }));
    assertEquals("disk full (injected)", io.getMessage());
    // Misuse by a format's writer is a bug: an IllegalStateException, and nothing replaces the file.
    IllegalStateException order = assertThrows(IllegalStateException.class, () -> SectionFileWriter.write(file,
        FileKind.CODE_TABLE, 7, 0, new byte[0], plan, out -> out.begin("big")));
    assertTrue(order.getMessage().contains("not the next planned one ('small')"), order.getMessage());
    IllegalStateException missing = assertThrows(IllegalStateException.class, () -> SectionFileWriter.write(file,
        FileKind.CODE_TABLE, 7, 0, new byte[0], plan, out -> {
          out.begin("small");
          out.end();
        }));
    assertTrue(missing.getMessage().contains("wrote 1 of 2 planned sections"), missing.getMessage());
    assertThrows(IllegalStateException.class, () -> SectionFileWriter.write(file, FileKind.CODE_TABLE, 7, 0,
        new byte[0], plan, out -> out.putInt(1)));
    assertArrayEquals(before, Files.readAllBytes(file));
    try (Stream<Path> s = Files.list(dir)) {
      assertEquals(List.of(file), s.toList(), "no temporary file is left");
    }
  }

  @Test
  void writerValidatesItsPlan() {
    Path file = dir.resolve("f.bin");
    for (String bad : new String[] {"", "Codes", "a b", "seventeen-chars-x", "caf\u00e9"}) {
      assertThrows(IllegalArgumentException.class, () -> SectionFileWriter.write(file, FileKind.CODE_TABLE, 1, 0,
          new byte[0], List.of(new Planned(bad, 0)), out -> { }), bad);
    }
    assertThrows(IllegalArgumentException.class, () -> SectionFileWriter.write(file, FileKind.CODE_TABLE, 1, 0,
        new byte[0], List.of(new Planned("a", 0), new Planned("a", 0)), out -> { }));
    assertThrows(IllegalArgumentException.class, () -> SectionFileWriter.write(file, FileKind.CODE_TABLE, 1, 0,
        new byte[4], List.of(), out -> { }));
    assertThrows(IllegalArgumentException.class, () -> SectionFileWriter.write(file, FileKind.CODE_TABLE, 0, 0,
        new byte[0], List.of(), out -> { }));
    assertThrows(IllegalArgumentException.class, () -> SectionFileWriter.write(file, FileKind.CODE_TABLE, 1, 0,
        new byte[0], List.of(new Planned("a", 2)), out -> { }));
    assertFalse(Files.exists(file));
  }

  /** The header's fixed fields lie where docs/INDEX_FORMAT.md says. */
  @Test
  void fixedHeaderLayout() throws IOException {
    Path file = dir.resolve("f.bin");
    writeSample(file, 0);
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    assertEquals(0x0a1a0a0d46484489L, b.getLong(0));
    assertEquals('C' | 'T' << 8 | 'A' << 16 | 'B' << 24, b.getInt(8));
    assertEquals(7, b.getShort(12));
    assertEquals(3, b.getShort(14));
    assertEquals(64 + 8 + 48 * 4 + 4, b.getInt(16));
    assertEquals(8, b.getInt(20));
    assertEquals(4, b.getInt(24));
    assertEquals(b.capacity(), b.getLong(32));
    assertEquals(0x0807060504030201L, b.getLong(64));
  }
}
