package org.deephash.model.net;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Properties;

/**
 * The folder a training run writes: {@code model.properties} (the network's input size, classes
 * and label names, the training options, and what it was trained on: {@link TrainedOn}), {@code saved_model/} (the exported SavedModel that encoding loads) and {@code
 * checkpoint/} (variables and optimizer state, to resume training).
 */
public record ModelDir(Path root) {

  public Path properties() {
    return root.resolve("model.properties");
  }

  public Path savedModel() {
    return root.resolve("saved_model");
  }

  public Path checkpoints() {
    return root.resolve("checkpoint");
  }

  /**
   * Deletes a folder and everything in it (nothing when it does not exist): an old SavedModel
   * before a new one is exported over it, a temporary checkpoint folder.
   */
  public static void deleteTree(Path p) throws IOException {
    if (!Files.exists(p)) {
      return;
    }
    try (var s = Files.walk(p)) {
      for (Path x : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.delete(x);
      }
    }
  }

  /**
   * What a model was trained on: the data set as given to {@code Datasets.load} (a folder or file
   * as an absolute path) and how many training images it had. Image size, classes and label names
   * are the network's ({@link HashNetConfig}).
   */
  public record TrainedOn(String spec, int images) {}

  public void writeConfig(HashNetConfig config, TrainOptions options) throws IOException {
    writeConfig(config, options, null);
  }

  /** Writes model.properties: the network, the training options and, when known, the training data. */
  public void writeConfig(HashNetConfig config, TrainOptions options, TrainedOn data) throws IOException {
    Files.createDirectories(root);
    Properties p = config.toProperties();
    options.toProperties().forEach((k, v) -> p.setProperty("train." + k, (String) v));
    if (data != null) {
      p.setProperty("data.spec", data.spec());
      p.setProperty("data.images", Integer.toString(data.images()));
    }
    try (Writer w = Files.newBufferedWriter(properties())) {
      p.store(w, "deephash hashing network");
    }
  }

  /**
   * Adds what model selection decided to model.properties: the kept epoch, the validation split's
   * size and figures, the fine stage of the coarse-to-fine search.
   */
  public void writeSelection(java.util.Map<String, String> entries) throws IOException {
    Properties p = load();
    entries.forEach(p::setProperty);
    try (Writer w = Files.newBufferedWriter(properties())) {
      p.store(w, "deephash hashing network");
    }
  }

  /** The fine stage key recorded by training ({@code fine.stage}), or empty for a model from before it was chosen. */
  public Optional<String> readFineStage() throws IOException {
    String s = load().getProperty("fine.stage");
    return s == null || s.isBlank() ? Optional.empty() : Optional.of(s.strip());
  }

  public HashNetConfig readConfig() throws IOException {
    return HashNetConfig.fromProperties(load());
  }

  /** What the model was trained on; empty for a model folder written before this was recorded. */
  public Optional<TrainedOn> readTrainedOn() throws IOException {
    Properties p = load();
    String spec = p.getProperty("data.spec");
    if (spec == null || spec.isBlank()) {
      return Optional.empty();
    }
    int images;
    try {
      images = Integer.parseInt(p.getProperty("data.images", "-1").trim());
    } catch (NumberFormatException e) {
      images = -1;
    }
    return Optional.of(new TrainedOn(spec, images));
  }

  /** The training options recorded with the model. */
  public TrainOptions readOptions() throws IOException {
    Properties all = load();
    Properties p = new Properties();
    for (String k : all.stringPropertyNames()) {
      if (k.startsWith("train.")) {
        p.setProperty(k.substring(6), all.getProperty(k));
      }
    }
    return TrainOptions.fromProperties(p);
  }

  private Properties load() throws IOException {
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(properties())) {
      p.load(r);
    } catch (NoSuchFileException e) {
      throw new IOException(root + " is not a model folder (no model.properties): run `engine-cli train` first");
    }
    return p;
  }
}
