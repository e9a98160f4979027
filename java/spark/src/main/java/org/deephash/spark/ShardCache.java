package org.deephash.spark;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;
import org.deephash.index.IndexFile;

/**
 * The shards open in this JVM (an executor), keyed by path, so a shard is opened once and reused by
 * every task that searches it. A shard is a read-only memory mapping of its index file
 * ({@link IndexFile#open}): it costs page cache, not heap, and the OS evicts its pages under
 * pressure. Besides that, at most {@value #DEFAULT_MAX_OPEN} shards (property {@value
 * #MAX_OPEN_PROPERTY}) stay open: beyond it the least recently used idle shard is closed.
 *
 * <p>A shard whose file changed (size or modification time) since it was opened is reopened.
 * Paths with a scheme other than {@code file} ({@code hdfs://}, {@code s3a://}) are copied once to
 * the local disk first, through Hadoop's FileSystem (the mapping needs a local file).
 */
final class ShardCache {
  static final String MAX_OPEN_PROPERTY = "deephash.spark.maxOpenShards";
  static final int DEFAULT_MAX_OPEN = 1024;
  private static final Logger LOG = Logger.getLogger(ShardCache.class.getName());

  /** Access-ordered: iteration starts at the least recently used shard. */
  private static final LinkedHashMap<String, Shard> OPEN = new LinkedHashMap<>(16, 0.75f, true);
  private static long opened;

  private ShardCache() {}

  /** A shard held by one task; closing the lease lets the cache evict it. */
  static final class Lease implements AutoCloseable {
    private final Shard shard;
    private final boolean opened;
    private boolean released;

    private Lease(Shard shard, boolean opened) {
      this.shard = shard;
      this.opened = opened;
    }

    CodeTable table() {
      return shard.table;
    }

    /** Whether this acquire mapped the shard (false when it reused one already open). */
    boolean opened() {
      return opened;
    }

    /**
     * The shard's search for this backend, GPU address and thread count, opened on first use. The
     * GPU address is handed to the engine as the system property {@value SparkSearch#DEVICE_PROPERTY},
     * set while the backend is created (the CUDA backend reads it there; the CPU backends ignore it).
     */
    GpuHashSearch search(String backend, String gpuAddress, int threads) {
      String key = backend + "|" + gpuAddress + "|" + threads;
      synchronized (ShardCache.class) {
        GpuHashSearch s = shard.searches.get(key);
        if (s == null) {
          SearchOptions o = SearchOptions.defaults().withThreads(threads);
          if (backend != null) {
            o = o.withBackend(backend);
          }
          String before = System.getProperty(SparkSearch.DEVICE_PROPERTY);
          if (gpuAddress != null) {
            System.setProperty(SparkSearch.DEVICE_PROPERTY, gpuAddress);
          }
          try {
            s = GpuHashSearch.open(shard.table, o);
          } finally {
            if (gpuAddress != null) {
              restore(before);
            }
          }
          shard.searches.put(key, s);
        }
        return s;
      }
    }

    @Override
    public void close() {
      synchronized (ShardCache.class) {
        if (!released) {
          released = true;
          shard.refs--;
          if (shard.stale && shard.refs == 0) {
            shard.close();
          }
          evict();
        }
      }
    }
  }

  private static void restore(String before) {
    if (before == null) {
      System.clearProperty(SparkSearch.DEVICE_PROPERTY);
    } else {
      System.setProperty(SparkSearch.DEVICE_PROPERTY, before);
    }
  }

  private static final class Shard {
    final String key;
    final long size;
    final long modified;
    final CodeTable table;
    final Map<String, GpuHashSearch> searches = new HashMap<>();
    int refs;
    boolean stale;

    Shard(String key, long size, long modified, CodeTable table) {
      this.key = key;
      this.size = size;
      this.modified = modified;
      this.table = table;
    }

    void close() {
      for (GpuHashSearch s : searches.values()) {
        s.close();
      }
      searches.clear();
      table.close();
    }
  }

  /** Opens (or reuses) the shard at {@code path}; close the lease when the task is done with it. */
  static Lease acquire(String path, IndexFile.Verify verify) throws IOException {
    Path local = localize(path);
    long size = Files.size(local);
    long modified = Files.getLastModifiedTime(local).toMillis();
    synchronized (ShardCache.class) {
      Shard s = OPEN.get(path);
      if (s != null && (s.size != size || s.modified != modified)) {
        OPEN.remove(path);
        s.stale = true;
        if (s.refs == 0) {
          s.close();
        }
        s = null;
      }
      boolean opening = s == null;
      if (opening) {
        // Opening under the lock: tasks that want the same shard wait for one mapping instead of
        // each verifying and mapping it.
        s = new Shard(path, size, modified, IndexFile.open(local, verify));
        OPEN.put(path, s);
        opened++;
      }
      s.refs++;
      return new Lease(s, opening);
    }
  }

  /** Shards open now. */
  static synchronized int openCount() {
    return OPEN.size();
  }

  /** Shards opened since this JVM started (reopens included): a task that reuses one adds nothing. */
  static synchronized long openedTotal() {
    return opened;
  }

  private static void evict() {
    int max = Integer.getInteger(MAX_OPEN_PROPERTY, DEFAULT_MAX_OPEN);
    Iterator<Shard> it = OPEN.values().iterator();
    while (OPEN.size() > max && it.hasNext()) {
      Shard s = it.next();
      if (s.refs == 0) {
        it.remove();
        s.close();
      }
    }
  }

  /** Closes every idle shard (tests; a JVM that is done searching). */
  static synchronized void closeIdle() {
    Iterator<Shard> it = OPEN.values().iterator();
    while (it.hasNext()) {
      Shard s = it.next();
      if (s.refs == 0) {
        it.remove();
        s.close();
      }
    }
  }

  /** A local file for {@code path}: itself for local paths, a copy for remote file systems. */
  static Path localize(String path) throws IOException {
    URI uri = URI.create(path.replace(" ", "%20"));
    String scheme = uri.getScheme();
    if (scheme == null || scheme.length() == 1 /* a Windows drive */) {
      return Path.of(path);
    }
    if (scheme.equals("file")) {
      return Path.of(uri);
    }
    Path dir = Path.of(System.getProperty("java.io.tmpdir"), "deephash-shards");
    Files.createDirectories(dir);
    String name = Integer.toHexString(path.hashCode()) + "-" + Path.of(uri.getPath()).getFileName();
    Path local = dir.resolve(name);
    synchronized (ShardCache.class) {
      if (!Files.exists(local)) {
        Path tmp = Files.createTempFile(dir, name, ".part");
        try {
          org.apache.hadoop.fs.Path src = new org.apache.hadoop.fs.Path(uri);
          org.apache.hadoop.fs.FileSystem fs = src.getFileSystem(new org.apache.hadoop.conf.Configuration());
          fs.copyToLocalFile(false, src, new org.apache.hadoop.fs.Path(tmp.toUri()), true);
          Files.move(tmp, local, StandardCopyOption.ATOMIC_MOVE);
          LOG.log(Level.INFO, "copied shard {0} to {1}", new Object[] {path, local});
        } catch (IOException | RuntimeException e) {
          Files.deleteIfExists(tmp);
          throw e;
        }
      }
    }
    return local;
  }
}
