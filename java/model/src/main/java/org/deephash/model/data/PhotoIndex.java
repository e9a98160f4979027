package org.deephash.model.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.deephash.io.Json;

/**
 * What an index of a photo folder remembers beside the index file ({@code INDEX.photos.json}):
 * the folder its rows' paths are relative to, how many photos were indexed, and every file that
 * was skipped with why. {@code engine-cli serve} reads it to find (and thumbnail) the photos.
 *
 * <pre>{@code
 * PhotoIndex p = PhotoIndex.read(Path.of("photos.dhx")).orElseThrow();
 * Path file = p.resolve("holiday/beach.jpg");   // inside p.root(), or null
 * }</pre>
 *
 * @param root the photo folder, absolute
 * @param photos rows indexed
 * @param skipped files not indexed, with the reason
 */
public record PhotoIndex(Path root, int photos, List<PhotoFiles.Skipped> skipped) {
  /** The report's file for an index file: {@code INDEX.photos.json} beside it. */
  public static Path reportFile(Path indexFile) {
    return indexFile.resolveSibling(indexFile.getFileName() + ".photos.json");
  }

  /** Writes the report beside {@code indexFile}, atomically (a temporary file renamed over it). */
  public void write(Path indexFile) throws IOException {
    List<Object> list = new ArrayList<>(skipped.size());
    for (PhotoFiles.Skipped s : skipped) {
      list.add(new Json().put("path", s.path()).put("reason", s.reason()));
    }
    String json = new Json().put("root", root.toString()).put("photos", photos).put("skipped_count", skipped.size())
        .put("skipped", list).toString();
    Path target = reportFile(indexFile);
    Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
    Files.writeString(tmp, json + "\n", StandardCharsets.UTF_8);
    Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  /**
   * The report beside {@code indexFile}, or empty when there is none (an index of a data set, not
   * of a photo folder).
   *
   * @throws IOException when the report exists but cannot be read or is not a report
   */
  public static java.util.Optional<PhotoIndex> read(Path indexFile) throws IOException {
    Path f = reportFile(indexFile);
    if (!Files.isRegularFile(f)) {
      return java.util.Optional.empty();
    }
    try {
      Map<String, Object> m = Json.object(Files.readString(f, StandardCharsets.UTF_8));
      if (!(m.get("root") instanceof String root) || !(m.get("photos") instanceof Number n)) {
        throw new IOException(f + " is not a photo index report (no root or photos field): rebuild it with"
            + " engine-cli index --photos");
      }
      List<PhotoFiles.Skipped> skipped = new ArrayList<>();
      if (m.get("skipped") instanceof List<?> l) {
        for (Object o : l) {
          if (o instanceof Map<?, ?> s && s.get("path") instanceof String p && s.get("reason") instanceof String r) {
            skipped.add(new PhotoFiles.Skipped(p, r));
          }
        }
      }
      return java.util.Optional.of(new PhotoIndex(Path.of(root), n.intValue(), List.copyOf(skipped)));
    } catch (IllegalArgumentException e) {
      throw new IOException(f + " is not valid JSON (" + e.getMessage() + "): rebuild it with engine-cli index"
          + " --photos", e);
    }
  }

  /**
   * The file a row's relative path names, or null when the path would leave the folder (an
   * absolute path, {@code ..}): only files inside {@link #root} are ever read for a client.
   */
  public Path resolve(String relative) {
    if (relative == null || relative.isEmpty() || relative.indexOf('\0') >= 0) {
      return null;
    }
    Path r;
    try {
      r = Path.of(relative);
    } catch (RuntimeException e) {
      return null;
    }
    if (r.isAbsolute()) {
      return null;
    }
    Path p = root.resolve(r).normalize();
    return p.startsWith(root) && !p.equals(root) ? p : null;
  }
}
