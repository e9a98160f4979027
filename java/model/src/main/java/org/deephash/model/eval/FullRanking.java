package org.deephash.model.eval;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.deephash.cli.api.Progress;

/**
 * The full Hamming ranking of a database for each query, as the evaluation protocol needs it for
 * full-list mAP: every database item ordered by Hamming distance, ties by database index (the
 * engine's ascending-id order). A counting sort per query: one pass of popcounts, a histogram over
 * the B+1 possible distances, one stable placement pass. Queries run in parallel.
 *
 * <p>An optional re-ranked prefix per query replaces the start of the list (the coarse-to-fine
 * search re-orders its Hamming pool by Euclidean distance; the rest of the list keeps its Hamming
 * order, since the pool is exactly the Hamming top-m).
 */
final class FullRanking {
  private final long[] db;
  private final int words;
  private final int n;
  private final int bits;
  private final int[] dbLabels;
  private final int[] labelCount;

  /**
   * @param codes database codes, codeBytes each (engine layout)
   * @param bits code width in bits (padded width is fine: padding bits are zero)
   */
  FullRanking(byte[] codes, int codeBytes, int bits, int[] dbLabels) {
    this.n = dbLabels.length;
    this.words = (codeBytes + 7) / 8;
    this.bits = bits;
    this.db = toWords(codes, codeBytes, n, words);
    this.dbLabels = dbLabels;
    this.labelCount = EuclideanRanking.labelCounts(dbLabels);
  }

  static long[] toWords(byte[] codes, int codeBytes, int n, int words) {
    long[] w = new long[n * words];
    for (int i = 0; i < n; i++) {
      for (int b = 0; b < codeBytes; b++) {
        w[i * words + b / 8] |= (codes[i * codeBytes + b] & 0xffL) << (8 * (b % 8));
      }
    }
    return w;
  }

  /** Full-list figures of one query. */
  record QueryFigures(double averagePrecision, double precisionR2, int[] topIds) {}

  /** Callback per query: the full ranking's first {@code checkDepth} ids, for cross-checking the engine. */
  interface PrefixSource {
    /** Ids (database indices) of the re-ranked prefix of query q, or null for a pure Hamming ranking. */
    long[] prefix(int q);
  }

  /**
   * Per query: AP over the full list, precision within Hamming radius 2, and the first
   * {@code checkDepth} ids of the ranking (with the prefix applied).
   */
  QueryFigures[] evaluate(byte[] queryCodes, int codeBytes, int[] queryLabels, PrefixSource prefixes, int checkDepth) {
    return evaluate(queryCodes, codeBytes, queryLabels, prefixes, checkDepth, null);
  }

  /** As {@link #evaluate(byte[], int, int[], PrefixSource, int)}, counting the queries done on {@code counter}. */
  QueryFigures[] evaluate(byte[] queryCodes, int codeBytes, int[] queryLabels, PrefixSource prefixes, int checkDepth,
      Progress.Counter counter) {
    int q = queryLabels.length;
    long[] qw = toWords(queryCodes, codeBytes, q, words);
    QueryFigures[] out = new QueryFigures[q];
    int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
    AtomicInteger next = new AtomicInteger();
    IntStream.range(0, threads).parallel().forEach(t -> {
      int[] dist = new int[n];
      int[] order = new int[n];
      int[] start = new int[bits + 2];
      boolean[] seen = new boolean[n];
      for (int i = next.getAndIncrement(); i < q; i = next.getAndIncrement()) {
        out[i] = one(qw, i, queryLabels[i], prefixes == null ? null : prefixes.prefix(i), checkDepth, dist, order, start,
            seen);
        if (counter != null) {
          counter.add(1);
        }
      }
    });
    return out;
  }

  private QueryFigures one(long[] qw, int qi, int label, long[] prefix, int checkDepth, int[] dist, int[] order,
      int[] start, boolean[] seen) {
    java.util.Arrays.fill(start, 0);
    int base = qi * words;
    if (words == 1) {
      long c = qw[base];
      for (int i = 0; i < n; i++) {
        int d = Long.bitCount(db[i] ^ c);
        dist[i] = d;
        start[d + 1]++;
      }
    } else {
      for (int i = 0; i < n; i++) {
        int d = 0;
        for (int w = 0; w < words; w++) {
          d += Long.bitCount(db[i * words + w] ^ qw[base + w]);
        }
        dist[i] = d;
        start[d + 1]++;
      }
    }
    int within2 = 0;
    for (int d = 0; d <= Math.min(2, bits); d++) {
      within2 += start[d + 1];
    }
    for (int d = 1; d < start.length; d++) {
      start[d] += start[d - 1];
    }
    for (int i = 0; i < n; i++) {
      order[start[dist[i]]++] = i; // ascending i within a distance: ties by database order
    }
    int hitsR2 = 0;
    for (int j = 0; j < within2; j++) {
      if (dbLabels[order[j]] == label) {
        hitsR2++;
      }
    }
    int total = label < labelCount.length ? labelCount[label] : 0;
    int[] top = new int[Math.min(checkDepth, n)];
    int hits = 0;
    double sum = 0;
    int rank = 0;
    if (prefix != null) {
      for (long id : prefix) {
        int r = (int) id;
        seen[r] = true;
        if (rank < top.length) {
          top[rank] = r;
        }
        rank++;
        if (dbLabels[r] == label) {
          hits++;
          sum += hits / (double) rank;
        }
      }
    }
    for (int j = 0; j < n; j++) {
      int r = order[j];
      if (prefix != null && seen[r]) {
        continue;
      }
      if (rank < top.length) {
        top[rank] = r;
      }
      rank++;
      if (dbLabels[r] == label) {
        hits++;
        sum += hits / (double) rank;
      }
    }
    if (prefix != null) {
      for (long id : prefix) {
        seen[(int) id] = false;
      }
    }
    double ap = total == 0 ? 0 : sum / total;
    double pr2 = within2 == 0 ? 0 : hitsR2 / (double) within2;
    return new QueryFigures(ap, pr2, top);
  }
}
