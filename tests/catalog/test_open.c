/*
 * test_open.c: opening plugins through manifests (artifact choice, hash
 * and ABI checks), signatures and the trust policy, and the CLI's keygen,
 * sign and verify.
 * Arguments: the conformance fixture .so, the conformance Lua script, the
 * plugkit CLI, the minisign program ("" when absent), the conformance
 * fixture built with FIXTURE_BUILD=2 (the same plugin, build_id 2).
 * Hashes are computed with coreutils' sha256sum, not with the code under
 * test.
 */
#include "test.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[1024];

static const char *at(const char *name) {
  static char buf[4][1200];
  static int k;
  k = (k + 1) % 4;
  if (dir[0] == '\0') {
    const char *t = pkt_tmp("x");
    snprintf(dir, sizeof dir, "%.*s", (int)(strlen(t) - 2), t);
  }
  snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
  return buf[k];
}

static void write_text(const char *path, const char *fmt, ...) {
  char buf[8192];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  pkt_write_file(path, buf, (size_t)n);
}

static void copy(const char *from, const char *to) {
  size_t n;
  unsigned char *d = pkt_read_file(from, &n);
  pkt_write_file(to, d, n);
  free(d);
}

/* Run a shell command; its exit status. */
static int sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  int st;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The SHA-256 of a file by coreutils. */
static const char *sha(const char *path) {
  static char hex[65];
  char cmd[1400];
  FILE *f;
  snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
  if ((f = popen(cmd, "r")) == NULL || fscanf(f, "%64s", hex) != 1)
    pkt_fail(__FILE__, __LINE__, "sha256sum failed");
  pclose(f);
  return hex;
}

/* This host's target as manifests write it. */
static const char *target(void) {
  static char t[128];
  struct utsname u;
  uname(&u);
  snprintf(t, sizeof t, "%s-linux", u.machine);
  return t;
}

/* Another target than this one. */
static const char *other_target(void) {
  return strcmp(target(), "riscv64-linux") == 0 ? "s390x-linux"
                                                  : "riscv64-linux";
}

static int built(const char *name) {
  const char *const *b;
  for (b = pk_backends(); *b; b++)
    if (strcmp(*b, name) == 0)
      return 1;
  return 0;
}

/* conf.so beside hello.plugkit, pinned by its hash, plus `extra`. */
static const char *native_manifest(const char *extra) {
  const char *mf = at("hello.plugkit");
  char h[65];
  copy(pkt_arg(0), at("conf.so"));
  snprintf(h, sizeof h, "%s", sha(at("conf.so")));
  write_text(mf,
             "[plugin]\nname = conformance\nversion = 1.0.0\n%s"
             "[artifact native %s]\npath = conf.so\nsha256 = %s\n",
             extra, target(), h);
  return mf;
}

static void call_sum(pk_host *h, pk_plugin *p) {
  pk_func *f;
  pk_val args[2] = {PK_I32(2), PK_I32(40)}, r;
  PKT_RC(h, pk_plugin_func(p, "sum", "(i32,i32)->i32", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, args, 2, &r, 1), PK_OK);
  PKT_EQ_INT(r.i32, 42);
}

static int open_err(pk_host *h, const char *path, const pk_open_opts *o) {
  pk_plugin *p = (pk_plugin *)(uintptr_t)1;
  int rc = pk_plugin_open(h, path, o, &p);
  if (rc == PK_OK)
    pk_plugin_close(p);
  else
    PKT_ASSERT(p == (pk_plugin *)(uintptr_t)1);
  return rc;
}

/* ---- opening ------------------------------------------------------------ */

PK_TEST(open_native) {
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest("abi = >=1.0, <2\n"));
  PKT_RC(h, pk_plugin_open(h, mf, NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.path, mf);
  PKT_STR_EQ(info.artifact, at("conf.so"));
  PKT_STR_EQ(info.backend, "native");
  PKT_STR_EQ(info.name, "conformance");
  call_sum(h, p);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* Without a manifest, nothing changes: no artifact. */
PK_TEST(open_without_manifest) {
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_ASSERT(info.artifact == NULL);
  PKT_STR_EQ(info.path, pkt_arg(0));
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* An artifact in a subfolder, as docs/manifest.md's example. */
PK_TEST(open_subfolder) {
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  char hx[65];
  PKT_ASSERT(mkdir(at("lib"), 0700) == 0);
  copy(pkt_arg(0), at("lib/conf.so"));
  snprintf(hx, sizeof hx, "%s", sha(at("lib/conf.so")));
  write_text(at("x.plugkit"),
             "[plugin]\nname = conformance\nversion = 1.0.0\n"
             "[artifact native %s]\npath = lib/conf.so\nsha256 = %s\n",
             target(), hx);
  PKT_RC(h, pk_plugin_open(h, at("x.plugkit"), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.artifact, at("lib/conf.so"));
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* The open options reach the artifact: process isolation runs the chosen
   native artifact in a child. */
PK_TEST(open_isolated) {
  pk_host *h;
  pk_plugin *p = NULL;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  char mf[1200];
  if (!built("process"))
    pkt_skip("the process backend is not built");
  h = test_host();
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  o.isolation = PK_ISOLATE_PROCESS;
  PKT_RC(h, pk_plugin_open(h, mf, &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.backend, "process:native");
  PKT_STR_EQ(info.artifact, at("conf.so"));
  call_sum(h, p);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* Describe-only through a manifest: hash checked, nothing run. */
PK_TEST(open_describe_only) {
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_func *f;
  pk_val args[2] = {PK_I32(1), PK_I32(2)}, r;
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  o.describe_only = 1;
  PKT_RC(h, pk_plugin_open(h, mf, &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "sum", "(i32,i32)->i32", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, args, 2, &r, 1), PK_EINVAL);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

PK_TEST(hash_mismatch) {
  pk_host *h = test_host();
  char mf[1200], want[65], got[65];
  size_t n;
  unsigned char *d;
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  snprintf(want, sizeof want, "%s", sha(at("conf.so")));
  /* One byte of the artifact changes after it was pinned. */
  d = pkt_read_file(at("conf.so"), &n);
  d[n / 2] ^= 1;
  pkt_write_file(at("conf.so"), d, n);
  free(d);
  snprintf(got, sizeof got, "%s", sha(at("conf.so")));
  PKT_RC(h, open_err(h, mf, NULL), PK_EHASH);
  PKT_CONTAINS(pk_host_errmsg(h), "conf.so: hash: artifact [native ");
  PKT_CONTAINS(pk_host_errmsg(h), want);
  PKT_CONTAINS(pk_host_errmsg(h), got);
  pk_host_destroy(h);
}

PK_TEST(missing_artifact) {
  pk_host *h = test_host();
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  remove(at("conf.so"));
  PKT_RC(h, open_err(h, mf, NULL), PK_ENOENT);
  PKT_CONTAINS(pk_host_errmsg(h), "conf.so: hash: no such artifact file");
  pk_host_destroy(h);
}

/* An artifact that is a FIFO is refused, never waited on. */
PK_TEST(artifact_not_regular) {
  pk_host *h = test_host();
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  remove(at("conf.so"));
  PKT_ASSERT(mkfifo(at("conf.so"), 0600) == 0);
  PKT_RC(h, open_err(h, mf, NULL), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h), "not a regular file");
  pk_host_destroy(h);
}

/* A symbolic link (here to the real file, in the same folder) is not
   followed: an artifact is a regular file inside the manifest's folder. */
PK_TEST(artifact_symlink) {
  pk_host *h = test_host();
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  PKT_ASSERT(rename(at("conf.so"), at("real.so")) == 0);
  PKT_ASSERT(symlink("real.so", at("conf.so")) == 0);
  PKT_RC(h, open_err(h, mf, NULL), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h), "conf.so: hash: the artifact path passes "
                                  "through a symbolic link");
  pk_host_destroy(h);
}

PK_TEST(other_target_only) {
  pk_host *h = test_host();
  char hx[65];
  copy(pkt_arg(0), at("conf.so"));
  snprintf(hx, sizeof hx, "%s", sha(at("conf.so")));
  write_text(at("x.plugkit"),
             "[plugin]\nname = conformance\nversion = 1.0.0\n"
             "[artifact native %s]\npath = conf.so\nsha256 = %s\n",
             other_target(), hx);
  PKT_RC(h, open_err(h, at("x.plugkit"), NULL), PK_EARCH);
  PKT_CONTAINS(pk_host_errmsg(h), "no artifact this host may load (target ");
  PKT_CONTAINS(pk_host_errmsg(h), target());
  PKT_CONTAINS(pk_host_errmsg(h), other_target());
  pk_host_destroy(h);
}

/* The target this host is, among others: the right one is chosen. */
PK_TEST(picks_this_target) {
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  char hx[65];
  copy(pkt_arg(0), at("conf.so"));
  pkt_write_file(at("other.so"), "not elf", 7);
  snprintf(hx, sizeof hx, "%s", sha(at("conf.so")));
  write_text(at("x.plugkit"),
             "[plugin]\nname = conformance\nversion = 1.0.0\n"
             "[artifact native %s]\npath = other.so\nsha256 = %s\n"
             "[artifact native %s]\npath = conf.so\nsha256 = %s\n",
             other_target(), sha(at("other.so")), target(), hx);
  PKT_RC(h, pk_plugin_open(h, at("x.plugkit"), NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.artifact, at("conf.so"));
  pk_plugin_close(p);
  pk_host_destroy(h);
}

PK_TEST(sandboxed_refuses_native) {
  pk_host *h = test_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.artifacts = PK_ARTIFACTS_SANDBOXED;
  PKT_RC(h, open_err(h, native_manifest(""), &o), PK_EARCH);
  PKT_CONTAINS(pk_host_errmsg(h), "; sandboxed only");
  PKT_CONTAINS(pk_host_errmsg(h), "the manifest has: native ");
  pk_host_destroy(h);
}

/* Native and Lua artifacts: native by default, Lua when sandboxed. */
PK_TEST(sandboxed_picks_lua) {
  pk_host *h;
  pk_plugin *p = NULL;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  char extra[256], mf[1200];
  if (!built("lua"))
    pkt_skip("the lua backend is not built");
  h = test_host();
  copy(pkt_arg(1), at("conf.lua"));
  /* Sections may come in any order: the choice is by preference. */
  snprintf(extra, sizeof extra,
           "[artifact lua]\npath = conf.lua\nsha256 = %s\n",
           sha(at("conf.lua")));
  snprintf(mf, sizeof mf, "%s", native_manifest(extra));
  PKT_RC(h, pk_plugin_open(h, mf, NULL, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.backend, "native");
  pk_plugin_close(p);
  o.artifacts = PK_ARTIFACTS_SANDBOXED;
  PKT_RC(h, pk_plugin_open(h, mf, &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.backend, "lua");
  PKT_STR_EQ(info.artifact, at("conf.lua"));
  call_sum(h, p);
  {
    /* Loaded from a private copy, but positions name the artifact. */
    pk_func *f;
    char want[1300];
    PKT_RC(h, pk_plugin_func(p, "fail", "()->()", &f), PK_OK);
    PKT_RC(h, pk_func_call(f, NULL, 0, NULL, 0), PK_EPLUGIN);
    snprintf(want, sizeof want, "%s:32: fail was called", at("conf.lua"));
    PKT_CONTAINS(pk_host_errmsg(h), want);
  }
  pk_plugin_close(p);
  /* opts.backend restricts the choice the same way. */
  o.artifacts = PK_ARTIFACTS_ANY;
  o.backend = "lua";
  PKT_RC(h, pk_plugin_open(h, mf, &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
  PKT_STR_EQ(info.backend, "lua");
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* A "wasm" artifact that is really a shared object is read as wasm (and
   refused), never loaded as native code. */
PK_TEST(backend_forced) {
  pk_host *h;
  char hx[65];
  if (!built("wasm"))
    pkt_skip("the wasm backend is not built");
  h = test_host();
  copy(pkt_arg(0), at("conf.wasm"));
  snprintf(hx, sizeof hx, "%s", sha(at("conf.wasm")));
  write_text(at("x.plugkit"),
             "[plugin]\nname = conformance\nversion = 1.0.0\n"
             "[artifact wasm]\npath = conf.wasm\nsha256 = %s\n",
             hx);
  PKT_RC(h, open_err(h, at("x.plugkit"), NULL), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h), "conf.wasm");
  pk_host_destroy(h);
}

PK_TEST(artifact_is_manifest) {
  pk_host *h = test_host();
  char hx[65];
  write_text(at("inner.plugkit"), "[plugin]\nname = conformance\n");
  snprintf(hx, sizeof hx, "%s", sha(at("inner.plugkit")));
  write_text(at("x.plugkit"),
             "[plugin]\nname = conformance\nversion = 1.0.0\n"
             "[artifact native %s]\npath = inner.plugkit\nsha256 = %s\n",
             target(), hx);
  PKT_RC(h, open_err(h, at("x.plugkit"), NULL), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h), "is itself a manifest");
  pk_host_destroy(h);
}

PK_TEST(abi_out_of_range) {
  pk_host *h = test_host();
  PKT_RC(h, open_err(h, native_manifest("abi = >=2\n"), NULL), PK_EABI);
  PKT_CONTAINS(pk_host_errmsg(h),
               "hello.plugkit: manifest: the plugin needs plugkit ABI '>=2'; "
               "this host has 1.0.0");
  pk_host_destroy(h);
}

PK_TEST(name_mismatch) {
  pk_host *h = test_host();
  char hx[65];
  copy(pkt_arg(0), at("conf.so"));
  snprintf(hx, sizeof hx, "%s", sha(at("conf.so")));
  write_text(at("x.plugkit"),
             "[plugin]\nname = impostor\nversion = 1.0.0\n"
             "[artifact native %s]\npath = conf.so\nsha256 = %s\n",
             target(), hx);
  PKT_RC(h, open_err(h, at("x.plugkit"), NULL), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(h),
               "the manifest names impostor 1.0.0, but artifact ");
  PKT_CONTAINS(pk_host_errmsg(h), "declares conformance 1.0.0");
  pk_host_destroy(h);
}

PK_TEST(bad_policy_values) {
  pk_host *h = test_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  o.artifacts = 7;
  PKT_RC(h, open_err(h, mf, &o), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "unknown artifacts policy 7");
  o.artifacts = 0;
  o.trust = 9;
  PKT_RC(h, open_err(h, mf, &o), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "unknown trust policy 9");
  pk_host_destroy(h);
}

/* Every allocation of a manifest open can fail: a clean error each time,
   no leak (the harness checks). */
PK_TEST(open_alloc_failures) {
  char mf[1200];
  long i;
  snprintf(mf, sizeof mf, "%s", native_manifest("[dependencies]\na = 1\n"));
  for (i = 1; i < 200; i++) {
    pk_host *h = test_host();
    pk_plugin *p = NULL;
    int rc;
    pkt_fail_at(i);
    rc = pk_plugin_open(h, mf, NULL, &p);
    pkt_fail_at(0);
    if (rc == PK_OK) {
      pk_plugin_close(p);
      pk_host_destroy(h);
      return;
    }
    PKT_RC(h, rc, PK_ENOMEM);
    pk_host_destroy(h);
  }
  pkt_fail(__FILE__, __LINE__, "still failing after 200 allocations");
}

/* ---- the artifact swapped between its check and its load ---------------- */

/* The host allocator of swap_host: the swap_at-th allocation from
   swap_arm() on renames swap_from over swap_to first, as someone who may
   write the plugin's folder could at that moment. Every allocation of an
   open is a point where the library has stopped to call the host. */
static const char *swap_from, *swap_to;
static long swap_at, swap_n;
static int swapped;

static void *swap_alloc(void *ud, void *p, size_t n) {
  if (n != 0 && swap_at > 0 && ++swap_n == swap_at) {
    if (rename(swap_from, swap_to) != 0)
      pkt_fail(__FILE__, __LINE__, "rename %s failed", swap_from);
    swapped = 1;
  }
  return pkt_alloc(ud, p, n);
}

static pk_host *swap_host(void) {
  pk_host_opts ho = PK_HOST_OPTS_INIT;
  pk_host *h = NULL;
  ho.alloc = swap_alloc;
  if (pk_host_create(&ho, &h) != PK_OK)
    pkt_fail(__FILE__, __LINE__, "pk_host_create failed");
  return h;
}

static void swap_arm(long at) {
  swap_at = at;
  swap_n = 0;
  swapped = 0;
}

/* The plugin's build_id: 1 for A, 2 for B. */
static int32_t build_id(pk_host *h, pk_plugin *p) {
  pk_func *f;
  pk_val r;
  PKT_RC(h, pk_plugin_func(p, "build_id", "()->i32", &f), PK_OK);
  PKT_RC(h, pk_func_call(f, NULL, 0, &r, 1), PK_OK);
  return r.i32;
}

/*
 * A manifest pins artifact A; at every allocation of the open in turn,
 * the artifact's file is replaced (rename, as an attacker would) with B,
 * a valid plugin with the same name and version (build_id 2 instead of
 * 1). Swapped before the hash: PK_EHASH. Swapped after it: the plugin
 * opens and is A, loaded from the bytes that were hashed; never B. For
 * native code in the host, native code under process isolation, a Lua
 * script.
 */
static void swap_case(const char *a_file, const char *b_file,
                      const char *name, const char *backend,
                      int isolation) {
  char mf[1200], art[1200], other[1210], hx[65], msg[1400];
  long i, opened_after_swap = 0;
  snprintf(mf, sizeof mf, "%s", at("swap.plugkit"));
  snprintf(art, sizeof art, "%s", at(name));
  snprintf(other, sizeof other, "%s.b", art);
  copy(a_file, art);
  snprintf(hx, sizeof hx, "%s", sha(art));
  write_text(mf,
             "[plugin]\nname = conformance\nversion = 1.0.0\n"
             "[artifact %s%s%s]\npath = %s\nsha256 = %s\n",
             backend, strcmp(backend, "native") == 0 ? " " : "",
             strcmp(backend, "native") == 0 ? target() : "", name, hx);
  for (i = 1; i < 20000; i++) {
    pk_host *h;
    pk_plugin *p = NULL;
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    int rc;
    copy(a_file, art);
    copy(b_file, other);
    swap_from = other;
    swap_to = art;
    h = swap_host();
    o.isolation = isolation;
    swap_arm(i);
    rc = pk_plugin_open(h, mf, &o, &p);
    swap_at = 0; /* no more swaps; `swapped` says whether this one did */
    snprintf(msg, sizeof msg, "%s", pk_host_errmsg(h));
    if (!swapped) { /* every allocation point was tried */
      PKT_RC(h, rc, PK_OK);
      PKT_EQ_INT(build_id(h, p), 1);
      pk_plugin_close(p);
      pk_host_destroy(h);
      remove(other);
      PKT_ASSERT(opened_after_swap > 0);
      return;
    }
    if (rc == PK_OK) {
      /* B sits at the artifact's path now: what runs must be A. */
      if (build_id(h, p) != 1)
        pkt_fail(__FILE__, __LINE__,
                 "%s artifact swapped at allocation %ld of the open: the "
                 "plugin that runs is B, not the A its manifest pins",
                 backend, i);
      opened_after_swap++;
      pk_plugin_close(p);
    } else if (rc != PK_EHASH) {
      pkt_fail(__FILE__, __LINE__, "swap at allocation %ld: rc %d: %s", i,
               rc, msg);
    } else {
      PKT_CONTAINS(msg, name);
      PKT_CONTAINS(msg, ": hash: artifact [");
    }
    pk_host_destroy(h);
  }
  pkt_fail(__FILE__, __LINE__, "still allocating after 20000 allocations");
}

PK_TEST(swap_after_hash_native) {
  swap_case(pkt_arg(0), pkt_arg(4), "conf.so", "native", PK_ISOLATE_NONE);
}

PK_TEST(swap_after_hash_isolated) {
  if (!built("process"))
    pkt_skip("the process backend is not built");
  swap_case(pkt_arg(0), pkt_arg(4), "conf.so", "native", PK_ISOLATE_PROCESS);
}

PK_TEST(swap_after_hash_lua) {
  size_t n;
  unsigned char *d;
  char *s;
  const char *want = "build_id = {sig = \"()->i32\", fn = function() "
                     "return 1 end}";
  if (!built("lua"))
    pkt_skip("the lua backend is not built");
  /* B: the conformance script with build_id 2. */
  d = pkt_read_file(pkt_arg(1), &n);
  d = realloc(d, n + 1);
  PKT_ASSERT(d != NULL);
  d[n] = '\0';
  s = strstr((char *)d, want);
  PKT_ASSERT(s != NULL);
  s[strlen(want) - 6] = '2';
  pkt_write_file(at("b.lua"), d, n);
  free(d);
  swap_case(pkt_arg(1), at("b.lua"), "conf.lua", "lua", PK_ISOLATE_NONE);
}

/* ---- signatures and trust ---------------------------------------------- */

static char pub[PK_KEY_TEXT_MAX], sec[PK_KEY_TEXT_MAX];
static char logbuf[4096];

static void log_to_buf(void *ud, int level, const char *plugin,
                       const char *msg, size_t len) {
  size_t used = strlen(logbuf);
  (void)ud;
  snprintf(logbuf + used, sizeof logbuf - used, "[%d %s] %.*s\n", level,
           plugin, (int)len, msg);
}

/* A counting host with trust policy `policy`, a fresh key pair in pub and
   sec, trusting pub when `trust` is set. */
static pk_host *keyed_host(int policy, int trust) {
  pk_host_opts ho = PK_HOST_OPTS_INIT;
  pk_host *h = NULL;
  ho.alloc = pkt_alloc;
  ho.log = log_to_buf;
  ho.trust = policy;
  if (pk_host_create(&ho, &h) != PK_OK)
    pkt_fail(__FILE__, __LINE__, "pk_host_create failed");
  if (pk_keygen(h, NULL, pub, sizeof pub, sec, sizeof sec) == PK_ENOSYS) {
    pk_host_destroy(h);
    pkt_skip("built without libsodium: no signatures");
  }
  if (trust)
    PKT_RC(h, pk_host_trust_key(h, pub), PK_OK);
  return h;
}

/* The key id in a .pub text's comment line, as the message names it. */
static const char *key_id(const char *pubtext) {
  static char id[17];
  const char *s = strstr(pubtext, "public key ");
  PKT_ASSERT(s != NULL);
  snprintf(id, sizeof id, "%.16s", s + 11);
  return id;
}

static void sign(pk_host *h, const char *mf) {
  PKT_RC(h, pk_manifest_sign(h, mf, sec, NULL, NULL), PK_OK);
}

/* Built without libsodium: a signature check fails with PK_ENOSYS naming
   it, while a manifest under PK_TRUST_OFF still opens. */
PK_TEST(no_libsodium) {
  pk_host *h = test_host();
  pk_plugin *p = NULL;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  char mf[1200];
  if (pk_keygen(h, NULL, pub, sizeof pub, sec, sizeof sec) != PK_ENOSYS) {
    pk_host_destroy(h);
    pkt_skip("built with libsodium (configure with -DPK_WITH_SODIUM=OFF)");
  }
  PKT_CONTAINS(pk_host_errmsg(h), "libsodium");
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  o.trust = PK_TRUST_REQUIRE;
  PKT_RC(h, open_err(h, mf, &o), PK_ENOSYS);
  PKT_CONTAINS(pk_host_errmsg(h), "hello.plugkit: signature: ");
  PKT_CONTAINS(pk_host_errmsg(h), "libsodium");
  PKT_RC(h, pk_manifest_verify(h, mf, NULL), PK_ENOSYS);
  PKT_RC(h, pk_plugin_open(h, mf, NULL, &p), PK_OK);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

PK_TEST(require_signed_opens) {
  pk_host *h = keyed_host(PK_TRUST_REQUIRE, 1);
  pk_plugin *p = NULL;
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  sign(h, mf);
  PKT_RC(h, pk_plugin_open(h, mf, NULL, &p), PK_OK);
  call_sum(h, p);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

PK_TEST(require_unsigned) {
  pk_host *h = keyed_host(PK_TRUST_REQUIRE, 1);
  PKT_RC(h, open_err(h, native_manifest(""), NULL), PK_EUNTRUSTED);
  PKT_CONTAINS(pk_host_errmsg(h),
               "hello.plugkit: signature: not signed: no signature file ");
  PKT_CONTAINS(pk_host_errmsg(h), "hello.plugkit.minisig");
  pk_host_destroy(h);
}

PK_TEST(require_no_keys) {
  pk_host *h = keyed_host(PK_TRUST_REQUIRE, 0);
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  sign(h, mf);
  PKT_RC(h, open_err(h, mf, NULL), PK_EUNTRUSTED);
  PKT_CONTAINS(pk_host_errmsg(h), "no trusted keys on this host");
  pk_host_destroy(h);
}

/* Signed by a key the host does not trust: the message names its id. */
PK_TEST(wrong_key) {
  pk_host *h = keyed_host(PK_TRUST_REQUIRE, 1);
  char mf[1200], other_pub[PK_KEY_TEXT_MAX], signer[17];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  /* A second pair signs; the host trusts only the first. */
  PKT_RC(h, pk_keygen(h, NULL, other_pub, sizeof other_pub, sec, sizeof sec),
         PK_OK);
  snprintf(signer, sizeof signer, "%s", key_id(other_pub));
  sign(h, mf);
  PKT_RC(h, open_err(h, mf, NULL), PK_EUNTRUSTED);
  PKT_CONTAINS(pk_host_errmsg(h), "hello.plugkit: signature: signed by a key "
                                  "that is not trusted (key id ");
  PKT_CONTAINS(pk_host_errmsg(h), signer);
  pk_host_destroy(h);
}

/* A trusted key id with another public key (one base64 digit of the key
   changed, past the id): the signature is checked, and fails. */
PK_TEST(forged_key_id) {
  pk_host *h = keyed_host(PK_TRUST_REQUIRE, 0);
  char mf[1200], forged[PK_KEY_TEXT_MAX], *line;
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  sign(h, mf);
  snprintf(forged, sizeof forged, "%s", pub);
  line = strchr(forged, '\n') + 1; /* "Ed" | id: base64 digits 0..13 */
  line[30] = line[30] == 'A' ? 'B' : 'A';
  PKT_RC(h, pk_host_trust_key(h, forged), PK_OK);
  PKT_RC(h, open_err(h, mf, NULL), PK_EBADSIG);
  PKT_CONTAINS(pk_host_errmsg(h), key_id(pub));
  pk_host_destroy(h);
}

PK_TEST(modified_manifest) {
  pk_host *h = keyed_host(PK_TRUST_REQUIRE, 1);
  char mf[1200];
  FILE *f;
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  sign(h, mf);
  f = fopen(mf, "a");
  fputs("x-note = added after signing\n", f);
  fclose(f);
  PKT_RC(h, open_err(h, mf, NULL), PK_EBADSIG);
  PKT_CONTAINS(pk_host_errmsg(h), "the signature does not verify");
  PKT_CONTAINS(pk_host_errmsg(h), key_id(pub));
  pk_host_destroy(h);
}

static void rewrite_sig(const char *mf, void (*edit)(char *s, size_t *n)) {
  char path[1300];
  size_t n;
  unsigned char *d;
  snprintf(path, sizeof path, "%s.minisig", mf);
  d = pkt_read_file(path, &n);
  d = realloc(d, n + 64);
  edit((char *)d, &n);
  pkt_write_file(path, d, n);
  free(d);
}

static void truncate_half(char *s, size_t *n) {
  (void)s;
  *n /= 2;
}

PK_TEST(truncated_signature) {
  pk_host *h = keyed_host(PK_TRUST_REQUIRE, 1);
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  sign(h, mf);
  rewrite_sig(mf, truncate_half);
  PKT_RC(h, open_err(h, mf, NULL), PK_EBADSIG);
  PKT_CONTAINS(pk_host_errmsg(h), "truncated signature file");
  pk_host_destroy(h);
}

/* The third line is "trusted comment: timestamp:..."; one digit of it
   changes. */
static void bump_comment(char *s, size_t *n) {
  char *t = strstr(s, "trusted comment: timestamp:");
  PKT_ASSERT(t != NULL && (size_t)(t - s) < *n);
  t += strlen("trusted comment: timestamp:");
  *t = *t == '1' ? '2' : '1';
}

PK_TEST(modified_trusted_comment) {
  pk_host *h = keyed_host(PK_TRUST_REQUIRE, 1);
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  sign(h, mf);
  rewrite_sig(mf, bump_comment);
  PKT_RC(h, open_err(h, mf, NULL), PK_EBADSIG);
  PKT_CONTAINS(pk_host_errmsg(h),
               "the trusted comment's signature does not verify");
  pk_host_destroy(h);
}

static void garble(char *s, size_t *n) {
  static const char g[] = "untrusted comment: x\n!!!!\ntrusted comment: "
                          "y\nAAAA\n";
  memcpy(s, g, sizeof g - 1);
  *n = sizeof g - 1;
}

PK_TEST(malformed_signature) {
  pk_host *h = keyed_host(PK_TRUST_REQUIRE, 1);
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  sign(h, mf);
  rewrite_sig(mf, garble);
  PKT_RC(h, open_err(h, mf, NULL), PK_EBADSIG);
  PKT_CONTAINS(pk_host_errmsg(h), "malformed signature: the signature line");
  PKT_CONTAINS(pk_host_errmsg(h), "key id unreadable");
  pk_host_destroy(h);
}

/* Random damage past the (unsigned) first line of a signature file:
   always refused, never a crash. Fixed seed. */
PK_TEST(fuzz_signature) {
  pk_host *h = keyed_host(PK_TRUST_REQUIRE, 1);
  char mf[1200], sp[1300];
  unsigned char *orig, *d;
  size_t n, first;
  uint32_t seed = 777;
  int i;
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  sign(h, mf);
  snprintf(sp, sizeof sp, "%s.minisig", mf);
  orig = pkt_read_file(sp, &n);
  first = (size_t)((unsigned char *)memchr(orig, '\n', n) - orig) + 1;
  d = malloc(n);
  for (i = 0; i < 400; i++) {
    size_t at;
    unsigned char c;
    int rc;
    memcpy(d, orig, n);
    seed = seed * 1103515245u + 12345u;
    at = first + (seed >> 8) % (n - first);
    seed = seed * 1103515245u + 12345u;
    c = (unsigned char)(seed >> 16);
    d[at] = c != d[at] ? c : (unsigned char)(c ^ 1);
    pkt_write_file(sp, d, i % 7 == 0 ? at + 1 : n); /* some truncated */
    rc = open_err(h, mf, NULL);
    if (rc != PK_EBADSIG && rc != PK_EUNTRUSTED)
      pkt_fail(__FILE__, __LINE__, "variant %d (byte %zu): %s (%s)", i, at,
               pk_errname(rc), pk_host_errmsg(h));
  }
  free(d);
  free(orig);
  pk_host_destroy(h);
}

PK_TEST(warn_logs_and_opens) {
  pk_host *h = keyed_host(PK_TRUST_WARN, 1);
  pk_plugin *p = NULL;
  logbuf[0] = '\0';
  PKT_RC(h, pk_plugin_open(h, native_manifest(""), NULL, &p), PK_OK);
  PKT_CONTAINS(logbuf, "[1 plugkit] ");
  PKT_CONTAINS(logbuf, "hello.plugkit: signature: not signed");
  pk_plugin_close(p);
  pk_host_destroy(h);
}

/* The host requires; one open says off (or warn): that open's policy
   wins. The other way round too. */
PK_TEST(open_overrides_host) {
  pk_host *h = keyed_host(PK_TRUST_REQUIRE, 1);
  pk_plugin *p = NULL;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  o.trust = PK_TRUST_OFF;
  PKT_RC(h, pk_plugin_open(h, mf, &o, &p), PK_OK);
  pk_plugin_close(p);
  pk_host_destroy(h);
  h = keyed_host(PK_TRUST_DEFAULT, 1); /* host: off */
  o.trust = PK_TRUST_REQUIRE;
  PKT_RC(h, open_err(h, mf, &o), PK_EUNTRUSTED);
  o.trust = PK_TRUST_DEFAULT;
  PKT_RC(h, pk_plugin_open(h, mf, &o, &p), PK_OK);
  pk_plugin_close(p);
  pk_host_destroy(h);
}

PK_TEST(trust_key_bad) {
  pk_host *h = test_host();
  PKT_RC(h, pk_host_trust_key(h, "untrusted comment: x\nnot base64!\n"),
         PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "not a minisign public key");
  PKT_RC(h, pk_host_trust_key(h, "RWQ="), PK_EINVAL);
  /* 42 bytes, but not "Ed". */
  PKT_RC(h,
         pk_host_trust_key(
             h, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
         PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "unsupported public key algorithm");
  PKT_RC(h, pk_host_trust_key(h, NULL), PK_EINVAL);
  pk_host_destroy(h);
}

PK_TEST(trust_key_limit) {
  pk_host *h = keyed_host(PK_TRUST_OFF, 1);
  int i;
  for (i = 1; i < 16; i++) {
    PKT_RC(h, pk_keygen(h, NULL, pub, sizeof pub, sec, sizeof sec), PK_OK);
    PKT_RC(h, pk_host_trust_key(h, pub), PK_OK);
  }
  PKT_RC(h, pk_host_trust_key(h, pub), PK_OK); /* again: no change */
  PKT_RC(h, pk_keygen(h, NULL, pub, sizeof pub, sec, sizeof sec), PK_OK);
  PKT_RC(h, pk_host_trust_key(h, pub), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(h), "a host trusts at most 16");
  pk_host_destroy(h);
}

/* pk_manifest_verify: signature, then every artifact's hash. */
PK_TEST(verify_checks_hashes) {
  pk_host *h = keyed_host(PK_TRUST_OFF, 0);
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  sign(h, mf);
  PKT_RC(h, pk_manifest_verify(h, mf, pub), PK_OK);
  pkt_write_file(at("conf.so"), "swapped", 7);
  PKT_RC(h, pk_manifest_verify(h, mf, pub), PK_EHASH);
  PKT_CONTAINS(pk_host_errmsg(h), "does not match its manifest");
  pk_host_destroy(h);
}

/* A manifest that does not parse is not signed. */
PK_TEST(sign_refuses_bad_manifest) {
  pk_host *h = keyed_host(PK_TRUST_OFF, 0);
  write_text(at("bad.plugkit"), "[plugin]\nname = x\n");
  PKT_RC(h, pk_manifest_sign(h, at("bad.plugkit"), sec, NULL, NULL),
         PK_EFORMAT);
  PKT_ASSERT(access(at("bad.plugkit.minisig"), F_OK) != 0);
  PKT_RC(h, pk_manifest_sign(h, at("bad.plugkit"), "nonsense", NULL, NULL),
         PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "not a minisign secret key");
  pk_host_destroy(h);
}

/* ---- interop with minisign ---------------------------------------------- */

static const char *minisign(void) {
  const char *m = pkt_argc > 3 ? pkt_argv[3] : "";
  if (m == NULL || *m == '\0')
    pkt_skip("minisign not found (Debian: minisign): no interop test");
  return m;
}

/* minisign -V accepts what plugkit signs, and refuses it once changed. */
PK_TEST(minisign_verifies_ours) {
  const char *ms = minisign();
  pk_host *h = keyed_host(PK_TRUST_OFF, 0);
  char mf[1200];
  FILE *f;
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  sign(h, mf);
  pkt_write_file(at("k.pub"), pub, strlen(pub));
  PKT_EQ_INT(sh("'%s' -V -q -p '%s' -m '%s'", ms, at("k.pub"), mf), 0);
  f = fopen(mf, "a");
  fputs("# changed\n", f);
  fclose(f);
  PKT_ASSERT(sh("'%s' -V -q -p '%s' -m '%s' 2>/dev/null", ms, at("k.pub"),
                mf) != 0);
  pk_host_destroy(h);
}

/* minisign signs with plugkit's secret key file. */
PK_TEST(minisign_uses_our_key) {
  const char *ms = minisign();
  pk_host *h = keyed_host(PK_TRUST_OFF, 0);
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  pkt_write_file(at("k.key"), sec, strlen(sec));
  PKT_EQ_INT(sh("'%s' -S -W -s '%s' -m '%s' >/dev/null", ms, at("k.key"), mf),
             0);
  PKT_RC(h, pk_manifest_verify(h, mf, pub), PK_OK);
  pk_host_destroy(h);
}

/* plugkit accepts what minisign signs: prehashed (the default) and
   legacy; then refuses it once the manifest changes. */
PK_TEST(we_verify_minisign) {
  const char *ms = minisign();
  pk_host *h = keyed_host(PK_TRUST_OFF, 0); /* skips without libsodium */
  pk_plugin *p = NULL;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  char mf[1200];
  size_t n;
  unsigned char *k;
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  PKT_EQ_INT(sh("'%s' -G -W -p '%s' -s '%s' >/dev/null", ms, at("m.pub"),
                at("m.key")),
             0);
  PKT_EQ_INT(sh("'%s' -S -s '%s' -m '%s' >/dev/null", ms, at("m.key"), mf),
             0);
  k = pkt_read_file(at("m.pub"), &n);
  k = realloc(k, n + 1);
  k[n] = '\0';
  PKT_RC(h, pk_manifest_verify(h, mf, (const char *)k), PK_OK);
  PKT_RC(h, pk_host_trust_key(h, (const char *)k), PK_OK);
  o.trust = PK_TRUST_REQUIRE;
  PKT_RC(h, pk_plugin_open(h, mf, &o, &p), PK_OK);
  pk_plugin_close(p);
  PKT_EQ_INT(sh("'%s' -S -l -s '%s' -m '%s' >/dev/null", ms, at("m.key"), mf),
             0);
  PKT_RC(h, pk_manifest_verify(h, mf, (const char *)k), PK_OK);
  {
    FILE *f = fopen(mf, "a");
    fputs("# changed\n", f);
    fclose(f);
  }
  PKT_RC(h, pk_manifest_verify(h, mf, (const char *)k), PK_EBADSIG);
  /* A minisign secret key signs through the library too. */
  {
    unsigned char *s = pkt_read_file(at("m.key"), &n);
    s = realloc(s, n + 1);
    s[n] = '\0';
    PKT_RC(h, pk_manifest_sign(h, mf, (const char *)s, NULL, "release 1"),
           PK_OK);
    free(s);
  }
  PKT_RC(h, pk_manifest_verify(h, mf, (const char *)k), PK_OK);
  PKT_EQ_INT(sh("'%s' -V -q -p '%s' -m '%s'", ms, at("m.pub"), mf), 0);
  free(k);
  pk_host_destroy(h);
}

/* A password-protected key: the right password signs, a wrong one or
   none is refused; minisign reads the same key with the password. */
PK_TEST(encrypted_key) {
  pk_host *h = keyed_host(PK_TRUST_OFF, 0);
  char mf[1200];
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  PKT_RC(h, pk_keygen(h, "sesame", pub, sizeof pub, sec, sizeof sec), PK_OK);
  PKT_RC(h, pk_manifest_sign(h, mf, sec, "wrong", NULL), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "wrong password");
  PKT_RC(h, pk_manifest_sign(h, mf, sec, NULL, NULL), PK_EINVAL);
  PKT_CONTAINS(pk_host_errmsg(h), "a password is needed");
  PKT_RC(h, pk_manifest_sign(h, mf, sec, "sesame", NULL), PK_OK);
  PKT_RC(h, pk_manifest_verify(h, mf, pub), PK_OK);
  if (pkt_argc > 3 && pkt_argv[3][0] != '\0') {
    remove(at("hello.plugkit.minisig"));
    pkt_write_file(at("e.key"), sec, strlen(sec));
    PKT_EQ_INT(sh("printf 'sesame\\n' | '%s' -S -s '%s' -m '%s' "
                  ">/dev/null 2>&1",
                  pkt_argv[3], at("e.key"), mf),
               0);
    PKT_RC(h, pk_manifest_verify(h, mf, pub), PK_OK);
  }
  pk_host_destroy(h);
}

/* ---- the CLI ------------------------------------------------------------ */

PK_TEST(cli_keygen_sign_verify) {
  const char *cli = pkt_arg(2);
  pk_host *h = keyed_host(PK_TRUST_OFF, 0); /* skips without libsodium */
  struct stat st;
  char mf[1200], base[1200];
  FILE *f;
  snprintf(mf, sizeof mf, "%s", native_manifest(""));
  snprintf(base, sizeof base, "%s", at("rel"));
  PKT_EQ_INT(sh("'%s' keygen -o '%s' >/dev/null", cli, base), 0);
  PKT_ASSERT(stat(at("rel.key"), &st) == 0);
  PKT_EQ_INT(st.st_mode & 0777, 0600);
  PKT_ASSERT(stat(at("rel.pub"), &st) == 0);
  /* keygen refuses to overwrite a key. */
  PKT_EQ_INT(sh("'%s' keygen -o '%s' 2>/dev/null", cli, base), 1);
  PKT_EQ_INT(sh("'%s' sign -k '%s' '%s'", cli, at("rel.key"), mf), 0);
  PKT_EQ_INT(sh("'%s' verify -p '%s' '%s' >/dev/null", cli, at("rel.pub"), mf),
             0);
  /* Another key: not trusted (5); a changed manifest: bad signature (5). */
  PKT_EQ_INT(sh("'%s' keygen -o '%s' >/dev/null", cli, at("other")), 0);
  PKT_EQ_INT(sh("'%s' verify -p '%s' '%s' 2>/dev/null", cli, at("other.pub"),
                mf),
             5);
  f = fopen(mf, "a");
  fputs("# changed\n", f);
  fclose(f);
  PKT_EQ_INT(sh("'%s' verify -p '%s' '%s' 2>/dev/null", cli, at("rel.pub"),
                mf),
             5);
  /* inspect names the chosen artifact. */
  PKT_EQ_INT(sh("'%s' inspect '%s' | grep -qx 'artifact: %s'", cli, mf,
                at("conf.so")),
             0);
  /* call --trust: signed by rel, opens; by another key only, refused. */
  PKT_EQ_INT(sh("'%s' sign -k '%s' '%s'", cli, at("rel.key"), mf), 0);
  PKT_EQ_INT(sh("'%s' call --trust '%s' '%s' sum 2 40 | grep -qx 42", cli,
                at("rel.pub"), mf),
             0);
  PKT_EQ_INT(sh("'%s' call --trust '%s' '%s' sum 2 40 2>/dev/null", cli,
                at("other.pub"), mf),
             1);
  /* --sandboxed: no wasm or lua artifact here. */
  PKT_EQ_INT(sh("'%s' inspect --sandboxed '%s' 2>/dev/null", cli, mf), 1);
  /* Usage errors: 2. */
  PKT_EQ_INT(sh("'%s' verify '%s' 2>/dev/null", cli, mf), 2);
  PKT_EQ_INT(sh("'%s' sign 2>/dev/null", cli), 2);
  pk_host_destroy(h);
}
