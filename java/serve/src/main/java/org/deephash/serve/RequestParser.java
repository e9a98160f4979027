package org.deephash.serve;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.deephash.io.Json;

/**
 * Turns the parts of an HTTP request (the Content-Type, the raw query string, the body) into a
 * validated {@link SearchRequest}, or an {@link ApiException} with the status and a message that
 * says what to fix. Pure: no socket, no index, no model; what a request is checked against is a
 * {@link Context} of plain values, so every rule is testable on its own.
 *
 * <p>Options may come from the query string (text) and, for a JSON query, from the body's fields,
 * typed as JSON types them (numbers; mode a string): each value is read as what it is, never
 * turned back into text; a null, a number in quotes or an option without a value ({@code k=}) is
 * refused rather than guessed at, and an option given in both places is refused rather than one
 * silently winning. An id is a JSON number, or a decimal string when it is too large for a JSON
 * number to hold exactly (2^53 and more): the same rule as the ids in answers.
 *
 * <p>An upload's header is read here (format and size, refused over the limits); its pixels are
 * decoded later, within the server's decode budget ({@link ImageDecoder}).
 */
final class RequestParser {
  /** The options, in the query string or as JSON fields. */
  static final List<String> OPTIONS = List.of("k", "mode", "pool", "radius", "cap");

  /**
   * What requests are checked against.
   *
   * @param bits the index's code width
   * @param dim its feature dimension (0: no features, so no HDS)
   * @param hasModel whether the server can encode uploaded images
   * @param limits the server's limits (k, pool, image size)
   */
  record Context(int bits, int dim, boolean hasModel, ServeConfig limits) {
    int codeBytes() {
      return bits / 8;
    }
  }

  private final Context context;

  RequestParser(Context context) {
    this.context = context;
  }

  /**
   * Parses a {@code POST /search}.
   *
   * @param contentType the Content-Type header (null when absent)
   * @param rawQuery the raw (still percent-encoded) query string, or null
   * @param body the request body
   */
  SearchRequest parse(String contentType, String rawQuery, byte[] body) {
    Map<String, String> query = queryParams(rawQuery);
    for (String key : query.keySet()) {
      if (!OPTIONS.contains(key)) {
        throw ApiException.badRequest("unknown parameter '" + safe(key) + "': the options are k, mode, pool, radius,"
            + " cap");
      }
    }
    String type = mediaType(contentType);
    if (type.equals("application/json")) {
      return parseJson(query, body);
    }
    if (type.startsWith("image/") || type.equals("application/octet-stream")) {
      if (!context.hasModel()) {
        throw ApiException.badRequest("this server has no model to encode images: start it with --model, or query"
            + " with JSON (id or code)");
      }
      SearchRequest.Options o = options(new LinkedHashMap<>(query));
      ImageDecoder.Header h = ImageDecoder.header(body, context.limits());
      return new SearchRequest(new SearchRequest.ByImage(body, h.width(), h.height()), o);
    }
    throw new ApiException(415, "unsupported Content-Type '" + safe(type) + "': POST an image (image/png,"
        + " image/jpeg, ...) or a JSON query (application/json)");
  }

  private SearchRequest parseJson(Map<String, String> query, byte[] body) {
    Map<String, Object> j;
    try {
      j = Json.object(new String(body, StandardCharsets.UTF_8));
    } catch (IllegalArgumentException e) {
      throw ApiException.badRequest(safe(e.getMessage()));
    }
    Map<String, Object> values = new LinkedHashMap<>(query);
    for (Map.Entry<String, Object> e : j.entrySet()) {
      String key = e.getKey();
      if (!OPTIONS.contains(key) && !key.equals("id") && !key.equals("code") && !key.equals("feature")) {
        throw ApiException.badRequest("unknown field '" + safe(key) + "': a JSON query has id, or code and"
            + " feature, and k, mode, pool, radius, cap");
      }
      if (OPTIONS.contains(key)) {
        if (values.containsKey(key)) {
          throw ApiException.badRequest(key + " is given both in the query string and in the JSON body: give it once");
        }
        values.put(key, jsonOption(key, e.getValue()));
      }
    }
    SearchRequest.Options o = options(values);
    if (j.containsKey("id")) {
      if (j.containsKey("code") || j.containsKey("feature")) {
        throw ApiException.badRequest("give either id or code/feature, not both");
      }
      return new SearchRequest(new SearchRequest.ById(jsonId(j.get("id"))), o);
    }
    if (j.get("code") instanceof String hex) {
      byte[] code = hex(hex, context.codeBytes());
      float[] feature = null;
      if (j.get("feature") instanceof List<?> l) {
        feature = floats(l, context.dim());
      } else if (j.get("feature") != null) {
        throw ApiException.badRequest("feature must be an array of " + context.dim() + " numbers");
      } else if (o.mode() == SearchService.Mode.HDS) {
        throw ApiException.badRequest("mode hds re-ranks by Euclidean distance: give feature (" + context.dim()
            + " numbers) with the code, or use mode bcs");
      }
      return new SearchRequest(new SearchRequest.ByCode(code, feature), o);
    }
    throw ApiException.badRequest("a JSON query needs id (an indexed image) or code (" + context.codeBytes() * 2
        + " hex digits) and feature; to search with an image, POST its bytes with Content-Type image/png or"
        + " image/jpeg");
  }

  /**
   * A JSON field of an option, typed as JSON types it: numbers for k, pool, radius and cap, a string
   * for mode. A null or a number in quotes is a mistake of the client's encoder, refused rather
   * than guessed at; a field left out takes the default.
   */
  private static Object jsonOption(String key, Object value) {
    boolean text = key.equals("mode");
    if (value == null) {
      throw ApiException.badRequest(key + " is null: leave the field out for the default, or give "
          + (text ? "hds or bcs" : "a whole number"));
    }
    if (text && !(value instanceof String)) {
      throw ApiException.badRequest("mode is hds (Hamming pool re-ranked by Euclidean distance) or bcs (codes"
          + " only), as a JSON string (got " + safe(jsonText(value)) + ")");
    }
    if (!text && value instanceof String s) {
      throw ApiException.badRequest(key + " must be a JSON number, not a string (got " + safe(jsonText(s)) + ")");
    }
    return value;
  }

  /**
   * An id from JSON: a number when a double holds it exactly (|id| below 2^53), a decimal string
   * only when it does not; ids in answers follow the same rule, so a client sends back what it got.
   */
  static long jsonId(Object value) {
    switch (value) {
      case Double d -> {
        return integer("id", d, Long.MIN_VALUE, Long.MAX_VALUE, 0);
      }
      case String s -> {
        long x;
        try {
          x = Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
          throw ApiException.badRequest("id must be a whole number (got '" + safe(s) + "')");
        }
        if (Math.abs((double) x) < 0x1p53) {
          throw ApiException.badRequest("id " + x + " must be a JSON number (" + x + "), not a string: strings are"
              + " for ids of magnitude 2^53 and more only, which a JSON number cannot hold exactly");
        }
        return x;
      }
      case null -> throw ApiException.badRequest("id must be the number of an indexed image (got null)");
      default -> throw ApiException.badRequest("id must be the number of an indexed image (got "
          + safe(jsonText(value)) + ")");
    }
  }

  /**
   * The options from query-string values (strings) and JSON fields (numbers; mode a string); an
   * option left out takes its default, one given without a value ({@code k=}) is refused.
   */
  SearchRequest.Options options(Map<String, Object> v) {
    ServeConfig l = context.limits();
    for (Map.Entry<String, Object> e : v.entrySet()) {
      if (e.getValue() instanceof String s && s.isBlank()) {
        throw ApiException.badRequest(e.getKey() + " has no value: give " + (e.getKey().equals("mode") ? "hds or bcs"
            : "a whole number") + ", or leave " + e.getKey() + " out for the default");
      }
    }
    Object m = v.get("mode");
    String mode = m == null
        ? (context.dim() > 0 ? "hds" : "bcs")
        : m instanceof String s ? s.strip().toLowerCase(Locale.ROOT) : String.valueOf(m);
    SearchService.Mode parsed = switch (mode) {
      case "hds" -> SearchService.Mode.HDS;
      case "bcs" -> SearchService.Mode.BCS;
      default -> throw ApiException.badRequest("mode is hds (Hamming pool re-ranked by Euclidean distance) or bcs"
          + " (codes only), not '" + safe(mode) + "'");
    };
    if (parsed == SearchService.Mode.HDS && context.dim() == 0) {
      throw ApiException.badRequest("this index stores no features, so it cannot re-rank: use mode bcs");
    }
    int k = (int) integer("k", v.get("k"), 1, l.maxK(), 10);
    int pool = (int) integer("pool", v.get("pool"), k, l.maxPool(), Math.min(l.maxPool(), Math.max(100, k)));
    int radius = (int) integer("radius", v.get("radius"), -1, context.bits(), -1);
    int cap = (int) integer("cap", v.get("cap"), 1, l.maxPool(), Math.min(l.maxPool(), 1000));
    return new SearchRequest.Options(parsed, k, pool, radius, cap);
  }

  /**
   * A whole number in [min, max] from a query-string string or a JSON number; absent (null) is
   * {@code dflt}. A JSON number must be integral and exact in a double (|x| below 2^53).
   */
  static long integer(String key, Object value, long min, long max, long dflt) {
    long x;
    switch (value) {
      case null -> {
        return dflt;
      }
      case String s -> {
        try {
          x = Long.parseLong(s.strip());
        } catch (NumberFormatException e) {
          throw ApiException.badRequest(key + " must be a whole number (got '" + safe(s) + "')");
        }
      }
      case Double d -> {
        if (d != Math.rint(d) || Math.abs(d) >= 0x1p53) {
          throw ApiException.badRequest(key + " must be a whole number" + (Math.abs(d) >= 0x1p53 && d == Math.rint(d)
              ? " below 2^53 as a JSON number (pass larger ones as a string)" : "") + " (got " + d + ")");
        }
        x = d.longValue();
      }
      case List<?> a -> throw ApiException.badRequest(key + " must be a number, not an array");
      case Map<?, ?> o -> throw ApiException.badRequest(key + " must be a number, not an object");
      default -> throw ApiException.badRequest(key + " must be a whole number (got " + safe(String.valueOf(value))
          + ")");
    }
    if (x < min || x > max) {
      throw ApiException.badRequest(key + " must be in [" + min + ", " + max + "] (got " + x + ")");
    }
    return x;
  }

  static byte[] hex(String s, int bytes) {
    if (s.length() != bytes * 2) {
      throw ApiException.badRequest("code must be " + bytes * 2 + " hex digits (" + bytes * 8 + " bits, byte 0 first,"
          + " bit i of a code in bit i%8 of byte i/8); got " + s.length() + " characters");
    }
    byte[] out = new byte[bytes];
    for (int i = 0; i < bytes; i++) {
      int hi = Character.digit(s.charAt(2 * i), 16);
      int lo = Character.digit(s.charAt(2 * i + 1), 16);
      if (hi < 0 || lo < 0) {
        throw ApiException.badRequest("code must be hex digits (0-9, a-f); found '" + safe(s.substring(2 * i, 2 * i + 2))
            + "'");
      }
      out[i] = (byte) (hi << 4 | lo);
    }
    return out;
  }

  static float[] floats(List<?> l, int dim) {
    if (l.size() != dim) {
      throw ApiException.badRequest("feature must have " + dim + " numbers (got " + l.size() + ")");
    }
    float[] f = new float[dim];
    for (int i = 0; i < dim; i++) {
      if (!(l.get(i) instanceof Double d) || !Double.isFinite(d) || !Float.isFinite((float) (double) d)) {
        throw ApiException.badRequest("feature[" + i + "] is not a finite number");
      }
      f[i] = (float) (double) d;
    }
    return f;
  }

  /**
   * The id in {@code GET /images/{id}}: digits only, after an optional minus sign (ids are 64-bit
   * and may be negative), so no path trick reaches the file system.
   */
  static long imageId(String raw) {
    String digits = raw.startsWith("-") ? raw.substring(1) : raw;
    if (digits.isEmpty() || digits.length() > 19 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
      throw ApiException.badRequest("an image is addressed by its numeric id: /images/{id}");
    }
    try {
      return Long.parseLong(raw);
    } catch (NumberFormatException e) {
      throw ApiException.badRequest("an image id is a 64-bit number, in [" + Long.MIN_VALUE + ", " + Long.MAX_VALUE
          + "] (got " + raw + ")");
    }
  }

  /**
   * The size asked of {@code GET /thumbs/{id}}: {@code size=160} (the default) or {@code size=480};
   * 400 for anything else.
   */
  static int thumbnailSize(String query) {
    if (query == null || query.isEmpty()) {
      return Thumbnails.DEFAULT_SIZE;
    }
    int size = Thumbnails.DEFAULT_SIZE;
    for (String part : query.split("&")) {
      if (part.startsWith("size=")) {
        String v = part.substring(5);
        size = v.matches("\\d{1,4}") ? Integer.parseInt(v) : -1;
      }
    }
    if (!Thumbnails.supported(size)) {
      throw ApiException.badRequest("a thumbnail's size is 160 (the default) or 480 pixels: ?size=160 or ?size=480");
    }
    return size;
  }

  /** The media type of a Content-Type header, lower case, without parameters; "" when absent. */
  static String mediaType(String header) {
    if (header == null) {
      return "";
    }
    int semi = header.indexOf(';');
    return (semi < 0 ? header : header.substring(0, semi)).strip().toLowerCase(Locale.ROOT);
  }

  /** A raw query string's parameters, percent-decoded; a repeated one is refused. */
  static Map<String, String> queryParams(String raw) {
    Map<String, String> p = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return p;
    }
    for (String kv : raw.split("&")) {
      if (kv.isEmpty()) {
        continue;
      }
      int eq = kv.indexOf('=');
      String k;
      String v;
      try {
        k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
        v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        throw ApiException.badRequest("malformed query string: " + safe(e.getMessage()));
      }
      if (p.put(k, v) != null) {
        throw ApiException.badRequest("parameter '" + safe(k) + "' is given twice");
      }
    }
    return p;
  }

  /** A JSON value as the client wrote it (near enough: numbers as JSON prints them). */
  private static String jsonText(Object value) {
    StringBuilder sb = new StringBuilder();
    Json.write(sb, value);
    return sb.toString();
  }

  /** Echoes a piece of the request in a message, shortened and without control characters. */
  static String safe(String s) {
    String t = s.length() > 80 ? s.substring(0, 80) + "..." : s;
    return t.replaceAll("\\p{Cntrl}", "?");
  }
}
