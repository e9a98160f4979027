package org.deephash.model.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import org.deephash.model.data.Dataset;
import org.deephash.model.net.HashNetConfig;
import org.deephash.model.net.ModelDir;

/**
 * Which data set eval and index use: the one the model records it was trained on ({@link
 * ModelDir.TrainedOn}), unless told otherwise. Another data set is refused without
 * {@code --allow-other-data}: a model trained on MNIST and evaluated on Fashion-MNIST gives
 * meaningless figures, not an error. Model folders from before the record still open: their
 * training data is unknown, said once.
 */
final class TrainingData {
  static final String DEFAULT_SPEC = "fashion-mnist";

  private TrainingData() {}

  /**
   * The spec in the form recorded: keywords in lower case, folders and files as absolute paths, so
   * that the same data typed from another folder is still the same.
   */
  static String canonical(String spec) {
    String s = spec.strip();
    String lower = s.toLowerCase(Locale.ROOT);
    if (lower.equals(DEFAULT_SPEC)) {
      return DEFAULT_SPEC;
    }
    for (String prefix : List.of("idx:", "cifar10:")) {
      if (lower.startsWith(prefix)) {
        return prefix + absolute(s.substring(prefix.length()));
      }
    }
    return absolute(s);
  }

  private static String absolute(String p) {
    return Path.of(p).toAbsolutePath().normalize().toString();
  }

  /**
   * The spec to load for a model: {@code requested} (--data, or null) checked against the record.
   *
   * @throws IllegalArgumentException (exit status 2) when {@code requested} is another data set and
   *     {@code allowOther} is false
   */
  static String choose(ModelDir model, String requested, boolean allowOther, String command, PrintStream err)
      throws IOException {
    Optional<ModelDir.TrainedOn> trained = model.readTrainedOn();
    if (trained.isEmpty()) {
      String use = requested != null ? requested : DEFAULT_SPEC;
      err.println(command + ": warning: " + model.root() + " does not record the data it was trained on (a model"
          + " from before that was recorded); using " + use + (requested == null ? " (pass --data to choose)" : ""));
      return use;
    }
    String spec = trained.get().spec();
    if (requested == null || canonical(requested).equals(canonical(spec))) {
      return requested == null ? spec : requested;
    }
    HashNetConfig c = model.readConfig();
    String what = "'" + spec + "' (" + c.height() + "x" + c.width() + "x" + c.channels() + ", " + c.classes()
        + " classes: " + names(c.classNames()) + ")";
    if (!allowOther) {
      throw new IllegalArgumentException("the model in " + model.root() + " was trained on " + what + "; --data "
          + requested + " is another data set: drop --data to use the training data, or pass --allow-other-data");
    }
    err.println(command + ": warning: the model was trained on " + what + "; using " + requested
        + " (--allow-other-data)");
    return requested;
  }

  /** Says so when the data's class names are not the model's (labels would mean other things). */
  static void warnIfOtherClasses(HashNetConfig c, Dataset d, String command, PrintStream err) {
    if (!c.classNames().equals(d.classNames())) {
      err.println(command + ": warning: the data's classes (" + names(d.classNames()) + ") are not the model's ("
          + names(c.classNames()) + "): label figures compare different things");
    }
  }

  private static String names(List<String> names) {
    return names.size() <= 6 ? String.join(", ", names)
        : String.join(", ", names.subList(0, 5)) + ", ... (" + names.size() + ")";
  }
}
