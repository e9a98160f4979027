package org.deephash.io;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * An array read from a {@code .npy} file: its header and its elements as a read-only memory
 * mapping of the file (no copy, so a 1M x 128 float32 matrix costs no heap). Close it to unmap;
 * {@link #data()} is unusable afterwards.
 *
 * <p>Elements are little-endian and C-ordered; the data may not be aligned to the element size,
 * so read it with the {@code *_UNALIGNED} layouts.
 *
 * <pre>{@code
 * try (NpyArray feats = Npy.read(Path.of("feats.npy"), NpyDType.FLOAT32)) {
 *   long n = feats.rows();
 *   int d = Math.toIntExact(feats.rowLength());
 *   table.addAll((int) n, null, codesSegment, feats.data(), null);
 * }
 * }</pre>
 */
public final class NpyArray implements AutoCloseable {
  private final NpyHeader header;
  private final MemorySegment data;
  private final Arena arena;

  NpyArray(NpyHeader header, MemorySegment data, Arena arena) {
    this.header = header;
    this.data = data;
    this.arena = arena;
  }

  public NpyHeader header() {
    return header;
  }

  public NpyDType dtype() {
    return header.dtype();
  }

  /** A copy of the shape. */
  public long[] shape() {
    return header.shape();
  }

  public int ndim() {
    return header.ndim();
  }

  public long elementCount() {
    return header.elementCount();
  }

  /** The first dimension (1 for a scalar). */
  public long rows() {
    return header.ndim() == 0 ? 1 : header.shape()[0];
  }

  /** Elements per row: the product of all dimensions but the first (1 for a 1-d array). */
  public long rowLength() {
    long n = 1;
    long[] s = header.shape();
    for (int i = 1; i < s.length; i++) {
      n *= s[i];
    }
    return n;
  }

  /** The elements, read-only, exactly {@code elementCount() * itemSize} bytes. */
  public MemorySegment data() {
    return data;
  }

  /** A heap copy of a uint8 array. */
  public byte[] toByteArray() {
    require(NpyDType.UINT8);
    return data.toArray(JAVA_BYTE);
  }

  /** A heap copy of an int32 array. */
  public int[] toIntArray() {
    require(NpyDType.INT32);
    return data.toArray(JAVA_INT_UNALIGNED);
  }

  /** A heap copy of an int64 array. */
  public long[] toLongArray() {
    require(NpyDType.INT64);
    return data.toArray(JAVA_LONG_UNALIGNED);
  }

  /** A heap copy of a float32 array. */
  public float[] toFloatArray() {
    require(NpyDType.FLOAT32);
    return data.toArray(JAVA_FLOAT_UNALIGNED);
  }

  private void require(NpyDType t) {
    if (header.dtype() != t) {
      throw new IllegalStateException("this array is " + header.dtype() + ", not " + t);
    }
    if (header.elementCount() > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException("this array has " + header.elementCount()
          + " elements, more than a Java array holds; use data() instead");
    }
  }

  /** Unmaps the file. Idempotent. */
  @Override
  public void close() {
    if (arena.scope().isAlive()) {
      arena.close();
    }
  }

  @Override
  public String toString() {
    return "NpyArray[" + header + "]";
  }
}
