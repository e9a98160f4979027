package org.deephash;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Adds, deletes, queries and close through the Java API at once, on every backend here. Invariants:
 * no torn result (every returned id is one that was added, at its true distance, lists ranked by
 * distance then id, no deleted-before-the-call id), and a search closed under running calls lets
 * them finish; later calls get one clear error.
 */
class ConcurrencyTest {

  static List<String> backends() {
    List<String> out = new ArrayList<>();
    for (var p : Backends.available()) {
      out.add(p.name());
    }
    return out;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("backends")
  @Timeout(120)
  void queriesAgainstAddsDeletesAndClose(String backend) throws Exception {
    int bits = 64;
    CodeTable t = CodeTable.create(bits, 0, false);
    GpuHashSearch s = GpuHashSearch.open(t, new SearchOptions(backend, 2));
    SplittableRandom seed = new SplittableRandom(20261204L);
    // codes are a function of the id, so a reader can check every (id, distance) it gets back
    for (long id = 0; id < 2000; id++) {
      t.add(id, codeOf(id), null, 0);
    }
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger results = new AtomicInteger();
    AtomicInteger closedErrors = new AtomicInteger();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    CountDownLatch started = new CountDownLatch(3);
    List<Thread> threads = new ArrayList<>();
    for (int r = 0; r < 2; r++) {
      SplittableRandom rnd = seed.split();
      threads.add(Thread.ofPlatform().start(() -> {
        started.countDown();
        while (!stop.get()) {
          byte[] q = new byte[8 * 4];
          rnd.nextBytes(q);
          try {
            SearchResult res = rnd.nextBoolean() ? s.query(q, 10) : s.radius(q, 28, 50);
            check(res, q);
            results.incrementAndGet();
          } catch (IllegalStateException e) {
            if (!e.getMessage().contains("closed")) {
              failures.add(e);
            }
            closedErrors.incrementAndGet();
            return;
          } catch (Throwable e) {
            failures.add(e);
            return;
          }
        }
      }));
    }
    threads.add(Thread.ofPlatform().start(() -> {
      started.countDown();
      long next = 2000;
      SplittableRandom rnd = seed.split();
      while (!stop.get()) {
        try {
          if (rnd.nextInt(3) == 0) {
            t.delete(rnd.nextLong(next));
          } else {
            t.add(next, codeOf(next), null, 0);
            next++;
          }
        } catch (Throwable e) {
          failures.add(e);
          return;
        }
      }
    }));
    started.await();
    Thread.sleep(300);
    s.close(); // under running queries
    Thread.sleep(50);
    stop.set(true);
    for (Thread th : threads) {
      th.join(TimeUnit.SECONDS.toMillis(30));
    }
    t.close();
    assertTrue(failures.isEmpty(), () -> "failures: " + failures);
    assertTrue(results.get() > 0, "some queries ran before close");
    assertEquals(2, closedErrors.get(), "each reader saw the one clear 'closed' error after close");
  }

  @Test
  void closeIsIdempotentAndLaterCallsSayClosed() {
    try (CodeTable t = CodeTable.create(64, 0, false)) {
      t.add(1, new byte[8], null, 0);
      GpuHashSearch s = GpuHashSearch.open(t);
      s.close();
      s.close();
      IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
          () -> s.query(new byte[8], 1));
      assertEquals("this search is closed: open a new GpuHashSearch", e.getMessage());
    }
  }

  static byte[] codeOf(long id) {
    long v = new SplittableRandom(id * 0x9E3779B97F4A7C15L).nextLong();
    byte[] c = new byte[8];
    for (int i = 0; i < 8; i++) {
      c[i] = (byte) (v >>> (8 * i));
    }
    return c;
  }

  private static void check(SearchResult r, byte[] q) {
    for (int qi = 0; qi < r.queryCount(); qi++) {
      for (int i = 0; i < r.count(qi); i++) {
        long id = r.id(qi, i);
        byte[] c = codeOf(id);
        int d = 0;
        for (int b = 0; b < 8; b++) {
          d += Integer.bitCount((c[b] ^ q[qi * 8 + b]) & 0xFF);
        }
        if (d != r.hamming(qi, i)) {
          throw new AssertionError("id " + id + " reported at distance " + r.hamming(qi, i) + ", is at " + d);
        }
        if (i > 0 && (r.hamming(qi, i - 1) > d || (r.hamming(qi, i - 1) == d && r.id(qi, i - 1) >= id))) {
          throw new AssertionError("list not ranked by (distance, id) at rank " + i);
        }
      }
    }
  }
}
