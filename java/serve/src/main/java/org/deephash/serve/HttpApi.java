package org.deephash.serve;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.deephash.CodeTable;
import org.deephash.io.Json;
import org.deephash.model.data.Pixels;
import org.deephash.model.net.HashNetConfig;

/**
 * The HTTP API and web page of {@code engine-cli serve}, on the JDK's own HTTP server with a
 * virtual thread per request.
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
 * Bad input gets a 4xx with a JSON {@code {"error": ...}} that says what to fix.
 *
 * <p>This class is the HTTP plumbing only: routing, body limits, the batcher's timeout. A request
 * is parsed and validated by {@link RequestParser}, answered by {@link SearchService}, and written
 * out by {@link ResponseRenderer}; {@link SearchStats} counts it.
 */
public final class HttpApi implements AutoCloseable {
  private final SearchService service;
  private final ServeConfig config;
  private final IndexImages images;
  private final RequestParser parser;
  private final ResponseRenderer renderer;
  private final SearchStats stats = new SearchStats();
  private final HttpServer server;
  private final ExecutorService executor;
  private final byte[] page;
  private final long startNanos = System.nanoTime();

  private HttpApi(SearchService service, ServeConfig config) throws IOException {
    this.service = service;
    this.config = config;
    this.images = new IndexImages(service.index());
    CodeTable t = service.table();
    this.parser = new RequestParser(new RequestParser.Context(t.bits(), t.dim(), service.model() != null, config));
    this.renderer = new ResponseRenderer(service.index(), service.model());
    try (InputStream in = HttpApi.class.getResourceAsStream("index.html")) {
      if (in == null) {
        throw new IOException("the web page (org/deephash/serve/index.html) is missing from the jar");
      }
      this.page = in.readAllBytes();
    }
    this.server = HttpServer.create(new InetSocketAddress(config.host(), config.port()), 256);
    this.executor = Executors.newVirtualThreadPerTaskExecutor();
    server.setExecutor(executor);
    server.createContext("/", this::handle);
  }

  /** Starts serving; {@link #port()} says where. */
  public static HttpApi start(SearchService service, ServeConfig config) throws IOException {
    HttpApi api = new HttpApi(service, config);
    api.server.start();
    return api;
  }

  /** The bound port (useful with port 0). */
  public int port() {
    return server.getAddress().getPort();
  }

  public String url() {
    String h = config.host().contains(":") ? "[" + config.host() + "]" : config.host();
    return "http://" + h + ":" + port() + "/";
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }

  // ---- routing ------------------------------------------------------------------------------

  private void handle(HttpExchange ex) {
    long t0 = System.nanoTime();
    boolean search = false;
    int status;
    try {
      String path = ex.getRequestURI().getRawPath();
      String method = ex.getRequestMethod();
      if (path.equals("/search")) {
        search = true;
        allow(method, "POST");
        status = search(ex, t0);
      } else if (path.startsWith("/images/")) {
        allow(method, "GET");
        status = image(ex, path.substring("/images/".length()));
      } else if (path.equals("/health")) {
        allow(method, "GET");
        status = sendJson(ex, 200, new Json().put("status", "ok"));
      } else if (path.equals("/stats")) {
        allow(method, "GET");
        status = sendJson(ex, 200, renderer.stats(service.search().backendName(), service.search().device(), stats,
            service.batchStats(), config, (System.nanoTime() - startNanos) / 1e9));
      } else if (path.equals("/") || path.equals("/index.html")) {
        allow(method, "GET");
        ex.getResponseHeaders().set("Content-Security-Policy",
            "default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'");
        status = send(ex, 200, "text/html; charset=utf-8", page);
      } else {
        throw new ApiException(404, "no such route " + RequestParser.safe(path) + ": try POST /search, GET"
            + " /images/{id}, GET /health, GET /stats or GET /");
      }
    } catch (ApiException e) {
      status = error(ex, e.status(), e.getMessage());
    } catch (RuntimeException | IOException e) {
      status = error(ex, 500, "internal error: " + e);
    } finally {
      ex.close(); // even after an Error, so the client is not left waiting
    }
    if (search) {
      stats.record(status, (System.nanoTime() - t0) / 1e6);
    }
  }

  private static void allow(String method, String allowed) {
    if (!method.equals(allowed)) {
      throw new ApiException(405, "use " + allowed + " here (not " + RequestParser.safe(method) + ")");
    }
  }

  // ---- POST /search -------------------------------------------------------------------------

  private int search(HttpExchange ex, long t0) throws IOException {
    byte[] body = readBody(ex);
    long tDecode = System.nanoTime();
    SearchRequest req = parser.parse(ex.getRequestHeaders().getFirst("Content-Type"),
        ex.getRequestURI().getRawQuery(), body);
    SearchRequest.Options o = req.options();
    int queryRow = -1;
    float[] pixels = null;
    byte[] code = null;
    float[] feature = null;
    CodeTable t = service.table();
    switch (req.source()) {
      case SearchRequest.ById byId -> {
        queryRow = t.rowOf(byId.id());
        if (queryRow < 0) {
          throw new ApiException(404, "no image with id " + byId.id() + " in the index");
        }
        code = t.code(queryRow);
        feature = t.hasFeatures() ? t.feature(queryRow) : null;
      }
      case SearchRequest.ByCode c -> {
        code = c.code();
        feature = c.feature();
      }
      case SearchRequest.ByImage img -> {
        HashNetConfig m = service.model();
        pixels = Pixels.of(img.image(), m.height(), m.width(), Pixels.Channels.of(m.channels()));
      }
    }
    SearchService.Query q = new SearchService.Query(pixels, code, feature, o.mode(), o.k(), o.pool(), o.radius(),
        o.cap());
    double decodeMs = (System.nanoTime() - tDecode) / 1e6;
    SearchService.Answer a = answer(q, t0);
    ResponseRenderer.Timings timings = new ResponseRenderer.Timings(decodeMs, (System.nanoTime() - t0) / 1e6);
    return sendJson(ex, 200, renderer.search(req, queryRow, q, a, timings, service.search().backendName()));
  }

  /** Waits for the batcher's answer within what is left of the request's time. */
  private SearchService.Answer answer(SearchService.Query q, long t0) {
    try {
      long left = config.timeoutMs() - (System.nanoTime() - t0) / 1_000_000;
      return service.submit(q).get(Math.max(1, left), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw new ApiException(503, "the query timed out after " + config.timeoutMs() + " ms (server overloaded?)");
    } catch (InterruptedException e) {
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

  // ---- GET /images/{id} ---------------------------------------------------------------------

  private int image(HttpExchange ex, String rawId) throws IOException {
    long id = RequestParser.imageId(rawId);
    int row = service.table().rowOf(id);
    if (row < 0) {
      throw new ApiException(404, "no image with id " + id + " in the index");
    }
    IndexImages.Image img = images.image(row);
    ex.getResponseHeaders().set("Cache-Control", "max-age=3600");
    return send(ex, 200, img.contentType(), img.bytes());
  }

  // ---- plumbing -----------------------------------------------------------------------------

  private byte[] readBody(HttpExchange ex) throws IOException {
    String len = ex.getRequestHeaders().getFirst("Content-Length");
    if (len != null) {
      try {
        if (Long.parseLong(len.strip()) > config.maxBodyBytes()) {
          throw new ApiException(413, "the body is " + len.strip() + " bytes; the limit is " + config.maxBodyBytes());
        }
      } catch (NumberFormatException e) {
        throw ApiException.badRequest("bad Content-Length '" + RequestParser.safe(len) + "'");
      }
    }
    try (InputStream in = ex.getRequestBody()) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      byte[] buf = new byte[1 << 16];
      int n;
      while ((n = in.read(buf)) > 0) {
        if (out.size() + n > config.maxBodyBytes()) {
          throw new ApiException(413, "the body is over the limit of " + config.maxBodyBytes() + " bytes");
        }
        out.write(buf, 0, n);
      }
      return out.toByteArray();
    }
  }

  private int error(HttpExchange ex, int status, String message) {
    try {
      return sendJson(ex, status, ResponseRenderer.error(status, message));
    } catch (IOException | RuntimeException e) {
      return status; // the client went away
    }
  }

  private static int sendJson(HttpExchange ex, int status, Json body) throws IOException {
    return send(ex, status, "application/json", body.toString().getBytes(StandardCharsets.UTF_8));
  }

  private static int send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
    ex.getResponseHeaders().set("Content-Type", type);
    ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
    ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(body);
    }
    return status;
  }
}
