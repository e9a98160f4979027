package org.deephash.model.net;

import java.util.Properties;

/**
 * How a {@link HashNet} is trained.
 *
 * @param epochs passes over the training set
 * @param batch images per step
 * @param optimizer Adam or SGD with (Nesterov) momentum
 * @param learningRate initial learning rate
 * @param lrDecay multiplies the learning rate after every epoch (1 = constant)
 * @param momentum momentum of SGD (ignored by Adam)
 * @param weightDecay L2 penalty weightDecay/2 * |W|^2 on every weight matrix (not on biases)
 * @param dropout drop probability on F7 while training
 * @param pushWeight SSDH term pushing latent activations away from 0.5: -mean (h - 0.5)^2
 * @param balanceWeight SSDH term keeping each bit on for half the images: mean_k (mean_n h_nk - 0.5)^2
 * @param flip random horizontal flips
 * @param cropPad random crops after zero padding by this many pixels (0 = none)
 * @param seed initial weights, shuffling, augmentation and dropout all follow from it
 * @param maxSteps stop after this many steps in total (0 = no limit); for quick runs and tests
 * @param averageDecay decay of the exponential moving average of the weights that the network is
 *     validated and exported with (Polyak averaging: after every step {@code a = d a + (1 - d) w});
 *     0 = no average, the trained weights themselves
 */
public record TrainOptions(
    int epochs, int batch, Optimizer optimizer, float learningRate, float lrDecay, float momentum, float weightDecay,
    float dropout, float pushWeight, float balanceWeight, boolean flip, int cropPad, long seed, int maxSteps,
    float averageDecay) {

  public enum Optimizer { ADAM, MOMENTUM }

  public TrainOptions {
    if (epochs < 1 || batch < 1) {
      throw new IllegalArgumentException("epochs and batch must be >= 1 (passed " + epochs + ", " + batch + ")");
    }
    if (!(learningRate > 0) || !(lrDecay > 0) || momentum < 0 || momentum >= 1 || weightDecay < 0) {
      throw new IllegalArgumentException("need learning rate > 0, lr decay > 0, momentum in [0, 1), weight decay >= 0");
    }
    if (dropout < 0 || dropout >= 1) {
      throw new IllegalArgumentException("dropout must be in [0, 1) (passed " + dropout + ")");
    }
    if (pushWeight < 0 || balanceWeight < 0 || cropPad < 0 || maxSteps < 0) {
      throw new IllegalArgumentException("SSDH weights, crop padding and max steps must be >= 0");
    }
    if (!(averageDecay >= 0 && averageDecay < 1)) {
      throw new IllegalArgumentException("the weight average's decay must be in [0, 1) (passed " + averageDecay + ")");
    }
  }

  /** The same options with the other fields of the record's first form (no weight average). */
  public TrainOptions(int epochs, int batch, Optimizer optimizer, float learningRate, float lrDecay, float momentum,
      float weightDecay, float dropout, float pushWeight, float balanceWeight, boolean flip, int cropPad, long seed,
      int maxSteps) {
    this(epochs, batch, optimizer, learningRate, lrDecay, momentum, weightDecay, dropout, pushWeight, balanceWeight,
        flip, cropPad, seed, maxSteps, 0f);
  }

  /** Defaults measured on Fashion-MNIST (see docs/MODEL.md). */
  public static TrainOptions defaults() {
    return new TrainOptions(8, 64, Optimizer.ADAM, 1e-3f, 0.7f, 0.9f, 5e-5f, 0.5f, 0.1f, 0.1f, false, 0, 42L, 0);
  }

  public TrainOptions withEpochs(int e) {
    return new TrainOptions(e, batch, optimizer, learningRate, lrDecay, momentum, weightDecay, dropout, pushWeight,
        balanceWeight, flip, cropPad, seed, maxSteps, averageDecay);
  }

  public TrainOptions withMaxSteps(int s) {
    return new TrainOptions(epochs, batch, optimizer, learningRate, lrDecay, momentum, weightDecay, dropout,
        pushWeight, balanceWeight, flip, cropPad, seed, s, averageDecay);
  }

  public TrainOptions withSeed(long s) {
    return new TrainOptions(epochs, batch, optimizer, learningRate, lrDecay, momentum, weightDecay, dropout,
        pushWeight, balanceWeight, flip, cropPad, s, maxSteps, averageDecay);
  }

  public TrainOptions withAugmentation(boolean f, int pad) {
    return new TrainOptions(epochs, batch, optimizer, learningRate, lrDecay, momentum, weightDecay, dropout,
        pushWeight, balanceWeight, f, pad, seed, maxSteps, averageDecay);
  }

  public TrainOptions withAverage(float decay) {
    return new TrainOptions(epochs, batch, optimizer, learningRate, lrDecay, momentum, weightDecay, dropout,
        pushWeight, balanceWeight, flip, cropPad, seed, maxSteps, decay);
  }

  /** Learning rate of epoch e (0-based). */
  public float learningRate(int epoch) {
    return (float) (learningRate * Math.pow(lrDecay, epoch));
  }

  public Properties toProperties() {
    Properties p = new Properties();
    p.setProperty("epochs", Integer.toString(epochs));
    p.setProperty("batch", Integer.toString(batch));
    p.setProperty("optimizer", optimizer.name());
    p.setProperty("learningRate", Float.toString(learningRate));
    p.setProperty("lrDecay", Float.toString(lrDecay));
    p.setProperty("momentum", Float.toString(momentum));
    p.setProperty("weightDecay", Float.toString(weightDecay));
    p.setProperty("dropout", Float.toString(dropout));
    p.setProperty("pushWeight", Float.toString(pushWeight));
    p.setProperty("balanceWeight", Float.toString(balanceWeight));
    p.setProperty("flip", Boolean.toString(flip));
    p.setProperty("cropPad", Integer.toString(cropPad));
    p.setProperty("seed", Long.toString(seed));
    p.setProperty("maxSteps", Integer.toString(maxSteps));
    if (averageDecay > 0) {
      p.setProperty("averageDecay", Float.toString(averageDecay));
    }
    return p;
  }

  public static TrainOptions fromProperties(Properties p) {
    return new TrainOptions(
        Integer.parseInt(p.getProperty("epochs")), Integer.parseInt(p.getProperty("batch")),
        Optimizer.valueOf(p.getProperty("optimizer")), Float.parseFloat(p.getProperty("learningRate")),
        Float.parseFloat(p.getProperty("lrDecay")), Float.parseFloat(p.getProperty("momentum")),
        Float.parseFloat(p.getProperty("weightDecay")), Float.parseFloat(p.getProperty("dropout")),
        Float.parseFloat(p.getProperty("pushWeight")), Float.parseFloat(p.getProperty("balanceWeight")),
        Boolean.parseBoolean(p.getProperty("flip")), Integer.parseInt(p.getProperty("cropPad")),
        Long.parseLong(p.getProperty("seed")), Integer.parseInt(p.getProperty("maxSteps", "0")),
        Float.parseFloat(p.getProperty("averageDecay", "0")));
  }
}
