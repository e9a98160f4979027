package org.deephash.io;

import java.nio.ByteBuffer;

/** Hexadecimal renderings for error messages about binary files (checksums, magic bytes). */
public final class Hex {
  private Hex() {}

  /** A 32-bit word as {@code 0x%08x}. */
  public static String word(int v) {
    return String.format("0x%08x", v);
  }

  /** The first {@code n} bytes of a buffer (absolute positions from 0) as lower-case hex digits. */
  public static String bytes(ByteBuffer b, int n) {
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < n; i++) {
      s.append(String.format("%02x", b.get(i)));
    }
    return s.toString();
  }
}
