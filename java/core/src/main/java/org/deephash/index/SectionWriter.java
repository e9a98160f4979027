package org.deephash.index;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import java.util.zip.CRC32C;

/**
 * Writes sections one after the other through a heap buffer (so many small row runs cost few
 * system calls), computing each section's CRC32C on the way and padding it with zeros.
 */
final class SectionWriter {
  private final FileChannel channel;
  private final byte[] buf = new byte[1 << 20];
  private int fill;
  private long position;
  private CRC32C crc;

  SectionWriter(FileChannel channel, long start) throws IOException {
    this.channel = channel;
    this.position = start;
    channel.position(start);
  }

  /** Starts a section: the checksum restarts. */
  void begin() {
    crc = new CRC32C();
  }

  /** Appends {@code length} bytes of {@code src} from {@code offset}. */
  void put(MemorySegment src, long offset, long length) throws IOException {
    long done = 0;
    while (done < length) {
      int n = (int) Math.min(buf.length - fill, length - done);
      MemorySegment.copy(src, JAVA_BYTE, offset + done, buf, fill, n);
      crc.update(buf, fill, n);
      fill += n;
      done += n;
      position += n;
      if (fill == buf.length) {
        flush();
      }
    }
  }

  void put(byte[] bytes) throws IOException {
    put(MemorySegment.ofArray(bytes), 0, bytes.length);
  }

  void putLong(long v) throws IOException {
    byte[] b = new byte[8];
    for (int i = 0; i < 8; i++) {
      b[i] = (byte) (v >>> (8 * i));
    }
    put(b);
  }

  /** Ends a section: returns its checksum and writes the zero padding up to the next section. */
  int end() throws IOException {
    int value = (int) crc.getValue();
    crc = null;
    long target = Format.align(position + Format.PAD);
    while (position < target) {
      int n = (int) Math.min(buf.length - fill, target - position);
      Arrays.fill(buf, fill, fill + n, (byte) 0);
      fill += n;
      position += n;
      if (fill == buf.length) {
        flush();
      }
    }
    return value;
  }

  long position() {
    return position;
  }

  void flush() throws IOException {
    ByteBuffer b = ByteBuffer.wrap(buf, 0, fill);
    while (b.hasRemaining()) {
      channel.write(b);
    }
    fill = 0;
  }
}
