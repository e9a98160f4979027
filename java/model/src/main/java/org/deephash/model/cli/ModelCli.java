package org.deephash.model.cli;

import java.util.Arrays;
import java.util.ServiceLoader;
import org.deephash.spi.CliCommand;

/**
 * Runs the model's commands without the engine-cli launcher: {@code java -cp ...
 * org.deephash.model.cli.ModelCli demo --json}. The launcher ({@code engine-cli}) finds the same
 * commands through {@link ServiceLoader}; this entry point is for development and scripts.
 */
public final class ModelCli {
  private ModelCli() {}

  public static void main(String[] args) throws Exception {
    if (args.length == 0) {
      System.err.println("usage: ModelCli COMMAND [options]; commands:");
      for (CliCommand c : ServiceLoader.load(CliCommand.class)) {
        System.err.printf("  %-8s %s%n", c.name(), c.summary());
      }
      System.exit(2);
    }
    for (CliCommand c : ServiceLoader.load(CliCommand.class)) {
      if (c.name().equals(args[0])) {
        System.exit(c.run(Arrays.copyOfRange(args, 1, args.length), System.out, System.err));
      }
    }
    System.err.println("unknown command " + args[0]);
    System.exit(2);
  }
}
