package org.deephash.model.cli;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** {@code --name value} and {@code --flag} arguments; unknown names are a usage error. */
public final class Args {
  private final Map<String, String> values = new HashMap<>();
  private final Set<String> flags = new HashSet<>();

  /** Thrown for bad usage; the command prints the message and its usage and exits with status 2. */
  public static final class UsageException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UsageException(String message) {
      super(message);
    }
  }

  public Args(String[] args, List<String> valueNames, List<String> flagNames) {
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--")) {
        throw new UsageException("unexpected argument '" + a + "'");
      }
      String name = a.substring(2);
      String inline = null;
      int eq = name.indexOf('=');
      if (eq > 0) {
        inline = name.substring(eq + 1);
        name = name.substring(0, eq);
      }
      if (flagNames.contains(name) && inline == null) {
        flags.add(name);
      } else if (valueNames.contains(name)) {
        if (inline == null) {
          if (i + 1 >= args.length) {
            throw new UsageException("--" + name + " needs a value");
          }
          inline = args[++i];
        }
        values.put(name, inline);
      } else {
        throw new UsageException("unknown option --" + name);
      }
    }
  }

  public boolean flag(String name) {
    return flags.contains(name);
  }

  public boolean has(String name) {
    return values.containsKey(name);
  }

  public String get(String name, String def) {
    return values.getOrDefault(name, def);
  }

  public String require(String name) {
    String v = values.get(name);
    if (v == null) {
      throw new UsageException("--" + name + " is required");
    }
    return v;
  }

  public int getInt(String name, int def) {
    String v = values.get(name);
    try {
      return v == null ? def : Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      throw new UsageException("--" + name + " takes an integer (passed '" + v + "')");
    }
  }

  public long getLong(String name, long def) {
    String v = values.get(name);
    try {
      return v == null ? def : Long.parseLong(v.trim());
    } catch (NumberFormatException e) {
      throw new UsageException("--" + name + " takes an integer (passed '" + v + "')");
    }
  }

  public float getFloat(String name, float def) {
    String v = values.get(name);
    try {
      return v == null ? def : Float.parseFloat(v.trim());
    } catch (NumberFormatException e) {
      throw new UsageException("--" + name + " takes a number (passed '" + v + "')");
    }
  }
}
