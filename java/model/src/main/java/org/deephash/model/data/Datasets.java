package org.deephash.model.data;

import java.awt.image.BufferedImage;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import javax.imageio.ImageIO;

/**
 * Reads the datasets the model trains and indexes on: IDX files (MNIST, Fashion-MNIST; plain or
 * gzipped), CIFAR-10's binary batches, and a folder with one subfolder per class of PNG/JPEG
 * images (resized). Every problem is a {@link DatasetException} that names the file. Turning a
 * decoded picture into network input (and back) is {@link Pixels}'s job, whatever the source.
 *
 * <pre>{@code
 * Dataset train = Datasets.load("fashion-mnist", Datasets.Split.TRAIN, 0, 0, 0);
 * Dataset own = Datasets.folder(Path.of("photos"), 64, 64, 3);
 * }</pre>
 */
public final class Datasets {
  /** Where the Debian package dataset-fashion-mnist installs Fashion-MNIST. */
  public static final Path FASHION_MNIST = Path.of("/usr/share/datasets/fashion-mnist");

  public static final List<String> FASHION_CLASSES = List.of(
      "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");
  public static final List<String> CIFAR10_CLASSES = List.of(
      "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck");

  /** Which part of a dataset with a fixed split: training images (the database) or test images (the queries). */
  public enum Split { TRAIN, TEST }

  private Datasets() {}

  /**
   * Resolves a dataset specification:
   * <ul>
   *   <li>{@code fashion-mnist}: the installed Fashion-MNIST ({@link #FASHION_MNIST});
   *   <li>{@code idx:DIR} (or {@code mnist:DIR}): {@code train-images-idx3-ubyte[.gz]} etc. in DIR;
   *   <li>{@code cifar10:DIR}: {@code data_batch_1..5.bin} and {@code test_batch.bin} in DIR;
   *   <li>a folder: one subfolder per class; when it has {@code train/} and {@code test/}
   *       subfolders those are the splits, otherwise the whole folder is both.
   * </ul>
   * Folder images are resized to {@code height x width x channels} (0 = 32x32x3).
   */
  public static Dataset load(String spec, Split split, int height, int width, int channels) {
    if (spec == null || spec.isBlank()) {
      throw new DatasetException("no dataset given: use fashion-mnist, idx:DIR, cifar10:DIR or a folder of class subfolders");
    }
    String s = spec.trim();
    String lower = s.toLowerCase(Locale.ROOT);
    if (lower.equals("fashion-mnist") || lower.equals("fashion_mnist")) {
      if (!Files.isDirectory(FASHION_MNIST)) {
        throw new DatasetException("Fashion-MNIST is not installed at " + FASHION_MNIST
            + ": install it with `apt-get install dataset-fashion-mnist`, or pass idx:DIR");
      }
      return idxDir(FASHION_MNIST, split, FASHION_CLASSES);
    }
    if (lower.startsWith("idx:") || lower.startsWith("mnist:")) {
      return idxDir(Path.of(s.substring(s.indexOf(':') + 1)), split, null);
    }
    if (lower.startsWith("cifar10:")) {
      return cifar10(Path.of(s.substring(8)), split);
    }
    Path dir = Path.of(s);
    if (!Files.isDirectory(dir)) {
      throw new DatasetException("dataset '" + spec + "' is neither fashion-mnist, idx:DIR, cifar10:DIR nor a folder");
    }
    Path sub = dir.resolve(split == Split.TRAIN ? "train" : "test");
    if (Files.isDirectory(dir.resolve("train")) && Files.isDirectory(dir.resolve("test"))) {
      dir = sub;
    }
    return folder(dir, height > 0 ? height : 32, width > 0 ? width : 32, channels > 0 ? channels : 3);
  }

  /** IDX files in a folder, named as MNIST names them ({@code train-images-idx3-ubyte}, {@code t10k-...}). */
  public static Dataset idxDir(Path dir, Split split, List<String> classNames) {
    String prefix = split == Split.TRAIN ? "train" : "t10k";
    Path images = find(dir, prefix + "-images-idx3-ubyte");
    Path labels = find(dir, prefix + "-labels-idx1-ubyte");
    return idx(images, labels, classNames);
  }

  private static Path find(Path dir, String name) {
    for (String candidate : new String[] {name + ".gz", name, name.replace("-idx", ".idx") + ".gz", name.replace("-idx", ".idx")}) {
      Path p = dir.resolve(candidate);
      if (Files.isRegularFile(p)) {
        return p;
      }
    }
    throw new DatasetException("missing IDX file " + dir.resolve(name) + "[.gz]");
  }

  /**
   * An IDX image file (magic 0x803: unsigned bytes, N x rows x cols) with its IDX label file
   * (0x801). Class names default to the label values.
   */
  public static Dataset idx(Path imagesFile, Path labelsFile, List<String> classNames) {
    int n;
    int rows;
    int cols;
    byte[] raw;
    try (DataInputStream in = open(imagesFile)) {
      int magic = in.readInt();
      if (magic != 0x803) {
        throw new DatasetException(imagesFile + " is not an IDX image file (magic 0x" + Integer.toHexString(magic)
            + ", expected 0x803: unsigned bytes, 3 dimensions)");
      }
      n = in.readInt();
      rows = in.readInt();
      cols = in.readInt();
      if (n < 0 || rows <= 0 || cols <= 0 || (long) n * rows * cols > Integer.MAX_VALUE) {
        throw new DatasetException(imagesFile + " has an unusable shape " + n + "x" + rows + "x" + cols);
      }
      raw = new byte[n * rows * cols];
      in.readFully(raw);
    } catch (EOFException e) {
      throw new DatasetException(imagesFile + " is truncated: it holds fewer pixels than its header announces");
    } catch (IOException e) {
      throw ioProblem(imagesFile, e);
    }
    int[] labels;
    try (DataInputStream in = open(labelsFile)) {
      int magic = in.readInt();
      if (magic != 0x801) {
        throw new DatasetException(labelsFile + " is not an IDX label file (magic 0x" + Integer.toHexString(magic)
            + ", expected 0x801)");
      }
      int m = in.readInt();
      if (m != n) {
        throw new DatasetException(labelsFile + " has " + m + " labels but " + imagesFile + " has " + n + " images");
      }
      byte[] l = new byte[n];
      in.readFully(l);
      labels = new int[n];
      for (int i = 0; i < n; i++) {
        labels[i] = l[i] & 0xff;
      }
    } catch (EOFException e) {
      throw new DatasetException(labelsFile + " is truncated: it holds fewer labels than its header announces");
    } catch (IOException e) {
      throw ioProblem(labelsFile, e);
    }
    float[] pixels = new float[raw.length];
    for (int i = 0; i < raw.length; i++) {
      pixels[i] = (raw[i] & 0xff) / 255f;
    }
    int maxLabel = Arrays.stream(labels).max().orElse(-1);
    List<String> names = classNames != null && classNames.size() > maxLabel ? classNames : numbered(maxLabel + 1);
    String base = imagesFile.toString();
    return new Dataset(n, rows, cols, 1, pixels, labels, names, new IndexedSources(base, n));
  }

  /**
   * The images of one packed file as an index stores their sources ({@code file#i}): an IDX image
   * file (plain or gzipped; the labels are not read and are all 0) or one CIFAR-10 binary batch
   * (its own labels). Used to show indexed images that have no file of their own.
   */
  public static Dataset packedImages(Path file) {
    boolean idx;
    try (DataInputStream in = open(file)) {
      idx = in.readInt() == 0x803;
    } catch (EOFException e) {
      throw new DatasetException(file + " is empty or truncated");
    } catch (IOException e) {
      throw ioProblem(file, e);
    }
    if (!idx) {
      return cifar10Batches(List.of(file));
    }
    float[] pixels;
    int n;
    int rows;
    int cols;
    try (DataInputStream in = open(file)) {
      in.readInt();
      n = in.readInt();
      rows = in.readInt();
      cols = in.readInt();
      if (n < 0 || rows <= 0 || cols <= 0 || (long) n * rows * cols > Integer.MAX_VALUE) {
        throw new DatasetException(file + " has an unusable shape " + n + "x" + rows + "x" + cols);
      }
      byte[] raw = new byte[n * rows * cols];
      in.readFully(raw);
      pixels = new float[raw.length];
      for (int i = 0; i < raw.length; i++) {
        pixels[i] = (raw[i] & 0xff) / 255f;
      }
    } catch (EOFException e) {
      throw new DatasetException(file + " is truncated: it holds fewer pixels than its header announces");
    } catch (IOException e) {
      throw ioProblem(file, e);
    }
    return new Dataset(n, rows, cols, 1, pixels, new int[n], numbered(1), new IndexedSources(file.toString(), n));
  }

  /** CIFAR-10 binary batches: records of 1 label byte and 3072 pixel bytes (R, G, B planes of 32x32). */
  public static Dataset cifar10(Path dir, Split split) {
    List<Path> files = new ArrayList<>();
    if (split == Split.TRAIN) {
      for (int b = 1; b <= 5; b++) {
        files.add(dir.resolve("data_batch_" + b + ".bin"));
      }
    } else {
      files.add(dir.resolve("test_batch.bin"));
    }
    return cifar10Batches(files);
  }

  private static Dataset cifar10Batches(List<Path> files) {
    final int record = 1 + 3072;
    List<byte[]> chunks = new ArrayList<>();
    int n = 0;
    for (Path f : files) {
      try {
        long size = Files.size(f);
        if (size == 0 || size % record != 0) {
          throw new DatasetException(f + " has " + size + " bytes, not a whole number of CIFAR-10 records of "
              + record + " bytes (1 label + 32x32x3 pixels)");
        }
        byte[] b = Files.readAllBytes(f);
        chunks.add(b);
        n += b.length / record;
      } catch (NoSuchFileException e) {
        throw new DatasetException("missing CIFAR-10 batch " + f + " (expected data_batch_1..5.bin and test_batch.bin)");
      } catch (IOException e) {
        throw ioProblem(f, e);
      }
    }
    float[] pixels = new float[n * 3072];
    int[] labels = new int[n];
    List<String> sources = new ArrayList<>(n);
    int i = 0;
    for (int c = 0; c < chunks.size(); c++) {
      byte[] b = chunks.get(c);
      for (int r = 0; r < b.length / record; r++, i++) {
        int off = r * record;
        labels[i] = b[off] & 0xff;
        if (labels[i] > 9) {
          throw new DatasetException(files.get(c) + " record " + r + " has label " + labels[i] + " (CIFAR-10 labels are 0..9)");
        }
        for (int p = 0; p < 1024; p++) {
          for (int ch = 0; ch < 3; ch++) {
            pixels[i * 3072 + p * 3 + ch] = (b[off + 1 + ch * 1024 + p] & 0xff) / 255f;
          }
        }
        sources.add(files.get(c) + "#" + r);
      }
    }
    return new Dataset(n, 32, 32, 3, pixels, labels, CIFAR10_CLASSES, sources);
  }

  /**
   * A folder with one subfolder per class (sorted by name: the label order), each holding PNG or
   * JPEG images, resized to {@code height x width} with {@code channels} 1 (grey) or 3 (RGB).
   * Unreadable images and empty classes are all reported in one exception, by file name.
   */
  public static Dataset folder(Path root, int height, int width, int channels) {
    checkShape(height, width, channels);
    List<Path> classDirs;
    try (Stream<Path> s = Files.list(root)) {
      classDirs = s.filter(Files::isDirectory).sorted().toList();
    } catch (IOException e) {
      throw ioProblem(root, e);
    }
    if (classDirs.isEmpty()) {
      throw new DatasetException(root + " has no class subfolders: put the images of each class in a subfolder named after it");
    }
    List<String> problems = new ArrayList<>();
    List<String> names = new ArrayList<>();
    List<Path> files = new ArrayList<>();
    List<Integer> labelList = new ArrayList<>();
    for (Path dir : classDirs) {
      List<Path> images;
      try (Stream<Path> s = Files.list(dir)) {
        images = s.filter(Files::isRegularFile).filter(Datasets::isImageName).sorted().toList();
      } catch (IOException e) {
        throw ioProblem(dir, e);
      }
      if (images.isEmpty()) {
        problems.add(dir + ": empty class (no .png, .jpg or .jpeg files)");
      }
      for (Path p : images) {
        files.add(p);
        labelList.add(names.size());
      }
      names.add(dir.getFileName().toString());
    }
    int n = files.size();
    int size = height * width * channels;
    float[] pixels = new float[n * size];
    for (int i = 0; i < n; i++) {
      try {
        float[] img = readImage(files.get(i), height, width, channels);
        System.arraycopy(img, 0, pixels, i * size, size);
      } catch (DatasetException e) {
        problems.add(e.getMessage());
      }
    }
    if (!problems.isEmpty()) {
      int shown = Math.min(problems.size(), 20);
      throw new DatasetException(problems.size() + " problem(s) in " + root + ":\n  "
          + String.join("\n  ", problems.subList(0, shown)) + (shown < problems.size() ? "\n  ..." : ""));
    }
    int[] labels = labelList.stream().mapToInt(Integer::intValue).toArray();
    return new Dataset(n, height, width, channels, pixels, labels, names, files.stream().map(Path::toString).toList());
  }

  static boolean isImageName(Path p) {
    String name = p.getFileName().toString().toLowerCase(Locale.ROOT);
    return name.endsWith(".png") || name.endsWith(".jpg") || name.endsWith(".jpeg");
  }

  /**
   * One PNG/JPEG file as H x W x C floats in [0, 1], resized (bilinear) and converted to grey
   * (luma) or RGB as asked.
   */
  public static float[] readImage(Path file, int height, int width, int channels) {
    checkShape(height, width, channels);
    BufferedImage src;
    try {
      src = ImageIO.read(file.toFile());
    } catch (IOException e) {
      throw new DatasetException(file + ": unreadable image (" + e.getMessage() + ")");
    }
    if (src == null) {
      if (!Files.exists(file)) {
        throw new DatasetException(file + ": no such file");
      }
      throw new DatasetException(file + ": not a PNG or JPEG image this JVM can decode");
    }
    return Pixels.of(src, height, width, Pixels.Channels.of(channels));
  }

  private static void checkShape(int height, int width, int channels) {
    if (height < 8 || width < 8 || height > 1024 || width > 1024) {
      throw new DatasetException("image size must be in [8, 1024] pixels per side (passed " + height + "x" + width + ")");
    }
    if (channels != 1 && channels != 3) {
      throw new DatasetException("channels must be 1 (grey) or 3 (RGB) (passed " + channels + ")");
    }
  }

  private static DataInputStream open(Path file) throws IOException {
    InputStream raw;
    try {
      raw = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
    } catch (NoSuchFileException e) {
      throw new DatasetException("missing file " + file);
    }
    raw.mark(2);
    int b0 = raw.read();
    int b1 = raw.read();
    raw.reset();
    InputStream in = b0 == 0x1f && b1 == 0x8b ? new BufferedInputStream(new GZIPInputStream(raw, 1 << 16), 1 << 16) : raw;
    return new DataInputStream(in);
  }

  private static DatasetException ioProblem(Path file, IOException e) {
    return new DatasetException(file + ": cannot read (" + e.getClass().getSimpleName() + ": " + e.getMessage() + ")", e);
  }

  private static List<String> numbered(int n) {
    List<String> names = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      names.add(Integer.toString(i));
    }
    return names;
  }

  /** "file#i" for images packed in one file, without storing 60,000 strings. */
  private static final class IndexedSources extends java.util.AbstractList<String> implements java.util.RandomAccess {
    private final String base;
    private final int n;

    IndexedSources(String base, int n) {
      this.base = base;
      this.n = n;
    }

    @Override
    public String get(int i) {
      if (i < 0 || i >= n) {
        throw new IndexOutOfBoundsException(i);
      }
      return base + "#" + i;
    }

    @Override
    public int size() {
      return n;
    }
  }
}
