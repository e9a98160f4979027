package org.deephash.model.net;

import org.tensorflow.Operand;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TInt32;

/**
 * Graph pieces both networks (the hashing network and DELF) build the same way: seeded weight
 * variables and the classification loss and accuracy.
 */
public final class Layers {
  private Layers() {}

  /**
   * A variable initialised with normal values of standard deviation {@code std}, drawn from a
   * stateless generator keyed by {@code (seed, index)}: the same seed and index give the same weights.
   */
  public static Variable<TFloat32> normal(Ops tf, String name, float std, long seed, long index, long... shape) {
    Ops init = tf.withInitScope();
    Operand<TFloat32> value = init.math.mul(
        init.random.statelessRandomNormal(init.constant(shape), init.constant(new long[] {seed, index})),
        init.constant(std));
    return tf.withName(name).variable(value);
  }

  /** A vector variable of {@code n} elements, all {@code value}. */
  public static Variable<TFloat32> filled(Ops tf, String name, int n, float value) {
    Ops init = tf.withInitScope();
    return tf.withName(name).variable(init.fill(init.constant(new int[] {n}), init.constant(value)));
  }

  /**
   * Mean cross-entropy of {@code logits} against integer {@code labels}, from log-softmax and
   * one-hot labels (the sparse fused op has no C++ gradient).
   */
  public static Operand<TFloat32> crossEntropy(Ops tf, Operand<TFloat32> logits, Operand<TInt32> labels, int classes) {
    Operand<TFloat32> oneHot = tf.oneHot(labels, tf.constant(classes), tf.constant(1f), tf.constant(0f));
    return tf.math.neg(tf.math.mean(
        tf.reduceSum(tf.math.mul(oneHot, tf.nn.logSoftmax(logits)), tf.constant(1)), tf.constant(0)));
  }

  /** The fraction of rows whose arg-max logit is the label. */
  public static Operand<TFloat32> accuracy(Ops tf, Operand<TFloat32> logits, Operand<TInt32> labels) {
    return tf.math.mean(tf.dtypes.cast(
        tf.math.equal(tf.math.argMax(logits, tf.constant(1), TInt32.class), labels), TFloat32.class),
        tf.constant(0));
  }
}
