package org.deephash.delf.cli;

import org.deephash.cli.api.Cli;

/** Runs {@code engine-cli delf ...} on its own (the DELF module's class path without the whole CLI). */
public final class DelfMain {
  private DelfMain() {}

  public static void main(String[] args) {
    System.exit(Cli.run(new DelfCommand(), args, System.out, System.err));
  }
}
