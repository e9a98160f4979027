package org.deephash.spark;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

class CandidatesTest {
  @Test
  void mergeKeepsTheFirstByHammingThenId() {
    Candidates a = new Candidates(new long[] {5, 9, 2}, new int[] {1, 1, 3}, null);
    Candidates b = new Candidates(new long[] {-4, 7, 1}, new int[] {1, 2, 3}, null);
    Candidates m = Candidates.merge(a, b, 5);
    assertArrayEquals(new long[] {-4, 5, 9, 7, 1}, m.ids);
    assertArrayEquals(new int[] {1, 1, 1, 2, 3}, m.hamming);
  }

  @Test
  void rerankOrdersByDistanceThenId() {
    Candidates c = Candidates.byHamming(new long[] {3, 1, 2, 8}, new int[] {4, 2, 2, 0},
        new float[] {0.5f, 0.25f, 0.5f, 0.75f});
    assertArrayEquals(new long[] {8, 1, 2, 3}, c.ids);
    Candidates r = c.rerankByDistance(3);
    assertArrayEquals(new long[] {1, 2, 3}, r.ids);
    assertArrayEquals(new int[] {2, 2, 4}, r.hamming);
  }
}
