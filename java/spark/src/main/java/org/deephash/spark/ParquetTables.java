package org.deephash.spark;

import static org.apache.spark.sql.functions.col;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.deephash.CodeTable;
import org.deephash.index.IndexFile;

/**
 * Code tables as Spark tables (Parquet, or any Dataset): columns {@code id} (long), {@code code}
 * (binary, B/8 bytes, the engine's packing) and optionally {@code feature} (array of float, d
 * values). {@link #stage} turns such a table into index files, one per shard, that {@link
 * SparkSearch} maps on the executors; query tables use the same columns.
 *
 * <pre>{@code
 * List<String> shards = ParquetTables.stage(spark, spark.read().parquet("codes.parquet"), 16, "/shared/shards");
 * }</pre>
 */
public final class ParquetTables {
  private static final int CHUNK = 65536;

  private ParquetTables() {}

  /** Positions of the columns in the input; feature is -1 when absent. */
  record Columns(int id, int code, int feature) {
    /** id, code and (when asked and present) feature, with ids as long and features as float. */
    Column[] selection(boolean withFeatures) {
      List<Column> c = new ArrayList<>(List.of(col("id").cast(DataTypes.LongType).as("id"), col("code")));
      if (withFeatures && feature >= 0) {
        c.add(col("feature").cast(DataTypes.createArrayType(DataTypes.FloatType)).as("feature"));
      }
      return c.toArray(new Column[0]);
    }
  }

  static Columns columns(Dataset<Row> table, String what) {
    if (table == null) {
      throw new IllegalArgumentException(what + " must not be null");
    }
    StructType s = table.schema();
    int id = index(s, "id");
    int code = index(s, "code");
    int feature = index(s, "feature");
    String expected = " (expected columns id: long, code: binary, optional feature: array<float>; found "
        + s.simpleString() + ")";
    if (id < 0 || !(s.fields()[id].dataType() instanceof NumericType)) {
      throw new IllegalArgumentException(what + " needs an integer column 'id'" + expected);
    }
    if (code < 0 || !s.fields()[code].dataType().equals(DataTypes.BinaryType)) {
      throw new IllegalArgumentException(what + " needs a binary column 'code' holding packed codes" + expected);
    }
    if (feature >= 0 && !(s.fields()[feature].dataType() instanceof ArrayType a
        && a.elementType() instanceof NumericType)) {
      throw new IllegalArgumentException(what + ": column 'feature' must be an array of numbers" + expected);
    }
    return new Columns(id, code, feature);
  }

  private static int index(StructType s, String name) {
    StructField[] f = s.fields();
    for (int i = 0; i < f.length; i++) {
      if (f[i].name().equalsIgnoreCase(name)) {
        return i;
      }
    }
    return -1;
  }

  /** Reads a (selected: id, code[, feature]) query table onto the driver. */
  static QuerySet collect(Dataset<Row> selected, boolean withFeatures) {
    List<Row> rows = selected.collectAsList();
    Iterator<QuerySet> it = blocks(rows.iterator(), withFeatures, Math.max(1, rows.size()));
    return it.hasNext() ? it.next() : QuerySet.of(new long[0], new byte[0], null, 1, 0);
  }

  /** Cuts selected rows (id, code[, feature]) into query blocks of at most {@code size}. */
  static Iterator<QuerySet> blocks(Iterator<Row> rows, boolean withFeatures, int size) {
    List<QuerySet> out = new ArrayList<>();
    Chunk c = null;
    while (rows.hasNext()) {
      Row r = rows.next();
      if (c == null) {
        c = new Chunk(size, ((byte[]) r.get(1)).length, withFeatures ? features(r).length : 0);
      }
      c.add(r);
      if (c.n == size) {
        out.add(c.toQuerySet());
        c = null;
      }
    }
    if (c != null) {
      out.add(c.toQuerySet());
    }
    return out.iterator();
  }

  /** Rows gathered into arrays, CHUNK (or a block) at a time. */
  private static final class Chunk {
    final int codeBytes;
    final int dim;
    final long[] ids;
    final byte[] codes;
    final float[] feats;
    int n;

    Chunk(int capacity, int codeBytes, int dim) {
      if (codeBytes < 1) {
        throw new IllegalArgumentException("a code is empty: 'code' must hold B/8 bytes");
      }
      this.codeBytes = codeBytes;
      this.dim = dim;
      this.ids = new long[capacity];
      this.codes = new byte[capacity * codeBytes];
      this.feats = dim > 0 ? new float[capacity * dim] : null;
    }

    void add(Row r) {
      if (r.isNullAt(0) || r.isNullAt(1)) {
        throw new IllegalArgumentException("a row has a null id or code");
      }
      byte[] code = (byte[]) r.get(1);
      if (code.length != codeBytes) {
        throw new IllegalArgumentException("row id " + r.getLong(0) + " has a " + code.length + "-byte code, others "
            + codeBytes + ": every code must have the same width");
      }
      ids[n] = r.getLong(0);
      System.arraycopy(code, 0, codes, n * codeBytes, codeBytes);
      if (dim > 0) {
        float[] f = features(r);
        if (f.length != dim) {
          throw new IllegalArgumentException("row id " + r.getLong(0) + " has " + f.length + " feature values, others "
              + dim + ": every feature must have the same dimension");
        }
        System.arraycopy(f, 0, feats, n * dim, dim);
      }
      n++;
    }

    QuerySet toQuerySet() {
      return QuerySet.of(Arrays.copyOf(ids, n), Arrays.copyOf(codes, n * codeBytes),
          feats == null ? null : Arrays.copyOf(feats, n * dim), codeBytes, dim);
    }

    void addTo(CodeTable t) {
      t.addAll(Arrays.copyOf(ids, n), Arrays.copyOf(codes, n * codeBytes),
          feats == null ? null : Arrays.copyOf(feats, n * dim), null);
      n = 0;
    }
  }

  private static float[] features(Row r) {
    if (r.isNullAt(2)) {
      throw new IllegalArgumentException("row id " + r.getLong(0) + " has a null feature");
    }
    List<Float> l = r.getList(2);
    float[] f = new float[l.size()];
    for (int i = 0; i < f.length; i++) {
      Float v = l.get(i);
      if (v == null) {
        throw new IllegalArgumentException("row id " + r.getLong(0) + " has a null feature value");
      }
      f[i] = v;
    }
    return f;
  }

  /**
   * Writes {@code table} as {@code shards} index files {@code dir/shard-NNNNN.dh} (rows spread
   * evenly, round robin; a shard may be empty) and returns their paths in shard order. Executors
   * write the files, so {@code dir} must be a file system every executor and the search can reach:
   * a shared mount, or a Hadoop URI ({@code hdfs://...}), written through a local temporary file.
   * Ids must be unique across the table.
   */
  public static List<String> stage(SparkSession spark, Dataset<Row> table, int shards, String dir) {
    if (shards < 1) {
      throw new IllegalArgumentException("shards must be >= 1 (passed " + shards + ")");
    }
    if (dir == null) {
      throw new IllegalArgumentException("dir must not be null");
    }
    Columns cols = columns(table, "table");
    boolean withFeatures = cols.feature() >= 0;
    Dataset<Row> t = table.select(cols.selection(true));
    List<Row> first = t.limit(1).collectAsList();
    if (first.isEmpty()) {
      throw new IllegalArgumentException("the code table is empty: nothing to stage");
    }
    int codeBytes = ((byte[]) first.get(0).get(1)).length;
    int dim = withFeatures ? features(first.get(0)).length : 0;
    CodeTable.create(codeBytes * 8, dim, false, 0).close(); // validates the shape before any task runs
    boolean local = isLocal(dir);
    if (local) {
      try {
        Files.createDirectories(localPath(dir));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot create the shard directory " + dir + ": " + e.getMessage(), e);
      }
    }
    List<String> paths = new ArrayList<>(t.repartition(shards).toJavaRDD()
        .mapPartitionsWithIndex((idx, rows) -> Collections.singletonList(writeShard(rows, idx, codeBytes, dim, dir))
            .iterator(), false)
        .collect());
    Collections.sort(paths);
    return paths;
  }

  private static String writeShard(Iterator<Row> rows, int index, int codeBytes, int dim, String dir)
      throws IOException {
    String name = String.format("shard-%05d.dh", index);
    boolean local = isLocal(dir);
    Path target = local ? localPath(dir).resolve(name).toAbsolutePath() : Files.createTempFile("deephash-", ".dh");
    try (CodeTable table = CodeTable.create(codeBytes * 8, dim, false, 1024)) {
      Chunk c = new Chunk(CHUNK, codeBytes, dim);
      while (rows.hasNext()) {
        c.add(rows.next());
        if (c.n == CHUNK) {
          c.addTo(table);
        }
      }
      c.addTo(table);
      IndexFile.save(table, target);
    }
    if (local) {
      return target.toString();
    }
    String uri = dir.endsWith("/") ? dir + name : dir + "/" + name;
    org.apache.hadoop.fs.Path dst = new org.apache.hadoop.fs.Path(uri);
    dst.getFileSystem(new org.apache.hadoop.conf.Configuration())
        .copyFromLocalFile(true, true, new org.apache.hadoop.fs.Path(target.toUri()), dst);
    return uri;
  }

  private static boolean isLocal(String dir) {
    String scheme = URI.create(dir.replace(" ", "%20")).getScheme();
    return scheme == null || scheme.length() == 1 || scheme.equals("file");
  }

  private static Path localPath(String dir) {
    return dir.startsWith("file:") ? Path.of(URI.create(dir)) : Path.of(dir);
  }
}
