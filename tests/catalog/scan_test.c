/*
 * scan_test.c: pk_catalog_scan: what it lists, that it runs nothing it
 * must not, the cache (used when the keys match, ignored when it is bad),
 * duplicates, dependencies and the probe in a child.
 * argv[2]: the fixtures' folder; argv[3]: the `ran` executable.
 */
#define _GNU_SOURCE 1
#include "test.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static char fx[1024];

static void mkdirs(const char *name) {
  PKT_ASSERT(mkdir(pkt_tmp(name), 0755) == 0);
}

/* Copy a file into the test's folder, as `to`, keeping its mode. */
static void copy_in(const char *from, const char *to) {
  size_t n;
  unsigned char *d = pkt_read_file(from, &n);
  struct stat st;
  PKT_ASSERT(stat(from, &st) == 0);
  pkt_write_file(pkt_tmp(to), d, n);
  PKT_ASSERT(chmod(pkt_tmp(to), st.st_mode & 0777) == 0);
  free(d);
}

static const char *fixture(const char *name) {
  snprintf(fx, sizeof fx, "%s/%s", pkt_arg(0), name);
  return fx;
}

/* Scan the test's folder "root" (opts may be NULL). */
static pk_catalog *scan(pk_host *h, const pk_scan_opts *o) {
  static char root[1024];
  const char *dirs[2] = {root, NULL};
  pk_catalog *c = NULL;
  snprintf(root, sizeof root, "%s", pkt_tmp("root"));
  PKT_RC(h, pk_catalog_scan(h, dirs, o, &c), PK_OK);
  return c;
}

/* The entry whose path ends with `suffix`, or a failed test. */
static const pk_catalog_entry *entry(const pk_catalog *c,
                                     const char *suffix) {
  size_t i, k = strlen(suffix);
  for (i = 0; i < pk_catalog_count(c); i++) {
    const pk_catalog_entry *e = pk_catalog_get(c, i);
    size_t n = strlen(e->path);
    if (n >= k && strcmp(e->path + n - k, suffix) == 0)
      return e;
  }
  pkt_fail(__FILE__, __LINE__, "no entry for %s", suffix);
  return NULL;
}

PK_TEST(lists_an_artifact) {
  pk_host *h = test_host();
  pk_catalog *c;
  const pk_catalog_entry *e;
  mkdirs("root");
  mkdirs("root/conf");
  copy_in(fixture("fx_conformance.so"), "root/conf/conformance.so");
  pkt_write_file(pkt_tmp("root/conf/README"), "not a plugin", 12);
  c = scan(h, NULL);
  PKT_EQ_INT(pk_catalog_count(c), 1); /* the README is nothing of ours */
  e = entry(c, "/root/conf/conformance.so");
  PKT_STR_EQ(e->name, "conformance");
  PKT_STR_EQ(e->version, "1.0.0");
  PKT_STR_EQ(e->kind, "artifact");
  PKT_STR_EQ(e->backends, "native");
  PKT_EQ_INT(e->status, PK_CATALOG_OK);
  PKT_EQ_INT(e->abi_major, 1);
  pk_catalog_free(c);
  pk_host_destroy(h);
}

/* Skip (with the reason) when this build lacks backend `name`: a core-only
   build reads no wasm artifact and runs no executable. */
static void need(const char *name) {
  const char *const *b;
  for (b = pk_backends(); *b != NULL; b++)
    if (strcmp(*b, name) == 0)
      return;
  pkt_skip("the %s backend is not built", name);
}

PK_TEST(never_runs_unmarked) {
  /* An ELF executable and a #! script, each leaving a file behind if run,
     even with probing on: neither runs. */
  pk_host *h = test_host();
  pk_scan_opts o = PK_SCAN_OPTS_INIT;
  pk_catalog *c;
  const pk_catalog_entry *e;
  char script[2048];
  struct stat st;
  need("process");
  mkdirs("root");
  copy_in(pkt_arg(1), "root/ran");
  snprintf(script, sizeof script, "#!/bin/sh\ntouch '%s'\n",
           pkt_tmp("root/script.ran"));
  pkt_write_file(pkt_tmp("root/script"), script, strlen(script));
  PKT_ASSERT(chmod(pkt_tmp("root/script"), 0755) == 0);
  o.probe = 1;
  c = scan(h, &o);
  e = entry(c, "/root/ran");
  PKT_EQ_INT(e->status, PK_CATALOG_INVALID);
  PKT_EQ_INT(e->error, PK_ENODESC);
  PKT_CONTAINS(e->reason, "/root/ran");
  PKT_EQ_INT(pk_catalog_count(c), 1); /* the script is nothing of ours */
  PKT_ASSERT(stat(pkt_tmp("root/ran.ran"), &st) != 0);
  PKT_ASSERT(stat(pkt_tmp("root/script.ran"), &st) != 0);
  pk_catalog_free(c);
  pk_host_destroy(h);
}

PK_TEST(incompatible_abi) {
  pk_host *h = test_host();
  pk_catalog *c;
  const pk_catalog_entry *e;
  mkdirs("root");
  copy_in(fixture("fx_abi_new.so"), "root/new.so");
  c = scan(h, NULL);
  e = entry(c, "/root/new.so");
  PKT_EQ_INT(e->status, PK_CATALOG_INCOMPATIBLE);
  PKT_EQ_INT(e->error, PK_EABI);
  PKT_STR_EQ(pk_catalog_status_name(e->status), "incompatible");
  pk_catalog_free(c);
  pk_host_destroy(h);
}

PK_TEST(duplicate_name) {
  pk_host *h = test_host();
  pk_catalog *c;
  const pk_catalog_entry *e;
  const size_t *order;
  mkdirs("root");
  mkdirs("root/a");
  mkdirs("root/b");
  copy_in(fixture("fx_conformance.so"), "root/a/conformance.so");
  copy_in(fixture("fx_build2.so"), "root/b/conformance.so");
  c = scan(h, NULL);
  PKT_EQ_INT(entry(c, "/root/a/conformance.so")->status, PK_CATALOG_OK);
  e = entry(c, "/root/b/conformance.so");
  PKT_EQ_INT(e->status, PK_CATALOG_DUPLICATE);
  PKT_CONTAINS(e->reason, "plugin 'conformance' is also at ");
  PKT_CONTAINS(e->reason, "/root/a/conformance.so, found first");
  PKT_EQ_INT(pk_catalog_order(c, &order), 1);
  pk_catalog_free(c);
  pk_host_destroy(h);
}

/* Overwrite the first bytes of `path` in place, keeping its size, inode
   and mtime (its ctime, which no one can set, changes). */
static void corrupt_keep_key(const char *path) {
  struct stat st;
  struct timespec t[2];
  int fd;
  PKT_ASSERT(stat(path, &st) == 0);
  PKT_ASSERT((fd = open(path, O_WRONLY)) >= 0);
  /* The ELF magic stays (still a file the native backend claims); the
     file type becomes nonsense. */
  PKT_EQ_INT(pwrite(fd, "\xff\xff", 2, 16), 2);
  close(fd);
  t[0] = st.st_atim;
  t[1] = st.st_mtim;
  PKT_ASSERT(utimensat(AT_FDCWD, path, t, 0) == 0);
}

/* A file rewritten at the same size, its mtime put back: the ctime
   changed, so the rescan reads it again (the cache is not believed). */
PK_TEST(cache_rewrite_with_mtime_restored) {
  pk_host *h = test_host();
  pk_catalog *c;
  char so[1024];
  mkdirs("root");
  mkdirs("root/conf");
  copy_in(fixture("fx_conformance.so"), "root/conf/conformance.so");
  snprintf(so, sizeof so, "%s", pkt_tmp("root/conf/conformance.so"));
  c = scan(h, NULL);
  PKT_EQ_INT(entry(c, "conformance.so")->status, PK_CATALOG_OK);
  pk_catalog_free(c);
  corrupt_keep_key(so);
  c = scan(h, NULL);
  PKT_EQ_INT(entry(c, "conformance.so")->status, PK_CATALOG_INVALID);
  pk_catalog_free(c);
  pk_host_destroy(h);
}

PK_TEST(cache_garbage_ignored) {
  pk_host *h = test_host();
  pk_catalog *c;
  size_t n;
  unsigned char *d;
  static const char junk[] = "plugkit-cache 4 0.1.0\nF\t%zz\t1\n\xff\xfe";
  mkdirs("root");
  copy_in(fixture("fx_conformance.so"), "root/conformance.so");
  pkt_write_file(pkt_tmp("root/.plugkit-cache"), junk, sizeof junk - 1);
  c = scan(h, NULL);
  PKT_EQ_INT(pk_catalog_count(c), 1);
  PKT_EQ_INT(entry(c, "/root/conformance.so")->status, PK_CATALOG_OK);
  pk_catalog_free(c);
  /* Rewritten: a good cache now. */
  d = pkt_read_file(pkt_tmp("root/.plugkit-cache"), &n);
  PKT_ASSERT(n > 22 && memcmp(d, "plugkit-cache 4 0.1.0\n", 22) == 0);
  PKT_ASSERT(strstr((char *)d, "conformance.so") != NULL);
  free(d);
  pk_host_destroy(h);
}

PK_TEST(cache_lie_not_trusted) {
  /* A well-formed cache that calls a file OK under another key (a
     different inode and mtime): the file is read again. */
  pk_host *h = test_host();
  pk_catalog *c;
  char line[512];
  mkdirs("root");
  pkt_write_file(pkt_tmp("root/evil.so"), "\177ELFjunk", 8);
  snprintf(line, sizeof line,
           "plugkit-cache 4 0.1.0\nF\tevil.so\t8\t1\t1\t1\t3\t0\t0\t1\t0\t-good"
           "\t-1.0\t-native\t-\t-\t-\t-\n");
  pkt_write_file(pkt_tmp("root/.plugkit-cache"), line, strlen(line));
  c = scan(h, NULL);
  PKT_EQ_INT(entry(c, "/root/evil.so")->status, PK_CATALOG_INVALID);
  PKT_STR_EQ(entry(c, "/root/evil.so")->name, "evil.so");
  pk_catalog_free(c);
  pk_host_destroy(h);
}

PK_TEST(missing_folder) {
  pk_host *h = test_host();
  const char *dirs[2] = {"/nonexistent/plugkit-scan", NULL};
  pk_catalog *c = (pk_catalog *)&c;
  PKT_RC(h, pk_catalog_scan(h, dirs, NULL, &c), PK_ENOENT);
  PKT_ASSERT(c == (pk_catalog *)&c);
  PKT_CONTAINS(pk_host_errmsg(h), "/nonexistent/plugkit-scan: scan: ");
  pk_host_destroy(h);
}

/* ---- the probe in a child ------------------------------------------- */

static int have_process(void) {
  const char *const *b;
  for (b = pk_backends(); *b != NULL; b++)
    if (strcmp(*b, "process") == 0)
      return system("python3 -c '' >/dev/null 2>&1") == 0;
  return 0;
}

/* A Python plugin (it has the SDK's import: plugkit's marker for
   Python) that notes each run in "<root>/runs", then crashes if
   `crash`. */
static void python_plugin(int crash) {
  char src[2048];
  snprintf(src, sizeof src,
           "#!/usr/bin/env python3\n"
           "import os, signal\n"
           "from plugkit_plugin import Plugin\n"
           "open('%s', 'a').write('run\\n')\n"
           "%s"
           "plugin = Plugin('py', '2.0.0')\n"
           "plugin.serve()\n",
           pkt_tmp("runs"),
           crash ? "os.kill(os.getpid(), signal.SIGSEGV)\n" : "");
  pkt_write_file(pkt_tmp("root/py.py"), src, strlen(src));
}

static long runs(void) {
  FILE *f = fopen(pkt_tmp("runs"), "r");
  long n = 0;
  int ch;
  if (f == NULL)
    return 0;
  while ((ch = fgetc(f)) != EOF)
    n += ch == '\n';
  fclose(f);
  return n;
}

PK_TEST(unprobed_by_default) {
  pk_host *h = test_host();
  pk_catalog *c;
  const pk_catalog_entry *e;
  if (!have_process()) {
    pk_host_destroy(h);
    pkt_skip("needs the process backend and python3");
  }
  mkdirs("root");
  python_plugin(0);
  c = scan(h, NULL);
  e = entry(c, "/root/py.py");
  PKT_EQ_INT(e->status, PK_CATALOG_UNPROBED);
  PKT_EQ_INT(runs(), 0);
  pk_catalog_free(c);
  pk_host_destroy(h);
}

PK_TEST(probe_reads_python) {
  pk_host *h = test_host();
  pk_scan_opts o = PK_SCAN_OPTS_INIT;
  pk_catalog *c;
  const pk_catalog_entry *e;
  if (!have_process()) {
    pk_host_destroy(h);
    pkt_skip("needs the process backend and python3");
  }
  mkdirs("root");
  python_plugin(0);
  o.probe = 1;
  c = scan(h, &o);
  e = entry(c, "/root/py.py");
  PKT_EQ_INT(e->status, PK_CATALOG_OK);
  PKT_STR_EQ(e->name, "py");
  PKT_STR_EQ(e->version, "2.0.0");
  pk_catalog_free(c);
  c = scan(h, &o); /* probed once: the cache answers now */
  PKT_EQ_INT(entry(c, "/root/py.py")->status, PK_CATALOG_OK);
  PKT_EQ_INT(runs(), 1);
  pk_catalog_free(c);
  pk_host_destroy(h);
}

PK_TEST(probe_crash_marked) {
  pk_host *h = test_host();
  pk_scan_opts o = PK_SCAN_OPTS_INIT;
  pk_catalog *c;
  const pk_catalog_entry *e;
  struct timespec t[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
  if (!have_process()) {
    pk_host_destroy(h);
    pkt_skip("needs the process backend and python3");
  }
  mkdirs("root");
  python_plugin(1);
  o.probe = 1;
  c = scan(h, &o);
  e = entry(c, "/root/py.py");
  PKT_EQ_INT(e->status, PK_CATALOG_CRASHED);
  PKT_EQ_INT(e->error, PK_ECRASH);
  pk_catalog_free(c);
  /* Skipped while unchanged: not run again. */
  c = scan(h, &o);
  PKT_EQ_INT(entry(c, "/root/py.py")->status, PK_CATALOG_CRASHED);
  pk_catalog_free(c);
  PKT_EQ_INT(runs(), 1);
  /* Changed: probed again. */
  PKT_ASSERT(utimensat(AT_FDCWD, pkt_tmp("root/py.py"), t, 0) == 0);
  c = scan(h, &o);
  PKT_EQ_INT(entry(c, "/root/py.py")->status, PK_CATALOG_CRASHED);
  pk_catalog_free(c);
  PKT_EQ_INT(runs(), 2);
  pk_host_destroy(h);
}

/* ---- the CLI -------------------------------------------------------- */

PK_TEST(cli_json) {
  char cmd[4096], out[4096] = "";
  size_t n;
  FILE *f;
  need("process");
  mkdirs("root");
  copy_in(fixture("fx_conformance.so"), "root/conformance.so");
  copy_in(pkt_arg(1), "root/ran");
  snprintf(cmd, sizeof cmd, "'%s' scan --json '%s'", pkt_arg(2),
           pkt_tmp("root"));
  PKT_ASSERT((f = popen(cmd, "r")) != NULL);
  n = fread(out, 1, sizeof out - 1, f);
  out[n] = '\0';
  PKT_EQ_INT(pclose(f), 0);
  PKT_CONTAINS(out, "{\"name\": \"conformance\", \"version\": \"1.0.0\"");
  PKT_CONTAINS(out, "\"status\": \"invalid\", \"error\": \"ENODESC\"");
  PKT_CONTAINS(out, "\"order\": [\"conformance\"]");
}

/* ---- manifests and dependencies -------------------------------------- */

/* A manifest NAME.plugkit in root/NAME/ of version `version` with a
   wasm artifact (four bytes, pinned by sha256sum's hash of "\0asm") and
   `deps` lines. */
static void manifest_v(const char *name, const char *version,
                       const char *deps) {
  char dir[256], text[1024], path[512];
  snprintf(dir, sizeof dir, "root/%s", name);
  mkdirs(dir);
  snprintf(path, sizeof path, "root/%s/a.wasm", name);
  pkt_write_file(pkt_tmp(path), "\0asm", 4);
  snprintf(text, sizeof text,
           "[plugin]\nname = %s\nversion = %s\ngrants = log\n"
           "[artifact wasm]\npath = a.wasm\nsha256 = "
           "cd5d4935a48c0672cb06407bb443bc0087aff947c6b864bac886982c73b3027f\n"
           "%s%s",
           name, version, deps ? "[dependencies]\n" : "", deps ? deps : "");
  snprintf(path, sizeof path, "root/%s/%s.plugkit", name, name);
  pkt_write_file(pkt_tmp(path), text, strlen(text));
}

static void manifest(const char *name, const char *deps) {
  manifest_v(name, "1.2.0", deps);
}

/* Ranges with several comparators ("," inside) resolve against the
   versions found. */
PK_TEST(deps_version_ranges_met) {
  pk_host *h = test_host();
  pk_catalog *c;
  const size_t *order;
  const pk_catalog_entry *e;
  need("wasm");
  mkdirs("root");
  manifest_v("app", "1.0.0", "base = >=1.2, <2\ntext = ^0.3.1\n");
  manifest_v("base", "1.4.0", NULL);
  manifest_v("text", "0.3.9", NULL);
  c = scan(h, NULL);
  e = entry(c, "/app/app.plugkit");
  PKT_EQ_INT(e->status, PK_CATALOG_OK);
  PKT_STR_EQ(e->deps, "base >=1.2, <2; text ^0.3.1");
  PKT_EQ_INT(pk_catalog_order(c, &order), 3);
  PKT_STR_EQ(pk_catalog_get(c, order[2])->name, "app");
  pk_catalog_free(c);
  pk_host_destroy(h);
}

/* A dependency there at a version outside the range: incompatible_dep,
   the reason naming the range and the version found; what depends on
   that entry is missing_dep. */
PK_TEST(deps_version_mismatch) {
  pk_host *h = test_host();
  pk_catalog *c;
  const size_t *order;
  const pk_catalog_entry *e;
  need("wasm");
  mkdirs("root");
  manifest_v("app", "1.0.0", "base = >=1.2, <2\n");
  manifest_v("base", "2.1.0", NULL);
  manifest_v("top", "1.0.0", "app = *\n");
  manifest_v("pre", "1.0.0", "rc = ^1.0\n");
  manifest_v("rc", "1.0.0-rc.1", NULL); /* before 1.0.0: outside ^1.0 */
  c = scan(h, NULL);
  e = entry(c, "/app/app.plugkit");
  PKT_EQ_INT(e->status, PK_CATALOG_INCOMPATIBLE_DEP);
  PKT_EQ_INT(e->error, PK_ENOENT);
  PKT_STR_EQ(pk_catalog_status_name(e->status), "incompatible_dep");
  PKT_CONTAINS(e->reason, "app.plugkit: catalog: needs plugin 'base' >=1.2, "
                          "<2, but the one there is version 2.1.0 (");
  PKT_CONTAINS(e->reason, "/base/base.plugkit)");
  e = entry(c, "/top/top.plugkit");
  PKT_EQ_INT(e->status, PK_CATALOG_MISSING_DEP);
  PKT_CONTAINS(e->reason, "needs plugin 'app', which is unusable "
                          "(incompatible_dep)");
  PKT_EQ_INT(entry(c, "/pre/pre.plugkit")->status,
             PK_CATALOG_INCOMPATIBLE_DEP);
  PKT_EQ_INT(pk_catalog_order(c, &order), 2); /* base and rc */
  pk_catalog_free(c);
  pk_host_destroy(h);
}

PK_TEST(deps_order_and_cycle) {
  pk_host *h = test_host();
  pk_catalog *c;
  const size_t *order;
  const pk_catalog_entry *e;
  need("wasm");
  mkdirs("root");
  manifest("app", "base = >=1.0\n");
  manifest("base", NULL);
  manifest("x", "y = *\n");
  manifest("y", "x = *\n");
  manifest("lone", "ghost = 1\n");
  c = scan(h, NULL);
  PKT_EQ_INT(pk_catalog_count(c), 5); /* the a.wasm files are theirs */
  e = entry(c, "/app/app.plugkit");
  PKT_EQ_INT(e->status, PK_CATALOG_OK);
  PKT_STR_EQ(e->kind, "manifest");
  PKT_STR_EQ(e->grants, "log");
  PKT_STR_EQ(e->deps, "base >=1.0");
  PKT_STR_EQ(e->backends, "wasm");
  PKT_EQ_INT(pk_catalog_order(c, &order), 2);
  PKT_STR_EQ(pk_catalog_get(c, order[0])->name, "base");
  PKT_STR_EQ(pk_catalog_get(c, order[1])->name, "app");
  e = entry(c, "/x/x.plugkit");
  PKT_EQ_INT(e->status, PK_CATALOG_CYCLE);
  PKT_CONTAINS(e->reason, "dependency cycle: x -> y -> x");
  PKT_EQ_INT(entry(c, "/y/y.plugkit")->status, PK_CATALOG_CYCLE);
  e = entry(c, "/lone/lone.plugkit");
  PKT_EQ_INT(e->status, PK_CATALOG_MISSING_DEP);
  PKT_CONTAINS(e->reason, "needs plugin 'ghost', which is in no scanned "
                          "folder");
  pk_catalog_free(c);
  pk_host_destroy(h);
}

PK_TEST(manifest_bad_hash) {
  pk_host *h = test_host();
  pk_catalog *c;
  const pk_catalog_entry *e;
  need("wasm");
  mkdirs("root");
  manifest("m", NULL);
  pkt_write_file(pkt_tmp("root/m/a.wasm"), "\0asn", 4);
  c = scan(h, NULL);
  e = entry(c, "/m/m.plugkit");
  PKT_EQ_INT(e->status, PK_CATALOG_BAD_HASH);
  PKT_EQ_INT(e->error, PK_EHASH);
  PKT_CONTAINS(e->reason, "does not match its manifest");
  PKT_EQ_INT(pk_catalog_count(c), 1);
  pk_catalog_free(c);
  pk_host_destroy(h);
}

/* ---- signatures under the host's trust policy ------------------------- */

static char pub[PK_KEY_TEXT_MAX], sec[PK_KEY_TEXT_MAX];

/* A counting host with trust policy `policy`, trusting a fresh key pair
   (pub, sec). */
static pk_host *trust_host(int policy) {
  pk_host_opts ho = PK_HOST_OPTS_INIT;
  pk_host *h = NULL;
  ho.alloc = pkt_alloc;
  ho.trust = policy;
  if (pk_host_create(&ho, &h) != PK_OK)
    pkt_fail(__FILE__, __LINE__, "pk_host_create failed");
  if (pk_keygen(h, NULL, pub, sizeof pub, sec, sizeof sec) == PK_ENOSYS) {
    pk_host_destroy(h);
    pkt_skip("built without libsodium: no signatures");
  }
  PKT_RC(h, pk_host_trust_key(h, pub), PK_OK);
  return h;
}

/* An unsigned bundle is bad_signature under `warn` as an unsigned
   manifest is: the policy decides what an open does, the status says
   what the scan found. */
PK_TEST(bundle_unsigned_under_warn) {
  pk_host *h = trust_host(PK_TRUST_WARN);
  pk_catalog *c;
  const pk_catalog_entry *e;
  char dir[1024];
  mkdirs("root");
  manifest("m", NULL);
  snprintf(dir, sizeof dir, "%s", pkt_tmp("root/m"));
  PKT_RC(h, pk_bundle_pack(h, dir, pkt_tmp("root/m.pkb")), PK_OK);
  c = scan(h, NULL);
  e = entry(c, "/root/m/m.plugkit");
  PKT_EQ_INT(e->status, PK_CATALOG_BAD_SIGNATURE);
  PKT_EQ_INT(e->error, PK_EUNTRUSTED);
  e = entry(c, "/root/m.pkb");
  PKT_STR_EQ(e->name, "m");
  PKT_STR_EQ(e->kind, "bundle");
  PKT_EQ_INT(e->status, PK_CATALOG_BAD_SIGNATURE);
  PKT_EQ_INT(e->error, PK_EUNTRUSTED);
  PKT_CONTAINS(e->reason, "m.pkb: signature: not signed: no member "
                          "m.plugkit.minisig");
  pk_catalog_free(c);
  pk_host_destroy(h);
}

/* A manifest's verdict rests on more than its own bytes: the host's
   policy and keys, its signature file. The cached line is not believed
   once any of them changed. */
PK_TEST(cache_follows_trust) {
  pk_host *h = test_host();
  pk_catalog *c;
  const pk_catalog_entry *e;
  char mf[1024];
  need("wasm");
  mkdirs("root");
  manifest("m", NULL);
  snprintf(mf, sizeof mf, "%s", pkt_tmp("root/m/m.plugkit"));
  c = scan(h, NULL); /* trust off: signatures are not read */
  PKT_EQ_INT(entry(c, "/m/m.plugkit")->status, PK_CATALOG_OK);
  pk_catalog_free(c);
  pk_host_destroy(h);
  /* The same folder, for a host that requires signatures. */
  h = trust_host(PK_TRUST_REQUIRE);
  c = scan(h, NULL);
  e = entry(c, "/m/m.plugkit");
  PKT_EQ_INT(e->status, PK_CATALOG_BAD_SIGNATURE);
  PKT_EQ_INT(e->error, PK_EUNTRUSTED);
  PKT_CONTAINS(e->reason, "m.plugkit: signature: not signed");
  pk_catalog_free(c);
  /* Signed now (the manifest itself unchanged). */
  PKT_RC(h, pk_manifest_sign(h, mf, sec, NULL, NULL), PK_OK);
  c = scan(h, NULL);
  PKT_EQ_INT(entry(c, "/m/m.plugkit")->status, PK_CATALOG_OK);
  pk_catalog_free(c);
  pk_host_destroy(h);
  /* A host trusting another key only. */
  h = trust_host(PK_TRUST_REQUIRE);
  c = scan(h, NULL);
  e = entry(c, "/m/m.plugkit");
  PKT_EQ_INT(e->status, PK_CATALOG_BAD_SIGNATURE);
  PKT_CONTAINS(e->reason, "signed by a key that is not trusted");
  pk_catalog_free(c);
  pk_host_destroy(h);
}

/* An artifact rewritten in place (the manifest and the folder keep their
   keys): the manifest's cached 'ok' is not believed. */
PK_TEST(cache_follows_artifacts) {
  pk_host *h = test_host();
  pk_catalog *c;
  const pk_catalog_entry *e;
  struct stat st1, st2;
  need("wasm");
  mkdirs("root");
  manifest("m", NULL);
  c = scan(h, NULL);
  PKT_EQ_INT(entry(c, "/m/m.plugkit")->status, PK_CATALOG_OK);
  pk_catalog_free(c);
  /* Nothing changed: the cache answers, and is not rewritten. */
  PKT_ASSERT(stat(pkt_tmp("root/.plugkit-cache"), &st1) == 0);
  c = scan(h, NULL);
  PKT_EQ_INT(entry(c, "/m/m.plugkit")->status, PK_CATALOG_OK);
  pk_catalog_free(c);
  PKT_ASSERT(stat(pkt_tmp("root/.plugkit-cache"), &st2) == 0);
  PKT_EQ_INT(st1.st_ino, st2.st_ino);
  pkt_write_file(pkt_tmp("root/m/a.wasm"), "\0asn", 4);
  c = scan(h, NULL);
  e = entry(c, "/m/m.plugkit");
  PKT_EQ_INT(e->status, PK_CATALOG_BAD_HASH);
  PKT_EQ_INT(e->error, PK_EHASH);
  pk_catalog_free(c);
  pk_host_destroy(h);
}

/* A cache line calling junk a good plugin, under the file's real key. */
static void lying_cache(void) {
  struct stat st;
  char line[512];
  PKT_ASSERT(stat(pkt_tmp("root/evil.so"), &st) == 0);
  snprintf(line, sizeof line,
           "plugkit-cache 4 0.1.0\nF\tevil.so\t%lld\t%lld\t%lld\t%llu\t3\t0"
           "\t0\t1\t0\t-good\t-1.0\t-native\t-\t-\t-\t-\n",
           (long long)st.st_size,
           (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
           (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec,
           (unsigned long long)st.st_ino);
  pkt_write_file(pkt_tmp("root/.plugkit-cache"), line, strlen(line));
}

/* Only a cache this user wrote is believed: one that others may write
   (or that another user owns) could say anything with the right keys. */
PK_TEST(cache_of_others_ignored) {
  pk_host *h = test_host();
  pk_catalog *c;
  mkdirs("root");
  pkt_write_file(pkt_tmp("root/evil.so"), "\177ELFjunk", 8);
  lying_cache();
  PKT_ASSERT(chmod(pkt_tmp("root/.plugkit-cache"), 0644) == 0);
  c = scan(h, NULL); /* our own cache: believed, as the keys match */
  PKT_STR_EQ(entry(c, "/root/evil.so")->name, "good");
  pk_catalog_free(c);
  lying_cache();
  PKT_ASSERT(chmod(pkt_tmp("root/.plugkit-cache"), 0666) == 0);
  c = scan(h, NULL);
  PKT_EQ_INT(entry(c, "/root/evil.so")->status, PK_CATALOG_INVALID);
  PKT_STR_EQ(entry(c, "/root/evil.so")->name, "evil.so");
  pk_catalog_free(c);
  if (geteuid() == 0) { /* root can make a file another user's */
    lying_cache();
    PKT_ASSERT(chmod(pkt_tmp("root/.plugkit-cache"), 0644) == 0);
    PKT_ASSERT(chown(pkt_tmp("root/.plugkit-cache"), 4242, 4242) == 0);
    c = scan(h, NULL);
    PKT_EQ_INT(entry(c, "/root/evil.so")->status, PK_CATALOG_INVALID);
    pk_catalog_free(c);
  }
  pk_host_destroy(h);
}
