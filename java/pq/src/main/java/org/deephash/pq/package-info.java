/**
 * Product quantization of local descriptors: an IVF-PQ index that maps each descriptor to a short
 * code and remembers which image it came from and where (the DELF retrieval setting, Noh et al.,
 * ICCV 2017: 40-dimensional descriptors as 50-bit codes).
 *
 * <ul>
 *   <li>{@link org.deephash.pq.KMeans}: seeded, deterministic k-means (k-means++ then Lloyd).
 *   <li>{@link org.deephash.pq.ProductQuantizer}: m sub-quantizers, packed codes, ADC tables.
 *   <li>{@link org.deephash.pq.IvfPqIndex}: coarse lists + PQ residual codes, search, save/load.
 *   <li>{@link org.deephash.pq.IvfPqResult}: per-query ranked entries with image and keypoint.
 * </ul>
 *
 * <p>Everything here is plain Java on the heap and deterministic: results depend on the inputs
 * and seeds only, never on the thread count or the machine. The file format is specified in
 * {@code docs/PQ.md}.
 */
package org.deephash.pq;
