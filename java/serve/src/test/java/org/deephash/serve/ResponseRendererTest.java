package org.deephash.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.image.BufferedImage;
import java.util.List;
import org.deephash.CodeTable;
import org.deephash.index.LoadedIndex;
import org.deephash.model.net.HashNetConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The JSON answers, field by field, from hand-made answers: no server, no engine, no model run. */
class ResponseRendererTest {
  private CodeTable table;
  private ResponseRenderer renderer;

  @BeforeEach
  void table() {
    table = CodeTable.create(16, 2, true);
    table.addAll(new long[] {100, 200, 300}, new byte[6], new float[6], new int[] {2, 0, 7});
    HashNetConfig model = HashNetConfig.of(28, 28, 1, 16, List.of("zero", "one", "two"));
    renderer = new ResponseRenderer(new LoadedIndex(table, null), model);
  }

  @AfterEach
  void close() {
    table.close();
  }

  @Test
  void aQueryByIdWithItsLabelAndTheResultsInRankOrder() {
    SearchRequest req = new SearchRequest(new SearchRequest.ById(300),
        new SearchRequest.Options(SearchService.Mode.HDS, 2, 50, -1, 1000));
    SearchService.Query q = new SearchService.Query(null, new byte[2], new float[2], SearchService.Mode.HDS, 2, 50, -1,
        1000);
    SearchService.Answer a = new SearchService.Answer(new int[] {2, 0}, new int[] {0, 3},
        new float[] {0f, 1.234567f}, false, -1, 0f, 0.5, 0, 1.25, 3);
    assertEquals("{\"query\":{\"source\":\"id\",\"id\":300,\"label\":7,\"label_name\":\"7\",\"image\":\"/images/300\"},"
        + "\"mode\":\"hds\",\"k\":2,\"pool\":50,\"backend\":\"scalar\",\"batch_size\":3,"
        + "\"timings_ms\":{\"decode\":0.123,\"queue\":0.5,\"encode\":0,\"search\":1.25,\"total\":2},"
        + "\"results\":["
        + "{\"rank\":1,\"id\":300,\"label\":7,\"label_name\":\"7\",\"hamming\":0,\"euclidean\":0,\"image\":\"/images/300\"},"
        + "{\"rank\":2,\"id\":100,\"label\":2,\"label_name\":\"two\",\"hamming\":3,\"euclidean\":1.23457,"
        + "\"image\":\"/images/100\"}]}",
        renderer.search(req, 2, q, a, new ResponseRenderer.Timings(0.12345, 2.0), "scalar").toString());
  }

  @Test
  void anUploadWithThePredictedClassAndARadiusSearch() {
    SearchRequest req = new SearchRequest(new SearchRequest.ByImage(new BufferedImage(40, 30,
        BufferedImage.TYPE_INT_RGB)), new SearchRequest.Options(SearchService.Mode.BCS, 5, 100, 4, 10));
    SearchService.Query q = new SearchService.Query(new float[784], null, null, SearchService.Mode.BCS, 5, 100, 4, 10);
    SearchService.Answer a = new SearchService.Answer(new int[] {1}, new int[] {4}, null, true, 1, 0.87654f, 0, 2, 1,
        1);
    assertEquals("{\"query\":{\"source\":\"upload\",\"width\":40,\"height\":30,\"predicted\":\"one\","
        + "\"confidence\":0.8765},\"mode\":\"bcs\",\"k\":5,\"radius\":4,\"cap\":10,\"truncated\":true,"
        + "\"backend\":\"java\",\"batch_size\":1,"
        + "\"timings_ms\":{\"decode\":1,\"queue\":0,\"encode\":2,\"search\":1,\"total\":4},"
        + "\"results\":[{\"rank\":1,\"id\":200,\"label\":0,\"label_name\":\"zero\",\"hamming\":4,"
        + "\"image\":\"/images/200\"}]}",
        renderer.search(req, -1, q, a, new ResponseRenderer.Timings(1, 4), "java").toString());
  }

  @Test
  void statsAndErrors() {
    SearchStats s = new SearchStats();
    for (int i = 1; i <= 100; i++) {
      s.record(200, i);
    }
    s.record(400, 1);
    s.record(503, 1);
    String json = renderer.stats("native", "cpu", s, new long[] {4, 10, 5}, ServeConfig.defaults(), 12.34).toString();
    assertEquals("{\"index\":{\"rows\":3,\"bits\":16,\"dim\":2,\"labels\":true,\"paths\":false},"
        + "\"model\":{\"bits\":16,\"input\":\"28x28x1\",\"classes\":[\"zero\",\"one\",\"two\"]},"
        + "\"backend\":\"native\",\"device\":\"cpu\","
        + "\"queries\":{\"total\":102,\"ok\":100,\"client_errors\":1,\"server_errors\":1},"
        + "\"latency_ms\":{\"window\":100,\"p50\":50,\"p99\":99,\"mean_all\":50.5},"
        + "\"batches\":{\"count\":4,\"queries\":10,\"mean_size\":2.5,\"max_size\":5},"
        + "\"limits\":{\"max_k\":1000,\"max_pool\":10000,\"max_body_bytes\":8388608,\"max_image_side\":4096,"
        + "\"timeout_ms\":10000},\"uptime_s\":12.3}", json);
    assertEquals("{\"error\":\"no\",\"status\":404}", ResponseRenderer.error(404, "no").toString());
  }
}
