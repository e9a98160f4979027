package org.deephash.model.data;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * A validation split carved from the training images, for model selection (which epoch to keep,
 * which fine stage to use) without looking at the test queries. Stratified: each class gives its
 * share of the validation images (largest remainders round the shares to whole images); seeded:
 * the same seed gives the same split. Both parts keep the original order of the images.
 *
 * @param train the training images left for training
 * @param validation the validation images
 * @param trainRows row numbers of {@code train} in the original set, ascending
 * @param validationRows row numbers of {@code validation} in the original set, ascending
 */
public record ValidationSplit(Dataset train, Dataset validation, int[] trainRows, int[] validationRows) {

  /**
   * Splits {@code data} into {@code size} validation images and the rest.
   *
   * @throws IllegalArgumentException when {@code size} is not in [1, count - 1], or when a class
   *     would be left with no training image
   */
  public static ValidationSplit of(Dataset data, int size, long seed) {
    int n = data.count();
    if (size < 1 || size >= n) {
      throw new IllegalArgumentException("the validation split must hold 1 to " + (n - 1) + " of the " + n
          + " training images (passed " + size + ")");
    }
    int classes = data.classes();
    int[] count = new int[classes];
    for (int l : data.labels()) {
      count[l]++;
    }
    int[] take = shares(count, size);
    for (int c = 0; c < classes; c++) {
      if (count[c] > 0 && take[c] >= count[c]) {
        throw new IllegalArgumentException("a validation split of " + size + " images would take every training"
            + " image of class '" + data.classNames().get(c) + "' (" + count[c] + "): pass a smaller split");
      }
    }
    int[][] members = new int[classes][];
    int[] fill = new int[classes];
    for (int c = 0; c < classes; c++) {
      members[c] = new int[count[c]];
    }
    for (int i = 0; i < n; i++) {
      int l = data.labels()[i];
      members[l][fill[l]++] = i;
    }
    boolean[] inValidation = new boolean[n];
    SplittableRandom rnd = new SplittableRandom(seed * 31 + 17);
    for (int c = 0; c < classes; c++) {
      int[] m = members[c];
      for (int i = 0; i < take[c]; i++) { // partial Fisher-Yates: the first take[c] of a shuffle
        int j = i + rnd.nextInt(m.length - i);
        int t = m[i];
        m[i] = m[j];
        m[j] = t;
        inValidation[m[i]] = true;
      }
    }
    int[] val = new int[size];
    int[] rest = new int[n - size];
    int v = 0;
    int r = 0;
    for (int i = 0; i < n; i++) {
      if (inValidation[i]) {
        val[v++] = i;
      } else {
        rest[r++] = i;
      }
    }
    return new ValidationSplit(data.rows(rest), data.rows(val), rest, val);
  }

  /** Whole-image shares of {@code size} proportional to {@code count}, by largest remainder (ties: lower class). */
  static int[] shares(int[] count, int size) {
    long total = Arrays.stream(count).asLongStream().sum();
    int[] take = new int[count.length];
    double[] rem = new double[count.length];
    int given = 0;
    for (int c = 0; c < count.length; c++) {
      double exact = (double) size * count[c] / total;
      take[c] = (int) Math.floor(exact);
      rem[c] = exact - take[c];
      given += take[c];
    }
    while (given < size) {
      int best = -1;
      for (int c = 0; c < count.length; c++) {
        if (take[c] < count[c] && (best < 0 || rem[c] > rem[best])) {
          best = c;
        }
      }
      take[best]++;
      rem[best] = -1;
      given++;
    }
    return take;
  }
}
