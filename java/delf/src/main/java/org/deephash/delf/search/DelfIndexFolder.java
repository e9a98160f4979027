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
 * database image) and {@code extract.properties}: how the features were extracted ({@code base_side},
 * the longer side the images were brought to, so the keypoints are in the pixels of the image loaded
 * at that size; {@code scales}, {@code max_features}, {@code min_attention}) and {@code model}, the
 * DELF model folder that extracted them, so that a server can extract an uploaded query the same way.
 * Folders written before a key have none and mean the default (no model: uploads are not verified).
 */
public final class DelfIndexFolder {
  private DelfIndexFolder() {}

  /** The database images of an index, in index order. */
  public record Image(int index, String id, Path path) {}

  /**
   * An opened index folder.
   *
   * @param extractor how the database's features were extracted
   * @param model the DELF model folder that extracted them (absolute), or null when not recorded
   */
  public record Opened(IvfPqIndex index, Pca pca, List<Image> images, float[] exact, Extractor extractor, Path model) {
    /** The database over these descriptors: per-image features for verification, the ANN search. */
    public DelfDatabase database() {
      return new DelfDatabase(index, pca, images.size(), exact, 0);
    }

    /** The longer side, in pixels, of the images as they were extracted. */
    public int baseSide() {
      return extractor.baseSide();
    }
  }

  /**
   * Writes an index folder; {@code model} (the DELF model folder that extracted the features) may be
   * null, and is recorded as an absolute path.
   */
  public static void save(Path dir, IvfPqIndex index, Pca pca, float[] exact, List<Image> images, Extractor ex,
      Path model) throws IOException {
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
    StringBuilder props = new StringBuilder();
    props.append("base_side=").append(ex.baseSide()).append('\n');
    props.append("scales=");
    for (int i = 0; i < ex.scales().length; i++) {
      props.append(i > 0 ? "," : "").append(ex.scales()[i]);
    }
    props.append('\n').append("max_features=").append(ex.maxFeatures()).append('\n');
    props.append("min_attention=").append(ex.minAttention()).append('\n');
    if (model != null) {
      // Properties escapes: a Windows path's backslashes or a ':' must survive the round trip
      Properties m = new Properties();
      m.setProperty("model", model.toAbsolutePath().normalize().toString());
      java.io.StringWriter w = new java.io.StringWriter();
      m.store(w, null);
      w.toString().lines().filter(l -> !l.startsWith("#")).forEach(l -> props.append(l).append('\n'));
    }
    write(dir.resolve("extract.properties"), props.toString());
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

  private static int intProperty(Properties p, Path file, String key, int dflt, int min) throws IOException {
    String v = p.getProperty(key);
    if (v == null) {
      return dflt;
    }
    int n;
    try {
      n = Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new IOException(file + ": " + key + " is not a whole number: rebuild the index folder with engine-cli"
          + " delf index");
    }
    if (n < min) {
      throw new IOException(file + ": " + key + " " + n + " is below " + min + ": rebuild the index folder with"
          + " engine-cli delf index");
    }
    return n;
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
    Extractor ex = Extractor.defaults();
    Path model = null;
    Path props = dir.resolve("extract.properties");
    if (Files.isRegularFile(props)) {
      Properties p = new Properties();
      p.load(new StringReader(Files.readString(props, StandardCharsets.UTF_8)));
      int baseSide = intProperty(p, props, "base_side", ex.baseSide(), 16);
      int maxFeatures = intProperty(p, props, "max_features", ex.maxFeatures(), 1);
      float[] scales = ex.scales();
      float minAttention = ex.minAttention();
      try {
        String s = p.getProperty("scales");
        if (s != null) {
          String[] parts = s.trim().split(",");
          scales = new float[parts.length];
          for (int i = 0; i < parts.length; i++) {
            scales[i] = Float.parseFloat(parts[i].trim());
          }
        }
        String a = p.getProperty("min_attention");
        if (a != null) {
          minAttention = Float.parseFloat(a.trim());
        }
        ex = new Extractor(baseSide, scales, maxFeatures, minAttention);
      } catch (IllegalArgumentException e) { // NumberFormatException too
        throw new IOException(props + ": the extraction settings are not valid (" + e.getMessage() + "): rebuild the"
            + " index folder with engine-cli delf index");
      }
      String m = p.getProperty("model");
      model = m == null || m.isBlank() ? null : Path.of(m.trim());
    }
    return new Opened(index, pca, images, exact, ex, model);
  }
}
