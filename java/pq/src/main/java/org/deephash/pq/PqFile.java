package org.deephash.pq;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static org.deephash.index.IndexFormatException.corruptHeader;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Set;
import org.deephash.index.FileKind;
import org.deephash.index.IndexFormatException;
import org.deephash.index.SectionFile;
import org.deephash.index.SectionFileWriter;

/**
 * The IVF-PQ index file's schema (docs/PQ.md is its specification; keep the two in sync): a
 * {@link SectionFile} of kind {@link FileKind#IVF_PQ} with the training parameters as its fields
 * and seven sections, read into the heap-held {@link IvfPqIndex}. Version-1 files (before the
 * container) still load; saving writes version 2.
 */
final class PqFile {
  private PqFile() {}

  static final int VERSION = 2;
  static final int MINOR_VERSION = 0;

  // The format fields: offsets and size.
  static final int FIELD_DIM = 0;
  static final int FIELD_M = 4;
  static final int FIELD_NBITS = 8;
  static final int FIELD_NLIST = 12;
  static final int FIELD_ENTRIES = 16;
  static final int FIELD_SEED = 24;
  static final int FIELD_KMEANS_ITERS = 32;
  static final int FIELD_TRAIN_SAMPLE = 36;
  static final int FIELDS = 40;
  /** Where the version-1 header kept the same fields, in the same order: d at 16, ... trainSample at 60. */
  private static final int[] V1 = {16, 20, 24, 28, 32, 48, 56, 60};
  private static final int[] V2 = {FIELD_DIM, FIELD_M, FIELD_NBITS, FIELD_NLIST, FIELD_ENTRIES, FIELD_SEED,
      FIELD_KMEANS_ITERS, FIELD_TRAIN_SAMPLE};

  /** The sections, in file order. */
  enum Kind {
    COARSE("coarse"),
    PQ("pq"),
    OFFSETS("offsets"),
    IDS("ids"),
    CODES("codes"),
    IMAGES("images"),
    XY("xy");

    final String label;

    Kind(String label) {
      this.label = label;
    }
  }

  static final SectionFile.Schema SCHEMA = new SectionFile.Schema(FileKind.IVF_PQ, VERSION,
      Set.of("coarse", "pq", "offsets", "ids", "codes", "images", "xy"));

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
    ByteBuffer fields = ByteBuffer.allocate(FIELDS).order(ByteOrder.LITTLE_ENDIAN);
    fields.putInt(FIELD_DIM, d).putInt(FIELD_M, pq.m()).putInt(FIELD_NBITS, pq.nbits()).putInt(FIELD_NLIST, nlist)
        .putLong(FIELD_ENTRIES, n).putLong(FIELD_SEED, p.seed()).putInt(FIELD_KMEANS_ITERS, p.kmeansIters())
        .putInt(FIELD_TRAIN_SAMPLE, p.trainSample());
    List<SectionFileWriter.Planned> plan = new ArrayList<>();
    for (Kind k : Kind.values()) {
      plan.add(new SectionFileWriter.Planned(k.label, SectionFile.REQUIRED));
    }
    SectionFileWriter.write(file, FileKind.IVF_PQ, VERSION, MINOR_VERSION, fields.array(), plan, out -> {
      for (Kind k : Kind.values()) {
        out.begin(k.label);
        switch (k) {
          case COARSE -> out.put(MemorySegment.ofArray(index.coarseNoCopy()), 0, 4L * nlist * d);
          case PQ -> out.put(MemorySegment.ofArray(pq.centroidsNoCopy()), 0, lengths[k.ordinal()]);
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
              out.put(MemorySegment.ofArray(index.listIds(l)), 0, 4L * index.listSize(l));
            }
          }
          case CODES -> {
            for (int l = 0; l < nlist; l++) {
              out.put(MemorySegment.ofArray(index.listCodes(l)), 0, (long) index.listSize(l) * cb);
            }
          }
          case IMAGES -> out.put(MemorySegment.ofArray(index.imageIdsNoCopy()), 0, 4L * n);
          case XY -> {
            float[] xs = index.xsNoCopy();
            float[] ys = index.ysNoCopy();
            for (int e = 0; e < n; e++) {
              out.putFloat(xs[e]);
              out.putFloat(ys[e]);
            }
          }
        }
        if (out.sectionLength() != lengths[k.ordinal()]) {
          throw new IllegalStateException("section " + k.label + " wrote " + out.sectionLength() + " bytes, planned "
              + lengths[k.ordinal()]); // a bug in this class, never bad input
        }
        out.end();
      }
    });
  }

  // ---------------------------------------------------------------- reading

  static IvfPqIndex read(Path file) throws IOException {
    try (SectionFile f = SectionFile.open(file, SCHEMA, true)) {
      ByteBuffer h = f.fields();
      int[] at = f.majorVersion() == 1 ? V1 : V2;
      if (f.majorVersion() != 1 && h.capacity() < FIELDS) {
        throw corruptHeader(file, "the format fields are " + h.capacity() + " bytes, version 2 has " + FIELDS);
      }
      int d = h.getInt(at[0]);
      int m = h.getInt(at[1]);
      int nbits = h.getInt(at[2]);
      int nlist = h.getInt(at[3]);
      long entries = h.getLong(at[4]);
      IvfPqIndex.Params params;
      try {
        ProductQuantizer.checkShape(d, m, nbits);
        params = new IvfPqIndex.Params(nlist, m, nbits, h.getInt(at[6]), h.getLong(at[5]), h.getInt(at[7]));
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
      long[] lengths = lengths(d, m, nbits, nlist, entries);
      for (Kind k : Kind.values()) {
        SectionFile.Section s = f.find(k.label);
        if (s == null || s.length() != lengths[k.ordinal()]) {
          throw corruptHeader(file, "section '" + k.label + "' "
              + (s == null ? "is missing" : "is " + s.length() + " bytes long") + "; " + entries + " entries of d = "
              + d + ", m = " + m + ", nbits = " + nbits + ", nlist = " + nlist + " need " + lengths[k.ordinal()]);
        }
      }
      return readSections(f, d, params, (int) entries);
    }
  }

  private static IvfPqIndex readSections(SectionFile f, int d, IvfPqIndex.Params p, int n) throws IOException {
    Path file = f.file();
    int nlist = p.nlist();
    int cb = (p.m() * p.nbits() + 7) / 8;

    float[] coarse = f.section(Kind.COARSE.label).toArray(JAVA_FLOAT_UNALIGNED);
    requireFinite(file, Kind.COARSE, coarse);
    float[] centroids = f.section(Kind.PQ.label).toArray(JAVA_FLOAT_UNALIGNED);
    requireFinite(file, Kind.PQ, centroids);

    long[] offsets = f.section(Kind.OFFSETS.label).toArray(JAVA_LONG_UNALIGNED);
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

    MemorySegment idSection = f.section(Kind.IDS.label);
    MemorySegment codeSection = f.section(Kind.CODES.label);
    int[][] ids = new int[nlist][];
    byte[][] codes = new byte[nlist][];
    BitSet seen = new BitSet(n);
    for (int l = 0; l < nlist; l++) {
      long from = offsets[l];
      int size = (int) (offsets[l + 1] - from);
      ids[l] = idSection.asSlice(4 * from, 4L * size).toArray(JAVA_INT_UNALIGNED);
      codes[l] = codeSection.asSlice(from * cb, (long) size * cb).toArray(JAVA_BYTE);
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

    int[] images = f.section(Kind.IMAGES.label).toArray(JAVA_INT_UNALIGNED);
    MemorySegment xy = f.section(Kind.XY.label);
    float[] xs = new float[n];
    float[] ys = new float[n];
    for (int e = 0; e < n; e++) {
      xs[e] = xy.getAtIndex(JAVA_FLOAT_UNALIGNED, 2L * e);
      ys[e] = xy.getAtIndex(JAVA_FLOAT_UNALIGNED, 2L * e + 1);
    }
    requireFinite(file, Kind.XY, xs);
    requireFinite(file, Kind.XY, ys);

    ProductQuantizer pq = ProductQuantizer.fromCentroids(d, p.m(), p.nbits(), centroids);
    IvfPqIndex index = new IvfPqIndex(d, p, coarse, pq);
    index.restore(ids, codes, images, xs, ys);
    return index;
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
