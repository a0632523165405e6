/*
 * bench.h: the benchmark harness behind `make bench`.
 *
 * A row is one operation measured go-test style: the harness calibrates
 * an iteration count n so that one run takes about --time ms, warms up,
 * then times --runs runs and reports the median ns/op (and the minimum),
 * B/op and allocs/op (allocations made through pkb_host() hosts or
 * pkb_realloc during the timed runs, divided by the operations), and the
 * ratio to the CFuncNoInline row of the same run.
 *
 *   static int setup(void **out_state);   // optional; nonzero: row skipped
 *   static void run(void *state, uint64_t n); // do the operation n times
 *   static void teardown(void *state);    // optional
 *   PKB_ROW(NativePlugin, setup, run, teardown);
 *
 * Rows print in registration order: the order of PKB_ROW lines in a file,
 * files in the order CMake lists their sources.
 */
#ifndef PK_BENCH_BENCH_H
#define PK_BENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "plugkit.h"

typedef int (*pkb_setup_fn)(void **out_state);
typedef void (*pkb_run_fn)(void *state, uint64_t n);
typedef void (*pkb_teardown_fn)(void *state);

void pkb_register(const char *name, pkb_setup_fn setup, pkb_run_fn run,
                  pkb_teardown_fn teardown);

#define PKB_ROW(name, setup, run, teardown)                                 \
  __attribute__((constructor)) static void pkb_reg_##name(void) {           \
    pkb_register(#name, setup, run, teardown);                              \
  }

/*
 * Parallel rows: `run(state, thread, n)` does the operation n times on
 * thread number `thread` (0 or 1), both threads sharing `state` (one
 * plugin). The row's ns/op is one thread's; its `scaling` is the
 * operations per second of two threads at once over one thread's, which
 * is 2.0 when two threads run as fast as one each. Counted allocations
 * are the one-thread runs'.
 */
typedef void (*pkb_par_fn)(void *state, int thread, uint64_t n);
void pkb_register_par(const char *name, pkb_setup_fn setup, pkb_par_fn run,
                      pkb_teardown_fn teardown);
#define PKB_PAR_ROW(name, setup, run, teardown)                             \
  __attribute__((constructor)) static void pkb_regp_##name(void) {          \
    pkb_register_par(#name, setup, run, teardown);                          \
  }
/* A parallel loop over b->fn, (i32,i32)->i32 like pkb_run_sum, each
   result checked (a wrong one aborts the bench). */
void pkb_par_sum(void *b, int thread, uint64_t n);

/*
 * Memory rows: `measure` returns the resident memory one loaded plugin
 * instance costs, in bytes (pkb_rss() before and after opening several).
 * Printed in their own table and chart group.
 */
typedef double (*pkb_mem_fn)(void);
void pkb_register_mem(const char *name, pkb_mem_fn measure);
#define PKB_MEM_ROW(name, measure)                                          \
  __attribute__((constructor)) static void pkb_regm_##name(void) {          \
    pkb_register_mem(#name, measure);                                       \
  }
/* The process's resident set size in bytes (0 when unknown). */
double pkb_rss(void);
/* RSS growth per extra instance of the plugin at `path` (opts may be
   NULL): the value of a memory row, or -1 when it cannot be opened. */
double pkb_mem_per_instance(const char *path, pk_open_opts *o);

/*
 * The usual row setup: open pkb_dir()/file (host function "triple"
 * (i32)->i32 defined and granted; isolation as given) and resolve `fn`
 * (sig NULL: any signature). Nonzero, with the reason recorded for the
 * table, when it cannot; the row is then skipped.
 */
typedef struct pkb_plugin {
  pk_host *host;
  pk_plugin *plugin;
  pk_func *fn;
  char path[1024];
  const char *tier;   /* pk_open_opts.tier of the open (and of run_load) */
} pkb_plugin;
int pkb_open(pkb_plugin *b, const char *file, const char *fn, const char *sig,
             int isolation);
/* pkb_open on a wasm execution tier ("jit"). */
int pkb_open_tier(pkb_plugin *b, const char *file, const char *fn,
                  const char *sig, int isolation, const char *tier);
void pkb_close(void *b); /* a teardown: closes b's host and plugin */
/* Is the backend `name` built into this library (pk_backends)? */
int pkb_backend_built(const char *name);
/* Loops over b->fn shared by every backend's rows. */
void pkb_run_sum(void *b, uint64_t n);   /* (i32,i32)->i32, one arg varies */
void pkb_run_greet(void *b, uint64_t n); /* (str)->str, a 16-byte string */
void pkb_run_i32(void *b, uint64_t n);   /* (i32)->i32 */
void pkb_run_load(void *b, uint64_t n);  /* open + first sum + close */

/* A host whose allocations are counted (destroy it in teardown). NULL when
   out of memory. */
pk_host *pkb_host(void);
/* The counting allocator itself (realloc-shaped; ud is ignored). */
void *pkb_realloc(void *ud, void *p, size_t n);
/* Consume a value so the compiler cannot drop the work producing it. */
void pkb_sink(uint64_t v);
/* Inside a run: the time between these two (one pair at a time) is left
   out of the row's figure, e.g. the clean-up after each operation when
   the row measures only the operation. Each pair costs two clock reads,
   so use it only for operations of a microsecond or more. */
void pkb_untimed_begin(void);
void pkb_untimed_end(void);
/* Say why a row is skipped (printed with the row); returns 1. */
int pkb_skip(const char *fmt, ...);
/* Directory of the build's bench artifacts (fixture plugins, modules). */
const char *pkb_dir(void);

#endif /* PK_BENCH_BENCH_H */
