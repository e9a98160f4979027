package org.deephash.spark;

import java.io.Serializable;
import java.util.List;

/**
 * What one search task did: which shard and query block (the unit of work), on which executor, with
 * which GPU addresses Spark assigned it, and which engine backend actually ran. Collected by {@link
 * SearchJob#taskReports()} after the job ran: one per completed attempt, so a unit that Spark ran
 * again (its executor was lost after it finished, and its shuffle output with it) reports twice;
 * {@link SearchJob#units()} counts each unit once.
 *
 * @param shard the shard's path
 * @param firstQueryId the id of the block's first query: with the shard, it names the unit of work
 *     (query ids are unique)
 * @param queries queries searched
 * @param rows live rows of the shard
 * @param executorId Spark's executor id ({@code driver} in local mode)
 * @param host the executor's host
 * @param gpuAddresses the "gpu" addresses of the task's resources (empty without GPU scheduling)
 * @param deviceHint the value handed to the engine in {@value SparkSearch#DEVICE_PROPERTY}, or null
 * @param backend the backend that searched ({@code cuda}, {@code native}, {@code java})
 * @param device the hardware the backend reports
 * @param cudaSkipped why the CUDA backend did not search (null when it did)
 * @param threads CPU threads the task gave the engine (spark.task.cpus)
 * @param shardOpenedHere whether this task opened (mapped) the shard, false when it reused it
 * @param millis time spent in the engine
 */
public record TaskReport(
    String shard,
    long firstQueryId,
    int queries,
    int rows,
    String executorId,
    String host,
    List<String> gpuAddresses,
    String deviceHint,
    String backend,
    String device,
    String cudaSkipped,
    int threads,
    boolean shardOpenedHere,
    double millis) implements Serializable {

  /** The unit of work: one shard and one block of queries. */
  public String unit() {
    return shard + "#" + firstQueryId + "+" + queries;
  }
}
