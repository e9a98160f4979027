package org.deephash.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.io.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bounded load test over loopback: {@value #CLIENTS} concurrent clients send {@value #PER_CLIENT}
 * queries each (by id, HDS and BCS mixed, k varying so batches hold several option sets); every
 * answer must equal the engine's direct answer for that query, so micro-batching never hands a
 * caller someone else's rows. Throughput and p50/p99 latency are printed and written to
 * {@code serve-artifacts/load.json}; they are a report, not an assertion.
 */
class ServeLoadTest {
  static final int CLIENTS = 16;
  static final int PER_CLIENT = 100;

  @TempDir
  Path dir;

  @Test
  @Timeout(value = 5, unit = TimeUnit.MINUTES)
  void concurrentClientsGetTheirOwnCorrectAnswers() throws Exception {
    // a 2 ms window: with 16 clients waiting, batches of several queries are certain
    try (ServeFixture f = new ServeFixture(dir, ServeConfig.defaults().withBatching(2000, 64, 4096))) {
      var t = f.index.table();
      ExecutorService pool = Executors.newFixedThreadPool(CLIENTS);
      // warm-up (JIT, the model, connections), not timed and not counted in the report
      List<Future<?>> warm = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        warm.add(pool.submit(() -> {
          for (int i = 0; i < 20; i++) {
            f.postJson("{\"id\": " + i + ", \"k\": 5}");
          }
          return null;
        }));
      }
      for (Future<?> w : warm) {
        w.get(2, TimeUnit.MINUTES);
      }
      long[] before = f.service.batchStats();
      // the timed run: each client sends its queries back to back and keeps the answers
      String[][] bodies = new String[CLIENTS][PER_CLIENT];
      List<Future<double[]>> clients = new ArrayList<>();
      long t0 = System.nanoTime();
      for (int c = 0; c < CLIENTS; c++) {
        final int client = c;
        clients.add(pool.submit((Callable<double[]>) () -> {
          double[] latencies = new double[PER_CLIENT];
          for (int i = 0; i < PER_CLIENT; i++) {
            long s = System.nanoTime();
            HttpResponse<String> r = f.postJson(request(client, i));
            latencies[i] = (System.nanoTime() - s) / 1e6;
            assertEquals(200, r.statusCode(), r.body());
            bodies[client][i] = r.body();
          }
          return latencies;
        }));
      }
      double[] all = new double[CLIENTS * PER_CLIENT];
      for (int c = 0; c < CLIENTS; c++) {
        System.arraycopy(clients.get(c).get(4, TimeUnit.MINUTES), 0, all, c * PER_CLIENT, PER_CLIENT);
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      pool.shutdown();
      // every answer is the engine's direct answer to that caller's own query
      for (int c = 0; c < CLIENTS; c++) {
        for (int i = 0; i < PER_CLIENT; i++) {
          int id = id(c, i);
          int k = k(i);
          SearchResult want = hds(i) ? f.direct.coarseToFine(t.code(id), t.feature(id), Pool.topM(60), k)
              : f.direct.query(t.code(id), k);
          Map<String, Object> j = Json.object(bodies[c][i]);
          assertEquals((double) id, ((Map<?, ?>) j.get("query")).get("id"));
          ServeApiTest.assertSame(want, j, k);
        }
      }
      Arrays.sort(all);
      double p50 = all[(all.length - 1) / 2];
      double p99 = all[(int) Math.ceil(0.99 * all.length) - 1];
      long[] after = f.service.batchStats();
      long[] b = {after[0] - before[0], after[1] - before[1], after[2]};
      String report = String.format(Locale.ROOT, "{\"clients\":%d,\"requests\":%d,\"seconds\":%.3f,\"qps\":%.1f,"
          + "\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"batches\":%d,\"mean_batch\":%.2f,\"max_batch\":%d,\"rows\":%d,"
          + "\"backend\":\"%s\",\"all_matched_direct\":true}", CLIENTS, all.length, seconds, all.length / seconds, p50,
          p99, b[0], (double) b[1] / b[0], b[2], ServeFixture.ROWS, f.backend);
      System.out.println("serve load test: " + report);
      Path out = Path.of(System.getProperty("serve.artifacts", "target/serve-artifacts"));
      Files.createDirectories(out);
      Files.writeString(out.resolve("load.json"), report + "\n");
      assertEquals(CLIENTS * PER_CLIENT, b[1], "every query went through the batcher exactly once");
      assertTrue(b[2] > 1, "concurrent queries were batched (largest batch " + b[2] + ")");
    }
  }

  private static int id(int client, int i) {
    return (client * 7919 + i * 104729) % ServeFixture.ROWS;
  }

  private static int k(int i) {
    return 5 + (i % 3) * 5;
  }

  private static boolean hds(int i) {
    return i % 2 == 0;
  }

  private static String request(int client, int i) {
    return "{\"id\": " + id(client, i) + ", \"k\": " + k(i) + ", \"mode\": \"" + (hds(i) ? "hds" : "bcs")
        + "\", \"pool\": 60}";
  }
}
