package org.deephash.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.List;
import org.deephash.BackendUnavailableException;
import org.deephash.Backends;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchOptions;
import org.deephash.spi.BackendProvider;
import org.junit.jupiter.api.Test;

/** Without an NVIDIA driver the engine must fall back cleanly and say why. */
class FallbackTest {

  @SuppressWarnings("restricted")
  static boolean driverHere() {
    try (Arena a = Arena.ofConfined()) {
      SymbolLookup.libraryLookup("libcuda.so.1", a);
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  @Test
  void providerIsRegisteredWithItsPriority() {
    BackendProvider p = Backends.providers().stream().filter(x -> x.name().equals("cuda")).findFirst()
        .orElseThrow(() -> new AssertionError("the cuda provider is not registered (META-INF/services)"));
    assertEquals(30, p.priority());
    assertTrue(p instanceof CudaBackendProvider);
  }

  @Test
  void noDriverMeansNotAvailableWithEveryReason() {
    assumeFalse(driverHere(), "this machine has an NVIDIA driver");
    CudaBackendProvider p = assertDoesNotThrow(CudaBackendProvider::new);
    List<String> reasons = assertDoesNotThrow(p::unavailableReasons);
    assertFalse(reasons.isEmpty());
    assertTrue(reasons.stream().anyMatch(r -> r.contains("libcuda.so.1")), "reasons must name the driver: " + reasons);
    assertTrue(Backends.available().stream().noneMatch(x -> x.name().equals("cuda")), "cuda listed as available");
    BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.byName("cuda"));
    assertEquals(reasons, e.reasons());
    assertTrue(e.getMessage().contains("libcuda.so.1"), e.getMessage());
    assertThrows(BackendUnavailableException.class, () -> p.create(1));
  }

  /** Every instance reports the same reasons, each a real sentence, and no caller can change them. */
  @Test
  void reasonsAreStableAndReadOnly() {
    List<String> first = new CudaBackendProvider().unavailableReasons();
    assertEquals(first, new CudaBackendProvider().unavailableReasons());
    assertThrows(UnsupportedOperationException.class, () -> first.add("injected"));
    assertTrue(first.stream().noneMatch(String::isBlank), first.toString());
    assertEquals(first, new CudaBackendProvider().unavailableReasons(), "unchanged after the attempt");
  }

  @Test
  void facadeWithoutCudaUsesAnotherBackend() {
    assumeFalse(driverHere(), "this machine has an NVIDIA driver");
    try (CodeTable t = CodeTable.create(64, 0, false)) {
      t.add(1L, new byte[8], null, 0);
      assertThrows(BackendUnavailableException.class, () -> GpuHashSearch.open(t, SearchOptions.defaults().withBackend("cuda")));
      // the automatic choice must not be cuda here
      assertFalse(Backends.defaultProvider().name().equals("cuda"));
      try (GpuHashSearch s = GpuHashSearch.open(t)) {
        assertEquals(1L, s.query(new byte[8], 1).id(0, 0));
      }
    }
  }

  @Test
  void missingCublasIsReported() {
    String reason = Blas.unavailableReason();
    boolean any = Blas.locate("libcublas.so.12").isPresent() || Blas.locate("libcublas.so.13").isPresent();
    assertEquals(any, reason == null, String.valueOf(reason));
    if (!any) {
      assertTrue(new CudaBackendProvider().unavailableReasons().contains(reason));
    }
  }
}
