package org.deephash.model.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ServiceLoader;
import java.util.SplittableRandom;
import java.util.stream.StreamSupport;
import javax.imageio.ImageIO;
import org.deephash.spi.CliCommand;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands end to end on a small folder of generated images (no dataset needed). */
class ModelCommandsTest {
  @TempDir
  Path dir;

  record Run(int status, String out, String err) {}

  static Run run(CliCommand c, String... args) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int rc = c.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(rc, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void commandsAreRegisteredForTheLauncher() {
    var names = StreamSupport.stream(ServiceLoader.load(CliCommand.class).spliterator(), false).map(CliCommand::name)
        .toList();
    assertTrue(names.containsAll(java.util.List.of("train", "index", "query", "eval", "demo")), names.toString());
  }

  @Test
  void trainIndexQueryOnAnImageFolder() throws Exception {
    Path data = dir.resolve("shapes");
    SplittableRandom rnd = new SplittableRandom(1);
    String[] classes = {"red", "green", "blue"};
    int[] colours = {0xd02020, 0x20d020, 0x2020d0};
    for (int c = 0; c < 3; c++) {
      for (int i = 0; i < 12; i++) {
        image(data.resolve(classes[c]).resolve("img" + i + ".png"), colours[c], rnd);
      }
    }
    Path model = dir.resolve("model");
    Run t = run(new TrainCommand(), "--data", data.toString(), "--size", "16x16x3", "--model", model.toString(),
        "--bits", "16", "--epochs", "3", "--batch", "12", "--lr", "3e-3");
    assertEquals(0, t.status(), t.err());
    assertTrue(t.out().startsWith("{\"command\":\"train\""), t.out());
    assertTrue(t.err().contains("epoch 3/3"), t.err());
    assertTrue(Files.isRegularFile(model.resolve("saved_model/saved_model.pb")));

    Path index = dir.resolve("shapes.dhx");
    Run i = run(new IndexCommand(), "--model", model.toString(), "--data", data.toString(), "--out", index.toString());
    assertEquals(0, i.status(), i.err());
    assertTrue(Files.size(index) > 0);

    Path probe = data.resolve("blue/img3.png");
    Run q = run(new QueryCommand(), "--model", model.toString(), "--index", index.toString(), "--image",
        probe.toString(), "--k", "3", "--json");
    assertEquals(0, q.status(), q.err());
    // The image itself is in the index: found first, at distance 0.
    assertTrue(q.out().contains("\"results\":[{\"rank\":1,\"id\":"), q.out());
    // Encoding one image or a batch may differ in the last float bits (other CPU kernels): ~0, not exactly 0.
    assertTrue(java.util.regex.Pattern.compile("\"rank\":1,\"id\":\\d+,\"path\":\""
        + java.util.regex.Pattern.quote(probe.toString()) + "\",\"hamming\":0,\"euclidean\":0\\.00\\d\\d,")
        .matcher(q.out()).find(), q.out());
    assertTrue(q.out().indexOf(probe.toString() + "\",\"hamming\"") < q.out().indexOf("\"rank\":2"), q.out());

    Run b = run(new QueryCommand(), "--model", model.toString(), "--index", index.toString(), "--image",
        probe.toString(), "--k", "2", "--mode", "bcs");
    assertEquals(0, b.status(), b.err());
    assertTrue(b.out().contains(probe.toString()), b.out());
  }

  @Test
  void badInputIsReportedByFileNameWithoutAStackTrace() throws Exception {
    Path data = dir.resolve("broken");
    image(data.resolve("a/ok.png"), 0x808080, new SplittableRandom(2));
    Files.writeString(data.resolve("a/bad.png"), "garbage");
    Files.createDirectories(data.resolve("b"));
    Run r = run(new TrainCommand(), "--data", data.toString(), "--model", dir.resolve("m").toString());
    assertEquals(2, r.status());
    assertTrue(r.err().contains("bad.png") && r.err().contains("empty class"), r.err());
    assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());

    Run u = run(new TrainCommand(), "--bits", "7", "--data", data.toString());
    assertEquals(2, u.status());
    Run v = run(new EvalCommand(), "--frobnicate");
    assertEquals(2, v.status());
    assertTrue(v.err().contains("unknown option --frobnicate"), v.err());
    Run w = run(new QueryCommand(), "--model", dir.resolve("nothing").toString(), "--index", "x", "--image", "y");
    assertEquals(1, w.status());
    assertTrue(w.err().contains("model.properties"), w.err());
  }

  static void image(Path p, int rgb, SplittableRandom rnd) throws IOException {
    Files.createDirectories(p.getParent());
    BufferedImage img = new BufferedImage(20, 20, BufferedImage.TYPE_INT_RGB);
    for (int y = 0; y < 20; y++) {
      for (int x = 0; x < 20; x++) {
        int noise = rnd.nextInt(40);
        int r = Math.min(255, ((rgb >> 16) & 0xff) + noise);
        int g = Math.min(255, ((rgb >> 8) & 0xff) + noise);
        int b = Math.min(255, (rgb & 0xff) + noise);
        img.setRGB(x, y, (r << 16) | (g << 8) | b);
      }
    }
    ImageIO.write(img, "png", p.toFile());
  }
}
