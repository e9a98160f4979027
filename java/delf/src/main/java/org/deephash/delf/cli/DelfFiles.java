package org.deephash.delf.cli;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.deephash.cli.api.Progress;
import org.deephash.delf.data.Photos;
import org.deephash.delf.extract.Pca;
import org.deephash.io.AtomicFiles;
import org.deephash.io.Npy;
import org.deephash.io.NpyArray;
import org.deephash.io.NpyDType;
import org.deephash.pq.IvfPqIndex;

/**
 * A DELF index folder: {@code descriptors.dhq} (the IVF-PQ index of the database's PCA-projected
 * descriptors with image id and keypoint per descriptor, checksummed), {@code descriptors_exact.npy}
 * (the same descriptors uncompressed, for exact geometric verification), {@code pca_mean.npy} and
 * {@code pca_components.npy}, and {@code images.tsv} (index, id, path of each database image).
 */
final class DelfFiles {
  private DelfFiles() {}

  /** The database images of an index, in index order. */
  record Image(int index, String id, Path path) {}

  /** An opened index folder. */
  record Opened(IvfPqIndex index, Pca pca, List<Image> images, float[] exact) {}

  static void save(Path dir, IvfPqIndex index, Pca pca, float[] exact, List<Image> images) throws IOException {
    Files.createDirectories(dir);
    index.save(dir.resolve("descriptors.dhq"));
    Npy.write(dir.resolve("descriptors_exact.npy"), exact, index.size(), index.dim());
    Npy.write(dir.resolve("pca_mean.npy"), pca.mean(), pca.inDim());
    Npy.write(dir.resolve("pca_components.npy"), pca.components(), pca.outDim(), pca.inDim());
    StringBuilder b = new StringBuilder("index\tid\tpath\n");
    for (Image i : images) {
      b.append(i.index()).append('\t').append(i.id()).append('\t').append(i.path()).append('\n');
    }
    byte[] bytes = b.toString().getBytes(StandardCharsets.UTF_8);
    AtomicFiles.write(dir.resolve("images.tsv"), ch -> {
      ByteBuffer buf = ByteBuffer.wrap(bytes);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
    });
  }

  static Opened open(Path dir) throws IOException {
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
    return new Opened(index, pca, images, exact);
  }

  /** The photos of a manifest folder with the given roles, loaded at most {@code maxSide} px. */
  static List<BufferedImage> load(Photos photos, List<Photos.Photo> list, int maxSide, Progress progress)
      throws IOException {
    List<BufferedImage> out = new ArrayList<>(list.size());
    try (Progress.Counter c = progress.count("decoding photos", list.size(), "photos")) {
      for (Photos.Photo p : list) {
        out.add(photos.load(p, maxSide));
        c.add(1);
      }
    }
    return out;
  }
}
