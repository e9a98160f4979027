package org.deephash.delf.search;

import java.io.IOException;
import java.io.StringReader;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.Pca;
import org.deephash.io.AtomicFiles;
import org.deephash.io.Npy;
import org.deephash.io.NpyArray;
import org.deephash.io.NpyDType;
import org.deephash.pq.IvfPqIndex;

/**
 * A DELF index folder, as {@code engine-cli delf index} writes it and {@code delf query} and
 * {@code serve --delf} read it: {@code descriptors.dhq} (the IVF-PQ index of the database's
 * PCA-projected descriptors with image id and keypoint per descriptor, checksummed), {@code
 * descriptors_exact.npy} (the same descriptors uncompressed, for exact geometric verification),
 * {@code pca_mean.npy} and {@code pca_components.npy}, {@code images.tsv} (index, id, path of each
 * database image) and {@code extract.properties} (the longer side the images were brought to: the
 * keypoints are in the pixels of the image loaded at that size; folders written before it have none
 * and mean the default).
 */
public final class DelfIndexFolder {
  private DelfIndexFolder() {}

  /** The database images of an index, in index order. */
  public record Image(int index, String id, Path path) {}

  /**
   * An opened index folder.
   *
   * @param baseSide the longer side, in pixels, of the images as they were extracted
   */
  public record Opened(IvfPqIndex index, Pca pca, List<Image> images, float[] exact, int baseSide) {
    /** The database over these descriptors: per-image features for verification, the ANN search. */
    public DelfDatabase database() {
      return new DelfDatabase(index, pca, images.size(), exact, 0);
    }
  }

  public static void save(Path dir, IvfPqIndex index, Pca pca, float[] exact, List<Image> images, int baseSide)
      throws IOException {
    Files.createDirectories(dir);
    index.save(dir.resolve("descriptors.dhq"));
    Npy.write(dir.resolve("descriptors_exact.npy"), exact, index.size(), index.dim());
    Npy.write(dir.resolve("pca_mean.npy"), pca.mean(), pca.inDim());
    Npy.write(dir.resolve("pca_components.npy"), pca.components(), pca.outDim(), pca.inDim());
    StringBuilder b = new StringBuilder("index\tid\tpath\n");
    for (Image i : images) {
      b.append(i.index()).append('\t').append(i.id()).append('\t').append(i.path()).append('\n');
    }
    write(dir.resolve("images.tsv"), b.toString());
    write(dir.resolve("extract.properties"), "base_side=" + baseSide + "\n");
  }

  private static void write(Path file, String text) throws IOException {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(file, ch -> {
      ByteBuffer buf = ByteBuffer.wrap(bytes);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
    });
  }

  public static Opened open(Path dir) throws IOException {
    if (!Files.isRegularFile(dir.resolve("descriptors.dhq"))) {
      throw new IOException(dir + " is not a DELF index folder (no descriptors.dhq): make one with engine-cli delf index");
    }
    IvfPqIndex index = IvfPqIndex.load(dir.resolve("descriptors.dhq"));
    float[] mean;
    float[] comp;
    long[] shape;
    try (NpyArray m = Npy.read(dir.resolve("pca_mean.npy"), NpyDType.FLOAT32);
        NpyArray c = Npy.read(dir.resolve("pca_components.npy"), NpyDType.FLOAT32)) {
      mean = m.data().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
      comp = c.data().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
      shape = c.shape();
    }
    Pca pca = new Pca(mean.length, (int) shape[0], mean, comp);
    float[] exact;
    try (NpyArray e = Npy.read(dir.resolve("descriptors_exact.npy"), NpyDType.FLOAT32)) {
      if (e.shape().length != 2 || e.shape()[0] != index.size() || e.shape()[1] != index.dim()) {
        throw new IOException(dir.resolve("descriptors_exact.npy") + " does not hold " + index.size() + " x "
            + index.dim() + " floats: rebuild the index folder with engine-cli delf index");
      }
      exact = e.data().toArray(java.lang.foreign.ValueLayout.JAVA_FLOAT);
    }
    List<Image> images = new ArrayList<>();
    List<String> lines = Files.readAllLines(dir.resolve("images.tsv"), StandardCharsets.UTF_8);
    for (int i = 1; i < lines.size(); i++) {
      String[] f = lines.get(i).split("\t", -1);
      if (f.length != 3 || Integer.parseInt(f[0]) != i - 1) {
        throw new IOException(dir.resolve("images.tsv") + " line " + (i + 1) + " is not 'index<TAB>id<TAB>path' in order");
      }
      images.add(new Image(i - 1, f[1], Path.of(f[2])));
    }
    int baseSide = Extractor.defaults().baseSide();
    Path props = dir.resolve("extract.properties");
    if (Files.isRegularFile(props)) {
      Properties p = new Properties();
      p.load(new StringReader(Files.readString(props, StandardCharsets.UTF_8)));
      try {
        baseSide = Integer.parseInt(p.getProperty("base_side", String.valueOf(baseSide)).trim());
      } catch (NumberFormatException e) {
        throw new IOException(props + ": base_side is not a whole number: rebuild the index folder with engine-cli"
            + " delf index");
      }
      if (baseSide < 16) {
        throw new IOException(props + ": base_side " + baseSide + " is below 16: rebuild the index folder with"
            + " engine-cli delf index");
      }
    }
    return new Opened(index, pca, images, exact, baseSide);
  }
}
