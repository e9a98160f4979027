package org.deephash.model.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintStream;
import java.io.OutputStream;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The evaluation on a small synthetic database, through the engine, against direct computations. */
class EvaluationTest {

  @Test
  void rowsMatchTheMetricDefinitionsAndTheEngineAgreesWithTheReferenceRanking() {
    SplittableRandom rnd = new SplittableRandom(5);
    int n = 1500;
    int q = 40;
    int dim = 4;
    // Labels 0..2; codes: a class prototype with a few flipped bits, so there are many ties.
    long[] proto = {0x0000_0000_0000L, 0x0000_ffff_ff00L, 0xffff_0000_00ffL};
    int[] dbLabels = new int[n];
    byte[] dbCodes = new byte[n * 6];
    float[] dbFeatures = new float[n * dim];
    for (int i = 0; i < n; i++) {
      dbLabels[i] = rnd.nextInt(3);
      long c = proto[dbLabels[i]] ^ (1L << rnd.nextInt(48)) ^ (1L << rnd.nextInt(48));
      put(dbCodes, i, c);
      for (int j = 0; j < dim; j++) {
        dbFeatures[i * dim + j] = dbLabels[i] + (float) rnd.nextDouble();
      }
    }
    int[] qLabels = new int[q];
    byte[] qCodes = new byte[q * 6];
    float[] qFeatures = new float[q * dim];
    for (int i = 0; i < q; i++) {
      qLabels[i] = rnd.nextInt(3);
      put(qCodes, i, proto[qLabels[i]] ^ (1L << rnd.nextInt(48)));
      for (int j = 0; j < dim; j++) {
        qFeatures[i * dim + j] = qLabels[i] + 0.5f;
      }
    }
    List<Evaluation.Row> rows = new Evaluation(new PrintStream(OutputStream.nullOutputStream())).run(48, dim, dbCodes,
        dbFeatures, dbLabels, qCodes, qFeatures, qLabels, List.of(), null);
    assertEquals(List.of("bcs", "es", "hds"), rows.stream().map(Evaluation.Row::name).toList());
    Evaluation.Row bcs = rows.get(0);
    // Direct computation of P@10 and full AP for the Hamming ranking (stable sort by distance).
    double p10 = 0;
    double ap = 0;
    for (int i = 0; i < q; i++) {
      Integer[] order = new Integer[n];
      int[] d = new int[n];
      for (int r = 0; r < n; r++) {
        order[r] = r;
        d[r] = Long.bitCount(get(dbCodes, r) ^ get(qCodes, i));
      }
      java.util.Arrays.sort(order, (x, y) -> d[x] != d[y] ? Integer.compare(d[x], d[y]) : Integer.compare(x, y));
      boolean[] rel = new boolean[n];
      int total = 0;
      for (int r = 0; r < n; r++) {
        rel[r] = dbLabels[order[r]] == qLabels[i];
        total += rel[r] ? 1 : 0;
      }
      p10 += Metrics.precisionAt(rel, 10);
      ap += Metrics.averagePrecision(rel, total);
    }
    assertEquals(p10 / q, bcs.precisionAtK()[1], 1e-9);
    assertEquals(ap / q, bcs.mapFull(), 1e-9);
    assertTrue(bcs.precisionR2() > 0.99, "prototype codes 1-3 bits apart are all relevant");
    assertTrue(rows.get(1).mapFull() > 0.99, "ES full-list mAP: features separate the classes");
    assertEquals(1.0, rows.get(1).precisionAtK()[1], 1e-12, "features separate the classes");
    assertEquals(1.0, rows.get(2).precisionAtK()[1], 1e-12);
    String json = Evaluation.json(48, 0.5, rows, java.util.Map.of("model", "C:\\runs\\\"m\""));
    assertTrue(json.startsWith("{\"bits\":48,\"accuracy\":0.5,"), json);
    assertTrue(json.contains("\"hds\":{\"fine_stage\":\"f7\",\"p_at_1\":1,"), json);
    java.util.Map<String, Object> back = org.deephash.io.Json.object(json);
    assertEquals("C:\\runs\\\"m\"", back.get("model"), "strings are escaped");
    assertNull(((java.util.Map<?, ?>) back.get("es")).get("precision_r2"), "figures that do not apply are null");
    assertEquals("f7", ((java.util.Map<?, ?>) back.get("hds")).get("fine_stage"), "the HDS row names its fine stage");
    assertEquals(rows.get(0).mapAt1000(), (Double) ((java.util.Map<?, ?>) back.get("bcs")).get("map_at_1000"), 1e-6);
  }

  @Test
  void javaReRankOnF7EqualsTheEnginesCoarseToFine() {
    SplittableRandom rnd = new SplittableRandom(9);
    int n = 3000;
    int q = 25;
    int dim = 7;
    byte[] db = new byte[n * 2];
    float[] f = new float[n * dim];
    rnd.nextBytes(db);
    for (int i = 0; i < f.length; i++) {
      f[i] = (float) rnd.nextGaussian();
    }
    byte[] qc = new byte[q * 2];
    float[] qf = new float[q * dim];
    rnd.nextBytes(qc);
    for (int i = 0; i < qf.length; i++) {
      qf[i] = (float) rnd.nextGaussian();
    }
    try (org.deephash.CodeTable t = org.deephash.CodeTable.create(16, dim, true, n)) {
      t.addAll(null, db, f, new int[n]);
      try (org.deephash.GpuHashSearch s = org.deephash.GpuHashSearch.open(t)) {
        org.deephash.SearchResult engine = s.coarseToFine(qc, qf, org.deephash.Pool.topM(200), 50);
        org.deephash.SearchResult java = Evaluation.rerank(FineStage.F7, s.query(qc, 200), f, qf, dim, 50);
        for (int i = 0; i < q; i++) {
          org.junit.jupiter.api.Assertions.assertArrayEquals(engine.ids(i), java.ids(i), "query " + i);
          org.junit.jupiter.api.Assertions.assertArrayEquals(engine.hammings(i), java.hammings(i), "query " + i);
        }
        // Ties only: the Hamming distances never decrease along the list.
        org.deephash.SearchResult ties = Evaluation.rerank(FineStage.LATENT_TIES, s.query(qc, 200), f, qf, dim, 200);
        for (int i = 0; i < q; i++) {
          int[] h = ties.hammings(i);
          for (int j = 1; j < h.length; j++) {
            assertTrue(h[j - 1] <= h[j], "query " + i + " rank " + j);
          }
        }
      }
    }
  }

  @Test
  void validationScoresEqualTheFullRankingsComputedDirectly() {
    SplittableRandom rnd = new SplittableRandom(13);
    int n = 2000;
    int q = 60;
    int dim = 6;
    int bits = 16;
    int[] dl = new int[n];
    byte[] db = new byte[n * 2];
    float[] f = new float[n * dim];
    float[] lat = new float[n * bits];
    for (int i = 0; i < n; i++) {
      dl[i] = rnd.nextInt(4);
      for (int j = 0; j < dim; j++) {
        f[i * dim + j] = dl[i] * 0.5f + (float) rnd.nextGaussian();
      }
      for (int j = 0; j < bits; j++) {
        lat[i * bits + j] = (float) Math.min(1, Math.max(0, ((dl[i] >> (j % 2)) & 1) * 0.6 + rnd.nextDouble() * 0.8));
      }
    }
    byte[] codes = org.deephash.model.net.CodePacker.pack(lat, n, bits);
    int[] ql = new int[q];
    float[] qf = new float[q * dim];
    float[] qlat = new float[q * bits];
    for (int i = 0; i < q; i++) {
      ql[i] = rnd.nextInt(4);
      for (int j = 0; j < dim; j++) {
        qf[i * dim + j] = ql[i] * 0.5f + (float) rnd.nextGaussian();
      }
      for (int j = 0; j < bits; j++) {
        qlat[i * bits + j] = (float) Math.min(1, Math.max(0, ((ql[i] >> (j % 2)) & 1) * 0.6 + rnd.nextDouble() * 0.8));
      }
    }
    byte[] qc = org.deephash.model.net.CodePacker.pack(qlat, q, bits);
    // noisy codes (an off bit is set with probability 3/8), so that re-ranking the pool changes the lists
    Evaluation ev = new Evaluation(new PrintStream(OutputStream.nullOutputStream())).pool(org.deephash.Pool.topM(300));
    java.util.Map<FineStage, FineStage.Score> got = ev.scoreStages(List.of(FineStage.values()), bits, dim, codes, f,
        lat, dl, qc, qf, qlat, ql);
    FullRanking full = new FullRanking(codes, 2, 16, dl);
    try (org.deephash.CodeTable t = org.deephash.CodeTable.create(16, 0, true, n)) {
      t.addAll(null, codes, null, dl);
      try (org.deephash.GpuHashSearch s = org.deephash.GpuHashSearch.open(t)) {
        org.deephash.SearchResult coarse = s.query(qc, 300);
        FullRanking.QueryFigures[] b = full.evaluate(qc, 2, ql, null, 10);
        for (FineStage st : FineStage.values()) {
          org.deephash.SearchResult r = Evaluation.rerank(st, coarse, st.features(f, dim, lat, bits, n),
              st.features(qf, dim, qlat, bits, q), st.dim(dim, bits), 300);
          FullRanking.QueryFigures[] fig = full.evaluate(qc, 2, ql, r::ids, 10);
          double ap = 0;
          double p10 = 0;
          double[] gainAp = new double[q];
          double[] gainP10 = new double[q];
          for (int i = 0; i < q; i++) {
            ap += fig[i].averagePrecision();
            gainAp[i] = fig[i].averagePrecision() - b[i].averagePrecision();
            for (int j = 0; j < 10; j++) {
              gainP10[i] += (dl[fig[i].topIds()[j]] == ql[i] ? 0.1 : 0) - (dl[b[i].topIds()[j]] == ql[i] ? 0.1 : 0);
            }
            for (int id : fig[i].topIds()) {
              p10 += dl[id] == ql[i] ? 0.1 : 0;
            }
          }
          assertEquals(ap / q, got.get(st).mapFull(), 1e-9, st.key());
          assertEquals(p10 / q, got.get(st).precisionAt10(), 1e-9, st.key());
          // the standard errors of the paired gains, from the per-query figures directly
          assertEquals(sd(gainAp) / Math.sqrt(q), got.get(st).mapFullError(), 1e-9, st.key());
          assertEquals(sd(gainP10) / Math.sqrt(q), got.get(st).precisionAt10Error(), 1e-9, st.key());
          if (st != FineStage.NONE) {
            assertTrue(got.get(st).mapFullError() > 0, st.key() + ": the stage changes some query's list");
          }
        }
        double ap = 0;
        for (FullRanking.QueryFigures x : b) {
          ap += x.averagePrecision();
        }
        assertEquals(ap / q, got.get(null).mapFull(), 1e-9);
      }
    }
  }

  /** Sample standard deviation (n - 1). */
  private static double sd(double[] x) {
    double m = java.util.Arrays.stream(x).average().orElse(0);
    return Math.sqrt(java.util.Arrays.stream(x).map(v -> (v - m) * (v - m)).sum() / (x.length - 1));
  }

  private static void put(byte[] codes, int i, long c) {
    for (int b = 0; b < 6; b++) {
      codes[i * 6 + b] = (byte) (c >>> (8 * b));
    }
  }

  private static long get(byte[] codes, int i) {
    long c = 0;
    for (int b = 0; b < 6; b++) {
      c |= (codes[i * 6 + b] & 0xffL) << (8 * b);
    }
    return c;
  }
}
