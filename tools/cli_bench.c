/*
 * plugkit bench: time one function of a user's plugin, go-test style.
 *
 *   plugkit bench [--all-backends] [--backend B] [--runs N] [--tier T]
 *                 FILE FN [ARG...]
 *
 * One row per artifact, named FN/BACKEND (the backend that opened it:
 * native, wasm, source, lua, process; process:native and process:wasm
 * for a .so or .wasm run in plugkit-runner) and ending with the file
 * measured: ns/op (median of the runs after warm-up), the minimum, the
 * ratio to a direct call of a noinline C function measured in the same
 * run (CFuncNoInline), and B/op and allocs/op made by the library during
 * the timed runs. FILE is always measured first (with --backend B if
 * given). With --all-backends, the other artifacts of the same plugin
 * next to FILE (same name, another extension) are measured too:
 * NAME.so, NAME.wasm, NAME.c, NAME.lua, the executable NAME, and
 * NAME.so and NAME.wasm isolated in plugkit-runner.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static uint64_t n_allocs, n_bytes;

static void *count_alloc(void *ud, void *p, size_t n) {
  (void)ud;
  if (n == 0) {
    free(p);
    return NULL;
  }
  n_allocs++;
  n_bytes += n;
  return realloc(p, n);
}

#if defined(__clang__)
#define CLI_NOINLINE __attribute__((noinline))
#else
#define CLI_NOINLINE __attribute__((noinline, noipa))
#endif

/* The reference: a direct call the compiler may not inline or elide. */
CLI_NOINLINE static int32_t ref_add(int32_t a, int32_t b) {
  __asm__ volatile("");
  return (int32_t)((uint32_t)a + (uint32_t)b); /* wraps, no UB */
}

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct result {
  double med, min, bytes, allocs;
  int ok;
  char why[512];
} result;

/* Run `n` operations: calls of f, or of the reference when f is NULL. */
static int run(pk_func *f, const pk_val *args, size_t nargs, uint64_t n,
               pk_host *h, char *why, size_t cap) {
  pk_val out[PK_MAX_RESULTS];
  uint64_t i;
  int32_t acc = 0;
  if (f == NULL) {
    for (i = 0; i < n; i++)
      acc = ref_add(acc, (int32_t)i);
    return acc == 42 ? 1 : 0; /* keeps acc alive */
  }
  for (i = 0; i < n; i++) {
    int rc = pk_func_call(f, args, nargs, out, PK_MAX_RESULTS);
    if (rc < 0) {
      snprintf(why, cap, "%s (%s)", pk_host_errmsg(h), pk_errname(rc));
      return -1;
    }
  }
  return 0;
}

static void measure(pk_func *f, const pk_val *args, size_t nargs, int runs,
                    pk_host *h, result *r) {
  double samples[64], t0, dt = 0;
  uint64_t n = 1, a0, b0, ops = 0;
  int i;

  r->ok = 0;
  for (;;) { /* calibrate: a run of about 20 ms */
    t0 = now_ns();
    if (run(f, args, nargs, n, h, r->why, sizeof r->why) < 0)
      return;
    dt = now_ns() - t0;
    if (dt >= 2e6 || n >= (UINT64_C(1) << 40))
      break;
    n *= dt < 2e5 ? 10 : 2;
  }
  n = (uint64_t)((double)n * 2e7 / (dt > 1 ? dt : 1));
  if (n == 0)
    n = 1;
  if (runs > 64)
    runs = 64;
  run(f, args, nargs, n, h, r->why, sizeof r->why); /* warm-up */
  a0 = n_allocs;
  b0 = n_bytes;
  for (i = 0; i < runs; i++) {
    t0 = now_ns();
    if (run(f, args, nargs, n, h, r->why, sizeof r->why) < 0)
      return;
    samples[i] = (now_ns() - t0) / (double)n;
    ops += n;
  }
  qsort(samples, (size_t)runs, sizeof samples[0], cmp_double);
  r->med = samples[runs / 2];
  r->min = samples[0];
  r->allocs = (double)(n_allocs - a0) / (double)ops;
  r->bytes = (double)(n_bytes - b0) / (double)ops;
  r->ok = 1;
}

typedef struct artifact {
  char path[4096];
  const char *backend; /* forced (--backend), or NULL: detected */
  const char *inner;   /* isolated: the backend in the runner */
  int isolation;
} artifact;

static int exists(const char *path, int want_exec) {
  struct stat st;
  if (stat(path, &st) != 0 || S_ISDIR(st.st_mode))
    return 0;
  return !want_exec || (st.st_mode & 0111) != 0;
}

static int has_backend(const char *name) {
  const char *const *b;
  for (b = pk_backends(); *b; b++)
    if (strcmp(*b, name) == 0)
      return 1;
  return 0;
}

static void add(artifact *out, int *n, int max, const char *path,
                const char *backend, const char *inner) {
  artifact *a;
  if (*n >= max)
    return;
  a = &out[(*n)++];
  snprintf(a->path, sizeof a->path, "%s", path);
  a->backend = backend;
  a->inner = inner;
  a->isolation = inner != NULL ? PK_ISOLATE_PROCESS : PK_ISOLATE_NONE;
}

/* The artifacts to measure: FILE itself, then (all) its siblings. */
static int artifacts(const char *file, const char *backend, int all,
                     artifact *out, int max) {
  static const struct {
    const char *ext, *backend;
    int isolate; /* also measure it in plugkit-runner */
  } kinds[] = {{".so", "native", 1}, {".wasm", "wasm", 1},
               {".c", "source", 0},  {".lua", "lua", 0},
               {"", "process", 0}};
  char stem[4096], path[4096];
  const char *dot = strrchr(file, '.'), *slash = strrchr(file, '/');
  int n = 0;
  size_t i;

  add(out, &n, max, file, backend, NULL);
  if (!all)
    return n;
  snprintf(stem, sizeof stem, "%s", file);
  if (dot != NULL && (slash == NULL || dot > slash))
    stem[dot - file] = '\0';
  for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    snprintf(path, sizeof path, "%s%s", stem, kinds[i].ext);
    if (!has_backend(kinds[i].backend) ||
        !exists(path, kinds[i].ext[0] == 0))
      continue;
    if (strcmp(path, file) != 0)
      add(out, &n, max, path, NULL, NULL);
    if (kinds[i].isolate && has_backend("process"))
      add(out, &n, max, path, NULL, kinds[i].backend);
  }
  return n;
}

int cli_bench(int argc, char **argv) {
  artifact arts[16];
  int all = 0, runs = 9, i = 0, k, nart;
  const char *file, *fn, *backend = NULL, *tier = NULL;
  result ref;

  for (; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--all-backends") == 0)
      all = 1;
    else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
      runs = atoi(argv[++i]);
    else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
      backend = argv[++i];
    else if (strcmp(argv[i], "--tier") == 0 && i + 1 < argc)
      tier = argv[++i];   /* wasm: pk_open_opts.tier */
    else {
      fprintf(stderr, "plugkit: bench: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  if (argc - i < 2 || runs < 1) {
    fprintf(stderr,
            "usage: plugkit bench [--all-backends] [--backend NAME] "
            "[--runs N] [--tier NAME] FILE FN [ARG...]\n");
    return 2;
  }
  file = argv[i];
  fn = argv[i + 1];
  argc -= i + 2;
  argv += i + 2;
  if ((nart = artifacts(file, backend, all, arts, 16)) == 0) {
    fprintf(stderr, "plugkit: bench: no artifact of '%s' found\n", file);
    return 1;
  }
  measure(NULL, NULL, 0, runs, NULL, &ref);
  printf("%-32s %12s %12s %10s %8s %10s  %s\n", "name", "ns/op",
         "min ns/op", "ratio", "B/op", "allocs/op", "file");
  printf("%-32s %12.2f %12.2f %9.2fx %8.0f %10.2f\n", "CFuncNoInline",
         ref.med, ref.min, 1.0, 0.0, 0.0);
  for (k = 0; k < nart; k++) {
    pk_host_opts ho = PK_HOST_OPTS_INIT;
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    pk_val args[PK_MAX_PARAMS];
    unsigned char *bufs[PK_MAX_PARAMS] = {0};
    char name[128], why[256];
    pk_host *h;
    pk_plugin *p;
    pk_func *f;
    result r;
    size_t np, j;
    int rc;

    ho.alloc = count_alloc;
    if (pk_host_create(&ho, &h) < 0)
      return 1;
    o.isolation = arts[k].isolation;
    o.tier = tier;
    o.backend = arts[k].inner != NULL ? arts[k].inner : arts[k].backend;
    rc = pk_plugin_open(h, arts[k].path, &o, &p);
    if (arts[k].inner != NULL) {
      snprintf(name, sizeof name, "%s/process:%s", fn, arts[k].inner);
    } else if (rc == PK_OK) {
      pk_plugin_info info = PK_PLUGIN_INFO_INIT;
      pk_plugin_info_get(p, &info);
      snprintf(name, sizeof name, "%s/%s", fn, info.backend);
    } else {
      snprintf(name, sizeof name, "%s/%s", fn,
               arts[k].backend != NULL ? arts[k].backend : "?");
    }
    if (rc < 0 || (rc = pk_plugin_func(p, fn, NULL, &f)) < 0) {
      printf("%-32s skipped: %s\n", name, pk_host_errmsg(h));
      pk_host_destroy(h);
      continue;
    }
    np = pk_func_nparams(f);
    if ((size_t)argc != np) {
      fprintf(stderr, "plugkit: %s is %s: %zu argument%s expected, %d given\n",
              fn, pk_func_sig(f), np, np == 1 ? "" : "s", argc);
      pk_host_destroy(h);
      return 2;
    }
    for (j = 0; j < np; j++)
      if (cli_parse_arg(argv[j], pk_func_param_type(f, j), &args[j], &bufs[j],
                        why, sizeof why) < 0) {
        fprintf(stderr, "plugkit: %s argument %zu: %s\n", fn, j + 1, why);
        for (j = 0; j < np; j++)
          free(bufs[j]);
        pk_host_destroy(h);
        return 2;
      }
    measure(f, args, np, runs, h, &r);
    if (r.ok)
      printf("%-32s %12.2f %12.2f %9.2fx %8.0f %10.2f  %s\n", name, r.med,
             r.min, r.med / ref.med, r.bytes, r.allocs, arts[k].path);
    else
      printf("%-32s failed: %s\n", name, r.why);
    for (j = 0; j < np; j++)
      free(bufs[j]);
    pk_host_destroy(h);
  }
  return 0;
}
