package org.deephash.model.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** The reference full ranking: Hamming distance, ties by database order, optional re-ranked prefix. */
class FullRankingTest {

  // Eight 8-bit database codes and their labels.
  private static final byte[] DB = {0b0000, 0b0001, 0b0011, 0b0000, 0b0111, 0b0001, (byte) 0xff, 0b0010};
  private static final int[] LABELS = {0, 1, 0, 0, 1, 0, 1, 0};

  @Test
  void ranksByDistanceThenDatabaseOrder() {
    FullRanking r = new FullRanking(DB, 1, 8, LABELS);
    // Query 0b0000 with label 0. Distances: 0,1,2,0,3,1,8,1 -> order 0,3 | 1,5,7 | 2 | 4 | 6.
    FullRanking.QueryFigures[] f = r.evaluate(new byte[] {0}, 1, new int[] {0}, null, 8);
    assertArrayEquals(new int[] {0, 3, 1, 5, 7, 2, 4, 6}, f[0].topIds());
    // Relevance along that order: 1 1 0 1 1 1 0 0; 5 relevant in the database.
    double ap = (1.0 / 1 + 2.0 / 2 + 3.0 / 4 + 4.0 / 5 + 5.0 / 6) / 5;
    assertEquals(ap, f[0].averagePrecision(), 1e-12);
    // Within radius 2: ids 0,3,1,5,7,2 -> relevant 0,3,5,7,2 = 5 of 6.
    assertEquals(5 / 6.0, f[0].precisionR2(), 1e-12);
  }

  @Test
  void prefixReplacesTheStartAndTheRestKeepsHammingOrder() {
    FullRanking r = new FullRanking(DB, 1, 8, LABELS);
    FullRanking.QueryFigures[] f = r.evaluate(new byte[] {0}, 1, new int[] {0}, q -> new long[] {5, 1, 0}, 8);
    assertArrayEquals(new int[] {5, 1, 0, 3, 7, 2, 4, 6}, f[0].topIds());
    // Relevance: 1 0 1 1 1 1 0 0.
    double ap = (1.0 + 2.0 / 3 + 3.0 / 4 + 4.0 / 5 + 5.0 / 6) / 5;
    assertEquals(ap, f[0].averagePrecision(), 1e-12);
  }

  @Test
  void multiWordCodes() {
    // 80-bit codes (10 bytes, two words): distances 0, 80, 1.
    byte[] db = new byte[30];
    for (int i = 10; i < 20; i++) {
      db[i] = (byte) 0xff;
    }
    db[29] = (byte) 0x80;
    FullRanking r = new FullRanking(db, 10, 80, new int[] {1, 1, 0});
    FullRanking.QueryFigures[] f = r.evaluate(new byte[10], 10, new int[] {1}, null, 3);
    assertArrayEquals(new int[] {0, 2, 1}, f[0].topIds());
    assertEquals((1.0 + 2.0 / 3) / 2, f[0].averagePrecision(), 1e-12);
  }
}
