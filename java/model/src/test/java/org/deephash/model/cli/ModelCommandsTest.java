package org.deephash.model.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.deephash.cli.api.Cli;
import org.deephash.cli.api.CliCommand;
import org.deephash.index.IndexFile;
import org.deephash.index.LoadedIndex;
import org.deephash.io.Json;
import org.deephash.model.net.ModelDir;
import org.deephash.model.data.Datasets;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.Encoder;
import picocli.CommandLine;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The commands end to end on a small folder of generated images (no dataset needed). */
class ModelCommandsTest {
  @TempDir
  Path dir;

  record Run(int status, String out, String err) {}

  static Run run(CliCommand c, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int rc = Cli.run(c, args, new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(rc, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  @Test
  void commandsAreRegisteredForTheLauncher() {
    var names = StreamSupport.stream(ServiceLoader.load(CliCommand.class).spliterator(), false)
        .map(c -> new CommandLine(c).getCommandName()).toList();
    assertTrue(names.containsAll(List.of("train", "index", "query", "eval", "demo")), names.toString());
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
        "--bits", "16", "--epochs", "3", "--batch", "12", "--lr", "3e-3", "--validation", "6");
    assertEquals(0, t.status(), t.err());
    assertTrue(t.out().startsWith("{\"command\":\"train\""), t.out());
    assertTrue(t.err().contains("epoch 3/3"), t.err());
    assertTrue(t.err().contains("30 images (16x16x3, 3 classes), 6 held out for validation"), t.err());
    assertTrue(t.err().contains("val-acc") && !t.err().contains("test-acc"), "selection never looks at the queries");
    assertTrue(t.err().lines().anyMatch(l -> l.startsWith("kept epoch ")), t.err());
    assertTrue(t.err().contains("fine stage chosen on the 6 validation images"), t.err());
    java.util.Properties selection = new java.util.Properties();
    try (var in = Files.newBufferedReader(model.resolve("model.properties"))) {
      selection.load(in);
    }
    assertEquals("6", selection.getProperty("validation.images"));
    int kept = Integer.parseInt(selection.getProperty("selection.epoch"));
    assertTrue(kept >= 1 && kept <= 3, "kept epoch " + kept);
    org.deephash.model.eval.FineStage.of(selection.getProperty("fine.stage")); // a known stage
    assertTrue(Files.isRegularFile(model.resolve("saved_model/saved_model.pb")));

    Map<String, Object> trained = Json.object(t.out().strip());
    assertEquals(Path.of(data.toString()).toAbsolutePath().normalize().toString(), trained.get("data"));
    assertEquals(3.0, trained.get("epochs"));
    assertEquals(6.0, trained.get("steps"), "30 training images in batches of 12, 3 epochs");
    assertEquals((double) kept, trained.get("kept_epoch"));
    assertEquals(Optional.of(new ModelDir.TrainedOn(trained.get("data").toString(), 36)),
        new ModelDir(model).readTrainedOn());

    // index: the model's training data by default
    Path index = dir.resolve("shapes.dhx");
    Run i = run(new IndexCommand(), "--model", model.toString(), "--out", index.toString());
    assertEquals(0, i.status(), i.err());
    assertEquals(36.0, Json.object(i.out().strip()).get("rows"));
    try (LoadedIndex idx = IndexFile.load(index)) {
      assertEquals(36, idx.table().liveCount());
      assertEquals(16, idx.table().bits());
      for (int row = 0; row < 36; row++) {
        // folder data sets list the classes in name order (blue, green, red), 12 images each, sorted by name
        String cls = List.of("blue", "green", "red").get(idx.table().label(row));
        assertEquals(cls, Path.of(idx.path(row)).getParent().getFileName().toString(), "row " + row);
      }
    }

    Path probe = data.resolve("blue/img3.png");
    Run q = run(new QueryCommand(), "--model", model.toString(), "--index", index.toString(), "--image",
        probe.toString(), "--k", "3", "--fine", "f7", "--json");
    assertEquals(0, q.status(), q.err());
    Map<String, Object> answer = Json.object(q.out().strip());
    List<?> results = (List<?>) answer.get("results");
    assertEquals(3, results.size(), q.out());
    // The image itself is in the index: found first, at Hamming distance 0 and Euclidean ~0 (encoding one
    // image or a batch may differ in the last float bits).
    Map<?, ?> first = (Map<?, ?>) results.get(0);
    assertEquals(probe.toString(), first.get("path"), q.out());
    assertEquals(0.0, first.get("hamming"));
    assertEquals(0.0, (Double) first.get("euclidean"), 1e-2);
    assertEquals("blue", first.get("label"));
    assertEquals("f7", answer.get("fine_stage"));
    Run byDefault = run(new QueryCommand(), "--model", model.toString(), "--index", index.toString(), "--image",
        probe.toString(), "--k", "3", "--json");
    assertEquals(0, byDefault.status(), byDefault.err());
    assertEquals(selection.getProperty("fine.stage"), Json.object(byDefault.out().strip()).get("fine_stage"),
        "query uses the model's fine stage");

    // Fine stages that keep the Hamming order: distances never decrease.
    Run ties = run(new QueryCommand(), "--model", model.toString(), "--index", index.toString(), "--image",
        probe.toString(), "--k", "36", "--pool", "36", "--fine", "f7n-ties", "--json");
    assertEquals(0, ties.status(), ties.err());
    Map<String, Object> tj = Json.object(ties.out().strip());
    assertEquals("f7n-ties", tj.get("fine_stage"));
    List<?> tr = (List<?>) tj.get("results");
    assertEquals(36, tr.size());
    assertEquals(probe.toString(), ((Map<?, ?>) tr.get(0)).get("path"));
    for (int j = 1; j < tr.size(); j++) {
      assertTrue((Double) ((Map<?, ?>) tr.get(j - 1)).get("hamming") <= (Double) ((Map<?, ?>) tr.get(j)).get("hamming"),
          ties.out());
    }
    // The latent stage ranks the whole pool (all 36 rows) by the distance between latent activations, which
    // the index does not store: the reference encodes every indexed image and the probe again.
    Run lat = run(new QueryCommand(), "--model", model.toString(), "--index", index.toString(), "--image",
        probe.toString(), "--k", "36", "--fine", "latent", "--json");
    assertEquals(0, lat.status(), lat.err());
    Map<String, Object> lj = Json.object(lat.out().strip());
    assertEquals("latent", lj.get("fine_stage"));
    List<?> lr = (List<?>) lj.get("results");
    assertEquals(36, lr.size());
    try (LoadedIndex idx = IndexFile.load(index); Encoder enc = Encoder.open(model)) {
      HashNetConfig hc = enc.config();
      int bits = hc.bits();
      float[] probeLatent = enc.encode(Datasets.readImage(probe, hc.height(), hc.width(), hc.channels()), 1).latent();
      double previous = -1;
      for (Object o : lr) {
        Map<?, ?> hit = (Map<?, ?>) o;
        int row = ((Double) hit.get("id")).intValue();
        float[] rowLatent = enc.encode(Datasets.readImage(Path.of(idx.path(row)), hc.height(), hc.width(),
            hc.channels()), 1).latent();
        double sq = 0;
        for (int b = 0; b < bits; b++) {
          double diff = probeLatent[b] - rowLatent[b];
          sq += diff * diff;
        }
        double euclidean = (Double) hit.get("euclidean");
        assertEquals(Math.sqrt(sq), euclidean, 1e-3, "latent distance of row " + row + ": " + lat.out());
        assertTrue(euclidean >= previous - 1e-3, "ranked by latent distance: " + lat.out());
        previous = euclidean;
      }
    }

    // Another data set is refused unless asked for, before anything is loaded.
    Path other = dir.resolve("other");
    for (int c = 0; c < 2; c++) {
      for (int k = 0; k < 3; k++) {
        image(other.resolve("c" + c).resolve("x" + k + ".png"), colours[c], rnd);
      }
    }
    Path otherIndex = dir.resolve("other.dhx");
    Run refused = run(new IndexCommand(), "--model", model.toString(), "--data", other.toString(), "--out",
        otherIndex.toString());
    assertEquals(2, refused.status(), refused.err());
    assertTrue(refused.err().contains("was trained on '" + trained.get("data") + "' (16x16x3, 3 classes: blue, green,"
        + " red); --data " + other + " is another data set"), refused.err());
    assertTrue(refused.err().contains("--allow-other-data"), refused.err());
    assertFalse(Files.exists(otherIndex));
    Run allowed = run(new IndexCommand(), "--model", model.toString(), "--data", other.toString(),
        "--allow-other-data", "--out", otherIndex.toString());
    assertEquals(0, allowed.status(), allowed.err());
    assertTrue(allowed.err().contains("warning: the model was trained on"), allowed.err());
    assertTrue(allowed.err().contains("the data's classes (c0, c1) are not the model's (blue, green, red)"),
        allowed.err());
    assertEquals(6.0, Json.object(allowed.out().strip()).get("rows"));

    // A model folder from before the record still opens; its training data is unknown, said once.
    Path props = model.resolve("model.properties");
    Files.write(props, Files.readAllLines(props).stream().filter(l -> !l.startsWith("data.")).toList());
    assertEquals(Optional.empty(), new ModelDir(model).readTrainedOn());
    Run old = run(new IndexCommand(), "--model", model.toString(), "--data", data.toString(), "--out",
        dir.resolve("old.dhx").toString());
    assertEquals(0, old.status(), old.err());
    assertEquals(1, old.err().lines().filter(l -> l.contains("does not record the data it was trained on")).count(),
        old.err());

    Run b = run(new QueryCommand(), "--model", model.toString(), "--index", index.toString(), "--image",
        probe.toString(), "--k", "2", "--mode", "bcs");
    assertEquals(0, b.status(), b.err());
    assertTrue(b.out().contains(probe.toString()), b.out());
  }

  /**
   * {@code query} reads an image for a photo index as {@code index --photos} read the photos
   * (decoded at twice the input size, not in full): an indexed photo larger than that finds itself
   * at distance 0.
   */
  @Test
  void anIndexedPhotoFindsItselfAtDistanceZero() throws Exception {
    SplittableRandom rnd = new SplittableRandom(5);
    Path model = tinyPhotoModel(rnd);
    Path photos = dir.resolve("photos");
    Files.createDirectories(photos);
    for (int i = 0; i < 2; i++) {
      // 90 x 70 of fine noise: decoded with subsampling to 32 px or in full, it resizes to other pixels
      BufferedImage img = new BufferedImage(90, 70, BufferedImage.TYPE_INT_RGB);
      for (int y = 0; y < 70; y++) {
        for (int x = 0; x < 90; x++) {
          img.setRGB(x, y, rnd.nextInt(0x1000000));
        }
      }
      ImageIO.write(img, "png", photos.resolve("p" + i + ".png").toFile());
    }
    Path index = dir.resolve("photos.dhx");
    Run r = run(new IndexCommand(), "--model", model.toString(), "--photos", photos.toString(), "--out",
        index.toString(), "--threads", "1");
    assertEquals(0, r.status(), r.err());
    for (int i = 0; i < 2; i++) {
      Path probe = photos.resolve("p" + i + ".png");
      Run q = run(new QueryCommand(), "--model", model.toString(), "--index", index.toString(), "--image",
          probe.toString(), "--k", "1", "--fine", "f7", "--json");
      assertEquals(0, q.status(), q.err());
      Map<?, ?> first = (Map<?, ?>) ((List<?>) Json.object(q.out().strip()).get("results")).get(0);
      assertEquals("p" + i + ".png", first.get("path"), q.out());
      assertEquals(0.0, first.get("hamming"), q.out());
      assertEquals(0.0, (Double) first.get("euclidean"), 1e-4, q.out());
    }
  }

  @Test
  void indexPhotosTakesAFolderAtAnyDepthAndListsWhatItSkips() throws Exception {
    SplittableRandom rnd = new SplittableRandom(3);
    Path model = tinyPhotoModel(rnd);

    Path photos = dir.resolve("photos");
    image(photos.resolve("top.png"), 0x808080, rnd);
    image(photos.resolve("trip/day1/beach.png"), 0x2020d0, rnd);
    Files.createDirectories(photos.resolve("trip/day2"));
    ImageIO.write(new BufferedImage(40, 30, BufferedImage.TYPE_INT_RGB), "jpeg",
        photos.resolve("trip/day2/sunset.JPG").toFile());
    Files.writeString(photos.resolve("trip/broken.jpg"), "garbage");
    Files.write(photos.resolve("trip/day2/phone.heic"), new byte[] {0, 0, 0, 24});
    Files.writeString(photos.resolve("trip/notes.txt"), "not a photo");
    Path index = dir.resolve("photos.dhx");
    Run r = run(new IndexCommand(), "--model", model.toString(), "--photos", photos.toString(), "--out",
        index.toString(), "--threads", "2");
    assertEquals(0, r.status(), r.err());
    Map<String, Object> json = Json.object(r.out().strip());
    assertEquals(3.0, json.get("rows"));
    assertEquals(2.0, json.get("skipped"));
    assertEquals(1.0, json.get("ignored"));
    assertEquals(index + ".photos.json", json.get("report"));
    List<String> skippedLines = r.err().lines().filter(l -> l.startsWith("engine-cli index: skipped ")).toList();
    assertEquals(List.of(
        "engine-cli index: skipped trip/broken.jpg: not a JPEG, PNG, WebP, GIF or BMP image (unknown or damaged"
            + " header)",
        "engine-cli index: skipped trip/day2/phone.heic: no decoder: .heic files cannot be decoded (convert them to"
            + " JPEG, PNG or WebP)"),
        skippedLines, r.err());
    try (LoadedIndex idx = IndexFile.load(index)) {
      assertEquals(List.of("top.png", "trip/day1/beach.png", "trip/day2/sunset.JPG"),
          List.of(idx.path(0), idx.path(1), idx.path(2)));
      assertFalse(idx.table().hasLabels(), "photos have no labels");
    }
    // the grid thumbnails were made while indexing, under the names serve looks for, with the bytes serve would make
    Path thumbs = org.deephash.model.data.PhotoThumbnails.dirFor(index);
    for (String rel : List.of("top.png", "trip/day1/beach.png", "trip/day2/sunset.JPG")) {
      Path photo = photos.resolve(rel).toAbsolutePath();
      Path thumb = org.deephash.model.data.PhotoThumbnails.file(thumbs, photo,
          Files.readAttributes(photo, java.nio.file.attribute.BasicFileAttributes.class), 160);
      assertTrue(Files.isRegularFile(thumb), rel);
      assertArrayEquals(org.deephash.model.data.PhotoThumbnails.make(
          org.deephash.model.data.PhotoFiles.read(photo, 320, 320), 160), Files.readAllBytes(thumb), rel);
    }
    try (var listed = Files.list(thumbs)) {
      assertEquals(3, listed.count());
    }
    Path plain = dir.resolve("plain.dhx");
    Run noThumbs = run(new IndexCommand(), "--model", model.toString(), "--photos", photos.toString(), "--out",
        plain.toString(), "--no-thumbnails");
    assertEquals(0, noThumbs.status(), noThumbs.err());
    assertFalse(Files.exists(org.deephash.model.data.PhotoThumbnails.dirFor(plain)));

    Run both = run(new IndexCommand(), "--model", model.toString(), "--photos", photos.toString(), "--data",
        dir.resolve("shapes").toString(), "--out", index.toString());
    assertEquals(2, both.status());
    assertEquals("engine-cli index: --photos indexes a folder of photos: drop --data and --allow-other-data",
        both.err().lines().findFirst().orElse(""));
    Path nothing = dir.resolve("nothing-readable");
    Files.createDirectories(nothing);
    Files.writeString(nothing.resolve("a.png"), "garbage");
    Run none = run(new IndexCommand(), "--model", model.toString(), "--photos", nothing.toString(), "--out",
        dir.resolve("none.dhx").toString());
    assertTrue(none.status() != 0);
    assertTrue(none.err().contains("no photo in " + nothing + " could be read"), none.err());
    assertFalse(none.err().contains("\tat "), "no stack trace: " + none.err());
    assertFalse(Files.exists(dir.resolve("none.dhx")));
    Run missing = run(new IndexCommand(), "--model", model.toString(), "--photos", dir.resolve("absent").toString(),
        "--out", dir.resolve("absent.dhx").toString());
    assertTrue(missing.status() != 0);
    assertTrue(missing.err().contains("is not a folder"), missing.err());
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
    assertEquals("engine-cli train: --bits must be in [12, 256] (passed 7)", u.err().lines().findFirst().orElse(""));
    Run v = run(new EvalCommand(), "--model", "m", "--frobnicate");
    assertEquals(2, v.status());
    assertTrue(v.err().contains("unknown option '--frobnicate'"), v.err());
    Run e = run(new EvalCommand(), "--model", dir.resolve("nothing").toString(), "--es-queries", "0");
    assertEquals(2, e.status());
    assertTrue(e.err().startsWith("engine-cli eval: --es-queries must be >= 1 (passed 0)"), e.err());
    Path four = dir.resolve("four");
    for (String c : new String[] {"a", "b"}) {
      for (int i = 0; i < 2; i++) {
        image(four.resolve(c).resolve(i + ".png"), 0x406080, new SplittableRandom(i));
      }
    }
    Run big = run(new TrainCommand(), "--data", four.toString(), "--size", "16x16x3", "--model",
        dir.resolve("m2").toString(), "--validation", "4");
    assertEquals(2, big.status(), big.err());
    assertTrue(big.err().startsWith("engine-cli train: --validation 4 leaves no training image (the data set has 4)"),
        big.err());
    Run fine = run(new EvalCommand(), "--model", dir.resolve("nothing").toString(), "--fine", "pca");
    assertEquals(2, fine.status());
    assertTrue(fine.err().startsWith("engine-cli eval: --fine: unknown fine stage 'pca': use one of f7, f7n, latent,"),
        fine.err());
    Run twice = run(new TrainCommand(), "--epochs", "2", "--epochs", "3");
    assertEquals(2, twice.status());
    assertTrue(twice.err().contains("should be specified only once"), twice.err());
    Run w = run(new QueryCommand(), "--model", dir.resolve("nothing").toString(), "--index", "x", "--image", "y");
    assertEquals(1, w.status());
    assertTrue(w.err().contains("model.properties"), w.err());
  }

  @Test
  void refitTrainsAgainOnEveryImageForTheEpochsKeptOnValidation() throws Exception {
    Path data = dir.resolve("refit-shapes");
    SplittableRandom rnd = new SplittableRandom(5);
    String[] classes = {"red", "green", "blue"};
    int[] colours = {0xd02020, 0x20d020, 0x2020d0};
    for (int c = 0; c < 3; c++) {
      for (int i = 0; i < 10; i++) {
        image(data.resolve(classes[c]).resolve("img" + i + ".png"), colours[c], rnd);
      }
    }
    Path model = dir.resolve("refit-model");
    Run t = run(new TrainCommand(), "--data", data.toString(), "--size", "16x16x3", "--model", model.toString(),
        "--bits", "16", "--epochs", "3", "--batch", "6", "--lr", "3e-3", "--validation", "6", "--refit", "--no-test");
    assertEquals(0, t.status(), t.err());
    java.util.Properties p = new java.util.Properties();
    try (var in = Files.newBufferedReader(model.resolve("model.properties"))) {
      p.load(in);
    }
    int kept = Integer.parseInt(p.getProperty("selection.epoch"));
    assertEquals("6", p.getProperty("validation.images"), "the selection record stays");
    assertEquals("30", p.getProperty("refit.images"));
    // 6 validation images: one standard error is at least 0.2, so every later epoch within it counts
    int refitEpochs = Integer.parseInt(p.getProperty("refit.epochs"));
    assertTrue(refitEpochs >= kept && refitEpochs <= 3, p.toString());
    org.deephash.model.eval.FineStage.of(p.getProperty("fine.stage"));
    assertTrue(t.err().contains("refit: training again on all 30 images for " + refitEpochs + " epochs"),
        t.err());
    // the second training: all 30 images in batches of 6 (5 steps an epoch, against 4 for the 24 of the
    // first), no validation pass, its last epoch kept
    assertTrue(t.err().contains("epoch 1/3  steps 4 "), t.err());
    String refitLog = t.err().substring(t.err().indexOf("refit: "));
    assertTrue(refitLog.contains("epoch " + refitEpochs + "/" + refitEpochs + "  steps 5 ") && !refitLog.contains("val-acc"), refitLog);
    Map<String, Object> out = Json.object(t.out().strip());
    assertEquals((double) kept, out.get("kept_epoch"));
    assertEquals(30.0, out.get("refit_images"));
    assertEquals((double) refitEpochs, out.get("refit_epochs"));
    assertTrue(Files.isRegularFile(model.resolve("saved_model/saved_model.pb")));

    Run noSplit = run(new TrainCommand(), "--refit", "--validation", "0");
    assertEquals(2, noSplit.status());
    assertTrue(noSplit.err().startsWith("engine-cli train: --refit retrains for the epoch count chosen on the"
        + " validation split: drop --validation 0"), noSplit.err());
    Run resumed = run(new TrainCommand(), "--refit", "--resume");
    assertEquals(2, resumed.status());
    assertTrue(resumed.err().contains("--refit goes with a fresh training"), resumed.err());
  }

  @Test
  void backboneOptionsAreChecked() {
    Run a = run(new TrainCommand(), "--backbone", "resnet");
    assertEquals(2, a.status());
    assertEquals("engine-cli train: --backbone is scratch or mobilenet_v2 (passed 'resnet')",
        a.err().lines().findFirst().orElse(""));
    Run b = run(new TrainCommand(), "--codes", "lsh");
    assertEquals(2, b.status());
    assertTrue(b.err().contains("--codes is trained or itq"), b.err());
    Run c = run(new TrainCommand(), "--epochs", "0");
    assertEquals(2, c.status());
    assertTrue(c.err().contains("--epochs 0 (no training) needs --backbone mobilenet_v2 --codes itq"), c.err());
  }

  /** Label-free codes on the ImageNet backbone (PCA-ITQ, no training), indexed and opened like any model. */
  @Test
  void labelFreeMobileNetCodesOnAnImageFolder() throws Exception {
    Path weights = Path.of(System.getProperty("deephash.root", "../.."), "data/pretrained/mobilenet_v2");
    org.deephash.testing.RequiredData.require(Files.isDirectory(weights), "the ImageNet MobileNetV2 at " + weights,
        "run bench/delf/setup-pretrained.sh (needs npm)");
    Path data = dir.resolve("shapes");
    SplittableRandom rnd = new SplittableRandom(3);
    for (String c : List.of("a", "b")) {
      for (int i = 0; i < 20; i++) {
        image(data.resolve(c).resolve("img" + i + ".png"), c.equals("a") ? 0xc04040 : 0x4040c0, rnd);
      }
    }
    Path model = dir.resolve("mnv2");
    Run missing = run(new TrainCommand(), "--data", data.toString(), "--backbone", "mobilenet_v2", "--pretrained",
        dir.resolve("none").toString(), "--model", model.toString());
    assertEquals(1, missing.status());
    assertTrue(missing.err().contains("no pretrained MobileNetV2 at"), missing.err());
    Run t = run(new TrainCommand(), "--data", data.toString(), "--backbone", "mobilenet_v2", "--pretrained",
        weights.toString(), "--size", "32x32", "--codes", "itq", "--epochs", "0", "--bits", "16", "--model",
        model.toString(), "--no-test");
    assertEquals(0, t.status(), t.err());
    assertTrue(t.err().contains("PCA-ITQ (16 bits)"), t.err());
    assertEquals("mobilenet_v2", new ModelDir(model).readConfig().backbone());
    Path index = dir.resolve("mnv2.dhx");
    Run i = run(new IndexCommand(), "--model", model.toString(), "--out", index.toString());
    assertEquals(0, i.status(), i.err());
    try (LoadedIndex idx = IndexFile.load(index)) {
      assertEquals(40, idx.table().liveCount());
      assertEquals(16, idx.table().bits());
    }
  }

  /** A 16-bit model of 16 x 16 x 3 inputs, trained one epoch on six noisy red and blue squares. */
  private Path tinyPhotoModel(SplittableRandom rnd) throws Exception {
    Path data = dir.resolve("shapes");
    for (int i = 0; i < 6; i++) {
      image(data.resolve((i % 2 == 0 ? "red" : "blue") + "/img" + i + ".png"), i % 2 == 0 ? 0xd02020 : 0x2020d0, rnd);
    }
    Path model = dir.resolve("model");
    Run t = run(new TrainCommand(), "--data", data.toString(), "--size", "16x16x3", "--model", model.toString(),
        "--bits", "16", "--epochs", "1", "--batch", "6");
    assertEquals(0, t.status(), t.err());
    return model;
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
