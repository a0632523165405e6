/*
 * scan.c: pk_catalog_scan, discovery without running plugin code.
 *
 * For each folder given, and each of its subfolders (a folder per
 * plugin), every file is classified: a manifest, a bundle, a file some
 * backend reads (then opened describe_only: read from the file, or run in
 * a budgeted sandbox), or nothing of ours. What was learnt is kept in the
 * folder's .plugkit-cache, keyed by each file's name, size, mtime, ctime
 * and inode, plus each subfolder's mtime, ctime and inode (a folder's
 * mtime changes when a file is added, removed or renamed in it; a ctime
 * changes with any change, and no one can set it back), and for a
 * manifest or bundle what its verdict also rests on (pk__cat_watch: the
 * trust policy and keys, a manifest's artifacts and signature file): a
 * rescan that finds every key unchanged stats the files, reads the
 * manifests and runs or hashes nothing. The cache is input like any other
 * file: parsed strictly, ignored whole at the first fault (then
 * rewritten), and what it says is only ever metadata, never a reason to
 * run or trust anything.
 */
#include "catalog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_NAME ".plugkit-cache"
/* 2: deps joined with "; "; 3: a manifest's and bundle's watch; 4: ctime
   in the key */
#define CACHE_MAGIC "plugkit-cache 4"
/* A cache larger than this is not read (ignored, then rewritten). */
#define CACHE_MAX ((size_t)32 << 20)
/* The most files one scan lists per folder, and folders per root: a
   hostile tree cannot make it allocate without bound. */
#define MAX_NAMES 100000u

static const char *const status_names[] = {
    "ok",        "invalid",  "incompatible", "missing_dep",
    "cycle",     "duplicate", "bad_hash",    "bad_signature",
    "crashed",   "unprobed",  "incompatible_dep"};

const char *pk_catalog_status_name(int s) {
  return s >= 0 && s < (int)(sizeof status_names / sizeof status_names[0])
             ? status_names[s]
             : "?";
}

/* ---- entries -------------------------------------------------------- */

void pk__cat_rec_free(pk_host *h, pk__cat_rec *r) {
  pk__free(h, r->rel);
  pk__free(h, r->name);
  pk__free(h, r->version);
  pk__free(h, r->backends);
  pk__free(h, r->grants);
  pk__free(h, r->deps);
  pk__free(h, r->reason);
  pk__free(h, r->watch);
  memset(r, 0, sizeof *r);
}

static char *dup_or_empty(pk_host *h, const char *s) {
  return pk__strdup(h, s ? s : "");
}

/* Set the record's strings (each copied; NULL reads as ""). */
int pk__cat_rec_set(pk_host *h, pk__cat_rec *r, const char *name,
                    const char *version, const char *backends,
                    const char *grants, const char *deps,
                    const char *reason) {
  pk__free(h, r->name);
  pk__free(h, r->version);
  pk__free(h, r->backends);
  pk__free(h, r->grants);
  pk__free(h, r->deps);
  pk__free(h, r->reason);
  r->name = dup_or_empty(h, name);
  r->version = dup_or_empty(h, version);
  r->backends = dup_or_empty(h, backends);
  r->grants = dup_or_empty(h, grants);
  r->deps = dup_or_empty(h, deps);
  r->reason = dup_or_empty(h, reason);
  return r->name && r->version && r->backends && r->grants && r->deps &&
                 r->reason
             ? PK_OK
             : PK_ENOMEM;
}

/* ---- the cache file ------------------------------------------------- */

/* A field: printable ASCII but '%', tab and newline as is; the rest as
   %XX. */
static int put_field(pk__cat_buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s != '\0'; s++) {
    unsigned char c = (unsigned char)*s;
    if (c > 0x20 && c < 0x7f && c != '%') {
      if (pk__cat_buf_put(b, (const char *)&c, 1) < 0)
        return PK_ENOMEM;
    } else {
      char e[3] = {'%', hex[c >> 4], hex[c & 15]};
      if (pk__cat_buf_put(b, e, 3) < 0)
        return PK_ENOMEM;
    }
  }
  return PK_OK;
}

int pk__cat_buf_put(pk__cat_buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    char *d;
    while (cap < b->n + n + 1)
      cap *= 2;
    if ((d = pk__realloc(b->h, b->p, cap)) == NULL)
      return PK_ENOMEM;
    b->p = d;
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
  return PK_OK;
}

static int put_u64(pk__cat_buf *b, uint64_t v) {
  char t[24];
  int k = snprintf(t, sizeof t, "%llu", (unsigned long long)v);
  return pk__cat_buf_put(b, t, (size_t)k);
}

static int put_rec(pk__cat_buf *b, const pk__cat_rec *r) {
  int rc = 0;
  if (r->folder) {
    rc |= pk__cat_buf_put(b, "D\t", 2);
    rc |= put_field(b, r->rel);
    rc |= pk__cat_buf_put(b, "\t", 1);
    rc |= put_u64(b, r->mtime);
    rc |= pk__cat_buf_put(b, "\t", 1);
    rc |= put_u64(b, r->ctime);
    rc |= pk__cat_buf_put(b, "\t", 1);
    rc |= put_u64(b, r->ino);
    rc |= pk__cat_buf_put(b, "\n", 1);
    return rc ? PK_ENOMEM : PK_OK;
  }
  rc |= pk__cat_buf_put(b, "F\t", 2);
  rc |= put_field(b, r->rel);
  rc |= pk__cat_buf_put(b, "\t", 1);
  rc |= put_u64(b, r->size);
  rc |= pk__cat_buf_put(b, "\t", 1);
  rc |= put_u64(b, r->mtime);
  rc |= pk__cat_buf_put(b, "\t", 1);
  rc |= put_u64(b, r->ctime);
  rc |= pk__cat_buf_put(b, "\t", 1);
  rc |= put_u64(b, r->ino);
  rc |= pk__cat_buf_put(b, "\t", 1);
  rc |= put_u64(b, (uint64_t)r->kind);
  rc |= pk__cat_buf_put(b, "\t", 1);
  rc |= put_u64(b, (uint64_t)r->status);
  rc |= pk__cat_buf_put(b, "\t", 1);
  rc |= put_u64(b, (uint64_t)-r->error);
  rc |= pk__cat_buf_put(b, "\t", 1);
  rc |= put_u64(b, r->abi_major);
  rc |= pk__cat_buf_put(b, "\t", 1);
  rc |= put_u64(b, r->abi_minor);
  {
    const char *f[7] = {r->name,  r->version, r->backends, r->grants,
                        r->deps,  r->reason,  r->watch ? r->watch : ""};
    int i;
    for (i = 0; i < 7; i++) {
      rc |= pk__cat_buf_put(b, "\t-", 2); /* '-': an empty field shows */
      rc |= put_field(b, f[i]);
    }
  }
  rc |= pk__cat_buf_put(b, "\n", 1);
  return rc ? PK_ENOMEM : PK_OK;
}

static int unhex(int c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

/* Decode field s[0..n) into a new string; NULL when malformed (or out of
   memory: the cache is ignored either way). */
static char *get_field(pk_host *h, const char *s, size_t n) {
  char *d = pk__alloc(h, n + 1);
  size_t i, k = 0;
  if (d == NULL)
    return NULL;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '%') {
      int a, b2;
      if (i + 2 >= n) {
        pk__free(h, d);
        return NULL;
      }
      a = unhex(s[i + 1]);
      b2 = unhex(s[i + 2]);
      if (a < 0 || b2 < 0 || (a == 0 && b2 == 0)) {
        pk__free(h, d);
        return NULL;
      }
      d[k++] = (char)(a * 16 + b2);
      i += 2;
    } else if (c > 0x20 && c < 0x7f) {
      d[k++] = (char)c;
    } else {
      pk__free(h, d);
      return NULL;
    }
  }
  d[k] = '\0';
  return d;
}

static int get_u64(const char *s, size_t n, uint64_t *out) {
  uint64_t v = 0;
  size_t i;
  if (n == 0 || n > 20)
    return -1;
  for (i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
      return -1;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 0;
}

/* Split line s[0..n) at tabs into at most `max` fields. */
static size_t split(const char *s, size_t n, const char **f, size_t *fl,
                    size_t max) {
  size_t k = 0, start = 0, i;
  for (i = 0; i <= n; i++)
    if (i == n || s[i] == '\t') {
      if (k == max)
        return max + 1;
      f[k] = s + start;
      fl[k] = i - start;
      k++;
      start = i + 1;
    }
  return k;
}

/* A cached path must be one the walk itself would make: "name" or
   "folder/name", no component empty or hidden ("." and ".."
   included): a cache naming "../x" cannot send the scan elsewhere. */
static int good_rel(const char *rel) {
  const char *slash = strchr(rel, '/');
  if (rel[0] == '.' || rel[0] == '/' || rel[0] == '\0')
    return 0;
  if (slash == NULL)
    return 1;
  return slash[1] != '.' && slash[1] != '\0' && strchr(slash + 1, '/') == NULL;
}

/* Parse one record line; PK_OK or PK_EFORMAT. */
static int parse_rec(pk_host *h, const char *s, size_t n, pk__cat_rec *r) {
  const char *f[19];
  size_t fl[19], k = split(s, n, f, fl, 18), i;
  uint64_t v[9];
  char *str[7];
  memset(r, 0, sizeof *r);
  if (k == 5 && fl[0] == 1 && f[0][0] == 'D') {
    if (get_u64(f[2], fl[2], &r->mtime) || get_u64(f[3], fl[3], &r->ctime) ||
        get_u64(f[4], fl[4], &r->ino))
      return PK_EFORMAT;
    if ((r->rel = get_field(h, f[1], fl[1])) == NULL || !good_rel(r->rel))
      return PK_EFORMAT;
    r->folder = 1;
    return PK_OK;
  }
  if (k != 18 || fl[0] != 1 || f[0][0] != 'F')
    return PK_EFORMAT;
  for (i = 0; i < 9; i++)
    if (get_u64(f[2 + i], fl[2 + i], &v[i]) != 0)
      return PK_EFORMAT;
  r->size = v[0];
  r->mtime = v[1];
  r->ctime = v[2];
  r->ino = v[3];
  if (v[4] > PK__CAT_KIND_MAX || v[5] > PK_CATALOG_UNPROBED ||
      v[6] > (uint64_t)-PK__ELAST || v[7] > UINT32_MAX || v[8] > UINT32_MAX)
    return PK_EFORMAT;
  r->kind = (int)v[4];
  r->status = (int)v[5];
  r->error = -(int)v[6];
  r->abi_major = (uint32_t)v[7];
  r->abi_minor = (uint32_t)v[8];
  if ((r->rel = get_field(h, f[1], fl[1])) == NULL || !good_rel(r->rel))
    return PK_EFORMAT;
  for (i = 0; i < 7; i++) {
    if (fl[11 + i] < 1 || f[11 + i][0] != '-')
      str[i] = NULL;
    else
      str[i] = get_field(h, f[11 + i] + 1, fl[11 + i] - 1);
    if (str[i] == NULL) {
      while (i-- > 0)
        pk__free(h, str[i]);
      return PK_EFORMAT;
    }
  }
  r->name = str[0];
  r->version = str[1];
  r->backends = str[2];
  r->grants = str[3];
  r->deps = str[4];
  r->reason = str[5];
  r->watch = str[6];
  return PK_OK;
}

static int cmp_rec(const void *a, const void *b) {
  return strcmp(((const pk__cat_rec *)a)->rel, ((const pk__cat_rec *)b)->rel);
}

static void *cache_alloc(void *ud, size_t n) {
  return pk__alloc((pk_host *)ud, n);
}

void pk__cat_cache_free(pk_host *h, pk__cat_cache *c) {
  size_t i;
  for (i = 0; i < c->n; i++)
    pk__cat_rec_free(h, &c->v[i]);
  pk__free(h, c->v);
  c->v = NULL;
  c->n = c->cap = 0;
}

/* Read `path`; on any fault the cache is left empty (and `bad` set, so
   it is rewritten). Only a cache this user wrote is read: a line whose
   keys match is believed, and anyone else who could write the file (a
   plugin folder others may write to, a file they own or left writable)
   could make those keys say anything. */
static void cache_load(pk_host *h, const char *path, pk__cat_cache *c) {
  unsigned char *data = NULL;
  size_t n = 0, at, ml = strlen(CACHE_MAGIC) + 1 + strlen(PK__CAT_VERSION);
  char why[256];
  int rc;
  memset(c, 0, sizeof *c);
  rc = pk__os_read_trusted(path, CACHE_MAX, cache_alloc, h, &data, &n, why,
                           sizeof why);
  if (rc == PK_ENOENT)
    return;
  if (rc < 0) {
    c->bad = 1;
    return;
  }
  if (n < ml + 1 || memcmp(data, CACHE_MAGIC " " PK__CAT_VERSION, ml) != 0 ||
      data[ml] != '\n')
    goto bad;
  for (at = ml + 1; at < n;) {
    const unsigned char *e = memchr(data + at, '\n', n - at);
    pk__cat_rec r;
    if (e == NULL)
      goto bad; /* a torn last line */
    if (c->n == c->cap) {
      size_t cap = c->cap ? c->cap * 2 : 64;
      pk__cat_rec *v;
      if (cap > MAX_NAMES * 2u ||
          (v = pk__realloc(h, c->v, cap * sizeof *v)) == NULL)
        goto bad;
      c->v = v;
      c->cap = cap;
    }
    if (parse_rec(h, (const char *)data + at, (size_t)(e - data) - at, &r) <
        0) {
      pk__cat_rec_free(h, &r);
      goto bad;
    }
    c->v[c->n++] = r;
    at = (size_t)(e - data) + 1;
  }
  pk__free(h, data);
  qsort(c->v, c->n, sizeof *c->v, cmp_rec);
  for (at = 1; at < c->n; at++)
    if (strcmp(c->v[at - 1].rel, c->v[at].rel) == 0) {
      pk__cat_cache_free(h, c); /* one key twice: which is meant? */
      c->bad = 1;
      return;
    }
  return;
bad:
  pk__free(h, data);
  pk__cat_cache_free(h, c);
  c->bad = 1;
}

/* The first record whose rel is not below `key`. */
static size_t cache_lower(const pk__cat_cache *c, const char *key) {
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (strcmp(c->v[mid].rel, key) < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

static const pk__cat_rec *cache_find(const pk__cat_cache *c,
                                     const char *rel) {
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int k = strcmp(c->v[mid].rel, rel);
    if (k == 0)
      return &c->v[mid];
    if (k < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* ---- the scan ------------------------------------------------------- */

typedef struct scan {
  pk_host *h;
  pk_catalog *cat;
  const pk_scan_opts *o;
  const char *root;
  int rootfd;
  pk__cat_cache old; /* the root's cache as read */
  pk__cat_cache now; /* what this scan learnt: the next cache */
  int dirty;         /* `now` differs from `old` */
} scan;

static int push_rec(scan *s, pk__cat_cache *c, pk__cat_rec *r) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    pk__cat_rec *v = pk__realloc(s->h, c->v, cap * sizeof *v);
    if (v == NULL)
      return PK_ENOMEM;
    c->v = v;
    c->cap = cap;
  }
  c->v[c->n++] = *r;
  memset(r, 0, sizeof *r);
  return PK_OK;
}

typedef struct names {
  pk_host *h;
  char **v;
  size_t n, cap;
  int rc;
} names;

static int names_each(void *ud, const char *name) {
  names *l = ud;
  if (name[0] == '.')
    return 0; /* hidden: the cache, editors' files */
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 32;
    char **v;
    if (l->n >= MAX_NAMES) {
      l->rc = PK_ELIMIT;
      return 1;
    }
    if ((v = pk__realloc(l->h, l->v, cap * sizeof *v)) == NULL) {
      l->rc = PK_ENOMEM;
      return 1;
    }
    l->v = v;
    l->cap = cap;
  }
  if ((l->v[l->n] = pk__strdup(l->h, name)) == NULL) {
    l->rc = PK_ENOMEM;
    return 1;
  }
  l->n++;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void names_free(names *l) {
  size_t i;
  for (i = 0; i < l->n; i++)
    pk__free(l->h, l->v[i]);
  pk__free(l->h, l->v);
}

/* List a folder, sorted, hidden names left out. */
static int list_sorted(pk_host *h, const char *dir, names *l) {
  int rc;
  memset(l, 0, sizeof *l);
  l->h = h;
  rc = pk__os_list_dir(dir, names_each, l);
  if (l->rc < 0)
    rc = l->rc;
  if (rc < 0) {
    names_free(l);
    return rc;
  }
  qsort(l->v, l->n, sizeof *l->v, cmp_str);
  return PK_OK;
}

static int is_manifest_name(const char *full) {
  size_t k = strlen(full);
  return k > 8 && strcmp(full + k - 8, ".plugkit") == 0;
}

/* Learn what the file `rel` (beneath the root) is, into *r, and what
   that rests on besides the file (r->watch). */
static int classify(scan *s, const char *full, pk__cat_rec *r) {
  size_t k = strlen(full);
  char watch[65];
  int rc;
  if (is_manifest_name(full)) {
    /* Taken before the verdict: an artifact changing meanwhile fails the
       next scan's match rather than hiding behind a stale verdict. */
    pk__cat_watch(s->h, full, PK__CAT_MANIFEST, watch);
    rc = pk__cat_manifest(s->h, full, s->o, r);
  } else {
    rc = k > 4 && strcmp(full + k - 4, ".pkb") == 0
             ? pk__cat_bundle(s->h, full, s->o, r)
             : pk__cat_artifact(s->h, full, s->o, r);
    pk__cat_watch(s->h, full, r->kind, watch); /* a bundle's: no files */
  }
  if (rc < 0)
    return rc;
  return (r->watch = pk__strdup(s->h, watch)) != NULL ? PK_OK : PK_ENOMEM;
}

/* May the old cache's record of a file stand for it? Its key must match
   the file's, and a manifest's or bundle's watch what it rests on now. */
static int still_good(scan *s, const pk__cat_rec *old, const char *full,
                      const pk__os_stat *st) {
  char watch[65];
  if (old == NULL || old->folder || old->size != st->size ||
      old->mtime != st->mtime_ns || old->ctime != st->ctime_ns ||
      old->ino != st->ino ||
      old->name == NULL ||
      (old->status == PK_CATALOG_UNPROBED && s->o->probe))
    return 0;
  if (old->kind != PK__CAT_MANIFEST && old->kind != PK__CAT_BUNDLE)
    return 1;
  pk__cat_watch(s->h, full, old->kind, watch);
  return strcmp(watch, old->watch) == 0;
}

/* One file: from the cache when its key matches, else classified. */
static int do_file(scan *s, const char *rel, const pk__os_stat *st) {
  char full[4096];
  pk__cat_rec *old = (pk__cat_rec *)cache_find(&s->old, rel);
  pk__cat_rec r;
  int rc;
  if ((size_t)snprintf(full, sizeof full, "%s/%s", s->root, rel) >=
      sizeof full) {
    s->dirty = 1;
    return PK_OK; /* a path this long is not ours to scan */
  }
  if (still_good(s, old, full, st)) {
    /* Taken over from the old cache (each record is matched once; its
       rel stays there for the searches). */
    r = *old;
    if ((r.rel = pk__strdup(s->h, old->rel)) == NULL)
      return PK_ENOMEM;
    old->name = old->version = old->backends = old->grants = old->deps =
        old->reason = old->watch = NULL;
    return push_rec(s, &s->now, &r);
  }
  s->dirty = 1;
  memset(&r, 0, sizeof r);
  if ((r.rel = pk__strdup(s->h, rel)) == NULL)
    goto oom;
  r.size = st->size;
  r.mtime = st->mtime_ns;
  r.ctime = st->ctime_ns;
  r.ino = st->ino;
  if ((rc = classify(s, full, &r)) < 0) {
    pk__cat_rec_free(s->h, &r);
    return rc;
  }
  return push_rec(s, &s->now, &r);
oom:
  pk__cat_rec_free(s->h, &r);
  return PK_ENOMEM;
}

/* A subfolder: when its mtime, ctime and inode match the cache, the
   files are the cached ones (only their keys are checked); else it is
   listed. */
static int do_folder(scan *s, const char *rel, const pk__os_stat *st) {
  char full[4096], sub[4096];
  const pk__cat_rec *old = cache_find(&s->old, rel);
  pk__cat_rec r;
  names l;
  size_t i;
  int rc;

  memset(&r, 0, sizeof r);
  if ((r.rel = pk__strdup(s->h, rel)) == NULL)
    return PK_ENOMEM;
  r.folder = 1;
  r.mtime = st->mtime_ns;
  r.ctime = st->ctime_ns;
  r.ino = st->ino;
  if ((rc = push_rec(s, &s->now, &r)) < 0) {
    pk__cat_rec_free(s->h, &r);
    return rc;
  }
  if ((size_t)snprintf(full, sizeof full, "%s/%s", s->root, rel) >=
      sizeof full)
    return PK_OK;
  if (old != NULL && old->folder && old->mtime == st->mtime_ns &&
      old->ctime == st->ctime_ns && old->ino == st->ino) {
    /* The cached files of the folder: the records from "rel/" on that
       start with it, in order. */
    size_t k = strlen(rel), j;
    if ((size_t)snprintf(sub, sizeof sub, "%s/", rel) >= sizeof sub)
      return PK_OK;
    j = cache_lower(&s->old, sub);
    for (; j < s->old.n && strncmp(s->old.v[j].rel, rel, k) == 0 &&
           s->old.v[j].rel[k] == '/';
         j++) {
      pk__os_stat fst;
      int islink, isreg;
      const char *name = s->old.v[j].rel + k + 1;
      if (strchr(name, '/') != NULL)
        continue; /* not ours: the cache is not trusted to be sane */
      if (pk__os_lstat_at(s->rootfd, s->old.v[j].rel, &fst, &islink,
                          &isreg) < 0 ||
          islink || !isreg) {
        s->dirty = 1; /* gone with the folder's mtime unchanged */
        continue;
      }
      if ((rc = do_file(s, s->old.v[j].rel, &fst)) < 0)
        return rc;
    }
    return PK_OK;
  }
  s->dirty = 1;
  if ((rc = list_sorted(s->h, full, &l)) < 0)
    return rc == PK_ENOMEM ? rc : PK_OK; /* unreadable: nothing listed */
  for (i = 0; i < l.n && rc >= 0; i++) {
    pk__os_stat fst;
    int islink, isreg;
    char frel[4096];
    if ((size_t)snprintf(sub, sizeof sub, "%s/%s", full, l.v[i]) >=
            sizeof sub ||
        (size_t)snprintf(frel, sizeof frel, "%s/%s", rel, l.v[i]) >=
            sizeof frel)
      continue;
    if (pk__os_lstat_at(s->rootfd, frel, &fst, &islink, &isreg) < 0 ||
        islink ||
        !isreg)
      continue; /* one level: no folders in plugin folders */
    rc = do_file(s, frel, &fst);
  }
  names_free(&l);
  return rc < 0 ? rc : PK_OK;
}

static int write_cache(scan *s) {
  pk__cat_buf b;
  char path[4096], err[256];
  size_t i;
  int rc = 0;
  memset(&b, 0, sizeof b);
  b.h = s->h;
  if ((size_t)snprintf(path, sizeof path, "%s/%s", s->root, CACHE_NAME) >=
      sizeof path)
    return PK_OK;
  rc |= pk__cat_buf_put(&b, CACHE_MAGIC " " PK__CAT_VERSION "\n",
                        strlen(CACHE_MAGIC) + 2 + strlen(PK__CAT_VERSION));
  for (i = 0; i < s->now.n; i++)
    rc |= put_rec(&b, &s->now.v[i]);
  if (rc == 0)
    (void)pk__os_write_file(path, b.p, b.n, err, sizeof err); /* best effort:
                                            a read-only folder scans too */
  pk__free(s->h, b.p);
  return rc ? PK_ENOMEM : PK_OK;
}

/* One entry of the root: a plugin folder or a file. */
static int do_entry(scan *s, const char *rel) {
  pk__os_stat st;
  int islink, isreg;
  if (pk__os_lstat_at(s->rootfd, rel, &st, &islink, &isreg) < 0 || islink) {
    s->dirty = 1;
    return PK_OK;
  }
  if (st.isdir)
    return do_folder(s, rel, &st);
  if (isreg)
    return do_file(s, rel, &st);
  return PK_OK;
}

static int scan_root(pk_catalog *cat, const char *root,
                     const pk_scan_opts *o) {
  pk_host *h = cat->h;
  scan s;
  names l;
  char path[4096];
  size_t i;
  int rc;

  memset(&s, 0, sizeof s);
  rc = pk__os_dir_open(root, &s.rootfd);
  if (rc == PK_ENOENT)
    return pk__err(h, PK_ENOENT, root, "scan", "no such folder");
  if (rc < 0)
    return pk__err(h, PK_EIO, root, "scan", "cannot open the folder");
  s.h = h;
  s.cat = cat;
  s.o = o;
  s.root = root;
  if (!o->no_cache &&
      (size_t)snprintf(path, sizeof path, "%s/%s", root, CACHE_NAME) <
          sizeof path)
    cache_load(h, path, &s.old);
  if (s.old.bad)
    s.dirty = 1;
  /* The root is always listed: the cache file itself lives there, so
     its mtime changes with every cache written and says nothing. */
  {
    if ((rc = list_sorted(h, root, &l)) < 0) {
      rc = pk__err(h, rc == PK_ENOMEM ? rc : PK_EIO, root, "scan",
                   rc == PK_ENOMEM   ? "out of memory"
                   : rc == PK_ELIMIT ? "more than 100000 files"
                                     : "cannot list the folder");
      goto out;
    }
    for (i = 0; i < l.n && rc >= 0; i++)
      rc = do_entry(&s, l.v[i]);
    names_free(&l);
  }
  if (rc >= 0 && s.now.n != s.old.n)
    s.dirty = 1;
  if (rc >= 0 && s.dirty && !o->no_cache)
    rc = write_cache(&s);
  if (rc >= 0)
    rc = pk__cat_add(cat, root, &s.now);
out:
  pk__os_close(s.rootfd);
  pk__cat_cache_free(h, &s.old);
  pk__cat_cache_free(h, &s.now);
  if (rc == PK_ENOMEM)
    return pk__err(h, rc, root, "scan", "out of memory");
  return rc;
}

int pk_catalog_scan(pk_host *h, const char *const *dirs,
                    const pk_scan_opts *opts, pk_catalog **out) {
  pk_scan_opts o = PK_SCAN_OPTS_INIT;
  pk_catalog *cat;
  size_t i;
  int rc = PK_OK;
  if (h == NULL)
    return PK_EINVAL;
  if (dirs == NULL || out == NULL)
    return pk__err(h, PK_EINVAL, "(catalog)", "scan",
                   "dirs and out_catalog must not be NULL");
  if (opts != NULL) {
    if (opts->size < sizeof opts->size)
      return pk__err(h, PK_EINVAL, "(catalog)", "scan",
                     "pk_scan_opts.size is %zu: start from PK_SCAN_OPTS_INIT",
                     opts->size);
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    o.size = sizeof o;
  }
  if ((cat = pk__alloc(h, sizeof *cat)) == NULL)
    return pk__err(h, PK_ENOMEM, "(catalog)", "scan", "out of memory");
  memset(cat, 0, sizeof *cat);
  cat->h = h;
  for (i = 0; dirs[i] != NULL && rc >= 0; i++)
    rc = scan_root(cat, dirs[i], &o);
  if (rc >= 0)
    rc = pk__cat_resolve(cat);
  if (rc < 0) {
    if (rc == PK_ENOMEM)
      pk__err(h, rc, "(catalog)", "scan", "out of memory");
    pk_catalog_free(cat);
    return rc;
  }
  *out = cat;
  return PK_OK;
}
