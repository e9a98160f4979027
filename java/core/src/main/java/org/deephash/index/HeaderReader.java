package org.deephash.index;

import static org.deephash.index.IndexFormatException.corruptHeader;
import static org.deephash.index.IndexFormatException.header;
import static org.deephash.index.SectionFile.ALIGN;
import static org.deephash.index.SectionFile.ENTRY;
import static org.deephash.index.SectionFile.FIXED_HEADER;
import static org.deephash.index.SectionFile.MAGIC;
import static org.deephash.index.SectionFile.MAX_FIELDS;
import static org.deephash.index.SectionFile.MAX_SECTIONS;
import static org.deephash.index.SectionFile.NAME_BYTES;
import static org.deephash.index.SectionFile.NPY_MAGIC;
import static org.deephash.index.SectionFile.OFF_FIELDS_BYTES;
import static org.deephash.index.SectionFile.OFF_FILE_BYTES;
import static org.deephash.index.SectionFile.OFF_HEADER_BYTES;
import static org.deephash.index.SectionFile.OFF_KIND;
import static org.deephash.index.SectionFile.OFF_MAJOR;
import static org.deephash.index.SectionFile.OFF_MINOR;
import static org.deephash.index.SectionFile.OFF_SECTION_COUNT;
import static org.deephash.index.SectionFile.PAD;
import static org.deephash.index.SectionFile.REQUIRED;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.deephash.io.Hex;

/**
 * Reads and validates a container header (docs/INDEX_FORMAT.md, part 1) before anything is
 * mapped: the magic (dispatching a version-1 file to {@link LegacyV1} and naming a file of another
 * kind), the kind, the major version, the lengths, the header checksum, the file length and every
 * section table entry. Nothing after the header is read.
 */
final class HeaderReader {
  private HeaderReader() {}

  static SectionFile.Header read(Path file, FileChannel ch, SectionFile.Schema schema) throws IOException {
    FileKind expected = schema.kind();
    long size = ch.size();
    ByteBuffer fixed = readAt(ch, 0, (int) Math.min(FIXED_HEADER, size));
    if (size < MAGIC.length) {
      throw header(file, "the file is " + size + " bytes long, too short to be " + expected.description()
          + ": rebuild it");
    }
    if (!startsWith(fixed, MAGIC)) {
      for (FileKind k : FileKind.values()) {
        if (startsWith(fixed, k.v1Magic())) {
          requireKind(file, k, expected);
          return LegacyV1.read(file, ch, k);
        }
      }
      if (startsWith(fixed, NPY_MAGIC)) {
        throw header(file, "this is a NumPy array (.npy), not " + expected.description() + ": "
            + expected.howToMake());
      }
      throw header(file, "not a deephash file (wrong magic bytes " + Hex.bytes(fixed, MAGIC.length) + "); expected "
          + expected.description() + ": " + expected.howToMake());
    }
    if (size < FIXED_HEADER) {
      throw header(file, "truncated: the file is " + size + " bytes long, the header alone needs " + FIXED_HEADER
          + "; rebuild it");
    }
    int tag = fixed.getInt(OFF_KIND);
    FileKind kind = FileKind.ofTag(tag);
    if (kind == null) {
      throw header(file, "unknown file kind '" + printable(fixed, OFF_KIND, 4) + "' (a file of a newer deephash, or"
          + " a corrupt header); expected " + expected.description() + " ('" + expected.tag() + "')");
    }
    requireKind(file, kind, expected);
    int major = Short.toUnsignedInt(fixed.getShort(OFF_MAJOR));
    int minor = Short.toUnsignedInt(fixed.getShort(OFF_MINOR));
    if (major != schema.major()) {
      throw IndexFormatException.unsupportedVersion(file, major + "." + minor, major, schema.major());
    }
    int headerBytes = fixed.getInt(OFF_HEADER_BYTES);
    int fieldsBytes = fixed.getInt(OFF_FIELDS_BYTES);
    int count = fixed.getInt(OFF_SECTION_COUNT);
    if (fieldsBytes < 0 || fieldsBytes > MAX_FIELDS || fieldsBytes % 8 != 0) {
      throw corruptHeader(file, "format fields length " + Integer.toUnsignedString(fieldsBytes) + " is not a multiple"
          + " of 8 in [0, " + MAX_FIELDS + "]");
    }
    if (count < 0 || count > MAX_SECTIONS) {
      throw corruptHeader(file, "section count " + Integer.toUnsignedString(count) + " is not in [0, " + MAX_SECTIONS
          + "]");
    }
    int expectedHeader = SectionFile.headerBytes(fieldsBytes, count);
    if (headerBytes != expectedHeader) {
      throw corruptHeader(file, "header length " + Integer.toUnsignedString(headerBytes) + " does not match "
          + fieldsBytes + " bytes of fields and " + count + " sections (expected " + expectedHeader + ")");
    }
    if (size < headerBytes) {
      throw header(file, "truncated: the file is " + size + " bytes long, the header needs " + headerBytes
          + "; rebuild it");
    }
    ByteBuffer h = readAt(ch, 0, headerBytes);
    int headerCrc = verifyHeaderCrc(file, h, headerBytes);
    long fileBytes = h.getLong(OFF_FILE_BYTES);
    checkFileLength(file, fileBytes, size);
    List<SectionFile.Section> sections = new ArrayList<>(count);
    long previousEnd = SectionFile.align(headerBytes);
    for (int i = 0; i < count; i++) {
      int at = FIXED_HEADER + fieldsBytes + ENTRY * i;
      String name = name(file, h, at, i);
      for (SectionFile.Section s : sections) {
        if (s.name().equals(name)) {
          throw corruptHeader(file, "section '" + name + "' appears twice in the section table");
        }
      }
      int flags = h.getInt(at + 16);
      long offset = h.getLong(at + 24);
      long length = h.getLong(at + 32);
      String where = "section '" + name + "' (offset " + Long.toUnsignedString(offset) + ", length "
          + Long.toUnsignedString(length) + ")";
      if (offset < previousEnd || offset % ALIGN != 0) {
        throw corruptHeader(file, where + " must start at a multiple of " + ALIGN + " at or after byte "
            + previousEnd + " (after the header and the previous section's padding)");
      }
      if (length < 0 || length > size || offset > size - length || size - (offset + length) < PAD) {
        throw new IndexFormatException(file, name, where + " does not fit in the file of " + size
            + " bytes with its " + PAD + " bytes of padding: the file is corrupt; rebuild it");
      }
      boolean known = schema.sections().contains(name);
      if (!known && (flags & REQUIRED) != 0) {
        throw header(file, "section '" + name + "' is required to read this file (format version " + major + "."
            + minor + ") but this deephash does not know it: read it with the newer deephash that wrote it");
      }
      sections.add(new SectionFile.Section(name, flags, h.getInt(at + 20), offset, length, known));
      previousEnd = SectionFile.align(offset + length + PAD);
    }
    ByteBuffer fields = h.slice(FIXED_HEADER, fieldsBytes).asReadOnlyBuffer();
    return new SectionFile.Header(kind, major, minor, headerBytes, headerCrc, fileBytes, fields, List.copyOf(sections));
  }

  private static void requireKind(Path file, FileKind actual, FileKind expected) throws IndexFormatException {
    if (actual != expected) {
      throw IndexFormatException.wrongKind(file, actual.description(), expected.description(), actual.howToOpen());
    }
  }

  private static String name(Path file, ByteBuffer h, int at, int entry) throws IndexFormatException {
    StringBuilder b = new StringBuilder();
    boolean ended = false;
    for (int i = 0; i < NAME_BYTES; i++) {
      int c = h.get(at + i) & 0xff;
      if (c == 0) {
        ended = true;
      } else if (ended || !nameChar(c)) {
        throw corruptHeader(file, "section table entry " + entry + " has an invalid name '"
            + printable(h, at, NAME_BYTES) + "'");
      } else {
        b.append((char) c);
      }
    }
    if (b.isEmpty()) {
      throw corruptHeader(file, "section table entry " + entry + " has an empty name");
    }
    return b.toString();
  }

  static boolean nameChar(int c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
  }

  /** Checks the CRC32C in a header's last 4 bytes against the bytes before them; returns it. */
  static int verifyHeaderCrc(Path file, ByteBuffer h, int headerBytes) throws IndexFormatException {
    int stored = h.getInt(headerBytes - 4);
    CRC32C crc = new CRC32C();
    crc.update(h.array(), 0, headerBytes - 4);
    int computed = (int) crc.getValue();
    if (stored != computed) {
      throw corruptHeader(file, "header checksum mismatch (stored " + Hex.word(stored) + ", computed "
          + Hex.word(computed) + ")");
    }
    return stored;
  }

  static void checkFileLength(Path file, long fileBytes, long size) throws IndexFormatException {
    if (fileBytes != size) {
      throw header(file, size < fileBytes
          ? "truncated: the header says the file is " + fileBytes + " bytes long, it is " + size
              + " (an interrupted copy?); copy or rebuild it"
          : "the file is " + size + " bytes long, " + (size - fileBytes) + " more than the header says ("
              + fileBytes + "); something appended to it: copy or rebuild it");
    }
  }

  static ByteBuffer readAt(FileChannel ch, long position, int n) throws IOException {
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

  static boolean startsWith(ByteBuffer b, byte[] prefix) {
    if (b.limit() < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (b.get(i) != prefix[i]) {
        return false;
      }
    }
    return true;
  }

  private static String printable(ByteBuffer b, int at, int n) {
    StringBuilder s = new StringBuilder();
    for (int i = at; i < at + n && i < b.limit(); i++) {
      int c = b.get(i) & 0xff;
      s.append(c >= 0x20 && c < 0x7f ? (char) c : c == 0 ? "" : "?");
    }
    return s.toString();
  }

}
