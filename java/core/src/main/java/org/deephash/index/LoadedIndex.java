package org.deephash.index;

import org.deephash.CodeTable;

/**
 * An opened index file: its table (a read-only memory mapping of the file until the first change)
 * and, when the file has them, the source paths of its rows. Closing it closes the table.
 *
 * <pre>{@code
 * try (LoadedIndex index = IndexFile.load(Path.of("index.dh"));
 *     GpuHashSearch search = GpuHashSearch.open(index.table())) {
 *   SearchResult r = search.query(queryCode, 10);
 *   if (index.hasPaths()) {
 *     System.out.println(index.paths().get(0));
 *   }
 * }
 * }</pre>
 *
 * @param table the rows (row r of the table is row r of the file)
 * @param paths the source path of every row, or null when the file has no paths section
 */
public record LoadedIndex(CodeTable table, IndexPaths paths) implements AutoCloseable {

  public boolean hasPaths() {
    return paths != null;
  }

  /** The path of row {@code row}; the index must have paths. */
  public String path(int row) {
    if (paths == null) {
      throw new IllegalStateException("this index has no paths section: save it with IndexFile.save(table, file,"
          + " paths)");
    }
    return paths.get(row);
  }

  /** Closes the table (unmapping the file). */
  @Override
  public void close() {
    table.close();
  }
}
