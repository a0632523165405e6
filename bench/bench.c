/*
 * bench.c: the harness (see bench.h) and main.
 *
 *   pk_bench [--runs N] [--time MS] [--out DIR] [SUBSTRING...]
 *
 * Prints the table, and with --out writes DIR/latest.json and
 * DIR/latest.md.
 */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_ROWS 128

typedef struct row {
  const char *name;
  pkb_setup_fn setup;
  pkb_run_fn run;
  pkb_teardown_fn teardown;
  pkb_par_fn par; /* a parallel row (pkb_register_par) */
  /* results */
  double scaling; /* parallel rows: 2 threads' ops/s over 1 thread's */
  int skipped;
  char why[160];
  double ns_med, ns_min, bytes_op, allocs_op;
  uint64_t iters;
  int runs;
} row;

static row rows[MAX_ROWS];
static int nrows;
static row *cur_row; /* the row being measured */

typedef struct mem_row {
  const char *name;
  pkb_mem_fn measure;
  double bytes; /* per instance; < 0: skipped */
} mem_row;
static mem_row mem_rows[32];
static int nmem;
static char skip_why[160];
static volatile uint64_t sink;
static uint64_t n_allocs, n_bytes;
/* Time a run spent between pkb_untimed_begin and _end: not counted. */
static double untimed_ns, untimed_t0;

void pkb_register(const char *name, pkb_setup_fn setup, pkb_run_fn run,
                  pkb_teardown_fn teardown) {
  if (nrows == MAX_ROWS)
    return;
  rows[nrows].name = name;
  rows[nrows].setup = setup;
  rows[nrows].run = run;
  rows[nrows].teardown = teardown;
  nrows++;
}

static double now_ns(void);

/* A parallel row runs as an ordinary one on thread 0 (par_one), then
   measure() times both threads at once (par_two). */
static row *cur_row;
static void par_one(void *state, uint64_t n) { cur_row->par(state, 0, n); }

void pkb_register_par(const char *name, pkb_setup_fn setup, pkb_par_fn run,
                      pkb_teardown_fn teardown) {
  if (nrows == MAX_ROWS)
    return;
  pkb_register(name, setup, par_one, teardown);
  rows[nrows - 1].par = run;
}

typedef struct par_arg {
  row *r;
  void *state;
  int thread;
  uint64_t n;
  pthread_barrier_t *go;
} par_arg;

static void *par_main(void *v) {
  par_arg *a = v;
  pthread_barrier_wait(a->go);
  a->r->par(a->state, a->thread, a->n);
  return NULL;
}

/* Wall time of both threads doing n operations each, in ns. */
static double par_two(row *r, void *state, uint64_t n) {
  pthread_t t[2];
  pthread_barrier_t go;
  par_arg a[2];
  double t0;
  int i;
  pthread_barrier_init(&go, NULL, 3);
  for (i = 0; i < 2; i++) {
    a[i].r = r;
    a[i].state = state;
    a[i].thread = i;
    a[i].n = n;
    a[i].go = &go;
    pthread_create(&t[i], NULL, par_main, &a[i]);
  }
  pthread_barrier_wait(&go);
  t0 = now_ns();
  for (i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  pthread_barrier_destroy(&go);
  return now_ns() - t0;
}

void pkb_register_mem(const char *name, pkb_mem_fn measure) {
  if (nmem < (int)(sizeof mem_rows / sizeof mem_rows[0])) {
    mem_rows[nmem].name = name;
    mem_rows[nmem].measure = measure;
    nmem++;
  }
}

double pkb_rss(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL)
    return 0;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
    resident = 0;
  fclose(f);
  return (double)resident * 4096.0;
}

void pkb_sink(uint64_t v) { sink += v; }


int pkb_skip(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(skip_why, sizeof skip_why, fmt, ap);
  va_end(ap);
  return 1;
}

const char *pkb_dir(void) { return PKB_DIR; }

void *pkb_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  if (n == 0) {
    free(p);
    return NULL;
  }
  /* Parallel rows allocate from two threads (a lane each). */
  __atomic_add_fetch(&n_allocs, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch(&n_bytes, n, __ATOMIC_RELAXED);
  return realloc(p, n);
}

pk_host *pkb_host(void) {
  pk_host_opts o = PK_HOST_OPTS_INIT;
  pk_host *h;
  o.alloc = pkb_realloc;
  return pk_host_create(&o, &h) == PK_OK ? h : NULL;
}

static int triple(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  results[0].i32 = (int32_t)((uint32_t)args[0].i32 * 3u);
  return PK_OK;
}

int pkb_open(pkb_plugin *b, const char *file, const char *fn, const char *sig,
             int isolation) {
  return pkb_open_tier(b, file, fn, sig, isolation, NULL);
}

int pkb_open_tier(pkb_plugin *b, const char *file, const char *fn,
                  const char *sig, int isolation, const char *tier) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  memset(b, 0, sizeof *b);
  b->tier = tier;
  o.tier = tier;
  /* The aot rows open from the cache the build filled (wasm_aot.cmake). */
  if (tier != NULL && strcmp(tier, "aot") == 0) {
    char cache[1100];
    snprintf(cache, sizeof cache, "%s/aot-cache", pkb_dir());
    setenv("XDG_CACHE_HOME", cache, 1);
  }
  if (file[0] == '/')
    snprintf(b->path, sizeof b->path, "%s", file);
  else
    snprintf(b->path, sizeof b->path, "%s/%s", pkb_dir(), file);
  if ((b->host = pkb_host()) == NULL)
    return pkb_skip("out of memory");
  pk_host_define(b->host, "triple", "(i32)->i32", triple, NULL);
  o.grants = "triple";
  o.isolation = isolation;
  if (pk_plugin_open(b->host, b->path, &o, &b->plugin) < 0 ||
      pk_plugin_func(b->plugin, fn, sig, &b->fn) < 0) {
    pkb_skip("%s", pk_host_errmsg(b->host));
    pk_host_destroy(b->host);
    b->host = NULL;
    return 1;
  }
  return 0;
}

int pkb_backend_built(const char *name) {
  const char *const *b;
  for (b = pk_backends(); *b != NULL; b++)
    if (strcmp(*b, name) == 0)
      return 1;
  return 0;
}

void pkb_close(void *st) {
  pkb_plugin *b = st;
  pk_host_destroy(b->host); /* closes the plugin */
  b->host = NULL;
}

/* Like the reference rows: one argument varies, results accumulate in a
   register (feeding each result back through the argument array would add
   store-to-load latency that the reference does not pay). */
void pkb_run_sum(void *st, uint64_t n) {
  pkb_plugin *b = st;
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

void pkb_par_sum(void *st, int thread, uint64_t n) {
  pkb_plugin *b = st;
  pk_val in[2] = {PK_I32(thread), PK_I32(0)}, out;
  uint64_t i, bad = 0;
  for (i = 0; i < n; i++) {
    in[1].i32 = (int32_t)(i & 0xffffff);
    if (pk_func_call(b->fn, in, 2, &out, 1) != PK_OK ||
        out.i32 != thread + (int32_t)(i & 0xffffff))
      bad++;
  }
  if (bad != 0) {
    fprintf(stderr, "pk_bench: %llu wrong results on thread %d: %s\n",
            (unsigned long long)bad, thread, pk_host_errmsg(b->host));
    exit(1);
  }
}

void pkb_run_greet(void *st, uint64_t n) {
  pkb_plugin *b = st;
  pk_val in = PK_STR("0123456789abcdef", 16), out;
  uint64_t i, total = 0;
  for (i = 0; i < n; i++) {
    pk_func_call(b->fn, &in, 1, &out, 1);
    total += out.str.len;
  }
  pkb_sink(total);
}

void pkb_run_i32(void *st, uint64_t n) {
  pkb_plugin *b = st;
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

void pkb_run_load(void *st, uint64_t n) {
  pkb_plugin *b = st;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out;
  uint64_t i;
  o.tier = b->tier;
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

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void pkb_untimed_begin(void) { untimed_t0 = now_ns(); }
void pkb_untimed_end(void) { untimed_ns += now_ns() - untimed_t0; }

/* One run of r, n operations: its time, less what it left untimed. */
static double timed_run(row *r, void *state, uint64_t n) {
  double t0;
  untimed_ns = 0;
  t0 = now_ns();
  r->run(state, n);
  return now_ns() - t0 - untimed_ns;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void measure(row *r, int runs, double target_ms) {
  void *state = NULL;
  double dt, samples[64];
  uint64_t n = 1, allocs0, bytes0, total_ops = 0;
  int i;

  skip_why[0] = '\0';
  cur_row = r;
  if (r->setup != NULL && r->setup(&state) != 0) {
    r->skipped = 1;
    snprintf(r->why, sizeof r->why, "%s", skip_why[0] ? skip_why : "setup failed");
    return;
  }
  /* Calibrate: grow n until a run takes a tenth of the target. */
  for (;;) {
    dt = timed_run(r, state, n);
    if (dt >= target_ms * 1e5 || n >= (UINT64_C(1) << 40))
      break;
    n *= dt < target_ms * 1e4 ? 10 : 2;
  }
  n = (uint64_t)((double)n * (target_ms * 1e6) / (dt > 1 ? dt : 1));
  if (n == 0)
    n = 1;
  r->run(state, n); /* warm-up */
  allocs0 = n_allocs;
  bytes0 = n_bytes;
  if (runs > 64)
    runs = 64;
  for (i = 0; i < runs; i++) {
    samples[i] = timed_run(r, state, n) / (double)n;
    total_ops += n;
  }
  r->allocs_op = (double)(n_allocs - allocs0) / (double)total_ops;
  r->bytes_op = (double)(n_bytes - bytes0) / (double)total_ops;
  qsort(samples, (size_t)runs, sizeof samples[0], cmp_double);
  r->ns_med = samples[runs / 2];
  r->ns_min = samples[0];
  r->iters = n;
  r->runs = runs;
  if (r->par != NULL) {
    /* Two threads at once, as many runs, each against a one-thread run
       made just before it (the machine's speed drifts: a ratio of runs
       minutes apart would measure the drift); the median of the
       ratios of their ops/s. */
    par_two(r, state, n); /* warm-up: the second thread's first calls */
    for (i = 0; i < runs; i++) {
      double one = timed_run(r, state, n);
      samples[i] = 2.0 * one / par_two(r, state, n);
    }
    qsort(samples, (size_t)runs, sizeof samples[0], cmp_double);
    r->scaling = samples[runs / 2];
  }
  if (r->teardown != NULL)
    r->teardown(state);
}

static void cpu_model(char *buf, size_t cap) {
  char line[256];
  FILE *f = fopen("/proc/cpuinfo", "r");
  snprintf(buf, cap, "unknown");
  if (f == NULL)
    return;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "model name", 10) == 0) {
      char *c = strchr(line, ':');
      if (c != NULL) {
        c += 2;
        c[strcspn(c, "\n")] = '\0';
        snprintf(buf, cap, "%s", c);
      }
      break;
    }
  }
  fclose(f);
}

static const row *reference(void) {
  int i;
  for (i = 0; i < nrows; i++)
    if (strcmp(rows[i].name, "CFuncNoInline") == 0 && !rows[i].skipped &&
        rows[i].ns_med > 0)
      return &rows[i];
  return NULL;
}

static void write_json(const char *path, const char *cpu) {
  const row *ref = reference();
  FILE *f = fopen(path, "w");
  int i, first = 1;
  if (f == NULL) {
    fprintf(stderr, "pk_bench: cannot write %s\n", path);
    return;
  }
  fprintf(f, "[\n");
  for (i = 0; i < nrows; i++) {
    const row *r = &rows[i];
    if (r->skipped || r->runs == 0)
      continue;
    fprintf(f,
            "%s  {\"name\": \"%s\", \"ns_per_op\": %.3f, \"ns_min\": %.3f, "
            "\"bytes_per_op\": %.1f, \"allocs_per_op\": %.2f, "
            "\"ratio\": %.2f, \"iterations\": %llu, \"runs\": %d, "
            "\"cpu\": \"%s\", \"compiler\": \"%s\"",
            first ? "" : ",\n", r->name, r->ns_med, r->ns_min, r->bytes_op,
            r->allocs_op, ref ? r->ns_med / ref->ns_med : 0.0,
            (unsigned long long)r->iters, r->runs, cpu, PKB_COMPILER);
    if (r->par != NULL)
      fprintf(f, ", \"threads\": 2, \"scaling\": %.2f", r->scaling);
    fprintf(f, "}");
    first = 0;
  }
  for (i = 0; i < nmem; i++) {
    if (mem_rows[i].bytes < 0)
      continue;
    fprintf(f, "%s  {\"name\": \"%s\", \"bytes_per_instance\": %.0f}",
            first ? "" : ",\n", mem_rows[i].name, mem_rows[i].bytes);
    first = 0;
  }
  fprintf(f, "\n]\n");
  fclose(f);
}

static void fmt_ns(char *buf, size_t cap, double ns) {
  if (ns >= 1e6)
    snprintf(buf, cap, "%.0f", ns);
  else if (ns >= 100)
    snprintf(buf, cap, "%.0f", ns);
  else
    snprintf(buf, cap, "%.2f", ns);
}

static void print_table(FILE *f, int md, const char *cpu) {
  const row *ref = reference();
  char ns[32], mn[32];
  int i;
  if (md) {
    fprintf(f, "# plugkit benchmarks\n\nCPU: %s; compiler: %s; flags: %s.\n"
               "Median of the runs after warm-up; ratio = ns/op over "
               "CFuncNoInline of the same run.\n\n",
            cpu, PKB_COMPILER, PKB_FLAGS);
    fprintf(f, "| name | ns/op | min ns/op | x CFuncNoInline | B/op | "
               "allocs/op | 2 threads |\n|---|---:|---:|---:|---:|---:|---:|\n");
  } else {
    fprintf(f, "%-24s %14s %12s %10s %10s %10s\n", "name", "ns/op",
            "min ns/op", "ratio", "B/op", "allocs/op");
  }
  for (i = 0; i < nrows; i++) {
    const row *r = &rows[i];
    if (r->skipped) {
      if (md)
        fprintf(f, "| %s | skipped: %s | | | | | |\n", r->name, r->why);
      else
        fprintf(f, "%-24s skipped: %s\n", r->name, r->why);
      continue;
    }
    if (r->runs == 0)
      continue;
    fmt_ns(ns, sizeof ns, r->ns_med);
    fmt_ns(mn, sizeof mn, r->ns_min);
    if (md)
      fprintf(f, "| %s | %s | %s | %.2f | %.0f | %.2f |", r->name, ns, mn,
              ref ? r->ns_med / ref->ns_med : 0.0, r->bytes_op, r->allocs_op);
    else
      fprintf(f, "%-24s %14s %12s %9.2fx %10.0f %10.2f", r->name, ns, mn,
              ref ? r->ns_med / ref->ns_med : 0.0, r->bytes_op, r->allocs_op);
    if (r->par != NULL)
      fprintf(f, md ? " %.2fx the calls/s of 1 |" :
                      "   2 threads: %.2fx the calls/s of 1", r->scaling);
    else if (md)
      fprintf(f, " |");
    fprintf(f, "\n");
  }
}

/* ---- the chart --------------------------------------------------------- */

/* Which workload and which backend a row measures, from its name. */
static void classify(const char *name, const char **group,
                     const char **backend) {
  static const struct {
    const char *prefix, *backend;
  } backends[] = {{"CFunc", "C"},          {"NativeFib", "C"},
                  {"NativeMix", "C"},      {"NativeSort", "C"},
                  {"Native", "native"},    {"Wasm", "wasm"},
                  {"Source", "source"},    {"Lua", "lua"},
                  {"Process", "process"},  {"LoadNative", "native"},
                  {"LoadWasm", "wasm"},    {"LoadSource", "source"},
                  {"LoadLua", "lua"},      {"LoadProcess", "process"}};
  static const struct {
    const char *suffix, *group;
  } groups[] = {{"Greet", "string round trip (16 bytes)"},
                {"HostCall", "host callback, typed import"},
                {"Fib", "engine: recursive fib (direct)"},
                {"Mix", "engine: CoreMark-like mix (direct)"},
                {"Sort", "engine: sort 4M int32 (direct)"},
                {"Bulk", "bulk bytes (1 MiB in and out)"},
                {"Instantiate", "load"}};
  static const struct {
    const char *prefix, *group;
  } work[] = {{"Fib_", "fib(20) through the API"},
              {"Sort_", "sort 64 Ki int32 through the API"},
              {"Bulk_", "bulk bytes: 1 MiB in and out"},
              {"HostCall_", "host callback, generic API"}};
  size_t i, n = strlen(name);
  *backend = "other";
  /* Workload rows: Workload_backend. */
  for (i = 0; i < sizeof work / sizeof work[0]; i++)
    if (strncmp(name, work[i].prefix, strlen(work[i].prefix)) == 0) {
      *group = work[i].group;
      *backend = name + strlen(work[i].prefix);
      return;
    }
  for (i = 0; i < sizeof backends / sizeof backends[0]; i++)
    if (strncmp(name, backends[i].prefix, strlen(backends[i].prefix)) == 0) {
      *backend = backends[i].backend; /* the first, most specific, wins */
      break;
    }
  if (strncmp(name, "Load", 4) == 0) {
    *group = "load + first call + close";
    return;
  }
  for (i = 0; i < sizeof groups / sizeof groups[0]; i++) {
    size_t k = strlen(groups[i].suffix);
    if (n >= k && strcmp(name + n - k, groups[i].suffix) == 0) {
      *group = groups[i].group;
      return;
    }
  }
  *group = "call sum(i32, i32)";
}

static const char *colour(const char *backend) {
  static const struct {
    const char *b, *c;
  } c[] = {{"C", "#555555"},      {"native", "#1f77b4"},
           {"wasm", "#6f42c1"},   {"source", "#2ca02c"},
           {"lua", "#17becf"},    {"process", "#d62728"}};
  size_t i;
  for (i = 0; i < sizeof c / sizeof c[0]; i++)
    if (strcmp(c[i].b, backend) == 0)
      return c[i].c;
  return "#999999";
}

static void svg_text(FILE *f, double x, double y, const char *anchor,
                     const char *extra, const char *text) {
  fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" %s>", x, y,
          anchor, extra);
  for (; *text; text++) {
    if (*text == '<')
      fputs("&lt;", f);
    else if (*text == '&')
      fputs("&amp;", f);
    else
      fputc(*text, f);
  }
  fputs("</text>\n", f);
}

static void fmt_time(char *buf, size_t cap, double ns) {
  if (ns >= 1e9)
    snprintf(buf, cap, "%.3g s", ns / 1e9);
  else if (ns >= 1e6)
    snprintf(buf, cap, "%.3g ms", ns / 1e6);
  else if (ns >= 1e3)
    snprintf(buf, cap, "%.3g us", ns / 1e3);
  else
    snprintf(buf, cap, "%.3g ns", ns);
}

/*
 * A horizontal bar chart, log scale, one block per workload, one colour
 * per backend; each bar is labelled with its time and its ratio to
 * CFuncNoInline. Plain SVG 1.1, no script, no external resources.
 */
static void write_svg(const char *path, const char *cpu) {
  const double left = 230, width = 560, bar = 16, gap = 4;
  const char *groups[32], *legend[16];
  int ngroups = 0, nlegend = 0, g, i, j, lines = 0;
  double lo = 1e30, hi = 0, y, H;
  const row *ref = reference();
  FILE *f;

  for (i = 0; i < nrows; i++) {
    const char *grp, *be;
    if (rows[i].skipped || rows[i].runs == 0 || rows[i].ns_med <= 0)
      continue;
    classify(rows[i].name, &grp, &be);
    for (j = 0; j < ngroups && strcmp(groups[j], grp) != 0; j++)
      ;
    if (j == ngroups && ngroups < 32)
      groups[ngroups++] = grp;
    for (j = 0; j < nlegend && strcmp(legend[j], be) != 0; j++)
      ;
    if (j == nlegend && nlegend < 16)
      legend[nlegend++] = be;
    if (rows[i].ns_med < lo)
      lo = rows[i].ns_med;
    if (rows[i].ns_med > hi)
      hi = rows[i].ns_med;
    lines++;
  }
  if (lines == 0 || (f = fopen(path, "w")) == NULL)
    return;
  lo = pow(10, floor(log10(lo)));
  hi = pow(10, ceil(log10(hi)));
  if (hi <= lo)
    hi = lo * 10;
  H = 90 + ngroups * 28 + lines * (bar + gap) + 40;
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
             "height=\"%.0f\" font-family=\"sans-serif\" "
             "font-size=\"12\">\n",
          left + width + 250, H);
  fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
  svg_text(f, 10, 22, "start", "font-size=\"16\" font-weight=\"bold\"",
           "plugkit: time per operation (log scale, lower is better)");
  {
    char sub[256];
    snprintf(sub, sizeof sub, "%s, %s; ratio to CFuncNoInline of the run",
             cpu, PKB_COMPILER);
    svg_text(f, 10, 40, "start", "fill=\"#444\"", sub);
  }
  for (j = 0; j < nlegend; j++) {
    double x = 10 + j * 95;
    fprintf(f, "<rect x=\"%.1f\" y=\"50\" width=\"12\" height=\"12\" "
               "fill=\"%s\"/>\n",
            x, colour(legend[j]));
    svg_text(f, x + 16, 60, "start", "", legend[j]);
  }
  /* Grid: one line per power of ten. */
  {
    double v;
    for (v = lo; v <= hi * 1.001; v *= 10) {
      double x = left + width * log10(v / lo) / log10(hi / lo);
      char lab[32];
      fmt_time(lab, sizeof lab, v);
      fprintf(f, "<line x1=\"%.1f\" y1=\"75\" x2=\"%.1f\" y2=\"%.0f\" "
                 "stroke=\"#ddd\"/>\n",
              x, x, H - 30);
      svg_text(f, x, H - 15, "middle", "fill=\"#444\"", lab);
    }
  }
  y = 90;
  for (g = 0; g < ngroups; g++) {
    svg_text(f, 10, y + 12, "start", "font-weight=\"bold\"", groups[g]);
    y += 28;
    for (i = 0; i < nrows; i++) {
      const char *grp, *be;
      char lab[96], t[32];
      double w;
      if (rows[i].skipped || rows[i].runs == 0 || rows[i].ns_med <= 0)
        continue;
      classify(rows[i].name, &grp, &be);
      if (strcmp(grp, groups[g]) != 0)
        continue;
      w = width * log10(rows[i].ns_med / lo) / log10(hi / lo);
      if (w < 2)
        w = 2;
      svg_text(f, left - 8, y + 12, "end", "", rows[i].name);
      fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                 "height=\"%.0f\" fill=\"%s\"/>\n",
              left, y, w, bar, colour(be));
      fmt_time(t, sizeof t, rows[i].ns_med);
      if (ref != NULL && rows[i].ns_med / ref->ns_med >= 100)
        snprintf(lab, sizeof lab, "%s  (%.0fx)", t,
                 rows[i].ns_med / ref->ns_med);
      else if (ref != NULL)
        snprintf(lab, sizeof lab, "%s  (%.2fx)", t,
                 rows[i].ns_med / ref->ns_med);
      else
        snprintf(lab, sizeof lab, "%s", t);
      svg_text(f, left + w + 6, y + 12, "start", "", lab);
      y += bar + gap;
    }
  }
  fprintf(f, "</svg>\n");
  fclose(f);
}

static void measure_mem(void) {
  int i;
  for (i = 0; i < nmem; i++) {
    mem_rows[i].bytes = mem_rows[i].measure();
    if (mem_rows[i].bytes < 0)
      fprintf(stderr, "  %-22s skipped\n", mem_rows[i].name);
    else
      fprintf(stderr, "  %-22s %12.0f bytes/instance\n", mem_rows[i].name,
              mem_rows[i].bytes);
  }
}

static void print_mem(FILE *f, int md) {
  int i;
  if (nmem == 0)
    return;
  if (md)
    fprintf(f, "\n## Memory per loaded plugin instance (RSS delta)\n\n"
               "| name | KiB/instance |\n|---|---:|\n");
  else
    fprintf(f, "\n%-24s %14s\n", "memory per instance", "KiB (RSS)");
  for (i = 0; i < nmem; i++) {
    if (mem_rows[i].bytes < 0)
      continue;
    if (md)
      fprintf(f, "| %s | %.0f |\n", mem_rows[i].name, mem_rows[i].bytes / 1024);
    else
      fprintf(f, "%-24s %14.0f\n", mem_rows[i].name, mem_rows[i].bytes / 1024);
  }
}

int main(int argc, char **argv) {
  const char *out = NULL, *filters[32];
  int runs = 9, nfilters = 0, i, j;
  double target_ms = 25;
  char cpu[128], path[1024];

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc)
      target_ms = atof(argv[++i]);
    else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
      out = argv[++i];
    else if (argv[i][0] == '-') {
      fprintf(stderr,
              "usage: pk_bench [--runs N] [--time MS] [--out DIR] [NAME...]\n");
      return 2;
    } else if (nfilters < 32)
      filters[nfilters++] = argv[i];
  }
  if (runs < 1)
    runs = 1;
  cpu_model(cpu, sizeof cpu);
  printf("plugkit %s bench: cpu=\"%s\" compiler=\"%s\" flags=\"%s\" "
         "runs=%d time=%gms\n",
         pk_version_string(), cpu, PKB_COMPILER, PKB_FLAGS, runs, target_ms);
  if (nfilters == 0) /* first, while the heap is small */
    measure_mem();
  for (i = 0; i < nrows; i++) {
    int want = nfilters == 0 || strcmp(rows[i].name, "CFuncNoInline") == 0;
    for (j = 0; j < nfilters && !want; j++)
      want = strstr(rows[i].name, filters[j]) != NULL;
    if (!want)
      continue;
    measure(&rows[i], runs, target_ms);
    if (rows[i].skipped)
      fprintf(stderr, "  %-22s skipped: %s\n", rows[i].name, rows[i].why);
    else if (rows[i].scaling > 0)
      fprintf(stderr, "  %-22s %12.2f ns/op, scaling %.2f\n", rows[i].name,
              rows[i].ns_med, rows[i].scaling);
    else
      fprintf(stderr, "  %-22s %12.2f ns/op\n", rows[i].name, rows[i].ns_med);
  }
  printf("\n");
  print_table(stdout, 0, cpu);
  if (nfilters == 0)
    print_mem(stdout, 0);
  if (out != NULL) {
    FILE *f;
    snprintf(path, sizeof path, "%s/latest.json", out);
    write_json(path, cpu);
    snprintf(path, sizeof path, "%s/latest.md", out);
    if ((f = fopen(path, "w")) != NULL) {
      print_table(f, 1, cpu);
      print_mem(f, 1);
      fclose(f);
    }
    snprintf(path, sizeof path, "%s/latest.svg", out);
    write_svg(path, cpu);
    printf("\nwrote %s/latest.json, latest.md and latest.svg\n", out);
  }
  return 0;
}
