package org.deephash.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.deephash.Backends;
import org.deephash.Pool;
import org.deephash.SearchResult;
import org.deephash.spi.BackendProvider;
import org.deephash.spi.Queries;
import org.deephash.spi.SearchBackend;
import org.deephash.spi.TableView;

/**
 * A test backend, {@code slow-probe}, shipped to a test cluster's executors in a jar of its own
 * ({@code --jars}): the Java backend's answers, but every search first leaves a marker file
 * {@code PID-N} in the directory named by env {@value #MARKERS} (so the test sees which executor
 * JVM is searching) and then sleeps {@value #SLOW_MS} milliseconds (so a job lasts long enough to
 * lose a worker in the middle). Lowest priority: used only when asked for by name.
 */
public final class SlowProbeProvider implements BackendProvider {
  static final String NAME = "slow-probe";
  static final String MARKERS = "DEEPHASH_TEST_MARKERS";
  static final String SLOW_MS = "DEEPHASH_TEST_SLOW_MS";
  private static final AtomicInteger SEARCHES = new AtomicInteger();

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
    SearchBackend java = Backends.byName("java").create(threads);
    return new SearchBackend() {
      @Override
      public String name() {
        return NAME;
      }

      @Override
      public String device() {
        return "the java backend, slowed down";
      }

      @Override
      public SearchResult knn(TableView t, Queries q, int k) {
        pause();
        return java.knn(t, q, k);
      }

      @Override
      public SearchResult radius(TableView t, Queries q, int r, int cap) {
        pause();
        return java.radius(t, q, r, cap);
      }

      @Override
      public SearchResult coarseToFine(TableView t, Queries q, Pool pool, int k) {
        pause();
        return java.coarseToFine(t, q, pool, k);
      }

      @Override
      public SearchResult exhaustive(TableView t, Queries q, int k) {
        pause();
        return java.exhaustive(t, q, k);
      }

      @Override
      public void close() {
        java.close();
      }
    };
  }

  private static void pause() {
    String dir = System.getenv(MARKERS);
    if (dir != null) {
      try {
        Files.createFile(Path.of(dir, ProcessHandle.current().pid() + "-" + SEARCHES.incrementAndGet()));
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    try {
      Thread.sleep(Long.parseLong(System.getenv().getOrDefault(SLOW_MS, "0")));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
