package org.deephash.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.deephash.internal.Ranking;
import org.junit.jupiter.api.Test;

/** Host-side pieces of the CUDA backend that need no GPU: shard merging and call planning. */
class HostListsTest {

  @Test
  void mergeOfShardsEqualsOneRanking() {
    SplittableRandom rnd = new SplittableRandom(7);
    int queries = 3;
    int shards = 4;
    int per = 50;
    HostLists[] parts = new HostLists[shards];
    int[][] allKey = new int[queries][shards * per];
    long[][] allId = new long[queries][shards * per];
    for (int s = 0; s < shards; s++) {
      parts[s] = new HostLists(queries, per);
      for (int q = 0; q < queries; q++) {
        int n = rnd.nextInt(per + 1);
        for (int i = 0; i < n; i++) {
          int at = q * per + i;
          parts[s].key[at] = rnd.nextInt(6);
          parts[s].id[at] = rnd.nextLong();
          parts[s].row[at] = s * 1000 + i;
        }
        parts[s].sortAndCut(q, n, n);
        parts[s].total[q] = n + 3;
      }
    }
    int limit = 70;
    HostLists m = HostLists.merge(parts, limit);
    for (int q = 0; q < queries; q++) {
      int n = 0;
      int total = 0;
      for (HostLists p : parts) {
        for (int i = 0; i < p.count[q]; i++) {
          allKey[q][n] = p.key[q * per + i];
          allId[q][n] = p.id[q * per + i];
          n++;
        }
        total += p.total[q];
      }
      Ranking.sort(allKey[q], allId[q], null, 0, n);
      int want = Math.min(limit, n);
      assertEquals(want, m.count[q]);
      assertEquals(total, m.total[q]);
      assertArrayEquals(Arrays.copyOf(allKey[q], want), Arrays.copyOfRange(m.key, q * m.stride, q * m.stride + want));
      assertArrayEquals(Arrays.copyOf(allId[q], want), Arrays.copyOfRange(m.id, q * m.stride, q * m.stride + want));
    }
  }

  @Test
  void planArithmetic() {
    assertEquals(1, Plan.words(8));
    assertEquals(1, Plan.words(64));
    assertEquals(2, Plan.words(72));
    assertEquals(4, Plan.words(200));
    assertEquals(16, Plan.words(1024));
    assertEquals("w1", Plan.variant(1));
    assertEquals("w2", Plan.variant(2));
    assertEquals("wn", Plan.variant(3));
    assertEquals("w4", Plan.variant(4));
    assertEquals("wn", Plan.variant(64));
    assertEquals(1, Plan.chunks(0));
    assertEquals(1, Plan.chunks(4096));
    assertEquals(2, Plan.chunks(4097));
    assertEquals(Plan.SORT_MAX, Plan.candStride(10));
    assertEquals(Plan.SORT_MAX, Plan.candStride(4096));
    assertEquals(4097 + Plan.SORT_MAX, Plan.candStride(4097));
    assertTrue(Plan.sortsOnDevice(4096));
    assertTrue(!Plan.sortsOnDevice(4097));
    assertEquals(1, Plan.batch(1 << 20, 10, 100, 8192));
    assertEquals(100, Plan.batch(10, 1 << 20, 100, 8192));
    assertEquals(Plan.MAX_BATCH, Plan.batch(1, Long.MAX_VALUE, 1 << 20, Integer.MAX_VALUE));
    assertEquals(7, Plan.batch(1, 1000, 100, 7));
    assertEquals(8192, Plan.shardRows(1L << 40, 8, 8192, 0));
    assertEquals(4096, Plan.shardRows(100, 8, 1 << 20, 0));
    assertEquals(8192, Plan.shardRows(0, 8, 1 << 20, 9000));
    // the sort block's shared memory fits the opt-in limit of every target (64 KiB on sm_75)
    assertTrue(CudaDevice.SORT_SHARED_BYTES <= 64 * 1024);
  }
}
