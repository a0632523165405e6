/*
 * open.c: opening a plugin through its manifest. pk_plugin_open hands a
 * NAME.plugkit here; we check its signature under the trust policy, parse
 * it, check the ABI range, choose an artifact, check its SHA-256 and open
 * it with the caller's options, its backend forced to the artifact's (a
 * "wasm" artifact is never read as native code, whatever its bytes).
 */
#include "manifest.h"
#include "minisign.h"
#include "../os/os.h"

#include <stdio.h>
#include <string.h>

static void *host_alloc(void *ud, size_t n) { return pk__alloc(ud, n); }

void pk__target_this(char out[PK__MF_MAX_TARGET + 1]) {
  snprintf(out, PK__MF_MAX_TARGET + 1, "%s-%s",
           pk__os_elf_machine_name(pk__os_elf_machine()), pk__os_system());
}

static int built(const char *name) {
  const char *const *b;
  for (b = pk_backends(); *b != NULL; b++)
    if (strcmp(*b, name) == 0)
      return 1;
  return 0;
}

int pk__manifest_pick(pk_host *h, const pk__manifest *m, const char *backend,
                      int policy, const pk__artifact **out) {
  static const char *const order[] = {"native", "wasm",    "lua",
                                      "source", "process", NULL};
  char target[PK__MF_MAX_TARGET + 1], offered[512], names[128];
  size_t i, j, k = 0, nn = 0;
  const char *const *b;

  pk__target_this(target);
  for (i = 0; order[i] != NULL; i++) {
    int sandboxed = strcmp(order[i], "wasm") == 0 ||
                    strcmp(order[i], "lua") == 0;
    if ((backend != NULL && strcmp(backend, order[i]) != 0) ||
        (policy == PK_ARTIFACTS_SANDBOXED && !sandboxed) || !built(order[i]))
      continue;
    for (j = 0; j < m->nart; j++) {
      const pk__artifact *a = &m->art[j];
      if (strcmp(a->backend, order[i]) == 0 &&
          (a->target == NULL || strcmp(a->target, target) == 0)) {
        *out = a;
        return PK_OK;
      }
    }
  }
  offered[0] = names[0] = '\0';
  for (j = 0; j < m->nart && k + 1 < sizeof offered; j++) {
    int w = snprintf(offered + k, sizeof offered - k, "%s%s%s%s",
                     j ? ", " : "", m->art[j].backend,
                     m->art[j].target ? " " : "",
                     m->art[j].target ? m->art[j].target : "");
    if (w < 0)
      break;
    k += (size_t)w;
  }
  for (b = pk_backends(); *b != NULL && nn + 1 < sizeof names; b++) {
    int w = snprintf(names + nn, sizeof names - nn, "%s%s",
                     b != pk_backends() ? ", " : "", *b);
    if (w < 0)
      break;
    nn += (size_t)w;
  }
  return pk__err(h, PK_EARCH, m->file, "manifest",
                 "no artifact this host may load (target %s; backends "
                 "built: %s%s%s%s%s); the manifest has: %s",
                 target, names,
                 policy == PK_ARTIFACTS_SANDBOXED ? "; sandboxed only" : "",
                 backend ? "; backend '" : "", backend ? backend : "",
                 backend ? "' asked for" : "", offered);
}

int pk__artifact_path(pk_host *h, const pk__manifest *m, const char *mpath,
                      const pk__artifact *a, char *buf, size_t cap) {
  const char *slash = strrchr(mpath, '/');
  size_t dn = slash ? (size_t)(slash - mpath) + 1 : 0, an = strlen(a->path);
  if (dn + an + 1 > cap)
    return pk__err(h, PK_ELIMIT, m->file, "manifest",
                   "the path of artifact '%s' is longer than %zu bytes",
                   a->path, cap - 1);
  memcpy(buf, mpath, dn);
  memcpy(buf + dn, a->path, an + 1);
  return PK_OK;
}

/* As pk__artifact_check; *out_manifest: the file itself looks like a
   manifest (which an artifact may not be: no chains, no loops). The file
   is opened beneath the manifest's folder, following no symbolic link,
   and hashed as it is read: no copy of it is held. */
static int check(pk_host *h, const pk__manifest *m, const char *mpath,
                 const pk__artifact *a, int *out_manifest) {
  char dir[4096], file[4096], want_hex[65], got_hex[65];
  const char *slash = strrchr(mpath, '/');
  unsigned char chunk[16384];
  pk__sha256 s;
  pk__os_stat st;
  uint8_t got[32];
  int root, fd, rc, first = 1;
  long r = 0;

  if ((rc = pk__artifact_path(h, m, mpath, a, file, sizeof file)) < 0)
    return rc;
  if (slash == NULL)
    memcpy(dir, ".", 2);
  else if (slash == mpath)
    memcpy(dir, "/", 2);
  else if ((size_t)(slash - mpath) < sizeof dir) {
    memcpy(dir, mpath, (size_t)(slash - mpath));
    dir[slash - mpath] = '\0';
  } else
    return pk__err(h, PK_ELIMIT, mpath, "hash", "path too long");
  if (pk__os_dir_open(dir, &root) < 0)
    return pk__err(h, PK_EIO, mpath, "hash",
                   "cannot open the manifest's folder");
  fd = pk__os_open_beneath(root, a->path, strlen(a->path), 0);
  pk__os_close(root);
  switch (fd) {
  case PK__OSE_NOENT:
  case PK__OSE_NOTDIR:
    return pk__err(h, PK_ENOENT, file, "hash", "no such artifact file");
  case PK__OSE_LOOP:
    return pk__err(h, PK_EFORMAT, file, "hash",
                   "the artifact path passes through a symbolic link: "
                   "artifacts are regular files inside the manifest's "
                   "folder");
  case PK__OSE_ACCES:
  case PK__OSE_ISDIR:
    return pk__err(h, PK_EFORMAT, file, "hash",
                   "the artifact is not a regular file (or cannot be read)");
  default:
    if (fd < 0)
      return pk__err(h, PK_EIO, file, "hash", "cannot open the artifact");
  }
  if (pk__os_fstat(fd, &st) < 0 || st.isdir) {
    pk__os_close(fd);
    return pk__err(h, PK_EFORMAT, file, "hash",
                   "the artifact is not a regular file");
  }
  if (st.size > PK__MAX_FILE) {
    pk__os_close(fd);
    return pk__err(h, PK_ELIMIT, file, "hash",
                   "the artifact is %llu bytes, more than the %zu a plugin "
                   "file may have",
                   (unsigned long long)st.size, PK__MAX_FILE);
  }
  pk__sha256_init(&s);
  /* At most the size it had when opened: a growing file cannot make this
     read for ever (and then fails the hash). */
  for (;;) {
    size_t want = sizeof chunk;
    if (s.len >= st.size)
      break;
    if (st.size - s.len < want)
      want = (size_t)(st.size - s.len);
    if ((r = pk__os_read(fd, chunk, want)) <= 0)
      break;
    if (first && out_manifest != NULL)
      *out_manifest = pk__manifest_probe(file, chunk, (size_t)r < 512 ? (size_t)r : 512);
    first = 0;
    pk__sha256_update(&s, chunk, (size_t)r);
  }
  pk__os_close(fd);
  if (r < 0)
    return pk__err(h, PK_EIO, file, "hash", "cannot read the artifact");
  pk__sha256_final(&s, got);
  if (memcmp(got, a->sha256, 32) != 0) {
    pk__hex(a->sha256, 32, want_hex);
    pk__hex(got, 32, got_hex);
    return pk__err(h, PK_EHASH, file, "hash",
                   "artifact [%s%s%s] does not match its manifest: sha256 "
                   "expected %s, actual %s",
                   a->backend, a->target ? " " : "",
                   a->target ? a->target : "", want_hex, got_hex);
  }
  return PK_OK;
}

int pk__artifact_check(pk_host *h, const pk__manifest *m, const char *mpath,
                       const pk__artifact *a) {
  return check(h, m, mpath, a, NULL);
}

/* This thread is opening a manifest's artifact (per thread: other threads
   open manifests of their own meanwhile). */
static _Thread_local int in_manifest;

/* The signature of the manifest's bytes, path + ".minisig", against the
   host's keys: PK_OK or the code with the message set. */
int pk__manifest_check_sig(pk_host *h, const char *path,
                           const unsigned char *buf, size_t n,
                           const pk__ms_pub *keys, size_t nkeys) {
  char sigpath[4096], why[256], keyid[17];
  unsigned char *sig = NULL;
  size_t nsig = 0, which;
  int rc;

  if (snprintf(sigpath, sizeof sigpath, "%s.minisig", path) >=
      (int)sizeof sigpath)
    return pk__err(h, PK_ELIMIT, path, "signature", "path too long");
  if (!pk__ms_available())
    return pk__err(h, PK_ENOSYS, path, "signature",
                   "signatures are checked with libsodium, which this build "
                   "of plugkit lacks (install libsodium-dev and rebuild)");
  if (nkeys == 0)
    return pk__err(h, PK_EUNTRUSTED, path, "signature",
                   "no trusted keys on this host (pk_host_trust_key)");
  rc = pk__os_read_file(sigpath, PK__MS_SIGFILE_MAX, host_alloc, h, &sig,
                        &nsig);
  if (rc == PK_ENOENT)
    return pk__err(h, PK_EUNTRUSTED, path, "signature",
                   "not signed: no signature file %s", sigpath);
  if (rc == PK_ELIMIT)
    return pk__err(h, PK_EBADSIG, sigpath, "signature",
                   "the signature file is %zu bytes, more than %u", nsig,
                   PK__MS_SIGFILE_MAX);
  if (rc < 0)
    return pk__err(h, rc == PK_EFORMAT ? PK_EBADSIG : rc, sigpath,
                   "signature", "cannot read the signature file");
  rc = pk__ms_verify(keys, nkeys, buf, n, (const char *)sig, nsig, &which,
                     keyid, NULL, why, sizeof why);
  pk__free(h, sig);
  if (rc < 0)
    return pk__err(h, rc, path, "signature", "%s (key id %s, in %s)", why,
                   keyid[0] ? keyid : "unreadable", sigpath);
  return PK_OK;
}

/* The calling thread's last message (the signature failure) to the log. */
static void warn(pk_host *h) {
  const char *msg = pk_host_errmsg(h);
  if (h->log != NULL)
    h->log(h->log_ud, PK_LOG_WARN, "plugkit", msg, strlen(msg));
}

int pk__manifest_open(pk_host *h, const char *path, const pk_open_opts *o,
                      pk_plugin **out_plugin) {
  unsigned char *buf = NULL;
  size_t n = 0;
  pk__manifest *m = NULL;
  const pk__artifact *a;
  pk_open_opts ao;
  pk_plugin *p = NULL;
  char file[4096];
  int rc, policy = o->trust != 0 ? o->trust : h->trust, is_mf = 0;

  /* An artifact is a plugin file: even one swapped for a manifest after
     its check is not followed (no chains, no recursion). */
  if (in_manifest)
    return pk__err(h, PK_EFORMAT, path, "manifest",
                   "an artifact cannot be a manifest itself");
  if (policy == PK_TRUST_DEFAULT)
    policy = PK_TRUST_OFF;
  if (policy < PK_TRUST_OFF || policy > PK_TRUST_REQUIRE)
    return pk__err(h, PK_EINVAL, path, "open",
                   "unknown trust policy %d (a pk_trust)", policy);
  if (o->artifacts != PK_ARTIFACTS_ANY &&
      o->artifacts != PK_ARTIFACTS_SANDBOXED)
    return pk__err(h, PK_EINVAL, path, "open",
                   "unknown artifacts policy %d (a pk_artifacts)",
                   o->artifacts);
  rc = pk__os_read_file(path, PK__MF_MAX_FILE, host_alloc, h, &buf, &n);
  if (rc == PK_ELIMIT)
    return pk__err(h, rc, path, "manifest",
                   "the file is %zu bytes, more than the limit of %zu", n,
                   PK__MF_MAX_FILE);
  if (rc < 0)
    return pk__err(h, rc, path, "manifest", "cannot read the file");
  if (policy != PK_TRUST_OFF) {
    pk__ms_pub keys[PK__MAX_KEYS];
    size_t i;
    for (i = 0; i < h->nkeys; i++) {
      memcpy(keys[i].id, h->keys[i].id, 8);
      memcpy(keys[i].pk, h->keys[i].pk, 32);
    }
    rc = pk__manifest_check_sig(h, path, buf, n, keys, h->nkeys);
    if (rc < 0 && policy == PK_TRUST_REQUIRE)
      goto done;
    if (rc < 0)
      warn(h);
  }
  if ((rc = pk__manifest_parse(h, path, (const char *)buf, n, &m)) < 0)
    goto done;
  if ((rc = pk__manifest_check_abi(h, m, path)) < 0)
    goto done;
  /* Under process isolation opts.backend names the child's backend. */
  if ((rc = pk__manifest_pick(h, m, o->backend, o->artifacts, &a)) < 0)
    goto done;
  if ((rc = pk__artifact_path(h, m, path, a, file, sizeof file)) < 0 ||
      (rc = check(h, m, path, a, &is_mf)) < 0)
    goto done;
  if (is_mf) {
    rc = pk__err(h, PK_EFORMAT, file, "manifest",
                 "artifact [%s] is itself a manifest: an artifact is a "
                 "plugin file",
                 a->backend);
    goto done;
  }
  ao = *o;
  ao.size = sizeof ao;
  ao.backend = a->backend;
  if (o->isolation == PK_ISOLATE_PROCESS && strcmp(a->backend, "process") == 0)
    ao.backend = NULL; /* an executable: the child runs it as it is */
  ao.trust = 0;
  ao.artifacts = 0;
  in_manifest = 1;
  rc = pk_plugin_open(h, file, &ao, &p);
  in_manifest = 0;
  if (rc < 0)
    goto done;
  /* The manifest speaks for the plugin: it must be the same one. */
  if (p->name == NULL || strcmp(p->name, m->name) != 0 ||
      p->version == NULL || strcmp(p->version, m->version_text) != 0) {
    rc = pk__err(h, PK_EFORMAT, path, "manifest",
                 "the manifest names %s %s, but artifact %s declares %s %s",
                 m->name, m->version_text, file, p->name ? p->name : "?",
                 p->version ? p->version : "?");
    pk_plugin_close(p);
    goto done;
  }
  if ((p->manifest = pk__strdup(h, path)) == NULL) {
    rc = pk__err(h, PK_ENOMEM, path, "manifest", "out of memory");
    pk_plugin_close(p);
    goto done;
  }
  *out_plugin = p;
  rc = PK_OK;
done:
  pk__manifest_free(h, m);
  pk__free(h, buf);
  return rc;
}
