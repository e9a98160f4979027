package org.deephash.delf.cli;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import org.deephash.spi.CliCommand;

/** {@code engine-cli delf train|extract|index|query|eval|match}: attentive deep local features. */
public final class DelfCommand implements CliCommand {
  private static final Map<String, CliCommand> SUBCOMMANDS = new LinkedHashMap<>();

  static {
    for (CliCommand c : new CliCommand[] {new DelfTrain(), new DelfExtract(), new DelfIndex(), new DelfQuery(),
        new DelfEval(), new DelfMatch()}) {
      SUBCOMMANDS.put(c.name(), c);
    }
  }

  @Override
  public String name() {
    return "delf";
  }

  @Override
  public String summary() {
    return "DELF local features: train, extract, index (IVF-PQ), query (RANSAC re-rank), eval, match";
  }

  @Override
  public int run(String[] args, PrintStream out, PrintStream err) throws Exception {
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("help")) {
      out.println("usage: engine-cli delf COMMAND [options]   (engine-cli delf COMMAND --help for its options)");
      for (CliCommand c : SUBCOMMANDS.values()) {
        out.printf("  %-8s %s%n", c.name(), c.summary());
      }
      out.println("Photos: bench/delf/setup-photos.sh fetches ~770 real photos from Debian packages (docs/DELF.md).");
      return args.length == 0 ? 2 : 0;
    }
    CliCommand c = SUBCOMMANDS.get(args[0]);
    if (c == null) {
      err.println("engine-cli delf: unknown command '" + args[0] + "'; one of " + SUBCOMMANDS.keySet());
      return 2;
    }
    return c.run(Arrays.copyOfRange(args, 1, args.length), out, err);
  }
}
