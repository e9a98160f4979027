package org.deephash;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Compares two {@link SearchResult}s the way the search contract defines equality, with messages
 * that name the query and the rank. One place for the rule that the parity suite, {@code
 * engine-cli bench --verify} and the Spark jobs' checks all apply:
 *
 * <ul>
 *   <li>{@link #exact()}: Hamming results. The same number of results per query, the same ids in
 *       the same order (ties by ascending id are part of the contract), the same Hamming
 *       distances and truncation flags, and float distances (when there are any) bit for bit.
 *   <li>{@link #euclidean(double)}: Euclidean results, where backends may sum in a different
 *       order. The same number of results; at every rank the distance within a relative {@code
 *       rtol} of the expected one; an id may differ from the expected one only among near-ties
 *       (its expected distance, or the last expected distance when it is not in the expected list,
 *       is within {@code rtol} of the distance at that rank); no id twice; Hamming distances equal
 *       where the ids are.
 * </ul>
 *
 * <pre>{@code
 * List<String> d = ResultComparison.euclidean(1e-5).differences(oracleResult, gpuResult);
 * if (!d.isEmpty()) throw new AssertionError(String.join("\n", d));
 * }</pre>
 */
public final class ResultComparison {
  /**
   * The true distances of any (query, id) pair, when the caller can compute them: then every
   * reported distance is checked against the truth too, not only against the expected list.
   */
  public interface Truth {
    /** The squared Euclidean distance of query {@code q} to {@code id}, NaN when {@code id} is not in the table. */
    double l2(int q, long id);

    /** The Hamming distance of query {@code q} to {@code id}, -1 when {@code id} is not in the table. */
    int hamming(int q, long id);
  }

  private final boolean euclidean;
  private final double rtol;
  private final int[] queryNumbers;
  private final Truth truth;

  private ResultComparison(boolean euclidean, double rtol, int[] queryNumbers, Truth truth) {
    this.euclidean = euclidean;
    this.rtol = rtol;
    this.queryNumbers = queryNumbers;
    this.truth = truth;
  }

  /** Exact equality: for Hamming top-k and radius results. */
  public static ResultComparison exact() {
    return new ResultComparison(false, 0, null, null);
  }

  /** Equality up to a relative tolerance {@code rtol} of distances, ids free among near-ties. */
  public static ResultComparison euclidean(double rtol) {
    if (!(rtol >= 0 && rtol < 1)) {
      throw new IllegalArgumentException("rtol must be in [0, 1) (passed " + rtol + ")");
    }
    return new ResultComparison(true, rtol, null, null);
  }

  /** Messages name query {@code i} of the results as {@code numbers[i]} (e.g. its place in a larger batch). */
  public ResultComparison queryNumbers(int[] numbers) {
    return new ResultComparison(euclidean, rtol, numbers.clone(), truth);
  }

  /** Also checks every reported distance against {@code t}. */
  public ResultComparison truth(Truth t) {
    return new ResultComparison(euclidean, rtol, queryNumbers, t);
  }

  /** Every difference, at most one per query (the first rank that differs); empty when the results agree. */
  public List<String> differences(SearchResult expected, SearchResult actual) {
    List<String> out = new ArrayList<>();
    if (expected.queryCount() != actual.queryCount()) {
      out.add("expected results for " + expected.queryCount() + " queries, got " + actual.queryCount());
      return out;
    }
    for (int q = 0; q < expected.queryCount(); q++) {
      String d = euclidean ? euclideanQuery(expected, actual, q) : exactQuery(expected, actual, q);
      if (d != null) {
        out.add(d);
      }
    }
    return out;
  }

  private String name(int q) {
    return "query " + (queryNumbers != null && q < queryNumbers.length ? queryNumbers[q] : q);
  }

  private String exactQuery(SearchResult e, SearchResult a, int q) {
    if (e.count(q) != a.count(q)) {
      return name(q) + ": expected " + e.count(q) + " results, got " + a.count(q);
    }
    if (e.hasHamming() != a.hasHamming() || e.hasDistances() != a.hasDistances()) {
      return name(q) + ": expected " + kinds(e) + ", got " + kinds(a);
    }
    for (int r = 0; r < e.count(q); r++) {
      boolean same = e.id(q, r) == a.id(q, r)
          && (!e.hasHamming() || e.hamming(q, r) == a.hamming(q, r))
          && (!e.hasDistances()
              || Float.floatToRawIntBits(e.distance(q, r)) == Float.floatToRawIntBits(a.distance(q, r)));
      if (!same) {
        return name(q) + " rank " + r + ": expected " + entry(e, q, r) + ", got " + entry(a, q, r)
            + (e.hasHamming() && e.hamming(q, r) == a.hamming(q, r) ? " (ties must be by ascending id)" : "");
      }
      String t = againstTruth(a, q, r);
      if (t != null) {
        return t;
      }
    }
    if (e.truncated(q) != a.truncated(q)) {
      return name(q) + ": expected truncated=" + e.truncated(q) + ", got " + a.truncated(q);
    }
    return null;
  }

  private String euclideanQuery(SearchResult e, SearchResult a, int q) {
    if (e.count(q) != a.count(q)) {
      return name(q) + ": expected " + e.count(q) + " results, got " + a.count(q);
    }
    if (!a.hasDistances() || !e.hasDistances()) {
      return name(q) + ": expected Euclidean distances in both results, got " + kinds(e) + " and " + kinds(a);
    }
    float[] ed = e.distances(q);
    long[] ei = e.ids(q);
    Set<Long> seen = new HashSet<>();
    for (int r = 0; r < ed.length; r++) {
      long id = a.id(q, r);
      float d = a.distance(q, r);
      if (!seen.add(id)) {
        return name(q) + " rank " + r + ": id " + id + " is returned twice";
      }
      if (!close(ed[r], d)) {
        return name(q) + " rank " + r + ": expected squared distance " + ed[r] + ", got " + d + " (id " + id
            + ", expected id " + ei[r] + ")";
      }
      if (id != ei[r]) {
        int j = indexOf(ei, id);
        float other = j >= 0 ? ed[j] : ed[ed.length - 1];
        if (!close(ed[r], other)) {
          return name(q) + " rank " + r + ": expected id " + ei[r] + ", got " + id + " (expected distances "
              + ed[r] + " vs " + other + ": not a near-tie)";
        }
      } else if (e.hasHamming() && a.hasHamming() && e.hamming(q, r) != a.hamming(q, r)) {
        return name(q) + " rank " + r + ": id " + id + " at Hamming distance " + a.hamming(q, r) + ", expected "
            + e.hamming(q, r);
      }
      String t = againstTruth(a, q, r);
      if (t != null) {
        return t;
      }
    }
    return null;
  }

  private String againstTruth(SearchResult a, int q, int r) {
    if (truth == null) {
      return null;
    }
    long id = a.id(q, r);
    if (a.hasDistances()) {
      double t = truth.l2(q, id);
      if (Double.isNaN(t)) {
        return name(q) + " rank " + r + ": id " + id + " is not in the table";
      }
      if (!close(a.distance(q, r), t)) {
        return name(q) + " rank " + r + ": id " + id + " reported at squared distance " + a.distance(q, r)
            + " but is at " + t;
      }
    }
    if (a.hasHamming()) {
      int h = truth.hamming(q, id);
      if (h < 0) {
        return name(q) + " rank " + r + ": id " + id + " is not in the table";
      }
      if (a.hamming(q, r) != h) {
        return name(q) + " rank " + r + ": id " + id + " reported at Hamming distance " + a.hamming(q, r)
            + " but is at " + h;
      }
    }
    return null;
  }

  /** Within a relative rtol, distances below 1 compared absolutely (squared distances near 0 carry no scale). */
  private boolean close(double x, double y) {
    return Math.abs(x - y) <= rtol * Math.max(1.0, Math.max(Math.abs(x), Math.abs(y)));
  }

  private static String kinds(SearchResult r) {
    return (r.hasHamming() ? "Hamming" : "no Hamming") + " and " + (r.hasDistances() ? "Euclidean" : "no Euclidean")
        + " distances";
  }

  private static String entry(SearchResult r, int q, int rank) {
    return "id " + r.id(q, rank) + (r.hasHamming() ? " at Hamming distance " + r.hamming(q, rank) : "")
        + (r.hasDistances() ? " at squared distance " + r.distance(q, rank) : "");
  }

  private static int indexOf(long[] a, long v) {
    for (int i = 0; i < a.length; i++) {
      if (a[i] == v) {
        return i;
      }
    }
    return -1;
  }
}
