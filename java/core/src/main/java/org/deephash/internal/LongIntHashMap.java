package org.deephash.internal;

import java.util.Arrays;

/** Open-addressing map from long keys to non-negative int values; -1 means absent. */
public final class LongIntHashMap {
  private static final long EMPTY = Long.MIN_VALUE;
  private long[] keys;
  private int[] values;
  private int size;
  private int mask;
  private boolean hasEmptyKey;
  private int emptyKeyValue = -1;

  public LongIntHashMap(int expected) {
    int cap = Integer.highestOneBit(Math.max(4, (int) Math.min(1 << 30, expected * 2L)) - 1) << 1;
    keys = new long[cap];
    Arrays.fill(keys, EMPTY);
    values = new int[cap];
    mask = cap - 1;
  }

  private static int mix(long k) {
    long h = k * 0x9E3779B97F4A7C15L;
    return (int) (h ^ (h >>> 32));
  }

  public int get(long key) {
    if (key == EMPTY) {
      return hasEmptyKey ? emptyKeyValue : -1;
    }
    int i = mix(key) & mask;
    while (true) {
      long k = keys[i];
      if (k == key) {
        return values[i];
      }
      if (k == EMPTY) {
        return -1;
      }
      i = (i + 1) & mask;
    }
  }

  /** Inserts or replaces; returns the previous value or -1. */
  public int put(long key, int value) {
    if (key == EMPTY) {
      int old = hasEmptyKey ? emptyKeyValue : -1;
      hasEmptyKey = true;
      emptyKeyValue = value;
      return old;
    }
    if ((size + 1) * 2L > keys.length) {
      grow();
    }
    int i = mix(key) & mask;
    while (true) {
      long k = keys[i];
      if (k == key) {
        int old = values[i];
        values[i] = value;
        return old;
      }
      if (k == EMPTY) {
        keys[i] = key;
        values[i] = value;
        size++;
        return -1;
      }
      i = (i + 1) & mask;
    }
  }

  private void grow() {
    long[] oldKeys = keys;
    int[] oldValues = values;
    keys = new long[oldKeys.length * 2];
    Arrays.fill(keys, EMPTY);
    values = new int[keys.length];
    mask = keys.length - 1;
    size = 0;
    for (int i = 0; i < oldKeys.length; i++) {
      if (oldKeys[i] != EMPTY) {
        put(oldKeys[i], oldValues[i]);
      }
    }
  }
}
