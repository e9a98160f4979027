package org.deephash.model.cli;

import java.util.ServiceLoader;
import org.deephash.cli.api.Cli;
import org.deephash.cli.api.CliCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;

/**
 * Runs the model's commands without the engine-cli launcher: {@code java -cp ...
 * org.deephash.model.cli.ModelCli demo --json}. The launcher ({@code engine-cli}) finds the same
 * commands through {@link ServiceLoader}; this entry point is for development and scripts.
 */
@Command(name = Cli.ROOT, description = "The hashing network's commands (train, index, query, eval, demo).")
public final class ModelCli {
  private ModelCli() {}

  public static void main(String[] args) {
    CommandLine root = new CommandLine(new ModelCli());
    root.addSubcommand("help", new HelpCommand());
    for (CliCommand c : ServiceLoader.load(CliCommand.class)) {
      CommandLine cl = new CommandLine(c);
      root.addSubcommand(cl.getCommandName(), cl);
    }
    System.exit(Cli.commandLine(root, System.out, System.err).execute(args));
  }
}
