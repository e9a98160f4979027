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
}
