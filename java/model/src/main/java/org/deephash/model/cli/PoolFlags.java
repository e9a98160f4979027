package org.deephash.model.cli;

import org.deephash.CodeTable;
import org.deephash.Pool;
import org.deephash.cli.api.CliCommand;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** The coarse stage of HDS, shared by {@code eval} and {@code query} (a picocli mixin). */
public final class PoolFlags {
  @Spec(Spec.Target.MIXEE)
  CommandSpec mixee;

  @Option(names = "--pool", paramLabel = "M",
      description = "Coarse stage of HDS: the Hamming top-M (default: 1000 for eval, 100 for query).")
  Integer pool;

  @Option(names = "--radius", paramLabel = "R",
      description = "Coarse stage of HDS: every code within Hamming radius R instead of a top-M.")
  Integer radius;

  @Option(names = "--cap", paramLabel = "C", description = "At most C candidates from the radius (default: 5000).")
  Integer cap;

  /** The pool, checked: {@code defaultM} when neither --pool nor --radius is given. */
  Pool pool(int defaultM) {
    if (radius != null) {
      if (pool != null) {
        throw usage("give --pool or --radius, not both");
      }
      check("--radius", radius, 0, CodeTable.MAX_BITS);
      int c = cap == null ? 5000 : cap;
      check("--cap", c, 1, CodeTable.MAX_ROWS);
      return Pool.radius(radius, c);
    }
    if (cap != null) {
      throw usage("--cap goes with --radius (for a top-M pool use --pool)");
    }
    int m = pool == null ? defaultM : pool;
    check("--pool", m, 1, CodeTable.MAX_ROWS);
    return Pool.topM(m);
  }

  private void check(String option, int v, int min, int max) {
    CliCommand.requireRange(mixee, option, v, min, max);
  }

  private ParameterException usage(String message) {
    return new ParameterException(mixee.commandLine(), message);
  }
}
