package org.deephash.serve;

/**
 * What {@code engine-cli serve} listens on and the limits it enforces on every request and
 * connection (docs/SERVE.md, "Limits and bad input").
 *
 * @param host the address to bind (default loopback: the service is reachable from other machines
 *     only when told so)
 * @param port the TCP port (0 = any free port)
 * @param maxBodyBytes largest request body (an upload or a JSON query)
 * @param maxImageSide largest width or height of an uploaded image, read from its header before
 *     decoding
 * @param maxImagePixels largest width x height of an uploaded image
 * @param maxK largest k
 * @param maxPool largest re-rank pool (top-m) and largest radius cap
 * @param timeoutMs a request still unanswered after this long gets 503
 * @param batchWindowMicros how long the batcher waits for more queries after the first of a batch
 * @param maxBatch most queries the batcher hands the engine at once
 * @param maxQueued most queries waiting for the batcher; more get 503 (server busy)
 * @param idleTimeoutMs a connection on which no byte moves for this long is closed (a stalled
 *     upload, a stalled reader of the answer, an idle keep-alive connection)
 * @param requestTimeoutMs the whole request (header and body) must arrive within this long; a body
 *     still incomplete then gets 408 and the connection is closed, however slowly it trickles
 * @param maxConnections most connections open at once; further clients wait in the accept queue
 *     until one closes (while at the cap, idle connections are closed sooner)
 * @param decodeBudgetBytes most bytes of decoded pixels (uploads being decoded, all requests
 *     together); an upload that does not fit gets 503 with Retry-After
 * @param reloadCheckMs how often the index file is checked for a replacement (0: never)
 * @param thumbCacheBytes the most the photo thumbnail cache keeps on disk (least recently used ones go)
 */
public record ServeConfig(
    String host, int port, int maxBodyBytes, int maxImageSide, long maxImagePixels, int maxK, int maxPool,
    long timeoutMs, long batchWindowMicros, int maxBatch, int maxQueued, long idleTimeoutMs, long requestTimeoutMs,
    int maxConnections, long decodeBudgetBytes, long reloadCheckMs, long thumbCacheBytes) {

  public ServeConfig {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be in [0, 65535] (passed " + port + ")");
    }
    if (maxBodyBytes < 1024 || maxImageSide < 8 || maxImagePixels < 64 || maxK < 1 || maxPool < 1 || timeoutMs < 1
        || batchWindowMicros < 0 || maxBatch < 1 || maxQueued < 1) {
      throw new IllegalArgumentException("limits must be positive (body >= 1 KiB, image side >= 8): " + this);
    }
    if (idleTimeoutMs < 1 || requestTimeoutMs < 1 || maxConnections < 1 || decodeBudgetBytes < (64 << 10)
        || reloadCheckMs < 0 || thumbCacheBytes < (1 << 20)) {
      throw new IllegalArgumentException("idle and request timeouts and the connection cap must be positive, the"
          + " decode budget at least 64 KiB, the reload check 0 (off) or more and the thumbnail cache at least 1 MiB: " + this);
    }
  }

  /**
   * Loopback, port 8080, 8 MiB bodies, images up to 4096 px a side and 16 Mpx, k <= 1000, pool <=
   * 10,000, 10 s per query; connections idle 10 s, a request within 30 s, 512 connections; 256 MiB
   * of decoded pixels; the index file checked every second.
   */
  public static ServeConfig defaults() {
    return new ServeConfig("127.0.0.1", 8080, 8 << 20, 4096, 16L << 20, 1000, 10_000, 10_000, 1000, 256, 4096, 10_000,
        30_000, 512, 256L << 20, 1000, Thumbnails.DEFAULT_MAX_BYTES);
  }

  public ServeConfig withPort(int p) {
    return new ServeConfig(host, p, maxBodyBytes, maxImageSide, maxImagePixels, maxK, maxPool, timeoutMs,
        batchWindowMicros, maxBatch, maxQueued, idleTimeoutMs, requestTimeoutMs, maxConnections, decodeBudgetBytes,
        reloadCheckMs, thumbCacheBytes);
  }

  public ServeConfig withHost(String h) {
    return new ServeConfig(h, port, maxBodyBytes, maxImageSide, maxImagePixels, maxK, maxPool, timeoutMs,
        batchWindowMicros, maxBatch, maxQueued, idleTimeoutMs, requestTimeoutMs, maxConnections, decodeBudgetBytes,
        reloadCheckMs, thumbCacheBytes);
  }

  public ServeConfig withLimits(int body, int k, int pool, long timeout) {
    return new ServeConfig(host, port, body, maxImageSide, maxImagePixels, k, pool, timeout, batchWindowMicros,
        maxBatch, maxQueued, idleTimeoutMs, requestTimeoutMs, maxConnections, decodeBudgetBytes, reloadCheckMs, thumbCacheBytes);
  }

  public ServeConfig withImageLimits(int side, long pixels) {
    return new ServeConfig(host, port, maxBodyBytes, side, pixels, maxK, maxPool, timeoutMs, batchWindowMicros,
        maxBatch, maxQueued, idleTimeoutMs, requestTimeoutMs, maxConnections, decodeBudgetBytes, reloadCheckMs, thumbCacheBytes);
  }

  public ServeConfig withBatching(long windowMicros, int batch, int queued) {
    return new ServeConfig(host, port, maxBodyBytes, maxImageSide, maxImagePixels, maxK, maxPool, timeoutMs,
        windowMicros, batch, queued, idleTimeoutMs, requestTimeoutMs, maxConnections, decodeBudgetBytes,
        reloadCheckMs, thumbCacheBytes);
  }

  /** Connection limits: idle and whole-request timeouts, and the most connections open at once. */
  public ServeConfig withConnections(long idleMs, long requestMs, int connections) {
    return new ServeConfig(host, port, maxBodyBytes, maxImageSide, maxImagePixels, maxK, maxPool, timeoutMs,
        batchWindowMicros, maxBatch, maxQueued, idleMs, requestMs, connections, decodeBudgetBytes, reloadCheckMs, thumbCacheBytes);
  }

  public ServeConfig withDecodeBudget(long bytes) {
    return new ServeConfig(host, port, maxBodyBytes, maxImageSide, maxImagePixels, maxK, maxPool, timeoutMs,
        batchWindowMicros, maxBatch, maxQueued, idleTimeoutMs, requestTimeoutMs, maxConnections, bytes,
        reloadCheckMs, thumbCacheBytes);
  }

  /** The most the photo thumbnail cache holds on disk (least recently used ones are deleted). */
  public ServeConfig withThumbCache(long bytes) {
    return new ServeConfig(host, port, maxBodyBytes, maxImageSide, maxImagePixels, maxK, maxPool, timeoutMs,
        batchWindowMicros, maxBatch, maxQueued, idleTimeoutMs, requestTimeoutMs, maxConnections, decodeBudgetBytes,
        reloadCheckMs, bytes);
  }

  /** How often the index file is checked for a replacement; 0 turns reloading off. */
  public ServeConfig withReloadCheck(long ms) {
    return new ServeConfig(host, port, maxBodyBytes, maxImageSide, maxImagePixels, maxK, maxPool, timeoutMs,
        batchWindowMicros, maxBatch, maxQueued, idleTimeoutMs, requestTimeoutMs, maxConnections, decodeBudgetBytes,
        ms, thumbCacheBytes);
  }
}
