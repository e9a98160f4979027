package org.deephash.serve;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.deephash.SearchOptions;
import org.deephash.cli.api.Progress;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Pixels;
import org.deephash.model.net.Encoder;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.TrainOptions;

/**
 * A photo folder served end to end, as {@code engine-cli index --photos DIR} then {@code serve}
 * run it: generated 320 x 240 photos (JPEG and PNG, in nested sub-folders, with a corrupt file, a
 * WebP file and a text file among them), a small network trained for a few steps on {@link
 * SyntheticImages}, the folder indexed through {@link Pipeline#indexPhotos}, and the service and
 * HTTP API over the index.
 */
final class PhotoFixture implements AutoCloseable, ApiClient.Served {
  static final int PHOTOS = 40;

  final Path photos;
  final Path model;
  final Path file;
  final List<String> expectedPaths = new ArrayList<>();
  final Pipeline.PhotoIndexResult indexed;
  final Encoder encoder;
  final SearchService service;
  final HttpApi api;
  final ApiClient client;

  PhotoFixture(Path dir) throws Exception {
    Dataset train = SyntheticImages.write(dir.resolve("train-images-idx3-ubyte"), 600, 1);
    model = dir.resolve("model");
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    HashNetConfig net = HashNetConfig.of(28, 28, 1, 48, SyntheticImages.CLASSES).withWidths(8, 16, 64);
    Pipeline.train(train, null, model, net, TrainOptions.defaults().withEpochs(1).withMaxSteps(20), false, quiet);

    photos = dir.resolve("photos");
    Dataset shapes = SyntheticImages.write(dir.resolve("shapes-idx3-ubyte"), PHOTOS, 5);
    for (int i = 0; i < PHOTOS; i++) {
      String cls = SyntheticImages.CLASSES.get(shapes.labels()[i]);
      // three depths: DIR/x, DIR/cls/x, DIR/cls/more/x
      String rel = (i % 3 == 0 ? "" : cls + "/") + (i % 3 == 2 ? "more/" : "") + String.format("p%02d", i)
          + (i % 2 == 0 ? ".jpg" : ".png");
      Path p = photos.resolve(rel);
      Files.createDirectories(p.getParent());
      ImageIO.write(photo(shapes, i), i % 2 == 0 ? "jpeg" : "png", p.toFile());
      expectedPaths.add(rel);
    }
    expectedPaths.sort(null);
    Files.createDirectories(photos.resolve("broken"));
    Files.writeString(photos.resolve("broken/corrupt.jpg"), "not a JPEG at all");
    Files.write(photos.resolve("broken/modern.webp"), "RIFF....WEBPVP8 ".getBytes(StandardCharsets.US_ASCII));
    Files.writeString(photos.resolve("README.txt"), "a text file: neither indexed nor skipped");

    file = dir.resolve("photos.dhx");
    indexed = Pipeline.indexPhotos(model, photos, file, 2, Progress.none(), quiet);
    encoder = Encoder.open(model);
    service = SearchService.open(file, new SearchOptions(null, 2), encoder, ServeConfig.defaults(), line -> {});
    api = HttpApi.start(service, ServeConfig.defaults().withPort(0));
    client = new ApiClient(api.url());
  }

  /** Synthetic image i, scaled up to a 320 x 240 colour photo with a border that tells its orientation. */
  static BufferedImage photo(Dataset d, int i) {
    BufferedImage small = Pixels.toImage(d, i);
    BufferedImage img = new BufferedImage(320, 240, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = img.createGraphics();
    g.setColor(new Color(40 + 5 * i, 90, 160));
    g.fillRect(0, 0, 320, 240);
    g.drawImage(small, 40, 0, 240, 240, null);
    g.setColor(Color.ORANGE);
    g.fillRect(0, 0, 20, 20);
    g.dispose();
    return img;
  }

  @Override
  public ApiClient client() {
    return client;
  }

  @Override
  public void close() {
    for (AutoCloseable c : new AutoCloseable[] {api, service, encoder}) {
      try {
        if (c != null) {
          c.close();
        }
      } catch (Exception e) {
        // best effort
      }
    }
  }
}
