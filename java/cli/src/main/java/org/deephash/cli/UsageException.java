package org.deephash.cli;

/**
 * Bad usage or bad input that the user can fix: the CLI prints the message with a pointer to the
 * command's help and exits with status 2.
 */
final class UsageException extends RuntimeException {
  private final String command;
  private final boolean pointToHelp;

  UsageException(String command, String message) {
    this(command, message, true);
  }

  private UsageException(String command, String message, boolean pointToHelp) {
    super(message);
    this.command = command;
    this.pointToHelp = pointToHelp;
  }

  /** Bad input data (a file of the wrong shape): the message is the whole story, no help pointer. */
  static UsageException badInput(String command, String message) {
    return new UsageException(command, message, false);
  }

  /** Whether the command's --help would help. */
  boolean pointToHelp() {
    return pointToHelp;
  }

  /** The command whose help the message points to, or null for the top level. */
  String command() {
    return command;
  }
}
