package org.deephash.serve;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;
import org.deephash.index.IndexFile;
import org.deephash.index.LoadedIndex;
import org.deephash.model.cli.Args;
import org.deephash.model.cli.BaseCommand;
import org.deephash.model.net.Encoder;

/** {@code engine-cli serve}: the query-by-example HTTP API and web page over an index file. */
public final class ServeCommand extends BaseCommand {
  @Override
  public String name() {
    return "serve";
  }

  @Override
  public String summary() {
    return "HTTP API and web page: upload an image, see the most similar indexed images";
  }

  @Override
  protected List<String> valueOptions() {
    return List.of("index", "model", "port", "host", "backend", "max-k", "max-pool", "max-body-mb", "timeout-ms",
        "batch-window-us", "max-batch");
  }

  @Override
  protected List<String> flagOptions() {
    return List.of("help");
  }

  @Override
  protected String usage() {
    return """
        usage: engine-cli serve --index FILE [--model DIR] [--port 8080] [--host 127.0.0.1] [limits]
          --index FILE        an index file (engine-cli index / demo: codes, F7 features, labels, paths)
          --model DIR         the model that made it: encodes uploaded images (without it only JSON
                              queries by id or code are answered)
          --port N            TCP port (default 8080; 0 = any free port)
          --host ADDR         address to bind (default 127.0.0.1: this machine only; 0.0.0.0 = everyone)
          --backend NAME      search backend (default: the engine's choice: cuda, native, java)
          --max-k N           largest k a request may ask (default 1000)
          --max-pool N        largest re-rank pool / radius cap (default 10000)
          --max-body-mb N     largest upload in MiB (default 8)
          --timeout-ms N      a query unanswered after this long gets 503 (default 10000)
          --batch-window-us N how long the batcher waits for more queries (default 1000)
          --max-batch N       most queries per engine call (default 256)
        Routes: GET / (web page), POST /search, GET /images/{id}, GET /health, GET /stats (docs/SERVE.md).
        """;
  }

  @Override
  protected int execute(Args a, PrintStream out, PrintStream err) throws Exception {
    ServeConfig d = ServeConfig.defaults();
    ServeConfig config = d.withHost(a.get("host", d.host())).withPort(a.getInt("port", d.port()))
        .withLimits(a.getInt("max-body-mb", d.maxBodyBytes() >> 20) << 20, a.getInt("max-k", d.maxK()),
            a.getInt("max-pool", d.maxPool()), a.getLong("timeout-ms", d.timeoutMs()))
        .withBatching(a.getLong("batch-window-us", d.batchWindowMicros()), a.getInt("max-batch", d.maxBatch()),
            d.maxQueued());
    Path indexFile = Path.of(a.require("index"));
    Encoder encoder = a.has("model") ? Encoder.open(Path.of(a.get("model", null))).batchSize(config.maxBatch()) : null;
    try (LoadedIndex index = IndexFile.load(indexFile);
        GpuHashSearch search = GpuHashSearch.open(index.table(),
            new SearchOptions(a.get("backend", null), Runtime.getRuntime().availableProcessors()));
        SearchService service = new SearchService(index, search, encoder, config);
        HttpApi api = HttpApi.start(service, config)) {
      err.printf("serving %s (%d images, %d-bit codes%s) with the %s backend%s%n", indexFile,
          index.table().liveCount(), index.table().bits(), index.table().hasFeatures()
              ? ", " + index.table().dim() + "-d features" : "", search.backendName(),
          encoder == null ? "; no model: JSON queries only" : "");
      out.println("open " + api.url() + "  (Ctrl-C stops)");
      out.flush();
      CountDownLatch stop = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
      stop.await();
    } finally {
      if (encoder != null) {
        encoder.close();
      }
    }
    return 0;
  }
}
