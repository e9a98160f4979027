package org.deephash.serve;

import com.sun.net.httpserver.Headers;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
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
 */
public final class HttpApi implements AutoCloseable {
  /** What a query string may hold; a JSON query holds these, {@code code} and {@code feature}. */
  private static final List<String> PARAMETERS = List.of("id", "k", "mode", "pool", "radius", "cap");

  private final SearchService service;
  private final ServeConfig config;
  private final IndexImages images;
  private final Stats stats = new Stats();
  private final HttpServer server;
  private final ExecutorService executor;
  private final byte[] page;
  private final long startNanos = System.nanoTime();

  private HttpApi(SearchService service, ServeConfig config) throws IOException {
    this.service = service;
    this.config = config;
    this.images = new IndexImages(service.index());
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
    String route = "other";
    int status;
    try {
      String path = ex.getRequestURI().getRawPath();
      String method = ex.getRequestMethod();
      if (path.equals("/search")) {
        route = "search";
        allow(method, "POST");
        status = search(ex, t0);
      } else if (path.startsWith("/images/")) {
        route = "images";
        allow(method, "GET");
        status = image(ex, path.substring("/images/".length()));
      } else if (path.equals("/health")) {
        allow(method, "GET");
        status = send(ex, 200, "application/json", json(new Json().put("status", "ok")));
      } else if (path.equals("/stats")) {
        allow(method, "GET");
        status = send(ex, 200, "application/json", json(statsJson()));
      } else if (path.equals("/") || path.equals("/index.html")) {
        allow(method, "GET");
        ex.getResponseHeaders().set("Content-Security-Policy",
            "default-src 'self'; img-src 'self' blob: data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'");
        status = send(ex, 200, "text/html; charset=utf-8", page);
      } else {
        throw new ApiException(404, "no such route " + safe(path) + ": try POST /search, GET /images/{id}, GET /health,"
            + " GET /stats or GET /");
      }
    } catch (ApiException e) {
      status = error(ex, e.status(), e.getMessage());
    } catch (RuntimeException | IOException e) {
      status = error(ex, 500, "internal error: " + e);
    }
    if (route.equals("search")) {
      stats.record(status, (System.nanoTime() - t0) / 1e6);
    }
    ex.close();
  }

  private static void allow(String method, String allowed) {
    if (!method.equals(allowed)) {
      throw new ApiException(405, "use " + allowed + " here (not " + safe(method) + ")");
    }
  }

  // ---- POST /search -------------------------------------------------------------------------

  private int search(HttpExchange ex, long t0) throws IOException {
    byte[] body = readBody(ex);
    Map<String, String> params = queryParams(ex.getRequestURI().getRawQuery());
    String type = contentType(ex.getRequestHeaders());
    long tDecode = System.nanoTime();
    SearchService.Query q;
    Json query = new Json();
    int knownLabel = -1;
    int queryRow = -1;
    if (type.equals("application/json")) {
      Map<String, Object> j;
      try {
        j = Json.object(new String(body, StandardCharsets.UTF_8));
      } catch (IllegalArgumentException e) {
        throw ApiException.badRequest(e.getMessage());
      }
      for (Map.Entry<String, Object> e : j.entrySet()) {
        if (!PARAMETERS.contains(e.getKey()) && !e.getKey().equals("code") && !e.getKey().equals("feature")) {
          throw ApiException.badRequest("unknown field '" + safe(e.getKey()) + "': a JSON query has id, or code and"
              + " feature, and k, mode, pool, radius, cap");
        }
        boolean option = PARAMETERS.contains(e.getKey());
        if (option && (e.getValue() instanceof List || e.getValue() instanceof Map)) {
          throw ApiException.badRequest(e.getKey() + " must be a number or a string, not an array or object");
        }
        if (option && e.getValue() != null && !params.containsKey(e.getKey())) {
          params.put(e.getKey(), e.getValue() instanceof Double d && d == Math.rint(d) && Math.abs(d) < 1e15
              ? Long.toString(d.longValue()) : String.valueOf(e.getValue()));
        }
      }
      Options o = options(params);
      CodeTable t = service.table();
      if (j.containsKey("id")) {
        if (j.containsKey("code") || j.containsKey("feature")) {
          throw ApiException.badRequest("give either id or code/feature, not both");
        }
        if (params.get("id") == null || params.get("id").isEmpty()) {
          throw ApiException.badRequest("id must be the number of an indexed image");
        }
        long id = integer(params, "id", Long.MIN_VALUE, Long.MAX_VALUE, 0);
        queryRow = service.table().rowOf(id);
        if (queryRow < 0) {
          throw new ApiException(404, "no image with id " + id + " in the index");
        }
        knownLabel = t.hasLabels() ? t.label(queryRow) : -1;
        query.put("source", "id").put("id", id);
        q = o.query(null, t.code(queryRow), t.hasFeatures() ? t.feature(queryRow) : null);
      } else if (j.get("code") instanceof String hex) {
        byte[] code = hex(hex, t.codeBytes());
        float[] feature = null;
        if (j.get("feature") instanceof List<?> l) {
          feature = floats(l, t.dim());
        } else if (j.get("feature") != null) {
          throw ApiException.badRequest("feature must be an array of " + t.dim() + " numbers");
        } else if (o.mode == SearchService.Mode.HDS) {
          throw ApiException.badRequest("mode hds re-ranks by Euclidean distance: give feature (" + t.dim()
              + " numbers) with the code, or use mode bcs");
        }
        query.put("source", "code");
        q = o.query(null, code, feature);
      } else {
        throw ApiException.badRequest("a JSON query needs id (an indexed image) or code (" + t.codeBytes() * 2
            + " hex digits) and feature; to search with an image, POST its bytes with Content-Type image/png or"
            + " image/jpeg");
      }
    } else if (type.startsWith("image/") || type.equals("application/octet-stream")) {
      HashNetConfig model = service.model();
      if (model == null) {
        throw ApiException.badRequest("this server has no model to encode images: start it with --model, or query"
            + " with JSON (id or code)");
      }
      Options o = options(params);
      BufferedImage img = decode(body);
      query.put("source", "upload").put("width", img.getWidth()).put("height", img.getHeight());
      q = o.query(Pixels.of(img, model.height(), model.width(), Pixels.Channels.of(model.channels())), null, null);
    } else {
      throw new ApiException(415, "unsupported Content-Type '" + safe(type) + "': POST an image (image/png,"
          + " image/jpeg, ...) or a JSON query (application/json)");
    }
    double decodeMs = (System.nanoTime() - tDecode) / 1e6;

    SearchService.Answer a;
    try {
      long left = config.timeoutMs() - (System.nanoTime() - t0) / 1_000_000;
      a = service.submit(q).get(Math.max(1, left), TimeUnit.MILLISECONDS);
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

    if (a.predicted() >= 0) {
      query.put("predicted", label(a.predicted())).put("confidence", Json.round(a.confidence(), 4));
    }
    if (knownLabel >= 0) {
      query.put("label", knownLabel).put("label_name", label(knownLabel));
    }
    if (queryRow >= 0) {
      query.put("image", "/images/" + service.table().id(queryRow));
    }
    List<Object> results = new ArrayList<>(a.rows().length);
    CodeTable t = service.table();
    for (int r = 0; r < a.rows().length; r++) {
      int row = a.rows()[r];
      Json res = new Json().put("rank", r + 1).put("id", t.id(row));
      if (service.index().hasPaths()) {
        res.put("path", service.index().path(row));
      }
      if (t.hasLabels()) {
        res.put("label", t.label(row)).put("label_name", label(t.label(row)));
      }
      res.put("hamming", a.hamming()[r]);
      if (a.euclidean() != null) {
        res.put("euclidean", Json.round(a.euclidean()[r], 5));
      }
      res.put("image", "/images/" + t.id(row));
      results.add(res);
    }
    double totalMs = (System.nanoTime() - t0) / 1e6;
    Map<String, Object> timings = new LinkedHashMap<>();
    timings.put("decode", Json.round(decodeMs, 3));
    timings.put("queue", Json.round(a.queueMs(), 3));
    timings.put("encode", Json.round(a.encodeMs(), 3));
    timings.put("search", Json.round(a.searchMs(), 3));
    timings.put("total", Json.round(totalMs, 3));
    Json out = new Json().put("query", query).put("mode", q.mode().name().toLowerCase(Locale.ROOT)).put("k", q.k());
    if (q.radius() >= 0) {
      out.put("radius", q.radius()).put("cap", q.cap()).put("truncated", a.truncated());
    } else if (q.mode() == SearchService.Mode.HDS) {
      out.put("pool", q.pool());
    }
    out.put("backend", service.search().backendName()).put("batch_size", a.batchSize()).put("timings_ms", timings)
        .put("results", results);
    return send(ex, 200, "application/json", json(out));
  }

  /** The search options of a request, validated against the index and the limits. */
  private final class Options {
    final SearchService.Mode mode;
    final int k;
    final int pool;
    final int radius;
    final int cap;

    Options(Map<String, String> p) {
      String m = p.getOrDefault("mode", service.table().hasFeatures() ? "hds" : "bcs").toLowerCase(Locale.ROOT);
      mode = switch (m) {
        case "hds" -> SearchService.Mode.HDS;
        case "bcs" -> SearchService.Mode.BCS;
        default -> throw ApiException.badRequest("mode is hds (Hamming pool re-ranked by Euclidean distance) or bcs"
            + " (codes only), not '" + safe(m) + "'");
      };
      if (mode == SearchService.Mode.HDS && !service.table().hasFeatures()) {
        throw ApiException.badRequest("this index stores no features, so it cannot re-rank: use mode bcs");
      }
      k = (int) integer(p, "k", 1, config.maxK(), 10);
      pool = (int) integer(p, "pool", k, config.maxPool(), Math.min(config.maxPool(), Math.max(100, k)));
      radius = (int) integer(p, "radius", -1, service.table().bits(), -1);
      cap = (int) integer(p, "cap", 1, config.maxPool(), Math.min(config.maxPool(), 1000));
    }

    SearchService.Query query(float[] pixels, byte[] code, float[] feature) {
      if (mode == SearchService.Mode.HDS && pixels == null && feature == null) {
        throw ApiException.badRequest("mode hds needs the query's feature vector: use mode bcs");
      }
      return new SearchService.Query(pixels, code, feature, mode, k, pool, radius, cap);
    }
  }

  private Options options(Map<String, String> params) {
    for (String key : params.keySet()) {
      if (!PARAMETERS.contains(key)) {
        throw ApiException.badRequest("unknown parameter '" + safe(key) + "': the options are k, mode, pool, radius,"
            + " cap");
      }
    }
    return new Options(params);
  }

  private static long integer(Map<String, String> p, String key, long min, long max, long dflt) {
    String v = p.get(key);
    if (v == null || v.isEmpty()) {
      return dflt;
    }
    long x;
    try {
      x = Long.parseLong(v.strip());
    } catch (NumberFormatException e) {
      throw ApiException.badRequest(key + " must be a whole number (got '" + safe(v) + "')");
    }
    if (x < min || x > max) {
      throw ApiException.badRequest(key + " must be in [" + min + ", " + max + "] (got " + x + ")");
    }
    return x;
  }

  private static byte[] hex(String s, int bytes) {
    if (s.length() != bytes * 2) {
      throw ApiException.badRequest("code must be " + bytes * 2 + " hex digits (" + bytes * 8 + " bits, byte 0 first,"
          + " bit i of a code in bit i%8 of byte i/8); got " + s.length() + " characters");
    }
    byte[] out = new byte[bytes];
    for (int i = 0; i < bytes; i++) {
      int hi = Character.digit(s.charAt(2 * i), 16);
      int lo = Character.digit(s.charAt(2 * i + 1), 16);
      if (hi < 0 || lo < 0) {
        throw ApiException.badRequest("code must be hex digits (0-9, a-f); found '" + safe(s.substring(2 * i, 2 * i + 2))
            + "'");
      }
      out[i] = (byte) (hi << 4 | lo);
    }
    return out;
  }

  private static float[] floats(List<?> l, int dim) {
    if (l.size() != dim) {
      throw ApiException.badRequest("feature must have " + dim + " numbers (got " + l.size() + ")");
    }
    float[] f = new float[dim];
    for (int i = 0; i < dim; i++) {
      if (!(l.get(i) instanceof Double d) || !Double.isFinite(d)) {
        throw ApiException.badRequest("feature[" + i + "] is not a finite number");
      }
      f[i] = (float) (double) d;
    }
    return f;
  }

  /** Decodes an upload after checking the size its header announces. */
  private BufferedImage decode(byte[] body) {
    if (body.length == 0) {
      throw ApiException.badRequest("the body is empty: POST the image's bytes");
    }
    try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(body))) {
      Iterator<ImageReader> readers = in == null ? null : ImageIO.getImageReaders(in);
      if (readers == null || !readers.hasNext()) {
        throw ApiException.badRequest("the body is not an image this server can read (PNG, JPEG, GIF or BMP)");
      }
      ImageReader reader = readers.next();
      try {
        reader.setInput(in, true, true);
        long w = reader.getWidth(0);
        long h = reader.getHeight(0);
        if (w < 1 || h < 1 || w > config.maxImageSide() || h > config.maxImageSide()
            || w * h > config.maxImagePixels()) {
          throw new ApiException(413, "the image is " + w + "x" + h + " pixels; the limit is " + config.maxImageSide()
              + " a side and " + config.maxImagePixels() + " pixels: send a smaller image");
        }
        BufferedImage img = reader.read(0);
        if (img == null) {
          throw ApiException.badRequest("the image could not be decoded");
        }
        return img;
      } finally {
        reader.dispose();
      }
    } catch (ApiException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      throw ApiException.badRequest("the image could not be decoded (" + safe(String.valueOf(e.getMessage())) + ")");
    }
  }

  // ---- GET /images/{id} ---------------------------------------------------------------------

  private int image(HttpExchange ex, String rawId) throws IOException {
    if (rawId.isEmpty() || rawId.length() > 19 || !rawId.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw ApiException.badRequest("an image is addressed by its numeric id: /images/{id}");
    }
    long id = Long.parseLong(rawId);
    int row = service.table().rowOf(id);
    if (row < 0) {
      throw new ApiException(404, "no image with id " + id + " in the index");
    }
    IndexImages.Image img = images.image(row);
    ex.getResponseHeaders().set("Cache-Control", "max-age=3600");
    return send(ex, 200, img.contentType(), img.bytes());
  }

  // ---- GET /stats ---------------------------------------------------------------------------

  private Json statsJson() {
    CodeTable t = service.table();
    Json index = new Json().put("rows", t.liveCount()).put("bits", t.bits()).put("dim", t.dim())
        .put("labels", t.hasLabels()).put("paths", service.index().hasPaths());
    HashNetConfig m = service.model();
    Json model = m == null ? null : new Json().put("bits", m.bits()).put("input", m.height() + "x" + m.width() + "x"
        + m.channels()).put("classes", m.classNames());
    long[] b = service.batchStats();
    Json batches = new Json().put("count", b[0]).put("queries", b[1])
        .put("mean_size", b[0] == 0 ? 0.0 : Json.round((double) b[1] / b[0], 2)).put("max_size", b[2]);
    return new Json().put("index", index).put("model", model).put("backend", service.search().backendName())
        .put("device", service.search().device()).put("queries", stats.counts()).put("latency_ms", stats.latency())
        .put("batches", batches).put("limits", new Json().put("max_k", config.maxK()).put("max_pool", config.maxPool())
            .put("max_body_bytes", config.maxBodyBytes()).put("max_image_side", config.maxImageSide())
            .put("timeout_ms", config.timeoutMs()))
        .put("uptime_s", Json.round((System.nanoTime() - startNanos) / 1e9, 1));
  }

  // ---- plumbing -----------------------------------------------------------------------------

  private String label(int l) {
    HashNetConfig m = service.model();
    return m != null && l >= 0 && l < m.classes() ? m.classNames().get(l) : Integer.toString(l);
  }

  private byte[] readBody(HttpExchange ex) throws IOException {
    String len = ex.getRequestHeaders().getFirst("Content-Length");
    if (len != null) {
      try {
        if (Long.parseLong(len.strip()) > config.maxBodyBytes()) {
          throw new ApiException(413, "the body is " + len.strip() + " bytes; the limit is " + config.maxBodyBytes());
        }
      } catch (NumberFormatException e) {
        throw ApiException.badRequest("bad Content-Length '" + safe(len) + "'");
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

  private static String contentType(Headers h) {
    String t = h.getFirst("Content-Type");
    if (t == null) {
      return "";
    }
    int semi = t.indexOf(';');
    return (semi < 0 ? t : t.substring(0, semi)).strip().toLowerCase(Locale.ROOT);
  }

  private static Map<String, String> queryParams(String raw) {
    Map<String, String> p = new HashMap<>();
    if (raw == null || raw.isEmpty()) {
      return p;
    }
    for (String kv : raw.split("&")) {
      if (kv.isEmpty()) {
        continue;
      }
      int eq = kv.indexOf('=');
      String k;
      String v;
      try {
        k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
        v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        throw ApiException.badRequest("malformed query string: " + e.getMessage());
      }
      if (p.put(k, v) != null) {
        throw ApiException.badRequest("parameter '" + safe(k) + "' is given twice");
      }
    }
    return p;
  }

  private int error(HttpExchange ex, int status, String message) {
    try {
      return send(ex, status, "application/json", json(new Json().put("error", message).put("status", status)));
    } catch (IOException | RuntimeException e) {
      return status; // the client went away
    }
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

  private static byte[] json(Json j) {
    return j.toString().getBytes(StandardCharsets.UTF_8);
  }

  /** Echoes a piece of the request in a message, shortened and without control characters. */
  static String safe(String s) {
    String t = s.length() > 80 ? s.substring(0, 80) + "..." : s;
    return t.replaceAll("\\p{Cntrl}", "?");
  }

  /** Query counts and latencies of POST /search. */
  static final class Stats {
    private long total;
    private long ok;
    private long clientErrors;
    private long serverErrors;
    private final double[] ring = new double[10_000];
    private int filled;
    private int next;
    private double sum;

    synchronized void record(int status, double ms) {
      total++;
      if (status < 300) {
        ok++;
        ring[next] = ms;
        next = (next + 1) % ring.length;
        filled = Math.min(filled + 1, ring.length);
        sum += ms;
      } else if (status < 500) {
        clientErrors++;
      } else {
        serverErrors++;
      }
    }

    synchronized Json counts() {
      return new Json().put("total", total).put("ok", ok).put("client_errors", clientErrors)
          .put("server_errors", serverErrors);
    }

    synchronized Json latency() {
      double[] a = java.util.Arrays.copyOf(ring, filled);
      java.util.Arrays.sort(a);
      return new Json().put("window", filled).put("p50", filled == 0 ? null : Json.round(a[(filled - 1) / 2], 3))
          .put("p99", filled == 0 ? null : Json.round(a[(int) Math.ceil(0.99 * filled) - 1], 3))
          .put("mean_all", ok == 0 ? null : Json.round(sum / ok, 3));
    }
  }
}
