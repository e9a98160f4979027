package org.deephash.spark;

import java.util.List;
import org.deephash.Backends;
import org.deephash.spi.BackendProvider;
import org.deephash.spi.SearchBackend;

/**
 * A test backend, {@code device-probe}: the Java backend, plus a record of the GPU address the
 * engine was handed ({@link SparkSearch#DEVICE_PROPERTY}) when the backend was created, reported
 * through {@link SearchBackend#device()}. Lowest priority, so it is never picked automatically.
 */
public final class DeviceProbeProvider implements BackendProvider {
  static final String NAME = "device-probe";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public int priority() {
    return Integer.MIN_VALUE;
  }

  @Override
  public List<String> unavailableReasons() {
    return List.of();
  }

  @Override
  public SearchBackend create(int threads) {
    String seen = System.getProperty(SparkSearch.DEVICE_PROPERTY);
    SearchBackend java = Backends.byName("java").create(threads);
    return new SearchBackend() {
      @Override
      public String name() {
        return NAME;
      }

      @Override
      public String device() {
        return "device=" + seen;
      }

      @Override
      public org.deephash.SearchResult knn(org.deephash.spi.TableView t, org.deephash.spi.Queries q, int k) {
        return java.knn(t, q, k);
      }

      @Override
      public org.deephash.SearchResult radius(org.deephash.spi.TableView t, org.deephash.spi.Queries q, int r,
          int cap) {
        return java.radius(t, q, r, cap);
      }

      @Override
      public org.deephash.SearchResult coarseToFine(org.deephash.spi.TableView t, org.deephash.spi.Queries q,
          org.deephash.Pool pool, int k) {
        return java.coarseToFine(t, q, pool, k);
      }

      @Override
      public org.deephash.SearchResult exhaustive(org.deephash.spi.TableView t, org.deephash.spi.Queries q, int k) {
        return java.exhaustive(t, q, k);
      }

      @Override
      public void close() {
        java.close();
      }
    };
  }
}
