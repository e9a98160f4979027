package org.deephash.delf.cli;

import org.deephash.cli.api.CliCommand;
import org.deephash.delf.extract.Extractor;
import org.deephash.delf.geometry.Ransac;
import org.deephash.delf.search.DelfSearch;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The option groups the delf commands share (picocli mixins), each checked before any image is read. */
final class DelfFlags {
  private DelfFlags() {}

  private static void range(CommandSpec mixee, String option, long v, long min, long max) {
    CliCommand.requireRange(mixee, option, v, min, max);
  }

  /** How local features are extracted: extract, index, query, eval, match. */
  static final class Extract {
    private static final Extractor D = Extractor.defaults();

    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    @Option(names = "--max-side", paramLabel = "N",
        description = "Images are scaled so that their longer side is N px at pyramid scale 1 (default: ${DEFAULT-VALUE}).")
    int maxSide = D.baseSide();

    @Option(names = "--max-features", paramLabel = "N",
        description = "Keypoints kept per image, the most attended (default: ${DEFAULT-VALUE}).")
    int maxFeatures = D.maxFeatures();

    @Option(names = "--scales", paramLabel = "LIST", split = ",", hideParamSyntax = true,
        description = "Pyramid scales, comma-separated, each in (0, 8] (default: 0.25 to 2 in steps of sqrt 2).")
    float[] scales;

    void validate() {
      range(mixee, "--max-side", maxSide, 16, 16384);
      range(mixee, "--max-features", maxFeatures, 1, 1_000_000);
      if (scales != null) {
        for (float s : scales) {
          if (!(s > 0 && s <= 8)) {
            throw new ParameterException(mixee.commandLine(), "--scales takes numbers in (0, 8] separated by commas"
                + " (passed " + s + ")");
          }
        }
      }
    }

    Extractor extractor() {
      return new Extractor(maxSide, scales != null ? scales : D.scales(), maxFeatures, D.minAttention());
    }
  }

  /** Geometric verification: query, eval, match. */
  static final class Verify {
    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    @Option(names = "--trials", paramLabel = "N", description = "RANSAC trials (default: ${DEFAULT-VALUE}).")
    int trials = 1000;

    @Option(names = "--threshold", paramLabel = "PX",
        description = "RANSAC inlier threshold in pixels (default: ${DEFAULT-VALUE}).")
    float threshold = (float) DelfSearch.INLIER_THRESHOLD_PX;

    @Option(names = "--min-inliers", paramLabel = "N",
        description = "Inliers for a match to count (default: ${DEFAULT-VALUE}; RANSAC needs at least 3).")
    int minInliers = DelfSearch.Params.defaults().minInliers();

    void validate() {
      range(mixee, "--trials", trials, 1, 10_000_000);
      CliCommand.requireRange(mixee, "--threshold", threshold, 1e-3, 1e4);
      range(mixee, "--min-inliers", minInliers, 0, 1_000_000);
    }

    Ransac.Options ransac() {
      return new Ransac.Options(trials, threshold, Math.max(3, minInliers), 0L);
    }
  }

  /** The search of an index: query, eval. */
  static final class Search {
    private static final DelfSearch.Params D = DelfSearch.Params.defaults();

    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    @Option(names = "--neighbours", paramLabel = "N",
        description = "Nearest database descriptors per query descriptor (default: ${DEFAULT-VALUE}).")
    int neighbours = D.neighbours();

    @Option(names = "--nprobe", paramLabel = "N", description = "IVF lists visited per query descriptor (default: ${DEFAULT-VALUE}).")
    int nprobe = D.nprobe();

    @Option(names = "--shortlist", paramLabel = "N", description = "Images verified by RANSAC (default: ${DEFAULT-VALUE}).")
    int shortlist = D.shortlist();

    @Option(names = "--verify-keypoints", paramLabel = "N",
        description = "Keypoints of the query and of each shortlisted image matched exactly for verification,"
            + " the most attended (default: ${DEFAULT-VALUE}).")
    int verifyKeypoints = D.verifyKeypoints();

    @Option(names = "--ratio", paramLabel = "R", description = {"Lowe's ratio test of the exact verification matches,",
        "in (0, 1]; 1 keeps every mutual nearest neighbour (default: ${DEFAULT-VALUE}; the hash shortlist's",
        "verification too; 0.9 with 300 keypoints and --threshold 6 was the default before)."})
    double ratio = D.ratio();

    @Option(names = "--rank", paramLabel = "HOW", description = {"How verified images are ranked: significance",
        "(ln votes + 0.03 x the inliers' significance beyond chance) or inliers (raw inlier count first)",
        "(default: ${DEFAULT-VALUE}; docs/DELF.md)."})
    String rank = D.order().name().toLowerCase(java.util.Locale.ROOT);

    void validate() {
      if (!rank.equals("significance") && !rank.equals("inliers")) {
        throw new ParameterException(mixee.commandLine(), "--rank is significance or inliers (passed '" + rank + "')");
      }
      CliCommand.requireRange(mixee, "--ratio", ratio, 1e-6, 1);
      range(mixee, "--neighbours", neighbours, 1, 100_000);
      range(mixee, "--nprobe", nprobe, 1, 1 << 20);
      range(mixee, "--shortlist", shortlist, 1, 1 << 20);
      range(mixee, "--verify-keypoints", verifyKeypoints, 3, 1_000_000);
    }

    DelfSearch.Params params(Verify v) {
      return new DelfSearch.Params(neighbours, nprobe, shortlist, v.minInliers, verifyKeypoints, ratio,
          DelfSearch.Order.valueOf(rank.toUpperCase(java.util.Locale.ROOT)));
    }
  }

  /** The IVF-PQ index: index, eval. */
  static final class Ivf {
    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    @Option(names = "--pca", paramLabel = "N", description = "PCA dimensions of the indexed descriptors (default: ${DEFAULT-VALUE}).")
    int pca = 40;

    @Option(names = "--nlist", paramLabel = "N",
        description = "Coarse lists of the IVF-PQ index, 0 for about sqrt(descriptors) (default: ${DEFAULT-VALUE}).")
    int nlist = 0;

    void validate() {
      range(mixee, "--pca", pca, 1, 4096);
      range(mixee, "--nlist", nlist, 0, 1 << 20);
    }
  }
}
