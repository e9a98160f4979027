package org.deephash.delf.cli;

import java.awt.image.BufferedImage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.deephash.cli.api.Progress;
import org.deephash.delf.data.BenchmarkSet;
import org.deephash.delf.data.Photos;
import org.deephash.delf.data.RealPairs;
import org.deephash.delf.data.Views;
import org.deephash.delf.eval.DelfBenchmark;
import org.deephash.delf.eval.HashRanker;
import org.deephash.delf.eval.MatchPicture;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.extract.LocalFeatures;
import org.deephash.delf.geometry.Ransac;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.delf.search.HashVerifiedSearch;
import org.deephash.delf.search.PairMatch;
import org.deephash.model.cli.TensorFlowCommand;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.pretrained.MobileNetV2;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code engine-cli delf eval}: the instance-retrieval benchmark on real photos. Database: the
 * held-out photos (never seen in training) and the distractors; queries: views of each held-out
 * photo made by {@link Views#query} (crop, scale 0.3-1x, rotation +-30 deg, perspective, colour,
 * blur, occlusion), whose one relevant answer is the source photo. {@code --benchmark hard}: the
 * harder composition of {@link BenchmarkSet#hard} (partial, turned views, opencv-doc's real view
 * pairs, more distractors).
 */
@Command(name = "eval",
    description = "Benchmark: views of held-out photos against held-out + distractors; DELF +-RANSAC, pooled DELF,"
        + " hash codes.")
final class DelfEval extends TensorFlowCommand {
  @Option(names = "--model", paramLabel = "DIR", description = "A DELF model folder (delf train); not needed with --no-delf.")
  Path model;

  @Option(names = "--no-delf", description = "Only the hashing rows (no DELF model needed).")
  boolean noDelf;

  @Option(names = "--hash-backbone", paramLabel = "NAME", description = {"The hashing network's trunk: scratch (32 x 32,",
      "trained from scratch) or mobilenet_v2 (ImageNet weights, fine-tuned; default: ${DEFAULT-VALUE})."})
  String hashBackbone = HashNetConfig.MOBILENET_V2;

  @Option(names = "--hash-codes", paramLabel = "WHICH", description = {"mobilenet_v2 codes: trained (the latent layer),",
      "itq (PCA-ITQ on the pooled features; with --hash-epochs 0 label-free) or both, rows hash and hash_itq",
      "(default: itq when the backbone comes from the DELF model, else trained)."})
  String hashCodes;

  @Option(names = "--hash-from-delf", description = {"mobilenet_v2: start the hashing network from the DELF model's",
      "fine-tuned backbone (--model) instead of the ImageNet weights; with --hash-epochs 0 --hash-codes itq the",
      "codes are PCA-ITQ on DELF's own pooled features (one backbone for codes and local features). The default",
      "when the DELF model is a mobilenet_v2 one (--hash-from-imagenet turns it off)."})
  boolean hashFromDelf;

  @Option(names = "--hash-from-imagenet", description = "mobilenet_v2: start from the ImageNet weights even when the"
      + " DELF model has a fine-tuned mobilenet_v2 backbone.")
  boolean hashFromImagenet;

  @Option(names = "--hash-pooling", paramLabel = "HOW", description = {"mobilenet_v2 pooling: mean, or attention",
      "(DELF's attention head, with --hash-from-delf; default: ${DEFAULT-VALUE})."})
  String hashPooling = HashNetConfig.MEAN;

  @Option(names = "--hash-side", paramLabel = "PX", description = "mobilenet_v2 input side (default: ${DEFAULT-VALUE}).")
  int hashSide = 128;

  @Option(names = "--hash-lr", paramLabel = "LR", description = "mobilenet_v2 learning rate (default: ${DEFAULT-VALUE}).")
  float hashLr = 5e-4f;

  @Option(names = "--hash-lr-decay", paramLabel = "F", description = "Per-epoch decay (default: ${DEFAULT-VALUE}).")
  float hashLrDecay = 0.85f;

  @Option(names = "--pretrained", paramLabel = "DIR", description = {"The ImageNet MobileNetV2 (TF.js) for",
      "--hash-backbone mobilenet_v2 (default: ${DEFAULT-VALUE}; bench/delf/setup-pretrained.sh)."})
  Path pretrained = Path.of("data/pretrained/mobilenet_v2");

  @Option(names = "--benchmark", paramLabel = "NAME", description = {"standard (views of the held-out photos), or",
      "hard: partial, turned views (Views.hard), opencv-doc's real view pairs (--pairs), all distractors, the other",
      "opencv-doc images and --distractor-views hard views of each (default: ${DEFAULT-VALUE}; docs/DELF.md)."})
  String benchmark = "standard";

  @Option(names = "--pairs", paramLabel = "DIR", description = {"--benchmark hard: the opencv-doc example images",
      "(default: ${DEFAULT-VALUE}; apt-get install opencv-doc)."})
  Path pairsDir = RealPairs.OPENCV_DOC;

  @Option(names = "--photos", paramLabel = "DIR",
      description = "The photo folder made by bench/delf/setup-photos.sh (default: ${DEFAULT-VALUE}).")
  Path photosDir = Path.of("data/photos");

  @Option(names = "--out", paramLabel = "DIR",
      description = "results.txt, results.json and match-*.png (default: ${DEFAULT-VALUE}).")
  Path outDir = Path.of("runs/delf-eval");

  @Option(names = "--queries-per-photo", paramLabel = "N",
      description = "Query views of each held-out photo (default: 3; hard: " + HARD_QUERIES_PER_PHOTO + ").")
  Integer perPhoto;

  /**
   * --queries-per-photo of the hard benchmark unless given: 390 views with the 65 photos, enough
   * for a paired bootstrap to tell verification from votes (docs/DELF.md).
   */
  static final int HARD_QUERIES_PER_PHOTO = 6;

  @Option(names = "--distractors", paramLabel = "N", description = "Distractor images in the database (default: all).")
  Integer distractors;

  @Option(names = "--distractor-views", paramLabel = "N", description = {"Grow the database with N augmented views",
      "of each distractor (Views.query; Views.hard with --benchmark hard) (default: 0; hard: "
          + HARD_DISTRACTOR_VIEWS + "): the scaling runs."})
  Integer distractorViews;

  /** --distractor-views of the hard benchmark unless given. */
  static final int HARD_DISTRACTOR_VIEWS = 1;

  @Option(names = "--no-hash", description = {"Leave out the hashing-network row (it trains a 48-bit DLBHC on views of",
      "the training photos: --hash-views per photo, --hash-epochs)."})
  boolean noHash;

  @Option(names = "--hash-views", paramLabel = "N",
      description = "Views of each training photo per epoch for the hashing network (default: 40 scratch, 16 mobilenet_v2).")
  Integer hashViews;

  @Option(names = "--hash-shortlist", paramLabel = "M", description = {"Row hash_ransac: the Hamming top-M of the",
      "hash codes verified by DELF matching + RANSAC (0: no such row; default: ${DEFAULT-VALUE})."})
  int hashShortlist = 20;

  @Option(names = "--hash-pool", paramLabel = "P", description = {"hash_ransac: the Hamming top-P re-ranked by F7",
      "distance, of which the first --hash-shortlist are verified (default: ${DEFAULT-VALUE}; at most the shortlist:",
      "the shortlist itself in F7 order)."})
  int hashPool = 0;

  @Option(names = "--hash-global", paramLabel = "G", description = {"hash_ransac: also verify the G images nearest",
      "by pooled DELF (the delf_global row's descriptor) that the Hamming shortlist lacks (default: ${DEFAULT-VALUE})."})
  int hashGlobal = 10;

  @Option(names = "--hash-hds", paramLabel = "M", description = {"Row hash_hds: the paper's coarse-to-fine search,",
      "the Hamming top-M re-ranked by F7 distance (0: no such row; default: ${DEFAULT-VALUE})."})
  int hashHds = 50;

  @Option(names = "--hash-model", paramLabel = "DIR", description = {"Use this trained hashing model folder (from an",
      "earlier eval's OUT/hash-model) instead of training one; row hash."})
  Path hashModel;

  @Option(names = "--hash-epochs", paramLabel = "N", description = {"Epochs of the hashing network (default: 15 scratch,",
      "12 mobilenet_v2 from ImageNet, 0 from the DELF model's backbone)."})
  Integer hashEpochs;

  @Option(names = "--seed", paramLabel = "S", description = "Seed of the query views (default: ${DEFAULT-VALUE}).")
  long seed = 7;

  @Option(names = "--dump-candidates", paramLabel = "FILE", hidden = true, description = {"Write what verification",
      "saw for every shortlisted image of every query (a diagnostic; DelfBenchmark#dumpCandidates)."})
  Path dumpCandidates;

  @Option(names = "--json", description = "Print the results as one JSON line on standard output.")
  boolean json;

  @Mixin
  DelfFlags.Extract extract;

  @Mixin
  DelfFlags.Ivf ivf;

  @Mixin
  DelfFlags.Search search;

  @Mixin
  DelfFlags.Verify verify;

  @Override
  protected void validate() {
    if (perPhoto != null) {
      requireRange("--queries-per-photo", perPhoto, 1, 1000);
    }
    if (distractors != null) {
      requireRange("--distractors", distractors, 0, Integer.MAX_VALUE);
    }
    if (hashViews != null) {
      requireRange("--hash-views", hashViews, 1, 100_000);
    }
    if (distractorViews != null) {
      requireRange("--distractor-views", distractorViews, 0, 1000);
    }
    if (!benchmark.equals("standard") && !benchmark.equals("hard")) {
      throw usage("--benchmark is standard or hard (passed '" + benchmark + "')");
    }
    if (hashEpochs != null) {
      requireRange("--hash-epochs", hashEpochs, HashNetConfig.MOBILENET_V2.equals(hashBackbone) ? 0 : 1, 100_000);
    }
    requireRange("--hash-side", hashSide, 32, 1024);
    requireRange("--hash-shortlist", hashShortlist, 0, 1_000_000);
    requireRange("--hash-hds", hashHds, 0, 1_000_000);
    requireRange("--hash-pool", hashPool, 0, 1_000_000);
    requireRange("--hash-global", hashGlobal, 0, 1_000_000);
    if (!hashBackbone.equals(HashNetConfig.MOBILENET_V2) && !hashBackbone.equals(HashNetConfig.SCRATCH)) {
      throw usage("--hash-backbone is scratch or mobilenet_v2 (passed '" + hashBackbone + "')");
    }
    if (hashFromDelf && hashFromImagenet) {
      throw usage("--hash-from-delf and --hash-from-imagenet exclude each other");
    }
    if (hashCodes != null && !List.of("trained", "itq", "both").contains(hashCodes)) {
      throw usage("--hash-codes is trained, itq or both (passed '" + hashCodes + "')");
    }
    if (!hashPooling.equals(HashNetConfig.MEAN) && !hashPooling.equals(HashNetConfig.ATTENTION)) {
      throw usage("--hash-pooling is mean or attention (passed '" + hashPooling + "')");
    }
    if (hashPooling.equals(HashNetConfig.ATTENTION) && (hashFromImagenet || model == null)) {
      throw usage("--hash-pooling attention needs the DELF model's backbone (the attention head comes from it)");
    }
    if (hashFromDelf && (model == null || !hashBackbone.equals(HashNetConfig.MOBILENET_V2))) {
      throw usage("--hash-from-delf needs --model DIR (a mobilenet_v2 DELF model) and --hash-backbone mobilenet_v2");
    }
    if (!noDelf && model == null) {
      throw usage("--model DIR is required (a DELF model folder), unless --no-delf");
    }
    if (noDelf && noHash) {
      throw usage("--no-delf with --no-hash leaves nothing to measure");
    }
    extract.validate();
    ivf.validate();
    search.validate();
    verify.validate();
  }

  @Override
  protected int run() throws Exception {
    Extractor ex = extract.extractor();
    Progress progress = progress();
    boolean hard = benchmark.equals("hard");
    if (hard) {
      RealPairs.find(pairsDir); // a missing opencv-doc fails before anything is read
    }
    Photos photos = Photos.read(photosDir.resolve("manifest.tsv"));
    Files.createDirectories(outDir);
    int maxSide = ex.baseSide();
    int nd = distractors != null ? distractors : Integer.MAX_VALUE;
    int views = distractorViews != null ? distractorViews : hard ? HARD_DISTRACTOR_VIEWS : 0;
    int perPhoto = this.perPhoto != null ? this.perPhoto : hard ? HARD_QUERIES_PER_PHOTO : 3;
    // The model first: a wrong --model fails before the photos are decoded.
    try (DelfNet net = model == null || (noDelf && hashFromImagenet) ? null : DelfTrainer.open(model)) {
      BenchmarkSet set = hard
          ? BenchmarkSet.hard(photos, pairsDir, maxSide, perPhoto, nd, views, seed, progress)
          : BenchmarkSet.standard(photos, maxSide, perPhoto, nd, views, seed, progress);
      err.println("benchmark: " + set.summary());
      return run(net, ex, photos, set, progress);
    }
  }

  /**
   * One line per query (queries.tsv): what it is, its relevant image, its AP in each row, and what
   * verification did ({@link DelfBenchmark#verification}; image columns as database ids).
   */
  static String perQuery(BenchmarkSet set, Map<String, double[]> ap, Map<String, int[]> verification) {
    StringBuilder t = new StringBuilder("query\trelevant");
    ap.keySet().forEach(row -> t.append("\tap_").append(row));
    verification.keySet().forEach(c -> t.append('\t').append(c));
    t.append('\n');
    for (int q = 0; q < set.queries().size(); q++) {
      t.append(set.queryIds().get(q)).append('\t').append(set.databaseIds().get(set.relevant()[q]));
      for (double[] a : ap.values()) {
        t.append('\t').append(String.format(Locale.ROOT, "%.4f", a[q]));
      }
      for (Map.Entry<String, int[]> e : verification.entrySet()) {
        int v = e.getValue()[q];
        t.append('\t').append(e.getKey().startsWith("top_") ? (v < 0 ? "-" : set.databaseIds().get(v)) : v);
      }
      t.append('\n');
    }
    return t.toString();
  }

  private int run(DelfNet net, Extractor ex, Photos photos, BenchmarkSet set, Progress progress) throws Exception {
    List<BufferedImage> database = set.database();
    List<BufferedImage> queries = set.queries();
    int[] relevant = set.relevant();
    int maxSide = ex.baseSide();
    Map<String, DelfBenchmark.Ranker> others = new LinkedHashMap<>();
    List<HashRanker> hashes = new ArrayList<>();
    try {
      if (hashModel != null) {
        HashRanker h = HashRanker.open(hashModel);
        hashes.add(h);
        others.put("hash", h);
      } else if (!noHash) {
        boolean scratch = hashBackbone.equals(HashNetConfig.SCRATCH);
        boolean fromDelf = !scratch && (hashFromDelf || (!hashFromImagenet && net != null
            && net.config().backbone().equals(org.deephash.delf.net.DelfConfig.MOBILENET_V2)));
        if (fromDelf && !net.config().backbone().equals(org.deephash.delf.net.DelfConfig.MOBILENET_V2)) {
          throw usage("--hash-from-delf needs a mobilenet_v2 DELF model (" + model + " has the "
              + net.config().backbone() + " backbone)");
        }
        if (hashPooling.equals(HashNetConfig.ATTENTION) && !fromDelf) {
          throw usage("--hash-pooling attention needs a mobilenet_v2 DELF model (the attention head comes from it)");
        }
        int hashEpochs = this.hashEpochs != null ? this.hashEpochs : scratch ? 15 : fromDelf ? 0 : 12;
        int hashViews = this.hashViews != null ? this.hashViews : scratch ? 40 : 16;
        String hashCodes = this.hashCodes != null ? this.hashCodes : fromDelf ? "itq" : "trained";
        List<BufferedImage> train = DelfFiles.load(photos, photos.withRole(Photos.Role.TRAIN), maxSide, progress);
        if (hashBackbone.equals(HashNetConfig.SCRATCH)) {
          err.println("training the hashing network (48 bits) on views of the " + train.size() + " training photos");
          HashRanker h = HashRanker.train(DelfTrain.views(train), hashViews, hashEpochs,
              outDir.resolve("hash-model"), seed, err);
          hashes.add(h);
          others.put("hash", h);
        } else {
          err.printf(Locale.ROOT, "hashing network: 48 bits, mobilenet_v2 from %s at %d px, %d epochs on views of"
              + " the %d training photos, %s codes%n", fromDelf ? "the DELF model's backbone" : "ImageNet", hashSide,
              hashEpochs, train.size(), hashCodes);
          List<HashRanker.Codes> codes = hashCodes.equals("both") ? List.of(HashRanker.Codes.TRAINED,
              HashRanker.Codes.ITQ) : List.of(HashRanker.Codes.valueOf(hashCodes.toUpperCase(Locale.ROOT)));
          List<Path> dirs = new ArrayList<>();
          for (HashRanker.Codes c : codes) {
            dirs.add(outDir.resolve(c == HashRanker.Codes.TRAINED ? "hash-model" : "hash-model-itq"));
          }
          HashRanker.MobileNetOptions mo = new HashRanker.MobileNetOptions(hashSide, 48, hashViews, hashEpochs, 32,
              hashLr, hashLrDecay, 8, seed, hashPooling);
          List<Path> made = HashRanker.trainMobileNet(DelfTrain.views(train),
              fromDelf ? net.backboneWeights() : MobileNetV2.imageNet(pretrained), mo, codes, dirs, err);
          for (int i = 0; i < made.size(); i++) {
            HashRanker h = HashRanker.open(made.get(i));
            hashes.add(h);
            others.put(i == 0 ? "hash" : "hash_itq", h);
          }
        }
      }
      if (hashHds > 0 && !hashes.isEmpty()) {
        others.put("hash_hds", hashes.get(0).hds(hashHds));
      }
      List<DelfBenchmark.Row> rows;
      Ransac.Options ro = verify.ransac();
      DelfBenchmark b = new DelfBenchmark(err).progress(progress);
      java.io.Writer dump = dumpCandidates == null ? null : Files.newBufferedWriter(dumpCandidates);
      if (noDelf) {
        rows = b.runRankers(database, queries, relevant, others);
      } else {
        b.dumpCandidates(dump);
        DelfBenchmark.Settings s = new DelfBenchmark.Settings(ivf.pca, ivf.nlist, search.params(verify));
        if (hashShortlist > 0 && !hashes.isEmpty()) {
          b.shortlist(hashes.get(0), new HashVerifiedSearch.Params(hashShortlist, s.search().minInliers(),
              s.search().verifyKeypoints(), s.search().ratio(), s.search().order()), hashPool, hashGlobal);
        }
        rows = b.run(net, ex, database, queries, relevant, org.deephash.delf.search.DelfDatabase.ransac(ro), s, others);
      }
      if (dump != null) {
        dump.close();
      }
      Map<String, Object> extra = new LinkedHashMap<>();
      extra.put("benchmark", benchmark);
      extra.put("database", database.size());
      extra.put("queries", queries.size());
      // mAP of each named group of queries, by row
      Map<String, Object> subsets = new LinkedHashMap<>();
      for (Map.Entry<String, int[]> e : set.subsets().entrySet()) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("queries", e.getValue().length);
        b.apPerQuery().forEach((row, ap) -> m.put(row,
            org.deephash.io.Json.round(DelfBenchmark.subsetMap(ap, e.getValue()), 4)));
        subsets.put(e.getKey(), m);
      }
      if (!subsets.isEmpty()) {
        extra.put("subsets_map", subsets);
      }
      String report = DelfBenchmark.json(rows, extra);
      StringBuilder t = new StringBuilder(String.format(Locale.ROOT, "%-12s %8s %9s %10s%n", "method", "mAP",
          "micro-AP", "ms/query"));
      for (DelfBenchmark.Row r : rows) {
        t.append(String.format(Locale.ROOT, "%-12s %8.4f %9.4f %10.1f  %s%n", r.name(), r.map(), r.microAp(),
            r.queryMs(), r.stagesMs().isEmpty() ? "" : r.stagesMs()));
      }
      for (Map.Entry<String, int[]> e : set.subsets().entrySet()) {
        t.append(String.format(Locale.ROOT, "mAP over the %d queries of %s:", e.getValue().length, e.getKey()));
        b.apPerQuery().forEach((row, ap) -> t.append(String.format(Locale.ROOT, " %s %.4f", row,
            DelfBenchmark.subsetMap(ap, e.getValue()))));
        t.append('\n');
      }
      err.print(t);
      Files.writeString(outDir.resolve("results.txt"), t.toString(), StandardCharsets.UTF_8);
      Files.writeString(outDir.resolve("results.json"), report + "\n", StandardCharsets.UTF_8);
      Files.writeString(outDir.resolve("queries.tsv"), perQuery(set, b.apPerQuery(), b.verification()), StandardCharsets.UTF_8);
      // pictures: the first query views against their source photo, inliers drawn (hard: and the real pairs)
      List<Integer> shown = new ArrayList<>();
      for (int q = 0; q < Math.min(4, queries.size()); q++) {
        shown.add(q);
      }
      for (int q : set.subsets().getOrDefault(BenchmarkSet.REAL_PAIRS, new int[0])) {
        shown.add(q);
      }
      for (int q : noDelf ? List.<Integer>of() : shown) {
        LocalFeatures fq = ex.extract(net, queries.get(q));
        LocalFeatures fs = ex.extract(net, database.get(relevant[q]));
        PairMatch m = PairMatch.of(fq, fs, 0.9, ro);
        ImageIO.write(MatchPicture.draw(queries.get(q), m.ax(), database.get(relevant[q]), m.bx(),
            m.fit().map(Ransac.AffineFit::inliers).orElse(null), m.count(), 300, String.format(Locale.ROOT,
                "query %d (%s) vs %s: %d matches, %d inliers", q, set.queryIds().get(q),
                set.databaseIds().get(relevant[q]), m.count(), m.inliers())), "png",
            outDir.resolve("match-" + q + ".png").toFile());
      }
      err.println("results" + (noDelf ? ", results.json and queries.tsv" : ", results.json, queries.tsv and match-*.png")
          + " written to "
          + outDir);
      if (json) {
        out.println(report);
      }
    } finally {
      for (HashRanker h : hashes) {
        h.close();
      }
    }
    return 0;
  }
}
