package org.deephash.io;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.channels.FileChannel.MapMode;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reads and writes NumPy {@code .npy} files (format versions 1.0, 2.0 and 3.0), C order, with the
 * element types of {@link NpyDType}: how the engine exchanges codes, features, ids and labels with
 * Python.
 *
 * <p>{@link #read} maps the file read-only: the elements are never copied to the heap, so large
 * feature matrices load instantly. {@link #write} replaces the target atomically (see {@link
 * AtomicFiles}) and writes format 1.0 (2.0 only when the header needs it), which every NumPy
 * version reads.
 *
 * <pre>{@code
 * // Python: np.save("feats.npy", feats.astype(np.float32))
 * try (NpyArray feats = Npy.read(Path.of("feats.npy"), NpyDType.FLOAT32)) {
 *   float first = feats.data().getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, 0);
 * }
 * Npy.write(Path.of("ids.npy"), new long[] {7, 8, 9}, 3);
 * }</pre>
 */
public final class Npy {
  private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
  /** NumPy itself refuses larger headers by default; anything bigger is not a real header. */
  private static final int MAX_HEADER_BYTES = 1 << 20;
  private static final int ALIGN = 64;

  private Npy() {}

  /**
   * Reads the header only: type, shape and where the data starts. Checks that the file holds all
   * the data the header announces.
   */
  public static NpyHeader header(Path file) throws IOException {
    InputFiles.requireRegular(file, "a .npy file");
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return readHeader(file, ch, null);
    }
  }

  /**
   * Maps a {@code .npy} file of any supported type. Close the result to unmap it.
   *
   * @throws NpyFormatException when the file is not a supported {@code .npy} file
   */
  public static NpyArray read(Path file) throws IOException {
    return read(file, null);
  }

  /**
   * Maps a {@code .npy} file whose elements must be of type {@code expected}; any other type is
   * rejected with a message saying how to convert it.
   */
  public static NpyArray read(Path file, NpyDType expected) throws IOException {
    InputFiles.requireRegular(file, "a .npy file");
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      NpyHeader h = readHeader(file, ch, expected);
      Arena arena = Arena.ofShared();
      try {
        MemorySegment data = h.dataBytes() == 0
            ? MemorySegment.NULL
            : ch.map(MapMode.READ_ONLY, h.dataOffset(), h.dataBytes(), arena);
        return new NpyArray(h, data, arena);
      } catch (IOException | RuntimeException e) {
        arena.close();
        throw e;
      }
    }
  }

  private static NpyHeader readHeader(Path file, FileChannel ch, NpyDType expected) throws IOException {
    long size = ch.size();
    ByteBuffer pre = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, pre, 0);
    int got = pre.position();
    pre.flip();
    if (got >= 2 && pre.get(0) == 'P' && pre.get(1) == 'K') {
      throw new NpyFormatException(file, "this is a zip archive (.npz), not a .npy file: extract one array with"
          + " np.save('a.npy', np.load(path)['name'])");
    }
    for (int i = 0; i < MAGIC.length; i++) {
      if (i >= got || pre.get(i) != MAGIC[i]) {
        throw new NpyFormatException(file, "not a .npy file (it does not start with \\x93NUMPY): write it with"
            + " np.save");
      }
    }
    if (got < 10) {
      throw new NpyFormatException(file, "truncated .npy header (" + size + " bytes)");
    }
    int major = pre.get(6) & 0xFF;
    int minor = pre.get(7) & 0xFF;
    if (major < 1 || major > 3 || minor != 0) {
      throw new NpyFormatException(file, "unsupported .npy format version " + major + "." + minor
          + " (this reads 1.0, 2.0 and 3.0): re-save it with np.save");
    }
    long headerLen;
    int start;
    if (major == 1) {
      headerLen = pre.getShort(8) & 0xFFFF;
      start = 10;
    } else {
      if (got < 12) {
        throw new NpyFormatException(file, "truncated .npy header (" + size + " bytes)");
      }
      headerLen = pre.getInt(8) & 0xFFFFFFFFL;
      start = 12;
    }
    if (headerLen > MAX_HEADER_BYTES) {
      throw new NpyFormatException(file, "header length " + headerLen + " is implausibly large: the file is corrupt");
    }
    if (start + headerLen > size) {
      throw new NpyFormatException(file, "truncated: the header needs " + (start + headerLen) + " bytes, the file has "
          + size);
    }
    ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
    readFully(ch, hb, start);
    hb.flip();
    String text;
    try {
      text = (major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1).newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(hb)
          .toString();
    } catch (CharacterCodingException e) {
      throw new NpyFormatException(file, "the header is not valid UTF-8: the file is corrupt");
    }
    Object parsed;
    try {
      parsed = PyLiteral.parse(text);
    } catch (IllegalArgumentException e) {
      throw new NpyFormatException(file, "malformed header (" + e.getMessage() + "): " + abbreviate(text));
    }
    if (!(parsed instanceof Map<?, ?> dict)) {
      throw new NpyFormatException(file, "malformed header (not a dict): " + abbreviate(text));
    }
    if (!dict.keySet().equals(Set.of("descr", "fortran_order", "shape"))) {
      throw new NpyFormatException(file, "header keys must be exactly 'descr', 'fortran_order' and 'shape'; got "
          + dict.keySet());
    }
    Object descr = dict.get("descr");
    if (!(descr instanceof String d)) {
      throw new NpyFormatException(file, "structured dtypes (records) are not supported: save a plain array of one"
          + " of " + supported());
    }
    NpyDType dtype = NpyDType.ofDescr(d);
    if (expected != null && dtype != expected) {
      throw new NpyFormatException(file, "expected " + expected + ", got '" + d + "': convert with arr.astype(np."
          + expected.numpyName() + ")");
    }
    if (dtype == null) {
      throw new NpyFormatException(file, "dtype '" + d + "' is not supported; use one of " + supported()
          + " (convert with arr.astype(...); big-endian arrays with arr.astype(arr.dtype.newbyteorder('<')))");
    }
    if (!(dict.get("fortran_order") instanceof Boolean fortran)) {
      throw new NpyFormatException(file, "header field 'fortran_order' must be True or False");
    }
    if (fortran) {
      throw new NpyFormatException(file, "Fortran-ordered (column-major) arrays are not supported: save"
          + " np.ascontiguousarray(arr) instead");
    }
    if (!(dict.get("shape") instanceof PyLiteral.Tuple shapeTuple)) {
      throw new NpyFormatException(file, "header field 'shape' must be a tuple of integers");
    }
    long[] shape = new long[shapeTuple.items().size()];
    long count = 1;
    for (int i = 0; i < shape.length; i++) {
      if (!(shapeTuple.items().get(i) instanceof Long dim) || dim < 0) {
        throw new NpyFormatException(file, "shape " + shapeTuple.items() + " must hold non-negative integers");
      }
      shape[i] = dim;
      try {
        count = Math.multiplyExact(count, dim);
      } catch (ArithmeticException e) {
        throw new NpyFormatException(file, "shape " + Arrays.toString(shape) + " is too large");
      }
    }
    long dataBytes;
    try {
      dataBytes = Math.multiplyExact(count, dtype.itemSize());
    } catch (ArithmeticException e) {
      throw new NpyFormatException(file, "shape " + Arrays.toString(shape) + " is too large");
    }
    long dataOffset = start + headerLen;
    if (size - dataOffset < dataBytes) {
      throw new NpyFormatException(file, "truncated: shape " + Arrays.toString(shape) + " of " + dtype + " needs "
          + dataBytes + " bytes of data, the file has " + (size - dataOffset) + ": re-copy or re-save it");
    }
    return new NpyHeader(major, minor, dtype, shape, dataOffset);
  }

  private static String supported() {
    List<String> s = new ArrayList<>();
    for (NpyDType t : NpyDType.values()) {
      s.add(t.toString());
    }
    return String.join(", ", s);
  }

  private static String abbreviate(String text) {
    String t = text.strip();
    return t.length() > 200 ? t.substring(0, 200) + "..." : t;
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long position) throws IOException {
    long pos = position;
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) {
        return;
      }
      pos += n;
    }
  }

  /**
   * Writes {@code data} as a C-ordered {@code .npy} array, replacing {@code file} atomically.
   *
   * @param dtype element type
   * @param shape dimensions (empty for a scalar), each >= 0
   * @param data at least product(shape) x itemSize bytes, native (little-endian) order; heap or
   *     off-heap
   */
  public static void write(Path file, NpyDType dtype, long[] shape, MemorySegment data) throws IOException {
    if (dtype == null || shape == null || data == null) {
      throw new IllegalArgumentException("dtype, shape and data must not be null");
    }
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new UnsupportedOperationException("writing .npy files needs a little-endian platform");
    }
    long count = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " must hold non-negative sizes");
      }
      count = Math.multiplyExact(count, d);
    }
    long bytes = Math.multiplyExact(count, dtype.itemSize());
    if (data.byteSize() < bytes) {
      throw new IllegalArgumentException("data holds " + data.byteSize() + " bytes; shape " + Arrays.toString(shape)
          + " of " + dtype + " needs " + bytes);
    }
    byte[] header = headerBytes(dtype, shape);
    AtomicFiles.write(file, ch -> {
      writeFully(ch, ByteBuffer.wrap(header));
      byte[] buf = new byte[(int) Math.min(bytes, 1 << 20)];
      for (long off = 0; off < bytes; off += buf.length) {
        int n = (int) Math.min(buf.length, bytes - off);
        MemorySegment.copy(data, JAVA_BYTE, off, buf, 0, n);
        writeFully(ch, ByteBuffer.wrap(buf, 0, n));
      }
    });
  }

  /** Writes a float32 array; {@code shape} defaults to one dimension of {@code data.length}. */
  public static void write(Path file, float[] data, long... shape) throws IOException {
    write(file, NpyDType.FLOAT32, shapeOf(data.length, shape), MemorySegment.ofArray(data));
  }

  /** Writes a uint8 array; {@code shape} defaults to one dimension of {@code data.length}. */
  public static void write(Path file, byte[] data, long... shape) throws IOException {
    write(file, NpyDType.UINT8, shapeOf(data.length, shape), MemorySegment.ofArray(data));
  }

  /** Writes an int32 array; {@code shape} defaults to one dimension of {@code data.length}. */
  public static void write(Path file, int[] data, long... shape) throws IOException {
    write(file, NpyDType.INT32, shapeOf(data.length, shape), MemorySegment.ofArray(data));
  }

  /** Writes an int64 array; {@code shape} defaults to one dimension of {@code data.length}. */
  public static void write(Path file, long[] data, long... shape) throws IOException {
    write(file, NpyDType.INT64, shapeOf(data.length, shape), MemorySegment.ofArray(data));
  }

  private static long[] shapeOf(int length, long[] shape) {
    long[] s = shape == null || shape.length == 0 ? new long[] {length} : shape;
    long count = 1;
    for (long d : s) {
      count *= d;
    }
    if (count != length) {
      throw new IllegalArgumentException("shape " + Arrays.toString(s) + " holds " + count + " elements, the array "
          + length);
    }
    return s;
  }

  /** Magic, version, length and the dict, padded with spaces and a newline to a multiple of 64. */
  static byte[] headerBytes(NpyDType dtype, long[] shape) {
    StringBuilder dict = new StringBuilder("{'descr': '").append(dtype.descr())
        .append("', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < shape.length; i++) {
      dict.append(i == 0 ? "" : ", ").append(shape[i]);
    }
    dict.append(shape.length == 1 ? ",), }" : "), }");
    int prefix = 10;
    int major = 1;
    int total = align(prefix + dict.length() + 1);
    if (total - prefix > 0xFFFF) {
      major = 2;
      prefix = 12;
      total = align(prefix + dict.length() + 1);
    }
    ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
    b.put(MAGIC).put((byte) major).put((byte) 0);
    if (major == 1) {
      b.putShort((short) (total - prefix));
    } else {
      b.putInt(total - prefix);
    }
    b.put(dict.toString().getBytes(StandardCharsets.ISO_8859_1));
    while (b.position() < total - 1) {
      b.put((byte) ' ');
    }
    b.put((byte) '\n');
    return b.array();
  }

  private static int align(int n) {
    return (n + ALIGN - 1) / ALIGN * ALIGN;
  }

  private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
    while (b.hasRemaining()) {
      ch.write(b);
    }
  }
}
