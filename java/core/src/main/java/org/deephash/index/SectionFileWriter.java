package org.deephash.index;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.zip.CRC32C;
import org.deephash.io.AtomicFiles;

/**
 * Writes a {@link SectionFile}: the format names its sections up front (so the header's size is
 * known), then streams each one in order through a buffer that checksums the bytes on the way and
 * pads every section with zeros to the next multiple of 64; the header goes in last. The whole
 * file is written atomically ({@link AtomicFiles}: a temporary file in the same folder, fsync,
 * atomic rename, the temporary file deleted on failure), so a crash leaves the previous file.
 *
 * <pre>{@code
 * byte[] fields = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(bits).putInt(dim).array();
 * SectionFileWriter.write(path, FileKind.CODE_TABLE, 2, 0, fields,
 *     List.of(new SectionFileWriter.Planned("codes", SectionFile.REQUIRED)), out -> {
 *       out.begin("codes");
 *       out.put(codes, 0, codes.byteSize());
 *       out.end();
 *     });
 * }</pre>
 */
public final class SectionFileWriter {
  /** A section the file will hold: its name and flags ({@link SectionFile#REQUIRED} or 0). */
  public record Planned(String name, int flags) {}

  /** Writes the planned sections, in order, each between {@link #begin} and {@link #end}. */
  @FunctionalInterface
  public interface Body {
    void write(SectionFileWriter out) throws IOException;
  }

  private final FileChannel channel;
  private final List<Planned> plan;
  private final ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
  private final long[] offsets;
  private final long[] lengths;
  private final int[] crcs;
  private long position;
  private int next;
  private CRC32C crc;
  private int crcFrom;

  private SectionFileWriter(FileChannel channel, List<Planned> plan, long start) throws IOException {
    this.channel = channel;
    this.plan = plan;
    this.offsets = new long[plan.size()];
    this.lengths = new long[plan.size()];
    this.crcs = new int[plan.size()];
    this.position = start;
    channel.position(start);
  }

  /**
   * Writes {@code target} atomically: {@code body} writes the sections of {@code sections} in
   * that order, then the header is written with their offsets, lengths and checksums.
   *
   * @param fields the format's own header fields, a multiple of 8 bytes (little-endian by convention)
   * @throws IOException from {@code body} or the file system; an existing {@code target} is then unchanged
   */
  public static void write(Path target, FileKind kind, int major, int minor, byte[] fields, List<Planned> sections,
      Body body) throws IOException {
    if (target == null || kind == null || fields == null || sections == null || body == null) {
      throw new IllegalArgumentException("target, kind, fields, sections and body must not be null");
    }
    if (major < 1 || major > 0xFFFF || minor < 0 || minor > 0xFFFF) {
      throw new IllegalArgumentException("versions are u16 values (major " + major + ", minor " + minor + ")");
    }
    if (fields.length % 8 != 0 || fields.length > SectionFile.MAX_FIELDS) {
      throw new IllegalArgumentException("fields must be a multiple of 8 bytes, at most " + SectionFile.MAX_FIELDS
          + " (got " + fields.length + ")");
    }
    if (sections.size() > SectionFile.MAX_SECTIONS) {
      throw new IllegalArgumentException("at most " + SectionFile.MAX_SECTIONS + " sections");
    }
    Set<String> names = new HashSet<>();
    for (Planned p : sections) {
      checkName(p.name());
      if (!names.add(p.name())) {
        throw new IllegalArgumentException("section '" + p.name() + "' is planned twice");
      }
      if ((p.flags() & ~SectionFile.REQUIRED) != 0) {
        throw new IllegalArgumentException("section flags are REQUIRED or 0 (got " + p.flags() + ")");
      }
    }
    SectionFile.requireLittleEndian();
    List<Planned> plan = List.copyOf(sections);
    int headerBytes = SectionFile.headerBytes(fields.length, plan.size());
    AtomicFiles.write(target, ch -> {
      SectionFileWriter out = new SectionFileWriter(ch, plan, SectionFile.align(headerBytes));
      body.write(out);
      out.finish(kind, major, minor, fields, headerBytes);
    });
  }

  static void checkName(String name) {
    byte[] b = name == null ? new byte[0] : name.getBytes(StandardCharsets.US_ASCII);
    boolean ok = b.length >= 1 && b.length <= SectionFile.NAME_BYTES;
    for (byte c : b) {
      ok &= HeaderReader.nameChar(c & 0xff);
    }
    if (!ok || !name.equals(new String(b, StandardCharsets.US_ASCII))) {
      throw new IllegalArgumentException("section name '" + name + "' must be 1 to " + SectionFile.NAME_BYTES
          + " characters of a-z, 0-9, '.', '_', '-'");
    }
  }

  /** Starts the next planned section, which must be {@code name}. */
  public void begin(String name) {
    if (crc != null) {
      throw new IllegalStateException("section '" + plan.get(next).name() + "' is not ended");
    }
    if (next >= plan.size() || !plan.get(next).name().equals(name)) {
      throw new IllegalStateException("section '" + name + "' is not the next planned one ("
          + (next < plan.size() ? "'" + plan.get(next).name() + "'" : "all are written") + ")");
    }
    offsets[next] = position;
    crc = new CRC32C();
    crcFrom = buf.position();
  }

  /** Appends {@code length} bytes of {@code src} from {@code offset}. */
  public void put(MemorySegment src, long offset, long length) throws IOException {
    requireOpenSection();
    long done = 0;
    while (done < length) {
      if (!buf.hasRemaining()) {
        flush();
      }
      int n = (int) Math.min(buf.remaining(), length - done);
      MemorySegment.copy(src, JAVA_BYTE, offset + done, buf.array(), buf.position(), n);
      buf.position(buf.position() + n);
      done += n;
      position += n;
    }
  }

  public void put(byte[] bytes) throws IOException {
    put(MemorySegment.ofArray(bytes), 0, bytes.length);
  }

  public void putInt(int v) throws IOException {
    room(4);
    buf.putInt(v);
    position += 4;
  }

  public void putLong(long v) throws IOException {
    room(8);
    buf.putLong(v);
    position += 8;
  }

  public void putFloat(float v) throws IOException {
    room(4);
    buf.putFloat(v);
    position += 4;
  }

  /** Bytes written to the current section so far. */
  public long sectionLength() {
    requireOpenSection();
    return position - offsets[next];
  }

  /** Ends the current section: records its length and checksum and pads it with zeros. */
  public void end() throws IOException {
    requireOpenSection();
    crc.update(buf.array(), crcFrom, buf.position() - crcFrom);
    crcs[next] = (int) crc.getValue();
    lengths[next] = position - offsets[next];
    crc = null;
    long target = SectionFile.align(position + SectionFile.PAD);
    while (position < target) {
      if (!buf.hasRemaining()) {
        flush();
      }
      int n = (int) Math.min(buf.remaining(), target - position);
      buf.put(new byte[n]);
      position += n;
    }
    next++;
  }

  /** The file being written; for tests that damage it before the rename. */
  FileChannel channel() {
    return channel;
  }

  private void requireOpenSection() {
    if (crc == null) {
      throw new IllegalStateException("no section is begun");
    }
  }

  private void room(int bytes) throws IOException {
    requireOpenSection();
    if (buf.remaining() < bytes) {
      flush();
    }
  }

  private void flush() throws IOException {
    if (crc != null) {
      crc.update(buf.array(), crcFrom, buf.position() - crcFrom);
    }
    buf.flip();
    while (buf.hasRemaining()) {
      channel.write(buf);
    }
    buf.clear();
    crcFrom = 0;
  }

  private void finish(FileKind kind, int major, int minor, byte[] fields, int headerBytes) throws IOException {
    if (crc != null || next != plan.size()) {
      // A bug in the format's writer, never bad input.
      throw new IllegalStateException("the body wrote " + next + " of " + plan.size() + " planned sections"
          + (crc != null ? " and left one open" : ""));
    }
    flush();
    ByteBuffer h = ByteBuffer.allocate(headerBytes).order(ByteOrder.LITTLE_ENDIAN);
    h.put(SectionFile.MAGIC);
    h.putInt(SectionFile.OFF_KIND, kind.tagWord());
    h.putShort(SectionFile.OFF_MAJOR, (short) major);
    h.putShort(SectionFile.OFF_MINOR, (short) minor);
    h.putInt(SectionFile.OFF_HEADER_BYTES, headerBytes);
    h.putInt(SectionFile.OFF_FIELDS_BYTES, fields.length);
    h.putInt(SectionFile.OFF_SECTION_COUNT, plan.size());
    h.putLong(SectionFile.OFF_FILE_BYTES, position);
    h.put(SectionFile.FIXED_HEADER, fields);
    for (int i = 0; i < plan.size(); i++) {
      int at = SectionFile.FIXED_HEADER + fields.length + SectionFile.ENTRY * i;
      h.put(at, plan.get(i).name().getBytes(StandardCharsets.US_ASCII));
      h.putInt(at + 16, plan.get(i).flags());
      h.putInt(at + 20, crcs[i]);
      h.putLong(at + 24, offsets[i]);
      h.putLong(at + 32, lengths[i]);
    }
    CRC32C c = new CRC32C();
    c.update(h.array(), 0, headerBytes - 4);
    h.putInt(headerBytes - 4, (int) c.getValue());
    h.position(0);
    long pos = 0;
    while (h.hasRemaining()) {
      pos += channel.write(h, pos);
    }
  }
}
