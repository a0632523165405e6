/*
 * catalog.c: what each file of a scan is (without running it), the
 * catalog's entries, and dependency resolution into a load order.
 */
#include "catalog.h"
#include "bundle.h"
#include "manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The time a probe in a child may take, handshake and init included. */
#define PROBE_TIMEOUT_MS 10000

static void *cat_alloc(void *ud, size_t n) {
  return pk__alloc((pk_host *)ud, n);
}

static const char *base_name(const char *path) {
  const char *s = strrchr(path, '/');
  return s ? s + 1 : path;
}

/* Set a status other than OK, with the host's message as the reason. */
static int fail_rec(pk_host *h, pk__cat_rec *r, const char *path, int status,
                    int error) {
  r->status = status;
  r->error = error;
  return pk__cat_rec_set(h, r, base_name(path), NULL, NULL, NULL, NULL,
                         pk_host_errmsg(h));
}

/* The backend whose probe is surest of the file, or NULL. */
static const pk__backend *probe_backend(const char *path, int *out_bundle) {
  unsigned char head[512];
  size_t n = 0, i;
  int isdir = 0, best = 0;
  const pk__backend *be = NULL;
  *out_bundle = 0;
  if (pk__os_read_head(path, head, sizeof head, &n, &isdir) < 0 || isdir)
    return NULL;
  if (pk__bundle_is(head, n)) {
    *out_bundle = 1;
    return NULL;
  }
  for (i = 0; pk__backends[i] != NULL; i++) {
    int score = pk__backends[i]->probe(head, n, path, 0);
    if (score > best) {
      best = score;
      be = pk__backends[i];
    }
  }
  return be;
}

/* Fill r from an open plugin. */
static int from_plugin(pk_host *h, pk_plugin *p, pk__cat_rec *r) {
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  pk_plugin_info_get(p, &info);
  r->kind = PK__CAT_ARTIFACT;
  r->status = PK_CATALOG_OK;
  r->error = 0;
  r->abi_major = info.abi_major;
  r->abi_minor = info.abi_minor;
  return pk__cat_rec_set(h, r, info.name, info.version, info.backend, NULL,
                         NULL, NULL);
}

/*
 * A plugin that says what it is only by running (a Python plugin): opened
 * once, in a child process, under a deadline. A crash or hang there marks
 * it PK_CATALOG_CRASHED, which the cache keeps until the file changes.
 */
static int probe_in_child(pk_host *h, const char *path, pk__cat_rec *r) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  int rc;
  o.backend = "process";
  o.call_timeout_ms = PROBE_TIMEOUT_MS;
  rc = pk_plugin_open(h, path, &o, &p);
  if (rc == PK_OK) {
    rc = from_plugin(h, p, r);
    pk_plugin_close(p);
    return rc;
  }
  if (rc == PK_ENOMEM)
    return rc;
  r->kind = PK__CAT_ARTIFACT;
  if (rc == PK_ECRASH || rc == PK_ETIMEOUT)
    return fail_rec(h, r, path, PK_CATALOG_CRASHED, rc);
  return fail_rec(h, r, path,
                  rc == PK_EABI || rc == PK_EARCH ? PK_CATALOG_INCOMPATIBLE
                                                  : PK_CATALOG_INVALID,
                  rc);
}

int pk__cat_artifact(pk_host *h, const char *path, const pk_scan_opts *o,
                     pk__cat_rec *r) {
  pk_open_opts oo = PK_OPEN_OPTS_INIT;
  const pk__backend *be;
  pk_plugin *p = NULL;
  int rc, bundle;

  be = probe_backend(path, &bundle);
  if (bundle)
    return pk__cat_bundle(h, path, o, r);
  if (be == NULL) {
    r->kind = PK__CAT_NONE; /* nothing of ours */
    return pk__cat_rec_set(h, r, NULL, NULL, NULL, NULL, NULL, NULL);
  }
  /* Read from the file (an executable without the descriptor is refused
     with PK_ENODESC, never run) or run in a budgeted sandbox. */
  oo.backend = be->name;
  oo.describe_only = 1;
  rc = pk_plugin_open(h, path, &oo, &p);
  if (rc == PK_OK) {
    rc = from_plugin(h, p, r);
    pk_plugin_close(p);
    return rc;
  }
  if (rc == PK_ENOMEM)
    return rc;
  r->kind = PK__CAT_ARTIFACT;
  if (rc == PK_ENOSYS && strcmp(be->name, "process") == 0) {
    if (o->probe)
      return probe_in_child(h, path, r);
    r->status = PK_CATALOG_UNPROBED;
    r->error = PK_ENOSYS;
    return pk__cat_rec_set(h, r, base_name(path), NULL, "process", NULL,
                           NULL,
                           "its metadata can only be read by running it: "
                           "scan with probe = 1 to open it once in a child "
                           "process");
  }
  return fail_rec(h, r, path,
                  rc == PK_EABI || rc == PK_EARCH ? PK_CATALOG_INCOMPATIBLE
                                                  : PK_CATALOG_INVALID,
                  rc);
}

/* Fill r from a parsed manifest: its backends, grants, deps. */
static int from_manifest(pk_host *h, const pk__manifest *m, pk__cat_rec *r) {
  pk__cat_buf be, dp;
  size_t i;
  int rc = 0;
  memset(&be, 0, sizeof be);
  memset(&dp, 0, sizeof dp);
  be.h = dp.h = h;
  rc |= pk__cat_buf_put(&be, "", 0);
  rc |= pk__cat_buf_put(&dp, "", 0);
  for (i = 0; i < m->nart; i++) {
    const char *b = m->art[i].backend;
    size_t k = strlen(b);
    const char *f = strstr(be.p, b);
    if (f != NULL && (f == be.p || f[-1] == ',') && (f[k] == ',' || !f[k]))
      continue; /* listed already */
    if (be.n > 0)
      rc |= pk__cat_buf_put(&be, ",", 1);
    rc |= pk__cat_buf_put(&be, b, k);
  }
  for (i = 0; i < m->ndeps; i++) {
    if (i > 0) /* not ", ": a range holds commas (">=1.2, <2") */
      rc |= pk__cat_buf_put(&dp, "; ", 2);
    rc |= pk__cat_buf_put(&dp, m->deps[i].name, strlen(m->deps[i].name));
    rc |= pk__cat_buf_put(&dp, " ", 1);
    rc |= pk__cat_buf_put(&dp, m->deps[i].range_text,
                          strlen(m->deps[i].range_text));
  }
  if (rc == 0)
    rc = pk__cat_rec_set(h, r, m->name, m->version_text, be.p, m->grants,
                         dp.p, NULL);
  pk__free(h, be.p);
  pk__free(h, dp.p);
  return rc ? PK_ENOMEM : PK_OK;
}

/* The manifest's ABI range against this host's. */
static int abi_ok(const pk__manifest *m) {
  pk__semver abi;
  memset(&abi, 0, sizeof abi);
  abi.major = PK_ABI_MAJOR;
  abi.minor = PK_ABI_MINOR;
  return m->abi_text == NULL || pk__range_match(&m->abi, &abi);
}

/* A status from a code of the manifest checks. */
static int status_of(int rc) {
  switch (rc) {
  case PK_EHASH:
    return PK_CATALOG_BAD_HASH;
  case PK_EBADSIG:
  case PK_EUNTRUSTED:
    return PK_CATALOG_BAD_SIGNATURE;
  case PK_EABI:
  case PK_EARCH:
    return PK_CATALOG_INCOMPATIBLE;
  default:
    return PK_CATALOG_INVALID;
  }
}

/* Keep the manifest's data but set a failing status. */
static int fail_keep(pk_host *h, pk__cat_rec *r, int rc) {
  char *d = pk__strdup(h, pk_host_errmsg(h));
  if (d == NULL)
    return PK_ENOMEM;
  pk__free(h, r->reason);
  r->reason = d;
  r->status = status_of(rc);
  r->error = rc;
  return PK_OK;
}

/*
 * A manifest: parsed, its signature checked when the host's policy asks
 * (pk_host_opts.trust), its ABI range, an artifact for this host, and the
 * hash of every artifact file (read, never run).
 */
int pk__cat_manifest(pk_host *h, const char *path, const pk_scan_opts *o,
                     pk__cat_rec *r) {
  unsigned char *buf = NULL;
  size_t n = 0, i;
  pk__manifest *m = NULL;
  const pk__artifact *a;
  int rc;
  (void)o;
  r->kind = PK__CAT_MANIFEST;
  rc = pk__os_read_file(path, PK__MF_MAX_FILE, cat_alloc, h, &buf, &n);
  if (rc < 0) {
    pk__err(h, rc, path, "manifest", "cannot read the file");
    return fail_rec(h, r, path, PK_CATALOG_INVALID, rc);
  }
  if ((rc = pk__manifest_parse(h, path, (const char *)buf, n, &m)) < 0) {
    pk__free(h, buf);
    return rc == PK_ENOMEM ? rc
                           : fail_rec(h, r, path, PK_CATALOG_INVALID, rc);
  }
  if ((rc = from_manifest(h, m, r)) < 0)
    goto done;
  r->status = PK_CATALOG_OK;
  if (h->trust == PK_TRUST_WARN || h->trust == PK_TRUST_REQUIRE) {
    pk__ms_pub keys[PK__MAX_KEYS];
    for (i = 0; i < h->nkeys; i++) {
      memcpy(keys[i].id, h->keys[i].id, 8);
      memcpy(keys[i].pk, h->keys[i].pk, 32);
    }
    if ((rc = pk__manifest_check_sig(h, path, buf, n, keys, h->nkeys)) < 0) {
      rc = fail_keep(h, r, rc);
      goto done;
    }
  }
  if (!abi_ok(m)) {
    pk__err(h, PK_EABI, path, "manifest",
            "the plugin needs plugkit ABI '%s'; this host has %d.%d.0",
            m->abi_text, PK_ABI_MAJOR, PK_ABI_MINOR);
    rc = fail_keep(h, r, PK_EABI);
    goto done;
  }
  if ((rc = pk__manifest_pick(h, m, NULL, PK_ARTIFACTS_ANY, &a)) < 0) {
    rc = fail_keep(h, r, rc);
    goto done;
  }
  for (i = 0; i < m->nart; i++) {
    if ((rc = pk__artifact_check(h, m, path, &m->art[i])) < 0) {
      rc = rc == PK_ENOMEM ? rc : fail_keep(h, r, rc);
      goto done;
    }
  }
  rc = PK_OK;
done:
  pk__manifest_free(h, m);
  pk__free(h, buf);
  return rc;
}

/* A bundle: indexed, its manifest read as above (its signature checked
   as a manifest's is: under `warn` too, a bad one is the entry's status,
   not a log line), each artifact's member hashed. */
int pk__cat_bundle(pk_host *h, const char *path, const pk_scan_opts *o,
                   pk__cat_rec *r) {
  pk__bundle b;
  pk__manifest *m = NULL;
  const pk__artifact *a;
  size_t i;
  int rc;
  (void)o;
  r->kind = PK__CAT_BUNDLE;
  if ((rc = pk__bundle_index(h, path, &b)) < 0)
    return rc == PK_ENOMEM ? rc
                           : fail_rec(h, r, path, PK_CATALOG_INVALID, rc);
  rc = pk__bundle_manifest(h, path, &b, PK_TRUST_OFF, &m);
  if (rc < 0) {
    pk__bundle_close(&b);
    return rc == PK_ENOMEM ? rc : fail_rec(h, r, path, status_of(rc), rc);
  }
  if ((rc = from_manifest(h, m, r)) < 0)
    goto done;
  r->status = PK_CATALOG_OK;
  if (h->trust == PK_TRUST_WARN || h->trust == PK_TRUST_REQUIRE) {
    if ((rc = pk__bundle_check_sig(h, path, &b)) < 0) {
      rc = rc == PK_ENOMEM ? rc : fail_keep(h, r, rc);
      goto done;
    }
  }
  if (!abi_ok(m)) {
    pk__err(h, PK_EABI, path, "manifest",
            "the plugin needs plugkit ABI '%s'; this host has %d.%d.0",
            m->abi_text, PK_ABI_MAJOR, PK_ABI_MINOR);
    rc = fail_keep(h, r, PK_EABI);
    goto done;
  }
  if ((rc = pk__manifest_pick(h, m, NULL, PK_ARTIFACTS_ANY, &a)) < 0) {
    rc = fail_keep(h, r, rc);
    goto done;
  }
  for (i = 0; i < m->nart; i++) {
    const pk__bmember *am = pk__bundle_find(&b, m->art[i].path);
    if (am == NULL) {
      pk__err(h, PK_ENOENT, path, "bundle",
              "artifact %s [%s] of the manifest is not in the bundle",
              m->art[i].path, m->art[i].backend);
      rc = fail_keep(h, r, PK_ENOENT);
      goto done;
    }
    if ((rc = pk__bundle_check_member(h, path, &b, am, &m->art[i])) < 0) {
      rc = rc == PK_ENOMEM ? rc : fail_keep(h, r, rc);
      goto done;
    }
  }
  rc = PK_OK;
done:
  pk__manifest_free(h, m);
  pk__bundle_close(&b);
  return rc;
}

/* A file's status (or the code saying it has none) into the digest. */
static void watch_stat(pk__sha256 *s, int rc, const pk__os_stat *st) {
  uint64_t v[6];
  memset(v, 0, sizeof v);
  v[0] = (uint64_t)(int64_t)rc;
  if (rc >= 0) {
    v[1] = st->size;
    v[2] = st->mtime_ns;
    v[3] = st->ctime_ns;
    v[4] = st->ino;
    v[5] = st->dev;
  }
  pk__sha256_update(s, v, sizeof v);
}

/* The files a manifest's verdict reads besides itself: its artifacts
   (stat'ed as pk__artifact_check opens them: beneath its folder, no
   symbolic link) and, when signatures are checked, NAME.plugkit.minisig.
   The manifest is read and parsed, nothing else is: a warm scan still
   hashes no artifact. One that does not parse has no other files. */
static void watch_manifest(pk_host *h, const char *path, int sigs,
                           pk__sha256 *s) {
  unsigned char *buf = NULL;
  size_t n = 0, i;
  pk__manifest *m = NULL;
  pk__os_stat st;
  char dir[4096], sigpath[4096];
  int root = -1, fd, rc;
  memset(&st, 0, sizeof st);
  if (sigs && (size_t)snprintf(sigpath, sizeof sigpath, "%s.minisig", path) <
                  sizeof sigpath) {
    rc = pk__os_open_file(sigpath, &fd, &st); /* followed, as it is read */
    if (rc == PK_OK)
      pk__os_close(fd);
    watch_stat(s, rc, &st);
  }
  if (pk__os_read_file(path, PK__MF_MAX_FILE, cat_alloc, h, &buf, &n) < 0)
    return;
  if (pk__manifest_parse(h, path, (const char *)buf, n, &m) < 0) {
    pk__free(h, buf);
    return;
  }
  if (pk__manifest_folder(path, dir, sizeof dir) < 0 ||
      pk__os_dir_open(dir, &root) < 0)
    root = -1;
  for (i = 0; i < m->nart; i++) {
    const pk__artifact *a = &m->art[i];
    memset(&st, 0, sizeof st);
    rc = root < 0 ? PK__OSE_IO
                  : pk__os_stat_beneath(root, a->path, strlen(a->path), &st);
    pk__sha256_update(s, a->path, strlen(a->path) + 1);
    watch_stat(s, rc, &st);
  }
  if (root >= 0)
    pk__os_close(root);
  pk__manifest_free(h, m);
  pk__free(h, buf);
}

void pk__cat_watch(pk_host *h, const char *path, int kind, char out[65]) {
  pk__sha256 s;
  uint8_t d[32];
  size_t i;
  int sigs = h->trust == PK_TRUST_WARN || h->trust == PK_TRUST_REQUIRE;
  int32_t policy = sigs ? h->trust : PK_TRUST_OFF;
  out[0] = '\0';
  if (kind != PK__CAT_MANIFEST && kind != PK__CAT_BUNDLE)
    return;
  pk__sha256_init(&s);
  pk__sha256_update(&s, &policy, sizeof policy);
  for (i = 0; sigs && i < h->nkeys; i++) {
    pk__sha256_update(&s, h->keys[i].id, 8);
    pk__sha256_update(&s, h->keys[i].pk, 32);
  }
  if (kind == PK__CAT_MANIFEST)
    watch_manifest(h, path, sigs, &s);
  pk__sha256_final(&s, d);
  pk__hex(d, 32, out);
}

/* ---- entries ---------------------------------------------------------- */

/* The folder part of a rel ("" at the top). */
static size_t folder_len(const char *rel) {
  const char *s = strrchr(rel, '/');
  return s ? (size_t)(s - rel) : 0;
}

/* Is artifact record i spoken for by a manifest (or bundle) beside it?
   In a plugin folder, any manifest there speaks for its files; at the
   top of a scanned folder, one declaring the same plugin name. Records
   are sorted, so a folder's are neighbours. */
static int owned(const pk__cat_cache *c, size_t i) {
  const pk__cat_rec *r = &c->v[i];
  size_t k = folder_len(r->rel), j;
  for (j = i; j-- > 0;) {
    const pk__cat_rec *q = &c->v[j];
    if (folder_len(q->rel) != k || strncmp(q->rel, r->rel, k) != 0)
      break;
    if ((q->kind == PK__CAT_MANIFEST || q->kind == PK__CAT_BUNDLE) &&
        (k > 0 || (q->name != NULL && r->name != NULL &&
                   strcmp(q->name, r->name) == 0)))
      return 1;
  }
  for (j = i + 1; j < c->n; j++) {
    const pk__cat_rec *q = &c->v[j];
    if (folder_len(q->rel) != k || strncmp(q->rel, r->rel, k) != 0)
      break;
    if ((q->kind == PK__CAT_MANIFEST || q->kind == PK__CAT_BUNDLE) &&
        (k > 0 || (q->name != NULL && r->name != NULL &&
                   strcmp(q->name, r->name) == 0)))
      return 1;
  }
  return 0;
}

int pk__cat_add(pk_catalog *cat, const char *root, pk__cat_cache *c) {
  pk_host *h = cat->h;
  size_t i;
  /* An artifact its manifest beside it names is listed through it (the
     cache, written already, keeps its own record). */
  for (i = 0; i < c->n; i++)
    if (c->v[i].kind == PK__CAT_ARTIFACT && !c->v[i].folder && owned(c, i))
      c->v[i].kind = PK__CAT_NONE;
  for (i = 0; i < c->n; i++) {
    pk__cat_rec *r = &c->v[i];
    pk__cat_entry *e;
    size_t k;
    if (r->folder || r->kind == PK__CAT_NONE)
      continue;
    if (cat->n == cat->cap) {
      size_t cap = cat->cap ? cat->cap * 2 : 32;
      pk__cat_entry *v = pk__realloc(h, cat->v, cap * sizeof *v);
      if (v == NULL)
        return PK_ENOMEM;
      cat->v = v;
      cat->cap = cap;
    }
    e = &cat->v[cat->n];
    memset(e, 0, sizeof *e);
    k = strlen(root) + strlen(r->rel) + 2;
    if ((e->path = pk__alloc(h, k)) == NULL)
      return PK_ENOMEM;
    snprintf(e->path, k, "%s/%s", root, r->rel);
    e->r = *r; /* moved: the cache's copy is cleared */
    memset(r, 0, sizeof *r);
    cat->n++;
  }
  return PK_OK;
}

static void set_status(pk_catalog *cat, size_t i, int status, int error,
                       const char *reason) {
  pk__cat_entry *e = &cat->v[i];
  char *d = pk__strdup(cat->h, reason);
  e->r.status = status;
  e->r.error = error;
  if (d != NULL) { /* out of memory: the old reason stays */
    pk__free(cat->h, e->r.reason);
    e->r.reason = d;
  }
}

static const pk_catalog *sort_cat; /* qsort has no context argument */

static int cmp_by_name(const void *a, const void *b) {
  size_t i = *(const size_t *)a, j = *(const size_t *)b;
  int c = strcmp(sort_cat->v[i].r.name, sort_cat->v[j].r.name);
  return c != 0 ? c : (i < j ? -1 : i > j);
}

/* The entry called name[0..n) with status OK, via the sorted index. */
static size_t find_ok(const pk_catalog *cat, const size_t *byname,
                      const char *name, size_t n, int *found_bad) {
  size_t lo = 0, hi = cat->n;
  *found_bad = 0;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    const char *m = cat->v[byname[mid]].r.name;
    int c = strncmp(m, name, n);
    if (c == 0 && m[n] != '\0')
      c = 1;
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (; lo < cat->n; lo++) {
    const char *m = cat->v[byname[lo]].r.name;
    if (strncmp(m, name, n) != 0 || m[n] != '\0')
      break;
    if (cat->v[byname[lo]].r.status == PK_CATALOG_OK)
      return byname[lo];
    *found_bad = 1;
  }
  return (size_t)-1;
}

/* A dependency of an entry: the entry it resolves to (NO_DEP: none of
   that name is usable; BAD_VERSION: the one there is outside the range),
   and its name and range in the deps text. */
#define NO_DEP ((size_t)-1)
#define BAD_VERSION ((size_t)-2)
typedef struct dep {
  size_t to;
  size_t found; /* BAD_VERSION: the entry found, for the message */
  const char *name, *range;
  size_t len, rlen;
} dep;

/* Does the version of entry j satisfy range[0..n)? A range that does not
   parse (only a hostile cache could hold one) or a version that is not a
   semantic version satisfies nothing but "*". */
static int version_ok(const pk_catalog *cat, size_t j, const char *range,
                      size_t n) {
  pk__range r;
  pk__semver v;
  const char *ver = cat->v[j].r.version;
  if (n == 0 || (n == 1 && range[0] == '*'))
    return 1;
  if (pk__range_parse(range, n, &r, NULL, 0) != PK_OK ||
      pk__semver_parse(ver, strlen(ver), &v, NULL, 0) != PK_OK)
    return 0;
  return pk__range_match(&r, &v);
}

/* The dependencies of entry i, from its deps text
   "a >=1.0; b >=1.2, <2" (a name, then its range). */
static int deps_of(pk_catalog *cat, const size_t *byname, size_t i, dep **out,
                   size_t *out_n) {
  const char *s = cat->v[i].r.deps;
  size_t n = 0, cap = 0;
  dep *v = NULL;
  while (*s != '\0') {
    const char *e = strchr(s, ';');
    size_t len = e ? (size_t)(e - s) : strlen(s), k = 0;
    int bad;
    while (len > 0 && *s == ' ')
      s++, len--;
    while (len > 0 && s[len - 1] == ' ')
      len--;
    while (k < len && s[k] != ' ')
      k++;
    if (k > 0) {
      dep *d;
      if (n == cap) {
        cap = cap ? cap * 2 : 4;
        if ((d = pk__realloc(cat->h, v, cap * sizeof *d)) == NULL) {
          pk__free(cat->h, v);
          return PK_ENOMEM;
        }
        v = d;
      }
      d = &v[n++];
      d->name = s;
      d->len = k;
      d->range = s + k;
      d->rlen = len - k;
      while (d->rlen > 0 && *d->range == ' ')
        d->range++, d->rlen--;
      d->to = find_ok(cat, byname, s, k, &bad);
      d->found = d->to;
      if (d->to != NO_DEP && !version_ok(cat, d->to, d->range, d->rlen))
        d->to = BAD_VERSION;
    }
    if (e == NULL)
      break;
    s = e + 1;
  }
  *out = v;
  *out_n = n;
  return PK_OK;
}

int pk__cat_resolve(pk_catalog *cat) {
  pk_host *h = cat->h;
  size_t *byname = NULL, *stack = NULL, *next = NULL, i, sp;
  unsigned char *state = NULL; /* 0 new, 1 on the stack, 2 ok, 3 bad */
  dep **deps = NULL;
  size_t *ndeps = NULL;
  char msg[1024];
  int rc = PK_ENOMEM;

  if (cat->n == 0)
    goto ok;
  if ((byname = pk__alloc(h, cat->n * sizeof *byname)) == NULL ||
      (stack = pk__alloc(h, cat->n * sizeof *stack)) == NULL ||
      (next = pk__alloc(h, cat->n * sizeof *next)) == NULL ||
      (state = pk__alloc(h, cat->n)) == NULL ||
      (deps = pk__alloc(h, cat->n * sizeof *deps)) == NULL ||
      (ndeps = pk__alloc(h, cat->n * sizeof *ndeps)) == NULL ||
      (cat->order = pk__alloc(h, cat->n * sizeof *cat->order)) == NULL)
    goto done;
  memset(deps, 0, cat->n * sizeof *deps);
  memset(ndeps, 0, cat->n * sizeof *ndeps);
  /* Duplicates: the first entry of a name (scan order) wins. */
  for (i = 0; i < cat->n; i++)
    byname[i] = i;
  sort_cat = cat;
  qsort(byname, cat->n, sizeof *byname, cmp_by_name);
  for (i = 1; i < cat->n; i++) {
    pk__cat_entry *a = &cat->v[byname[i - 1]], *b = &cat->v[byname[i]];
    if (b->r.name[0] != '\0' && strcmp(a->r.name, b->r.name) == 0 &&
        b->r.status == PK_CATALOG_OK) {
      snprintf(msg, sizeof msg,
               "%s: catalog: plugin '%s' is also at %s, found first", b->path,
               b->r.name, a->path);
      if (a->r.status == PK_CATALOG_OK || a->r.status == PK_CATALOG_DUPLICATE)
        set_status(cat, byname[i], PK_CATALOG_DUPLICATE, PK_EINVAL, msg);
    }
  }
  for (i = 0; i < cat->n; i++) {
    state[i] = cat->v[i].r.status == PK_CATALOG_OK ? 0 : 3;
    if ((rc = deps_of(cat, byname, i, &deps[i], &ndeps[i])) < 0)
      goto done;
  }
  /* Depth first from every entry, without recursion: a hostile chain of
     thousands cannot exhaust the stack. */
  for (i = 0; i < cat->n; i++) {
    if (state[i] != 0)
      continue;
    sp = 0;
    stack[sp++] = i;
    next[i] = 0;
    state[i] = 1;
    while (sp > 0) {
      size_t t = stack[sp - 1];
      dep *d;
      if (state[t] == 3) { /* made bad while on the stack */
        sp--;
        continue;
      }
      if (next[t] == ndeps[t]) {
        state[t] = 2;
        cat->order[cat->norder++] = t;
        sp--;
        continue;
      }
      d = &deps[t][next[t]];
      if (d->to == BAD_VERSION) {
        const pk__cat_entry *f = &cat->v[d->found];
        snprintf(msg, sizeof msg,
                 "%s: catalog: needs plugin '%.*s' %.*s, but the one there "
                 "is version %s (%s)",
                 cat->v[t].path, (int)d->len, d->name, (int)d->rlen,
                 d->range, f->r.version, f->path);
        set_status(cat, t, PK_CATALOG_INCOMPATIBLE_DEP, PK_ENOENT, msg);
        state[t] = 3;
      } else if (d->to == NO_DEP) {
        int bad;
        find_ok(cat, byname, d->name, d->len, &bad);
        snprintf(msg, sizeof msg,
                 "%s: catalog: needs plugin '%.*s', which %s", cat->v[t].path,
                 (int)d->len, d->name,
                 bad ? "is there but unusable (see its entry)"
                     : "is in no scanned folder");
        set_status(cat, t, PK_CATALOG_MISSING_DEP, PK_ENOENT, msg);
        state[t] = 3;
      } else if (state[d->to] == 0) {
        stack[sp++] = d->to;
        next[d->to] = 0;
        state[d->to] = 1;
      } else if (state[d->to] == 2) {
        next[t]++;
      } else if (state[d->to] == 3) {
        snprintf(msg, sizeof msg,
                 "%s: catalog: needs plugin '%s', which is unusable (%s)",
                 cat->v[t].path, cat->v[d->to].r.name,
                 pk_catalog_status_name(cat->v[d->to].r.status));
        set_status(cat, t, PK_CATALOG_MISSING_DEP, PK_ENOENT, msg);
        state[t] = 3;
      } else { /* on the stack: a cycle from d->to up to t */
        size_t from = sp, j, k = 0;
        while (from > 0 && stack[from - 1] != d->to)
          from--;
        from--;
        k = (size_t)snprintf(msg, sizeof msg, "dependency cycle: ");
        for (j = from; j < sp && k < sizeof msg; j++)
          k += (size_t)snprintf(msg + k, sizeof msg - k, "%s -> ",
                                cat->v[stack[j]].r.name);
        if (k < sizeof msg)
          snprintf(msg + k, sizeof msg - k, "%s", cat->v[d->to].r.name);
        for (j = from; j < sp; j++) {
          char full[1400];
          snprintf(full, sizeof full, "%s: catalog: %s",
                   cat->v[stack[j]].path, msg);
          set_status(cat, stack[j], PK_CATALOG_CYCLE, PK_EINVAL, full);
          state[stack[j]] = 3;
        }
      }
    }
  }
ok:
  rc = PK_OK;
  for (i = 0; i < cat->n; i++) {
    pk__cat_entry *e = &cat->v[i];
    static const char *const kinds[] = {"", "manifest", "bundle", "artifact"};
    e->e.size = sizeof e->e;
    e->e.name = e->r.name;
    e->e.version = e->r.version;
    e->e.path = e->path;
    e->e.kind = kinds[e->r.kind];
    e->e.backends = e->r.backends;
    e->e.grants = e->r.grants;
    e->e.deps = e->r.deps;
    e->e.status = e->r.status;
    e->e.error = e->r.error;
    e->e.reason = e->r.reason;
    e->e.abi_major = e->r.abi_major;
    e->e.abi_minor = e->r.abi_minor;
  }
done:
  if (deps != NULL)
    for (i = 0; i < cat->n; i++)
      pk__free(h, deps[i]);
  pk__free(h, deps);
  pk__free(h, ndeps);
  pk__free(h, byname);
  pk__free(h, stack);
  pk__free(h, next);
  pk__free(h, state);
  return rc;
}

size_t pk_catalog_count(const pk_catalog *c) { return c ? c->n : 0; }

const pk_catalog_entry *pk_catalog_get(const pk_catalog *c, size_t i) {
  return c != NULL && i < c->n ? &c->v[i].e : NULL;
}

size_t pk_catalog_order(const pk_catalog *c, const size_t **out) {
  if (c == NULL) {
    if (out != NULL)
      *out = NULL;
    return 0;
  }
  if (out != NULL)
    *out = c->order;
  return c->norder;
}

void pk_catalog_free(pk_catalog *c) {
  size_t i;
  if (c == NULL)
    return;
  for (i = 0; i < c->n; i++) {
    pk__free(c->h, c->v[i].path);
    pk__cat_rec_free(c->h, &c->v[i].r);
  }
  pk__free(c->h, c->v);
  pk__free(c->h, c->order);
  pk__free(c->h, c);
}
