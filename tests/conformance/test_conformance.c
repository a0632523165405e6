/*
 * Conformance: what every backend must do alike, on its build of
 * tests/fixtures/conformance.c. Run as `test_conformance TEST BACKEND PATH`.
 */
#include "test.h"

static pk_host *host;
static pk_plugin *plug;

static int triple(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  results[0].i32 = args[0].i32 * 3;
  return PK_OK;
}

static int refuse(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)args;
  (void)results;
  pk_plugin_fail(caller, "refused on purpose");
  return PK_EINVAL;
}

/* A host function that calls back into the plugin: a nested call that
   fails, then one that succeeds, before answering the outer call. */
static int reenter(void *ud, pk_plugin *caller, const pk_val *args,
                   pk_val *results) {
  pk_func *f;
  pk_val in = PK_STR("again", 5), out;
  int *ok = ud;
  if (pk_plugin_func(caller, "fail", NULL, &f) != PK_OK ||
      pk_func_call(f, NULL, 0, NULL, 0) != PK_EPLUGIN)
    return PK_EINVAL;
  if (pk_plugin_func(caller, "greet", NULL, &f) != PK_OK ||
      pk_func_call(f, &in, 1, &out, 1) != PK_OK || out.str.len != 12 ||
      memcmp(out.str.ptr, "hello, again", 12) != 0)
    return PK_EINVAL;
  *ok = 1;
  results[0].i32 = args[0].i32 * 3;
  return PK_OK;
}

/* The backend argument is a name ("native"), or "process:<inner>": the
   plugin, read by backend <inner>, isolated in a child process; either
   may end in "@<tier>" ("wasm@jit"): pk_open_opts.tier. */
static char backend_buf[64];
static const char *tier_arg;

static const char *backend_arg(void) {
  const char *b = pkt_arg(0), *at = strchr(b, '@');
  size_t n = at != NULL ? (size_t)(at - b) : strlen(b);
  if (n >= sizeof backend_buf)
    n = sizeof backend_buf - 1;
  memcpy(backend_buf, b, n);
  backend_buf[n] = '\0';
  tier_arg = at != NULL ? at + 1 : NULL;
  return backend_buf;
}

static void set_backend(pk_open_opts *o) {
  const char *b = backend_arg(), *colon = strchr(b, ':');
  o->backend = colon != NULL ? colon + 1 : b;
  if (colon != NULL)
    o->isolation = PK_ISOLATE_PROCESS;
  o->tier = tier_arg;
}

/* The name pk_plugin_info reports: the backend argument itself
   ("process:wasm" for a .wasm isolated in plugkit-runner). */
static const char *backend_name(void) { return backend_arg(); }

/* Open the fixture with the given grants (NULL: none) and config. */
static int reenter_ok;

static void open_with(const char *grants, pk_host_fn triple_fn) {
  static const char *const config[] = {"greeting", "bonjour", "empty", "",
                                       NULL};
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  host = test_host();
  PKT_RC(host,
         pk_host_define(host, "triple", "(i32)->i32", triple_fn, &reenter_ok),
         PK_OK);
  set_backend(&o);
  o.grants = grants;
  o.config = config;
  PKT_RC(host, pk_plugin_open(host, pkt_arg(1), &o, &plug), PK_OK);
}

static void open_fixture(void) { open_with("triple", triple); }

static void done(void) {
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

static pk_func *fn(const char *name, const char *sig) {
  pk_func *f = NULL;
  PKT_RC(host, pk_plugin_func(plug, name, sig, &f), PK_OK);
  return f;
}

PK_TEST(info) {
  pk_plugin_info info;
  const char *name, *sig;
  size_t i;
  int seen = 0;
  open_fixture();
  memset(&info, 0, sizeof info);
  info.size = sizeof info;
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.name, "conformance");
  PKT_STR_EQ(info.version, "1.0.0");
  PKT_STR_EQ(info.backend, backend_name());
  /* The tier asked for is the tier in use (none asked: the default). */
  if (tier_arg != NULL)
    PKT_STR_EQ(info.tier, tier_arg);
  else if (strcmp(backend_name(), "wasm") == 0)
    PKT_STR_EQ(info.tier, "interp");
  PKT_EQ_INT(info.abi_major, PK_ABI_MAJOR);
  PKT_ASSERT(info.nexports >= 10);
  for (i = 0; i < info.nexports; i++) {
    PKT_RC(host, pk_plugin_export(plug, i, &name, &sig), PK_OK);
    if (strcmp(name, "sum") == 0) {
      PKT_STR_EQ(sig, "(i32,i32)->i32");
      seen |= 1;
    }
    if (strcmp(name, "greet") == 0) {
      PKT_STR_EQ(sig, "(str)->str");
      seen |= 2;
    }
    if (strcmp(name, "noop") == 0) {
      PKT_STR_EQ(sig, "()->()");
      seen |= 4;
    }
  }
  PKT_EQ_INT(seen, 7);
  PKT_RC(host, pk_plugin_export(plug, info.nexports, &name, &sig), PK_ENOENT);
  done();
}

PK_TEST(sum) {
  pk_val in[2] = {PK_I32(5), PK_I32(37)}, out;
  open_fixture();
  PKT_RC(host, pk_func_call(fn("sum", "(i32,i32)->i32"), in, 2, &out, 1),
         PK_OK);
  PKT_EQ_INT(out.type, PK_T_I32);
  PKT_EQ_INT(out.i32, 42);
  in[0] = PK_I32(INT32_MAX);
  in[1] = PK_I32(1);
  PKT_RC(host, pk_func_call(fn("sum", NULL), in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, INT32_MIN); /* wraps like wasm's i32.add */
  done();
}

PK_TEST(add64) {
  pk_val in[2] = {PK_I64(INT64_C(1) << 40), PK_I64(-7)}, out;
  open_fixture();
  PKT_RC(host, pk_func_call(fn("add64", "(i64,i64)->i64"), in, 2, &out, 1),
         PK_OK);
  PKT_EQ_INT(out.type, PK_T_I64);
  PKT_ASSERT(out.i64 == (INT64_C(1) << 40) - 7);
  done();
}

PK_TEST(fmul) {
  pk_val in[2] = {PK_F64(1.5), PK_F64(-4.25)}, out;
  open_fixture();
  PKT_RC(host, pk_func_call(fn("fmul", "(f64,f64)->f64"), in, 2, &out, 1),
         PK_OK);
  PKT_EQ_INT(out.type, PK_T_F64);
  PKT_ASSERT(out.f64 == -6.375);
  done();
}

PK_TEST(fadd32) {
  pk_val in[2] = {PK_F32(0.5f), PK_F32(0.25f)}, out;
  open_fixture();
  PKT_RC(host, pk_func_call(fn("fadd32", "(f32,f32)->f32"), in, 2, &out, 1),
         PK_OK);
  PKT_EQ_INT(out.type, PK_T_F32);
  PKT_ASSERT(out.f32 == 0.75f);
  done();
}

PK_TEST(noop) {
  open_fixture();
  PKT_RC(host, pk_func_call(fn("noop", "()->()"), NULL, 0, NULL, 0), PK_OK);
  done();
}

PK_TEST(greet) {
  pk_val in = PK_STR("world", 5), out;
  open_fixture();
  PKT_RC(host, pk_func_call(fn("greet", "(str)->str"), &in, 1, &out, 1),
         PK_OK);
  PKT_EQ_INT(out.type, PK_T_STR);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "hello, world");
  in = PK_STR(NULL, 0);
  PKT_RC(host, pk_func_call(fn("greet", NULL), &in, 1, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "hello, ");
  done();
}

/* A result stays valid until the next call on the plugin: each call's
   result is intact before the next one, for many calls (arena reuse). */
PK_TEST(greet_many) {
  char name[64], want[80];
  pk_val in, out;
  pk_func *g;
  int i;
  open_fixture();
  g = fn("greet", "(str)->str");
  for (i = 0; i < 2000; i++) {
    int n = snprintf(name, sizeof name, "caller-%d-%0*d", i, i % 40, 0);
    in = PK_STR(name, (size_t)n);
    PKT_RC(host, pk_func_call(g, &in, 1, &out, 1), PK_OK);
    snprintf(want, sizeof want, "hello, %s", name);
    PKT_STRN_EQ(out.str.ptr, out.str.len, want);
  }
  done();
}

PK_TEST(reverse) {
  static const uint8_t data[] = {1, 2, 3, 0, 255};
  static const uint8_t want[] = {255, 0, 3, 2, 1};
  pk_val in = PK_BYTES(data, sizeof data), out;
  open_fixture();
  PKT_RC(host, pk_func_call(fn("reverse", "(bytes)->bytes"), &in, 1, &out, 1),
         PK_OK);
  PKT_EQ_INT(out.type, PK_T_BYTES);
  PKT_EQ_INT(out.bytes.len, sizeof want);
  PKT_ASSERT(memcmp(out.bytes.ptr, want, sizeof want) == 0);
  in = PK_BYTES(NULL, 0);
  PKT_RC(host, pk_func_call(fn("reverse", NULL), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.bytes.len, 0);
  done();
}

PK_TEST(reverse_large) {
  size_t n = 1 << 20, i;
  uint8_t *data = malloc(n);
  pk_val in, out;
  for (i = 0; i < n; i++)
    data[i] = (uint8_t)(i * 7);
  in = PK_BYTES(data, n);
  open_fixture();
  PKT_RC(host, pk_func_call(fn("reverse", NULL), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.bytes.len, n);
  for (i = 0; i < n; i++)
    if (out.bytes.ptr[i] != data[n - 1 - i])
      PKT_EQ_INT(i, -1);
  free(data);
  done();
}

PK_TEST(fail) {
  open_fixture();
  PKT_RC(host, pk_func_call(fn("fail", "()->()"), NULL, 0, NULL, 0),
         PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "fail was called");
  PKT_CONTAINS(pk_host_errmsg(host), "call 'fail'");
  PKT_CONTAINS(pk_host_errmsg(host), pkt_arg(1));
  /* The plugin stays usable. */
  {
    pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
    PKT_RC(host, pk_func_call(fn("sum", NULL), in, 2, &out, 1), PK_OK);
    PKT_EQ_INT(out.i32, 3);
  }
  done();
}

PK_TEST(call_host) {
  pk_val in = PK_I32(14), out;
  open_fixture();
  PKT_RC(host, pk_func_call(fn("call_host", "(i32)->i32"), &in, 1, &out, 1),
         PK_OK);
  PKT_EQ_INT(out.i32, 42);
  done();
}

PK_TEST(call_host_not_granted) {
  pk_val in = PK_I32(14), out;
  open_with(NULL, triple);
  PKT_RC(host, pk_func_call(fn("call_host", NULL), &in, 1, &out, 1),
         PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "host call failed");
  done();
}

PK_TEST(call_host_all_granted) {
  pk_val in = PK_I32(-5), out;
  open_with("*", triple);
  PKT_RC(host, pk_func_call(fn("call_host", NULL), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, -15);
  done();
}

PK_TEST(call_host_error) {
  pk_val in = PK_I32(1), out;
  open_with("triple", refuse);
  PKT_RC(host, pk_func_call(fn("call_host", NULL), &in, 1, &out, 1),
         PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "host call failed");
  done();
}

/* Re-entrancy: the host function calls the plugin back during a call. */
PK_TEST(call_host_reentrant) {
  pk_val in = PK_I32(7), out;
  open_with("triple", reenter);
  PKT_RC(host, pk_func_call(fn("call_host", NULL), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 21);
  PKT_EQ_INT(reenter_ok, 1);
  done();
}

/* Unbounded re-entry: the host function calls call_host again, which calls
   the host function... The core caps the nesting (PK__MAX_NESTING, 64) on
   every backend: the innermost host call fails with PK_ELIMIT, each level
   unwinds, and the host's stack survives. */
static int nest_calls;
static int nest_forever(void *ud, pk_plugin *caller, const pk_val *args,
                        pk_val *results) {
  pk_func *f;
  int rc;
  (void)ud;
  nest_calls++;
  if ((rc = pk_plugin_func(caller, "call_host", NULL, &f)) < 0)
    return rc;
  return pk_func_call(f, args, 1, results, 1);
}

PK_TEST(call_host_nesting_capped) {
  pk_val in = PK_I32(1), out;
  open_with("triple", nest_forever);
  PKT_ASSERT(pk_func_call(fn("call_host", NULL), &in, 1, &out, 1) < 0);
  PKT_EQ_INT(nest_calls, 64);
  /* Unwound cleanly: the plugin still works. */
  PKT_RC(host, pk_func_call(fn("sum", NULL), (pk_val[]){PK_I32(2), PK_I32(3)},
                            2, &out, 1),
         PK_OK);
  PKT_EQ_INT(out.i32, 5);
  done();
}

/* A host function that closes the plugin calling it, then tries a
   nested call, before answering. */
static int close_nested_rc;
static int close_caller(void *ud, pk_plugin *caller, const pk_val *args,
                        pk_val *results) {
  pk_func *f;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
  (void)ud;
  if (pk_plugin_func(caller, "sum", NULL, &f) != PK_OK)
    return PK_EINVAL;
  pk_plugin_close(caller);
  pk_plugin_close(caller); /* still inside: harmless, finishes nothing */
  close_nested_rc = pk_func_call(f, in, 2, &out, 1);
  results[0].i32 = args[0].i32 * 3;
  return PK_OK;
}

/* Closed from inside its own call: that call runs to its end and
   answers, nested and later calls fail with PK_ECLOSED, fini waits, and
   the next close frees everything (the harness counts allocations). */
PK_TEST(close_from_inside_own_call) {
  pk_val in = PK_I32(7), out, two[2] = {PK_I32(2), PK_I32(3)};
  pk_func *sum;
  open_with("triple", close_caller);
  sum = fn("sum", NULL);
  PKT_RC(host, pk_func_call(fn("call_host", NULL), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 21);
  PKT_EQ_INT(close_nested_rc, PK_ECLOSED);
  PKT_ASSERT(strstr(pkt_log_buf, "fini ran") == NULL);
  PKT_RC(host, pk_func_call(sum, two, 2, &out, 1), PK_ECLOSED);
  PKT_CONTAINS(pk_host_errmsg(host), "closed");
  pk_plugin_close(plug); /* finishes it */
  PKT_CONTAINS(pkt_log_buf, "fini ran");
  pk_host_destroy(host);
}

/* The same, finished by pk_host_reclaim instead of a second close. */
PK_TEST(close_from_inside_own_call_reclaimed) {
  pk_val in = PK_I32(5), out;
  open_with("triple", close_caller);
  PKT_RC(host, pk_func_call(fn("call_host", NULL), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 15);
  PKT_ASSERT(strstr(pkt_log_buf, "fini ran") == NULL);
  pk_host_reclaim(host); /* plug is gone from here on */
  PKT_CONTAINS(pkt_log_buf, "fini ran");
  pk_host_destroy(host);
}

PK_TEST(config) {
  pk_val in = PK_STR("greeting", 8), out;
  open_fixture();
  PKT_RC(host, pk_func_call(fn("config", "(str)->str"), &in, 1, &out, 1),
         PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "bonjour");
  in = PK_STR("empty", 5);
  PKT_RC(host, pk_func_call(fn("config", NULL), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.str.len, 0);
  done();
}

PK_TEST(config_missing) {
  pk_val in = PK_STR("nope", 4), out;
  open_fixture();
  PKT_RC(host, pk_func_call(fn("config", NULL), &in, 1, &out, 1), PK_EPLUGIN);
  PKT_CONTAINS(pk_host_errmsg(host), "no config key 'nope'");
  done();
}

PK_TEST(log) {
  pk_val in = PK_STR("a line from the plugin", 22);
  open_fixture();
  PKT_RC(host, pk_func_call(fn("log_line", "(str)->()"), &in, 1, NULL, 0),
         PK_OK);
  PKT_CONTAINS(pkt_log_buf, "[2 conformance] a line from the plugin");
  done();
}

PK_TEST(init_and_fini) {
  pk_val out;
  open_fixture();
  PKT_RC(host, pk_func_call(fn("inited", "()->i32"), NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 1);
  PKT_ASSERT(strstr(pkt_log_buf, "fini ran") == NULL);
  pk_plugin_close(plug);
  PKT_CONTAINS(pkt_log_buf, "fini ran");
  pk_host_destroy(host);
}

/* Two opens of one plugin are two instances with their own state. */
PK_TEST(instances_are_separate) {
  pk_plugin *second;
  pk_func *b1, *b2;
  pk_val out;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  open_fixture();
  set_backend(&o);
  PKT_RC(host, pk_plugin_open(host, pkt_arg(1), &o, &second), PK_OK);
  b1 = fn("bump", "()->i32");
  PKT_RC(host, pk_plugin_func(second, "bump", "()->i32", &b2), PK_OK);
  PKT_RC(host, pk_func_call(b1, NULL, 0, &out, 1), PK_OK);
  PKT_RC(host, pk_func_call(b1, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 2);
  PKT_RC(host, pk_func_call(b2, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 1);
  pk_plugin_close(second);
  done();
}

PK_TEST(missing_export) {
  pk_func *f = (pk_func *)&f;
  open_fixture();
  PKT_RC(host, pk_plugin_func(plug, "nope", NULL, &f), PK_ENOSYM);
  PKT_ASSERT(f == (pk_func *)&f); /* untouched on failure */
  PKT_CONTAINS(pk_host_errmsg(host), "no export 'nope'");
  PKT_CONTAINS(pk_host_errmsg(host), "resolve");
  PKT_CONTAINS(pk_host_errmsg(host), pkt_arg(1));
  done();
}

PK_TEST(signature_mismatch) {
  pk_func *f;
  open_fixture();
  PKT_RC(host, pk_plugin_func(plug, "sum", "(i64,i64)->i64", &f), PK_ESIG);
  PKT_CONTAINS(pk_host_errmsg(host), "(i32,i32)->i32");
  PKT_CONTAINS(pk_host_errmsg(host), "(i64,i64)->i64");
  PKT_RC(host, pk_plugin_func(plug, "sum", "( i32 , i32 ) -> i32", &f), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "sum", "(i32,i32)->", &f), PK_EINVAL);
  done();
}

PK_TEST(argument_type_checked) {
  pk_val in[2] = {PK_I32(1), PK_I64(2)}, out;
  open_fixture();
  PKT_RC(host, pk_func_call(fn("sum", NULL), in, 2, &out, 1), PK_ETYPE);
  PKT_CONTAINS(pk_host_errmsg(host), "argument 2 is i64");
  PKT_RC(host, pk_func_call(fn("sum", NULL), in, 1, &out, 1), PK_EINVAL);
  PKT_RC(host, pk_func_call(fn("sum", NULL), in, 2, &out, 0), PK_EINVAL);
  PKT_RC(host, pk_func_call(NULL, in, 2, &out, 1), PK_EINVAL);
  done();
}
