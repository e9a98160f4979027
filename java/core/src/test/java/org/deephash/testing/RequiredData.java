package org.deephash.testing;

import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Assumptions;

/**
 * For tests that need something from outside the repository (a data set, a browser, downloaded
 * weights): when it is missing the test FAILS, saying how to get it, so a CI machine that lacks it
 * cannot pass by skipping. Only {@code -Ddeephash.optionalData=true} (never set by CI) turns the
 * failure into a skip, for a developer machine without those extras.
 *
 * <pre>{@code
 * RequiredData.require(Files.isDirectory(Datasets.FASHION_MNIST), "Fashion-MNIST at " + Datasets.FASHION_MNIST,
 *     "apt-get install dataset-fashion-mnist");
 * }</pre>
 */
public final class RequiredData {
  /** The system property that makes missing external data a skip instead of a failure. */
  public static final String OPTIONAL = "deephash.optionalData";

  private RequiredData() {}

  /**
   * Returns when {@code present}; otherwise fails the test (or skips it when {@link #OPTIONAL} is
   * true).
   *
   * @param what what is missing, for the message
   * @param howToGet the command or step that provides it
   */
  public static void require(boolean present, String what, String howToGet) {
    if (present) {
      return;
    }
    if (Boolean.getBoolean(OPTIONAL)) {
      Assumptions.abort(what + " is missing (" + howToGet + "); skipped because -D" + OPTIONAL + "=true");
    }
    fail(what + " is missing: " + howToGet + " (.ci/run does), or run with -D" + OPTIONAL
        + "=true to skip the tests that need it");
  }
}
