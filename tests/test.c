/* test.c: the harness behind test.h. */
#include "test.h"

#include <ftw.h>
#include <time.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TESTS 512

static struct {
  const char *name;
  pkt_fn fn;
} tests[MAX_TESTS];
static int ntests;
int pkt_argc;
char **pkt_argv;
long pkt_live, pkt_count;
size_t pkt_bytes;
static long fail_at, since;
static int failed_alloc;
char pkt_log_buf[4096];
static const char *cur_test = "?";

void pkt_register(const char *name, pkt_fn fn) {
  if (ntests < MAX_TESTS) {
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    ntests++;
  }
}

void pkt_skip(const char *fmt, ...) {
  va_list ap;
  printf("skipped: ");
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  exit(77);
}

void pkt_fail(const char *file, int line, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "%s:%d: %s: ", file, line, cur_test);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

const char *pkt_arg(int i) {
  if (i >= pkt_argc)
    pkt_fail(__FILE__, __LINE__, "missing command-line argument %d", i);
  return pkt_argv[i];
}

/* A header before each block keeps the live count exact. */
typedef union hdr {
  size_t n;
  max_align_t align;
} hdr;

/* Thread-safe: hosts are used from many threads (tests/threads). */
void *pkt_alloc(void *ud, void *p, size_t n) {
  hdr *h = p ? (hdr *)p - 1 : NULL;
  (void)ud;
  if (n == 0) {
    if (h != NULL) {
      __atomic_sub_fetch(&pkt_live, 1, __ATOMIC_RELAXED);
      free(h);
    }
    return NULL;
  }
  if (__atomic_add_fetch(&since, 1, __ATOMIC_RELAXED) == fail_at &&
      fail_at > 0) {
    failed_alloc = 1;
    return NULL;
  }
  __atomic_add_fetch(&pkt_count, 1, __ATOMIC_RELAXED);
  __atomic_add_fetch(&pkt_bytes, n, __ATOMIC_RELAXED);
  h = realloc(h, sizeof *h + n);
  if (h == NULL)
    return NULL;
  if (p == NULL)
    __atomic_add_fetch(&pkt_live, 1, __ATOMIC_RELAXED);
  h->n = n;
  return h + 1;
}

void pkt_fail_at(long n) {
  fail_at = n;
  since = 0;
  failed_alloc = 0;
}

int pkt_failed_alloc(void) { return failed_alloc; }

int64_t pkt_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static void log_sink(void *ud, int level, const char *plugin, const char *msg,
                     size_t len) {
  size_t used;
  (void)ud;
  pthread_mutex_lock(&log_mu);
  used = strlen(pkt_log_buf);
  snprintf(pkt_log_buf + used, sizeof pkt_log_buf - used, "[%d %s] %.*s\n",
           level, plugin, (int)len, msg);
  pthread_mutex_unlock(&log_mu);
}

pk_host *test_host(void) {
  pk_host_opts o = PK_HOST_OPTS_INIT;
  pk_host *h = NULL;
  o.alloc = pkt_alloc;
  o.log = log_sink;
  if (pk_host_create(&o, &h) != PK_OK)
    pkt_fail(__FILE__, __LINE__, "pk_host_create failed");
  return h;
}

void pkt_expect_open_error(const char *path, const pk_open_opts *opts,
                           int want, const char *phase, const char *why) {
  pk_host *h = test_host();
  pk_plugin *p = (pk_plugin *)&p;
  PKT_RC(h, pk_plugin_open(h, path, opts, &p), want);
  PKT_ASSERT(p == (pk_plugin *)&p);
  PKT_CONTAINS(pk_host_errmsg(h), path);
  PKT_CONTAINS(pk_host_errmsg(h), phase);
  PKT_CONTAINS(pk_host_errmsg(h), why);
  pk_host_destroy(h);
}

void pkt_write_file(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (f == NULL || fwrite(data, 1, n, f) != n)
    pkt_fail(__FILE__, __LINE__, "cannot write %s", path);
  fclose(f);
}

unsigned char *pkt_read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  unsigned char *d;
  long size;
  if (f == NULL)
    pkt_fail(__FILE__, __LINE__, "cannot read %s", path);
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  d = malloc((size_t)size + 1);
  if (d == NULL || fread(d, 1, (size_t)size, f) != (size_t)size)
    pkt_fail(__FILE__, __LINE__, "cannot read %s", path);
  fclose(f);
  *n = (size_t)size;
  return d;
}

static char tmp_dir[512];
static pid_t tmp_owner;

static int rm_entry(const char *path, const struct stat *st, int flag,
                    struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

/* A test's folder goes with it, passed or failed (pkt_fail exits): a run
   of the suite leaves nothing in $TMPDIR. Children forked by a test
   inherit the handler but do not own the folder. */
static void tmp_cleanup(void) {
  if (tmp_dir[0] != '\0' && getpid() == tmp_owner)
    nftw(tmp_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *pkt_tmp(const char *name) {
  static char path[1024];
  if (tmp_dir[0] == '\0') {
    const char *t = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/pkt-%s-XXXXXX",
             t && *t ? t : "/tmp", cur_test);
    if (mkdtemp(tmp_dir) == NULL)
      pkt_fail(__FILE__, __LINE__, "cannot make a folder like %s", tmp_dir);
    tmp_owner = getpid();
    atexit(tmp_cleanup);
  }
  snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
  return path;
}

int main(int argc, char **argv) {
  int i;
  if (argc >= 2 && strcmp(argv[1], "--list") == 0) {
    for (i = 0; i < ntests; i++)
      printf("%s\n", tests[i].name);
    return 0;
  }
  if (argc < 2) {
    fprintf(stderr, "usage: %s TEST [ARGS...] | --list\n", argv[0]);
    return 2;
  }
  for (i = 0; i < ntests; i++) {
    if (strcmp(tests[i].name, argv[1]) == 0) {
      cur_test = tests[i].name;
      pkt_argc = argc - 2;
      pkt_argv = argv + 2;
      tests[i].fn();
      if (pkt_live != 0)
        pkt_fail(__FILE__, __LINE__, "%ld allocations leaked", pkt_live);
      printf("%s: ok\n", cur_test);
      return 0;
    }
  }
  fprintf(stderr, "no test '%s'\n", argv[1]);
  return 2;
}

/* ---- limits a backend cannot enforce (docs/limits.md) ------------------ */

/* Set the i-th limit of pk_open_opts; its name, or NULL past the last. */
static const char *set_limit(pk_open_opts *o, int i) {
  switch (i) {
  case 0: o->call_timeout_ms = 100; return "call_timeout_ms";
  case 1: o->fuel = 1000; return "fuel";
  case 2: o->max_memory = 1 << 20; return "max_memory";
  case 3: o->fs_root = "."; return "fs_root";
  case 4: o->restart = 1; return "restart";
  case 5: o->spin_ns = 100; return "spin_ns";
  case 6: o->transport = 1; return "transport";
  case 7: o->harden = 1; return "harden";
  case 8: o->limit_files = 64; return "limit_files";
  case 9: o->limit_cpu_s = 1; return "limit_cpu_s";
  case 10: o->limit_mem = 1 << 30; return "limit_mem";
  default: return NULL;
  }
}

/* Each limit alone fails the open with PK_ENOSYS; the message names the
   limit and says what to use instead. */
void pkt_expect_limits_refused(const char *path, const char *who) {
  static const char *const instead[] = {
      "PK_ISOLATE_PROCESS",            /* call_timeout_ms */
      "with call_timeout_ms under process isolation", /* fuel */
      "with limit_mem under process isolation",       /* max_memory */
      "the file capability of wasm plugins",          /* fs_root */
  };
  char want[160];
  int i;
  for (i = 0;; i++) {
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    const char *name = set_limit(&o, i);
    if (name == NULL)
      break;
    if (i < 4)
      snprintf(want, sizeof want, "%s cannot be enforced on %s plugins",
               name, who);
    else
      snprintf(want, sizeof want,
               "%s applies to plugins in a child process, and this %s "
               "plugin runs in the host; open it with isolation = "
               "PK_ISOLATE_PROCESS",
               name, who);
    pkt_expect_open_error(path, &o, PK_ENOSYS, "open", want);
    if (i < 4)
      pkt_expect_open_error(path, &o, PK_ENOSYS, "open", instead[i]);
  }
  PKT_EQ_INT(i, 11);
}
