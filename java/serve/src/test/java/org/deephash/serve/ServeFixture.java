package org.deephash.serve;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;
import org.deephash.io.Json;
import org.deephash.index.IndexFile;
import org.deephash.index.LoadedIndex;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.net.Encoder;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.TrainOptions;

/**
 * A real, small deployment for the tests, on generated pictures ({@link SyntheticImages}) so it
 * needs no data set: a network trained for a few steps on them, an index of 3,000 of them written
 * through the CLI's pipeline, and the service (which opens and watches the index file, as
 * {@code engine-cli serve} does) and HTTP API over it on a free loopback port. {@link #index} and
 * {@link #direct} are a second opening of the same file and a search over it, the reference the
 * HTTP answers are compared with; {@link #log} collects the service's log lines.
 */
final class ServeFixture implements AutoCloseable, ApiClient.Served {
  static final int ROWS = 3000;

  final Path dir;
  final Dataset train;
  final Dataset test;
  final Path file;
  final Path model;
  final LoadedIndex index;
  final GpuHashSearch direct;
  final String backend;
  final List<String> log = new CopyOnWriteArrayList<>();
  final Encoder encoder;
  final Encoder directEncoder;
  final SearchService service;
  final HttpApi api;
  final ApiClient client;

  ServeFixture(Path dir, ServeConfig config) throws Exception {
    this.dir = dir;
    train = SyntheticImages.write(dir.resolve("train-images-idx3-ubyte"), ROWS, 1);
    test = SyntheticImages.write(dir.resolve("t10k-images-idx3-ubyte"), 200, 2);
    model = dir.resolve("model");
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    HashNetConfig net = HashNetConfig.of(28, 28, 1, 48, SyntheticImages.CLASSES).withWidths(8, 16, 64);
    Pipeline.train(train, null, model, net, TrainOptions.defaults().withEpochs(1).withMaxSteps(40), false, quiet);
    file = dir.resolve("index.dhx");
    Pipeline.index(model, train, file, quiet);
    index = IndexFile.load(file);
    encoder = Encoder.open(model);
    directEncoder = Encoder.open(model);
    service = SearchService.open(file, new SearchOptions(null, 2), encoder, config, log::add);
    IndexGeneration g = service.acquire();
    try {
      backend = g.search().backendName();
    } finally {
      g.release();
    }
    direct = GpuHashSearch.open(index.table(), new SearchOptions(backend, 2));
    api = HttpApi.start(service, config.withPort(0));
    client = new ApiClient(api.url());
  }

  @Override
  public ApiClient client() {
    return client;
  }

  /**
   * A POST that asks before sending its body ({@code Expect: 100-continue}), as well-behaved clients
   * of large uploads do: a refusal of the announced size (413) then arrives before any body byte,
   * instead of racing the upload (the server closes the connection after refusing it, which a
   * client still sending may see as a reset before it reads the answer).
   */
  HttpResponse<String> postAsking(String path, String contentType, byte[] body) throws Exception {
    return client.http.send(HttpRequest.newBuilder(uri(path)).header("Content-Type", contentType).expectContinue(true)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  /** {@code /stats} as parsed JSON. */
  Map<String, Object> stats() throws Exception {
    return Json.object(get("/stats").body());
  }

  /** Test image {@code i} as a PNG file's bytes. */
  byte[] testPng(int i) {
    return IndexImages.png(test, i);
  }

  @Override
  public void close() {
    for (AutoCloseable c : new AutoCloseable[] {api, service, direct, encoder, directEncoder, index}) {
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
