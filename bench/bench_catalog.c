/*
 * bench_catalog.c: pk_catalog_scan over 1,000 plugin folders (each with
 * the bench plugin, a .so read describe-only), cold (no cache: every file
 * is read) and warm (the cache answers: the files are only stat'ed),
 * opening a .so from a bundle, and verifying a signed 1 MiB bundle.
 * Targets (issue #15): ScanWarm <= 10 ms, ScanCold <= 300 ms,
 * LoadNativeBundle <= 1.5x LoadNative, VerifyBundle <= 2 ms.
 */
#define _XOPEN_SOURCE 700
#include "bench.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NFOLDERS 1000

typedef struct scan_state {
  pk_host *host;
  char root[1024];
  pk_scan_opts o;
} scan_state;

static int copy_file(const char *from, const char *to) {
  FILE *in = fopen(from, "rb"), *out;
  char buf[65536];
  size_t n;
  if (in == NULL)
    return -1;
  if ((out = fopen(to, "wb")) == NULL) {
    fclose(in);
    return -1;
  }
  while ((n = fread(buf, 1, sizeof buf, in)) > 0)
    fwrite(buf, 1, n, out);
  fclose(in);
  return fclose(out);
}

static int rm_one(const char *p, const struct stat *sb, int flag,
                  struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(p);
}

static void scan_teardown(void *st) {
  scan_state *s = st;
  if (s == NULL)
    return;
  nftw(s->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  pk_host_destroy(s->host);
  free(s);
}

static int scan_setup(void **out, int cache) {
  scan_state *s = calloc(1, sizeof *s);
  const char *tmp = getenv("TMPDIR");
  char so[1024], dir[1200], file[1300];
  int i;
  if (s == NULL)
    return 1;
  snprintf(so, sizeof so, "%s/bench_plugin.so", pkb_dir());
  snprintf(s->root, sizeof s->root, "%s/pkb-scan-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(s->root) == NULL || (s->host = pkb_host()) == NULL) {
    free(s);
    return pkb_skip("cannot make a temporary folder");
  }
  for (i = 0; i < NFOLDERS; i++) {
    snprintf(dir, sizeof dir, "%s/p%04d", s->root, i);
    snprintf(file, sizeof file, "%s/p%04d.so", dir, i);
    if (mkdir(dir, 0755) != 0 || copy_file(so, file) != 0) {
      scan_teardown(s);
      return pkb_skip("cannot copy %s", so);
    }
  }
  s->o = (pk_scan_opts)PK_SCAN_OPTS_INIT;
  s->o.no_cache = !cache;
  if (cache) { /* the first scan writes the cache */
    const char *dirs[2] = {s->root, NULL};
    pk_catalog *c;
    if (pk_catalog_scan(s->host, dirs, &s->o, &c) < 0) {
      scan_teardown(s);
      return pkb_skip("scan failed");
    }
    pk_catalog_free(c);
  }
  *out = s;
  return 0;
}

static int warm_setup(void **out) { return scan_setup(out, 1); }
static int cold_setup(void **out) { return scan_setup(out, 0); }

static void run_scan(void *st, uint64_t n) {
  scan_state *s = st;
  const char *dirs[2] = {s->root, NULL};
  uint64_t i;
  for (i = 0; i < n; i++) {
    pk_catalog *c;
    if (pk_catalog_scan(s->host, dirs, &s->o, &c) == 0) {
      pkb_sink(pk_catalog_count(c));
      pk_catalog_free(c);
    }
  }
}

PKB_ROW(ScanWarm, warm_setup, run_scan, scan_teardown)
PKB_ROW(ScanCold, cold_setup, run_scan, scan_teardown)

/* ---- LoadNativeBundle: open + first sum + close, from a .pkb --------- */

#if defined(__x86_64__)
#define TARGET "x86_64-linux"
#elif defined(__aarch64__)
#define TARGET "aarch64-linux"
#else
#define TARGET "unknown-target"
#endif

static void bundle_teardown(void *st) {
  pkb_plugin *b = st;
  if (b == NULL)
    return;
  remove(b->path);
  pkb_close(b);
}

static int bundle_setup(void **out) {
  static pkb_plugin b;
  const char *tmp = getenv("TMPDIR");
  char dir[1000], so[1024], cmd[2200], hash[65] = "", text[512], f[1100];
  FILE *p;
  memset(&b, 0, sizeof b);
  snprintf(dir, sizeof dir, "%s/pkb-bundle-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL || (b.host = pkb_host()) == NULL)
    return pkb_skip("cannot make a temporary folder");
  snprintf(so, sizeof so, "%s/bench_plugin.so", pkb_dir());
  snprintf(f, sizeof f, "%s/conformance.so", dir);
  snprintf(cmd, sizeof cmd, "sha256sum '%s' 2>/dev/null", so);
  if (copy_file(so, f) != 0 || (p = popen(cmd, "r")) == NULL)
    return pkb_skip("cannot copy %s", so);
  if (fread(hash, 1, 64, p) != 64) {
    pclose(p);
    return pkb_skip("no sha256sum");
  }
  pclose(p);
  snprintf(text, sizeof text,
           "[plugin]\nname = conformance\nversion = 1.0.0\n[artifact native "
           TARGET "]\npath = conformance.so\nsha256 = %s\n",
           hash);
  snprintf(f, sizeof f, "%s/conformance.plugkit", dir);
  if ((p = fopen(f, "w")) == NULL)
    return pkb_skip("cannot write %s", f);
  fputs(text, p);
  fclose(p);
  snprintf(b.path, sizeof b.path, "%s.pkb", dir);
  if (pk_bundle_pack(b.host, dir, b.path) != 0)
    return pkb_skip("pack: %s", pk_host_errmsg(b.host));
  remove(f);
  snprintf(f, sizeof f, "%s/conformance.so", dir);
  remove(f);
  rmdir(dir);
  *out = &b;
  return 0;
}

PKB_ROW(LoadNativeBundle, bundle_setup, pkb_run_load, bundle_teardown)

/* ---- VerifyBundle: pk_bundle_verify of a signed bundle pinning 1 MiB --- */

typedef struct vb_state {
  pk_host *host;
  char path[1100];
  char pub[PK_KEY_TEXT_MAX];
} vb_state;

static vb_state vb;

static int write_all(const char *path, const void *d, size_t n) {
  FILE *f = fopen(path, "wb");
  int ok = f != NULL && fwrite(d, 1, n, f) == n;
  if (f != NULL && fclose(f) != 0)
    ok = 0;
  return ok ? 0 : -1;
}

static int vb_setup(void **out) {
  const char *tmp = getenv("TMPDIR");
  char dir[1000], art[1100], mf[1100], sig[1200], cmd[1200], hash[65] = "";
  char sec[PK_KEY_TEXT_MAX], text[512];
  size_t n = (size_t)1 << 20, i;
  unsigned char *d;
  FILE *p;
  int rc;
  memset(&vb, 0, sizeof vb);
  snprintf(dir, sizeof dir, "%s/pkb-verify-XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (mkdtemp(dir) == NULL || (vb.host = pkb_host()) == NULL)
    return pkb_skip("cannot make a temporary folder");
  snprintf(art, sizeof art, "%s/bench.wasm", dir);
  snprintf(mf, sizeof mf, "%s/bench.plugkit", dir);
  snprintf(sig, sizeof sig, "%s.minisig", mf);
  if ((d = malloc(n)) == NULL)
    return pkb_skip("out of memory");
  for (i = 0; i < n; i++) /* not all zero: nothing to gain from it */
    d[i] = (unsigned char)(i * 2654435761u >> 13);
  rc = write_all(art, d, n);
  free(d);
  /* The pinned hash from coreutils, not from the code measured. */
  snprintf(cmd, sizeof cmd, "sha256sum '%s' 2>/dev/null", art);
  if (rc < 0 || (p = popen(cmd, "r")) == NULL)
    return pkb_skip("cannot write %s", art);
  if (fread(hash, 1, 64, p) != 64) {
    pclose(p);
    return pkb_skip("no sha256sum");
  }
  pclose(p);
  snprintf(text, sizeof text,
           "[plugin]\nname = bench\nversion = 1.0.0\n[artifact wasm]\n"
           "path = bench.wasm\nsha256 = %s\n",
           hash);
  if (write_all(mf, text, strlen(text)) < 0)
    return pkb_skip("cannot write %s", mf);
  snprintf(vb.path, sizeof vb.path, "%s.pkb", dir);
  if (pk_keygen(vb.host, NULL, vb.pub, sizeof vb.pub, sec, sizeof sec) < 0 ||
      pk_manifest_sign(vb.host, mf, sec, NULL, NULL) < 0 ||
      pk_bundle_pack(vb.host, dir, vb.path) < 0 ||
      pk_bundle_verify(vb.host, vb.path, vb.pub) < 0)
    return pkb_skip("%s", pk_host_errmsg(vb.host));
  remove(art);
  remove(mf);
  remove(sig);
  rmdir(dir);
  *out = &vb;
  return 0;
}

static void vb_run(void *st, uint64_t n) {
  vb_state *s = st;
  uint64_t i, bad = 0;
  for (i = 0; i < n; i++)
    bad += pk_bundle_verify(s->host, s->path, s->pub) != PK_OK;
  pkb_sink(bad);
}

static void vb_teardown(void *st) {
  vb_state *s = st;
  if (s == NULL)
    return;
  remove(s->path);
  pk_host_destroy(s->host);
  s->host = NULL;
}

PKB_ROW(VerifyBundle, vb_setup, vb_run, vb_teardown)
