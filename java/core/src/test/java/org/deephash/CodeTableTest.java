package org.deephash;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class CodeTableTest {

  @Test
  void rejectsBadShapes() {
    var e = assertThrows(IllegalArgumentException.class, () -> CodeTable.create(12, 0, false));
    assertTrue(e.getMessage().contains("multiple of 8"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> CodeTable.create(0, 0, false));
    assertThrows(IllegalArgumentException.class, () -> CodeTable.create(4104, 0, false));
    assertThrows(IllegalArgumentException.class, () -> CodeTable.create(64, -1, false));
    CodeTable.create(4096, 0, false).close();
    CodeTable.create(8, 0, false).close();
  }

  @Test
  void addGrowsAndKeepsRows() {
    try (CodeTable t = CodeTable.create(24, 2, true, 0)) {
      for (int i = 0; i < 5000; i++) {
        t.add(1000L - i, new byte[] {(byte) i, (byte) (i >> 8), 7}, new float[] {i, -i}, i % 10);
      }
      assertEquals(5000, t.size());
      assertEquals(5000, t.liveCount());
      assertEquals(1000L - 4321, t.id(4321));
      assertEquals(4321 % 10, t.label(4321));
      assertArrayEquals(new byte[] {(byte) 4321, (byte) (4321 >> 8), 7}, t.code(4321));
      assertArrayEquals(new float[] {4321, -4321}, t.feature(4321));
      try (var v = t.view()) {
        // padding after the last code lets kernels read a whole word
        assertTrue(v.get().codes().byteSize() >= 5000L * 3 + 8);
        assertEquals(7, v.get().codes().get(ValueLayout.JAVA_BYTE, 4999L * 3 + 2));
      }
    }
  }

  @Test
  void rejectsBadRowsAndChangesNothing() {
    try (CodeTable t = CodeTable.create(16, 2, false)) {
      t.addAll(new long[] {1, 2}, new byte[4], new float[4], null);
      long v = t.version();
      var dup = assertThrows(IllegalArgumentException.class,
          () -> t.addAll(new long[] {3, 2}, new byte[4], new float[4], null));
      assertTrue(dup.getMessage().contains("duplicate id 2"), dup.getMessage());
      assertThrows(IllegalArgumentException.class, () -> t.addAll(new long[] {3, 3}, new byte[4], new float[4], null));
      assertThrows(IllegalArgumentException.class, () -> t.addAll(null, new byte[3], new float[2], null));
      var feat = assertThrows(IllegalArgumentException.class, () -> t.addAll(null, new byte[2], new float[3], null));
      assertTrue(feat.getMessage().contains("2-dimensional"), feat.getMessage());
      var nan = assertThrows(IllegalArgumentException.class,
          () -> t.addAll(new long[] {9}, new byte[2], new float[] {1, Float.NaN}, null));
      assertTrue(nan.getMessage().contains("not finite"), nan.getMessage());
      assertThrows(IllegalArgumentException.class, () -> t.addAll(new long[] {9}, new byte[2], new float[2], new int[1]));
      assertEquals(2, t.size());
      assertEquals(v, t.version());
      assertFalse(t.contains(3));
    }
  }

  @Test
  void deleteIsVisibleToTheNextQuery() {
    try (CodeTable t = CodeTable.create(64, 0, false);
        GpuHashSearch s = GpuHashSearch.open(t, SearchOptions.defaults().withBackend("java"))) {
      byte[] zero = new byte[8];
      byte[] one = {1, 0, 0, 0, 0, 0, 0, 0};
      t.add(10, zero, null, 0);
      t.add(5, one, null, 0);
      assertEquals(10, s.query(zero, 1).id(0, 0));
      assertTrue(t.delete(10));
      assertFalse(t.delete(10), "a deleted id cannot be deleted twice");
      assertFalse(t.delete(12345), "unknown id");
      SearchResult r = s.query(zero, 5);
      assertEquals(1, r.count(0));
      assertEquals(5, r.id(0, 0));
      assertEquals(1, r.hamming(0, 0));
      assertEquals(1, t.liveCount());
      t.add(11, zero, null, 0);
      assertEquals(11, s.query(zero, 1).id(0, 0), "an added row is visible to the next query");
      // a deleted id may not come back as a duplicate of a live one, but may be reused? It stays taken.
      assertThrows(IllegalArgumentException.class, () -> t.add(10, zero, null, 0));
    }
  }

  @Test
  void closedTableRejectsUse() {
    CodeTable t = CodeTable.create(8, 0, false);
    t.close();
    t.close();
    assertThrows(IllegalStateException.class, () -> t.add(1, new byte[1], null, 0));
    assertThrows(IllegalStateException.class, t::view);
  }

  @Test
  void rowOfFindsLiveRowsOnly() {
    try (CodeTable t = CodeTable.create(8, 0, false)) {
      t.addAll(new long[] {40, -7, Long.MIN_VALUE, 3}, new byte[4], null, null);
      assertEquals(0, t.rowOf(40));
      assertEquals(1, t.rowOf(-7));
      assertEquals(2, t.rowOf(Long.MIN_VALUE));
      assertEquals(3, t.rowOf(3));
      assertEquals(-1, t.rowOf(0), "row numbers are not ids");
      assertTrue(t.delete(-7));
      assertEquals(-1, t.rowOf(-7));
      assertFalse(t.contains(-7));
      t.add(99, new byte[1], null, 0);
      assertEquals(4, t.rowOf(99));
      t.close();
      assertThrows(IllegalStateException.class, () -> t.rowOf(40));
    }
  }

  /**
   * Lookups take the read lock: they work while this thread holds a search view (a write lock
   * could never be taken there) and while another thread holds one, and many run at once.
   */
  @Test
  void lookupsDoNotNeedTheWriteLock() throws Exception {
    try (CodeTable t = CodeTable.create(16, 0, false)) {
      long[] ids = new long[10_000];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = 31L * i - 5000;
      }
      t.addAll(ids, new byte[2 * ids.length], null, null);
      assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
        try (var v = t.view()) {
          assertTrue(t.contains(ids[77]));
          assertEquals(77, t.rowOf(ids[77]));
        }
      });
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        CountDownLatch viewHeld = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        Future<?> holder = pool.submit(() -> {
          try (var v = t.view()) {
            viewHeld.countDown();
            done.await(20, TimeUnit.SECONDS);
          }
          return null;
        });
        assertTrue(viewHeld.await(20, TimeUnit.SECONDS));
        // The id map is built lazily: several threads race to build it while a reader holds the lock.
        Future<?>[] lookups = new Future<?>[3];
        for (int w = 0; w < lookups.length; w++) {
          int start = w;
          lookups[w] = pool.submit(() -> {
            for (int i = start; i < ids.length; i += 3) {
              assertEquals(i, t.rowOf(ids[i]));
            }
            assertFalse(t.contains(1));
          });
        }
        for (Future<?> f : lookups) {
          f.get(20, TimeUnit.SECONDS);
        }
        done.countDown();
        holder.get(20, TimeUnit.SECONDS);
      } finally {
        pool.shutdownNow();
      }
    }
  }
}
