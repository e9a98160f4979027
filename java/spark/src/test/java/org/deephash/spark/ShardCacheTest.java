package org.deephash.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.deephash.CodeTable;
import org.deephash.index.IndexFile;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The per-JVM shard cache, without Spark: reuse, reopen of a changed file, the bound on open shards. */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ShardCacheTest {
  @TempDir
  Path dir;

  @AfterEach
  void clear() {
    System.clearProperty(ShardCache.MAX_OPEN_PROPERTY);
    ShardCache.closeIdle();
  }

  @Test
  void aShardIsMappedOnceAndReused() throws Exception {
    List<String> paths = new Collection(1, 100, 64, 0).save(dir, 2, 0, 2);
    CodeTable first;
    try (ShardCache.Lease a = ShardCache.acquire(paths.get(0), IndexFile.Verify.FULL)) {
      first = a.table();
    }
    long opened = ShardCache.openedTotal();
    try (ShardCache.Lease b = ShardCache.acquire(paths.get(0), IndexFile.Verify.FULL)) {
      assertSame(first, b.table());
      assertSame(b.search(null, null, 1), b.search(null, null, 1), "one search per backend, address, threads");
    }
    assertEquals(opened, ShardCache.openedTotal());
  }

  @Test
  void aRewrittenFileIsReopened() throws Exception {
    Collection c = new Collection(3, 100, 64, 0);
    List<String> paths = c.save(dir, 1, 0, 4);
    CodeTable before;
    try (ShardCache.Lease a = ShardCache.acquire(paths.get(0), IndexFile.Verify.FULL)) {
      before = a.table();
    }
    new Collection(5, 50, 64, 0).save(dir, 1, 0, 6); // same name, other rows
    Files.setLastModifiedTime(Path.of(paths.get(0)), FileTime.fromMillis(System.currentTimeMillis() + 5000));
    try (ShardCache.Lease b = ShardCache.acquire(paths.get(0), IndexFile.Verify.FULL)) {
      assertNotSame(before, b.table());
      assertEquals(50, b.table().size());
    }
  }

  @Test
  void openShardsAreBounded() throws Exception {
    System.setProperty(ShardCache.MAX_OPEN_PROPERTY, "2");
    ShardCache.closeIdle();
    List<String> paths = new Collection(7, 200, 64, 0).save(dir, 5, 0, 8);
    try (ShardCache.Lease held = ShardCache.acquire(paths.get(0), IndexFile.Verify.FULL)) {
      for (String p : paths.subList(1, 5)) {
        try (ShardCache.Lease l = ShardCache.acquire(p, IndexFile.Verify.HEADER_ONLY)) {
          assertTrue(l.table().size() >= 0);
        }
      }
      assertEquals(2, ShardCache.openCount());
      assertTrue(held.table().size() >= 0, "a shard in use is never closed");
    }
  }
}
