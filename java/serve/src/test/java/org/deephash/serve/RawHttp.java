package org.deephash.serve;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 by hand over a socket, for requests no HTTP client library will send (a bad
 * Content-Length, a malformed chunk, a %-escape that is not one, a body that stops) and for
 * reading exactly what the server answers to them.
 */
final class RawHttp {
  /**
   * What came back: the status (0 when the server closed without answering, -1 when it did not
   * answer within the timeout), the headers (lower-case names) and the body.
   */
  record Reply(int status, Map<String, String> headers, String body) {
    boolean isJson() {
      return headers.getOrDefault("content-type", "").startsWith("application/json") && body.startsWith("{")
          && body.endsWith("}");
    }
  }

  private RawHttp() {}

  /** Sends {@code request} (ISO-8859-1 bytes), then reads one reply, waiting at most {@code timeoutMs}. */
  static Reply exchange(int port, String request, int timeoutMs) throws IOException {
    return exchange(port, request.getBytes(StandardCharsets.ISO_8859_1), timeoutMs);
  }

  static Reply exchange(int port, byte[] request, int timeoutMs) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(timeoutMs);
      try {
        s.getOutputStream().write(request);
        s.getOutputStream().flush();
      } catch (IOException e) {
        // the server may answer and close before a large request is written: read what it said
      }
      boolean head = request.length >= 5 && new String(request, 0, 5, StandardCharsets.ISO_8859_1).equals("HEAD ");
      return read(s.getInputStream(), head);
    }
  }

  /**
   * Reads one reply (status line, headers, a Content-Length body); {@code head}: the reply to a
   * HEAD, which has no body whatever its Content-Length says.
   */
  static Reply read(InputStream in, boolean head) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    try {
      int matched = 0;
      while (matched < 4) {
        int b = in.read();
        if (b < 0) {
          return buf.size() == 0 ? new Reply(0, Map.of(), "") : parse(buf.toString(StandardCharsets.ISO_8859_1), in,
              true);
        }
        buf.write(b);
        matched = (b == '\r' && (matched == 0 || matched == 2)) || (b == '\n' && (matched == 1 || matched == 3))
            ? matched + 1 : (b == '\r' ? 1 : 0);
      }
      return parse(buf.toString(StandardCharsets.ISO_8859_1), in, head);
    } catch (SocketTimeoutException e) {
      return new Reply(-1, Map.of(), buf.toString(StandardCharsets.ISO_8859_1));
    } catch (IOException e) {
      // reset by the server after it gave up on the request
      return buf.size() == 0 ? new Reply(0, Map.of(), "") : new Reply(-2, Map.of(), e.toString());
    }
  }

  private static Reply parse(String text, InputStream in, boolean noBody) throws IOException {
    String[] lines = text.split("\r\n");
    String[] statusLine = lines[0].split(" ", 3);
    int status = statusLine.length > 1 && statusLine[1].matches("\\d{3}") ? Integer.parseInt(statusLine[1]) : -3;
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon > 0) {
        headers.put(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
      }
    }
    byte[] body;
    if (!noBody && headers.containsKey("content-length")) {
      body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
    } else {
      body = new byte[0];
    }
    return new Reply(status, headers, new String(body, StandardCharsets.UTF_8));
  }
}
