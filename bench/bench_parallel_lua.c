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

static pkb_plugin pb;
static int par_setup(void **out) {
  if (!pkb_backend_built("lua"))
    return pkb_skip("the lua backend is not built");
  *out = &pb;
  return pkb_open(&pb, PKB_LUA_POOL_FIXTURE, "sum", "(i32,i32)->i32", 0);
}

/* The conformance fixture with reset_after_call: its init and fini run
   with every reset (fini logs a line: no sink here). */
static int reset_setup(void **out) {
  static pkb_plugin b;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  if (!pkb_backend_built("lua"))
    return pkb_skip("the lua backend is not built");
  memset(&b, 0, sizeof b);
  if ((b.host = pkb_host()) == NULL)
    return pkb_skip("no host");
  o.reset_after_call = 1;
  if (pk_plugin_open(b.host, PKB_LUA_POOL_FIXTURE, &o, &b.plugin) < 0 ||
      pk_plugin_func(b.plugin, "sum", "(i32,i32)->i32", &b.fn) < 0) {
    pkb_skip("%s", pk_host_errmsg(b.host));
    pk_host_destroy(b.host);
    return 1;
  }
  *out = &b;
  return 0;
}

PKB_PAR_ROW(ParallelLua, par_setup, pkb_par_sum, pkb_close)
PKB_ROW(LuaResetAfterCall, reset_setup, pkb_run_sum, pkb_close)
