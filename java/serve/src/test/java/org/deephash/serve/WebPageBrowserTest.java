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

  private static void screenshot(Cdp page, String name) throws Exception {
    Map<String, Object> shot = page.send("Page.captureScreenshot", new Json().put("format", "png"));
    Path out = Path.of(System.getProperty("serve.artifacts", "target/serve-artifacts"));
    Files.createDirectories(out);
    Files.write(out.resolve(name), Base64.getDecoder().decode(shot.get("data").toString()));
  }
}
