package org.deephash.index;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.deephash.index.IndexFormatException.corruptHeader;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import org.deephash.CodeTable;
import org.deephash.spi.TableView;

/**
 * Saves a {@link CodeTable} to an index file and opens it again without copying: the table is a
 * read-only memory mapping of the file, so opening costs one pass over the sections it maps to verify
 * their checksums (or none at all with {@link Verify#HEADER_ONLY}) and no heap. The file is a
 * {@link SectionFile} of kind {@link FileKind#CODE_TABLE}; this class holds only its schema (the
 * fields and sections of docs/INDEX_FORMAT.md). Version-1 files, written before the container,
 * still open; saving always writes the current version, and {@link #rewrite} converts a file in place.
 *
 * <p>Saving is atomic: a crash or an error while saving leaves the previous file as it was. Deleted
 * rows are compacted away by default (ids are preserved; row numbers of later rows shift down).
 *
 * <p>Broken files (wrong magic, a newer format version, truncated, a checksum that does not match,
 * header fields that do not add up) throw {@link IndexFormatException} naming the part at fault;
 * every header field is checked before any section is read.
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
  /** The format version this build writes; it reads this one and version 1. */
  public static final int FORMAT_VERSION = 2;
  /** Minor version written: readers of version 2 accept any minor version (docs/INDEX_FORMAT.md). */
  /** 1: the optional multi-index sections (readers of 2.0 skip them). */
  static final int MINOR_VERSION = 1;

  // The format fields (the container's "fields" block): offsets and size.
  static final int FIELD_BITS = 0;
  static final int FIELD_DIM = 4;
  static final int FIELD_ROWS = 8;
  static final int FIELD_DELETED = 16;
  static final int FIELDS = 32;
  // Where the version-1 header kept the same fields.
  private static final int V1_BITS = 16;
  private static final int V1_DIM = 20;
  private static final int V1_ROWS = 24;
  private static final int V1_DELETED = 48;

  static final int MAX_DIM = 65536;

  static final String CODES = "codes";
  static final String IDS = "ids";
  static final String FEATURES = "features";
  static final String LABELS = "labels";
  static final String TOMBSTONES = "tombstones";
  static final String PATHS = "paths";
  /** Multi-index hash tables: the layout (ints), then per table its offsets and rows. Optional. */
  static final String MIH = "mih";

  static String mihOffsets(int i) {
    return "mih.o." + i;
  }

  static String mihRows(int i) {
    return "mih.r." + i;
  }

  private static java.util.Set<String> known() {
    java.util.Set<String> names = new java.util.HashSet<>(java.util.Set.of(CODES, IDS, FEATURES, LABELS, TOMBSTONES,
        PATHS, MIH));
    for (int i = 0; i < org.deephash.mih.MultiIndex.MAX_TABLES; i++) {
      names.add(mihOffsets(i));
      names.add(mihRows(i));
    }
    return names;
  }

  /** The sections this build knows; others (a later minor version's) are skipped when optional. */
  static final SectionFile.Schema SCHEMA = new SectionFile.Schema(FileKind.CODE_TABLE, FORMAT_VERSION, known());

  private IndexFile() {}

  /** How much of a file {@link #open(Path, Verify)} checks. */
  public enum Verify {
    /**
     * Header and the checksum of every section the table maps (and of the paths, for {@link
     * #load}): reads those sections once. The default.
     */
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

  /** Called by the writer once every section is written, before the header; lets tests inject failures. */
  @FunctionalInterface
  interface SaveHook {
    void sectionsWritten(SectionFileWriter out) throws IOException;
  }

  /** The shape a file's fields and sections describe, validated against each other. */
  private record Shape(int bits, int dim, int rows, long deleted) {}

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

  /**
   * Rewrites an index file in the current format version, keeping every row, deletion (as
   * tombstones, so row numbers stay) and path: the conversion of a version-1 file. Atomic, as
   * {@link #save} is; the checksums of what is read are verified first.
   *
   * @throws IndexFormatException when the file is not a valid index (it is then left as it is)
   */
  public static void rewrite(Path file) throws IOException {
    try (LoadedIndex l = load(file)) {
      write(l.table(), file, l.paths(), true, null);
    }
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

      List<SectionFileWriter.Planned> plan = new ArrayList<>();
      plan.add(new SectionFileWriter.Planned(CODES, SectionFile.REQUIRED));
      plan.add(new SectionFileWriter.Planned(IDS, SectionFile.REQUIRED));
      if (v.dim() > 0) {
        plan.add(new SectionFileWriter.Planned(FEATURES, SectionFile.REQUIRED));
      }
      if (table.hasLabels()) {
        plan.add(new SectionFileWriter.Planned(LABELS, SectionFile.REQUIRED));
      }
      if (tombstones) {
        plan.add(new SectionFileWriter.Planned(TOMBSTONES, SectionFile.REQUIRED));
      }
      if (paths != null) {
        plan.add(new SectionFileWriter.Planned(PATHS, 0)); // a reader may ignore them
      }
      // the multi-index tables, built for the rows as written (compaction renumbers them)
      int mihTables = table.multiIndexTables();
      org.deephash.mih.MultiIndex live = lv.multiIndex();
      // the table's own tables when they cover every row as written; else built for the output
      boolean reuse = live != null && !compact && live.rows() == n;
      org.deephash.mih.MultiIndex mih = mihTables < 0 ? null
          : reuse ? live : org.deephash.mih.MultiIndex.build(v, mihTables, compact);
      if (mih != null) {
        plan.add(new SectionFileWriter.Planned(MIH, 0));
        for (int i = 0; i < mih.tables(); i++) {
          plan.add(new SectionFileWriter.Planned(mihOffsets(i), 0));
          plan.add(new SectionFileWriter.Planned(mihRows(i), 0));
        }
      }
      Shape shape = new Shape(v.bits(), v.dim(), outRows, tombstones ? n - v.liveRows() : 0);
      ByteBuffer fields = ByteBuffer.allocate(FIELDS).order(ByteOrder.LITTLE_ENDIAN);
      fields.putInt(FIELD_BITS, shape.bits()).putInt(FIELD_DIM, shape.dim()).putLong(FIELD_ROWS, shape.rows())
          .putLong(FIELD_DELETED, shape.deleted());

      SectionFileWriter.write(file, FileKind.CODE_TABLE, FORMAT_VERSION, MINOR_VERSION, fields.array(), plan, out -> {
        for (SectionFileWriter.Planned p : plan) {
          out.begin(p.name());
          if (p.name().startsWith(MIH)) {
            writeMih(out, p.name(), mih, mihTables);
            out.end();
            continue;
          }
          writeSection(out, p.name(), v, runs, encoded);
          long expected = expectedLength(p.name(), shape);
          if (expected >= 0 && out.sectionLength() != expected) {
            throw new IllegalStateException("section " + p.name() + " wrote " + out.sectionLength() + " bytes, planned "
                + expected); // a bug in this class, never bad input
          }
          out.end();
        }
        if (hook != null) {
          hook.sectionsWritten(out);
        }
      });
      if (mih != null && !reuse) {
        mih.close();
      }
    }
  }

  /** The "mih" section: the requested table count, the indexed rows, then the layout ints. */
  private static void writeMih(SectionFileWriter out, String name, org.deephash.mih.MultiIndex mih, int requested)
      throws IOException {
    if (name.equals(MIH)) {
      out.putInt(requested);
      out.putInt(mih.rows());
      for (int v : mih.layoutInts()) {
        out.putInt(v);
      }
    } else if (name.startsWith("mih.o.")) {
      MemorySegment o = mih.offsets(Integer.parseInt(name.substring(6)));
      out.put(o, 0, o.byteSize());
    } else {
      MemorySegment r = mih.bucketRows(Integer.parseInt(name.substring(6)));
      out.put(r, 0, r.byteSize());
    }
  }

  /** The multi-index tables of an opened file, or null when it has none. */
  private static RequestedMih readMih(SectionFile f, Shape s) throws IndexFormatException {
    if (!f.has(MIH)) {
      return null;
    }
    MemorySegment meta = f.section(MIH);
    if (meta.byteSize() < 12 || meta.byteSize() % 4 != 0) {
      throw new IndexFormatException(f.file(), MIH, "section 'mih' has " + meta.byteSize() + " bytes: the file is"
          + " corrupt; rebuild the tables (engine-cli import --mih)");
    }
    int[] ints = meta.toArray(java.lang.foreign.ValueLayout.JAVA_INT);
    int requested = ints[0];
    int indexed = ints[1];
    int[] layout = java.util.Arrays.copyOfRange(ints, 2, ints.length);
    int m = layout[0];
    if (m < 1 || m > org.deephash.mih.MultiIndex.MAX_TABLES || indexed < 0 || indexed > s.rows()) {
      throw new IndexFormatException(f.file(), MIH, "section 'mih' describes " + m + " tables over " + indexed
          + " rows of " + s.rows() + ": the file is corrupt; rebuild the tables (engine-cli import --mih)");
    }
    MemorySegment[] offsets = new MemorySegment[m];
    MemorySegment[] rows = new MemorySegment[m];
    for (int i = 0; i < m; i++) {
      if (!f.has(mihOffsets(i)) || !f.has(mihRows(i))) {
        throw new IndexFormatException(f.file(), MIH, "multi-index table " + i + " is missing its sections: the file"
            + " is corrupt; rebuild the tables (engine-cli import --mih)");
      }
      offsets[i] = f.section(mihOffsets(i));
      rows[i] = f.section(mihRows(i));
    }
    try {
      org.deephash.mih.MultiIndex mih = org.deephash.mih.MultiIndex.wrap(s.bits(), s.bits() / 8, indexed, layout,
          offsets, rows, null);
      return new RequestedMih(mih, Math.max(0, requested));
    } catch (IllegalArgumentException e) {
      throw new IndexFormatException(f.file(), MIH, e.getMessage() + ": the file is corrupt; rebuild the tables"
          + " (engine-cli import --mih)");
    }
  }

  /** The table count the file was saved with, kept next to the tables it describes. */
  private record RequestedMih(org.deephash.mih.MultiIndex mih, int requested) {}

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
          + IndexPaths.MAX_BYTES + " an index can hold; shard the collection");
    }
    return out;
  }

  private static void writeSection(SectionFileWriter w, String name, TableView v, int[] runs, byte[][] encoded)
      throws IOException {
    switch (name) {
      case CODES -> putRuns(w, v.codes(), runs, v.codeBytes());
      case IDS -> putRuns(w, v.ids(), runs, 8);
      case FEATURES -> putRuns(w, v.features(), runs, v.dim() * 4L);
      case LABELS -> putRuns(w, v.labels(), runs, 4);
      case TOMBSTONES -> w.put(v.tombstones(), 0, tombstoneBytes(v.rows()));
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
      default -> throw new IllegalStateException("no writer for section " + name);
    }
  }

  private static void putRuns(SectionFileWriter w, MemorySegment src, int[] runs, long stride) throws IOException {
    for (int j = 0; j < runs.length; j += 2) {
      w.put(src, runs[j] * stride, (runs[j + 1] - runs[j]) * stride);
    }
  }

  static long tombstoneBytes(long rows) {
    return ((rows + 63) >>> 6) * 8;
  }

  /** The exact length a fixed-size section must have; -1 for paths (variable) and unknown sections. */
  private static long expectedLength(String name, Shape s) {
    long rows = s.rows();
    return switch (name) {
      case CODES -> rows * (s.bits() / 8);
      case IDS -> rows * 8;
      case FEATURES -> rows * s.dim() * 4;
      case LABELS -> rows * 4;
      case TOMBSTONES -> tombstoneBytes(rows);
      default -> -1;
    };
  }

  /** Opens an index, verifying the checksums of what it maps; see {@link #open(Path, Verify)}. */
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
    SectionFile f = SectionFile.open(file, SCHEMA, verify == Verify.FULL);
    boolean done = false;
    try {
      Shape s = shape(f);
      MemorySegment tombstones = null;
      if (f.has(TOMBSTONES)) {
        tombstones = f.section(TOMBSTONES);
        checkTombstones(file, tombstones, s);
      }
      IndexPaths paths = withPaths && f.has(PATHS) ? IndexPaths.read(file, f.section(PATHS), s.rows()) : null;
      CodeTable table = CodeTable.wrap(s.bits(), s.dim(), s.rows(), f.padded(CODES),
          s.dim() > 0 ? f.padded(FEATURES) : null, f.padded(IDS), f.has(LABELS) ? f.padded(LABELS) : null,
          tombstones, f);
      RequestedMih mih = readMih(f, s);
      if (mih != null) {
        table.attachMultiIndex(mih.mih(), mih.requested());
      }
      done = true;
      return new LoadedIndex(table, paths);
    } finally {
      if (!done) {
        f.close();
      }
    }
  }

  /**
   * Reads the fields (where the file's version keeps them) and checks them against each other and
   * against the sections present; nothing of a section is read.
   */
  private static Shape shape(SectionFile f) throws IndexFormatException {
    Path file = f.file();
    ByteBuffer b = f.fields();
    boolean v1 = f.majorVersion() == 1;
    if (!v1 && b.capacity() < FIELDS) {
      throw corruptHeader(file, "the format fields are " + b.capacity() + " bytes, version 2 has " + FIELDS);
    }
    int bits = b.getInt(v1 ? V1_BITS : FIELD_BITS);
    if (bits < 8 || bits > CodeTable.MAX_BITS || bits % 8 != 0) {
      throw corruptHeader(file, "code width " + Integer.toUnsignedString(bits) + " bits is not a multiple of 8 in"
          + " [8, " + CodeTable.MAX_BITS + "]");
    }
    int dim = b.getInt(v1 ? V1_DIM : FIELD_DIM);
    if (dim < 0 || dim > MAX_DIM) {
      throw corruptHeader(file, "feature dimension " + Integer.toUnsignedString(dim) + " is not in [0, " + MAX_DIM
          + "]");
    }
    long rows = b.getLong(v1 ? V1_ROWS : FIELD_ROWS);
    if (rows < 0 || rows > CodeTable.MAX_ROWS) {
      throw corruptHeader(file, "row count " + Long.toUnsignedString(rows) + " is not in [0, " + CodeTable.MAX_ROWS
          + "]");
    }
    long deleted = b.getLong(v1 ? V1_DELETED : FIELD_DELETED);
    if (deleted < 0 || deleted > rows || (deleted > 0 && !f.has(TOMBSTONES))) {
      throw corruptHeader(file, "deleted row count " + Long.toUnsignedString(deleted) + " does not fit " + rows
          + " rows" + (f.has(TOMBSTONES) ? "" : " without a tombstones section"));
    }
    for (String required : List.of(CODES, IDS)) {
      if (!f.has(required)) {
        throw corruptHeader(file, "the section table has no '" + required + "' section");
      }
    }
    if (f.has(FEATURES) != (dim > 0)) {
      throw corruptHeader(file, "the feature dimension is " + dim + " but the file has " + (dim > 0 ? "no" : "a")
          + " 'features' section");
    }
    Shape shape = new Shape(bits, dim, (int) rows, deleted);
    for (SectionFile.Section s : f.sections()) {
      long expected = expectedLength(s.name(), shape);
      String where = "section '" + s.name() + "' (offset " + s.offset() + ", length " + s.length() + ")";
      if (expected >= 0 && s.length() != expected) {
        throw new IndexFormatException(file, s.name(), where + " should be " + expected + " bytes long for " + rows
            + " rows (B=" + bits + ", d=" + dim + "): the file is corrupt; rebuild it");
      }
      if (s.name().equals(PATHS) && s.length() < 8 * (rows + 1)) {
        throw new IndexFormatException(file, PATHS, where + " is shorter than its offset table (" + 8 * (rows + 1)
            + " bytes): the file is corrupt; rebuild it");
      }
    }
    return shape;
  }

  private static void checkTombstones(Path file, MemorySegment bitmap, Shape s) throws IndexFormatException {
    long dead = 0;
    long words = bitmap.byteSize() / 8;
    for (long w = 0; w < words; w++) {
      dead += Long.bitCount(bitmap.getAtIndex(JAVA_LONG_UNALIGNED, w));
    }
    int tail = s.rows() & 63;
    boolean strayBits = tail != 0 && (bitmap.getAtIndex(JAVA_LONG_UNALIGNED, words - 1) >>> tail) != 0;
    if (strayBits || dead != s.deleted()) {
      throw new IndexFormatException(file, TOMBSTONES, "section 'tombstones' marks " + dead + " rows deleted"
          + (strayBits ? " (some past the last row)" : "") + ", the header says " + s.deleted()
          + ": the file is corrupt; rebuild it");
    }
  }

  /**
   * Describes an index file for {@code deephash info}: header fields and, per section (optional
   * ones this build does not know included), the stored and the computed checksum. Reads the whole
   * file once. A section whose checksum does not match is reported ({@link IndexInfo.Section#ok()}
   * false), not thrown.
   *
   * @throws IndexFormatException when the header itself is invalid (nothing can be described then)
   */
  public static IndexInfo info(Path file) throws IOException {
    if (file == null) {
      throw new IllegalArgumentException("file must not be null");
    }
    try (SectionFile f = SectionFile.open(file, SCHEMA, false)) {
      Shape s = shape(f);
      List<IndexInfo.Section> sections = new ArrayList<>();
      for (SectionFile.Section sec : f.sections()) {
        int computed = f.crc(sec);
        sections.add(new IndexInfo.Section(sec.name(), sec.offset(), sec.length(), sec.crc(), computed,
            computed == sec.crc()));
      }
      return new IndexInfo(file, f.majorVersion(), f.fileBytes(), f.headerBytes(), f.headerCrc(), s.bits(), s.dim(),
          s.rows(), s.deleted(), f.has(FEATURES), f.has(LABELS), f.has(TOMBSTONES), f.has(PATHS), sections);
    }
  }
}
