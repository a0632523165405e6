/*
 * The wasm aot tier: pk_wasm_compile, artifacts found in the cache or
 * named by pk_open_opts.aot_path, and every refusal (another module, a
 * stale engine, a foreign target, truncated or tampered code, code with
 * an undefined symbol, a cache or file others may write or own).
 * Run as `test_wasm_aot TEST WASMDIR AOTCACHE CC`: WASMDIR holds the
 * fixtures, AOTCACHE/<name>/plugkit/ their build-time artifacts, CC the
 * system C compiler. SHA-256 is the library's (compiled in here) so that
 * a test can forge an artifact whose hashes are right.
 */
#include "test.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

/* The artifact layout (src/wasm/aot.c). */
enum { HDR = 512, OFF_FORMAT = 8, OFF_CODEHASH = 48, OFF_CODESIZE = 80,
       OFF_ENGINE = 88, OFF_TARGET = 184, OFF_MCODEHASH = 376,
       OFF_MCODESIZE = 408 };

static char buf_wasm[1024], buf_art[2048];

static const char *wasm(const char *name) {
  snprintf(buf_wasm, sizeof buf_wasm, "%s/%s.wasm", pkt_arg(0), name);
  return buf_wasm;
}

/* The build-time artifact of fixture `name`: the one file in its cache. */
static const char *artifact(const char *name) {
  char dir[1024];
  DIR *d;
  struct dirent *e;
  snprintf(dir, sizeof dir, "%s/%s/plugkit", pkt_arg(1), name);
  buf_art[0] = '\0';
  if ((d = opendir(dir)) == NULL)
    pkt_fail(__FILE__, __LINE__, "no aot cache at %s", dir);
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".pkaot") != NULL)
      snprintf(buf_art, sizeof buf_art, "%s/%.255s", dir, e->d_name);
  closedir(d);
  if (buf_art[0] == '\0')
    pkt_fail(__FILE__, __LINE__, "no artifact in %s", dir);
  return buf_art;
}

/* A copy of fixture name's artifact at `to` (mode 0644), its bytes in
   *out (the caller frees) for tests that change them. */
static unsigned char *copy_artifact(const char *name, const char *to,
                                    size_t *n) {
  unsigned char *a = pkt_read_file(artifact(name), n);
  pkt_write_file(to, a, *n);
  chmod(to, 0644);
  return a;
}

static pk_host *host;
static pk_plugin *plug;

static uint64_t rd64(const unsigned char *p) {
  uint64_t v = 0;
  int i;
  for (i = 7; i >= 0; i--)
    v = v << 8 | p[i];
  return v;
}

/* An artifact with a's header and the code c0 (plain variant, n0 bytes)
   then c1 (the reset_after_call variant), its sizes and hashes right,
   as someone able to write the file would make it; written to `to`. */
static void forge(const unsigned char *a, const unsigned char *c0, size_t n0,
                  const unsigned char *c1, size_t n1, const char *to) {
  unsigned char *f = malloc(HDR + n0 + n1);
  int i;
  PKT_ASSERT(f != NULL);
  memcpy(f, a, HDR);
  memcpy(f + HDR, c0, n0);
  memcpy(f + HDR + n0, c1, n1);
  for (i = 0; i < 8; i++) {
    f[OFF_CODESIZE + i] = (unsigned char)((uint64_t)n0 >> (8 * i));
    f[OFF_MCODESIZE + i] = (unsigned char)((uint64_t)n1 >> (8 * i));
  }
  pk__sha256_buf(c0, n0, f + OFF_CODEHASH);
  pk__sha256_buf(c1, n1, f + OFF_MCODEHASH);
  pkt_write_file(to, f, HDR + n0 + n1);
  free(f);
}

static int triple(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  results[0].i32 = args[0].i32 * 3;
  return PK_OK;
}

static int open_aot(const char *name, const char *tier, const char *aot) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.grants = "*";
  o.tier = tier;
  o.aot_path = aot;
  plug = NULL;
  return pk_plugin_open(host, wasm(name), &o, &plug);
}

static void expect_tier(const char *want) {
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_STR_EQ(info.tier, want);
}

static void expect_add(int a, int b) {
  pk_func *f;
  pk_val in[2], out;
  in[0] = PK_I32(a);
  in[1] = PK_I32(b);
  PKT_RC(host, pk_plugin_func(plug, "add", "(i32,i32)->i32", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, a + b);
}

/* An artifact refused: the open fails with `code`, naming the file and
   `why`, and nothing is open. */
static void expect_refused(const char *name, const char *path, int code,
                           const char *why) {
  char p[1024];
  snprintf(p, sizeof p, "%s", path);
  PKT_RC(host, open_aot(name, "aot", p), code);
  PKT_ASSERT(plug == NULL);
  PKT_CONTAINS(pk_host_errmsg(host), "refused");
  PKT_CONTAINS(pk_host_errmsg(host), p);
  PKT_CONTAINS(pk_host_errmsg(host), why);
}

/* The cache folder of this test: XDG_CACHE_HOME in the temp folder. */
static const char *use_cache(void) {
  static char dir[1024];
  /* (pkt_tmp's paths are under 1024 bytes.) */
  snprintf(dir, sizeof dir, "%s", pkt_tmp("xdg"));
  setenv("XDG_CACHE_HOME", dir, 1);
  return dir;
}

/* Fixture name's artifact put in this test's cache, as compile --cache
   would; returns its path there. */
static const char *fill_cache(const char *name) {
  static char to[4096];
  char dir[2048];
  const char *src = artifact(name), *base = strrchr(src, '/') + 1;
  size_t n;
  snprintf(dir, sizeof dir, "%.1000s/plugkit", use_cache());
  mkdir(getenv("XDG_CACHE_HOME"), 0700);
  mkdir(dir, 0700);
  snprintf(to, sizeof to, "%s/%.1000s", dir, base);
  free(copy_artifact(name, to, &n));
  return to;
}

PK_TEST(compile_writes_artifact_that_runs) {
  char out[1024], written[1024];
  host = test_host();
  snprintf(out, sizeof out, "%s", pkt_tmp("plain.pkaot"));
  PKT_RC(host, pk_wasm_compile(host, wasm("plain"), out, written,
                               sizeof written), PK_OK);
  PKT_STR_EQ(written, out);
  PKT_RC(host, open_aot("plain", "aot", out), PK_OK);
  expect_tier("aot");
  expect_add(40, 2);
  expect_add(-7, 3);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

PK_TEST(compile_cache_then_aot_and_auto_use_it) {
  char written[1024], want[1024];
  struct stat st;
  host = test_host();
  /* A cache folder that does not exist yet: created 0700. */
  setenv("XDG_CACHE_HOME", pkt_tmp("fresh/xdg"), 1);
  snprintf(want, sizeof want, "%s/plugkit/", getenv("XDG_CACHE_HOME"));
  PKT_RC(host, pk_wasm_compile(host, wasm("plain"), NULL, written,
                               sizeof written), PK_OK);
  PKT_ASSERT(strncmp(written, want, strlen(want)) == 0);
  PKT_CONTAINS(written, ".pkaot");
  want[strlen(want) - 1] = '\0';
  PKT_ASSERT(stat(want, &st) == 0);
  PKT_EQ_INT(st.st_mode & 0777, 0700);
  PKT_RC(host, open_aot("plain", "aot", NULL), PK_OK);
  expect_tier("aot");
  expect_add(1, 2);
  pk_plugin_close(plug);
  PKT_RC(host, open_aot("plain", "auto", NULL), PK_OK);
  expect_tier("aot");
  expect_add(5, 6);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

PK_TEST(cache_artifact_found_by_module_hash) {
  host = test_host();
  fill_cache("limits");
  fill_cache("plain");
  PKT_RC(host, open_aot("plain", "aot", NULL), PK_OK);
  expect_tier("aot");
  expect_add(20, 22);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

PK_TEST(auto_without_artifact_uses_jit_or_interp) {
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  host = test_host();
  use_cache();
  PKT_RC(host, open_aot("plain", "auto", NULL), PK_OK);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_ASSERT(strcmp(info.tier, "jit") == 0 ||
             strcmp(info.tier, "interp") == 0);
  expect_add(2, 2);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

PK_TEST(auto_with_refused_artifact_falls_back) {
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  const char *p;
  host = test_host();
  p = fill_cache("plain");
  chmod(p, 0666);
  PKT_RC(host, open_aot("plain", "auto", NULL), PK_OK);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_ASSERT(strcmp(info.tier, "aot") != 0);
  expect_add(3, 4);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

PK_TEST(refuses_artifact_of_another_module) {
  host = test_host();
  expect_refused("plain", artifact("limits"), PK_EFORMAT,
                 "built from another module");
  pk_host_destroy(host);
}

PK_TEST(refuses_stale_engine_version) {
  size_t n;
  unsigned char *a;
  const char *p;
  host = test_host();
  p = pkt_tmp("stale.pkaot");
  a = copy_artifact("plain", p, &n);
  /* "plugkit 0.1.0 ...": another library version built it. */
  PKT_ASSERT(memcmp(a + OFF_ENGINE, "plugkit ", 8) == 0);
  a[OFF_ENGINE + 8] = '9';
  pkt_write_file(p, a, n);
  free(a);
  expect_refused("plain", p, PK_EABI, "stale: built by 'plugkit 9");
  pk_host_destroy(host);
}

PK_TEST(refuses_foreign_target) {
  size_t n;
  unsigned char *a;
  const char *p;
  host = test_host();
  p = pkt_tmp("foreign.pkaot");
  a = copy_artifact("plain", p, &n);
  memset(a + OFF_TARGET, 0, 64);
  memcpy(a + OFF_TARGET, "pdp11-unix-v7", 13);
  pkt_write_file(p, a, n);
  free(a);
  expect_refused("plain", p, PK_EARCH, "built for pdp11-unix-v7");
  pk_host_destroy(host);
}

PK_TEST(refuses_truncated_artifact) {
  size_t n;
  unsigned char *a;
  const char *p;
  host = test_host();
  p = pkt_tmp("short.pkaot");
  a = copy_artifact("plain", p, &n);
  pkt_write_file(p, a, n - 100);
  expect_refused("plain", p, PK_EFORMAT, "truncated");
  pkt_write_file(p, a, 300); /* not even the header */
  expect_refused("plain", p, PK_EFORMAT, "truncated");
  pkt_write_file(p, a, 0);
  expect_refused("plain", p, PK_EFORMAT, "not an aot artifact");
  free(a);
  pk_host_destroy(host);
}

PK_TEST(refuses_tampered_code) {
  size_t n;
  unsigned char *a;
  const char *p;
  host = test_host();
  p = pkt_tmp("tampered.pkaot");
  a = copy_artifact("plain", p, &n);
  a[HDR + 100] ^= 0x55; /* the plain code */
  pkt_write_file(p, a, n);
  expect_refused("plain", p, PK_EFORMAT,
                 "tampered: the code's SHA-256 differs");
  a[HDR + 100] ^= 0x55;
  a[n - 1] ^= 0x55; /* the reset_after_call code */
  pkt_write_file(p, a, n);
  free(a);
  {
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    o.tier = "aot";
    o.aot_path = p;
    o.reset_after_call = 1;
    plug = NULL;
    PKT_RC(host, pk_plugin_open(host, wasm("plain"), &o, &plug), PK_EFORMAT);
    PKT_ASSERT(plug == NULL);
    PKT_CONTAINS(pk_host_errmsg(host), p);
    PKT_CONTAINS(pk_host_errmsg(host), "tampered: the reset_after_call "
                                       "code's SHA-256 differs");
  }
  pk_host_destroy(host);
}

/* Code with an undefined symbol, in an artifact whose hashes are right
   (as an attacker able to write it would make it): the ELF check
   refuses it before anything is loaded. */
PK_TEST(refuses_code_with_undefined_symbol) {
  static const char src[] =
      "extern int puts(const char *);\n"
      "int pkw_aot_init(void) { return puts(\"loaded\"); }\n";
  char cmd[4096], c[1024], so[1024];
  size_t n, sn;
  unsigned char *a, *code;
  const char *p;
  host = test_host();
  snprintf(c, sizeof c, "%s", pkt_tmp("evil.c"));
  snprintf(so, sizeof so, "%s", pkt_tmp("evil.so"));
  pkt_write_file(c, src, sizeof src - 1);
  snprintf(cmd, sizeof cmd,
           "%s -O2 -shared -fPIC -nostdlib -Wl,--hash-style=sysv -o %s %s",
           pkt_arg(2), so, c);
  PKT_EQ_INT(system(cmd), 0);
  code = pkt_read_file(so, &sn);
  p = pkt_tmp("evil.pkaot");
  a = copy_artifact("plain", p, &n);
  forge(a, code, sn, code, sn, p);
  free(a);
  free(code);
  expect_refused("plain", p, PK_EFORMAT, "references 'puts'");
  pk_host_destroy(host);
}

/* An artifact holds the module's code twice: plain, and marking the
   pages its stores and bulk writes change, which reset_after_call
   needs. An open with reset_after_call loads the marking one. */
PK_TEST(reset_after_call_uses_marking_code) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  unsigned char *a;
  size_t n;
  const char *p;
  host = test_host();
  p = pkt_tmp("both.pkaot");
  a = copy_artifact("plain", p, &n);
  PKT_ASSERT(rd64(a + OFF_CODESIZE) > 0 && rd64(a + OFF_MCODESIZE) > 0);
  PKT_ASSERT(HDR + rd64(a + OFF_CODESIZE) + rd64(a + OFF_MCODESIZE) == n);
  free(a);
  o.tier = "aot";
  o.aot_path = p;
  o.reset_after_call = 1;
  plug = NULL;
  PKT_RC(host, pk_plugin_open(host, wasm("plain"), &o, &plug), PK_OK);
  expect_tier("aot");
  expect_add(40, 2);
  expect_add(-7, 3);
  pk_plugin_close(plug);
  o.tier = "auto";
  PKT_RC(host, pk_plugin_open(host, wasm("plain"), &o, &plug), PK_OK);
  expect_tier("aot");
  expect_add(1, 2);
  pk_host_destroy(host);
}

/* The variants swapped (each hash right): the code that does not mark
   is refused for reset_after_call, the marking code for a plain open;
   neither is used. */
PK_TEST(refuses_code_of_the_other_variant) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  unsigned char *a;
  size_t n, n0, n1;
  const char *p;
  host = test_host();
  p = pkt_tmp("swapped.pkaot");
  a = copy_artifact("plain", p, &n);
  n0 = (size_t)rd64(a + OFF_CODESIZE);
  n1 = (size_t)rd64(a + OFF_MCODESIZE);
  forge(a, a + HDR, n0, a + HDR, n0, p); /* plain twice */
  o.tier = "aot";
  o.aot_path = p;
  o.reset_after_call = 1;
  plug = NULL;
  PKT_RC(host, pk_plugin_open(host, wasm("plain"), &o, &plug), PK_EFORMAT);
  PKT_ASSERT(plug == NULL);
  PKT_CONTAINS(pk_host_errmsg(host), p);
  PKT_CONTAINS(pk_host_errmsg(host), "its reset_after_call code does not "
                                     "record the pages a call writes");
  PKT_CONTAINS(pk_host_errmsg(host), "run plugkit compile again");
  /* auto: refused, so the next tier. */
  o.tier = "auto";
  PKT_RC(host, pk_plugin_open(host, wasm("plain"), &o, &plug), PK_OK);
  {
    pk_plugin_info info = PK_PLUGIN_INFO_INIT;
    PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
    PKT_ASSERT(strcmp(info.tier, "aot") != 0);
  }
  pk_plugin_close(plug);
  forge(a, a + HDR + n0, n1, a + HDR + n0, n1, p); /* marking twice */
  expect_refused("plain", p, PK_EFORMAT, "its plain code records the pages "
                                         "a call writes");
  o.tier = "aot";
  plug = NULL;
  PKT_RC(host, pk_plugin_open(host, wasm("plain"), &o, &plug), PK_OK);
  expect_tier("aot");
  expect_add(2, 3);
  free(a);
  pk_host_destroy(host);
}

/* An artifact of the format before the marking variant: refused, with
   what to do. */
PK_TEST(refuses_old_format) {
  size_t n;
  unsigned char *a;
  const char *p;
  host = test_host();
  p = pkt_tmp("old.pkaot");
  a = copy_artifact("plain", p, &n);
  a[OFF_FORMAT] = 1;
  pkt_write_file(p, a, n);
  free(a);
  expect_refused("plain", p, PK_EABI, "format 1, this library reads 2 (run "
                                      "plugkit compile again)");
  pk_host_destroy(host);
}

PK_TEST(refuses_world_writable_file) {
  size_t n;
  const char *p;
  host = test_host();
  p = pkt_tmp("open.pkaot");
  free(copy_artifact("plain", p, &n));
  chmod(p, 0666);
  expect_refused("plain", p, PK_EUNTRUSTED, "writable by everyone");
  chmod(p, 0664);
  expect_refused("plain", p, PK_EUNTRUSTED, "writable by its group");
  chmod(p, 0644);
  PKT_RC(host, open_aot("plain", "aot", p), PK_OK);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

PK_TEST(refuses_world_writable_cache_dir) {
  char dir[1024];
  host = test_host();
  fill_cache("plain");
  snprintf(dir, sizeof dir, "%s/plugkit", getenv("XDG_CACHE_HOME"));
  chmod(dir, 0777);
  PKT_RC(host, open_aot("plain", "aot", NULL), PK_EUNTRUSTED);
  PKT_CONTAINS(pk_host_errmsg(host), dir);
  PKT_CONTAINS(pk_host_errmsg(host), "writable by everyone");
  /* compile --cache refuses to write there too. */
  PKT_RC(host, pk_wasm_compile(host, wasm("plain"), NULL, NULL, 0),
         PK_EUNTRUSTED);
  chmod(dir, 0700);
  PKT_RC(host, open_aot("plain", "aot", NULL), PK_OK);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

PK_TEST(refuses_file_of_another_owner) {
  const char *p;
  size_t n;
  if (geteuid() != 0)
    pkt_skip("needs root to give a file to another user (chown)");
  host = test_host();
  p = pkt_tmp("theirs.pkaot");
  free(copy_artifact("plain", p, &n));
  PKT_EQ_INT(chown(p, 65534, 65534), 0);
  expect_refused("plain", p, PK_EUNTRUSTED, "owned by uid 65534");
  pk_host_destroy(host);
}

PK_TEST(refuses_symlink) {
  size_t n;
  char target[1024], link[1024];
  host = test_host();
  snprintf(target, sizeof target, "%s", pkt_tmp("real.pkaot"));
  snprintf(link, sizeof link, "%s", pkt_tmp("link.pkaot"));
  free(copy_artifact("plain", target, &n));
  PKT_EQ_INT(symlink(target, link), 0);
  expect_refused("plain", link, PK_EUNTRUSTED, "symbolic link");
  pk_host_destroy(host);
}

PK_TEST(compile_without_compiler_is_enosys) {
  char out[1024];
  host = test_host();
  setenv("PATH", pkt_tmp("empty-path"), 1);
  snprintf(out, sizeof out, "%s", pkt_tmp("x.pkaot"));
  PKT_RC(host, pk_wasm_compile(host, wasm("plain"), out, NULL, 0),
         PK_ENOSYS);
  PKT_CONTAINS(pk_host_errmsg(host), "no C compiler");
  PKT_ASSERT(access(out, F_OK) != 0);
  pk_host_destroy(host);
}

PK_TEST(compile_refuses_invalid_module) {
  char bad[1024];
  static const unsigned char junk[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 0x7f};
  host = test_host();
  snprintf(bad, sizeof bad, "%s", pkt_tmp("bad.wasm"));
  pkt_write_file(bad, junk, sizeof junk);
  PKT_RC(host, pk_wasm_compile(host, bad, pkt_tmp("bad.pkaot"), NULL, 0),
         PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(host), "bad.wasm");
  pk_host_destroy(host);
}

/* Traps leave the plugin usable, and many opens share nothing. */
PK_TEST(traps_then_usable_and_reopen) {
  pk_func *f;
  pk_val out;
  int i;
  host = test_host();
  PKT_RC(host, pk_host_define(host, "triple", "(i32)->i32", triple, NULL),
         PK_OK);
  for (i = 0; i < 3; i++) {
    PKT_RC(host, open_aot("limits", "aot", artifact("limits")), PK_OK);
    expect_tier("aot");
    PKT_RC(host, pk_plugin_func(plug, "trap", NULL, &f), PK_OK);
    PKT_RC(host, pk_func_call(f, NULL, 0, &out, pk_func_nresults(f)),
           PK_ETRAP);
    PKT_CONTAINS(pk_host_errmsg(host), "unreachable");
    PKT_RC(host, pk_plugin_func(plug, "oob", NULL, &f), PK_OK);
    PKT_RC(host, pk_func_call(f, NULL, 0, &out, pk_func_nresults(f)),
           PK_ETRAP);
    PKT_CONTAINS(pk_host_errmsg(host), "out of bounds memory access");
    pk_plugin_close(plug);
  }
  pk_host_destroy(host);
}

/* ---- under process isolation (plugkit-runner) -------------------------- */

/* limits.wasm's recurse(n) (n nested wasm calls, returns n) and
   typed(x) (the host's triple(x) + 1, a direct import, forwarded by the
   runner to this host): compiled code and host calls in the child. */
static void expect_recurse_typed(int n, int x) {
  pk_func *f;
  pk_val in, out;
  in = PK_I32(n);
  PKT_RC(host, pk_plugin_func(plug, "recurse", "(i32)->i32", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, n);
  in = PK_I32(x);
  PKT_RC(host, pk_plugin_func(plug, "typed", "(i32)->i32", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 3 * x + 1);
}

/* A test host with the host function limits.wasm imports. */
static pk_host *iso_host(void) {
  pk_host *h = test_host();
  PKT_RC(h, pk_host_define(h, "triple", "(i32)->i32", triple, NULL), PK_OK);
  return h;
}

/* The open_isolated calls of a test ask for reset_after_call. */
static int iso_reset;

/* Opens fixture `name` in plugkit-runner with `tier` and `aot`; harden:
   the child options (bit 2: an empty environment, bit 4: seccomp). Skips
   when this build has no process isolation, or no libseccomp for bit 4
   (the open says which). */
static int open_isolated(const char *name, const char *tier, const char *aot,
                         unsigned harden) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  const char *const *b;
  int rc, has = 0;
  for (b = pk_backends(); *b != NULL; b++)
    has |= strcmp(*b, "process") == 0;
  if (!has) {
    pk_host_destroy(host);
    pkt_skip("process isolation is not built");
  }
  o.isolation = PK_ISOLATE_PROCESS;
  o.grants = "*";
  o.tier = tier;
  o.aot_path = aot;
  o.harden = harden;
  o.reset_after_call = iso_reset;
  plug = NULL;
  rc = pk_plugin_open(host, wasm(name), &o, &plug);
  if (rc == PK_ENOSYS &&
      (strstr(pk_host_errmsg(host), "seccomp") != NULL ||
       strstr(pk_host_errmsg(host), "jit tier is not built") != NULL)) {
    static char why[512];
    snprintf(why, sizeof why, "%s", pk_host_errmsg(host));
    pk_host_destroy(host);
    pkt_skip("%s", why);
  }
  return rc;
}

/* The jit tier in the child, sandboxed (no-new-privileges, an empty
   environment, seccomp): libtcc compiles and maps the code while the
   loading stage of the filter is on. */
PK_TEST(isolated_jit_runs_and_reports_its_tier) {
  host = iso_host();
  PKT_RC(host, open_isolated("limits", "jit", NULL, 1 | 2 | 4), PK_OK);
  expect_tier("jit");
  expect_recurse_typed(100, 14);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

/* The aot tier in the child, from an artifact the host names. */
PK_TEST(isolated_aot_named_artifact) {
  char p[1024];
  size_t n;
  host = iso_host();
  snprintf(p, sizeof p, "%s", pkt_tmp("iso.pkaot"));
  free(copy_artifact("limits", p, &n));
  PKT_RC(host, open_isolated("limits", "aot", p, 1 | 2 | 4), PK_OK);
  expect_tier("aot");
  expect_recurse_typed(50, 7);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

/* reset_after_call in the child: the runner loads the artifact's code
   that marks written pages (the plain code would be refused). */
PK_TEST(isolated_aot_reset_after_call) {
  char p[1024];
  size_t n;
  host = iso_host();
  snprintf(p, sizeof p, "%s", pkt_tmp("iso-reset.pkaot"));
  free(copy_artifact("limits", p, &n));
  iso_reset = 1;
  PKT_RC(host, open_isolated("limits", "aot", p, 1 | 2 | 4), PK_OK);
  expect_tier("aot");
  expect_recurse_typed(50, 7);
  expect_recurse_typed(20, 3);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

/* ...and from the host's cache: the child's environment is empty (no
   XDG_CACHE_HOME, no HOME), so the host tells it where the cache is. */
PK_TEST(isolated_aot_and_auto_from_host_cache) {
  host = iso_host();
  fill_cache("limits");
  PKT_RC(host, open_isolated("limits", "aot", NULL, 1 | 2 | 4), PK_OK);
  expect_tier("aot");
  expect_recurse_typed(10, 2);
  pk_plugin_close(plug);
  PKT_RC(host, open_isolated("limits", "auto", NULL, 2), PK_OK);
  expect_tier("aot");
  expect_recurse_typed(20, -3);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

/* Interpreted in the child, the tier says so too (it was "" before the
   child reported it). */
PK_TEST(isolated_interp_reports_interp) {
  host = iso_host();
  PKT_RC(host, open_isolated("limits", NULL, NULL, 0), PK_OK);
  expect_tier("interp");
  expect_recurse_typed(30, 5);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

/* A tampered artifact is refused in the child, before anything of it is
   loaded, and the host's message names the file and the cause. */
PK_TEST(isolated_tampered_artifact_refused) {
  char p[1024];
  size_t n;
  unsigned char *a;
  host = iso_host();
  snprintf(p, sizeof p, "%s", pkt_tmp("iso-tampered.pkaot"));
  a = copy_artifact("limits", p, &n);
  a[HDR + 100] ^= 0x55; /* the plain code, which this open loads */
  pkt_write_file(p, a, n);
  free(a);
  PKT_RC(host, open_isolated("limits", "aot", p, 1 | 2 | 4), PK_EFORMAT);
  PKT_ASSERT(plug == NULL);
  PKT_CONTAINS(pk_host_errmsg(host), "refused");
  PKT_CONTAINS(pk_host_errmsg(host), p);
  PKT_CONTAINS(pk_host_errmsg(host), "tampered");
  /* A missing one is PK_ENOENT, named too. */
  snprintf(p, sizeof p, "%s", pkt_tmp("iso-missing.pkaot"));
  PKT_RC(host, open_isolated("limits", "aot", p, 0), PK_ENOENT);
  PKT_CONTAINS(pk_host_errmsg(host), p);
  pk_host_destroy(host);
}
