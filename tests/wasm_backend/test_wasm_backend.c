/*
 * The wasm backend: bad modules, imports and grants, traps, limits, WASI.
 * Run as `test_wasm_backend TEST DIR` (DIR holds the built .wasm files).
 */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char path_buf[1024];

static const char *wasm(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s.wasm", pkt_arg(0), name);
  return path_buf;
}

static int triple(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  results[0].i32 = args[0].i32 * 3;
  return PK_OK;
}

static pk_host *host;
static pk_plugin *plug;

static const char *fs_root;

static void open_limits(const char *grants, uint64_t fuel, int timeout_ms,
                        uint64_t max_memory) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.fs_root = fs_root;
  /* The same tests on another tier (CMake sets it, and the cache). */
  o.tier = getenv("PKT_WASM_TIER");
  host = test_host();
  PKT_RC(host, pk_host_define(host, "triple", "(i32)->i32", triple, NULL),
         PK_OK);
  o.grants = grants;
  o.fuel = fuel;
  o.call_timeout_ms = timeout_ms;
  o.max_memory = max_memory;
  PKT_RC(host, pk_plugin_open(host, wasm("limits"), &o, &plug), PK_OK);
  if (o.tier != NULL) {
    pk_plugin_info info = PK_PLUGIN_INFO_INIT;
    PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
    PKT_STR_EQ(info.tier, o.tier);
  }
}

static int call0(const char *name, pk_val *out) {
  pk_func *f;
  PKT_RC(host, pk_plugin_func(plug, name, NULL, &f), PK_OK);
  return pk_func_call(f, NULL, 0, out, pk_func_nresults(f));
}

static int call1(const char *name, pk_val in, pk_val *out) {
  pk_func *f;
  PKT_RC(host, pk_plugin_func(plug, name, NULL, &f), PK_OK);
  return pk_func_call(f, &in, 1, out, pk_func_nresults(f));
}

static void done(void) {
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

/* After a fault, the plugin still answers. */
static void still_usable(void) {
  pk_val out;
  PKT_RC(host, call1("typed", PK_I32(2), &out), PK_OK);
  PKT_EQ_INT(out.i32, 7);
}

static void expect_open(const char *path, int want, const char *why) {
  pk_host *h = test_host();
  pk_plugin *p = (pk_plugin *)&p;
  PKT_RC(h, pk_host_define(h, "triple", "(i32)->i32", triple, NULL), PK_OK);
  PKT_RC(h, pk_plugin_open(h, path, NULL, &p), want);
  PKT_ASSERT(p == (pk_plugin *)&p);
  PKT_CONTAINS(pk_host_errmsg(h), path);
  PKT_CONTAINS(pk_host_errmsg(h), why);
  pk_host_destroy(h);
}

PK_TEST(truncated_module) {
  size_t n;
  unsigned char *d = pkt_read_file(wasm("conformance"), &n);
  const char *t = pkt_tmp("cut.wasm");
  pkt_write_file(t, d, n / 3);
  free(d);
  expect_open(t, PK_EFORMAT, "malformed module");
}

PK_TEST(bad_version) {
  static const unsigned char m[] = {0, 'a', 's', 'm', 2, 0, 0, 0};
  const char *t = pkt_tmp("v2.wasm");
  pkt_write_file(t, m, sizeof m);
  expect_open(t, PK_EFORMAT, "open: malformed module");
}

PK_TEST(invalid_module) {
  /* (func (result i32) (i64.const 0)): a type error, so invalid. */
  static const unsigned char m[] = {
      0, 'a', 's', 'm', 1, 0, 0, 0,    1, 5, 1, 0x60, 0, 1, 0x7f,
      3, 2,   1,   0,   10, 6, 1, 4, 0, 0x42, 0, 0x0b};
  const char *t = pkt_tmp("invalid.wasm");
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_host *h = test_host();
  pk_plugin *p = (pk_plugin *)&p;
  pkt_write_file(t, m, sizeof m);
  o.validate_all = 1;
  PKT_RC(h, pk_plugin_open(h, t, &o, &p), PK_EFORMAT);
  PKT_ASSERT(p == (pk_plugin *)&p);
  PKT_CONTAINS(pk_host_errmsg(h), t);
  PKT_CONTAINS(pk_host_errmsg(h), "invalid module: function 0: type mismatch");
  pk_host_destroy(h);
}

/* By default a body is validated at its first call: an invalid one fails
   that call with PK_EFORMAT, and the plugin's other functions work. */
PK_TEST(invalid_function_fails_its_call) {
  /* f: (result i32) (i64.const 0), invalid; g: (result i32) (i32.const 5) */
  static const unsigned char m[] = {
      0,    'a', 's', 'm', 1,   0,   0,   0,   1,    5,    1,   0x60,
      0,    1,   0x7f, 3,  3,   2,   0,   0,   7,    9,    2,   1,
      'f',  0,   0,   1,   'g', 0,   1,   10,  11,   2,    4,   0,
      0x42, 0,   0x0b, 4,  0,   0x41, 5,  0x0b};
  const char *t = pkt_tmp("lazy_invalid.wasm");
  pk_func *f, *g;
  pk_val out;
  pkt_write_file(t, m, sizeof m);
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, t, NULL, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "f", "()->i32", &f), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "g", "()->i32", &g), PK_OK);
  PKT_RC(host, pk_func_call(f, NULL, 0, &out, 1), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(host), t);
  PKT_CONTAINS(pk_host_errmsg(host),
               "invalid module: function 0: type mismatch");
  PKT_RC(host, pk_func_call(g, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 5);
  PKT_RC(host, pk_func_call(f, NULL, 0, &out, 1), PK_EFORMAT);
  done();
}

PK_TEST(unknown_import_module) {
  expect_open(wasm("imports_env"), PK_ENOENT, "unknown import 'env.mystery'");
}

PK_TEST(typed_import_not_granted) {
  expect_open(wasm("limits"), PK_EDENIED,
              "import 'plugkit.triple': host function not granted");
}

PK_TEST(typed_import_wrong_type) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  PKT_RC(h, pk_host_define(h, "triple", "(i64)->i64", triple, NULL), PK_OK);
  o.grants = "triple";
  PKT_RC(h, pk_plugin_open(h, wasm("limits"), &o, &p), PK_ESIG);
  PKT_CONTAINS(pk_host_errmsg(h), "import 'plugkit.triple' has wasm type "
                                  "(i32)->(i32)");
  pk_host_destroy(h);
}

PK_TEST(typed_import_call) {
  pk_val out;
  open_limits("triple", 0, 0, 0);
  PKT_RC(host, call1("typed", PK_I32(5), &out), PK_OK);
  PKT_EQ_INT(out.i32, 16);
  done();
}

PK_TEST(trap_unreachable) {
  pk_val out;
  open_limits("triple", 0, 0, 0);
  PKT_RC(host, call0("trap", &out), PK_ETRAP);
  PKT_CONTAINS(pk_host_errmsg(host), "call 'trap': trap: unreachable");
  still_usable();
  done();
}

PK_TEST(trap_out_of_bounds) {
  pk_val out;
  open_limits("triple", 0, 0, 0);
  PKT_RC(host, call0("oob", &out), PK_ETRAP);
  PKT_CONTAINS(pk_host_errmsg(host), "out of bounds memory access");
  still_usable();
  done();
}

PK_TEST(deep_recursion_traps) {
  pk_val out;
  open_limits("triple", 0, 0, 0);
  PKT_RC(host, call1("recurse", PK_I32(100), &out), PK_OK);
  PKT_EQ_INT(out.i32, 100);
  PKT_RC(host, call1("recurse", PK_I32(10000000), &out), PK_ETRAP);
  PKT_CONTAINS(pk_host_errmsg(host), "call stack exhausted");
  still_usable();
  done();
}

PK_TEST(fuel_limit) {
  pk_val out;
  open_limits("triple", 100000, 0, 0);
  PKT_RC(host, call0("spin", &out), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "out of fuel");
  still_usable(); /* fuel is per call */
  done();
}

PK_TEST(timeout) {
  pk_val out;
  open_limits("triple", 0, 50, 0);
  PKT_RC(host, call0("spin", &out), PK_ETIMEOUT);
  PKT_CONTAINS(pk_host_errmsg(host), "did not return within 50 ms");
  still_usable();
  done();
}

/* The threads of this process (/proc/self/task), or -1. */
static int task_count(void) {
  char line[256];
  int n = -1;
  FILE *f = fopen("/proc/self/status", "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, "Threads:", 8) == 0)
      n = atoi(line + 8);
  fclose(f);
  return n;
}

/* Instances with call_timeout_ms share one watchdog thread, which ends
   with the last of them. */
PK_TEST(timeout_watchdogs_share_one_thread) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *ps[6];
  int with_one, i;
  pk_host *h = test_host();
  PKT_RC(h, pk_host_define(h, "triple", "(i32)->i32", triple, NULL), PK_OK);
  o.fs_root = fs_root;
  o.grants = "triple";
  o.call_timeout_ms = 1000;
  /* Counted once the first watchdog runs (a sanitizer starts a thread of
     its own with the first thread a program creates). */
  PKT_RC(h, pk_plugin_open(h, wasm("limits"), &o, &ps[0]), PK_OK);
  if ((with_one = task_count()) < 0)
    pkt_skip("no /proc/self/status");
  for (i = 1; i < 6; i++)
    PKT_RC(h, pk_plugin_open(h, wasm("limits"), &o, &ps[i]), PK_OK);
  PKT_EQ_INT(task_count(), with_one);
  for (i = 0; i < 5; i++)
    pk_plugin_close(ps[i]);
  PKT_EQ_INT(task_count(), with_one);
  pk_plugin_close(ps[5]);
  PKT_EQ_INT(task_count(), with_one - 1);
  pk_host_destroy(h);
}

/* The watchdog thread sleeps once no deadline has been armed for a
   while; the next call's deadline wakes it and still interrupts. */
PK_TEST(timeout_after_idle) {
  pk_val out;
  struct timespec idle = {0, 300 * 1000000L};
  open_limits("triple", 0, 50, 0);
  still_usable();
  nanosleep(&idle, NULL); /* well past the thread's idle ticks */
  PKT_RC(host, call0("spin", &out), PK_ETIMEOUT);
  PKT_CONTAINS(pk_host_errmsg(host), "did not return within 50 ms");
  nanosleep(&idle, NULL);
  PKT_RC(host, call0("spin", &out), PK_ETIMEOUT);
  still_usable();
  done();
}

PK_TEST(memory_limit) {
  pk_val out;
  open_limits("triple", 0, 0, 4 << 20);
  PKT_RC(host, call1("alloc_mb", PK_I32(1), &out), PK_OK);
  PKT_EQ_INT(out.bytes.len, 16);
  PKT_RC(host, call1("alloc_mb", PK_I32(8), &out), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "memory limit reached");
  still_usable();
  PKT_RC(host, call1("alloc_mb", PK_I32(1), &out), PK_OK);
  done();
}

PK_TEST(wasi_stdout_to_log) {
  pk_val out;
  open_limits("triple", 0, 0, 0);
  PKT_RC(host, call0("hello", &out), PK_OK);
  PKT_CONTAINS(pkt_log_buf, "[2 limits] hello from wasm");
  PKT_CONTAINS(pkt_log_buf, "[1 limits] and from stderr");
  done();
}

PK_TEST(wasi_proc_exit) {
  pk_val out;
  open_limits("triple", 0, 0, 0);
  PKT_RC(host, call1("quit", PK_I32(3), &out), PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "proc_exit(3)");
  done();
}

/* A module without the plugkit marker: its functions, as wasm types. */
PK_TEST(plain_module) {
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  pk_func *f;
  pk_val in[2] = {PK_F64(1.5), PK_F32(4.0f)}, out;
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, wasm("plain"), NULL, &plug), PK_OK);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.name, "plain");
  PKT_EQ_INT(info.abi_major, 0);
  PKT_RC(host, pk_plugin_func(plug, "add", "(i32,i32)->i32", &f), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "scale", "(f64,f32)->f64", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_ASSERT(out.f64 == 6.0);
  PKT_RC(host, pk_plugin_func(plug, "wide", "(i64)->i64", &f), PK_OK);
  done();
}

/* pk_open_opts.tier: "jit" runs compiled code with the same results,
   "auto" takes the best tier built, "aot" wants an artifact, and an
   unknown name is refused. */
static int open_tier(const char *tier) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.tier = tier;
  plug = NULL;
  return pk_plugin_open(host, wasm("plain"), &o, &plug);
}

PK_TEST(tier_jit_or_auto_reported) {
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  pk_func *f;
  pk_val in[2] = {PK_F64(1.5), PK_F32(4.0f)}, out;
  int rc;
  host = test_host();
  setenv("XDG_CACHE_HOME", pkt_tmp("cache"), 1); /* auto: no aot there */
  rc = open_tier("jit");
  if (rc == PK_ENOSYS) {   /* a build without libtcc */
    PKT_CONTAINS(pk_host_errmsg(host), "not built");
    PKT_RC(host, open_tier("auto"), PK_OK);
    PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
    PKT_STR_EQ(info.tier, "interp");
    pk_host_destroy(host);
    pkt_skip("the jit tier is not built");
  }
  PKT_RC(host, rc, PK_OK);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.tier, "jit");
  PKT_RC(host, pk_plugin_func(plug, "scale", "(f64,f32)->f64", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_ASSERT(out.f64 == 6.0);
  pk_plugin_close(plug);
  PKT_RC(host, open_tier("auto"), PK_OK);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.tier, "jit");
  pk_plugin_close(plug);
  PKT_RC(host, open_tier(NULL), PK_OK);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.tier, "interp");
  done();
}

/* reset_after_call on the compiled tiers (their code marks the pages a
   call writes): "jit" runs it, "auto" takes the best tier as for any
   plugin (jit, with no aot artifact in the cache), and both report it. */
PK_TEST(tier_jit_and_auto_with_reset_after_call) {
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_func *f;
  pk_val in[2] = {PK_F64(1.5), PK_F32(4.0f)}, out;
  int rc;
  host = test_host();
  setenv("XDG_CACHE_HOME", pkt_tmp("cache"), 1);
  o.reset_after_call = 1;
  o.tier = "jit";
  plug = NULL;
  rc = pk_plugin_open(host, wasm("plain"), &o, &plug);
  if (rc == PK_ENOSYS) { /* a build without libtcc */
    PKT_CONTAINS(pk_host_errmsg(host), "not built");
    pk_host_destroy(host);
    pkt_skip("the jit tier is not built");
  }
  PKT_RC(host, rc, PK_OK);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.tier, "jit");
  PKT_RC(host, pk_plugin_func(plug, "scale", "(f64,f32)->f64", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_ASSERT(out.f64 == 6.0);
  pk_plugin_close(plug);
  o.tier = "auto";
  PKT_RC(host, pk_plugin_open(host, wasm("plain"), &o, &plug), PK_OK);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.tier, "jit");
  done();
}

PK_TEST(tier_aot_missing_and_unknown_refused) {
  pk_plugin *sentinel;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  host = test_host();
  /* An empty cache: no artifact, an error that says what to run. */
  setenv("XDG_CACHE_HOME", pkt_tmp("cache"), 1);
  o.tier = "aot";
  plug = NULL;
  PKT_RC(host, pk_plugin_open(host, wasm("plain"), &o, &plug), PK_ENOENT);
  PKT_CONTAINS(pk_host_errmsg(host), "tier aot: no artifact");
  PKT_CONTAINS(pk_host_errmsg(host), "plugkit compile --cache");
  PKT_CONTAINS(pk_host_errmsg(host), "plain.wasm");
  sentinel = plug;
  PKT_RC(host, open_tier("turbo"), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(host), "unknown tier 'turbo'");
  PKT_ASSERT(plug == sentinel);
  pk_host_destroy(host);
}

/* A plain module's multi-value export is offered with its results; one
   whose type has no plugkit signature (an externref parameter) is not,
   and the log says so. */
PK_TEST(plain_module_multi_value_and_refused) {
  static const unsigned char m[] = {
      0, 'a', 's', 'm', 1, 0, 0, 0,
      /* types: (i32)->(i32,i64), (externref)->() */
      1, 11, 2, 0x60, 1, 0x7f, 2, 0x7f, 0x7e, 0x60, 1, 0x6f, 0,
      3, 3, 2, 0, 1,                                   /* functions */
      7, 13, 2, 3, 't', 'w', 'o', 0, 0, 3, 'r', 'e', 'f', 0, 1,
      /* two(x) = (x + 1, (i64)x); ref(r) = () */
      10, 15, 2, 10, 0, 0x20, 0, 0x41, 1, 0x6a, 0x20, 0, 0xac, 0x0b,
      2, 0, 0x0b};
  const char *t = pkt_tmp("multi.wasm");
  pk_func *f;
  pk_val in = PK_I32(41), out[2];
  pkt_write_file(t, m, sizeof m);
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, t, NULL, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "two", "(i32)->(i32,i64)", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, out, 2), PK_OK);
  PKT_EQ_INT(out[0].type, PK_T_I32);
  PKT_EQ_INT(out[0].i32, 42);
  PKT_EQ_INT(out[1].type, PK_T_I64);
  PKT_EQ_INT(out[1].i64, 41);
  PKT_RC(host, pk_plugin_func(plug, "ref", NULL, &f), PK_ENOSYM);
  PKT_CONTAINS(pkt_log_buf, "export 'ref' is not offered: its type has a "
                            "parameter or result that is not i32");
  done();
}

PK_TEST(init_fails) {
  expect_open(wasm("init_fail"), PK_EINIT, "init: init refused");
}

/* Rebuilt module, reopened: new code. */
PK_TEST(reopen_after_rebuild) {
  size_t n1, n2;
  unsigned char *b1 = pkt_read_file(wasm("conformance"), &n1);
  unsigned char *b2 = pkt_read_file(wasm("build2"), &n2);
  const char *t = pkt_tmp("p.wasm");
  pk_func *f;
  pk_val out;
  host = test_host();
  pkt_write_file(t, b1, n1);
  PKT_RC(host, pk_plugin_open(host, t, NULL, &plug), PK_OK);
  pk_plugin_close(plug);
  pkt_write_file(t, b2, n2);
  PKT_RC(host, pk_plugin_open(host, t, NULL, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "build_id", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 2);
  free(b1);
  free(b2);
  done();
}

/* Scalar and string calls allocate nothing on the host. */
PK_TEST(calls_do_not_allocate) {
  pk_func *sum, *greet;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, s = PK_STR("bob", 3), out;
  long before;
  int i;
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, wasm("conformance"), NULL, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "sum", NULL, &sum), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "greet", NULL, &greet), PK_OK);
  /* The first calls translate the functions (lazily): steady state
     starts after them. */
  PKT_RC(host, pk_func_call(greet, &s, 1, &out, 1), PK_OK);
  PKT_RC(host, pk_func_call(sum, in, 2, &out, 1), PK_OK);
  before = pkt_count;
  for (i = 0; i < 1000; i++) {
    PKT_RC(host, pk_func_call(sum, in, 2, &out, 1), PK_OK);
    PKT_EQ_INT(out.i32, 3);
    PKT_RC(host, pk_func_call(greet, &s, 1, &out, 1), PK_OK);
    PKT_STRN_EQ(out.str.ptr, out.str.len, "hello, bob");
  }
  PKT_EQ_INT(pkt_count - before, 0);
  done();
}

/* greet(s) through every way an argument reaches the guest: the
   argument area (1 KiB in the SDK), exactly full, and cabi_realloc for
   larger strings. The result is checked byte for byte. */
PK_TEST(string_args_area_and_realloc) {
  static const size_t sizes[] = {0, 1, 1023, 1024, 1025, 70000};
  char *buf = malloc(70000);
  pk_func *greet;
  size_t i, k;
  PKT_ASSERT(buf != NULL);
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, wasm("conformance"), NULL, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "greet", NULL, &greet), PK_OK);
  for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    pk_val in, out;
    for (k = 0; k < sizes[i]; k++)
      buf[k] = (char)('a' + (k * 7 + i) % 26);
    in = PK_STR(buf, sizes[i]);
    PKT_RC(host, pk_func_call(greet, &in, 1, &out, 1), PK_OK);
    PKT_EQ_INT(out.str.len, sizes[i] + 7);
    PKT_ASSERT(memcmp(out.str.ptr, "hello, ", 7) == 0);
    PKT_ASSERT(sizes[i] == 0 || memcmp(out.str.ptr + 7, buf, sizes[i]) == 0);
  }
  free(buf);
  done();
}

/* The module frees a call's result and arguments at its next entry
   (plugkit_auto_post), so the host never calls cabi_post_<name>: under a
   1 MiB memory limit, 2,000 calls with 8 KiB strings (16 MiB if nothing
   were freed) all succeed. */
PK_TEST(results_freed_at_next_call) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  char big[8192];
  pk_func *greet;
  pk_val in = PK_STR(big, sizeof big), out;
  int i;
  memset(big, 'x', sizeof big);
  o.max_memory = 1u << 20;
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, wasm("conformance"), &o, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "greet", NULL, &greet), PK_OK);
  for (i = 0; i < 2000; i++) {
    PKT_RC(host, pk_func_call(greet, &in, 1, &out, 1), PK_OK);
    PKT_EQ_INT(out.str.len, sizeof big + 7);
  }
  done();
}

/* A trap skips the SDK wrapper's epilogue; the host's plugkit_unwind
   call resets the guest's call depth and arena. Without it the arena
   would keep each call's 256 KiB and the 4 MiB limit would end the
   calls with PK_ELIMIT instead of the trap. */
PK_TEST(trap_unwinds_guest_arena) {
  pk_val out;
  int i;
  open_limits("triple", 0, 0, 4u << 20);
  for (i = 0; i < 64; i++) {
    PKT_RC(host, call1("trap_after_alloc", PK_I32(256), &out), PK_ETRAP);
    PKT_CONTAINS(pk_host_errmsg(host), "unreachable");
  }
  still_usable();
  done();
}

PK_TEST(bad_arg_area_address) {
  expect_open(wasm("bad_area_addr"), PK_EFORMAT,
              "plugkit_arg_area: 0xfffffff0 is outside guest memory");
}

PK_TEST(bad_arg_area_capacity) {
  expect_open(wasm("bad_area_cap"), PK_EFORMAT,
              "plugkit_arg_area: 2147483632 bytes at");
}

PK_TEST(bad_arg_area_type) {
  expect_open(wasm("bad_area_type"), PK_EFORMAT,
              "plugkit_arg_area must be () -> i32");
}

PK_TEST(bad_unwind_type) {
  expect_open(wasm("bad_unwind_type"), PK_EFORMAT,
              "plugkit_unwind must be () -> ()");
}

/* A closed plugin's large blocks (value stack, frames, linear memory)
   serve the next open on the host: the first open asks for over 1 MiB,
   a reopen for less than 256 KiB. pk_host_destroy frees the spares (the
   harness checks that nothing leaks). */
PK_TEST(reopen_reuses_large_blocks) {
  size_t before, first, second;
  host = test_host();
  before = pkt_bytes;
  PKT_RC(host, pk_plugin_open(host, wasm("conformance"), NULL, &plug), PK_OK);
  pk_plugin_close(plug);
  first = pkt_bytes - before;
  before = pkt_bytes;
  PKT_RC(host, pk_plugin_open(host, wasm("conformance"), NULL, &plug), PK_OK);
  pk_plugin_close(plug);
  second = pkt_bytes - before;
  PKT_ASSERT(first > ((size_t)1 << 20));
  PKT_ASSERT(second < ((size_t)256 << 10));
  pk_host_destroy(host);
}

/* Allocation failures anywhere in open and a call: clean errors. */
PK_TEST(allocation_failure_sweep) {
  long n;
  for (n = 1; n < 5000; n++) {
    pk_host *h = test_host();
    pk_plugin *p = NULL;
    pk_func *f;
    pk_val s = PK_STR("x", 1), out;
    int rc;
    pkt_fail_at(n);
    rc = pk_plugin_open(h, wasm("conformance"), NULL, &p);
    if (rc == PK_OK && (rc = pk_plugin_func(p, "greet", NULL, &f)) == PK_OK)
      rc = pk_func_call(f, &s, 1, &out, 1);
    pkt_fail_at(0);
    pk_plugin_close(p);
    pk_host_destroy(h);
    if (pkt_live != 0)
      pkt_fail(__FILE__, __LINE__, "failing allocation %ld leaked", n);
    if (rc == PK_OK && !pkt_failed_alloc())
      return;
    if (rc != PK_ENOMEM && rc != PK_OK && rc != PK_EFORMAT)
      pkt_fail(__FILE__, __LINE__, "allocation %ld failing gave %s: %s", n,
               pk_errname(rc), pk_host_errmsg(h));
  }
}

/* The Rust guest (examples/rust/plugin.rs); registered by CMake only when
   rustc can build it, hence not a PK_TEST line of its own name. */
static void rust_guest(void) {
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  pk_func *f;
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out;
  int i;
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, wasm("rust_plugin"), NULL, &plug), PK_OK);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.name, "rust");
  PKT_RC(host, pk_plugin_func(plug, "sum", "(i32,i32)->i32", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 42);
  PKT_RC(host, pk_plugin_func(plug, "greet", "(str)->str", &f), PK_OK);
  for (i = 0; i < 100; i++) { /* cabi_post_greet frees each result */
    in[0] = PK_STR("Ferris", 6);
    PKT_RC(host, pk_func_call(f, in, 1, &out, 1), PK_OK);
    PKT_STRN_EQ(out.str.ptr, out.str.len, "hello, Ferris");
  }
  done();
}

/* A plugin written with the Rust guest module (sdk/rust/plugkit.rs) that
   panics: the call traps, the panic's message is in the log, and the
   plugin keeps working. */
static void rust_module_panic_logged(void) {
  pk_func *f;
  pk_val in = PK_I32(7), out;
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, wasm("rust_panic"), NULL, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "at", "(i32)->i32", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_ETRAP);
  /* (rustc's wording of the panic differs across versions.) */
  PKT_CONTAINS(pkt_log_buf, "[0 rust_panic] panic: panicked at ");
  PKT_CONTAINS(pkt_log_buf, "the len is 3 but the index is 7");
  in = PK_I32(1);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 20);
  done();
}

__attribute__((constructor)) static void reg_rust(void) {
  pkt_register("rust_guest", rust_guest);
  pkt_register("rust_module_panic_logged", rust_module_panic_logged);
}

/* Files: only beneath fs_root, read-only, no escape by "..", absolute
   paths or symbolic links. */
PK_TEST(wasi_files_beneath_root) {
  char root[1024], outside[1024], link[1100];
  pk_val out;
  snprintf(root, sizeof root, "%s", pkt_tmp("root"));
  snprintf(outside, sizeof outside, "%s", pkt_tmp("secret.txt"));
  PKT_ASSERT(mkdir(root, 0700) == 0);
  PKT_ASSERT(mkdir(pkt_tmp("root/sub"), 0700) == 0);
  pkt_write_file(pkt_tmp("root/sub/hello.txt"), "hello, file", 11);
  pkt_write_file(outside, "secret", 6);
  snprintf(link, sizeof link, "%s/sub/escape.txt", root);
  PKT_ASSERT(symlink(outside, link) == 0);
  fs_root = root;
  open_limits("triple", 0, 0, 0);
  PKT_RC(host, call1("read_file", PK_STR("/sub/hello.txt", 14), &out), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "hello, file");
  PKT_RC(host, call1("read_file", PK_STR("sub/hello.txt", 13), &out), PK_OK);
  PKT_RC(host, call1("read_file", PK_STR("/sub/../../secret.txt", 21), &out),
         PK_EPLUGIN);
  PKT_RC(host, call1("read_file", PK_STR("/sub/escape.txt", 15), &out),
         PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "cannot open '/sub/escape.txt'");
  PKT_RC(host, call1("read_file", PK_STR("/nope.txt", 9), &out), PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "No such file");
  PKT_RC(host, call1("write_file", PK_STR("/new.txt", 8), &out), PK_OK);
  PKT_ASSERT(out.i32 != 0); /* refused: read-only */
  PKT_ASSERT(access(pkt_tmp("root/new.txt"), F_OK) != 0);
  done();
}

/* A file init opened is part of the state reset_after_call returns to:
   each call reads it from offset 0, and one the last call closed is open
   again. Without reset the offset and the close carry over (the check
   the test makes can fail). */
static void kept_file(int reset) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  char root[1024];
  pk_val out;
  snprintf(root, sizeof root, "%s", pkt_tmp("root"));
  PKT_ASSERT(mkdir(root, 0700) == 0);
  pkt_write_file(pkt_tmp("root/kept.txt"), "abcdefgh", 8);
  host = test_host();
  o.fs_root = root;
  o.reset_after_call = reset;
  o.tier = getenv("PKT_WASM_TIER");
  PKT_RC(host, pk_plugin_open(host, wasm("kept_file"), &o, &plug), PK_OK);
  PKT_RC(host, call0("read4", &out), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "abcd");
  PKT_RC(host, call0("read4", &out), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, reset ? "abcd" : "efgh");
  PKT_RC(host, call0("close_kept", &out), PK_OK);
  PKT_EQ_INT(out.i32, 0);
  if (reset) {
    PKT_RC(host, call0("read4", &out), PK_OK);
    PKT_STRN_EQ(out.str.ptr, out.str.len, "abcd");
    PKT_RC(host, call0("close_kept", &out), PK_OK);
    PKT_EQ_INT(out.i32, 0);
  } else {
    PKT_RC(host, call0("read4", &out), PK_EPLUGIN);
    PKT_CONTAINS(pk_host_errmsg(host), "read failed");
  }
  done();
}
PK_TEST(wasi_file_from_init_reset_after_call) { kept_file(1); }
PK_TEST(wasi_file_from_init_without_reset) { kept_file(0); }

PK_TEST(wasi_no_files_without_root) {
  pk_val out;
  open_limits("triple", 0, 0, 0);
  PKT_RC(host, call1("read_file", PK_STR("/etc/passwd", 11), &out),
         PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "cannot open '/etc/passwd'");
  done();
}

PK_TEST(fs_root_missing) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_host_define(h, "triple", "(i32)->i32", triple, NULL);
  o.grants = "triple";
  o.fs_root = "/no/such/dir";
  PKT_RC(h, pk_plugin_open(h, wasm("limits"), &o, &p), PK_ENOENT);
  PKT_CONTAINS(pk_host_errmsg(h), "fs_root '/no/such/dir'");
  pk_host_destroy(h);
}

/* ---- new-user.md B1, B5, B7, B8, friction 15 ------------------------- */

static int h_none(void *ud, pk_plugin *c, const pk_val *a, pk_val *r) {
  (void)ud, (void)c, (void)a, (void)r;
  return PK_OK;
}
static int h_e64(void *ud, pk_plugin *c, const pk_val *a, pk_val *r) {
  (void)ud, (void)c;
  r[0].i64 = a[0].i64 + 1;
  return PK_OK;
}
static int h_hs(void *ud, pk_plugin *c, const pk_val *a, pk_val *r) {
  (void)ud, (void)c, (void)a;
  r[0] = PK_STR("hello", 5);
  return PK_OK;
}

/* pk_host_call's results arrive whatever the place of the function in the
   grants; a first granted function with no results lost them (B1: the
   grant index was read after the import's result slot overwrote it). */
PK_TEST(host_call_results_any_grant_order) {
  static const char *const orders[] = {"e64,hs,aaa", "aaa,e64,hs",
                                       "hs,aaa,e64", "aaa,hs,e64",
                                       "e64,aaa,hs", "*"};
  size_t k;
  for (k = 0; k < sizeof orders / sizeof orders[0]; k++) {
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    pk_func *f;
    pk_val in = PK_I64(5000000000LL), out;
    host = test_host();
    PKT_RC(host, pk_host_define(host, "aaa", "()->()", h_none, NULL), PK_OK);
    PKT_RC(host, pk_host_define(host, "e64", "(i64)->i64", h_e64, NULL),
           PK_OK);
    PKT_RC(host, pk_host_define(host, "hs", "()->str", h_hs, NULL), PK_OK);
    o.grants = orders[k];
    PKT_RC(host, pk_plugin_open(host, wasm("grant_index"), &o, &plug),
           PK_OK);
    PKT_RC(host, pk_plugin_func(plug, "via_e64", NULL, &f), PK_OK);
    PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_OK);
    PKT_EQ_INT(out.i64, 5000000001LL);
    PKT_RC(host, pk_plugin_func(plug, "via_hs", NULL, &f), PK_OK);
    PKT_RC(host, pk_func_call(f, NULL, 0, &out, 1), PK_OK);
    PKT_STRN_EQ(out.str.ptr, out.str.len, "[hello] type=5");
    done();
  }
}

/* One log message per line written to stdout, none empty but an empty
   line (B5: wasi-libc's two iovecs per write gave an extra ""). */
PK_TEST(wasi_stdout_one_message_per_line) {
  pk_func *f;
  pk_val out;
  host = test_host();
  pkt_log_buf[0] = '\0';
  PKT_RC(host, pk_plugin_open(host, wasm("chatty"), NULL, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "chat", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, NULL, 0, &out, 1), PK_OK);
  PKT_STR_EQ(pkt_log_buf, "[2 chatty] A\n[2 chatty] B\n[2 chatty] C\n"
                          "[2 chatty] D\n[2 chatty] \n[1 chatty] E\n");
  done();
}

/* An argument too large for max_memory is PK_ELIMIT naming the limit, as
   an allocation inside the plugin is (B7: it was ENOMEM). */
PK_TEST(argument_past_memory_limit) {
  pk_val out;
  char *big = malloc(8u << 20);
  PKT_ASSERT(big != NULL);
  memset(big, 'a', 8u << 20);
  open_limits("triple", 0, 0, 4 << 20);
  PKT_RC(host, call1("read_file", PK_STR(big, 8u << 20), &out), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "memory limit reached");
  PKT_CONTAINS(pk_host_errmsg(host), "max_memory");
  free(big);
  still_usable();
  done();
}

/* max_memory 0 is no cap but wasm32's (B8: a hidden 1 GiB). */
PK_TEST(no_hidden_memory_cap) {
  pk_func *f;
  pk_val in = PK_I32(16384), out; /* 1 page + 1 GiB */
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, wasm("grow"), NULL, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "grow", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_OK);
  PKT_ASSERT(out.i32 > 0); /* the old size, not -1 */
  done();
}

/* An SDK import name taken by a host function: the open says it is
   reserved (friction 15). */
PK_TEST(reserved_import_name) {
  pk_host *h = test_host();
  pk_plugin *p = (pk_plugin *)&p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  PKT_RC(h, pk_host_define(h, "log", "(str)->()", h_none, NULL), PK_OK);
  o.grants = "log";
  PKT_RC(h, pk_plugin_open(h, wasm("reserved_import"), &o, &p), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h), "'log' is reserved by the SDK");
  PKT_CONTAINS(pk_host_errmsg(h), "has wasm type (i32,i32)->(),");
  PKT_CONTAINS(pk_host_errmsg(h), "pk_host_find");
  pk_host_destroy(h);
}
