package org.deephash.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
  @Test
  void writesAndReadsBack() {
    Json j = new Json().put("a", 1.5).put("s", "q\"\n\u0001").put("l", List.of(1, 2)).put("b", true);
    Map<String, Object> back = Json.object(j.toString());
    assertEquals(1.5, back.get("a"));
    assertEquals("q\"\n\u0001", back.get("s"));
    assertEquals(List.of(1.0, 2.0), back.get("l"));
    assertEquals(Boolean.TRUE, back.get("b"));
  }

  @Test
  void strictJsonRefusesScriptForms() {
    assertThrows(IllegalArgumentException.class, () -> Json.parse("{a:1}"));
    assertThrows(IllegalArgumentException.class, () -> Json.parse("[!0]"));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\":1} x"));
    assertTrue(e.getMessage().contains("trailing"), e.getMessage());
  }

  @Test
  void readsMinifiedScriptLiteralInPlace() {
    String js = "n.exports={modelTopology:{keras_version:\"2.2.4\",t:!0,f:!1,$k_1:[-.5,.25,1963e-20]},\"q\":null};";
    int from = js.indexOf('{');
    Json.ScriptValue v = Json.parseScriptLiteral(js, from);
    assertEquals(';', js.charAt(v.end()));
    @SuppressWarnings("unchecked")
    Map<String, Object> top = (Map<String, Object>) ((Map<String, Object>) v.value()).get("modelTopology");
    assertEquals("2.2.4", top.get("keras_version"));
    assertEquals(Boolean.TRUE, top.get("t"));
    assertEquals(Boolean.FALSE, top.get("f"));
    assertEquals(List.of(-0.5, 0.25, 1963e-20), top.get("$k_1"));
  }

  @Test
  void scriptLiteralRefusesCode() {
    String js = "x={a:function(){return 1}}";
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
        () -> Json.parseScriptLiteral(js, js.indexOf('{')));
    assertTrue(e.getMessage().contains("malformed JSON"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Json.parseScriptLiteral("{1a:2}", 0));
  }

  @Test
  void decodesEveryEscape() {
    assertEquals("\"\\/\b\f\n\r\t\u00e9\u20ac", Json.parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\""));
    assertMalformed("\"\\x\"", "invalid escape '\\x'");
    assertMalformed("\"\\u12g4\"", "malformed \\u escape");
    assertMalformed("\"\\u+123\"", "malformed \\u escape");
    assertMalformed("\"\\u12\"", "unexpected end");
    assertMalformed("[\"\\u12\",1]", "malformed \\u escape");
    assertMalformed("\"a\tb\"", "control character in string");
  }

  @Test
  void writerEscapesWhatTheReaderDecodes() {
    String all = "q\"\\/\b\f\n\r\t\u0001\u001f\u00e9";
    String written = new Json().put("s", all).toString();
    assertEquals("{\"s\":\"q\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\u00e9\"}", written);
    assertEquals(all, Json.object(written).get("s"));
    // paths with quotes and backslashes survive a round trip (the commands print them)
    String path = "C:\\runs\\\"odd\" dir\\model";
    assertEquals(path, Json.object(new Json().put("model", path).toString()).get("model"));
  }

  @Test
  void numbersFollowTheGrammar() {
    assertEquals(0.0, Json.parse("0"));
    assertEquals(-0.0, Json.parse("-0"));
    assertEquals(12.0, Json.parse("12"));
    assertEquals(-1.5, Json.parse("-1.5"));
    assertEquals(0.25, Json.parse("0.25"));
    assertEquals(1e-20, Json.parse("1E-20"));
    assertEquals(2.5e3, Json.parse("2.5e+3"));
    assertEquals(List.of(1.0, -2.0), Json.parse("[1,-2]"));
    assertMalformed("01", "leading zero in '01'");
    assertMalformed("-01", "leading zero in '-01'");
    assertMalformed("+1", "malformed number '+1'");
    assertMalformed("1.", "no digit after the point in '1.'");
    assertMalformed(".5", "malformed number '.5'");
    assertMalformed("-", "malformed number '-'");
    assertMalformed("-a", "malformed number '-'");
    assertMalformed("1e", "no digit in the exponent of '1e'");
    assertMalformed("1e+", "no digit in the exponent of '1e+'");
    assertMalformed("[1,]", "unexpected character ']'");
    assertMalformed("1.5.2", "trailing characters");
    assertMalformed("NaN", "unexpected character 'N'");
  }

  @Test
  void nestingIsCappedWithAClearError() {
    String ok = "[".repeat(Json.MAX_DEPTH) + "]".repeat(Json.MAX_DEPTH);
    Object v = Json.parse(ok);
    for (int d = 1; d < Json.MAX_DEPTH; d++) {
      v = ((List<?>) v).get(0);
    }
    assertEquals(List.of(), v);
    assertMalformed("[".repeat(Json.MAX_DEPTH + 1) + "]".repeat(Json.MAX_DEPTH + 1),
        "nested deeper than " + Json.MAX_DEPTH + " arrays and objects");
    assertMalformed("{\"a\":".repeat(Json.MAX_DEPTH + 1) + "1" + "}".repeat(Json.MAX_DEPTH + 1), "nested deeper");
    // a hostile body far deeper than the cap fails the same way, without a stack overflow
    assertMalformed("[".repeat(1_000_000), "nested deeper");
  }

  @Test
  void errorsSayWhere() {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\":tru}"));
    assertEquals("malformed JSON: unexpected character 't' at character 5", e.getMessage());
    assertMalformed("{\"a\":1,\"a\":2}", "duplicate key a");
    assertMalformed("", "unexpected end");
    assertMalformed("\"open", "expected '\"'");
  }

  private static void assertMalformed(String text, String fragment) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Json.parse(text), text);
    assertTrue(e.getMessage().startsWith("malformed JSON: ") && e.getMessage().contains(fragment),
        "parsing '" + text + "': expected '" + fragment + "' in: " + e.getMessage());
  }
}
