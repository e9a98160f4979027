package org.deephash.delf.cli;

import org.deephash.cli.api.CliCommand;
import picocli.CommandLine.Command;

/** {@code engine-cli delf train|extract|index|query|eval|match}: attentive deep local features. */
@Command(name = "delf",
    description = "DELF local features: train, extract, index (IVF-PQ), query (RANSAC re-rank), eval, match.",
    synopsisSubcommandLabel = "COMMAND",
    commandListHeading = "%nCommands (engine-cli delf COMMAND --help for its options):%n",
    subcommands = {DelfTrain.class, DelfExtract.class, DelfIndex.class, DelfQuery.class, DelfEval.class,
        DelfMatch.class},
    footer = {"", "Photos: bench/delf/setup-photos.sh fetches ~770 real photos from Debian packages (docs/DELF.md)."})
public final class DelfCommand extends CliCommand {
  /** Without a subcommand: the list of them, as a usage error. */
  @Override
  protected int execute() {
    err.println(commandPath() + ": a command is needed");
    spec.commandLine().usage(err);
    return 2;
  }
}
