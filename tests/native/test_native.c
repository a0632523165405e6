/*
 * The native backend: detection, every bad input it handles, unload and
 * reload. Run as `test_native TEST FIXTURE_DIR`.
 */
#include "test.h"

#include <unistd.h>

static char path_buf[1024];

/* Path of a fixture in the fixture directory. */
static const char *fx(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s.so", pkt_arg(0), name);
  return path_buf;
}

/* Open `path` expecting `want`; the message must name the path and `why`. */
static void expect_open_error(const char *path, int want, const char *phase,
                              const char *why) {
  pkt_expect_open_error(path, NULL, want, phase, why);
}

/* A copy of the good fixture with `n` bytes at `off` replaced. */
static const char *patched(const char *name, size_t off, const void *bytes,
                           size_t n) {
  size_t size;
  unsigned char *d = pkt_read_file(fx("fx_conformance"), &size);
  const char *out = pkt_tmp(name);
  memcpy(d + off, bytes, n);
  pkt_write_file(out, d, size);
  free(d);
  return out;
}

PK_TEST(detects_shared_object) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  PKT_RC(h, pk_plugin_open(h, fx("fx_conformance"), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.backend, "native");
  PKT_STR_EQ(info.path, fx("fx_conformance"));
  pk_plugin_close(p);
  pk_host_destroy(h);
}

PK_TEST(missing_file) {
  expect_open_error("no/such/plugin.so", PK_ENOENT, "open",
                    "no such file");
}

PK_TEST(not_a_shared_object) {
  const char *t = pkt_tmp("text.so");
  pkt_write_file(t, "hello, I am text\n", 17);
  expect_open_error(t, PK_EFORMAT, "open", "not a plugin");
}

PK_TEST(not_elf_when_forced_native) {
  const char *t = pkt_tmp("text.so");
  pk_host *h = test_host();
  pk_plugin *p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pkt_write_file(t, "hello, I am text\n", 17);
  o.backend = "native";
  PKT_RC(h, pk_plugin_open(h, t, &o, &p), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h), "no ELF header");
  pk_host_destroy(h);
}

PK_TEST(empty_file) {
  const char *t = pkt_tmp("empty.so");
  pkt_write_file(t, "", 0);
  expect_open_error(t, PK_EFORMAT, "open", "not a plugin");
}

PK_TEST(wrong_architecture) {
  static const unsigned char aarch64[2] = {183, 0}; /* e_machine, LE */
  expect_open_error(patched("arm.so", 18, aarch64, 2), PK_EARCH, "open",
                    "built for aarch64");
}

PK_TEST(wrong_class) {
  static const unsigned char cls32 = 1;
  expect_open_error(patched("c32.so", 4, &cls32, 1), PK_EARCH, "open",
                    "32-bit ELF file");
}

/* ET_EXEC: an executable (the process backend runs those, when built);
   forced on native, the message says what it is. */
PK_TEST(executable_not_shared_object) {
  static const unsigned char exec[2] = {2, 0}; /* ET_EXEC */
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.backend = "native";
  pkt_expect_open_error(patched("exec.so", 16, exec, 2), &o, PK_EFORMAT,
                        "open", "ELF executable, not a shared object");
}

PK_TEST(truncated_file) {
  size_t size;
  unsigned char *d = pkt_read_file(fx("fx_conformance"), &size);
  const char *t = pkt_tmp("half.so");
  pkt_write_file(t, d, size / 2);
  free(d);
  expect_open_error(t, PK_EFORMAT, "open", "truncated");
}

PK_TEST(truncated_header) {
  size_t size;
  unsigned char *d = pkt_read_file(fx("fx_conformance"), &size);
  const char *t = pkt_tmp("head.so");
  pkt_write_file(t, d, 40);
  free(d);
  expect_open_error(t, PK_EFORMAT, "open", "shorter than an ELF header");
}

PK_TEST(no_descriptor) {
  expect_open_error(fx("fx_nodesc"), PK_ENODESC, "open",
                    "no symbol 'pk_plugin_descriptor'");
}

PK_TEST(bad_magic) {
  expect_open_error(fx("fx_magic"), PK_ENODESC, "open",
                    "descriptor magic is 0x12345678");
}

PK_TEST(abi_too_new) {
  expect_open_error(fx("fx_abi_new"), PK_EABI, "open",
                    "abi_major differs (plugin too new)");
}

PK_TEST(abi_too_old) {
  expect_open_error(fx("fx_abi_old"), PK_EABI, "open",
                    "abi_major differs (plugin too old)");
}

PK_TEST(abi_minor_too_new) {
  expect_open_error(fx("fx_abi_minor"), PK_EABI, "open",
                    "abi_minor is newer");
}

PK_TEST(descriptor_size) {
  expect_open_error(fx("fx_desc_size"), PK_EABI, "open",
                    "descriptor size is 16 bytes");
}

PK_TEST(undefined_symbol) {
  expect_open_error(fx("fx_undef"), PK_EFORMAT, "open",
                    "pk_fixture_missing_symbol");
}

PK_TEST(init_fails_with_message) {
  expect_open_error(fx("fx_init_fail"), PK_EINIT, "init",
                    "init refused: FIXTURE_INIT_FAIL");
}

PK_TEST(init_returns_nonzero) {
  expect_open_error(fx("fx_init_rc"), PK_EINIT, "init",
                    "init hook returned 7");
}

/* "reenter": calls sum(40, 2) on its caller three times (the second and
   third take the call path's common case); 0 when each returned 42. */
static int host_reenter(void *ud, pk_plugin *caller, const pk_val *args,
                        pk_val *results) {
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out;
  pk_func *f;
  int i, rc = pk_plugin_func(caller, "sum", "(i32,i32)->i32", &f);
  (void)ud;
  (void)args;
  for (i = 0; rc == PK_OK && i < 3; i++)
    if ((rc = pk_func_call(f, in, 2, &out, 1)) == PK_OK && out.i32 != 42)
      rc = -1000;
  results[0] = PK_I32(rc);
  return PK_OK;
}

/* A host function that init calls calls the plugin back, before the
   open has returned: every call runs (the plugin's exports are set up
   before its init runs, whatever the call path picks later). */
PK_TEST(init_calls_back_into_plugin) {
  pk_host *h = test_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *f;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
  PKT_RC(h, pk_host_define(h, "reenter", "(i32)->i32", host_reenter, NULL),
         PK_OK);
  o.grants = "reenter";
  PKT_RC(h, pk_plugin_open(h, fx("fx_init_reenters"), &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "sum", "(i32,i32)->i32", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 3);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* The raw typed pointer is the plugin's own function. */
PK_TEST(raw_function_pointer) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_func *f;
  int32_t (*sum)(int32_t, int32_t);
  PKT_RC(h, pk_plugin_open(h, fx("fx_conformance"), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "sum", "(i32,i32)->i32", &f), PK_OK);
  sum = (int32_t(*)(int32_t, int32_t))pk_func_raw(f);
  PKT_ASSERT(sum != NULL);
  PKT_EQ_INT(sum(40, 2), 42);
  PKT_RC(h, pk_plugin_func(p, "greet", NULL, &f), PK_OK);
  PKT_ASSERT(pk_func_raw(f) == NULL); /* takes a context */
  pk_plugin_close(p);
  pk_host_destroy(h);
}

static int count_maps(const char *needle) {
  char line[1024];
  int n = 0;
  FILE *f = fopen("/proc/self/maps", "r");
  if (f == NULL)
    return -1;
  while (fgets(line, sizeof line, f))
    if (strstr(line, needle))
      n++;
  fclose(f);
  return n;
}

/* Close unmaps the plugin's code. */
PK_TEST(close_unloads) {
  pk_host *h = test_host();
  pk_plugin *p;
  if (count_maps("/") < 0) {
    pk_host_destroy(h);
    pkt_skip("no /proc/self/maps");
  }
  PKT_EQ_INT(count_maps("plugkit:fx_conformance.so"), 0);
  PKT_RC(h, pk_plugin_open(h, fx("fx_conformance"), NULL, &p), PK_OK);
  PKT_ASSERT(count_maps("plugkit:fx_conformance.so") > 0);
  pk_plugin_close(p);
  PKT_EQ_INT(count_maps("plugkit:fx_conformance.so"), 0);
  pk_host_destroy(h);
}

static int32_t build_id(pk_host *h, pk_plugin *p) {
  pk_func *f;
  pk_val out;
  PKT_RC(h, pk_plugin_func(p, "build_id", "()->i32", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, NULL, 0, &out, 1), PK_OK);
  return out.i32;
}

/* A plugin rebuilt in place loads its new code on the next open, even
   while the old build is still open. */
PK_TEST(reopen_after_rebuild_in_place) {
  pk_host *h = test_host();
  pk_plugin *v1, *v2;
  size_t n1, n2;
  unsigned char *b1 = pkt_read_file(fx("fx_conformance"), &n1);
  unsigned char *b2 = pkt_read_file(fx("fx_build2"), &n2);
  const char *t = pkt_tmp("plugin.so");
  FILE *f;

  pkt_write_file(t, b1, n1);
  PKT_RC(h, pk_plugin_open(h, t, NULL, &v1), PK_OK);
  PKT_EQ_INT(build_id(h, v1), 1);
  /* Rewrite the same inode, as `cp` or an editor would. */
  f = fopen(t, "r+b");
  PKT_ASSERT(f != NULL);
  PKT_ASSERT(fwrite(b2, 1, n2, f) == n2);
  PKT_ASSERT(ftruncate(fileno(f), (off_t)n2) == 0);
  fclose(f);
  PKT_RC(h, pk_plugin_open(h, t, NULL, &v2), PK_OK);
  PKT_EQ_INT(build_id(h, v2), 2);
  PKT_EQ_INT(build_id(h, v1), 1); /* the old instance is untouched */
  pk_plugin_close(v1);
  pk_plugin_close(v2);
  free(b1);
  free(b2);
  pk_host_destroy(h);
}

/* Many open/close cycles leave nothing behind. */
PK_TEST(open_close_cycles) {
  pk_host *h = test_host();
  int i;
  for (i = 0; i < 200; i++) {
    pk_plugin *p;
    PKT_RC(h, pk_plugin_open(h, fx("fx_conformance"), NULL, &p), PK_OK);
    pk_plugin_close(p);
  }
  PKT_EQ_INT(count_maps("plugkit:fx_conformance.so"), 0);
  pk_host_destroy(h);
}

/* An executable (this test program) is not a shared object. */
PK_TEST(executable_with_interpreter) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.backend = "native";
  PKT_RC(h, pk_plugin_open(h, "/proc/self/exe", &o, &p), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h), "ELF executable (it has a program "
                                  "interpreter)");
  pk_host_destroy(h);
}

/* ---- limits this backend cannot enforce (docs/limits.md) ---------------- */

PK_TEST(limits_refused) {
  pkt_expect_limits_refused(fx("fx_conformance"), "native");
}

/* ---- open options for other kinds of plugins: refused, never ignored ----- */

static int has_backend(const char *name) {
  const char *const *b;
  for (b = pk_backends(); *b != NULL; b++)
    if (strcmp(*b, name) == 0)
      return 1;
  return 0;
}

static int open_with(pk_host *h, const pk_open_opts *o) {
  pk_plugin *p = NULL;
  int rc = pk_plugin_open(h, fx("fx_conformance"), o, &p);
  PKT_ASSERT((rc == PK_OK) == (p != NULL));
  pk_plugin_close(p);
  return rc;
}

/* A host asking for sandboxed plugins only never gets native code, even
   from a bare .so opened without a manifest. */
PK_TEST(sandboxed_policy_refuses_native) {
  pk_host *h = test_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.artifacts = PK_ARTIFACTS_SANDBOXED;
  PKT_RC(h, open_with(h, &o), PK_EUNTRUSTED);
  PKT_CONTAINS(pk_host_errmsg(h), "loads only wasm and lua plugins, and "
                                  "this is a native plugin");
  o.isolation = PK_ISOLATE_PROCESS; /* in a child it is native code too */
  PKT_RC(h, open_with(h, &o),
         has_backend("process") ? PK_EUNTRUSTED : PK_ENOSYS);
  o.isolation = PK_ISOLATE_NONE;
  o.artifacts = 7;
  PKT_RC(h, open_with(h, &o), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "unknown artifacts policy 7");
  pk_host_destroy(h);
}

/* trust = require on a bare file: nothing signed to check, so refused;
   warn opens it and says so. */
PK_TEST(trust_option_on_bare_file) {
  pk_host *h = test_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.trust = PK_TRUST_REQUIRE;
  PKT_RC(h, open_with(h, &o), PK_EUNTRUSTED);
  PKT_CONTAINS(pk_host_errmsg(h), "carries no signature");
  pkt_log_buf[0] = '\0';
  o.trust = PK_TRUST_WARN;
  PKT_RC(h, open_with(h, &o), PK_OK);
  PKT_CONTAINS(pkt_log_buf, "PK_TRUST_WARN: a plugin file opened without");
  o.trust = 9;
  PKT_RC(h, open_with(h, &o), PK_EINVAL);
  pk_host_destroy(h);
}

/* The wasm execution tier asked of a native plugin. */
PK_TEST(tier_refused) {
  pk_host *h = test_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.tier = "jit";
  PKT_RC(h, open_with(h, &o), PK_ENOSYS);
  PKT_CONTAINS(pk_host_errmsg(h), "tier applies to wasm plugins; this is "
                                  "a native plugin");
  o.tier = "interp"; /* the default, asked for: fine everywhere */
  PKT_RC(h, open_with(h, &o), PK_OK);
  o.tier = "auto"; /* the best this plugin has */
  PKT_RC(h, open_with(h, &o), PK_OK);
  o.tier = NULL;
  o.aot_path = "/nonexistent.pkaot";
  PKT_RC(h, open_with(h, &o), PK_ENOSYS);
  PKT_CONTAINS(pk_host_errmsg(h), "aot_path applies to wasm plugins");
  pk_host_destroy(h);
}
