package org.deephash.cli;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A minimal JSON writer for the one-line reports the commands print: objects keep insertion
 * order, non-finite numbers become null (JSON has no NaN).
 */
final class Json {
  private final Map<String, Object> fields = new LinkedHashMap<>();

  Json put(String key, Object value) {
    fields.put(key, value);
    return this;
  }

  Object get(String key) {
    return fields.get(key);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    write(sb, fields);
    return sb.toString();
  }

  /** Rounds to {@code digits} decimals, for figures that carry no more precision than that. */
  static double round(double x, int digits) {
    if (!Double.isFinite(x)) {
      return x;
    }
    double scale = Math.pow(10, digits);
    return Math.round(x * scale) / scale;
  }

  static void write(StringBuilder sb, Object v) {
    switch (v) {
      case null -> sb.append("null");
      case Json j -> write(sb, j.fields);
      case String s -> string(sb, s);
      case Boolean b -> sb.append(b);
      case Double d -> number(sb, d);
      case Float f -> number(sb, f.doubleValue());
      case Number n -> sb.append(n.longValue());
      case Map<?, ?> m -> {
        sb.append('{');
        boolean first = true;
        for (Map.Entry<?, ?> e : m.entrySet()) {
          if (!first) {
            sb.append(',');
          }
          first = false;
          string(sb, String.valueOf(e.getKey()));
          sb.append(':');
          write(sb, e.getValue());
        }
        sb.append('}');
      }
      case Collection<?> c -> {
        sb.append('[');
        boolean first = true;
        for (Object o : c) {
          if (!first) {
            sb.append(',');
          }
          first = false;
          write(sb, o);
        }
        sb.append(']');
      }
      case double[] a -> {
        sb.append('[');
        for (int i = 0; i < a.length; i++) {
          sb.append(i > 0 ? "," : "");
          number(sb, a[i]);
        }
        sb.append(']');
      }
      case float[] a -> {
        sb.append('[');
        for (int i = 0; i < a.length; i++) {
          sb.append(i > 0 ? "," : "");
          number(sb, a[i]);
        }
        sb.append(']');
      }
      case long[] a -> {
        sb.append('[');
        for (int i = 0; i < a.length; i++) {
          sb.append(i > 0 ? "," : "").append(a[i]);
        }
        sb.append(']');
      }
      case int[] a -> {
        sb.append('[');
        for (int i = 0; i < a.length; i++) {
          sb.append(i > 0 ? "," : "").append(a[i]);
        }
        sb.append(']');
      }
      default -> string(sb, v.toString());
    }
  }

  private static void number(StringBuilder sb, double d) {
    if (!Double.isFinite(d)) {
      sb.append("null");
    } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
      sb.append((long) d);
    } else {
      sb.append(d);
    }
  }

  static void string(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    sb.append('"');
  }
}
