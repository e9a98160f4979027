package org.deephash.serve;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.deephash.io.Json;

/**
 * Headless Chromium driven over the Chrome DevTools Protocol from plain Java (the JDK's WebSocket
 * client): start the browser, open a page, send commands, evaluate JavaScript. Just enough for the
 * web page's end-to-end test; no driver or Node package needed, only Debian's {@code chromium}.
 */
final class Cdp implements AutoCloseable {
  private final Process browser;
  private final WebSocket socket;
  private final AtomicInteger ids = new AtomicInteger();
  private final Map<Integer, CompletableFuture<Map<String, Object>>> pending = new ConcurrentHashMap<>();

  /** The Chromium binary on this machine, or null. */
  static Path findChromium() {
    for (String p : List.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/chromium-headless-shell",
        "/usr/lib/chromium/chromium", "/usr/bin/google-chrome")) {
      if (Files.isExecutable(Path.of(p))) {
        return Path.of(p);
      }
    }
    return null;
  }

  Cdp(Path chromium, Path profile, String url) throws Exception {
    browser = new ProcessBuilder(chromium.toString(), "--headless=new", "--no-sandbox", "--disable-gpu",
        "--disable-dev-shm-usage", "--no-first-run", "--remote-debugging-port=0", "--remote-allow-origins=*",
        "--user-data-dir=" + profile, "--window-size=1280,900", url).redirectErrorStream(true).start();
    String browserWs = null;
    BufferedReader out = new BufferedReader(new InputStreamReader(browser.getInputStream(), StandardCharsets.UTF_8));
    StringBuilder log = new StringBuilder();
    Pattern p = Pattern.compile("DevTools listening on (ws://\\S+)");
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    String line;
    while (System.nanoTime() < deadline && (line = out.readLine()) != null) {
      log.append(line).append('\n');
      Matcher m = p.matcher(line);
      if (m.find()) {
        browserWs = m.group(1);
        break;
      }
    }
    if (browserWs == null) {
      browser.destroyForcibly();
      throw new IOException("Chromium did not open its DevTools port:\n" + log);
    }
    Thread.ofVirtual().start(() -> out.lines().forEach(l -> { })); // keep draining its output
    // the page target's own socket
    URI http = URI.create(browserWs.replaceFirst("^ws://", "http://")).resolve("/json/list");
    HttpClient client = HttpClient.newHttpClient();
    String pageWs = null;
    for (int tries = 0; tries < 50 && pageWs == null; tries++) {
      String body = client.send(java.net.http.HttpRequest.newBuilder(http).build(),
          java.net.http.HttpResponse.BodyHandlers.ofString()).body();
      for (Object o : (List<?>) Json.parse(body)) {
        Map<?, ?> target = (Map<?, ?>) o;
        if ("page".equals(target.get("type")) && target.get("webSocketDebuggerUrl") != null) {
          pageWs = target.get("webSocketDebuggerUrl").toString();
        }
      }
      if (pageWs == null) {
        Thread.sleep(100);
      }
    }
    if (pageWs == null) {
      browser.destroyForcibly();
      throw new IOException("Chromium opened no page target");
    }
    socket = client.newWebSocketBuilder().buildAsync(URI.create(pageWs), new WebSocket.Listener() {
      private final StringBuilder message = new StringBuilder();

      @Override
      public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
        message.append(data);
        if (last) {
          Map<String, Object> m = Json.object(message.toString());
          message.setLength(0);
          if (m.get("id") instanceof Double id) {
            CompletableFuture<Map<String, Object>> f = pending.remove(id.intValue());
            if (f != null) {
              f.complete(m);
            }
          }
        }
        ws.request(1);
        return null;
      }
    }).get(10, TimeUnit.SECONDS);
  }

  /** Sends a command and returns its {@code result}; a protocol error throws. */
  @SuppressWarnings("unchecked")
  Map<String, Object> send(String method, Json params) throws Exception {
    int id = ids.incrementAndGet();
    CompletableFuture<Map<String, Object>> f = new CompletableFuture<>();
    pending.put(id, f);
    socket.sendText(new Json().put("id", id).put("method", method).put("params", params).toString(), true)
        .get(10, TimeUnit.SECONDS);
    Map<String, Object> m = f.get(30, TimeUnit.SECONDS);
    if (m.containsKey("error")) {
      throw new IOException(method + " failed: " + m.get("error"));
    }
    return (Map<String, Object>) m.get("result");
  }

  /** Evaluates a JavaScript expression in the page and returns its value (JSON-compatible). */
  Object eval(String expression) throws Exception {
    Map<String, Object> r = send("Runtime.evaluate", new Json().put("expression", expression)
        .put("returnByValue", true).put("awaitPromise", true));
    if (r.containsKey("exceptionDetails")) {
      throw new IOException("JavaScript failed: " + r.get("exceptionDetails"));
    }
    return ((Map<?, ?>) r.get("result")).get("value");
  }

  /** Polls a JavaScript condition until it is true. */
  void waitFor(String condition, long timeoutMs) throws Exception {
    long deadline = System.nanoTime() + timeoutMs * 1_000_000;
    while (System.nanoTime() < deadline) {
      if (Boolean.TRUE.equals(eval("!!(" + condition + ")"))) {
        return;
      }
      Thread.sleep(50);
    }
    throw new AssertionError("timed out after " + timeoutMs + " ms waiting for " + condition + "; page error: "
        + eval("document.getElementById('error') ? document.getElementById('error').textContent : ''"));
  }

  @Override
  public void close() {
    if (socket != null) {
      socket.abort();
    }
    browser.destroy();
    try {
      if (!browser.waitFor(5, TimeUnit.SECONDS)) {
        browser.destroyForcibly();
      }
    } catch (InterruptedException e) {
      browser.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
