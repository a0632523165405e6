/*
 * Core: errors, signatures, hosts, host functions, options, and the
 * allocation-failure sweep. Run as `test_core TEST FIXTURE.so`.
 */
#include "test.h"

PK_TEST(errname_and_strerror_cover_every_code) {
  int c;
  PKT_STR_EQ(pk_errname(PK_OK), "OK");
  PKT_STR_EQ(pk_errname(PK_EINVAL), "EINVAL");
  PKT_STR_EQ(pk_errname(PK_ETIMEOUT), "ETIMEOUT");
  PKT_STR_EQ(pk_strerror(PK_ENOSYM), "symbol not exported by plugin");
  for (c = -1; c > PK__ELAST; c--) {
    PKT_ASSERT(strcmp(pk_errname(c), "unknown") != 0);
    PKT_ASSERT(strcmp(pk_strerror(c), "unknown error") != 0);
  }
  PKT_STR_EQ(pk_errname(PK__ELAST), "unknown");
  PKT_STR_EQ(pk_errname(1), "unknown");
}

PK_TEST(version) {
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", PK_VERSION_MAJOR, PK_VERSION_MINOR,
           PK_VERSION_PATCH);
  PKT_STR_EQ(pk_version_string(), want);
  PKT_EQ_INT(pk_version(), PK_VERSION_HEX);
  PKT_STR_EQ(pk_backends()[0], "native");
}

PK_TEST(sig_normalize) {
  char buf[64];
  PKT_EQ_INT(pk_sig_normalize(" ( i32 ,i32 ) -> i32 ", buf, sizeof buf), 14);
  PKT_STR_EQ(buf, "(i32,i32)->i32");
  PKT_EQ_INT(pk_sig_normalize("()->()", buf, sizeof buf), 6);
  PKT_STR_EQ(buf, "()->()");
  PKT_ASSERT(pk_sig_normalize("(str,bytes)->(i64,f32)", buf, sizeof buf) > 0);
  PKT_STR_EQ(buf, "(str,bytes)->(i64,f32)");
  PKT_ASSERT(pk_sig_normalize("(f64)->(f64)", buf, sizeof buf) > 0);
  PKT_STR_EQ(buf, "(f64)->f64");
  PKT_EQ_INT(pk_sig_normalize("(i32)->i32", buf, 4), PK_ENOMEM);
}

PK_TEST(sig_rejects_malformed) {
  static const char *const bad[] = {
      "",          "i32",        "(i32",         "(i32)",      "(i32)->",
      "(i33)->()", "(i32,)->()", "(i32)->i32 x", "(i32)=>i32", "(,)->()",
      "(i32i32)->()", "(i32)->(i32", "(str)->string",
      "(i32,i32,i32,i32,i32,i32,i32,i32,i32,i32,i32,i32,i32,i32,i32,i32,"
      "i32)->()",
      NULL};
  char buf[64];
  int i;
  for (i = 0; bad[i]; i++)
    if (pk_sig_normalize(bad[i], buf, sizeof buf) != PK_EINVAL)
      pkt_fail(__FILE__, __LINE__, "'%s' accepted", bad[i]);
  PKT_EQ_INT(pk_sig_normalize(NULL, buf, sizeof buf), PK_EINVAL);
}

PK_TEST(type_names) {
  PKT_STR_EQ(pk_type_name(PK_T_I32), "i32");
  PKT_STR_EQ(pk_type_name(PK_T_BYTES), "bytes");
  PKT_STR_EQ(pk_type_name(99), "?");
}

PK_TEST(host_create_defaults_and_null_args) {
  pk_host *h = (pk_host *)&h;
  pk_host_opts o = PK_HOST_OPTS_INIT;
  PKT_EQ_INT(pk_host_create(NULL, NULL), PK_EINVAL);
  o.size = 1;
  PKT_EQ_INT(pk_host_create(&o, &h), PK_EINVAL);
  PKT_ASSERT(h == (pk_host *)&h);
  PKT_EQ_INT(pk_host_create(NULL, &h), PK_OK);
  PKT_STR_EQ(pk_host_errmsg(h), "");
  pk_host_destroy(h);
  pk_host_destroy(NULL);
  pk_plugin_close(NULL);
}

static int noop_fn(void *ud, pk_plugin *p, const pk_val *a, pk_val *r) {
  (void)ud;
  (void)p;
  (void)a;
  (void)r;
  return 0;
}

PK_TEST(host_define_checks) {
  pk_host *h = test_host();
  PKT_RC(h, pk_host_define(h, "log", "(str)->()", noop_fn, NULL), PK_OK);
  PKT_RC(h, pk_host_define(h, "log", "(str)->()", noop_fn, NULL), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "already defined");
  PKT_RC(h, pk_host_define(h, "bad name", "()->()", noop_fn, NULL),
         PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "host function name 'bad name' is not an "
                                  "identifier of at most 63 characters");
  PKT_RC(h, pk_host_define(h, "", "()->()", noop_fn, NULL), PK_EINVAL);
  PKT_RC(h, pk_host_define(h, NULL, "()->()", noop_fn, NULL), PK_EINVAL);
  PKT_RC(h, pk_host_define(h, "f", "(i32", noop_fn, NULL), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "bad signature '(i32'");
  PKT_RC(h, pk_host_define(h, "g", "()->()", NULL, NULL), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "define: host function 'g': the callback "
                                  "is NULL");
  PKT_EQ_INT(pk_host_define(NULL, "g", "()->()", noop_fn, NULL), PK_EINVAL);
  pk_host_destroy(h);
}

PK_TEST(open_null_args) {
  pk_host *h = test_host();
  pk_plugin *p = (pk_plugin *)&p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  PKT_EQ_INT(pk_plugin_open(NULL, pkt_arg(0), NULL, &p), PK_EINVAL);
  PKT_RC(h, pk_plugin_open(h, NULL, NULL, &p), PK_EINVAL);
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), NULL, NULL), PK_EINVAL);
  o.size = 3;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), &o, &p), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "PK_OPEN_OPTS_INIT");
  PKT_ASSERT(p == (pk_plugin *)&p);
  pk_host_destroy(h);
}

PK_TEST(open_process_isolation_not_available) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  const char *const *b;
  int built = 0;
  for (b = pk_backends(); *b != NULL; b++)
    built |= strcmp(*b, "process") == 0;
  o.isolation = PK_ISOLATE_PROCESS;
  if (!built) { /* with the process backend, tests/process covers it */
    PKT_RC(h, pk_plugin_open(h, pkt_arg(0), &o, &p), PK_ENOSYS);
    PKT_CONTAINS(pk_host_errmsg(h), "process isolation");
  }
  o.isolation = 42;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), &o, &p), PK_EINVAL);
  pk_host_destroy(h);
}

PK_TEST(open_unknown_backend) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.backend = "cobol";
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), &o, &p), PK_ENOSYS);
  PKT_CONTAINS(pk_host_errmsg(h), "backend 'cobol' is not built in");
  pk_host_destroy(h);
}

PK_TEST(open_config_without_value) {
  static const char *const kv[] = {"key", NULL};
  pk_host *h = test_host();
  pk_plugin *p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.config = kv;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), &o, &p), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "config key 'key' has no value");
  pk_host_destroy(h);
}

PK_TEST(open_grant_unknown_host_function) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  PKT_RC(h, pk_host_define(h, "log", "(str)->()", noop_fn, NULL), PK_OK);
  o.grants = "log, lgo";
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), &o, &p), PK_ENOENT);
  PKT_CONTAINS(pk_host_errmsg(h), "grant 'lgo'");
  pk_host_destroy(h);
}

/* The host closes plugins the caller left open. */
PK_TEST(host_destroy_closes_plugins) {
  pk_host *h = test_host();
  pk_plugin *p1, *p2;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), NULL, &p1), PK_OK);
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), NULL, &p2), PK_OK);
  pk_host_destroy(h); /* the harness checks that nothing leaked */
}

static int triple(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  results[0].i32 = args[0].i32 * 3;
  return PK_OK;
}

/*
 * One pass of open, resolve, calls (with results in the arena) and close.
 * Returns PK_OK or the first error, which must be ENOMEM.
 */
static int one_pass(pk_host *h) {
  static const char *const kv[] = {"greeting", "hi", NULL};
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  pk_func *f;
  pk_val in = PK_STR("allocation sweep", 16), out;
  char big[3000];
  int rc;

  o.grants = "triple";
  o.config = kv;
  if ((rc = pk_host_define(h, "triple", "(i32)->i32", triple, NULL)) < 0)
    return rc;
  if ((rc = pk_plugin_open(h, pkt_arg(0), &o, &p)) < 0)
    return rc;
  if ((rc = pk_plugin_func(p, "greet", "(str)->str", &f)) < 0)
    goto out;
  if ((rc = pk_func_call(f, &in, 1, &out, 1)) < 0)
    goto out;
  if (out.str.len != 23)
    pkt_fail(__FILE__, __LINE__, "greet returned %zu bytes", out.str.len);
  /* A result larger than the arena's first chunk. */
  memset(big, 'x', sizeof big);
  in = PK_BYTES((const uint8_t *)big, sizeof big);
  if ((rc = pk_plugin_func(p, "reverse", NULL, &f)) < 0 ||
      (rc = pk_func_call(f, &in, 1, &out, 1)) < 0)
    goto out;
  in = PK_I32(5);
  if ((rc = pk_plugin_func(p, "call_host", NULL, &f)) < 0 ||
      (rc = pk_func_call(f, &in, 1, &out, 1)) < 0)
    goto out;
  if (out.i32 != 15)
    pkt_fail(__FILE__, __LINE__, "call_host returned %d", out.i32);
out:
  pk_plugin_close(p);
  return rc;
}

/*
 * Fail allocation 1, 2, 3, ... of a whole open + call + close pass until
 * a pass succeeds: every failure must be a clean error (ENOMEM, or the
 * plugin's own error when its result allocation failed) and leak nothing.
 */
PK_TEST(allocation_failure_sweep) {
  long n;
  int passes = 0;
  for (n = 1; n < 10000; n++) {
    pk_host *h = test_host();
    int rc;
    pkt_fail_at(n);
    rc = one_pass(h);
    pkt_fail_at(0);
    pk_host_destroy(h);
    if (pkt_live != 0)
      pkt_fail(__FILE__, __LINE__, "failing allocation %ld leaked %ld", n,
               pkt_live);
    if (rc == PK_OK && !pkt_failed_alloc())
      break;
    if (rc != PK_ENOMEM && rc != PK_EPLUGIN && rc != PK_OK)
      pkt_fail(__FILE__, __LINE__, "failing allocation %ld gave %s", n,
               pk_errname(rc));
    passes++;
  }
  PKT_ASSERT(passes >= 5); /* it did reach into open and call */
  printf("swept %d failing allocations\n", passes);
}

/* Failing host creation itself. */
PK_TEST(allocation_failure_host_create) {
  pk_host_opts o = PK_HOST_OPTS_INIT;
  pk_host *h = NULL;
  o.alloc = pkt_alloc;
  pkt_fail_at(1);
  PKT_EQ_INT(pk_host_create(&o, &h), PK_ENOMEM);
  pkt_fail_at(0);
  PKT_ASSERT(h == NULL);
}

/* Steady-state calls allocate nothing, strings included. */
PK_TEST(calls_do_not_allocate) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_func *sum, *greet;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, s = PK_STR("bob", 3), out;
  long before;
  int i;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "sum", NULL, &sum), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "greet", NULL, &greet), PK_OK);
  PKT_RC(h, pk_func_call(greet, &s, 1, &out, 1), PK_OK); /* warm the arena */
  before = pkt_count;
  for (i = 0; i < 1000; i++) {
    PKT_RC(h, pk_func_call(sum, in, 2, &out, 1), PK_OK);
    PKT_RC(h, pk_func_call(greet, &s, 1, &out, 1), PK_OK);
  }
  PKT_EQ_INT(pkt_count - before, 0);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* PK_PLUGIN_INFO_INIT: an info with its size set, ready for
   pk_plugin_info_get. */
PK_TEST(plugin_info_init) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  PKT_EQ_INT(info.size, sizeof(pk_plugin_info));
  PKT_ASSERT(info.name == NULL && info.nexports == 0);
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.name, "conformance");
  PKT_ASSERT(info.nexports > 0);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* Counts in call errors agree with their noun: "1 argument", "2
   arguments", "1 result". */
PK_TEST(call_arity_messages_grammar) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_func *greet, *sum, *noop;
  pk_val a[2] = {PK_I32(1), PK_I32(2)}, r;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "greet", "(str)->str", &greet), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "sum", "(i32,i32)->i32", &sum), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "noop", "()->()", &noop), PK_OK);
  PKT_RC(h, pk_func_call(greet, NULL, 0, &r, 1), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h),
               "'greet' takes 1 argument ((str)->str), 0 given");
  PKT_RC(h, pk_func_call(sum, a, 1, &r, 1), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h),
               "'sum' takes 2 arguments ((i32,i32)->i32), 1 given");
  PKT_RC(h, pk_func_call(noop, a, 1, NULL, 0), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "'noop' takes 0 arguments (()->()), 1 given");
  PKT_RC(h, pk_func_call(sum, a, 2, NULL, 0), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h),
               "'sum' returns 1 result ((i32,i32)->i32), room for 0 given");
  pk_plugin_close(p);
  pk_host_destroy(h);
}
