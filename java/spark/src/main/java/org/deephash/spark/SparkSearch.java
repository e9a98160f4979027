package org.deephash.spark;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaPairRDD;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.resource.ResourceInformation;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.util.CollectionAccumulator;
import org.deephash.Backends;
import org.deephash.CodeTable;
import org.deephash.GpuHashSearch;
import org.deephash.SearchResult;
import org.deephash.spi.BackendProvider;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

/**
 * Batch retrieval on Apache Spark: the engine's exact search over a collection sharded across
 * executors, with the same answer as {@link GpuHashSearch} over the whole collection on one machine.
 *
 * <p>The collection is a list of index files, one per shard ({@link org.deephash.index.IndexFile};
 * {@link ParquetTables#stage} writes them from a Parquet table). Each task searches one shard for
 * one block of queries with whatever backend its executor has; an executor maps each shard once and
 * reuses it across tasks ({@link ShardCache}). When Spark's resource scheduling assigned the task a
 * GPU, its address goes to the engine in the system property {@value #DEVICE_PROPERTY}.
 *
 * <p>Exactness. A shard sends, per query, its first L entries by (Hamming distance, id), where L is
 * k for a Hamming top-k and the pool size for coarse-to-fine. Every entry of the global first L that
 * lies in a shard is among that shard's first L, so merging the lists and keeping the first L gives
 * the global first L exactly, ties included. For coarse-to-fine the merged list IS the single-machine
 * pool (the global Hamming top-m, or the nearest cap codes within the radius); each entry carries
 * the squared Euclidean distance its shard computed, and the fine stage re-ranks the merged pool by
 * (distance, id). Re-ranking each shard's pool and merging the winners would not be exact: a code in
 * a shard's top-m can be outside the global top-m, and would then wrongly compete.
 *
 * <pre>{@code
 * SearchJob job = SparkSearch.run(spark, List.of("shard-0.dh", "shard-1.dh"), queries,
 *     SearchSpec.coarseToFine(Pool.topM(1000), 10), JobOptions.defaults());
 * job.results().write().parquet("out.parquet");
 * }</pre>
 */
public final class SparkSearch {
  /**
   * The system property through which a task hands its Spark-assigned GPU address (e.g. {@code "0"})
   * to the engine: set while the shard's search is opened on the executor, for the CUDA backend to
   * pick the device. CPU backends ignore it.
   */
  public static final String DEVICE_PROPERTY = "engine.cuda.device";

  /**
   * The output: one row per result, {@code rank} from 0 within each query. {@code distance} is the
   * squared Euclidean distance (as the engine reports it) for coarse-to-fine jobs, null for
   * Hamming top-k jobs.
   */
  public static final StructType RESULT_SCHEMA = new StructType(new StructField[] {
      DataTypes.createStructField("query_id", DataTypes.LongType, false),
      DataTypes.createStructField("rank", DataTypes.IntegerType, false),
      DataTypes.createStructField("id", DataTypes.LongType, false),
      DataTypes.createStructField("hamming", DataTypes.IntegerType, false),
      DataTypes.createStructField("distance", DataTypes.FloatType, true)});

  /**
   * The logger of the one line each executor writes when it first searches: backend, device, the
   * GPU address Spark gave the task, and why CUDA was skipped. Through SLF4J, i.e. Spark's own
   * logging, so the line lands in the executor's log (stderr under the worker's work directory on
   * standalone) with Spark's format, one line.
   */
  public static final String EXECUTOR_LOG = "org.deephash.spark.executor";

  private static final Logger EXECUTOR_LOGGER = LoggerFactory.getLogger(EXECUTOR_LOG);
  /** (backend, device) pairs this JVM has logged: one line per executor, unless its backend changes. */
  private static final Set<String> LOGGED = ConcurrentHashMap.newKeySet();

  private SparkSearch() {}

  /**
   * A job over queries held by the driver: broadcast when they fit {@link
   * JobOptions#broadcastLimitBytes()}, else cut into blocks and distributed.
   */
  public static SearchJob run(SparkSession spark, List<String> shards, QuerySet queries, SearchSpec spec,
      JobOptions options) {
    check(spark, shards, spec, options);
    if (queries == null) {
      throw new IllegalArgumentException("queries must not be null");
    }
    checkQueries(queries.hasFeatures(), spec);
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    List<QuerySet> blocks = queries.blocks(options.queryBlock());
    if (queries.byteSize() <= options.broadcastLimitBytes()) {
      return broadcastJob(spark, jsc, shards, blocks, spec, options);
    }
    JavaRDD<QuerySet> rdd = jsc.parallelize(blocks, Math.max(1, blocks.size()));
    return distributedJob(spark, jsc, shards, rdd, spec, options);
  }

  /**
   * A job over a query table with columns {@code id} (long), {@code code} (binary) and, for
   * coarse-to-fine, {@code feature} (array of float): collected and broadcast when it fits {@link
   * JobOptions#broadcastLimitBytes()}, else read in place, cut into blocks and paired with every shard.
   */
  public static SearchJob run(SparkSession spark, List<String> shards, Dataset<Row> queries, SearchSpec spec,
      JobOptions options) {
    check(spark, shards, spec, options);
    ParquetTables.Columns cols = ParquetTables.columns(queries, "queries");
    checkQueries(cols.feature() >= 0, spec);
    Dataset<Row> q = queries.select(cols.selection(spec.isCoarseToFine()));
    long count = q.count();
    Row first = count == 0 ? null : q.head();
    long rowBytes = first == null ? 0 : 8L + ((byte[]) first.get(1)).length
        + (spec.isCoarseToFine() ? 4L * first.getList(2).size() : 0);
    if (count * rowBytes <= options.broadcastLimitBytes()) {
      return run(spark, shards, ParquetTables.collect(q, spec.isCoarseToFine()), spec, options);
    }
    JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
    boolean withFeatures = spec.isCoarseToFine();
    int block = options.queryBlock();
    JavaRDD<QuerySet> rdd = q.toJavaRDD().mapPartitions(rows -> ParquetTables.blocks(rows, withFeatures, block));
    return distributedJob(spark, jsc, shards, rdd, spec, options);
  }

  private static void check(SparkSession spark, List<String> shards, SearchSpec spec, JobOptions options) {
    if (spark == null || spec == null || options == null) {
      throw new IllegalArgumentException("spark, spec and options must not be null");
    }
    if (shards == null || shards.isEmpty()) {
      throw new IllegalArgumentException("no shards: pass at least one index file");
    }
    rejectGpuInLocalMode(spark.sparkContext().getConf());
  }

  private static void checkQueries(boolean hasFeatures, SearchSpec spec) {
    if (spec.isCoarseToFine() && !hasFeatures) {
      throw new IllegalArgumentException("a coarse-to-fine search needs query features (a 'feature' column of"
          + " array<float>); use SearchSpec.hamming(k) for codes only");
    }
  }

  /**
   * Throws when the configuration requests GPUs for tasks or executors under a {@code local} master:
   * Spark's local scheduler never offers such resources, so the job would wait forever.
   */
  public static void rejectGpuInLocalMode(SparkConf conf) {
    String master = conf.get("spark.master", "");
    if (!isLocalMaster(master)) {
      return;
    }
    for (String key : new String[] {"spark.task.resource.gpu.amount", "spark.executor.resource.gpu.amount"}) {
      String v = conf.get(key, "0");
      double amount;
      try {
        amount = Double.parseDouble(v.trim());
      } catch (NumberFormatException e) {
        amount = 1;
      }
      if (amount > 0) {
        throw new IllegalArgumentException("a GPU request (" + key + "=" + v + ") cannot be scheduled with master '"
            + master + "': Spark's local mode never assigns GPUs to tasks, and the job would wait forever. Drop the"
            + " GPU settings (the engine then runs on the CPU, or on a GPU it finds itself), or submit to a cluster"
            + " (standalone, YARN, Kubernetes) whose workers have a GPU discovery script; see docs/SPARK.md.");
      }
    }
  }

  /** {@code local}, {@code local[4]}, {@code local[*,2]}: yes; {@code local-cluster[...]}: no. */
  static boolean isLocalMaster(String master) {
    String m = master.trim().toLowerCase(Locale.ROOT);
    return m.equals("local") || m.startsWith("local[");
  }

  private static SearchJob broadcastJob(SparkSession spark, JavaSparkContext jsc, List<String> shards,
      List<QuerySet> blocks, SearchSpec spec, JobOptions options) {
    Broadcast<List<QuerySet>> bc = jsc.broadcast(blocks);
    CollectionAccumulator<TaskReport> reports = spark.sparkContext().collectionAccumulator("deephash task reports");
    List<Tuple2<Integer, Integer>> units = new ArrayList<>();
    // Block-major: consecutive tasks search different shards, so an executor that runs several tasks
    // of one block in a row does not hold them all on one shard.
    for (int b = 0; b < blocks.size(); b++) {
      for (int s = 0; s < shards.size(); s++) {
        units.add(new Tuple2<>(s, b));
      }
    }
    List<String> paths = List.copyOf(shards);
    JavaPairRDD<Long, Candidates> partial = jsc.parallelize(units, Math.max(1, units.size()))
        .flatMapToPair(u -> searchShard(paths.get(u._1()), bc.value().get(u._2()), spec, options, reports));
    return finish(spark, jsc, partial, spec, options, units.size(), reports, bc, null);
  }

  private static SearchJob distributedJob(SparkSession spark, JavaSparkContext jsc, List<String> shards,
      JavaRDD<QuerySet> blocks, SearchSpec spec, JobOptions options) {
    CollectionAccumulator<TaskReport> reports = spark.sparkContext().collectionAccumulator("deephash task reports");
    // The cartesian product computes each query partition once per shard: keep the blocks.
    blocks.persist(StorageLevel.MEMORY_AND_DISK());
    JavaRDD<String> shardRdd = jsc.parallelize(List.copyOf(shards), shards.size());
    JavaPairRDD<Long, Candidates> partial = shardRdd.cartesian(blocks)
        .flatMapToPair(u -> searchShard(u._1(), u._2(), spec, options, reports));
    int tasks = shards.size() * blocks.getNumPartitions();
    return finish(spark, jsc, partial, spec, options, tasks, reports, null, blocks);
  }

  private static SearchJob finish(SparkSession spark, JavaSparkContext jsc, JavaPairRDD<Long, Candidates> partial,
      SearchSpec spec, JobOptions options, int tasks, CollectionAccumulator<TaskReport> reports,
      Broadcast<?> broadcast, JavaRDD<?> persisted) {
    int limit = spec.listLimit();
    int parts = options.mergePartitions() > 0
        ? options.mergePartitions()
        : Math.max(1, Math.min(tasks, jsc.defaultParallelism()));
    boolean fine = spec.isCoarseToFine();
    int k = spec.k();
    JavaRDD<Row> rows = partial.reduceByKey((a, b) -> Candidates.merge(a, b, limit), parts)
        .flatMap(e -> toRows(e._1(), fine ? e._2().rerankByDistance(k) : e._2()));
    Dataset<Row> df = spark.createDataFrame(rows, RESULT_SCHEMA);
    return new SearchJob(df, reports, broadcast, persisted);
  }

  private static Iterator<Row> toRows(long query, Candidates c) {
    List<Row> out = new ArrayList<>(c.size());
    for (int r = 0; r < c.size(); r++) {
      out.add(RowFactory.create(query, r, c.ids[r], c.hamming[r], c.distances == null ? null : c.distances[r]));
    }
    return out.iterator();
  }

  /** One task: one shard, one block of queries; per query, the shard's first L by (hamming, id). */
  static Iterator<Tuple2<Long, Candidates>> searchShard(String shard, QuerySet block, SearchSpec spec,
      JobOptions options, CollectionAccumulator<TaskReport> reports) {
    TaskContext tc = TaskContext.get();
    String[] gpus = gpuAddresses(tc);
    int threads = tc == null ? 0 : tc.cpus();
    String hint = gpus.length > 0 ? gpus[0] : null;
    try (ShardCache.Lease lease = ShardCache.acquire(shard, options.verify())) {
      boolean openedHere = lease.opened(); // not a global counter: concurrent tasks open other shards
      CodeTable t = lease.table();
      if (t.codeBytes() != block.codeBytes()) {
        throw new IllegalArgumentException("shard " + shard + " holds " + t.bits() + "-bit codes but the queries are "
            + block.codeBytes() * 8 + "-bit: every shard and the queries must have the same code width");
      }
      if (spec.isCoarseToFine() && (t.dim() == 0 || t.dim() != block.dim())) {
        throw new IllegalArgumentException("shard " + shard + " has " + (t.dim() == 0 ? "no features" : t.dim()
            + "-dimensional features") + " but the coarse-to-fine queries have " + block.dim()
            + "-dimensional ones: every shard needs features of the queries' dimension");
      }
      GpuHashSearch search = lease.search(spec.backend(), hint, threads);
      String backend = search.backendName();
      String executor = SparkEnv.get() == null ? "?" : SparkEnv.get().executorId();
      String host = host();
      String cudaSkipped = cudaSkipped(backend, spec.backend());
      if (LOGGED.add(backend + "|" + search.device())) {
        EXECUTOR_LOGGER.info(executorLine(executor, host, backend, search.device(), Arrays.asList(gpus), cudaSkipped));
      }
      long start = System.nanoTime();
      SearchResult r = spec.isCoarseToFine()
          ? search.coarseToFine(block.codes(), block.features(), spec.pool(), spec.listLimit())
          : search.query(block.codes(), spec.k());
      double millis = (System.nanoTime() - start) / 1e6;
      List<Tuple2<Long, Candidates>> out = new ArrayList<>(block.count());
      long[] qids = block.ids();
      for (int q = 0; q < r.queryCount(); q++) {
        if (r.count(q) == 0) {
          continue;
        }
        Candidates c = spec.isCoarseToFine()
            ? Candidates.byHamming(r.ids(q), r.hammings(q), r.distances(q))
            : new Candidates(r.ids(q), r.hammings(q), null);
        out.add(new Tuple2<>(qids[q], c));
      }
      if (reports != null) {
        reports.add(new TaskReport(shard, qids.length == 0 ? Long.MIN_VALUE : qids[0], block.count(), t.liveCount(),
            executor, host, Arrays.asList(gpus), hint, backend, search.device(), cudaSkipped, threads, openedHere,
            millis));
      }
      return out.iterator();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open shard " + shard + ": " + e.getMessage(), e);
    }
  }

  /**
   * Why the CUDA backend is not the one that searched here, or null when it is: the reasons its
   * provider gave (no driver, no device, no kernels...), or that another backend was forced, or
   * that the class path has no CUDA backend at all (the job's classes came from a jar without it).
   */
  static String cudaSkipped(String backendUsed, String forced) {
    if ("cuda".equals(backendUsed)) {
      return null;
    }
    if (forced != null && !forced.isBlank()) {
      return "not tried: backend " + forced + " was asked for";
    }
    String property = System.getProperty(Backends.PROPERTY);
    if (property == null || property.isBlank()) {
      property = System.getenv("ENGINE_BACKEND");
    }
    if (property != null && !property.isBlank()) {
      return "not tried: backend " + property.trim() + " was forced (" + Backends.PROPERTY + " or ENGINE_BACKEND)";
    }
    List<String> reasons = Backends.notChosen().get("cuda");
    if (reasons != null) {
      return String.join("; ", reasons);
    }
    for (BackendProvider p : Backends.providers()) {
      if (p.name().equals("cuda")) {
        List<String> now = p.unavailableReasons();
        return now.isEmpty() ? "not tried" : String.join("; ", now);
      }
    }
    return "no cuda backend on the class path (submit the deephash-spark submit jar, docs/SPARK.md)";
  }

  /** The executor's line about its backend (logged there; the driver prints it per executor too). */
  static String executorLine(String executor, String host, String backend, String device, List<String> gpus,
      String cudaSkipped) {
    return "deephash executor " + executor + " on " + host + ": backend " + backend + " (" + device + ")"
        + (gpus.isEmpty() ? ", no GPU from Spark" : ", GPU " + String.join(",", gpus) + " from Spark")
        + (cudaSkipped == null ? "" : "; cuda skipped: " + cudaSkipped);
  }

  private static String host() {
    SparkEnv env = SparkEnv.get();
    if (env != null && env.blockManager() != null && env.blockManager().blockManagerId() != null) {
      return env.blockManager().blockManagerId().host();
    }
    try {
      return java.net.InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      return "?";
    }
  }

  /** The "gpu" addresses Spark's resource scheduling gave this task; empty without GPU scheduling. */
  static String[] gpuAddresses(TaskContext tc) {
    if (tc == null) {
      return new String[0];
    }
    ResourceInformation gpu = tc.resourcesJMap().get("gpu");
    return gpu == null ? new String[0] : gpu.addresses();
  }
}
