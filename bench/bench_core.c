/*
 * bench_core.c: the reference rows and the native backend's rows.
 */
#define _DEFAULT_SOURCE 1
#include "bench.h"

#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- reference: plain C calls ------------------------------------------ */

static inline int32_t add_inline(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b); /* wraps, no UB */
}

#if defined(__clang__)
#define PKB_NOINLINE __attribute__((noinline))
#else
#define PKB_NOINLINE __attribute__((noinline, noipa))
#endif

/* The reference: a direct call the compiler may not inline or elide. */
PKB_NOINLINE int32_t pkb_add_noinline(int32_t a, int32_t b);
PKB_NOINLINE int32_t pkb_add_noinline(int32_t a, int32_t b) {
  __asm__ volatile("");
  return (int32_t)((uint32_t)a + (uint32_t)b);
}

static void run_inline(void *st, uint64_t n) {
  int32_t acc = 0;
  uint64_t i;
  (void)st;
  for (i = 0; i < n; i++) {
    acc = add_inline(acc, (int32_t)i);
    __asm__ volatile("" : "+r"(acc)); /* one add per iteration, kept */
  }
  pkb_sink((uint64_t)acc);
}

static void run_noinline(void *st, uint64_t n) {
  int32_t acc = 0;
  uint64_t i;
  (void)st;
  for (i = 0; i < n; i++)
    acc = pkb_add_noinline(acc, (int32_t)i);
  pkb_sink((uint64_t)acc);
}

PKB_ROW(CFuncInline, NULL, run_inline, NULL)
PKB_ROW(CFuncNoInline, NULL, run_noinline, NULL)

/* The machine's own ceiling for the Parallel* rows: the reference call
   from 1 and 2 threads, no plugkit code; each result checked as
   pkb_par_sum checks a plugin's. On a VM whose two CPUs are shared,
   this is what two threads can gain at best. */
static void par_noinline(void *st, int thread, uint64_t n) {
  uint64_t i, bad = 0;
  (void)st;
  for (i = 0; i < n; i++)
    if (pkb_add_noinline(thread, (int32_t)(i & 0xffffff)) !=
        thread + (int32_t)(i & 0xffffff))
      bad++;
  if (bad != 0)
    abort();
}
static int par_ref_setup(void **out) {
  static int dummy;
  *out = &dummy;
  return 0;
}
PKB_PAR_ROW(ParallelCFunc, par_ref_setup, par_noinline, NULL)

/* ---- native plugin ----------------------------------------------------- */

static pkb_plugin nb;

static int native_sum(void **out) {
  *out = &nb;
  return pkb_open(&nb, "bench_plugin.so", "sum", "(i32,i32)->i32", 0);
}

static int native_greet(void **out) {
  *out = &nb;
  return pkb_open(&nb, "bench_plugin.so", "greet", "(str)->str", 0);
}

/* The plugin's typed function pointer, called directly. */
static void run_raw(void *st, uint64_t n) {
  pkb_plugin *b = st;
  int32_t (*sum)(int32_t, int32_t) =
      (int32_t(*)(int32_t, int32_t))pk_func_raw(b->fn);
  int32_t acc = 0;
  uint64_t i;
  for (i = 0; i < n; i++)
    acc = sum(acc, (int32_t)i);
  pkb_sink((uint64_t)acc);
}

PKB_ROW(NativePluginRaw, native_sum, run_raw, pkb_close)
PKB_ROW(NativePlugin, native_sum, pkb_run_sum, pkb_close)
PKB_ROW(NativeGreet, native_greet, pkb_run_greet, pkb_close)
PKB_ROW(LoadNative, native_sum, pkb_run_load, pkb_close)

/* The same plugin declaring PK_THREADSAFE, called from two threads. */
static pkb_plugin nts;
static int native_ts_sum(void **out) {
  *out = &nts;
  return pkb_open(&nts, "bench_plugin_ts.so", "sum", "(i32,i32)->i32", 0);
}
PKB_PAR_ROW(ParallelNative, native_ts_sum, pkb_par_sum, pkb_close)

/* Resident memory of this process's children (plugin processes), in
   bytes; Linux /proc only, else 0. */
double pkb_children_rss(void);
double pkb_children_rss(void) {
  char path[64], line[512];
  double total = 0;
  int pid = (int)getpid(), child;
  DIR *d = opendir("/proc");
  struct dirent *e;
  if (d == NULL)
    return 0;
  while ((e = readdir(d)) != NULL) {
    FILE *f;
    int ppid = 0;
    long pages = 0, rss = 0;
    if ((child = atoi(e->d_name)) <= 0)
      continue;
    snprintf(path, sizeof path, "/proc/%d/stat", child);
    if ((f = fopen(path, "r")) == NULL)
      continue;
    if (fgets(line, sizeof line, f) != NULL) {
      const char *r = strrchr(line, ')');
      if (r != NULL)
        sscanf(r + 2, "%*c %d", &ppid);
    }
    fclose(f);
    if (ppid != pid)
      continue;
    snprintf(path, sizeof path, "/proc/%d/statm", child);
    if ((f = fopen(path, "r")) != NULL) {
      if (fscanf(f, "%ld %ld", &pages, &rss) == 2)
        total += (double)rss * 4096.0;
      fclose(f);
    }
  }
  closedir(d);
  return total;
}

/* Resident memory per loaded instance: open 32, divide the RSS growth
   (this process's and its children's). */
double pkb_mem_per_instance(const char *path, pk_open_opts *o) {
  enum { N = 32 };
  pk_plugin *p[N];
  pk_host *h = pkb_host();
  double before, after;
  int i, n = 0;
  if (h == NULL)
    return -1;
  /* One first, so shared code and the host's own memory are not counted. */
  if (pk_plugin_open(h, path, o, &p[0]) < 0) {
    pk_host_destroy(h);
    return -1;
  }
  malloc_trim(0); /* else reused free heap hides the growth */
  before = pkb_rss() + pkb_children_rss();
  for (n = 1; n < N && pk_plugin_open(h, path, o, &p[n]) == 0; n++)
    ;
  after = pkb_rss() + pkb_children_rss();
  for (i = 0; i < n; i++)
    pk_plugin_close(p[i]);
  pk_host_destroy(h);
  return n > 1 ? (after - before) / (n - 1) : -1;
}
