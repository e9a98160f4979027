/*
 * Per-thread scratch memory, kept between calls. A top-k with a large k needs megabytes of
 * candidate buffers per call; allocated afresh, they came back from the system as new pages every
 * time (glibc returns large blocks on free), and on the development VM the page faults of a k =
 * 1000 search cost several milliseconds. Each thread keeps one block per slot (a call and the
 * calls it makes use different slots), up to DH_SCRATCH_KEEP bytes; larger blocks are freed when
 * the call ends. The blocks go with their thread (a POSIX thread-specific key's destructor).
 */
#include <pthread.h>
#include <stdlib.h>

#include "dh_internal.h"

/* Bytes a thread keeps per slot between calls. */
#define DH_SCRATCH_KEEP ((size_t)32 << 20)

typedef struct dh_block {
  void *p;
  size_t n;
} dh_block;

static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int key_ok;

static void release_all(void *v) {
  dh_block *b = v;
  for (int i = 0; i < DH_SCRATCH_SLOTS; i++) {
    free(b[i].p);
  }
  free(b);
}

static void make_key(void) { key_ok = pthread_key_create(&key, release_all) == 0; }

static dh_block *blocks(void) {
  pthread_once(&once, make_key);
  if (!key_ok) {
    return NULL;
  }
  dh_block *b = pthread_getspecific(key);
  if (b == NULL) {
    b = calloc(DH_SCRATCH_SLOTS, sizeof(dh_block));
    if (b != NULL && pthread_setspecific(key, b) != 0) {
      free(b);
      b = NULL;
    }
  }
  return b;
}

void *dh_scratch_get(int slot, size_t bytes) {
  const size_t n = dh_round64(bytes);
  dh_block *b = blocks();
  if (b == NULL) {
    return NULL;
  }
  if (b[slot].n < n) {
    free(b[slot].p);
    b[slot].p = aligned_alloc(64, n);
    b[slot].n = b[slot].p == NULL ? 0 : n;
  }
  return b[slot].p;
}

void dh_scratch_end(int slot) {
  dh_block *b = blocks();
  if (b != NULL && b[slot].n > DH_SCRATCH_KEEP) {
    free(b[slot].p);
    b[slot].p = NULL;
    b[slot].n = 0;
  }
}
