package org.deephash.serve;

/**
 * What {@code engine-cli serve} listens on and the limits it enforces on every request.
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
 */
public record ServeConfig(
    String host, int port, int maxBodyBytes, int maxImageSide, long maxImagePixels, int maxK, int maxPool,
    long timeoutMs, long batchWindowMicros, int maxBatch, int maxQueued) {

  public ServeConfig {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be in [0, 65535] (passed " + port + ")");
    }
    if (maxBodyBytes < 1024 || maxImageSide < 8 || maxImagePixels < 64 || maxK < 1 || maxPool < 1 || timeoutMs < 1
        || batchWindowMicros < 0 || maxBatch < 1 || maxQueued < 1) {
      throw new IllegalArgumentException("limits must be positive (body >= 1 KiB, image side >= 8): " + this);
    }
  }

  /** Loopback, port 8080, 8 MiB bodies, images up to 4096 px a side and 16 Mpx, k <= 1000, pool <= 10,000, 10 s. */
  public static ServeConfig defaults() {
    return new ServeConfig("127.0.0.1", 8080, 8 << 20, 4096, 16L << 20, 1000, 10_000, 10_000, 1000, 256, 4096);
  }

  public ServeConfig withPort(int p) {
    return new ServeConfig(host, p, maxBodyBytes, maxImageSide, maxImagePixels, maxK, maxPool, timeoutMs,
        batchWindowMicros, maxBatch, maxQueued);
  }

  public ServeConfig withHost(String h) {
    return new ServeConfig(h, port, maxBodyBytes, maxImageSide, maxImagePixels, maxK, maxPool, timeoutMs,
        batchWindowMicros, maxBatch, maxQueued);
  }

  public ServeConfig withLimits(int body, int k, int pool, long timeout) {
    return new ServeConfig(host, port, body, maxImageSide, maxImagePixels, k, pool, timeout, batchWindowMicros,
        maxBatch, maxQueued);
  }

  public ServeConfig withImageLimits(int side, long pixels) {
    return new ServeConfig(host, port, maxBodyBytes, side, pixels, maxK, maxPool, timeoutMs, batchWindowMicros,
        maxBatch, maxQueued);
  }

  public ServeConfig withBatching(long windowMicros, int batch, int queued) {
    return new ServeConfig(host, port, maxBodyBytes, maxImageSide, maxImagePixels, maxK, maxPool, timeoutMs,
        windowMicros, batch, queued);
  }
}
