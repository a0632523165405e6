/*
 * thread.c: what the library keeps per thread: a small number naming the
 * thread (the index of its lanes), the host-call nesting depth and the
 * last message of each host the thread used.
 *
 * Per-thread records are allocated with the C library's malloc, not a
 * host's allocator: a thread outlives any one host. A thread's record is
 * freed when it exits, and its number goes back for a new thread to take
 * (with the lanes it had: their arenas and instances are reused).
 */
#include "core.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* The messages a thread keeps: the last failure of each of the hosts it
   used most recently. */
#define ERR_SLOTS 8

typedef struct pk__thr {
  unsigned tid;
  int nesting;
  unsigned clock; /* for least-recently-used message slots */
  struct {
    uint64_t host; /* its serial; 0: free */
    unsigned used;
    char *msg;
  } err[ERR_SLOTS];
} pk__thr;

PK__TLS_IE _Thread_local unsigned pk__tls_tid;
static PK__TLS_IE _Thread_local pk__thr *tls_thr;

/* Thread numbers: the next never used, and those freed by exited
   threads. A spin lock: taken once per thread start and exit. */
static atomic_flag ids_lock = ATOMIC_FLAG_INIT;
static unsigned ids_next = 1;
static unsigned *ids_free;
static size_t ids_nfree, ids_cap;

static void ids_acquire(void) {
  while (atomic_flag_test_and_set_explicit(&ids_lock, memory_order_acquire))
    pk__os_yield();
}
static void ids_release(void) {
  atomic_flag_clear_explicit(&ids_lock, memory_order_release);
}

static void thr_exit(void *v) {
  pk__thr *t = v;
  size_t i;
  if (t == NULL)
    return;
  ids_acquire();
  if (ids_nfree == ids_cap) {
    size_t cap = ids_cap ? ids_cap * 2 : 64;
    unsigned *n = realloc(ids_free, cap * sizeof *n);
    if (n != NULL) {
      ids_free = n;
      ids_cap = cap;
    }
  }
  if (ids_nfree < ids_cap) /* else the number is lost, which is harmless */
    ids_free[ids_nfree++] = t->tid;
  ids_release();
  for (i = 0; i < ERR_SLOTS; i++)
    free(t->err[i].msg);
  free(t);
  tls_thr = NULL;
  pk__tls_tid = 0;
}

static pk__thr *thr_self(void) {
  pk__thr *t = tls_thr;
  if (PK__LIKELY(t != NULL))
    return t;
  if (pk__os_thread_key(thr_exit) < 0)
    return NULL;
  if ((t = calloc(1, sizeof *t)) == NULL)
    return NULL;
  ids_acquire();
  t->tid = ids_nfree > 0 ? ids_free[--ids_nfree] : ids_next++;
  ids_release();
  pk__os_thread_set(t);
  tls_thr = t;
  pk__tls_tid = t->tid;
  return t;
}

unsigned pk__thread_id(void) {
  pk__thr *t = thr_self();
  return t != NULL ? t->tid : 0;
}

int *pk__thread_nesting(void) {
  static int fallback; /* out of memory: shared, still bounded */
  pk__thr *t = thr_self();
  return t != NULL ? &t->nesting : &fallback;
}

char *pk__thread_errmsg(const pk_host *h) {
  pk__thr *t = thr_self();
  size_t i, pick = 0;
  if (t == NULL)
    return NULL;
  for (i = 0; i < ERR_SLOTS; i++) {
    if (t->err[i].host == h->serial) {
      pick = i;
      goto found;
    }
    if (t->err[i].used < t->err[pick].used)
      pick = i;
  }
  if (t->err[pick].msg == NULL &&
      (t->err[pick].msg = malloc(PK__ERRMSG_MAX)) == NULL)
    return NULL;
  t->err[pick].host = h->serial;
  t->err[pick].msg[0] = '\0';
found:
  t->err[pick].used = ++t->clock;
  return t->err[pick].msg;
}

const char *pk__thread_errmsg_get(const pk_host *h) {
  pk__thr *t = tls_thr;
  size_t i;
  if (t == NULL)
    return "";
  for (i = 0; i < ERR_SLOTS; i++)
    if (t->err[i].host == h->serial && t->err[i].msg != NULL)
      return t->err[i].msg;
  return "";
}

uint64_t pk__serial_next(void) {
  static _Atomic uint64_t next = 1;
  return atomic_fetch_add(&next, 1);
}
