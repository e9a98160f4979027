package org.deephash.model.net;

import java.nio.file.Path;
import java.util.List;

/**
 * Run in a JVM without {@code jdk.incubator.vector} by {@link MobileNetForwardTest}: opens a
 * mobilenet_v2 SavedModel ({@code args}: folder, height, width, bits) with {@link Encoder#open},
 * encodes the images that {@link MobileNetForwardTest#images} makes, and prints which inference
 * ran and every code byte.
 */
public final class NoVectorEncodeMain {
  public static void main(String[] args) throws Exception {
    int h = Integer.parseInt(args[1]);
    int w = Integer.parseInt(args[2]);
    int bits = Integer.parseInt(args[3]);
    HashNetConfig config = HashNetConfig.mobileNetV2(h, w, bits, List.of("a", "b", "c", "d"));
    try (Encoder e = Encoder.open(Path.of(args[0]), config)) {
      Encoding enc = e.encode(MobileNetForwardTest.images(3, h, w), 3);
      System.out.println("inference=" + e.inference());
      System.out.println("codes=" + java.util.Arrays.toString(enc.codes()));
    }
  }
}
