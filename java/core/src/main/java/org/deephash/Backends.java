package org.deephash;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.logging.Logger;
import org.deephash.spi.BackendProvider;

/**
 * Finds the search backends on the class path and chooses the default once per JVM: the one
 * named by the system property {@code engine.backend} (which must load, or this throws with every
 * reason), else the available provider with the highest priority. The choice, and why each
 * better provider could not load, go to the debug log (java.util.logging FINE) and to {@link
 * #notChosen()} (shown by {@code engine-cli backends} and in JSON reports): a machine without a GPU
 * is the normal case, not a warning.
 */
public final class Backends {
  public static final String PROPERTY = "engine.backend";
  private static final Logger LOG = Logger.getLogger(Backends.class.getName());

  private Backends() {}

  /** The default once chosen; a failed choice is not kept, so a corrected property takes effect. */
  private static volatile BackendProvider chosen;
  /** The better backends the chosen default passed over, with their reasons. */
  private static volatile Map<String, List<String>> skipped = Map.of();

  /** Every provider found, best first. */
  public static List<BackendProvider> providers() {
    List<BackendProvider> all = new ArrayList<>();
    ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader()).forEach(all::add);
    all.sort(Comparator.comparingInt(BackendProvider::priority).reversed());
    return all;
  }

  /** Providers that can run here, best first. */
  public static List<BackendProvider> available() {
    return providers().stream().filter(p -> p.unavailableReasons().isEmpty()).toList();
  }

  /** The provider named {@code name}; throws {@link BackendUnavailableException} if it cannot run. */
  public static BackendProvider byName(String name) {
    List<String> known = new ArrayList<>();
    for (BackendProvider p : providers()) {
      known.add(p.name());
      if (p.name().equalsIgnoreCase(name)) {
        List<String> reasons = p.unavailableReasons();
        if (!reasons.isEmpty()) {
          throw new BackendUnavailableException(name, reasons);
        }
        return p;
      }
    }
    List<String> here = available().stream().map(BackendProvider::name).toList();
    throw new BackendUnavailableException(name, List.of("no such backend (choose one of " + known + "; available here: "
        + here + ")"));
  }

  /**
   * The backend chosen for this JVM (decided on first successful use, then fixed). A forced name
   * that is unknown or cannot run throws {@link BackendUnavailableException} naming the choices,
   * on every call until the property or environment is corrected.
   */
  public static BackendProvider defaultProvider() {
    BackendProvider p = chosen;
    if (p == null) {
      synchronized (Backends.class) {
        p = chosen;
        if (p == null) {
          Map<String, List<String>> passed = new LinkedHashMap<>();
          p = chooseDefault(passed);
          skipped = Map.copyOf(passed);
          chosen = p;
        }
      }
    }
    return p;
  }

  /**
   * The better backends that the default choice passed over, each with why it cannot run here;
   * empty when the best one runs or a backend was forced.
   */
  public static Map<String, List<String>> notChosen() {
    defaultProvider();
    return skipped;
  }

  static BackendProvider chooseDefault(Map<String, List<String>> skipped) {
    String forced = System.getProperty(PROPERTY);
    if (forced == null || forced.isBlank()) {
      forced = System.getenv("ENGINE_BACKEND");
    }
    if (forced != null && !forced.isBlank()) {
      BackendProvider p = byName(forced.trim());
      LOG.fine("search backend: " + p.name() + " (forced by " + PROPERTY + ")");
      return p;
    }
    for (BackendProvider p : providers()) {
      List<String> reasons = p.unavailableReasons();
      if (reasons.isEmpty()) {
        LOG.fine("search backend: " + p.name());
        return p;
      }
      if (p.priority() > 0) {
        skipped.put(p.name(), List.copyOf(reasons));
        LOG.fine("search backend '" + p.name() + "' not used: " + String.join("; ", reasons));
      }
    }
    throw new IllegalStateException("no search backend available: the jar is incomplete");
  }
}
