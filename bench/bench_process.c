/*
 * bench_process.c: the process backend's rows. The plugin is the
 * conformance fixture, built as an executable (bench_proc_plugin) and as
 * the .so the native rows use (run in plugkit-runner for ProcessRunner).
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

typedef struct proc_bench {
  pk_host *host;
  pk_plugin *plugin;
  pk_func *sum, *greet, *call_host;
  char path[1024];
} proc_bench;

static proc_bench pb;

static int triple(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  results[0].i32 = args[0].i32 * 3;
  return PK_OK;
}

static int open_bench(int runner, int spin_ns) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  memset(&pb, 0, sizeof pb);
  if (runner) {
    snprintf(pb.path, sizeof pb.path, "%s/bench_plugin.so", pkb_dir());
    o.isolation = PK_ISOLATE_PROCESS;
    o.backend = "native";
  } else {
    snprintf(pb.path, sizeof pb.path, "%s/bench_proc_plugin", pkb_dir());
  }
  o.spin_ns = spin_ns;
  o.grants = "triple";
  if ((pb.host = pkb_host()) == NULL)
    return pkb_skip("no host");
  if (pk_host_define(pb.host, "triple", "(i32)->i32", triple, NULL) < 0 ||
      pk_plugin_open(pb.host, pb.path, &o, &pb.plugin) < 0 ||
      pk_plugin_func(pb.plugin, "sum", "(i32,i32)->i32", &pb.sum) < 0 ||
      pk_plugin_func(pb.plugin, "greet", "(str)->str", &pb.greet) < 0 ||
      pk_plugin_func(pb.plugin, "call_host", "(i32)->i32", &pb.call_host) <
          0) {
    pkb_skip("%s", pk_host_errmsg(pb.host));
    pk_host_destroy(pb.host);
    return 1;
  }
  return 0;
}

static int setup_exe(void **out) {
  *out = &pb;
  return open_bench(0, 0);
}
static int setup_runner(void **out) {
  *out = &pb;
  return open_bench(1, 0);
}
static int setup_futex(void **out) {
  *out = &pb;
  return open_bench(0, -1);
}

static void teardown(void *st) {
  proc_bench *b = st;
  pk_host_destroy(b->host);
}

static void run_sum(void *st, uint64_t n) {
  proc_bench *b = st;
  pk_val in[2], out;
  uint64_t i, acc = 0;
  for (i = 0; i < n; i++) {
    in[0] = PK_I32((int32_t)i);
    in[1] = PK_I32(1);
    if (pk_func_call(b->sum, in, 2, &out, 1) == PK_OK)
      acc += (uint32_t)out.i32;
  }
  pkb_sink(acc);
}

static void run_greet(void *st, uint64_t n) {
  proc_bench *b = st;
  pk_val in = PK_STR("world", 5), out;
  uint64_t i, acc = 0;
  for (i = 0; i < n; i++)
    if (pk_func_call(b->greet, &in, 1, &out, 1) == PK_OK)
      acc += out.str.len;
  pkb_sink(acc);
}

static void run_host_call(void *st, uint64_t n) {
  proc_bench *b = st;
  pk_val in, out;
  uint64_t i, acc = 0;
  for (i = 0; i < n; i++) {
    in = PK_I32((int32_t)i);
    if (pk_func_call(b->call_host, &in, 1, &out, 1) == PK_OK)
      acc += (uint32_t)out.i32;
  }
  pkb_sink(acc);
}

/* Spawn, handshake and first call (then a graceful close), in ns. */
static int setup_load(void **out) {
  memset(&pb, 0, sizeof pb);
  snprintf(pb.path, sizeof pb.path, "%s/bench_proc_plugin", pkb_dir());
  if ((pb.host = pkb_host()) == NULL)
    return pkb_skip("no host");
  *out = &pb;
  return 0;
}

static void run_load(void *st, uint64_t n) {
  proc_bench *b = st;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
  uint64_t i, acc = 0;
  for (i = 0; i < n; i++) {
    pk_plugin *p;
    pk_func *f;
    if (pk_plugin_open(b->host, b->path, NULL, &p) < 0)
      continue;
    if (pk_plugin_func(p, "sum", NULL, &f) == PK_OK &&
        pk_func_call(f, in, 2, &out, 1) == PK_OK)
      acc += (uint32_t)out.i32;
    pk_plugin_close(p);
  }
  pkb_sink(acc);
}

PKB_ROW(ProcessPlugin, setup_exe, run_sum, teardown)
PKB_ROW(ProcessRunner, setup_runner, run_sum, teardown)
PKB_ROW(ProcessGreet, setup_exe, run_greet, teardown)
PKB_ROW(ProcessHostCall, setup_exe, run_host_call, teardown)
PKB_ROW(ProcessPluginFutex, setup_futex, run_sum, teardown)
PKB_ROW(LoadProcess, setup_load, run_load, teardown)
