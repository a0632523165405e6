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
PKB_ROW(WasmRustSum, setup_rust, pkb_run_sum, pkb_close)
PKB_ROW(WasmGreet, setup_greet, pkb_run_greet, pkb_close)
PKB_ROW(WasmHostCall, setup_hostcall, pkb_run_i32, pkb_close)
PKB_ROW(LoadWasm, setup_csum, pkb_run_load, pkb_close)
