package org.deephash.cli.api;

import java.util.Locale;
import picocli.CommandLine;
import picocli.CommandLine.TypeConversionException;

/**
 * Integer option values as people type counts: {@code 1000000}, {@code 1_000_000}, {@code 1e6},
 * {@code 1M}, {@code 500k}, {@code 2G}. picocli has no such converter; this one is registered for
 * every int and long option of every command (ranges are checked by each command afterwards).
 */
final class Counts {
  private Counts() {}

  static void register(CommandLine cl) {
    cl.registerConverter(Integer.class, s -> toInt(s));
    cl.registerConverter(Integer.TYPE, s -> toInt(s));
    cl.registerConverter(Long.class, Counts::parse);
    cl.registerConverter(Long.TYPE, Counts::parse);
  }

  private static int toInt(String s) {
    long v = parse(s);
    if (v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
      throw new TypeConversionException("'" + s + "' is too large (at most " + Integer.MAX_VALUE + ")");
    }
    return (int) v;
  }

  /** The count {@code s} means; throws picocli's conversion error (exit 2) for anything else. */
  static long parse(String s) {
    String t = s.trim().replace("_", "");
    try {
      return Long.parseLong(t);
    } catch (NumberFormatException e) {
      // a suffix or an exponent: below
    }
    String lower = t.toLowerCase(Locale.ROOT);
    long mult = switch (lower.isEmpty() ? ' ' : lower.charAt(lower.length() - 1)) {
      case 'k' -> 1_000L;
      case 'm' -> 1_000_000L;
      case 'g' -> 1_000_000_000L;
      default -> 1L;
    };
    String number = mult == 1 ? lower : lower.substring(0, lower.length() - 1);
    if (!number.isEmpty() && number.chars().allMatch(c -> Character.isDigit(c) || ".eE+-".indexOf(c) >= 0)) {
      try {
        double d = Double.parseDouble(number) * mult;
        if (d == Math.rint(d) && Math.abs(d) < 9e18) {
          return (long) d;
        }
      } catch (NumberFormatException e) {
        // the message below
      }
    }
    throw new TypeConversionException("'" + s + "' is not an integer (1000, 1e6, 1M and 500k are)");
  }
}
