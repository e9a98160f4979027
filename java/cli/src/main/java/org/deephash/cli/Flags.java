package org.deephash.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The flag parser every command shares: {@code --name value}, {@code --name=value}, boolean
 * {@code --name}, positional arguments, and {@code --} to end flags. A command declares its flags
 * (which also gives its usage text), parses, then reads typed values with range checks. Every
 * mistake is a {@link UsageException} whose message says what to type instead.
 *
 * <pre>{@code
 * Flags f = new Flags("bench", "engine-cli bench [flags]")
 *     .value("n", "N", "database rows (default 1000000)")
 *     .flag("json", "one JSON line on stdout")
 *     .parse(args);
 * int n = f.intValue("n", 1_000_000, 1, CodeTable.MAX_ROWS);
 * }</pre>
 */
final class Flags {
  private record Spec(String name, String metavar, String help) {
    boolean takesValue() {
      return metavar != null;
    }
  }

  private final String command;
  private final String synopsis;
  private final Map<String, Spec> specs = new LinkedHashMap<>();
  private final Map<String, String> values = new LinkedHashMap<>();
  private final List<String> positionals = new ArrayList<>();
  private String positionalName;
  private int minPositionals;
  private int maxPositionals;
  private boolean help;

  Flags(String command, String synopsis) {
    this.command = command;
    this.synopsis = synopsis;
  }

  /** Declares {@code --name METAVAR}. */
  Flags value(String name, String metavar, String help) {
    specs.put(name, new Spec(name, metavar, help));
    return this;
  }

  /** Declares the boolean {@code --name}. */
  Flags flag(String name, String help) {
    specs.put(name, new Spec(name, null, help));
    return this;
  }

  /** Accepts between min and max positional arguments, shown as {@code name} in messages. */
  Flags positionals(String name, int min, int max) {
    this.positionalName = name;
    this.minPositionals = min;
    this.maxPositionals = max;
    return this;
  }

  Flags parse(String[] args) {
    boolean flagsEnded = false;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!flagsEnded && (a.equals("--help") || a.equals("-h"))) {
        help = true;
        continue;
      }
      if (!flagsEnded && a.equals("--")) {
        flagsEnded = true;
        continue;
      }
      if (flagsEnded || !a.startsWith("-") || a.equals("-") || isNumber(a)) {
        positionals.add(a);
        continue;
      }
      if (!a.startsWith("--")) {
        throw usage("unknown option '" + a + "': flags are written --name (known: " + known() + ")");
      }
      String name = a.substring(2);
      String inline = null;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        inline = name.substring(eq + 1);
        name = name.substring(0, eq);
      }
      Spec spec = specs.get(name);
      if (spec == null) {
        throw usage("unknown flag --" + name + suggestion(name) + " (known: " + known() + ")");
      }
      if (values.containsKey(name)) {
        throw usage("--" + name + " was given twice");
      }
      if (!spec.takesValue()) {
        if (inline != null) {
          throw usage("--" + name + " takes no value (passed '" + inline + "')");
        }
        values.put(name, "true");
      } else if (inline != null) {
        values.put(name, inline);
      } else {
        if (i + 1 >= args.length || (args[i + 1].startsWith("--") && !args[i + 1].equals("--"))) {
          throw usage("--" + name + " needs a value: --" + name + " " + spec.metavar());
        }
        values.put(name, args[++i]);
      }
    }
    if (!help) {
      if (positionals.size() > maxPositionals) {
        throw usage(maxPositionals == 0
            ? "unexpected argument '" + positionals.get(0) + "' (this command takes flags only)"
            : "too many arguments: expected at most " + maxPositionals + " " + positionalName + ", got " + positionals);
      }
      if (positionals.size() < minPositionals) {
        throw usage("missing " + positionalName);
      }
    }
    return this;
  }

  /** True when --help or -h was given: print {@link #usage()} and stop. */
  boolean helpRequested() {
    return help;
  }

  boolean has(String name) {
    spec(name);
    return values.containsKey(name);
  }

  List<String> positionals() {
    return List.copyOf(positionals);
  }

  String string(String name, String defaultValue) {
    spec(name);
    String v = values.get(name);
    return v == null ? defaultValue : v;
  }

  String required(String name) {
    Spec s = spec(name);
    String v = values.get(name);
    if (v == null) {
      throw usage("missing --" + name + " " + s.metavar() + " (" + s.help() + ")");
    }
    return v;
  }

  Path path(String name) {
    String v = string(name, null);
    return v == null ? null : Path.of(v);
  }

  Path requiredPath(String name) {
    return Path.of(required(name));
  }

  /** One of {@code allowed} (case-insensitive, returned lower case). */
  String choice(String name, String defaultValue, String... allowed) {
    String v = string(name, defaultValue);
    if (v == null) {
      return null;
    }
    for (String a : allowed) {
      if (a.equalsIgnoreCase(v)) {
        return a;
      }
    }
    throw usage("--" + name + " must be one of " + String.join(", ", allowed) + " (passed '" + v + "')");
  }

  int intValue(String name, int defaultValue, int min, int max) {
    return (int) longValue(name, defaultValue, min, max);
  }

  long longValue(String name, long defaultValue, long min, long max) {
    String v = string(name, null);
    if (v == null) {
      return defaultValue;
    }
    long x;
    try {
      x = Long.parseLong(v.replace("_", ""));
    } catch (NumberFormatException e) {
      x = parseScaled(name, v, min, max);
    }
    if (x < min || x > max) {
      throw usage("--" + name + " must be an integer in [" + min + ", " + max + "] (passed " + v + ")");
    }
    return x;
  }

  double doubleValue(String name, double defaultValue, double min, double max) {
    String v = string(name, null);
    if (v == null) {
      return defaultValue;
    }
    double x;
    try {
      x = Double.parseDouble(v);
    } catch (NumberFormatException e) {
      throw usage("--" + name + " must be a number in [" + min + ", " + max + "] (passed '" + v + "')");
    }
    if (!(x >= min && x <= max)) {
      throw usage("--" + name + " must be a number in [" + min + ", " + max + "] (passed " + v + ")");
    }
    return x;
  }

  /** Accepts 1e6, 1M, 10k for counts: benchmarks are typed by hand. */
  private long parseScaled(String name, String v, long min, long max) {
    String s = v.trim().toLowerCase();
    long mult = 1;
    if (s.endsWith("k")) {
      mult = 1_000;
    } else if (s.endsWith("m")) {
      mult = 1_000_000;
    } else if (s.endsWith("g")) {
      mult = 1_000_000_000;
    }
    if (mult != 1) {
      s = s.substring(0, s.length() - 1);
    }
    try {
      double d = Double.parseDouble(s) * mult;
      if (d == Math.rint(d) && Math.abs(d) < 9e18) {
        return (long) d;
      }
    } catch (NumberFormatException e) {
      // fall through to the message below
    }
    throw usage("--" + name + " must be an integer in [" + min + ", " + max + "] (passed '" + v + "')");
  }

  private Spec spec(String name) {
    Spec s = specs.get(name);
    if (s == null) {
      throw new IllegalStateException("command '" + command + "' reads undeclared flag --" + name);
    }
    return s;
  }

  UsageException usage(String message) {
    return new UsageException(command, message);
  }

  private String known() {
    List<String> names = new ArrayList<>();
    for (String n : specs.keySet()) {
      names.add("--" + n);
    }
    return names.isEmpty() ? "none" : String.join(" ", names);
  }

  private String suggestion(String name) {
    String best = null;
    int bestDist = Integer.MAX_VALUE;
    for (String n : specs.keySet()) {
      int d = EngineCli.editDistance(name, n);
      if (d < bestDist) {
        bestDist = d;
        best = n;
      }
    }
    return best != null && bestDist <= 2 && bestDist < name.length() ? "; did you mean --" + best + "?" : "";
  }

  private static boolean isNumber(String s) {
    // Lets negative values such as "--seed -5" reach the value branch and stray "-5" be positional.
    try {
      Double.parseDouble(s);
      return true;
    } catch (NumberFormatException e) {
      return false;
    }
  }

  /** The usage text: synopsis, then one line per flag. */
  String usage() {
    StringBuilder sb = new StringBuilder("usage: ").append(synopsis).append('\n');
    int width = 0;
    for (Spec s : specs.values()) {
      width = Math.max(width, label(s).length());
    }
    for (Spec s : specs.values()) {
      String l = label(s);
      sb.append("  ").append(l).append(" ".repeat(width - l.length() + 2)).append(s.help()).append('\n');
    }
    return sb.toString();
  }

  private static String label(Spec s) {
    return "--" + s.name() + (s.takesValue() ? " " + s.metavar() : "");
  }
}
