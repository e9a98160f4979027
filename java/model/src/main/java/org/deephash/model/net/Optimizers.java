package org.deephash.model.net;

import java.util.ArrayList;
import java.util.List;
import org.tensorflow.Operand;
import org.tensorflow.op.Op;
import org.tensorflow.op.Ops;
import org.tensorflow.op.core.Gradients;
import org.tensorflow.op.core.Variable;
import org.tensorflow.types.TFloat32;

/**
 * Optimiser update ops built from the raw {@code ApplyAdam} / {@code ApplyMomentum} kernels, so the
 * learning rate is a fed tensor (a schedule) and only the given variables move (a network trained
 * in stages freezes the rest by leaving them out). Shared by the hashing network and DELF.
 */
public final class Optimizers {
  private Optimizers() {}

  /**
   * Adam on {@code variables} minimising {@code loss}; the optimiser's own variables are named after
   * each variable plus {@code _adam_m} / {@code _adam_v}, the bias-correction powers
   * {@code powersPrefix + "_beta1_power"} and {@code _beta2_power} (names checkpoints rely on).
   *
   * @param name the name of the returned update op
   * @return the op that applies one update
   */
  public static Op adam(Ops tf, Operand<TFloat32> loss, List<Variable<TFloat32>> variables,
      Operand<TFloat32> learningRate, String name, String powersPrefix) {
    Gradients grads = tf.gradients(loss, variables);
    Ops init = tf.withInitScope();
    List<Op> applies = new ArrayList<>();
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    Variable<TFloat32> beta1Power = tf.withName(powersPrefix + "_beta1_power").variable(init.constant(beta1));
    Variable<TFloat32> beta2Power = tf.withName(powersPrefix + "_beta2_power").variable(init.constant(beta2));
    for (int i = 0; i < variables.size(); i++) {
      Variable<TFloat32> v = variables.get(i);
      String base = v.op().name();
      Variable<TFloat32> m = tf.withName(base + "_adam_m").variable(zeros(init, v));
      Variable<TFloat32> s = tf.withName(base + "_adam_v").variable(zeros(init, v));
      Operand<TFloat32> g = grads.<TFloat32>dy(i).expect(TFloat32.class);
      applies.add(tf.train.applyAdam(v, m, s, beta1Power, beta2Power, learningRate, tf.constant(beta1),
          tf.constant(beta2), tf.constant(1e-7f), g));
    }
    Ops after = tf.withControlDependencies(applies);
    Op p1 = after.assign(beta1Power, after.math.mul(beta1Power, after.constant(beta1)));
    Op p2 = after.assign(beta2Power, after.math.mul(beta2Power, after.constant(beta2)));
    return tf.withControlDependencies(List.of(p1, p2)).withName(name).noOp();
  }

  /** Nesterov momentum on {@code variables} minimising {@code loss}. */
  public static Op momentum(Ops tf, Operand<TFloat32> loss, List<Variable<TFloat32>> variables,
      Operand<TFloat32> learningRate, float momentum, String name) {
    Gradients grads = tf.gradients(loss, variables);
    Ops init = tf.withInitScope();
    List<Op> applies = new ArrayList<>();
    for (int i = 0; i < variables.size(); i++) {
      Variable<TFloat32> v = variables.get(i);
      Variable<TFloat32> acc = tf.withName(v.op().name() + "_momentum").variable(zeros(init, v));
      Operand<TFloat32> g = grads.<TFloat32>dy(i).expect(TFloat32.class);
      applies.add(tf.train.applyMomentum(v, acc, learningRate, g, tf.constant(momentum),
          org.tensorflow.op.train.ApplyMomentum.useNesterov(true)));
    }
    return tf.withControlDependencies(applies).withName(name).noOp();
  }

  /** A zero tensor shaped like {@code like}, for initialising optimiser slots. */
  public static Operand<TFloat32> zeros(Ops init, Variable<TFloat32> like) {
    long[] dims = like.shape().asArray();
    return init.fill(init.constant(dims), init.constant(0f));
  }
}
