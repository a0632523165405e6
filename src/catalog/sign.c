/*
 * sign.c: the public side of manifest signatures: trusted keys, key
 * generation, signing and checking a manifest (include/plugkit.h).
 */
#include "manifest.h"
#include "../os/os.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static void *host_alloc(void *ud, size_t n) { return pk__alloc(ud, n); }

int pk_host_trust_key(pk_host *h, const char *text) {
  pk__ms_pub k;
  char why[200], id[17];
  size_t i;
  if (h == NULL)
    return PK_EINVAL;
  if (text == NULL)
    return pk__err(h, PK_EINVAL, "(key)", "trust", "the key is NULL");
  if (pk__ms_pub_parse(text, strlen(text), &k, why, sizeof why) < 0)
    return pk__err(h, PK_EINVAL, "(key)", "trust", "%s", why);
  for (i = 0; i < h->nkeys; i++)
    if (memcmp(h->keys[i].id, k.id, 8) == 0 &&
        memcmp(h->keys[i].pk, k.pk, 32) == 0)
      return PK_OK;
  pk__ms_keyid(k.id, id);
  if (h->nkeys == PK__MAX_KEYS)
    return pk__err(h, PK_ELIMIT, "(key)", "trust",
                   "key %s would be the %uth: a host trusts at most %u", id,
                   PK__MAX_KEYS + 1, PK__MAX_KEYS);
  memcpy(h->keys[h->nkeys].id, k.id, 8);
  memcpy(h->keys[h->nkeys].pk, k.pk, 32);
  h->nkeys++;
  return PK_OK;
}

int pk_keygen(pk_host *h, const char *password, char *pub, size_t pubcap,
              char *sec, size_t seccap) {
  pk__ms_pub p;
  pk__ms_sec s;
  char pt[PK__MS_KEYTEXT_MAX], st[PK__MS_KEYTEXT_MAX];
  int rc;
  if (h == NULL)
    return PK_EINVAL;
  if (pub == NULL || sec == NULL)
    return pk__err(h, PK_EINVAL, "(key)", "keygen", "NULL buffer");
  if ((rc = pk__ms_keygen(&p, &s)) < 0)
    return pk__err(h, rc, "(key)", "keygen",
                   "key generation needs libsodium, which this build of "
                   "plugkit lacks (install libsodium-dev and rebuild)");
  pk__ms_pub_format(&p, pt);
  rc = pk__ms_sec_format(&s, password, st);
  memset(&s, 0, sizeof s);
  if (rc < 0)
    return pk__err(h, rc, "(key)", "keygen",
                   "out of memory deriving the key from the password");
  if (rc == PK_OK && (strlen(pt) >= pubcap || strlen(st) >= seccap))
    rc = pk__err(h, PK_EINVAL, "(key)", "keygen",
                 "buffers too small: PK_KEY_TEXT_MAX bytes each");
  if (rc == PK_OK) {
    memcpy(pub, pt, strlen(pt) + 1);
    memcpy(sec, st, strlen(st) + 1);
  }
  memset(st, 0, sizeof st);
  return rc;
}

/* Read a manifest whole and parse it (the buffer is kept: it is what is
   signed). */
static int load(pk_host *h, const char *path, unsigned char **buf, size_t *n,
                pk__manifest **m) {
  int rc = pk__os_read_file(path, PK__MF_MAX_FILE, host_alloc, h, buf, n);
  if (rc == PK_ELIMIT)
    return pk__err(h, rc, path, "manifest",
                   "the file is %zu bytes, more than the limit of %zu", *n,
                   PK__MF_MAX_FILE);
  if (rc == PK_ENOENT)
    return pk__err(h, rc, path, "manifest", "no such file");
  if (rc < 0)
    return pk__err(h, rc, path, "manifest", "cannot read the file");
  if ((rc = pk__manifest_parse(h, path, (const char *)*buf, *n, m)) < 0) {
    pk__free(h, *buf);
    *buf = NULL;
  }
  return rc;
}

int pk_manifest_sign(pk_host *h, const char *path, const char *seckey,
                     const char *password, const char *trusted_comment) {
  pk__ms_sec s;
  unsigned char *buf = NULL;
  size_t n = 0;
  pk__manifest *m = NULL;
  char why[200], sigpath[4096], tc[512], *out = NULL;
  const char *base;
  FILE *f;
  int rc;

  if (h == NULL)
    return PK_EINVAL;
  if (path == NULL || seckey == NULL)
    return pk__err(h, PK_EINVAL, path ? path : "(null)", "sign",
                   "path and seckey must not be NULL");
  if (snprintf(sigpath, sizeof sigpath, "%s.minisig", path) >=
      (int)sizeof sigpath)
    return pk__err(h, PK_ELIMIT, path, "sign", "path too long");
  if ((rc = pk__ms_sec_parse(seckey, strlen(seckey), password, &s, why,
                             sizeof why)) < 0)
    return pk__err(h, rc, path, "sign", "%s", why);
  if ((rc = load(h, path, &buf, &n, &m)) < 0)
    goto done;
  if (trusted_comment == NULL) {
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(tc, sizeof tc, "timestamp:%lu\tfile:%.400s\thashed",
             (unsigned long)time(NULL), base);
    trusted_comment = tc;
  }
  if ((out = pk__alloc(h, PK__MS_SIGFILE_MAX)) == NULL) {
    rc = pk__err(h, PK_ENOMEM, path, "sign", "out of memory");
    goto done;
  }
  if ((rc = pk__ms_sign(&s, buf, n, trusted_comment, out, why, sizeof why)) <
      0) {
    rc = pk__err(h, rc, path, "sign", "%s", why);
    goto done;
  }
  if ((f = fopen(sigpath, "w")) == NULL) {
    rc = pk__err(h, PK_EIO, sigpath, "sign", "cannot create the file");
    goto done;
  }
  if (fputs(out, f) < 0 || fclose(f) != 0) {
    rc = pk__err(h, PK_EIO, sigpath, "sign", "cannot write the file");
    goto done;
  }
  rc = PK_OK;
done:
  memset(&s, 0, sizeof s);
  pk__free(h, out);
  pk__manifest_free(h, m);
  pk__free(h, buf);
  return rc;
}

int pk_manifest_verify(pk_host *h, const char *path, const char *pubkey) {
  pk__ms_pub one, keys[PK__MAX_KEYS];
  size_t nkeys = 0, i;
  unsigned char *buf = NULL;
  size_t n = 0;
  pk__manifest *m = NULL;
  char why[200];
  int rc;

  if (h == NULL)
    return PK_EINVAL;
  if (path == NULL)
    return pk__err(h, PK_EINVAL, "(null)", "verify", "path is NULL");
  if (pubkey != NULL) {
    if (pk__ms_pub_parse(pubkey, strlen(pubkey), &one, why, sizeof why) < 0)
      return pk__err(h, PK_EINVAL, path, "verify", "%s", why);
    keys[0] = one;
    nkeys = 1;
  } else {
    for (i = 0; i < h->nkeys; i++) {
      memcpy(keys[i].id, h->keys[i].id, 8);
      memcpy(keys[i].pk, h->keys[i].pk, 32);
    }
    nkeys = h->nkeys;
  }
  rc = pk__os_read_file(path, PK__MF_MAX_FILE, host_alloc, h, &buf, &n);
  if (rc == PK_ELIMIT)
    return pk__err(h, rc, path, "manifest",
                   "the file is %zu bytes, more than the limit of %zu", n,
                   PK__MF_MAX_FILE);
  if (rc < 0)
    return pk__err(h, rc, path, "manifest",
                   rc == PK_ENOENT ? "no such file" : "cannot read the file");
  /* The signature first: nothing else of an unsigned file is read. */
  if ((rc = pk__manifest_check_sig(h, path, buf, n, keys, nkeys)) < 0)
    goto done;
  if ((rc = pk__manifest_parse(h, path, (const char *)buf, n, &m)) < 0)
    goto done;
  for (i = 0; i < m->nart; i++)
    if ((rc = pk__artifact_check(h, m, path, &m->art[i])) < 0)
      goto done;
done:
  pk__manifest_free(h, m);
  pk__free(h, buf);
  return rc;
}
