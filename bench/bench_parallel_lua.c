/*
 * bench_parallel_lua.c: ParallelLua, the lua backend's instance pool.
 * ns_per_op is sum on one thread (as LuaPlugin, on a pooled plugin);
 * scaling is the calls per second of 2 threads calling sum on the same
 * plugin (each in a state of its own: max_instances is the CPU count)
 * over those of 1 thread, each thread counting its calls for a fixed
 * time. The best of a few rounds of each, as the machine may be shared.
 * On a loaded machine the threads may not get two CPUs, and scaling says
 * little: the row also prints the CPU time per call of each thread
 * (CLOCK_THREAD_CPUTIME_ID), the same at 1 and 2 threads when the calls
 * do not contend.
 * LuaResetAfterCall: sum on one thread with reset_after_call, the state
 * replaced after each call (what the reset costs, next to LuaPlugin).
 */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#ifndef PKB_LUA_POOL_FIXTURE
#define PKB_LUA_POOL_FIXTURE "tests/fixtures/conformance.lua"
#endif

#define ROUNDS 5
#define ROUND_MS 150

typedef struct par_bench {
  pk_host *host;
  pk_plugin *plugin;
  pk_func *sum;
} par_bench;

typedef struct par_thread {
  pthread_t t;
  pk_func *sum;
  uint64_t calls;
  double cpu_s; /* the thread's CPU time */
  int32_t acc;
  char pad[64]; /* no two threads' counters in one cache line */
} par_thread;

static atomic_int par_stop;

static double cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *par_run(void *arg) {
  par_thread *pt = arg;
  pk_val in[2] = {PK_I32(1), PK_I32(0)}, out;
  int32_t acc = 0;
  uint64_t n = 0;
  double c0 = cpu_now();
  while (!atomic_load_explicit(&par_stop, memory_order_relaxed)) {
    int i;
    for (i = 0; i < 256; i++) {
      in[1].i32 = (int32_t)n++;
      pk_func_call(pt->sum, in, 2, &out, 1);
      acc += out.i32;
    }
  }
  pt->calls = n;
  pt->cpu_s = cpu_now() - c0;
  pt->acc = acc; /* sunk by the main thread */
  return NULL;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Calls per second of `k` threads calling sum for about ROUND_MS; *cpu_ns
   gets the CPU time per call (all threads). */
static double par_rate(pk_func *sum, int k, double *cpu_ns) {
  par_thread pt[2];
  struct timespec nap = {0, ROUND_MS * 1000000L};
  double t0, dt, cpu = 0;
  uint64_t total = 0;
  int i;
  atomic_store(&par_stop, 0);
  t0 = now_s();
  for (i = 0; i < k; i++) {
    memset(&pt[i], 0, sizeof pt[i]);
    pt[i].sum = sum;
    if (pthread_create(&pt[i].t, NULL, par_run, &pt[i]) != 0)
      return 0;
  }
  nanosleep(&nap, NULL);
  atomic_store(&par_stop, 1);
  for (i = 0; i < k; i++) {
    pthread_join(pt[i].t, NULL);
    total += pt[i].calls;
    cpu += pt[i].cpu_s;
    pkb_sink((uint64_t)pt[i].acc);
  }
  dt = now_s() - t0;
  *cpu_ns = total > 0 ? cpu * 1e9 / (double)total : 0;
  return dt > 0 ? (double)total / dt : 0;
}

static int backend_built(const char *name) {
  const char *const *b;
  for (b = pk_backends(); *b != NULL; b++)
    if (strcmp(*b, name) == 0)
      return 1;
  return 0;
}

static int par_setup(void **out) {
  static par_bench b;
  double best1 = 0, best2 = 0, cpu1 = 1e30, cpu2 = 1e30;
  int r;
  if (!backend_built("lua"))
    return pkb_skip("the lua backend is not built");
  memset(&b, 0, sizeof b);
  /* The C library's allocator (no counting: its counters would be shared
     by the threads); the scalar call path allocates nothing anyway. */
  if (pk_host_create(NULL, &b.host) != PK_OK)
    return pkb_skip("no host");
  if (pk_plugin_open(b.host, PKB_LUA_POOL_FIXTURE, NULL, &b.plugin) < 0 ||
      pk_plugin_func(b.plugin, "sum", "(i32,i32)->i32", &b.sum) < 0) {
    pkb_skip("%s", pk_host_errmsg(b.host));
    pk_host_destroy(b.host);
    return 1;
  }
  for (r = 0; r < ROUNDS; r++) {
    double c1, c2, r1 = par_rate(b.sum, 1, &c1), r2 = par_rate(b.sum, 2, &c2);
    if (c1 < cpu1)
      cpu1 = c1;
    if (c2 < cpu2)
      cpu2 = c2;
    if (r1 > best1)
      best1 = r1;
    if (r2 > best2)
      best2 = r2;
  }
  if (best1 > 0)
    pkb_scaling(best2 / best1);
  fprintf(stderr,
          "  ParallelLua: %.0f calls/s at 1 thread, %.0f at 2; CPU time "
          "per call %.1f ns at 1 thread, %.1f at 2\n",
          best1, best2, cpu1, cpu2);
  *out = &b;
  return 0;
}

static void par_sum(void *st, uint64_t n) {
  par_bench *b = st;
  pk_val in[2] = {PK_I32(1), PK_I32(0)}, out;
  int32_t acc = 0;
  uint64_t i;
  for (i = 0; i < n; i++) {
    in[1].i32 = (int32_t)i;
    pk_func_call(b->sum, in, 2, &out, 1);
    acc += out.i32;
  }
  pkb_sink((uint64_t)acc);
}

static void par_teardown(void *st) {
  par_bench *b = st;
  pk_host_destroy(b->host);
}

/* The conformance fixture with reset_after_call: its init and fini run
   with every reset (fini logs a line: no sink here). */
static int reset_setup(void **out) {
  static par_bench b;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  if (!backend_built("lua"))
    return pkb_skip("the lua backend is not built");
  memset(&b, 0, sizeof b);
  if ((b.host = pkb_host()) == NULL)
    return pkb_skip("no host");
  o.reset_after_call = 1;
  if (pk_plugin_open(b.host, PKB_LUA_POOL_FIXTURE, &o, &b.plugin) < 0 ||
      pk_plugin_func(b.plugin, "sum", "(i32,i32)->i32", &b.sum) < 0) {
    pkb_skip("%s", pk_host_errmsg(b.host));
    pk_host_destroy(b.host);
    return 1;
  }
  *out = &b;
  return 0;
}

PKB_ROW(ParallelLua, par_setup, par_sum, par_teardown)
PKB_ROW(LuaResetAfterCall, reset_setup, par_sum, par_teardown)
