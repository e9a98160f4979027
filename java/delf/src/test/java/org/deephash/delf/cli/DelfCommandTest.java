package org.deephash.delf.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.deephash.cli.api.Cli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DelfCommandTest {
  @TempDir
  Path dir;

  record Run(int rc, String out, String err) {}

  static Run run(String... args) {
    ByteArrayOutputStream o = new ByteArrayOutputStream();
    ByteArrayOutputStream e = new ByteArrayOutputStream();
    int rc = Cli.run(new DelfCommand(), args, new PrintStream(o, true, StandardCharsets.UTF_8),
        new PrintStream(e, true, StandardCharsets.UTF_8));
    return new Run(rc, o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8));
  }

  @Test
  void usageAndErrors() {
    Run help = run("--help");
    assertEquals(0, help.rc());
    for (String c : new String[] {"train", "extract", "index", "query", "eval", "match"}) {
      assertTrue(help.out().contains("  " + c + " "), c);
    }
    Run none = run();
    assertEquals(2, none.rc());
    assertTrue(none.err().startsWith("engine-cli delf: a command is needed"), none.err());
    Run unknown = run("fly");
    assertEquals(2, unknown.rc());
    assertTrue(unknown.err().startsWith("engine-cli delf: unknown command 'fly'"), unknown.err());
    Run noModel = run("extract", "--model", dir.resolve("none").toString(), "--image", "x.png");
    assertEquals(1, noModel.rc());
    assertTrue(noModel.err().contains("holds no DELF model"), noModel.err());
    Run noPhotos = run("train", "--photos", dir.toString());
    assertEquals(1, noPhotos.rc(), noPhotos.err());
    assertEquals("engine-cli delf train: no photo manifest at " + dir.resolve("manifest.tsv")
        + "; run bench/delf/setup-photos.sh to create it", noPhotos.err().lines().findFirst().orElse(""));
    Run badScales = run("extract", "--model", "m", "--image", "x.png", "--scales", "1,zwei");
    assertEquals(2, badScales.rc());
    assertTrue(badScales.err().contains("--scales"), badScales.err());
  }

  /** The schedule {@code delf train} resolves from its options (parsed and validated, nothing trained). */
  private static java.util.List<org.deephash.delf.net.DelfTrainer.Options> schedule(String... args) {
    DelfTrain t = new DelfTrain();
    new picocli.CommandLine(t).parseArgs(args);
    t.validate();
    return t.schedule();
  }

  @Test
  void trainDefaultsToTheDocumentedRecipeWhenThePretrainedWeightsArePresent() throws Exception {
    Path weights = java.nio.file.Files.createDirectories(dir.resolve("mnv2"));
    // the two commands of docs/DELF.md behind the README's figure, as one
    assertEquals(java.util.List.of(new org.deephash.delf.net.DelfTrainer.Options(128, 32, 16, 4, 0, 1e-4f, 0.75f, 42),
        new org.deephash.delf.net.DelfTrainer.Options(128, 32, 16, 8, 8, 5e-4f, 0.85f, 43)),
        schedule("--pretrained", weights.toString()));
    // a schedule option means one phase, the rest from the defaults
    assertEquals(java.util.List.of(new org.deephash.delf.net.DelfTrainer.Options(128, 32, 16, 2, 3, 1e-3f, 0.75f, 7)),
        schedule("--pretrained", weights.toString(), "--descriptor-epochs", "2", "--seed", "7"));
    // no weights: the residual network and its defaults
    assertEquals(java.util.List.of(new org.deephash.delf.net.DelfTrainer.Options(96, 32, 12, 6, 3, 1e-3f, 0.75f, 42)),
        schedule("--pretrained", dir.resolve("absent").toString()));
    Run bad = run("train", "--backbone", "vgg");
    assertEquals(2, bad.rc());
    assertTrue(bad.err().contains("--backbone takes auto, residual or mobilenet_v2 (passed 'vgg')"), bad.err());
    Run side = run("train", "--pretrained", weights.toString(), "--side", "40");
    assertEquals(2, side.rc());
    assertTrue(side.err().contains("--side must be a multiple of 16 (passed 40)"), side.err());
  }

  @Test
  void rangesAreCheckedBeforeAnyPhotoIsRead() {
    // No photo folder exists: a range error must come first.
    Run epochs = run("train", "--photos", dir.toString(), "--descriptor-epochs", "-1");
    assertEquals(2, epochs.rc());
    assertEquals("engine-cli delf train: --descriptor-epochs must be in [0, 100000] (passed -1)",
        epochs.err().lines().findFirst().orElse(""));
    Run typo = run("train", "--epochs", "3");
    assertEquals(2, typo.rc());
    assertTrue(typo.err().contains("unknown option '--epochs'"), typo.err());
    assertTrue(typo.err().contains("did you mean '--attention-epochs' or '--descriptor-epochs'?"), typo.err());
    Run side = run("train", "--backbone", "mobilenet_v2", "--side", "40");
    assertEquals(2, side.rc());
    assertTrue(side.err().contains("--side must be a multiple of 16 (passed 40)"), side.err());
    Run both = run("index", "--model", "m", "--out", "o", "--images", "i", "--photos", "p");
    assertEquals(2, both.rc());
    assertTrue(both.err().contains("not both"), both.err());
  }

  @Test
  void queriesTsvHasOneLinePerQueryWithItsApAndVerification() {
    java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(4, 4, java.awt.image.BufferedImage.TYPE_INT_RGB);
    org.deephash.delf.data.BenchmarkSet set = new org.deephash.delf.data.BenchmarkSet(java.util.List.of(img, img),
        java.util.List.of("a:one.png", "pair:graf1.png"), java.util.List.of(img, img),
        java.util.List.of("view 0 of a:one.png", "pair:graf3.png"), new int[] {0, 1}, java.util.Map.of(), "");
    java.util.Map<String, double[]> ap = new java.util.LinkedHashMap<>();
    ap.put("delf_ransac", new double[] {1, 0.5});
    ap.put("delf", new double[] {0.5, 0.25});
    java.util.Map<String, int[]> ver = new java.util.LinkedHashMap<>();
    ver.put("votes_rank", new int[] {2, 4});
    ver.put("inliers", new int[] {13, 0});
    ver.put("top_by_votes", new int[] {1, -1});
    assertEquals("query\trelevant\tap_delf_ransac\tap_delf\tvotes_rank\tinliers\ttop_by_votes\n"
        + "view 0 of a:one.png\ta:one.png\t1.0000\t0.5000\t2\t13\tpair:graf1.png\n"
        + "pair:graf3.png\tpair:graf1.png\t0.5000\t0.2500\t4\t0\t-\n", DelfEval.perQuery(set, ap, ver));
  }

  @Test
  void helpListsExactlyWhatEachCommandAccepts() {
    // eval never took --no-ransac; query does.
    assertFalse(run("eval", "--help").out().contains("--no-ransac"));
    assertTrue(run("query", "--help").out().contains("--no-ransac"));
    Run evalNoRansac = run("eval", "--model", "m", "--no-ransac");
    assertEquals(2, evalNoRansac.rc());
    assertTrue(evalNoRansac.err().contains("unknown option '--no-ransac'"), evalNoRansac.err());
    // the hash rows' options are checked before any work
    Run noModel = run("eval");
    assertEquals(2, noModel.rc());
    assertTrue(noModel.err().contains("--model DIR is required (a DELF model folder), unless --no-delf"), noModel.err());
    Run nothing = run("eval", "--no-delf", "--no-hash");
    assertEquals(2, nothing.rc());
    assertTrue(nothing.err().contains("leaves nothing to measure"), nothing.err());
    Run codes = run("eval", "--no-delf", "--hash-codes", "lsh");
    assertEquals(2, codes.rc());
    assertTrue(codes.err().contains("--hash-codes is trained, itq or both (passed 'lsh')"), codes.err());
    Run both = run("eval", "--model", "m", "--hash-from-delf", "--hash-from-imagenet");
    assertEquals(2, both.rc());
    assertTrue(both.err().contains("exclude each other"), both.err());
    Run attention = run("eval", "--no-delf", "--hash-pooling", "attention");
    assertEquals(2, attention.rc());
    assertTrue(attention.err().contains("needs the DELF model's backbone"), attention.err());
    Run ratio = run("eval", "--model", "m", "--ratio", "1.5");
    assertEquals(2, ratio.rc());
    assertTrue(ratio.err().contains("--ratio"), ratio.err());
    assertTrue(run("query", "--help").out().contains("--ratio"));
    Run bench = run("eval", "--model", "m", "--benchmark", "harder");
    assertEquals(2, bench.rc());
    assertTrue(bench.err().contains("--benchmark is standard or hard (passed 'harder')"), bench.err());
    // the hard benchmark without opencv-doc: one line naming the folder and the package, before any photo is read
    Path none = dir.resolve("no-opencv-doc");
    Run noPairs = run("eval", "--model", "m", "--benchmark", "hard", "--pairs", none.toString(), "--photos",
        dir.resolve("no-photos").toString());
    assertEquals(1, noPairs.rc(), noPairs.err());
    assertEquals("engine-cli delf eval: no opencv-doc example images at " + none + ": apt-get install opencv-doc"
        + " (or pass the folder that holds graf1.png)", noPairs.err().lines().findFirst().orElse(""));
    // match's extraction and RANSAC options are documented now
    String match = run("match", "--help").out();
    for (String o : new String[] {"--max-side", "--max-features", "--scales", "--trials", "--threshold",
        "--min-inliers", "--ratio"}) {
      assertTrue(match.contains(o), o + " missing from\n" + match);
    }
  }
}
