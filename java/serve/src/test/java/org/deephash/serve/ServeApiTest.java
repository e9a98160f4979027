package org.deephash.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.io.Json;
import org.deephash.model.data.Pixels;
import org.deephash.model.eval.FineSearch;
import org.deephash.model.eval.FineStage;
import org.deephash.model.net.Encoding;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every route over loopback, answers compared with the engine's direct answer, and every class of bad input. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ServeApiTest {
  @TempDir
  static Path dir;

  ServeFixture f;

  @BeforeAll
  void start() throws Exception {
    f = new ServeFixture(dir, ServeConfig.defaults().withLimits(1 << 20, 500, 2000, 20_000)
        .withImageLimits(2048, 2048L * 2048));
  }

  @AfterAll
  void stop() {
    if (f != null) {
      f.close();
    }
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> results(Map<String, Object> j) {
    return (List<Map<String, Object>>) j.get("results");
  }

  /** The HTTP answer must be the engine's own answer: same ids in the same order, same Hamming distances, Euclidean to 1e-4. */
  static void assertSame(SearchResult r, Map<String, Object> j, int k) {
    List<Map<String, Object>> res = results(j);
    assertEquals(Math.min(k, r.count(0)), res.size(), j.toString());
    for (int t = 0; t < res.size(); t++) {
      assertEquals((double) r.id(0, t), res.get(t).get("id"), "rank " + t);
      assertEquals((double) r.hamming(0, t), res.get(t).get("hamming"), "rank " + t);
      if (r.hasDistances()) {
        // the same distance up to float rounding: a backend may sum in another order inside a batch
        double want = Math.sqrt(r.distance(0, t));
        assertEquals(want, (double) res.get(t).get("euclidean"), 1e-4 * Math.max(1, want), "rank " + t);
      }
      assertEquals((double) (t + 1), res.get(t).get("rank"));
    }
  }

  @Test
  void healthStatsAndPage() throws Exception {
    HttpResponse<String> h = f.get("/health");
    assertEquals(200, h.statusCode());
    assertEquals("ok", Json.object(h.body()).get("status"));
    Map<String, Object> s = Json.object(f.get("/stats").body());
    assertEquals((double) ServeFixture.ROWS, ((Map<?, ?>) s.get("index")).get("rows"));
    assertEquals(f.backend, s.get("backend"));
    HttpResponse<String> page = f.get("/");
    assertEquals(200, page.statusCode());
    assertTrue(page.headers().firstValue("Content-Type").orElse("").startsWith("text/html"));
    assertTrue(page.body().contains("id=\"file\"") && page.body().contains("/search"), "the page has the upload form");
  }

  @Test
  void imageUploadAnswersLikeTheEngine() throws Exception {
    for (int i = 0; i < 5; i++) {
      byte[] png = f.testPng(i);
      HttpResponse<String> r = f.post("/search?k=9&pool=50", "image/png", png);
      assertEquals(200, r.statusCode(), r.body());
      Map<String, Object> j = Json.object(r.body());
      BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
      Encoding e = f.directEncoder.encode(Pixels.of(img, 28, 28, Pixels.Channels.GREY), 1);
      assertSame(f.direct.coarseToFine(e.codes(), e.features(), Pool.topM(50), 9), j, 9);
      Map<?, ?> q = (Map<?, ?>) j.get("query");
      assertEquals("upload", q.get("source"));
      assertEquals(SyntheticImages.CLASSES.get(e.predicted()[0]), q.get("predicted"));
      Map<?, ?> t = (Map<?, ?>) j.get("timings_ms");
      for (String stage : List.of("decode", "queue", "encode", "search", "total")) {
        assertTrue((double) t.get(stage) >= 0, stage);
      }
      Map<String, Object> first = results(j).get(0);
      assertEquals(f.train.sources().get((int) (double) (Double) first.get("id")), first.get("path"));
      assertEquals(SyntheticImages.CLASSES.get(f.train.labels()[(int) (double) (Double) first.get("id")]),
          first.get("label_name"));
    }
  }

  @Test
  void hdsReordersThePoolByTheServicesFineStage() throws Exception {
    var t = f.index.table();
    try {
      for (FineStage stage : List.of(FineStage.LATENT, FineStage.F7_NORM_TIES)) {
        f.service.fineStage(stage);
        Map<String, Object> j = Json.object(f.postJson("{\"id\": 23, \"k\": 9, \"pool\": 50}").body());
        assertEquals(stage.key(), j.get("fine_stage"));
        assertSame(FineSearch.search(f.direct, t, stage, f.directEncoder::latentOf, 48, t.code(23), t.feature(23),
            Pool.topM(50), 9), j, 9);
      }
    } finally {
      f.service.fineStage(FineStage.F7);
    }
    assertEquals("f7", Json.object(f.postJson("{\"id\": 23, \"k\": 3}").body()).get("fine_stage"));
  }

  @Test
  void jsonQueriesByIdAndByCode() throws Exception {
    var t = f.index.table();
    // by id, codes only
    Map<String, Object> j = Json.object(f.postJson("{\"id\": 17, \"k\": 7, \"mode\": \"bcs\"}").body());
    assertSame(f.direct.query(t.code(17), 7), j, 7);
    assertEquals((double) t.label(17), ((Map<?, ?>) j.get("query")).get("label"));
    // by id, coarse to fine with a radius pool
    j = Json.object(f.postJson("{\"id\": 99, \"k\": 5, \"radius\": 6, \"cap\": 300}").body());
    assertSame(f.direct.coarseToFine(t.code(99), t.feature(99), Pool.radius(6, 300), 5), j, 5);
    // by code and feature
    String hex = HexFormat.of().formatHex(t.code(5));
    StringBuilder feat = new StringBuilder();
    for (float x : t.feature(5)) {
      feat.append(feat.isEmpty() ? "" : ",").append(x);
    }
    j = Json.object(f.postJson("{\"code\": \"" + hex + "\", \"feature\": [" + feat + "], \"k\": 11, \"pool\": 40}").body());
    assertSame(f.direct.coarseToFine(t.code(5), t.feature(5), Pool.topM(40), 11), j, 11);
    // bcs radius search: every code within r, capped
    j = Json.object(f.post("/search?mode=bcs&radius=3&cap=50", "application/json",
        ("{\"code\": \"" + hex + "\"}").getBytes(StandardCharsets.UTF_8)).body());
    SearchResult r = f.direct.radius(t.code(5), 3, 50);
    assertEquals(r.count(0), results(j).size());
    assertEquals(r.truncated(0), j.get("truncated"));
  }

  @Test
  void indexedImagesAreServedFromTheIndexOnly() throws Exception {
    HttpResponse<byte[]> r = f.getBytes("/images/42");
    assertEquals(200, r.statusCode());
    assertEquals("image/png", r.headers().firstValue("Content-Type").orElse(""));
    BufferedImage img = ImageIO.read(new ByteArrayInputStream(r.body()));
    assertEquals(28, img.getWidth());
    float[] px = Pixels.of(img, 28, 28, Pixels.Channels.GREY);
    float[] want = f.train.image(42);
    for (int i = 0; i < px.length; i++) {
      assertEquals(want[i], px[i], 0.5f / 255, "pixel " + i);
    }
    assertEquals(404, f.get("/images/" + ServeFixture.ROWS).statusCode());
    // encoded slashes never reach a route: the HTTP parser refuses them as ambiguous paths
    for (String evil : List.of("/images/..%2f..%2fetc%2fpasswd", "/images/%2Fetc%2Fhostname",
        "/images/" + f.dir.resolve("train-images-idx3-ubyte").toString().replace("/", "%2F"))) {
      HttpResponse<String> e = f.get(evil);
      assertEquals(400, e.statusCode(), evil + " -> " + e.body());
      assertTrue(Json.object(e.body()).get("error").toString().startsWith("malformed request (Ambiguous URI path"),
          e.body());
    }
    for (String evil : List.of("/images/+1", "/images/1e3", "/images/", "/images/99999999999999999999999",
        "/images/9223372036854775808")) {
      HttpResponse<String> e = f.get(evil);
      assertEquals(400, e.statusCode(), evil + " -> " + e.body());
      assertTrue(Json.object(e.body()).get("error").toString().contains("an image id is a 64-bit number")
          || Json.object(e.body()).get("error").toString().contains("numeric id"), e.body());
    }
    assertEquals(404, f.get("/images/-1").statusCode(), "a negative id is an id, just not one of this index");
  }

  /** Through the socket, a few of the refusals RequestParserTest covers one by one, and the 404 only the index knows. */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      malformed JSON               | application/json | {"id": 3,            | 400 | malformed JSON
      unknown id                   | application/json | {"id": 1234567}      | 404 | no image with id 1234567
      k over the cap               | application/json | {"id": 3, "k": 100000} | 400 | k must be in [1, 500]
      feature wrong length         | application/json | {"code": "000000000000", "feature": [1, 2]} | 400 | feature must have
      not an image                 | image/png        | this is not a png    | 400 | not an image
      text body                    | text/plain       | hello                | 415 | unsupported Content-Type
      """)
  void badInputGetsAClearClientError(String name, String type, String body, int status, String message)
      throws Exception {
    HttpResponse<String> r = f.post("/search", type, body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8));
    assertEquals(status, r.statusCode(), name + ": " + r.body());
    String error = Json.object(r.body()).get("error").toString();
    assertTrue(error.contains(message), name + ": " + error);
  }

  @Test
  void hostileRequests() throws Exception {
    // nested too deep for the parser's stack
    String deep = "{\"id\":" + "[".repeat(5000) + "]".repeat(5000) + "}";
    HttpResponse<String> r = f.postJson(deep);
    assertEquals(400, r.statusCode(), r.body());
    // a body over the limit (1 MiB here)
    r = f.postAsking("/search", "image/png", new byte[(1 << 20) + 10]);
    assertEquals(413, r.statusCode(), r.body());
    // JSON types are what they say: a null option or a number in quotes is refused, not taken for the default
    assertEquals(400, f.postJson("{\"id\": 3, \"mode\": null}").statusCode());
    assertEquals(400, f.postJson("{\"id\": \"3\"}").statusCode());
    assertEquals(400, f.post("/search?k=", "application/json", "{\"id\": 3}".getBytes(StandardCharsets.UTF_8))
        .statusCode());
    // an image whose header announces more pixels than allowed: refused before decoding
    BufferedImage huge = new BufferedImage(3000, 3000, BufferedImage.TYPE_BYTE_GRAY);
    ByteArrayOutputStream png = new ByteArrayOutputStream();
    ImageIO.write(huge, "png", png);
    assertTrue(png.size() < (1 << 20), "the test image must fit the body limit: " + png.size());
    r = f.post("/search", "image/png", png.toByteArray());
    assertEquals(413, r.statusCode(), r.body());
    assertTrue(Json.object(r.body()).get("error").toString().contains("3000x3000"), r.body());
    // a truncated PNG
    byte[] good = f.testPng(0);
    r = f.post("/search", "image/png", java.util.Arrays.copyOf(good, good.length / 2));
    assertEquals(400, r.statusCode(), r.body());
    // wrong methods, unknown routes, repeated and unknown parameters
    assertEquals(405, f.get("/search").statusCode());
    assertEquals(405, f.post("/health", "application/json", new byte[0]).statusCode());
    assertEquals(404, f.get("/etc/passwd").statusCode());
    assertEquals(400, f.post("/search?k=3&k=4", "image/png", good).statusCode());
    assertEquals(400, f.post("/search?limit=3", "image/png", good).statusCode());
    // the server is still healthy and answers correctly after all of that
    assertEquals(200, f.post("/search?k=3", "image/png", good).statusCode());
    Map<String, Object> s = Json.object(f.get("/stats").body());
    assertTrue((double) ((Map<?, ?>) s.get("queries")).get("client_errors") >= 6, s.toString());
  }

  /**
   * The client mistakes that used to get 500 or the JDK server's HTML page, through a raw socket:
   * each is a 4xx with the JSON error object, and none counts as a server error.
   */
  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      id over 2^63 in a path       | GET /images/9223372036854775808 HTTP/1.1~~                                   | 400 | an image id is a 64-bit number
      malformed chunk size         | POST /search HTTP/1.1~Content-Type: application/json~Transfer-Encoding: chunked~~zz~{}~0~~ | 400 | malformed
      Content-Length not a number  | POST /search HTTP/1.1~Content-Type: application/json~Content-Length: abc~~{} | 400 | malformed request (Invalid Content-Length
      negative Content-Length     | POST /search HTTP/1.1~Content-Type: application/json~Content-Length: -5~~{}  | 400 | malformed request
      two Content-Lengths          | POST /search HTTP/1.1~Content-Type: application/json~Content-Length: 2~Content-Length: 3~~{} | 400 | malformed request
      %zz in the path              | GET /he%zzalth HTTP/1.1~~                                                    | 400 | malformed request
      %zz in the query             | POST /search?k=%zz HTTP/1.1~Content-Type: application/json~Content-Length: @CL@~~{"id": 1} | 400 | malformed query string
      small id as a string         | POST /search HTTP/1.1~Content-Type: application/json~Content-Length: @CL@~~{"id": "1"} | 400 | id 1 must be a JSON number
      k without a value            | POST /search?k= HTTP/1.1~Content-Type: application/json~Content-Length: @CL@~~{"id": 1} | 400 | k has no value
      mode null                    | POST /search HTTP/1.1~Content-Type: application/json~Content-Length: @CL@~~{"id": 1, "mode": null} | 400 | mode is null
      no Host header               | GET /health HTTP/1.1~X: y~~                                                  | 400 | malformed request (No Host)
      header too large             | GET /health HTTP/1.1~X: @BIG@~~                                              | 431 | malformed request
      """)
  void clientMistakesAreJsonClientErrors(String name, String request, int status, String message) throws Exception {
    long serverErrors = serverErrors();
    String raw = request.strip().replace("@BIG@", "x".repeat(20_000)).replace("~", "\r\n");
    raw = raw.replace("@CL@", Integer.toString(raw.length() - raw.indexOf("\r\n\r\n") - 4));
    if (!raw.contains("Host:") && !name.equals("no Host header")) {
      raw = raw.replaceFirst("\r\n", "\r\nHost: 127.0.0.1\r\n");
    }
    RawHttp.Reply r = RawHttp.exchange(f.api.port(), raw, 10_000);
    assertEquals(status, r.status(), name + ": " + r);
    assertTrue(r.isJson(), name + ": " + r);
    assertTrue(Json.object(r.body()).get("error").toString().startsWith(message)
        || Json.object(r.body()).get("error").toString().contains(message), name + ": " + r.body());
    assertEquals((double) status, Json.object(r.body()).get("status"));
    assertEquals(serverErrors, serverErrors(), name);
  }

  private long serverErrors() throws Exception {
    return (long) (double) ((Map<?, ?>) f.stats().get("queries")).get("server_errors");
  }

  @Test
  void headAnswersEveryGetRouteWithoutABody() throws Exception {
    for (String path : List.of("/health", "/stats", "/", "/images/3")) {
      RawHttp.Reply r = RawHttp.exchange(f.api.port(), "HEAD " + path + " HTTP/1.1\r\nHost: a\r\nConnection: close"
          + "\r\n\r\n", 10_000);
      assertEquals(200, r.status(), path + ": " + r);
      assertEquals("", r.body(), path);
    }
    RawHttp.Reply r = RawHttp.exchange(f.api.port(), "HEAD /search HTTP/1.1\r\nHost: a\r\nConnection: close"
        + "\r\n\r\n", 10_000);
    assertEquals(405, r.status(), r.toString());
  }

  @Test
  void errorsAreJsonWithTheStatus() throws Exception {
    HttpResponse<String> r = f.get("/nope");
    assertEquals(404, r.statusCode());
    Map<String, Object> j = Json.object(r.body());
    assertEquals(404.0, j.get("status"));
    assertTrue(j.get("error").toString().contains("POST /search"));
    assertArrayEquals(new String[] {"application/json"},
        new String[] {r.headers().firstValue("Content-Type").orElse("")});
  }
}
