package org.deephash.io;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A parser for the Python literal a {@code .npy} header holds: a dict of str keys to str, bool,
 * int and tuple values, e.g. {@code {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }}.
 * Lists parse too (structured dtypes use them) so the caller can reject them with a clear message.
 * Values: String, Boolean, Long, {@link Tuple}, {@link PyList}, Map.
 */
final class PyLiteral {
  record Tuple(List<Object> items) {}

  record PyList(List<Object> items) {}

  /**
   * Deepest nesting accepted. A .npy header is a flat dict (structured dtypes nest a few levels);
   * the cap keeps a hostile header from exhausting the stack of this recursive parser.
   */
  static final int MAX_DEPTH = 32;

  private final String s;
  private int pos;
  private int depth;

  private PyLiteral(String s) {
    this.s = s;
  }

  /** Parses one literal filling the whole string (surrounding whitespace allowed). */
  static Object parse(String text) {
    PyLiteral p = new PyLiteral(text);
    Object v = p.value();
    p.skipSpace();
    if (p.pos != p.s.length()) {
      throw p.error("unexpected text after the literal");
    }
    return v;
  }

  private Object value() {
    skipSpace();
    if (pos >= s.length()) {
      throw error("unexpected end");
    }
    char c = s.charAt(pos);
    if ((c == '{' || c == '(' || c == '[') && ++depth > MAX_DEPTH) {
      throw error("nested deeper than " + MAX_DEPTH + " levels");
    }
    switch (c) {
      case '{':
        return nested(dict());
      case '(':
        return nested(new Tuple(sequence('(', ')')));
      case '[':
        return nested(new PyList(sequence('[', ']')));
      case '\'':
      case '"':
        return string();
      default:
        if (c == '-' || c == '+' || Character.isDigit(c)) {
          return integer();
        }
        if (s.startsWith("True", pos)) {
          pos += 4;
          return Boolean.TRUE;
        }
        if (s.startsWith("False", pos)) {
          pos += 5;
          return Boolean.FALSE;
        }
        if (s.startsWith("None", pos)) {
          pos += 4;
          return null;
        }
        throw error("unexpected character '" + c + "'");
    }
  }

  private Object nested(Object value) {
    depth--;
    return value;
  }

  private Map<String, Object> dict() {
    pos++; // {
    Map<String, Object> m = new LinkedHashMap<>();
    while (true) {
      skipSpace();
      if (peek() == '}') {
        pos++;
        return m;
      }
      Object key = value();
      if (!(key instanceof String k)) {
        throw error("dict keys must be strings");
      }
      skipSpace();
      expect(':');
      Object v = value();
      if (m.containsKey(k)) {
        throw error("key '" + k + "' appears twice");
      }
      m.put(k, v);
      skipSpace();
      if (peek() == ',') {
        pos++;
      } else if (peek() != '}') {
        throw error("expected ',' or '}'");
      }
    }
  }

  private List<Object> sequence(char open, char close) {
    pos++; // open
    List<Object> items = new ArrayList<>();
    while (true) {
      skipSpace();
      if (peek() == close) {
        pos++;
        return items;
      }
      items.add(value());
      skipSpace();
      if (peek() == ',') {
        pos++;
      } else if (peek() != close) {
        throw error("expected ',' or '" + close + "'");
      }
    }
  }

  private String string() {
    char quote = s.charAt(pos++);
    StringBuilder b = new StringBuilder();
    while (pos < s.length()) {
      char c = s.charAt(pos++);
      if (c == quote) {
        return b.toString();
      }
      if (c == '\\') {
        if (pos >= s.length()) {
          break;
        }
        b.append(s.charAt(pos++)); // dtype strings never need real escapes; keep the escaped char
      } else {
        b.append(c);
      }
    }
    throw error("unterminated string");
  }

  private Long integer() {
    int start = pos;
    if (s.charAt(pos) == '-' || s.charAt(pos) == '+') {
      pos++;
    }
    while (pos < s.length() && Character.isDigit(s.charAt(pos))) {
      pos++;
    }
    String digits = s.substring(start, pos);
    if (pos < s.length() && (s.charAt(pos) == 'L' || s.charAt(pos) == 'l')) {
      pos++; // Python 2 long suffix, written by old NumPy versions
    }
    try {
      return new BigInteger(digits).longValueExact();
    } catch (NumberFormatException | ArithmeticException e) {
      throw error("integer '" + digits + "' is not a valid 64-bit integer");
    }
  }

  private char peek() {
    if (pos >= s.length()) {
      throw error("unexpected end");
    }
    return s.charAt(pos);
  }

  private void expect(char c) {
    if (peek() != c) {
      throw error("expected '" + c + "'");
    }
    pos++;
  }

  private void skipSpace() {
    while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
      pos++;
    }
  }

  private IllegalArgumentException error(String what) {
    return new IllegalArgumentException(what + " at character " + pos);
  }
}
