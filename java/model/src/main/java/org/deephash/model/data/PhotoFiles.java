package org.deephash.model.data;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * A folder of photos, as {@code engine-cli index --photos} reads it and {@code engine-cli serve}
 * shows it: every JPEG, PNG, WebP, GIF and BMP file under the folder (sub-folders included, symbolic
 * links and hidden entries not followed), JPEGs turned upright by their EXIF orientation ({@link
 * Exif}). WebP is decoded by the TwelveMonkeys ImageIO plug-in (lossy and lossless; a WebP's own
 * EXIF orientation is not applied).
 *
 * <p>Nothing in the folder stops a scan: a file there is no decoder for (HEIC, AVIF, JPEG XL), a
 * TIFF file (left out, as uploads leave it out), an entry that cannot be listed, and (when read)
 * a truncated or corrupt file are {@link Skipped}, each with a one-line reason. Decoding is bounded by what the caller needs, not by what
 * the file announces: it subsamples while decoding down to no less than the asked size.
 *
 * <pre>{@code
 * PhotoFiles.Listing l = PhotoFiles.scan(Path.of("~/Pictures"));
 * for (String rel : l.photos()) {
 *   BufferedImage img = PhotoFiles.read(l.root().resolve(rel), 128, 128);  // upright, each side >= 128 or the file's
 * }
 * }</pre>
 */
public final class PhotoFiles {
  /** File name endings read as photos (the JDK's own decoders, and WebP's plug-in). */
  public static final Set<String> DECODABLE = Set.of("jpg", "jpeg", "png", "webp", "gif", "bmp");
  /** Photo formats that are listed as skipped: there is no decoder for them. */
  public static final Set<String> NO_DECODER = Set.of("heic", "heif", "avif", "jxl");
  /**
   * Photo formats the JDK reads but this reader leaves out, as the server leaves them out of
   * uploads: TIFF's reader is more than a photo folder needs to trust on hostile input.
   */
  public static final Set<String> LEFT_OUT = Set.of("tif", "tiff");
  /** The formats a photo may really be in, whatever its name says (ImageIO's names). */
  static final Set<String> FORMATS = Set.of("jpeg", "png", "webp", "gif", "bmp");
  /** Largest photo file read (bytes). */
  public static final long MAX_FILE_BYTES = 256L << 20;
  /** Bytes read ahead for the EXIF header (its APP1 segment is at most 64 KiB, after APP0). */
  static final int HEAD_BYTES = 256 << 10;
  /** Largest photo read, in pixels as its header announces them (a decompression bomb is refused). */
  public static final long MAX_PIXELS = 1L << 28;

  private PhotoFiles() {}

  /** A file that was not indexed, with why (one line). */
  public record Skipped(String path, String reason) {
    @Override
    public String toString() {
      return path + ": " + reason;
    }
  }

  /**
   * What a scan found.
   *
   * @param root the folder, absolute and normalised
   * @param photos the photo files, relative to {@code root} with '/' separators, sorted
   * @param skipped photo-like files that cannot be read and entries that cannot be listed
   * @param ignored files that are not photos by name (a manifest, a text file)
   */
  public record Listing(Path root, List<String> photos, List<Skipped> skipped, int ignored) {}

  /** Lists the photos under {@code root}, recursively, in sorted order of their relative paths. */
  public static Listing scan(Path root) throws IOException {
    Path abs = root.toAbsolutePath().normalize();
    if (!Files.isDirectory(abs)) {
      throw new DatasetException(root + " is not a folder: --photos takes a folder of photos");
    }
    List<String> photos = new ArrayList<>();
    List<Skipped> skipped = new ArrayList<>();
    int[] ignored = {0};
    Files.walkFileTree(abs, new SimpleFileVisitor<>() {
      @Override
      public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
        return !dir.equals(abs) && hidden(dir) ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
        if (hidden(file)) {
          return FileVisitResult.CONTINUE;
        }
        String rel = relative(abs, file);
        String ext = extension(file);
        if (attrs.isSymbolicLink()) {
          if (DECODABLE.contains(ext) || NO_DECODER.contains(ext) || LEFT_OUT.contains(ext)) {
            skipped.add(new Skipped(rel, "a symbolic link (not followed)"));
          } else {
            ignored[0]++;
          }
        } else if (!attrs.isRegularFile()) {
          ignored[0]++;
        } else if (DECODABLE.contains(ext)) {
          photos.add(rel);
        } else if (NO_DECODER.contains(ext)) {
          skipped.add(new Skipped(rel, "no decoder: ." + ext + " files cannot be decoded (convert them to JPEG,"
              + " PNG or WebP)"));
        } else if (LEFT_OUT.contains(ext)) {
          skipped.add(new Skipped(rel, "TIFF is not read (convert it to JPEG or PNG)"));
        } else {
          ignored[0]++;
        }
        return FileVisitResult.CONTINUE;
      }

      @Override
      public FileVisitResult visitFileFailed(Path file, IOException e) {
        skipped.add(new Skipped(relative(abs, file), "cannot be listed (" + e.getClass().getSimpleName() + ")"));
        return FileVisitResult.CONTINUE;
      }
    });
    photos.sort(Comparator.naturalOrder());
    skipped.sort(Comparator.comparing(Skipped::path));
    return new Listing(abs, List.copyOf(photos), List.copyOf(skipped), ignored[0]);
  }

  /**
   * Reads a photo upright (EXIF orientation applied), decoded with subsampling to no less than
   * {@code minWidth x minHeight} upright pixels where the photo is larger.
   *
   * @throws DatasetException with a one-line reason (the file name first) when it cannot be read
   */
  public static BufferedImage read(Path file, int minWidth, int minHeight) {
    if (minWidth < 1 || minHeight < 1) {
      throw new IllegalArgumentException("the size asked must be positive (passed " + minWidth + "x" + minHeight + ")");
    }
    byte[] head;
    try {
      long size = Files.size(file);
      if (size > MAX_FILE_BYTES) {
        throw new DatasetException(file + ": " + size + " bytes, more than the " + (MAX_FILE_BYTES >> 20)
            + " MiB a photo may have");
      }
      if (size == 0) {
        throw new DatasetException(file + ": empty file");
      }
      // the headers (EXIF among them) only: the pixels are read from the file as they are decoded,
      // so memory holds the decoded raster, not the file
      try (InputStream in = Files.newInputStream(file)) {
        head = in.readNBytes(HEAD_BYTES);
      }
    } catch (IOException e) {
      throw new DatasetException(file + ": cannot be read (" + e.getClass().getSimpleName() + ")");
    }
    try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
      return decode(in, head, minWidth, minHeight, file.toString());
    } catch (IOException e) {
      throw new DatasetException(file + ": cannot be read (" + e.getClass().getSimpleName() + ")");
    }
  }

  /** As {@link #read} from a file's bytes; {@code name} names it in errors. */
  public static BufferedImage decode(byte[] bytes, int minWidth, int minHeight, String name) {
    try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(bytes))) {
      return decode(in, bytes, minWidth, minHeight, name);
    } catch (IOException e) {
      throw new DatasetException(name + ": cannot be read (" + e.getClass().getSimpleName() + ")");
    }
  }

  /** Decodes from {@code in}; {@code head} is the start of the same bytes (where EXIF is). */
  private static BufferedImage decode(ImageInputStream in, byte[] head, int minWidth, int minHeight, String name) {
    if (minWidth < 1 || minHeight < 1) {
      throw new IllegalArgumentException("the size asked must be positive (passed " + minWidth + "x" + minHeight + ")");
    }
    try {
      ImageReader reader = null;
      Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
      while (readers != null && readers.hasNext()) {
        ImageReader r = readers.next();
        if (FORMATS.contains(r.getFormatName().toLowerCase(Locale.ROOT))) {
          reader = r;
          break;
        }
        r.dispose();
      }
      if (reader == null) {
        throw new DatasetException(name + ": not a JPEG, PNG, WebP, GIF or BMP image (unknown or damaged header)");
      }
      try {
        reader.setInput(in, true, true);
        int w = reader.getWidth(0);
        int h = reader.getHeight(0);
        if (w < 1 || h < 1 || (long) w * h > MAX_PIXELS) {
          throw new DatasetException(name + ": " + w + "x" + h + " pixels, more than the " + MAX_PIXELS
              + " a photo may have");
        }
        boolean jpeg = reader.getFormatName().toLowerCase(Locale.ROOT).equals("jpeg");
        int orientation = jpeg ? Exif.orientation(head) : Exif.NORMAL;
        // the stored picture is turned by 90 degrees for orientations 5..8: ask for the stored sides
        boolean swap = orientation >= 5;
        int needW = swap ? minHeight : minWidth;
        int needH = swap ? minWidth : minHeight;
        ImageReadParam param = reader.getDefaultReadParam();
        // one factor for both axes (the picture keeps its shape), the smaller of the two, so that
        // both sides stay at least as large as asked
        int step = Math.max(1, Math.min(w / needW, h / needH));
        param.setSourceSubsampling(step, step, 0, 0);
        BufferedImage img = reader.read(0, param);
        if (img == null) {
          throw new DatasetException(name + ": the image could not be decoded");
        }
        return Pixels.orient(img, orientation);
      } finally {
        reader.dispose();
      }
    } catch (DatasetException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
      throw new DatasetException(name + ": corrupt or truncated image (" + oneLine(why) + ")");
    }
  }

  private static String oneLine(String s) {
    String t = s.replaceAll("[\\r\\n\\t]+", " ").strip();
    return t.length() > 160 ? t.substring(0, 160) + "..." : t;
  }

  private static boolean hidden(Path p) {
    Path name = p.getFileName();
    return name != null && name.toString().startsWith(".");
  }

  static String extension(Path p) {
    String name = p.getFileName().toString();
    int dot = name.lastIndexOf('.');
    return dot < 0 ? "" : name.substring(dot + 1).toLowerCase(Locale.ROOT);
  }

  private static String relative(Path root, Path file) {
    return root.relativize(file).toString().replace(java.io.File.separatorChar, '/');
  }
}
