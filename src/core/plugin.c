/*
 * plugin.c: opening, describing, resolving, calling and closing plugins,
 * and the host table that in-process plugins call back through.
 */
#include "core.h"
#include "../os/os.h"
#include "../catalog/bundle.h"

#include <stdlib.h>
#include <string.h>

/* ---- open and close ---------------------------------------------------- */

/* Why a FIFO, device or socket is refused (pk__os_read_head). */
#define NOT_REGULAR                                                         \
  "not a regular file or a directory (a FIFO, device or socket, which "    \
  "could block or never end): plugins are read from files"

static const pk__backend *backend_by_name(const char *name) {
  size_t i;
  for (i = 0; pk__backends[i] != NULL; i++)
    if (strcmp(pk__backends[i]->name, name) == 0)
      return pk__backends[i];
  return NULL;
}

static void list_backends(char *buf, size_t cap) {
  size_t i, n = 0;
  buf[0] = '\0';
  for (i = 0; pk__backends[i] != NULL && n + 1 < cap; i++) {
    size_t k = strlen(pk__backends[i]->name);
    if (n + k + 3 >= cap)
      break;
    if (i > 0) {
      memcpy(buf + n, ", ", 2);
      n += 2;
    }
    memcpy(buf + n, pk__backends[i]->name, k + 1);
    n += k;
  }
}

/* Copy the NULL-terminated key/value list into one block. */
static int copy_config(pk_plugin *p, const char *const *kv) {
  size_t i, n = 1;
  char *d;
  if (kv == NULL)
    return PK_OK;
  for (i = 0; kv[i] != NULL; i += 2) {
    if (kv[i + 1] == NULL)
      return pk__perr(p, PK_EINVAL, "config key '%s' has no value", kv[i]);
    n += strlen(kv[i]) + strlen(kv[i + 1]) + 2;
  }
  if ((p->config = d = pk__alloc(p->host, n)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory copying the config");
  for (i = 0; kv[i] != NULL; i++) {
    size_t k = strlen(kv[i]) + 1;
    memcpy(d, kv[i], k);
    d += k;
  }
  *d = '\0';
  return PK_OK;
}

int pk__config_get(const pk_plugin *p, const char *key, size_t keylen,
                   pk_str *out) {
  const char *s = p->config;
  if (s == NULL)
    return PK_ENOENT;
  while (*s != '\0') {
    size_t kn = strlen(s);
    const char *v = s + kn + 1;
    size_t vn = strlen(v);
    if (kn == keylen && memcmp(s, key, kn) == 0) {
      out->ptr = v;
      out->len = vn;
      return PK_OK;
    }
    s = v + vn + 1;
  }
  return PK_ENOENT;
}

/* Resolve "a,b,c" (or "*") to indices into host->fns. */
static int resolve_grants(pk_plugin *p, const char *grants) {
  pk_host *h = p->host;
  const char *s = grants;
  size_t n = 0;

  if (grants == NULL || h->nfns == 0) {
    if (grants != NULL && strcmp(grants, "*") != 0 && *grants != '\0')
      goto unknown;
    return PK_OK;
  }
  if ((p->grants = pk__alloc(h, h->nfns * sizeof *p->grants)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory resolving grants");
  if (strcmp(grants, "*") == 0) {
    for (n = 0; n < h->nfns; n++)
      p->grants[n] = n;
    p->ngrants = n;
    return PK_OK;
  }
  while (*s != '\0') {
    const char *e = strchr(s, ',');
    size_t len = e ? (size_t)(e - s) : strlen(s), i, j;
    while (len > 0 && *s == ' ') {
      s++;
      len--;
    }
    while (len > 0 && s[len - 1] == ' ')
      len--;
    if (len > 0) {
      for (i = 0; i < h->nfns; i++)
        if (strlen(h->fns[i].name) == len &&
            memcmp(h->fns[i].name, s, len) == 0)
          break;
      if (i == h->nfns)
        return pk__perr(p, PK_ENOENT,
                        "grant '%.*s' names no host function defined on "
                        "this host",
                        (int)len, s);
      for (j = 0; j < p->ngrants; j++)
        if (p->grants[j] == i)
          break;
      if (j == p->ngrants)
        p->grants[p->ngrants++] = i;
    }
    if (e == NULL)
      break;
    s = e + 1;
  }
  return PK_OK;
unknown:
  return pk__perr(p, PK_ENOENT,
                  "grants '%s' name host functions, but none are defined",
                  grants);
}

/* ---- lanes and instances -------------------------------------------------- */

/* Values of a lane's `slow` (0: the fast path). */
#define LANE_SLOW 1u  /* call_slow */
#define LANE_RESET 2u /* ready, but reset_after_call: call_reset */

/* The table of a plugin no thread called yet. */
static pk__lanetab lanes_none = {0, NULL};

const pk__lane pk__lane_none_obj = {.busy = 1};

_Static_assert(offsetof(pk__lane, cur) + sizeof(void *) <= 64,
               "a call's fields of the lane fit its first cache line");

static void lane_free_parts(pk_host *h, pk__lane *l) {
  pk__arena_free(h, &l->arena);
}

/* Give every instance back to the backend: the lanes' and the idle ones.
   No call runs (close waited for them, or the open failed). */
static void free_instances(pk_plugin *p) {
  pk__lane *l;
  size_t i;
  if (p->inst0 != NULL) {
    p->backend->inst_free(p, p->inst0);
    p->inst0 = NULL;
  }
  for (l = p->all_lanes; l != NULL; l = l->next)
    if (l->inst != NULL) {
      p->backend->inst_free(p, l->inst);
      l->inst = NULL;
    }
  for (i = 0; i < p->nidle; i++)
    p->backend->inst_free(p, p->idle[i]);
  p->nidle = 0;
  p->ninst = 0;
}

/* What a plugin holds but its handles: the backend's state, instances,
   arenas, config and grants. */
static void plugin_release(pk_plugin *p) {
  pk_host *h = p->host;
  pk__lane *l;
  p->phase = "close";
  if (p->backend != NULL) {
    if (p->backend->inst_free != NULL)
      free_instances(p);
    p->backend->close(p);
  }
  if (p->private_file != NULL) { /* the backend (and its child) is done */
    pk__os_private_file_remove(p->private_file);
    pk__free(h, p->private_file);
    p->private_file = NULL;
  }
  for (l = p->all_lanes; l != NULL; l = l->next)
    lane_free_parts(h, l);
  lane_free_parts(h, p->olane);
  pk__free(h, p->idle);
  p->idle = NULL;
  pk__free(h, p->byname);
  p->byname = NULL;
  pk__free(h, p->grants);
  p->grants = NULL;
  p->ngrants = 0;
  pk__free(h, p->config);
  p->config = NULL;
}

/* The handles: what a late call through a closed plugin still reads. */
static void plugin_free_shell(pk_plugin *p) {
  pk_host *h = p->host;
  pk__lanetab *t = p->lanes;
  pk__lane *l = p->all_lanes;
  size_t i;
  while (l != NULL) {
    pk__lane *next = l->next;
    pk__free(h, l->mem);
    l = next;
  }
  while (t != NULL && t != &lanes_none) {
    pk__lanetab *old = t->old;
    pk__free(h, t);
    t = old;
  }
  for (i = 0; i < p->nfuncs; i++)
    pk__free(h, (char *)p->funcs[i].name);
  pk__free(h, p->funcs);
  pk__free(h, p->name);
  pk__free(h, p->version);
  pk__free(h, p->path);
  pk__free(h, p->manifest);
  if (p->sync_init) {
    pk__os_cond_destroy(&p->cv);
    pk__os_mutex_destroy(&p->call_mu);
    pk__os_mutex_destroy(&p->mu);
  }
  pk__free(h, p);
}

static void plugin_free(pk_plugin *p) {
  plugin_release(p);
  plugin_free_shell(p);
}

pk__lane *pk__lane_cur(pk_plugin *p) {
  pk__lane *l = pk__lane_find(p);
  if (l != NULL && __atomic_load_n(&l->busy, __ATOMIC_RELAXED) > 0)
    return l;
  if (p->phase != NULL)
    return p->olane;
  return l;
}

static void lane_init(pk_plugin *p, pk__lane *l, unsigned tid) {
  memset(l, 0, sizeof *l);
  l->ctx.api = &pk__host_api;
  l->plugin = p;
  l->tid = tid;
  l->igen = 1; /* solo_gen 0: the solo slots wait for a first sync */
}

/* The calling thread's lane on p, made if it has none (p->mu held).
   NULL when out of memory. */
static pk__lane *lane_get(pk_plugin *p, unsigned tid) {
  pk_host *h = p->host;
  pk__lanetab *t = p->lanes, *nt;
  pk__lane *l;
  void *mem;
  if (tid < t->n && t->lane[tid] != PK__LANE_NONE)
    return t->lane[tid];
  if ((l = pk__alloc_lines(h, sizeof *l, &mem)) == NULL)
    return NULL;
  lane_init(p, l, tid);
  l->mem = mem;
  l->slow = 1; /* its first call sets it up */
  if (tid >= t->n) {
    size_t n = t->n ? t->n : 8, i;
    while (n <= tid)
      n *= 2;
    if ((nt = pk__alloc(h, sizeof *nt + n * sizeof nt->lane[0])) == NULL) {
      pk__free(h, mem);
      return NULL;
    }
    nt->n = n;
    nt->old = t;
    for (i = 0; i < n; i++)
      nt->lane[i] = i < t->n ? t->lane[i] : PK__LANE_NONE;
    nt->lane[tid] = l;
    /* Readers load the table without the lock: publish it whole (the
       tables it replaces stay until the plugin is freed). */
    __atomic_store_n(&p->lanes, nt, __ATOMIC_RELEASE);
    for (i = 0; i < p->nfuncs; i++)
      __atomic_store_n(&p->funcs[i].lanes, nt, __ATOMIC_RELEASE);
  } else {
    __atomic_store_n(&t->lane[tid], l, __ATOMIC_RELEASE);
  }
  l->next = p->all_lanes;
  p->all_lanes = l;
  return l;
}

/* Send lane l down the slow path, and wait until the call it may be in
   has returned, unless `wait` is 0. Returns whether l is idle now. The
   wait yields the CPU, then sleeps (50 us, doubling to 1 ms): a call
   can stay in a host function for long, and the closer must not keep a
   CPU busy meanwhile. */
static int lane_revoke(pk__lane *l, int wait) {
  uint64_t nap = 50000u;
  int spins = 0;
  __atomic_store_n(&l->slow, LANE_SLOW, PK__ORD_LANE);
  pk__os_membarrier();
  if (!wait)
    return __atomic_load_n(&l->busy, PK__ORD_LANE_ACQ) == 0;
  while (__atomic_load_n(&l->busy, PK__ORD_LANE_ACQ) != 0) {
    if (spins < 100) {
      spins++;
      pk__os_yield();
    } else {
      pk__os_sleep_ns(nap);
      if (nap < 1000000u)
        nap *= 2;
    }
  }
  return 1;
}

static int tail_thunk(pk_func *f, const pk_val *args, pk__lane *l,
                      pk_val *results, void *fast);
static int tail_invoke(pk_func *f, const pk_val *args, pk__lane *l,
                       pk_val *results, void *fast);
static int tail_dispatch(pk_func *f, const pk_val *args, pk__lane *l,
                         pk_val *results, void *fast);

static int describe_only_invoke(pk__lane *l, pk_func *f, const pk_val *args,
                                pk_val *results) {
  (void)l;
  (void)args;
  (void)results;
  return pk__err(f->plugin->host, PK_EINVAL, f->plugin->path, "call",
                 "'%s' cannot be called: the plugin was opened describe-only "
                 "(describe_only), so its code is not loaded",
                 f->name);
}

/* pk_plugin_open, and pk__plugin_open_src when src is not NULL. */
/* The backend that reads the file: be, or under process isolation the
   child's (opts.backend, else the best probe but the process backend's
   own; NULL when no backend reads it). */
static const pk__backend *reader_of(const pk_open_opts *o,
                                    const pk__backend *be,
                                    const unsigned char *head, size_t nhead,
                                    const char *path, int isdir) {
  const pk__backend *r = NULL;
  int best = 0, score;
  size_t i;
  if (o->isolation != PK_ISOLATE_PROCESS)
    return be;
  if (o->backend != NULL)
    return backend_by_name(o->backend);
  for (i = 0; pk__backends[i] != NULL; i++)
    if ((score = pk__backends[i]->probe(head, nhead, path, isdir)) > best) {
      best = score;
      r = pk__backends[i];
    }
  return r;
}

/*
 * Open options that apply to some plugins only, checked once the backend
 * is known: honoured where they apply, refused where they cannot, never
 * ignored. `artifact`: this open is a manifest's or bundle's artifact,
 * whose policy the manifest already applied.
 */
static int check_scoped_opts(pk_host *h, const char *path,
                             const pk_open_opts *o, const pk__backend *be,
                             const pk__backend *reader, int artifact) {
  const char *kind = reader != NULL ? reader->name : "unknown";
  /* "auto" is the best this plugin has, whatever its kind. A wasm
     plugin under process isolation gets the tier in plugkit-runner, which
     opens it with these options. */
  if ((o->tier != NULL && strcmp(o->tier, "interp") != 0 &&
       strcmp(o->tier, "auto") != 0) ||
      o->aot_path != NULL) {
    if (strcmp(kind, "wasm") != 0 ||
        (strcmp(be->name, "wasm") != 0 &&
         !(o->isolation == PK_ISOLATE_PROCESS &&
           strcmp(be->name, "process") == 0)))
      return pk__err(h, PK_ENOSYS, path, "open",
                     "%s applies to wasm plugins; this is a %s plugin%s",
                     o->aot_path != NULL ? "aot_path" : "tier", kind,
                     o->isolation == PK_ISOLATE_PROCESS
                         ? " under process isolation"
                         : "");
  }
  if (artifact)
    return PK_OK;
  if (o->artifacts != PK_ARTIFACTS_ANY &&
      o->artifacts != PK_ARTIFACTS_SANDBOXED)
    return pk__err(h, PK_EINVAL, path, "open",
                   "unknown artifacts policy %d (a pk_artifacts)",
                   o->artifacts);
  if (o->artifacts == PK_ARTIFACTS_SANDBOXED &&
      (reader == NULL || (strcmp(reader->name, "wasm") != 0 &&
                          strcmp(reader->name, "lua") != 0)))
    return pk__err(h, PK_EUNTRUSTED, path, "open",
                   "artifacts = PK_ARTIFACTS_SANDBOXED loads only wasm and "
                   "lua plugins, and this is a %s plugin (native code)",
                   kind);
  if (o->trust < PK_TRUST_DEFAULT || o->trust > PK_TRUST_REQUIRE)
    return pk__err(h, PK_EINVAL, path, "open",
                   "unknown trust policy %d (a pk_trust)", o->trust);
  if (o->trust == PK_TRUST_REQUIRE)
    return pk__err(h, PK_EUNTRUSTED, path, "open",
                   "trust = PK_TRUST_REQUIRE, but a plugin file opened "
                   "without its manifest or bundle carries no signature");
  if (o->trust == PK_TRUST_WARN && h->log != NULL) {
    static const char warn[] =
        "trust = PK_TRUST_WARN: a plugin file opened without its manifest "
        "or bundle carries no signature; opening it unchecked";
    h->log(h->log_ud, PK_LOG_WARN, path, warn, sizeof warn - 1);
  }
  return PK_OK;
}

static int plugin_open(pk_host *h, const char *path, const pk_open_opts *opts,
                       pk__src *src, pk_plugin **out_plugin) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  unsigned char head[512];
  size_t nhead = 0, i;
  int isdir = 0, rc, best = 0;
  const pk__backend *be = NULL;
  pk_plugin *p = NULL;
  char names[128];

  if (h == NULL)
    return PK_EINVAL;
  if (path == NULL || out_plugin == NULL)
    return pk__err(h, PK_EINVAL, path ? path : "(null)", "open",
                   "path and out_plugin must not be NULL");
  if (opts != NULL) {
    if (opts->size < offsetof(pk_open_opts, backend) + sizeof opts->backend)
      return pk__err(h, PK_EINVAL, path, "open",
                     "pk_open_opts.size is %zu: start from PK_OPEN_OPTS_INIT",
                     opts->size);
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
  }
  if (o.describe_only) /* nothing runs that a child would contain */
    o.isolation = PK_ISOLATE_NONE;
  if (o.isolation == PK_ISOLATE_PROCESS &&
      backend_by_name("process") == NULL)
    return pk__err(h, PK_ENOSYS, path, "open",
                   "process isolation is not available in this build");
  if (o.isolation != PK_ISOLATE_NONE && o.isolation != PK_ISOLATE_PROCESS)
    return pk__err(h, PK_EINVAL, path, "open", "unknown isolation %d",
                   o.isolation);

  if (src != NULL) {
    nhead = src->nhead < sizeof head ? src->nhead : sizeof head;
    memcpy(head, src->head, nhead);
    rc = PK_OK;
  } else
    rc = pk__os_read_head(path, head, sizeof head, &nhead, &isdir);
  if (rc == PK_ENOENT)
    return pk__err(h, rc, path, "open", "no such file or directory");
  if (rc == PK_EFORMAT)
    return pk__err(h, rc, path, "open", NOT_REGULAR);
  if (rc < 0)
    return pk__err(h, rc, path, "open", "cannot read the file");
  if (src == NULL && !isdir &&
      pk__manifest_probe(path, head, nhead)) /* src/catalog */
    return pk__manifest_open(h, path, &o, out_plugin);

  if (src == NULL && pk__bundle_is(head, nhead)) /* a .pkb: its artifact */
    return pk__bundle_open(h, path, &o, out_plugin);
  if (o.isolation == PK_ISOLATE_PROCESS) {
    /* The process backend runs the file (whatever its kind) in a child;
       o.backend, if set, names the backend the child uses. */
    be = backend_by_name("process");
  } else if (o.backend != NULL) {
    if ((be = backend_by_name(o.backend)) == NULL) {
      list_backends(names, sizeof names);
      return pk__err(h, PK_ENOSYS, path, "open",
                     "backend '%s' is not built in (built: %s)", o.backend,
                     names);
    }
  } else {
    for (i = 0; pk__backends[i] != NULL; i++) {
      int score = pk__backends[i]->probe(head, nhead, path, isdir);
      if (score > best) {
        best = score;
        be = pk__backends[i];
      }
    }
    if (be == NULL) {
      list_backends(names, sizeof names);
      /* What the file starts with, and how to name its backend: a
         script, or a file whose kind the probes cannot see, opens when
         its backend is named. */
      if (nhead == 0)
        return pk__err(h, PK_EFORMAT, path, "open",
                       "not a plugin any built-in backend reads (an empty "
                       "file; built: %s)",
                       names);
      return pk__err(h, PK_EFORMAT, path, "open",
                     "not a plugin any built-in backend reads (%zu bytes "
                     "starting %02x %02x %02x %02x; built: %s); if it is "
                     "one, name its backend: opts.backend, or --backend in "
                     "the CLI (\"process\" for a script or a .py file)",
                     nhead, nhead > 0 ? head[0] : 0, nhead > 1 ? head[1] : 0,
                     nhead > 2 ? head[2] : 0, nhead > 3 ? head[3] : 0, names);
    }
  }

  if ((rc = check_scoped_opts(
           h, path, &o, be,
           reader_of(&o, be, head, nhead, path, isdir), src != NULL)) < 0)
    return rc;
  if ((p = pk__alloc(h, sizeof *p)) == NULL)
    return pk__err(h, PK_ENOMEM, path, "open", "out of memory");
  memset(p, 0, sizeof *p);
  p->host = h;
  p->phase = "open";
  p->lanes = &lanes_none;
  p->olane = &p->olane_s;
  lane_init(p, p->olane, 0);
  if (pk__os_mutex_init(&p->mu) < 0) {
    pk__free(h, p);
    return pk__err(h, PK_ENOMEM, path, "open", "out of memory");
  }
  if (pk__os_mutex_init(&p->call_mu) < 0) {
    pk__os_mutex_destroy(&p->mu);
    pk__free(h, p);
    return pk__err(h, PK_ENOMEM, path, "open", "out of memory");
  }
  if (pk__os_cond_init(&p->cv) < 0) {
    pk__os_mutex_destroy(&p->call_mu);
    pk__os_mutex_destroy(&p->mu);
    pk__free(h, p);
    return pk__err(h, PK_ENOMEM, path, "open", "out of memory");
  }
  p->sync_init = 1;
  /* Until a descriptor says PK_THREADSAFE or the backend runs
     instances, calls are serialized. */
  p->flags = PK__PF_SERIAL;
  p->timeout_ms = o.call_timeout_ms > 0 ? o.call_timeout_ms : 0;
  if ((p->path = pk__strdup(h, path)) == NULL) {
    rc = pk__err(h, PK_ENOMEM, path, "open", "out of memory");
    goto fail;
  }
  if ((rc = copy_config(p, o.config)) < 0)
    goto fail;
  if ((rc = resolve_grants(p, o.grants)) < 0)
    goto fail;
  p->isolation = o.isolation;
  p->inner_backend = o.backend;
  p->opts = &o;
  p->src = src;
  p->backend = be;
  p->describe_only = o.describe_only != 0;
  if (p->describe_only && !(be->limits & PK__LIM_DESCRIBE)) {
    rc = pk__perr(p, PK_ENOSYS,
                  "the %s backend cannot describe a plugin without running "
                  "it (describe_only)",
                  be->name);
    goto fail;
  }
  if (o.max_instances < 0 || o.max_instances > PK__MAX_INSTANCES) {
    rc = pk__perr(p, PK_EINVAL, "max_instances is %d: 0 (the number of "
                  "CPUs) to %d", o.max_instances, PK__MAX_INSTANCES);
    goto fail;
  }
  if (!p->describe_only && !(be->limits & PK__LIM_SELF) &&
      (rc = pk__limits_check(p, &o, be->limits, be->name)) < 0)
    goto fail;
  if ((rc = be->open(p)) < 0)
    goto fail;
  if (be->inst_new != NULL && !p->describe_only) {
    size_t cap = o.max_instances > 0 ? (size_t)o.max_instances
                                     : (size_t)pk__os_ncpu();
    p->flags = PK__PF_POOL | (o.reset_after_call ? PK__PF_RESET : 0u);
    p->max_inst = cap;
    if ((p->idle = pk__alloc(h, cap * sizeof *p->idle)) == NULL) {
      rc = pk__perr(p, PK_ENOMEM, "out of memory");
      goto fail;
    }
    if (p->inst0 != NULL) {
      p->idle[p->nidle++] = p->inst0;
      p->ninst = 1;
      p->inst0 = NULL;
    }
  }
  if (p->describe_only)
    for (i = 0; i < p->nfuncs; i++) {
      /* No code of the plugin is loaded (or it must not run): every call
         takes the slow path to an error. */
      p->funcs[i].thunk = NULL;
      p->funcs[i].tail = tail_dispatch;
      p->funcs[i].raw = NULL;
      p->funcs[i].invoke = describe_only_invoke;
      p->funcs[i].invoke_tags = 1;
    }
  for (i = 0; i < p->nfuncs; i++) {
    if (p->funcs[i].tail == tail_dispatch) /* the backend has none */
      p->funcs[i].tail = p->funcs[i].thunk != NULL ? tail_thunk : tail_invoke;
    p->funcs[i].direct = p->funcs[i].tail == tail_thunk;
    p->funcs[i].solo_on = p->backend->fast != NULL && i < PK__SOLO_FUNCS;
  }
  p->phase = NULL;
  p->inner_backend = NULL; /* borrowed from opts: only valid during open */
  p->opts = NULL;
  p->src = NULL;
  p->serial = pk__serial_next();
  pk__os_mutex_lock(&h->mu);
  p->next = h->plugins;
  if (h->plugins != NULL)
    h->plugins->prev = p;
  h->plugins = p;
  pk__os_mutex_unlock(&h->mu);
  *out_plugin = p;
  return PK_OK;
fail:
  plugin_free(p);
  return rc;
}

int pk_plugin_open(pk_host *h, const char *path, const pk_open_opts *opts,
                   pk_plugin **out_plugin) {
  return plugin_open(h, path, opts, NULL, out_plugin);
}

int pk__plugin_open_src(pk_host *h, const char *path,
                        const pk_open_opts *opts, pk__src *src,
                        pk_plugin **out_plugin) {
  return plugin_open(h, path, opts, src, out_plugin);
}

/* Is this thread inside one of p's calls (in a host function it
   called)? */
static int inside_own_call(pk_plugin *p) {
  pk__lane *self = pk__lane_find(p);
  return self != NULL && __atomic_load_n(&self->busy, __ATOMIC_RELAXED) != 0;
}

/* The rest of a close, once p is marked closed and no call of p is on
   this thread's stack: wait for the calls in flight on other threads,
   unlink p and free what it holds. */
static void close_finish(pk_plugin *p) {
  pk_host *h = p->host;
  pk__lane *l;
  /* Every call that started before the flags were seen is in flight on
     its lane: wait for it. Later calls see `slow`, then `closed`. */
  pk__os_membarrier();
  for (l = p->all_lanes; l != NULL; l = l->next)
    lane_revoke(l, 1);
  pk__os_mutex_lock(&h->mu);
  if (p->prev != NULL)
    p->prev->next = p->next;
  else
    h->plugins = p->next;
  if (p->next != NULL)
    p->next->prev = p->prev;
  p->prev = NULL;
  p->next = h->closed;
  h->closed = p;
  pk__os_mutex_unlock(&h->mu);
  plugin_release(p);
}

void pk_plugin_close(pk_plugin *p) {
  pk__lane *l;
  int finish;
  if (p == NULL)
    return;
  pk__os_mutex_lock(&p->mu);
  if (p->closed) {
    /* Closed already: harmless, unless that close was made from inside
       one of p's calls and left the rest to whoever comes next once the
       call has returned (one of them only: the flag is taken). */
    finish = !inside_own_call(p) &&
             __atomic_exchange_n(&p->close_pending, 0, __ATOMIC_ACQ_REL);
    pk__os_mutex_unlock(&p->mu);
    if (finish)
      close_finish(p);
    return;
  }
  __atomic_store_n(&p->closed, 1, __ATOMIC_RELAXED);
  for (l = p->all_lanes; l != NULL; l = l->next)
    __atomic_store_n(&l->slow, 1, PK__ORD_LANE);
  pk__os_cond_broadcast(&p->cv); /* threads waiting for an instance */
  /* From inside one of p's own calls (a host function it called closes
     it): the call is still on this thread's stack, running p's code on
     p's instance, so nothing can be freed now. Calls fail with
     PK_ECLOSED from here on; the rest happens at the next
     pk_plugin_close of p, pk_host_reclaim or pk_host_destroy. */
  finish = !inside_own_call(p);
  __atomic_store_n(&p->close_pending, !finish, __ATOMIC_RELEASE);
  pk__os_mutex_unlock(&p->mu);
  if (finish)
    close_finish(p);
}

/* Finishes the closes made from inside a call whose call has returned
   (pk_host_reclaim and pk_host_destroy). */
static void finish_pending_closes(pk_host *h) {
  for (;;) {
    pk_plugin *p, *todo = NULL;
    pk__os_mutex_lock(&h->mu); /* p stays listed until close_finish */
    for (p = h->plugins; p != NULL && todo == NULL; p = p->next)
      if (__atomic_load_n(&p->close_pending, __ATOMIC_ACQUIRE) &&
          !inside_own_call(p) &&
          __atomic_exchange_n(&p->close_pending, 0, __ATOMIC_ACQ_REL))
        todo = p;
    pk__os_mutex_unlock(&h->mu);
    if (todo == NULL)
      return;
    close_finish(todo);
  }
}

void pk_host_reclaim(pk_host *h) {
  pk_plugin *p;
  if (h == NULL)
    return;
  finish_pending_closes(h);
  pk__os_mutex_lock(&h->mu);
  p = h->closed;
  h->closed = NULL;
  pk__os_mutex_unlock(&h->mu);
  while (p != NULL) {
    pk_plugin *next = p->next;
    plugin_free_shell(p);
    p = next;
  }
}

/* ---- limits ------------------------------------------------------------ */

int pk__limits_check(pk_plugin *p, const pk_open_opts *o, unsigned honoured,
                     const char *who) {
  static const char proc[] =
      "; open it with isolation = PK_ISOLATE_PROCESS (docs/limits.md)";
  const char *child = NULL;
  if (o->call_timeout_ms != 0 && !(honoured & PK__LIM_TIMEOUT))
    return pk__perr(p, PK_ENOSYS,
                    "call_timeout_ms cannot be enforced on %s plugins, whose "
                    "code runs in the host's thread%s",
                    who, proc);
  if (o->fuel != 0 && !(honoured & PK__LIM_FUEL))
    return pk__perr(p, PK_ENOSYS,
                    "fuel cannot be enforced on %s plugins: they have no "
                    "instruction budget; bound them with call_timeout_ms "
                    "under process isolation (docs/limits.md)",
                    who);
  if (o->max_memory != 0 && !(honoured & PK__LIM_MEMORY))
    return pk__perr(p, PK_ENOSYS,
                    "max_memory cannot be enforced on %s plugins, which "
                    "allocate from the host's heap; bound them with limit_mem "
                    "under process isolation (docs/limits.md)",
                    who);
  if (o->fs_root != NULL && !(honoured & PK__LIM_FS))
    return pk__perr(p, PK_ENOSYS,
                    "fs_root cannot be enforced on %s plugins: it is the "
                    "file capability of wasm plugins (docs/limits.md)",
                    who);
  if (o->max_instances != 0 && !(honoured & PK__LIM_POOL))
    return pk__perr(p, PK_ENOSYS,
                    "max_instances applies to plugins that run in "
                    "instances (wasm, lua, process); %s plugins share one "
                    "copy of their code: declare PK_THREADSAFE to run "
                    "calls concurrently (docs/threads.md)",
                    who);
  if (o->reset_after_call != 0 && !(honoured & PK__LIM_RESET))
    return pk__perr(p, PK_ENOSYS,
                    "reset_after_call cannot be done for %s plugins: their "
                    "state cannot be restored (wasm and lua plugins can; "
                    "docs/threads.md)",
                    who);
  if (!(honoured & PK__LIM_CHILD)) {
    if (o->restart != 0)
      child = "restart";
    else if (o->spin_ns != 0)
      child = "spin_ns";
    else if (o->transport != 0)
      child = "transport";
    else if (o->harden != 0)
      child = "harden";
    else if (o->limit_files != 0)
      child = "limit_files";
    else if (o->limit_cpu_s != 0)
      child = "limit_cpu_s";
    else if (o->limit_mem != 0)
      child = "limit_mem";
    if (child != NULL)
      return pk__perr(p, PK_ENOSYS,
                      "%s applies to plugins in a child process, and this %s "
                      "plugin runs in the host%s",
                      child, who, proc);
  }
  return PK_OK;
}

/* ---- exports ----------------------------------------------------------- */

int pk__plugin_exports(pk_plugin *p, size_t n) {
  if (n == 0)
    return PK_OK;
  /* Before allocating: the count comes from the file. */
  if (n > PK__MAX_EXPORTS)
    return pk__perr(p, PK_ELIMIT,
                    "%zu exports declared, more than the %u a plugin may "
                    "have",
                    n, PK__MAX_EXPORTS);
  if ((p->funcs = pk__alloc(p->host, n * sizeof *p->funcs)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory for %zu exports", n);
  memset(p->funcs, 0, n * sizeof *p->funcs);
  p->nfuncs = n;
  p->nnamed = 0;
  for (; n > 0; n--) {
    pk_func *f = &p->funcs[n - 1];
    size_t k;
    f->lanes = p->lanes;
    f->tail = tail_dispatch;
    for (k = 0; k < PK__SOLO; k++)
      f->solo[k].tid = PK__SOLO_FREE;
  }
  return PK_OK;
}

static int cmp_func_names(const void *a, const void *b) {
  const pk_func *fa = *(const pk_func *const *)a;
  const pk_func *fb = *(const pk_func *const *)b;
  int c = strcmp(fa->name, fb->name);
  /* Ties in declaration order, so the message names the first pair. */
  return c != 0 ? c : (fa < fb ? -1 : fa > fb);
}

/* All exports are named: sort them by name, which finds a name declared
   twice (neighbours after sorting) and serves pk_plugin_func's lookups. */
static int index_names(pk_plugin *p) {
  size_t i;
  if ((p->byname = pk__alloc(p->host, p->nfuncs * sizeof *p->byname)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory indexing %zu exports",
                    p->nfuncs);
  for (i = 0; i < p->nfuncs; i++)
    p->byname[i] = &p->funcs[i];
  qsort(p->byname, p->nfuncs, sizeof *p->byname, cmp_func_names);
  for (i = 1; i < p->nfuncs; i++)
    if (strcmp(p->byname[i - 1]->name, p->byname[i]->name) == 0)
      return pk__perr(p, PK_EFORMAT,
                      "export '%s' is declared twice (exports #%zu and #%zu)",
                      p->byname[i]->name,
                      (size_t)(p->byname[i - 1] - p->funcs),
                      (size_t)(p->byname[i] - p->funcs));
  return PK_OK;
}

int pk__func_init(pk_plugin *p, pk_func *f, const char *name,
                  const char *sig) {
  char why[160];
  if (name == NULL || *name == '\0')
    return pk__perr(p, PK_EFORMAT, "export #%zu has no name",
                    (size_t)(f - p->funcs));
  if (pk__sig_parse(sig, &f->sig, why, sizeof why) < 0)
    return pk__perr(p, PK_EFORMAT, "export '%s' has a bad signature '%s': %s",
                    name, sig ? sig : "(null)", why);
  if ((f->name = pk__strdup(p->host, name)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  pk__sig_format(&f->sig, f->sigtext);
  f->plugin = p;
  if (++p->nnamed == p->nfuncs)
    return index_names(p);
  return PK_OK;
}

static void *host_alloc(void *ud, size_t n) {
  return pk__alloc((pk_host *)ud, n);
}

/* The message for a code of pk__os_read_file / pk__os_check_file; names
   `path` when it is not the plugin's own (a file of a directory plugin). */
static int file_error(pk_plugin *p, const char *path, int rc, size_t size) {
  const char *sep = path == p->path ? "" : ": ";
  if (path == p->path)
    path = "";
  switch (rc) {
  case PK_ENOENT:
    return pk__perr(p, rc, "%s%sno such file", path, sep);
  case PK_EFORMAT:
    return pk__perr(p, rc, "%s%s" NOT_REGULAR, path, sep);
  case PK_ELIMIT:
    return pk__perr(p, rc,
                    "%s%sthe file is %zu bytes, more than the %zu a plugin "
                    "file may have",
                    path, sep, size, PK__MAX_FILE);
  case PK_ENOMEM:
    return pk__perr(p, rc, "%s%sout of memory for the file's %zu bytes",
                    path, sep, size);
  default:
    return pk__perr(p, PK_EIO, "%s%scannot read the file", path, sep);
  }
}

int pk__plugin_read_file(pk_plugin *p, unsigned char **out, size_t *out_n) {
  int rc = pk__os_read_file(p->path, PK__MAX_FILE, host_alloc, p->host, out,
                            out_n);
  return rc < 0 ? file_error(p, p->path, rc, *out_n) : PK_OK;
}

int pk__plugin_check_file(pk_plugin *p, const char *path) {
  size_t size = 0;
  int rc = pk__os_check_file(path, PK__MAX_FILE, &size);
  return rc < 0 ? file_error(p, path, rc, size) : PK_OK;
}

char *pk__plugin_strdup(pk_plugin *p, const char *s) {
  return pk__strdup(p->host, s ? s : "");
}

int pk_plugin_info_get(const pk_plugin *p, pk_plugin_info *info) {
  pk_plugin_info full;
  size_t n;
  if (p == NULL || info == NULL || info->size < sizeof info->size)
    return PK_EINVAL;
  full.size = info->size;
  full.name = p->name ? p->name : "";
  full.version = p->version ? p->version : "";
  full.backend = p->backend_label ? p->backend_label : p->backend->name;
  full.path = p->manifest ? p->manifest : p->path;
  full.artifact = p->manifest ? p->path : NULL;
  full.abi_major = p->abi_major;
  full.abi_minor = p->abi_minor;
  full.nexports = p->nfuncs;
  full.tier = p->tier ? p->tier : "";
  n = info->size < sizeof full ? info->size : sizeof full;
  memcpy(info, &full, n);
  return PK_OK;
}

int pk_plugin_export(const pk_plugin *p, size_t i, const char **out_name,
                     const char **out_sig) {
  if (p == NULL)
    return PK_EINVAL;
  if (i >= p->nfuncs)
    return PK_ENOENT;
  if (out_name != NULL)
    *out_name = p->funcs[i].name;
  if (out_sig != NULL)
    *out_sig = p->funcs[i].sigtext;
  return PK_OK;
}

/* The export called `name`: by binary search once the exports are
   indexed, else (during open) by a walk; NULL if none. */
static pk_func *find_export(pk_plugin *p, const char *name) {
  size_t i;
  if (p->byname != NULL) {
    size_t lo = 0, hi = p->nfuncs;
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      int c = strcmp(p->byname[mid]->name, name);
      if (c == 0)
        return p->byname[mid];
      if (c < 0)
        lo = mid + 1;
      else
        hi = mid;
    }
    return NULL;
  }
  for (i = 0; i < p->nfuncs; i++)
    if (p->funcs[i].name != NULL && strcmp(p->funcs[i].name, name) == 0)
      return &p->funcs[i];
  return NULL;
}

int pk_plugin_func(pk_plugin *p, const char *name, const char *sig,
                   pk_func **out_func) {
  char list[256], why[160];
  size_t i, n = 0;
  pk__sig want;
  pk_func *f;

  if (p == NULL)
    return PK_EINVAL;
  if (name == NULL || out_func == NULL)
    return pk__err(p->host, PK_EINVAL, p->path, "resolve",
                   "name and out_func must not be NULL");
  if (__atomic_load_n(&p->closed, __ATOMIC_ACQUIRE))
    return pk__err(p->host, PK_ECLOSED, p->path, "resolve",
                   "the plugin was closed");
  if ((f = find_export(p, name)) != NULL) {
    if (sig != NULL) {
      if (pk__sig_parse(sig, &want, why, sizeof why) < 0)
        return pk__err(p->host, PK_EINVAL, p->path, "resolve",
                       "bad signature '%s' for '%s': %s", sig, name, why);
      if (!pk__sig_equal(&want, &f->sig))
        return pk__err(p->host, PK_ESIG, p->path, "resolve",
                       "export '%s' is %s, caller expects %s", name,
                       f->sigtext, sig);
    }
    *out_func = f;
    return PK_OK;
  }
  list[0] = '\0';
  for (i = 0; i < p->nfuncs && n + 4 < sizeof list; i++) {
    size_t k = p->funcs[i].name ? strlen(p->funcs[i].name) : 0;
    if (n + k + 6 >= sizeof list) {
      memcpy(list + n, ", ...", 6);
      break;
    }
    if (i > 0) {
      memcpy(list + n, ", ", 2);
      n += 2;
    }
    memcpy(list + n, p->funcs[i].name ? p->funcs[i].name : "", k + 1);
    n += k;
  }
  return pk__err(p->host, PK_ENOSYM, p->path, "resolve",
                 "no export '%s' (exports: %s)", name,
                 p->nfuncs ? list : "none");
}

const char *pk_func_sig(const pk_func *f) { return f ? f->sigtext : NULL; }
const char *pk_func_name(const pk_func *f) { return f ? f->name : NULL; }
pk_raw_fn pk_func_raw(const pk_func *f) { return f ? f->raw : NULL; }
size_t pk_func_nparams(const pk_func *f) { return f ? f->sig.nparams : 0; }
size_t pk_func_nresults(const pk_func *f) { return f ? f->sig.nresults : 0; }

int pk_func_param_type(const pk_func *f, size_t i) {
  if (f == NULL)
    return PK_EINVAL;
  return i < f->sig.nparams ? f->sig.params[i] : PK_ENOENT;
}

int pk_func_result_type(const pk_func *f, size_t i) {
  if (f == NULL)
    return PK_EINVAL;
  return i < f->sig.nresults ? f->sig.results[i] : PK_ENOENT;
}

/* ---- calls ------------------------------------------------------------- */

PK__NOINLINE static int bad_call(pk_func *f, const pk_val *args, size_t nargs,
                    pk_val *results, size_t nresults) {
  pk_plugin *p = f->plugin;
  size_t i;
  if (nargs != f->sig.nparams || (nargs > 0 && args == NULL))
    return pk__err(p->host, PK_EINVAL, p->path, "call",
                   "'%s' takes %d argument%s (%s), %zu given", f->name,
                   f->sig.nparams, f->sig.nparams == 1 ? "" : "s", f->sigtext,
                   nargs);
  if (nresults < f->sig.nresults || (f->sig.nresults > 0 && results == NULL))
    return pk__err(p->host, PK_EINVAL, p->path, "call",
                   "'%s' returns %d result%s (%s), room for %zu given",
                   f->name, f->sig.nresults, f->sig.nresults == 1 ? "" : "s",
                   f->sigtext, nresults);
  for (i = 0; i < nargs; i++)
    if (args[i].type != f->sig.params[i])
      return pk__err(p->host, PK_ETYPE, p->path, "call",
                     "'%s' argument %zu is %s, the signature %s wants %s",
                     f->name, i + 1, pk_type_name((int)args[i].type),
                     f->sigtext, pk_type_name(f->sig.params[i]));
  return PK_OK;
}

static int invoke_and_tag(pk__lane *l, pk_func *f, const pk_val *args,
                          pk_val *results);

/* The call proper, on lane l, once the arguments are checked. */
static inline int dispatch(pk_func *f, pk__lane *l, const pk_val *args,
                           pk_val *results) {
  l->cur = f;
  l->ctx.status = 0;
  /* Machine code: the generated thunk tags the results and returns the
     status (PK_EPLUGIN or PK_ENOMEM, message already set). */
  if (PK__LIKELY(f->thunk != NULL))
    return f->thunk(&l->ctx, args, results);
  if (PK__LIKELY(f->invoke_tags))
    return f->invoke(l, f, args, results);
  return invoke_and_tag(l, f, args, results);
}

/* Out of the hot path, so that it stays small. */
PK__NOINLINE static int invoke_and_tag(pk__lane *l, pk_func *f,
                                       const pk_val *args, pk_val *results) {
  int rc = f->invoke(l, f, args, results);
  size_t i;
  if (rc == PK_OK)
    for (i = 0; i < f->sig.nresults; i++)
      results[i].type = f->sig.results[i];
  return rc;
}

static int closed_error(pk_func *f) {
  return pk__err(f->plugin->host, PK_ECLOSED, f->plugin->path, "call",
                 "'%s': the plugin was closed", f->name);
}

/* Does p run its calls in instances (the backend's, a pool of them once
   open has returned)? */
static int has_instances(const pk_plugin *p) {
  return p->backend->inst_new != NULL && !p->describe_only;
}

/* Can lane l call on the fast path? (p->mu held) */
static int lane_ready(const pk_plugin *p, const pk__lane *l) {
  if (p->closed)
    return 0;
  if ((p->flags & PK__PF_SERIAL) && (p->shared || p->owner != l->tid))
    return 0;
  /* (During open the pool flag is not set yet, but instances are made.) */
  if (has_instances(p) && l->inst == NULL)
    return 0;
  return 1;
}

/* A call on lane l, which holds no instance after checkout: it came from
   a host function that the init of an instance being made calls (at open,
   or for this very lane), and that instance takes calls only once its
   init has returned. (p->mu held, released on return. No deadline to
   clear: an outermost call sets one, and then the lane has an instance.) */
static int init_callback_error(pk_func *f, pk__lane *l, unsigned busy) {
  pk_plugin *p = f->plugin;
  pk__os_mutex_unlock(&p->mu);
  __atomic_store_n(&l->busy, busy, __ATOMIC_RELEASE);
  return pk__err(p->host, PK_EINIT, p->path, "call",
                 "'%s' was called during the init of the instance it would "
                 "run in (by a host function init called): an instance "
                 "takes calls once its init has returned",
                 f->name);
}

/*
 * An instance for lane l (p->mu held; released while an instance is made
 * or while waiting): an idle one; a new one while there are fewer than
 * max_inst; one an idle lane holds; else wait for one until the call's
 * deadline. The wait polls (a lane gives its instance back only when
 * asked), briefly: it happens only with more threads than instances.
 */
static int checkout(pk_plugin *p, pk__lane *l) {
  pk__lane *m;
  uint64_t deadline = l->deadline_ns; /* the call's (call_slow), or 0 */
  int rc;
  for (;;) {
    if (p->closed)
      return PK_ECLOSED;
    if (p->nidle > 0) {
      l->inst = p->idle[--p->nidle];
      l->igen++;
      return PK_OK;
    }
    if (p->ninst < p->max_inst) {
      void *inst = NULL;
      p->ninst++;
      pk__os_mutex_unlock(&p->mu);
      l->phase = "init";
      rc = p->backend->inst_new(p, l, &inst);
      l->phase = NULL;
      pk__os_mutex_lock(&p->mu);
      if (rc < 0) {
        p->ninst--;
        return rc;
      }
      l->inst = inst; /* a close meanwhile frees it with the lane's */
      l->igen++;
      return p->closed ? PK_ECLOSED : PK_OK;
    }
    for (m = p->all_lanes; m != NULL; m = m->next) {
      if (m == l || m->inst == NULL ||
          __atomic_load_n(&m->busy, __ATOMIC_RELAXED) != 0)
        continue;
      if (lane_revoke(m, 0)) {
        l->inst = m->inst;
        l->igen++;
        m->inst = NULL;
        m->igen++;
        return PK_OK;
      }
    }
    if (deadline != 0 && pk__os_clock_ns(1) >= deadline)
      return pk__err(p->host, PK_ETIMEOUT, p->path, "call",
                     "all %zu instances stayed busy for call_timeout_ms "
                     "(%d ms); raise max_instances",
                     p->max_inst, p->timeout_ms);
    p->waiters++;
    {
      uint64_t until = pk__os_clock_ns(1) + 200000u;
      pk__os_cond_wait(&p->cv, &p->mu,
                       deadline != 0 && deadline < until ? deadline : until);
    }
    p->waiters--;
  }
}

/* reset_after_call, after the outermost call on lane l: back to the state
   init left; an instance that cannot be reset is dropped (the pool makes
   a new one), the call failing with the reset's code if it had not
   failed. */
static int reset_instance(pk_plugin *p, pk__lane *l, int rc) {
  int r2 = p->backend->inst_reset(p, l, l->inst);
  if (r2 < 0) {
    void *inst = l->inst;
    pk__os_mutex_lock(&p->mu);
    l->inst = NULL;
    l->igen++;
    p->ninst--;
    __atomic_store_n(&l->slow, LANE_SLOW, __ATOMIC_RELAXED);
    pk__os_mutex_unlock(&p->mu);
    p->backend->inst_free(p, inst);
    if (rc == PK_OK)
      rc = r2;
  }
  return rc;
}

/* The same after a call that failed: it fails with its own code, so its
   message stays too, whatever the reset sets on its way (a Lua state's
   fini and init are script code whose host functions may fail, caught;
   a reset that fails says why). */
PK__NOINLINE static int reset_failed(pk_plugin *p, pk__lane *l, int rc) {
  char msg[PK__ERRMSG_MAX], *buf;
  const char *m = pk__thread_errmsg_get(p->host);
  size_t n = strlen(m);
  if (n >= sizeof msg)
    n = sizeof msg - 1;
  memcpy(msg, m, n);
  msg[n] = '\0';
  rc = reset_instance(p, l, rc);
  if ((buf = pk__thread_errmsg(p->host)) != NULL)
    memcpy(buf, msg, n + 1);
  return rc;
}

/* A ready lane of a reset_after_call plugin: the call, then the reset, no
   lock. `busy` as for call_slow (l->busy raised already). */
PK__NOINLINE static int call_reset(pk_func *f, pk__lane *l, unsigned busy,
                                   const pk_val *args, pk_val *results) {
  pk_plugin *p = f->plugin;
  int rc;
  if (busy == 0 && l->arena.dirty)
    pk__arena_reset(p->host, &l->arena);
  /* call_timeout_ms bounds the whole call, the reset too (a Lua state's
     fini and the new state's chunk and init): one deadline for both
     (pk__call_deadline). */
  if (busy == 0 && p->timeout_ms > 0)
    l->deadline_ns = pk__os_clock_ns(1) + (uint64_t)p->timeout_ms * 1000000u;
  rc = dispatch(f, l, args, results);
  if (busy == 0) {
    rc = rc < 0 ? reset_failed(p, l, rc) : reset_instance(p, l, rc);
    l->deadline_ns = 0;
  }
  __atomic_store_n(&l->busy, busy, __ATOMIC_RELEASE);
  return rc;
}

/*
 * A plugin that is not thread-safe runs without a lock while one thread
 * calls it (its owner). When a second thread calls, calls take call_mu
 * from then on; but the owner may be in a call that took none, so no
 * other thread may run one until that call has returned ("handing"):
 * seen by the owner itself starting a new outermost call, or by a waiter
 * finding the owner's lane idle (after the membarrier, the owner's next
 * call takes the slow path and the lock). p->mu held; PK_ECLOSED when the
 * plugin closes meanwhile.
 */
static int serial_handoff(pk_plugin *p, pk__lane *l) {
  pk__lane *o;
  if (p->owner == 0) {
    p->owner = l->tid;
    return PK_OK;
  }
  o = p->lanes->n > p->owner ? p->lanes->lane[p->owner] : NULL;
  if (o == PK__LANE_NONE)
    o = NULL;
  if (p->owner != l->tid && !p->shared) {
    p->shared = 1;
    p->handing = o != NULL;
    if (o != NULL) {
      __atomic_store_n(&o->slow, 1, PK__ORD_LANE);
      pk__os_membarrier();
    }
  }
  while (p->handing) {
    if (l == o || __atomic_load_n(&o->busy, PK__ORD_LANE_ACQ) == 0) {
      p->handing = 0;
      pk__os_cond_broadcast(&p->cv);
      break;
    }
    if (p->closed)
      return PK_ECLOSED;
    pk__os_cond_wait(&p->cv, &p->mu, pk__os_clock_ns(1) + 100000u);
  }
  return PK_OK;
}

static void solo_sync(pk_plugin *p, pk__lane *l);

/*
 * Everything but the common case: the thread's first call of the plugin
 * (no lane yet), a closed plugin, a serialized plugin a second thread
 * calls, a lane without an instance, reset_after_call. `busy` is what
 * l->busy was before this call raised it (l NULL: not raised yet).
 */
PK__NOINLINE static int call_slow(pk_func *f, pk__lane *l, unsigned busy,
                                  const pk_val *args, pk_val *results) {
  pk_plugin *p = f->plugin;
  int rc = PK_OK, locked = 0;

  if (l == NULL) {
    unsigned tid = pk__thread_id();
    if (tid == 0)
      return pk__err(p->host, PK_ENOMEM, p->path, "call",
                     "out of memory for the thread's state");
    pk__os_mutex_lock(&p->mu);
    l = p->closed ? NULL : lane_get(p, tid);
    rc = p->closed ? PK_ECLOSED : PK_OK;
    pk__os_mutex_unlock(&p->mu);
    if (rc == PK_ECLOSED)
      return closed_error(f);
    if (l == NULL)
      return pk__err(p->host, PK_ENOMEM, p->path, "call",
                     "out of memory for the thread's lane");
    busy = l->busy;
    __atomic_store_n(&l->busy, busy + 1, PK__ORD_LANE);
  }
  pk__os_mutex_lock(&p->mu);
  if (p->closed) {
    pk__os_mutex_unlock(&p->mu);
    __atomic_store_n(&l->busy, busy, __ATOMIC_RELEASE);
    return closed_error(f);
  }
  if (busy == 0) {
    if ((p->flags & PK__PF_SERIAL) && (rc = serial_handoff(p, l)) < 0) {
      pk__os_mutex_unlock(&p->mu);
      __atomic_store_n(&l->busy, busy, __ATOMIC_RELEASE);
      return closed_error(f);
    }
    /* call_timeout_ms bounds the whole call: the wait, the new
       instance's init, the call itself and a reset_after_call
       (pk__call_deadline). */
    if ((p->flags & PK__PF_POOL) && p->timeout_ms > 0 &&
        (l->inst == NULL || (p->flags & PK__PF_RESET)))
      l->deadline_ns =
          pk__os_clock_ns(1) + (uint64_t)p->timeout_ms * 1000000u;
    if ((p->flags & PK__PF_POOL) && l->inst == NULL) {
      if ((rc = checkout(p, l)) < 0) {
        pk__os_mutex_unlock(&p->mu);
        l->deadline_ns = 0;
        __atomic_store_n(&l->busy, busy, __ATOMIC_RELEASE);
        return rc == PK_ECLOSED ? closed_error(f) : rc;
      }
    }
  }
  if (has_instances(p) && l->inst == NULL)
    return init_callback_error(f, l, busy);
  /* Ready: the next call takes the fast path, or for reset_after_call the
     short one of call_reset (no lock either). */
  if (lane_ready(p, l) && l->solo_gen != l->igen)
    solo_sync(p, l);
  __atomic_store_n(&l->slow,
                   !lane_ready(p, l) ? LANE_SLOW
                   : (p->flags & PK__PF_RESET) ? LANE_RESET : 0u,
                   __ATOMIC_RELAXED);
  locked = (p->flags & PK__PF_SERIAL) && p->shared;
  pk__os_mutex_unlock(&p->mu);
  if (locked) {
    /* call_mu, recursive for this thread: a host function calling back
       into the plugin holds it already. Only the owner writes its own
       number in call_owner, so reading our own there is exact. */
    if (__atomic_load_n(&p->call_owner, __ATOMIC_RELAXED) == l->tid) {
      p->call_depth++;
    } else {
      pk__os_mutex_lock(&p->call_mu);
      __atomic_store_n(&p->call_owner, l->tid, __ATOMIC_RELAXED);
      p->call_depth = 1;
    }
  }
  if (busy == 0 && l->arena.dirty)
    pk__arena_reset(p->host, &l->arena);
  rc = dispatch(f, l, args, results);
  if (busy == 0 && (p->flags & PK__PF_RESET) && l->inst != NULL)
    rc = rc < 0 ? reset_failed(p, l, rc) : reset_instance(p, l, rc);
  if (busy == 0)
    l->deadline_ns = 0;
  if (locked && --p->call_depth == 0) {
    __atomic_store_n(&p->call_owner, 0, __ATOMIC_RELAXED);
    pk__os_mutex_unlock(&p->call_mu);
  }
  __atomic_store_n(&l->busy, busy, __ATOMIC_RELEASE);
  return rc;
}

/* Marks lane l in one more call (`busy`: the calls it was in), then
   reads its slow flag: in this order, against lane_revoke's "slow, then
   busy" (core.h). Nonzero: the call takes call_diverted instead. */
static inline unsigned lane_enter(pk__lane *l, unsigned busy) {
  __atomic_store_n(&l->busy, busy + 1, PK__ORD_LANE);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  return __atomic_load_n(&l->slow, PK__ORD_LANE);
}

/* The call lane_enter found sent down slow path sl. */
static inline int call_diverted(unsigned sl, pk_func *f, pk__lane *l,
                                unsigned busy, const pk_val *args,
                                pk_val *results) {
  return sl == LANE_RESET ? call_reset(f, l, busy, args, results)
                          : call_slow(f, l, busy, args, results);
}

/* A call from inside a host function of an outer call on this thread:
   the outer call's results stay valid (no arena reset). */
PK__NOINLINE static int call_nested(pk_func *f, pk__lane *l,
                                    const pk_val *args, pk_val *results) {
  unsigned busy = l->busy, sl;
  int rc;
  if (PK__UNLIKELY((sl = lane_enter(l, busy)) != 0))
    return call_diverted(sl, f, l, busy, args, results);
  rc = dispatch(f, l, args, results);
  __atomic_store_n(&l->busy, busy, __ATOMIC_RELEASE);
  return rc;
}

/* What call_fast's one test of the lane found: no lane (call_slow makes
   one), a nested call, or an outermost one whose thread's previous results
   die now. */
PK__NOINLINE static int call_rare(pk_func *f, pk__lane *l, const pk_val *args,
                                  pk_val *results) {
  unsigned sl;
  int rc;
  if (l == PK__LANE_NONE)
    return call_slow(f, NULL, 0, args, results);
  if (l->busy != 0)
    return call_nested(f, l, args, results);
  if ((sl = lane_enter(l, 0)) != 0)
    return call_diverted(sl, f, l, 0, args, results);
  pk__arena_reset(f->plugin->host, &l->arena);
  rc = dispatch(f, l, args, results);
  __atomic_store_n(&l->busy, 0, __ATOMIC_RELEASE);
  return rc;
}

/* Lane l is ready and holds another instance than when its thread last
   synced, or it never did (p->mu held, on that thread): in each of p's
   functions that use solo slots, the thread's slot, taken if it has none
   and one is free, points at the lane and the instance it holds now. */
static void solo_sync(pk_plugin *p, pk__lane *l) {
  size_t i, k;
  l->solo_gen = l->igen;
  for (i = 0; i < p->nfuncs && i < PK__SOLO_FUNCS; i++) {
    pk_func *f = &p->funcs[i];
    struct pk__solo *free = NULL, *mine = NULL;
    if (!f->solo_on)
      continue;
    for (k = 0; k < PK__SOLO; k++) {
      unsigned t = __atomic_load_n(&f->solo[k].tid, __ATOMIC_RELAXED);
      if (t == l->tid)
        mine = &f->solo[k];
      else if (t == PK__SOLO_FREE && free == NULL)
        free = &f->solo[k];
    }
    if (mine == NULL && (mine = free) == NULL)
      continue;
    mine->l = l;
    /* (solo_on: the backend has the hook.) */
    mine->fast = l->inst != NULL ? p->backend->fast(p, l->inst, f) : NULL;
    __atomic_store_n(&mine->tid, l->tid, __ATOMIC_RELAXED);
  }
}

/* pk_func.tail until open chose one (a host function that init calls
   can call the plugin): the thunk or invoke the backend set by then. */
static int tail_dispatch(pk_func *f, const pk_val *args, pk__lane *l,
                         pk_val *results, void *fast) {
  int rc = dispatch(f, l, args, results);
  (void)fast;
  pk__lane_leave(l);
  return rc;
}

/* pk_func.tail for functions whose backend has none: the call, then its
   end (the plugin's thunk is its code, which close may unload). */
static int tail_thunk(pk_func *f, const pk_val *args, pk__lane *l,
                      pk_val *results, void *fast) {
  int rc = f->thunk(&l->ctx, args, results);
  (void)fast;
  pk__lane_leave(l);
  return rc;
}
static int tail_invoke(pk_func *f, const pk_val *args, pk__lane *l,
                       pk_val *results, void *fast) {
  int rc = f->invoke_tags ? f->invoke(l, f, args, results)
                          : invoke_and_tag(l, f, args, results);
  (void)fast;
  pk__lane_leave(l);
  return rc;
}

/* call_fast for a function whose tail is tail_thunk (pk_func.direct):
   the same steps, and the call itself, with the lane already where the
   thunk and the end of the call want it. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline int call_direct(pk_func *f, const pk_val *args,
                              pk_val *results) {
  pk__lane *l = pk__lane_of(f, pk__tls_tid);
  unsigned sl;
  int rc;
  if (PK__UNLIKELY((l->busy | (unsigned)__atomic_load_n(&l->arena.dirty,
                                                       __ATOMIC_RELAXED)) !=
                   0))
    return call_rare(f, l, args, results);
  if (PK__UNLIKELY((sl = lane_enter(l, 0)) != 0))
    return call_diverted(sl, f, l, 0, args, results);
  l->cur = f;
  l->ctx.status = 0;
  rc = f->thunk(&l->ctx, args, results);
  pk__lane_leave(l);
  return rc;
}

/* The call, once checked: the thread's lane from f's solo slots (else
   the lane table), one test of the lane, a store marking it busy, one
   flag test, a tail call of f's tail, which ends the call. The rare
   cases are tail calls too.
   The slots are tested one by one, written out: a loop stays a loop. */
_Static_assert(PK__SOLO == 4, "call_fast tests each solo slot by hand");
#if defined(__GNUC__) || defined(__clang__)
__attribute__((always_inline))
#endif
static inline int call_fast(pk_func *f, const pk_val *args, pk_val *results) {
  unsigned tid, sl;
  pk__lane *l;
  void *fast = NULL;
  if (PK__LIKELY(f->direct))
    return call_direct(f, args, results);
  tid = pk__tls_tid;
  if (!f->solo_on) {
    l = pk__lane_of(f, tid);
  } else if (__atomic_load_n(&f->solo[0].tid, __ATOMIC_RELAXED) == tid) {
    l = f->solo[0].l;
    fast = f->solo[0].fast;
  } else if (__atomic_load_n(&f->solo[1].tid, __ATOMIC_RELAXED) == tid) {
    l = f->solo[1].l;
    fast = f->solo[1].fast;
  } else if (__atomic_load_n(&f->solo[2].tid, __ATOMIC_RELAXED) == tid) {
    l = f->solo[2].l;
    fast = f->solo[2].fast;
  } else if (__atomic_load_n(&f->solo[3].tid, __ATOMIC_RELAXED) == tid) {
    l = f->solo[3].l;
    fast = f->solo[3].fast;
  } else {
    l = pk__lane_of(f, tid);
  }
  /* No lane yet, nested in a host function, or the results of the
     thread's previous call to free first: one test for the three. */
  if (PK__UNLIKELY((l->busy | (unsigned)__atomic_load_n(&l->arena.dirty,
                                                       __ATOMIC_RELAXED)) !=
                   0))
    return call_rare(f, l, args, results);
  if (PK__UNLIKELY((sl = lane_enter(l, 0)) != 0))
    return call_diverted(sl, f, l, 0, args, results);
  l->cur = f;
  l->ctx.status = 0;
  return f->tail(f, args, l, results, fast);
}

/* A call with a NULL args or results (legal where the count is 0), or
   bad counts: bad_call's full checks, off the hot path. */
PK__NOINLINE static int call_unusual(pk_func *f, const pk_val *args,
                                     size_t nargs, pk_val *results,
                                     size_t nresults) {
  int rc = bad_call(f, args, nargs, results, nresults);
  return rc < 0 ? rc : call_fast(f, args, results);
}

/*
 * The hot path: checks, the thread's lane (call_fast), one test of it, a
 * store marking it busy, one flag test, the call, a store ending it. No
 * lock and no atomic read-modify-write: the order of "busy, then slow"
 * against another thread's "slow, then busy" is kept by
 * pk__os_membarrier on that thread's side (lane_revoke). Nesting state
 * is the host function path's business (pk__hostfn_call), everything
 * rare call_slow's. Each taken branch costs the native path about as
 * much as a few instructions, so the common case falls through: a NULL
 * args or results pointer (legal only with a count of 0) leaves through
 * call_unusual, and a native call runs inline (call_direct), where a jump
 * to f's tail and its call of the thunk would take two more.
 */
int pk_func_call(pk_func *f, const pk_val *args, size_t nargs,
                 pk_val *results, size_t nresults) {
  size_t i;

  if (PK__UNLIKELY(f == NULL))
    return PK_EINVAL;
  if (PK__UNLIKELY(nargs != f->sig.nparams || nresults < f->sig.nresults ||
                   args == NULL || results == NULL))
    return call_unusual(f, args, nargs, results, nresults);
  for (i = 0; i < nargs; i++)
    if (PK__UNLIKELY(args[i].type != f->sig.params[i]))
      return bad_call(f, args, nargs, results, nresults);
  return call_fast(f, args, results);
}

void *pk_plugin_scratch(pk_plugin *p, size_t n) {
  pk__lane *l;
  if (p == NULL || (l = pk__lane_cur(p)) == NULL)
    return NULL;
  return pk__arena_alloc(p->host, &l->arena, n ? n : 1);
}

void pk_plugin_fail(pk_plugin *p, const char *msg) {
  pk__lane *l;
  if (p == NULL || (l = pk__lane_cur(p)) == NULL)
    return;
  if (l->cur_hostfn != NULL)
    pk__perr(p, PK_EHOST, "host function '%s' failed: %s",
             l->cur_hostfn->name, msg ? msg : "");
  else
    pk__perr(p, PK_EHOST, "%s", msg ? msg : "");
  l->hostfn_msg = 1;
}

/* ---- the host table for in-process plugins ------------------------------ */

/* A failed result allocation fails the call with ENOMEM, so plugins need
   not check (their result is dropped). */
static void *api_alloc(pk_ctx *c, size_t n) {
  pk__lane *l = (pk__lane *)c;
  pk_plugin *p = l->plugin;
  void *m = pk__arena_alloc(p->host, &l->arena, n);
  if (m == NULL && !l->ctx.status) {
    l->ctx.status = PK_ENOMEM;
    pk__perr(p, PK_ENOMEM, "out of memory for a %zu-byte result", n);
  }
  return m;
}

static void api_fail(pk_ctx *c, const char *msg, size_t len) {
  pk__lane *l = (pk__lane *)c;
  if (l->ctx.status == PK_ENOMEM)
    return; /* keep the root cause */
  l->ctx.status = PK_EPLUGIN;
  pk__perr_text(l->plugin, PK_EPLUGIN, msg, len);
}

void pk__plugin_log(pk_plugin *p, int level, const char *msg, size_t len) {
  pk_host *h = p->host;
  if (h->log == NULL)
    return;
  /* The level comes from the plugin: a sink may index a table with it. */
  if (level < PK_LOG_ERROR)
    level = PK_LOG_ERROR;
  else if (level > PK_LOG_DEBUG)
    level = PK_LOG_DEBUG;
  if (len > PK__LOG_MAX)
    len = PK__LOG_MAX;
  h->log(h->log_ud, level, p->name ? p->name : p->path, msg ? msg : "",
         msg ? len : 0);
}

static void api_log(pk_ctx *c, int level, const char *msg, size_t len) {
  pk__plugin_log(((pk__lane *)c)->plugin, level, msg, len);
}

static int api_config(pk_ctx *c, const char *key, size_t keylen,
                      pk_str *out) {
  return pk__config_get(((pk__lane *)c)->plugin, key, keylen, out);
}

static int api_host_find(pk_ctx *c, const char *name, const char *sig,
                         int32_t *out_index) {
  if (name == NULL || out_index == NULL)
    return PK_EINVAL;
  return pk__hostfn_find(((pk__lane *)c)->plugin, name, sig, out_index);
}

static int api_host_call(pk_ctx *c, int32_t index, const pk_val *args,
                         size_t nargs, pk_val *results, size_t nresults) {
  return pk__hostfn_call((pk__lane *)c, index, args, nargs, results,
                         nresults);
}

const struct pk_host_api pk__host_api = {
    PK_ABI_MAJOR,  PK_ABI_MINOR,  sizeof(struct pk_host_api),
    0,             api_alloc,     api_fail,
    api_log,       api_config,    api_host_find,
    api_host_call,
};
