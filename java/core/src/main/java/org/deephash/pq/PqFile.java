package org.deephash.pq;

import static org.deephash.index.IndexFormatException.corruptHeader;
import static org.deephash.index.IndexFormatException.header;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import java.util.zip.CRC32C;
import org.deephash.index.IndexFormatException;
import org.deephash.io.AtomicFiles;
import org.deephash.io.Hex;

/**
 * The IVF-PQ index file (docs/PQ.md is its specification; keep the two in sync): writer and
 * validating reader. Little-endian; a fixed header, a table of seven sections with a CRC32C each,
 * a header CRC32C, then the sections back to back in table order.
 */
final class PqFile {
  private PqFile() {}

  /** "\x89DHQ\r\n\x1a\n": as the code-table index's magic ("DHX"), with Q for quantized. */
  static final byte[] MAGIC = {(byte) 0x89, 'D', 'H', 'Q', '\r', '\n', 0x1A, '\n'};
  /** The code-table index's magic, recognised to point its reader the right way. */
  private static final byte[] CODE_TABLE_MAGIC = {(byte) 0x89, 'D', 'H', 'X', '\r', '\n', 0x1A, '\n'};
  static final int VERSION = 1;

  static final int OFF_VERSION = 8;
  static final int OFF_HEADER_BYTES = 12;
  static final int OFF_DIM = 16;
  static final int OFF_M = 20;
  static final int OFF_NBITS = 24;
  static final int OFF_NLIST = 28;
  static final int OFF_ENTRIES = 32;
  static final int OFF_FILE_BYTES = 40;
  static final int OFF_SEED = 48;
  static final int OFF_KMEANS_ITERS = 56;
  static final int OFF_TRAIN_SAMPLE = 60;
  static final int OFF_SECTION_COUNT = 64;
  static final int OFF_RESERVED = 68;
  static final int FIXED_HEADER = 72;
  static final int ENTRY = 24;

  /** The sections, in file order; {@code code} is the kind stored in the section table. */
  enum Kind {
    COARSE(1, "coarse"),
    PQ(2, "pq"),
    OFFSETS(3, "offsets"),
    IDS(4, "ids"),
    CODES(5, "codes"),
    IMAGES(6, "images"),
    XY(7, "xy");

    final int code;
    final String label;

    Kind(int code, String label) {
      this.code = code;
      this.label = label;
    }
  }

  static final int SECTIONS = Kind.values().length;
  static final int HEADER_BYTES = FIXED_HEADER + ENTRY * SECTIONS + 4;

  /** Section lengths in bytes, in {@link Kind} order. */
  static long[] lengths(int d, int m, int nbits, int nlist, long entries) {
    int codeBytes = (m * nbits + 7) / 8;
    return new long[] {
      4L * nlist * d, // coarse: nlist x d float32
      4L * m * (1 << nbits) * (d / m), // pq: m x 2^nbits x d/m float32
      8L * (nlist + 1), // offsets: nlist + 1 uint64
      4L * entries, // ids: entry numbers, int32
      entries * codeBytes, // codes
      4L * entries, // images: int32
      8L * entries // xy: float32 pairs
    };
  }

  // ---------------------------------------------------------------- writing

  static void write(IvfPqIndex index, Path file) throws IOException {
    ProductQuantizer pq = index.productQuantizer();
    IvfPqIndex.Params p = index.params();
    int d = index.dim();
    int nlist = index.nlist();
    int n = index.size();
    int cb = pq.codeBytes();
    long[] lengths = lengths(d, pq.m(), pq.nbits(), nlist, n);
    AtomicFiles.write(file, ch -> {
      Out out = new Out(ch, HEADER_BYTES);
      int[] crcs = new int[SECTIONS];
      long[] offsets = new long[SECTIONS];
      for (Kind k : Kind.values()) {
        offsets[k.ordinal()] = out.position();
        out.begin();
        switch (k) {
          case COARSE -> out.putFloats(index.coarseNoCopy(), nlist * d);
          case PQ -> out.putFloats(pq.centroidsNoCopy(), pq.centroidsNoCopy().length);
          case OFFSETS -> {
            long at = 0;
            out.putLong(0);
            for (int l = 0; l < nlist; l++) {
              at += index.listSize(l);
              out.putLong(at);
            }
          }
          case IDS -> {
            for (int l = 0; l < nlist; l++) {
              int[] ids = index.listIds(l);
              for (int s = 0, sz = index.listSize(l); s < sz; s++) {
                out.putInt(ids[s]);
              }
            }
          }
          case CODES -> {
            for (int l = 0; l < nlist; l++) {
              out.put(index.listCodes(l), index.listSize(l) * cb);
            }
          }
          case IMAGES -> {
            int[] images = index.imageIdsNoCopy();
            for (int e = 0; e < n; e++) {
              out.putInt(images[e]);
            }
          }
          case XY -> {
            float[] xs = index.xsNoCopy();
            float[] ys = index.ysNoCopy();
            for (int e = 0; e < n; e++) {
              out.putFloat(xs[e]);
              out.putFloat(ys[e]);
            }
          }
        }
        crcs[k.ordinal()] = out.end();
        if (out.position() - offsets[k.ordinal()] != lengths[k.ordinal()]) {
          throw new IllegalStateException("section " + k.label + " wrote " + (out.position() - offsets[k.ordinal()])
              + " bytes, planned " + lengths[k.ordinal()]); // a bug in this class, never bad input
        }
      }
      out.flush();
      ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
      h.put(MAGIC);
      h.putInt(OFF_VERSION, VERSION);
      h.putInt(OFF_HEADER_BYTES, HEADER_BYTES);
      h.putInt(OFF_DIM, d);
      h.putInt(OFF_M, pq.m());
      h.putInt(OFF_NBITS, pq.nbits());
      h.putInt(OFF_NLIST, nlist);
      h.putLong(OFF_ENTRIES, n);
      h.putLong(OFF_FILE_BYTES, out.position());
      h.putLong(OFF_SEED, p.seed());
      h.putInt(OFF_KMEANS_ITERS, p.kmeansIters());
      h.putInt(OFF_TRAIN_SAMPLE, p.trainSample());
      h.putInt(OFF_SECTION_COUNT, SECTIONS);
      h.putInt(OFF_RESERVED, 0);
      for (Kind k : Kind.values()) {
        int at = FIXED_HEADER + ENTRY * k.ordinal();
        h.putInt(at, k.code);
        h.putInt(at + 4, crcs[k.ordinal()]);
        h.putLong(at + 8, offsets[k.ordinal()]);
        h.putLong(at + 16, lengths[k.ordinal()]);
      }
      CRC32C crc = new CRC32C();
      crc.update(h.array(), 0, HEADER_BYTES - 4);
      h.putInt(HEADER_BYTES - 4, (int) crc.getValue());
      h.position(0);
      long pos = 0;
      while (h.hasRemaining()) {
        pos += ch.write(h, pos);
      }
    });
  }

  /** Buffered little-endian section writer that checksums each section as it goes. */
  private static final class Out {
    private final FileChannel channel;
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
    private long position;
    private CRC32C crc;
    private int crcFrom;

    Out(FileChannel channel, long start) throws IOException {
      this.channel = channel;
      this.position = start;
      channel.position(start);
    }

    long position() {
      return position;
    }

    void begin() {
      crc = new CRC32C();
      crcFrom = buf.position();
    }

    int end() {
      crc.update(buf.array(), crcFrom, buf.position() - crcFrom);
      crcFrom = buf.position();
      return (int) crc.getValue();
    }

    private void room(int bytes) throws IOException {
      if (buf.remaining() < bytes) {
        flush();
      }
    }

    void putInt(int v) throws IOException {
      room(4);
      buf.putInt(v);
      position += 4;
    }

    void putFloat(float v) throws IOException {
      room(4);
      buf.putFloat(v);
      position += 4;
    }

    void putLong(long v) throws IOException {
      room(8);
      buf.putLong(v);
      position += 8;
    }

    void putFloats(float[] a, int count) throws IOException {
      for (int i = 0; i < count; i++) {
        putFloat(a[i]);
      }
    }

    void put(byte[] a, int count) throws IOException {
      int done = 0;
      while (done < count) {
        room(1);
        int n = Math.min(buf.remaining(), count - done);
        buf.put(a, done, n);
        done += n;
        position += n;
      }
    }

    void flush() throws IOException {
      if (crc != null) {
        crc.update(buf.array(), crcFrom, buf.position() - crcFrom);
      }
      buf.flip();
      while (buf.hasRemaining()) {
        channel.write(buf);
      }
      buf.clear();
      crcFrom = 0;
    }
  }

  // ---------------------------------------------------------------- reading

  static IvfPqIndex read(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = ch.size();
      if (size < MAGIC.length) {
        throw header(file, "the file is " + size + " bytes long, too short to be an IVF-PQ index: rebuild it");
      }
      ByteBuffer h = ByteBuffer.allocate((int) Math.min(HEADER_BYTES, size)).order(ByteOrder.LITTLE_ENDIAN);
      readFully(ch, h, 0);
      if (startsWith(h, CODE_TABLE_MAGIC)) {
        throw header(file, "this is a deephash code-table index, not an IVF-PQ index: open it with IndexFile.open");
      }
      if (!startsWith(h, MAGIC)) {
        throw header(file, "not an IVF-PQ index file (wrong magic bytes " + Hex.bytes(h, MAGIC.length)
            + "); pass a file written by IvfPqIndex.save");
      }
      if (size < OFF_VERSION + 4) {
        throw header(file, "truncated: the file is " + size + " bytes long, the header alone needs " + HEADER_BYTES
            + "; rebuild the index");
      }
      int version = h.getInt(OFF_VERSION);
      if (version != VERSION) {
        throw IndexFormatException.unsupportedVersion(file, version, VERSION);
      }
      if (size < HEADER_BYTES) {
        throw header(file, "truncated: the file is " + size + " bytes long, the header alone needs " + HEADER_BYTES
            + "; rebuild the index");
      }
      // Version 1 has a fixed header length, so the checksum can be verified before any field is trusted.
      IndexFormatException.verifyHeaderChecksum(file, h, HEADER_BYTES);
      int headerBytes = h.getInt(OFF_HEADER_BYTES);
      int count = h.getInt(OFF_SECTION_COUNT);
      if (headerBytes != HEADER_BYTES || count != SECTIONS) {
        throw corruptHeader(file, "header length " + Integer.toUnsignedString(headerBytes) + " and section count "
            + Integer.toUnsignedString(count) + " should be " + HEADER_BYTES + " and " + SECTIONS);
      }
      long fileBytes = h.getLong(OFF_FILE_BYTES);
      if (fileBytes != size) {
        throw header(file, size < fileBytes
            ? "truncated: the header says the file is " + fileBytes + " bytes long, it is " + size
                + " (an interrupted copy?); copy or rebuild the index"
            : "the file is " + size + " bytes long, " + (size - fileBytes) + " more than the header says ("
                + fileBytes + "); something appended to it: copy or rebuild the index");
      }
      int d = h.getInt(OFF_DIM);
      int m = h.getInt(OFF_M);
      int nbits = h.getInt(OFF_NBITS);
      int nlist = h.getInt(OFF_NLIST);
      long entries = h.getLong(OFF_ENTRIES);
      IvfPqIndex.Params params;
      try {
        ProductQuantizer.checkShape(d, m, nbits);
        params = new IvfPqIndex.Params(nlist, m, nbits, h.getInt(OFF_KMEANS_ITERS), h.getLong(OFF_SEED),
            h.getInt(OFF_TRAIN_SAMPLE));
      } catch (IllegalArgumentException e) {
        throw corruptHeader(file, e.getMessage());
      }
      if ((long) nlist * d > Vectors.MAX_ARRAY) {
        throw corruptHeader(file, "nlist * d = " + (long) nlist * d + " does not fit in an array");
      }
      if (entries < 0 || entries > IvfPqIndex.MAX_ENTRIES) {
        throw corruptHeader(file, "entry count " + Long.toUnsignedString(entries) + " is not in [0, "
            + IvfPqIndex.MAX_ENTRIES + "]");
      }
      if (h.getInt(OFF_RESERVED) != 0) {
        throw corruptHeader(file, "reserved bytes 68-71 are not zero");
      }
      long[] lengths = lengths(d, m, nbits, nlist, entries);
      int[] crcs = new int[SECTIONS];
      long expectedOffset = HEADER_BYTES;
      for (Kind k : Kind.values()) {
        int at = FIXED_HEADER + ENTRY * k.ordinal();
        int code = h.getInt(at);
        long offset = h.getLong(at + 8);
        long length = h.getLong(at + 16);
        if (code != k.code || offset != expectedOffset || length != lengths[k.ordinal()]) {
          throw corruptHeader(file, "section table entry " + k.ordinal() + " (kind " + Integer.toUnsignedString(code)
              + ", offset " + Long.toUnsignedString(offset) + ", length " + Long.toUnsignedString(length)
              + ") should be kind " + k.code + " ('" + k.label + "'), offset " + expectedOffset + ", length "
              + lengths[k.ordinal()]);
        }
        crcs[k.ordinal()] = h.getInt(at + 4);
        expectedOffset += length;
      }
      if (expectedOffset != fileBytes) {
        throw corruptHeader(file, "the sections end at byte " + expectedOffset + ", the file length field says "
            + fileBytes);
      }
      return readSections(file, ch, d, params, (int) entries, crcs);
    }
  }

  private static IvfPqIndex readSections(Path file, FileChannel ch, int d, IvfPqIndex.Params p, int n, int[] crcs)
      throws IOException {
    int nlist = p.nlist();
    int ksub = 1 << p.nbits();
    int cb = (p.m() * p.nbits() + 7) / 8;
    long[] lengths = lengths(d, p.m(), p.nbits(), nlist, n);
    In in = new In(file, ch);
    long at = HEADER_BYTES;

    in.begin(at, lengths[0]);
    float[] coarse = in.floats(nlist * d);
    in.verify(Kind.COARSE, crcs[0]);
    requireFinite(file, Kind.COARSE, coarse);
    at += lengths[0];

    in.begin(at, lengths[1]);
    float[] centroids = in.floats(p.m() * ksub * (d / p.m()));
    in.verify(Kind.PQ, crcs[1]);
    requireFinite(file, Kind.PQ, centroids);
    at += lengths[1];

    in.begin(at, lengths[2]);
    long[] offsets = new long[nlist + 1];
    for (int l = 0; l <= nlist; l++) {
      offsets[l] = in.getLong();
    }
    in.verify(Kind.OFFSETS, crcs[2]);
    at += lengths[2];
    if (offsets[0] != 0 || offsets[nlist] != n) {
      throw corrupt(file, Kind.OFFSETS, "runs from " + offsets[0] + " to " + offsets[nlist] + ", not from 0 to the"
          + " entry count " + n);
    }
    for (int l = 0; l < nlist; l++) {
      long sz = offsets[l + 1] - offsets[l];
      if (sz < 0 || sz * cb > Vectors.MAX_ARRAY) {
        throw corrupt(file, Kind.OFFSETS, "gives list " + l + " " + sz + " entries");
      }
    }

    in.begin(at, lengths[3]);
    int[][] ids = new int[nlist][];
    for (int l = 0; l < nlist; l++) {
      ids[l] = new int[(int) (offsets[l + 1] - offsets[l])];
      for (int s = 0; s < ids[l].length; s++) {
        ids[l][s] = in.getInt();
      }
    }
    in.verify(Kind.IDS, crcs[3]);
    at += lengths[3];
    BitSet seen = new BitSet(n);
    for (int l = 0; l < nlist; l++) {
      int previous = -1;
      for (int id : ids[l]) {
        if (id <= previous || id >= n || seen.get(id)) {
          throw corrupt(file, Kind.IDS, "puts entry " + id + " in list " + l + (id >= n || id < 0
              ? ", outside [0, " + n + ")"
              : id <= previous ? " after " + previous + " (entries must ascend)" : " a second time"));
        }
        seen.set(id);
        previous = id;
      }
    }

    in.begin(at, lengths[4]);
    byte[][] codes = new byte[nlist][];
    for (int l = 0; l < nlist; l++) {
      codes[l] = new byte[ids[l].length * cb];
      in.bytes(codes[l]);
    }
    in.verify(Kind.CODES, crcs[4]);
    at += lengths[4];

    in.begin(at, lengths[5]);
    int[] images = new int[n];
    for (int e = 0; e < n; e++) {
      images[e] = in.getInt();
    }
    in.verify(Kind.IMAGES, crcs[5]);
    at += lengths[5];

    in.begin(at, lengths[6]);
    float[] xs = new float[n];
    float[] ys = new float[n];
    for (int e = 0; e < n; e++) {
      xs[e] = in.getFloat();
      ys[e] = in.getFloat();
    }
    in.verify(Kind.XY, crcs[6]);
    requireFinite(file, Kind.XY, xs);
    requireFinite(file, Kind.XY, ys);

    ProductQuantizer pq = ProductQuantizer.fromCentroids(d, p.m(), p.nbits(), centroids);
    IvfPqIndex index = new IvfPqIndex(d, p, coarse, pq);
    index.restore(ids, codes, images, xs, ys);
    return index;
  }

  /** Little-endian reader of one section at a time that checksums exactly the section's bytes. */
  private static final class In {
    private final Path file;
    private final FileChannel channel;
    private final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
    private long position;
    private long end;
    private CRC32C crc;

    In(Path file, FileChannel channel) {
      this.file = file;
      this.channel = channel;
    }

    /** Starts reading the section of {@code length} bytes at {@code offset}. */
    void begin(long offset, long length) {
      position = offset;
      end = offset + length;
      buf.clear().limit(0);
      crc = new CRC32C();
    }

    /** Makes at least {@code bytes} bytes readable, never reading past the section's end. */
    private void need(int bytes) throws IOException {
      if (buf.remaining() >= bytes) {
        return;
      }
      buf.compact();
      int from = buf.position();
      buf.limit((int) Math.min(buf.capacity(), from + (end - position)));
      while (buf.position() < bytes && buf.hasRemaining()) {
        int r = channel.read(buf, position);
        if (r < 0) {
          throw new EOFException(file + ": the file ended at byte " + position + " while being read; was it"
              + " truncated meanwhile?");
        }
        position += r;
      }
      crc.update(buf.array(), from, buf.position() - from);
      buf.flip();
      if (buf.remaining() < bytes) {
        throw new IllegalStateException("read past the end of a section"); // a bug in this class
      }
    }

    int getInt() throws IOException {
      need(4);
      return buf.getInt();
    }

    long getLong() throws IOException {
      need(8);
      return buf.getLong();
    }

    float getFloat() throws IOException {
      need(4);
      return buf.getFloat();
    }

    float[] floats(int count) throws IOException {
      float[] a = new float[count];
      for (int i = 0; i < count; i++) {
        a[i] = getFloat();
      }
      return a;
    }

    void bytes(byte[] dst) throws IOException {
      int done = 0;
      while (done < dst.length) {
        need(1);
        int n = Math.min(buf.remaining(), dst.length - done);
        buf.get(dst, done, n);
        done += n;
      }
    }

    /** Checks the section just read in full against its stored checksum. */
    void verify(Kind k, int stored) throws IndexFormatException {
      if (buf.hasRemaining() || position != end) {
        throw new IllegalStateException("section " + k.label + " not read to its end"); // a bug in this class
      }
      int computed = (int) crc.getValue();
      if (computed != stored) {
        throw corrupt(file, k, "checksum mismatch (stored " + Hex.word(stored) + ", computed " + Hex.word(computed) + ")");
      }
    }
  }

  private static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
    long pos = position;
    while (b.hasRemaining()) {
      int r = ch.read(b, pos);
      if (r < 0) {
        break;
      }
      pos += r;
    }
  }

  private static boolean startsWith(ByteBuffer b, byte[] prefix) {
    if (b.limit() < prefix.length) {
      return false;
    }
    for (int i = 0; i < prefix.length; i++) {
      if (b.get(i) != prefix[i]) {
        return false;
      }
    }
    return true;
  }

  private static void requireFinite(Path file, Kind k, float[] a) throws IndexFormatException {
    for (int i = 0; i < a.length; i++) {
      if (!Float.isFinite(a[i])) {
        throw corrupt(file, k, "value " + i + " is " + a[i]);
      }
    }
  }


  static IndexFormatException corrupt(Path file, Kind k, String message) {
    return new IndexFormatException(file, k.label, "section '" + k.label + "' " + message
        + ": the file is corrupt; rebuild the index");
  }

}
