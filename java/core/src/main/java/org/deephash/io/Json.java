package org.deephash.io;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Minimal JSON: a writer for the one-line reports the commands and the HTTP API print (objects
 * keep insertion order, non-finite numbers become null: JSON has no NaN), and a strict parser for
 * request bodies and tests ({@link #parse}: objects become {@code Map}, arrays {@code List},
 * numbers {@code Double}; nesting depth is capped so hostile input cannot overflow the stack).
 */
public final class Json {
  private final Map<String, Object> fields = new LinkedHashMap<>();

  /** An empty object to {@link #put} fields into. */
  public Json() {
    this.s = null;
    this.script = false;
  }

  public Json put(String key, Object value) {
    fields.put(key, value);
    return this;
  }

  public Object get(String key) {
    return fields.get(key);
  }

  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder();
    write(sb, fields);
    return sb.toString();
  }

  /** Rounds to {@code digits} decimals, for figures that carry no more precision than that. */
  public static double round(double x, int digits) {
    if (!Double.isFinite(x)) {
      return x;
    }
    double scale = Math.pow(10, digits);
    return Math.round(x * scale) / scale;
  }

  public static void write(StringBuilder sb, Object v) {
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

  public static void string(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        case '\b' -> sb.append("\\b");
        case '\f' -> sb.append("\\f");
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

  // ---- parser ----

  /** Deepest nesting of arrays and objects {@link #parse} accepts: more is refused, not a stack overflow. */
  public static final int MAX_DEPTH = 512;
  private final String s;
  private final boolean script;
  private int i;
  private int depth;

  private Json(String s, boolean script) {
    this.s = s;
    this.script = script;
  }

  /** Parses one JSON value; throws {@link IllegalArgumentException} saying where the text is malformed. */
  public static Object parse(String text) {
    Json p = new Json(text, false);
    Object v = p.value();
    p.ws();
    if (p.i != p.s.length()) {
      throw p.error("trailing characters");
    }
    return v;
  }

  /**
   * Parses the data literal that starts at {@code text[from]} inside JavaScript source, as minifiers
   * write JSON: object keys may be bare identifiers, {@code !0} and {@code !1} stand for true and
   * false, numbers may start with a dot. Returns the value and the index just past it; anything
   * else (a function, a variable) is refused like malformed JSON.
   */
  public static ScriptValue parseScriptLiteral(String text, int from) {
    Json p = new Json(text, true);
    p.i = from;
    Object v = p.value();
    return new ScriptValue(v, p.i);
  }

  /** A value read by {@link #parseScriptLiteral} and where it ended. */
  public record ScriptValue(Object value, int end) {}

  @SuppressWarnings("unchecked")
  /** Parses a JSON object. */
  public static Map<String, Object> object(String text) {
    Object v = parse(text);
    if (!(v instanceof Map)) {
      throw new IllegalArgumentException("not a JSON object: " + text);
    }
    return (Map<String, Object>) v;
  }

  private Object value() {
    ws();
    if (i >= s.length()) {
      throw error("unexpected end");
    }
    char c = s.charAt(i);
    if ((c == '{' || c == '[') && ++depth > MAX_DEPTH) {
      throw error("nested deeper than " + MAX_DEPTH + " arrays and objects");
    }
    switch (c) {
      case '{' -> {
        i++;
        Map<String, Object> m = new LinkedHashMap<>();
        ws();
        if (peek('}')) {
          depth--;
          return m;
        }
        do {
          ws();
          String k = script && i < s.length() && s.charAt(i) != '"' ? identifier() : string();
          ws();
          expect(':');
          if (m.put(k, value()) != null) {
            throw error("duplicate key " + k);
          }
          ws();
        } while (peek(','));
        expect('}');
        depth--;
        return m;
      }
      case '[' -> {
        i++;
        List<Object> l = new ArrayList<>();
        ws();
        if (peek(']')) {
          depth--;
          return l;
        }
        do {
          l.add(value());
          ws();
        } while (peek(','));
        expect(']');
        depth--;
        return l;
      }
      case '"' -> {
        return string();
      }
      default -> {
        if (script && (s.startsWith("!0", i) || s.startsWith("!1", i))) {
          i += 2;
          return s.charAt(i - 1) == '0';
        }
        if (s.startsWith("true", i)) {
          i += 4;
          return Boolean.TRUE;
        }
        if (s.startsWith("false", i)) {
          i += 5;
          return Boolean.FALSE;
        }
        if (s.startsWith("null", i)) {
          i += 4;
          return null;
        }
        return number(c);
      }
    }
  }

  /**
   * A number by JSON's grammar: {@code -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?}; no {@code +},
   * no leading zeros, digits on both sides of the point. Script literals may also start with the
   * point ({@code .5}, {@code -.5}), as minifiers write them.
   */
  private Double number(char first) {
    int start = i;
    if (peek('-') && i >= s.length()) {
      throw error("malformed number '-'");
    }
    if (i < s.length() && s.charAt(i) == '0') {
      i++;
      if (i < s.length() && isDigit(s.charAt(i))) {
        throw error("malformed number: leading zero in '" + token(start) + "'");
      }
    } else if (i < s.length() && isDigit(s.charAt(i))) {
      digits();
    } else if (!(script && i < s.length() && s.charAt(i) == '.')) {
      boolean numberLike = start != i || first == '+' || first == '.';
      throw error(numberLike ? "malformed number '" + token(start) + "'" : "unexpected character '" + first + "'");
    }
    if (peek('.')) {
      if (digits() == 0) {
        throw error("malformed number: no digit after the point in '" + token(start) + "'");
      }
    }
    if (i < s.length() && (s.charAt(i) == 'e' || s.charAt(i) == 'E')) {
      i++;
      if (i < s.length() && (s.charAt(i) == '+' || s.charAt(i) == '-')) {
        i++;
      }
      if (digits() == 0) {
        throw error("malformed number: no digit in the exponent of '" + token(start) + "'");
      }
    }
    return Double.parseDouble(s.substring(start, i));
  }

  private int digits() {
    int from = i;
    while (i < s.length() && isDigit(s.charAt(i))) {
      i++;
    }
    return i - from;
  }

  private static boolean isDigit(char c) {
    return c >= '0' && c <= '9';
  }

  /** The malformed token from {@code start}, for the message. */
  private String token(int start) {
    int end = start;
    while (end < s.length() && end < start + 32 && "+-0123456789.eE".indexOf(s.charAt(end)) >= 0) {
      end++;
    }
    return s.substring(start, Math.max(end, Math.min(s.length(), start + 1)));
  }

  private String string() {
    expect('"');
    StringBuilder sb = new StringBuilder();
    while (i < s.length() && s.charAt(i) != '"') {
      char c = s.charAt(i++);
      if (c == '\\') {
        if (i >= s.length()) {
          throw error("unexpected end");
        }
        char e = s.charAt(i++);
        switch (e) {
          case '"', '\\', '/' -> sb.append(e);
          case 'b' -> sb.append('\b');
          case 'f' -> sb.append('\f');
          case 'n' -> sb.append('\n');
          case 't' -> sb.append('\t');
          case 'r' -> sb.append('\r');
          case 'u' -> {
            if (i + 4 > s.length()) {
              throw error("unexpected end");
            }
            int code = 0;
            for (int k = 0; k < 4; k++) {
              int h = Character.digit(s.charAt(i + k), 16);
              if (h < 0) {
                throw error("malformed \\u escape");
              }
              code = code * 16 + h;
            }
            sb.append((char) code);
            i += 4;
          }
          default -> {
            if (!script) {
              throw error("invalid escape '\\" + e + "'");
            }
            sb.append(e); // JavaScript keeps the character of an unknown escape
          }
        }
      } else if (c < 0x20) {
        throw error("control character in string");
      } else {
        sb.append(c);
      }
    }
    expect('"');
    return sb.toString();
  }

  private String identifier() {
    int start = i;
    while (i < s.length() && (Character.isLetterOrDigit(s.charAt(i)) || s.charAt(i) == '_' || s.charAt(i) == '$')) {
      i++;
    }
    if (start == i || Character.isDigit(s.charAt(start))) {
      throw error("expected a key");
    }
    return s.substring(start, i);
  }

  private void ws() {
    while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
      i++;
    }
  }

  private boolean peek(char c) {
    if (i < s.length() && s.charAt(i) == c) {
      i++;
      return true;
    }
    return false;
  }

  private void expect(char c) {
    if (!peek(c)) {
      throw error("expected '" + c + "'");
    }
  }

  private IllegalArgumentException error(String what) {
    return new IllegalArgumentException("malformed JSON: " + what + " at character " + i);
  }
}
