package org.deephash.delf.cli;

import java.awt.image.BufferedImage;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.deephash.delf.data.Photos;
import org.deephash.delf.data.Views;
import org.deephash.delf.eval.DelfBenchmark;
import org.deephash.delf.eval.HashRanker;
import org.deephash.delf.eval.MatchPicture;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.geometry.Ransac;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.delf.search.PairMatch;
import org.deephash.model.cli.Args;
import org.deephash.model.cli.BaseCommand;

/**
 * {@code engine-cli delf eval}: the instance-retrieval benchmark on real photos. Database: the
 * held-out photos (never seen in training) and the distractors; queries: views of each held-out
 * photo made by {@link Views#query} (crop, scale 0.3-1x, rotation +-30 deg, perspective, colour,
 * blur, occlusion), whose one relevant answer is the source photo.
 */
final class DelfEval extends BaseCommand {
  @Override
  public String name() {
    return "eval";
  }

  @Override
  public String summary() {
    return "benchmark: views of held-out photos against held-out + distractors; DELF +-RANSAC, pooled DELF, hash codes";
  }

  @Override
  protected List<String> valueOptions() {
    return List.of("model", "photos", "out", "queries-per-photo", "distractors", "max-side", "max-features", "scales",
        "pca", "nlist", "neighbours", "nprobe", "shortlist", "trials", "threshold", "min-inliers", "verify-keypoints",
        "hash-epochs",
        "hash-views", "seed");
  }

  @Override
  protected List<String> flagOptions() {
    return List.of("help", "json", "no-hash");
  }

  @Override
  protected String usage() {
    return """
        usage: engine-cli delf eval --model DIR [--photos DIR] [--out DIR] [--json]
          --queries-per-photo N   query views of each held-out photo (default 3)
          --distractors N         distractor images in the database (default all)
          --no-hash               leave out the hashing-network row (it trains a 48-bit DLBHC on views of
                                  the training photos: --hash-views 40 per photo, --hash-epochs 15)
          --out DIR               results.txt, results.json and match-*.png (default runs/delf-eval)
        """ + DelfTrain.PHOTOS_USAGE + "\n" + DelfQuery.SEARCH_USAGE;
  }

  @Override
  protected int execute(Args a, PrintStream out, PrintStream err) throws Exception {
    Extractor ex = DelfExtract.extractor(a);
    Path photosDir = Path.of(a.get("photos", "data/photos"));
    Photos photos = Photos.read(photosDir.resolve("manifest.tsv"));
    Path outDir = Path.of(a.get("out", "runs/delf-eval"));
    Files.createDirectories(outDir);
    long seed = a.getLong("seed", 7);
    int maxSide = ex.baseSide();
    List<Photos.Photo> held = photos.withRole(Photos.Role.HELDOUT);
    List<Photos.Photo> distract = photos.withRole(Photos.Role.DISTRACTOR);
    int nd = Math.min(distract.size(), a.getInt("distractors", distract.size()));
    List<BufferedImage> database = new ArrayList<>(DelfFiles.load(photos, held, maxSide));
    database.addAll(DelfFiles.load(photos, distract.subList(0, nd), maxSide));
    int per = a.getInt("queries-per-photo", 3);
    List<BufferedImage> queries = new ArrayList<>();
    int[] relevant = new int[held.size() * per];
    for (int h = 0; h < held.size(); h++) {
      for (int v = 0; v < per; v++) {
        relevant[queries.size()] = h;
        queries.add(Views.query(database.get(h), seed * 1_000_003L + h * 31L + v).image());
      }
    }
    err.printf(Locale.ROOT, "benchmark: %d database images (%d held-out photos + %d distractors), %d query views%n",
        database.size(), held.size(), nd, queries.size());
    Map<String, DelfBenchmark.Ranker> others = new LinkedHashMap<>();
    HashRanker hash = null;
    try (DelfNet net = DelfTrainer.open(Path.of(a.require("model")))) {
      if (!a.flag("no-hash")) {
        List<BufferedImage> train = DelfFiles.load(photos, photos.withRole(Photos.Role.TRAIN), maxSide);
        err.println("training the hashing network (48 bits) on views of the " + train.size() + " training photos");
        hash = HashRanker.train(DelfTrain.views(train), a.getInt("hash-views", 40), a.getInt("hash-epochs", 15),
            outDir.resolve("hash-model"), seed, err);
        others.put("hash", hash);
      }
      DelfBenchmark.Settings s = new DelfBenchmark.Settings(a.getInt("pca", 40), a.getInt("nlist", 0),
          DelfQuery.searchParams(a));
      Ransac.Options ro = DelfQuery.ransac(a);
      List<DelfBenchmark.Row> rows = new DelfBenchmark(err).run(net, ex, database, queries, relevant,
          org.deephash.delf.search.DelfDatabase.ransac(ro), s, others);
      Map<String, Object> extra = new LinkedHashMap<>();
      extra.put("database", database.size());
      extra.put("queries", queries.size());
      String json = DelfBenchmark.json(rows, extra);
      StringBuilder t = new StringBuilder(String.format(Locale.ROOT, "%-12s %8s %9s %10s%n", "method", "mAP",
          "micro-AP", "ms/query"));
      for (DelfBenchmark.Row r : rows) {
        t.append(String.format(Locale.ROOT, "%-12s %8.4f %9.4f %10.1f  %s%n", r.name(), r.map(), r.microAp(),
            r.queryMs(), r.stagesMs().isEmpty() ? "" : r.stagesMs()));
      }
      err.print(t);
      Files.writeString(outDir.resolve("results.txt"), t.toString(), StandardCharsets.UTF_8);
      Files.writeString(outDir.resolve("results.json"), json + "\n", StandardCharsets.UTF_8);
      // pictures: the first query views against their source photo, inliers drawn
      for (int q = 0; q < Math.min(4, queries.size()); q++) {
        LocalFeatures fq = ex.extract(net, queries.get(q));
        LocalFeatures fs = ex.extract(net, database.get(relevant[q]));
        PairMatch m = PairMatch.of(fq, fs, 0.9, ro);
        ImageIO.write(MatchPicture.draw(queries.get(q), m.ax(), database.get(relevant[q]), m.bx(),
            m.fit().map(Ransac.AffineFit::inliers).orElse(null), m.count(), 300, String.format(Locale.ROOT,
                "query view %d vs its source %s: %d matches, %d inliers", q, held.get(relevant[q]).id(), m.count(),
                m.inliers())), "png", outDir.resolve("match-" + q + ".png").toFile());
      }
      err.println("results, results.json and match-*.png written to " + outDir);
      if (a.flag("json")) {
        out.println(json);
      }
    } finally {
      if (hash != null) {
        hash.close();
      }
    }
    return 0;
  }
}
