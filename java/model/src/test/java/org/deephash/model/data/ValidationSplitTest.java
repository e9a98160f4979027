package org.deephash.model.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The validation split: disjoint, complete, stratified, seeded; bad sizes are refused. */
class ValidationSplitTest {

  /** n 1x1 images whose pixel is the row number / n, labels drawn with class weights 5:3:2. */
  private static Dataset data(int n) {
    SplittableRandom r = new SplittableRandom(3);
    float[] px = new float[n];
    int[] labels = new int[n];
    List<String> src = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      px[i] = i / (float) n;
      double u = r.nextDouble();
      labels[i] = u < 0.5 ? 0 : u < 0.8 ? 1 : 2;
      src.add("img#" + i);
    }
    return new Dataset(n, 1, 1, 1, px, labels, List.of("a", "b", "c"), src);
  }

  @Test
  void partsAreDisjointCompleteAndKeepTheRows() {
    Dataset d = data(1000);
    ValidationSplit s = ValidationSplit.of(d, 100, 42);
    assertEquals(100, s.validation().count());
    assertEquals(900, s.train().count());
    boolean[] seen = new boolean[1000];
    for (int[] part : new int[][] {s.trainRows(), s.validationRows()}) {
      for (int i = 1; i < part.length; i++) {
        assertTrue(part[i - 1] < part[i], "ascending");
      }
      for (int r : part) {
        assertTrue(!seen[r], "row " + r + " is in both parts");
        seen[r] = true;
      }
    }
    for (boolean b : seen) {
      assertTrue(b, "every row is in one part");
    }
    for (int i = 0; i < 100; i++) {
      int r = s.validationRows()[i];
      assertEquals(d.labels()[r], s.validation().labels()[i]);
      assertEquals(d.pixels()[r], s.validation().pixels()[i]);
      assertEquals("img#" + r, s.validation().sources().get(i));
    }
  }

  @Test
  void everyClassGivesItsShare() {
    Dataset d = data(1000);
    int[] all = new int[3];
    for (int l : d.labels()) {
      all[l]++;
    }
    ValidationSplit s = ValidationSplit.of(d, 100, 7);
    int[] val = new int[3];
    for (int l : s.validation().labels()) {
      val[l]++;
    }
    for (int c = 0; c < 3; c++) {
      double exact = 100.0 * all[c] / 1000;
      assertTrue(Math.abs(val[c] - exact) < 1, "class " + c + ": " + val[c] + " vs " + exact);
    }
    // 1.5, 0.9, 0.6 -> floors 1, 0, 0; the two largest remainders (0.9, 0.6) get the rest.
    assertArrayEquals(new int[] {1, 1, 1}, ValidationSplit.shares(new int[] {5, 3, 2}, 3), "largest remainders");
    // 2.5, 1.5, 1 -> floors 2, 1, 1; remainders 0.5, 0.5, 0: the lower class wins the tie.
    assertArrayEquals(new int[] {3, 1, 1}, ValidationSplit.shares(new int[] {5, 3, 2}, 5));
  }

  @Test
  void theSeedFixesTheSplit() {
    Dataset d = data(500);
    assertArrayEquals(ValidationSplit.of(d, 50, 1).validationRows(), ValidationSplit.of(d, 50, 1).validationRows());
    assertNotEquals(java.util.Arrays.toString(ValidationSplit.of(d, 50, 1).validationRows()),
        java.util.Arrays.toString(ValidationSplit.of(d, 50, 2).validationRows()));
  }

  @Test
  void refusesSizesThatLeaveNothing() {
    Dataset d = data(50);
    assertThrows(IllegalArgumentException.class, () -> ValidationSplit.of(d, 0, 1));
    assertThrows(IllegalArgumentException.class, () -> ValidationSplit.of(d, 50, 1));
    // Two images of class c: a split of 49 of 50 would take them all.
    Dataset tiny = new Dataset(4, 1, 1, 1, new float[4], new int[] {0, 0, 0, 1}, List.of("x", "y"),
        List.of("0", "1", "2", "3"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ValidationSplit.of(tiny, 3, 1));
    assertTrue(e.getMessage().contains("class 'y'") || e.getMessage().contains("class 'x'"), e.getMessage());
  }
}
