/*
 * bench_parallel_process.c: ParallelProcess, calls of `sum` on one
 * executable plugin (the conformance fixture, bench_proc_plugin) opened
 * with max_instances = 2 (PKB_PAR_ROW: ns_per_op is one thread's call,
 * `scaling` the calls per second two threads make together, a child each,
 * over what one thread makes). ParallelProcessFutex: the same with
 * spin_ns < 0.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

static pkb_plugin par;

static int open_pool(void **out, int spin_ns) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  memset(&par, 0, sizeof par);
  snprintf(par.path, sizeof par.path, "%s/bench_proc_plugin", pkb_dir());
  if ((par.host = pkb_host()) == NULL)
    return pkb_skip("out of memory");
  o.max_instances = 2;
  o.spin_ns = spin_ns;
  if (pk_plugin_open(par.host, par.path, &o, &par.plugin) < 0 ||
      pk_plugin_func(par.plugin, "sum", "(i32,i32)->i32", &par.fn) < 0) {
    pkb_skip("%s", pk_host_errmsg(par.host));
    pk_host_destroy(par.host);
    return 1;
  }
  *out = &par;
  return 0;
}

static int setup(void **out) { return open_pool(out, 0); }
static int setup_futex(void **out) { return open_pool(out, -1); }

PKB_PAR_ROW(ParallelProcess, setup, pkb_par_sum, pkb_close)
/* The same without spinning (spin_ns < 0): each side sleeps on the futex
   while the other works, so one thread's calls keep about one CPU busy
   rather than two, and a second thread has a CPU to gain. */
PKB_PAR_ROW(ParallelProcessFutex, setup_futex, pkb_par_sum, pkb_close)
