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

/* ---- native plugin ----------------------------------------------------- */

typedef struct native_bench {
  pk_host *host;
  pk_plugin *plugin;
  pk_func *sum, *greet;
  char path[1024];
} native_bench;

static int native_setup(void **out) {
  static native_bench b;
  memset(&b, 0, sizeof b);
  snprintf(b.path, sizeof b.path, "%s/bench_plugin.so", pkb_dir());
  if ((b.host = pkb_host()) == NULL)
    return pkb_skip("no host");
  if (pk_plugin_open(b.host, b.path, NULL, &b.plugin) < 0 ||
      pk_plugin_func(b.plugin, "sum", "(i32,i32)->i32", &b.sum) < 0 ||
      pk_plugin_func(b.plugin, "greet", "(str)->str", &b.greet) < 0) {
    pkb_skip("%s", pk_host_errmsg(b.host));
    pk_host_destroy(b.host);
    return 1;
  }
  *out = &b;
  return 0;
}

static void native_teardown(void *st) {
  native_bench *b = st;
  pk_host_destroy(b->host);
}

static void run_raw(void *st, uint64_t n) {
  native_bench *b = st;
  int32_t (*sum)(int32_t, int32_t) =
      (int32_t(*)(int32_t, int32_t))pk_func_raw(b->sum);
  int32_t acc = 0;
  uint64_t i;
  for (i = 0; i < n; i++)
    acc = sum(acc, (int32_t)i);
  pkb_sink((uint64_t)acc);
}

/* Like the reference rows: one argument varies, results accumulate in a
   register (feeding each result back through the argument array would add
   store-to-load latency that the reference does not pay). */
static void run_call(void *st, uint64_t n) {
  native_bench *b = st;
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
  native_bench *b = st;
  pk_val in = PK_STR("0123456789abcdef", 16), out;
  uint64_t i, total = 0;
  for (i = 0; i < n; i++) {
    pk_func_call(b->greet, &in, 1, &out, 1);
    total += out.str.len;
  }
  pkb_sink(total);
}

PKB_ROW(NativePluginRaw, native_setup, run_raw, native_teardown)
PKB_ROW(NativePlugin, native_setup, run_call, native_teardown)
PKB_ROW(NativeGreet, native_setup, run_greet, native_teardown)

/* Open + first call + close, per operation. */
static void run_load(void *st, uint64_t n) {
  native_bench *b = st;
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

PKB_ROW(LoadNative, native_setup, run_load, native_teardown)

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
