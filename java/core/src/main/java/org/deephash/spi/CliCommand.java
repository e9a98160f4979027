package org.deephash.spi;

import java.io.PrintStream;

/**
 * A subcommand of {@code engine-cli}, found with {@link java.util.ServiceLoader}, so modules
 * (the model, Spark, CUDA tooling) add commands without the CLI depending on them at compile time.
 */
public interface CliCommand {

  /** The word typed after {@code engine-cli}, e.g. {@code bench}. */
  String name();

  /** One line for the command list. */
  String summary();

  /**
   * Runs the command.
   *
   * @param args the arguments after the command name
   * @param out results (JSON lines, tables)
   * @param err progress and messages
   * @return the process exit status: 0 success, 2 bad usage or input, 1 failure
   */
  int run(String[] args, PrintStream out, PrintStream err) throws Exception;
}
