package org.deephash;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.deephash.internal.LongIntHashMap;
import org.deephash.mih.MultiIndex;
import org.deephash.spi.TableView;

/**
 * An off-heap table of N binary codes of B bits (B a multiple of 8 in [8, 4096]) with int64 ids,
 * an optional float32 feature matrix (N x d) and optional int32 labels.
 *
 * <p>Codes are stored tightly, B/8 bytes each (bit i of a code is bit i mod 8 of byte i/8, which
 * reads as bit i mod 64 of little-endian word i/64). Memory per code is exactly B/8 + 4d + 8 (+4
 * with labels) bytes; the table adds 64 bytes of padding per section and a deletion bitmap.
 *
 * <p>Ids are unique. Rows can be added and deleted by id (a tombstone) while the table is open;
 * the change is visible to the next search. Reads and writes are safe from several threads:
 * searches hold a read lock, {@link #add} and {@link #delete} a write lock.
 *
 * <pre>{@code
 * try (CodeTable table = CodeTable.create(64, 0, false)) {
 *   table.add(42L, code8Bytes, null, 0);
 *   try (GpuHashSearch search = GpuHashSearch.open(table)) {
 *     SearchResult top = search.query(queryCodes, 10);
 *   }
 * }
 * }</pre>
 */
public final class CodeTable implements AutoCloseable {
  /** Bytes of slack after each section so kernels may read a whole 64-bit word past a code. */
  public static final int PADDING = 64;
  public static final int MAX_BITS = 4096;
  /** Rows are addressed with int indices; larger collections are sharded. */
  public static final int MAX_ROWS = Integer.MAX_VALUE - 1024;

  private final int bits;
  private final int codeBytes;
  private final int dim;
  private final boolean hasLabels;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();

  private Arena arena;
  /** Owner of externally provided segments (a memory-mapped index file); closed with the table. */
  private AutoCloseable external;
  private MemorySegment codes = MemorySegment.NULL;
  private MemorySegment features = MemorySegment.NULL;
  private MemorySegment ids = MemorySegment.NULL;
  private MemorySegment labels = MemorySegment.NULL;
  private MemorySegment tombstones = MemorySegment.NULL;
  private boolean writable;
  private int rows;
  private int capacity;
  private int deleted;
  private long version;
  /**
   * Whether ids[r] < ids[r + 1] for every row: then an id is found by binary search, a batch of
   * ascending ids needs no duplicate check, and backends order ties by row without reading ids.
   * No id map is built while it holds (100M rows would need 3 GB of heap for one). 1 yes, 0 no,
   * -1 not yet known (a wrapped index: computed on first use).
   */
  private volatile int ascending = 1;
  /** id to row (the newest row of an id); built only once the ids stop ascending. */
  private volatile LongIntHashMap idToRow;
  private final Object idMapBuild = new Object();
  private boolean closed;
  /** Multi-index hash tables over the rows (null: none asked for); see {@link #buildMultiIndex}. */
  private MultiIndex multiIndex;
  /** The table count asked for (0 = automatic), or -1 when no tables are kept. */
  private int multiIndexTables = -1;

  private CodeTable(int bits, int dim, boolean hasLabels) {
    validateShape(bits, dim);
    this.bits = bits;
    this.codeBytes = bits / 8;
    this.dim = dim;
    this.hasLabels = hasLabels;
  }

  static void validateShape(int bits, int dim) {
    if (bits < 8 || bits > MAX_BITS || bits % 8 != 0) {
      throw new IllegalArgumentException(
          "code width (number of bits) must be a multiple of 8 in [8, " + MAX_BITS + "] (passed " + bits + ")");
    }
    if (dim < 0 || dim > 65536) {
      throw new IllegalArgumentException("feature dimension must be in [0, 65536], 0 for no features (passed " + dim + ")");
    }
  }

  /**
   * An empty, growable table.
   *
   * @param bits code width B, a multiple of 8 in [8, 4096]
   * @param dim feature dimension d, or 0 for a table without features
   * @param labels whether rows carry an int32 label
   */
  public static CodeTable create(int bits, int dim, boolean labels) {
    return create(bits, dim, labels, 1024);
  }

  /** An empty table with room for {@code initialCapacity} rows before it grows. */
  public static CodeTable create(int bits, int dim, boolean labels, int initialCapacity) {
    if (initialCapacity < 0 || initialCapacity > MAX_ROWS) {
      throw new IllegalArgumentException("initialCapacity must be in [0, " + MAX_ROWS + "] (passed " + initialCapacity + ")");
    }
    CodeTable t = new CodeTable(bits, dim, labels);
    t.allocate(Math.max(16, initialCapacity), 0);
    return t;
  }

  /**
   * The owner of mapped segments a table wraps (an index file): says when the file under the
   * mapping changed, so no search reads a mapping that is no longer backed by the file.
   */
  public interface Mapping extends AutoCloseable {
    /** Null while the mapped file is intact; else a one-line description of the change. */
    String changedOnDisk();
  }

  /**
   * Wraps existing segments (for example sections of a memory-mapped index file) without copying.
   * The table treats them as read-only: the first {@link #add} or {@link #delete} copies them to
   * memory the table owns. {@code owner} is closed with the table; when it is a {@link Mapping},
   * every view first checks that the file under it is intact.
   *
   * @param tombstones deletion bitmap of ceil(rows/64) words, or null when none is deleted
   */
  public static CodeTable wrap(
      int bits, int dim, int rows, MemorySegment codes, MemorySegment features, MemorySegment ids,
      MemorySegment labels, MemorySegment tombstones, AutoCloseable owner) {
    CodeTable t = new CodeTable(bits, dim, labels != null);
    if (rows < 0 || rows > MAX_ROWS) {
      throw new IllegalArgumentException("rows out of range: " + rows);
    }
    requireSize("codes", codes, (long) rows * t.codeBytes + 8);
    requireSize("ids", ids, rows * 8L);
    if (dim > 0) {
      requireSize("features", features, (long) rows * dim * 4);
    }
    if (labels != null) {
      requireSize("labels", labels, rows * 4L);
    }
    t.codes = codes;
    t.features = dim > 0 ? features : MemorySegment.NULL;
    t.ids = ids;
    t.labels = labels != null ? labels : MemorySegment.NULL;
    t.rows = rows;
    t.capacity = rows;
    t.external = owner;
    t.writable = false;
    t.ascending = -1;
    t.tombstones = MemorySegment.NULL;
    if (tombstones != null) {
      requireSize("tombstones", tombstones, bitmapBytes(rows));
      int dead = 0;
      for (long w = 0; w < bitmapBytes(rows) / 8; w++) {
        dead += Long.bitCount(tombstones.getAtIndex(JAVA_LONG_UNALIGNED, w));
      }
      if (dead > 0) {
        t.arena = Arena.ofShared();
        t.tombstones = t.arena.allocate(bitmapBytes(rows), 8).copyFrom(tombstones.asSlice(0, bitmapBytes(rows)));
        t.deleted = dead;
      }
    }
    return t;
  }

  private static void requireSize(String what, MemorySegment s, long need) {
    if (s == null || s.byteSize() < need) {
      throw new IllegalArgumentException(what + " segment holds " + (s == null ? 0 : s.byteSize()) + " bytes, needs " + need);
    }
  }

  static long bitmapBytes(long rows) {
    return ((rows + 63) >>> 6) * 8;
  }

  public int bits() {
    return bits;
  }

  /** B/8: bytes per code. */
  public int codeBytes() {
    return codeBytes;
  }

  /**
   * Memory per row, everything included: the code, the int64 id, the features and the label
   * (B/8 + 8 + 4d, + 4 with labels). Fixed sections add 64 bytes each and the deletion bitmap one
   * bit per row once a row is deleted.
   */
  public int bytesPerRow() {
    return codeBytes + 8 + 4 * dim + (hasLabels ? 4 : 0);
  }

  /** Feature dimension d, 0 when the table has no features. */
  public int dim() {
    return dim;
  }

  public boolean hasFeatures() {
    return dim > 0;
  }

  public boolean hasLabels() {
    return hasLabels;
  }

  /** Rows stored, deleted ones included (row indices run from 0 to size()-1). */
  public int size() {
    lock.readLock().lock();
    try {
      return rows;
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Rows not deleted. */
  public int liveCount() {
    lock.readLock().lock();
    try {
      return rows - deleted;
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Changes on every add or delete. */
  public long version() {
    return version;
  }

  /** Adds one row. {@code feature} must have d values (or be null when d = 0). */
  public void add(long id, byte[] code, float[] feature, int label) {
    addAll(new long[] {id}, code, feature, hasLabels ? new int[] {label} : null);
  }

  /**
   * Adds rows in one batch: n = codes.length / (B/8) rows.
   *
   * @param ids n unique ids, or null to number the rows from {@link #size()} upward
   * @param codes n packed codes of B/8 bytes each
   * @param features n x d floats, or null when d = 0
   * @param labels n labels when the table has labels, else null
   */
  public void addAll(long[] ids, byte[] codes, float[] features, int[] labels) {
    if (codes == null || codes.length % codeBytes != 0) {
      throw new IllegalArgumentException("codes must hold whole codes of " + codeBytes + " bytes (B=" + bits
          + "); got " + (codes == null ? "null" : codes.length + " bytes"));
    }
    int n = codes.length / codeBytes;
    if (ids != null && ids.length != n) {
      throw new IllegalArgumentException("ids must hold one id per code: " + n + " codes, " + ids.length + " ids");
    }
    if (features != null && features.length != (long) n * dim) {
      throw new IllegalArgumentException("this table has " + dim + "-dimensional features: pass " + n + " x " + dim
          + " floats for " + n + " codes (got " + features.length + " floats)");
    }
    if (labels != null && labels.length != n) {
      throw new IllegalArgumentException("labels must hold one label per code: " + n + " codes, " + labels.length
          + " labels");
    }
    addAll(
        n,
        ids == null ? null : MemorySegment.ofArray(ids),
        MemorySegment.ofArray(codes),
        features == null ? null : MemorySegment.ofArray(features),
        labels == null ? null : MemorySegment.ofArray(labels));
  }

  /**
   * Adds n rows from segments (heap or off-heap): codes n x B/8 bytes, ids n int64 (or null),
   * features n x d float32 (or null when d = 0), labels n int32 (when the table has labels).
   * Nothing is added when any argument is invalid.
   */
  public void addAll(int n, MemorySegment ids, MemorySegment codes, MemorySegment features, MemorySegment labels) {
    if (n < 0) {
      throw new IllegalArgumentException("n must be >= 0 (passed " + n + ")");
    }
    if (codes == null || codes.byteSize() < (long) n * codeBytes) {
      throw new IllegalArgumentException("codes must hold " + n + " codes of " + codeBytes + " bytes");
    }
    if (ids != null && ids.byteSize() < n * 8L) {
      throw new IllegalArgumentException("ids must hold " + n + " int64 values, has " + ids.byteSize() / 8);
    }
    if (dim > 0) {
      if (features == null || features.byteSize() < (long) n * dim * 4) {
        throw new IllegalArgumentException("this table has " + dim + "-dimensional features: pass " + n + " x " + dim
            + " floats (got " + (features == null ? "none" : features.byteSize() / 4 + " floats") + ")");
      }
      for (long i = 0, m = (long) n * dim; i < m; i++) {
        float f = features.getAtIndex(JAVA_FLOAT_UNALIGNED, i);
        if (!Float.isFinite(f)) {
          throw new IllegalArgumentException("feature value " + f + " of row " + (i / dim) + " (column " + (i % dim)
              + ") is not finite: features must be finite floats");
        }
      }
    } else if (features != null && features.byteSize() != 0) {
      throw new IllegalArgumentException("this table has no features (d = 0); pass null features");
    }
    if (hasLabels && (labels == null || labels.byteSize() < n * 4L)) {
      throw new IllegalArgumentException("this table has labels: pass " + n + " int32 labels");
    }
    if (!hasLabels && labels != null && labels.byteSize() != 0) {
      throw new IllegalArgumentException("this table was created without labels; pass null labels");
    }
    lock.writeLock().lock();
    try {
      ensureOpen();
      if ((long) rows + n > MAX_ROWS) {
        throw new IllegalArgumentException("a table holds at most " + MAX_ROWS + " rows; shard larger collections");
      }
      boolean stillAscending = idsAscending() && batchAscends(ids, n);
      if (!stillAscending) {
        // Check every id before touching the table so a bad batch changes nothing. A deleted id may
        // be added again: its new row is the one the id names from then on.
        LongIntHashMap map = idMap();
        LongIntHashMap batch = new LongIntHashMap(n);
        for (int i = 0; i < n; i++) {
          long id = ids == null ? (long) rows + i : ids.getAtIndex(JAVA_LONG_UNALIGNED, i);
          int existing = map.get(id);
          if (existing >= 0 && isLiveLocked(existing) || batch.put(id, i) >= 0) {
            throw new IllegalArgumentException("duplicate id " + id + " (row " + i + " of the batch): ids must be unique");
          }
        }
      }
      makeWritable(rows + n);
      MemorySegment.copy(codes, 0, this.codes, (long) rows * codeBytes, (long) n * codeBytes);
      if (ids != null) {
        MemorySegment.copy(ids, 0, this.ids, rows * 8L, n * 8L);
      } else {
        for (int i = 0; i < n; i++) {
          this.ids.setAtIndex(JAVA_LONG_UNALIGNED, rows + i, (long) rows + i);
        }
      }
      if (idToRow != null) {
        for (int i = 0; i < n; i++) {
          idToRow.put(this.ids.getAtIndex(JAVA_LONG_UNALIGNED, rows + i), rows + i);
        }
      }
      if (dim > 0) {
        MemorySegment.copy(features, 0, this.features, (long) rows * dim * 4, (long) n * dim * 4);
      }
      if (hasLabels) {
        MemorySegment.copy(labels, 0, this.labels, rows * 4L, n * 4L);
      }
      rows += n;
      ascending = stillAscending ? 1 : 0;
      if (multiIndex != null && rows - multiIndex.rows() > Math.max(1 << 16, multiIndex.rows() / 8)) {
        // rows added since the build are scanned; rebuild once they are a noticeable share
        rebuildMultiIndex();
      }
      version++;
    } finally {
      lock.writeLock().unlock();
    }
  }

  /**
   * Whether the batch's ids (null: row numbers from {@link #rows}) ascend strictly and start above
   * the table's last id. Caller holds the write lock and knows the table's ids ascend.
   */
  private boolean batchAscends(MemorySegment batchIds, int n) {
    if (batchIds == null) {
      return rows == 0 || ids.getAtIndex(JAVA_LONG_UNALIGNED, rows - 1) < rows;
    }
    long prev = rows == 0 ? Long.MIN_VALUE : ids.getAtIndex(JAVA_LONG_UNALIGNED, rows - 1);
    for (int i = 0; i < n; i++) {
      long id = batchIds.getAtIndex(JAVA_LONG_UNALIGNED, i);
      if (id <= prev && !(i == 0 && rows == 0)) {
        return false;
      }
      prev = id;
    }
    return true;
  }

  /** Whether ids ascend with rows (computed once for a wrapped table). */
  private boolean idsAscending() {
    int a = ascending;
    if (a < 0) {
      a = 1;
      for (long r = 1; r < rows; r++) {
        if (ids.getAtIndex(JAVA_LONG_UNALIGNED, r - 1) >= ids.getAtIndex(JAVA_LONG_UNALIGNED, r)) {
          a = 0;
          break;
        }
      }
      ascending = a; // idempotent: racing readers compute the same value
    }
    return a == 1;
  }

  /** The row holding this id (deleted or not; the newest when an id was deleted and added again), or -1. */
  private int anyRowOf(long id) {
    if (!idsAscending()) {
      return idMap().get(id);
    }
    int lo = 0;
    int hi = rows - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      long v = ids.getAtIndex(JAVA_LONG_UNALIGNED, mid);
      if (v < id) {
        lo = mid + 1;
      } else if (v > id) {
        hi = mid - 1;
      } else {
        return mid;
      }
    }
    return -1;
  }

  /**
   * Deletes the row with this id (a tombstone: the row stays until the table is rewritten, but
   * is never returned by a search). Returns false when no live row has the id.
   */
  public boolean delete(long id) {
    lock.writeLock().lock();
    try {
      ensureOpen();
      int row = anyRowOf(id);
      if (row < 0 || !isLiveLocked(row)) {
        return false;
      }
      if (tombstones.byteSize() == 0) {
        if (arena == null) {
          arena = Arena.ofShared(); // a wrapped (mapped) table keeps its sections; only the bitmap is owned
        }
        tombstones = arena.allocate(bitmapBytes(capacity), 8);
      }
      long w = tombstones.getAtIndex(JAVA_LONG_UNALIGNED, row >>> 6);
      tombstones.setAtIndex(JAVA_LONG_UNALIGNED, row >>> 6, w | (1L << row));
      deleted++;
      version++;
      return true;
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** Whether a live row has this id. */
  public boolean contains(long id) {
    return rowOf(id) >= 0;
  }

  /**
   * The row of the live row with this id, or -1 when no live row has it (never added, or
   * deleted). Takes only the read lock, so lookups run concurrently with searches and each other.
   *
   * <pre>{@code
   * int row = table.rowOf(42L);
   * if (row >= 0) {
   *   byte[] code = table.code(row);
   * }
   * }</pre>
   */
  public int rowOf(long id) {
    lock.readLock().lock();
    try {
      ensureOpen();
      int row = anyRowOf(id);
      return row >= 0 && isLiveLocked(row) ? row : -1;
    } finally {
      lock.readLock().unlock();
    }
  }

  private boolean isLiveLocked(int row) {
    if (tombstones.byteSize() == 0) {
      return true;
    }
    return (tombstones.getAtIndex(JAVA_LONG_UNALIGNED, row >>> 6) & (1L << row)) == 0;
  }

  /** The id of row {@code row}. */
  public long id(int row) {
    try (var v = view()) {
      checkRow(row);
      return ids.getAtIndex(JAVA_LONG_UNALIGNED, row);
    }
  }

  /** The label of row {@code row}; the table must have labels. */
  public int label(int row) {
    if (!hasLabels) {
      throw new IllegalStateException("this table has no labels");
    }
    try (var v = view()) {
      checkRow(row);
      return labels.getAtIndex(JAVA_INT_UNALIGNED, row);
    }
  }

  /** A copy of row {@code row}'s code. */
  public byte[] code(int row) {
    try (var v = view()) {
      checkRow(row);
      return codes.asSlice((long) row * codeBytes, codeBytes).toArray(JAVA_BYTE);
    }
  }

  /** A copy of row {@code row}'s feature vector. */
  public float[] feature(int row) {
    if (dim == 0) {
      throw new IllegalStateException("this table has no features");
    }
    try (var v = view()) {
      checkRow(row);
      return features.asSlice((long) row * dim * 4, dim * 4L).toArray(JAVA_FLOAT_UNALIGNED);
    }
  }

  /** Whether row {@code row} is live (not deleted). */
  public boolean isLive(int row) {
    try (var v = view()) {
      checkRow(row);
      return isLiveLocked(row);
    }
  }

  private void checkRow(int row) {
    if (row < 0 || row >= rows) {
      throw new IndexOutOfBoundsException("row " + row + " out of [0, " + rows + ")");
    }
  }

  /**
   * Keeps multi-index hash tables over the codes (Norouzi et al.; {@link MultiIndex}): exact radius
   * and k-NN search that probes tables instead of scanning, chosen per call by the search when it
   * is cheaper. {@code m} tables of B/m-bit substrings, 0 for the automatic choice (B / log2 rows).
   * Builds them now (seconds for 100M codes); rows added later are scanned until they reach an
   * eighth of the table, then the tables are rebuilt; deleted rows are skipped. Saved with the
   * index file.
   */
  public void buildMultiIndex(int m) {
    if (m < 0 || m > MultiIndex.MAX_TABLES) {
      throw new IllegalArgumentException("the table count must be 0 (automatic) to " + MultiIndex.MAX_TABLES
          + " (passed " + m + ")");
    }
    lock.writeLock().lock();
    try {
      ensureOpen();
      multiIndexTables = m;
      rebuildMultiIndex();
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** Drops the multi-index tables (searches scan again). */
  public void dropMultiIndex() {
    lock.writeLock().lock();
    try {
      if (multiIndex != null) {
        multiIndex.close();
        multiIndex = null;
      }
      multiIndexTables = -1;
    } finally {
      lock.writeLock().unlock();
    }
  }

  /**
   * Attaches tables read with the table (an index file's sections); they must have been built
   * for these codes.
   */
  public void attachMultiIndex(MultiIndex tables, int requested) {
    lock.writeLock().lock();
    try {
      ensureOpen();
      if (tables.bits() != bits || tables.rows() > rows) {
        throw new IllegalArgumentException("the multi-index tables are for " + tables.rows() + " rows of "
            + tables.bits() + "-bit codes, not for this table of " + rows + " rows of " + bits + " bits");
      }
      if (multiIndex != null) {
        multiIndex.close();
      }
      multiIndex = tables;
      multiIndexTables = requested;
    } finally {
      lock.writeLock().unlock();
    }
  }

  /** The table count asked for by {@link #buildMultiIndex} (0 = automatic), or -1 when none is kept. */
  public int multiIndexTables() {
    lock.readLock().lock();
    try {
      return multiIndexTables;
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Under the write lock. */
  private void rebuildMultiIndex() {
    MultiIndex next = MultiIndex.build(new TableView(bits, codeBytes, dim, rows, rows - deleted, codes, features, ids,
        labels, tombstones, version, idsAscending()), multiIndexTables);
    if (multiIndex != null) {
      multiIndex.close();
    }
    multiIndex = next;
  }

  /**
   * A locked, consistent view for searching: hold it in try-with-resources; rows cannot be added
   * or deleted until it is closed.
   */
  public LockedView view() {
    lock.readLock().lock();
    try {
      ensureOpen();
      if (external instanceof Mapping m) {
        String change = m.changedOnDisk();
        if (change != null) {
          throw new IllegalStateException(change + ": reopen the index. Replace an index by writing the new one"
              + " beside it and renaming it over the old (engine-cli import and IndexFile.save do), never by copying"
              + " over a file that is open");
        }
      }
    } catch (RuntimeException e) {
      lock.readLock().unlock();
      throw e;
    }
    return new LockedView(multiIndex, new TableView(bits, codeBytes, dim, rows, rows - deleted, codes, features, ids,
        labels, tombstones, version, idsAscending()));
  }

  /** A {@link TableView} whose read lock is released on close. */
  public final class LockedView implements AutoCloseable {
    private final TableView view;
    private boolean released;

    private final MultiIndex multiIndex;

    private LockedView(MultiIndex multiIndex, TableView view) {
      this.multiIndex = multiIndex;
      this.view = view;
    }

    /** The multi-index tables over the viewed rows, or null when the table keeps none. */
    public MultiIndex multiIndex() {
      return multiIndex;
    }

    public TableView get() {
      return view;
    }

    @Override
    public void close() {
      if (!released) {
        released = true;
        lock.readLock().unlock();
      }
    }
  }

  /**
   * The id-to-row map, built on first use. Callers hold the read or the write lock, so rows and
   * ids cannot change meanwhile; several readers may get here at once, so the build itself is
   * guarded by its own monitor and published through a volatile field. Only writers (holding the
   * write lock, so no reader is inside) change the map afterwards.
   */
  private LongIntHashMap idMap() {
    LongIntHashMap m = idToRow;
    if (m == null) {
      synchronized (idMapBuild) {
        m = idToRow;
        if (m == null) {
          m = new LongIntHashMap(Math.max(16, rows));
          for (int r = 0; r < rows; r++) {
            m.put(ids.getAtIndex(JAVA_LONG_UNALIGNED, r), r);
          }
          idToRow = m;
        }
      }
    }
    return m;
  }

  /** Ensures owned, writable storage with room for {@code need} rows. */
  private void makeWritable(int need) {
    if (writable && need <= capacity) {
      return;
    }
    int newCap = capacity;
    if (need > capacity) {
      newCap = (int) Math.min(MAX_ROWS, Math.max(need, capacity + (capacity >> 1) + 16L));
    }
    allocate(newCap, rows);
  }

  /** Moves the table into fresh owned segments of the given capacity, copying the first n rows. */
  private void allocate(int newCap, int n) {
    Arena next = Arena.ofShared();
    MemorySegment c = next.allocate((long) newCap * codeBytes + PADDING, 64);
    MemorySegment f = dim > 0 ? next.allocate((long) newCap * dim * 4 + PADDING, 64) : MemorySegment.NULL;
    MemorySegment i = next.allocate(newCap * 8L + PADDING, 64);
    MemorySegment l = hasLabels ? next.allocate(newCap * 4L + PADDING, 64) : MemorySegment.NULL;
    MemorySegment t = MemorySegment.NULL;
    if (n > 0) {
      MemorySegment.copy(codes, 0, c, 0, (long) n * codeBytes);
      MemorySegment.copy(ids, 0, i, 0, n * 8L);
      if (dim > 0) {
        MemorySegment.copy(features, 0, f, 0, (long) n * dim * 4);
      }
      if (hasLabels) {
        MemorySegment.copy(labels, 0, l, 0, n * 4L);
      }
    }
    if (tombstones.byteSize() != 0) {
      t = next.allocate(bitmapBytes(newCap), 8);
      MemorySegment.copy(tombstones, 0, t, 0, bitmapBytes(n));
    }
    releaseStorage();
    arena = next;
    codes = c;
    features = f;
    ids = i;
    labels = l;
    tombstones = t;
    capacity = newCap;
    writable = true;
  }

  private void releaseStorage() {
    if (arena != null) {
      arena.close();
      arena = null;
    }
    if (external != null) {
      try {
        external.close();
      } catch (Exception e) {
        throw new IllegalStateException("could not release the index mapping", e);
      }
      external = null;
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new IllegalStateException("the code table is closed");
    }
  }

  /** Frees the off-heap memory (or unmaps the index file). Idempotent. */
  @Override
  public void close() {
    lock.writeLock().lock();
    try {
      if (!closed) {
        closed = true;
        codes = features = ids = labels = tombstones = MemorySegment.NULL;
        if (multiIndex != null) {
          multiIndex.close();
          multiIndex = null;
        }
        releaseStorage();
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  @Override
  public String toString() {
    return "CodeTable[bits=" + bits + ", dim=" + dim + ", rows=" + rows + ", deleted=" + deleted + "]";
  }
}
