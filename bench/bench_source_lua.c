/*
 * bench_source_lua.c: rows of the source backend (C compiled at load by
 * libtcc) and of the lua backend, on the conformance fixture's source and
 * its Lua twin, plus the load rows on a plugin of about 100 lines.
 * Rows skip (with the reason) when a backend is not built.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

/* Set by bench/source_lua.cmake. */
#ifndef PKB_SOURCE_FIXTURE
#define PKB_SOURCE_FIXTURE "tests/fixtures/conformance.c"
#endif
#ifndef PKB_SOURCE_LOAD
#define PKB_SOURCE_LOAD "tests/fixtures/source/hundred.c"
#endif
#ifndef PKB_LUA_FIXTURE
#define PKB_LUA_FIXTURE "tests/fixtures/conformance.lua"
#endif
#ifndef PKB_LUA_LOAD
#define PKB_LUA_LOAD "tests/fixtures/lua/hundred.lua"
#endif

typedef struct sl_bench {
  pk_host *host;
  pk_plugin *plugin;
  pk_func *sum, *greet;
  const char *load_path; /* for the load rows */
} sl_bench;

/* Open `path` with `backend` and resolve sum and greet. */
static int sl_setup(void **out, const char *backend, const char *path,
                    const char *load_path) {
  static sl_bench b;
  if (!pkb_backend_built(backend))
    return pkb_skip("the %s backend is not built", backend);
  memset(&b, 0, sizeof b);
  b.load_path = load_path;
  if ((b.host = pkb_host()) == NULL)
    return pkb_skip("no host");
  if (pk_plugin_open(b.host, path, NULL, &b.plugin) < 0 ||
      pk_plugin_func(b.plugin, "sum", "(i32,i32)->i32", &b.sum) < 0 ||
      pk_plugin_func(b.plugin, "greet", "(str)->str", &b.greet) < 0) {
    pkb_skip("%s", pk_host_errmsg(b.host));
    pk_host_destroy(b.host);
    return 1;
  }
  *out = &b;
  return 0;
}

static int source_setup(void **out) {
  return sl_setup(out, "source", PKB_SOURCE_FIXTURE, PKB_SOURCE_LOAD);
}

static int lua_setup(void **out) {
  return sl_setup(out, "lua", PKB_LUA_FIXTURE, PKB_LUA_LOAD);
}

static void sl_teardown(void *st) {
  sl_bench *b = st;
  pk_host_destroy(b->host);
}

/* As the native rows do: one argument varies, results accumulate. */
static void run_sum(void *st, uint64_t n) {
  sl_bench *b = st;
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

static void run_greet(void *st, uint64_t n) {
  sl_bench *b = st;
  pk_val in = PK_STR("0123456789abcdef", 16), out;
  uint64_t i, total = 0;
  for (i = 0; i < n; i++) {
    pk_func_call(b->greet, &in, 1, &out, 1);
    total += out.str.len;
  }
  pkb_sink(total);
}

/* Compile (source) or load (lua) + open + first call + close, per
   operation, of the 100-line plugin. */
static void run_load(void *st, uint64_t n) {
  sl_bench *b = st;
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out;
  uint64_t i;
  out.i32 = 0;
  for (i = 0; i < n; i++) {
    pk_plugin *p;
    pk_func *f;
    if (pk_plugin_open(b->host, b->load_path, NULL, &p) < 0)
      continue;
    if (pk_plugin_func(p, "sum", "(i32,i32)->i32", &f) == 0)
      pk_func_call(f, in, 2, &out, 1);
    pk_plugin_close(p);
    pkb_sink((uint64_t)out.i32);
  }
}

PKB_ROW(SourcePlugin, source_setup, run_sum, sl_teardown)
PKB_ROW(SourceGreet, source_setup, run_greet, sl_teardown)
PKB_ROW(LuaPlugin, lua_setup, run_sum, sl_teardown)
PKB_ROW(LuaGreet, lua_setup, run_greet, sl_teardown)
PKB_ROW(LoadSource, source_setup, run_load, sl_teardown)
PKB_ROW(LoadLua, lua_setup, run_load, sl_teardown)
