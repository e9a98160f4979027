package org.deephash.robust;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.index.IndexFile;
import org.deephash.index.LoadedIndex;
import org.deephash.testing.FileFuzzer;
import org.deephash.testing.TestData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded mutations of a code-table index with features, labels, tombstones, paths and
 * multi-index tables: each must be refused with the file named or answer exactly as the original
 * (scan, multi-index tables, coarse-to-fine, paths). {@code -Ddeephash.fuzz.cases=N} for more.
 */
class IndexFuzzTest {
  private static final int CASES = Integer.getInteger("deephash.fuzz.cases", 600);

  @TempDir Path dir;

  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void mutatedIndexesAreRefusedOrAnswerIdentically() throws Exception {
    SplittableRandom rnd = new SplittableRandom(20261204L);
    int n = 3000;
    byte[] codes = TestData.codes(rnd, n, 8);
    long[] ids = TestData.ids(rnd, n);
    float[] feats = TestData.features(rnd, n, 4);
    Path f = dir.resolve("x.dh");
    try (CodeTable t = CodeTable.create(64, 4, true, n)) {
      int[] labels = new int[n];
      for (int i = 0; i < n; i++) {
        labels[i] = i % 7;
      }
      t.addAll(ids, codes, feats, labels);
      for (int i = 0; i < 50; i++) {
        t.delete(ids[i * 13]);
      }
      t.buildMultiIndex(3);
      List<String> paths = new java.util.ArrayList<>();
      for (int i = 0; i < n; i++) {
        paths.add("img/" + i + ".png");
      }
      IndexFile.save(t, f, paths, IndexFile.SaveOption.KEEP_DELETED);
    }
    byte[] q = TestData.queries(rnd.split(), codes, n, 6, 8);
    float[] qf = TestData.features(rnd.split(), 6, 4);
    TreeMap<String, Integer> outcomes = FileFuzzer.run(f, dir, CASES, 7, file -> {
      try (LoadedIndex l = IndexFile.load(file);
          GpuHashSearch scan = GpuHashSearch.open(l.table(), new SearchOptions("java", 1, "scan"));
          GpuHashSearch mih = GpuHashSearch.open(l.table(), new SearchOptions("java", 1, "mih"))) {
        return List.of(describe(scan.query(q, 20)), describe(mih.radius(q, 8, 50)),
            describe(scan.coarseToFine(q, qf, org.deephash.Pool.topM(40), 5)), l.hasPaths() ? l.path(7) : "",
            l.table().label(9));
      } catch (RuntimeException e) {
        throw new AssertionError("not a clean refusal: " + e, e);
      }
    });
    System.out.println("index fuzz (" + CASES + " cases): " + outcomes);
    assertTrue(outcomes.keySet().stream().anyMatch(k -> k.endsWith("refused")));
  }

  private static String describe(SearchResult r) {
    StringBuilder b = new StringBuilder();
    for (int q = 0; q < r.queryCount(); q++) {
      b.append(java.util.Arrays.toString(r.ids(q)));
      if (r.hasHamming()) {
        b.append(java.util.Arrays.toString(r.hammings(q)));
      }
      if (r.hasDistances()) {
        b.append(java.util.Arrays.toString(r.distances(q)));
      }
    }
    return b.toString();
  }
}
