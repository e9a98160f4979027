package org.deephash.backend.java;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/** Squared Euclidean distances on float32 features with the Vector API. */
final class L2Kernels {
  private static final VectorSpecies<Float> FLOATS = FloatVector.SPECIES_PREFERRED;

  private L2Kernels() {}

  /** ||a - b||^2 for a at byte offset {@code ao} of {@code as}, b at {@code bo} of {@code bs}, dim floats. */
  static float l2(MemorySegment as, long ao, MemorySegment bs, long bo, int dim) {
    int lanes = FLOATS.length();
    int i = 0;
    float s = 0;
    if (dim >= lanes) {
      FloatVector acc = FloatVector.zero(FLOATS);
      for (; i + lanes <= dim; i += lanes) {
        FloatVector a = FloatVector.fromMemorySegment(FLOATS, as, ao + 4L * i, ByteOrder.LITTLE_ENDIAN);
        FloatVector b = FloatVector.fromMemorySegment(FLOATS, bs, bo + 4L * i, ByteOrder.LITTLE_ENDIAN);
        FloatVector diff = a.sub(b);
        acc = diff.fma(diff, acc);
      }
      s = acc.reduceLanes(VectorOperators.ADD);
    }
    for (; i < dim; i++) {
      float diff = as.get(JAVA_FLOAT_UNALIGNED, ao + 4L * i) - bs.get(JAVA_FLOAT_UNALIGNED, bo + 4L * i);
      s += diff * diff;
    }
    return s;
  }
}
