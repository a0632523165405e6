/*
 * The source backend: detection, compile errors, directories, reload.
 * Run as `test_source TEST FIXTURES_DIR` (tests/fixtures in the source
 * tree).
 */
#include "test.h"

#include <threads.h>

static char path_buf[1024];

/* Path of a file under the fixtures directory. */
static const char *fx(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s", pkt_arg(0), name);
  return path_buf;
}

/* Write a plugin source to a temp file; returns its path. */
static const char *write_src(const char *name, const char *text) {
  const char *path = pkt_tmp(name);
  pkt_write_file(path, text, strlen(text));
  return path;
}

static void expect_open_error(const char *path, int want, const char *phase,
                              const char *why) {
  pkt_expect_open_error(path, NULL, want, phase, why);
}

/* Open `path`, call `fn` (()->i32 or (i32,i32)->i32 with 6, 7). */
static int32_t call_i32(pk_host *h, const char *path, const char *fn) {
  pk_plugin *p;
  pk_func *f;
  pk_val in[2] = {PK_I32(6), PK_I32(7)}, out;
  int32_t r;
  PKT_RC(h, pk_plugin_open(h, path, NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, fn, NULL, &f), PK_OK);
  PKT_RC(h, pk_func_call(f, in, pk_func_nparams(f), &out, 1), PK_OK);
  r = out.i32;
  pk_plugin_close(p);
  return r;
}

PK_TEST(detects_c_source) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  PKT_RC(h, pk_plugin_open(h, fx("conformance.c"), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.backend, "source");
  PKT_STR_EQ(info.name, "conformance");
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* A file without the .c suffix is recognised by its #include. */
PK_TEST(detects_by_content) {
  static const char src[] =
      "#include <plugkit_plugin.h>\n"
      "static int32_t one(void) { return 1; }\n"
      "PK_PLUGIN(\"c\", \"1\", PK_EXPORT(one, i32, (void)));\n";
  pk_host *h = test_host();
  PKT_EQ_INT(call_i32(h, write_src("plugin.txt", src), "one"), 1);
  pk_host_destroy(h);
}

PK_TEST(compile_error_names_line) {
  expect_open_error(fx("source/syntax_error.c"), PK_EFORMAT, "open",
                    "syntax_error.c:7: error");
  expect_open_error(fx("source/syntax_error.c"), PK_EFORMAT, "open",
                    "compile failed");
}

PK_TEST(compile_error_every_diagnostic) {
  static const char src[] = "#include <plugkit_plugin.h>\n"
                            "static int f(void) { return x; }\n"
                            "static int g(void) { return y; }\n";
  const char *path = write_src("two_errors.c", src);
  /* tcc stops at its first error: the message has that one, with line. */
  expect_open_error(path, PK_EFORMAT, "open", "two_errors.c:2: error");
  expect_open_error(path, PK_EFORMAT, "open", "'x' undeclared");
}

PK_TEST(missing_header) {
  static const char src[] = "#include <no_such_header_anywhere.h>\n";
  expect_open_error(write_src("nohdr.c", src), PK_EFORMAT, "open",
                    "no_such_header_anywhere.h");
}

PK_TEST(missing_descriptor) {
  expect_open_error(fx("nodesc.c"), PK_ENODESC, "open",
                    "no symbol 'pk_plugin_descriptor'");
}

PK_TEST(undefined_symbol) {
  expect_open_error(fx("source/undefined.c"), PK_EFORMAT, "open",
                    "pk_fixture_nowhere");
}

PK_TEST(abi_too_new) {
  static const char src[] =
      "#define PK__DESC_ABI_MAJOR 2\n"
      "#include <plugkit_plugin.h>\n"
      "static int32_t one(void) { return 1; }\n"
      "PK_PLUGIN(\"c\", \"1\", PK_EXPORT(one, i32, (void)));\n";
  expect_open_error(write_src("abi.c", src), PK_EABI, "open",
                    "abi_major differs (plugin too new)");
}

PK_TEST(init_fails) {
  static const char src[] =
      "#include <plugkit_plugin.h>\n"
      "static int32_t one(void) { return 1; }\n"
      "static int init(pk_ctx *c) { pk_fail(c, \"no thanks %d\", 7); "
      "return 1; }\n"
      "PK_PLUGIN(\"c\", \"1\", PK_EXPORT(one, i32, (void)), PK_INIT(init));\n";
  expect_open_error(write_src("initfail.c", src), PK_EINIT, "init",
                    "no thanks 7");
}

/* A directory of .c files is one plugin. */
PK_TEST(directory_plugin) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_func *f;
  pk_val in = PK_STR("loud", 4), out;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  PKT_EQ_INT(call_i32(h, fx("source/multi"), "multi_mul"), 42);
  PKT_RC(h, pk_plugin_open(h, fx("source/multi"), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.backend, "source");
  PKT_STR_EQ(info.version, "2.0.0");
  PKT_RC(h, pk_plugin_func(p, "shout", "(str)->str", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, &in, 1, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "LOUD");
  pk_plugin_close(p);
  pk_host_destroy(h);
}

PK_TEST(empty_directory) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  const char *dir;
  write_src("readme.txt", "no C here\n");
  dir = pkt_tmp("");
  /* Not detected as anything... */
  PKT_RC(h, pk_plugin_open(h, dir, NULL, &p), PK_EFORMAT);
  /* ... and when forced, the backend says why. */
  o.backend = "source";
  PKT_RC(h, pk_plugin_open(h, dir, &o, &p), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h), "holds no .c file");
  pk_host_destroy(h);
}

/* Each open compiles the file as it is now: an edit shows on reopen,
   while the instance opened before keeps its code. */
PK_TEST(reopen_loads_edit) {
  static const char v1[] =
      "#include <plugkit_plugin.h>\n"
      "static int32_t build(void) { return 1; }\n"
      "PK_PLUGIN(\"r\", \"1\", PK_EXPORT(build, i32, (void)));\n";
  static const char v2[] =
      "#include <plugkit_plugin.h>\n"
      "static int32_t build(void) { return 2; }\n"
      "PK_PLUGIN(\"r\", \"2\", PK_EXPORT(build, i32, (void)));\n";
  pk_host *h = test_host();
  pk_plugin *old;
  pk_func *f;
  pk_val out;
  const char *path = write_src("reload.c", v1);
  char saved[1024];
  snprintf(saved, sizeof saved, "%s", path);
  PKT_RC(h, pk_plugin_open(h, saved, NULL, &old), PK_OK);
  PKT_EQ_INT(call_i32(h, saved, "build"), 1);
  pkt_write_file(saved, v2, strlen(v2));
  PKT_EQ_INT(call_i32(h, saved, "build"), 2);
  PKT_RC(h, pk_plugin_func(old, "build", NULL, &f), PK_OK);
  PKT_RC(h, pk_func_call(f, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 1);
  pk_plugin_close(old);
  pk_host_destroy(h);
}

/* The raw typed pointer is the compiled function itself. */
PK_TEST(raw_function_pointer) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_func *f;
  int32_t (*sum)(int32_t, int32_t);
  PKT_RC(h, pk_plugin_open(h, fx("conformance.c"), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "sum", "(i32,i32)->i32", &f), PK_OK);
  sum = (int32_t(*)(int32_t, int32_t))pk_func_raw(f);
  PKT_ASSERT(sum != NULL);
  PKT_EQ_INT(sum(40, 2), 42);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* The SDK's variadic helpers (pk_str_printf, pk_fail, pk_log) work under
   tcc with floats and 64-bit values. */
PK_TEST(printf_helpers) {
  static const char src[] =
      "#include <plugkit_plugin.h>\n"
      "static pk_str fmt(pk_ctx *c, pk_str s) {\n"
      "  return pk_str_printf(c, \"%.*s %d %lld %.2f\", PK_STR_FMT(s), -3,\n"
      "                       (long long)1 << 40, 2.5);\n"
      "}\n"
      "PK_PLUGIN(\"f\", \"1\", PK_EXPORT_CTX(fmt, str, (str)));\n";
  pk_host *h = test_host();
  pk_plugin *p;
  pk_func *f;
  pk_val in = PK_STR("x", 1), out;
  PKT_RC(h, pk_plugin_open(h, write_src("fmt.c", src), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "fmt", NULL, &f), PK_OK);
  PKT_RC(h, pk_func_call(f, &in, 1, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "x -3 1099511627776 2.50");
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* Many opens and closes: compiler state is released each time. */
PK_TEST(open_close_many) {
  pk_host *h = test_host();
  int i;
  for (i = 0; i < 50; i++)
    PKT_EQ_INT(call_i32(h, fx("conformance.c"), "sum"), 13);
  pk_host_destroy(h);
}

/* Allocation sweep: every failing allocation gives a clean error. */
PK_TEST(allocation_sweep) {
  long n;
  for (n = 1; n < 200; n++) {
    pk_host *h = test_host();
    pk_plugin *p = NULL;
    int rc;
    pkt_fail_at(n);
    rc = pk_plugin_open(h, fx("conformance.c"), NULL, &p);
    pkt_fail_at(0);
    if (rc == PK_OK) {
      pk_plugin_close(p);
      pk_host_destroy(h);
      break;
    }
    PKT_ASSERT(rc == PK_ENOMEM || rc == PK_EINIT);
    pk_host_destroy(h);
  }
  PKT_ASSERT(n < 200);
}

/* PK_EXPORT's compile-time type check works under tcc too. */
PK_TEST(export_type_mismatch_is_compile_error) {
  static const char src[] =
      "#include <plugkit_plugin.h>\n"
      "static int32_t sum(int32_t a, int32_t b) { return a + b; }\n"
      "PK_PLUGIN(\"m\", \"1\", PK_EXPORT(sum, i32, (i32, i64)));\n";
  expect_open_error(write_src("mismatch.c", src), PK_EFORMAT, "open",
                    "mismatch.c:3: error");
}

/* Compiles on several threads (one host each) are serialised inside the
   library: libtcc keeps global state while compiling. */
static int compile_loop(void *arg) {
  const char *path = arg;
  int i, bad = 0;
  for (i = 0; i < 10; i++) {
    pk_host *h = NULL;
    pk_plugin *p;
    pk_func *f;
    pk_val in[2] = {PK_I32(i), PK_I32(1)}, out;
    if (pk_host_create(NULL, &h) != PK_OK)
      return 1;
    if (pk_plugin_open(h, path, NULL, &p) != PK_OK ||
        pk_plugin_func(p, "sum", NULL, &f) != PK_OK ||
        pk_func_call(f, in, 2, &out, 1) != PK_OK || out.i32 != i + 1)
      bad++;
    pk_host_destroy(h);
  }
  return bad;
}

PK_TEST(concurrent_compiles) {
  thrd_t t[4];
  char path[1024];
  int i, res;
  snprintf(path, sizeof path, "%s", fx("conformance.c"));
  for (i = 0; i < 4; i++)
    PKT_ASSERT(thrd_create(&t[i], compile_loop, path) == thrd_success);
  for (i = 0; i < 4; i++) {
    PKT_ASSERT(thrd_join(t[i], &res) == thrd_success);
    PKT_EQ_INT(res, 0);
  }
}

/* Every export shape the library's own thunks serve gives the same
   results as the generated thunks (the conformance suite covers the
   others). */
PK_TEST(library_thunk_shapes) {
  static const char src[] =
      "#include <plugkit_plugin.h>\n"
      "static int32_t neg(int32_t x) { return -x; }\n"
      "static int32_t seven(void) { return 7; }\n"
      "static int64_t mul64(int64_t a, int64_t b) { return a * b; }\n"
      "static double hyp2(double a, double b) { return a * a + b * b; }\n"
      "static int32_t hits;\n"
      "static void hit(void) { hits++; }\n"
      "static int32_t nhits(void) { return hits; }\n"
      "PK_PLUGIN(\"shapes\", \"1\", PK_EXPORT(neg, i32, (i32)),\n"
      "          PK_EXPORT(seven, i32, (void)),\n"
      "          PK_EXPORT(mul64, i64, (i64, i64)),\n"
      "          PK_EXPORT(hyp2, f64, (f64, f64)),\n"
      "          PK_EXPORT(hit, void, (void)),\n"
      "          PK_EXPORT(nhits, i32, (void)));\n";
  pk_host *h = test_host();
  pk_plugin *p;
  pk_func *f;
  pk_val a[2], out;
  PKT_RC(h, pk_plugin_open(h, write_src("shapes.c", src), NULL, &p), PK_OK);
  a[0] = PK_I32(5);
  PKT_RC(h, pk_plugin_func(p, "neg", "(i32)->i32", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, a, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.type, PK_T_I32);
  PKT_EQ_INT(out.i32, -5);
  PKT_RC(h, pk_plugin_func(p, "seven", "()->i32", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 7);
  a[0] = PK_I64(INT64_C(3) << 33);
  a[1] = PK_I64(-2);
  PKT_RC(h, pk_plugin_func(p, "mul64", "(i64,i64)->i64", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, a, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.type, PK_T_I64);
  PKT_ASSERT(out.i64 == -(INT64_C(3) << 34));
  a[0] = PK_F64(3);
  a[1] = PK_F64(4);
  PKT_RC(h, pk_plugin_func(p, "hyp2", "(f64,f64)->f64", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, a, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.type, PK_T_F64);
  PKT_ASSERT(out.f64 == 25.0);
  PKT_RC(h, pk_plugin_func(p, "hit", "()->()", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, NULL, 0, NULL, 0), PK_OK);
  PKT_RC(h, pk_func_call(f, NULL, 0, NULL, 0), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "nhits", NULL, &f), PK_OK);
  PKT_RC(h, pk_func_call(f, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 2);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* tcc's warnings on a plugin that compiles go to the host's log. */
PK_TEST(warnings_are_logged) {
  static const char src[] =
      "#include <plugkit_plugin.h>\n"
      "static int32_t one(void) { char *p = 1; return p != 0; }\n"
      "PK_PLUGIN(\"w\", \"1\", PK_EXPORT(one, i32, (void)));\n";
  pk_host *h = test_host();
  PKT_EQ_INT(call_i32(h, write_src("warn.c", src), "one"), 1);
  PKT_CONTAINS(pkt_log_buf, "warn.c:2: warning: assignment makes pointer");
  PKT_CONTAINS(pkt_log_buf, "[1 ");
  pk_host_destroy(h);
}

/* ---- limits this backend cannot enforce (docs/limits.md) ---------------- */

PK_TEST(limits_refused) {
  pkt_expect_limits_refused(fx("conformance.c"), "source");
}
