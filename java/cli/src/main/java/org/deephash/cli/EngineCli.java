package org.deephash.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.deephash.cli.api.Cli;
import org.deephash.cli.api.CliCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Option;

/**
 * {@code engine-cli <command> [options]}: the built-in commands (bench, import, search, info,
 * backends) and every {@link CliCommand} service on the class path (the model module adds train,
 * index, query, eval, demo; delf, serve and spark-search come from their modules), parsed by
 * picocli through {@link Cli}.
 *
 * <p>Exit status: 0 success, 1 failure (including a failed verification), 2 bad usage or input.
 *
 * <pre>{@code
 * int status = EngineCli.run(new String[] {"bench", "--n", "5000", "--json"}, System.out, System.err);
 * }</pre>
 */
@Command(name = Cli.ROOT,
    description = "Exact binary-hash image retrieval on CPU and GPU.",
    synopsisSubcommandLabel = "COMMAND",
    commandListHeading = "%nCommands (engine-cli COMMAND --help for its options):%n",
    footer = {"", "JVM options: JAVA_OPTS / ENGINE_JAVA_OPTS; force a backend for every search with "
        + "-Dengine.backend=java|native|cuda|scalar (or ENGINE_BACKEND). ENGINE_DEBUG=1: debug log and stack traces."})
public final class EngineCli {
  @Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
  private boolean help;

  private EngineCli() {}

  public static void main(String[] args) {
    configureLogging();
    int status = run(args, System.out, System.err);
    System.out.flush();
    System.exit(status);
  }

  /**
   * One short line per log record; the engine's debug records (the backend choice, why CUDA cannot
   * run) only with ENGINE_DEBUG: a user without a GPU is not warned on every command.
   */
  static void configureLogging() {
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty("java.util.logging.SimpleFormatter.format", "%4$s: %5$s%6$s%n");
    }
    if (Cli.debug()) {
      Logger engine = Logger.getLogger("org.deephash");
      ConsoleHandler h = new ConsoleHandler();
      h.setLevel(Level.FINE);
      engine.setLevel(Level.FINE);
      engine.addHandler(h);
      engine.setUseParentHandlers(false);
    }
  }

  /** Runs one command line in this JVM; returns its exit status. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    CommandLine root = new CommandLine(new EngineCli());
    root.addSubcommand("help", new HelpCommand());
    for (Map.Entry<String, CommandLine> e : commands(err).entrySet()) {
      root.addSubcommand(e.getKey(), e.getValue());
    }
    return Cli.commandLine(root, out, err).execute(args);
  }

  /** Built-in commands, then plug-ins from the class path, by name; a plug-in cannot shadow a built-in. */
  static Map<String, CommandLine> commands(PrintStream err) {
    Map<String, CommandLine> all = new TreeMap<>();
    for (CliCommand c : List.of(new BenchCommand(), new ImportCommand(), new SearchCommand(), new InfoCommand(),
        new BackendsCommand())) {
      CommandLine cl = new CommandLine(c);
      all.put(cl.getCommandName(), cl);
    }
    Iterator<CliCommand> it = ServiceLoader.load(CliCommand.class, EngineCli.class.getClassLoader()).iterator();
    while (true) {
      CliCommand c;
      CommandLine cl;
      try {
        if (!it.hasNext()) {
          break;
        }
        c = it.next();
        cl = new CommandLine(c);
      } catch (ServiceConfigurationError | CommandLine.InitializationException e) {
        // One broken plug-in must not take the other commands down; say which and why.
        err.println("engine-cli: warning: a plug-in command could not be loaded: " + e.getMessage());
        continue;
      }
      CommandLine prev = all.putIfAbsent(cl.getCommandName(), cl);
      if (prev != null) {
        err.println("engine-cli: warning: command '" + cl.getCommandName() + "' from " + c.getClass().getName()
            + " ignored: " + prev.getCommand().getClass().getName() + " already provides it");
      }
    }
    return all;
  }

  /** Names of commands, for tests. */
  static List<String> commandNames() {
    return new ArrayList<>(commands(new PrintStream(PrintStream.nullOutputStream())).keySet());
  }
}
