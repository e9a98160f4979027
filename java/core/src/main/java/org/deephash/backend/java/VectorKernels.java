package org.deephash.backend.java;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import org.deephash.spi.TableView;

/**
 * The Java backend's loops with the Vector API (loaded only when {@code jdk.incubator.vector} is
 * in the JVM; see {@link JavaBackendProvider}).
 *
 * <p>Hamming: every width is scanned word-planar, as the native AVX-512 kernels do: lane i of
 * plane w holds word w of row i of a group of L rows (L = 64-bit lanes per vector), so a row's
 * distance is summed across words with vertical adds and no horizontal reduction. 64-bit codes
 * are planar as stored; wider ones are transposed once per tile into a scratch array that every
 * query block of the task reuses. One loaded plane serves 4 queries. The threshold test of a
 * group is one AND of biased distances (d + (2^63 - 1 - thr) has its sign bit clear exactly when
 * d <= thr) and one sign test, instead of a mask compare per query.
 *
 * <p>Euclidean: exhaustive search over transposed panels of 2L rows, 4 queries x 2 vectors of
 * accumulators; the fine stage's scattered rows 4 at a time in place; with the squared norms, and
 * {@link FloatTopK} bounding the rounding.
 */
final class VectorKernels implements Kernels {
  private static final VectorSpecies<Long> LONGS = LongVector.SPECIES_PREFERRED;
  private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;
  /** Bytes and ints with as many lanes as FLOATS: the 8-bit codes widened to floats (dots8). */
  private static final VectorSpecies<Byte> CODE_BYTES =
      VectorSpecies.of(byte.class, VectorShape.forBitSize(FLOATS.length() * 8));
  private static final VectorSpecies<Integer> CODE_INTS = IntVector.SPECIES_PREFERRED;
  private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
  /** One 64-bit code as the vectors read it. */
  private static final ValueLayout.OfLong CODE_WORD = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
  /** Rows transposed per tile: the planes of a tile stay in L2 for every query block. */
  private static final int TILE_WORDS = 32768;

  @Override
  public String describe() {
    return "Vector API, " + LONGS.length() + " x 64-bit lanes";
  }

  /** Whether vectors are wide enough to beat scalar POPCNT (at least 4 longs: AVX2, AVX-512). */
  static boolean worthwhile() {
    // and at most 8, so that a group's lane mask fits scan4Codes's flag byte (and 4 queries' masks
    // one long): up to 512-bit vectors
    return LONGS.length() >= 4 && LONGS.length() <= 8;
  }

  @Override
  public void hamming(TableView t, MemorySegment qc, int q0, int qn, TopK[] st, int r0, int r1, Scratch scratch) {
    int cb = t.codeBytes();
    int words = (cb + 7) / 8;
    int lanes = LONGS.length();
    long[] qw = new long[qn * words];
    for (int j = 0; j < qn; j++) {
      for (int w = 0; w < words; w++) {
        qw[j * words + w] = ScalarKernels.word(qc, (long) (q0 + j) * cb, w, cb);
      }
    }
    if (cb == 8) {
      // stored rows are one plane: groups of L rows every 8 L bytes
      int full = r0 + (r1 - r0) / lanes * lanes;
      scanPlanes(null, t.codes(), r0, 1, qw, qn, st, r0, full, scratch, t.bits());
      if (full < r1) {
        ScalarKernels.scan64(t, qc, q0, qn, st, full, r1);
      }
      return;
    }
    int tile = Math.max(lanes, TILE_WORDS / words / lanes * lanes);
    long[] planes = scratch.longs(tile * words);
    for (int t0 = r0; t0 < r1; t0 += tile) {
      int t1 = Math.min(r1, t0 + tile);
      int full = t0 + (t1 - t0) / lanes * lanes;
      transpose(t.codes(), cb, words, lanes, t0, full, planes);
      scanPlanes(planes, null, t0, words, qw, qn, st, t0, full, scratch, t.bits());
      if (full < t1) {
        ScalarKernels.scanGeneric(t, qc, q0, qn, st, full, t1);
      }
    }
  }

  /** Rows [r0, r1) (a multiple of L) into planes [group][word][lane], last word masked. */
  private static void transpose(MemorySegment codes, int cb, int words, int lanes, int r0, int r1, long[] planes) {
    for (int r = r0; r < r1; r++) {
      int i = r - r0;
      int base = (i / lanes) * words * lanes + i % lanes;
      long off = (long) r * cb;
      for (int w = 0; w < words; w++) {
        planes[base + w * lanes] = ScalarKernels.word(codes, off, w, cb);
      }
    }
  }

  /**
   * Queries in blocks of 4 (then singly) over groups of L rows [r0, r1): from {@code planes}
   * (group g at g * words * L, rows from {@code base}) or, for 64-bit codes, from {@code codes}.
   * The two sources have loops of their own: one call site loading vectors from either a segment
   * or an array measured 4x slower (C2 then keeps the vectors as objects).
   */
  private static void scanPlanes(long[] planes, MemorySegment codes, int base, int words, long[] qw, int qn,
      TopK[] st, int r0, int r1, Scratch scratch, int bits) {
    int[] hit = scratch.hits;
    long[] tmp = scratch.lanes;
    int j = 0;
    if (planes == null && LONGS.length() == 8) {
      for (; j + 8 <= qn; j += 8) {
        scan8Codes(codes, qw, j, st, r0, r1, scratch, tmp, bits);
      }
    }
    for (; j + 4 <= qn; j += 4) {
      if (planes == null) {
        scan4Codes(codes, qw, j, st, r0, r1, scratch.flags);
      } else {
        scan4Planes(planes, base, words, qw, j, st, r0, r1, scratch.flags, tmp);
      }
    }
    for (; j < qn; j++) {
      if (planes == null) {
        scan1Codes(codes, qw, j, st[j], r0, r1, hit, tmp);
      } else {
        scan1Planes(planes, base, words, qw, j, st[j], r0, r1, hit, tmp);
      }
    }
  }

  private static long bias(int thr) {
    return Long.MAX_VALUE - thr;
  }

  private static LongVector popc(LongVector p, long q) {
    return p.lanewise(VectorOperators.XOR, q).lanewise(VectorOperators.BIT_COUNT);
  }

  /**
   * The same with the query already broadcast: loops over a memory segment keep the broadcast of a
   * scalar inside the loop (the segment loads stop C2 from hoisting it), which made the 64-bit
   * loops up to 1.4x slower.
   */
  private static LongVector popc(LongVector p, LongVector q) {
    return p.lanewise(VectorOperators.XOR, q).lanewise(VectorOperators.BIT_COUNT);
  }

  /** Groups of rows whose threshold test runs before any candidate is pushed (see scan4Codes). */
  static final int CHUNK = 1024;
  /**
   * The first chunk of a block of queries, doubled up to CHUNK: a chunk is tested against the
   * thresholds it starts with, and a small k's thresholds fall from B within its first few hundred
   * rows (scan8Codes starts a block still at B smaller still, with the rows its k needs).
   */
  static final int FIRST_CHUNK = 32;
  /**
   * Pushes the passing (query, lane) pairs of the group at row r: query i's lanes in bits
   * i L .. i L + L - 1 of {@code bits}, query-major so that each query's rows arrive in ascending
   * order. The distance again, scalar: a load from the vector just stored to an array waited for
   * the store to retire, and that wait was most of a k = 1000 search.
   */
  private static void pushBits(MemorySegment codes, long[] qw, int j, TopK[] st, int r, long bits) {
    int lanes = LONGS.length();
    while (bits != 0) {
      int b = Long.numberOfTrailingZeros(bits);
      bits &= bits - 1;
      int i = b / lanes;
      int row = r + b - i * lanes;
      TopK s = st[j + i];
      int d = Long.bitCount(codes.get(CODE_WORD, (long) row * 8) ^ qw[j + i]);
      if (d <= s.thr) { // a push may have lowered it
        s.add(d, row);
      }
    }
  }

  /** scan4Codes reads its flag bytes a vector at a time (Kernels.Scratch pads them for it). */
  private static final VectorSpecies<Byte> FLAG_BYTES = ByteVector.SPECIES_PREFERRED;
  private static final int FLAG_LANES = FLAG_BYTES.length();

  /** Bit i set where group g0 + i (< groups) is flagged: FLAG_LANES flag bytes at a time. */
  private static long flagged(byte[] flags, int g0, int groups) {
    long word = ByteVector.fromArray(FLAG_BYTES, flags, g0).compare(VectorOperators.NE, (byte) 0).toLong();
    return groups - g0 < FLAG_LANES ? word & ((1L << (groups - g0)) - 1) : word;
  }

  /**
   * 64-bit codes, 4 queries per loaded vector of rows. Each chunk of groups is scanned twice:
   * first the threshold test alone, a flag byte per group (flag4Bytes), then the flagged groups
   * (found a vector of flags at a time) are recomputed and pushed. Vectors live into a slow path
   * inside the scan loop measured 2x slower.
   */
  private static void scan4Codes(MemorySegment codes, long[] qw, int j, TopK[] st, int r0, int r1, byte[] flags) {
    int lanes = LONGS.length();
    LongVector q0 = LongVector.broadcast(LONGS, qw[j]);
    LongVector q1 = LongVector.broadcast(LONGS, qw[j + 1]);
    LongVector q2 = LongVector.broadcast(LONGS, qw[j + 2]);
    LongVector q3 = LongVector.broadcast(LONGS, qw[j + 3]);
    for (int c0 = r0; c0 < r1; c0 += CHUNK * lanes) {
      int c1 = Math.min(r1, c0 + CHUNK * lanes);
      long t0 = bias(st[j].thr);
      long t1 = bias(st[j + 1].thr);
      long t2 = bias(st[j + 2].thr);
      long t3 = bias(st[j + 3].thr);
      int groups = (c1 - c0) / lanes;
      flag4Bytes(codes, qw, j, t0, t1, t2, t3, c0, c1, flags);
      for (int g0 = 0; g0 < groups; g0 += FLAG_LANES) {
        long word = flagged(flags, g0, groups);
        while (word != 0) {
          int r = c0 + (g0 + Long.numberOfTrailingZeros(word)) * lanes;
          word &= word - 1;
          // one mask of the group's passing (query, lane) pairs against the thresholds as they are
          // now, query-major so that each query's rows are pushed in ascending order
          LongVector p = LongVector.fromMemorySegment(LONGS, codes, (long) r * 8, LE);
          long bits = popc(p, q0).compare(VectorOperators.LE, (long) st[j].thr).toLong()
              | popc(p, q1).compare(VectorOperators.LE, (long) st[j + 1].thr).toLong() << lanes
              | popc(p, q2).compare(VectorOperators.LE, (long) st[j + 2].thr).toLong() << 2 * lanes
              | popc(p, q3).compare(VectorOperators.LE, (long) st[j + 3].thr).toLong() << 3 * lanes;
          pushBits(codes, qw, j, st, r, bits);
        }
      }
    }
  }

  /**
   * scan4Codes's threshold test over the groups of rows [c0, c1) (biased thresholds t0..t3): flag
   * byte g is nonzero where a query passes in group g. No branch: at a large k many groups pass
   * (about 1 in 20 at k = 1000 over a million rows) and a branch per group mispredicted on each of
   * them, which took a third of such a search; a list of flagged groups written without a branch
   * (an index store every group, the count advanced by the test) needed more registers than C2
   * had and was 1.5 times slower at k = 10. A method of its own, called once per chunk: inside
   * scan4Codes, C2 reached its inlining cutoff and boxed the vectors.
   */
  private static void flag4Bytes(MemorySegment codes, long[] qw, int j, long t0, long t1, long t2, long t3, int c0,
      int c1, byte[] flags) {
    int lanes = LONGS.length();
    LongVector q0 = LongVector.broadcast(LONGS, qw[j]);
    LongVector q1 = LongVector.broadcast(LONGS, qw[j + 1]);
    LongVector q2 = LongVector.broadcast(LONGS, qw[j + 2]);
    LongVector q3 = LongVector.broadcast(LONGS, qw[j + 3]);
    LongVector b0 = LongVector.broadcast(LONGS, t0);
    LongVector b1 = LongVector.broadcast(LONGS, t1);
    LongVector b2 = LongVector.broadcast(LONGS, t2);
    LongVector b3 = LongVector.broadcast(LONGS, t3);
    for (int r = c0, g = 0; r < c1; r += lanes, g++) {
      LongVector p = LongVector.fromMemorySegment(LONGS, codes, (long) r * 8, LE);
      LongVector all = popc(p, q0).add(b0).and(popc(p, q1).add(b1)).and(popc(p, q2).add(b2))
          .and(popc(p, q3).add(b3));
      flags[g] = (byte) all.compare(VectorOperators.GE, 0L).toLong(); // L <= 8 lanes (worthwhile)
    }
  }

  /**
   * As scan4Codes with 8 queries per loaded vector of rows (512-bit vectors: 8 queries' bias and
   * query vectors fit the 32 registers): one load and one flag byte serve twice the queries (single
   * processes, alternating: k = 10 21.1-21.3 ms against 23.0-23.7 with blocks of 4, k = 1000
   * unchanged). After a chunk's threshold test, its push pass runs in three loops. The first lists
   * the flagged rows and their codes; the second tests each against the block's 8 queries in one
   * vector (query j in lane j) at the chunk's thresholds, a hit mask per row; the third pushes each
   * listed row to its passing queries (tested again: a push may have lowered a threshold since).
   * No iteration of the first two waits for another. One loop doing all three, each row's push
   * waiting on its test, took about 37 cycles a flagged row (isolated: 64 queries over 1M rows at
   * a fixed threshold), about 29 with the test in the listing loop; taking the test out of that
   * loop (with its data-dependent exit) made listing and testing a row 3.5-3.8 ns against 5.8-6.1
   * (isolated), a k = 1000 search 2-3% quicker (both builds in one JVM, paired). {@code thr}:
   * scratch for the block's thresholds, 8 longs; {@code bits}: the code width (B).
   */
  private static void scan8Codes(MemorySegment codes, long[] qw, int j, TopK[] st, int r0, int r1, Scratch scratch,
      long[] thr, int bits) {
    int lanes = LONGS.length();
    byte[] flags = scratch.flags;
    long[] rowHits = scratch.rowHits;
    long[] rowCodes = scratch.rowCodes;
    long[] t = new long[8];
    LongVector q = LongVector.fromArray(QUERIES8, qw, j);
    // a block whose thresholds are still the width (nothing seen yet) starts with the rows its
    // smallest k needs to lower them: every row of a chunk tested against B is listed and pushed
    // to all 8 queries, so a first chunk of 256 rows at k = 10 pushed 2048 entries where about
    // 160 are needed
    int fresh = Integer.MAX_VALUE;
    for (int i = 0; i < 8; i++) {
      if (st[j + i].thr >= bits) {
        fresh = Math.min(fresh, st[j + i].k);
      }
    }
    int first = fresh == Integer.MAX_VALUE ? FIRST_CHUNK : (int) Math.min(FIRST_CHUNK, fresh / lanes + 1L);
    for (int c0 = r0, span = first * lanes; c0 < r1; c0 += span, span = Math.min(2 * span, CHUNK * lanes)) {
      int c1 = Math.min(r1, c0 + span);
      for (int i = 0; i < 8; i++) {
        t[i] = bias(st[j + i].thr);
        thr[i] = st[j + i].thr;
      }
      int groups = (c1 - c0) / lanes;
      flag8Bytes(codes, qw, j, t, c0, c1, flags);
      LongVector tv = LongVector.fromArray(QUERIES8, thr, 0);
      int n = 0;
      for (int g0 = 0; g0 < groups; g0 += FLAG_LANES) {
        for (long word = flagged(flags, g0, groups); word != 0; word &= word - 1) {
          int g = g0 + Long.numberOfTrailingZeros(word);
          if (n + lanes > rowHits.length) {
            scratch.moreRows();
            rowHits = scratch.rowHits;
            rowCodes = scratch.rowCodes;
          }
          int rows = flags[g] & 0xff;
          do {
            int row = c0 + g * lanes + Integer.numberOfTrailingZeros(rows);
            rows &= rows - 1;
            rowHits[n] = row;
            rowCodes[n++] = codes.get(CODE_WORD, (long) row * 8);
          } while (rows != 0);
        }
      }
      for (int e = 0; e < n; e++) {
        long hit = q.lanewise(VectorOperators.XOR, rowCodes[e]).lanewise(VectorOperators.BIT_COUNT)
            .compare(VectorOperators.LE, tv).toLong();
        rowHits[e] |= hit << 32;
      }
      // a few rows (a small k's chunks) go through put: the direct path's set-up per chunk, 8
      // lists each way, made a k = 10 search 2.4% slower
      boolean direct = n >= DIRECT_ROWS;
      for (int i = 0; direct && i < 8; i++) {
        direct = st[j + i].hasRoom(n);
      }
      if (direct) {
        pushDirect(rowHits, rowCodes, n, qw, j, st, scratch.lists, scratch.ends);
        continue;
      }
      for (int e = 0; e < n; e++) {
        long hit = rowHits[e] >>> 32;
        int row = (int) rowHits[e];
        long code = rowCodes[e];
        while (hit != 0) {
          int i = Long.numberOfTrailingZeros(hit);
          hit &= hit - 1;
          st[j + i].put(Long.bitCount(code ^ qw[j + i]), row);
        }
      }
    }
  }

  /** The fewest listed rows of a chunk that scan8Codes pushes by pushDirect. */
  private static final int DIRECT_ROWS = 32;

  /**
   * scan8Codes's pushes of a chunk's n listed rows where every list of the block has room for them
   * (counted mode): each hit written straight into its query's list, and each list told once how
   * many it got. The thresholds stay those the chunk was tested against until then (a settle
   * within the chunk could only have lowered them for its last few rows). Through TopK.put, the
   * list's fields were loaded and its limit tested at every push.
   */
  private static void pushDirect(long[] rowHits, long[] rowCodes, int n, long[] qw, int j, TopK[] st,
      long[][] lists, int[] ends) {
    for (int i = 0; i < 8; i++) {
      lists[i] = st[j + i].list();
      ends[i] = st[j + i].end();
    }
    for (int e = 0; e < n; e++) {
      long hit = rowHits[e] >>> 32;
      long row = (int) rowHits[e];
      long code = rowCodes[e];
      while (hit != 0) {
        int i = Long.numberOfTrailingZeros(hit);
        hit &= hit - 1;
        lists[i][ends[i]++] = (long) Long.bitCount(code ^ qw[j + i]) << 32 | row;
      }
    }
    for (int i = 0; i < 8; i++) {
      st[j + i].appended(ends[i] - st[j + i].end());
      lists[i] = null;
    }
  }

  /** kthDistances's distance bytes, 64 at a time. */
  private static final VectorSpecies<Byte> DIST_BYTES = ByteVector.SPECIES_512;

  /** Whether kthDistances computes (8 lanes: 512-bit vectors), rather than leaving it to a search. */
  static boolean kthInBytes() {
    return LONGS.length() == 8;
  }

  /**
   * 64-bit codes with 8 lanes, n a multiple of 64: each query's distances to the rows as bytes
   * (XOR, VPOPCNTQ; 8 vectors of them packed into one by shifts), then the smallest T with at
   * least m of them {@code <= T}. While the bytes are made, they are counted at and around the
   * previous query's answer g (often the same or next to it): the counts at g - 1, g and g + 1
   * settle T = g or g + 1 at once, and otherwise bound a bisection over the stored bytes, each
   * step a count of 64 bytes a compare. The top-m search this replaces (and the sample of the
   * sample that started it) spent most of its time pushing candidates: a threshold starting at B
   * falls through about m (1 + ln(n / m)) of them, each listed, tested and appended. n = 32768,
   * m = 46, one thread: distances 2.6 us a query, counts 1.8 us by plain bisection; a batch's
   * sampled thresholds at k = 1000 took 3.7 ms of CPU against 6.0 (100 batches, timers in
   * scanSplit).
   */
  @Override
  public boolean kthDistances(MemorySegment codes, int cb, int n, MemorySegment qc, int q0, int qn, int m,
      int[] out, Scratch scratch) {
    if (cb != 8 || !kthInBytes() || n % DIST_BYTES.length() != 0 || m > n) {
      return false;
    }
    if (scratch.distances.length < n) {
      scratch.distances = new byte[n];
    }
    byte[] d = scratch.distances;
    for (int j = 0; j < qn; j++) {
      LongVector q = LongVector.broadcast(LONGS, qc.get(CODE_WORD, (long) (q0 + j) * 8));
      int g = j == 0 ? 32 : out[j - 1];
      byte below = (byte) (g - 1); // g <= 64: no byte wraps (g - 1 = -1 counts nothing)
      byte at = (byte) g;
      byte above = (byte) (g + 1);
      int cBelow = 0;
      int cAt = 0;
      int cAbove = 0;
      for (int r = 0; r < n; r += 64) {
        // 8 groups' distances (each < 256) in the 8 bytes of each lane: their order is not needed
        long off = (long) r * 8;
        LongVector v = popc(LongVector.fromMemorySegment(LONGS, codes, off, LE), q);
        for (int b = 1; b < 8; b++) {
          v = v.or(popc(LongVector.fromMemorySegment(LONGS, codes, off + 64L * b, LE), q)
              .lanewise(VectorOperators.LSHL, 8 * b));
        }
        ByteVector bytes = v.reinterpretAsBytes();
        bytes.intoArray(d, r);
        cBelow += bytes.compare(VectorOperators.LE, below).trueCount();
        cAt += bytes.compare(VectorOperators.LE, at).trueCount();
        cAbove += bytes.compare(VectorOperators.LE, above).trueCount();
      }
      if (cAt >= m) {
        out[j] = cBelow < m ? g : kth(d, n, m, 0, g - 1);
      } else {
        out[j] = cAbove >= m ? g + 1 : kth(d, n, m, g + 2, 64);
      }
    }
    return true;
  }

  /**
   * The smallest T in lo..hi with at least m of d[0, n) {@code <= T}, by bisection (at least m lie
   * within hi).
   */
  private static int kth(byte[] d, int n, int m, int lo, int hi) {
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (atMost(d, n, (byte) mid) >= m) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }

  /** How many of d[0, n) are {@code <= t} (n a multiple of 64). */
  private static int atMost(byte[] d, int n, byte t) {
    int c = 0;
    for (int i = 0; i < n; i += DIST_BYTES.length()) {
      c += ByteVector.fromArray(DIST_BYTES, d, i).compare(VectorOperators.LE, t).trueCount();
    }
    return c;
  }

  /** The 8 queries of scan8Codes's block in one vector (lane i = query i). */
  private static final VectorSpecies<Long> QUERIES8 = LongVector.SPECIES_512;
  /** scan8Codes's threshold test (biased thresholds t[0..7]), a flag byte per group. */
  private static void flag8Bytes(MemorySegment codes, long[] qw, int j, long[] t, int c0, int c1, byte[] flags) {
    int lanes = LONGS.length();
    LongVector q0 = LongVector.broadcast(LONGS, qw[j]);
    LongVector q1 = LongVector.broadcast(LONGS, qw[j + 1]);
    LongVector q2 = LongVector.broadcast(LONGS, qw[j + 2]);
    LongVector q3 = LongVector.broadcast(LONGS, qw[j + 3]);
    LongVector q4 = LongVector.broadcast(LONGS, qw[j + 4]);
    LongVector q5 = LongVector.broadcast(LONGS, qw[j + 5]);
    LongVector q6 = LongVector.broadcast(LONGS, qw[j + 6]);
    LongVector q7 = LongVector.broadcast(LONGS, qw[j + 7]);
    LongVector b0 = LongVector.broadcast(LONGS, t[0]);
    LongVector b1 = LongVector.broadcast(LONGS, t[1]);
    LongVector b2 = LongVector.broadcast(LONGS, t[2]);
    LongVector b3 = LongVector.broadcast(LONGS, t[3]);
    LongVector b4 = LongVector.broadcast(LONGS, t[4]);
    LongVector b5 = LongVector.broadcast(LONGS, t[5]);
    LongVector b6 = LongVector.broadcast(LONGS, t[6]);
    LongVector b7 = LongVector.broadcast(LONGS, t[7]);
    for (int r = c0, g = 0; r < c1; r += lanes, g++) {
      LongVector p = LongVector.fromMemorySegment(LONGS, codes, (long) r * 8, LE);
      LongVector all = popc(p, q0).add(b0).and(popc(p, q1).add(b1)).and(popc(p, q2).add(b2))
          .and(popc(p, q3).add(b3)).and(popc(p, q4).add(b4)).and(popc(p, q5).add(b5))
          .and(popc(p, q6).add(b6)).and(popc(p, q7).add(b7));
      flags[g] = (byte) all.compare(VectorOperators.GE, 0L).toLong();
    }
  }

  /** Groups of L rows tested together by one query (see scan1Codes). */
  private static final int UNROLL = 4;

  /**
   * One query over 64-bit codes. With a single query per loaded vector, the test and branch per
   * group cost as much as the distances: four groups share one (an AND of their biased distances
   * is negative in a lane exactly where all four fail), and a flagged block's groups are pushed
   * one by one in the second pass.
   */
  private static void scan1Codes(MemorySegment codes, long[] qw, int j, TopK s, int r0, int r1, int[] hit,
      long[] tmp) {
    int lanes = LONGS.length();
    int block = UNROLL * lanes;
    LongVector q = LongVector.broadcast(LONGS, qw[j]);
    for (int c0 = r0; c0 < r1; c0 += CHUNK * lanes) {
      int c1 = Math.min(r1, c0 + CHUNK * lanes);
      LongVector b = LongVector.broadcast(LONGS, bias(s.thr));
      int hits = 0;
      int r = c0;
      for (; r + block <= c1; r += block) {
        long o = (long) r * 8;
        LongVector all = popc(LongVector.fromMemorySegment(LONGS, codes, o, LE), q).add(b)
            .and(popc(LongVector.fromMemorySegment(LONGS, codes, o + 8L * lanes, LE), q).add(b))
            .and(popc(LongVector.fromMemorySegment(LONGS, codes, o + 16L * lanes, LE), q).add(b))
            .and(popc(LongVector.fromMemorySegment(LONGS, codes, o + 24L * lanes, LE), q).add(b));
        if (all.compare(VectorOperators.GE, 0L).anyTrue()) {
          hit[hits++] = r;
        }
      }
      int blocks = hits;
      for (; r < c1; r += lanes) { // the chunk's last groups, one at a time
        hit[hits++] = r;
      }
      for (int h = 0; h < hits; h++) {
        int g1 = h < blocks ? hit[h] + block : hit[h] + lanes;
        for (int g = hit[h]; g < g1; g += lanes) {
          // no vector crosses a call: a vector passed to a method C2 does not inline is boxed
          LongVector d = popc(LongVector.fromMemorySegment(LONGS, codes, (long) g * 8, LE), q);
          long bits = d.compare(VectorOperators.LE, (long) s.thr).toLong();
          if (bits != 0) {
            d.intoArray(tmp, 0);
            pushLanes(tmp, bits, s, g);
          }
        }
      }
    }
  }

  /** Wider codes from the tile's planes, 4 queries per loaded plane; two passes as scan4Codes. */
  private static void scan4Planes(long[] planes, int base, int words, long[] qw, int j, TopK[] st, int r0, int r1,
      byte[] flags, long[] tmp) {
    int lanes = LONGS.length();
    int step = words * lanes;
    for (int c0 = r0; c0 < r1; c0 += CHUNK * lanes) {
      int c1 = Math.min(r1, c0 + CHUNK * lanes);
      int groups = (c1 - c0) / lanes;
      flag4Planes(planes, base, words, qw, j, bias(st[j].thr), bias(st[j + 1].thr), bias(st[j + 2].thr),
          bias(st[j + 3].thr), c0, c1, flags);
      for (int g0 = 0; g0 < groups; g0 += FLAG_LANES) {
        long word = flagged(flags, g0, groups);
        while (word != 0) {
          int r = c0 + (g0 + Long.numberOfTrailingZeros(word)) * lanes;
          word &= word - 1;
          int g = (r - base) / lanes * step;
          for (int i = 0; i < 4; i++) {
            int o = (j + i) * words;
            LongVector d = popc(LongVector.fromArray(LONGS, planes, g), qw[o]);
            for (int w = 1; w < words; w++) {
              d = d.add(popc(LongVector.fromArray(LONGS, planes, g + w * lanes), qw[o + w]));
            }
            push(d, tmp, st[j + i], r);
          }
        }
      }
    }
  }

  /** scan4Planes's threshold test, a flag byte per group (as flag4Bytes for 64-bit codes). */
  private static void flag4Planes(long[] planes, int base, int words, long[] qw, int j, long t0, long t1, long t2,
      long t3, int c0, int c1, byte[] flags) {
    int lanes = LONGS.length();
    int o0 = j * words;
    int o1 = o0 + words;
    int o2 = o1 + words;
    int o3 = o2 + words;
    int step = words * lanes;
    LongVector b0 = LongVector.broadcast(LONGS, t0);
    LongVector b1 = LongVector.broadcast(LONGS, t1);
    LongVector b2 = LongVector.broadcast(LONGS, t2);
    LongVector b3 = LongVector.broadcast(LONGS, t3);
    for (int r = c0, g = (c0 - base) / lanes * step, f = 0; r < c1; r += lanes, g += step, f++) {
      LongVector p = LongVector.fromArray(LONGS, planes, g);
      LongVector d0 = popc(p, qw[o0]);
      LongVector d1 = popc(p, qw[o1]);
      LongVector d2 = popc(p, qw[o2]);
      LongVector d3 = popc(p, qw[o3]);
      for (int w = 1; w < words; w++) {
        p = LongVector.fromArray(LONGS, planes, g + w * lanes);
        d0 = d0.add(popc(p, qw[o0 + w]));
        d1 = d1.add(popc(p, qw[o1 + w]));
        d2 = d2.add(popc(p, qw[o2 + w]));
        d3 = d3.add(popc(p, qw[o3 + w]));
      }
      LongVector all = d0.add(b0).and(d1.add(b1)).and(d2.add(b2)).and(d3.add(b3));
      flags[f] = (byte) all.compare(VectorOperators.GE, 0L).toLong();
    }
  }

  private static void scan1Planes(long[] planes, int base, int words, long[] qw, int j, TopK s, int r0, int r1,
      int[] hit, long[] tmp) {
    int lanes = LONGS.length();
    int o = j * words;
    int step = words * lanes;
    for (int c0 = r0; c0 < r1; c0 += CHUNK * lanes) {
      int c1 = Math.min(r1, c0 + CHUNK * lanes);
      LongVector b = LongVector.broadcast(LONGS, bias(s.thr));
      int hits = 0;
      for (int r = c0, g = (c0 - base) / lanes * step; r < c1; r += lanes, g += step) {
        LongVector d = popc(LongVector.fromArray(LONGS, planes, g), qw[o]);
        for (int w = 1; w < words; w++) {
          d = d.add(popc(LongVector.fromArray(LONGS, planes, g + w * lanes), qw[o + w]));
        }
        if (d.add(b).compare(VectorOperators.GE, 0L).anyTrue()) {
          hit[hits++] = r;
        }
      }
      for (int h = 0; h < hits; h++) {
        int r = hit[h];
        int g = (r - base) / lanes * step;
        LongVector d = popc(LongVector.fromArray(LONGS, planes, g), qw[o]);
        for (int w = 1; w < words; w++) {
          d = d.add(popc(LongVector.fromArray(LONGS, planes, g + w * lanes), qw[o + w]));
        }
        push(d, tmp, s, r);
      }
    }
  }

  /**
   * Adds the lanes of d within s's threshold (rows r, r+1, ...): one compare gives the lanes, and
   * only those are read back. Kept small so that C2 inlines it and d is never boxed.
   */
  private static void push(LongVector d, long[] tmp, TopK s, int r) {
    long bits = d.compare(VectorOperators.LE, (long) s.thr).toLong();
    if (bits != 0) {
      d.intoArray(tmp, 0);
      pushLanes(tmp, bits, s, r);
    }
  }

  /** Pushes the lanes of {@code bits} (distances in {@code tmp}) of the group at row r. */
  private static void pushLanes(long[] tmp, long bits, TopK s, int r) {
    do {
      int l = Long.numberOfTrailingZeros(bits);
      bits &= bits - 1;
      if (tmp[l] <= s.thr) { // a push may have lowered it
        s.add((int) tmp[l], r + l);
      }
    } while (bits != 0);
  }

  /**
   * Exhaustive scan as a blocked matrix product: each panel of 2L rows is transposed once into
   * dimension-major order (2L consecutive floats per dimension) and every block of 4 queries runs
   * over it with 8 accumulators, one broadcast query value and two FMAs per query and dimension: no
   * horizontal sums (with rows in lanes, one reduction per query and row halved the rate).
   */
  @Override
  public void euclidean(TableView t, float[] norms, float[] queries, int q0, int qn, FloatTopK[] st, int r0, int r1,
      Scratch scratch) {
    MemorySegment f = t.features();
    int dim = t.dim();
    int lanes = FLOATS.length();
    int nr = 2 * lanes;
    float[] panel = scratch.floats(nr * dim);
    float[] row = scratch.row(dim);
    float[] a = new float[4 * nr];
    int r = r0;
    for (; r + nr <= r1; r += nr) {
      for (int i = 0; i < nr; i++) {
        MemorySegment.copy(f, JAVA_FLOAT_UNALIGNED, (long) (r + i) * dim * 4, row, 0, dim);
        for (int p = 0; p < dim; p++) {
          panel[p * nr + i] = row[p];
        }
      }
      for (int j = 0; j < qn; j += 4) {
        // the last block of fewer than 4 repeats its last query (computed, not offered): one
        // query through the panel costs a quarter of four, one through dot products several times
        panel4(panel, dim, queries, q0, norms, st, j, Math.min(4, qn - j), r, a);
      }
    }
    for (; r < r1; r++) { // the last, partial panel
      for (int j = 0; j < qn; j++) {
        offer(st[j], norms[r], dot(f, (long) r * dim * 4, queries, (q0 + j) * dim, dim), r);
      }
    }
  }

  /**
   * Queries j..j+3 of the block starting at query q0 (selections st[j..], query features in q), of
   * which the first {@code valid} count and the rest repeat the last of those, over one packed panel
   * of 2L rows starting at row r. No vector crosses a call: C2 boxes vectors passed to a method it
   * does not inline.
   */
  private static void panel4(float[] panel, int dim, float[] q, int q0, float[] norms, FloatTopK[] st, int j,
      int valid, int r, float[] a) {
    int lanes = FLOATS.length();
    int nr = 2 * lanes;
    int j1 = j + Math.min(1, valid - 1);
    int j2 = j + Math.min(2, valid - 1);
    int j3 = j + Math.min(3, valid - 1);
    int qo = (q0 + j) * dim;
    int a1 = (q0 + j1) * dim;
    int a2 = (q0 + j2) * dim;
    int a3 = (q0 + j3) * dim;
    FloatTopK t0 = st[j];
    FloatTopK t1 = st[j1];
    FloatTopK t2 = st[j2];
    FloatTopK t3 = st[j3];
    FloatVector s00 = FloatVector.zero(FLOATS);
    FloatVector s01 = s00;
    FloatVector s10 = s00;
    FloatVector s11 = s00;
    FloatVector s20 = s00;
    FloatVector s21 = s00;
    FloatVector s30 = s00;
    FloatVector s31 = s00;
    for (int p = 0; p < dim; p++) {
      FloatVector x0 = FloatVector.fromArray(FLOATS, panel, p * nr);
      FloatVector x1 = FloatVector.fromArray(FLOATS, panel, p * nr + lanes);
      FloatVector u = FloatVector.broadcast(FLOATS, q[qo + p]);
      s00 = u.fma(x0, s00);
      s01 = u.fma(x1, s01);
      u = FloatVector.broadcast(FLOATS, q[a1 + p]);
      s10 = u.fma(x0, s10);
      s11 = u.fma(x1, s11);
      u = FloatVector.broadcast(FLOATS, q[a2 + p]);
      s20 = u.fma(x0, s20);
      s21 = u.fma(x1, s21);
      u = FloatVector.broadcast(FLOATS, q[a3 + p]);
      s30 = u.fma(x0, s30);
      s31 = u.fma(x1, s31);
    }
    FloatVector xx0 = FloatVector.fromArray(FLOATS, norms, r);
    FloatVector xx1 = FloatVector.fromArray(FLOATS, norms, r + lanes);
    // a = ||q||^2 + ||x||^2 - 2 q.x; offered only where some lane is within the admission threshold
    FloatVector a00 = xx0.add(t0.qq).sub(s00.add(s00));
    FloatVector a01 = xx1.add(t0.qq).sub(s01.add(s01));
    FloatVector a10 = xx0.add(t1.qq).sub(s10.add(s10));
    FloatVector a11 = xx1.add(t1.qq).sub(s11.add(s11));
    FloatVector a20 = xx0.add(t2.qq).sub(s20.add(s20));
    FloatVector a21 = xx1.add(t2.qq).sub(s21.add(s21));
    FloatVector a30 = xx0.add(t3.qq).sub(s30.add(s30));
    FloatVector a31 = xx1.add(t3.qq).sub(s31.add(s31));
    boolean any = a00.min(a01).compare(VectorOperators.LE, t0.adm).anyTrue()
        | a10.min(a11).compare(VectorOperators.LE, t1.adm).anyTrue()
        | a20.min(a21).compare(VectorOperators.LE, t2.adm).anyTrue()
        | a30.min(a31).compare(VectorOperators.LE, t3.adm).anyTrue();
    if (any) {
      a00.intoArray(a, 0);
      a01.intoArray(a, lanes);
      a10.intoArray(a, nr);
      a11.intoArray(a, nr + lanes);
      a20.intoArray(a, 2 * nr);
      a21.intoArray(a, 2 * nr + lanes);
      a30.intoArray(a, 3 * nr);
      a31.intoArray(a, 3 * nr + lanes);
      for (int i = 0; i < valid; i++) {
        FloatTopK s = st[j + i];
        for (int l = 0; l < nr; l++) {
          if (a[i * nr + l] <= s.adm) {
            s.add(a[i * nr + l], r + l);
          }
        }
      }
    }
  }

  private static void offer(FloatTopK s, float xx, float dot, int row) {
    float a = (s.qq + xx) - 2 * dot;
    if (a <= s.adm) {
      s.add(a, row);
    }
  }

  private static float dot(MemorySegment f, long off, float[] q, int qo, int dim) {
    int lanes = FLOATS.length();
    int full = dim / lanes * lanes;
    FloatVector acc = FloatVector.zero(FLOATS);
    for (int p = 0; p < full; p += lanes) {
      acc = FloatVector.fromArray(FLOATS, q, qo + p).fma(FloatVector.fromMemorySegment(FLOATS, f, off + 4L * p, LE), acc);
    }
    float s = acc.reduceLanes(VectorOperators.ADD);
    for (int p = full; p < dim; p++) {
      s += q[qo + p] * f.get(JAVA_FLOAT_UNALIGNED, off + 4L * p);
    }
    return s;
  }

  @Override
  public void dots(MemorySegment f, int dim, int[] rows, int[] qOffs, int n, float[] queries, float[] out) {
    pairDots(f, dim, rows, qOffs, n, queries, out, false);
  }

  @Override
  public void dots8(MemorySegment codes, int dim, int[] rows, int[] qOffs, int n, float[] queries, float[] out) {
    pairDots(codes, dim, rows, qOffs, n, queries, out, true);
  }

  /**
   * {@link #dots} ({@code bytes} false: rows of floats) and {@link #dots8} (true: rows of unsigned
   * bytes), four entries a loop with four independent sums in flight.
   */
  private static void pairDots(MemorySegment s, int dim, int[] rows, int[] qOffs, int n, float[] q, float[] out,
      boolean bytes) {
    int lanes = FLOATS.length();
    int full = dim / lanes * lanes;
    long w = bytes ? 1 : 4; // bytes an element
    int i = 0;
    for (; i + 4 <= n; i += 4) {
      long x0 = (long) rows[i] * dim * w;
      long x1 = (long) rows[i + 1] * dim * w;
      long x2 = (long) rows[i + 2] * dim * w;
      long x3 = (long) rows[i + 3] * dim * w;
      int o0 = qOffs[i];
      int o1 = qOffs[i + 1];
      int o2 = qOffs[i + 2];
      int o3 = qOffs[i + 3];
      FloatVector s0 = FloatVector.zero(FLOATS);
      FloatVector s1 = s0;
      FloatVector s2 = s0;
      FloatVector s3 = s0;
      for (int p = 0; p < full; p += lanes) {
        s0 = FloatVector.fromArray(FLOATS, q, o0 + p).fma(load(s, x0 + w * p, bytes), s0);
        s1 = FloatVector.fromArray(FLOATS, q, o1 + p).fma(load(s, x1 + w * p, bytes), s1);
        s2 = FloatVector.fromArray(FLOATS, q, o2 + p).fma(load(s, x2 + w * p, bytes), s2);
        s3 = FloatVector.fromArray(FLOATS, q, o3 + p).fma(load(s, x3 + w * p, bytes), s3);
      }
      float d0 = s0.reduceLanes(VectorOperators.ADD);
      float d1 = s1.reduceLanes(VectorOperators.ADD);
      float d2 = s2.reduceLanes(VectorOperators.ADD);
      float d3 = s3.reduceLanes(VectorOperators.ADD);
      for (int p = full; p < dim; p++) {
        d0 += q[o0 + p] * element(s, x0 + w * p, bytes);
        d1 += q[o1 + p] * element(s, x1 + w * p, bytes);
        d2 += q[o2 + p] * element(s, x2 + w * p, bytes);
        d3 += q[o3 + p] * element(s, x3 + w * p, bytes);
      }
      out[i] = d0;
      out[i + 1] = d1;
      out[i + 2] = d2;
      out[i + 3] = d3;
    }
    for (; i < n; i++) {
      long x = (long) rows[i] * dim * w;
      int o = qOffs[i];
      FloatVector acc = FloatVector.zero(FLOATS);
      for (int p = 0; p < full; p += lanes) {
        acc = FloatVector.fromArray(FLOATS, q, o + p).fma(load(s, x + w * p, bytes), acc);
      }
      float d = acc.reduceLanes(VectorOperators.ADD);
      for (int p = full; p < dim; p++) {
        d += q[o + p] * element(s, x + w * p, bytes);
      }
      out[i] = d;
    }
  }

  /** One vector of row elements at byte offset off: floats, or unsigned bytes widened and converted. */
  private static FloatVector load(MemorySegment s, long off, boolean bytes) {
    return bytes
        ? (FloatVector) ((IntVector) ByteVector.fromMemorySegment(CODE_BYTES, s, off, LE)
            .convertShape(VectorOperators.B2I, CODE_INTS, 0)).and(0xFF).convertShape(VectorOperators.I2F, FLOATS, 0)
        : FloatVector.fromMemorySegment(FLOATS, s, off, LE);
  }

  /** One row element at byte offset off (see load). */
  private static float element(MemorySegment s, long off, boolean bytes) {
    return bytes ? s.get(JAVA_BYTE, off) & 0xFF : s.get(JAVA_FLOAT_UNALIGNED, off);
  }
}
