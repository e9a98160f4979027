package org.deephash.model.net;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Keeps TensorFlow's informational log lines off stderr. TensorFlow 2.18 logs through its own,
 * hidden copy of Abseil, which ignores {@code TF_CPP_MIN_LOG_LEVEL} for the lines written before
 * {@code absl::InitializeLog} ("WARNING: All log messages before absl::InitializeLog() is called
 * are written to STDERR", "I0000 ... MLIR V1 optimization pass is not enabled"); no environment
 * variable, flag or exported function reaches that copy (checked against the 1.1.0 natives). So
 * while a command runs TensorFlow, file descriptor 2 is a pipe read by a thread that passes
 * everything through except Abseil's info and warning lines; errors and fatal lines, and
 * everything Java prints, go through unchanged and in order. Hand-written because no library does
 * this; it uses libc's {@code pipe}, {@code dup}, {@code dup2}, {@code read}, {@code write} and
 * {@code close} through the FFM API, and does nothing where they cannot be linked.
 *
 * <pre>{@code
 * try (TensorFlowLog.Quiet q = TensorFlowLog.quiet()) {
 *   ... train, encode ...
 * }
 * }</pre>
 */
public final class TensorFlowLog {
  /** Abseil's info and warning lines ("I1204 10:11:12.345678   123 file.cc:401] ..."), and its notice. */
  static final Pattern DROPPED = Pattern.compile(
      "^(?:[IW]\\d{4} \\d\\d:\\d\\d:\\d+\\.\\d+ +\\d+ [^ \\]]+:\\d+\\] .*"
          + "|WARNING: All log messages before absl::InitializeLog\\(\\) is called are written to STDERR)\\r?\\n?$");

  private TensorFlowLog() {}

  /** An active filter; closing it restores stderr and waits until everything was written. */
  public interface Quiet extends AutoCloseable {
    @Override
    void close();
  }

  /** Filters fd 2 until closed; a no-op when {@code verbose} or when libc cannot be linked. */
  public static Quiet quiet(boolean verbose) {
    if (verbose) {
      return () -> { };
    }
    try {
      return Filter.start();
    } catch (Throwable t) {
      return () -> { }; // no libc (another OS): the lines stay, nothing else changes
    }
  }

  /** Whether a complete line (with its newline) is one of Abseil's lines to drop. */
  static boolean dropped(String line) {
    return DROPPED.matcher(line).matches();
  }

  private static final class Filter implements Quiet {
    private static final Linker LINKER = Linker.nativeLinker();
    private static final MethodHandle PIPE = libc("pipe", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    private static final MethodHandle DUP = libc("dup", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    private static final MethodHandle DUP2 = libc("dup2", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    private static final MethodHandle READ = libc("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle WRITE = libc("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    private static final MethodHandle CLOSE = libc("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    private final int original;
    private final int readEnd;
    private final Thread pump;

    private static MethodHandle libc(String name, FunctionDescriptor d) {
      return LINKER.downcallHandle(LINKER.defaultLookup().find(name).orElseThrow(), d);
    }

    private Filter(int original, int readEnd) {
      this.original = original;
      this.readEnd = readEnd;
      this.pump = new Thread(this::pump, "tensorflow-log-filter");
      this.pump.setDaemon(true);
    }

    static Filter start() throws Throwable {
      System.err.flush();
      int original = (int) DUP.invokeExact(2);
      if (original < 0) {
        throw new IllegalStateException("dup failed");
      }
      int[] fds = new int[2];
      try (Arena a = Arena.ofConfined()) {
        MemorySegment p = a.allocate(JAVA_INT, 2);
        if ((int) PIPE.invokeExact(p) != 0) {
          int ignored = (int) CLOSE.invokeExact(original);
          throw new IllegalStateException("pipe failed");
        }
        fds[0] = p.getAtIndex(JAVA_INT, 0);
        fds[1] = p.getAtIndex(JAVA_INT, 1);
      }
      int r = (int) DUP2.invokeExact(fds[1], 2);
      int ignored = (int) CLOSE.invokeExact(fds[1]);
      if (r < 0) {
        ignored = (int) CLOSE.invokeExact(fds[0]);
        ignored = (int) CLOSE.invokeExact(original);
        throw new IllegalStateException("dup2 failed");
      }
      Filter f = new Filter(original, fds[0]);
      f.pump.start();
      return f;
    }

    /**
     * Copies the pipe to the original stderr. Text is passed on as soon as it arrives, except the
     * start of a line that may still become an Abseil line: that waits for its newline.
     */
    private void pump() {
      try (Arena a = Arena.ofConfined()) {
        MemorySegment buf = a.allocate(1 << 16);
        StringBuilder pending = new StringBuilder(); // the current line's text not yet passed on
        boolean lineStart = true;
        while (true) {
          long n = (long) READ.invokeExact(readEnd, buf, buf.byteSize());
          if (n <= 0) {
            break;
          }
          // ISO-8859-1 keeps one char per byte, so any bytes pass through unchanged
          String chunk = new String(buf.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE),
              StandardCharsets.ISO_8859_1);
          StringBuilder out = new StringBuilder();
          for (int i = 0; i < chunk.length(); i++) {
            char c = chunk.charAt(i);
            if (lineStart || pending.length() > 0) {
              pending.append(c);
              lineStart = false;
              if (c == '\n') {
                if (!dropped(pending.toString())) {
                  out.append(pending);
                }
                pending.setLength(0);
                lineStart = true;
              } else if (!couldBeDropped(pending)) {
                out.append(pending);
                pending.setLength(0);
              }
            } else {
              out.append(c);
              lineStart = c == '\n';
            }
          }
          write(out);
        }
        write(pending);
      } catch (Throwable t) {
        // the pipe broke: nothing more can be shown
      }
    }

    /** Whether a line begun with {@code s} can still turn out to be one to drop. */
    private static boolean couldBeDropped(CharSequence s) {
      java.util.regex.Matcher m = DROPPED.matcher(s);
      return m.matches() || m.hitEnd();
    }

    private void write(CharSequence s) throws Throwable {
      if (s.length() == 0) {
        return;
      }
      byte[] bytes = s.toString().getBytes(StandardCharsets.ISO_8859_1);
      try (Arena a = Arena.ofConfined()) {
        MemorySegment m = a.allocate(bytes.length);
        m.copyFrom(MemorySegment.ofArray(bytes));
        long off = 0;
        while (off < bytes.length) {
          long w = (long) WRITE.invokeExact(original, m.asSlice(off), (long) bytes.length - off);
          if (w <= 0) {
            return;
          }
          off += w;
        }
      }
    }

    @Override
    public void close() {
      System.err.flush();
      try {
        int r = (int) DUP2.invokeExact(original, 2); // the pipe's last writer goes: the pump reads to its end
        pump.join(5_000);
        r = (int) CLOSE.invokeExact(readEnd);
        r = (int) CLOSE.invokeExact(original);
      } catch (Throwable t) {
        // stderr stays as it is
      }
    }
  }
}
