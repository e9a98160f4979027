package org.deephash.spi;

import java.lang.foreign.MemorySegment;

/**
 * A validated batch of queries in off-heap memory, valid for one call.
 *
 * @param count Q, the number of queries
 * @param codes Q packed codes with the table's layout and at least 8 readable bytes of padding,
 *     or {@link MemorySegment#NULL} for feature-only searches
 * @param features Q x dim float32 features, or {@link MemorySegment#NULL} for code-only searches
 */
public record Queries(int count, MemorySegment codes, MemorySegment features) {}
