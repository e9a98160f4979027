package org.deephash.model.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Pins the code layout the engine relies on: bit i of a code is bit (i mod 8) of byte i/8, set when H > 0.5. */
class CodePackerTest {

  @Test
  void goldenPackingOrder() {
    // 16 activations: on at 0, 3, 8, 15; exactly 0.5 is off (strict), 0.5000001 is on.
    float[] a = new float[16];
    a[0] = 0.9f;
    a[3] = 0.51f;
    a[5] = 0.5f;
    a[8] = 0.5000001f;
    a[15] = 1f;
    byte[] codes = CodePacker.pack(a, 1, 16);
    assertArrayEquals(new byte[] {(byte) 0b0000_1001, (byte) 0b1000_0001}, codes);
  }

  @Test
  void widthsThatAreNotWholeBytesArePaddedWithZeroBits() {
    float[] a = new float[24]; // two codes of 12 bits
    for (int i = 0; i < 12; i++) {
      a[i] = 1f; // first code: all on
    }
    a[12 + 11] = 1f; // second code: only bit 11
    byte[] codes = CodePacker.pack(a, 2, 12);
    assertEquals(2, CodePacker.codeBytes(12));
    assertArrayEquals(new byte[] {(byte) 0xff, 0x0f, 0x00, 0x08}, codes);
  }

  @Test
  void rowsAreConsecutive() {
    float[] a = new float[48 * 3];
    a[48 + 47] = 0.7f; // row 1, bit 47: byte 5 of row 1, bit 7
    a[2 * 48 + 9] = 0.7f; // row 2, bit 9: byte 1 of row 2, bit 1
    byte[] c = CodePacker.pack(a, 3, 48);
    byte[] want = new byte[18];
    want[6 + 5] = (byte) 0x80;
    want[12 + 1] = 0x02;
    assertArrayEquals(want, c);
    assertEquals(true, CodePacker.bit(c, 6, 1, 47));
  }

  @Test
  void signPackingForBaselines() {
    byte[] c = CodePacker.packSigns(new float[] {-1f, 0f, 2f, -0.1f, 0f, 0f, 0f, 0f, -3f}, 1, 9);
    assertArrayEquals(new byte[] {(byte) 0b1111_0110, 0}, c);
  }
}
