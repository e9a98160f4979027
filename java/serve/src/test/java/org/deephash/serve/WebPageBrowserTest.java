package org.deephash.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.deephash.io.Json;
import org.deephash.testing.RequiredData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * End to end in headless Chromium (Debian's {@code chromium}; .ci/run installs it): load the page,
 * upload a generated test picture through its file input, see k result images load with their
 * distances, click a result to search with it, and save a screenshot as a test artefact
 * ({@code serve-artifacts/web-page.png}). Where Chromium is missing it fails, unless
 * {@code -Ddeephash.optionalData=true} marks it optional ({@link RequiredData}).
 */
class WebPageBrowserTest {
  @TempDir
  Path dir;

  @Test
  @Timeout(value = 3, unit = TimeUnit.MINUTES)
  void uploadShowsKResultsAndAResultSearchesAgain() throws Exception {
    Path chromium = Cdp.findChromium();
    RequiredData.require(chromium != null, "Chromium (/usr/bin/chromium)", "apt-get install chromium");
    try (ServeFixture f = new ServeFixture(dir, ServeConfig.defaults())) {
      Path query = dir.resolve("query.png");
      Files.write(query, f.testPng(0));
      try (Cdp page = new Cdp(chromium, dir.resolve("profile"), f.api.url())) {
        // null-safe: the first polls can run before the page's document is there
        page.waitFor("document.readyState === 'complete'"
            + " && (document.getElementById('info')?.textContent ?? '').includes('images')", 20_000);
        assertTrue(page.eval("document.getElementById('info').textContent").toString().contains("3,000 images"));
        page.eval("document.getElementById('k').value = '8'");
        // the file input: set its file as a user picking it would (fires 'change')
        Map<String, Object> doc = page.send("DOM.getDocument", new Json());
        double root = (double) ((Map<?, ?>) doc.get("root")).get("nodeId");
        double input = (double) page.send("DOM.querySelector", new Json().put("nodeId", root)
            .put("selector", "#file")).get("nodeId");
        page.send("DOM.setFileInputFiles", new Json().put("nodeId", input).put("files", List.of(query.toString())));
        String loaded = "Array.from(document.querySelectorAll('#results .result img'))";
        page.waitFor(loaded + ".length === 8 && " + loaded + ".every(i => i.complete && i.naturalWidth === 28)",
            30_000);
        String timings = page.eval("document.getElementById('timings').textContent").toString();
        assertTrue(timings.startsWith("8 results, hds"), timings);
        String caption = page.eval("document.getElementById('query-caption').textContent").toString();
        assertTrue(caption.startsWith("predicted: "), caption);
        Object firstDist = page.eval("document.querySelector('#results .result .dist').textContent");
        assertTrue(firstDist.toString().matches("ham \\d+ · L2 \\d+\\.\\d{3}"), firstDist.toString());
        double marked = (double) page.eval("document.querySelectorAll('#results .result.hit, #results .result.miss').length");
        assertEquals(8.0, marked, "every result is marked same-label or not");
        screenshot(page, "web-page.png");

        // a result is a link: clicking it searches with that indexed image
        String firstId = page.eval("document.querySelector('#results .result img').getAttribute('src')").toString();
        page.eval("document.querySelector('#results .result').click()");
        page.waitFor("document.getElementById('query-caption').textContent.startsWith('label: ')", 20_000);
        assertEquals(firstId, page.eval("new URL(document.getElementById('query-img').src).pathname"));
        page.waitFor(loaded + ".length === 8 && " + loaded + ".every(i => i.complete && i.naturalWidth === 28)",
            20_000);
        screenshot(page, "web-page-by-id.png");
      }
    }
  }

  /**
   * A photo folder's index: the grid shows cached thumbnails (never the full photos, loaded lazily)
   * with file names and distances; a clicked result becomes the query, shown as its larger preview.
   */
  @Test
  @Timeout(value = 3, unit = TimeUnit.MINUTES)
  void photoResultsShowThumbnailsAndPaths() throws Exception {
    Path chromium = Cdp.findChromium();
    RequiredData.require(chromium != null, "Chromium (/usr/bin/chromium)", "apt-get install chromium");
    try (PhotoFixture f = new PhotoFixture(dir)) {
      Path query = f.photos.resolve(f.expectedPaths.get(4));
      try (Cdp page = new Cdp(chromium, dir.resolve("profile"), f.api.url())) {
        page.waitFor("document.readyState === 'complete'"
            + " && (document.getElementById('info')?.textContent ?? '').includes('photos of')", 20_000);
        assertTrue(page.eval("document.getElementById('info').textContent").toString().contains("2 files skipped"));
        // room for all ten results: the grid's images load lazily, only once scrolled into view
        page.send("Emulation.setDeviceMetricsOverride", new Json().put("width", 1400).put("height", 1000)
            .put("deviceScaleFactor", 1).put("mobile", false));
        page.eval("document.getElementById('k').value = '10'");
        Map<String, Object> doc = page.send("DOM.getDocument", new Json());
        double root = (double) ((Map<?, ?>) doc.get("root")).get("nodeId");
        double input = (double) page.send("DOM.querySelector", new Json().put("nodeId", root)
            .put("selector", "#file")).get("nodeId");
        page.send("DOM.setFileInputFiles", new Json().put("nodeId", input).put("files", List.of(query.toString())));
        String imgs = "Array.from(document.querySelectorAll('#results .result img'))";
        page.waitFor(imgs + ".length === 10 && " + imgs + ".every(i => i.complete && i.naturalWidth > 0)", 30_000);
        // thumbnails: from /thumbs/, 160 px wide (the photos are 320 x 240), lazily loaded
        assertEquals(true, page.eval(imgs + ".every(i => new URL(i.src).pathname.startsWith('/thumbs/')"
            + " && i.naturalWidth === 160 && i.naturalHeight === 120 && i.loading === 'lazy')"));
        Object names = page.eval("Array.from(document.querySelectorAll('#results .result .path')).map(e => e.textContent)"
            + ".join(',')");
        for (String name : names.toString().split(",")) {
          assertTrue(name.matches("p\\d\\d\\.(jpg|png)"), names.toString());
        }
        Object firstDist = page.eval("document.querySelector('#results .result .dist').textContent");
        assertTrue(firstDist.toString().matches("ham \\d+ · L2 \\d+\\.\\d{3}"), firstDist.toString());
        screenshot(page, "web-page-photos.png");

        // a clicked result becomes the query: its 480 px preview (here the whole 320 px photo) and its path
        String firstPath = page.eval("document.querySelector('#results .result').title.split('\\n')[0]").toString();
        page.eval("document.querySelector('#results .result').click()");
        page.waitFor("document.getElementById('query-caption').textContent === " + js(firstPath), 20_000);
        page.waitFor("document.getElementById('query-img').complete"
            + " && new URL(document.getElementById('query-img').src).search === '?size=480'"
            + " && document.getElementById('query-img').naturalWidth === 320", 20_000);
        page.waitFor(imgs + ".length === 10 && " + imgs + ".every(i => i.complete && i.naturalWidth === 160)", 20_000);
        screenshot(page, "web-page-photos-by-id.png");
      }
    }
  }

  /** A string as a JavaScript literal (a JSON string is one). */
  private static String js(String s) {
    StringBuilder sb = new StringBuilder();
    Json.string(sb, s);
    return sb.toString();
  }

  private static void screenshot(Cdp page, String name) throws Exception {
    Map<String, Object> shot = page.send("Page.captureScreenshot", new Json().put("format", "png"));
    Path out = Path.of(System.getProperty("serve.artifacts", "target/serve-artifacts"));
    Files.createDirectories(out);
    Files.write(out.resolve(name), Base64.getDecoder().decode(shot.get("data").toString()));
  }
}
