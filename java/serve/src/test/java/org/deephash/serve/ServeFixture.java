package org.deephash.serve;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;
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
 * through the CLI's pipeline, and the service and HTTP API over it on a free loopback port.
 * {@link #direct} is a second search over the same table, the reference the HTTP answers are
 * compared with.
 */
final class ServeFixture implements AutoCloseable {
  static final int ROWS = 3000;

  final Path dir;
  final Dataset train;
  final Dataset test;
  final LoadedIndex index;
  final GpuHashSearch search;
  final GpuHashSearch direct;
  final Encoder encoder;
  final Encoder directEncoder;
  final SearchService service;
  final HttpApi api;
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  ServeFixture(Path dir, ServeConfig config) throws Exception {
    this.dir = dir;
    train = SyntheticImages.write(dir.resolve("train-images-idx3-ubyte"), ROWS, 1);
    test = SyntheticImages.write(dir.resolve("t10k-images-idx3-ubyte"), 200, 2);
    Path model = dir.resolve("model");
    PrintStream quiet = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
    HashNetConfig net = HashNetConfig.of(28, 28, 1, 48, SyntheticImages.CLASSES).withWidths(8, 16, 64);
    Pipeline.train(train, null, model, net, TrainOptions.defaults().withEpochs(1).withMaxSteps(40), false, quiet);
    Path file = dir.resolve("index.dhx");
    Pipeline.index(model, train, file, quiet);
    index = IndexFile.load(file);
    search = GpuHashSearch.open(index.table(), new SearchOptions(null, 2));
    direct = GpuHashSearch.open(index.table(), new SearchOptions(search.backendName(), 2));
    encoder = Encoder.open(model);
    directEncoder = Encoder.open(model);
    service = new SearchService(index, search, encoder, config);
    api = HttpApi.start(service, config.withPort(0));
  }

  URI uri(String path) {
    return URI.create(api.url()).resolve(path);
  }

  HttpResponse<String> get(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(uri(path)).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<byte[]> getBytes(String path) throws Exception {
    return http.send(HttpRequest.newBuilder(uri(path)).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  HttpResponse<String> post(String path, String contentType, byte[] body) throws Exception {
    return http.send(HttpRequest.newBuilder(uri(path)).header("Content-Type", contentType)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> postJson(String json) throws Exception {
    return post("/search", "application/json", json.getBytes(StandardCharsets.UTF_8));
  }

  /** Test image {@code i} as a PNG file's bytes. */
  byte[] testPng(int i) {
    return IndexImages.png(test, i);
  }

  @Override
  public void close() {
    for (AutoCloseable c : new AutoCloseable[] {api, service, search, direct, encoder, directEncoder, index}) {
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
