package org.deephash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The choice of the default backend: forced names, bad names, recovery. */
class BackendsTest {

  /**
   * A bad forced name is a clear error naming the choices, every time it is asked (not once, then
   * a NoClassDefFoundError), and a corrected property takes effect.
   */
  @Test
  void unknownForcedNameIsAClearErrorEveryTime() {
    String before = System.getProperty(Backends.PROPERTY);
    System.setProperty(Backends.PROPERTY, "nope");
    try {
      for (int attempt = 0; attempt < 2; attempt++) {
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class,
            () -> Backends.chooseDefault(new java.util.LinkedHashMap<>()));
        assertTrue(e.getMessage().startsWith("backend 'nope' cannot be used: no such backend (choose one of ["),
            e.getMessage());
        assertTrue(e.getMessage().contains("java") && e.getMessage().contains("scalar"), e.getMessage());
      }
      System.setProperty(Backends.PROPERTY, "scalar");
      assertEquals("scalar", Backends.chooseDefault(new java.util.LinkedHashMap<>()).name());
      System.clearProperty(Backends.PROPERTY);
      assertEquals(Backends.available().get(0).name(), Backends.chooseDefault(new java.util.LinkedHashMap<>()).name(),
          "the best available one");
    } finally {
      if (before == null) {
        System.clearProperty(Backends.PROPERTY);
      } else {
        System.setProperty(Backends.PROPERTY, before);
      }
    }
  }
}
