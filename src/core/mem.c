/*
 * mem.c: every allocation of the library goes through the host's hook;
 * the call arena for results lives here too.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

void *pk__realloc(pk_host *h, void *p, size_t n) {
  if (h->alloc != NULL)
    return h->alloc(h->alloc_ud, p, n);
  if (n == 0) {
    free(p);
    return NULL;
  }
  return realloc(p, n);
}

void *pk__alloc(pk_host *h, size_t n) { return pk__realloc(h, NULL, n); }

void pk__free(pk_host *h, void *p) {
  if (p != NULL)
    pk__realloc(h, p, 0);
}

void *pk__alloc_lines(pk_host *h, size_t n, void **base) {
  size_t size = (n + PK__CACHE_LINE - 1) & ~(size_t)(PK__CACHE_LINE - 1);
  void *mem = size >= n ? pk__alloc(h, size + PK__CACHE_LINE) : NULL;
  *base = mem;
  if (mem == NULL)
    return NULL;
  return (void *)(((uintptr_t)mem + PK__CACHE_LINE - 1) &
                  ~(uintptr_t)(PK__CACHE_LINE - 1));
}

int pk__spare_put(pk_host *h, void *p, size_t n) {
  size_t i;
  int kept = 0;
  if (n < PK__SPARE_MIN || n > PK__SPARE_MAX)
    return 0;
  pk__os_mutex_lock(&h->mu);
  for (i = 0; i < PK__SPARE_N; i++) {
    if (h->spare[i].p == NULL) {
      h->spare[i].p = p;
      h->spare[i].n = n;
      kept = 1;
      break;
    }
  }
  pk__os_mutex_unlock(&h->mu);
  return kept;
}

void *pk__spare_take(pk_host *h, size_t n) {
  size_t i;
  void *p = NULL;
  pk__os_mutex_lock(&h->mu);
  for (i = 0; i < PK__SPARE_N; i++) {
    if (h->spare[i].p != NULL && h->spare[i].n == n) {
      p = h->spare[i].p;
      h->spare[i].p = NULL;
      break;
    }
  }
  pk__os_mutex_unlock(&h->mu);
  return p;
}

char *pk__strndup(pk_host *h, const char *s, size_t n) {
  char *d = pk__alloc(h, n + 1);
  if (d != NULL) {
    memcpy(d, s, n);
    d[n] = '\0';
  }
  return d;
}

char *pk__strdup(pk_host *h, const char *s) {
  return pk__strndup(h, s, strlen(s));
}

/* ---- the call arena ---------------------------------------------------- */

struct pk__chunk {
  pk__chunk *next;
  size_t cap;  /* bytes in data */
  size_t used; /* bytes handed out */
  /* Aligned for any type a plugin may store in a result. */
  _Alignas(16) unsigned char data[];
};

#define PK__ARENA_MIN 1024
#define PK__ARENA_ALIGN 16

void *pk__arena_alloc(pk_host *h, pk__arena *a, size_t n) {
  pk__chunk *c = a->head;
  size_t need = (n + PK__ARENA_ALIGN - 1) & ~(size_t)(PK__ARENA_ALIGN - 1);
  size_t cap;
  void *p;

  if (need < n)
    return NULL; /* overflow */
  a->dirty = 1;
  if (c != NULL && c->cap - c->used >= need) {
    p = c->data + c->used;
    c->used += need;
    return p;
  }
  cap = c != NULL ? c->cap * 2 : PK__ARENA_MIN;
  if (cap < need)
    cap = need;
  if (cap > (size_t)-1 - sizeof *c)
    return NULL;
  c = pk__alloc(h, sizeof *c + cap);
  if (c == NULL)
    return NULL;
  c->cap = cap;
  c->used = need;
  c->next = a->head;
  a->head = c;
  return c->data;
}

/* Keep the largest chunk, empty; free the rest (several chunks). */
PK__NOINLINE static void arena_reset_chunks(pk_host *h, pk__arena *a) {
  pk__chunk *c, *next, *keep = NULL;
  for (c = a->head; c != NULL; c = c->next)
    if (keep == NULL || c->cap > keep->cap)
      keep = c;
  for (c = a->head; c != NULL; c = next) {
    next = c->next;
    if (c != keep)
      pk__free(h, c);
  }
  if (keep != NULL) {
    keep->used = 0;
    keep->next = NULL;
  }
  a->head = keep;
  a->dirty = 0;
}

/* The same, without a frame for the usual case: one chunk. */
void pk__arena_reset(pk_host *h, pk__arena *a) {
  pk__chunk *c = a->head;
  if (c != NULL && c->next == NULL) {
    c->used = 0;
    a->dirty = 0;
    return;
  }
  arena_reset_chunks(h, a);
}

void pk__arena_free(pk_host *h, pk__arena *a) {
  pk__chunk *c, *next;
  for (c = a->head; c != NULL; c = next) {
    next = c->next;
    pk__free(h, c);
  }
  a->head = NULL;
  /* Atomic: a lane's thread reads it before its call is marked busy, and
     so may read it while close frees the lane's arena (the call then goes
     down the slow path, whatever it read). */
  __atomic_store_n(&a->dirty, 0, __ATOMIC_RELAXED);
}
