package org.deephash.serve;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.deephash.io.Json;
import org.deephash.model.data.Pixels;
import org.deephash.model.net.HashNetConfig;
import org.eclipse.jetty.http.HttpException;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnectionLimit;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Blocker;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The HTTP API and web page of {@code engine-cli serve}, on Jetty (its core API, no servlets),
 * with a virtual thread per request.
 *
 * <ul>
 *   <li>{@code POST /search}: an image (body = the PNG/JPEG/GIF/BMP bytes, options in the query
 *       string: {@code k, mode=hds|bcs, pool, radius, cap}) or a JSON object with {@code id} (search
 *       with an indexed image) or {@code code} (hex) and, for HDS, {@code feature}, plus the same
 *       options; answers the top-k as JSON with ids, paths, labels, Hamming and Euclidean
 *       distances and the time of each stage.
 *   <li>{@code GET /images/{id}}: an indexed image (only the index's own sources are ever read).
 *   <li>{@code GET /health}, {@code GET /stats}: liveness; index, backend, query counts, latencies.
 *   <li>{@code GET /}: the web page.
 * </ul>
 * Every GET route answers HEAD too. Bad input gets a 4xx with a JSON {@code {"error": ...}} that
 * says what to fix, including a request the HTTP parser refuses before it reaches a route (a bad
 * Content-Length, a malformed %-escape or chunk, oversized headers).
 *
 * <p>Why Jetty rather than the JDK's {@code com.sun.net.httpserver}: the JDK server answers such
 * malformed requests itself with an HTML page before any handler or filter runs, has no read
 * timeout on a request body, and takes its connection limits and timeouts only from JVM-wide
 * system properties read once; Jetty's parser errors go through our {@link ErrorHandler}, and its
 * idle timeout, connection limit and thread pool are set per server.
 *
 * <p>Resources a client can hold: a connection on which no byte moves is closed after {@code
 * idleTimeoutMs}; a request head or body must arrive within {@code requestTimeoutMs} ({@link
 * ConnectionGuard}, and the body read's own deadline: 408); at most {@code maxConnections} are
 * open (more wait in the accept queue); decoded pixels are bounded by the {@link DecodeBudget}.
 *
 * <p>This class is the HTTP plumbing only: routing, body limits, the batcher's timeout. A request
 * is parsed and validated by {@link RequestParser}, its image decoded by {@link ImageDecoder},
 * answered by {@link SearchService}, and written out by {@link ResponseRenderer}; {@link
 * SearchStats} counts it.
 */
public final class HttpApi implements AutoCloseable {
  /** Jetty's own INFO lines (start, stop) stay off stderr unless logging is configured otherwise. */
  private static final Logger JETTY_LOG = Logger.getLogger("org.eclipse.jetty");
  /** A request attribute: its body has been read to the end. */
  private static final String BODY_READ = "org.deephash.serve.bodyRead";

  private final SearchService service;
  private final ServeConfig config;
  private final RequestParser parser;
  private final ResponseRenderer renderer;
  private final ImageDecoder decoder;
  private final Verifier verifier;
  /**
   * Decodes uploads on platform threads, one per core: decoding is CPU-bound, and on the request's
   * virtual thread it would hold a carrier for its whole length (virtual threads are not time
   * sliced), so a few large uploads would starve every other connection, even its reads.
   */
  private final ThreadPoolExecutor decodePool;
  private final SearchStats stats = new SearchStats();
  private final ConnectionGuard guard;
  private final Server server;
  private final ServerConnector connector;
  private final ScheduledExecutorService sweeper;
  private final ExecutorService requestThreads = Executors.newVirtualThreadPerTaskExecutor();
  private final byte[] page;
  private final long startNanos = System.nanoTime();

  private HttpApi(SearchService service, ServeConfig config, Verifier verifier) throws IOException {
    this.service = service;
    this.config = config;
    this.verifier = verifier;
    this.parser = new RequestParser(new RequestParser.Context(service.bits(), service.dim(), service.model() != null,
        config));
    this.renderer = new ResponseRenderer(service.model(), () -> service.fineStage().key());
    this.decoder = new ImageDecoder(new DecodeBudget(config.decodeBudgetBytes()));
    int cores = Math.max(1, Runtime.getRuntime().availableProcessors());
    this.decodePool = new ThreadPoolExecutor(cores, cores, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(256),
        Thread.ofPlatform().name("deephash-serve-decode-", 0).daemon().factory());
    decodePool.allowCoreThreadTimeOut(true);
    try (InputStream in = HttpApi.class.getResourceAsStream("index.html")) {
      if (in == null) {
        throw new IOException("the web page (org/deephash/serve/index.html) is missing from the jar");
      }
      this.page = in.readAllBytes();
    }
    this.guard = new ConnectionGuard(config.requestTimeoutMs());

    QueuedThreadPool threads = new QueuedThreadPool();
    threads.setName("deephash-serve");
    threads.setVirtualThreadsExecutor(requestThreads);
    this.server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendXPoweredBy(false);
    this.connector = new ServerConnector(server, 1, 1, new HttpConnectionFactory(http));
    connector.setHost(config.host());
    connector.setPort(config.port());
    connector.setIdleTimeout(config.idleTimeoutMs());
    connector.setAcceptQueueSize(256);
    connector.addEventListener(guard);
    server.addConnector(connector);
    NetworkConnectionLimit limit = new NetworkConnectionLimit(config.maxConnections(), connector);
    // at the cap, idle connections give way sooner to the clients waiting to connect
    limit.setEndPointIdleTimeout(Math.min(config.idleTimeoutMs(), 1000));
    server.addBean(limit);
    server.setErrorHandler(new JsonErrors());
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        HttpApi.this.handle(request, response, callback);
        return true;
      }
    });
    this.sweeper = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("deephash-serve-sweep")
        .daemon().unstarted(r));
    long every = Math.max(10, Math.min(1000, config.requestTimeoutMs() / 4));
    sweeper.scheduleWithFixedDelay(guard::sweep, every, every, TimeUnit.MILLISECONDS);
  }

  /** Starts serving; {@link #port()} says where. */
  public static HttpApi start(SearchService service, ServeConfig config) throws IOException {
    return start(service, config, Verifier.NONE);
  }

  /** As {@link #start(SearchService, ServeConfig)}, with a verifier of results by local features. */
  static HttpApi start(SearchService service, ServeConfig config, Verifier verifier) throws IOException {
    if (JETTY_LOG.getLevel() == null) {
      JETTY_LOG.setLevel(Level.WARNING);
    }
    HttpApi api = new HttpApi(service, config, verifier);
    try {
      api.server.start();
    } catch (Exception e) {
      api.close();
      throw new IOException("cannot listen on " + config.host() + ":" + config.port() + " (" + e.getMessage()
          + "): is another server using that port? Choose another with --port (0: any free port)", e);
    }
    return api;
  }

  /** The bound port (useful with port 0). */
  public int port() {
    return connector.getLocalPort();
  }

  public String url() {
    String h = config.host().contains(":") ? "[" + config.host() + "]" : config.host();
    return "http://" + h + ":" + port() + "/";
  }

  /** Connection counts (open, peak, timeouts, malformed requests) as in {@code /stats}. */
  Json connectionStats() {
    return guard.stats(config.maxConnections());
  }

  @Override
  public void close() {
    sweeper.shutdownNow();
    decodePool.shutdownNow();
    try {
      server.stop();
    } catch (Exception e) {
      // stopping: connections are closed either way
    }
    requestThreads.shutdownNow();
  }

  // ---- routing ------------------------------------------------------------------------------

  /** A client that went away: there is no one left to answer. */
  private static final class ClientGone extends Exception {
    ClientGone(Throwable cause) {
      super(cause);
    }
  }

  private void handle(Request req, Response resp, Callback callback) {
    long t0 = System.nanoTime();
    Connection connection = req.getConnectionMetaData().getConnection();
    guard.requestStarted(connection);
    boolean search = false;
    int status = 0;
    try {
      try {
        String path = req.getHttpURI().getPath();
        String method = req.getMethod();
        if (path.equals("/search")) {
          search = true;
          allow(method, "POST");
          status = search(req, resp, t0);
        } else if (path.startsWith("/images/")) {
          allowGet(method);
          status = image(req, resp, path.substring("/images/".length()));
        } else if (path.startsWith("/thumbs/")) {
          allowGet(method);
          status = thumbnail(req, resp, path.substring("/thumbs/".length()), t0);
        } else if (path.startsWith("/matches/")) {
          allowGet(method);
          status = matches(resp, path.substring("/matches/".length()));
        } else if (path.equals("/health")) {
          allowGet(method);
          status = sendJson(resp, 200, new Json().put("status", "ok"));
        } else if (path.equals("/stats")) {
          allowGet(method);
          status = sendJson(resp, 200, stats());
        } else if (path.equals("/") || path.equals("/index.html")) {
          allowGet(method);
          resp.getHeaders().put("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:;"
              + " style-src 'unsafe-inline'; script-src 'unsafe-inline'");
          status = send(resp, 200, "text/html; charset=utf-8", page);
        } else {
          throw new ApiException(404, "no such route " + RequestParser.safe(path) + ": try POST /search, GET"
              + " /images/{id}, GET /thumbs/{id}, GET /health, GET /stats or GET /");
        }
      } catch (ApiException e) {
        status = error(req, resp, e.status(), e.getMessage());
      } catch (RuntimeException e) {
        status = error(req, resp, 500, "internal error: " + e);
      }
      callback.succeeded();
    } catch (ClientGone e) {
      status = -1;
      callback.failed(e.getCause());
    } catch (Throwable e) {
      callback.failed(e); // an Error: Jetty closes the connection, so no client is left waiting
      throw e;
    } finally {
      guard.requestDone(connection);
      if (search) {
        if (status < 0) {
          stats.recordGone();
        } else {
          stats.record(status, (System.nanoTime() - t0) / 1e6);
        }
      }
    }
  }

  private static void allow(String method, String allowed) {
    if (!method.equals(allowed)) {
      throw new ApiException(405, "use " + allowed + " here (not " + RequestParser.safe(method) + ")");
    }
  }

  private static void allowGet(String method) {
    if (!method.equals("GET") && !method.equals("HEAD")) {
      throw new ApiException(405, "use GET (or HEAD) here (not " + RequestParser.safe(method) + ")");
    }
  }

  private Json stats() {
    IndexGeneration g = service.acquire();
    try {
      Json decode = decoder.budget().stats().put("threads", decodePool.getMaximumPoolSize())
          .put("queued", decodePool.getQueue().size());
      return renderer.stats(g, stats, service.batchStats(), service.reloadStats(), connectionStats(), decode, config,
          (System.nanoTime() - startNanos) / 1e9);
    } finally {
      g.release();
    }
  }

  // ---- POST /search -------------------------------------------------------------------------

  private int search(Request req, Response resp, long t0) throws ClientGone {
    byte[] body = readBody(req, t0);
    long tDecode = System.nanoTime();
    SearchRequest sr = parser.parse(req.getHeaders().get(HttpHeader.CONTENT_TYPE), req.getHttpURI().getQuery(), body);
    SearchRequest.Options o = sr.options();
    SearchService.Query q = switch (sr.source()) {
      case SearchRequest.ById byId -> new SearchService.Query(null, null, null, byId.id(), o.mode(), o.k(), o.pool(),
          o.radius(), o.cap());
      case SearchRequest.ByCode c -> new SearchService.Query(null, c.code(), c.feature(), null, o.mode(), o.k(),
          o.pool(), o.radius(), o.cap());
      case SearchRequest.ByImage img -> {
        float[] pixels = decode(img.bytes(), t0);
        yield new SearchService.Query(pixels, null, null, null, o.mode(), o.k(), o.pool(), o.radius(), o.cap());
      }
    };
    double decodeMs = (System.nanoTime() - tDecode) / 1e6;
    SearchService.Answer a = answer(q, t0);
    try {
      int[] inliers = null;
      String uploadKey = null;
      if (a.queryRow() >= 0) {
        inliers = verifier.inliers(a.generation(), a.queryRow(), a.rows());
      } else if (sr.source() instanceof SearchRequest.ByImage img && verifier.uploadSide() > 0) {
        // the upload's local features: decoded again as the indexed photos were, on the decode pool
        int side = verifier.uploadSide();
        java.awt.image.BufferedImage picture = onDecodePool(() -> decoder.picture(img.bytes(), config, side), t0);
        Verifier.UploadCheck check = verifier.inliers(a.generation(), picture, a.rows());
        if (check != null) {
          inliers = check.inliers();
          uploadKey = check.key();
        }
      }
      ResponseRenderer.Timings timings = new ResponseRenderer.Timings(decodeMs, (System.nanoTime() - t0) / 1e6);
      return sendJson(resp, 200, renderer.search(sr, q, a, inliers, uploadKey, timings));
    } finally {
      a.release();
    }
  }

  /** An upload's model input, decoded on the decode pool within what is left of the request's time. */
  private float[] decode(byte[] bytes, long t0) {
    HashNetConfig m = service.model();
    return onDecodePool(() -> decoder.decode(bytes, config, m.height(), m.width(), Pixels.Channels.of(m.channels())),
        t0).pixels();
  }

  /** Runs a decoding on the decode pool and waits for it within what is left of the request's time. */
  private <T> T onDecodePool(java.util.concurrent.Callable<T> task, long t0) {
    Future<T> f;
    try {
      f = decodePool.submit(task);
    } catch (RejectedExecutionException e) {
      throw new ApiException(503, "the server is decoding too many images now; retry in a moment");
    }
    try {
      long left = config.timeoutMs() - (System.nanoTime() - t0) / 1_000_000;
      return f.get(Math.max(1, left), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      f.cancel(true);
      throw new ApiException(503, "the image was not decoded within " + config.timeoutMs() + " ms (server"
          + " overloaded?)");
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      throw new ApiException(503, "interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof ApiException api) {
        throw api;
      }
      throw new ApiException(500, "decoding failed: " + e.getCause());
    }
  }

  /** Waits for the batcher's answer within what is left of the request's time. */
  private SearchService.Answer answer(SearchService.Query q, long t0) {
    CompletableFuture<SearchService.Answer> f = service.submit(q);
    try {
      long left = config.timeoutMs() - (System.nanoTime() - t0) / 1_000_000;
      return f.get(Math.max(1, left), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      giveUp(f);
      throw new ApiException(503, "the query timed out after " + config.timeoutMs() + " ms (server overloaded?)");
    } catch (InterruptedException e) {
      giveUp(f);
      Thread.currentThread().interrupt();
      throw new ApiException(503, "interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof ApiException api) {
        throw api;
      }
      if (e.getCause() instanceof IllegalArgumentException bad) {
        throw ApiException.badRequest(bad.getMessage());
      }
      throw new ApiException(500, "search failed: " + e.getCause());
    }
  }

  /** No one will render this answer: let its generation go whenever it arrives. */
  private static void giveUp(CompletableFuture<SearchService.Answer> f) {
    f.cancel(false);
    f.whenComplete((a, x) -> {
      if (a != null) {
        a.release();
      }
    });
  }

  // ---- GET /images/{id} ---------------------------------------------------------------------

  private int image(Request req, Response resp, String rawId) throws ClientGone {
    long id = RequestParser.imageId(rawId);
    IndexImages.Image img;
    IndexGeneration g = service.acquire();
    try {
      int row = g.table().rowOf(id);
      if (row < 0) {
        throw new ApiException(404, "no image with id " + id + " in the index");
      }
      img = g.images().image(row);
    } finally {
      g.release();
    }
    resp.getHeaders().put(HttpHeader.CACHE_CONTROL, "max-age=3600");
    return send(resp, 200, img.contentType(), img.bytes());
  }

  // ---- GET /thumbs/{id}[?size=160|480], GET /matches/{queryId}/{resultId} ---------------------

  /**
   * A thumbnail, made on the decode pool as uploads are decoded: making one decodes a photo, which
   * on the request's virtual thread would hold a carrier for as long (seconds for a large photo).
   * One not made within the request's time is still made and cached; the client gets 503.
   */
  private int thumbnail(Request req, Response resp, String rawId, long t0) throws ClientGone {
    long id = RequestParser.imageId(rawId);
    int size = RequestParser.thumbnailSize(req.getHttpURI().getQuery());
    Future<IndexImages.Image> f;
    try {
      f = decodePool.submit(() -> {
        IndexGeneration g = service.acquire();
        try {
          int row = g.table().rowOf(id);
          if (row < 0) {
            throw new ApiException(404, "no image with id " + id + " in the index");
          }
          return g.images().thumbnail(row, size);
        } finally {
          g.release();
        }
      });
    } catch (RejectedExecutionException e) {
      throw new ApiException(503, "the server is decoding too many images now; retry in a moment");
    }
    IndexImages.Image img;
    try {
      long left = config.timeoutMs() - (System.nanoTime() - t0) / 1_000_000;
      img = f.get(Math.max(1, left), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new ApiException(503, "the thumbnail was not made within " + config.timeoutMs() + " ms; it is being"
          + " made: retry in a moment");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new ApiException(503, "interrupted");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof ApiException api) {
        throw api;
      }
      throw new ApiException(500, "making the thumbnail failed: " + e.getCause());
    }
    resp.getHeaders().put(HttpHeader.CACHE_CONTROL, "max-age=3600");
    return send(resp, 200, img.contentType(), img.bytes());
  }

  /** {@code /matches/upload-{key}/{resultId}}: the correspondences of a recent upload. */
  static final String UPLOAD_PREFIX = "upload-";

  private int matches(Response resp, String rawPair) throws ClientGone {
    int slash = rawPair.indexOf('/');
    if (slash < 0) {
      throw ApiException.badRequest("correspondences are addressed by two ids: /matches/{queryId}/{resultId}");
    }
    String first = rawPair.substring(0, slash);
    // an upload is named by the key its answer carried (query.upload_key)
    String uploadKey = first.startsWith(UPLOAD_PREFIX) ? first.substring(UPLOAD_PREFIX.length()) : null;
    long q = uploadKey != null ? -1 : RequestParser.imageId(first);
    long r = RequestParser.imageId(rawPair.substring(slash + 1));
    byte[] png;
    IndexGeneration g = service.acquire();
    try {
      int qRow = uploadKey != null ? -1 : g.table().rowOf(q);
      int rRow = g.table().rowOf(r);
      boolean queryMissing = uploadKey == null && qRow < 0;
      if (queryMissing || rRow < 0) {
        throw new ApiException(404, "no image with id " + (queryMissing ? q : r) + " in the index");
      }
      png = uploadKey != null ? verifier.correspondences(g, uploadKey, rRow) : verifier.correspondences(g, qRow, rRow);
    } finally {
      g.release();
    }
    return send(resp, 200, "image/png", png);
  }

  // ---- plumbing -----------------------------------------------------------------------------

  /**
   * The request body, read as it arrives, within the body limit and the request's deadline: a
   * stalled or trickling upload gets 408 when the deadline passes, whatever the idle timeout.
   */
  private byte[] readBody(Request req, long t0) throws ClientGone {
    long declared = req.getLength();
    if (declared > config.maxBodyBytes()) {
      throw new ApiException(413, "the body is " + declared + " bytes; the limit is " + config.maxBodyBytes());
    }
    long deadline = t0 + config.requestTimeoutMs() * 1_000_000L;
    ByteArrayOutputStream out = new ByteArrayOutputStream(Math.clamp(declared, 256, 1 << 16));
    while (true) {
      Content.Chunk chunk = req.read();
      if (chunk == null) {
        Semaphore ready = new Semaphore(0);
        req.demand(ready::release);
        long left = deadline - System.nanoTime();
        boolean arrived;
        try {
          arrived = left > 0 && ready.tryAcquire(left, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new ApiException(503, "interrupted");
        }
        if (!arrived) {
          guard.bodyTimedOut();
          throw new ApiException(408, "the body did not arrive within " + config.requestTimeoutMs() + " ms ("
              + out.size() + (declared >= 0 ? " of " + declared : "") + " bytes came): send the whole request at"
              + " once");
        }
        continue;
      }
      try {
        if (Content.Chunk.isFailure(chunk)) {
          Exception x = bodyFailure(chunk.getFailure(), out.size());
          if (x instanceof ClientGone gone) {
            throw gone;
          }
          throw (ApiException) x;
        }
        ByteBuffer b = chunk.getByteBuffer();
        if ((long) out.size() + b.remaining() > config.maxBodyBytes()) {
          throw new ApiException(413, "the body is over the limit of " + config.maxBodyBytes() + " bytes");
        }
        byte[] part = new byte[b.remaining()];
        b.get(part);
        out.write(part, 0, part.length);
        if (chunk.isLast()) {
          req.setAttribute(BODY_READ, Boolean.TRUE);
          return out.toByteArray();
        }
      } finally {
        chunk.release();
      }
    }
  }

  /** Why a body could not be read: the client's malformed framing (4xx), its silence (408), or its leaving. */
  private Exception bodyFailure(Throwable failure, int received) {
    if (failure instanceof TimeoutException) {
      guard.bodyTimedOut();
      return new ApiException(408, "no byte of the body arrived for " + config.idleTimeoutMs() + " ms (" + received
          + " bytes came): send the whole request at once");
    }
    if (failure instanceof HttpException h && h.getCode() >= 400 && h.getCode() < 500) {
      // a malformed chunk, or a body shorter than its Content-Length when the client closed: the
      // answer reaches the first, and the second is counted as gone when the write fails
      return new ApiException(h.getCode(), "the body is malformed or ended early after " + received + " bytes ("
          + RequestParser.safe(String.valueOf(h.getReason())) + "): check Content-Length and chunked encoding");
    }
    return new ClientGone(failure);
  }

  private int error(Request req, Response resp, int status, String message) throws ClientGone {
    if (resp.isCommitted()) {
      throw new ClientGone(new IOException("the answer was already on its way: " + message));
    }
    if (status == 503) {
      resp.getHeaders().put(HttpHeader.RETRY_AFTER, "1");
    }
    if (req.getAttribute(BODY_READ) == null && (req.getLength() > 0
        || req.getHeaders().contains(HttpHeader.TRANSFER_ENCODING))) {
      // refused before its body was read: the rest of it is not read either (it may be huge, or
      // never come), so the connection cannot carry another request and the client must know
      resp.getHeaders().put(HttpHeader.CONNECTION, "close");
    }
    return sendJson(resp, status, ResponseRenderer.error(status, message));
  }

  private static int sendJson(Response resp, int status, Json body) throws ClientGone {
    return send(resp, status, "application/json", body.toString().getBytes(StandardCharsets.UTF_8));
  }

  private static int send(Response resp, int status, String type, byte[] body) throws ClientGone {
    resp.setStatus(status);
    HttpFields.Mutable h = resp.getHeaders();
    h.put(HttpHeader.CONTENT_TYPE, type);
    h.put("X-Content-Type-Options", "nosniff");
    h.put(HttpHeader.CONTENT_LENGTH, body.length);
    try (Blocker.Callback done = Blocker.callback()) {
      resp.write(true, ByteBuffer.wrap(body), done);
      done.block();
    } catch (IOException e) {
      throw new ClientGone(e);
    }
    return status;
  }

  /**
   * Requests the HTTP parser refuses (a bad request line, Content-Length or %-escape, oversized
   * headers, conflicting framing) get the same JSON error object as every other refusal.
   */
  private final class JsonErrors extends ErrorHandler {
    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      int status = request.getAttribute(ERROR_STATUS) instanceof Integer s ? s : 500;
      Object message = request.getAttribute(ERROR_MESSAGE);
      String why = message == null ? "" : RequestParser.safe(message.toString());
      // 501 and 505 are the parser's too: a transfer coding or an HTTP version it does not take
      boolean client = status >= 400 && status < 500 || status == 501 || status == 505;
      if (client) {
        guard.malformed();
      }
      String text = status == 505 ? "unsupported HTTP version (" + why + "): use HTTP/1.1"
          : status == 501 ? "not implemented (" + why + "): send the body with Content-Length or chunked"
          : client ? "malformed request" + (why.isEmpty() ? "" : " (" + why + ")") + ": check the request line (a path"
              + " with valid %XX escapes), the Host, Content-Length and Transfer-Encoding headers, and their sizes"
          : "the server could not answer (" + why + ")";
      response.setStatus(status);
      response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
      response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
      response.getHeaders().put("X-Content-Type-Options", "nosniff");
      response.write(true, ByteBuffer.wrap(ResponseRenderer.error(status, text).toString()
          .getBytes(StandardCharsets.UTF_8)), callback);
      return true;
    }
  }
}
