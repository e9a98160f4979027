package org.deephash.model.cli;

import org.deephash.cli.api.Cli;
import org.deephash.cli.api.CliCommand;
import org.deephash.model.net.TensorFlowLog;

/**
 * A command that runs TensorFlow (train, index, query, eval, demo; DELF's): TensorFlow's own info
 * and warning lines are kept off stderr while it runs ({@link TensorFlowLog}); ENGINE_DEBUG shows them.
 */
public abstract class TensorFlowCommand extends CliCommand {
  @Override
  protected final int execute() throws Exception {
    try (TensorFlowLog.Quiet q = TensorFlowLog.quiet(Cli.debug())) {
      return run();
    }
  }

  /** The command's work, after its options were validated and TensorFlow's log level set. */
  protected abstract int run() throws Exception;
}
