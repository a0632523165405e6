/*
 * The process backend, beyond conformance: faults at each protocol step,
 * restarts, timeouts, stderr, transports, hardening, Python plugins.
 * Run as `test_process TEST FAULT_EXE CONFORMANCE_EXE CONFORMANCE_SO PY
 * OPENER_SO CONFORMANCE_WASM` (the last "none" without the wasm backend).
 */
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pk_host *host;
static pk_plugin *plug;

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;
  PKT_ASSERT(d != NULL);
  while ((e = readdir(d)) != NULL)
    n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static int count_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  int n = 0, c;
  PKT_ASSERT(f != NULL);
  while ((c = fgetc(f)) != EOF)
    n += c == '\n';
  fclose(f);
  return n;
}

/* No child left behind: every process we started was reaped. */
static void no_children(void) {
  int st;
  PKT_EQ_INT(waitpid(-1, &st, WNOHANG), -1);
  PKT_EQ_INT(errno, ECHILD);
}

static int reenter(void *ud, pk_plugin *caller, const pk_val *args,
                   pk_val *results) {
  pk_func *f;
  pk_val out;
  int rc;
  (void)ud;
  if ((rc = pk_plugin_func(caller, "work", NULL, &f)) < 0 ||
      (rc = pk_func_call(f, args, 1, &out, 1)) < 0)
    return rc;
  results[0].i32 = out.i32 * 10;
  return PK_OK;
}

static int triple(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  results[0].i32 = args[0].i32 * 3;
  return PK_OK;
}

/* Open the fault fixture told to do `fault` at `at` (NULL: behave). */
static int open_fault(const char *fault, const char *at, pk_open_opts *o) {
  const char *config[] = {"fault", fault ? fault : "", "at", at ? at : "",
                          NULL};
  pk_open_opts d = PK_OPEN_OPTS_INIT;
  if (o == NULL)
    o = &d;
  /* Sanitizers would turn the child's signals into reports and exit 1. */
  setenv("ASAN_OPTIONS", "handle_segv=0:handle_abort=0:detect_leaks=0", 1);
  setenv("TSAN_OPTIONS", "handle_segv=0:handle_abort=0", 1);
  host = test_host();
  PKT_RC(host, pk_host_define(host, "reenter", "(i32)->i32", reenter, NULL),
         PK_OK);
  o->config = config;
  o->grants = "*";
  return pk_plugin_open(host, pkt_arg(0), o, &plug);
}

static int call_work(int32_t x, int32_t *out) {
  pk_func *f;
  pk_val in = PK_I32(x), res;
  int rc;
  PKT_RC(host, pk_plugin_func(plug, "work", "(i32)->i32", &f), PK_OK);
  rc = pk_func_call(f, &in, 1, &res, 1);
  if (rc == PK_OK && out != NULL)
    *out = res.i32;
  return rc;
}

static void done(void) {
  pk_plugin_close(plug);
  pk_host_destroy(host);
  plug = NULL;
  no_children();
}

PK_TEST(executable_refuses_to_run_alone) {
  char cmd[4200], out[512] = "";
  FILE *f;
  size_t n;
  int st;
  unsetenv("PLUGKIT_PLUGIN");
  snprintf(cmd, sizeof cmd, "'%s' 2>&1", pkt_arg(1));
  PKT_ASSERT((f = popen(cmd, "r")) != NULL);
  n = fread(out, 1, sizeof out - 1, f);
  out[n] = '\0';
  st = pclose(f);
  PKT_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) != 0);
  PKT_CONTAINS(out, "plugkit plugin");
}

PK_TEST(behaves_without_faults) {
  int32_t v = 0;
  PKT_RC(host, open_fault(NULL, NULL, NULL), PK_OK);
  PKT_RC(host, call_work(41, &v), PK_OK);
  PKT_EQ_INT(v, 42);
  done();
}

static void crash_case(const char *fault, const char *want) {
  PKT_RC(host, open_fault(fault, "call", NULL), PK_OK);
  PKT_RC(host, call_work(1, NULL), PK_ECRASH);
  PKT_CONTAINS(pk_host_errmsg(host), want);
  PKT_CONTAINS(pk_host_errmsg(host), "call 'work'");
  no_children(); /* reaped before the call returned */
  /* restart = never: the plugin stays dead. */
  PKT_RC(host, call_work(1, NULL), PK_ECRASH);
  PKT_CONTAINS(pk_host_errmsg(host), want);
  done();
}

PK_TEST(crash_segv) { crash_case("segv", "signal 11"); }
PK_TEST(crash_abort) { crash_case("abort", "signal 6"); }
PK_TEST(crash_exit) { crash_case("exit", "exited with status 3"); }
PK_TEST(crash_kill9) { crash_case("kill", "signal 9"); }

/* A dead child whose socket lives on in a grandchild: no hang-up comes,
   the liveness check finds it. */
PK_TEST(crash_with_socket_held_open) {
  int64_t t0 = pkt_now_ms();
  crash_case("orphan", "exited with status 4");
  PKT_ASSERT(pkt_now_ms() - t0 < 1500);
}

static void proto_case(const char *fault, const char *at, int want,
                       const char *msg) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  int64_t t0 = pkt_now_ms();
  int rc;
  o.call_timeout_ms = 300;
  rc = open_fault(fault, at, &o);
  if (strcmp(at, "init") == 0) {
    PKT_RC(host, rc, want);
  } else {
    PKT_RC(host, rc, PK_OK);
    PKT_RC(host, call_work(1, NULL), want);
  }
  PKT_CONTAINS(pk_host_errmsg(host), msg);
  PKT_ASSERT(pkt_now_ms() - t0 < 5000);
  no_children();
  done();
}

PK_TEST(call_hang_times_out) {
  proto_case("hang", "call", PK_ETIMEOUT, "no answer in time");
}
PK_TEST(call_garbage) { proto_case("garbage", "call", PK_EPROTO, "type"); }
PK_TEST(call_truncated) {
  proto_case("truncated", "call", PK_EPROTO, "truncated");
}
PK_TEST(call_oversized) {
  proto_case("oversized", "call", PK_EPROTO,
             "frame of 2147483647 bytes exceeds the protocol's 64 MiB limit");
}
PK_TEST(call_bad_result) {
  proto_case("badresult", "call", PK_EPROTO, "signature");
}
PK_TEST(call_too_many_results) {
  proto_case("manyresults", "call", PK_EPROTO, "signature");
}
PK_TEST(init_segv) { proto_case("segv", "init", PK_ECRASH, "signal 11"); }
PK_TEST(init_kill9) { proto_case("kill", "init", PK_ECRASH, "signal 9"); }
PK_TEST(init_exit) { proto_case("exit", "init", PK_ECRASH, "status 3"); }
PK_TEST(init_hang) { proto_case("hang", "init", PK_ETIMEOUT, "in time"); }
PK_TEST(init_garbage) { proto_case("garbage", "init", PK_EPROTO, "type"); }
PK_TEST(init_tier_of_executable) {
  proto_case("tier", "init", PK_EPROTO, "not a wasm plugin in plugkit-runner");
}
PK_TEST(init_unknown_tier) {
  proto_case("badtier", "init", PK_EPROTO, "unknown execution tier");
}
PK_TEST(init_truncated) {
  proto_case("truncated", "init", PK_EPROTO, "truncated");
}
PK_TEST(init_fail) { proto_case("fail", "init", PK_EINIT, "on purpose"); }

/* A plugin built for another plugkit ABI is refused at the handshake. */
PK_TEST(abi_mismatch_is_eabi) {
  char path[4200];
  snprintf(path, sizeof path, "%s_abi2", pkt_arg(1));
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, path, NULL, &plug), PK_EABI);
  PKT_CONTAINS(pk_host_errmsg(host), "ABI");
  pk_host_destroy(host);
  no_children();
}

PK_TEST(call_fail_is_eplugin) {
  PKT_RC(host, open_fault("fail", "call", NULL), PK_OK);
  PKT_RC(host, call_work(1, NULL), PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "failing at call on purpose");
  done();
}

/* A crash in a call nested inside a host function fails the outer call. */
PK_TEST(nested_crash) {
  pk_func *f;
  pk_val in = PK_I32(1), out;
  PKT_RC(host, open_fault("segv", "call", NULL), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "nested", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_ECRASH);
  PKT_CONTAINS(pk_host_errmsg(host), "signal 11");
  no_children();
  done();
}

/* Faults in a call nested in a host function fail the outer call too. */
static void nested_case(const char *fault, int want, const char *msg) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_func *f;
  pk_val in = PK_I32(1), out;
  o.call_timeout_ms = 300;
  PKT_RC(host, open_fault(fault, "call", &o), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "nested", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), want);
  PKT_CONTAINS(pk_host_errmsg(host), msg);
  no_children();
  done();
}

PK_TEST(nested_kill9) { nested_case("kill", PK_ECRASH, "signal 9"); }
PK_TEST(nested_garbage) { nested_case("garbage", PK_EPROTO, "type"); }
PK_TEST(nested_hang) { nested_case("hang", PK_ETIMEOUT, "in time"); }

PK_TEST(nested_calls_work) {
  pk_func *f;
  pk_val in = PK_I32(4), out;
  PKT_RC(host, open_fault(NULL, NULL, NULL), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "nested", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 50);
  done();
}

PK_TEST(fini_hang_is_killed_on_close) {
  int64_t t0;
  PKT_RC(host, open_fault("hang", "fini", NULL), PK_OK);
  t0 = pkt_now_ms();
  pk_plugin_close(plug);
  plug = NULL;
  PKT_ASSERT(pkt_now_ms() - t0 < 4000);
  no_children();
  pk_host_destroy(host);
}

PK_TEST(fini_kill9_on_close) {
  PKT_RC(host, open_fault("kill", "fini", NULL), PK_OK);
  done();
}

PK_TEST(fini_garbage_on_close) {
  PKT_RC(host, open_fault("garbage", "fini", NULL), PK_OK);
  done();
}

PK_TEST(fini_crash_on_close) {
  PKT_RC(host, open_fault("segv", "fini", NULL), PK_OK);
  done();
}

PK_TEST(restart_on_next_call) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_func *f;
  pk_val out;
  int32_t pid1;
  o.restart = 1;
  PKT_RC(host, open_fault(NULL, NULL, &o), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "pid", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, NULL, 0, &out, 1), PK_OK);
  pid1 = out.i32;
  kill(pid1, SIGKILL);
  PKT_RC(host, pk_func_call(f, NULL, 0, &out, 1), PK_ECRASH);
  PKT_CONTAINS(pk_host_errmsg(host), "signal 9");
  PKT_RC(host, pk_func_call(f, NULL, 0, &out, 1), PK_OK);
  PKT_ASSERT(out.i32 != pid1);
  done();
}

/* A killed (timed-out) child is replaced on the next call too. */
PK_TEST(restart_after_timeout) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_func *f;
  pk_val in = PK_I32(5000), out;
  o.restart = 1;
  o.call_timeout_ms = 200;
  PKT_RC(host, open_fault(NULL, NULL, &o), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "nap", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_ETIMEOUT);
  PKT_CONTAINS(pk_host_errmsg(host), "signal 9");
  no_children();
  in = PK_I32(1);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 1);
  done();
}

/* TSan makes each start take tens of milliseconds. */
#if defined(__SANITIZE_THREAD__)
#define CYCLES 100
#else
#define CYCLES 1000
#endif

/* 1,000 crash-and-restart cycles leave descriptors, mappings and memory
   flat. */
PK_TEST(crash_restart_cycles_leak_nothing) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  int fds, maps, i;
  long live;
  o.restart = 1;
  PKT_RC(host, open_fault("segv", "call", &o), PK_OK);
  PKT_RC(host, call_work(1, NULL), PK_ECRASH); /* warm up */
  fds = count_fds();
  maps = count_maps();
  live = pkt_live;
  for (i = 0; i < CYCLES; i++)
    PKT_RC(host, call_work(1, NULL), PK_ECRASH);
  PKT_EQ_INT(count_fds(), fds);
  PKT_ASSERT(count_maps() <= maps + 2); /* malloc may add an arena */
  PKT_EQ_INT(pkt_live, live);
  no_children();
  done();
}

PK_TEST(stderr_reaches_the_log) {
  pk_func *f;
  pk_val in = PK_STR("a line on stderr", 16);
  PKT_RC(host, open_fault(NULL, NULL, NULL), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "to_stderr", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, NULL, 0), PK_OK);
  done();
  PKT_CONTAINS(pkt_log_buf, "[1 fault] a line on stderr");
}

PK_TEST(slow_call_within_timeout) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_func *f;
  pk_val in = PK_I32(50), out;
  o.call_timeout_ms = 2000;
  PKT_RC(host, open_fault(NULL, NULL, &o), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "nap", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 50);
  done();
}

/* The conformance executable through each transport and spin setting. */
static void sum_and_greet(pk_open_opts *o, const char *path) {
  pk_func *f;
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out;
  static char big[200000];
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, path, o, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "sum", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 42);
  PKT_RC(host, pk_plugin_func(plug, "greet", NULL, &f), PK_OK);
  memset(big, 'x', sizeof big);
  in[0] = PK_STR(big, sizeof big); /* larger than the slot */
  PKT_RC(host, pk_func_call(f, in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.str.len, sizeof big + 7);
  in[0] = PK_STR("you", 3);
  PKT_RC(host, pk_func_call(f, in, 1, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "hello, you");
  done();
}

PK_TEST(socket_only_transport) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.transport = 1;
  sum_and_greet(&o, pkt_arg(1));
}

PK_TEST(futex_without_spinning) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.spin_ns = -1;
  sum_and_greet(&o, pkt_arg(1));
}

PK_TEST(hardened_child) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.harden = 1 | 2;
  o.limit_files = 64;
  o.limit_cpu_s = 60;
  o.limit_mem = (uint64_t)4 << 30;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  o.limit_mem = 0; /* sanitizers reserve terabytes of address space */
#endif
  sum_and_greet(&o, pkt_arg(1));
}

PK_TEST(runner_with_seccomp) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.isolation = PK_ISOLATE_PROCESS;
  o.backend = "native";
  o.harden = 1 | 4;
  host = test_host();
  if (pk_plugin_open(host, pkt_arg(2), &o, &plug) == PK_ENOSYS) {
    static char why[512];
    snprintf(why, sizeof why, "%s", pk_host_errmsg(host)); /* no libseccomp */
    pk_host_destroy(host);
    pkt_skip("%s", why);
  }
  pk_plugin_close(plug);
  pk_host_destroy(host);
  sum_and_greet(&o, pkt_arg(2));
}

/* A wasm plugin on the jit tier in a runner under the allow-list: the
   compile maps its code pages and seals them read-and-execute (mmap,
   mprotect) while the first stage is on, and the calls work. */
PK_TEST(wasm_jit_with_seccomp) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  int rc;
  if (strcmp(pkt_arg(5), "none") == 0)
    pkt_skip("no wasm backend in this build");
  o.isolation = PK_ISOLATE_PROCESS;
  o.harden = 1 | 4;
  o.tier = "jit";
  host = test_host();
  rc = pk_plugin_open(host, pkt_arg(5), &o, &plug);
  if (rc == PK_ENOSYS) { /* no libseccomp, or no jit tier */
    static char why[512];
    snprintf(why, sizeof why, "%s", pk_host_errmsg(host));
    pk_host_destroy(host);
    pkt_skip("%s", why);
  }
  PKT_RC(host, rc, PK_OK);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.tier, "jit");
  pk_plugin_close(plug);
  pk_host_destroy(host);
  sum_and_greet(&o, pkt_arg(5));
}

/* The allow-list is enforced: a plugin's open() kills the runner. */
PK_TEST(seccomp_forbids_open) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_func *f;
  pk_val in = PK_STR("/etc/hostname", 13), out;
  o.isolation = PK_ISOLATE_PROCESS;
  o.backend = "native";
  host = test_host();
  /* Without the filter the open works... */
  PKT_RC(host, pk_plugin_open(host, pkt_arg(4), &o, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "try_open", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_OK);
  pk_plugin_close(plug);
  /* ...with it, the runner dies of SIGSYS. */
  o.harden = 4;
  if (pk_plugin_open(host, pkt_arg(4), &o, &plug) == PK_ENOSYS) {
    static char why[512];
    snprintf(why, sizeof why, "%s", pk_host_errmsg(host)); /* no libseccomp */
    pk_host_destroy(host);
    pkt_skip("%s", why);
  }
  PKT_RC(host, pk_plugin_func(plug, "try_open", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_ECRASH);
  PKT_CONTAINS(pk_host_errmsg(host), "signal 31");
  done();
}

/* The wasm tiers reach plugkit-runner for wasm plugins only: a native
   plugin under isolation is refused, naming both. */
PK_TEST(tier_for_isolated_native_refused) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.isolation = PK_ISOLATE_PROCESS;
  o.tier = "jit";
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, pkt_arg(2), &o, &plug), PK_ENOSYS);
  PKT_CONTAINS(pk_host_errmsg(host), "tier applies to wasm plugins; this "
                                     "is a native plugin under process "
                                     "isolation");
  o.tier = "auto"; /* the best it has */
  PKT_RC(host, pk_plugin_open(host, pkt_arg(2), &o, &plug), PK_OK);
  done();
}

PK_TEST(open_missing_runner_backend) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.isolation = PK_ISOLATE_PROCESS;
  o.backend = "nosuch";
  host = test_host();
  PKT_ASSERT(pk_plugin_open(host, pkt_arg(2), &o, &plug) < 0);
  PKT_CONTAINS(pk_host_errmsg(host), "nosuch");
  pk_host_destroy(host);
  no_children();
}

PK_TEST(runner_not_found_is_enosys) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.isolation = PK_ISOLATE_PROCESS;
  setenv("PLUGKIT_RUNNER", "/no/such/plugkit-runner", 1);
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, pkt_arg(2), &o, &plug), PK_ENOSYS);
  PKT_CONTAINS(pk_host_errmsg(host), "plugkit-runner not found");
  pk_host_destroy(host);
}

/* A child that cannot start says why: exec's status and its stderr. */
PK_TEST(exec_failure_names_the_cause) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  const char *path = pkt_tmp("not-a-plugin");
  pkt_write_file(path, "#!/no/such/interpreter\n", 23);
  chmod(path, 0755);
  o.backend = "process";
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, path, &o, &plug), PK_ECRASH);
  PKT_CONTAINS(pk_host_errmsg(host), "status 127");
  PKT_CONTAINS(pk_host_errmsg(host), "cannot execute");
  pk_host_destroy(host);
  no_children();
}

/* One open + calls + close of the conformance executable. */
static int one_pass(pk_host *h) {
  pk_plugin *p;
  pk_func *f;
  pk_val in[2] = {PK_I32(2), PK_I32(3)}, out;
  int rc;
  if ((rc = pk_host_define(h, "triple", "(i32)->i32", triple, NULL)) < 0)
    return rc;
  {
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    static const char *const config[] = {"greeting", "hi", NULL};
    o.grants = "triple";
    o.config = config;
    if ((rc = pk_plugin_open(h, pkt_arg(1), &o, &p)) < 0)
      return rc;
  }
  if ((rc = pk_plugin_func(p, "sum", NULL, &f)) == PK_OK)
    rc = pk_func_call(f, in, 2, &out, 1);
  if (rc == PK_OK && (rc = pk_plugin_func(p, "greet", NULL, &f)) == PK_OK) {
    in[0] = PK_STR("you", 3);
    rc = pk_func_call(f, in, 1, &out, 1);
  }
  if (rc == PK_OK && (rc = pk_plugin_func(p, "call_host", NULL, &f)) == PK_OK) {
    in[0] = PK_I32(5);
    rc = pk_func_call(f, in, 1, &out, 1);
  }
  pk_plugin_close(p);
  return rc;
}

/* Fail host allocation 1, 2, 3, ... of a pass until one succeeds: each
   failure is a clean ENOMEM, leaks nothing and leaves no child. */
PK_TEST(allocation_failure_sweep) {
  long n;
  int passes = 0;
  for (n = 1; n < 1000; n++) {
    pk_host *h = test_host();
    int rc;
    pkt_fail_at(n);
    rc = one_pass(h);
    pkt_fail_at(0);
    pk_host_destroy(h);
    if (pkt_live != 0)
      pkt_fail(__FILE__, __LINE__, "failing allocation %ld leaked %ld", n,
               pkt_live);
    no_children();
    if (rc == PK_OK && !pkt_failed_alloc())
      break;
    if (rc != PK_ENOMEM && rc != PK_EPLUGIN && rc != PK_OK)
      pkt_fail(__FILE__, __LINE__, "failing allocation %ld gave %s", n,
               pk_errname(rc));
    passes++;
  }
  PKT_ASSERT(passes >= 5);
  printf("swept %d failing allocations\n", passes);
}

/* ---- a Python plugin, through sdk/python/plugkit_plugin.py -------------- */

static int have_python(void) {
  return system("python3 -c 'import socket' >/dev/null 2>&1") == 0;
}

static void open_python(const char *grants) {
  static const char *const config[] = {"greeting", "bonjour", NULL};
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  host = test_host();
  PKT_RC(host, pk_host_define(host, "triple", "(i32)->i32", triple, NULL),
         PK_OK);
  o.grants = grants;
  o.config = config;
  o.backend = "process";
  PKT_RC(host, pk_plugin_open(host, pkt_arg(3), &o, &plug), PK_OK);
}

PK_TEST(python_scalar_string_error_hostcall) {
  pk_func *f;
  pk_val in[2] = {PK_I32(5), PK_I32(37)}, out;
  pk_plugin_info info;
  if (!have_python()) {
    pkt_skip("no python3");
  }
  open_python("triple");
  memset(&info, 0, sizeof info);
  info.size = sizeof info;
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.name, "conformance");
  PKT_RC(host, pk_plugin_func(plug, "sum", "(i32,i32)->i32", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 42);
  in[0] = PK_I64(INT64_C(1) << 40);
  in[1] = PK_I64(-7);
  PKT_RC(host, pk_plugin_func(plug, "add64", "(i64,i64)->i64", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_ASSERT(out.i64 == (INT64_C(1) << 40) - 7);
  in[0] = PK_F64(1.5);
  in[1] = PK_F64(-4.25);
  PKT_RC(host, pk_plugin_func(plug, "fmul", "(f64,f64)->f64", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_ASSERT(out.f64 == -6.375);
  in[0] = PK_STR("world", 5);
  PKT_RC(host, pk_plugin_func(plug, "greet", "(str)->str", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 1, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "hello, world");
  PKT_RC(host, pk_plugin_func(plug, "fail", "()->()", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, NULL, 0, NULL, 0), PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "fail was called");
  /* An exception without a message is named, with no dangling ": ". */
  PKT_RC(host, pk_plugin_func(plug, "raise_empty", "()->()", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, NULL, 0, NULL, 0), PK_EPLUGIN);
  {
    const char *m = pk_host_errmsg(host);
    size_t n = strlen(m);
    PKT_ASSERT(n >= 11 && strcmp(m + n - 11, "MemoryError") == 0);
  }
  in[0] = PK_I32(14);
  PKT_RC(host, pk_plugin_func(plug, "call_host", "(i32)->i32", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 42);
  in[0] = PK_STR("greeting", 8);
  PKT_RC(host, pk_plugin_func(plug, "config", "(str)->str", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 1, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "bonjour");
  in[0] = PK_STR("from python", 11);
  PKT_RC(host, pk_plugin_func(plug, "log_line", "(str)->()", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 1, NULL, 0), PK_OK);
  PKT_CONTAINS(pkt_log_buf, "[2 conformance] from python");
  done();
}

/* A plugin that imports plugkit_plugin without setting up a path finds
   the SDK's copy: the backend puts its folder first on PYTHONPATH (the
   source tree's here; an install's relative to the installed library,
   tests/build/install.sh). */
PK_TEST(python_plugin_finds_the_sdk_module) {
  pk_func *f;
  pk_val out;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  if (!have_python()) {
    pkt_skip("no python3");
  }
  unsetenv("PYTHONPATH");
  host = test_host();
  o.backend = "process";
  PKT_RC(host, pk_plugin_open(host, pkt_arg(6), &o, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "where", "()->str", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, NULL, 0, &out, 1), PK_OK);
  PKT_ASSERT(out.str.len > 28 &&
             memcmp(out.str.ptr + out.str.len - 28,
                    "sdk/python/plugkit_plugin.py", 28) == 0);
  done();
}

PK_TEST(python_host_call_not_granted) {
  pk_func *f;
  pk_val in = PK_I32(1), out;
  if (!have_python()) {
    pkt_skip("no python3");
  }
  open_python(NULL);
  PKT_RC(host, pk_plugin_func(plug, "call_host", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "host call failed");
  done();
}

/* pk_plugin_info's backend under isolation, the backend detected from
   the file as plugkit-runner will: "process:<inner>" for a plugin run in
   plugkit-runner, plain "process" for an executable plugin. */
static void backend_is(const char *path, const char *want) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  o.isolation = PK_ISOLATE_PROCESS;
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, path, &o, &plug), PK_OK);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.backend, want);
  done();
}

PK_TEST(info_backend_names_the_inner_backend) {
  backend_is(pkt_arg(2), "process:native");
  backend_is(pkt_arg(1), "process");
  if (strcmp(pkt_arg(5), "none") != 0)
    backend_is(pkt_arg(5), "process:wasm");
}
