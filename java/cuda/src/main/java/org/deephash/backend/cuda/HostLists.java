package org.deephash.backend.cuda;

import java.util.Arrays;
import org.deephash.internal.Ranking;

/**
 * Per-query ranked lists on the host: query q owns entries [q*stride, q*stride + count[q]) of the
 * parallel arrays key (Hamming distance, or the bits of a non-negative float), id and row. Used for
 * the lists the device returns, for ordering long lists on the host and for merging shards.
 */
final class HostLists {
  final int queries;
  final int stride;
  final int[] count;
  final int[] total;
  final int[] key;
  final long[] id;
  final int[] row;

  HostLists(int queries, int stride) {
    this.queries = queries;
    this.stride = stride;
    this.count = new int[queries];
    this.total = new int[queries];
    long size = (long) queries * stride;
    if (size > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("result too large: " + queries + " queries x " + stride
          + " entries; search in smaller batches");
    }
    this.key = new int[(int) size];
    this.id = new long[(int) size];
    this.row = new int[(int) size];
  }

  /** Orders query q's entries [0, n) by (key, id) and keeps the first {@code keep}. */
  void sortAndCut(int q, int n, int keep) {
    int from = q * stride;
    Ranking.sort(key, id, row, from, from + n);
    count[q] = Math.min(n, keep);
  }

  /**
   * The first {@code limit} entries of each query over several lists of the same queries, each
   * ordered by (key, id): a k-way merge. Totals add up.
   */
  static HostLists merge(HostLists[] parts, int limit) {
    int queries = parts[0].queries;
    int stride = 0;
    for (HostLists p : parts) {
      stride = (int) Math.min(limit, (long) stride + p.stride);
    }
    HostLists out = new HostLists(queries, stride);
    int[] pos = new int[parts.length];
    for (int q = 0; q < queries; q++) {
      Arrays.fill(pos, 0);
      long total = 0;
      for (HostLists p : parts) {
        total += p.total[q];
      }
      out.total[q] = (int) Math.min(Integer.MAX_VALUE, total);
      int n = 0;
      int o = q * out.stride;
      while (n < out.stride) {
        int best = -1;
        for (int s = 0; s < parts.length; s++) {
          HostLists p = parts[s];
          if (pos[s] < p.count[q]) {
            int i = q * p.stride + pos[s];
            if (best < 0) {
              best = s;
            } else {
              HostLists b = parts[best];
              int j = q * b.stride + pos[best];
              if (Ranking.cmp(p.key[i], p.id[i], b.key[j], b.id[j]) < 0) {
                best = s;
              }
            }
          }
        }
        if (best < 0) {
          break;
        }
        HostLists b = parts[best];
        int j = q * b.stride + pos[best]++;
        out.key[o + n] = b.key[j];
        out.id[o + n] = b.id[j];
        out.row[o + n] = b.row[j];
        n++;
      }
      out.count[q] = n;
    }
    return out;
  }

  /** Packs the lists into dense offsets (Q+1). */
  int[] offsets() {
    int[] off = new int[queries + 1];
    for (int q = 0; q < queries; q++) {
      off[q + 1] = off[q] + count[q];
    }
    return off;
  }

  long[] denseIds(int[] off) {
    long[] out = new long[off[queries]];
    for (int q = 0; q < queries; q++) {
      System.arraycopy(id, q * stride, out, off[q], count[q]);
    }
    return out;
  }

  int[] denseKeys(int[] off) {
    int[] out = new int[off[queries]];
    for (int q = 0; q < queries; q++) {
      System.arraycopy(key, q * stride, out, off[q], count[q]);
    }
    return out;
  }
}
