package org.deephash.serve;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import javax.imageio.ImageIO;
import org.deephash.index.LoadedIndex;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.DatasetException;
import org.deephash.model.data.Datasets;
import org.deephash.model.data.PhotoFiles;
import org.deephash.model.data.PhotoIndex;
import org.deephash.model.data.Pixels;

/**
 * The images of an index, by table row: the only files the service ever reads for a client are
 * the source paths stored in the index. A path {@code file#i} (an image packed in an IDX file or a
 * CIFAR-10 batch) is rendered to PNG from the packed file, loaded once; any other path is served
 * as the file it names, if it is a PNG, JPEG, WebP, GIF or BMP. For an index of a photo folder ({@code
 * index --photos}) the paths are relative to the folder its {@link PhotoIndex} report names, and
 * only files inside that folder are read. Thumbnails ({@link Thumbnails}) are made from the same
 * files; for a packed image the thumbnail is the image itself.
 *
 * <p>Each index generation has its own (its rows name its paths), but the packed files they load
 * are shared through a {@link PackedFiles}: a reloaded index over the same data set does not load
 * it again (Fashion-MNIST's training file is 188 MB as floats).
 */
final class IndexImages {
  /** An image's bytes and media type. */
  record Image(byte[] bytes, String contentType) {}

  /**
   * Packed image files by path, each kept with the size and modification time it was loaded at: a
   * file changed since is loaded again. Thread-safe.
   */
  static final class PackedFiles {
    private record Entry(long size, FileTime modified, Dataset data) {}

    private final Map<String, Entry> files = new ConcurrentHashMap<>();

    Dataset get(String file) {
      Path p = Path.of(file);
      BasicFileAttributes a;
      try {
        a = Files.readAttributes(p, BasicFileAttributes.class);
      } catch (IOException e) {
        throw new DatasetException(file + " cannot be read (" + e.getMessage() + ")");
      }
      return files.compute(file, (f, old) -> old != null && old.size() == a.size()
          && old.modified().equals(a.lastModifiedTime()) ? old
          : new Entry(a.size(), a.lastModifiedTime(), Datasets.packedImages(p))).data();
    }
  }

  private final LoadedIndex index;
  private final PackedFiles packed;
  private final PhotoIndex photos;
  private final Thumbnails thumbnails;

  IndexImages(LoadedIndex index, PackedFiles packed) {
    this(index, packed, null, null);
  }

  /**
   * @param photos the folder that the rows' paths are relative to, or null (paths name files)
   * @param thumbnails the thumbnail cache, or null (a thumbnail is then the image itself)
   */
  IndexImages(LoadedIndex index, PackedFiles packed, PhotoIndex photos, Thumbnails thumbnails) {
    this.index = index;
    this.packed = packed;
    this.photos = photos;
    this.thumbnails = thumbnails;
  }

  /** The photo folder of an index of {@code index --photos}, or null. */
  PhotoIndex photos() {
    return photos;
  }

  /**
   * A row's picture fitted within {@code size} pixels: a cached JPEG thumbnail for a photo (or any
   * image file), the image itself for an image packed in a data set file (those are small).
   */
  Image thumbnail(int row, int size) {
    String path = pathOf(row);
    if (thumbnails == null || packedIndex(path) >= 0) {
      return image(row);
    }
    if (!PhotoFiles.DECODABLE.contains(extension(path))) {
      throw new ApiException(404, "the source of row " + row + " is not an image file that exists here");
    }
    return new Image(thumbnails.get(fileOf(row, path), size), "image/jpeg");
  }

  /** The image of a row; {@link ApiException} 404 when the index cannot show it. */
  Image image(int row) {
    String path = pathOf(row);
    int i = packedIndex(path);
    if (i >= 0) {
      String file = path.substring(0, path.lastIndexOf('#'));
      Dataset d;
      try {
        d = packed.get(file);
      } catch (DatasetException e) {
        throw new ApiException(404, "the image file of row " + row + " cannot be read: " + e.getMessage());
      }
      if (i < 0 || i >= d.count()) {
        throw new ApiException(404, "row " + row + " names image " + i + " of " + file + ", which holds " + d.count());
      }
      return new Image(png(d, i), "image/png");
    }
    Path file = fileOf(row, path);
    String type = switch (extension(path)) {
      case "png" -> "image/png";
      case "jpg", "jpeg" -> "image/jpeg";
      case "webp" -> "image/webp";
      case "gif" -> "image/gif";
      case "bmp" -> "image/bmp";
      default -> null;
    };
    if (type == null || !Files.isRegularFile(file)) {
      throw new ApiException(404, "the source of row " + row + " is not an image file that exists here");
    }
    try {
      return new Image(Files.readAllBytes(file), type);
    } catch (IOException e) {
      throw new ApiException(404, "the image of row " + row + " cannot be read (" + e.getMessage() + ")");
    }
  }

  private String pathOf(int row) {
    if (!index.hasPaths()) {
      throw new ApiException(404, "this index stores no source paths, so it has no images to show (index it with"
          + " engine-cli index)");
    }
    return index.path(row);
  }

  /**
   * {@code i} of a path {@code file#i}, or -1 when the path names a file of its own (a number too
   * large for an int included: no packed file holds that many images).
   */
  private static int packedIndex(String path) {
    int hash = path.lastIndexOf('#');
    if (hash > 0 && hash < path.length() - 1 && path.substring(hash + 1).chars().allMatch(Character::isDigit)) {
      try {
        return Integer.parseInt(path.substring(hash + 1));
      } catch (NumberFormatException e) {
        return -1;
      }
    }
    return -1;
  }

  /**
   * The image file of a row (inside the photo folder for a photo index), or null when the row's
   * image is packed in a data set file, or its path leaves the photo folder.
   */
  Path photoFile(int row) {
    String path = index.hasPaths() ? index.path(row) : null;
    return path == null || packedIndex(path) >= 0 ? null : resolve(path);
  }

  /** The file a path names: inside the photo folder for a photo index, null when it leaves it. */
  private Path resolve(String path) {
    return photos == null ? Path.of(path) : photos.resolve(path);
  }

  /** The file a row's path names: inside the photo folder for a photo index (never outside it). */
  private Path fileOf(int row, String path) {
    Path f = resolve(path);
    if (f == null) {
      throw new ApiException(404, "the path of row " + row + " leaves the photo folder; it is not served");
    }
    return f;
  }

  private static String extension(String path) {
    int dot = path.lastIndexOf('.');
    return dot < 0 ? "" : path.substring(dot + 1).toLowerCase(Locale.ROOT);
  }

  /** Image {@code i} of a dataset as PNG (grey or RGB). */
  static byte[] png(Dataset d, int i) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      ImageIO.write(Pixels.toImage(d, i), "png", out);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toByteArray();
  }
}
