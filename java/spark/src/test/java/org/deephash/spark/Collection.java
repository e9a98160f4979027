package org.deephash.spark;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.spark.sql.Row;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchResult;
import org.deephash.index.IndexFile;
import org.deephash.testing.TestData;

/**
 * A random collection for the tests: codes with many duplicates and sparse (tying) codes, unique
 * ids in shuffled order (negative and extreme ones included), features, cut into shards at random
 * (uneven sizes, empty shards allowed) and saved as index files; plus the single-machine oracle.
 */
final class Collection {
  final int bits;
  final int dim;
  final int n;
  final long[] ids;
  final byte[] codes;
  final float[] features;

  Collection(long seed, int n, int bits, int dim) {
    SplittableRandom rnd = new SplittableRandom(seed);
    this.bits = bits;
    this.dim = dim;
    this.n = n;
    this.codes = TestData.codes(rnd, n, bits / 8);
    this.ids = TestData.ids(rnd, n);
    this.features = dim == 0 ? null : TestData.features(rnd, n, dim);
  }

  /** Saves the rows as {@code shards} index files; {@code emptyShards} of them get no rows. */
  List<String> save(Path dir, int shards, int emptyShards, long seed) throws IOException {
    SplittableRandom rnd = new SplittableRandom(seed);
    int filled = shards - emptyShards;
    List<List<Integer>> rows = new ArrayList<>();
    for (int s = 0; s < shards; s++) {
      rows.add(new ArrayList<>());
    }
    for (int i = 0; i < n; i++) {
      // skewed: shard s is chosen with weight s+1 among the filled ones
      int s = (int) Math.floor(Math.sqrt(rnd.nextDouble()) * filled);
      rows.get(emptyShards + Math.min(filled - 1, s)).add(i);
    }
    List<String> paths = new ArrayList<>();
    int cb = bits / 8;
    for (int s = 0; s < shards; s++) {
      List<Integer> r = rows.get(s);
      long[] sid = new long[r.size()];
      byte[] sc = new byte[r.size() * cb];
      float[] sf = dim == 0 ? null : new float[r.size() * dim];
      for (int j = 0; j < r.size(); j++) {
        int i = r.get(j);
        sid[j] = ids[i];
        System.arraycopy(codes, i * cb, sc, j * cb, cb);
        if (sf != null) {
          System.arraycopy(features, i * dim, sf, j * dim, dim);
        }
      }
      Path p = dir.resolve(String.format("s%03d.dh", s));
      try (CodeTable t = TestData.table(bits, dim, sc, sid, sf)) {
        IndexFile.save(t, p);
      }
      paths.add(p.toString());
    }
    return paths;
  }

  CodeTable table() {
    return TestData.table(bits, dim, codes, ids, features);
  }

  QuerySet queries(long seed, int q, boolean withFeatures) {
    SplittableRandom rnd = new SplittableRandom(seed);
    byte[] qc = TestData.queries(rnd, codes, n, q, bits / 8);
    float[] qf = withFeatures ? TestData.features(rnd, q, dim) : null;
    long[] qid = new long[q];
    for (int i = 0; i < q; i++) {
      qid[i] = 1_000_003L * (q - i) - 17; // descending, so output order is not query order
    }
    return QuerySet.of(qid, qc, qf, bits / 8, withFeatures ? dim : 0);
  }

  /** The single-machine answer. */
  SearchResult oracle(QuerySet q, SearchSpec spec) {
    try (CodeTable t = table(); GpuHashSearch s = GpuHashSearch.open(t)) {
      return spec.isCoarseToFine()
          ? s.coarseToFine(q.codes(), q.features(), spec.pool(), spec.k())
          : s.query(q.codes(), spec.k());
    }
  }

  /**
   * Asserts the job's rows equal the oracle exactly: per query the same ids in the same order, the
   * same Hamming distances, bit-identical squared distances (or null for a Hamming top-k).
   */
  static void assertSame(QuerySet q, SearchResult expected, List<Row> rows, boolean withDistances) {
    Map<Long, List<Row>> byQuery = new HashMap<>();
    for (Row r : rows) {
      byQuery.computeIfAbsent(r.getLong(0), x -> new ArrayList<>()).add(r);
    }
    int total = 0;
    for (int i = 0; i < q.count(); i++) {
      long qid = q.ids()[i];
      List<Row> got = byQuery.getOrDefault(qid, List.of());
      got.sort((a, b) -> Integer.compare(a.getInt(1), b.getInt(1)));
      long[] gotIds = got.stream().mapToLong(r -> r.getLong(2)).toArray();
      int[] gotHam = got.stream().mapToInt(r -> r.getInt(3)).toArray();
      String where = "query " + i + " (id " + qid + ")";
      if (!Arrays.equals(expected.ids(i), gotIds)) {
        throw new AssertionError(where + ": ids " + Arrays.toString(gotIds) + ", expected "
            + Arrays.toString(expected.ids(i)));
      }
      if (!Arrays.equals(expected.hammings(i), gotHam)) {
        throw new AssertionError(where + ": Hamming " + Arrays.toString(gotHam) + ", expected "
            + Arrays.toString(expected.hammings(i)));
      }
      for (int r = 0; r < got.size(); r++) {
        if (got.get(r).getInt(1) != r) {
          throw new AssertionError(where + ": ranks are not 0..n-1");
        }
        if (withDistances) {
          float d = got.get(r).getFloat(4);
          if (Float.floatToRawIntBits(d) != Float.floatToRawIntBits(expected.distance(i, r))) {
            throw new AssertionError(where + " rank " + r + ": distance " + d + ", expected " + expected.distance(i, r));
          }
        } else if (!got.get(r).isNullAt(4)) {
          throw new AssertionError(where + ": a Hamming top-k row has a distance");
        }
      }
      total += got.size();
    }
    if (total != rows.size()) {
      throw new AssertionError(rows.size() + " rows, " + total + " of them for the queries asked");
    }
  }
}
