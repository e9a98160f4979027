package org.deephash.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import org.deephash.spi.TableView;

/**
 * Where a table lives on the device for one call: a resident copy kept between calls (one per
 * {@link TableView#version()}; any add or delete replaces it), or, when the table does not fit the
 * free device memory, shards of rows that the call uploads, searches and frees one at a time.
 * Not thread-safe: the backend serialises calls.
 */
final class Residency implements AutoCloseable {
  /** Forces streaming shards of this many rows (property deephash.cuda.shardRows; 0 = only when needed). */
  static int shardRowsForced() {
    return Integer.getInteger("deephash.cuda.shardRows", 0);
  }

  /** The table of a call: the resident copy (one range), or the row ranges to stream. */
  record Placement(Resident resident, List<int[]> ranges) {
    boolean streamed() {
      return resident == null;
    }
  }

  /** The device copy of one table version. */
  static final class Resident implements AutoCloseable {
    private final long version;
    private final long codesAddress;
    private final int rows;
    final DeviceTable table;

    private Resident(TableView t, DeviceTable table) {
      this.version = t.version();
      this.codesAddress = t.codes().address();
      this.rows = t.rows();
      this.table = table;
    }

    boolean matches(TableView t) {
      return version == t.version() && codesAddress == t.codes().address() && rows == t.rows();
    }

    @Override
    public void close() {
      table.close();
    }
  }

  private final CudaDevice dev;
  private Resident resident;

  Residency(CudaDevice dev) {
    this.dev = dev;
  }

  /**
   * Places {@code t}: reuses or uploads the resident copy when it fits the free memory less a
   * reserve (a tenth of the device, at least 256 MiB, plus the two lanes' workspaces), with its
   * features when {@code wantFeatures} and they fit too; else plans streamed shards.
   */
  Placement place(TableView t, boolean wantFeatures, long workspaceBytes, Pointers.Stream stream) {
    if (resident != null && !resident.matches(t)) {
      resident.close();
      resident = null;
    }
    long reserve = Math.max(256L << 20, dev.totalMemory / 10) + 2 * workspaceBytes;
    if (shardRowsForced() <= 0) {
      if (resident == null && (long) t.rows() * DeviceTable.bytesPerRow(t, false) <= dev.freeMemory() - reserve) {
        resident = new Resident(t, DeviceTable.upload(dev, t, 0, t.rows(), stream));
      }
      if (resident != null) {
        DeviceTable dt = resident.table;
        if (wantFeatures && t.dim() > 0 && !dt.hasFeatures()
            && (long) t.rows() * (t.dim() * 4L + 4) <= dev.freeMemory() - reserve) {
          dt.uploadFeatures(dev, t, stream);
        }
        return new Placement(resident, List.of(new int[] {0, t.rows()}));
      }
    }
    long budget = Math.max(64L << 20, dev.freeMemory() - reserve);
    int shard = Plan.shardRows(budget, DeviceTable.bytesPerRow(t, false), t.rows(), shardRowsForced());
    List<int[]> ranges = new ArrayList<>();
    for (int b = 0; b < t.rows(); b += shard) {
      ranges.add(new int[] {b, Math.min(shard, t.rows() - b)});
    }
    return new Placement(null, ranges);
  }

  @Override
  public void close() {
    if (resident != null) {
      resident.close();
      resident = null;
    }
  }
}
