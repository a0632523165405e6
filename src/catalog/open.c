/*
 * open.c: opening a plugin through its manifest. pk_plugin_open hands a
 * NAME.plugkit here; we check its signature under the trust policy, parse
 * it, check the ABI range, choose an artifact, open it once beneath the
 * manifest's folder and copy it into a private file while checking its
 * SHA-256 (as a bundle's member: pk__artifact_open_copy), then open that
 * copy with the caller's options, its backend forced to the artifact's (a
 * "wasm" artifact is never read as native code, whatever its bytes). The
 * file in the folder is never opened again by path: what is loaded is
 * exactly what was hashed.
 */
#include "bundle.h"
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

int pk__manifest_folder(const char *mpath, char *dir, size_t cap) {
  const char *slash = strrchr(mpath, '/');
  size_t n = slash == NULL ? 0 : (size_t)(slash - mpath);
  if (slash == NULL || n == 0) {
    memcpy(dir, slash == NULL ? "." : "/", 2);
    return 0;
  }
  if (n >= cap)
    return -1;
  memcpy(dir, mpath, n);
  dir[n] = '\0';
  return 0;
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

/* Open artifact a beneath the manifest's folder, following no symbolic
   link: the fd (the caller's to close) and its size, or the error with
   the message set. `file` is the artifact's path, for messages. */
static int open_artifact(pk_host *h, const char *mpath, const pk__artifact *a,
                         const char *file, int *out_fd, uint64_t *out_size) {
  char dir[4096];
  pk__os_stat st;
  int root, fd;

  if (pk__manifest_folder(mpath, dir, sizeof dir) < 0)
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
  *out_fd = fd;
  *out_size = st.size;
  return PK_OK;
}

/*
 * Hash artifact a from fd (size bytes when opened), writing every byte
 * hashed to `to` when it is >= 0 (the private copy the plugin is loaded
 * from: exactly the bytes checked), and compare with its pin. The first
 * bytes (up to cap) go to `first` when it is not NULL. *out_manifest: the
 * file looks like a manifest (which an artifact may not be: no chains,
 * no loops). PK_OK or the error with the message set.
 */
static int hash_artifact(pk_host *h, const char *file, const pk__artifact *a,
                         int fd, uint64_t size, int to, unsigned char *first,
                         size_t cap, size_t *out_nfirst, uint64_t *out_done,
                         int *out_manifest) {
  char want_hex[65], got_hex[65], err[256];
  unsigned char chunk[16384];
  pk__sha256 s;
  uint8_t got[32];
  long r = 0;
  int head = 1;

  pk__sha256_init(&s);
  /* At most the size it had when opened: a growing file cannot make this
     read for ever (and then fails the hash). */
  for (;;) {
    size_t want = sizeof chunk;
    if (s.len >= size)
      break;
    if (size - s.len < want)
      want = (size_t)(size - s.len);
    if ((r = pk__os_read(fd, chunk, want)) <= 0)
      break;
    if (head && out_manifest != NULL)
      *out_manifest =
          pk__manifest_probe(file, chunk, (size_t)r < 512 ? (size_t)r : 512);
    if (head && first != NULL) {
      *out_nfirst = (size_t)r < cap ? (size_t)r : cap;
      memcpy(first, chunk, *out_nfirst);
    }
    head = 0;
    pk__sha256_update(&s, chunk, (size_t)r);
    if (to >= 0 && pk__os_write_all(to, chunk, (size_t)r, err, sizeof err) < 0)
      return pk__err(h, PK_EIO, file, "open", "%s", err);
  }
  if (r < 0)
    return pk__err(h, PK_EIO, file, "hash", "cannot read the artifact");
  if (out_done != NULL)
    *out_done = s.len;
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
  char file[4096];
  uint64_t size;
  int fd, rc;
  if ((rc = pk__artifact_path(h, m, mpath, a, file, sizeof file)) < 0 ||
      (rc = open_artifact(h, mpath, a, file, &fd, &size)) < 0)
    return rc;
  rc = hash_artifact(h, file, a, fd, size, -1, NULL, 0, NULL, NULL, NULL);
  pk__os_close(fd);
  return rc;
}

/* pk__artifact_fill for a manifest's artifact: from the fd opened
   beneath the folder, the one its hash is computed on. */
typedef struct art_ctx {
  const char *file;
  const pk__artifact *a;
  int fd;
  uint64_t size;
} art_ctx;

static int fill_artifact(pk_host *h, void *ctx, int to, unsigned char *first,
                         size_t cap, size_t *out_nfirst, uint64_t *out_size) {
  const art_ctx *c = ctx;
  int is_mf = 0, rc;
  *out_nfirst = 0;
  rc = hash_artifact(h, c->file, c->a, c->fd, c->size, to, first, cap,
                     out_nfirst, out_size, &is_mf);
  if (rc == PK_OK && is_mf)
    rc = pk__err(h, PK_EFORMAT, c->file, "manifest",
                 "artifact [%s] is itself a manifest: an artifact is a "
                 "plugin file",
                 c->a->backend);
  return rc;
}

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
  pk_plugin *p = NULL;
  art_ctx ac;
  const char *base;
  char file[4096];
  int rc, policy = o->trust != 0 ? o->trust : h->trust;

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
  /* The artifact is opened once, beneath the folder, and copied into a
     private file while it is hashed; the plugin is loaded from that copy:
     what runs is exactly what was checked, whatever happens to the
     folder meanwhile. */
  if ((rc = pk__artifact_path(h, m, path, a, file, sizeof file)) < 0 ||
      (rc = open_artifact(h, path, a, file, &ac.fd, &ac.size)) < 0)
    goto done;
  ac.file = file;
  ac.a = a;
  base = strrchr(a->path, '/');
  rc = pk__artifact_open_copy(h, file, base != NULL ? base + 1 : a->path, a,
                              o, fill_artifact, &ac, &p);
  pk__os_close(ac.fd);
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
