package org.deephash.io;

import java.util.Arrays;

/**
 * The parsed header of a {@code .npy} file.
 *
 * @param major format major version: 1, 2 or 3
 * @param minor format minor version: 0
 * @param dtype the element type
 * @param shape the array's shape (empty for a scalar), C order
 * @param dataOffset byte offset of the first element in the file
 */
public record NpyHeader(int major, int minor, NpyDType dtype, long[] shape, long dataOffset) {
  public NpyHeader {
    shape = shape.clone();
  }

  /** A copy of the shape. */
  @Override
  public long[] shape() {
    return shape.clone();
  }

  /** Number of dimensions. */
  public int ndim() {
    return shape.length;
  }

  /** Number of elements: the product of the shape (1 for a scalar). */
  public long elementCount() {
    long n = 1;
    for (long s : shape) {
      n *= s; // validated not to overflow when parsed
    }
    return n;
  }

  /** Bytes of element data. */
  public long dataBytes() {
    return elementCount() * dtype.itemSize();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof NpyHeader h && h.major == major && h.minor == minor && h.dtype == dtype
        && Arrays.equals(h.shape, shape) && h.dataOffset == dataOffset;
  }

  @Override
  public int hashCode() {
    return ((major * 31 + minor) * 31 + dtype.hashCode()) * 31 + Arrays.hashCode(shape) + Long.hashCode(dataOffset);
  }

  @Override
  public String toString() {
    return "NpyHeader[v" + major + "." + minor + ", " + dtype + ", shape=" + Arrays.toString(shape) + "]";
  }
}
