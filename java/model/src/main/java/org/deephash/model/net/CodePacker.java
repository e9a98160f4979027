package org.deephash.model.net;

/**
 * Packs latent activations into the engine's code layout: code bit i is set when activation i is
 * strictly greater than 0.5 (DLBHC: H > 0.5), and lives in bit (i mod 8) of byte i/8. A width
 * that is not a multiple of 8 is padded with zero bits, which leaves Hamming distances unchanged.
 *
 * <pre>{@code
 * byte[] codes = CodePacker.pack(latent, n, 48); // n x 6 bytes
 * }</pre>
 */
public final class CodePacker {
  private CodePacker() {}

  /** Bytes per packed code of {@code bits} bits. */
  public static int codeBytes(int bits) {
    return (bits + 7) >>> 3;
  }

  /** Packs n rows of {@code bits} activations (row-major) into n codes. */
  public static byte[] pack(float[] activations, int n, int bits) {
    if (bits < 1 || n < 0 || activations.length < (long) n * bits) {
      throw new IllegalArgumentException("need n x bits = " + n + " x " + bits + " activations, got " + activations.length);
    }
    int cb = codeBytes(bits);
    byte[] out = new byte[n * cb];
    for (int r = 0; r < n; r++) {
      int a = r * bits;
      int o = r * cb;
      for (int i = 0; i < bits; i++) {
        if (activations[a + i] > 0.5f) {
          out[o + (i >>> 3)] |= (byte) (1 << (i & 7));
        }
      }
    }
    return out;
  }

  /** Packs n rows of sign bits: bit i set when value i is >= 0 (for the LSH and ITQ baselines). */
  public static byte[] packSigns(float[] values, int n, int bits) {
    int cb = codeBytes(bits);
    byte[] out = new byte[n * cb];
    for (int r = 0; r < n; r++) {
      for (int i = 0; i < bits; i++) {
        if (values[r * bits + i] >= 0f) {
          out[r * cb + (i >>> 3)] |= (byte) (1 << (i & 7));
        }
      }
    }
    return out;
  }

  /** Whether bit i of code r is set. */
  public static boolean bit(byte[] codes, int codeBytes, int r, int i) {
    return (codes[r * codeBytes + (i >>> 3)] & (1 << (i & 7))) != 0;
  }
}
