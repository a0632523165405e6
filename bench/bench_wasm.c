/*
 * bench_wasm.c: the wasm backend's rows, through the public API.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

typedef struct wasm_bench {
  pk_host *host;
  pk_plugin *plugin;
  pk_func *fn;
  char path[1024];
} wasm_bench;

static wasm_bench wb;

static int triple(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  results[0].i32 = args[0].i32 * 3;
  return PK_OK;
}

static int open_fn(const char *file, const char *fn, const char *sig,
                   void **out) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  memset(&wb, 0, sizeof wb);
  snprintf(wb.path, sizeof wb.path, "%s/%s", pkb_dir(), file);
  if ((wb.host = pkb_host()) == NULL)
    return pkb_skip("no host");
  pk_host_define(wb.host, "triple", "(i32)->i32", triple, NULL);
  o.grants = "triple";
  if (pk_plugin_open(wb.host, wb.path, &o, &wb.plugin) < 0 ||
      pk_plugin_func(wb.plugin, fn, sig, &wb.fn) < 0) {
    pkb_skip("%s", pk_host_errmsg(wb.host));
    pk_host_destroy(wb.host);
    return 1;
  }
  *out = &wb;
  return 0;
}

static void teardown(void *st) {
  wasm_bench *b = st;
  pk_host_destroy(b->host);
}

static int setup_csum(void **out) {
  return open_fn("conformance.wasm", "sum", "(i32,i32)->i32", out);
}
static int setup_rust(void **out) {
  return open_fn("rust_plugin.wasm", "sum", "(i32,i32)->i32", out);
}
static int setup_greet(void **out) {
  return open_fn("conformance.wasm", "greet", "(str)->str", out);
}
static int setup_hostcall(void **out) {
  return open_fn("limits.wasm", "typed", "(i32)->i32", out);
}

static void run_sum(void *st, uint64_t n) {
  wasm_bench *b = st;
  pk_val in[2] = {PK_I32(1), PK_I32(0)}, out;
  int32_t acc = 0;
  uint64_t i;
  for (i = 0; i < n; i++) {
    in[1].i32 = (int32_t)i;
    pk_func_call(b->fn, in, 2, &out, 1);
    acc += out.i32;
  }
  pkb_sink((uint64_t)acc);
}

static void run_greet(void *st, uint64_t n) {
  wasm_bench *b = st;
  pk_val in = PK_STR("0123456789abcdef", 16), out;
  uint64_t i, total = 0;
  for (i = 0; i < n; i++) {
    pk_func_call(b->fn, &in, 1, &out, 1);
    total += out.str.len;
  }
  pkb_sink(total);
}

static void run_hostcall(void *st, uint64_t n) {
  wasm_bench *b = st;
  pk_val in = PK_I32(0), out;
  int32_t acc = 0;
  uint64_t i;
  for (i = 0; i < n; i++) {
    in.i32 = (int32_t)i;
    pk_func_call(b->fn, &in, 1, &out, 1);
    acc += out.i32;
  }
  pkb_sink((uint64_t)acc);
}

/* Open + first call + close of the conformance fixture, per operation. */
static void run_load(void *st, uint64_t n) {
  wasm_bench *b = st;
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out;
  uint64_t i;
  for (i = 0; i < n; i++) {
    pk_plugin *p;
    pk_func *f;
    if (pk_plugin_open(b->host, b->path, NULL, &p) < 0)
      continue;
    if (pk_plugin_func(p, "sum", "(i32,i32)->i32", &f) == 0)
      pk_func_call(f, in, 2, &out, 1);
    pk_plugin_close(p);
    pkb_sink((uint64_t)out.i32);
  }
}

PKB_ROW(WasmCSum, setup_csum, run_sum, teardown)
PKB_ROW(WasmRustSum, setup_rust, run_sum, teardown)
PKB_ROW(WasmGreet, setup_greet, run_greet, teardown)
PKB_ROW(WasmHostCall, setup_hostcall, run_hostcall, teardown)
PKB_ROW(LoadWasm, setup_csum, run_load, teardown)
