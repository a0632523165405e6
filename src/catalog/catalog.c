/*
 * catalog.c: what each file of a scan is (without running it), the
 * catalog's entries, and dependency resolution into a load order.
 */
#include "catalog.h"
#include "bundle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The time a probe in a child may take, handshake and init included. */
#define PROBE_TIMEOUT_MS 10000

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

int pk__cat_manifest(pk_host *h, const char *path, const pk_scan_opts *o,
                     pk__cat_rec *r) {
  (void)o;
  (void)path;
  r->kind = PK__CAT_NONE;
  return pk__cat_rec_set(h, r, NULL, NULL, NULL, NULL, NULL, NULL);
}

int pk__cat_bundle(pk_host *h, const char *path, const pk_scan_opts *o,
                   pk__cat_rec *r) {
  pk__bundle b;
  int rc;
  (void)o;
  r->kind = PK__CAT_BUNDLE;
  if ((rc = pk__bundle_index(h, path, &b)) < 0)
    return fail_rec(h, r, path, PK_CATALOG_INVALID, rc);
  pk__bundle_close(&b);
  r->status = PK_CATALOG_OK;
  return pk__cat_rec_set(h, r, base_name(path), NULL, NULL, NULL, NULL, NULL);
}

/* ---- entries ---------------------------------------------------------- */

int pk__cat_add(pk_catalog *cat, const char *root, pk__cat_cache *c) {
  pk_host *h = cat->h;
  size_t i;
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

/* The dependencies of entry i as entry indices (SIZE_MAX: missing), from
   its deps text "a >=1.0, b". */
typedef struct dep {
  size_t to;
  const char *name;
  size_t len;
} dep;

static int deps_of(pk_catalog *cat, const size_t *byname, size_t i, dep **out,
                   size_t *out_n) {
  const char *s = cat->v[i].r.deps;
  size_t n = 0, cap = 0;
  dep *v = NULL;
  while (*s != '\0') {
    const char *e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s), k = 0;
    int bad;
    while (len > 0 && *s == ' ')
      s++, len--;
    while (k < len && s[k] != ' ')
      k++;
    if (k > 0) {
      if (n == cap) {
        dep *d;
        cap = cap ? cap * 2 : 4;
        if ((d = pk__realloc(cat->h, v, cap * sizeof *d)) == NULL) {
          pk__free(cat->h, v);
          return PK_ENOMEM;
        }
        v = d;
      }
      v[n].name = s;
      v[n].len = k;
      v[n].to = find_ok(cat, byname, s, k, &bad);
      n++;
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
      if (d->to == (size_t)-1) {
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
