package org.deephash.serve;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import org.deephash.model.data.DatasetException;
import org.deephash.model.data.PhotoFiles;
import org.deephash.model.data.PhotoThumbnails;

/**
 * Small JPEG previews of indexed photos, made on first request and kept on disk beside the index
 * ({@code .INDEX.thumbs/}), so that a result grid never loads full photos and a photo is decoded
 * once, not once per viewer.
 *
 * <p>A thumbnail is the photo upright (EXIF orientation), fitted within {@code size x size} pixels
 * (one of {@link #SIZES}), as a JPEG of quality 0.85: a few KiB, whatever the photo. Its file name
 * is a hash of the photo's path, byte size and modification time, so a changed photo gets a new
 * thumbnail. Files are written to a temporary name and renamed into place: a reader never sees a
 * half-written one, and two requests racing for the same thumbnail both succeed. At most
 * {@code concurrentDecodes} photos are decoded at once (the HTTP API calls it from its decode pool,
 * platform threads, one per core); a photo is decoded with subsampling to no less than twice the
 * thumbnail size, so a 50-megapixel photo costs a small raster.
 *
 * <p>The cache is bounded ({@code maxBytes}, {@code serve --thumb-cache-mb}): when a new thumbnail
 * takes it over the bound, the least recently used thumbnails are deleted until it holds at most
 * 90% of it. A thumbnail's modification time is its last use (refreshed on a hit when older than a
 * minute, to spare the disk a write per request), so the ones the grid keeps showing stay.
 */
final class Thumbnails {
  /** The sizes served: 160 (result grid) and 480 (the query, a larger preview). */
  static final int[] SIZES = PhotoThumbnails.SIZES;
  static final int DEFAULT_SIZE = PhotoThumbnails.DEFAULT_SIZE;

  private final Path dir;
  private final Semaphore decoding;
  private final AtomicLong generated = new AtomicLong();
  private final AtomicLong hits = new AtomicLong();
  private final AtomicLong evicted = new AtomicLong();
  private final long maxBytes;
  /** Bytes the cache holds, counted from the folder on first use; -1 until then. */
  private long bytes = -1;

  /** Default bound of the cache: 2 GiB (some 300,000 grid thumbnails). */
  static final long DEFAULT_MAX_BYTES = 2L << 30;
  /** A hit refreshes the thumbnail's last-use time when it is older than this. */
  static final long TOUCH_AFTER_MS = 60_000;

  /** @param dir the cache folder (made when the first thumbnail is written) */
  Thumbnails(Path dir, int concurrentDecodes) {
    this(dir, concurrentDecodes, DEFAULT_MAX_BYTES);
  }

  /** @param maxBytes the most the cache may hold on disk (at least 1 MiB) */
  Thumbnails(Path dir, int concurrentDecodes, long maxBytes) {
    if (maxBytes < (1 << 20)) {
      throw new IllegalArgumentException("the thumbnail cache bound must be at least 1 MiB (passed " + maxBytes + ")");
    }
    this.dir = dir;
    this.decoding = new Semaphore(Math.max(1, concurrentDecodes));
    this.maxBytes = maxBytes;
  }

  /**
   * The cache folder of an index file: {@code .INDEX.thumbs} beside it, hidden, so that an index
   * written inside its own photo folder does not index its thumbnails the next time ({@code index
   * --photos} skips hidden folders).
   */
  static Path dirFor(Path indexFile) {
    return PhotoThumbnails.dirFor(indexFile);
  }

  Path dir() {
    return dir;
  }

  /** Thumbnails made so far (each once), and ones served from the cache. */
  long generated() {
    return generated.get();
  }

  long hits() {
    return hits.get();
  }

  /** Thumbnails deleted to keep the cache within its bound. */
  long evicted() {
    return evicted.get();
  }

  /** Bytes the cache holds now (as this server counted them). */
  synchronized long bytes() {
    return Math.max(0, bytes);
  }

  /** Whether {@code size} is one of {@link #SIZES}. */
  static boolean supported(int size) {
    for (int s : SIZES) {
      if (s == size) {
        return true;
      }
    }
    return false;
  }

  /**
   * The JPEG bytes of {@code photo}'s thumbnail fitted within {@code size} pixels, from the cache
   * or made now.
   *
   * @throws ApiException 404 when the photo is gone or cannot be decoded, 503 when interrupted
   */
  byte[] get(Path photo, int size) {
    BasicFileAttributes a;
    try {
      a = Files.readAttributes(photo, BasicFileAttributes.class);
    } catch (IOException e) {
      throw new ApiException(404, "the photo is not there any more (" + e.getClass().getSimpleName() + ")");
    }
    Path file = PhotoThumbnails.file(dir, photo, a, size);
    byte[] cached = readIfThere(file);
    if (cached != null) {
      hits.incrementAndGet();
      touch(file);
      return cached;
    }
    try {
      decoding.acquire();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ApiException(503, "interrupted");
    }
    try {
      cached = readIfThere(file); // made while this request waited
      if (cached != null) {
        hits.incrementAndGet();
        return cached;
      }
      byte[] jpeg = PhotoThumbnails.make(read(photo, size), size);
      if (PhotoThumbnails.write(dir, file, jpeg)) {
        added(jpeg.length);
      }
      generated.incrementAndGet();
      return jpeg;
    } finally {
      decoding.release();
    }
  }

  private static BufferedImage read(Path photo, int size) {
    try {
      return PhotoFiles.read(photo, PhotoThumbnails.decodeSide(size), PhotoThumbnails.decodeSide(size));
    } catch (DatasetException e) {
      throw new ApiException(404, "the photo cannot be shown: " + RequestParser.safe(e.getMessage()));
    }
  }

  private static byte[] readIfThere(Path file) {
    try {
      return Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return null;
    } catch (IOException e) {
      return null; // unreadable cache entry: make it again
    }
  }

  private static void touch(Path file) {
    try {
      long now = System.currentTimeMillis();
      if (now - Files.getLastModifiedTime(file).toMillis() > TOUCH_AFTER_MS) {
        Files.setLastModifiedTime(file, java.nio.file.attribute.FileTime.fromMillis(now));
      }
    } catch (IOException e) {
      // evicted meanwhile, or a read-only cache: nothing to keep fresh
    }
  }

  /** Counts a new thumbnail, and evicts the least recently used ones when over the bound. */
  private synchronized void added(long n) {
    if (bytes < 0) {
      bytes = 0;
      for (Entry e : entries()) {
        bytes += e.size();
      }
    } else {
      bytes += n;
    }
    if (bytes <= maxBytes) {
      return;
    }
    java.util.List<Entry> all = entries();
    all.sort(java.util.Comparator.comparingLong(Entry::lastUse).thenComparing(e -> e.file().toString()));
    long total = 0;
    for (Entry e : all) {
      total += e.size();
    }
    long target = maxBytes / 10 * 9;
    for (Entry e : all) {
      if (total <= target) {
        break;
      }
      try {
        if (Files.deleteIfExists(e.file())) {
          evicted.incrementAndGet();
        }
        total -= e.size();
      } catch (IOException x) {
        // in use elsewhere or read-only: left, counted
      }
    }
    bytes = total;
  }

  private record Entry(Path file, long size, long lastUse) {}

  /** The cached thumbnails (not the temporary files being written). */
  private java.util.List<Entry> entries() {
    java.util.List<Entry> out = new java.util.ArrayList<>();
    try (java.util.stream.Stream<Path> s = Files.list(dir)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        String name = p.getFileName().toString();
        if (name.endsWith(".jpg") && !name.startsWith(".")) {
          try {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            out.add(new Entry(p, a.size(), a.lastModifiedTime().toMillis()));
          } catch (IOException e) {
            // removed meanwhile
          }
        }
      }
    } catch (IOException e) {
      // no folder yet
    }
    return out;
  }

}
