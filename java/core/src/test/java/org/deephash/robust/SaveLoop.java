package org.deephash.robust;

import java.nio.file.Path;
import java.util.SplittableRandom;
import org.deephash.CodeTable;
import org.deephash.index.IndexFile;

/**
 * The victim of {@link KillDuringSaveTest}: saves a table of ROWS random codes to FILE again and
 * again until killed, printing "saving" before the first save so the test knows it has started.
 */
public final class SaveLoop {
  private SaveLoop() {}

  public static void main(String[] args) throws Exception {
    Path file = Path.of(args[0]);
    int rows = Integer.parseInt(args[1]);
    SplittableRandom rnd = new SplittableRandom(Long.parseLong(args[2]));
    byte[] codes = new byte[rows * 8];
    rnd.nextBytes(codes);
    float[] features = new float[rows * 16];
    for (int i = 0; i < features.length; i++) {
      features[i] = (float) rnd.nextDouble();
    }
    try (CodeTable t = CodeTable.create(64, 16, false, rows)) {
      t.addAll(null, codes, features, null);
      t.buildMultiIndex(0);
      System.out.println("saving");
      System.out.flush();
      while (true) {
        IndexFile.save(t, file);
      }
    }
  }
}
