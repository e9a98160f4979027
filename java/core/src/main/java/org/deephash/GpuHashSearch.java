package org.deephash;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import org.deephash.mih.MultiIndex;
import org.deephash.spi.BackendProvider;
import org.deephash.spi.Queries;
import org.deephash.spi.SearchBackend;
import org.deephash.spi.TableView;
import org.deephash.spi.TimedBackend;

/**
 * Exact search over a {@link CodeTable}: the public entry point of the engine.
 *
 * <p>It validates every argument, then delegates to a backend chosen once per JVM: CUDA where a
 * GPU and the kernels load, else the native SIMD library, else pure Java (see {@link Backends};
 * the property {@code engine.backend=java|native|cuda|scalar} forces one). Every backend returns the
 * same answer: exact Hamming distances, ties broken by ascending id.
 *
 * <p>Queries are batches: {@code queryCodes} holds Q codes of B/8 bytes each, {@code
 * queryFeatures} holds Q x d floats. Instances are thread-safe; searches see rows added or
 * deleted before they start.
 *
 * <pre>{@code
 * try (CodeTable table = CodeTable.create(64, 128, false);
 *     GpuHashSearch search = GpuHashSearch.open(table)) {
 *   table.addAll(null, codes, features, null);
 *   SearchResult knn = search.query(queryCodes, 10);                        // Hamming top-10
 *   SearchResult hds = search.coarseToFine(queryCodes, queryFeatures, Pool.topM(1000), 10);
 *   long best = hds.id(0, 0);
 * }
 * }</pre>
 */
public final class GpuHashSearch implements AutoCloseable {
  private final CodeTable table;
  private final SearchBackend backend;
  private final int threads;
  private final String methodOption;
  /** Runs exhaustive search when the backend does not (the GPU's): the best CPU backend, made on first use. */
  private SearchBackend exhaustiveBackend;
  /** Timings of the last call when it ran on {@link #exhaustiveBackend}; null after any other call. */
  private volatile Map<String, Double> fallbackTimings;

  private GpuHashSearch(CodeTable table, SearchBackend backend, int threads, String method) {
    this.table = table;
    this.backend = backend;
    this.threads = threads;
    this.methodOption = method;
  }

  /** A search over {@code table} with the JVM's default backend and every core. */
  public static GpuHashSearch open(CodeTable table) {
    return open(table, SearchOptions.defaults());
  }

  /** A search over {@code table} with the given backend and thread count. */
  public static GpuHashSearch open(CodeTable table, SearchOptions options) {
    if (table == null) {
      throw new IllegalArgumentException("table must not be null");
    }
    BackendProvider p = options.backend() == null ? Backends.defaultProvider() : Backends.byName(options.backend());
    return new GpuHashSearch(table, p.create(options.resolvedThreads()), options.resolvedThreads(), options.method());
  }

  /**
   * Calls in flight hold the read side; {@link #close()} takes the write side, so it waits for
   * them and the backend is never closed under a running search.
   */
  private final java.util.concurrent.locks.ReentrantReadWriteLock gate =
      new java.util.concurrent.locks.ReentrantReadWriteLock();
  private volatile boolean closed;
  /** Set once the backend is closed (under the write side of the gate). */
  private boolean released;

  /** The read side of {@link #gate} for one call; refuses calls once the search is closed. */
  private interface Gate extends AutoCloseable {
    @Override
    void close();
  }

  private Gate enter() {
    if (closed) {
      throw new IllegalStateException("this search is closed: open a new GpuHashSearch");
    }
    gate.readLock().lock();
    if (closed) {
      gate.readLock().unlock();
      throw new IllegalStateException("this search is closed: open a new GpuHashSearch");
    }
    return () -> gate.readLock().unlock();
  }

  /**
   * Property that chooses how the Hamming stage finds codes: {@code auto} (default: the
   * multi-index tables when the table keeps them and the cost model says they are cheaper than a
   * scan), {@code scan}, or {@code mih} (the tables always; the table must keep them).
   */
  public static final String METHOD_PROPERTY = "engine.method";
  /** Above this k, top-k scans (growing a radius to a large k costs more than it saves). */
  static final int MIH_MAX_K = 256;

  /** The method of this search: its option, else the property; the scalar oracle always scans. */
  private String method() {
    if (backend.name().equals("scalar")) {
      return "scan";
    }
    String m = methodOption != null ? methodOption
        : System.getProperty(METHOD_PROPERTY, "auto").trim().toLowerCase(java.util.Locale.ROOT);
    if (!m.equals("auto") && !m.equals("scan") && !m.equals("mih")) {
      throw new IllegalArgumentException(METHOD_PROPERTY + " must be auto, scan or mih (was '" + m + "')");
    }
    return m;
  }

  private boolean forced() {
    return method().equals("mih");
  }

  /** The multi-index tables to consider for this call, or null to scan. */
  private MultiIndex tables(CodeTable.LockedView v) {
    String m = method();
    if (m.equals("scan")) {
      return null;
    }
    if (v.multiIndex() == null && m.equals("mih")) {
      throw new IllegalStateException(METHOD_PROPERTY + "=mih but the table keeps no multi-index tables: build them"
          + " (CodeTable.buildMultiIndex, engine-cli import --mih)");
    }
    return v.multiIndex();
  }

  /** A search over {@code table} with a backend made elsewhere (tests of the facade's own logic). */
  static GpuHashSearch over(CodeTable table, SearchBackend backend, int threads) {
    return new GpuHashSearch(table, backend, threads, null);
  }

  /** The backend actually used, e.g. {@code "java"}, {@code "native"}, {@code "cuda"}. */
  public String backendName() {
    return backend.name();
  }

  /** The hardware the backend runs on, for reports. */
  public String device() {
    return backend.device();
  }

  /**
   * Where the time of the last search went (upload, scan, rerank, download...) in milliseconds,
   * for backends that measure it (CUDA); empty otherwise.
   */
  public Map<String, Double> lastTimingsMs() {
    Map<String, Double> f = fallbackTimings;
    if (f != null) {
      return f;
    }
    return backend instanceof TimedBackend timed ? timed.lastTimingsMs() : Map.of();
  }

  public CodeTable table() {
    return table;
  }

  /**
   * Exact top-k by Hamming distance for each of the Q queries, ties broken by ascending id. Each
   * list holds min(k, live rows) entries.
   */
  public SearchResult query(byte[] queryCodes, int k) {
    checkK(k);
    try (Gate g = enter(); CodeTable.LockedView v = table.view()) {
      Queries q = codes(queryArena(), v.get(), queryCodes);
      fallbackTimings = null;
      MultiIndex mih = tables(v);
      if (mih != null) {
        SearchResult r = forced() ? mih.knn(v.get(), q, k).result()
            : k <= MIH_MAX_K ? mih.tryKnn(v.get(), q, k, 1) : null;
        if (r != null) {
          return r.withMethod("mih");
        }
      }
      return backend.knn(v.get(), q, k);
    }
  }

  /**
   * Every code within Hamming distance {@code r} (0 to B) of each query, nearest first (ties by
   * id). At most {@code cap} per query; {@link SearchResult#truncated(int)} says whether the cap
   * cut a list.
   */
  public SearchResult radius(byte[] queryCodes, int r, int cap) {
    checkRadius(r);
    if (cap < 1) {
      throw new IllegalArgumentException("cap must be >= 1 (passed " + cap + ")");
    }
    try (Gate g = enter(); CodeTable.LockedView v = table.view()) {
      Queries q = codes(queryArena(), v.get(), queryCodes);
      fallbackTimings = null;
      MultiIndex mih = tables(v);
      if (mih != null && (forced() || mih.radiusCostRatio(v.get(), r) < 1)) {
        return mih.radius(v.get(), q, r, cap).withMethod("mih");
      }
      return backend.radius(v.get(), q, r, cap);
    }
  }

  /**
   * The paper's hierarchical deep search: a Hamming pool (top-m, or a radius with a cap), re-ranked
   * by squared Euclidean distance on the features; the best k are returned with both distances,
   * ranked by Euclidean distance (ties by id).
   */
  public SearchResult coarseToFine(byte[] queryCodes, float[] queryFeatures, Pool pool, int k) {
    checkK(k);
    if (pool == null) {
      throw new IllegalArgumentException("pool must not be null (Pool.topM(m) or Pool.radius(r, cap))");
    }
    if (pool.kind() == Pool.Kind.RADIUS) {
      checkRadius(pool.radius());
    }
    try (Gate g = enter(); CodeTable.LockedView v = table.view()) {
      Arena arena = queryArena();
      Queries qc = codes(arena, v.get(), queryCodes);
      Queries q = new Queries(qc.count(), qc.codes(), features(arena, v.get(), queryFeatures, qc.count()));
      fallbackTimings = null;
      MultiIndex mih = pool.kind() == Pool.Kind.RADIUS ? tables(v) : null;
      if (mih != null && (forced() || mih.radiusCostRatio(v.get(), pool.radius()) < 1)) {
        // the paper's coarse stage is a radius: the tables give the pool, the shared re-rank ranks it
        TableView t = v.get();
        MultiIndex.Pool p = mih.radiusPool(t, q, pool.radius(), pool.size());
        org.deephash.internal.Rerank rerank = new org.deephash.internal.Rerank(p.offsets(), k);
        for (int i = 0; i < q.count(); i++) {
          rerank.query(i, t, p.offsets(), p.rows(), p.hamming(),
              (query, row) -> org.deephash.internal.Rerank.scalarL2(t, q.features(), query, row));
        }
        return rerank.result().withMethod("mih");
      }
      return backend.coarseToFine(v.get(), q, pool, k);
    }
  }

  /** The paper's exhaustive search (ES): top-k by squared Euclidean distance over all features. */
  public SearchResult exhaustive(float[] queryFeatures, int k) {
    checkK(k);
    if (queryFeatures == null) {
      throw new IllegalArgumentException("queryFeatures must not be null");
    }
    try (Gate g = enter(); CodeTable.LockedView v = table.view()) {
      Arena arena = queryArena();
      int dim = requireFeatures(v.get());
      if (queryFeatures.length % dim != 0) {
        throw new IllegalArgumentException("queryFeatures must hold whole vectors of d=" + dim + " floats; got "
            + queryFeatures.length);
      }
      int count = queryFeatures.length / dim;
      Queries q = new Queries(count, MemorySegment.NULL, features(arena, v.get(), queryFeatures, count));
      if (backend.supportsExhaustive()) {
        fallbackTimings = null;
        return backend.exhaustive(v.get(), q, k);
      }
      long t0 = System.nanoTime();
      SearchResult r = exhaustiveBackend().exhaustive(v.get(), q, k);
      double ms = (System.nanoTime() - t0) / 1e6;
      fallbackTimings = Map.of("host", ms, "total", ms);
      return r;
    }
  }

  /** The backend for exhaustive search when {@link #backend} has none: the best available CPU one. */
  private synchronized SearchBackend exhaustiveBackend() {
    if (exhaustiveBackend == null) {
      for (BackendProvider p : Backends.available()) {
        if (!p.name().equals(backend.name())) {
          SearchBackend b = p.create(threads);
          if (b.supportsExhaustive()) {
            exhaustiveBackend = b;
            break;
          }
          b.close();
        }
      }
      if (exhaustiveBackend == null) {
        throw new IllegalStateException("no CPU backend for exhaustive search: the class path is incomplete");
      }
    }
    return exhaustiveBackend;
  }

  /**
   * Where a call's copies of the queries live: off-heap, readable by the backend's worker threads,
   * and freed by the GC. Closing a shared arena per call would cost a handshake with every thread,
   * which is more than a single-query search itself takes.
   */
  private static Arena queryArena() {
    return Arena.ofAuto();
  }

  private static void checkK(int k) {
    if (k < 1) {
      throw new IllegalArgumentException("k must be >= 1 (passed " + k + ")");
    }
  }

  private void checkRadius(int r) {
    if (r < 0 || r > table.bits()) {
      throw new IllegalArgumentException("radius must be in [0, " + table.bits() + "] for " + table.bits()
          + "-bit codes (passed " + r + ")");
    }
  }

  private static Queries codes(Arena arena, TableView t, byte[] queryCodes) {
    if (queryCodes == null) {
      throw new IllegalArgumentException("queryCodes must not be null");
    }
    if (queryCodes.length % t.codeBytes() != 0) {
      throw new IllegalArgumentException("queryCodes must hold whole codes of " + t.codeBytes() + " bytes (B="
          + t.bits() + "); got " + queryCodes.length + " bytes");
    }
    int count = queryCodes.length / t.codeBytes();
    MemorySegment seg = arena.allocate(queryCodes.length + (long) CodeTable.PADDING, 64);
    MemorySegment.copy(MemorySegment.ofArray(queryCodes), 0, seg, 0, queryCodes.length);
    return new Queries(count, seg, MemorySegment.NULL);
  }

  private static int requireFeatures(TableView t) {
    if (t.dim() == 0) {
      throw new IllegalArgumentException("this table has no features: Euclidean search needs a table created with d > 0");
    }
    return t.dim();
  }

  private static MemorySegment features(Arena arena, TableView t, float[] f, int count) {
    int dim = requireFeatures(t);
    if (f == null || f.length != (long) count * dim) {
      throw new IllegalArgumentException("queryFeatures must hold " + count + " x " + dim + " floats; got "
          + (f == null ? "null" : f.length));
    }
    for (int i = 0; i < f.length; i++) {
      if (!Float.isFinite(f[i])) {
        throw new IllegalArgumentException("query feature " + i + " is " + f[i] + ": features must be finite");
      }
    }
    MemorySegment seg = arena.allocate(f.length * 4L + CodeTable.PADDING, 64);
    MemorySegment.copy(f, 0, seg, JAVA_FLOAT_UNALIGNED, 0, f.length);
    return seg;
  }

  /**
   * Waits for the calls in flight, then releases the backend (and its device memory). Later calls
   * throw {@link IllegalStateException}. Idempotent. Does not close the table.
   */
  @Override
  public void close() {
    closed = true;
    gate.writeLock().lock();
    try {
      if (released) {
        return;
      }
      released = true;
      try {
        backend.close();
      } finally {
        synchronized (this) {
          if (exhaustiveBackend != null) {
            exhaustiveBackend.close();
          }
        }
      }
    } finally {
      gate.writeLock().unlock();
    }
  }
}
