/*
 * bench_work.c: workloads beyond a sum, the same plugin source on every
 * backend that can run it: Fib/<backend> (fib(20), a compute-heavy
 * call), Sort/<backend> (64 Ki int32 values), Bulk/<backend> (1 MiB in and
 * 1 MiB out), HostCall/<backend> (one host callback through the generic
 * host_find/host_call API). Rows appear for the artifacts built.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SORT_N (64 * 1024)
#define BULK_N (1024 * 1024)

typedef struct work {
  pkb_plugin b; /* first: the shared loops take a work * as a pkb_plugin * */
  uint8_t *data;
} work;

static work w;

static int open_work(const char *file, const char *fn, int isolation,
                     const char *tier, void **out) {
  if (pkb_open_tier(&w.b, file, fn, NULL, isolation, tier) != 0)
    return 1;
  w.data = malloc(BULK_N > SORT_N * 4 ? BULK_N : SORT_N * 4);
  if (w.data != NULL) {
    uint32_t x = 12345;
    size_t i;
    for (i = 0; i < SORT_N; i++) { /* the same pseudo-random input */
      x = x * 1103515245u + 12345u;
      ((int32_t *)(void *)w.data)[i] = (int32_t)(x >> 1);
    }
  }
  *out = &w;
  return 0;
}

static void teardown(void *st) {
  work *b = st;
  free(b->data);
  b->data = NULL;
  pkb_close(&b->b);
}

static void run_fib(void *st, uint64_t n) {
  work *b = st;
  pk_val in = PK_I32(20), out;
  uint64_t i, acc = 0;
  for (i = 0; i < n; i++) {
    pk_func_call(b->b.fn, &in, 1, &out, 1);
    acc += (uint64_t)out.i64;
  }
  pkb_sink(acc);
}

static void run_sort(void *st, uint64_t n) {
  work *b = st;
  pk_val in = PK_BYTES(b->data, SORT_N * 4), out;
  uint64_t i, acc = 0;
  for (i = 0; i < n; i++) {
    pk_func_call(b->b.fn, &in, 1, &out, 1);
    acc += out.bytes.len;
  }
  pkb_sink(acc);
}

static void run_bulk(void *st, uint64_t n) {
  work *b = st;
  pk_val in = PK_BYTES(b->data, BULK_N), out;
  uint64_t i, acc = 0;
  for (i = 0; i < n; i++) {
    pk_func_call(b->b.fn, &in, 1, &out, 1);
    acc += out.bytes.len;
  }
  pkb_sink(acc);
}

/* One setup per (artifact, function). */
#define WORK(row, file, fn, iso, runner) WORK_T(row, file, fn, iso, NULL, runner)
#define WORK_T(row, file, fn, iso, tier, runner)                            \
  static int setup_##row(void **out) {                                      \
    return open_work(file, fn, iso, tier, out);                             \
  }                                                                         \
  __attribute__((constructor)) static void reg_##row(void) {                \
    pkb_register(#row, setup_##row, runner, teardown);                      \
  }

#define WORK_ROWS(be, file, iso)                                            \
  WORK(Fib_##be, file, "fib", iso, run_fib)                                 \
  WORK(Sort_##be, file, "sort", iso, run_sort)                              \
  WORK(Bulk_##be, file, "bulk", iso, run_bulk)                              \
  WORK(HostCall_##be, file, "hostcall", iso, pkb_run_i32)

WORK_ROWS(native, "work.so", PK_ISOLATE_NONE)
WORK_ROWS(wasm, "work.wasm", PK_ISOLATE_NONE)
/* The wasm rows on the jit tier. */
WORK_T(Fib_wasm_jit, "work.wasm", "fib", PK_ISOLATE_NONE, "jit", run_fib)
WORK_T(Sort_wasm_jit, "work.wasm", "sort", PK_ISOLATE_NONE, "jit", run_sort)
WORK_T(Bulk_wasm_jit, "work.wasm", "bulk", PK_ISOLATE_NONE, "jit", run_bulk)
/* And on the aot tier (the build's cache, bench/wasm_aot.cmake). */
WORK_T(Fib_wasm_aot, "work.wasm", "fib", PK_ISOLATE_NONE, "aot", run_fib)
WORK_T(Sort_wasm_aot, "work.wasm", "sort", PK_ISOLATE_NONE, "aot", run_sort)
WORK_T(Bulk_wasm_aot, "work.wasm", "bulk", PK_ISOLATE_NONE, "aot", run_bulk)
WORK_ROWS(source, "work.c", PK_ISOLATE_NONE)
WORK_ROWS(lua, "work.lua", PK_ISOLATE_NONE)
WORK_ROWS(process, "work", PK_ISOLATE_NONE)

/* Memory per loaded instance of the work plugin, per backend. */
#define MEM(be, file)                                                       \
  static double mem_##be(void) {                                           \
    pk_open_opts o = PK_OPEN_OPTS_INIT;                                     \
    char path[1024];                                                        \
    snprintf(path, sizeof path, "%s/%s", pkb_dir(), file);                  \
    o.grants = NULL;                                                        \
    return pkb_mem_per_instance(path, &o);                                  \
  }                                                                         \
  PKB_MEM_ROW(Mem_##be, mem_##be)

MEM(native, "work.so")
MEM(wasm, "work.wasm")
MEM(source, "work.c")
MEM(lua, "work.lua")
MEM(process, "work")
