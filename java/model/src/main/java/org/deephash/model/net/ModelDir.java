package org.deephash.model.net;

import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Properties;

/**
 * The folder a training run writes: {@code model.properties} (the network's shape and class
 * names), {@code saved_model/} (the exported SavedModel that encoding loads) and {@code
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

  public void writeConfig(HashNetConfig config, TrainOptions options) throws IOException {
    Files.createDirectories(root);
    Properties p = config.toProperties();
    options.toProperties().forEach((k, v) -> p.setProperty("train." + k, (String) v));
    try (Writer w = Files.newBufferedWriter(properties())) {
      p.store(w, "deephash hashing network");
    }
  }

  public HashNetConfig readConfig() throws IOException {
    return HashNetConfig.fromProperties(load());
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
