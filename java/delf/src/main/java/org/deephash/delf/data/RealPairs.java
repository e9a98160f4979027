package org.deephash.delf.data;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;

/**
 * Real photos of one scene taken twice, from the example images of Debian's {@code opencv-doc}
 * ({@code /usr/share/doc/opencv-doc/examples/data}): a viewpoint change (graf1/graf3, the Mikolajczyk
 * graffiti wall), an object in clutter (box in box_in_scene), stereo pairs, consecutive video
 * frames, a lighting change, a rendered object turned, a tampered photo and rotated text. The hard
 * benchmark ({@code delf eval --benchmark hard}) puts each pair's first image in the database and
 * asks with its second.
 *
 * <pre>{@code
 * for (RealPairs.Pair p : RealPairs.find(RealPairs.OPENCV_DOC)) {
 *   BufferedImage db = Photos.load(p.database(), 256), q = Photos.load(p.query(), 256);
 * }
 * }</pre>
 */
public final class RealPairs {

  /** Where Debian's opencv-doc installs its example images. */
  public static final Path OPENCV_DOC = Path.of("/usr/share/doc/opencv-doc/examples/data");

  /** How to get {@link #OPENCV_DOC}. */
  public static final String INSTALL = "apt-get install opencv-doc";

  /**
   * One pair.
   *
   * @param name short name, e.g. {@code graf}
   * @param change what differs between the two images
   * @param database the image that goes into the database (absolute path)
   * @param query the image the benchmark asks with (absolute path)
   */
  public record Pair(String name, String change, Path database, Path query) {}

  /** The pairs: name, change, database file, query file. */
  static final List<String[]> PAIRS = List.of(
      new String[] {"graf", "viewpoint, a planar wall", "graf1.png", "graf3.png"},
      new String[] {"box", "object in clutter, partial overlap", "box_in_scene.png", "box.png"},
      new String[] {"aero", "viewpoint", "aero1.jpg", "aero3.jpg"},
      new String[] {"leuven", "lighting", "leuvenA.jpg", "leuvenB.jpg"},
      new String[] {"suzanne", "rendered object turned", "Blender_Suzanne1.jpg", "Blender_Suzanne2.jpg"},
      new String[] {"aloe", "stereo", "aloeL.jpg", "aloeR.jpg"},
      new String[] {"left-right", "stereo", "left.jpg", "right.jpg"},
      new String[] {"rubberwhale", "video frames", "rubberwhale1.png", "rubberwhale2.png"},
      new String[] {"basketball", "video frames", "basketball1.png", "basketball2.png"},
      new String[] {"ela", "edited photo", "ela_original.jpg", "ela_modified.jpg"},
      new String[] {"imagetext", "text turned", "imageTextN.png", "imageTextR.png"});

  private RealPairs() {}

  /**
   * The pairs of an opencv-doc example folder, all of {@link #PAIRS}, in that order.
   *
   * @throws IOException naming the folder and {@link #INSTALL} when the folder or one of the
   *     pairs' files is missing
   */
  public static List<Pair> find(Path dir) throws IOException {
    Path d = requireFolder(dir);
    List<Pair> out = new ArrayList<>();
    for (String[] p : PAIRS) {
      out.add(new Pair(p[0], p[1], file(d, p[2]), file(d, p[3])));
    }
    return List.copyOf(out);
  }

  /**
   * The other images of the folder (JPEG and PNG, in name order): none of the pairs' files, and at
   * least {@code minSide} pixels on each side (read from the file's header). The hard benchmark
   * adds them to the distractors.
   */
  public static List<Path> others(Path dir, int minSide) throws IOException {
    Path d = requireFolder(dir);
    Set<String> inPairs = new TreeSet<>();
    for (String[] p : PAIRS) {
      inPairs.add(p[2]);
      inPairs.add(p[3]);
    }
    List<Path> out = new ArrayList<>();
    try (DirectoryStream<Path> s = Files.newDirectoryStream(d)) {
      for (Path f : s) {
        String n = f.getFileName().toString();
        String lower = n.toLowerCase(Locale.ROOT);
        if (!Files.isRegularFile(f) || inPairs.contains(n)
            || !(lower.endsWith(".jpg") || lower.endsWith(".jpeg") || lower.endsWith(".png"))) {
          continue;
        }
        int[] size = headerSize(f);
        if (size != null && Math.min(size[0], size[1]) >= minSide) {
          out.add(f);
        }
      }
    }
    out.sort(null);
    return List.copyOf(out);
  }

  private static Path requireFolder(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      throw new IOException("no opencv-doc example images at " + dir + ": " + INSTALL
          + " (or pass the folder that holds graf1.png)");
    }
    return dir.toAbsolutePath().normalize();
  }

  private static Path file(Path dir, String name) throws IOException {
    Path f = dir.resolve(name);
    if (!Files.isRegularFile(f)) {
      throw new IOException(dir + " has no " + name + " (one of the real view pairs): " + INSTALL
          + " (or pass the folder that holds graf1.png)");
    }
    return f;
  }

  /** Width and height from the header, or null when no reader knows the file. */
  private static int[] headerSize(Path f) throws IOException {
    try (ImageInputStream in = ImageIO.createImageInputStream(f.toFile())) {
      if (in == null) {
        return null;
      }
      Iterator<ImageReader> it = ImageIO.getImageReaders(in);
      if (!it.hasNext()) {
        return null;
      }
      ImageReader r = it.next();
      try {
        r.setInput(in);
        return new int[] {r.getWidth(0), r.getHeight(0)};
      } catch (IOException e) {
        return null; // a broken file is no distractor
      } finally {
        r.dispose();
      }
    }
  }
}
