package org.deephash.delf.cli;

/** Runs {@code engine-cli delf ...} on its own (the DELF module's class path without the whole CLI). */
public final class DelfMain {
  private DelfMain() {}

  public static void main(String[] args) throws Exception {
    System.exit(new DelfCommand().run(args, System.out, System.err));
  }
}
