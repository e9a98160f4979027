package org.deephash.index;

import static org.deephash.index.IndexFormatException.corruptHeader;
import static org.deephash.index.IndexFormatException.header;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the header of a version-1 file, written before the container existed, into the
 * container's terms, so formats read both versions through one interface. Both version-1 layouts
 * (code table "DHX", IVF-PQ "DHQ") are a fixed header with the version at byte 8, the header
 * length at 12 and the file length at 40, a table of 24-byte entries (u32 kind, u32 CRC32C, u64
 * offset, u64 length; kind k names the k-th section of {@link FileKind#v1Sections()}), then the
 * header's CRC32C. The format fields are the whole version-1 fixed header, read by the format at
 * its version-1 offsets. Every version-1 section is required; IVF-PQ sections have no alignment
 * and no padding.
 */
final class LegacyV1 {
  private LegacyV1() {}

  static final int ENTRY = 24;
  private static final int OFF_VERSION = 8;
  private static final int OFF_HEADER_BYTES = 12;
  private static final int OFF_FILE_BYTES = 40;

  static SectionFile.Header read(Path file, FileChannel ch, FileKind kind) throws IOException {
    long size = ch.size();
    int fixedBytes = kind.v1FixedHeader();
    if (size < OFF_VERSION + 4) {
      throw header(file, "truncated: the file is " + size + " bytes long, the header alone needs " + fixedBytes
          + "; rebuild it");
    }
    ByteBuffer fixed = HeaderReader.readAt(ch, 0, (int) Math.min(fixedBytes, size));
    int version = fixed.getInt(OFF_VERSION);
    if (version != 1) {
      // Later versions use the container's magic, so this is damage, not a newer file.
      throw corruptHeader(file, "format version " + Integer.toUnsignedString(version) + " under the version-1 magic"
          + " bytes (only version 1 has them)");
    }
    if (size < fixedBytes) {
      throw header(file, "truncated: the file is " + size + " bytes long, the header alone needs " + fixedBytes
          + "; rebuild it");
    }
    List<String> names = kind.v1Sections();
    int count = fixed.getInt(kind.v1SectionCountOffset());
    int headerBytes = fixed.getInt(OFF_HEADER_BYTES);
    if (count < 0 || count > names.size()) {
      throw corruptHeader(file, "section count " + Integer.toUnsignedString(count) + " is not in [0, " + names.size()
          + "]");
    }
    if (headerBytes != fixedBytes + ENTRY * count + 4) {
      throw corruptHeader(file, "header length " + Integer.toUnsignedString(headerBytes) + " does not match "
          + count + " sections (expected " + (fixedBytes + ENTRY * count + 4) + ")");
    }
    if (size < headerBytes) {
      throw header(file, "truncated: the file is " + size + " bytes long, the header needs " + headerBytes
          + "; rebuild it");
    }
    ByteBuffer h = HeaderReader.readAt(ch, 0, headerBytes);
    int headerCrc = HeaderReader.verifyHeaderCrc(file, h, headerBytes);
    long fileBytes = h.getLong(OFF_FILE_BYTES);
    HeaderReader.checkFileLength(file, fileBytes, size);
    List<SectionFile.Section> sections = new ArrayList<>(count);
    long previousEnd = headerBytes;
    for (int i = 0; i < count; i++) {
      int at = fixedBytes + ENTRY * i;
      int code = h.getInt(at);
      if (code < 1 || code > names.size()) {
        throw corruptHeader(file, "section table entry " + i + " has unknown kind " + Integer.toUnsignedString(code));
      }
      String name = names.get(code - 1);
      for (SectionFile.Section s : sections) {
        if (s.name().equals(name)) {
          throw corruptHeader(file, "section '" + name + "' appears twice in the section table");
        }
      }
      long offset = h.getLong(at + 8);
      long length = h.getLong(at + 16);
      if (offset < previousEnd || length < 0 || length > size || offset > size - length) {
        throw new IndexFormatException(file, name, "section '" + name + "' (offset " + Long.toUnsignedString(offset)
            + ", length " + Long.toUnsignedString(length) + ") overlaps the header or the previous section, or"
            + " does not fit in the file of " + size + " bytes: the file is corrupt; rebuild it");
      }
      sections.add(new SectionFile.Section(name, SectionFile.REQUIRED, h.getInt(at + 4), offset, length, true));
      previousEnd = offset + length;
    }
    ByteBuffer fields = h.slice(0, fixedBytes).asReadOnlyBuffer();
    return new SectionFile.Header(kind, 1, 0, headerBytes, headerCrc, fileBytes, fields, List.copyOf(sections));
  }
}
