/*
 * bench_parallel_lua.c: ParallelLua, the lua backend's instance pool: sum
 * on one pooled plugin from 1 and 2 threads (PKB_PAR_ROW; max_instances
 * is the CPU count, so each thread has a state of its own).
 * LuaResetAfterCall: sum on one thread with reset_after_call, the state
 * replaced after each call (what the reset costs, next to LuaPlugin).
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

#ifndef PKB_LUA_POOL_FIXTURE
#define PKB_LUA_POOL_FIXTURE "tests/fixtures/conformance.lua"
#endif

typedef struct par_bench {
  pk_host *host;
  pk_plugin *plugin;
  pk_func *sum;
} par_bench;

static int backend_built(const char *name) {
  const char *const *b;
  for (b = pk_backends(); *b != NULL; b++)
    if (strcmp(*b, name) == 0)
      return 1;
  return 0;
}

static pkb_plugin pb;
static int par_setup(void **out) {
  if (!backend_built("lua"))
    return pkb_skip("the lua backend is not built");
  *out = &pb;
  return pkb_open(&pb, PKB_LUA_POOL_FIXTURE, "sum", "(i32,i32)->i32", 0);
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

PKB_PAR_ROW(ParallelLua, par_setup, pkb_par_sum, pkb_close)
PKB_ROW(LuaResetAfterCall, reset_setup, par_sum, par_teardown)
