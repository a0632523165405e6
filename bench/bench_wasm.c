/*
 * bench_wasm.c: the wasm backend's rows, through the public API.
 */
#include "bench.h"

static pkb_plugin wb;

static int setup_csum(void **out) {
  *out = &wb;
  return pkb_open(&wb, "conformance.wasm", "sum", "(i32,i32)->i32", 0);
}
static int setup_rust(void **out) {
  *out = &wb;
  return pkb_open(&wb, "rust_plugin.wasm", "sum", "(i32,i32)->i32", 0);
}
static int setup_greet(void **out) {
  *out = &wb;
  return pkb_open(&wb, "conformance.wasm", "greet", "(str)->str", 0);
}
/* limits.wasm's typed() calls the host function through a typed import. */
static int setup_hostcall(void **out) {
  *out = &wb;
  return pkb_open(&wb, "limits.wasm", "typed", "(i32)->i32", 0);
}

PKB_ROW(WasmCSum, setup_csum, pkb_run_sum, pkb_close)
/* The same on the jit tier (pk_open_opts.tier = "jit"). */
static int setup_csum_jit(void **out) {
  *out = &wb;
  return pkb_open_tier(&wb, "conformance.wasm", "sum", "(i32,i32)->i32", 0,
                       "jit");
}
PKB_ROW(WasmCSumJit, setup_csum_jit, pkb_run_sum, pkb_close)
/* open (C generated and compiled by libtcc) + first call + close. */
PKB_ROW(LoadWasmJit, setup_csum_jit, pkb_run_load, pkb_close)
/* The aot tier, from the cache the build filled (bench/wasm_aot.cmake). */
static int setup_csum_aot(void **out) {
  *out = &wb;
  return pkb_open_tier(&wb, "conformance.wasm", "sum", "(i32,i32)->i32", 0,
                       "aot");
}
PKB_ROW(WasmCSumAot, setup_csum_aot, pkb_run_sum, pkb_close)
/* open (artifact found, checked, loaded) + first call + close. */
PKB_ROW(LoadWasmAot, setup_csum_aot, pkb_run_load, pkb_close)
PKB_ROW(WasmRustSum, setup_rust, pkb_run_sum, pkb_close)
PKB_ROW(WasmGreet, setup_greet, pkb_run_greet, pkb_close)
PKB_ROW(WasmHostCall, setup_hostcall, pkb_run_i32, pkb_close)
PKB_ROW(LoadWasm, setup_csum, pkb_run_load, pkb_close)

/* LoadWasm with validate_all: every function body validated and
   translated at open, where LoadWasm leaves each to its first call. */
static void run_load_eager(void *st, uint64_t n) {
  pkb_plugin *b = st;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out = PK_I32(0);
  uint64_t i;
  o.validate_all = 1;
  for (i = 0; i < n; i++) {
    pk_plugin *p;
    pk_func *f;
    if (pk_plugin_open(b->host, b->path, &o, &p) < 0)
      continue;
    if (pk_plugin_func(p, "sum", "(i32,i32)->i32", &f) == 0)
      pk_func_call(f, in, 2, &out, 1);
    pk_plugin_close(p);
    pkb_sink((uint64_t)out.i32);
  }
}
PKB_ROW(LoadWasmValidateAll, setup_csum, run_load_eager, pkb_close)
