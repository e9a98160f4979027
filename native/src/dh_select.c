/*
 * k-selection fused into the scan. Distances live in 0..B, so the k-th distance of a full buffer
 * is found with a histogram (no heap, no comparisons per row); only entries tied at that
 * distance are ordered by id.
 */
#include <stdlib.h>

#include "dh_internal.h"

static int cmp_pair_id(const void *a, const void *b) {
  int64_t x = ((const dh_pair *)a)->id, y = ((const dh_pair *)b)->id;
  return (x > y) - (x < y);
}

/* Ranks by (distance, id): the id is the tie-break of the contract. */
static int cmp_pair_dist_id(const void *a, const void *b) {
  const dh_pair *p = a, *q = b;
  uint32_t dp = (uint32_t)(p->entry >> 32), dq = (uint32_t)(q->entry >> 32);
  if (dp != dq) {
    return dp < dq ? -1 : 1;
  }
  return (p->id > q->id) - (p->id < q->id);
}

/* Keeps the best k of s->buf (s->n > k): all entries below the k-th distance T, then the
 * smallest ids at T. Afterwards only candidates better than the k-th kept one are admitted. */
static void compact(const dh_ctx *c, dh_sel *s) {
  const int32_t k = c->k;
  int32_t *hist = c->hist;
  memset(hist, 0, sizeof(int32_t) * (size_t)(s->thr + 1));
  for (int32_t i = 0; i < s->n; i++) {
    hist[s->buf[i] >> 32]++;
  }
  int32_t t = 0, less = 0;
  for (;; t++) {
    if (less + hist[t] >= k) {
      break;
    }
    less += hist[t];
  }
  int32_t need = k - less, w = 0, nt = 0;
  dh_pair *ties = c->pairs;
  for (int32_t i = 0; i < s->n; i++) {
    uint64_t e = s->buf[i];
    int32_t d = (int32_t)(e >> 32);
    if (d < t) {
      s->buf[w++] = e;
    } else if (d == t) {
      ties[nt].id = c->ids[(uint32_t)e];
      ties[nt].entry = e;
      nt++;
    }
  }
  if (nt > need) {
    qsort(ties, (size_t)nt, sizeof(dh_pair), cmp_pair_id);
  }
  int64_t max_id = INT64_MIN;
  for (int32_t i = 0; i < need; i++) {
    s->buf[w++] = ties[i].entry;
    if (ties[i].id > max_id) {
      max_id = ties[i].id;
    }
  }
  s->n = w;
  s->thr = t;
  s->tie = 1;
  s->tie_id = max_id;
  s->overflowed = 1;
}

void dh_sel_push(const dh_ctx *c, dh_sel *s, int32_t d, int64_t row) {
  if (d > s->thr) {
    return;
  }
  if (c->tomb != NULL && ((c->tomb[row >> 6] >> (row & 63)) & 1)) {
    return;
  }
  if (d == s->thr && s->tie && c->ids[row] > s->tie_id) {
    return;
  }
  s->buf[s->n++] = ((uint64_t)(uint32_t)d << 32) | (uint32_t)row;
  if (s->n == s->cap) {
    compact(c, s);
  }
}

void dh_sel_finish(const dh_ctx *c, dh_sel *s, int32_t *out_dist, int32_t *out_row, int32_t *out_count,
                   int32_t *out_flags) {
  if (s->n > c->k) {
    compact(c, s);
  }
  dh_pair *p = c->pairs;
  for (int32_t i = 0; i < s->n; i++) {
    p[i].entry = s->buf[i];
    p[i].id = c->ids[(uint32_t)s->buf[i]];
  }
  qsort(p, (size_t)s->n, sizeof(dh_pair), cmp_pair_dist_id);
  for (int32_t i = 0; i < s->n; i++) {
    out_dist[i] = (int32_t)(p[i].entry >> 32);
    out_row[i] = (int32_t)(uint32_t)p[i].entry;
  }
  *out_count = s->n;
  *out_flags = s->overflowed ? 1 : 0;
}
