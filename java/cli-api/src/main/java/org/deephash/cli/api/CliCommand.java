package org.deephash.cli.api;

import java.io.PrintStream;
import java.util.Locale;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * An {@code engine-cli} command: a class annotated with picocli's {@code @Command}, its options
 * declared as {@code @Option} fields. Top-level commands are found with {@link
 * java.util.ServiceLoader} (a module lists its commands in {@code
 * META-INF/services/org.deephash.cli.api.CliCommand}), so the CLI does not depend on the modules
 * that add commands; a command with subcommands names them in {@code @Command(subcommands = ...)}.
 *
 * <p>{@link Cli} parses the arguments into the fields, then calls {@link #validate()} (every range
 * and cross-option check: nothing expensive has happened yet), then {@link #execute()}.
 *
 * <pre>{@code
 * @Command(name = "hello", description = "Greets.")
 * public final class Hello extends CliCommand {
 *   @Option(names = "--times", paramLabel = "N", description = "how often (default: ${DEFAULT-VALUE})")
 *   int times = 1;
 *
 *   @Override
 *   protected void validate() {
 *     requireRange("--times", times, 1, 100);
 *   }
 *
 *   @Override
 *   protected int execute() {
 *     out.println("hello ".repeat(times));
 *     return 0;
 *   }
 * }
 * }</pre>
 */
public abstract class CliCommand {
  /** Shown last in every command's help. */
  private static final int COMMON_OPTIONS_ORDER = 1000;

  @Option(names = {"-h", "--help"}, usageHelp = true, order = COMMON_OPTIONS_ORDER,
      description = "Show this help and exit.")
  private boolean helpRequested;

  @Option(names = {"-q", "--quiet"}, order = COMMON_OPTIONS_ORDER + 1,
      description = "No progress lines on stderr (they are drawn only when stderr is a terminal).")
  private boolean quiet;

  /** Set by picocli: this command's model (its name, its CommandLine). */
  @Spec
  protected CommandSpec spec;

  /** Results: JSON lines, tables. */
  protected PrintStream out;

  /** Messages and progress. */
  protected PrintStream err;

  private Progress progress;

  /** Called by {@link Cli} before {@link #validate()}. */
  final void bind(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  /**
   * Range and cross-option checks; throw {@link #usage(String)} for each mistake. Runs before
   * {@link #execute()}, so a typo fails at once instead of after the expensive part.
   */
  protected void validate() {}

  /**
   * The command's work, after its options were parsed and validated.
   *
   * @return the exit status: 0 success, 1 failure (2, bad usage or input, comes from exceptions:
   *     see {@link Cli})
   */
  protected abstract int execute() throws Exception;

  /** The command as typed, e.g. {@code engine-cli delf train}. */
  protected final String commandPath() {
    return Cli.path(spec.commandLine());
  }

  /** The progress reporter of this run: silent with --quiet or when stderr is not a terminal. */
  protected final Progress progress() {
    if (progress == null) {
      progress = Progress.forStderr(spec.name(), err, quiet);
    }
    return progress;
  }

  /** Closes the progress reporter; called by {@link Cli} after {@link #execute()}. */
  final void closeProgress() {
    if (progress != null) {
      progress.close();
    }
  }

  /** A usage error: the message, a pointer to this command's help, exit status 2. */
  protected final ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }

  /** Throws a usage error unless {@code min <= value <= max}. */
  protected final void requireRange(String option, long value, long min, long max) {
    requireRange(spec, option, value, min, max);
  }

  /** Throws a usage error unless {@code min <= value <= max} (NaN is refused). */
  protected final void requireRange(String option, double value, double min, double max) {
    requireRange(spec, option, value, min, max);
  }

  /**
   * The range check for option groups shared by several commands (picocli mixins): {@code spec} is
   * the command the mixin is part of ({@code @Spec(Spec.Target.MIXEE)}).
   */
  public static void requireRange(CommandSpec spec, String option, long value, long min, long max) {
    if (value < min || value > max) {
      throw new ParameterException(spec.commandLine(), option + " must be " + range(min, max) + " (passed " + value
          + ")");
    }
  }

  /** As {@link #requireRange(CommandSpec, String, long, long, long)} for decimal values; NaN is refused. */
  public static void requireRange(CommandSpec spec, String option, double value, double min, double max) {
    if (!(value >= min && value <= max)) {
      throw new ParameterException(spec.commandLine(), option + " must be a number in [" + fmt(min) + ", "
          + fmt(max) + "] (passed " + fmt(value) + ")");
    }
  }

  private static String range(long min, long max) {
    if (max == Long.MAX_VALUE || max == Integer.MAX_VALUE) {
      return ">= " + min;
    }
    return "in [" + min + ", " + max + "]";
  }

  private static String fmt(double x) {
    return x == Math.rint(x) && Math.abs(x) < 1e15 ? Long.toString((long) x) : String.format(Locale.ROOT, "%s", x);
  }
}
