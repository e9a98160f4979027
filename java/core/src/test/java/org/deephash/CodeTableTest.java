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
      // a live id is taken; a deleted id may be added again: its new row is the one it names
      assertThrows(IllegalArgumentException.class, () -> t.add(11, one, null, 0));
      t.add(10, one, null, 0);
      assertTrue(t.contains(10));
      assertEquals(1, t.size() - t.liveCount(), "the old row of 10 stays deleted");
      SearchResult again = s.query(one, 3);
      assertArrayEquals(new long[] {5, 10, 11}, again.ids(0), "10 at its new code, ties by id");
      assertArrayEquals(new int[] {0, 0, 1}, again.hammings(0));
    }
  }

  /** A deleted id added again: found by lookups and searches at its new row, saved consistently. */
  @Test
  void deletedIdsCanBeAddedAgain(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    byte[] a = {1, 0, 0, 0, 0, 0, 0, 0};
    byte[] b = {(byte) 0xff, 0, 0, 0, 0, 0, 0, 0};
    for (org.deephash.index.IndexFile.SaveOption[] opts : new org.deephash.index.IndexFile.SaveOption[][] {
        {}, {org.deephash.index.IndexFile.SaveOption.KEEP_DELETED}}) {
      try (CodeTable t = CodeTable.create(64, 0, false)) {
        t.add(42, a, null, 0);
        t.add(43, a, null, 0);
        assertTrue(t.delete(42));
        t.add(42, b, null, 0);
        assertEquals(2, t.rowOf(42));
        assertArrayEquals(b, t.code(t.rowOf(42)));
        java.nio.file.Path f = dir.resolve("t" + opts.length + ".dh");
        org.deephash.index.IndexFile.save(t, f, opts);
        try (CodeTable u = org.deephash.index.IndexFile.open(f);
            GpuHashSearch s = GpuHashSearch.open(u, SearchOptions.defaults().withBackend("java"))) {
          assertArrayEquals(b, u.code(u.rowOf(42)), "the newest row of 42 after a reopen");
          SearchResult r = s.query(b, 5);
          assertEquals(2, r.count(0));
          assertEquals(42, r.id(0, 0));
          assertEquals(0, r.hamming(0, 0));
          assertTrue(u.delete(42));
          assertFalse(u.contains(42));
          u.add(42, a, null, 0); // a third row for 42, on the reopened (mapped) table
          SearchResult r3 = s.query(b, 5);
          assertArrayEquals(new long[] {42, 43}, r3.ids(0));
          assertArrayEquals(new int[] {7, 7}, r3.hammings(0));
        }
      }
    }
  }

  /** Ascending ids need no id map (binary search); the first id out of order switches to the map. */
  @Test
  void idLookupBeforeAndAfterTheIdsStopAscending() {
    try (CodeTable t = CodeTable.create(8, 0, false)) {
      t.addAll(null, new byte[3], null, null); // ids 0, 1, 2
      t.addAll(new long[] {7, 9}, new byte[2], null, null);
      assertTrue(ascending(t));
      assertTrue(t.contains(0) && t.contains(2) && t.contains(7) && t.contains(9));
      assertFalse(t.contains(3) || t.contains(8) || t.contains(-1) || t.contains(10));
      var dup = assertThrows(IllegalArgumentException.class, () -> t.addAll(new long[] {10, 9}, new byte[2], null, null));
      assertTrue(dup.getMessage().contains("duplicate id 9"), dup.getMessage());
      assertThrows(IllegalArgumentException.class, () -> t.addAll(new long[] {7}, new byte[1], null, null));
      assertTrue(ascending(t), "a rejected batch changes nothing");
      assertTrue(t.delete(7));
      assertFalse(t.contains(7));
      t.addAll(new long[] {-5, 100}, new byte[2], null, null); // -5 < 9: no longer ascending
      assertFalse(ascending(t));
      assertTrue(t.contains(-5) && t.contains(100) && t.contains(0) && t.contains(9));
      assertFalse(t.contains(7), "still deleted");
      assertThrows(IllegalArgumentException.class, () -> t.addAll(new long[] {2}, new byte[1], null, null));
      t.addAll(null, new byte[1], null, null); // row number 7: id 7 was deleted, so it may come back
      assertTrue(t.contains(7));
      t.addAll(new long[] {101}, new byte[1], null, null);
      assertFalse(ascending(t), "once out of order, the table keeps its map");
      assertEquals(9, t.size());
      assertEquals(7, t.id(7));
      assertEquals(101, t.id(8));
    }
  }

  @Test
  void wrappedTableFindsWhetherItsIdsAscend() {
    try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
      var codes = a.allocate(3 + 8);
      var up = a.allocateFrom(ValueLayout.JAVA_LONG, 4, 5, 9);
      var down = a.allocateFrom(ValueLayout.JAVA_LONG, 4, 9, 5);
      try (CodeTable t = CodeTable.wrap(8, 0, 3, codes, null, up, null, null, null)) {
        assertTrue(ascending(t));
        assertTrue(t.contains(9) && !t.contains(6));
      }
      try (CodeTable t = CodeTable.wrap(8, 0, 3, codes, null, down, null, null, null)) {
        assertFalse(ascending(t));
        assertTrue(t.contains(9) && t.contains(5) && !t.contains(6));
      }
    }
  }

  @Test
  void idsAreRowsOnlyWhileEveryIdIsItsRow() {
    try (CodeTable t = CodeTable.create(8, 0, false)) {
      assertFalse(rowIds(t), "no rows");
      t.addAll(null, new byte[3], null, null); // ids 0, 1, 2
      assertTrue(rowIds(t));
      t.addAll(new long[] {3}, new byte[1], null, null); // given, but its row number
      assertTrue(rowIds(t));
      assertTrue(t.delete(1));
      assertTrue(rowIds(t), "a deleted row keeps its id");
      t.addAll(new long[] {9}, new byte[1], null, null); // ascending, not its row (4)
      assertTrue(ascending(t));
      assertFalse(rowIds(t));
    }
    try (CodeTable t = CodeTable.create(8, 0, false)) {
      t.addAll(new long[] {1, 2, 3}, new byte[3], null, null); // ascending from 1
      assertFalse(rowIds(t));
    }
  }

  private static boolean rowIds(CodeTable t) {
    try (var v = t.view()) {
      return v.get().idsAreRows();
    }
  }

  private static boolean ascending(CodeTable t) {
    try (var v = t.view()) {
      return v.get().idsAscending();
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
