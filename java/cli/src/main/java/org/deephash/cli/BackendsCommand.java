package org.deephash.cli;

import java.util.List;
import org.deephash.Backends;
import org.deephash.cli.api.CliCommand;
import org.deephash.spi.BackendProvider;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code engine-cli backends}: which search backends are on the class path, which one is chosen, and why any cannot run. */
@Command(name = "backends",
    description = "List the search backends on the class path, which can run here, and why not.")
final class BackendsCommand extends CliCommand {
  @Option(names = "--available", description = "Print only the names of the backends that can run here, one per line.")
  boolean available;

  @Override
  protected int execute() {
    List<BackendProvider> providers = Backends.providers();
    if (available) {
      for (BackendProvider p : providers) {
        if (p.unavailableReasons().isEmpty()) {
          out.println(p.name());
        }
      }
      return 0;
    }
    String chosen;
    try {
      chosen = Backends.defaultProvider().name();
    } catch (RuntimeException e) {
      chosen = null; // a forced backend that cannot run: the table below says why
    }
    out.println("backend   priority  status (best first; -Dengine.backend=NAME forces one)");
    for (BackendProvider p : providers) {
      List<String> reasons = p.unavailableReasons();
      out.printf("%-9s %8d  %s%s%n", p.name(), p.priority(),
          reasons.isEmpty() ? "available" : "unavailable: " + String.join("; ", reasons),
          p.name().equals(chosen) ? "  <- chosen" : "");
    }
    return 0;
  }
}
