package org.deephash.spark;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.spark.sql.Row;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.ResultComparison;
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
   * Asserts the job's rows equal the oracle exactly ({@link ResultComparison#exact()}: per query the
   * same ids in the same order, the same Hamming distances, bit-identical squared distances), and
   * that the rows are well formed: ranks 0..n-1 per query, no distance on a Hamming top-k row, no
   * row for a query that was not asked.
   */
  static void assertSame(QuerySet q, SearchResult expected, List<Row> rows, boolean withDistances) {
    Map<Long, List<Row>> byQuery = new HashMap<>();
    for (Row r : rows) {
      byQuery.computeIfAbsent(r.getLong(0), x -> new ArrayList<>()).add(r);
    }
    int[] offsets = new int[q.count() + 1];
    List<Row> ordered = new ArrayList<>();
    for (int i = 0; i < q.count(); i++) {
      List<Row> got = byQuery.getOrDefault(q.ids()[i], List.of());
      got.sort((a, b) -> Integer.compare(a.getInt(1), b.getInt(1)));
      for (int r = 0; r < got.size(); r++) {
        if (got.get(r).getInt(1) != r) {
          throw new AssertionError("query " + i + " (id " + q.ids()[i] + "): ranks are not 0..n-1");
        }
        if (!withDistances && !got.get(r).isNullAt(4)) {
          throw new AssertionError("query " + i + ": a Hamming top-k row has a distance");
        }
      }
      ordered.addAll(got);
      offsets[i + 1] = ordered.size();
    }
    if (ordered.size() != rows.size()) {
      throw new AssertionError(rows.size() + " rows, " + ordered.size() + " of them for the queries asked");
    }
    long[] ids = new long[ordered.size()];
    int[] hamming = new int[ordered.size()];
    float[] distances = withDistances ? new float[ordered.size()] : null;
    for (int j = 0; j < ordered.size(); j++) {
      ids[j] = ordered.get(j).getLong(2);
      hamming[j] = ordered.get(j).getInt(3);
      if (distances != null) {
        distances[j] = ordered.get(j).getFloat(4);
      }
    }
    SearchResult got = SearchResult.of(offsets, ids, hamming, distances, null);
    List<String> d = ResultComparison.exact().differences(expected, got);
    if (!d.isEmpty()) {
      throw new AssertionError(String.join("\n", d));
    }
  }
}
