package org.deephash.spark;

import java.util.List;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.util.CollectionAccumulator;

/**
 * A planned {@link SparkSearch} job. {@link #results()} is lazy, as Spark datasets are: the search
 * runs when it is written or collected (each action runs it again, so write once, then read the
 * Parquet). Close the job to release the broadcast queries.
 *
 * <pre>{@code
 * try (SearchJob job = SparkSearch.run(spark, shards, queries, SearchSpec.hamming(10), JobOptions.defaults())) {
 *   job.writeParquet("results.parquet");
 *   job.taskReports().forEach(System.out::println);
 * }
 * }</pre>
 */
public final class SearchJob implements AutoCloseable {
  private final Dataset<Row> results;
  private final CollectionAccumulator<TaskReport> reports;
  private final Broadcast<?> broadcast;
  private final JavaRDD<?> persisted;

  SearchJob(Dataset<Row> results, CollectionAccumulator<TaskReport> reports, Broadcast<?> broadcast,
      JavaRDD<?> persisted) {
    this.results = results;
    this.reports = reports;
    this.broadcast = broadcast;
    this.persisted = persisted;
  }

  /** The results, schema {@link SparkSearch#RESULT_SCHEMA}. */
  public Dataset<Row> results() {
    return results;
  }

  /** Runs the job and writes the results as Parquet to {@code path}, replacing what is there. */
  public void writeParquet(String path) {
    results.write().mode(SaveMode.Overwrite).parquet(path);
  }

  /**
   * One report per completed search attempt of the actions run so far. A unit of work that Spark
   * ran again (its executor was lost after it finished, taking its shuffle output along) reports
   * once per attempt: count {@link #units()} for the work itself.
   */
  public List<TaskReport> taskReports() {
    return List.copyOf(reports.value());
  }

  /** Units of work (one shard, one block of queries) searched so far, each counted once. */
  public int units() {
    return (int) taskReports().stream().map(TaskReport::unit).distinct().count();
  }

  /** Per executor: its backend, device, GPU addresses and why CUDA was skipped there. */
  public List<ExecutorReport> executorReports() {
    return ExecutorReport.of(taskReports());
  }

  @Override
  public void close() {
    if (broadcast != null) {
      broadcast.destroy();
    }
    if (persisted != null) {
      persisted.unpersist(false);
    }
  }
}
