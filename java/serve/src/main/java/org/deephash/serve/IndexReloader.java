package org.deephash.serve;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.function.Consumer;
import org.deephash.CodeTable;
import org.deephash.io.Json;

/**
 * Watches the served index file and opens a replacement off the query path: every check compares
 * what the path names now (file key, modification time, size) with the file the newest generation
 * came from. A change is loaded once it has held still for one check (so a file still being
 * written in place is not opened half-written), verified in full (every checksum), checked to be
 * compatible with the server (same code width and feature dimension: the model's, and what its
 * clients send), and then handed to the batcher through {@code stage}, which switches to it
 * between two batches.
 *
 * <p>A bad replacement (truncated, corrupt, another code width) is refused with one log line,
 * counted in {@code /stats}, and not tried again until the file changes; the current generation
 * keeps serving. A missing file (deleted, or between the two steps of a non-atomic replace) is
 * logged once and waited out.
 */
final class IndexReloader {
  /** Opens an index file as a new generation; the caller owns it. */
  @FunctionalInterface
  interface Loader {
    IndexGeneration open(Path file, long number, IndexGeneration.FileIdentity identity) throws IOException;
  }

  private final Path file;
  private final Loader loader;
  private final Consumer<IndexGeneration> stage;
  private final Consumer<String> log;
  private final int bits;
  private final int dim;

  private IndexGeneration.FileIdentity loaded;
  private long lastNumber;
  private IndexGeneration.FileIdentity seen;
  private IndexGeneration.FileIdentity refused;
  private boolean missingLogged;
  private long ok;
  private long errors;
  private String lastError;
  private Instant lastErrorAt;

  /**
   * @param first the generation being served, whose file is watched
   * @param stage takes a newly opened generation (and a reference to it)
   * @param log one line per reload and per refused file
   */
  IndexReloader(IndexGeneration first, Loader loader, Consumer<IndexGeneration> stage, Consumer<String> log) {
    this.file = first.file();
    this.loader = loader;
    this.stage = stage;
    this.log = log;
    this.loaded = first.identity();
    this.lastNumber = first.number();
    this.bits = first.table().bits();
    this.dim = first.table().dim();
  }

  /** One check: loads and stages a settled replacement, or refuses it. */
  synchronized void check() {
    IndexGeneration.FileIdentity now;
    try {
      now = IndexGeneration.FileIdentity.of(file);
    } catch (IOException e) {
      String why = file + " cannot be read (" + e.getMessage() + ")";
      if (!why.equals(lastError)) {
        refuse(null, why); // once, not every second
      }
      return;
    }
    if (now == null) {
      if (!missingLogged) {
        missingLogged = true;
        log.accept("serve: " + file + " is gone; still serving generation " + lastNumber + " until a file is there"
            + " again");
      }
      seen = null;
      return;
    }
    missingLogged = false;
    if (now.equals(loaded) || now.equals(refused)) {
      seen = now;
      return;
    }
    if (!now.equals(seen)) {
      seen = now; // changed since the last check: wait until it holds still
      return;
    }
    IndexGeneration g;
    try {
      g = loader.open(file, lastNumber + 1, now);
    } catch (IOException | RuntimeException | InternalError e) {
      if (Thread.currentThread().isInterrupted()) {
        return; // the service is closing: not the file's fault
      }
      // InternalError: the file shrank under the checksum pass (a read past the end of a mapping)
      refuse(now, oneLine(e));
      return;
    }
    try {
      IndexGeneration.FileIdentity after = IndexGeneration.FileIdentity.of(file);
      if (!now.equals(after)) {
        g.release(); // changed while it was read: the next checks see the newer file
        seen = after;
        return;
      }
      CodeTable t = g.table();
      if (t.bits() != bits || t.dim() != dim) {
        g.release();
        refuse(now, "it holds " + t.bits() + "-bit codes and " + t.dim() + "-d features, but this server serves "
            + bits + "-bit codes and " + dim + "-d features (its model and its clients' queries): start a server"
            + " for it instead");
        return;
      }
    } catch (IOException | RuntimeException e) {
      g.release();
      refuse(now, oneLine(e));
      return;
    }
    loaded = now;
    lastNumber = g.number();
    ok++;
    log.accept("serve: " + file + " replaced: generation " + g.number() + " (" + g.table().liveCount() + " rows)"
        + " serves from the next batch");
    stage.accept(g);
  }

  private void refuse(IndexGeneration.FileIdentity identity, String why) {
    refused = identity;
    errors++;
    lastError = why;
    lastErrorAt = Instant.now();
    log.accept("serve: refused the new " + file + ": " + why + "; still serving generation " + lastNumber);
  }

  private static String oneLine(Throwable e) {
    String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return m.replaceAll("\\s*\\R\\s*", " ");
  }

  /** {@code {"ok": n, "errors": n, "last_error": ..., "last_error_at": ...}} for /stats. */
  synchronized Json stats() {
    return new Json().put("ok", ok).put("errors", errors).put("last_error", lastError)
        .put("last_error_at", lastErrorAt == null ? null : lastErrorAt.toString());
  }

  synchronized long errors() {
    return errors;
  }
}
