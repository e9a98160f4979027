package org.deephash.spark;

import java.io.Serializable;
import java.util.List;

/**
 * What one search task did: which shard and query block, on which executor, with which GPU
 * addresses Spark assigned it, and which engine backend actually ran. Collected by {@link
 * SearchJob#taskReports()} after the job ran (a retried task may report twice).
 *
 * @param shard the shard's path
 * @param queries queries searched
 * @param rows live rows of the shard
 * @param executorId Spark's executor id ({@code driver} in local mode)
 * @param gpuAddresses the "gpu" addresses of the task's resources (empty without GPU scheduling)
 * @param deviceHint the value handed to the engine in {@value SparkSearch#DEVICE_PROPERTY}, or null
 * @param backend the backend that searched ({@code cuda}, {@code native}, {@code java})
 * @param device the hardware the backend reports
 * @param threads CPU threads the task gave the engine (spark.task.cpus)
 * @param shardOpenedHere whether this task opened (mapped) the shard, false when it reused it
 * @param millis time spent in the engine
 */
public record TaskReport(
    String shard,
    int queries,
    int rows,
    String executorId,
    List<String> gpuAddresses,
    String deviceHint,
    String backend,
    String device,
    int threads,
    boolean shardOpenedHere,
    double millis) implements Serializable {}
