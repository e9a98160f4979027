package org.deephash.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import javax.imageio.ImageIO;
import org.deephash.CodeTable;
import org.deephash.Pool;
import org.deephash.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The standing hostile-client suite of {@code engine-cli serve} (loopback only, bounded in time):
 * malformed and oversized requests, stalled and trickling bodies, headers sent a byte at a time,
 * more connections than the cap, decompression bombs generated here, and clients that hang up.
 * Afterwards the server must be healthy (a normal query equals the engine's direct answer), no
 * request may have had a 500, and memory must have stayed bounded: the decode budget's own
 * counters (the peak of reserved raster bytes within the budget, no raster larger than its
 * reservation) and the heap after a full GC, before and after.
 *
 * <p>The counts (cases tried, outcomes) are printed and written to {@code
 * serve-artifacts/hostile.json}; docs/ROBUSTNESS.md quotes them.
 */
class ServeHostileClientTest {
  static final int MAX_CONNECTIONS = 64;
  static final int IDLE_MS = 1000;
  static final int REQUEST_MS = 2000;
  /** Small enough that two bombs decoding at once do not both fit: the flood meets the budget's 503. */
  static final long BUDGET = 128 << 10;

  @TempDir
  Path dir;

  /** Outcome counts per part of the suite, for the report. */
  private final Map<String, Map<String, Integer>> outcomes = new TreeMap<>();
  /** How long the slowest client of a part was held, in ms. */
  private final Map<String, Long> heldMs = new TreeMap<>();

  private void count(String part, String outcome) {
    synchronized (outcomes) {
      outcomes.computeIfAbsent(part, p -> new TreeMap<>()).merge(outcome, 1, Integer::sum);
    }
  }

  private static String outcome(RawHttp.Reply r) {
    return switch (r.status()) {
      case -1 -> "no answer";
      case 0, -2 -> "closed";
      default -> r.status() + (r.isJson() ? " json" : " other");
    };
  }

  @Test
  @Timeout(value = 4, unit = TimeUnit.MINUTES)
  void theServerSurvivesHostileClientsAndStaysBounded() throws Exception {
    ServeConfig config = ServeConfig.defaults().withLimits(1 << 20, 500, 2000, 20_000)
        .withConnections(IDLE_MS, REQUEST_MS, MAX_CONNECTIONS).withDecodeBudget(BUDGET).withReloadCheck(0);
    try (ServeFixture f = new ServeFixture(dir, config)) {
      int port = f.api.port();
      long heapBefore = heapAfterGc();
      Long rssBefore = rssMib();
      long t0 = System.nanoTime();

      malformedAndOversizedRequests(port);
      stalledAndTricklingBodies(port);
      headersSentAByteAtATime(port);
      moreConnectionsThanTheCap(f, port);
      decompressionBombs(port);
      clientsThatHangUp(port);

      double seconds = (System.nanoTime() - t0) / 1e9;
      // the server is healthy and answers correctly
      RawHttp.Reply health = RawHttp.exchange(port, get("/health"), 10_000);
      assertEquals(200, health.status(), health.toString());
      CodeTable t = f.index.table();
      RawHttp.Reply q = RawHttp.exchange(port, post("/search?k=7&pool=60", "application/json",
          ("{\"code\": \"" + HexFormat.of().formatHex(t.code(42)) + "\", \"feature\": " + Arrays.toString(t.feature(42))
              + "}").getBytes(StandardCharsets.UTF_8)), 10_000);
      assertEquals(200, q.status(), q.toString());
      ServeApiTest.assertSame(f.direct.coarseToFine(t.code(42), t.feature(42), Pool.topM(60), 7), Json.object(q.body()),
          7);

      Map<String, Object> stats = Json.object(RawHttp.exchange(port, get("/stats"), 10_000).body());
      Map<?, ?> queries = (Map<?, ?>) stats.get("queries");
      Map<?, ?> connections = (Map<?, ?>) stats.get("connections");
      Map<?, ?> decode = (Map<?, ?>) stats.get("decode");
      int got503 = 0;
      int got5xx = 0;
      for (Map<String, Integer> part : outcomes.values()) {
        for (Map.Entry<String, Integer> e : part.entrySet()) {
          got503 += e.getKey().startsWith("503") ? e.getValue() : 0;
          // 501 and 505 are the HTTP parser's answers to a transfer coding or version it does not take
          got5xx += e.getKey().matches("5\\d\\d.*") && !e.getKey().matches("50[15].*") ? e.getValue() : 0;
        }
      }
      assertEquals(got503, got5xx, "no 5xx but the budget's 503s: " + outcomes);
      assertEquals((double) got503, queries.get("server_errors"), "the server's own count agrees: " + queries);
      assertTrue((double) connections.get("peak") <= MAX_CONNECTIONS, "connections never over the cap: " + connections);
      assertTrue((double) decode.get("peak_bytes") <= BUDGET, "decoded pixels within the budget: " + decode);
      assertEquals(0.0, decode.get("underestimated"), "no raster larger than its reservation: " + decode);
      assertEquals(0.0, decode.get("in_flight_bytes"), "every reservation given back: " + decode);
      long heapAfter = heapAfterGc();
      assertTrue(heapAfter - heapBefore < 64L << 20, "heap retained: " + (heapAfter - heapBefore) / (1 << 20) + " MiB");

      int cases = outcomes.values().stream().flatMap(m -> m.values().stream()).mapToInt(Integer::intValue).sum();
      Json report = new Json().put("cases", cases).put("seconds", Json.round(seconds, 1)).put("outcomes", outcomes)
          .put("held_ms", heldMs)
          .put("limits", new Json().put("max_connections", MAX_CONNECTIONS).put("idle_timeout_ms", IDLE_MS)
              .put("request_timeout_ms", REQUEST_MS).put("decode_budget_bytes", BUDGET))
          .put("server", new Json().put("queries", queries).put("connections", connections).put("decode", decode))
          .put("heap_mib_after_gc", new Json().put("before", heapBefore >> 20).put("after", heapAfter >> 20))
          // for information only: the process's resident memory also holds the heap the JVM chose to grow
          .put("rss_mib", new Json().put("before", rssBefore).put("after", rssMib()))
          .put("healthy_after", true);
      System.out.println("serve hostile-client suite: " + report);
      Path out = Path.of(System.getProperty("serve.artifacts", "target/serve-artifacts"));
      Files.createDirectories(out);
      Files.writeString(out.resolve("hostile.json"), report + "\n");
    }
  }

  // ---- malformed and oversized requests -----------------------------------------------------

  private static String get(String path) {
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  }

  private static byte[] post(String path, String type, byte[] body) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: " + type
        + "\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
    out.writeBytes(body);
    return out.toByteArray();
  }

  private static String json(String path, String body) {
    return new String(post(path, "application/json", body.getBytes(StandardCharsets.UTF_8)),
        StandardCharsets.ISO_8859_1);
  }

  /** Raw requests and the statuses allowed for each; every one must be answered with the JSON error object. */
  private void malformedAndOversizedRequests(int port) throws IOException {
    String h = "Host: 127.0.0.1\r\nConnection: close\r\n";
    Object[][] cases = {
        {"garbage request line", "GARBAGE\r\n\r\n", 400},
        {"no Host", "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", 400},
        {"HTTP/0.9", "GET /health\r\n\r\n", 400, 505},
        {"unknown version", "GET /health HTTP/7.3\r\n" + h + "\r\n", 400, 505},
        {"unknown method", "BREW / HTTP/1.1\r\n" + h + "\r\n", 405},
        {"bad Content-Length", "POST /search HTTP/1.1\r\n" + h + "Content-Length: abc\r\n\r\n{}", 400},
        {"negative Content-Length", "POST /search HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n{}", 400},
        {"huge Content-Length", "POST /search HTTP/1.1\r\n" + h + "Content-Length: 99999999999999999999999\r\n\r\n",
            400, 413},
        {"two Content-Lengths", "POST /search HTTP/1.1\r\n" + h + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            400},
        {"Content-Length and chunked", "POST /search HTTP/1.1\r\n" + h + "Content-Length: 2\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 400},
        {"unknown transfer coding", "POST /search HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip\r\n\r\n", 400, 501},
        {"malformed chunk size", "POST /search HTTP/1.1\r\n" + h + "Content-Type: application/json\r\n"
            + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400},
        {"chunk size overflow", "POST /search HTTP/1.1\r\n" + h + "Content-Type: application/json\r\n"
            + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n{}\r\n0\r\n\r\n", 400, 413},
        {"%zz in the path", "GET /he%zzalth HTTP/1.1\r\n" + h + "\r\n", 400},
        {"%zz in the query", json("/search?k=%zz", "{\"id\": 1}"), 400},
        {"encoded slash", "GET /images/..%2f..%2fetc%2fpasswd HTTP/1.1\r\n" + h + "\r\n", 400},
        {"dot segments", "GET /images/../../etc/passwd HTTP/1.1\r\n" + h + "\r\n", 400, 404},
        {"NUL in the path", "GET /hea\0lth HTTP/1.1\r\n" + h + "\r\n", 400},
        {"header without a colon", "GET /health HTTP/1.1\r\n" + h + "NoColonHere\r\n\r\n", 400},
        {"space before the colon", "GET /health HTTP/1.1\r\n" + h + "X-A : b\r\n\r\n", 400},
        {"control character in a header", "GET /health HTTP/1.1\r\n" + h + "X-A: b\u0001c\r\n\r\n", 400},
        {"header of 20 KB", "GET /health HTTP/1.1\r\n" + h + "X-A: " + "b".repeat(20_000) + "\r\n\r\n", 431},
        {"2,000 headers", "GET /health HTTP/1.1\r\n" + h + "X-A: b\r\n".repeat(2000) + "\r\n", 431, 400},
        {"path of 20 KB", "GET /" + "a".repeat(20_000) + " HTTP/1.1\r\n" + h + "\r\n", 414, 431},
        {"id over 2^63", get("/images/9223372036854775808"), 400},
        {"negative id not in the index", get("/images/-1"), 404},
        {"sign alone", get("/images/-"), 400},
        {"JSON nested 5,000 deep", json("/search", "{\"id\":" + "[".repeat(5000) + "]".repeat(5000) + "}"), 400},
        {"small id as a string", json("/search", "{\"id\": \"1\"}"), 400},
        {"k without a value", json("/search?k=", "{\"id\": 1}"), 400},
        {"mode null", json("/search", "{\"id\": 1, \"mode\": null}"), 400},
        {"k as a string", json("/search", "{\"id\": 1, \"k\": \"5\"}"), 400},
        {"unknown field", json("/search", "{\"id\": 1, \"kk\": 5}"), 400},
        {"no Content-Type", "POST /search HTTP/1.1\r\n" + h + "Content-Length: 9\r\n\r\n{\"id\": 1}", 415},
        {"body over the limit", new String(post("/search", "image/png", new byte[(1 << 20) + 1]),
            StandardCharsets.ISO_8859_1), 413},
        {"chunked body over the limit", "POST /search HTTP/1.1\r\n" + h + "Content-Type: image/png\r\n"
            + "Transfer-Encoding: chunked\r\n\r\n" + ("10000\r\n" + "\0".repeat(0x10000) + "\r\n").repeat(17)
            + "0\r\n\r\n", 413},
        {"announced over the limit with Expect", "POST /search HTTP/1.1\r\n" + h + "Content-Type: image/png\r\n"
            + "Expect: 100-continue\r\nContent-Length: 50000000\r\n\r\n", 413},
        {"wrong method", "DELETE /search HTTP/1.1\r\n" + h + "\r\n", 405},
        {"unknown route", get("/etc/passwd"), 404},
        {"TIFF upload", new String(post("/search", "image/tiff", tiff()), StandardCharsets.ISO_8859_1), 400},
        {"not an image", new String(post("/search", "image/png", "GIF89a-but-not".getBytes(StandardCharsets.UTF_8)),
            StandardCharsets.ISO_8859_1), 400},
    };
    for (Object[] c : cases) {
      RawHttp.Reply r = RawHttp.exchange(port, ((String) c[1]).getBytes(StandardCharsets.ISO_8859_1), 10_000);
      boolean allowed = false;
      for (int i = 2; i < c.length; i++) {
        allowed |= r.status() == (int) c[i];
      }
      assertTrue(allowed, c[0] + ": " + r);
      assertTrue(r.isJson(), c[0] + ": the JSON error object, not " + r);
      count("malformed and oversized", outcome(r));
    }
    // two requests in one write, the second malformed: the first is answered, then the second refused
    String pipelined = "GET /health HTTP/1.1\r\nHost: a\r\n\r\nPOST /search HTTP/1.1\r\nHost: a\r\n"
        + "Content-Length: x\r\n\r\n";
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(pipelined.getBytes(StandardCharsets.ISO_8859_1));
      RawHttp.Reply first = RawHttp.read(s.getInputStream(), false);
      RawHttp.Reply second = RawHttp.read(s.getInputStream(), false);
      assertEquals(200, first.status(), first.toString());
      assertEquals(400, second.status(), second.toString());
      assertTrue(second.isJson(), second.toString());
      count("malformed and oversized", "pipelined: 200 then " + outcome(second));
    }
  }

  private static byte[] tiff() throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ImageIO.write(new java.awt.image.BufferedImage(8, 8, java.awt.image.BufferedImage.TYPE_BYTE_GRAY), "tiff", out);
    return out.toByteArray();
  }

  // ---- stalled and trickling bodies, slow headers ----------------------------------------------

  /**
   * 120 uploads that stop after a few bytes and 30 that trickle a byte every 400 ms: the first are
   * closed by the idle timeout, the second by the request deadline, all with 408; none is held
   * longer than the deadline and the accept queue behind the cap allow.
   */
  private void stalledAndTricklingBodies(int port) throws Exception {
    int stalled = 120;
    int trickling = 30;
    AtomicLong longestMs = new AtomicLong();
    AtomicBoolean stop = new AtomicBoolean();
    try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> all = new ArrayList<>();
      for (int i = 0; i < stalled + trickling; i++) {
        boolean trickle = i >= stalled;
        all.add(clients.submit(() -> {
          try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(60_000);
            OutputStream out = s.getOutputStream();
            long start = System.nanoTime();
            out.write(("POST /search HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
                + "Content-Length: 100000\r\n\r\n{\"id\": 1").getBytes(StandardCharsets.ISO_8859_1));
            if (trickle) {
              clients.submit(() -> {
                try {
                  while (!stop.get()) {
                    Thread.sleep(400);
                    out.write(' ');
                  }
                } catch (IOException | InterruptedException e) {
                  // closed by the server: done
                }
                return null;
              });
            }
            RawHttp.Reply r = RawHttp.read(s.getInputStream(), false);
            longestMs.accumulateAndGet((System.nanoTime() - start) / 1_000_000, Math::max);
            count(trickle ? "trickling bodies" : "stalled bodies", outcome(r));
            assertTrue(r.status() == 408 || r.status() == 0 || r.status() == -2, "408 or closed: " + r);
          }
          return null;
        }));
      }
      for (Future<?> c : all) {
        c.get(2, TimeUnit.MINUTES);
      }
      stop.set(true);
    }
    // 150 connections over a cap of 64: at most three rounds of the request deadline, plus slack
    assertTrue(longestMs.get() < 3 * REQUEST_MS + 5000, "held " + longestMs.get() + " ms");
    heldMs.put("slowest stalled or trickling body", longestMs.get());
  }

  /** 20 clients sending their request head a byte every 300 ms: closed by the request deadline, not held. */
  private void headersSentAByteAtATime(int port) throws Exception {
    int n = 20;
    AtomicLong longestMs = new AtomicLong();
    try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> all = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        all.add(clients.submit(() -> {
          try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(60_000);
            long start = System.nanoTime();
            Future<?> writer = clients.submit(() -> {
              byte[] head = ("GET /health HTTP/1.1\r\nHost: a\r\nX-Slow: " + "s".repeat(1000))
                  .getBytes(StandardCharsets.ISO_8859_1);
              try {
                for (byte b : head) {
                  s.getOutputStream().write(b);
                  Thread.sleep(300);
                }
              } catch (IOException | InterruptedException e) {
                // closed by the server
              }
              return null;
            });
            InputStream in = s.getInputStream();
            int b;
            try {
              b = in.read();
            } catch (IOException e) {
              b = -1;
            }
            longestMs.accumulateAndGet((System.nanoTime() - start) / 1_000_000, Math::max);
            count("headers a byte at a time", b < 0 ? "closed" : "answered");
            writer.cancel(true);
          }
          return null;
        }));
      }
      for (Future<?> c : all) {
        c.get(2, TimeUnit.MINUTES);
      }
    }
    assertTrue(longestMs.get() < REQUEST_MS + 5000, "held " + longestMs.get() + " ms");
    heldMs.put("slowest header sent a byte at a time", longestMs.get());
  }

  // ---- connections ------------------------------------------------------------------------------

  /**
   * Three times the cap of idle connections: the server never has more than the cap open, closes
   * idle ones, and a real client gets its answer once they make room.
   */
  private void moreConnectionsThanTheCap(ServeFixture f, int port) throws Exception {
    List<Socket> hogs = new ArrayList<>();
    try {
      for (int i = 0; i < 3 * MAX_CONNECTIONS; i++) {
        hogs.add(new Socket("127.0.0.1", port));
        count("connections (3 x cap, idle)", "connected");
      }
      long start = System.nanoTime();
      RawHttp.Reply r = RawHttp.exchange(port, get("/health"), 60_000);
      long waited = (System.nanoTime() - start) / 1_000_000;
      assertEquals(200, r.status(), r.toString());
      count("connections (3 x cap, idle)", "a real client behind them answered: " + outcome(r));
      heldMs.put("a real client behind 3 x cap idle connections", waited);
      int peak = (int) f.api.connectionStats().get("peak");
      assertTrue(peak <= MAX_CONNECTIONS, "peak " + peak);
    } finally {
      for (Socket s : hogs) {
        s.close();
      }
    }
  }

  // ---- decompression bombs ------------------------------------------------------------------

  private void decompressionBombs(int port) throws Exception {
    // announces 100,000 x 100,000: refused from the header
    RawHttp.Reply r = RawHttp.exchange(port, post("/search", "image/png", Pngs.announcing(100_000, 100_000)), 30_000);
    assertEquals(413, r.status(), r.toString());
    count("decompression bombs", "over the limits: " + outcome(r));
    // within the limits: 4096 x 4096 16-bit RGBA (128 MiB of raster) in a ~130 KB file
    byte[] bomb = Pngs.zeros(4096, 4096, Pngs.RGBA, 16, 0);
    r = RawHttp.exchange(port, post("/search?k=3", "image/png", bomb), 60_000);
    assertEquals(200, r.status(), r.toString());
    count("decompression bombs", "4096x4096x16-bit RGBA alone: " + outcome(r));
    // a palette image with a zTXt chunk that inflates to 64 MiB of text
    r = RawHttp.exchange(port, post("/search?k=3", "image/png", Pngs.zeros(64, 64, Pngs.PALETTE, 8, 64L << 20)),
        60_000);
    assertEquals(200, r.status(), r.toString());
    count("decompression bombs", "zTXt text bomb: " + outcome(r));
    // the bomb cut in the middle of its pixels
    r = RawHttp.exchange(port, post("/search", "image/png", Arrays.copyOf(bomb, bomb.length / 2)), 60_000);
    assertEquals(400, r.status(), r.toString());
    count("decompression bombs", "truncated: " + outcome(r));
    // 24 of them at once, as in the issue: each decoded small, or refused with 503 when the budget is taken
    try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<RawHttp.Reply>> all = new ArrayList<>();
      for (int i = 0; i < 24; i++) {
        all.add(clients.submit(() -> RawHttp.exchange(port, post("/search?k=3", "image/png", bomb), 120_000)));
      }
      for (Future<RawHttp.Reply> c : all) {
        RawHttp.Reply x = c.get(3, TimeUnit.MINUTES);
        assertTrue(x.status() == 200 || (x.status() == 503 && x.headers().containsKey("retry-after")), x.toString());
        count("decompression bombs, 24 at once", outcome(x));
      }
    }
  }

  // ---- hang-ups -----------------------------------------------------------------------------

  /** Clients that reset the connection in the middle of a body or before reading their answer. */
  private void clientsThatHangUp(int port) throws Exception {
    Map<String, Integer> local = new ConcurrentHashMap<>();
    for (int i = 0; i < 20; i++) {
      boolean midBody = i % 2 == 0;
      try (Socket s = new Socket("127.0.0.1", port)) {
        s.setSoLinger(true, 0); // close() sends a reset
        String body = "{\"id\": " + i + ", \"k\": 10}";
        String head = "POST /search HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nContent-Length: "
            + (midBody ? 1000 : body.length()) + "\r\n\r\n";
        s.getOutputStream().write((head + body).getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
      }
      local.merge(midBody ? "reset in the middle of the body" : "reset before reading the answer", 1, Integer::sum);
    }
    Thread.sleep(500); // the server notices
    for (Map.Entry<String, Integer> e : local.entrySet()) {
      for (int i = 0; i < e.getValue(); i++) {
        count("hang-ups", e.getKey());
      }
    }
  }

  /** The process's resident set (Linux /proc/self/status VmRSS), or null where there is none. */
  private static Long rssMib() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("VmRSS:")) {
          return Long.parseLong(line.replaceAll("\\D", "")) >> 10;
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return null;
  }

  private static long heapAfterGc() throws InterruptedException {
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(50);
    }
    return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
  }
}
