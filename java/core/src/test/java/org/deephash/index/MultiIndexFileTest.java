package org.deephash.index;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.testing.ParitySuite;
import org.deephash.testing.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Multi-index tables saved as optional sections of the index file, mapped on open, used by the search. */
class MultiIndexFileTest {
  @TempDir Path dir;

  private static CodeTable table(int n, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    byte[] codes = TestData.codes(rnd, n, 8);
    return TestData.table(64, 0, codes, TestData.ids(rnd, n), null);
  }

  private static byte[] queries(CodeTable t, int nq, long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    byte[] q = new byte[nq * 8];
    for (int i = 0; i < nq; i++) {
      System.arraycopy(t.code(rnd.nextInt(t.size())), 0, q, i * 8, 8);
      q[i * 8 + rnd.nextInt(8)] ^= (byte) (1 << rnd.nextInt(8)); // a planted neighbour at distance 1
    }
    return q;
  }

  @Test
  void savedTablesOpenMappedAndAnswerAsTheScan() throws IOException {
    Path f = dir.resolve("t.dhx");
    try (CodeTable t = table(20000, 1)) {
      t.buildMultiIndex(4);
      for (int i = 0; i < 500; i++) {
        t.delete(t.id(i * 7)); // the saved file compacts them away: the tables are renumbered
      }
      IndexFile.save(t, f);
    }
    try (CodeTable t = IndexFile.open(f);
        GpuHashSearch oracle = GpuHashSearch.open(t, new SearchOptions("scalar", 1));
        GpuHashSearch mih = GpuHashSearch.open(t, new SearchOptions("java", 1, "mih"));
        GpuHashSearch auto = GpuHashSearch.open(t, new SearchOptions("java", 1))) {
      assertEquals(4, t.multiIndexTables());
      byte[] q = queries(t, 20, 2);
      for (int r : new int[] {0, 1, 2, 5}) {
        SearchResult got = mih.radius(q, r, 100);
        assertEquals("mih", got.method());
        ParitySuite.assertSame(oracle.radius(q, r, 100), got, "radius " + r);
      }
      ParitySuite.assertSame(oracle.query(q, 5), mih.query(q, 5), "k=5");
      assertEquals("mih", auto.radius(q, 2, 100).method(), "radius 2 over 19,500 codes: the tables are cheaper");
      assertEquals("scan", auto.radius(q, 30, 100).method(), "radius 30: probing would cost more than a scan");
      assertEquals("scan", oracle.radius(q, 2, 100).method(), "the oracle always scans");
    }
    IndexInfo info = IndexFile.info(f);
    assertTrue(info.sections().stream().anyMatch(s -> s.name().equals("mih.r.3")));
  }

  @Test
  void aDamagedTableIsRefusedNamingItsSection() throws IOException {
    Path f = dir.resolve("t.dhx");
    try (CodeTable t = table(5000, 3)) {
      t.buildMultiIndex(0);
      IndexFile.save(t, f);
    }
    long at;
    try (SectionFile sf = SectionFile.open(f, IndexFile.SCHEMA, false)) {
      at = sf.find("mih.r.0").offset() + 40;
    }
    try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(1);
      ch.read(b, at);
      b.put(0, (byte) (b.get(0) ^ 0x10));
      ch.write(b.flip(), at);
    }
    IndexFormatException e = assertThrows(IndexFormatException.class, () -> IndexFile.open(f).close());
    assertTrue(e.getMessage().contains("mih.r.0"), e.getMessage());
  }

  @Test
  void tablesAreKeptUpOnAddAndDroppedOnRequest() {
    try (CodeTable t = table(70000, 4)) {
      t.buildMultiIndex(0);
      try (CodeTable.LockedView v = t.view()) {
        assertEquals(70000, v.multiIndex().rows());
      }
      SplittableRandom rnd = new SplittableRandom(5);
      byte[] more = new byte[70000 * 8];
      rnd.nextBytes(more);
      long[] ids = new long[70000];
      for (int i = 0; i < ids.length; i++) {
        ids[i] = 1_000_000_000L + i;
      }
      t.addAll(ids, more, null, null); // more than an eighth of the table: rebuilt
      try (CodeTable.LockedView v = t.view()) {
        assertEquals(140000, v.multiIndex().rows());
      }
      t.dropMultiIndex();
      try (CodeTable.LockedView v = t.view()) {
        assertNull(v.multiIndex());
      }
      assertEquals(-1, t.multiIndexTables());
      IllegalStateException e = assertThrows(IllegalStateException.class,
          () -> GpuHashSearch.open(t, new SearchOptions("java", 1, "mih")).query(new byte[8], 1));
      assertTrue(e.getMessage().contains("import --mih"), e.getMessage());
    }
  }

  @Test
  void filesWithoutTablesStillOpen() throws IOException {
    Path f = dir.resolve("plain.dhx");
    try (CodeTable t = table(100, 6)) {
      IndexFile.save(t, f);
    }
    try (CodeTable t = IndexFile.open(f); CodeTable.LockedView v = t.view()) {
      assertNull(v.multiIndex());
      assertNotNull(v.get());
    }
  }
}
