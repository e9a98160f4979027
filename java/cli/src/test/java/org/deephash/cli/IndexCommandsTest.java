package org.deephash.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.Pool;
import org.deephash.SearchOptions;
import org.deephash.SearchResult;
import org.deephash.index.IndexFile;
import org.deephash.index.IndexInfo;
import org.deephash.io.Json;
import org.deephash.io.Npy;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** import, search and info through .npy files, checked against the scalar oracle. */
class IndexCommandsTest {
  private static final int N = 3001;
  private static final int BITS = 96;
  private static final int DIM = 12;
  private static final int Q = 9;

  @TempDir
  Path dir;

  private byte[] codes;
  private float[] features;
  private long[] ids;
  private int[] labels;
  private byte[] queries;
  private float[] queryFeatures;

  @BeforeEach
  void writeInputs() throws IOException {
    long seed = 20240611L;
    SplittableRandom r = new SplittableRandom(seed);
    codes = new byte[N * BITS / 8];
    r.nextBytes(codes);
    // Duplicate codes make ties: the order must be by ascending id.
    System.arraycopy(codes, 0, codes, BITS / 8 * 17, BITS / 8);
    features = new float[N * DIM];
    for (int i = 0; i < features.length; i++) {
      features[i] = (float) r.nextGaussian();
    }
    ids = new long[N];
    for (int i = 0; i < N; i++) {
      ids[i] = 1_000_000_007L * (i % 2 == 0 ? 1 : -1) + 31L * i; // unique, unordered, negative too
    }
    labels = new int[N];
    for (int i = 0; i < N; i++) {
      labels[i] = i % 10;
    }
    queries = new byte[Q * BITS / 8];
    r.nextBytes(queries);
    queryFeatures = new float[Q * DIM];
    for (int i = 0; i < queryFeatures.length; i++) {
      queryFeatures[i] = (float) r.nextGaussian();
    }
    Npy.write(dir.resolve("codes.npy"), codes, N, BITS / 8);
    Npy.write(dir.resolve("features.npy"), features, N, DIM);
    Npy.write(dir.resolve("ids.npy"), ids, N);
    Npy.write(dir.resolve("labels.npy"), labels, N);
    Npy.write(dir.resolve("q.npy"), queries, Q, BITS / 8);
    Npy.write(dir.resolve("qf.npy"), queryFeatures, Q, DIM);
  }

  private String p(String name) {
    return dir.resolve(name).toString();
  }

  private Path importAll() {
    CliRun r = CliRun.of("import", "--codes", p("codes.npy"), "--features", p("features.npy"), "--ids",
        p("ids.npy"), "--labels", p("labels.npy"), "--out", p("index.dh"));
    assertEquals(0, r.status(), r.toString());
    assertTrue(r.out().contains("3,001 rows of 96-bit codes, 12-d features, ids, labels"), r.toString());
    return dir.resolve("index.dh");
  }

  /** The oracle's answer over the same arrays. */
  private static SearchResult oracle(byte[] codes, float[] features, long[] ids, java.util.function.Function<
      GpuHashSearch, SearchResult> op) {
    try (CodeTable t = CodeTable.create(BITS, DIM, false);
        GpuHashSearch s = GpuHashSearch.open(t, SearchOptions.defaults().withBackend("scalar"))) {
      t.addAll(ids, codes, features, null);
      return op.apply(s);
    }
  }

  @Test
  void importThenSearchMatchesTheOracle() throws IOException {
    Path index = importAll();
    try (CodeTable t = IndexFile.open(index)) {
      assertEquals(N, t.size());
      assertEquals(ids[5], t.id(5));
      assertEquals(labels[7], t.label(7));
      assertArrayEquals(t.code(17), t.code(0));
    }
    CliRun r = CliRun.of("search", "--index", index.toString(), "--queries", p("q.npy"), "--k", "15");
    assertEquals(0, r.status(), r.toString());
    List<String> lines = r.out().lines().toList();
    assertEquals("query,rank,id,hamming", lines.get(0));
    assertEquals(1 + Q * 15, lines.size());
    SearchResult want = oracle(codes, features, ids, s -> s.query(queries, 15));
    for (int q = 0; q < Q; q++) {
      for (int i = 0; i < 15; i++) {
        assertEquals(q + "," + i + "," + want.id(q, i) + "," + want.hamming(q, i), lines.get(1 + q * 15 + i));
      }
    }
  }

  @Test
  void coarseToFineAndRadiusAsJsonLines() throws IOException {
    Path index = importAll();
    Path out = dir.resolve("hds.jsonl");
    CliRun r = CliRun.of("search", "--index", index.toString(), "--queries", p("q.npy"), "--query-features",
        p("qf.npy"), "--k", "5", "--pool", "200", "--format", "jsonl", "--out", out.toString());
    assertEquals(0, r.status(), r.toString());
    assertEquals("", r.out());
    List<String> lines = Files.readAllLines(out);
    assertEquals(Q, lines.size());
    SearchResult want = oracle(codes, features, ids, s -> s.coarseToFine(queries, queryFeatures, Pool.topM(200), 5));
    for (int q = 0; q < Q; q++) {
      Map<String, Object> j = Json.object(lines.get(q));
      assertEquals((double) q, j.get("query"));
      List<?> gotIds = (List<?>) j.get("ids");
      List<?> gotD = (List<?>) j.get("distances");
      List<?> gotH = (List<?>) j.get("hamming");
      for (int i = 0; i < 5; i++) {
        assertEquals((double) want.id(q, i), (Double) gotIds.get(i), 0.0); // ids here fit in a double exactly
        assertEquals(want.distance(q, i), (Double) gotD.get(i), 1e-4 * Math.abs(want.distance(q, i)));
        assertEquals((double) want.hamming(q, i), gotH.get(i));
      }
    }

    CliRun radius = CliRun.of("search", "--index", index.toString(), "--queries", p("q.npy"), "--radius", "38",
        "--cap", "4");
    assertEquals(0, radius.status(), radius.toString());
    SearchResult wantR = oracle(codes, features, ids, s -> s.radius(queries, 38, 4));
    List<String> rows = radius.out().lines().toList();
    assertEquals("query,rank,id,hamming,truncated", rows.get(0));
    assertEquals(1 + wantR.totalCount(), rows.size());
    int line = 1;
    for (int q = 0; q < Q; q++) {
      for (int i = 0; i < wantR.count(q); i++) {
        assertEquals(q + "," + i + "," + wantR.id(q, i) + "," + wantR.hamming(q, i) + "," + wantR.truncated(q),
            rows.get(line++));
      }
    }
  }

  @Test
  void infoPrintsTheHeaderAndVerifiesChecksums() throws IOException {
    Path index = importAll();
    CliRun ok = CliRun.of("info", index.toString());
    assertEquals(0, ok.status(), ok.toString());
    assertTrue(ok.out().contains("3,001 (3,001 live, 0 deleted)"), ok.toString());
    assertTrue(ok.out().contains("96 bits"), ok.toString());
    assertFalse(ok.out().contains("CORRUPT"), ok.toString());
    Map<String, Object> j = Json.object(CliRun.of("info", "--json", index.toString()).out().strip());
    assertEquals(Boolean.TRUE, j.get("ok"));
    assertEquals(12.0, j.get("dim"));

    IndexInfo.Section features = IndexFile.info(index).sections().stream()
        .filter(s -> s.name().equals("features")).findFirst().orElseThrow();
    flipByte(index, features.offset() + features.length() / 2);
    CliRun bad = CliRun.of("info", index.toString());
    assertEquals(1, bad.status(), bad.toString());
    assertTrue(bad.out().lines().anyMatch(l -> l.contains("features") && l.contains("CORRUPT")), bad.toString());
    assertTrue(bad.err().contains("checksum mismatch in section features"), bad.toString());
    // search refuses the damaged file too (it verifies every checksum by default)
    assertEquals(1, CliRun.of("search", "--index", index.toString(), "--queries", p("q.npy")).status());
  }

  @Test
  void infoOnAFileThatIsNotAnIndexNamesTheHeader() throws IOException {
    Path junk = dir.resolve("junk.dh");
    Files.write(junk, new byte[300]);
    CliRun r = CliRun.of("info", junk.toString());
    assertEquals(1, r.status(), r.toString());
    assertTrue(r.err().contains("FAILED: header"), r.toString());
  }

  private static void flipByte(Path file, long offset) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.allocate(1);
      ch.read(b, offset);
      b.put(0, (byte) (b.get(0) ^ 0x5A));
      b.rewind();
      ch.write(b, offset);
    }
  }

  @Test
  void wrongShapesAndTypesAreRejectedWithWhatWasExpected() throws IOException {
    Npy.write(dir.resolve("flat.npy"), new float[1000]);
    assertBadInput(CliRun.of("import", "--codes", p("flat.npy"), "--out", p("x.dh")),
        "flat.npy: expected a 2-D uint8 array [N, B/8], got float32 [1000]");
    Npy.write(dir.resolve("c1d.npy"), new byte[64]);
    assertBadInput(CliRun.of("import", "--codes", p("c1d.npy"), "--out", p("x.dh")),
        "c1d.npy: expected a 2-D uint8 array [N, B/8], got uint8 [64]");
    Npy.write(dir.resolve("f_short.npy"), new float[10 * DIM], 10, DIM);
    assertBadInput(CliRun.of("import", "--codes", p("codes.npy"), "--features", p("f_short.npy"), "--out", p("x.dh")),
        "f_short.npy: expected a 2-D float32 array [N, d] with N = 3001 rows (as in codes.npy), got [10, 12]");
    Npy.write(dir.resolve("ids32.npy"), new int[N]);
    assertBadInput(CliRun.of("import", "--codes", p("codes.npy"), "--ids", p("ids32.npy"), "--out", p("x.dh")),
        "ids32.npy: expected a 1-D int64 array [N], got int32 [3001] (convert with arr.astype(np.int64))");
    Npy.write(dir.resolve("lab2d.npy"), new int[N], N, 1);
    assertBadInput(CliRun.of("import", "--codes", p("codes.npy"), "--labels", p("lab2d.npy"), "--out", p("x.dh")),
        "lab2d.npy: expected a 1-D int32 array [N], got int32 [3001, 1]");
    Files.writeString(dir.resolve("text.npy"), "not numpy at all");
    assertBadInput(CliRun.of("import", "--codes", p("text.npy"), "--out", p("x.dh")),
        "text.npy: expected a 2-D uint8 array [N, B/8]; not a .npy file");
    long[] dup = ids.clone();
    dup[9] = dup[3];
    Npy.write(dir.resolve("dup.npy"), dup, N);
    assertBadInput(CliRun.of("import", "--codes", p("codes.npy"), "--ids", p("dup.npy"), "--out", p("x.dh")),
        "duplicate id");
    assertFalse(Files.exists(dir.resolve("x.dh")), "nothing is written when the input is bad");

    Path index = importAll();
    CliRun again = CliRun.of("import", "--codes", p("codes.npy"), "--out", index.toString());
    assertBadInput(again, "index.dh exists; pass --force");
    Npy.write(dir.resolve("q64.npy"), new byte[16], 2, 8);
    assertBadInput(CliRun.of("search", "--index", index.toString(), "--queries", p("q64.npy")),
        "q64.npy: expected a 2-D uint8 array [Q, 12] (96-bit codes, as in index.dh), got [2, 8]");
    Npy.write(dir.resolve("qf3.npy"), new float[Q * 3], Q, 3);
    assertBadInput(CliRun.of("search", "--index", index.toString(), "--queries", p("q.npy"), "--query-features",
        p("qf3.npy")), "qf3.npy: expected a 2-D float32 array [Q, 12] (d as in index.dh), got [9, 3]");
    assertBadInput(CliRun.of("search", "--index", index.toString(), "--queries", p("q.npy"), "--radius", "97"),
        "--radius must be in [0, 96]");
    assertBadInput(CliRun.of("search", "--index", p("missing.dh"), "--queries", p("q.npy")), "no such file");
  }

  private static void assertBadInput(CliRun r, String fragment) {
    assertEquals(2, r.status(), r.toString());
    assertTrue(r.err().contains(fragment), "expected '" + fragment + "' in:\n" + r);
  }

  /** import --mih writes the tables, info shows them, search --method mih answers as the oracle. */
  @Test
  void multiIndexTablesEndToEnd() throws IOException {
    // queries near table rows: radius 3 finds something
    byte[] near = queries.clone();
    for (int q = 0; q < Q; q++) {
      System.arraycopy(codes, (q * 101) * BITS / 8, near, q * BITS / 8, BITS / 8);
      near[q * BITS / 8 + q % (BITS / 8)] ^= 0x11;
    }
    Npy.write(dir.resolve("near.npy"), near, Q, BITS / 8);
    CliRun r = CliRun.of("import", "--codes", p("codes.npy"), "--ids", p("ids.npy"), "--mih", "3", "--out",
        p("mih.dh"));
    assertEquals(0, r.status(), r.toString());
    assertTrue(r.out().contains("multi-index tables"), r.toString());
    CliRun info = CliRun.of("info", p("mih.dh"), "--json");
    assertEquals(0, info.status(), info.toString());
    assertEquals(3.0, Json.object(info.out().strip()).get("mih_tables"), info.out());
    for (String method : new String[] {"mih", "scan"}) {
      CliRun s = CliRun.of("search", "--index", p("mih.dh"), "--queries", p("near.npy"), "--radius", "3", "--cap",
          "50", "--method", method, "--format", "jsonl");
      assertEquals(0, s.status(), s.toString());
      SearchResult want = oracle(codes, features, ids, o -> o.radius(near, 3, 50));
      List<String> lines = s.out().lines().toList();
      for (int q = 0; q < Q; q++) {
        Map<String, Object> j = Json.object(lines.get(q));
        assertEquals(method, j.get("method"));
        List<?> got = (List<?>) j.get("ids");
        assertEquals(want.count(q), got.size(), "query " + q);
        for (int i = 0; i < got.size(); i++) {
          assertEquals((double) want.id(q, i), ((Number) got.get(i)).doubleValue(), "query " + q + " rank " + i);
        }
        assertTrue(want.count(q) >= 1, "query " + q + " has its planted row");
      }
    }
    CliRun bad = CliRun.of("search", "--index", p("index.dh").replace("index.dh", "mih.dh"), "--queries",
        p("near.npy"), "--method", "fast");
    assertEquals(2, bad.status(), bad.toString());
  }

  /** A .npy header nested 3,000 levels deep: exit 2 and one line naming the file, no stack trace. */
  @Test
  void hostileNpyHeaderIsOneLine() throws IOException {
    String dict = "{'descr': '|u1', 'fortran_order': False, 'shape': " + "(".repeat(3000) + ")".repeat(3000) + ", }";
    byte[] text = (dict + "\n").getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    ByteBuffer b = ByteBuffer.allocate(10 + text.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0}).putShort((short) text.length).put(text);
    Files.write(dir.resolve("deep.npy"), b.array());
    CliRun r = CliRun.of("import", "--codes", p("deep.npy"), "--out", p("deep.dh"));
    assertEquals(2, r.status(), r.toString());
    assertEquals(1, r.err().strip().lines().count(), r.err());
    assertTrue(r.err().contains("deep.npy") && r.err().contains("nested deeper"), r.err());
    assertFalse(Files.exists(dir.resolve("deep.dh")));
  }
}
