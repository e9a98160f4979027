package org.deephash.cli.api;

import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.List;
import org.deephash.BackendUnavailableException;
import org.deephash.index.IndexFormatException;
import org.deephash.io.NpyFormatException;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * Runs a picocli command tree the way every {@code engine-cli} command runs: the same parser
 * settings (a repeated single-value option is an error, enum values in any case, counts such as
 * {@code 1M} or {@code 500k}), the same help layout, and one mapping from failures to messages and
 * exit statuses:
 *
 * <ul>
 *   <li>0: success;
 *   <li>1: failure (a damaged index file, an I/O error, a failed verification, a backend that
 *       cannot run);
 *   <li>2: bad usage or bad input (an unknown or repeated option, a value out of range, a missing
 *       file, an {@link IllegalArgumentException} from the engine's argument checks).
 * </ul>
 *
 * <p>No stack trace reaches the user unless {@code ENGINE_DEBUG} is set.
 *
 * <pre>{@code
 * int status = Cli.run(new TrainCommand(), new String[] {"--epochs", "2"}, System.out, System.err);
 * }</pre>
 */
public final class Cli {
  /** Exit status of a failure. */
  public static final int FAILURE = 1;
  /** Exit status of bad usage or bad input. */
  public static final int USAGE = 2;
  /** The environment variable that lets stack traces through. */
  public static final String DEBUG_ENV = "ENGINE_DEBUG";
  /** The name of the root command; a command run on its own is shown under it. */
  public static final String ROOT = "engine-cli";
  private static final int HELP_WIDTH = 100;

  private Cli() {}

  /**
   * Runs {@code command} (a picocli-annotated object) as {@code engine-cli NAME args}: parses
   * {@code args} into it, validates, runs; returns the exit status. Messages and help name the
   * command as the launcher would, whoever runs it (a test, a module's own main).
   */
  public static int run(Object command, String[] args, PrintStream out, PrintStream err) {
    CommandLine sub = command instanceof CommandLine c ? c : new CommandLine(command);
    CommandLine root = new CommandLine(new Root());
    root.addSubcommand(sub.getCommandName(), sub);
    String[] all = new String[args.length + 1];
    all[0] = sub.getCommandName();
    System.arraycopy(args, 0, all, 1, args.length);
    return commandLine(root, out, err).execute(all);
  }

  /** The root a command run on its own hangs under. */
  @picocli.CommandLine.Command(name = ROOT)
  private static final class Root {}

  /**
   * The configured {@link CommandLine} of {@code command}, its subcommands included. Add further
   * subcommands before calling this (settings apply to the tree as it is now).
   */
  public static CommandLine commandLine(Object command, PrintStream out, PrintStream err) {
    CommandLine cl = command instanceof CommandLine c ? c : new CommandLine(command);
    Counts.register(cl);
    cl.setCaseInsensitiveEnumValuesAllowed(true);
    cl.setOverwrittenOptionsAllowed(false);
    cl.setUsageHelpWidth(HELP_WIDTH);
    cl.setOut(new PrintWriter(out, true));
    cl.setErr(new PrintWriter(err, true));
    layout(cl);
    cl.setParameterExceptionHandler((ex, a) -> usageError(ex, err));
    cl.setExecutionStrategy(pr -> execute(pr, out, err));
    return cl;
  }

  /** Options in declaration order (the common -h/-q last), a short synopsis, aligned columns. */
  private static void layout(CommandLine cl) {
    CommandSpec spec = cl.getCommandSpec();
    spec.usageMessage().sortOptions(false).abbreviateSynopsis(true).showEndOfOptionsDelimiterInUsageHelp(false);
    for (CommandLine sub : cl.getSubcommands().values()) {
      layout(sub);
    }
  }

  private static int execute(ParseResult pr, PrintStream out, PrintStream err) {
    if (CommandLine.printHelpIfRequested(pr)) {
      return 0;
    }
    ParseResult leaf = pr;
    while (leaf.hasSubcommand()) {
      leaf = leaf.subcommand();
    }
    CommandLine cl = leaf.commandSpec().commandLine();
    if (!(cl.getCommand() instanceof CliCommand command)) {
      // The root without a command: the list of commands.
      cl.usage(out);
      return 0;
    }
    command.bind(out, err);
    command.validate(); // a ParameterException here goes to usageError, like a parse error
    try {
      return command.execute();
    } catch (ParameterException e) {
      throw e;
    } catch (Exception | Error e) {
      // every failure is one line (StackOverflowError from hostile input, InternalError from a
      // damaged mapping...); ENGINE_DEBUG=1 shows the stack trace
      return failure(path(cl), e, err);
    } finally {
      command.closeProgress();
    }
  }

  /** The command as typed: {@code engine-cli delf train}. */
  static String path(CommandLine cl) {
    return cl.getCommandSpec().qualifiedName(" ");
  }

  private static int usageError(ParameterException ex, PrintStream err) {
    CommandLine cl = ex.getCommandLine();
    String who = path(cl);
    err.println(who + ": " + message(ex));
    err.println("Run '" + who + " --help' for its " + (cl.getSubcommands().isEmpty() ? "options." : "commands."));
    return USAGE;
  }

  /** picocli's message, reworded for the two cases users hit most: a typo in an option or a command. */
  private static String message(ParameterException ex) {
    if (ex instanceof UnmatchedArgumentException u && !u.getUnmatched().isEmpty()) {
      String arg = u.getUnmatched().get(0);
      boolean hasCommands = !ex.getCommandLine().getSubcommands().isEmpty();
      String what = u.isUnknownOption() || arg.startsWith("-") ? "unknown option"
          : hasCommands ? "unknown command" : "unexpected argument";
      List<String> suggestions = new ArrayList<>();
      for (String s : nearest(arg, what.equals("unknown command")
          ? ex.getCommandLine().getSubcommands().keySet()
          : ex.getCommandLine().getCommandSpec().optionsMap().keySet())) {
        suggestions.add("'" + s + "'");
      }
      for (String s : suggestions.isEmpty() ? u.getSuggestions() : List.<String>of()) {
        if (!s.isBlank() && !suggestions.contains("'" + s + "'")) {
          suggestions.add("'" + s + "'");
        }
      }
      String more = u.getUnmatched().size() > 1 ? " (and " + String.join(" ", u.getUnmatched().subList(1,
          u.getUnmatched().size())) + ")" : "";
      return what + " '" + arg + "'" + more + (suggestions.isEmpty() ? ""
          : "; did you mean " + String.join(" or ", suggestions.subList(0, Math.min(3, suggestions.size()))) + "?");
    }
    String m = ex.getMessage();
    return m == null ? ex.toString() : m;
  }

  /**
   * The names closest to {@code typed} by edit distance, nearest first; picocli only suggests
   * options that share the typed name's first two letters, which misses most typos.
   */
  static List<String> nearest(String typed, java.util.Collection<String> names) {
    String t = typed.replaceFirst("=.*$", "");
    int limit = Math.max(2, t.replaceFirst("^-+", "").length() / 3);
    List<String> out = new ArrayList<>();
    int best = Integer.MAX_VALUE;
    for (String n : names) {
      int d = editDistance(t, n);
      if (d > limit || d > best) {
        continue;
      }
      if (d < best) {
        out.clear();
        best = d;
      }
      out.add(n);
    }
    if (out.isEmpty()) {
      // "--epochs" for "--descriptor-epochs": the typed word inside a longer name
      String word = t.replaceFirst("^-+", "");
      for (String n : names) {
        if (word.length() >= 3 && n.contains(word)) {
          out.add(n);
        }
      }
    }
    out.sort(null);
    return out;
  }

  /** Levenshtein distance. */
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
      int[] tmp = prev;
      prev = cur;
      cur = tmp;
    }
    return prev[b.length()];
  }

  /** Maps a command's failure to a one-line message and an exit status. */
  static int failure(String who, Throwable e, PrintStream err) {
    switch (e) {
      case NoSuchFileException f -> {
        err.println(who + ": no such file: " + f.getFile());
        return USAGE;
      }
      case AccessDeniedException f -> {
        err.println(who + ": permission denied: " + f.getFile());
        return USAGE;
      }
      case FileAlreadyExistsException f -> {
        err.println(who + ": already exists: " + f.getFile());
        return USAGE;
      }
      case BackendUnavailableException b -> {
        err.println(who + ": " + b.getMessage());
        err.println("Run 'engine-cli backends' to see which backends can run here.");
        return FAILURE;
      }
      case NpyFormatException n -> {
        err.println(who + ": " + n.getMessage()); // bad input: names the file and the fix
        return USAGE;
      }
      case IndexFormatException i -> {
        err.println(who + ": " + i.getMessage());
        return FAILURE;
      }
      case IllegalArgumentException i -> {
        // The engine validates at its boundary with messages that say what to fix: one line, no hint
        // about stack traces (the message is the whole story; ENGINE_DEBUG still prints the trace).
        err.println(who + ": " + i.getMessage());
        if (debug()) {
          i.printStackTrace(err);
        }
        return USAGE;
      }
      case OutOfMemoryError o -> {
        err.println(who + ": out of memory (" + o.getMessage() + "). Give the JVM more with "
            + "ENGINE_JAVA_OPTS='-Xmx16g -XX:MaxDirectMemorySize=16g', or work on less data at once.");
        return FAILURE;
      }
      case StackOverflowError so -> {
        err.println(who + ": failed: the input is nested too deeply to process (stack overflow); check the file");
        debugTrace(so, err);
        return FAILURE;
      }
      case LinkageError l -> {
        boolean vector = String.valueOf(l.getMessage()).contains("jdk/incubator/vector");
        err.println(who + ": failed: " + l + (vector ? ". The Java backend needs the Vector API here: run with"
            + " ENGINE_VECTOR_API=1 (or --add-modules jdk.incubator.vector)" : ""));
        debugTrace(l, err);
        return FAILURE;
      }
      case IOException i -> {
        err.println(who + ": " + (i.getMessage() != null ? i.getMessage() : i.toString()));
        debugTrace(i, err);
        return FAILURE;
      }
      default -> {
        err.println(who + ": failed: " + String.valueOf(e).lines().findFirst().orElse(""));
        debugTrace(e, err);
        return FAILURE;
      }
    }
  }

  private static void debugTrace(Throwable t, PrintStream err) {
    if (debug()) {
      t.printStackTrace(err);
    } else {
      err.println("(set " + DEBUG_ENV + "=1 for the stack trace)");
    }
  }

  /** Whether ENGINE_DEBUG is set (stack traces, debug log lines, TensorFlow's own log). */
  public static boolean debug() {
    String v = System.getenv(DEBUG_ENV);
    return v != null && !v.isEmpty() && !v.equals("0");
  }
}
