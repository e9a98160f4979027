package org.deephash.pq;

/**
 * Run in a JVM without {@code jdk.incubator.vector} by {@link NearestFinderTest}: trains, fills and
 * searches the index of {@link #answer} and prints it, so the test can compare it with the same
 * work done on the Vector API.
 */
public final class NoVectorPqMain {
  /** An index of 3,000 clustered 40-d vectors in 50 lists, 40 queries, k = 10: every entry and distance. */
  static String answer() {
    int n = 3000;
    int d = 40;
    float[] x = IvfPqIndexTest.clustered(9, n, d, 30);
    IvfPqIndex index = IvfPqIndex.train(x, n, d, new IvfPqIndex.Params(50, 10, 5, 8, 3L, 2000), 2);
    index.add(x, n, IvfPqIndexTest.imageIds(0, n), IvfPqIndexTest.xy(0, n));
    int nq = 100;
    IvfPqResult r = index.search(IvfPqIndexTest.clustered(11, nq, d, 30), nq, 10, 6);
    StringBuilder s = new StringBuilder("vector=" + Vectors.VECTOR_API);
    for (int q = 0; q < nq; q++) {
      for (int i = 0; i < r.count(q); i++) {
        s.append(' ').append(r.entry(q, i)).append(':').append(Float.floatToIntBits(r.distance(q, i)));
      }
    }
    return s.toString();
  }

  public static void main(String[] args) {
    System.out.println(answer());
  }
}
