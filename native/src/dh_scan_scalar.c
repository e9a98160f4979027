/*
 * Scalar tier: 64-bit POPCNT. Queries are held in registers in groups (QB codes of W words) and
 * each code word is loaded once per group, so the table tile is read from cache QB times fewer.
 */
#include "dh_internal.h"

#if defined(__x86_64__) || defined(__i386__)
#define DH_TARGET_SCALAR __attribute__((target("popcnt")))
#else
#define DH_TARGET_SCALAR
#endif
#define DH_INLINE static inline __attribute__((always_inline))

/* Fixed width W words (code_bytes == 8 * W), QB queries per pass: fully unrolled by the compiler. */
DH_INLINE void scan_fixed(const dh_ctx *c, const uint8_t *queries, dh_sel *sels, int64_t r0, int64_t r1,
                          const int QB, const int W) {
  uint64_t q[32]; /* QB * W <= 32; a fixed size keeps the array out of VLA code */
  for (int j = 0; j < QB; j++) {
    for (int w = 0; w < W; w++) {
      q[j * W + w] = dh_load64(queries + (size_t)j * (size_t)(8 * W) + 8 * (size_t)w);
    }
  }
  const uint8_t *p = c->codes + (size_t)r0 * (size_t)(8 * W);
  for (int64_t r = r0; r < r1; r++, p += 8 * W) {
    uint64_t cw[4];
    for (int w = 0; w < W; w++) {
      cw[w] = dh_load64(p + 8 * w);
    }
    for (int j = 0; j < QB; j++) {
      int32_t d = 0;
      for (int w = 0; w < W; w++) {
        d += __builtin_popcountll(cw[w] ^ q[j * W + w]);
      }
      if (DH_UNLIKELY(d <= sels[j].thr)) {
        dh_sel_push(c, &sels[j], d, r);
      }
    }
  }
}

/* Any width: nfull whole words plus a masked tail word (codes have 8 bytes of padding). */
DH_INLINE void scan_generic(const dh_ctx *c, const uint8_t *queries, dh_sel *sels, int64_t r0, int64_t r1,
                            const int QB) {
  const int32_t cb = c->code_bytes;
  const int32_t nfull = cb >> 3, tail = cb & 7;
  const uint64_t mask = tail ? dh_tail_mask(tail) : 0;
  const uint8_t *qs[8];
  uint64_t qt[8];
  for (int j = 0; j < QB; j++) {
    qs[j] = queries + (size_t)j * (size_t)cb;
    qt[j] = tail ? dh_load64(qs[j] + 8 * (size_t)nfull) & mask : 0;
  }
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *p = c->codes + (size_t)r * (size_t)cb;
    const uint64_t ct = tail ? dh_load64(p + 8 * (size_t)nfull) & mask : 0;
    for (int j = 0; j < QB; j++) {
      int32_t d = __builtin_popcountll(ct ^ qt[j]);
      for (int32_t w = 0; w < nfull; w++) {
        d += __builtin_popcountll(dh_load64(p + 8 * (size_t)w) ^ dh_load64(qs[j] + 8 * (size_t)w));
      }
      if (DH_UNLIKELY(d <= sels[j].thr)) {
        dh_sel_push(c, &sels[j], d, r);
      }
    }
  }
}

DH_TARGET_SCALAR void dh_scan_scalar(const dh_ctx *c, const uint8_t *queries, int32_t nq, dh_sel *sels, int64_t r0,
                                     int64_t r1) {
  const int32_t cb = c->code_bytes;
  int32_t j = 0;
  switch (cb) {
    case 8:
      for (; j + 8 <= nq; j += 8) scan_fixed(c, queries + (size_t)j * 8, sels + j, r0, r1, 8, 1);
      for (; j < nq; j++) scan_fixed(c, queries + (size_t)j * 8, sels + j, r0, r1, 1, 1);
      return;
    case 16:
      for (; j + 4 <= nq; j += 4) scan_fixed(c, queries + (size_t)j * 16, sels + j, r0, r1, 4, 2);
      for (; j < nq; j++) scan_fixed(c, queries + (size_t)j * 16, sels + j, r0, r1, 1, 2);
      return;
    case 32:
      for (; j + 2 <= nq; j += 2) scan_fixed(c, queries + (size_t)j * 32, sels + j, r0, r1, 2, 4);
      for (; j < nq; j++) scan_fixed(c, queries + (size_t)j * 32, sels + j, r0, r1, 1, 4);
      return;
    default:
      for (; j + 4 <= nq; j += 4) scan_generic(c, queries + (size_t)j * cb, sels + j, r0, r1, 4);
      for (; j < nq; j++) scan_generic(c, queries + (size_t)j * cb, sels + j, r0, r1, 1);
      return;
  }
}

DH_TARGET_SCALAR void dh_dist_scalar(const uint8_t *codes, int32_t cb, int64_t r0, int64_t r1, const uint8_t *q,
                                     int32_t *out) {
  const int32_t nfull = cb >> 3, tail = cb & 7;
  const uint64_t mask = tail ? dh_tail_mask(tail) : 0;
  const uint64_t qt = tail ? dh_load64(q + 8 * (size_t)nfull) & mask : 0;
  for (int64_t r = r0; r < r1; r++) {
    const uint8_t *p = codes + (size_t)r * (size_t)cb;
    int32_t d = tail ? __builtin_popcountll((dh_load64(p + 8 * (size_t)nfull) & mask) ^ qt) : 0;
    for (int32_t w = 0; w < nfull; w++) {
      d += __builtin_popcountll(dh_load64(p + 8 * (size_t)w) ^ dh_load64(q + 8 * (size_t)w));
    }
    out[r - r0] = d;
  }
}
