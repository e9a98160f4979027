package org.deephash.delf.cli;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.deephash.cli.api.Progress;
import org.deephash.delf.data.Photos;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.net.DelfNet;
import org.deephash.delf.net.DelfTrainer;
import org.deephash.delf.search.DelfDatabase;
import org.deephash.delf.search.DelfIndexFolder;
import org.deephash.io.Json;
import org.deephash.model.cli.TensorFlowCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code engine-cli delf index}: extract a database's local features, fit PCA, build the IVF-PQ index. */
@Command(name = "index",
    description = "Index images' local features: PCA to 40-D, IVF-PQ (50-bit codes) with image id and keypoint.",
    footer = "The images: --photos DIR (its manifest's --roles) or --images FOLDER, not both.")
final class DelfIndex extends TensorFlowCommand {
  /** Manifest roles. */
  enum Role { train, heldout, distractor }

  @Option(names = "--model", paramLabel = "DIR", required = true, description = "A DELF model folder (delf train).")
  Path model;

  @Option(names = "--photos", paramLabel = "DIR",
      description = "The photo folder made by bench/delf/setup-photos.sh (default: data/photos).")
  Path photosDir;

  @Option(names = "--roles", paramLabel = "LIST", split = ",",
      description = "Manifest roles to index, of train, heldout, distractor (default: heldout,distractor: the"
          + " benchmark's database).")
  List<Role> roles;

  @Option(names = "--images", paramLabel = "FOLDER", description = "Every PNG/JPEG under FOLDER (sorted by path).")
  Path imagesDir;

  @Option(names = "--out", paramLabel = "DIR", required = true, description = "The index folder to write.")
  Path outDir;

  @Option(names = "--batch", paramLabel = "N",
      description = "Pyramid levels of one size run through the network together (default: ${DEFAULT-VALUE}).")
  int batch = DelfDatabase.EXTRACT_BATCH;

  @Mixin
  DelfFlags.Extract extract;

  @Mixin
  DelfFlags.Ivf ivf;

  @Override
  protected void validate() {
    extract.validate();
    ivf.validate();
    requireRange("--batch", batch, 1, 4096);
    if (imagesDir != null && (photosDir != null || roles != null)) {
      throw usage("give the images as --images FOLDER or as --photos DIR [--roles LIST], not both");
    }
  }

  @Override
  protected int run() throws Exception {
    Extractor ex = extract.extractor();
    Progress progress = progress();
    // The model first: a wrong --model fails before the images are decoded.
    try (DelfNet net = DelfTrainer.open(model)) {
      List<DelfIndexFolder.Image> images = new ArrayList<>();
      List<BufferedImage> loaded = new ArrayList<>();
      int maxSide = ex.baseSide();
      if (imagesDir != null) {
        List<Path> files;
        try (Stream<Path> s = Files.walk(imagesDir)) {
          files = s.filter(p -> p.toString().toLowerCase(Locale.ROOT).matches(".*\\.(png|jpe?g)$")).sorted().toList();
        }
        try (Progress.Counter c = progress.count("decoding images", files.size(), "images")) {
          for (Path f : files) {
            images.add(new DelfIndexFolder.Image(images.size(), f.getFileName().toString(), f.toAbsolutePath()));
            loaded.add(Photos.load(f, maxSide));
            c.add(1);
          }
        }
      } else {
        Photos photos = Photos.read((photosDir != null ? photosDir : Path.of("data/photos")).resolve("manifest.tsv"));
        List<Photos.Photo> chosen = new ArrayList<>();
        for (Role role : roles != null ? roles : List.of(Role.heldout, Role.distractor)) {
          chosen.addAll(photos.withRole(switch (role) {
            case train -> Photos.Role.TRAIN;
            case heldout -> Photos.Role.HELDOUT;
            case distractor -> Photos.Role.DISTRACTOR;
          }));
        }
        for (Photos.Photo p : chosen) {
          images.add(new DelfIndexFolder.Image(images.size(), p.id(), p.path()));
        }
        loaded.addAll(DelfFiles.load(photos, chosen, maxSide, progress));
      }
      if (images.isEmpty()) {
        throw new IllegalArgumentException("no images to index");
      }
      DelfDatabase b = DelfDatabase.build(net, ex, loaded, ivf.pca, ivf.nlist, batch, progress, err);
      DelfIndexFolder.save(outDir, b.index(), b.pca(), b.exact(), images, ex, model);
      out.println(new Json().put("command", "delf index").put("index", outDir.toString()).put("images", images.size())
          .put("descriptors", b.index().size()).put("nlist", b.index().nlist()).put("seconds", Json.round(b.seconds(), 1)));
    }
    return 0;
  }
}
