package org.deephash.model.data;

import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;

/**
 * The thumbnail files of a photo index: where they live ({@code .INDEX.thumbs/} beside the index),
 * what a thumbnail is (the photo upright, fitted within {@code size x size}, JPEG quality 0.85) and
 * the name it is kept under (a hash of the photo's path, byte size and modification time, and the
 * size), so that {@code index --photos} can make the grid's thumbnails while it decodes the photos
 * anyway and {@code serve} finds them, or makes the missing ones on request, the same way.
 */
public final class PhotoThumbnails {
  /** The sizes served: 160 (result grid) and 480 (the query, a larger preview). */
  public static final int[] SIZES = {160, 480};
  public static final int DEFAULT_SIZE = 160;

  private PhotoThumbnails() {}

  /**
   * The cache folder of an index file: {@code .INDEX.thumbs} beside it, hidden, so that an index
   * written inside its own photo folder does not index its thumbnails the next time ({@code index
   * --photos} skips hidden folders).
   */
  public static Path dirFor(Path indexFile) {
    return indexFile.resolveSibling("." + indexFile.getFileName() + ".thumbs");
  }

  /** The file of {@code photo}'s thumbnail of {@code size} in {@code dir}. */
  public static Path file(Path dir, Path photo, BasicFileAttributes a, int size) {
    return dir.resolve(key(photo, a, size) + ".jpg");
  }

  /** The side a photo is decoded at for a thumbnail of {@code size}: twice it, so the last scaling step is fine. */
  public static int decodeSide(int size) {
    return 2 * size;
  }

  /** A thumbnail's JPEG bytes: {@code img} (decoded upright) fitted within {@code size}. */
  public static byte[] make(BufferedImage img, int size) {
    return jpeg(fit(img, size));
  }

  /**
   * Writes a thumbnail into place: to a temporary name, then renamed, so a reader never sees half
   * of one and two writers racing both succeed.
   *
   * @return false when it could not be kept (a read-only or full disk)
   */
  public static boolean write(Path dir, Path file, byte[] jpeg) {
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
      return false;
    }
  }

  /** The picture scaled (never up) to fit within {@code size x size}, as RGB. */
  public static BufferedImage fit(BufferedImage src, int size) {
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

  /** JPEG of quality 0.85, in memory. */
  public static byte[] jpeg(BufferedImage img) {
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
