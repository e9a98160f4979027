package org.deephash.mih;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.stream.IntStream;
import org.deephash.SearchResult;
import org.deephash.internal.Ranking;
import org.deephash.spi.Queries;
import org.deephash.spi.TableView;

/**
 * Multi-index hashing (Norouzi, Punjani, Fleet, "Fast Exact Search in Hamming Space with
 * Multi-Index Hashing", TPAMI 2014): exact Hamming radius and k-NN search that probes hash tables
 * instead of scanning every code.
 *
 * <p>Each B-bit code is cut into m contiguous substrings of s_i bits (s_i <= 64), one table per
 * substring. By the pigeonhole principle a code within distance r of the query has, in some table
 * i, a substring within r_i of the query's, where r_i = floor(r/m) for the first (r mod m) + 1
 * tables and floor(r/m) - 1 for the rest (Norouzi's Proposition 2; tighter than floor(r/m) for
 * all). Every key within r_i is probed, each candidate is verified with the full distance, and a
 * candidate is kept only where it is first found (the dedupe rule below), so no set of seen rows is
 * needed. k-NN grows r from 0 until k rows within r are certain, probing only the keys each step
 * adds.
 *
 * <p>A table is a bucket array over h bits (offsets, 2^h + 1 ints) and the rows of each bucket
 * (one int per row): a compressed sparse row layout filled by a counting sort, off-heap, so a file
 * can map it. Where s_i <= h a bucket is the substring itself; longer substrings are hashed into
 * h bits, and the collisions are only extra candidates, removed by verification. Memory per code
 * and table: 4 bytes of row plus 4 x 2^h / rows of offsets; h is about log2(rows) - 2 (about four
 * rows a bucket), so about 5 bytes: 20 bytes a code for 64-bit codes in 4 tables.
 *
 * <p>It indexes the rows [0, {@link #rows()}) of a table as they were when it was built: rows
 * deleted since are skipped through the table's tombstones, rows added since (the tail) are
 * scanned. Results are exact and ordered like every backend's: distance, then ascending id.
 * Immutable after the build; searches may run concurrently.
 *
 * <p>Hand-written: no library on the class path offers exact multi-index hashing over off-heap
 * codes (FAISS's IndexBinaryMultiHash is C++ and keeps its tables in std containers).
 */
public final class MultiIndex implements AutoCloseable {
  /** Substrings longer than this would need keys wider than a long. */
  static final int MAX_SUBSTRING_BITS = 64;
  /** Most tables (4096-bit codes need 64 of 64 bits). */
  public static final int MAX_TABLES = 64;
  /** Bucket-array bits are kept in [MIN_BUCKET_BITS, MAX_BUCKET_BITS]. */
  static final int MIN_BUCKET_BITS = 8;
  static final int MAX_BUCKET_BITS = 26;

  private final int bits;
  private final int codeBytes;
  private final int rows;
  private final Layout layout;
  private final MemorySegment[] offsets;
  private final MemorySegment[] bucketRows;
  private final Arena arena;
  private final AutoCloseable owner;

  /** Where each substring lies in the code and how it is bucketed. */
  record Layout(int bits, int[] start, int[] length, int[] bucketBits) {
    int tables() {
      return start.length;
    }

    boolean direct(int i) {
      return length[i] <= bucketBits[i];
    }

    /** The substring of table i taken from a code's little-endian words. */
    long key(int i, long[] words) {
      int s = start[i];
      int w = s >>> 6;
      int b = s & 63;
      long v = words[w] >>> b;
      if (b + length[i] > 64) {
        v |= words[w + 1] << (64 - b);
      }
      return length[i] == 64 ? v : v & ((1L << length[i]) - 1);
    }

    /** The bucket of a substring key in table i. */
    int bucket(int i, long key) {
      if (direct(i)) {
        return (int) key;
      }
      // a murmur3 finaliser: every key bit reaches the top h bits
      long z = key;
      z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
      z = (z ^ (z >>> 33)) * 0xc4ceb9fe1a85ec53L;
      z ^= z >>> 33;
      return (int) (z >>> (64 - bucketBits[i]));
    }

    /** Hamming distance between the substrings of table i of two XORed codes. */
    int distance(int i, long[] xor) {
      return Long.bitCount(key(i, xor));
    }
  }

  /**
   * The layout for a table of {@code rows} codes of {@code bits} bits: m tables (0 = Norouzi's
   * choice, B / log2(rows), at least ceil(B/64)), substrings as equal as possible.
   */
  static Layout layout(int bits, int rows, int m) {
    int logN = Math.max(1, 64 - Long.numberOfLeadingZeros(Math.max(1, rows - 1)));
    int minTables = (bits + MAX_SUBSTRING_BITS - 1) / MAX_SUBSTRING_BITS;
    int tables = m > 0 ? m : (int) Math.round((double) bits / logN);
    int maxTables = Math.min(bits, MAX_TABLES);
    tables = Math.max(minTables, Math.min(maxTables, Math.max(1, tables)));
    if (m > 0 && tables != m) {
      throw new IllegalArgumentException("cannot cut " + bits + "-bit codes into " + m + " substrings of at most "
          + MAX_SUBSTRING_BITS + " bits: use " + minTables + " to " + maxTables + " tables");
    }
    int[] start = new int[tables];
    int[] length = new int[tables];
    int[] bucketBits = new int[tables];
    // about four rows a bucket: at most a byte of offsets per code and table
    int h = Math.max(MIN_BUCKET_BITS, Math.min(MAX_BUCKET_BITS, logN - 2));
    int at = 0;
    for (int i = 0; i < tables; i++) {
      length[i] = bits / tables + (i < bits % tables ? 1 : 0);
      start[i] = at;
      at += length[i];
      bucketBits[i] = Math.min(length[i], h);
    }
    return new Layout(bits, start, length, bucketBits);
  }

  private MultiIndex(int bits, int codeBytes, int rows, Layout layout, MemorySegment[] offsets,
      MemorySegment[] bucketRows, Arena arena) {
    this(bits, codeBytes, rows, layout, offsets, bucketRows, arena, null);
  }

  private MultiIndex(int bits, int codeBytes, int rows, Layout layout, MemorySegment[] offsets,
      MemorySegment[] bucketRows, Arena arena, AutoCloseable owner) {
    this.owner = owner;
    this.bits = bits;
    this.codeBytes = codeBytes;
    this.rows = rows;
    this.layout = layout;
    this.offsets = offsets;
    this.bucketRows = bucketRows;
    this.arena = arena;
  }

  /**
   * Builds the tables over the live rows of {@code t}, with {@code m} tables (0 = automatic).
   * One counting sort per table, tables in parallel.
   */
  public static MultiIndex build(TableView t, int m) {
    return build(t, m, false);
  }

  /**
   * Builds the tables; with {@code compact} the rows are numbered among the live rows only (row
   * i = the i-th live row), as a saved file that drops deleted rows numbers them.
   */
  public static MultiIndex build(TableView t, int m, boolean compact) {
    int indexed = compact ? t.liveRows() : t.rows();
    Layout l = layout(t.bits(), indexed, m);
    Arena arena = Arena.ofShared();
    try {
      int tables = l.tables();
      MemorySegment[] offsets = new MemorySegment[tables];
      MemorySegment[] bucketRows = new MemorySegment[tables];
      int live = t.liveRows();
      for (int i = 0; i < tables; i++) {
        offsets[i] = arena.allocate(((1L << l.bucketBits()[i]) + 1) * 4, 64);
        bucketRows[i] = arena.allocate(Math.max(4, live * 4L), 64);
      }
      IntStream.range(0, tables).parallel().forEach(i -> fill(t, l, i, offsets[i], bucketRows[i], compact));
      return new MultiIndex(t.bits(), t.codeBytes(), indexed, l, offsets, bucketRows, arena);
    } catch (RuntimeException | Error e) {
      arena.close();
      throw e;
    }
  }

  /** Counting sort of the live rows by their bucket in table i (keys computed twice: no per-row array). */
  private static void fill(TableView t, Layout l, int i, MemorySegment off, MemorySegment out, boolean compact) {
    int buckets = 1 << l.bucketBits()[i];
    int[] next = new int[buckets + 1];
    long[] words = new long[wordsOf(t.bits()) + 1];
    for (int r = 0; r < t.rows(); r++) {
      if (t.isLive(r)) {
        read(t.codes(), (long) r * t.codeBytes(), t.codeBytes(), words);
        next[l.bucket(i, l.key(i, words)) + 1]++;
      }
    }
    for (int b = 0; b < buckets; b++) {
      next[b + 1] += next[b];
    }
    MemorySegment.copy(next, 0, off, JAVA_INT, 0, buckets + 1);
    int rank = 0;
    for (int r = 0; r < t.rows(); r++) {
      if (t.isLive(r)) {
        read(t.codes(), (long) r * t.codeBytes(), t.codeBytes(), words);
        out.setAtIndex(JAVA_INT, next[l.bucket(i, l.key(i, words))]++, compact ? rank : r);
        rank++;
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Persistence: the layout and each table's two arrays, for a file's sections

  /** The layout as ints: tables, then (start, length, bucket bits) per table. */
  public int[] layoutInts() {
    int m = layout.tables();
    int[] out = new int[1 + 3 * m];
    out[0] = m;
    for (int i = 0; i < m; i++) {
      out[1 + 3 * i] = layout.start()[i];
      out[2 + 3 * i] = layout.length()[i];
      out[3 + 3 * i] = layout.bucketBits()[i];
    }
    return out;
  }

  /** Table i's bucket offsets (2^h + 1 ints) and its rows, as stored. */
  public MemorySegment offsets(int i) {
    return offsets[i];
  }

  public MemorySegment bucketRows(int i) {
    return bucketRows[i].asSlice(0, offsets[i].getAtIndex(JAVA_INT, (1L << layout.bucketBits()[i])) * 4L);
  }

  /**
   * Tables over segments read elsewhere (a mapped file), checked for consistency: a layout that
   * covers {@code bits} bits in order, offset arrays of the right length that never decrease and
   * end at the length of their rows. Row values are checked as they are used. {@code owner} (may be
   * null) is closed with the index. Throws {@link IllegalArgumentException} saying what is wrong.
   */
  public static MultiIndex wrap(int bits, int codeBytes, int rows, int[] layoutInts, MemorySegment[] offsets,
      MemorySegment[] bucketRows, AutoCloseable owner) {
    int m = layoutInts.length == 0 ? 0 : layoutInts[0];
    if (m < 1 || m > MAX_TABLES || layoutInts.length != 1 + 3 * m || offsets.length != m || bucketRows.length != m) {
      throw new IllegalArgumentException("the multi-index layout names " + m + " tables inconsistently");
    }
    int[] start = new int[m];
    int[] length = new int[m];
    int[] bucketBits = new int[m];
    int at = 0;
    for (int i = 0; i < m; i++) {
      start[i] = layoutInts[1 + 3 * i];
      length[i] = layoutInts[2 + 3 * i];
      bucketBits[i] = layoutInts[3 + 3 * i];
      if (start[i] != at || length[i] < 1 || length[i] > MAX_SUBSTRING_BITS || bucketBits[i] < 1
          || bucketBits[i] > Math.min(length[i], MAX_BUCKET_BITS)) {
        throw new IllegalArgumentException("multi-index table " + i + " has an invalid substring (start " + start[i]
            + ", " + length[i] + " bits, " + bucketBits[i] + " bucket bits)");
      }
      at += length[i];
      long buckets = 1L << bucketBits[i];
      if (offsets[i].byteSize() != (buckets + 1) * 4) {
        throw new IllegalArgumentException("multi-index table " + i + " has " + offsets[i].byteSize()
            + " bytes of offsets, needs " + (buckets + 1) * 4);
      }
      int prev = 0;
      for (long b = 0; b <= buckets; b++) {
        int o = offsets[i].getAtIndex(JAVA_INT, b);
        if (o < prev) {
          throw new IllegalArgumentException("multi-index table " + i + ": bucket offsets decrease at " + b);
        }
        prev = o;
      }
      if ((long) prev * 4 != bucketRows[i].byteSize() || prev > rows) {
        throw new IllegalArgumentException("multi-index table " + i + " lists " + prev + " rows in "
            + bucketRows[i].byteSize() + " bytes for a table of " + rows + " rows");
      }
    }
    if (at != bits) {
      throw new IllegalArgumentException("the multi-index substrings cover " + at + " of " + bits + " bits");
    }
    Arena none = null;
    return new MultiIndex(bits, codeBytes, rows, new Layout(bits, start, length, bucketBits), offsets, bucketRows,
        none, owner);
  }

  static int wordsOf(int bits) {
    return (bits + 63) >>> 6;
  }

  /** A code's little-endian 64-bit words (the last masked to the code's width). */
  static void read(MemorySegment codes, long offset, int codeBytes, long[] words) {
    int full = codeBytes >>> 3;
    for (int w = 0; w < full; w++) {
      words[w] = codes.get(JAVA_LONG_UNALIGNED, offset + 8L * w);
    }
    int rest = codeBytes & 7;
    if (rest != 0) {
      // the table keeps readable padding after the last code, so a whole word can be read and masked
      words[full] = codes.get(JAVA_LONG_UNALIGNED, offset + 8L * full) & ((1L << (8 * rest)) - 1);
    }
  }

  /** Rows [0, rows()) of the table as it was built are indexed; later rows are scanned. */
  public int rows() {
    return rows;
  }

  public int tables() {
    return layout.tables();
  }

  public int bits() {
    return bits;
  }

  /** Substring lengths, one per table. */
  public int[] substringBits() {
    return layout.length().clone();
  }

  /** Off-heap bytes of the tables. */
  public long bytes() {
    long b = 0;
    for (int i = 0; i < offsets.length; i++) {
      b += offsets[i].byteSize() + bucketRows[i].byteSize();
    }
    return b;
  }

  /** Whether this index was built for {@code t}'s codes (same width and at most its rows). */
  public boolean fits(TableView t) {
    return t.bits() == bits && t.codeBytes() == codeBytes && t.rows() >= rows;
  }

  // ------------------------------------------------------------------------------------------
  // Search

  /** What one query found: {distance, id, row} entries in the arrays, n of them. */
  private static final class Found {
    int[] dist = new int[64];
    long[] id = new long[64];
    int[] row = new int[64];
    int n;

    void add(int d, long i, int r) {
      if (n == dist.length) {
        dist = Arrays.copyOf(dist, n * 2);
        id = Arrays.copyOf(id, n * 2);
        row = Arrays.copyOf(row, n * 2);
      }
      dist[n] = d;
      id[n] = i;
      row[n] = r;
      n++;
    }
  }

  /** Per-query probe state for one search. */
  private final class Probe {
    final TableView t;
    final long[] q;
    final long[] c;
    final long[] x;
    final long[] qkeys;
    /** Radius already probed per table (-1: none). */
    final int[] done;
    final Found found = new Found();
    /** Probes and verified candidates, for the cost accounting of k-NN. */
    long probes;
    long candidates;

    Probe(TableView t, MemorySegment queryCodes, int query) {
      this.t = t;
      int words = wordsOf(bits);
      q = new long[words + 1];
      c = new long[words + 1];
      x = new long[words + 1];
      read(queryCodes, (long) query * codeBytes, codeBytes, q);
      qkeys = new long[layout.tables()];
      for (int i = 0; i < qkeys.length; i++) {
        qkeys[i] = layout.key(i, q);
      }
      done = new int[layout.tables()];
      Arrays.fill(done, -1);
    }

    /** Probes every table up to radii {@code to} (from {@code done}), verifying what is new. */
    void advance(int[] to) {
      int[] before = done.clone();
      for (int i = 0; i < to.length; i++) {
        for (int rho = done[i] + 1; rho <= to[i]; rho++) {
          probeShell(i, rho, before, to);
        }
      }
      System.arraycopy(to, 0, done, 0, to.length);
    }

    /** Every key at exactly distance rho from the query's substring in table i. */
    private void probeShell(int i, int rho, int[] before, int[] to) {
      int s = layout.length()[i];
      if (rho > s) {
        return;
      }
      int[] pos = new int[rho];
      for (int j = 0; j < rho; j++) {
        pos[j] = j;
      }
      while (true) {
        long key = qkeys[i];
        for (int j = 0; j < rho; j++) {
          key ^= 1L << pos[j];
        }
        bucket(i, key, before, to);
        // next combination of rho positions out of s
        int j = rho - 1;
        while (j >= 0 && pos[j] == s - rho + j) {
          j--;
        }
        if (j < 0) {
          return;
        }
        pos[j]++;
        for (int l = j + 1; l < rho; l++) {
          pos[l] = pos[l - 1] + 1;
        }
      }
    }

    private void bucket(int i, long key, int[] before, int[] to) {
      probes++;
      int b = layout.bucket(i, key);
      int from = offsets[i].getAtIndex(JAVA_INT, b);
      int end = offsets[i].getAtIndex(JAVA_INT, b + 1);
      MemorySegment rowsOf = bucketRows[i];
      for (int p = from; p < end; p++) {
        int r = rowsOf.getAtIndex(JAVA_INT, p);
        if (r < 0 || r >= rows) {
          throw new IllegalStateException("multi-index table " + i + " names row " + r + " of " + rows
              + ": the tables are corrupt; rebuild them (engine-cli import --mih)");
        }
        read(t.codes(), (long) r * codeBytes, codeBytes, c);
        for (int w = 0; w < x.length; w++) {
          x[w] = q[w] ^ c[w];
        }
        if (!layout.direct(i) && layout.key(i, c) != key) {
          continue; // a hash collision: another substring shares the bucket (and is probed on its own)
        }
        if (!firstFound(i, before, to)) {
          continue;
        }
        if (!t.isLive(r)) {
          continue;
        }
        candidates++;
        int d = 0;
        for (long v : x) {
          d += Long.bitCount(v);
        }
        found.add(d, t.id(r), r);
      }
    }

    /**
     * The dedupe rule: a row reached in table i in this step is verified here only if no earlier
     * step reached it (its substring distance in some table j is within the radius probed before
     * this step) and no earlier table of this step did (j < i within this step's radius).
     */
    private boolean firstFound(int i, int[] before, int[] to) {
      for (int j = 0; j < before.length; j++) {
        if (before[j] >= 0 && layout.distance(j, x) <= before[j]) {
          return false;
        }
        if (j < i && layout.distance(j, x) <= to[j]) {
          return false;
        }
      }
      return true;
    }

    /** Rows [from, t.rows()) within maxDist, scanned: the tail (rows added since the build) or all. */
    void scanFrom(int from, int maxDist) {
      for (int r = from; r < t.rows(); r++) {
        if (!t.isLive(r)) {
          continue;
        }
        read(t.codes(), (long) r * codeBytes, codeBytes, c);
        int d = 0;
        for (int w = 0; w < q.length; w++) {
          d += Long.bitCount(q[w] ^ c[w]);
        }
        if (d <= maxDist) {
          found.add(d, t.id(r), r);
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // Cost model: relative work of probing the tables against scanning every row. The weights are
  // per operation, in units of one 64-bit code word of a batched SIMD scan (the native backend
  // scans a code word of a batch in about 0.05-0.1 ns a query; a probe here is a random access
  // into the offsets and about 10-20 ns, a candidate a random access into the codes plus its
  // verification, about 5-10 ns).

  static final double PROBE_WEIGHT = 200;
  static final double CANDIDATE_WEIGHT = 100;

  /** Keys within {@code radius} of a key of {@code s} bits: sum of C(s, j), saturating. */
  static double keysWithin(int s, int radius) {
    double total = 0;
    double c = 1;
    for (int j = 0; j <= Math.min(radius, s); j++) {
      total += c;
      c = c * (s - j) / (j + 1);
    }
    return total;
  }

  /** The work of probing every table to the given radii, for one query. */
  double probeCost(int[] radii) {
    double cost = 0;
    for (int i = 0; i < radii.length; i++) {
      double perBucket = (double) rows / (1L << layout.bucketBits()[i]);
      cost += keysWithin(layout.length()[i], radii[i]) * (PROBE_WEIGHT + perBucket * CANDIDATE_WEIGHT);
    }
    return cost;
  }

  /** The work of scanning every row of {@code t} for one query. */
  double scanCost(TableView t) {
    return (double) t.rows() * wordsOf(bits);
  }

  /**
   * Work of a radius-r search with the tables relative to a scan of {@code t} (below 1: the tables
   * are cheaper). Rows added since the build are scanned either way.
   */
  public double radiusCostRatio(TableView t, int r) {
    return (probeCost(radii(r)) + (double) (t.rows() - rows) * wordsOf(bits)) / scanCost(t);
  }

  /** The per-table radii that cover every code within r (Norouzi's Proposition 2). */
  int[] radii(int r) {
    int m = layout.tables();
    int base = r / m;
    int a = r % m;
    int[] out = new int[m];
    for (int i = 0; i < m; i++) {
      out[i] = Math.min(layout.length()[i], i <= a ? base : base - 1);
    }
    return out;
  }

  /**
   * Every live code within Hamming distance r of each query, ranked by (distance, id), at most
   * {@code cap} per query; truncated where more were within r.
   */
  public SearchResult radius(TableView t, Queries qs, int r, int cap) {
    boolean[] truncated = new boolean[qs.count()];
    return pack(radiusFound(t, qs, r, cap, truncated), truncated);
  }

  /** A Hamming pool: per query [offsets[q], offsets[q+1]) of rows and their distances, ranked. */
  public record Pool(int[] offsets, int[] rows, int[] hamming) {}

  /** The rows of {@link #radius}, for a coarse-to-fine pool. */
  public Pool radiusPool(TableView t, Queries qs, int r, int cap) {
    Found[] f = radiusFound(t, qs, r, cap, new boolean[qs.count()]);
    int[] off = new int[f.length + 1];
    for (int q = 0; q < f.length; q++) {
      off[q + 1] = off[q] + f[q].n;
    }
    int[] rows = new int[off[f.length]];
    int[] ham = new int[rows.length];
    for (int q = 0; q < f.length; q++) {
      System.arraycopy(f[q].row, 0, rows, off[q], f[q].n);
      System.arraycopy(f[q].dist, 0, ham, off[q], f[q].n);
    }
    return new Pool(off, rows, ham);
  }

  private Found[] radiusFound(TableView t, Queries qs, int r, int cap, boolean[] truncated) {
    int n = qs.count();
    Found[] out = new Found[n];
    int[] radii = radii(r);
    boolean scan = radiusCostRatio(t, r) >= 1;
    forEachQuery(n, q -> {
      Probe p = new Probe(t, qs.codes(), q);
      if (scan) {
        p.scanFrom(0, r);
      } else {
        p.advance(radii);
        p.scanFrom(rows, r);
      }
      Found f = keepWithin(p.found, r);
      Ranking.sort(f.dist, f.id, f.row, 0, f.n);
      truncated[q] = f.n > cap;
      f.n = Math.min(f.n, cap);
      out[q] = f;
    });
    return out;
  }

  /**
   * Top-k of each query by growing the radius until k live codes within it are certain. A query
   * whose next radius would cost more than scanning the table is finished by a scan instead, so the
   * answer is always exact; {@link Knn#scanned()} counts those queries.
   */
  public Knn knn(TableView t, Queries qs, int k) {
    return knn(t, qs, k, 1.0, false);
  }

  /**
   * Top-k as {@link #knn}, or null for the whole batch as soon as one query's next radius would
   * cost more than {@code ratio} of a scan: the caller then scans (with a faster scanner than
   * this class has).
   */
  public SearchResult tryKnn(TableView t, Queries qs, int k, double ratio) {
    Knn r = knn(t, qs, k, ratio, true);
    return r == null ? null : r.result();
  }

  private Knn knn(TableView t, Queries qs, int k, double ratio, boolean giveUp) {
    int n = qs.count();
    Found[] out = new Found[n];
    java.util.concurrent.atomic.AtomicInteger scanned = new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicBoolean over = new java.util.concurrent.atomic.AtomicBoolean();
    double budget = scanCost(t) * ratio;
    forEachQuery(n, q -> {
      if (over.get()) {
        return;
      }
      Probe p = new Probe(t, qs.codes(), q);
      int want = Math.min(k, t.liveRows());
      for (int r = 0; r <= bits; r++) {
        int[] radii = radii(r);
        if (probeCost(radii) > budget) {
          if (giveUp) {
            over.set(true);
            return;
          }
          scanned.incrementAndGet();
          p.found.n = 0;
          p.scanFrom(0, bits);
          out[q] = top(p.found, bits, want);
          return;
        }
        p.advance(radii);
        int within = 0;
        for (int i = 0; i < p.found.n; i++) {
          if (p.found.dist[i] <= r) {
            within++;
          }
        }
        if (within + countTail(t, p, r) >= want || r == bits) {
          p.scanFrom(rows, bits);
          out[q] = top(p.found, r, want);
          return;
        }
      }
    });
    return over.get() ? null : new Knn(pack(out, null), scanned.get());
  }

  /** A k-NN answer and how many of its queries were finished by a scan. */
  public record Knn(SearchResult result, int scanned) {}

  /** The first {@code want} entries within r by (distance, id). */
  private static Found top(Found found, int r, int want) {
    Found f = keepWithin(found, r);
    Ranking.sort(f.dist, f.id, f.row, 0, f.n);
    f.n = Math.min(f.n, want);
    return f;
  }

  /** Live tail rows within r (the tail is small: rows added since the build). */
  private int countTail(TableView t, Probe p, int r) {
    if (t.rows() == rows) {
      return 0;
    }
    int count = 0;
    for (int row = rows; row < t.rows(); row++) {
      if (t.isLive(row)) {
        read(t.codes(), (long) row * codeBytes, codeBytes, p.c);
        int d = 0;
        for (int w = 0; w < p.q.length; w++) {
          d += Long.bitCount(p.q[w] ^ p.c[w]);
        }
        if (d <= r) {
          count++;
        }
      }
    }
    return count;
  }

  private static Found keepWithin(Found f, int r) {
    Found out = new Found();
    for (int i = 0; i < f.n; i++) {
      if (f.dist[i] <= r) {
        out.add(f.dist[i], f.id[i], f.row[i]);
      }
    }
    return out;
  }

  private static void forEachQuery(int n, java.util.function.IntConsumer body) {
    if (n == 1) {
      body.accept(0);
    } else {
      IntStream.range(0, n).parallel().forEach(body);
    }
  }

  private static SearchResult pack(Found[] per, boolean[] truncated) {
    int[] off = new int[per.length + 1];
    for (int q = 0; q < per.length; q++) {
      off[q + 1] = off[q] + per[q].n;
    }
    long[] ids = new long[off[per.length]];
    int[] dist = new int[ids.length];
    for (int q = 0; q < per.length; q++) {
      System.arraycopy(per[q].id, 0, ids, off[q], per[q].n);
      System.arraycopy(per[q].dist, 0, dist, off[q], per[q].n);
    }
    return SearchResult.of(off, ids, dist, null, truncated);
  }

  @Override
  public void close() {
    if (arena != null) {
      arena.close();
    }
    if (owner != null) {
      try {
        owner.close();
      } catch (Exception e) {
        throw new IllegalStateException("could not release the multi-index tables", e);
      }
    }
  }
}
