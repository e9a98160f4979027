package org.deephash.backend.scalar;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.internal.Rerank;
import org.deephash.spi.Queries;
import org.deephash.spi.SearchBackend;
import org.deephash.spi.TableView;

/**
 * The test oracle: the plainest exact implementation of the search contract. One thread, byte
 * by byte popcount, full sorts. Every other backend must return what this one returns.
 */
final class ScalarBackend implements SearchBackend {

  @Override
  public String name() {
    return "scalar";
  }

  /** Hamming distance of query q to row r, a byte at a time. */
  static int hamming(TableView t, Queries qs, int q, int r) {
    int d = 0;
    long qo = (long) q * t.codeBytes();
    long ro = (long) r * t.codeBytes();
    for (int b = 0; b < t.codeBytes(); b++) {
      d += Integer.bitCount((qs.codes().get(JAVA_BYTE, qo + b) ^ t.codes().get(JAVA_BYTE, ro + b)) & 0xFF);
    }
    return d;
  }

  /** Squared Euclidean distance: the reference definition, {@link Rerank#scalarL2}. */
  static float l2(TableView t, MemorySegment qf, int q, int r) {
    return Rerank.scalarL2(t, qf, q, r);
  }

  /**
   * The live rows ranked for query q by Hamming distance then id, among those with d <= maxDist:
   * the best {@code limit} of them, and how many qualified in all (for the truncated flag).
   *
   * <p>Two plain passes, so that memory follows the answer, not the table (a 100M-row table would
   * need gigabytes of heap per query to rank every row): the first stores each row's distance and
   * counts them per value, which gives the limit-th distance T; the second ranks the rows within
   * T (the answer and its ties) with a full sort.
   */
  private static Ranked rankHamming(TableView t, Queries qs, int q, int maxDist, int limit, long[] qualified) {
    short[] dist = new short[t.rows()]; // B <= 4096 fits
    long[] count = new long[t.bits() + 2];
    for (int r = 0; r < t.rows(); r++) {
      if (t.isLive(r)) {
        int d = hamming(t, qs, q, r);
        dist[r] = (short) d;
        count[d]++;
      } else {
        dist[r] = -1;
      }
    }
    long within = 0;
    int last = -1; // the limit-th distance
    for (int d = 0; d <= maxDist && within < limit; d++) {
      within += count[d];
      last = d;
    }
    long all = 0;
    for (int d = 0; d <= maxDist; d++) {
      all += count[d];
    }
    qualified[0] = all;
    Ranked out = new Ranked((int) Math.min(within, Integer.MAX_VALUE));
    for (int r = 0; r < t.rows(); r++) {
      if (dist[r] >= 0 && dist[r] <= last) {
        out.add(dist[r], t.id(r), r);
      }
    }
    out.sort();
    out.size = (int) Math.min(out.size, limit);
    return out;
  }

  @Override
  public SearchResult knn(TableView t, Queries qs, int k) {
    int kk = Math.min(k, t.liveRows());
    long[] ids = new long[qs.count() * kk];
    int[] dist = new int[ids.length];
    long[] qualified = new long[1];
    for (int q = 0; q < qs.count(); q++) {
      Ranked r = rankHamming(t, qs, q, t.bits(), kk, qualified);
      System.arraycopy(r.ids, 0, ids, q * kk, kk);
      System.arraycopy(r.primary, 0, dist, q * kk, kk);
    }
    return SearchResult.fixed(qs.count(), kk, ids, dist, null);
  }

  @Override
  public SearchResult radius(TableView t, Queries qs, int radius, int cap) {
    Ranked[] all = new Ranked[qs.count()];
    int[] offsets = new int[qs.count() + 1];
    boolean[] truncated = new boolean[qs.count()];
    long[] qualified = new long[1];
    for (int q = 0; q < qs.count(); q++) {
      all[q] = rankHamming(t, qs, q, radius, cap, qualified);
      truncated[q] = qualified[0] > cap;
      offsets[q + 1] = offsets[q] + all[q].size;
    }
    long[] ids = new long[offsets[qs.count()]];
    int[] dist = new int[ids.length];
    for (int q = 0; q < qs.count(); q++) {
      int n = offsets[q + 1] - offsets[q];
      System.arraycopy(all[q].ids, 0, ids, offsets[q], n);
      System.arraycopy(all[q].primary, 0, dist, offsets[q], n);
    }
    return SearchResult.of(offsets, ids, dist, null, truncated);
  }

  @Override
  public SearchResult coarseToFine(TableView t, Queries qs, Pool pool, int k) {
    int[] offsets = new int[qs.count() + 1];
    Ranked[] fine = new Ranked[qs.count()];
    int[][] hamming = new int[qs.count()][];
    for (int q = 0; q < qs.count(); q++) {
      Ranked coarse = rankHamming(t, qs, q, pool.kind() == Pool.Kind.RADIUS ? pool.radius() : t.bits(), pool.size(),
          new long[1]);
      int m = coarse.size;
      Ranked f = new Ranked(m);
      int[] hamOfRow = new int[m];
      for (int i = 0; i < m; i++) {
        int row = coarse.rows[i];
        f.add(Float.floatToIntBits(l2(t, qs.features(), q, row)), coarse.ids[i], i);
        hamOfRow[i] = coarse.primary[i];
      }
      f.sort();
      fine[q] = f;
      int kk = Math.min(k, m);
      hamming[q] = new int[kk];
      for (int i = 0; i < kk; i++) {
        hamming[q][i] = hamOfRow[f.rows[i]];
      }
      offsets[q + 1] = offsets[q] + kk;
    }
    long[] ids = new long[offsets[qs.count()]];
    int[] ham = new int[ids.length];
    float[] l2 = new float[ids.length];
    for (int q = 0; q < qs.count(); q++) {
      for (int i = 0; i < hamming[q].length; i++) {
        ids[offsets[q] + i] = fine[q].ids[i];
        ham[offsets[q] + i] = hamming[q][i];
        l2[offsets[q] + i] = Float.intBitsToFloat(fine[q].primary[i]);
      }
    }
    return SearchResult.of(offsets, ids, ham, l2, null);
  }

  @Override
  public SearchResult exhaustive(TableView t, Queries qs, int k) {
    int kk = Math.min(k, t.liveRows());
    long[] ids = new long[qs.count() * kk];
    float[] l2 = new float[ids.length];
    for (int q = 0; q < qs.count(); q++) {
      Ranked all = new Ranked(t.liveRows());
      for (int r = 0; r < t.rows(); r++) {
        if (t.isLive(r)) {
          all.add(Float.floatToIntBits(l2(t, qs.features(), q, r)), t.id(r), r);
        }
      }
      all.sort();
      for (int i = 0; i < kk; i++) {
        ids[q * kk + i] = all.ids[i];
        l2[q * kk + i] = Float.intBitsToFloat(all.primary[i]);
      }
    }
    return SearchResult.fixed(qs.count(), kk, ids, null, l2);
  }

  @Override
  public void close() {}

  /** Growable (primary, id, row) triples. */
  private static final class Ranked {
    int[] primary;
    long[] ids;
    int[] rows;
    int size;

    Ranked(int capacity) {
      primary = new int[Math.max(1, capacity)];
      ids = new long[primary.length];
      rows = new int[primary.length];
    }

    void add(int p, long id, int row) {
      if (size == primary.length) {
        primary = Arrays.copyOf(primary, size * 2);
        ids = Arrays.copyOf(ids, size * 2);
        rows = Arrays.copyOf(rows, size * 2);
      }
      primary[size] = p;
      ids[size] = id;
      rows[size] = row;
      size++;
    }

    /** A plain sort by (primary, id): boxed comparator, deliberately independent of {@code Ranking}. */
    void sort() {
      Integer[] order = new Integer[size];
      for (int i = 0; i < size; i++) {
        order[i] = i;
      }
      Arrays.sort(order, (a, b) -> primary[a] != primary[b] ? Integer.compare(primary[a], primary[b])
          : Long.compare(ids[a], ids[b]));
      int[] p = new int[size];
      long[] d = new long[size];
      int[] r = new int[size];
      for (int i = 0; i < size; i++) {
        p[i] = primary[order[i]];
        d[i] = ids[order[i]];
        r[i] = rows[order[i]];
      }
      primary = p;
      ids = d;
      rows = r;
    }
  }
}
