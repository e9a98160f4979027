/*
 * k-selection fused into the scan (see dh_sel in dh_internal.h). Distances live in 0..B, so the
 * k-th distance of a buffer is found by counting them in bins: no heap, no comparisons per row,
 * and no sort of the entries tied at the k-th distance unless they overflow half the buffer, so
 * the cost per candidate does not grow with k. The final list is ordered by a counting pass over
 * the distances; only groups of equal distance whose ids are out of order are sorted.
 */
#include <stdlib.h>

#include "deephash.h"
#include "dh_internal.h"

static int cmp_pair_id(const void *a, const void *b) {
  int64_t x = ((const dh_pair *)a)->id, y = ((const dh_pair *)b)->id;
  return (x > y) - (x < y);
}

static inline void swap_pair(dh_pair *a, dh_pair *b) {
  dh_pair t = *a;
  *a = *b;
  *b = t;
}

/* Moves the `need` smallest ids of p[0, n) into p[0, need), in any order (quickselect). */
static void select_smallest_ids(dh_pair *p, int32_t n, int32_t need) {
  int32_t lo = 0, hi = n - 1;
  const int32_t nth = need - 1;
  while (hi - lo > 16) {
    const int32_t mid = lo + (hi - lo) / 2;
    if (p[mid].id < p[lo].id) swap_pair(&p[mid], &p[lo]);
    if (p[hi].id < p[lo].id) swap_pair(&p[hi], &p[lo]);
    if (p[hi].id < p[mid].id) swap_pair(&p[hi], &p[mid]);
    const int64_t pivot = p[mid].id;
    int32_t i = lo, j = hi;
    while (i <= j) {
      while (p[i].id < pivot) i++;
      while (p[j].id > pivot) j--;
      if (i <= j) {
        swap_pair(&p[i], &p[j]);
        i++;
        j--;
      }
    }
    if (nth <= j) {
      hi = j;
    } else if (nth >= i) {
      lo = i;
    } else {
      return; /* p[j+1 .. i-1] equal the pivot, and nth is among them */
    }
  }
  /* a short range: insertion sort settles it */
  for (int32_t i = lo + 1; i <= hi; i++) {
    dh_pair x = p[i];
    int32_t j = i - 1;
    while (j >= lo && p[j].id > x.id) {
      p[j + 1] = p[j];
      j--;
    }
    p[j + 1] = x;
  }
}

static inline int is_deleted(const uint64_t *tomb, uint32_t row) {
  return tomb != NULL && ((tomb[row >> 6] >> (row & 63)) & 1);
}

static int32_t min_distance(const dh_sel *s) {
  uint64_t dmin = (uint64_t)(uint32_t)(s->thr + 1) << 32;
  for (int32_t i = 0; i < s->n; i++) {
    const uint64_t e = s->buf[i] & ~(uint64_t)0xffffffffu;
    dmin = e < dmin ? e : dmin;
  }
  return (int32_t)(dmin >> 32);
}

/* Drops deleted rows and, in tie mode, entries at thr whose id is above tie_id; returns the
 * smallest distance left (thr + 1 when none is). Branch-free: which entries go is unpredictable. */
static int32_t filter(const dh_ctx *c, dh_sel *s) {
  const uint64_t hi = ~(uint64_t)0xffffffffu;
  const uint64_t tie_entry_hi = (uint64_t)(uint32_t)s->thr << 32;
  uint64_t dmin = (uint64_t)(uint32_t)(s->thr + 1) << 32;
  int32_t w = 0;
  if (c->tomb == NULL && !s->tie) {
    /* nothing to drop: skip the pass, and let the caller count from 0 (bins are few up to thr) */
    return s->thr + 1 < 4096 ? 0 : min_distance(s);
  }
  for (int32_t i = 0; i < s->n; i++) {
    const uint64_t e = s->buf[i];
    const uint32_t row = (uint32_t)e;
    int drop = is_deleted(c->tomb, row);
    if (s->tie && (e & hi) == tie_entry_hi) {
      drop |= dh_tie_key(c, row) > s->tie_id;
    }
    s->buf[w] = e;
    w += !drop;
    const uint64_t keyed = drop ? hi : (e & hi);
    dmin = keyed < dmin ? keyed : dmin;
  }
  s->n = w;
  return (int32_t)(dmin >> 32);
}

/*
 * Counts the distances of buf[0, n) (all in [dmin, dmax]) in c->hist[dmin..dmax] and returns
 * c->hist. Four interleaved histograms: most entries share two or three distances, and one
 * histogram would serialise them on store-to-load forwarding.
 */
static int32_t *count_distances(const dh_ctx *c, const uint64_t *buf, int32_t n, int32_t dmin, int32_t dmax) {
  int32_t *h = c->hist;
  const size_t stride = (size_t)c->hist_stride;
  const size_t span = (size_t)(dmax + 1 - dmin);
  for (int i = 0; i < 4; i++) {
    memset(h + i * stride + dmin, 0, sizeof(int32_t) * span);
  }
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    h[buf[i] >> 32]++;
    h[stride + (buf[i + 1] >> 32)]++;
    h[2 * stride + (buf[i + 2] >> 32)]++;
    h[3 * stride + (buf[i + 3] >> 32)]++;
  }
  for (; i < n; i++) {
    h[buf[i] >> 32]++;
  }
  for (int32_t d = dmin; d <= dmax; d++) {
    h[d] += h[stride + d] + h[2 * stride + d] + h[3 * stride + d];
  }
  return h;
}

/*
 * Cuts a filtered buffer of more than k entries down at the k-th distance T. With keep_ties, all
 * entries at T stay when they fit in half the buffer; otherwise exactly k stay, the smallest ids
 * at T, and tie mode records the largest kept id. With ids ascending (the buffer in row order) the
 * cut is always exact and lowers thr below T; then it sets s->below too and returns 1.
 */
static int cut(const dh_ctx *c, dh_sel *s, int32_t dmin, int32_t dmax, int keep_ties) {
  const int32_t k = c->k;
  int32_t *hist = count_distances(c, s->buf, s->n, dmin, dmax);
  int32_t t = dmin, less = 0;
  while (less + hist[t] < k) {
    less += hist[t++];
  }
  const int32_t ties = hist[t];
  s->overflowed = 1; /* more than k live rows within max_dist */
  if (keep_ties && !c->ids_ascending && less + ties <= s->cap / 2) {
    int32_t w = 0;
    for (int32_t i = 0; i < s->n; i++) {
      const uint64_t e = s->buf[i];
      s->buf[w] = e; /* branch-free: whether an entry stays is unpredictable */
      w += (int32_t)(e >> 32) <= t;
    }
    s->n = w;
    if (t < s->thr) {
      s->thr = t;
      s->tie = 0;
    }
    return 0;
  }
  const int32_t need = k - less;
  if (c->ids_ascending) {
    /* the buffer is in row order and rows order the ids: the first `need` entries at t are the
     * smallest ids there; one branch-free pass keeps them and everything below t */
    int32_t w = 0, seen = 0, last = 0;
    for (int32_t i = 0; i < s->n; i++) {
      const uint64_t e = s->buf[i];
      const int32_t d = (int32_t)(e >> 32);
      const int at = d == t;
      const int keep = (d < t) | (at & (seen < need));
      last = keep & at ? (int32_t)(uint32_t)e : last;
      seen += at;
      s->buf[w] = e;
      w += keep;
    }
    s->n = w;
    if (t > 0) {
      /* every row still to come lies after the kept ones, so its id is larger: at t it would be
       * worse than all k, and only d <= t - 1 can still get in */
      s->thr = t - 1;
      s->tie = 0;
      s->below = less - (t - 1 < dmin ? 0 : hist[t - 1]);
    } else {
      s->thr = 0;
      s->tie = 1;
      s->tie_id = last;
      s->below = 0;
    }
    return 1;
  }
  dh_pair *ties_at_t = c->pairs;
  int32_t w = 0, nt = 0;
  for (int32_t i = 0; i < s->n; i++) {
    const uint64_t e = s->buf[i];
    const int32_t d = (int32_t)(e >> 32);
    if (i + 16 < s->n) { /* ids ascending took the exact cut above: here ids are read */
      __builtin_prefetch(&c->ids[(uint32_t)s->buf[i + 16]]); /* ids of ties are scattered reads */
    }
    s->buf[w] = e;
    w += d < t;
    if (d == t) {
      ties_at_t[nt].id = dh_tie_key(c, (uint32_t)e);
      ties_at_t[nt].entry = e;
      nt++;
    }
  }
  if (nt > need) {
    select_smallest_ids(ties_at_t, nt, need);
  }
  int64_t max_id = INT64_MIN;
  for (int32_t i = 0; i < need; i++) {
    s->buf[w++] = ties_at_t[i].entry;
    max_id = ties_at_t[i].id > max_id ? ties_at_t[i].id : max_id;
  }
  s->n = w;
  s->thr = t;
  s->tie = 1;
  s->tie_id = max_id;
  return 0;
}

void dh_sel_init(const dh_ctx *c, dh_sel *s, int32_t thr, uint64_t *buf, int32_t cap, int32_t *hist) {
  *s = (dh_sel){.thr = thr, .buf = buf, .cap = cap, .limit = cap, .le_limit = c->k, .top = thr, .hist = hist};
  if (c->counted) {
    memset(hist, 0, sizeof(int32_t) * (size_t)(thr + 2));
  } else if (c->ids_ascending) {
    /* exact cuts (see cut): compacting every k/4 or so candidates keeps the threshold near the
     * k-th distance of the rows seen so far */
    const int64_t every = (int64_t)c->k + c->k / 4 + 64;
    s->limit = every < cap ? (int32_t)every : cap;
  }
}

/* Counted mode: the entries appended since the last tally into hist. Batched here rather than per
 * append: a push then only adds to le (at k = 1000 the per-push counts were a store-to-load chain
 * on every push), and a settle or the finish pays one tight loop for what is new. */
static void tally(dh_sel *s) {
  for (int32_t i = s->tallied; i < s->n; i++) {
    s->hist[s->buf[i] >> 32]++;
  }
  s->tallied = s->n;
}

void dh_sel_settle(const dh_ctx *c, dh_sel *s) {
  if (s->n >= s->cap) {
    /* the buffer is full: keep the k best (rows in order, ids ascending: an exact cut) */
    const int32_t dmin = filter(c, s);
    if (s->n > c->k) {
      cut(c, s, dmin, s->top, 0);
      s->tie = 0; /* at distance 0 a later row is still admitted; the finish keeps the first k */
    }
    s->top = s->thr + 1 < s->top ? s->thr + 1 : s->top;
    /* the entries changed: count them all again, and le with them */
    memset(s->hist, 0, sizeof(int32_t) * (size_t)(s->top + 1));
    s->tallied = 0;
    tally(s);
    int32_t le = 0;
    for (int32_t d = 0; d <= s->thr; d++) {
      le += s->hist[d];
    }
    s->le = le;
  } else {
    tally(s);
  }
  /* more than k entries within thr (so the result is truncated): a later row at thr has a larger
   * id than each of them. (At exactly k, lowering would hide whether a later row qualifies.) */
  if (s->le > c->k) {
    s->overflowed = 1;
    while (s->le > c->k && s->thr > 0) {
      s->le -= s->hist[s->thr];
      s->thr--;
    }
  }
  /* at thr 0 with more than k within it nothing can drop further: only a full buffer calls back */
  s->le_limit = s->le > c->k ? INT32_MAX : c->k;
}

void dh_sel_compact(const dh_ctx *c, dh_sel *s) {
  const int32_t dmin = filter(c, s);
  /* after an exact cut the kept entries at the k-th distance lie one above thr */
  if (s->n > c->k && cut(c, s, dmin, s->thr + 1, 1)) {
    return;
  }
  /* recount: deleted rows may have been among them, and the threshold may have dropped */
  int32_t below = 0;
  for (int32_t i = 0; i < s->n; i++) {
    below += (int32_t)(s->buf[i] >> 32) < s->thr;
  }
  s->below = below;
}

void dh_sel_push(const dh_ctx *c, dh_sel *s, int32_t d, int64_t row) {
  if (d <= s->thr) {
    dh_sel_put(c, s, d, row, 1);
  }
}

/*
 * The buffer is in row order and rows order the ids: a stable counting sort by distance orders it
 * by (distance, id), and its first k entries are the answer, the entries at the k-th distance
 * beyond them having larger ids. One counting pass and one scatter, writing the first k straight
 * to the output (the rest to a dummy slot, branch-free); the AVX-512 tier gathers each distance's
 * entries instead (dh_select_avx512.c).
 */
static void finish_in_row_order(const dh_ctx *c, dh_sel *s, int32_t *out_dist, int32_t *out_row, int32_t *out_count,
                                int32_t *out_flags) {
  if (!c->counted && (c->tomb != NULL || s->tie)) {
    filter(c, s);
  }
  const int32_t n = s->n, k = c->k;
  int32_t *pos, top;
  if (c->counted) {
    tally(s); /* every entry counted: none lies above top */
    pos = s->hist;
    top = s->top;
  } else {
    top = s->thr + 1; /* an exact cut leaves its k-th distance one above thr */
    pos = count_distances(c, s->buf, n, 0, top);
  }
  const int32_t kept = n < k ? n : k;
  if (n > k) {
    s->overflowed = 1;
  }
  *out_count = kept;
  *out_flags = s->overflowed ? DH_FLAG_TRUNCATED : 0;
#ifdef DH_HAVE_X86_TIERS
  /* the tie pairs' scratch (cap + DH_SEL_SLACK pairs) is free here, and larger than it needs */
  if (c->vector_finish && dh_finish_avx512(s->buf, n, pos, top, kept, out_dist, out_row, (int32_t *)(void *)c->pairs)) {
    return;
  }
#endif
  for (int32_t d = 0, at = 0; d <= top; d++) {
    const int32_t m = pos[d];
    pos[d] = at;
    at += m;
  }
  int32_t dummy_dist, dummy_row;
  for (int32_t i = 0; i < n; i++) {
    const uint64_t e = s->buf[i];
    const int32_t d = (int32_t)(e >> 32);
    const int32_t p = pos[d]++;
    const int in = p < kept;
    *(in ? out_dist + p : &dummy_dist) = d;
    *(in ? out_row + p : &dummy_row) = (int32_t)(uint32_t)e;
  }
}

void dh_sel_finish(const dh_ctx *c, dh_sel *s, int32_t *out_dist, int32_t *out_row, int32_t *out_count,
                   int32_t *out_flags) {
  if (c->ids_ascending) {
    finish_in_row_order(c, s, out_dist, out_row, out_count, out_flags);
    return;
  }
  /* explicit ids: order by distance with a counting pass (stable), then by id inside each distance */
  int32_t dmin = filter(c, s);
  if (s->n > c->k) {
    cut(c, s, dmin, s->thr + 1, 0);
  }
  const int32_t n = s->n;
  int32_t dmax = dmin;
  for (int32_t i = 0; i < n; i++) {
    const int32_t d = (int32_t)(s->buf[i] >> 32);
    dmin = d < dmin ? d : dmin;
    dmax = d > dmax ? d : dmax;
  }
  int32_t *hist = c->hist;
  if (n > 0) {
    count_distances(c, s->buf, n, dmin, dmax);
    for (int32_t d = dmin, at = 0; d <= dmax; d++) {
      const int32_t m = hist[d];
      hist[d] = at; /* first position of distance d */
      at += m;
    }
  }
  dh_pair *p = c->pairs;
  for (int32_t i = 0; i < n; i++) {
    const uint64_t e = s->buf[i];
    if (i + 16 < n) {
      __builtin_prefetch(&c->ids[(uint32_t)s->buf[i + 16]]);
    }
    const int32_t at = hist[e >> 32]++;
    p[at].entry = e;
    p[at].id = c->ids[(uint32_t)e];
  }
  for (int32_t g0 = 0; g0 < n;) {
    const uint32_t d = (uint32_t)(p[g0].entry >> 32);
    int32_t g1 = g0 + 1, sorted = 1;
    for (; g1 < n && (uint32_t)(p[g1].entry >> 32) == d; g1++) {
      sorted &= p[g1 - 1].id < p[g1].id;
    }
    if (!sorted) {
      qsort(p + g0, (size_t)(g1 - g0), sizeof(dh_pair), cmp_pair_id);
    }
    g0 = g1;
  }
  for (int32_t i = 0; i < n; i++) {
    out_dist[i] = (int32_t)(p[i].entry >> 32);
    out_row[i] = (int32_t)(uint32_t)p[i].entry;
  }
  *out_count = n;
  *out_flags = s->overflowed ? DH_FLAG_TRUNCATED : 0;
}
