package org.deephash.model.data;

/**
 * A dataset that cannot be used as given: a missing or unreadable file, a wrong shape, an empty
 * class. The message names the files and says what to fix; command-line tools print it without a
 * stack trace. Bad input like any bad argument, hence an {@link IllegalArgumentException} (exit
 * status 2 on the command line).
 */
public final class DatasetException extends IllegalArgumentException {
  private static final long serialVersionUID = 1L;

  public DatasetException(String message) {
    super(message);
  }

  public DatasetException(String message, Throwable cause) {
    super(message, cause);
  }
}
