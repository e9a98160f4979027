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
  static final int[] SIZES = {160, 480};
  static final int DEFAULT_SIZE = 160;

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
    return indexFile.resolveSibling("." + indexFile.getFileName() + ".thumbs");
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
    Path file = dir.resolve(key(photo, a, size) + ".jpg");
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
      byte[] jpeg = jpeg(fit(read(photo, size), size));
      if (write(file, jpeg)) {
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
      return PhotoFiles.read(photo, 2 * size, 2 * size);
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

  /** Writes a thumbnail into place; false when it could not be kept (a read-only or full disk). */
  private boolean write(Path file, byte[] jpeg) {
    try {
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, ".tmp-", ".jpg");
      try {
        Files.write(tmp, jpeg);
        try {
          Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
          Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
        }
      } finally {
        Files.deleteIfExists(tmp);
      }
      return true;
    } catch (IOException e) {
      return false; // the thumbnail is served all the same, just not kept
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

  /** The picture scaled (never up) to fit within {@code size x size}, as RGB. */
  static BufferedImage fit(BufferedImage src, int size) {
    int w = src.getWidth();
    int h = src.getHeight();
    double s = Math.min(1.0, (double) size / Math.max(w, h));
    int tw = Math.max(1, (int) Math.round(w * s));
    int th = Math.max(1, (int) Math.round(h * s));
    BufferedImage dst = new BufferedImage(tw, th, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = dst.createGraphics();
    try {
      g.setColor(java.awt.Color.WHITE); // transparent PNGs on white, not black
      g.fillRect(0, 0, tw, th);
      g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
      // several halvings before the last step: one bilinear step from far larger aliases badly
      BufferedImage cur = src;
      while (cur.getWidth() / 2 >= tw && cur.getHeight() / 2 >= th && cur.getWidth() > 2 * tw) {
        BufferedImage half = new BufferedImage(cur.getWidth() / 2, cur.getHeight() / 2,
            cur.getColorModel().hasAlpha() ? BufferedImage.TYPE_INT_ARGB : BufferedImage.TYPE_INT_RGB);
        Graphics2D hg = half.createGraphics();
        hg.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        hg.drawImage(cur, 0, 0, half.getWidth(), half.getHeight(), null);
        hg.dispose();
        cur = half;
      }
      g.drawImage(cur, 0, 0, tw, th, null);
    } finally {
      g.dispose();
    }
    return dst;
  }

  static byte[] jpeg(BufferedImage img) {
    Iterator<ImageWriter> writers = ImageIO.getImageWritersByFormatName("jpeg");
    if (!writers.hasNext()) {
      throw new IllegalStateException("this JDK has no JPEG writer");
    }
    ImageWriter w = writers.next();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (ImageOutputStream ios = ImageIO.createImageOutputStream(out)) {
      ImageWriteParam p = w.getDefaultWriteParam();
      p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
      p.setCompressionQuality(0.85f);
      w.setOutput(ios);
      w.write(null, new IIOImage(img, null, null), p);
    } catch (IOException e) {
      throw new IllegalStateException("JPEG encoding failed in memory", e);
    } finally {
      w.dispose();
    }
    return out.toByteArray();
  }

  private static String key(Path photo, BasicFileAttributes a, int size) {
    try {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      md.update((photo.toAbsolutePath().normalize() + "\n" + a.size() + "\n" + a.lastModifiedTime().toMillis())
          .getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(md.digest(), 0, 16) + "-" + size;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }
}
