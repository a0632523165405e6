/*
 * The lua backend: script errors, the sandbox, the limits, host
 * functions, results. Run as `test_lua TEST FIXTURES_DIR` (tests/fixtures
 * in the source tree).
 */
#include "test.h"

static char path_buf[1024];

static const char *fx(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s", pkt_arg(0), name);
  return path_buf;
}

static void expect_open_error(const char *path, const char *const *config,
                              int want, const char *phase, const char *why) {
  pk_host *h = test_host();
  pk_plugin *p = (pk_plugin *)&p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.config = config;
  PKT_RC(h, pk_plugin_open(h, path, &o, &p), want);
  PKT_ASSERT(p == (pk_plugin *)&p);
  PKT_CONTAINS(pk_host_errmsg(h), path);
  PKT_CONTAINS(pk_host_errmsg(h), phase);
  PKT_CONTAINS(pk_host_errmsg(h), why);
  pk_host_destroy(h);
}

static pk_host *host;
static pk_plugin *plug;

static int echo(void *ud, pk_plugin *caller, const pk_val *args,
                pk_val *results) {
  (void)ud;
  (void)caller;
  results[0] = args[0];
  return PK_OK;
}

static int secret(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  (void)args;
  results[0].i32 = 7;
  return PK_OK;
}

/* Calls back into the plugin that calls it: sum(x, x), and shout("x")
   whose string result must survive until the outer call returns. */
static int reenter(void *ud, pk_plugin *caller, const pk_val *args,
                   pk_val *results) {
  pk_val in[2] = {args[0], args[0]}, out, s = PK_STR("abc", 3), so;
  pk_func *f;
  int rc;
  (void)ud;
  if ((rc = pk_plugin_func(caller, "shout", NULL, &f)) < 0 ||
      (rc = pk_func_call(f, &s, 1, &so, 1)) < 0)
    return rc;
  if (so.str.len != 4 || memcmp(so.str.ptr, "ABC!", 4) != 0)
    return PK_EINVAL;
  if ((rc = pk_plugin_func(caller, "sum", NULL, &f)) < 0 ||
      (rc = pk_func_call(f, in, 2, &out, 1)) < 0)
    return rc;
  results[0].i32 = out.i32;
  return PK_OK;
}

/* Open tests/fixtures/lua/limits.lua with config and grants. */
static void open_limits(const char *const *config, const char *grants) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  host = test_host();
  PKT_RC(host, pk_host_define(host, "echo", "(str)->str", echo, NULL), PK_OK);
  PKT_RC(host, pk_host_define(host, "secret", "()->i32", secret, NULL), PK_OK);
  PKT_RC(host, pk_host_define(host, "reenter", "(i32)->i32", reenter, NULL),
         PK_OK);
  o.config = config;
  o.grants = grants;
  PKT_RC(host, pk_plugin_open(host, fx("lua/limits.lua"), &o, &plug), PK_OK);
}

static void done(void) {
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

static pk_func *fn(const char *name) {
  pk_func *f = NULL;
  PKT_RC(host, pk_plugin_func(plug, name, NULL, &f), PK_OK);
  return f;
}

static int call0(const char *name, pk_val *out) {
  return pk_func_call(fn(name), NULL, 0, out, out ? 1 : 0);
}

static void check_sum_works(void) {
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out;
  PKT_RC(host, pk_func_call(fn("sum"), in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 42);
}

static int32_t has(const char *name) {
  pk_val in = PK_STR(name, strlen(name)), out;
  PKT_RC(host, pk_func_call(fn("has"), &in, 1, &out, 1), PK_OK);
  return out.i32;
}

PK_TEST(detects_lua) {
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  open_limits(NULL, NULL);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.backend, "lua");
  PKT_STR_EQ(info.name, "limits");
  PKT_STR_EQ(info.version, "0.1.0");
  done();
}

PK_TEST(syntax_error) {
  expect_open_error(fx("lua/syntax_error.lua"), NULL, PK_EFORMAT, "open",
                    "syntax_error.lua:4:");
}

PK_TEST(script_runtime_error) {
  expect_open_error(fx("lua/runtime_error.lua"), NULL, PK_EINIT, "open",
                    "runtime_error.lua:3: attempt to index a nil value");
}

PK_TEST(no_plugin_table) {
  expect_open_error(fx("lua/no_table.lua"), NULL, PK_ENODESC, "open",
                    "returned number, not a plugin table");
}

PK_TEST(init_error) {
  expect_open_error(fx("lua/init_error.lua"), NULL, PK_EINIT, "init",
                    "not today");
}

PK_TEST(bad_signature) {
  expect_open_error(fx("lua/bad_sig.lua"), NULL, PK_EFORMAT, "open",
                    "export 'f' has a bad signature");
}

PK_TEST(missing_file) {
  expect_open_error("no/such/plugin.lua", NULL, PK_ENOENT, "open",
                    "no such file");
}

/* A Lua error is PK_EPLUGIN with a one-line message; the traceback goes
   to the host's log at debug level. */
PK_TEST(runtime_error_is_one_line) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_func *f;
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, fx("conformance.lua"), &o, &plug), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "fail", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, NULL, 0, NULL, 0), PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "conformance.lua:32: fail was called");
  PKT_CONTAINS(pk_host_errmsg(host), "call 'fail'");
  PKT_ASSERT(strchr(pk_host_errmsg(host), '\n') == NULL);
  PKT_CONTAINS(pkt_log_buf, "[3 conformance] ");
  PKT_CONTAINS(pkt_log_buf, "stack traceback:");
  done();
}

/* error(msg, 0): the message as given, nothing more. */
PK_TEST(error_level_zero_is_the_message) {
  open_limits(NULL, NULL);
  PKT_RC(host, call0("err_plain", NULL), PK_EPLUGIN);
  PKT_STR_EQ(strstr(pk_host_errmsg(host), "call 'err_plain': "),
             "call 'err_plain': empty input (call 3)");
  done();
}

/* A limit's message names it and the option that sets it, once. */
PK_TEST(limit_message_once) {
  static const char *const config[] = {"lua.instructions", "100000", NULL};
  const char *m, *first;
  open_limits(config, NULL);
  PKT_RC(host, call0("spin", NULL), PK_ELIMIT);
  m = pk_host_errmsg(host);
  PKT_CONTAINS(m, "instruction budget of 100000 exceeded (set by config "
                  "lua.instructions)");
  first = strstr(m, "budget");
  PKT_ASSERT(first != NULL && strstr(first + 1, "budget") == NULL);
  PKT_ASSERT(strchr(m, '\n') == NULL);
  done();
}

PK_TEST(error_object_not_a_string) {
  open_limits(NULL, NULL);
  PKT_RC(host, call0("err_table", NULL), PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "(error object is a table value)");
  check_sum_works();
  done();
}

PK_TEST(instruction_budget) {
  static const char *const config[] = {"lua.instructions", "100000", NULL};
  open_limits(config, NULL);
  PKT_RC(host, call0("spin", NULL), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "instruction budget of 100000 exceeded");
  PKT_CONTAINS(pk_host_errmsg(host), "call 'spin'");
  check_sum_works(); /* the state stays usable */
  PKT_RC(host, call0("spin", NULL), PK_ELIMIT);
  check_sum_works();
  done();
}

/* pcall and xpcall cannot swallow the budget error. */
PK_TEST(instruction_budget_not_catchable) {
  static const char *const config[] = {"lua.instructions", "100000", NULL};
  pk_val out;
  open_limits(config, NULL);
  PKT_RC(host, call0("spin_caught", &out), PK_ELIMIT);
  PKT_RC(host, call0("spin_xcaught", &out), PK_ELIMIT);
  check_sum_works();
  done();
}

/* The default budget is generous but finite. */
PK_TEST(instruction_budget_default) {
  open_limits(NULL, NULL);
  PKT_RC(host, call0("spin", NULL), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "instruction budget of 100000000");
  done();
}

PK_TEST(memory_limit) {
  static const char *const config[] = {"lua.memory", "4000000", NULL};
  pk_val in = PK_I32(16), out;
  open_limits(config, NULL);
  PKT_RC(host, pk_func_call(fn("hog"), &in, 1, &out, 1), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "memory limit of 4000000 bytes");
  check_sum_works(); /* the state stays usable */
  in = PK_I32(1);
  PKT_RC(host, pk_func_call(fn("hog"), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 1);
  done();
}

PK_TEST(memory_limit_not_catchable) {
  static const char *const config[] = {"lua.memory", "4000000", NULL};
  pk_val out;
  open_limits(config, NULL);
  PKT_RC(host, call0("hog_caught", &out), PK_ELIMIT);
  check_sum_works();
  done();
}

PK_TEST(memory_limit_too_small) {
  static const char *const config[] = {"lua.memory", "1000", NULL};
  expect_open_error(fx("lua/limits.lua"), config, PK_ELIMIT, "open",
                    "memory limit of 1000 bytes");
}

PK_TEST(bad_limit_config) {
  static const char *const config[] = {"lua.instructions", "lots", NULL};
  expect_open_error(fx("lua/limits.lua"), config, PK_EINVAL, "open",
                    "config lua.instructions is 'lots'");
}

PK_TEST(sandbox_hides_libraries) {
  open_limits(NULL, NULL);
  PKT_EQ_INT(has("io"), 0);
  PKT_EQ_INT(has("os"), 0);
  PKT_EQ_INT(has("package"), 0);
  PKT_EQ_INT(has("require"), 0);
  PKT_EQ_INT(has("debug"), 0);
  PKT_EQ_INT(has("load"), 0);
  PKT_EQ_INT(has("loadfile"), 0);
  PKT_EQ_INT(has("dofile"), 0);
  PKT_EQ_INT(has("coroutine"), 0);
  PKT_EQ_INT(has("string"), 1);
  PKT_EQ_INT(has("table"), 1);
  PKT_EQ_INT(has("math"), 1);
  PKT_EQ_INT(has("utf8"), 1);
  PKT_EQ_INT(has("host"), 1);
  PKT_EQ_INT(has("config"), 1);
  PKT_EQ_INT(has("log"), 1);
  done();
}

PK_TEST(sandbox_denies_io) {
  pk_val in = PK_STR("/etc/hostname", 13), out;
  open_limits(NULL, NULL);
  PKT_RC(host, pk_func_call(fn("read_file"), &in, 1, &out, 1), PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "global 'io'");
  done();
}

/* The host opens more libraries through the config key lua.libs. */
PK_TEST(sandbox_libs_from_config) {
  static const char *const config[] = {"lua.libs", "io, os,load", NULL};
  const char *path = pkt_tmp("data.txt");
  pk_val in, out;
  pkt_write_file(path, "file content", 12);
  open_limits(config, NULL);
  PKT_EQ_INT(has("io"), 1);
  PKT_EQ_INT(has("os"), 1);
  PKT_EQ_INT(has("load"), 1);
  PKT_EQ_INT(has("debug"), 0);
  PKT_EQ_INT(has("dofile"), 0);
  in = PK_STR(path, strlen(path));
  PKT_RC(host, pk_func_call(fn("read_file"), &in, 1, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "file content");
  done();
}

/* `host` holds the granted host functions only. */
PK_TEST(host_table_holds_only_grants) {
  pk_val out;
  open_limits(NULL, "echo");
  PKT_RC(host, call0("host_fns", &out), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "echo");
  done();
  open_limits(NULL, NULL);
  PKT_RC(host, call0("host_fns", &out), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "");
  done();
  open_limits(NULL, "*");
  PKT_RC(host, call0("host_fns", &out), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "echo,reenter,secret");
  done();
}

PK_TEST(host_function_strings) {
  pk_val in = PK_STR("round trip", 10), out;
  open_limits(NULL, "echo");
  PKT_RC(host, pk_func_call(fn("echo"), &in, 1, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "round trip");
  done();
}

PK_TEST(ungranted_host_function_is_nil) {
  pk_val in = PK_STR("x", 1), out;
  open_limits(NULL, NULL);
  PKT_RC(host, pk_func_call(fn("echo"), &in, 1, &out, 1), PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "field 'echo'");
  done();
}

PK_TEST(result_type_checked) {
  pk_val out;
  open_limits(NULL, NULL);
  PKT_RC(host, call0("bad_result", &out), PK_ETYPE);
  PKT_CONTAINS(pk_host_errmsg(host), "result 1 is a string");
  PKT_RC(host, call0("half", &out), PK_ETYPE);
  PKT_CONTAINS(pk_host_errmsg(host), "not an integer");
  check_sum_works();
  done();
}

PK_TEST(multiple_results) {
  pk_val in = PK_I32(7), out[3];
  open_limits(NULL, NULL);
  PKT_RC(host, pk_func_call(fn("multi"), &in, 1, out, 3), PK_OK);
  PKT_EQ_INT(out[0].type, PK_T_I32);
  PKT_EQ_INT(out[0].i32, 14);
  PKT_ASSERT(out[1].f64 == 3.5);
  PKT_STRN_EQ(out[2].str.ptr, out[2].str.len, "7");
  done();
}

PK_TEST(print_and_log_levels) {
  open_limits(NULL, NULL);
  PKT_RC(host, call0("printer", NULL), PK_OK);
  PKT_CONTAINS(pkt_log_buf, "[2 limits] a\t1\ttrue");
  PKT_RC(host, call0("warn_log", NULL), PK_OK);
  PKT_CONTAINS(pkt_log_buf, "[1 limits] careful");
  done();
}

/* Scalar calls allocate nothing: not in the library, not in Lua. */
PK_TEST(scalar_call_allocates_nothing) {
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
  pk_func *f;
  long before;
  int i;
  open_limits(NULL, NULL);
  f = fn("sum");
  PKT_RC(host, pk_func_call(f, in, 2, &out, 1), PK_OK);
  before = pkt_count;
  for (i = 0; i < 10000; i++)
    PKT_RC(host, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(pkt_count - before, 0);
  done();
}

/* Two opens are two states. */
PK_TEST(reopen_is_fresh_state) {
  pk_plugin *second;
  pk_func *b1, *b2;
  pk_val out;
  host = test_host();
  PKT_RC(host, pk_plugin_open(host, fx("conformance.lua"), NULL, &plug), PK_OK);
  PKT_RC(host, pk_plugin_open(host, fx("conformance.lua"), NULL, &second),
         PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "bump", NULL, &b1), PK_OK);
  PKT_RC(host, pk_plugin_func(second, "bump", NULL, &b2), PK_OK);
  PKT_RC(host, pk_func_call(b1, NULL, 0, &out, 1), PK_OK);
  PKT_RC(host, pk_func_call(b1, NULL, 0, &out, 1), PK_OK);
  PKT_RC(host, pk_func_call(b2, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 1);
  pk_plugin_close(second);
  done();
}

/* Every failing allocation during open gives a clean error, no leak. */
PK_TEST(allocation_sweep) {
  long n, total;
  pk_host *h = test_host();
  pk_plugin *p;
  total = pkt_count;
  PKT_RC(h, pk_plugin_open(h, fx("conformance.lua"), NULL, &p), PK_OK);
  total = pkt_count - total;
  pk_plugin_close(p);
  pk_host_destroy(h);
  for (n = 1; n <= total + 1; n++) {
    int rc;
    h = test_host();
    pkt_fail_at(n);
    rc = pk_plugin_open(h, fx("conformance.lua"), NULL, &p);
    pkt_fail_at(0);
    if (rc == PK_OK)
      pk_plugin_close(p);
    else if (rc != PK_ENOMEM)
      PKT_RC(h, rc, PK_ENOMEM);
    pk_host_destroy(h);
  }
}

/* A host function may call back into the plugin calling it. */
PK_TEST(host_function_reenters_plugin) {
  pk_val in = PK_I32(20), out;
  open_limits(NULL, "reenter");
  PKT_RC(host, pk_func_call(fn("reenter"), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 41);
  check_sum_works();
  PKT_RC(host, pk_func_call(fn("reenter"), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 41);
  done();
}

/* Any memory limit, however tight, gives PK_OK or PK_ELIMIT at open:
   never a Lua panic (every step that allocates runs protected). */
PK_TEST(memory_limit_sweep) {
  char limit[32];
  const char *config[] = {"lua.memory", limit, NULL};
  long n;
  int ok = 0;
  for (n = 1000; n <= 120000; n += 500) {
    pk_host *h = test_host();
    pk_plugin *p;
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    int rc;
    snprintf(limit, sizeof limit, "%ld", n);
    o.config = config;
    rc = pk_plugin_open(h, fx("conformance.lua"), &o, &p);
    if (rc == PK_OK) {
      ok++;
      pk_plugin_close(p);
    } else {
      PKT_RC(h, rc, PK_ELIMIT);
    }
    pk_host_destroy(h);
  }
  PKT_ASSERT(ok > 0); /* the largest limits are enough */
}
