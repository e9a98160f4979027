package org.deephash.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.util.ArrayList;
import java.util.List;
import org.deephash.BackendUnavailableException;
import org.deephash.spi.BackendProvider;
import org.deephash.spi.SearchBackend;

/**
 * The {@code cuda} backend (priority 30: above native 20 and java 10). It is available when the
 * NVIDIA driver (libcuda.so.1) and a device are present, the jar carries kernels for the device
 * and they load, and cuBLAS can be bound; otherwise {@link #unavailableReasons()} lists every
 * reason and nothing is thrown. The probe runs once per JVM, on first use.
 */
public final class CudaBackendProvider implements BackendProvider {
  /**
   * The GPU ordinal to use (default 0). Spark jobs set it from the task's assigned GPU address
   * (TaskContext resources), so each task searches on its own device.
   */
  public static final String DEVICE_PROPERTY = "engine.cuda.device";

  static int deviceOrdinal() {
    return Integer.getInteger(DEVICE_PROPERTY, 0);
  }


  @Override
  public String name() {
    return "cuda";
  }

  @Override
  public int priority() {
    return 30;
  }

  @Override
  public List<String> unavailableReasons() {
    return Probe.REASONS;
  }

  @Override
  public SearchBackend create(int threads) {
    List<String> reasons = unavailableReasons();
    if (!reasons.isEmpty()) {
      throw new BackendUnavailableException(name(), reasons);
    }
    return new CudaBackend();
  }

  /** Every reason the backend cannot run here, computed once. */
  static final class Probe {
    static final List<String> REASONS = probe();

    private Probe() {}

    static List<String> probe() {
      List<String> reasons = new ArrayList<>();
      boolean kernels = !KernelImages.list().isEmpty();
      if (!kernels) {
        reasons.add(KernelImages.MISSING);
      }
      if (!loadable("libcuda.so.1")) {
        reasons.add("no libcuda.so.1: the NVIDIA driver is not installed or not on the loader path (no GPU here?)");
      } else if (kernels) {
        // driver present: open the device and load the module exactly as the backend will
        try {
          new CudaDevice(deviceOrdinal()).close();
        } catch (LinkageError e) {
          reasons.add("the JCuda driver binding failed to load (" + e.getMessage() + ")");
        } catch (CudaException e) {
          reasons.add(e.code() == 100 ? "no CUDA device (" + e.getMessage() + ")"
              : e.getMessage().startsWith("cuModule") ? "kernel module failed to load: " + e.getMessage()
              : "CUDA initialisation failed: " + e.getMessage());
        } catch (RuntimeException e) {
          reasons.add(String.valueOf(e.getMessage()));
        }
      } else {
        try {
          jcuda.driver.JCudaDriver.cuInit(0);
        } catch (LinkageError e) {
          reasons.add("the JCuda driver binding failed to load (" + e.getMessage() + ")");
        }
      }
      String blas = Blas.unavailableReason();
      if (blas != null) {
        reasons.add(blas);
      }
      return List.copyOf(reasons);
    }

    @SuppressWarnings("restricted") // opening a library to see whether it exists; no call is made
    private static boolean loadable(String soname) {
      try (Arena a = Arena.ofConfined()) {
        SymbolLookup.libraryLookup(soname, a);
        return true;
      } catch (IllegalArgumentException | IllegalCallerException e) {
        return false;
      }
    }
  }
}
