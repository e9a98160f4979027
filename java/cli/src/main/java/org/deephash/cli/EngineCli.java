package org.deephash.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.TreeMap;
import org.deephash.BackendUnavailableException;
import org.deephash.index.IndexFormatException;
import org.deephash.io.NpyFormatException;
import org.deephash.spi.CliCommand;

/**
 * {@code engine-cli <command> [flags]}: dispatches to the built-in commands (bench, import, search,
 * info, backends) and to every {@link CliCommand} service on the class path (the model module adds
 * train, index, query, eval, demo).
 *
 * <p>Exit status: 0 success, 1 failure (including a failed verification), 2 bad usage or input.
 *
 * <pre>{@code
 * int status = EngineCli.run(new String[] {"bench", "--n", "5000", "--json"}, System.out, System.err);
 * }</pre>
 */
public final class EngineCli {
  private static final String DEBUG_ENV = "ENGINE_DEBUG";

  private EngineCli() {}

  public static void main(String[] args) {
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      // One short line per log record (the backend choice) instead of the two-line default.
      System.setProperty("java.util.logging.SimpleFormatter.format", "%4$s: %5$s%6$s%n");
    }
    int status = run(args, System.out, System.err);
    System.out.flush();
    System.exit(status);
  }

  /** Runs one command in this JVM; returns its exit status. */
  public static int run(String[] args, PrintStream out, PrintStream err) {
    Map<String, CliCommand> commands = commands(err);
    if (args.length == 0 || args[0].equals("help") || args[0].equals("--help") || args[0].equals("-h")) {
      if (args.length >= 2 && commands.containsKey(args[1])) {
        return dispatch(commands.get(args[1]), new String[] {"--help"}, out, err);
      }
      if (args.length >= 2) {
        err.println("engine-cli: unknown command '" + args[1] + "'" + suggestion(args[1], commands));
        listCommands(commands, err);
        return 2;
      }
      listCommands(commands, out);
      return 0;
    }
    CliCommand command = commands.get(args[0]);
    if (command == null) {
      err.println("engine-cli: unknown " + (args[0].startsWith("-") ? "option" : "command") + " '" + args[0] + "'"
          + suggestion(args[0], commands) + ". Run 'engine-cli help' to list the commands.");
      return 2;
    }
    return dispatch(command, Arrays.copyOfRange(args, 1, args.length), out, err);
  }

  private static int dispatch(CliCommand command, String[] args, PrintStream out, PrintStream err) {
    String name = command.name();
    try {
      return command.run(args, out, err);
    } catch (UsageException e) {
      err.println("engine-cli " + name + ": " + e.getMessage());
      if (e.pointToHelp()) {
        err.println("Run 'engine-cli " + name + " --help' for its flags.");
      }
      return 2;
    } catch (NoSuchFileException e) {
      err.println("engine-cli " + name + ": no such file: " + e.getFile());
      return 2;
    } catch (AccessDeniedException e) {
      err.println("engine-cli " + name + ": permission denied: " + e.getFile());
      return 2;
    } catch (BackendUnavailableException e) {
      err.println("engine-cli " + name + ": " + e.getMessage());
      err.println("Run 'engine-cli backends' to see which backends can run here.");
      return 1;
    } catch (IllegalArgumentException e) {
      // The engine validates at its boundary with messages that say what to fix.
      err.println("engine-cli " + name + ": " + e.getMessage());
      debugTrace(e, err);
      return 2;
    } catch (OutOfMemoryError e) {
      err.println("engine-cli " + name + ": out of memory (" + e.getMessage() + "). Give the JVM more with "
          + "ENGINE_JAVA_OPTS='-Xmx16g -XX:MaxDirectMemorySize=16g', or use a smaller --n.");
      return 1;
    } catch (NpyFormatException e) {
      err.println("engine-cli " + name + ": " + e.getMessage()); // bad input: names the file and the fix
      return 2;
    } catch (IndexFormatException e) {
      err.println("engine-cli " + name + ": " + e.getMessage());
      return 1;
    } catch (IOException e) {
      err.println("engine-cli " + name + ": " + e);
      debugTrace(e, err);
      return 1;
    } catch (Exception e) {
      err.println("engine-cli " + name + ": failed: " + e);
      debugTrace(e, err);
      return 1;
    }
  }

  private static void debugTrace(Throwable t, PrintStream err) {
    if (System.getenv(DEBUG_ENV) != null) {
      t.printStackTrace(err);
    } else {
      err.println("(set " + DEBUG_ENV + "=1 for the stack trace)");
    }
  }

  /** Built-in commands, then plug-ins from the class path; a plug-in cannot shadow a built-in. */
  static Map<String, CliCommand> commands(PrintStream err) {
    Map<String, CliCommand> all = new TreeMap<>();
    for (CliCommand c : List.of(new BenchCommand(), new ImportCommand(), new SearchCommand(), new InfoCommand(),
        new BackendsCommand())) {
      all.put(c.name(), c);
    }
    Iterator<CliCommand> it = ServiceLoader.load(CliCommand.class, EngineCli.class.getClassLoader()).iterator();
    while (true) {
      CliCommand c;
      try {
        if (!it.hasNext()) {
          break;
        }
        c = it.next();
      } catch (ServiceConfigurationError e) {
        // One broken plug-in must not take the other commands down; say which and why.
        err.println("engine-cli: warning: a plug-in command could not be loaded: " + e.getMessage());
        continue;
      }
      CliCommand prev = all.putIfAbsent(c.name(), c);
      if (prev != null && prev != c) {
        err.println("engine-cli: warning: command '" + c.name() + "' from " + c.getClass().getName()
            + " ignored: " + prev.getClass().getName() + " already provides it");
      }
    }
    return all;
  }

  private static void listCommands(Map<String, CliCommand> commands, PrintStream out) {
    out.println("usage: engine-cli <command> [flags]   (engine-cli <command> --help for its flags)");
    out.println();
    out.println("commands:");
    int width = commands.keySet().stream().mapToInt(String::length).max().orElse(0);
    for (CliCommand c : commands.values()) {
      out.println("  " + c.name() + " ".repeat(width - c.name().length() + 2) + c.summary());
    }
    out.println();
    out.println("JVM options: JAVA_OPTS / ENGINE_JAVA_OPTS; force a backend for every search with "
        + "-Dengine.backend=java|native|cuda|scalar (or ENGINE_BACKEND).");
  }

  private static String suggestion(String word, Map<String, CliCommand> commands) {
    String best = null;
    int bestDist = Integer.MAX_VALUE;
    String w = word.replaceFirst("^-+", "").toLowerCase(Locale.ROOT);
    for (String name : commands.keySet()) {
      int d = editDistance(w, name);
      if (d < bestDist) {
        bestDist = d;
        best = name;
      }
    }
    return best != null && bestDist <= 2 && bestDist < w.length() ? " (did you mean '" + best + "'?)" : "";
  }

  /** Levenshtein distance, for "did you mean" hints. */
  static int editDistance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) {
      prev[j] = j;
    }
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
        cur[j] = Math.min(sub, Math.min(prev[j], cur[j - 1]) + 1);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  /** Names of commands, for tests. */
  static List<String> commandNames() {
    return new ArrayList<>(commands(new PrintStream(PrintStream.nullOutputStream())).keySet());
  }
}
