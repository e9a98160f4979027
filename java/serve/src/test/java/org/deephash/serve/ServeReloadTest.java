package org.deephash.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchOptions;
import org.deephash.index.IndexFile;
import org.deephash.index.LoadedIndex;
import org.deephash.io.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Zero-downtime reload: the served index file replaced by a rename (as engine-cli import and
 * IndexFile.save do) while queries run, a bad replacement refused, and a file overwritten in place
 * detected and recovered from. The watcher thread is off here and the tests run its check by hand
 * ({@link SearchService#checkIndexFile}), so every step happens in a known order; {@link
 * #theWatcherPicksUpARenameByItself} runs the real watcher.
 *
 * <p>The replacement {@code B} holds the same rows as the original {@code A} in reverse order with
 * ids shifted by {@value #SHIFT}: a row number of one is a different image in the other, so an
 * answer computed on one generation and rendered with the other's table would name the wrong ids
 * with distances that do not match them, which the comparison with each generation's own direct
 * answer catches.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServeReloadTest {
  static final long SHIFT = 100_000;

  @TempDir
  static Path dir;

  ServeFixture f;
  /** The original index's bytes, and B's. */
  byte[] fileA;
  byte[] fileB;
  LoadedIndex indexB;
  GpuHashSearch directB;

  @BeforeAll
  void start() throws Exception {
    f = new ServeFixture(dir, ServeConfig.defaults().withReloadCheck(0).withBatching(500, 64, 4096));
    fileA = Files.readAllBytes(f.file);
    CodeTable a = f.index.table();
    int n = a.size();
    long[] ids = new long[n];
    byte[] codes = new byte[n * a.codeBytes()];
    float[] features = new float[n * a.dim()];
    int[] labels = new int[n];
    List<String> paths = new ArrayList<>();
    for (int r = 0; r < n; r++) {
      int from = n - 1 - r;
      ids[r] = a.id(from) + SHIFT;
      System.arraycopy(a.code(from), 0, codes, r * a.codeBytes(), a.codeBytes());
      System.arraycopy(a.feature(from), 0, features, r * a.dim(), a.dim());
      labels[r] = a.label(from);
      paths.add(f.index.path(from));
    }
    try (CodeTable b = CodeTable.create(a.bits(), a.dim(), true)) {
      b.addAll(ids, codes, features, labels);
      Path copy = dir.resolve("b.dhx");
      IndexFile.save(b, copy, paths);
      fileB = Files.readAllBytes(copy);
      indexB = IndexFile.load(copy);
      directB = GpuHashSearch.open(indexB.table(), new SearchOptions(f.backend, 2));
    }
  }

  @AfterAll
  void stop() {
    if (directB != null) {
      directB.close();
      indexB.close();
    }
    if (f != null) {
      f.close();
    }
  }

  private long generation() throws Exception {
    return (long) (double) ((Map<?, ?>) f.stats().get("index")).get("generation");
  }

  private Map<?, ?> reloads() throws Exception {
    return (Map<?, ?>) f.stats().get("reloads");
  }

  private static void await(BooleanSupplier done, String what) throws InterruptedException {
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (!done.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting until " + what);
      }
      Thread.sleep(10);
    }
  }

  /** Runs the watcher's check until the served generation is {@code want} (two checks: a change must hold still). */
  private void reloadTo(long want) throws Exception {
    for (int i = 0; i < 3 && generation() != want; i++) {
      f.service.checkIndexFile();
      long t = System.nanoTime();
      while (generation() != want && System.nanoTime() - t < 1_000_000_000L) {
        Thread.sleep(5); // the batcher switches within its idle poll (100 ms)
      }
    }
    assertEquals(want, generation(), "the served generation; log: " + f.log);
  }

  /** Renames {@code bytes}, written beside the index, over it: the safe way. */
  private void replaceByRename(byte[] bytes) throws IOException {
    Path tmp = dir.resolve(".index.dhx.new");
    Files.write(tmp, bytes);
    Files.move(tmp, f.file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  /** Writes {@code bytes} into the index file itself (same inode), as {@code cp new.dh live.dh} does. */
  private void overwriteInPlace(byte[] bytes) throws IOException {
    try (FileChannel ch = FileChannel.open(f.file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        ch.write(b);
      }
    }
  }

  private static String codeQuery(CodeTable t, int row, int k, boolean hds) {
    StringBuilder feat = new StringBuilder();
    for (float x : t.feature(row)) {
      feat.append(feat.isEmpty() ? "" : ",").append(x);
    }
    return "{\"code\": \"" + HexFormat.of().formatHex(t.code(row)) + "\", \"k\": " + k
        + (hds ? ", \"pool\": 50, \"feature\": [" + feat + "]}" : ", \"mode\": \"bcs\"}");
  }

  /** The answer must be exactly its own generation's direct answer: A's for generation 1, B's for 2. */
  private void assertAnsweredBy(long generation, GpuHashSearch direct, CodeTable a, int row, int k, boolean hds,
      Map<String, Object> j) {
    assertEquals((double) generation, j.get("generation"), j.toString());
    if (hds) {
      ServeApiTest.assertSame(direct.coarseToFine(a.code(row), a.feature(row), Pool.topM(50), k), j, k);
    } else {
      ServeApiTest.assertSame(direct.query(a.code(row), k), j, k);
    }
  }

  @Test
  @Order(1)
  @Timeout(value = 3, unit = TimeUnit.MINUTES)
  void aRenameWhileQueriesRunSwitchesBetweenBatchesWithoutAFailedQuery() throws Exception {
    assertEquals(1, generation());
    CodeTable a = f.index.table();
    byte[] imageBefore = f.getBytes("/images/5").body();
    IndexGeneration first = f.service.acquire(); // held here to see it close once the switch is done
    int clients = 6;
    AtomicBoolean stop = new AtomicBoolean();
    List<List<Object[]>> seen = new ArrayList<>();
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    List<Future<?>> running = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      List<Object[]> mine = new ArrayList<>();
      seen.add(mine);
      final int client = c;
      running.add(pool.submit(() -> {
        for (int i = 0; !stop.get() || i < 20; i++) {
          int row = (client * 997 + i * 31) % a.size();
          boolean hds = (i + client) % 2 == 0;
          int k = 5 + i % 4;
          long sent = System.nanoTime();
          HttpResponse<String> r = f.postJson(codeQuery(a, row, k, hds));
          mine.add(new Object[] {row, k, hds, sent, r.statusCode(), r.body()});
        }
        return null;
      }));
    }
    Thread.sleep(300);
    replaceByRename(fileB);
    reloadTo(2);
    long switched = System.nanoTime(); // every query sent after this runs on generation 2
    Thread.sleep(300);
    stop.set(true);
    for (Future<?> r : running) {
      r.get(2, TimeUnit.MINUTES);
    }
    pool.shutdown();

    int[] byGeneration = new int[3];
    for (List<Object[]> mine : seen) {
      for (Object[] q : mine) {
        assertEquals(200, q[4], "no query fails during the switch: " + q[5]);
        Map<String, Object> j = Json.object((String) q[5]);
        long g = (long) (double) (Double) j.get("generation");
        byGeneration[(int) g]++;
        assertAnsweredBy(g, g == 1 ? f.direct : directB, a, (int) q[0], (int) q[1], (boolean) q[2], j);
        if ((long) q[3] > switched) {
          assertEquals(2, g, "a query sent after the switch is answered by the new index");
        }
      }
    }
    System.out.println("reload under load: answers by generation 1: " + byGeneration[1] + ", by generation 2: "
        + byGeneration[2]);
    assertTrue(byGeneration[1] > 0 && byGeneration[2] > 0, "both generations answered");

    // ids are the new index's now, and /images serves them; the old ids are gone
    assertEquals(404, f.postJson("{\"id\": 5}").statusCode());
    HttpResponse<String> byId = f.postJson("{\"id\": " + (5 + SHIFT) + ", \"k\": 3}");
    assertEquals(200, byId.statusCode(), byId.body());
    assertEquals("/images/" + (5 + SHIFT), ((Map<?, ?>) Json.object(byId.body()).get("query")).get("image"));
    assertEquals(404, f.get("/images/5").statusCode());
    assertTrue(java.util.Arrays.equals(imageBefore, f.getBytes("/images/" + (5 + SHIFT)).body()),
        "the same picture under its new id");

    Map<?, ?> s = (Map<?, ?>) f.stats().get("index");
    assertEquals(f.file.toString(), s.get("file"));
    assertNotNull(java.time.Instant.parse((String) s.get("loaded_at")));
    assertEquals(1.0, reloads().get("ok"));
    assertEquals(0.0, reloads().get("errors"));
    assertTrue(f.log.stream().anyMatch(l -> l.contains("replaced: generation 2")), f.log.toString());
    // nothing but this test holds the old generation now: letting go closes it (unmaps the old file)
    assertFalse(first.closed());
    first.release();
    assertTrue(first.closed(), "the old generation is closed once its last user lets go");
  }

  @Test
  @Order(2)
  void aBadReplacementIsRefusedOnceAndCountedAndTheOldIndexKeepsServing() throws Exception {
    long gen = generation();
    double errors = (double) reloads().get("errors");
    CodeTable b = indexB.table();
    // a flipped byte inside a section, a truncated file, and another code width
    byte[] flipped = fileB.clone();
    flipped[flipped.length / 2] ^= 0x40; // inside the features section
    byte[] truncated = java.util.Arrays.copyOf(fileB, fileB.length / 2);
    byte[] otherWidth;
    try (CodeTable t = CodeTable.create(64, 0, false)) {
      t.addAll(new long[] {1, 2}, new byte[16], null, null);
      Path p = dir.resolve("w.dhx");
      IndexFile.save(t, p);
      otherWidth = Files.readAllBytes(p);
    }
    String[][] cases = {{"flipped", "checksum"}, {"truncated", ""}, {"other width", "64-bit codes"}};
    byte[][] files = {flipped, truncated, otherWidth};
    for (int c = 0; c < files.length; c++) {
      int logLines = f.log.size();
      replaceByRename(files[c]);
      for (int i = 0; i < 5; i++) {
        f.service.checkIndexFile(); // the same bad file, checked again and again
      }
      errors++;
      assertEquals(errors, reloads().get("errors"), cases[c][0] + ": " + f.log);
      List<String> lines = f.log.subList(logLines, f.log.size());
      assertEquals(1, lines.size(), cases[c][0] + ": one log line, not one per check: " + lines);
      System.out.println("refused (" + cases[c][0] + "): " + lines.get(0));
      assertTrue(lines.get(0).startsWith("serve: refused the new " + f.file + ": ") && lines.get(0).contains(
          cases[c][1]) && lines.get(0).endsWith("; still serving generation " + gen), lines.get(0));
      assertTrue(((String) reloads().get("last_error")).contains(cases[c][1]), reloads().toString());
      assertEquals(gen, generation());
      // the old index answers as before
      HttpResponse<String> r = f.postJson(codeQuery(b, 7, 5, true));
      assertEquals(200, r.statusCode(), r.body());
      assertAnsweredBy(gen, directB, b, 7, 5, true, Json.object(r.body()));
    }
    // a good file after the bad ones is served
    replaceByRename(fileB);
    reloadTo(gen + 1);
    HttpResponse<String> r = f.postJson(codeQuery(b, 8, 4, false));
    assertAnsweredBy(gen + 1, directB, b, 8, 4, false, Json.object(r.body()));
  }

  @Test
  @Order(3)
  void anInPlaceOverwriteIsDetectedThenRecoveredFrom() throws Exception {
    long gen = generation();
    double serverErrors = serverErrors();
    CodeTable a = f.index.table();
    // cp of another valid index over the served file: the mapping no longer matches the file
    overwriteInPlace(fileA);
    HttpResponse<String> r = f.postJson(codeQuery(a, 3, 5, true));
    assertEquals(503, r.statusCode(), r.body());
    assertTrue(r.body().contains("overwritten in place"), r.body());
    assertEquals("1", r.headers().firstValue("Retry-After").orElse(""));
    // the check waits for the file to hold still, then serves it
    reloadTo(gen + 1);
    r = f.postJson(codeQuery(a, 3, 5, true));
    assertEquals(200, r.statusCode(), r.body());
    assertAnsweredBy(gen + 1, f.direct, a, 3, 5, true, Json.object(r.body()));

    // an overwrite that leaves a broken file: refused, 503 meanwhile, then a complete copy recovers
    double errors = (double) reloads().get("errors");
    overwriteInPlace(java.util.Arrays.copyOf(fileB, fileB.length / 3));
    f.service.checkIndexFile();
    f.service.checkIndexFile();
    assertEquals(errors + 1, reloads().get("errors"), f.log.toString());
    assertEquals(gen + 1, generation());
    assertEquals(503, f.postJson(codeQuery(a, 3, 5, true)).statusCode());
    overwriteInPlace(fileB);
    reloadTo(gen + 2);
    CodeTable b = indexB.table();
    r = f.postJson(codeQuery(b, 11, 6, true));
    assertEquals(200, r.statusCode(), r.body());
    assertAnsweredBy(gen + 2, directB, b, 11, 6, true, Json.object(r.body()));
    assertEquals(serverErrors + 2, serverErrors(), "the two 503s of the broken windows, nothing else");
  }

  private double serverErrors() throws Exception {
    return (double) ((Map<?, ?>) f.stats().get("queries")).get("server_errors");
  }

  @Test
  @Order(4)
  void aDeletedFileIsLoggedOnceAndTheIndexKeepsServing() throws Exception {
    long gen = generation();
    CodeTable b = indexB.table();
    int logLines = f.log.size();
    Files.delete(f.file);
    for (int i = 0; i < 4; i++) {
      f.service.checkIndexFile();
    }
    List<String> lines = f.log.subList(logLines, f.log.size());
    assertEquals(List.of("serve: " + f.file + " is gone; still serving generation " + gen + " until a file is there"
        + " again"), lines);
    HttpResponse<String> r = f.postJson(codeQuery(b, 12, 5, true));
    assertAnsweredBy(gen, directB, b, 12, 5, true, Json.object(r.body()));
    replaceByRename(fileA);
    reloadTo(gen + 1);
  }

  @Test
  @Order(5)
  @Timeout(value = 2, unit = TimeUnit.MINUTES)
  void theWatcherPicksUpARenameByItself() throws Exception {
    Path file = dir.resolve("watched.dhx");
    Files.write(file, fileA);
    List<String> log = new java.util.concurrent.CopyOnWriteArrayList<>();
    try (SearchService s = SearchService.open(file, new SearchOptions(f.backend, 1), null,
        ServeConfig.defaults().withReloadCheck(20), log::add)) {
      Path tmp = dir.resolve(".watched.dhx.tmp");
      Files.write(tmp, fileB);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      await(() -> {
        IndexGeneration g = s.acquire();
        try {
          return g.number() == 2;
        } finally {
          g.release();
        }
      }, "the watcher serves the renamed file");
      IndexGeneration g = s.acquire();
      try {
        assertEquals(SHIFT + f.index.table().id(f.index.table().size() - 1), g.table().id(0));
      } finally {
        g.release();
      }
      assertTrue(log.stream().anyMatch(l -> l.contains("replaced: generation 2")), log.toString());
      assertEquals("{\"ok\":1,\"errors\":0,\"last_error\":null,\"last_error_at\":null}", s.reloadStats().toString());
    }
  }
}
