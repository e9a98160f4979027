package org.deephash.backend.cuda;

import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.deephash.spi.TableView;

/**
 * Rows [begin, begin + rows) of a table on the device: codes padded to whole 64-bit words, ids,
 * the tombstone words of the range (or none), and on demand the features with their squared
 * norms. Owns its device memory.
 */
final class DeviceTable implements AutoCloseable {
  final int begin;
  final int rows;
  final int live;
  final int words;
  final DeviceBuffer codes;
  final DeviceBuffer ids;
  final DeviceBuffer tombstones;
  DeviceBuffer features;
  DeviceBuffer norms;

  private DeviceTable(int begin, int rows, int live, int words, DeviceBuffer codes, DeviceBuffer ids,
      DeviceBuffer tombstones) {
    this.begin = begin;
    this.rows = rows;
    this.live = live;
    this.words = words;
    this.codes = codes;
    this.ids = ids;
    this.tombstones = tombstones;
  }

  /** Bytes a row costs on the device (codes, id, tombstone bit; features and norm when asked). */
  static long bytesPerRow(TableView t, boolean features) {
    return Plan.words(t.bits()) * 8L + 8 + 1 + (features ? t.dim() * 4L + 4 : 0);
  }

  /** Live rows of [begin, begin + rows). {@code begin} is a multiple of 64. */
  static int liveRows(TableView t, int begin, int rows) {
    if (!t.hasTombstones()) {
      return rows;
    }
    int dead = 0;
    int end = begin + rows;
    for (int w = begin >>> 6; w < (end + 63) >>> 6; w++) {
      long bits = t.tombstones().getAtIndex(JAVA_LONG_UNALIGNED, w);
      int last = end - (w << 6);
      if (last < 64) {
        bits &= (1L << last) - 1;
      }
      dead += Long.bitCount(bits);
    }
    return rows - dead;
  }

  /** Uploads the range (synchronously; the repack of odd widths runs on {@code stream}). */
  static DeviceTable upload(CudaDevice dev, TableView t, int begin, int rows, Pointers.Stream stream) {
    int words = Plan.words(t.bits());
    int cb = t.codeBytes();
    DeviceBuffer codes = null;
    DeviceBuffer ids = null;
    DeviceBuffer tomb = null;
    try (Arena arena = Arena.ofConfined()) {
      codes = new DeviceBuffer((long) rows * words * 8 + 64);
      if (cb == words * 8) {
        copyIn(arena, codes, t.codes(), (long) begin * cb, (long) rows * cb);
      } else {
        try (DeviceBuffer tight = new DeviceBuffer((long) rows * cb + 64)) {
          copyIn(arena, tight, t.codes(), (long) begin * cb, (long) rows * cb);
          long total = (long) rows * words;
          int grid = (int) Math.max(1, Math.min(65535 * 4L, (total + 255) / 256));
          dev.launch("dh_repack_codes", grid, 1, 256, 0, stream, tight, codes, rows, cb, words);
          Cuda.check(cuStreamSynchronize(stream), "cuStreamSynchronize(repack)");
        }
      }
      ids = new DeviceBuffer(rows * 8L);
      copyIn(arena, ids, t.ids(), begin * 8L, rows * 8L);
      if (t.hasTombstones()) {
        long wordsOfRange = (rows + 63L) >>> 6;
        tomb = new DeviceBuffer(wordsOfRange * 8);
        copyIn(arena, tomb, t.tombstones(), (begin >>> 6) * 8L, wordsOfRange * 8);
      }
      return new DeviceTable(begin, rows, liveRows(t, begin, rows), words, codes, ids, tomb);
    } catch (RuntimeException e) {
      for (DeviceBuffer b : new DeviceBuffer[] {codes, ids, tomb}) {
        if (b != null) {
          b.close();
        }
      }
      throw e;
    }
  }

  /** Uploads the range's features and computes their squared norms (once per table version). */
  void uploadFeatures(CudaDevice dev, TableView t, Pointers.Stream stream) {
    if (features != null) {
      return;
    }
    long bytes = (long) rows * t.dim() * 4;
    try (Arena arena = Arena.ofConfined()) {
      features = new DeviceBuffer(bytes + 64);
      copyIn(arena, features, t.features(), (long) begin * t.dim() * 4, bytes);
      norms = new DeviceBuffer(rows * 4L + 64);
      long threads = (long) rows * 32;
      dev.launch("dh_row_sqnorms", (int) Math.max(1, (threads + 255) / 256), 1, 256, 0, stream,
          features, (long) rows, t.dim(), norms);
      Cuda.check(cuStreamSynchronize(stream), "cuStreamSynchronize(row norms)");
    } catch (RuntimeException e) {
      closeFeatures();
      throw e;
    }
  }

  boolean hasFeatures() {
    return features != null;
  }

  private void closeFeatures() {
    if (features != null) {
      features.close();
      features = null;
    }
    if (norms != null) {
      norms.close();
      norms = null;
    }
  }

  /** Copies bytes of a host segment to the device; heap segments go through a native copy. */
  private static void copyIn(Arena arena, DeviceBuffer dst, MemorySegment src, long offset, long bytes) {
    if (bytes == 0) {
      return;
    }
    MemorySegment s = src.asSlice(offset, bytes);
    if (!s.isNative()) {
      s = arena.allocate(bytes, 64).copyFrom(s);
    }
    Cuda.check(cuMemcpyHtoD(dst.ptr(), Pointers.host(s), bytes), "cuMemcpyHtoD(" + bytes + " bytes)");
  }

  @Override
  public void close() {
    closeFeatures();
    codes.close();
    ids.close();
    if (tombstones != null) {
      tombstones.close();
    }
  }
}
