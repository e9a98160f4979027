package org.deephash.model.net;

/**
 * What the encoder hands to the engine for n images: packed codes (n x codeBytes), F7 features
 * (n x featureDim), the latent activations (n x bits) and the predicted class of each image.
 */
public record Encoding(int count, int bits, int featureDim, byte[] codes, float[] features, float[] latent,
    int[] predicted, float[] confidence) {

  public int codeBytes() {
    return CodePacker.codeBytes(bits);
  }

  /** Code width stored in the engine: whole bytes. */
  public int engineBits() {
    return codeBytes() * 8;
  }
}
