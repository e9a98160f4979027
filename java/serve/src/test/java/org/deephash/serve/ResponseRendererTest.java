package org.deephash.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;
import org.deephash.index.LoadedIndex;
import org.deephash.io.Json;
import org.deephash.model.net.HashNetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The JSON answers, field by field, from hand-made answers: no server, no engine, no model run. */
class ResponseRendererTest {
  /** Above 2^53: a JSON number would round it, so it is written as a string. */
  private static final long BIG = (1L << 53) + 1;

  private CodeTable table;
  private GpuHashSearch search;
  private IndexGeneration gen;
  private ResponseRenderer renderer;

  @BeforeEach
  void table() {
    table = CodeTable.create(16, 2, true);
    table.addAll(new long[] {100, 200, 300, BIG}, new byte[8], new float[8], new int[] {2, 0, 7, 1});
    HashNetConfig model = HashNetConfig.of(28, 28, 1, 16, List.of("zero", "one", "two"));
    search = GpuHashSearch.open(table, new SearchOptions("scalar", 1));
    gen = new IndexGeneration(3, Path.of("idx.dh"), null, new LoadedIndex(table, null), search, false);
    renderer = new ResponseRenderer(model, () -> "f7n");
  }

  @AfterEach
  void close() {
    search.close();
    table.close();
  }

  @Test
  void aQueryByIdWithItsLabelAndTheResultsInRankOrder() {
    SearchRequest req = new SearchRequest(new SearchRequest.ById(300),
        new SearchRequest.Options(SearchService.Mode.HDS, 2, 50, -1, 1000));
    SearchService.Query q = new SearchService.Query(null, null, null, 300L, SearchService.Mode.HDS, 2, 50, -1, 1000);
    SearchService.Answer a = new SearchService.Answer(gen, 2, new int[] {2, 0}, new int[] {0, 3},
        new float[] {0f, 1.234567f}, false, -1, 0f, 0.5, 0, 1.25, 3);
    String head = "{\"query\":{\"source\":\"id\",\"id\":300,\"label\":7,\"label_name\":\"7\","
        + "\"image\":\"/images/300\",\"thumb\":\"/thumbs/300?size=480\"},"
        + "\"mode\":\"hds\",\"k\":2,\"pool\":50,\"fine_stage\":\"f7n\",\"backend\":\"scalar\",\"generation\":3,\"batch_size\":3,"
        + "\"timings_ms\":{\"decode\":0.123,\"queue\":0.5,\"encode\":0,\"search\":1.25,\"total\":2},"
        + "\"results\":[";
    assertEquals(head
        + "{\"rank\":1,\"id\":300,\"label\":7,\"label_name\":\"7\",\"hamming\":0,\"euclidean\":0,"
        + "\"image\":\"/images/300\",\"thumb\":\"/thumbs/300\"},"
        + "{\"rank\":2,\"id\":100,\"label\":2,\"label_name\":\"two\",\"hamming\":3,\"euclidean\":1.23457,"
        + "\"image\":\"/images/100\",\"thumb\":\"/thumbs/100\"}]}",
        renderer.search(req, q, a, new ResponseRenderer.Timings(0.12345, 2.0)).toString());
    // with a verifier's inlier counts (DELF), one per result, before the URLs
    assertEquals(head
        + "{\"rank\":1,\"id\":300,\"label\":7,\"label_name\":\"7\",\"hamming\":0,\"euclidean\":0,"
        + "\"inliers\":120,\"image\":\"/images/300\",\"thumb\":\"/thumbs/300\"},"
        + "{\"rank\":2,\"id\":100,\"label\":2,\"label_name\":\"two\",\"hamming\":3,\"euclidean\":1.23457,"
        + "\"inliers\":7,\"image\":\"/images/100\",\"thumb\":\"/thumbs/100\"}]}",
        renderer.search(req, q, a, new int[] {120, 7}, new ResponseRenderer.Timings(0.12345, 2.0)).toString());
  }

  @Test
  void anUploadWithThePredictedClassAndARadiusSearch() {
    SearchRequest req = new SearchRequest(new SearchRequest.ByImage(new byte[10], 40, 30),
        new SearchRequest.Options(SearchService.Mode.BCS, 5, 100, 4, 10));
    SearchService.Query q = new SearchService.Query(new float[784], null, null, null, SearchService.Mode.BCS, 5, 100, 4,
        10);
    SearchService.Answer a = new SearchService.Answer(gen, -1, new int[] {1, 3}, new int[] {4, 4}, null, true, 1,
        0.87654f, 0, 2, 1, 1);
    assertEquals("{\"query\":{\"source\":\"upload\",\"width\":40,\"height\":30,\"predicted\":\"one\","
        + "\"confidence\":0.8765},\"mode\":\"bcs\",\"k\":5,\"radius\":4,\"cap\":10,\"truncated\":true,"
        + "\"backend\":\"scalar\",\"generation\":3,\"batch_size\":1,"
        + "\"timings_ms\":{\"decode\":1,\"queue\":0,\"encode\":2,\"search\":1,\"total\":4},"
        + "\"results\":[{\"rank\":1,\"id\":200,\"label\":0,\"label_name\":\"zero\",\"hamming\":4,"
        + "\"image\":\"/images/200\",\"thumb\":\"/thumbs/200\"},"
        // an id a JSON number cannot hold exactly is a string (and its image URLs its digits)
        + "{\"rank\":2,\"id\":\"9007199254740993\",\"label\":1,\"label_name\":\"one\",\"hamming\":4,"
        + "\"image\":\"/images/9007199254740993\",\"thumb\":\"/thumbs/9007199254740993\"}]}",
        renderer.search(req, q, a, new ResponseRenderer.Timings(1, 4)).toString());
    assertEquals(-9007199254740991L, ResponseRenderer.id(-9007199254740991L));
    assertEquals("-9007199254740992", ResponseRenderer.id(-9007199254740992L));
  }

  @Test
  void statsAndErrors() {
    SearchStats s = new SearchStats();
    for (int i = 1; i <= 100; i++) {
      s.record(200, i);
    }
    s.record(400, 1);
    s.record(503, 1);
    s.recordGone();
    String json = renderer.stats(gen, s, new long[] {4, 10, 5}, new Json().put("ok", 1).put("errors", 2),
        new Json().put("open", 7), new Json().put("peak_bytes", 9), ServeConfig.defaults(), 12.34).toString();
    String loaded = "\"loaded_at\":\"" + gen.loadedAt() + "\"";
    assertTrue(json.contains(loaded), json);
    assertEquals("{\"index\":{\"generation\":3,\"file\":\"idx.dh\",\"loaded_at\":\"T\",\"rows\":4,\"bits\":16,"
        + "\"dim\":2,\"labels\":true,\"paths\":false,\"photos\":null},\"reloads\":{\"ok\":1,\"errors\":2},"
        + "\"model\":{\"bits\":16,\"input\":\"28x28x1\",\"classes\":[\"zero\",\"one\",\"two\"]},"
        + "\"backend\":\"scalar\",\"device\":\"" + search.device() + "\","
        + "\"queries\":{\"total\":103,\"ok\":100,\"client_errors\":1,\"server_errors\":1,\"client_gone\":1},"
        + "\"latency_ms\":{\"window\":100,\"p50\":50,\"p99\":99,\"mean_all\":50.5},"
        + "\"batches\":{\"count\":4,\"queries\":10,\"mean_size\":2.5,\"max_size\":5},"
        + "\"connections\":{\"open\":7},\"decode\":{\"peak_bytes\":9},"
        + "\"limits\":{\"max_k\":1000,\"max_pool\":10000,\"max_body_bytes\":8388608,\"max_image_side\":4096,"
        + "\"max_image_pixels\":16777216,\"timeout_ms\":10000,\"idle_timeout_ms\":10000,"
        + "\"request_timeout_ms\":30000,\"max_connections\":512,\"decode_budget_bytes\":268435456,"
        + "\"reload_check_ms\":1000},\"uptime_s\":12.3}", json.replace(loaded, "\"loaded_at\":\"T\""));
    assertEquals("{\"error\":\"no\",\"status\":404}", ResponseRenderer.error(404, "no").toString());
  }
}
