package org.deephash.serve;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

/** An HTTP/1.1 client of one running server's routes, shared by the tests' fixtures. */
final class ApiClient {
  final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private final URI base;

  ApiClient(String url) {
    this.base = URI.create(url);
  }

  URI uri(String path) {
    return base.resolve(path);
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

  /** A search with a JSON body. */
  HttpResponse<String> postJson(String json) throws Exception {
    return post("/search", "application/json", json.getBytes(StandardCharsets.UTF_8));
  }

  /** A fixture that serves an API: the client's calls on it directly ({@code f.get("/stats")}). */
  interface Served {
    ApiClient client();

    default URI uri(String path) {
      return client().uri(path);
    }

    default HttpResponse<String> get(String path) throws Exception {
      return client().get(path);
    }

    default HttpResponse<byte[]> getBytes(String path) throws Exception {
      return client().getBytes(path);
    }

    default HttpResponse<String> post(String path, String contentType, byte[] body) throws Exception {
      return client().post(path, contentType, body);
    }

    default HttpResponse<String> postJson(String json) throws Exception {
      return client().postJson(json);
    }
  }
}
