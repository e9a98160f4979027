package org.deephash.spark;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The flags of {@code spark-search}: {@code --name value}, {@code --name=value}, boolean {@code --name}. */
final class Args {
  /** Thrown for a usage mistake; the message says what to type instead. */
  static final class UsageError extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    UsageError(String message) {
      super(message);
    }
  }

  private final Map<String, List<String>> values = new LinkedHashMap<>();

  private Args() {}

  /**
   * Parses {@code args} against {@code valued} (flags that take a value; {@code conf} may repeat)
   * and {@code booleans}.
   */
  static Args parse(String[] args, List<String> valued, List<String> booleans) {
    Args a = new Args();
    for (int i = 0; i < args.length; i++) {
      String s = args[i];
      if (s.equals("-h")) {
        s = "--help";
      }
      if (!s.startsWith("--")) {
        throw new UsageError("unexpected argument '" + s + "': this command takes --flags only");
      }
      String name = s.substring(2);
      String inline = null;
      int eq = name.indexOf('=');
      if (eq >= 0) {
        inline = name.substring(eq + 1);
        name = name.substring(0, eq);
      }
      if (booleans.contains(name)) {
        if (inline != null) {
          throw new UsageError("--" + name + " takes no value");
        }
        a.values.computeIfAbsent(name, n -> new ArrayList<>()).add("true");
      } else if (valued.contains(name)) {
        String v = inline;
        if (v == null) {
          if (i + 1 >= args.length) {
            throw new UsageError("--" + name + " needs a value");
          }
          v = args[++i];
        }
        List<String> l = a.values.computeIfAbsent(name, n -> new ArrayList<>());
        if (!l.isEmpty() && !name.equals("conf")) {
          throw new UsageError("--" + name + " was given twice");
        }
        l.add(v);
      } else {
        throw new UsageError("unknown flag --" + name + " (known: --" + String.join(", --", valued) + ", --"
            + String.join(", --", booleans) + ")");
      }
    }
    return a;
  }

  boolean has(String name) {
    return values.containsKey(name);
  }

  String get(String name, String def) {
    List<String> l = values.get(name);
    return l == null ? def : l.get(0);
  }

  List<String> all(String name) {
    return values.getOrDefault(name, List.of());
  }

  String required(String name, String what) {
    String v = get(name, null);
    if (v == null) {
      throw new UsageError("missing --" + name + " (" + what + ")");
    }
    return v;
  }

  long longValue(String name, long def, long min, long max) {
    String v = get(name, null);
    if (v == null) {
      return def;
    }
    long x;
    try {
      x = Long.parseLong(v.replace("_", ""));
    } catch (NumberFormatException e) {
      throw new UsageError("--" + name + " must be an integer (passed '" + v + "')");
    }
    if (x < min || x > max) {
      throw new UsageError("--" + name + " must be in [" + min + ", " + max + "] (passed " + v + ")");
    }
    return x;
  }

  int intValue(String name, int def, int min, int max) {
    return (int) longValue(name, def, min, max);
  }
}
