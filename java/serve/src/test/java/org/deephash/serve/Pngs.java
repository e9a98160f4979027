package org.deephash.serve;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * PNG files written byte by byte, for the tests of hostile uploads: decompression bombs (a large
 * raster of zeros deflates about 1000:1, so a 4096 x 4096 16-bit RGBA image is a ~130 KB file that
 * decodes to 128 MiB), text-chunk bombs, and truncations. ImageIO's writer would need the whole
 * raster in memory first; this streams the rows through a {@link Deflater}.
 */
final class Pngs {
  static final int GREY = 0;
  static final int RGB = 2;
  static final int PALETTE = 3;
  static final int RGBA = 6;

  private Pngs() {}

  /**
   * A {@code width x height} PNG of all-zero pixels.
   *
   * @param colorType {@link #GREY}, {@link #RGB}, {@link #PALETTE} or {@link #RGBA}
   * @param bitDepth 8 or 16 (8 for a palette)
   * @param textBomb when positive, a zTXt chunk whose text inflates to this many bytes comes
   *     before the pixels
   */
  static byte[] zeros(int width, int height, int colorType, int bitDepth, long textBomb) {
    int channels = switch (colorType) {
      case GREY, PALETTE -> 1;
      case RGB -> 3;
      case RGBA -> 4;
      default -> throw new IllegalArgumentException("color type " + colorType);
    };
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
    ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(width).putInt(height).put((byte) bitDepth)
        .put((byte) colorType).put((byte) 0).put((byte) 0).put((byte) 0);
    chunk(out, "IHDR", ihdr.array());
    if (colorType == PALETTE) {
      chunk(out, "PLTE", new byte[] {10, 20, 30});
    }
    if (textBomb > 0) {
      ByteArrayOutputStream z = new ByteArrayOutputStream();
      z.writeBytes("Comment".getBytes(StandardCharsets.ISO_8859_1));
      z.write(0); // end of keyword
      z.write(0); // compression method: deflate
      z.writeBytes(deflateZeros(textBomb, 1 << 16, (byte) 'a'));
      chunk(out, "zTXt", z.toByteArray());
    }
    long rowBytes = 1 + ((long) width * channels * bitDepth + 7) / 8; // filter byte + pixels
    byte[] idat = deflateRows(rowBytes, height);
    for (int off = 0; off < idat.length; off += 1 << 16) {
      byte[] part = new byte[Math.min(1 << 16, idat.length - off)];
      System.arraycopy(idat, off, part, 0, part.length);
      chunk(out, "IDAT", part);
    }
    chunk(out, "IEND", new byte[0]);
    return out.toByteArray();
  }

  /** A PNG whose header announces {@code width x height} grey pixels, with the pixels of one row only. */
  static byte[] announcing(int width, int height) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'});
    chunk(out, "IHDR", ByteBuffer.allocate(13).putInt(width).putInt(height).put((byte) 8).put((byte) GREY)
        .put((byte) 0).put((byte) 0).put((byte) 0).array());
    chunk(out, "IDAT", deflateZeros(1 + width, 1 << 16, (byte) 0));
    chunk(out, "IEND", new byte[0]);
    return out.toByteArray();
  }

  private static byte[] deflateRows(long rowBytes, int rows) {
    return deflateZeros(rowBytes * rows, (int) Math.min(rowBytes, 1 << 20), (byte) 0);
  }

  /** {@code total} bytes of {@code value}, deflated at the best compression, fed {@code step} at a time. */
  private static byte[] deflateZeros(long total, int step, byte value) {
    Deflater d = new Deflater(Deflater.BEST_COMPRESSION);
    try {
      byte[] in = new byte[step];
      java.util.Arrays.fill(in, value);
      byte[] buf = new byte[1 << 16];
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      for (long left = total; left > 0; left -= step) {
        d.setInput(in, 0, (int) Math.min(step, left));
        while (!d.needsInput()) {
          out.write(buf, 0, d.deflate(buf));
        }
      }
      d.finish();
      while (!d.finished()) {
        out.write(buf, 0, d.deflate(buf));
      }
      return out.toByteArray();
    } finally {
      d.end();
    }
  }

  private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
    byte[] t = type.getBytes(StandardCharsets.ISO_8859_1);
    out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
    out.writeBytes(t);
    out.writeBytes(data);
    CRC32 crc = new CRC32();
    crc.update(t);
    crc.update(data);
    out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
  }
}
