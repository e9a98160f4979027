package org.deephash.index;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Set;
import java.util.zip.CRC32C;
import org.deephash.io.Hex;

/**
 * The one container every deephash file uses (as Lucene's {@code CodecUtil} is for its files): a
 * header with the magic bytes, the {@link FileKind}, a major and minor format version, the
 * format's own fixed fields, a table of named sections (offset, length and CRC32C each) and the
 * header's CRC32C; then the sections, each starting at a multiple of 64 bytes and followed by at
 * least 64 zero bytes. docs/INDEX_FORMAT.md is the specification; keep the two in sync.
 *
 * <p>A format declares only its schema ({@link Schema}: kind, major version, the sections it
 * knows) and reads its fields and sections from here; {@link SectionFileWriter} writes them. This
 * class validates everything the container defines before anything is mapped, then maps the file
 * read-only and hands out sections as slices of the mapping, without copying.
 *
 * <p><b>Checksums are verified lazily, per section</b>: the first time a section is asked for,
 * before its slice is returned, its CRC32C is computed over the mapping (once; later requests
 * reuse the result). A reader therefore pays for exactly the sections it uses: a code table opened
 * for searching does not read its paths, and optional sections a newer writer added are never
 * read by an older reader. No byte reaches a caller unverified (unless it opened with {@code
 * verify = false}), and a damaged section is refused with the file's and the section's name.
 *
 * <p><b>Compatibility</b>: a reader accepts its own major version with any minor version. Minor
 * versions may only add optional sections (flag {@link #REQUIRED} clear), which readers that do
 * not know them skip, and trailing format fields, which they ignore. A section a reader must
 * understand is marked {@link #REQUIRED}; an unknown required section refuses the file. The
 * version-1 files written before this container existed (their own magic per kind) are read
 * through the same interface (see {@link FileKind}).
 *
 * <pre>{@code
 * Schema schema = new Schema(FileKind.CODE_TABLE, 2, Set.of("codes", "ids"));
 * try (SectionFile f = SectionFile.open(path, schema, true)) {
 *   int bits = f.fields().getInt(0);
 *   MemorySegment codes = f.section("codes"); // verified on this first access
 * }
 * }</pre>
 */
public final class SectionFile implements org.deephash.CodeTable.Mapping {
  /** "\x89DHF\r\n\x1a\n": as PNG's, a non-ASCII first byte and CR/LF/EOF catch text-mode mangling. */
  static final byte[] MAGIC = {(byte) 0x89, 'D', 'H', 'F', '\r', '\n', 0x1A, '\n'};
  static final byte[] NPY_MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  /** Sections start at multiples of this (cache line, AVX-512 width). */
  public static final int ALIGN = 64;
  /** Zero bytes after every section, so kernels may read a whole word past the end. */
  public static final int PAD = 64;
  /** Section flag: a reader that does not know this section must refuse the file. */
  public static final int REQUIRED = 1;

  static final int FIXED_HEADER = 64;
  static final int ENTRY = 48;
  static final int NAME_BYTES = 16;
  static final int MAX_SECTIONS = 1024;
  static final int MAX_FIELDS = 1 << 16;
  // Offsets in the fixed header.
  static final int OFF_KIND = 8;
  static final int OFF_MAJOR = 12;
  static final int OFF_MINOR = 14;
  static final int OFF_HEADER_BYTES = 16;
  static final int OFF_FIELDS_BYTES = 20;
  static final int OFF_SECTION_COUNT = 24;
  static final int OFF_FILE_BYTES = 32;

  /**
   * What a format reads: its kind, the major version it writes (and reads with any minor
   * version), and the names of the sections it knows (others are skipped when optional).
   */
  public record Schema(FileKind kind, int major, Set<String> sections) {
    public Schema {
      sections = Set.copyOf(sections);
    }
  }

  /**
   * One entry of the section table.
   *
   * @param name the section's name (ASCII letters, digits, '.', '_', '-'; at most 16)
   * @param flags {@link #REQUIRED} or 0
   * @param crc the CRC32C recorded for its {@code length} bytes
   * @param offset where it starts in the file
   * @param length bytes of data, padding excluded
   * @param known whether the schema it was opened with knows it (unknown ones are optional)
   */
  public record Section(String name, int flags, int crc, long offset, long length, boolean known) {
    public boolean required() {
      return (flags & REQUIRED) != 0;
    }
  }

  /** A validated header, before mapping: what {@link #open} and the version-1 reader both produce. */
  record Header(FileKind kind, int major, int minor, int headerBytes, int headerCrc, long fileBytes,
      ByteBuffer fields, List<Section> sections) {}

  private final Path file;
  private final Header header;
  private final boolean verify;
  private final boolean[] verified;
  private final Arena arena;
  private final MemorySegment map;
  /** Kept open: its size is the mapped file's, whatever the path names later. */
  private final FileChannel channel;
  private final Object fileKey;
  private final java.nio.file.attribute.FileTime modified;

  private SectionFile(Path file, Header header, boolean verify, Arena arena, MemorySegment map, FileChannel channel,
      java.nio.file.attribute.BasicFileAttributes attributes) {
    this.channel = channel;
    this.fileKey = attributes.fileKey();
    this.modified = attributes.lastModifiedTime();
    this.file = file;
    this.header = header;
    this.verify = verify;
    this.verified = new boolean[header.sections().size()];
    this.arena = arena;
    this.map = map;
  }

  /**
   * Opens {@code file} as a file of {@code schema}'s kind and maps it read-only. Every container
   * field is checked first (magic, kind, version, header checksum, file length, section table);
   * a file of another kind is refused with what it is and what reads it.
   *
   * @param verify whether {@link #section} checks each section's CRC32C on first access
   * @throws IndexFormatException when the file is not a valid file of this kind
   */
  public static SectionFile open(Path file, Schema schema, boolean verify) throws IOException {
    if (file == null || schema == null) {
      throw new IllegalArgumentException("file and schema must not be null");
    }
    requireLittleEndian();
    org.deephash.io.InputFiles.requireRegular(file, schema.kind().description() + " file ("
        + schema.kind().howToMake() + ")");
    FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
    try {
      java.nio.file.attribute.BasicFileAttributes attributes = java.nio.file.Files.readAttributes(file,
          java.nio.file.attribute.BasicFileAttributes.class);
      Header h = HeaderReader.read(file, ch, schema);
      Arena arena = Arena.ofShared();
      try {
        MemorySegment map = ch.map(MapMode.READ_ONLY, 0, h.fileBytes(), arena);
        return new SectionFile(file, h, verify, arena, map, ch, attributes);
      } catch (IOException | RuntimeException e) {
        arena.close();
        throw e;
      }
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  /**
   * Null while the mapped file is as it was opened; else what happened to it. A file replaced by
   * renaming another over its path is fine (the mapping keeps the old one); a file shortened or
   * rewritten in place (cp over it) is not: reading the mapping past its new end would crash the
   * process (SIGBUS), and its old bytes are gone.
   */
  @Override
  public String changedOnDisk() {
    try {
      long size = channel.size();
      if (size < header.fileBytes()) {
        return file + " shrank from " + header.fileBytes() + " to " + size + " bytes while open (overwritten in place)";
      }
      java.nio.file.attribute.BasicFileAttributes now = java.nio.file.Files.readAttributes(file,
          java.nio.file.attribute.BasicFileAttributes.class);
      if (fileKey != null && fileKey.equals(now.fileKey()) && !modified.equals(now.lastModifiedTime())) {
        return file + " was modified in place while open";
      }
      return null;
    } catch (java.nio.file.NoSuchFileException e) {
      return null; // deleted or being replaced: the mapping keeps the file it opened
    } catch (IOException e) {
      return file + " cannot be checked: " + e.getMessage();
    }
  }

  static int headerBytes(int fieldsBytes, int sectionCount) {
    return FIXED_HEADER + fieldsBytes + ENTRY * sectionCount + 4;
  }

  static long align(long n) {
    return (n + ALIGN - 1) & -ALIGN;
  }

  static void requireLittleEndian() {
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      // Sections are mapped as they lie in the file, and the engine reads them in native order.
      throw new UnsupportedOperationException("deephash files are little-endian; this platform is big-endian");
    }
  }

  // ---------------------------------------------------------------- the opened file

  public Path file() {
    return file;
  }

  public FileKind kind() {
    return header.kind();
  }

  public int majorVersion() {
    return header.major();
  }

  public int minorVersion() {
    return header.minor();
  }

  /** The format's own header fields (little-endian, read-only, position 0), covered by the header checksum. */
  public ByteBuffer fields() {
    return header.fields().duplicate().order(ByteOrder.LITTLE_ENDIAN);
  }

  public long fileBytes() {
    return header.fileBytes();
  }

  /** Bytes of the header: fixed part, fields, section table and header checksum. */
  public int headerBytes() {
    return header.headerBytes();
  }

  public int headerCrc() {
    return header.headerCrc();
  }

  /** Every section of the file in file order, unknown optional ones included. */
  public List<Section> sections() {
    return header.sections();
  }

  /** The entry of the named section, or null when the file has none. */
  public Section find(String name) {
    for (Section s : header.sections()) {
      if (s.name().equals(name)) {
        return s;
      }
    }
    return null;
  }

  public boolean has(String name) {
    return find(name) != null;
  }

  /**
   * The named section's bytes (padding excluded) as a read-only slice of the mapping, its
   * checksum verified on the first request.
   *
   * @throws IndexFormatException when its checksum does not match
   * @throws IllegalArgumentException when the file has no such section (check {@link #has})
   */
  public MemorySegment section(String name) throws IndexFormatException {
    Section s = verified(name);
    return map.asSlice(s.offset(), s.length());
  }

  /**
   * The named section followed by its {@value #PAD} bytes of padding, for kernels that read a
   * whole word past the last element; verified as {@link #section} is.
   */
  public MemorySegment padded(String name) throws IndexFormatException {
    Section s = verified(name);
    if (s.offset() + s.length() + PAD > header.fileBytes()) {
      // Only a version-1 IVF-PQ file has unpadded sections, and it never asks for padding.
      throw new IndexFormatException(file, name, "section '" + name + "' has no " + PAD + " bytes of padding: the"
          + " file is corrupt; rebuild it");
    }
    return map.asSlice(s.offset(), s.length() + PAD);
  }

  private synchronized Section verified(String name) throws IndexFormatException {
    List<Section> all = header.sections();
    for (int i = 0; i < all.size(); i++) {
      Section s = all.get(i);
      if (s.name().equals(name)) {
        if (verify && !verified[i]) {
          int computed = crc(s);
          if (computed != s.crc()) {
            throw new IndexFormatException(file, name, "section '" + name + "' checksum mismatch (stored "
                + Hex.word(s.crc()) + ", computed " + Hex.word(computed) + "): the file is corrupt; rebuild it");
          }
          verified[i] = true;
        }
        return s;
      }
    }
    throw new IllegalArgumentException(file + " has no section '" + name + "'");
  }

  /** The CRC32C of a section's bytes as they are in the file now (reads the whole section). */
  public int crc(Section s) {
    CRC32C crc = new CRC32C();
    long chunk = 1L << 28; // a ByteBuffer addresses at most 2 GiB
    for (long done = 0; done < s.length(); done += chunk) {
      long n = Math.min(chunk, s.length() - done);
      crc.update(map.asSlice(s.offset() + done, n).asByteBuffer());
    }
    return (int) crc.getValue();
  }

  /** Unmaps the file: every slice handed out becomes unusable. Idempotent. */
  @Override
  public void close() {
    try {
      channel.close();
    } catch (IOException e) {
      // closing a read-only channel: nothing was written that could be lost
    }
    if (arena.scope().isAlive()) {
      arena.close();
    }
  }

  @Override
  public String toString() {
    return "SectionFile[" + file + ", " + header.kind().tag() + " " + header.major() + "." + header.minor() + ", "
        + header.sections().size() + " sections]";
  }
}
