package org.deephash.cli;

import java.io.PrintStream;
import java.util.List;
import org.deephash.Backends;
import org.deephash.spi.BackendProvider;

/** {@code engine-cli backends}: which search backends are on the class path and why any cannot run. */
final class BackendsCommand implements org.deephash.spi.CliCommand {

  @Override
  public String name() {
    return "backends";
  }

  @Override
  public String summary() {
    return "list the search backends on the class path, which can run here, and why not";
  }

  @Override
  public int run(String[] args, PrintStream out, PrintStream err) {
    Flags f = new Flags("backends", "engine-cli backends [--available]")
        .flag("available", "print only the names of the backends that can run here, one per line")
        .parse(args);
    if (f.helpRequested()) {
      out.print(f.usage());
      return 0;
    }
    List<BackendProvider> providers = Backends.providers();
    if (f.has("available")) {
      for (BackendProvider p : providers) {
        if (p.unavailableReasons().isEmpty()) {
          out.println(p.name());
        }
      }
      return 0;
    }
    out.println("backend   priority  status (best first; -Dengine.backend=NAME forces one)");
    for (BackendProvider p : providers) {
      List<String> reasons = p.unavailableReasons();
      out.printf("%-9s %8d  %s%n", p.name(), p.priority(),
          reasons.isEmpty() ? "available" : "unavailable: " + String.join("; ", reasons));
    }
    return 0;
  }
}
