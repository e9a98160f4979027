package org.deephash.pq;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.deephash.testing.FileFuzzer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Seeded mutations of an IVF-PQ file: each must be refused with the file named or load into an
 * index that answers exactly as the original. {@code -Ddeephash.fuzz.cases=N} for more.
 */
class IvfPqFuzzTest {
  private static final int CASES = Integer.getInteger("deephash.fuzz.cases", 400);
  private static final int D = 16;
  private static final int N = 800;

  @TempDir Path dir;

  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void mutatedFilesAreRefusedOrAnswerIdentically() throws Exception {
    float[] x = IvfPqIndexTest.clustered(3, N, D, 6);
    IvfPqIndex index = IvfPqIndex.train(x, N, D, new IvfPqIndex.Params(8, 4, 4, 8, 5L, 800), 1);
    index.add(x, N, IvfPqIndexTest.imageIds(0, N), IvfPqIndexTest.xy(0, N));
    Path f = dir.resolve("d.dhq");
    index.save(f);
    float[] queries = IvfPqIndexTest.clustered(4, 5, D, 6);
    TreeMap<String, Integer> outcomes = FileFuzzer.run(f, dir, CASES, 11, file -> {
      try {
        IvfPqResult r = IvfPqIndex.load(file).search(queries, 5, 10, 4);
        List<Object> hits = new ArrayList<>();
        for (int q = 0; q < r.queryCount(); q++) {
          hits.add(r.hits(q));
        }
        return hits;
      } catch (RuntimeException e) {
        throw new AssertionError("not a clean refusal: " + e, e);
      }
    });
    System.out.println("ivf-pq fuzz (" + CASES + " cases): " + outcomes);
    assertTrue(outcomes.keySet().stream().anyMatch(k -> k.endsWith("refused")));
  }
}
