package org.deephash.index;

import static org.deephash.index.IndexFormatException.corruptHeader;
import static org.deephash.index.IndexFormatException.header;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.deephash.CodeTable;
import org.deephash.io.Hex;

/**
 * The index file layout (docs/INDEX_FORMAT.md is its specification; keep the two in sync) and the
 * header parser, which validates every field before anything else touches the file.
 */
final class Format {
  private Format() {}

  /** "\x89DHX\r\n\x1a\n": a non-ASCII first byte and CR/LF/EOF bytes catch text-mode mangling. */
  static final byte[] MAGIC = {(byte) 0x89, 'D', 'H', 'X', '\r', '\n', 0x1A, '\n'};
  static final int VERSION = 1;
  static final int FIXED_HEADER = 64;
  static final int ENTRY = 24;
  static final int ALIGN = 64;
  /** Zero bytes after every section, so kernels may read a whole word past the end (CodeTable.PADDING). */
  static final int PAD = 64;

  // Offsets of the fixed header fields.
  static final int OFF_VERSION = 8;
  static final int OFF_HEADER_BYTES = 12;
  static final int OFF_BITS = 16;
  static final int OFF_DIM = 20;
  static final int OFF_ROWS = 24;
  static final int OFF_FLAGS = 32;
  static final int OFF_SECTION_COUNT = 36;
  static final int OFF_FILE_BYTES = 40;
  static final int OFF_DELETED = 48;
  static final int OFF_RESERVED = 56;

  static final int FLAG_FEATURES = 1;
  static final int FLAG_LABELS = 2;
  static final int FLAG_TOMBSTONES = 4;
  static final int FLAG_PATHS = 8;
  static final int KNOWN_FLAGS = FLAG_FEATURES | FLAG_LABELS | FLAG_TOMBSTONES | FLAG_PATHS;

  static final int MAX_DIM = 65536;

  /** Section kinds, in the order the writer puts them in the file. */
  enum Kind {
    CODES(1, "codes", 0),
    IDS(2, "ids", 0),
    FEATURES(3, "features", FLAG_FEATURES),
    LABELS(4, "labels", FLAG_LABELS),
    TOMBSTONES(5, "tombstones", FLAG_TOMBSTONES),
    PATHS(6, "paths", FLAG_PATHS);

    final int code;
    final String label;
    /** The header flag announcing this section; 0 for the sections every file has. */
    final int flag;

    Kind(int code, String label, int flag) {
      this.code = code;
      this.label = label;
      this.flag = flag;
    }

    static Kind of(int code) {
      for (Kind k : values()) {
        if (k.code == code) {
          return k;
        }
      }
      return null;
    }

    boolean presentWith(int flags) {
      return flag == 0 || (flags & flag) != 0;
    }
  }

  record Section(Kind kind, int crc, long offset, long length) {}

  record Header(
      int headerBytes, int headerCrc, int bits, int dim, int rows, int flags, long fileBytes, long deletedRows,
      List<Section> sections) {

    int codeBytes() {
      return bits / 8;
    }

    Section section(Kind k) {
      for (Section s : sections) {
        if (s.kind == k) {
          return s;
        }
      }
      return null;
    }
  }

  static int headerBytes(int sectionCount) {
    return FIXED_HEADER + ENTRY * sectionCount + 4;
  }

  static long align(long n) {
    return (n + ALIGN - 1) & -ALIGN;
  }

  static long tombstoneBytes(long rows) {
    return ((rows + 63) >>> 6) * 8;
  }

  /** The exact length a fixed-size section must have; -1 for paths (variable). */
  static long expectedLength(Kind k, int bits, int dim, long rows) {
    return switch (k) {
      case CODES -> rows * (bits / 8);
      case IDS -> rows * 8;
      case FEATURES -> rows * dim * 4;
      case LABELS -> rows * 4;
      case TOMBSTONES -> tombstoneBytes(rows);
      case PATHS -> -1;
    };
  }

  /**
   * Reads and validates the header: magic, version, checksum, every field and the section table
   * against the file's real length. Nothing is mapped or read beyond the header.
   */
  static Header read(Path file, FileChannel ch) throws IOException {
    long size = ch.size();
    if (size < MAGIC.length) {
      throw header(file, "the file is " + size + " bytes long, too short to be a deephash index: rebuild it");
    }
    ByteBuffer fixed = readAt(ch, 0, (int) Math.min(FIXED_HEADER, size));
    for (int i = 0; i < MAGIC.length; i++) {
      if (fixed.get(i) != MAGIC[i]) {
        throw header(file, "not a deephash index file (wrong magic bytes " + Hex.bytes(fixed, MAGIC.length)
            + "); pass an index written by 'deephash import' or IndexFile.save");
      }
    }
    if (size < FIXED_HEADER) {
      throw header(file, "truncated: the file is " + size + " bytes long, the header alone needs " + FIXED_HEADER
          + "; rebuild the index");
    }
    int version = fixed.getInt(OFF_VERSION);
    if (version != VERSION) {
      throw IndexFormatException.unsupportedVersion(file, version, VERSION);
    }
    int count = fixed.getInt(OFF_SECTION_COUNT);
    int headerBytes = fixed.getInt(OFF_HEADER_BYTES);
    if (count < 2 || count > Kind.values().length) {
      throw corruptHeader(file, "section count " + Integer.toUnsignedString(count) + " is not in [2, "
          + Kind.values().length + "]");
    }
    if (headerBytes != headerBytes(count)) {
      throw corruptHeader(file, "header length " + Integer.toUnsignedString(headerBytes) + " does not match "
          + count + " sections (expected " + headerBytes(count) + ")");
    }
    if (size < headerBytes) {
      throw header(file, "truncated: the file is " + size + " bytes long, the header needs " + headerBytes
          + "; rebuild the index");
    }
    ByteBuffer h = readAt(ch, 0, headerBytes);
    IndexFormatException.verifyHeaderChecksum(file, h, headerBytes);
    long fileBytes = h.getLong(OFF_FILE_BYTES);
    if (fileBytes != size) {
      throw header(file, size < fileBytes
          ? "truncated: the header says the file is " + fileBytes + " bytes long, it is " + size
              + " (an interrupted copy?); copy or rebuild the index"
          : "the file is " + size + " bytes long, " + (size - fileBytes) + " more than the header says ("
              + fileBytes + "); something appended to it: copy or rebuild the index");
    }
    int bits = h.getInt(OFF_BITS);
    if (bits < 8 || bits > CodeTable.MAX_BITS || bits % 8 != 0) {
      throw corruptHeader(file, "code width " + Integer.toUnsignedString(bits) + " bits is not a multiple of 8 in"
          + " [8, " + CodeTable.MAX_BITS + "]");
    }
    int dim = h.getInt(OFF_DIM);
    if (dim < 0 || dim > MAX_DIM) {
      throw corruptHeader(file, "feature dimension " + Integer.toUnsignedString(dim) + " is not in [0, " + MAX_DIM
          + "]");
    }
    long rows = h.getLong(OFF_ROWS);
    if (rows < 0 || rows > CodeTable.MAX_ROWS) {
      throw corruptHeader(file, "row count " + Long.toUnsignedString(rows) + " is not in [0, " + CodeTable.MAX_ROWS
          + "]");
    }
    int flags = h.getInt(OFF_FLAGS);
    if ((flags & ~KNOWN_FLAGS) != 0) {
      throw corruptHeader(file, "unknown flags " + Hex.word(flags));
    }
    if (((flags & FLAG_FEATURES) != 0) != (dim > 0)) {
      throw corruptHeader(file, "the features flag " + ((flags & FLAG_FEATURES) != 0 ? "is set" : "is clear")
          + " but the feature dimension is " + dim);
    }
    long deleted = h.getLong(OFF_DELETED);
    if (deleted < 0 || deleted > rows || (deleted > 0 && (flags & FLAG_TOMBSTONES) == 0)) {
      throw corruptHeader(file, "deleted row count " + Long.toUnsignedString(deleted) + " does not fit " + rows
          + " rows" + ((flags & FLAG_TOMBSTONES) == 0 ? " without a tombstones section" : ""));
    }
    if (h.getLong(OFF_RESERVED) != 0) {
      throw corruptHeader(file, "reserved bytes 56-63 are not zero");
    }
    List<Section> sections = new ArrayList<>(count);
    long previousEnd = align(headerBytes);
    int expectedCount = 0;
    for (Kind k : Kind.values()) {
      if (k.presentWith(flags)) {
        expectedCount++;
      }
    }
    if (count != expectedCount) {
      throw corruptHeader(file, "the flags announce " + expectedCount + " sections, the section table has " + count);
    }
    for (int i = 0; i < count; i++) {
      int at = FIXED_HEADER + ENTRY * i;
      int code = h.getInt(at);
      Kind k = Kind.of(code);
      if (k == null) {
        throw corruptHeader(file, "section table entry " + i + " has unknown kind " + Integer.toUnsignedString(code));
      }
      if (!k.presentWith(flags)) {
        throw corruptHeader(file, "section '" + k.label + "' is present but its header flag is clear");
      }
      for (Section s : sections) {
        if (s.kind == k) {
          throw corruptHeader(file, "section '" + k.label + "' appears twice in the section table");
        }
      }
      long offset = h.getLong(at + 8);
      long length = h.getLong(at + 16);
      String where = "section '" + k.label + "' (offset " + Long.toUnsignedString(offset) + ", length "
          + Long.toUnsignedString(length) + ")";
      if (offset < previousEnd || offset % ALIGN != 0) {
        throw corruptHeader(file, where + " must start at a multiple of " + ALIGN + " at or after byte " + previousEnd
            + " (after the header and the previous section's padding)");
      }
      if (length < 0 || length > size || offset > size - length || size - (offset + length) < PAD) {
        throw new IndexFormatException(file, k.label, where + " does not fit in the file of " + size
            + " bytes with its " + PAD + " bytes of padding: the file is corrupt; rebuild it");
      }
      long expected = expectedLength(k, bits, dim, rows);
      if (expected >= 0 && length != expected) {
        throw new IndexFormatException(file, k.label, where + " should be " + expected + " bytes long for " + rows
            + " rows (B=" + bits + ", d=" + dim + "): the file is corrupt; rebuild it");
      }
      if (k == Kind.PATHS && length < 8 * (rows + 1)) {
        throw new IndexFormatException(file, k.label, where + " is shorter than its offset table (" + 8 * (rows + 1)
            + " bytes): the file is corrupt; rebuild it");
      }
      sections.add(new Section(k, h.getInt(at + 4), offset, length));
      previousEnd = offset + length + PAD;
    }
    return new Header(headerBytes, h.getInt(headerBytes - 4), bits, dim, (int) rows, flags, fileBytes, deleted, List.copyOf(sections));
  }

  private static ByteBuffer readAt(FileChannel ch, long position, int n) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    long pos = position;
    while (b.hasRemaining()) {
      int r = ch.read(b, pos);
      if (r < 0) {
        break;
      }
      pos += r;
    }
    return b;
  }


}
