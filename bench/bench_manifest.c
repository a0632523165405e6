/*
 * bench_manifest.c: VerifyManifest, pk_manifest_verify on a signed
 * manifest pinning one 1 MiB artifact: reading both files, the Ed25519
 * signature (BLAKE2b-512 prehash) and the artifact's SHA-256.
 */
#define _DEFAULT_SOURCE 1
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct vm {
  pk_host *host;
  char dir[256], mf[320], art[320], sig[340];
  char pub[PK_KEY_TEXT_MAX];
} vm;

static vm v;

static int write_file(const char *path, const void *d, size_t n) {
  FILE *f = fopen(path, "wb");
  int ok = f != NULL && fwrite(d, 1, n, f) == n;
  if (f != NULL && fclose(f) != 0)
    ok = 0;
  return ok ? 0 : -1;
}

static int verify_setup(void **out) {
  char sec[PK_KEY_TEXT_MAX], text[512], hex[65], cmd[400];
  size_t n = (size_t)1 << 20, i;
  unsigned char *art;
  FILE *p;
  int rc;

  *out = &v;
  snprintf(v.dir, sizeof v.dir, "%s/pkb-manifest-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(v.dir) == NULL)
    return pkb_skip("cannot make a temp folder");
  snprintf(v.mf, sizeof v.mf, "%s/bench.plugkit", v.dir);
  snprintf(v.art, sizeof v.art, "%s/bench.wasm", v.dir);
  snprintf(v.sig, sizeof v.sig, "%s.minisig", v.mf);
  if ((art = malloc(n)) == NULL)
    return pkb_skip("out of memory");
  for (i = 0; i < n; i++) /* not all zero: nothing to gain from it */
    art[i] = (unsigned char)(i * 2654435761u >> 13);
  rc = write_file(v.art, art, n);
  free(art);
  if (rc < 0)
    return pkb_skip("cannot write %s", v.art);
  /* The pinned hash from coreutils, not from the code measured. */
  snprintf(cmd, sizeof cmd, "sha256sum '%s'", v.art);
  if ((p = popen(cmd, "r")) == NULL || fscanf(p, "%64s", hex) != 1) {
    if (p != NULL)
      pclose(p);
    return pkb_skip("sha256sum failed");
  }
  pclose(p);
  snprintf(text, sizeof text,
           "[plugin]\nname = bench\nversion = 1.0.0\n[artifact wasm]\n"
           "path = bench.wasm\nsha256 = %s\n",
           hex);
  if (write_file(v.mf, text, strlen(text)) < 0)
    return pkb_skip("cannot write %s", v.mf);
  if ((v.host = pkb_host()) == NULL)
    return pkb_skip("out of memory");
  if ((rc = pk_keygen(v.host, NULL, v.pub, sizeof v.pub, sec, sizeof sec)) <
      0)
    return pkb_skip("%s", pk_host_errmsg(v.host));
  if ((rc = pk_manifest_sign(v.host, v.mf, sec, NULL, NULL)) < 0 ||
      (rc = pk_manifest_verify(v.host, v.mf, v.pub)) < 0)
    return pkb_skip("%s", pk_host_errmsg(v.host));
  return 0;
}

static void verify_run(void *st, uint64_t n) {
  vm *s = st;
  uint64_t i, bad = 0;
  for (i = 0; i < n; i++)
    bad += pk_manifest_verify(s->host, s->mf, s->pub) != PK_OK;
  pkb_sink(bad);
}

static void verify_teardown(void *st) {
  vm *s = st;
  pk_host_destroy(s->host);
  s->host = NULL;
  remove(s->sig);
  remove(s->mf);
  remove(s->art);
  rmdir(s->dir);
}

PKB_ROW(VerifyManifest, verify_setup, verify_run, verify_teardown)
