package org.deephash.index;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;
import org.deephash.CodeTable;
import org.deephash.index.Format.Header;
import org.deephash.index.Format.Kind;
import org.deephash.index.Format.Section;
import org.deephash.io.AtomicFiles;
import org.deephash.io.Hex;
import org.deephash.spi.TableView;

/**
 * Saves a {@link CodeTable} to an index file and opens it again without copying: the table is a
 * read-only memory mapping of the file, so opening costs one pass to verify the checksums (or none
 * at all with {@link Verify#HEADER_ONLY}) and no heap. The format is specified in {@code
 * docs/INDEX_FORMAT.md}: little-endian, 64-byte aligned sections with a CRC32C each.
 *
 * <p>Saving is atomic: a crash or an error while saving leaves the previous file as it was. Deleted
 * rows are compacted away by default (ids are preserved; row numbers of later rows shift down).
 *
 * <p>Broken files (wrong magic, a newer format version, truncated, a checksum that does not match,
 * header fields that do not add up) throw {@link IndexFormatException} naming the part at fault;
 * every header field is checked before any section is mapped.
 *
 * <pre>{@code
 * IndexFile.save(table, Path.of("index.dh"));
 * try (CodeTable loaded = IndexFile.open(Path.of("index.dh"));
 *     GpuHashSearch search = GpuHashSearch.open(loaded)) {
 *   SearchResult top = search.query(queryCodes, 10);
 * }
 * }</pre>
 */
public final class IndexFile {
  /** The format version this build writes and reads. */
  public static final int FORMAT_VERSION = Format.VERSION;

  private IndexFile() {}

  /** How much of a file {@link #open(Path, Verify)} checks. */
  public enum Verify {
    /** Header and every section checksum: reads the whole file once. The default. */
    FULL,
    /**
     * Header checksum and structure only; the sections are not read until searched, so opening a
     * huge index is instant. A damaged section then goes unnoticed: use for files you trust.
     */
    HEADER_ONLY
  }

  /** Options of {@link #save}. */
  public enum SaveOption {
    /**
     * Keeps deleted rows, with a tombstones section marking them, instead of compacting them away:
     * row numbers stay the same as in the table.
     */
    KEEP_DELETED
  }

  /** Called by the writer once every section is in the temporary file; lets tests inject failures. */
  @FunctionalInterface
  interface SaveHook {
    void sectionsWritten(FileChannel channel) throws IOException;
  }

  /**
   * Saves {@code table} to {@code file}, atomically replacing any file there. Readers and writers of
   * the table wait while it saves.
   *
   * @throws IOException when the file cannot be written; an existing {@code file} is then unchanged
   */
  public static void save(CodeTable table, Path file, SaveOption... options) throws IOException {
    write(table, file, null, has(options, SaveOption.KEEP_DELETED), null);
  }

  /**
   * Saves {@code table} with the source path of every row (for example the image file name).
   *
   * @param paths one entry per row of the table, deleted rows included ({@code table.size()}
   *     entries); rows compacted away take their paths with them
   */
  public static void save(CodeTable table, Path file, List<String> paths, SaveOption... options)
      throws IOException {
    if (paths == null) {
      throw new IllegalArgumentException("paths must not be null; use save(table, file) for an index without paths");
    }
    write(table, file, paths, has(options, SaveOption.KEEP_DELETED), null);
  }

  private static boolean has(SaveOption[] options, SaveOption o) {
    return options != null && Arrays.asList(options).contains(o);
  }

  /** The writer; {@code hook} (tests only) runs before the header is written and the file renamed. */
  static void write(CodeTable table, Path file, List<String> paths, boolean keepDeleted, SaveHook hook)
      throws IOException {
    if (table == null || file == null) {
      throw new IllegalArgumentException("table and file must not be null");
    }
    requireLittleEndian();
    try (CodeTable.LockedView lv = table.view()) {
      TableView v = lv.get();
      int n = v.rows();
      if (paths != null && paths.size() != n) {
        throw new IllegalArgumentException("paths must hold one entry per table row (table.size() = " + n
            + ", deleted rows included); got " + paths.size());
      }
      boolean hasDeleted = v.liveRows() < n;
      boolean compact = hasDeleted && !keepDeleted;
      boolean tombstones = hasDeleted && keepDeleted;
      int[] runs = compact ? liveRuns(v) : (n == 0 ? new int[0] : new int[] {0, n});
      int outRows = compact ? v.liveRows() : n;
      byte[][] encoded = paths == null ? null : encode(paths, runs, outRows);

      int flags = (v.dim() > 0 ? Format.FLAG_FEATURES : 0) | (table.hasLabels() ? Format.FLAG_LABELS : 0)
          | (tombstones ? Format.FLAG_TOMBSTONES : 0) | (paths != null ? Format.FLAG_PATHS : 0);
      List<Kind> kinds = new ArrayList<>();
      for (Kind k : Kind.values()) {
        if (k.presentWith(flags)) {
          kinds.add(k);
        }
      }
      int count = kinds.size();
      long[] offsets = new long[count];
      long[] lengths = new long[count];
      long at = Format.align(Format.headerBytes(count));
      for (int i = 0; i < count; i++) {
        Kind k = kinds.get(i);
        lengths[i] = k == Kind.PATHS ? pathsLength(encoded) : Format.expectedLength(k, v.bits(), v.dim(), outRows);
        offsets[i] = at;
        at = Format.align(at + lengths[i] + Format.PAD);
      }
      long fileBytes = at;
      long deleted = tombstones ? n - v.liveRows() : 0;

      AtomicFiles.write(file, ch -> {
        SectionWriter w = new SectionWriter(ch, offsets[0]);
        int[] crcs = new int[count];
        for (int i = 0; i < count; i++) {
          Kind k = kinds.get(i);
          w.begin();
          writeSection(w, k, v, runs, encoded);
          if (w.position() != offsets[i] + lengths[i]) {
            throw new IllegalStateException("section " + k.label + " wrote " + (w.position() - offsets[i])
                + " bytes, planned " + lengths[i]); // a bug in this class, never bad input
          }
          crcs[i] = w.end();
        }
        w.flush();
        if (hook != null) {
          hook.sectionsWritten(ch);
        }
        ByteBuffer h = header(v, outRows, flags, fileBytes, deleted, kinds, offsets, lengths, crcs);
        long pos = 0;
        while (h.hasRemaining()) {
          pos += ch.write(h, pos);
        }
      });
    }
  }

  /** Runs of live rows as [start, end) pairs. */
  private static int[] liveRuns(TableView v) {
    int[] runs = new int[16];
    int count = 0;
    int r = 0;
    while (r < v.rows()) {
      while (r < v.rows() && !v.isLive(r)) {
        r++;
      }
      int start = r;
      while (r < v.rows() && v.isLive(r)) {
        r++;
      }
      if (r > start) {
        if (count + 2 > runs.length) {
          runs = Arrays.copyOf(runs, runs.length * 2);
        }
        runs[count++] = start;
        runs[count++] = r;
      }
    }
    return Arrays.copyOf(runs, count);
  }

  private static byte[][] encode(List<String> paths, int[] runs, int outRows) {
    byte[][] out = new byte[outRows][];
    long total = 0;
    int o = 0;
    for (int j = 0; j < runs.length; j += 2) {
      for (int r = runs[j]; r < runs[j + 1]; r++) {
        String p = paths.get(r);
        if (p == null) {
          throw new IllegalArgumentException("paths[" + r + "] is null: every row needs a path (use \"\" for none)");
        }
        out[o++] = p.getBytes(StandardCharsets.UTF_8);
        total += out[o - 1].length;
      }
    }
    if (total > IndexPaths.MAX_BYTES) {
      throw new IllegalArgumentException("the paths take " + total + " bytes of UTF-8, more than the "
          + IndexPaths.MAX_BYTES
          + " an index can hold; shard the collection");
    }
    return out;
  }

  private static long pathsLength(byte[][] encoded) {
    long n = 8L * (encoded.length + 1);
    for (byte[] b : encoded) {
      n += b.length;
    }
    return n;
  }

  private static void writeSection(SectionWriter w, Kind k, TableView v, int[] runs, byte[][] encoded)
      throws IOException {
    switch (k) {
      case CODES -> putRuns(w, v.codes(), runs, v.codeBytes());
      case IDS -> putRuns(w, v.ids(), runs, 8);
      case FEATURES -> putRuns(w, v.features(), runs, v.dim() * 4L);
      case LABELS -> putRuns(w, v.labels(), runs, 4);
      case TOMBSTONES -> w.put(v.tombstones(), 0, Format.tombstoneBytes(v.rows()));
      case PATHS -> {
        long offset = 0;
        w.putLong(0);
        for (byte[] b : encoded) {
          offset += b.length;
          w.putLong(offset);
        }
        for (byte[] b : encoded) {
          w.put(b);
        }
      }
    }
  }

  private static void putRuns(SectionWriter w, MemorySegment src, int[] runs, long stride) throws IOException {
    for (int j = 0; j < runs.length; j += 2) {
      w.put(src, runs[j] * stride, (runs[j + 1] - runs[j]) * stride);
    }
  }

  private static ByteBuffer header(TableView v, int rows, int flags, long fileBytes, long deleted, List<Kind> kinds,
      long[] offsets, long[] lengths, int[] crcs) {
    int count = kinds.size();
    int size = Format.headerBytes(count);
    ByteBuffer h = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
    h.put(Format.MAGIC);
    h.putInt(Format.OFF_VERSION, Format.VERSION);
    h.putInt(Format.OFF_HEADER_BYTES, size);
    h.putInt(Format.OFF_BITS, v.bits());
    h.putInt(Format.OFF_DIM, v.dim());
    h.putLong(Format.OFF_ROWS, rows);
    h.putInt(Format.OFF_FLAGS, flags);
    h.putInt(Format.OFF_SECTION_COUNT, count);
    h.putLong(Format.OFF_FILE_BYTES, fileBytes);
    h.putLong(Format.OFF_DELETED, deleted);
    h.putLong(Format.OFF_RESERVED, 0);
    for (int i = 0; i < count; i++) {
      int at = Format.FIXED_HEADER + Format.ENTRY * i;
      h.putInt(at, kinds.get(i).code);
      h.putInt(at + 4, crcs[i]);
      h.putLong(at + 8, offsets[i]);
      h.putLong(at + 16, lengths[i]);
    }
    CRC32C crc = new CRC32C();
    crc.update(h.array(), 0, size - 4);
    h.putInt(size - 4, (int) crc.getValue());
    h.position(0);
    return h;
  }

  /** Opens an index, verifying every checksum; see {@link #open(Path, Verify)}. */
  public static CodeTable open(Path file) throws IOException {
    return open(file, Verify.FULL);
  }

  /**
   * Opens an index as a table backed by a read-only memory mapping of the file (no copy). The
   * mapping is released when the table is closed; the first add to the table copies the rows to
   * memory it owns. Use {@link #load} to get the rows' paths too.
   *
   * @throws IndexFormatException when the file is not a valid index
   */
  public static CodeTable open(Path file, Verify verify) throws IOException {
    return load(file, verify, false).table();
  }

  /** Opens an index and its paths, verifying every checksum; see {@link #load(Path, Verify)}. */
  public static LoadedIndex load(Path file) throws IOException {
    return load(file, Verify.FULL);
  }

  /**
   * Opens an index as {@link #open(Path, Verify)} does, together with the source paths of its rows
   * when the file has them (copied to the heap, so they outlive changes to the table).
   *
   * @throws IndexFormatException when the file is not a valid index
   */
  public static LoadedIndex load(Path file, Verify verify) throws IOException {
    return load(file, verify, true);
  }

  private static LoadedIndex load(Path file, Verify verify, boolean withPaths) throws IOException {
    if (file == null || verify == null) {
      throw new IllegalArgumentException("file and verify must not be null");
    }
    requireLittleEndian();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      Header h = Format.read(file, ch);
      Arena arena = Arena.ofShared();
      boolean done = false;
      try {
        MemorySegment map = ch.map(MapMode.READ_ONLY, 0, h.fileBytes(), arena);
        if (verify == Verify.FULL) {
          for (Section s : h.sections()) {
            int computed = crc(map, s);
            if (computed != s.crc()) {
              throw new IndexFormatException(file, s.kind().label, "section '" + s.kind().label
                  + "' checksum mismatch (stored " + Hex.word(s.crc()) + ", computed " + Hex.word(computed)
                  + "): the file is corrupt; rebuild it");
            }
          }
        }
        MemorySegment tombstones = null;
        Section ts = h.section(Kind.TOMBSTONES);
        if (ts != null) {
          tombstones = map.asSlice(ts.offset(), ts.length());
          checkTombstones(file, tombstones, h);
        }
        Section ps = h.section(Kind.PATHS);
        IndexPaths paths = ps == null || !withPaths
            ? null
            : IndexPaths.read(file, map.asSlice(ps.offset(), ps.length()), h.rows());
        CodeTable table = CodeTable.wrap(h.bits(), h.dim(), h.rows(), padded(map, h, Kind.CODES),
            padded(map, h, Kind.FEATURES), padded(map, h, Kind.IDS), padded(map, h, Kind.LABELS), tombstones, arena);
        done = true;
        return new LoadedIndex(table, paths);
      } finally {
        if (!done) {
          arena.close();
        }
      }
    }
  }

  /** A section with the padding that follows it (readable slack for kernels), or null when absent. */
  private static MemorySegment padded(MemorySegment map, Header h, Kind k) {
    Section s = h.section(k);
    return s == null ? null : map.asSlice(s.offset(), s.length() + Format.PAD);
  }

  private static void checkTombstones(Path file, MemorySegment bitmap, Header h) throws IndexFormatException {
    long dead = 0;
    long words = bitmap.byteSize() / 8;
    for (long w = 0; w < words; w++) {
      dead += Long.bitCount(bitmap.getAtIndex(JAVA_LONG_UNALIGNED, w));
    }
    int tail = h.rows() & 63;
    boolean strayBits = tail != 0 && (bitmap.getAtIndex(JAVA_LONG_UNALIGNED, words - 1) >>> tail) != 0;
    if (strayBits || dead != h.deletedRows()) {
      throw new IndexFormatException(file, "tombstones", "section 'tombstones' marks " + dead + " rows deleted"
          + (strayBits ? " (some past the last row)" : "") + ", the header says " + h.deletedRows()
          + ": the file is corrupt; rebuild it");
    }
  }

  private static int crc(MemorySegment map, Section s) {
    CRC32C crc = new CRC32C();
    long chunk = 1L << 28; // a ByteBuffer addresses at most 2 GiB
    for (long done = 0; done < s.length(); done += chunk) {
      long n = Math.min(chunk, s.length() - done);
      crc.update(map.asSlice(s.offset() + done, n).asByteBuffer());
    }
    return (int) crc.getValue();
  }

  /**
   * Describes an index file for {@code deephash info}: header fields and, per section, the stored
   * and the computed checksum. Reads the whole file once. A section whose checksum does not match
   * is reported ({@link IndexInfo.Section#ok()} false), not thrown.
   *
   * @throws IndexFormatException when the header itself is invalid (nothing can be described then)
   */
  public static IndexInfo info(Path file) throws IOException {
    if (file == null) {
      throw new IllegalArgumentException("file must not be null");
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
        Arena arena = Arena.ofConfined()) {
      Header h = Format.read(file, ch);
      MemorySegment map = ch.map(MapMode.READ_ONLY, 0, h.fileBytes(), arena);
      List<IndexInfo.Section> sections = new ArrayList<>();
      for (Section s : h.sections()) {
        int computed = crc(map, s);
        sections.add(new IndexInfo.Section(s.kind().label, s.offset(), s.length(), s.crc(), computed,
            computed == s.crc()));
      }
      int flags = h.flags();
      return new IndexInfo(file, Format.VERSION, h.fileBytes(), h.headerBytes(), h.headerCrc(), h.bits(), h.dim(),
          h.rows(), h.deletedRows(), (flags & Format.FLAG_FEATURES) != 0, (flags & Format.FLAG_LABELS) != 0,
          (flags & Format.FLAG_TOMBSTONES) != 0, (flags & Format.FLAG_PATHS) != 0, sections);
    }
  }

  private static void requireLittleEndian() {
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      // Sections are mapped as they lie in the file, and the engine reads them in native order.
      throw new UnsupportedOperationException("index files are little-endian; this platform is big-endian");
    }
  }
}
