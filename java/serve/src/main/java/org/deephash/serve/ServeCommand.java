package org.deephash.serve;

import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import org.deephash.SearchOptions;
import org.deephash.cli.api.Cli;
import org.deephash.cli.api.CliCommand;
import org.deephash.model.eval.FineStage;
import org.deephash.model.net.Encoder;
import org.deephash.model.net.ModelDir;
import org.deephash.model.net.TensorFlowLog;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code engine-cli serve}: the query-by-example HTTP API and web page over an index file. */
@Command(name = "serve", description = "HTTP API and web page: upload an image, see the most similar indexed images.",
    footer = "Routes: GET / (web page), POST /search, GET /images/{id}, GET /health, GET /stats (docs/SERVE.md).")
public final class ServeCommand extends CliCommand {
  private static final ServeConfig D = ServeConfig.defaults();

  @Option(names = "--index", paramLabel = "FILE", required = true,
      description = "An index file (engine-cli index / demo: codes, F7 features, labels, paths).")
  Path indexFile;

  @Option(names = "--model", paramLabel = "DIR",
      description = "The model that made it: encodes uploaded images (without it only JSON queries by id or code are"
          + " answered).")
  Path model;

  @Option(names = "--delf", paramLabel = "DIR",
      description = "A DELF index folder over the same photos (engine-cli delf index --images PHOTOS): results of a"
          + " query by an indexed photo or an upload carry RANSAC inlier counts, and a clicked result shows the"
          + " correspondences.")
  Path delf;

  @Option(names = "--delf-model", paramLabel = "DIR",
      description = {"With --delf: the DELF model that extracts uploads' local features, so uploads are verified too",
          "(default: the model the DELF folder records, when it is still there)."})
  Path delfModel;

  @Option(names = "--fine", paramLabel = "STAGE",
      description = {"How HDS re-orders the Hamming pool: f7 (the paper), f7n, latent, f7n-ties, latent-ties or none",
          "(default: the model's, chosen on its validation split; f7 without --model)."})
  String fine;

  @Option(names = "--port", paramLabel = "N", description = "TCP port, 0 = any free port (default: ${DEFAULT-VALUE}).")
  int port = D.port();

  @Option(names = "--host", paramLabel = "ADDR",
      description = "Address to bind (default: ${DEFAULT-VALUE}: this machine only; 0.0.0.0 = everyone).")
  String host = D.host();

  @Option(names = "--backend", paramLabel = "NAME", description = "Search backend (default: the engine's choice: cuda, native, java).")
  String backend;

  @Option(names = "--max-k", paramLabel = "N", description = "Largest k a request may ask (default: ${DEFAULT-VALUE}).")
  int maxK = D.maxK();

  @Option(names = "--max-pool", paramLabel = "N", description = "Largest re-rank pool / radius cap (default: ${DEFAULT-VALUE}).")
  int maxPool = D.maxPool();

  @Option(names = "--max-body-mb", paramLabel = "N", description = "Largest upload in MiB (default: ${DEFAULT-VALUE}).")
  int maxBodyMb = D.maxBodyBytes() >> 20;

  @Option(names = "--timeout-ms", paramLabel = "N",
      description = "A query unanswered after this long gets 503 (default: ${DEFAULT-VALUE}).")
  long timeoutMs = D.timeoutMs();

  @Option(names = "--batch-window-us", paramLabel = "N",
      description = "How long the batcher waits for more queries (default: ${DEFAULT-VALUE}).")
  long batchWindowUs = D.batchWindowMicros();

  @Option(names = "--max-batch", paramLabel = "N", description = "Most queries per engine call (default: ${DEFAULT-VALUE}).")
  int maxBatch = D.maxBatch();

  @Option(names = "--idle-timeout-ms", paramLabel = "N",
      description = "Close a connection on which no byte moves for this long (default: ${DEFAULT-VALUE}).")
  long idleTimeoutMs = D.idleTimeoutMs();

  @Option(names = "--request-timeout-ms", paramLabel = "N",
      description = "A request (head and body) must arrive within this long, else 408 / closed (default:"
          + " ${DEFAULT-VALUE}).")
  long requestTimeoutMs = D.requestTimeoutMs();

  @Option(names = "--max-connections", paramLabel = "N",
      description = "Most connections open at once; more wait to be accepted (default: ${DEFAULT-VALUE}).")
  int maxConnections = D.maxConnections();

  @Option(names = "--decode-budget-mb", paramLabel = "N",
      description = "Most MiB of decoded upload pixels in flight, all requests together; beyond it 503 (default:"
          + " ${DEFAULT-VALUE}).")
  int decodeBudgetMb = (int) (D.decodeBudgetBytes() >> 20);

  @Option(names = "--thumb-cache-mb", paramLabel = "N",
      description = "Most MiB of photo thumbnails kept beside the index; the least recently used go (default:"
          + " ${DEFAULT-VALUE}).")
  long thumbCacheMb = D.thumbCacheBytes() >> 20;

  @Option(names = "--reload-check-ms", paramLabel = "N",
      description = "Check the index file for a replacement this often and serve a valid one without a pause;"
          + " 0 = never (default: ${DEFAULT-VALUE}).")
  long reloadCheckMs = D.reloadCheckMs();

  private ServeConfig config;
  private FineStage stage;

  @Override
  protected void validate() {
    requireRange("--port", port, 0, 65535);
    if (delfModel != null && delf == null) {
      throw usage("--delf-model goes with --delf DIR (the DELF index folder whose uploads it verifies)");
    }
    requireRange("--max-k", maxK, 1, 1 << 20);
    requireRange("--max-pool", maxPool, 1, Integer.MAX_VALUE);
    requireRange("--max-body-mb", maxBodyMb, 1, 2047);
    requireRange("--timeout-ms", timeoutMs, 1, Long.MAX_VALUE);
    requireRange("--batch-window-us", batchWindowUs, 0, 60_000_000);
    requireRange("--max-batch", maxBatch, 1, 1 << 20);
    requireRange("--idle-timeout-ms", idleTimeoutMs, 1, Long.MAX_VALUE / 1_000_000);
    requireRange("--request-timeout-ms", requestTimeoutMs, 1, Long.MAX_VALUE / 1_000_000);
    requireRange("--max-connections", maxConnections, 1, 1 << 20);
    requireRange("--decode-budget-mb", decodeBudgetMb, 1, 1 << 20);
    requireRange("--reload-check-ms", reloadCheckMs, 0, 86_400_000);
    requireRange("--thumb-cache-mb", thumbCacheMb, 1, 1L << 30);
    if (fine != null) {
      try {
        stage = FineStage.of(fine);
      } catch (IllegalArgumentException e) {
        throw usage("--fine: " + e.getMessage());
      }
      if (stage.usesLatent() && model == null) {
        throw usage("--fine " + stage.key() + " ranks on the model's latent activations: give --model too");
      }
    }
    config = D.withHost(host).withPort(port).withLimits(maxBodyMb << 20, maxK, maxPool, timeoutMs)
        .withBatching(batchWindowUs, maxBatch, D.maxQueued())
        .withConnections(idleTimeoutMs, requestTimeoutMs, maxConnections)
        .withDecodeBudget((long) decodeBudgetMb << 20).withReloadCheck(reloadCheckMs)
        .withThumbCache(thumbCacheMb << 20);
  }

  @Override
  protected int execute() throws Exception {
    // TensorFlow's own info lines stay off stderr while a model is loaded (without one it never loads)
    try (TensorFlowLog.Quiet quiet = TensorFlowLog.quiet(model == null || Cli.debug())) {
      return serve();
    }
  }

  private int serve() throws Exception {
    Encoder encoder = model != null ? Encoder.open(model).batchSize(config.maxBatch()) : null;
    SearchOptions options = new SearchOptions(backend, Runtime.getRuntime().availableProcessors());
    // the DELF folder first: a wrong --delf fails before the index is opened
    DelfVerifier delfVerifier = delf != null ? DelfVerifier.open(delf, delfModel) : null;
    FineStage use = stage != null ? stage : model == null ? FineStage.F7
        : FineStage.recordedBy(new ModelDir(model));
    try (SearchService service = SearchService.open(indexFile, options, encoder, config, this::log).fineStage(use);
        HttpApi api = HttpApi.start(service, config, delfVerifier != null ? delfVerifier : Verifier.NONE)) {
      IndexGeneration g = service.acquire();
      try {
        if (delfVerifier != null) {
          err.printf("DELF verification from %s: %d of %d photos have local features; %s%n", delf,
              delfVerifier.covered(g), g.table().liveCount(), delfVerifier.uploadNote());
        }
        err.printf("serving %s (%d images, %d-bit codes%s) with the %s backend%s%s%n", indexFile,
            g.table().liveCount(), g.table().bits(), g.table().hasFeatures() ? ", " + g.table().dim()
                + "-d features, fine stage " + use.key() : "", g.search().backendName(), encoder == null ? "; no model: JSON queries only"
                : "", config.reloadCheckMs() > 0 ? "; a new file renamed over it is served without a pause" : "");
      } finally {
        g.release();
      }
      out.println("open " + api.url() + "  (Ctrl-C stops)");
      out.flush();
      CountDownLatch stop = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
      stop.await();
    } finally {
      if (encoder != null) {
        encoder.close();
      }
      if (delfVerifier != null) {
        delfVerifier.close();
      }
    }
    return 0;
  }

  /** A reload or a refused replacement: one line on stderr. */
  private void log(String line) {
    synchronized (err) {
      err.println(line);
      err.flush();
    }
  }
}
