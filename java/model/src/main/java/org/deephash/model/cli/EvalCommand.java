package org.deephash.model.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Datasets;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.ModelDir;

/** {@code engine-cli eval}: the paper's evaluation of a trained model. */
public final class EvalCommand extends BaseCommand {
  @Override
  public String name() {
    return "eval";
  }

  @Override
  public String summary() {
    return "evaluate a model like the DLBHC paper: P@k, mAP@1000, full mAP, BCS/ES/HDS vs LSH and PCA-ITQ";
  }

  @Override
  protected List<String> valueOptions() {
    List<String> v = new ArrayList<>(POOL_VALUES);
    v.addAll(List.of("model", "data", "out", "queries", "es-queries"));
    return v;
  }

  @Override
  protected List<String> flagOptions() {
    return List.of("json", "no-baselines", "help");
  }

  @Override
  protected String usage() {
    return """
        usage: engine-cli eval --model DIR [--data SPEC] [--out DIR] [--json]
          --data SPEC         fashion-mnist (default), idx:DIR, cifar10:DIR or a folder with train/ and test/
                              queries: the test images; database: the training images
          --out DIR           results.txt, results.json, precision.png, retrievals.png (default runs/eval)
          --queries N         use only the first N queries (quick looks; the protocol uses all)
          --es-queries N      run the exhaustive Euclidean row (ES) on the first N queries only
          --no-baselines      skip LSH and PCA-ITQ
          --json              print the results as one JSON line on standard output
        """ + POOL_USAGE;
  }

  @Override
  protected int execute(Args a, PrintStream out, PrintStream err) throws Exception {
    Path model = Path.of(a.require("model"));
    HashNetConfig c = new ModelDir(model).readConfig();
    String spec = a.get("data", "fashion-mnist");
    Dataset db = Datasets.load(spec, Datasets.Split.TRAIN, c.height(), c.width(), c.channels());
    Dataset q = Datasets.load(spec, Datasets.Split.TEST, c.height(), c.width(), c.channels());
    if (a.has("queries")) {
      q = q.head(a.getInt("queries", q.count()));
    }
    Pipeline.EvalResult r = Pipeline.evaluate(model, db, q, Path.of(a.get("out", "runs/eval")),
        !a.flag("no-baselines"), pool(a, 1000), a.getInt("es-queries", q.count()), null, err);
    if (a.flag("json")) {
      out.println(r.json());
    }
    return 0;
  }
}
