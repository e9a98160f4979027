package org.deephash;

/**
 * How the coarse (Hamming) stage of {@link GpuHashSearch#coarseToFine} picks the candidate pool
 * that the fine (Euclidean) stage re-ranks: the m nearest codes, or every code within a Hamming
 * radius (the paper's coarse-level search) with a cap.
 */
public record Pool(Kind kind, int size, int radius) {

  public enum Kind { TOP_M, RADIUS }

  public Pool {
    if (size < 1) {
      throw new IllegalArgumentException("pool size must be >= 1 (passed " + size + ")");
    }
    if (kind == Kind.RADIUS && radius < 0) {
      throw new IllegalArgumentException("pool radius must be >= 0 (passed " + radius + ")");
    }
  }

  /** The m codes nearest in Hamming distance (ties by id). */
  public static Pool topM(int m) {
    return new Pool(Kind.TOP_M, m, -1);
  }

  /** Every code within Hamming distance r, at most {@code cap} of them (the nearest). */
  public static Pool radius(int r, int cap) {
    return new Pool(Kind.RADIUS, cap, r);
  }
}
