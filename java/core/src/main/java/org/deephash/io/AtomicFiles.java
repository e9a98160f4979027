package org.deephash.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes a file so that readers see either the old content or the complete new content, never a
 * partial file, even when the process or the machine dies half-way.
 *
 * <p>The content goes to a temporary file in the target's directory (same file system, so the
 * rename is atomic), which is flushed to the device ({@code fsync}), renamed over the target with
 * {@link StandardCopyOption#ATOMIC_MOVE}, and then the directory itself is flushed so the rename
 * survives a power cut (where the platform allows opening a directory; elsewhere that step is
 * skipped). When anything fails the temporary file is deleted and the target is left untouched.
 *
 * <pre>{@code
 * AtomicFiles.write(Path.of("index.dh"), channel -> channel.write(ByteBuffer.wrap(bytes)));
 * }</pre>
 */
public final class AtomicFiles {
  private AtomicFiles() {}

  /** Fills a freshly created, empty file. */
  @FunctionalInterface
  public interface Body {
    void write(FileChannel channel) throws IOException;
  }

  /**
   * Writes {@code target} atomically: {@code body} fills a temporary file which then replaces
   * {@code target} (created when absent).
   *
   * @throws IOException from {@code body} or the file system; {@code target} is then unchanged
   */
  public static void write(Path target, Body body) throws IOException {
    Path abs = target.toAbsolutePath();
    Path dir = abs.getParent();
    if (dir == null) {
      throw new IOException(target + ": cannot write a file at the root of the file system");
    }
    if (!Files.isDirectory(dir)) {
      throw new IOException(target + ": directory " + dir + " does not exist or is not a directory; create it first");
    }
    removeDebris(abs);
    Path temp = null;
    boolean done = false;
    try {
      FileChannel ch = null;
      // Not Files.createTempFile: it makes the file owner-only (0600), and the rename would keep that.
      // The writer's process id is in the name, so a later write can tell debris from a live write.
      for (int attempt = 0; ch == null; attempt++) {
        temp = dir.resolve(TEMP_PREFIX_OF.apply(abs) + ProcessHandle.current().pid() + "."
            + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp");
        try {
          ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, StandardOpenOption.READ);
        } catch (FileAlreadyExistsException e) {
          if (attempt > 100) {
            throw e;
          }
        }
      }
      try (FileChannel c = ch) {
        body.write(c);
        c.force(true);
      }
      try {
        Files.move(temp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        throw new IOException(target + ": the file system cannot rename atomically, so the file cannot be replaced"
            + " safely; write to a local file system", e);
      }
      done = true;
      syncDirectory(dir);
    } finally {
      if (!done && temp != null) {
        try {
          Files.deleteIfExists(temp);
        } catch (IOException cleanup) {
          // The original failure matters more; a stray hidden .tmp file is harmless.
        }
      }
    }
  }

  private static final java.util.function.Function<Path, String> TEMP_PREFIX_OF = p -> "." + p.getFileName() + ".";

  /**
   * The temporary files that writes of {@code target} left behind when their process died (a kill
   * -9 or a power cut during a save): hidden {@code .NAME.PID.HEX.tmp} files in its folder whose
   * process is gone. Files of a live process (a save in progress) are not listed.
   */
  public static java.util.List<Path> debris(Path target) throws IOException {
    Path abs = target.toAbsolutePath();
    Path dir = abs.getParent();
    java.util.List<Path> out = new java.util.ArrayList<>();
    if (dir == null || !Files.isDirectory(dir)) {
      return out;
    }
    String prefix = TEMP_PREFIX_OF.apply(abs);
    try (java.util.stream.Stream<Path> s = Files.list(dir)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        String n = p.getFileName().toString();
        if (!n.startsWith(prefix) || !n.endsWith(".tmp")) {
          continue;
        }
        String[] parts = n.substring(prefix.length(), n.length() - 4).split("\\.");
        long pid;
        try {
          pid = parts.length == 2 ? Long.parseLong(parts[0]) : -1;
        } catch (NumberFormatException e) {
          pid = -1; // the format of older builds (no process id): debris, as no build writes it any more
        }
        boolean live = pid == ProcessHandle.current().pid()
            || pid >= 0 && ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
        if (!live) {
          out.add(p);
        }
      }
    }
    return out;
  }

  /** Deletes {@link #debris} of {@code target}; a file that cannot be deleted is left for later. */
  private static void removeDebris(Path target) {
    try {
      for (Path p : debris(target)) {
        try {
          Files.deleteIfExists(p);
        } catch (IOException e) {
          // left for the next save; `engine-cli info` reports it
        }
      }
    } catch (IOException e) {
      // an unreadable folder: the write itself will say so
    }
  }

  /** Flushes a directory entry change (the rename) to the device; not every platform allows it. */
  private static void syncDirectory(Path dir) {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException | UnsupportedOperationException e) {
      // Windows cannot open a directory as a channel; its rename is already durable enough there.
    }
  }
}
