package org.deephash.delf.data;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.deephash.cli.api.Progress;

/**
 * The images of {@code delf eval}'s benchmarks: a database, queries, and for each query the one
 * database image that is relevant to it. Deterministic: the same photos, options and seed give the
 * same images.
 *
 * <ul>
 *   <li>{@link #standard}: the held-out photos and the distractors (and {@code distractorViews}
 *       {@link Views#query} views of each distractor); queries are {@link Views#query} views of
 *       the held-out photos.
 *   <li>{@link #hard}: partial, turned views ({@link Views#hard}) of the held-out photos, the
 *       second images of the real pairs of {@link RealPairs} (first image in the database), every
 *       distractor, the other opencv-doc example images, and {@link Views#hard} views of all of
 *       those distractors. The hard views' occluders are windows of the training photos (the
 *       queries' from every other scene group, the distractor views' from the rest), so a query
 *       and a database view share no synthetic structure (see docs/DELF.md).
 * </ul>
 *
 * @param database the database images, longer side at most the benchmark's side
 * @param databaseIds what each database image is (a photo id, {@code pair:FILE}, or {@code view N
 *     of ID})
 * @param queries the query images
 * @param queryIds what each query is
 * @param relevant for each query, the index of its one relevant database image
 * @param subsets named groups of queries (indices), reported separately; empty for the standard one
 * @param summary one line with the counts
 */
public record BenchmarkSet(List<BufferedImage> database, List<String> databaseIds, List<BufferedImage> queries,
    List<String> queryIds, int[] relevant, Map<String, int[]> subsets, String summary) {

  /** Images of the opencv-doc folder smaller than this (on either side) are no distractors. */
  public static final int MIN_OTHER_SIDE = 128;

  /**
   * Hard views are cut from the photo decoded at this many times the benchmark's side (never
   * enlarged), so that a 25% crop keeps about the detail a closer camera would see rather than an
   * upsampled blur.
   */
  public static final int HARD_SOURCE_FACTOR = 4;

  /** Subset of the hard benchmark: the views of the held-out photos. */
  public static final String HARD_VIEWS = "hard_views";
  /** Subset: the real pairs' second images. */
  public static final String REAL_PAIRS = "real_pairs";
  /** Subset: the real pairs none of whose images is a training photo of the manifest. */
  public static final String REAL_PAIRS_UNSEEN = "real_pairs_unseen";

  /**
   * Today's benchmark ({@code delf eval}'s default): database = the held-out photos, the first
   * {@code distractors} distractors and {@code distractorViews} {@link Views#query} views of each;
   * queries = {@code perPhoto} {@link Views#query} views of each held-out photo.
   */
  public static BenchmarkSet standard(Photos photos, int maxSide, int perPhoto, int distractors,
      int distractorViews, long seed, Progress progress) throws IOException {
    List<Photos.Photo> held = photos.withRole(Photos.Role.HELDOUT);
    List<Photos.Photo> distract = photos.withRole(Photos.Role.DISTRACTOR);
    int nd = Math.min(distract.size(), distractors);
    List<Photos.Photo> dbPhotos = new ArrayList<>(held);
    dbPhotos.addAll(distract.subList(0, nd));
    List<BufferedImage> database = new ArrayList<>();
    List<String> ids = new ArrayList<>();
    try (Progress.Counter c = progress.count("decoding photos", dbPhotos.size(), "photos")) {
      for (Photos.Photo p : dbPhotos) {
        database.add(photos.load(p, maxSide));
        ids.add(p.id());
        c.add(1);
      }
    }
    int loaded = database.size();
    for (int d = held.size(); d < loaded && distractorViews > 0; d++) {
      for (int v = 0; v < distractorViews; v++) {
        database.add(Views.query(database.get(d), distractorViewSeed(seed, d, v)).image());
        ids.add("view " + v + " of " + ids.get(d));
      }
    }
    List<BufferedImage> queries = new ArrayList<>();
    List<String> queryIds = new ArrayList<>();
    int[] relevant = new int[held.size() * perPhoto];
    for (int h = 0; h < held.size(); h++) {
      for (int v = 0; v < perPhoto; v++) {
        relevant[queries.size()] = h;
        queries.add(Views.query(database.get(h), querySeed(seed, h, v)).image());
        queryIds.add("view " + v + " of " + ids.get(h));
      }
    }
    String summary = String.format(Locale.ROOT, "%d database images (%d held-out photos + %d distractors + %d views"
        + " of them), %d query views", database.size(), held.size(), nd, nd * distractorViews, queries.size());
    return new BenchmarkSet(database, ids, queries, queryIds, relevant, Map.of(), summary);
  }

  /**
   * The hard benchmark. Database, in this order: the held-out photos that are no image of a real
   * pair; the first image of each pair; the first {@code distractors} distractors of the manifest;
   * the other images of {@code pairsDir} ({@link RealPairs#others}, at least {@link
   * #MIN_OTHER_SIDE} px) that are no photo of the manifest; then {@code distractorViews} {@link
   * Views#hard} views of each of those distractors. Queries: {@code perPhoto} {@link Views#hard}
   * views of each of those held-out photos (cut from it at {@link #HARD_SOURCE_FACTOR} times the
   * side), then the second image of each pair. A manifest photo is a pair's image when its SHA-256
   * or its id ({@code opencv-doc:FILE}) says so; it then enters once, as the pair's image.
   *
   * @throws IOException when {@code pairsDir} lacks the pairs (the message says what to install)
   *     or a photo cannot be decoded
   */
  public static BenchmarkSet hard(Photos photos, Path pairsDir, int maxSide, int perPhoto, int distractors,
      int distractorViews, long seed, Progress progress) throws IOException {
    List<RealPairs.Pair> pairs = RealPairs.find(pairsDir);
    List<Path> otherFiles = RealPairs.others(pairsDir, MIN_OTHER_SIDE);
    Set<String> pairKeys = new HashSet<>();
    for (RealPairs.Pair p : pairs) {
      pairKeys.addAll(keys(p.database()));
      pairKeys.addAll(keys(p.query()));
    }
    List<Photos.Photo> held = new ArrayList<>();
    for (Photos.Photo p : photos.withRole(Photos.Role.HELDOUT)) {
      if (!pairKeys.contains(p.sha256()) && !pairKeys.contains(p.id())) {
        held.add(p);
      }
    }
    Set<String> manifestKeys = new HashSet<>();
    Set<String> trainKeys = new HashSet<>();
    for (Photos.Photo p : photos.all()) {
      manifestKeys.add(p.sha256());
      manifestKeys.add(p.id());
      if (p.role() == Photos.Role.TRAIN) {
        trainKeys.add(p.sha256());
        trainKeys.add(p.id());
      }
    }
    List<Path> others = new ArrayList<>();
    for (Path f : otherFiles) {
      if (keys(f).stream().noneMatch(manifestKeys::contains)) {
        others.add(f);
      }
    }
    List<Photos.Photo> distract = photos.withRole(Photos.Role.DISTRACTOR);
    int nd = Math.min(distract.size(), distractors);
    int hiSide = Math.multiplyExact(HARD_SOURCE_FACTOR, maxSide);
    // Occluders: windows of the training photos (in no database image); the scene groups in turn
    // go to the queries' pool and the distractor views' pool, so that no query shares its
    // occluder's scene (a stereo partner, another frame) with a database image.
    List<Photos.Photo> train = photos.withRole(Photos.Role.TRAIN);
    Occluders queryOccluders = new Occluders(photos, train, 0, hiSide / 2);
    Occluders viewOccluders = new Occluders(photos, train, 1, hiSide / 2);

    List<BufferedImage> database = new ArrayList<>();
    List<String> ids = new ArrayList<>();
    List<BufferedImage> queries = new ArrayList<>();
    List<String> queryIds = new ArrayList<>();
    List<Integer> relevant = new ArrayList<>();
    List<BufferedImage> views = new ArrayList<>();
    List<String> viewIds = new ArrayList<>();
    int total = held.size() + 2 * pairs.size() + nd + others.size();
    try (Progress.Counter c = progress.count("decoding photos, making views", total, "images")) {
      for (int h = 0; h < held.size(); h++) {
        Photos.Photo p = held.get(h);
        BufferedImage hi = photos.load(p, hiSide);
        database.add(Images.fitWithin(hi, maxSide));
        ids.add(p.id());
        for (int v = 0; v < perPhoto; v++) {
          relevant.add(h);
          long vs = querySeed(seed, h, v);
          queries.add(Images.fitWithin(Views.hard(hi, vs, queryOccluders.draw(vs)).image(), maxSide));
          queryIds.add("hard view " + v + " of " + p.id());
        }
        c.add(1);
      }
      int[] pairDb = new int[pairs.size()];
      for (int i = 0; i < pairs.size(); i++) {
        pairDb[i] = database.size();
        database.add(Photos.load(pairs.get(i).database(), maxSide));
        ids.add("pair:" + pairs.get(i).database().getFileName());
        c.add(1);
      }
      int firstDistractor = database.size();
      List<Object> sources = new ArrayList<>(distract.subList(0, nd));
      sources.addAll(others);
      for (Object s : sources) {
        int d = database.size();
        BufferedImage hi;
        if (s instanceof Photos.Photo p) {
          hi = photos.load(p, distractorViews > 0 ? hiSide : maxSide);
          ids.add(p.id());
        } else {
          Path f = (Path) s;
          hi = Photos.load(f, distractorViews > 0 ? hiSide : maxSide);
          ids.add("opencv-doc:" + f.getFileName());
        }
        database.add(Images.fitWithin(hi, maxSide));
        for (int v = 0; v < distractorViews; v++) {
          long vs = distractorViewSeed(seed, d, v);
          views.add(Images.fitWithin(Views.hard(hi, vs, viewOccluders.draw(vs)).image(), maxSide));
          viewIds.add("hard view " + v + " of " + ids.get(d));
        }
        c.add(1);
      }
      assert database.size() - firstDistractor == nd + others.size();
      for (int i = 0; i < pairs.size(); i++) {
        relevant.add(pairDb[i]);
        queries.add(Photos.load(pairs.get(i).query(), maxSide));
        queryIds.add("pair:" + pairs.get(i).query().getFileName());
        c.add(1);
      }
    }
    database.addAll(views);
    ids.addAll(viewIds);

    int nViews = held.size() * perPhoto;
    Map<String, int[]> subsets = new LinkedHashMap<>();
    subsets.put(HARD_VIEWS, range(0, nViews));
    subsets.put(REAL_PAIRS, range(nViews, nViews + pairs.size()));
    List<Integer> unseen = new ArrayList<>();
    for (int i = 0; i < pairs.size(); i++) {
      RealPairs.Pair p = pairs.get(i);
      if (keys(p.database()).stream().noneMatch(trainKeys::contains)
          && keys(p.query()).stream().noneMatch(trainKeys::contains)) {
        unseen.add(nViews + i);
      }
    }
    subsets.put(REAL_PAIRS_UNSEEN, unseen.stream().mapToInt(Integer::intValue).toArray());
    String summary = String.format(Locale.ROOT, "hard benchmark: %d database images (%d held-out photos + %d real"
        + " pairs' first images + %d distractors + %d other opencv-doc images + %d hard views of those %d), %d"
        + " queries (%d hard views of the held-out photos + %d real pairs' second images, %d of them pairs the"
        + " training photos do not hold); occluders %s", database.size(), held.size(), pairs.size(), nd, others.size(),
        views.size(), nd + others.size(), queries.size(), nViews, pairs.size(), unseen.size(),
        train.isEmpty() ? "of one colour (the manifest has no training photos)"
            : "cut from " + train.size() + " training photos");
    return new BenchmarkSet(database, ids, queries, queryIds, relevant.stream().mapToInt(Integer::intValue).toArray(),
        subsets, summary);
  }

  /**
   * The training photos of every other scene group (from {@code first}, in the order the groups
   * first appear), decoded once on first use with the longer side at {@code side}; {@link #draw}
   * picks one for a view's seed, or null when there is none.
   */
  private static final class Occluders {
    private final Photos photos;
    private final List<Photos.Photo> pool = new ArrayList<>();
    private final BufferedImage[] decoded;
    private final int side;

    Occluders(Photos photos, List<Photos.Photo> train, int first, int side) {
      this.photos = photos;
      Map<String, Integer> groups = new LinkedHashMap<>();
      for (Photos.Photo p : train) {
        int g = groups.computeIfAbsent(p.group(), x -> groups.size());
        if (g % 2 == first) {
          pool.add(p);
        }
      }
      this.side = side;
      decoded = new BufferedImage[pool.size()];
    }

    BufferedImage draw(long viewSeed) throws IOException {
      if (pool.isEmpty()) {
        return null;
      }
      int i = new java.util.SplittableRandom(viewSeed ^ 0x6F63636CL).nextInt(pool.size());
      if (decoded[i] == null) {
        decoded[i] = Images.toRgb(photos.load(pool.get(i), side));
      }
      return decoded[i];
    }
  }

  /** Seed of query view {@code v} of held-out photo {@code h} (both benchmarks). */
  static long querySeed(long seed, int h, int v) {
    return seed * 1_000_003L + h * 31L + v;
  }

  /** Seed of view {@code v} of the distractor at database index {@code d} (both benchmarks). */
  static long distractorViewSeed(long seed, int d, int v) {
    return (seed + 1) * 7_000_003L + d * 131L + v;
  }

  /** A file's SHA-256 and its opencv-doc manifest id. */
  private static List<String> keys(Path f) throws IOException {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      return List.of(HexFormat.of().formatHex(sha.digest(Files.readAllBytes(f))), "opencv-doc:" + f.getFileName());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  private static int[] range(int from, int to) {
    int[] r = new int[to - from];
    for (int i = 0; i < r.length; i++) {
      r[i] = from + i;
    }
    return r;
  }
}
