package org.deephash.delf.cli;

import java.awt.image.BufferedImage;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.deephash.delf.data.Photos;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.delf.search.DelfDatabase;
import org.deephash.model.cli.Args;
import org.deephash.model.cli.BaseCommand;

/** {@code engine-cli delf index}: extract a database's local features, fit PCA, build the IVF-PQ index. */
final class DelfIndex extends BaseCommand {
  @Override
  public String name() {
    return "index";
  }

  @Override
  public String summary() {
    return "index images' local features: PCA to 40-D, IVF-PQ (50-bit codes) with image id and keypoint";
  }

  @Override
  protected List<String> valueOptions() {
    return List.of("model", "photos", "roles", "images", "out", "max-side", "max-features", "scales", "pca", "nlist", "batch");
  }

  @Override
  protected List<String> flagOptions() {
    return List.of("help");
  }

  @Override
  protected String usage() {
    return """
        usage: engine-cli delf index --model DIR (--photos DIR [--roles heldout,distractor] | --images FOLDER) --out DIR
          --images FOLDER     every PNG/JPEG under FOLDER (sorted by path)
          --roles LIST        manifest roles to index (default heldout,distractor: the benchmark database)
          --pca N             PCA dimensions (default 40)
          --nlist N           coarse lists of the IVF-PQ index (default: about sqrt(descriptors))
          --batch N           pyramid levels of one size run through the network together (default 16)
          --max-side, --max-features, --scales   as for delf extract
        """;
  }

  @Override
  protected int execute(Args a, PrintStream out, PrintStream err) throws Exception {
    Extractor ex = DelfExtract.extractor(a);
    List<DelfFiles.Image> images = new ArrayList<>();
    List<BufferedImage> loaded = new ArrayList<>();
    int maxSide = ex.baseSide();
    if (a.has("images")) {
      List<Path> files;
      try (Stream<Path> s = Files.walk(Path.of(a.get("images", ".")))) {
        files = s.filter(p -> p.toString().toLowerCase(Locale.ROOT).matches(".*\\.(png|jpe?g)$")).sorted().toList();
      }
      for (Path f : files) {
        images.add(new DelfFiles.Image(images.size(), f.getFileName().toString(), f.toAbsolutePath()));
        loaded.add(Photos.load(f, maxSide));
      }
    } else {
      Photos photos = Photos.read(Path.of(a.get("photos", "data/photos")).resolve("manifest.tsv"));
      for (String role : a.get("roles", "heldout,distractor").split(",")) {
        Photos.Role r = switch (role.strip()) {
          case "train" -> Photos.Role.TRAIN;
          case "heldout" -> Photos.Role.HELDOUT;
          case "distractor" -> Photos.Role.DISTRACTOR;
          default -> throw new Args.UsageException("--roles takes train, heldout and distractor (passed '" + role + "')");
        };
        for (Photos.Photo p : photos.withRole(r)) {
          images.add(new DelfFiles.Image(images.size(), p.id(), p.path()));
          loaded.add(photos.load(p, maxSide));
        }
      }
    }
    if (images.isEmpty()) {
      throw new IllegalArgumentException("no images to index");
    }
    try (DelfNet net = DelfTrainer.open(Path.of(a.require("model")))) {
      DelfDatabase b = DelfDatabase.build(net, ex, loaded, a.getInt("pca", 40), a.getInt("nlist", 0),
          a.getInt("batch", DelfDatabase.EXTRACT_BATCH), err);
      DelfFiles.save(Path.of(a.require("out")), b.index(), b.pca(), b.exact(), images);
      out.printf(Locale.ROOT, "{\"command\":\"delf index\",\"images\":%d,\"descriptors\":%d,\"nlist\":%d,\"seconds\":%.1f}%n",
          images.size(), b.index().size(), b.index().nlist(), b.seconds());
    }
    return 0;
  }
}
