package org.deephash.model.data;

/**
 * The EXIF orientation of a JPEG file: which way the camera held the sensor, so that a photo
 * stored sideways is shown (and encoded) upright. Only the tag the engine needs (0x0112 in IFD0
 * of the APP1 "Exif" segment) is read, by a bounded reader over the file's first bytes: every
 * offset is checked against the bytes at hand, so a truncated or hostile header gives
 * {@link #NORMAL}, never an exception or a read past the array.
 *
 * <pre>{@code
 * int o = Exif.orientation(Files.readAllBytes(photo));      // 1..8
 * BufferedImage upright = Pixels.orient(ImageIO.read(photo.toFile()), o);
 * }</pre>
 */
public final class Exif {
  /** Orientation 1: the stored pixels are upright. */
  public static final int NORMAL = 1;
  /** The EXIF tag number of Orientation. */
  static final int ORIENTATION_TAG = 0x0112;
  /** Markers scanned before giving up (a real header has a handful). */
  private static final int MAX_SEGMENTS = 64;

  private Exif() {}

  /**
   * The orientation (1..8, as EXIF numbers them) of JPEG bytes; {@link #NORMAL} when the bytes are
   * not a JPEG, have no EXIF orientation, or hold a value outside 1..8.
   *
   * @param jpeg the file's bytes, or at least its first segments (the APP1 segment is at most 64 KiB)
   */
  public static int orientation(byte[] jpeg) {
    return orientation(jpeg, jpeg == null ? 0 : jpeg.length);
  }

  /** As {@link #orientation(byte[])} over the first {@code length} bytes. */
  public static int orientation(byte[] b, int length) {
    if (b == null || length < 4 || length > b.length || u8(b, 0) != 0xFF || u8(b, 1) != 0xD8) {
      return NORMAL;
    }
    int p = 2;
    for (int segments = 0; segments < MAX_SEGMENTS && p + 4 <= length; segments++) {
      if (u8(b, p) != 0xFF) {
        return NORMAL;
      }
      int marker = u8(b, p + 1);
      if (marker == 0xFF) { // fill byte
        p++;
        continue;
      }
      if (marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7)) { // no length
        p += 2;
        continue;
      }
      if (marker == 0xD9 || marker == 0xDA) { // end of image, start of scan: no more headers
        return NORMAL;
      }
      int segLength = (u8(b, p + 2) << 8) | u8(b, p + 3); // counts its own two bytes
      if (segLength < 2) {
        return NORMAL;
      }
      int data = p + 4;
      int dataLength = Math.min(segLength - 2, length - data);
      if (marker == 0xE1 && dataLength >= 6 && b[data] == 'E' && b[data + 1] == 'x' && b[data + 2] == 'i'
          && b[data + 3] == 'f' && b[data + 4] == 0 && b[data + 5] == 0) {
        int o = tiffOrientation(b, data + 6, dataLength - 6);
        if (o != 0) {
          return o;
        }
      }
      p += 2 + segLength;
    }
    return NORMAL;
  }

  /** Orientation from a TIFF structure at {@code base} of {@code n} bytes; 0 when it has none. */
  private static int tiffOrientation(byte[] b, int base, int n) {
    if (n < 8) {
      return 0;
    }
    boolean little;
    if (b[base] == 'I' && b[base + 1] == 'I') {
      little = true;
    } else if (b[base] == 'M' && b[base + 1] == 'M') {
      little = false;
    } else {
      return 0;
    }
    if (u16(b, base + 2, little) != 42) {
      return 0;
    }
    long ifd = u32(b, base + 4, little);
    if (ifd < 8 || ifd > n - 2) {
      return 0;
    }
    int entries = u16(b, base + (int) ifd, little);
    int first = base + (int) ifd + 2;
    for (int i = 0; i < entries; i++) {
      int e = first + 12 * i;
      if (e + 12 > base + n) {
        return 0;
      }
      if (u16(b, e, little) == ORIENTATION_TAG) {
        int type = u16(b, e + 2, little);
        long count = u32(b, e + 4, little);
        if (type != 3 || count != 1) { // SHORT, one value, stored in the entry itself
          return 0;
        }
        int v = u16(b, e + 8, little);
        return v >= 1 && v <= 8 ? v : 0;
      }
    }
    return 0;
  }

  private static int u8(byte[] b, int i) {
    return b[i] & 0xFF;
  }

  private static int u16(byte[] b, int i, boolean little) {
    return little ? u8(b, i) | (u8(b, i + 1) << 8) : (u8(b, i) << 8) | u8(b, i + 1);
  }

  private static long u32(byte[] b, int i, boolean little) {
    long lo = u16(b, i, little);
    long hi = u16(b, i + 2, little);
    return little ? lo | (hi << 16) : (lo << 16) | hi;
  }
}
