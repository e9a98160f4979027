package org.deephash.model.cli;

import java.nio.file.Path;
import org.deephash.io.Json;
import org.deephash.model.Pipeline;
import org.deephash.model.data.Dataset;
import org.deephash.model.data.Datasets;
import org.deephash.model.data.PhotoFiles;
import org.deephash.model.data.PhotoIndex;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.ModelDir;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code engine-cli index}: encodes a data set (by default the model's training data) into an index file. */
@Command(name = "index",
    description = "Encode images with a trained model into an index file (codes, features, ids, labels, paths).",
    footer = {"Row i of the index has id i; its path is the image file (or FILE#i inside packed data sets).",
        "With --photos DIR: every JPEG/PNG/WebP/GIF/BMP under DIR (recursive, EXIF orientation applied); rows keep paths",
        "relative to DIR, and INDEX.photos.json beside the index names DIR and every skipped file with why."})
public final class IndexCommand extends TensorFlowCommand {
  /** Which part of the data set. */
  enum Split { train, test }

  @Option(names = "--model", paramLabel = "DIR", required = true, description = "A model folder written by train.")
  Path model;

  @Option(names = "--data", paramLabel = "SPEC",
      description = {"The data set the model was trained on (default), or fashion-mnist, idx:DIR, cifar10:DIR,",
          "a folder of class subfolders: another one needs --allow-other-data."})
  String data;

  @Option(names = "--allow-other-data", description = "Index a data set other than the model's training data.")
  boolean allowOtherData;

  @Option(names = "--split", paramLabel = "S",
      description = "Which part of the data set to index: train (the database) or test (default: ${DEFAULT-VALUE}).")
  Split split = Split.train;

  @Option(names = "--out", paramLabel = "FILE", required = true, description = "The index file to write.")
  Path outFile;

  @Option(names = "--photos", paramLabel = "DIR",
      description = {"Index a folder of photos instead of a data set: recursive; files that cannot be read are",
          "skipped and listed (stderr, and OUT.photos.json). Any model folder (its input size is used)."})
  Path photos;

  @Option(names = "--thumbnails", negatable = true, defaultValue = "true", fallbackValue = "true",
      description = {"With --photos: write each photo's 160 px grid thumbnail beside the index while decoding it",
          "(.OUT.thumbs/, where serve looks; default: on)."})
  boolean thumbnails = true;

  @Option(names = "--threads", paramLabel = "N",
      description = "Threads decoding photos (default: the number of cores).")
  int threads = Runtime.getRuntime().availableProcessors();

  @Override
  protected void validate() {
    requireRange("--threads", threads, 1, 1024);
    if (photos != null && (data != null || allowOtherData)) {
      throw usage("--photos indexes a folder of photos: drop --data and --allow-other-data");
    }
  }

  @Override
  protected int run() throws Exception {
    if (photos != null) {
      return runPhotos();
    }
    ModelDir md = new ModelDir(model);
    HashNetConfig c = md.readConfig();
    String spec = TrainingData.choose(md, data, allowOtherData, commandPath(), err);
    Dataset d = Datasets.load(spec, split == Split.train ? Datasets.Split.TRAIN : Datasets.Split.TEST, c.height(),
        c.width(), c.channels());
    TrainingData.warnIfOtherClasses(c, d, commandPath(), err);
    long t0 = System.nanoTime();
    Pipeline.index(model, d, outFile, progress(), err);
    out.println(new Json().put("command", "index").put("index", outFile.toString()).put("data", spec)
        .put("split", split.name()).put("rows", d.count()).put("bits", c.bits())
        .put("seconds", Json.round((System.nanoTime() - t0) / 1e9, 1)));
    return 0;
  }

  private int runPhotos() throws Exception {
    Pipeline.PhotoIndexResult r = Pipeline.indexPhotos(model, photos, outFile, threads, thumbnails, progress(),
        err);
    for (PhotoFiles.Skipped s : r.skipped()) {
      err.println(commandPath() + ": skipped " + s);
    }
    out.println(new Json().put("command", "index").put("index", outFile.toString())
        .put("photos", photos.toAbsolutePath().normalize().toString()).put("rows", r.rows()).put("bits", r.bits())
        .put("skipped", r.skipped().size()).put("ignored", r.ignored())
        .put("report", PhotoIndex.reportFile(outFile).toString())
        .put("seconds", Json.round(r.seconds(), 1)));
    return 0;
  }
}
