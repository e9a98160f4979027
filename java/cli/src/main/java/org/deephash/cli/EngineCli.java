package org.deephash.cli;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.logging.ConsoleHandler;
import java.util.logging.Level;
import java.util.logging.Logger;
import org.deephash.cli.api.Cli;
import org.deephash.cli.api.CliCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.HelpCommand;
import picocli.CommandLine.Model.CommandSpec;
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
    // Only the command that runs (or whose help is asked for) is built in full: picocli reads every
    // option of a command by reflection, which for all of them would double the start-up time of
    // every call. The others are listed from their @Command annotation alone.
    String wanted = args.length == 0 ? null : args[0].equals("help") && args.length > 1 ? args[1] : args[0];
    CommandLine root = new CommandLine(new EngineCli());
    for (Map.Entry<String, Entry> e : commands(err).entrySet()) {
      root.addSubcommand(e.getKey(), e.getKey().equals(wanted) ? e.getValue().build() : e.getValue().listing());
    }
    root.addSubcommand("help", new HelpCommand());
    return Cli.commandLine(root, out, err).execute(args);
  }

  /** A command found on the class path: its annotation, and how to make it. */
  record Entry(Class<?> type, Supplier<? extends CliCommand> maker) {
    CommandLine build() {
      return new CommandLine(maker.get());
    }

    /** Name and description only, for the list of commands. */
    CommandLine listing() {
      Command a = type.getAnnotation(Command.class);
      CommandSpec spec = CommandSpec.create().name(a.name());
      spec.usageMessage().description(a.description());
      return new CommandLine(spec);
    }
  }

  /** Built-in commands, then plug-ins from the class path, by name; a plug-in cannot shadow a built-in. */
  static Map<String, Entry> commands(PrintStream err) {
    Map<String, Entry> all = new TreeMap<>();
    for (Entry e : List.of(new Entry(BenchCommand.class, BenchCommand::new),
        new Entry(ImportCommand.class, ImportCommand::new), new Entry(SearchCommand.class, SearchCommand::new),
        new Entry(InfoCommand.class, InfoCommand::new), new Entry(BackendsCommand.class, BackendsCommand::new))) {
      all.put(e.type().getAnnotation(Command.class).name(), e);
    }
    Iterator<ServiceLoader.Provider<CliCommand>> it = ServiceLoader.load(CliCommand.class,
        EngineCli.class.getClassLoader()).stream().iterator();
    while (true) {
      ServiceLoader.Provider<CliCommand> p;
      Command a;
      try {
        if (!it.hasNext()) {
          break;
        }
        p = it.next();
        a = p.type().getAnnotation(Command.class);
        if (a == null) {
          throw new ServiceConfigurationError(p.type().getName() + " has no @Command annotation");
        }
      } catch (ServiceConfigurationError e) {
        // One broken plug-in must not take the other commands down; say which and why.
        err.println("engine-cli: warning: a plug-in command could not be loaded: " + e.getMessage());
        continue;
      }
      Entry prev = all.putIfAbsent(a.name(), new Entry(p.type(), p::get));
      if (prev != null) {
        err.println("engine-cli: warning: command '" + a.name() + "' from " + p.type().getName()
            + " ignored: " + prev.type().getName() + " already provides it");
      }
    }
    return all;
  }

  /** Names of commands, for tests. */
  static List<String> commandNames() {
    return new ArrayList<>(commands(new PrintStream(PrintStream.nullOutputStream())).keySet());
  }
}
