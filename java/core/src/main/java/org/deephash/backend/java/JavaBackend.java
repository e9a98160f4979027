package org.deephash.backend.java;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.internal.Ranking;
import org.deephash.internal.Rerank;
import org.deephash.spi.Queries;
import org.deephash.spi.SearchBackend;
import org.deephash.spi.TableView;

/**
 * The pure-Java backend: exact, parallel over row ranges as well as query blocks (so a single
 * query uses every core), with threshold/bin k-selection fused into the scan.
 */
final class JavaBackend implements SearchBackend {
  /** Queries compared per loaded code row. */
  private static final int QUERY_BLOCK = 16;
  /** Rows scanned per tile before moving to the next query block (L2-sized for 64-bit codes). */
  private static final int ROW_TILE = 32768;
  /** Below this many rows per split, splitting the table costs more than it saves. */
  private static final int MIN_ROWS_PER_SPLIT = 8192;

  private final int threads;
  private final boolean vector;
  /** Compaction of Hamming candidates by counting B+1 bins (default) or by sorting, for benchmarks. */
  private final boolean bins = !"sort".equals(System.getProperty("engine.java.selection"));
  private final ForkJoinPool pool;

  JavaBackend(int threads, boolean vector) {
    this.threads = threads;
    this.vector = vector;
    this.pool = threads > 1 ? new ForkJoinPool(threads) : null;
  }

  @Override
  public String name() {
    return "java";
  }

  @Override
  public String device() {
    return "java (" + threads + " threads, " + (vector ? "Vector API popcount" : "scalar popcount") + ")";
  }

  /** One query range x row range of work and its per-query partial results. */
  private record Split(int q0, int q1, int r0, int r1) {}

  private List<Split> plan(int queries, int rows) {
    int qChunks = Math.max(1, Math.min(queries, 4 * threads));
    int rowSplits = (int) Math.max(1, Math.min((4L * threads + qChunks - 1) / qChunks, rows / MIN_ROWS_PER_SPLIT));
    if (threads == 1) {
      qChunks = 1;
      rowSplits = 1;
    }
    List<Split> out = new ArrayList<>(qChunks * rowSplits);
    for (int a = 0; a < qChunks; a++) {
      int q0 = (int) ((long) queries * a / qChunks);
      int q1 = (int) ((long) queries * (a + 1) / qChunks);
      for (int b = 0; b < rowSplits; b++) {
        out.add(new Split(q0, q1, (int) ((long) rows * b / rowSplits), (int) ((long) rows * (b + 1) / rowSplits)));
      }
    }
    return out;
  }

  private <T> List<T> runAll(List<Callable<T>> tasks) {
    List<T> out = new ArrayList<>(tasks.size());
    if (pool == null || tasks.size() == 1) {
      for (Callable<T> c : tasks) {
        try {
          out.add(c.call());
        } catch (RuntimeException e) {
          throw e;
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }
      return out;
    }
    try {
      for (Future<T> f : pool.invokeAll(tasks)) {
        out.add(f.get());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("search interrupted", e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException re) {
        throw re;
      }
      if (c instanceof Error err) {
        throw err;
      }
      throw new IllegalStateException(c);
    }
    return out;
  }

  /** Per-query selection states of a split, for the Hamming scan. */
  private TopK[] scanSplit(TableView t, Queries qs, Split s, int kk, int bound) {
    int qn = s.q1 - s.q0;
    TopK[] st = new TopK[qn];
    for (int j = 0; j < qn; j++) {
      st[j] = new TopK(kk, bound, bins);
    }
    TopK[] block = new TopK[QUERY_BLOCK];
    for (int r = s.r0; r < s.r1; r += ROW_TILE) {
      int re = Math.min(s.r1, r + ROW_TILE);
      for (int j = 0; j < qn; j += QUERY_BLOCK) {
        int bn = Math.min(QUERY_BLOCK, qn - j);
        System.arraycopy(st, j, block, 0, bn);
        HammingKernels.scan(t, qs.codes(), s.q0 + j, bn, block, r, re, vector);
      }
    }
    for (TopK k : st) {
      k.finish();
    }
    return st;
  }

  /** Exact Hamming selection: top kk with distance <= bound for every query. */
  private Selection hammingSelect(TableView t, Queries qs, int kk, int bound) {
    List<Split> splits = plan(qs.count(), t.rows());
    List<Callable<TopK[]>> tasks = new ArrayList<>();
    for (Split s : splits) {
      tasks.add(() -> scanSplit(t, qs, s, kk, bound));
    }
    return merge(qs.count(), splits, runAll(tasks), kk);
  }

  /** Per-query ranked lists with rows, merged exactly over the row splits. */
  private record Selection(int[] offsets, int[] primary, long[] ids, int[] rows, boolean[] truncated) {}

  private static Selection merge(int queries, List<Split> splits, List<TopK[]> parts, int kk) {
    int[][] p = new int[queries][];
    long[][] id = new long[queries][];
    int[][] rw = new int[queries][];
    int[] n = new int[queries];
    boolean[] truncated = new boolean[queries];
    for (int i = 0; i < splits.size(); i++) {
      Split s = splits.get(i);
      TopK[] st = parts.get(i);
      for (int j = 0; j < st.length; j++) {
        int q = s.q0 + j;
        TopK k = st[j];
        truncated[q] |= k.compacted;
        if (p[q] == null) {
          p[q] = java.util.Arrays.copyOf(k.primary, k.size);
          id[q] = java.util.Arrays.copyOf(k.ids, k.size);
          rw[q] = java.util.Arrays.copyOf(k.rows, k.size);
          n[q] = k.size;
        } else {
          int m = n[q] + k.size;
          p[q] = java.util.Arrays.copyOf(p[q], m);
          id[q] = java.util.Arrays.copyOf(id[q], m);
          rw[q] = java.util.Arrays.copyOf(rw[q], m);
          System.arraycopy(k.primary, 0, p[q], n[q], k.size);
          System.arraycopy(k.ids, 0, id[q], n[q], k.size);
          System.arraycopy(k.rows, 0, rw[q], n[q], k.size);
          n[q] = m;
          Ranking.sort(p[q], id[q], rw[q], 0, m);
        }
      }
    }
    int[] offsets = new int[queries + 1];
    for (int q = 0; q < queries; q++) {
      if (n[q] > kk) {
        truncated[q] = true;
      }
      offsets[q + 1] = offsets[q] + Math.min(kk, n[q]);
    }
    int total = offsets[queries];
    int[] primary = new int[total];
    long[] ids = new long[total];
    int[] rows = new int[total];
    for (int q = 0; q < queries; q++) {
      int c = offsets[q + 1] - offsets[q];
      if (c > 0) {
        System.arraycopy(p[q], 0, primary, offsets[q], c);
        System.arraycopy(id[q], 0, ids, offsets[q], c);
        System.arraycopy(rw[q], 0, rows, offsets[q], c);
      }
    }
    return new Selection(offsets, primary, ids, rows, truncated);
  }

  private static SearchResult empty(int queries, boolean hamming, boolean l2, boolean flags) {
    return SearchResult.of(new int[queries + 1], new long[0], hamming ? new int[0] : null, l2 ? new float[0] : null,
        flags ? new boolean[queries] : null);
  }

  @Override
  public SearchResult knn(TableView t, Queries qs, int k) {
    int kk = Math.min(k, t.liveRows());
    if (kk == 0 || qs.count() == 0) {
      return empty(qs.count(), true, false, false);
    }
    Selection s = hammingSelect(t, qs, kk, t.bits());
    return SearchResult.of(s.offsets, s.ids, s.primary, null, null);
  }

  @Override
  public SearchResult radius(TableView t, Queries qs, int r, int cap) {
    int kk = Math.min(cap, t.liveRows());
    if (kk == 0 || qs.count() == 0) {
      return empty(qs.count(), true, false, true);
    }
    Selection s = hammingSelect(t, qs, kk, r);
    return SearchResult.of(s.offsets, s.ids, s.primary, null, s.truncated);
  }

  @Override
  public SearchResult coarseToFine(TableView t, Queries qs, Pool poolSpec, int k) {
    int m = Math.min(poolSpec.size(), t.liveRows());
    if (m == 0 || qs.count() == 0) {
      return empty(qs.count(), true, true, false);
    }
    Selection coarse = hammingSelect(t, qs, m, poolSpec.kind() == Pool.Kind.RADIUS ? poolSpec.radius() : t.bits());
    int queries = qs.count();
    Rerank fine = new Rerank(coarse.offsets, k);
    MemorySegment qf = qs.features();
    int dim = t.dim();
    Rerank.Distance l2 = (q, row) -> L2Kernels.l2(qf, (long) q * dim * 4, t.features(), (long) row * dim * 4, dim);
    int chunks = Math.max(1, Math.min(queries, 4 * threads));
    List<Callable<Void>> tasks = new ArrayList<>();
    for (int c = 0; c < chunks; c++) {
      int qa = (int) ((long) queries * c / chunks);
      int qb = (int) ((long) queries * (c + 1) / chunks);
      tasks.add(() -> {
        for (int q = qa; q < qb; q++) {
          fine.query(q, t, coarse.offsets, coarse.rows, coarse.primary, l2);
        }
        return null;
      });
    }
    runAll(tasks);
    return fine.result();
  }

  @Override
  public SearchResult exhaustive(TableView t, Queries qs, int k) {
    int kk = Math.min(k, t.liveRows());
    if (kk == 0 || qs.count() == 0) {
      return empty(qs.count(), false, true, false);
    }
    List<Split> splits = plan(qs.count(), t.rows());
    List<Callable<TopK[]>> tasks = new ArrayList<>();
    for (Split s : splits) {
      tasks.add(() -> l2Split(t, qs, s, kk));
    }
    Selection sel = merge(qs.count(), splits, runAll(tasks), kk);
    float[] l2 = new float[sel.primary.length];
    for (int i = 0; i < l2.length; i++) {
      l2[i] = Float.intBitsToFloat(sel.primary[i]);
    }
    return SearchResult.of(sel.offsets, sel.ids, null, l2, null);
  }

  private static TopK[] l2Split(TableView t, Queries qs, Split s, int kk) {
    int qn = s.q1 - s.q0;
    int dim = t.dim();
    TopK[] st = new TopK[qn];
    for (int j = 0; j < qn; j++) {
      st[j] = new TopK(kk, Integer.MAX_VALUE, false);
    }
    MemorySegment feats = t.features();
    MemorySegment qf = qs.features();
    for (int r0 = s.r0; r0 < s.r1; r0 += 1024) {
      int r1 = Math.min(s.r1, r0 + 1024);
      for (int j = 0; j < qn; j++) {
        TopK top = st[j];
        long qo = (long) (s.q0 + j) * dim * 4;
        for (int r = r0; r < r1; r++) {
          int bits = Float.floatToIntBits(L2Kernels.l2(qf, qo, feats, (long) r * dim * 4, dim));
          if (bits <= top.thr) {
            top.offer(bits, r, t.ids(), t.tombstones());
          }
        }
      }
    }
    for (TopK k : st) {
      k.finish();
    }
    return st;
  }

  @Override
  public void close() {
    if (pool != null) {
      pool.shutdownNow();
    }
  }
}
