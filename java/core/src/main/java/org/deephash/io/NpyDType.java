package org.deephash.io;

/**
 * The NumPy element types the engine reads and writes: exactly these four, little-endian. Their
 * {@link #descr()} is the dtype string NumPy writes into a {@code .npy} header.
 */
public enum NpyDType {
  /** Packed hash codes, images: {@code np.uint8}, descr {@code '|u1'}. */
  UINT8("|u1", 1, "uint8"),
  /** Labels: {@code np.int32}, descr {@code '<i4'}. */
  INT32("<i4", 4, "int32"),
  /** Ids: {@code np.int64}, descr {@code '<i8'}. */
  INT64("<i8", 8, "int64"),
  /** Features: {@code np.float32}, descr {@code '<f4'}. */
  FLOAT32("<f4", 4, "float32");

  private final String descr;
  private final int itemSize;
  private final String numpyName;

  NpyDType(String descr, int itemSize, String numpyName) {
    this.descr = descr;
    this.itemSize = itemSize;
    this.numpyName = numpyName;
  }

  /** The header's dtype string, e.g. {@code "<f4"}. */
  public String descr() {
    return descr;
  }

  /** Bytes per element. */
  public int itemSize() {
    return itemSize;
  }

  /** The NumPy name, e.g. {@code "float32"} (as in {@code arr.astype(np.float32)}). */
  public String numpyName() {
    return numpyName;
  }

  /** The type whose descr is exactly {@code descr}, or null when the engine does not support it. */
  public static NpyDType ofDescr(String descr) {
    for (NpyDType t : values()) {
      if (t.descr.equals(descr)) {
        return t;
      }
    }
    return null;
  }

  /** {@code float32 ('<f4')}: how messages name a type. */
  @Override
  public String toString() {
    return numpyName + " ('" + descr + "')";
  }
}
