package org.deephash.delf.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;

/**
 * The photo collection that {@code bench/delf/setup-photos.sh} writes: a manifest of real
 * photographs taken from Debian packages, and the loading of those photos as RGB images.
 *
 * <p>The manifest is a UTF-8 TSV file with the header {@code id path package width height sha256
 * role group}; {@code path} is relative to the manifest's directory, {@code role} is {@code
 * train}, {@code heldout} or {@code distractor}, and photos of one scene (a stereo pair, graf1
 * and graf3) share a {@code group}. A manifest without the {@code group} column is accepted; each
 * photo is then its own group. Reading validates every line and names the first bad one.
 *
 * <pre>{@code
 * Photos photos = Photos.read(Path.of("data/photos/manifest.tsv"));
 * for (Photos.Photo p : photos.withRole(Photos.Role.HELDOUT)) {
 *   BufferedImage img = photos.load(p, 512);   // longer side at most 512 px
 * }
 * }</pre>
 */
public final class Photos {

  /** What a photo is for. */
  public enum Role {
    /** Database photos whose views may be used to train the network. */
    TRAIN,
    /** Database photos whose views are kept for evaluation only. */
    HELDOUT,
    /** Database-only photos of no query (astronomy images). */
    DISTRACTOR;

    static Role parse(String s) {
      return switch (s) {
        case "train" -> TRAIN;
        case "heldout" -> HELDOUT;
        case "distractor" -> DISTRACTOR;
        default -> null;
      };
    }
  }

  /**
   * One manifest line.
   *
   * @param id unique id, e.g. {@code opencv-doc:graf1.png}
   * @param path absolute path of the image file
   * @param pkg the Debian package it came from
   * @param width width in pixels, as the file's header says
   * @param height height in pixels
   * @param sha256 lower-case hex SHA-256 of the file
   * @param role train, held out or distractor
   * @param group scene group: photos of the same scene or object share it
   */
  public record Photo(
      String id, Path path, String pkg, int width, int height, String sha256, Role role, String group) {}

  /** A manifest that cannot be used; the message names the file and line. */
  public static final class ManifestException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int line;

    ManifestException(Path file, int line, String message) {
      super(file + ":" + line + ": " + message);
      this.line = line;
    }

    /** 1-based line number of the problem. */
    public int line() {
      return line;
    }
  }

  static final List<String> HEADER =
      List.of("id", "path", "package", "width", "height", "sha256", "role", "group");
  private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");

  private final Path manifest;
  private final List<Photo> photos;
  private final Map<String, Photo> byId;

  private Photos(Path manifest, List<Photo> photos, Map<String, Photo> byId) {
    this.manifest = manifest;
    this.photos = photos;
    this.byId = byId;
  }

  /**
   * Reads and validates a manifest: header, column count, unique ids, positive sizes, SHA-256
   * syntax, known roles, and that each path stays inside the manifest's directory and names an
   * existing file.
   *
   * @param manifest the {@code manifest.tsv} file, or the directory that holds it
   * @throws ManifestException naming the first bad line
   * @throws IOException when the file cannot be read
   */
  public static Photos read(Path manifest) throws IOException {
    Path file = Files.isDirectory(manifest) ? manifest.resolve("manifest.tsv") : manifest;
    if (!Files.isRegularFile(file)) {
      throw new IOException(
          "no photo manifest at " + file + "; run bench/delf/setup-photos.sh to create it");
    }
    file = file.toAbsolutePath().normalize();
    Path root = file.getParent();
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    if (lines.isEmpty()) {
      throw new ManifestException(file, 1, "empty file; expected the header " + String.join("\t", HEADER));
    }
    List<String> header = List.of(lines.get(0).split("\t", -1));
    boolean hasGroup;
    if (header.equals(HEADER)) {
      hasGroup = true;
    } else if (header.equals(HEADER.subList(0, 7))) {
      hasGroup = false;
    } else {
      throw new ManifestException(
          file, 1, "bad header " + header + "; expected " + String.join("\t", HEADER) + " (group optional)");
    }
    int columns = hasGroup ? 8 : 7;
    List<Photo> out = new ArrayList<>();
    Map<String, Photo> byId = new HashMap<>();
    for (int ln = 2; ln <= lines.size(); ln++) {
      String line = lines.get(ln - 1);
      if (line.isEmpty() && ln == lines.size()) {
        break; // a trailing newline is fine; empty lines elsewhere are not
      }
      String[] f = line.split("\t", -1);
      if (f.length != columns) {
        throw new ManifestException(file, ln, "expected " + columns + " tab-separated columns, found " + f.length);
      }
      String id = f[0];
      if (id.isEmpty()) {
        throw new ManifestException(file, ln, "empty id");
      }
      if (byId.containsKey(id)) {
        throw new ManifestException(file, ln, "duplicate id '" + id + "'");
      }
      Path path = resolveInside(file, ln, root, f[1]);
      if (f[2].isEmpty()) {
        throw new ManifestException(file, ln, "empty package");
      }
      int width = positive(file, ln, "width", f[3]);
      int height = positive(file, ln, "height", f[4]);
      if (!SHA256.matcher(f[5]).matches()) {
        throw new ManifestException(file, ln, "sha256 '" + f[5] + "' is not 64 lower-case hex digits");
      }
      Role role = Role.parse(f[6]);
      if (role == null) {
        throw new ManifestException(file, ln, "role '" + f[6] + "' is not train, heldout or distractor");
      }
      String group = hasGroup ? f[7] : id;
      if (group.isEmpty()) {
        throw new ManifestException(file, ln, "empty group");
      }
      if (!Files.isRegularFile(path)) {
        throw new ManifestException(
            file, ln, "image " + path + " does not exist; rerun bench/delf/setup-photos.sh --force");
      }
      Photo p = new Photo(id, path, f[2], width, height, f[5], role, group);
      out.add(p);
      byId.put(id, p);
    }
    return new Photos(file, Collections.unmodifiableList(out), byId);
  }

  private static Path resolveInside(Path file, int ln, Path root, String rel) throws ManifestException {
    if (rel.isEmpty()) {
      throw new ManifestException(file, ln, "empty path");
    }
    Path p;
    try {
      p = Path.of(rel);
    } catch (java.nio.file.InvalidPathException e) {
      throw new ManifestException(file, ln, "invalid path '" + rel + "': " + e.getMessage());
    }
    if (p.isAbsolute()) {
      throw new ManifestException(file, ln, "path '" + rel + "' must be relative to the manifest's directory");
    }
    Path abs = root.resolve(p).normalize();
    if (!abs.startsWith(root)) {
      throw new ManifestException(file, ln, "path '" + rel + "' leaves the manifest's directory");
    }
    return abs;
  }

  private static int positive(Path file, int ln, String what, String s) throws ManifestException {
    int v;
    try {
      v = Integer.parseInt(s);
    } catch (NumberFormatException e) {
      v = -1;
    }
    if (v <= 0) {
      throw new ManifestException(file, ln, what + " '" + s + "' is not a positive integer");
    }
    return v;
  }

  /** The manifest file this was read from. */
  public Path manifest() {
    return manifest;
  }

  /** Every photo, in manifest order. */
  public List<Photo> all() {
    return photos;
  }

  public int size() {
    return photos.size();
  }

  /** The photos with the given role, in manifest order. */
  public List<Photo> withRole(Role role) {
    return photos.stream().filter(p -> p.role() == role).toList();
  }

  /**
   * The photo with this id.
   *
   * @throws IllegalArgumentException when there is none
   */
  public Photo get(String id) {
    Photo p = byId.get(id);
    if (p == null) {
      throw new IllegalArgumentException("no photo '" + id + "' in " + manifest);
    }
    return p;
  }

  /** Photos by group, groups in order of first appearance. */
  public Map<String, List<Photo>> groups() {
    Map<String, List<Photo>> g = new LinkedHashMap<>();
    for (Photo p : photos) {
      g.computeIfAbsent(p.group(), k -> new ArrayList<>()).add(p);
    }
    g.replaceAll((k, v) -> List.copyOf(v));
    return Collections.unmodifiableMap(g);
  }

  /**
   * Loads a photo of this collection, scaled so that its longer side is at most {@code maxSide}.
   *
   * @throws IOException when the file cannot be decoded, or its size disagrees with the manifest
   */
  public BufferedImage load(Photo photo, int maxSide) throws IOException {
    BufferedImage img = load(photo.path(), Integer.MAX_VALUE);
    if (img.getWidth() != photo.width() || img.getHeight() != photo.height()) {
      throw new IOException(
          photo.path() + " is " + img.getWidth() + "x" + img.getHeight() + " but " + manifest
              + " says " + photo.width() + "x" + photo.height() + " (" + photo.id() + ")");
    }
    return Images.fitWithin(img, maxSide);
  }

  /**
   * Loads any image that {@link ImageIO} reads (JPEG, PNG, BMP, GIF) as {@link
   * BufferedImage#TYPE_INT_RGB}, scaled by area averaging so that its longer side is at most
   * {@code maxSide} (never enlarged). Transparent pixels are composited onto white. EXIF
   * orientation is not applied: the pixels are used as stored.
   *
   * @throws IllegalArgumentException when maxSide is not positive
   * @throws IOException when the file cannot be read or no reader knows its format
   */
  public static BufferedImage load(Path file, int maxSide) throws IOException {
    if (maxSide < 1) {
      throw new IllegalArgumentException("maxSide must be >= 1, passed " + maxSide);
    }
    BufferedImage img;
    try {
      img = ImageIO.read(file.toFile());
    } catch (javax.imageio.IIOException e) {
      throw new IOException("cannot decode " + file + ": " + e.getMessage(), e);
    }
    if (img == null) {
      throw new IOException("no ImageIO reader for " + file + " (JPEG, PNG, BMP and GIF are supported)");
    }
    return fit(img, maxSide);
  }

  /**
   * A decoded image brought to what {@link #load} gives for the same pixels: {@link
   * BufferedImage#TYPE_INT_RGB}, transparency over white, longer side at most {@code maxSide} (area
   * averaging). For images that arrive as bytes (a server's uploads) and must be extracted as the
   * indexed files were.
   */
  public static BufferedImage fit(BufferedImage img, int maxSide) {
    if (maxSide < 1) {
      throw new IllegalArgumentException("maxSide must be >= 1, passed " + maxSide);
    }
    return Images.fitWithin(Images.toRgb(img), maxSide);
  }
}
