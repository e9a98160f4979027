package org.deephash.serve;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.index.LoadedIndex;
import org.deephash.model.data.PhotoIndex;

/**
 * One loaded version of the served index: the opened file, its search, the images its rows name,
 * and which file it came from. The server answers every query on exactly one generation; an
 * answer keeps the generation it was computed on, so its rows are always read from that
 * generation's table (row r of one index file is not row r of the next).
 *
 * <p>Reference counted: the service holds one reference while the generation is current, and
 * every answer or image request holds one while it uses it. When a newer generation replaces it,
 * the service drops its own reference, and the last user closes it (unmapping the file and closing
 * the search), so a query in flight always finishes on the generation it started on.
 */
final class IndexGeneration {
  /**
   * What identifies the file a generation came from: the file system's key (device and inode), the
   * modification time and the size. A rename over the path changes the key; a copy over the file
   * in place keeps the key but changes the time or the size.
   */
  record FileIdentity(Object key, Instant modified, long size) {
    /** The identity of what {@code file} names now, or null when nothing does. */
    static FileIdentity of(Path file) throws IOException {
      try {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        return new FileIdentity(a.fileKey(), a.lastModifiedTime().toInstant(), a.size());
      } catch (NoSuchFileException e) {
        return null;
      }
    }

    /** Same file object (inode) as {@code o}, whatever its content. */
    boolean sameObject(FileIdentity o) {
      return o != null && key != null && Objects.equals(key, o.key);
    }
  }

  private final long number;
  private final Path file;
  private final FileIdentity identity;
  private final Instant loadedAt;
  private final LoadedIndex index;
  private final GpuHashSearch search;
  private final boolean owned;
  private final IndexImages images;
  private final AtomicInteger refs = new AtomicInteger(1);

  /**
   * @param file the index file (null when the index was not loaded from a file the service watches)
   * @param identity the file's identity when it was opened (null without a file)
   * @param owned whether closing the generation closes the index and the search (false when the
   *     caller owns them)
   */
  IndexGeneration(long number, Path file, FileIdentity identity, LoadedIndex index, GpuHashSearch search,
      boolean owned) {
    this(number, file, identity, index, search, owned, new IndexImages.PackedFiles());
  }

  /** @param packed the packed image files, shared with the other generations of the same service */
  IndexGeneration(long number, Path file, FileIdentity identity, LoadedIndex index, GpuHashSearch search,
      boolean owned, IndexImages.PackedFiles packed) {
    this(number, file, identity, index, search, owned, packed, null, null);
  }

  /**
   * @param photos the photo folder the rows' paths are relative to (an index of {@code index
   *     --photos}), or null
   * @param thumbnails the thumbnail cache, or null (thumbnails are then the images themselves)
   */
  IndexGeneration(long number, Path file, FileIdentity identity, LoadedIndex index, GpuHashSearch search,
      boolean owned, IndexImages.PackedFiles packed, PhotoIndex photos, Thumbnails thumbnails) {
    this.number = number;
    this.file = file;
    this.identity = identity;
    this.loadedAt = Instant.now();
    this.index = index;
    this.search = search;
    this.owned = owned;
    this.images = new IndexImages(index, packed, photos, thumbnails);
  }

  long number() {
    return number;
  }

  Path file() {
    return file;
  }

  FileIdentity identity() {
    return identity;
  }

  Instant loadedAt() {
    return loadedAt;
  }

  LoadedIndex index() {
    return index;
  }

  CodeTable table() {
    return index.table();
  }

  GpuHashSearch search() {
    return search;
  }

  IndexImages images() {
    return images;
  }

  /** Takes a reference; false when the generation is already closed (take the current one again). */
  boolean acquire() {
    while (true) {
      int r = refs.get();
      if (r == 0) {
        return false;
      }
      if (refs.compareAndSet(r, r + 1)) {
        return true;
      }
    }
  }

  /** Drops a reference; the last one closes the generation. */
  void release() {
    int r = refs.decrementAndGet();
    if (r == 0 && owned) {
      try {
        search.close();
      } finally {
        index.close();
      }
    } else if (r < 0) {
      throw new IllegalStateException("generation " + number + " released more often than acquired");
    }
  }

  /** Whether the last reference is gone (for tests and /stats). */
  boolean closed() {
    return refs.get() == 0;
  }
}
