/*
 * Threads and plugins (issue #13), native and source backends, and the
 * core's part of the contract (include/plugkit.h: "Threads"): any thread
 * calls any plugin; PK_THREADSAFE plugins run calls concurrently, others
 * one at a time; each thread has its own results and errors; close waits
 * for calls in flight and later calls get PK_ECLOSED.
 *
 * Arguments: the PK_THREADSAFE .so, the serialized .so, the fixtures
 * folder (the same sources for the source backend).
 */
#include "test.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#ifdef PK_TEST_SANITIZED
#define CALLS 10000L /* per thread; sanitizers are 5 to 20 times slower */
#else
#define CALLS 100000L
#endif
#define THREADS 8

static int built(const char *name) {
  const char *const *b;
  for (b = pk_backends(); *b != NULL; b++)
    if (strcmp(*b, name) == 0)
      return 1;
  return 0;
}

/* The command line: the two .so files, the fixtures folder. */
#define TSAFE_SO pkt_arg(0)
#define SERIAL_SO pkt_arg(1)

static char src_path[1024];
static const char *src(const char *name) {
  snprintf(src_path, sizeof src_path, "%s/%s", pkt_arg(2), name);
  return src_path;
}

static pk_plugin *open_at(pk_host *h, const char *path, const char *backend) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  o.backend = backend;
  o.grants = "*";
  PKT_RC(h, pk_plugin_open(h, path, &o, &p), PK_OK);
  return p;
}

static pk_func *fn(pk_host *h, pk_plugin *p, const char *name) {
  pk_func *f = NULL;
  PKT_RC(h, pk_plugin_func(p, name, NULL, &f), PK_OK);
  return f;
}

static void run_threads(void *(*body)(void *), void *arg, int n) {
  pthread_t t[64];
  int i;
  for (i = 0; i < n; i++)
    PKT_EQ_INT(pthread_create(&t[i], NULL, body, arg), 0);
  for (i = 0; i < n; i++)
    pthread_join(t[i], NULL);
}

/* ---- every result checked ----------------------------------------------- */

typedef struct job {
  pk_host *h;
  pk_func *f;
  int next; /* thread numbers */
  long bad; /* wrong results or codes, all threads */
  int met, nmet;
} job;

static void *sum_body(void *v) {
  job *j = v;
  int32_t me = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
  long i, bad = 0;
  for (i = 0; i < CALLS; i++) {
    pk_val a[2], r;
    a[0] = (pk_val)PK_I32((int32_t)i);
    a[1] = (pk_val)PK_I32(me * 1000000);
    if (pk_func_call(j->f, a, 2, &r, 1) != PK_OK ||
        r.type != PK_T_I32 || r.i32 != (int32_t)i + me * 1000000)
      bad++;
  }
  __atomic_add_fetch(&j->bad, bad, __ATOMIC_RELAXED);
  return NULL;
}

static void sum_8_threads(const char *path, const char *backend) {
  pk_host *h = test_host();
  job j;
  memset(&j, 0, sizeof j);
  j.h = h;
  j.f = fn(h, open_at(h, path, backend), "sum");
  run_threads(sum_body, &j, THREADS);
  PKT_EQ_INT(j.bad, 0);
  pk_host_destroy(h);
  PKT_EQ_INT(pkt_live, 0);
}

PK_TEST(threadsafe_sum_8_threads) { sum_8_threads(TSAFE_SO, NULL); }
PK_TEST(serialized_sum_8_threads) { sum_8_threads(SERIAL_SO, NULL); }

PK_TEST(source_threadsafe_sum_8_threads) {
  if (!built("source"))
    pkt_skip("the source backend is not built");
  sum_8_threads(src("tsafe.c"), "source");
}

/* ---- serialization and concurrency -------------------------------------- */

static void *bump_body(void *v) {
  job *j = v;
  long i, n = CALLS / 10;
  for (i = 0; i < n; i++) {
    pk_val r;
    if (pk_func_call(j->f, NULL, 0, &r, 1) != PK_OK)
      __atomic_add_fetch(&j->bad, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

/* A plugin without PK_THREADSAFE keeps a plain global counter: the host
   runs one call at a time, so no update is lost. */
static void serialized_counter(const char *path, const char *backend) {
  pk_host *h = test_host();
  pk_plugin *p = open_at(h, path, backend);
  pk_val r;
  job j;
  memset(&j, 0, sizeof j);
  j.f = fn(h, p, "bump");
  run_threads(bump_body, &j, THREADS);
  PKT_EQ_INT(j.bad, 0);
  PKT_RC(h, pk_func_call(j.f, NULL, 0, &r, 1), PK_OK);
  PKT_EQ_INT(r.i64, THREADS * (CALLS / 10) + 1);
  pk_host_destroy(h);
}

PK_TEST(serialized_counter_loses_nothing) {
  serialized_counter(SERIAL_SO, NULL);
}

PK_TEST(source_serialized_counter_loses_nothing) {
  if (!built("source"))
    pkt_skip("the source backend is not built");
  serialized_counter(src("serial.c"), "source");
}

static void *meet_body(void *v) {
  job *j = v;
  pk_val a = PK_I32(__atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED)), r;
  if (pk_func_call(j->f, &a, 1, &r, 1) != PK_OK)
    __atomic_add_fetch(&j->bad, 1, __ATOMIC_RELAXED);
  else if (r.i32)
    __atomic_add_fetch(&j->met, 1, __ATOMIC_RELAXED);
  return NULL;
}

/* Two threads inside meet() at once: only when the host runs the calls
   concurrently. */
static int meets(const char *path, const char *backend) {
  pk_host *h = test_host();
  job j;
  memset(&j, 0, sizeof j);
  j.f = fn(h, open_at(h, path, backend), "meet");
  run_threads(meet_body, &j, 2);
  PKT_EQ_INT(j.bad, 0);
  pk_host_destroy(h);
  return j.met;
}

PK_TEST(threadsafe_calls_run_concurrently) {
  PKT_EQ_INT(meets(TSAFE_SO, NULL), 2);
}

PK_TEST(serialized_calls_never_overlap) {
  PKT_EQ_INT(meets(SERIAL_SO, NULL), 0);
}

PK_TEST(source_threadsafe_calls_run_concurrently) {
  if (!built("source"))
    pkt_skip("the source backend is not built");
  PKT_EQ_INT(meets(src("tsafe.c"), "source"), 2);
}

/* ---- per-thread results and errors ---------------------------------------- */

typedef struct pair {
  pk_host *h;
  pk_func *greet, *sum;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int stage;
  int ok;
} pair;

static void wait_stage(pair *x, int s) {
  pthread_mutex_lock(&x->mu);
  while (x->stage < s)
    pthread_cond_wait(&x->cv, &x->mu);
  pthread_mutex_unlock(&x->mu);
}

static void set_stage(pair *x, int s) {
  pthread_mutex_lock(&x->mu);
  x->stage = s;
  pthread_cond_broadcast(&x->cv);
  pthread_mutex_unlock(&x->mu);
}

static void *other_thread(void *v) {
  pair *x = v;
  pk_val a = PK_STR("other", 5), r, b[2];
  int i;
  wait_stage(x, 1);
  /* Many calls on the same plugin: they must not touch thread 1's result,
     nor its last error. */
  for (i = 0; i < 1000; i++)
    if (pk_func_call(x->greet, &a, 1, &r, 1) != PK_OK)
      x->ok = 0;
  b[0] = (pk_val)PK_I32(1);
  if (pk_func_call(x->sum, b, 1, &r, 1) != PK_EINVAL) /* 1 argument of 2 */
    x->ok = 0;
  if (strstr(pk_host_errmsg(x->h), "takes 2 arguments") == NULL)
    x->ok = 0;
  set_stage(x, 2);
  return NULL;
}

PK_TEST(results_and_errors_are_per_thread) {
  pk_host *h = test_host();
  pk_plugin *p = open_at(h, TSAFE_SO, NULL);
  pk_val a = PK_STR("mine", 4), r, b[3];
  pthread_t t;
  pair x;
  memset(&x, 0, sizeof x);
  pthread_mutex_init(&x.mu, NULL);
  pthread_cond_init(&x.cv, NULL);
  x.h = h;
  x.ok = 1;
  x.greet = fn(h, p, "greet");
  x.sum = fn(h, p, "sum");
  PKT_EQ_INT(pthread_create(&t, NULL, other_thread, &x), 0);
  PKT_RC(h, pk_func_call(x.greet, &a, 1, &r, 1), PK_OK);
  b[0] = b[1] = b[2] = (pk_val)PK_I32(1);
  PKT_RC(h, pk_func_call(x.sum, b, 3, b, 1), PK_EINVAL); /* 3 of 2 */
  set_stage(&x, 1);
  wait_stage(&x, 2);
  pthread_join(t, NULL);
  PKT_ASSERT(x.ok);
  PKT_STRN_EQ(r.str.ptr, r.str.len, "hello, mine"); /* still valid */
  PKT_CONTAINS(pk_host_errmsg(h), "3 given");       /* still ours */
  pthread_mutex_destroy(&x.mu);
  pthread_cond_destroy(&x.cv);
  pk_host_destroy(h);
  PKT_EQ_INT(pkt_live, 0);
}

/* ---- host functions from many threads ----------------------------------- */

static long twice_calls;
static int twice(void *ud, pk_plugin *caller, const pk_val *args,
                 pk_val *results) {
  (void)ud;
  (void)caller;
  __atomic_add_fetch(&twice_calls, 1, __ATOMIC_RELAXED);
  results[0].i32 = args[0].i32 * 2;
  return PK_OK;
}

static void *host_body(void *v) {
  job *j = v;
  int32_t me = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
  long i, n = CALLS / 10;
  for (i = 0; i < n; i++) {
    pk_val a = PK_I32(me * 10000 + (int32_t)(i % 10000)), r;
    if (pk_func_call(j->f, &a, 1, &r, 1) != PK_OK || r.i32 != 2 * a.i32)
      __atomic_add_fetch(&j->bad, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

static void host_fn_threads(const char *path) {
  pk_host *h = test_host();
  job j;
  PKT_RC(h, pk_host_define(h, "twice", "(i32)->i32", twice, NULL), PK_OK);
  memset(&j, 0, sizeof j);
  twice_calls = 0;
  j.f = fn(h, open_at(h, path, NULL), "call_host");
  run_threads(host_body, &j, THREADS);
  PKT_EQ_INT(j.bad, 0);
  PKT_EQ_INT(twice_calls, THREADS * (CALLS / 10));
  pk_host_destroy(h);
}

PK_TEST(host_function_from_8_threads) { host_fn_threads(TSAFE_SO); }
PK_TEST(serialized_host_function_from_8_threads) {
  host_fn_threads(SERIAL_SO);
}

/* ---- close racing with calls -------------------------------------------- */

typedef struct race {
  pk_func *f;
  int started;
  long ok, closed, other;
} race;

static void *race_body(void *v) {
  race *x = v;
  long ok = 0, closed = 0, other = 0;
  __atomic_add_fetch(&x->started, 1, __ATOMIC_SEQ_CST);
  for (;;) {
    pk_val a[2] = {PK_I32(20), PK_I32(22)}, r;
    int rc = pk_func_call(x->f, a, 2, &r, 1);
    if (rc == PK_OK && r.i32 == 42)
      ok++;
    else if (rc == PK_ECLOSED) {
      if (++closed == 100) /* a few more after the first */
        break;
    } else if (++other > 0)
      break;
  }
  __atomic_add_fetch(&x->ok, ok, __ATOMIC_RELAXED);
  __atomic_add_fetch(&x->closed, closed, __ATOMIC_RELAXED);
  __atomic_add_fetch(&x->other, other, __ATOMIC_RELAXED);
  return NULL;
}

static void close_races(const char *path, int rounds) {
  pk_host *h = test_host();
  int k;
  for (k = 0; k < rounds; k++) {
    pthread_t t[4];
    race x;
    pk_plugin *p = open_at(h, path, NULL);
    int i;
    memset(&x, 0, sizeof x);
    x.f = fn(h, p, "sum");
    for (i = 0; i < 4; i++)
      PKT_EQ_INT(pthread_create(&t[i], NULL, race_body, &x), 0);
    while (__atomic_load_n(&x.started, __ATOMIC_SEQ_CST) < 4)
      ;
    pk_plugin_close(p); /* while the four call it */
    for (i = 0; i < 4; i++)
      pthread_join(t[i], NULL);
    PKT_EQ_INT(x.other, 0);
    PKT_EQ_INT(x.closed, 400);
    pk_host_reclaim(h);
  }
  pk_host_destroy(h);
  PKT_EQ_INT(pkt_live, 0);
}

PK_TEST(close_while_threads_call) { close_races(TSAFE_SO, 20); }
PK_TEST(serialized_close_while_threads_call) { close_races(SERIAL_SO, 20); }

PK_TEST(call_after_close_is_eclosed) {
  pk_host *h = test_host();
  pk_plugin *p = open_at(h, TSAFE_SO, NULL);
  pk_func *f = fn(h, p, "sum"), *g = NULL;
  pk_val a[2] = {PK_I32(1), PK_I32(2)}, r;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  PKT_RC(h, pk_func_call(f, a, 2, &r, 1), PK_OK);
  pk_plugin_close(p);
  PKT_RC(h, pk_func_call(f, a, 2, &r, 1), PK_ECLOSED);
  PKT_CONTAINS(pk_host_errmsg(h), "call: 'sum': the plugin was closed");
  PKT_RC(h, pk_plugin_func(p, "sum", NULL, &g), PK_ECLOSED);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK); /* still readable */
  PKT_STR_EQ(info.name, "threads_tsafe");
  pk_plugin_close(p); /* twice: harmless */
  pk_host_reclaim(h);
  pk_host_destroy(h);
  PKT_EQ_INT(pkt_live, 0);
}

/* ---- lanes of exited threads are reused ----------------------------------- */

static void *one_call(void *v) {
  job *j = v;
  pk_val a[2] = {PK_I32(1), PK_I32(2)}, r;
  if (pk_func_call(j->f, a, 2, &r, 1) != PK_OK || r.i32 != 3)
    __atomic_add_fetch(&j->bad, 1, __ATOMIC_RELAXED);
  return NULL;
}

/* A host that starts a thread per request: each thread's lane (and its
   number) goes to the next thread when it exits, so the plugin's memory
   stays what a few threads need. */
PK_TEST(short_lived_threads_reuse_lanes) {
  pk_host *h = test_host();
  job j;
  long live_after_first, i;
  memset(&j, 0, sizeof j);
  j.f = fn(h, open_at(h, TSAFE_SO, NULL), "sum");
  run_threads(one_call, &j, 1);
  live_after_first = pkt_live;
  for (i = 0; i < 300; i++)
    run_threads(one_call, &j, 1);
  PKT_EQ_INT(j.bad, 0);
  PKT_ASSERT(pkt_live <= live_after_first + 2);
  pk_host_destroy(h);
}

/* ---- options that do not apply --------------------------------------------- */

PK_TEST(pool_options_refused) {
  pk_host *h = test_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  o.max_instances = 2;
  PKT_RC(h, pk_plugin_open(h, TSAFE_SO, &o, &p), PK_ENOSYS);
  PKT_CONTAINS(pk_host_errmsg(h), "max_instances");
  o.max_instances = 0;
  o.reset_after_call = 1;
  PKT_RC(h, pk_plugin_open(h, TSAFE_SO, &o, &p), PK_ENOSYS);
  PKT_CONTAINS(pk_host_errmsg(h), "reset_after_call");
  o.reset_after_call = 0;
  o.max_instances = -1;
  PKT_RC(h, pk_plugin_open(h, TSAFE_SO, &o, &p), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "max_instances is -1");
  PKT_ASSERT(p == NULL);
  pk_host_destroy(h);
}

