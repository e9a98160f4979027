package org.deephash.model.cli;

import java.nio.file.Path;
import org.deephash.Pool;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Datasets;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.ModelDir;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code engine-cli eval}: the paper's evaluation of a trained model, by default on the data it was trained on. */
@Command(name = "eval",
    description = "Evaluate a model like the DLBHC paper: P@k, mAP@1000, full mAP, BCS/ES/HDS vs LSH and PCA-ITQ.")
public final class EvalCommand extends TensorFlowCommand {
  @Option(names = "--model", paramLabel = "DIR", required = true, description = "A model folder written by train.")
  Path model;

  @Option(names = "--data", paramLabel = "SPEC",
      description = {"The data set the model was trained on (default), or fashion-mnist, idx:DIR, cifar10:DIR,",
          "a folder with train/ and test/: another one needs --allow-other-data.",
          "Queries: the test images; database: the training images."})
  String data;

  @Option(names = "--allow-other-data", description = "Evaluate on a data set other than the model's training data.")
  boolean allowOtherData;

  @Option(names = "--out", paramLabel = "DIR",
      description = "results.txt, results.json, precision.png, retrievals.png (default: ${DEFAULT-VALUE}).")
  Path outDir = Path.of("runs/eval");

  @Option(names = "--queries", paramLabel = "N",
      description = "Use only the first N queries (quick looks; the protocol uses all).")
  Integer queries;

  @Option(names = "--es-queries", paramLabel = "N",
      description = "Run the exhaustive Euclidean row (ES) on the first N queries only (default: all).")
  Integer esQueries;

  @Option(names = "--fine", paramLabel = "STAGE",
      description = {"Fine stage of the HDS row: f7 (the paper), f7n, latent, f7n-ties, latent-ties, none",
          "(default: the one recorded in the model, chosen on its validation split; f7 for older models)."})
  String fine;

  @Option(names = "--compare-fine",
      description = "Add a row hds_KEY for every other fine stage (default: only hds_f7, the paper's, when it is not the model's).")
  boolean compareFine;

  @Option(names = "--no-baselines", description = "Skip LSH and PCA-ITQ.")
  boolean noBaselines;

  @Option(names = "--json", description = "Print the results as one JSON line on standard output.")
  boolean json;

  @Mixin
  PoolFlags poolFlags;

  private Pool pool;

  @Override
  protected void validate() {
    if (queries != null) {
      requireRange("--queries", queries, 1, Integer.MAX_VALUE);
    }
    if (esQueries != null) {
      requireRange("--es-queries", esQueries, 1, Integer.MAX_VALUE);
    }
    pool = poolFlags.pool(1000);
    if (fine != null) {
      try {
        fineStage = org.deephash.model.eval.FineStage.of(fine);
      } catch (IllegalArgumentException e) {
        throw usage("--fine: " + e.getMessage());
      }
    }
  }

  private org.deephash.model.eval.FineStage fineStage;

  @Override
  protected int run() throws Exception {
    ModelDir md = new ModelDir(model);
    HashNetConfig c = md.readConfig();
    String spec = TrainingData.choose(md, data, allowOtherData, commandPath(), err);
    Dataset db = Datasets.load(spec, Datasets.Split.TRAIN, c.height(), c.width(), c.channels());
    Dataset q = Datasets.load(spec, Datasets.Split.TEST, c.height(), c.width(), c.channels());
    TrainingData.warnIfOtherClasses(c, db, commandPath(), err);
    if (queries != null) {
      q = q.head(Math.min(queries, q.count()));
    }
    Pipeline.EvalResult r = Pipeline.evaluate(model, db, q, outDir, !noBaselines, pool,
        esQueries != null ? esQueries : q.count(), fineStage,
        compareFine ? org.deephash.model.eval.FineStage.reRankings()
            : java.util.List.of(org.deephash.model.eval.FineStage.F7), null, progress(), err);
    if (json) {
      out.println(r.json());
    }
    return 0;
  }
}
