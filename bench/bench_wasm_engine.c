/*
 * bench_wasm_engine.c: rows of the built-in WebAssembly engine, each next
 * to its native twin (the same C source in bench/workloads/, compiled into
 * pk_bench with gcc -O2; the wasm side with clang --target=wasm32-wasi
 * -O2). Issue 3's goals: WasmFib <= 10x NativeFib, WasmMix <= 15x
 * NativeMix, WasmSort <= 6x NativeSort, WasmCallSum <= 8 ns and 0
 * allocs/op, WasmInstantiate <= 3 us.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm.h"
#include "workloads/workloads.h"

#define FIB_N 25
#define MIX_ITERS 50
#define SORT_N (1 << 20)

typedef struct wasm_bench {
  pkw_module *m;
  pkw_instance *inst;
  pkw_func *f;
} wasm_bench;

static const pkw_alloc counting = {pkb_realloc, NULL};

/* Loads PKB_DIR/wasm/<file> and looks up export fn; nonzero = skip. */
static int wasm_open(wasm_bench *b, const char *file, const char *fn) {
  char path[1024], err[256];
  FILE *f;
  uint8_t *buf;
  long n;
  int rc;
  memset(b, 0, sizeof *b);
  snprintf(path, sizeof path, "%s/wasm/%s", pkb_dir(), file);
  f = fopen(path, "rb");
  if (f == NULL)
    return pkb_skip("%s missing (needs clang with wasm32-wasi)", path);
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc((size_t)n);
  if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(buf);
    return pkb_skip("cannot read %s", path);
  }
  fclose(f);
  rc = pkw_module_decode(&counting, buf, (size_t)n, &b->m, err, sizeof err);
  free(buf);
  if (rc != 0)
    return pkb_skip("%s: %s", file, err);
  rc = pkw_instance_create(b->m, NULL, 0, NULL, &b->inst, err, sizeof err);
  if (rc != 0) {
    pkw_instance_destroy(b->inst);
    pkw_module_destroy(b->m);
    return pkb_skip("%s: %s", file, err);
  }
  if (pkw_instance_func(b->inst, fn, &b->f) != 0) {
    pkw_instance_destroy(b->inst);
    pkw_module_destroy(b->m);
    return pkb_skip("%s: no export %s", file, fn);
  }
  return 0;
}

static void wasm_close(void *st) {
  wasm_bench *b = st;
  pkw_instance_destroy(b->inst);
  pkw_module_destroy(b->m);
}

static uint64_t wasm_call1(wasm_bench *b, uint64_t a0, uint64_t a1,
                           uint32_t nargs) {
  uint64_t args[2] = {a0, a1}, r = 0;
  if (pkw_call(b->f, args, nargs, &r, 1) != 0) {
    fprintf(stderr, "wasm bench: trap\n");
    abort();
  }
  return r;
}

/* ---- fib ------------------------------------------------------------------ */

static void native_fib(void *st, uint64_t n) {
  uint64_t i;
  (void)st;
  for (i = 0; i < n; i++)
    pkb_sink((uint64_t)pkwl_fib(FIB_N));
}

static wasm_bench fib_b;
static int fib_setup(void **out) {
  *out = &fib_b;
  return wasm_open(&fib_b, "fib.wasm", "pkwl_fib");
}
static void wasm_fib(void *st, uint64_t n) {
  uint64_t i;
  for (i = 0; i < n; i++)
    pkb_sink(wasm_call1(st, FIB_N, 0, 1));
}

PKB_ROW(NativeFib, NULL, native_fib, NULL)
PKB_ROW(WasmFib, fib_setup, wasm_fib, wasm_close)

/* ---- mix ------------------------------------------------------------------ */

static void native_mix(void *st, uint64_t n) {
  uint64_t i;
  (void)st;
  for (i = 0; i < n; i++)
    pkb_sink(pkwl_mix(MIX_ITERS));
}

static wasm_bench mix_b;
static int mix_setup(void **out) {
  *out = &mix_b;
  return wasm_open(&mix_b, "mix.wasm", "pkwl_mix");
}
static void wasm_mix(void *st, uint64_t n) {
  uint64_t i;
  for (i = 0; i < n; i++)
    pkb_sink(wasm_call1(st, MIX_ITERS, 0, 1));
}

PKB_ROW(NativeMix, NULL, native_mix, NULL)
PKB_ROW(WasmMix, mix_setup, wasm_mix, wasm_close)

/* ---- sort ----------------------------------------------------------------- */

static void native_sort(void *st, uint64_t n) {
  uint64_t i;
  (void)st;
  for (i = 0; i < n; i++)
    pkb_sink(pkwl_sort(SORT_N, (uint32_t)i + 1));
}

static wasm_bench sort_b;
static int sort_setup(void **out) {
  *out = &sort_b;
  return wasm_open(&sort_b, "sort.wasm", "pkwl_sort");
}
static void wasm_sort(void *st, uint64_t n) {
  uint64_t i;
  for (i = 0; i < n; i++)
    pkb_sink(wasm_call1(st, SORT_N, (uint32_t)i + 1, 2));
}

PKB_ROW(NativeSort, NULL, native_sort, NULL)
PKB_ROW(WasmSort, sort_setup, wasm_sort, wasm_close)

/* ---- the jit tier ------------------------------------------------------- */

/* The same modules opened through the public API on the jit tier (the
   engine's jit lives in libplugkit, with its libtcc): a call costs the
   API's few ns more, which the workloads (0.1 ms and up) do not see. */
static pkb_plugin jit_b;
static int jit_open(void **out, const char *file, const char *fn) {
  char rel[64];
  *out = &jit_b;
  snprintf(rel, sizeof rel, "wasm/%s", file);
  return pkb_open_tier(&jit_b, rel, fn, NULL, 0, "jit");
}
static int fib_jit_setup(void **out) {
  return jit_open(out, "fib.wasm", "pkwl_fib");
}
static int mix_jit_setup(void **out) {
  return jit_open(out, "mix.wasm", "pkwl_mix");
}
static int sort_jit_setup(void **out) {
  return jit_open(out, "sort.wasm", "pkwl_sort");
}
static void jit_run(pkb_plugin *b, uint64_t n, int32_t a0, int sort) {
  pk_val in[2] = {PK_I32(a0), PK_I32(0)}, out;
  uint64_t i;
  for (i = 0; i < n; i++) {
    in[1].i32 = (int32_t)i + 1;
    if (pk_func_call(b->fn, in, sort ? 2 : 1, &out, 1) != PK_OK) {
      fprintf(stderr, "wasm jit bench: %s\n", pk_host_errmsg(b->host));
      abort();
    }
    pkb_sink((uint64_t)out.i32);
  }
}
static void jit_fib(void *st, uint64_t n) { jit_run(st, n, FIB_N, 0); }
static void jit_mix(void *st, uint64_t n) { jit_run(st, n, MIX_ITERS, 0); }
static void jit_sort(void *st, uint64_t n) { jit_run(st, n, SORT_N, 1); }
PKB_ROW(WasmFibJit, fib_jit_setup, jit_fib, pkb_close)
PKB_ROW(WasmMixJit, mix_jit_setup, jit_mix, pkb_close)
PKB_ROW(WasmSortJit, sort_jit_setup, jit_sort, pkb_close)

/* The aot tier: the same, from the artifacts the build put in the
   bench's cache (bench/wasm_aot.cmake). */
static int aot_open(void **out, const char *file, const char *fn) {
  char rel[64];
  *out = &jit_b;
  snprintf(rel, sizeof rel, "wasm/%s", file);
  return pkb_open_tier(&jit_b, rel, fn, NULL, 0, "aot");
}
static int fib_aot_setup(void **out) {
  return aot_open(out, "fib.wasm", "pkwl_fib");
}
static int mix_aot_setup(void **out) {
  return aot_open(out, "mix.wasm", "pkwl_mix");
}
static int sort_aot_setup(void **out) {
  return aot_open(out, "sort.wasm", "pkwl_sort");
}
PKB_ROW(WasmFibAot, fib_aot_setup, jit_fib, pkb_close)
PKB_ROW(WasmMixAot, mix_aot_setup, jit_mix, pkb_close)
PKB_ROW(WasmSortAot, sort_aot_setup, jit_sort, pkb_close)

/* ---- host -> wasm call ------------------------------------------------- */

static wasm_bench sum_b;
static int sum_setup(void **out) {
  *out = &sum_b;
  return wasm_open(&sum_b, "fib.wasm", "pkwl_sum");
}
static void wasm_sum(void *st, uint64_t n) {
  wasm_bench *b = st;
  uint64_t args[2], r = 0, i, acc = 0;
  for (i = 0; i < n; i++) {
    args[0] = (uint32_t)acc;
    args[1] = (uint32_t)i;
    (void)pkw_call(b->f, args, 2, &r, 1);
    acc = r;
  }
  pkb_sink(acc);
}

PKB_ROW(WasmCallSum, sum_setup, wasm_sum, wasm_close)

/* ---- instantiate a tiny module ----------------------------------------- */

/* (module (func (export "sum") (param i32 i32) (result i32)
 *   local.get 0 local.get 1 i32.add)) */
static const uint8_t tiny[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x07, 0x01,
    0x60, 0x02, 0x7f, 0x7f, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x07,
    0x07, 0x01, 0x03, 0x73, 0x75, 0x6d, 0x00, 0x00, 0x0a, 0x09, 0x01,
    0x07, 0x00, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x0b};

static void wasm_instantiate(void *st, uint64_t n) {
  pkw_limits lim;
  uint64_t i;
  (void)st;
  memset(&lim, 0, sizeof lim);
  lim.stack_slots = 1024;       /* a tiny module needs a tiny stack */
  lim.max_call_depth = 256;
  for (i = 0; i < n; i++) {
    pkw_module *m = NULL;
    pkw_instance *inst = NULL;
    if (pkw_module_decode(&counting, tiny, sizeof tiny, &m, NULL, 0) != 0 ||
        pkw_instance_create(m, NULL, 0, &lim, &inst, NULL, 0) != 0)
      abort();
    pkb_sink((uint64_t)(uintptr_t)inst);
    pkw_instance_destroy(inst);
    pkw_module_destroy(m);
  }
}

PKB_ROW(WasmInstantiate, NULL, wasm_instantiate, NULL)
