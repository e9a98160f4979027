package org.deephash.spark;

import java.io.Serializable;
import org.deephash.index.IndexFile;

/**
 * How a {@link SparkSearch} job distributes its work.
 *
 * <pre>{@code
 * JobOptions o = JobOptions.defaults().withQueryBlock(2048).withBroadcastLimitBytes(64L << 20);
 * }</pre>
 *
 * @param queryBlock queries per task: a task searches one shard for one block
 * @param broadcastLimitBytes query sets up to this size are collected on the driver and broadcast
 *     (shipped once per executor); larger ones stay distributed and are paired with every shard
 *     (a cartesian product of query blocks and shards)
 * @param mergePartitions partitions of the per-query merge (and of the output); 0 picks the
 *     context's default parallelism
 * @param verify how much of each shard file an executor checks when it first opens it
 */
public record JobOptions(int queryBlock, long broadcastLimitBytes, int mergePartitions, IndexFile.Verify verify)
    implements Serializable {

  public static final int DEFAULT_QUERY_BLOCK = 4096;
  public static final long DEFAULT_BROADCAST_LIMIT = 256L << 20;

  public JobOptions {
    if (queryBlock < 1) {
      throw new IllegalArgumentException("queryBlock must be >= 1 (passed " + queryBlock + ")");
    }
    if (broadcastLimitBytes < 0) {
      throw new IllegalArgumentException("broadcastLimitBytes must be >= 0 (passed " + broadcastLimitBytes + ")");
    }
    if (mergePartitions < 0) {
      throw new IllegalArgumentException("mergePartitions must be >= 0, 0 for the default (passed "
          + mergePartitions + ")");
    }
    if (verify == null) {
      throw new IllegalArgumentException("verify must not be null");
    }
  }

  public static JobOptions defaults() {
    return new JobOptions(DEFAULT_QUERY_BLOCK, DEFAULT_BROADCAST_LIMIT, 0, IndexFile.Verify.FULL);
  }

  public JobOptions withQueryBlock(int n) {
    return new JobOptions(n, broadcastLimitBytes, mergePartitions, verify);
  }

  public JobOptions withBroadcastLimitBytes(long bytes) {
    return new JobOptions(queryBlock, bytes, mergePartitions, verify);
  }

  public JobOptions withMergePartitions(int n) {
    return new JobOptions(queryBlock, broadcastLimitBytes, n, verify);
  }

  public JobOptions withVerify(IndexFile.Verify v) {
    return new JobOptions(queryBlock, broadcastLimitBytes, mergePartitions, v);
  }
}
