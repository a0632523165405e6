/*
 * pk_serve.c: the plugin side of the process protocol (docs/protocol.md).
 *
 * Linked with a plugin's source (and pk_wire.c) it makes the plugin an
 * executable: main() checks the host's cookie, then pk_serve_desc serves
 * the PK_PLUGIN descriptor. The engine (pk_serve_run) is single-threaded
 * and recursive: while a plugin function waits for a host call's reply it
 * serves the calls the host makes back into the plugin, so nesting on the
 * wire mirrors nesting on the two stacks.
 *
 * Memory: results and copied arguments live in an arena reset when an
 * outermost call starts; everything else is allocated once at open.
 */
#define _GNU_SOURCE
#include "pk_serve.h"
#include "pk_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct chunk {
  struct chunk *next;
  size_t used, cap;
  max_align_t data[];
} chunk;

typedef struct ctx_ext {
  pk_ctx base; /* first: a pk_ctx * is a ctx_ext * */
  pk_serve *s;
} ctx_ext;

struct pk_serve {
  pk__chan chan;
  const pk_serve_ops *ops;
  void *ud;
  ctx_ext ctx;
  void *shm;
  size_t shm_size;
  /* From HELLO: one block of strings, and views into it. */
  uint8_t *hello;
  pk_str *config; /* key, value, key, value ... */
  size_t nconfig;
  char **grants; /* name, sig, name, sig ... (NUL-terminated copies) */
  size_t ngrants;
  /* For READY. */
  char *name, *version;
  char *tier; /* NULL: READY carries none */
  uint32_t abi_major, abi_minor;
  char **exports; /* name, sig, ... */
  size_t nexports, capexports;
  /* Call state. */
  chunk *arena;
  int depth;
  int failed;
  char msg[1024];
  size_t msglen;
  int dead; /* the host went away or spoke nonsense: exit */
};

static void *grow(void *ud, void *p, size_t n) {
  (void)ud;
  if (n == 0) {
    free(p);
    return NULL;
  }
  return realloc(p, n);
}

/* ---- arena ------------------------------------------------------------- */

void *pk_serve_alloc(pk_serve *s, size_t n) {
  chunk *c = s->arena;
  size_t need = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
  if (c == NULL || c->cap - c->used < need) {
    size_t cap = need > 65536 ? need : 65536;
    if ((c = malloc(sizeof *c + cap)) == NULL) {
      if (!s->failed)
        pk_serve_fail(s, PK_ENOMEM, "out of memory for a result", 27);
      return NULL;
    }
    c->used = 0;
    c->cap = cap;
    c->next = s->arena;
    s->arena = c;
  }
  c->used += need;
  return (char *)c->data + c->used - need;
}

/* Keep the newest chunk (usually the only one), free the rest. */
static void arena_reset(pk_serve *s) {
  chunk *c = s->arena, *n;
  if (c == NULL)
    return;
  for (n = c->next; n != NULL;) {
    chunk *x = n->next;
    free(n);
    n = x;
  }
  c->next = NULL;
  c->used = 0;
}

static void arena_free(pk_serve *s) {
  arena_reset(s);
  free(s->arena);
  s->arena = NULL;
}

/* ---- sending and receiving -------------------------------------------- */

static int send_out(pk_serve *s) {
  int rc = pk__wire_end(&s->chan.out);
  if (rc == PK_OK)
    rc = pk__chan_send(&s->chan);
  if (rc < 0)
    s->dead = 1;
  return rc;
}

/* Next frame from the host, or NULL (the host is gone: s->dead). */
static const uint8_t *recv_frame(pk_serve *s, size_t *len) {
  const uint8_t *body;
  int rc;
  do
    rc = pk__chan_recv(&s->chan, -1, &body, len);
  while (rc == PK_ETIMEOUT || rc == PK__CHAN_EXTRA);
  if (rc != PK_OK) {
    s->dead = 1;
    return NULL;
  }
  return body;
}

void pk_serve_fail(pk_serve *s, int code, const char *msg, size_t len) {
  if (s->failed == PK_ENOMEM)
    return; /* keep the root cause */
  s->failed = code < 0 ? code : PK_EPLUGIN;
  if (len >= sizeof s->msg)
    len = sizeof s->msg - 1;
  memcpy(s->msg, msg ? msg : "", msg ? len : 0);
  s->msglen = msg ? len : 0;
}

void pk_serve_log(pk_serve *s, int level, const char *msg, size_t len) {
  const uint8_t *body;
  size_t n;
  if (s->dead)
    return;
  if (len > PK__WIRE_MAX_FRAME / 2) /* a log line, not a frame's worth */
    len = PK__WIRE_MAX_FRAME / 2;
  pk__wire_begin(&s->chan.out, PK__F_LOG);
  pk__wire_u32(&s->chan.out, (uint32_t)level);
  pk__wire_bytes(&s->chan.out, msg, len);
  if (send_out(s) < 0 || (body = recv_frame(s, &n)) == NULL)
    return;
  if (body[0] != PK__F_ACK)
    s->dead = 1;
}

/* Copy str/bytes payloads out of the receive buffer, which the next
   frame (a nested call) reuses. */
static int own_vals(pk_serve *s, pk_val *v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    if ((v[i].type == PK_T_STR || v[i].type == PK_T_BYTES) &&
        v[i].str.len > 0) {
      void *m = pk_serve_alloc(s, v[i].str.len);
      if (m == NULL)
        return PK_ENOMEM;
      memcpy(m, v[i].str.ptr, v[i].str.len);
      v[i].str.ptr = m;
    }
  }
  return PK_OK;
}

static void serve_call(pk_serve *s, const uint8_t *body, size_t len);

int pk_serve_host_call(pk_serve *s, int32_t index, const pk_val *args,
                       size_t nargs, pk_val *results, size_t nresults) {
  const uint8_t *body;
  size_t n;
  if (index < 0 || (size_t)index >= s->ngrants)
    return PK_EINVAL;
  if (s->dead)
    return PK_ECRASH;
  pk__wire_begin(&s->chan.out, PK__F_HOSTCALL);
  pk__wire_u32(&s->chan.out, (uint32_t)index);
  pk__wire_vals(&s->chan.out, args, nargs);
  if (pk__wire_end(&s->chan.out) == PK_EPROTO)
    return PK_ELIMIT; /* arguments over the 64 MiB frame: nothing sent */
  if (send_out(s) < 0)
    return PK_ECRASH;
  while ((body = recv_frame(s, &n)) != NULL) {
    pk__rd r;
    int32_t rc;
    size_t got;
    if (body[0] == PK__F_CALL) { /* the host calls back into us */
      serve_call(s, body, n);
      continue;
    }
    if (body[0] != PK__F_HOSTRET)
      break;
    pk__rd_init(&r, body + 1, n - 1);
    rc = (int32_t)pk__rd_u32(&r);
    if (rc != 0)
      return rc < 0 ? rc : PK_EHOST;
    got = pk__rd_vals(&r, results, nresults);
    if (!pk__rd_done(&r) || got != nresults)
      break;
    return own_vals(s, results, got);
  }
  s->dead = 1;
  return PK_EPROTO;
}

/* ---- serving ----------------------------------------------------------- */

static void serve_call(pk_serve *s, const uint8_t *body, size_t len) {
  pk_val args[PK_MAX_PARAMS], results[PK_MAX_RESULTS];
  size_t nargs, nres = 0;
  uint32_t index;
  int saved_failed = s->failed, rc;
  pk__rd r;

  if (s->depth == 0)
    arena_reset(s);
  pk__rd_init(&r, body + 1, len - 1);
  index = pk__rd_u32(&r);
  nargs = pk__rd_vals(&r, args, PK_MAX_PARAMS);
  if (!pk__rd_done(&r) || index >= s->nexports / 2) {
    s->dead = 1;
    return;
  }
  s->failed = 0;
  s->depth++;
  rc = own_vals(s, args, nargs);
  if (rc == PK_OK)
    rc = s->ops->call(s, s->ud, index, args, nargs, results, &nres);
  s->depth--;
  if (s->dead)
    return;
  if (rc == PK_OK && s->failed)
    rc = s->failed;
  if (rc == PK_OK) {
    pk__wire_begin(&s->chan.out, PK__F_RESULT);
    pk__wire_vals(&s->chan.out, results, nres);
  } else {
    if (s->failed == 0)
      s->msglen = (size_t)snprintf(s->msg, sizeof s->msg, "failed: %d", rc);
    pk__wire_begin(&s->chan.out, PK__F_ERROR);
    pk__wire_u32(&s->chan.out, (uint32_t)rc);
    pk__wire_bytes(&s->chan.out, s->msg, s->msglen);
  }
  s->failed = saved_failed;
  if (pk__wire_end(&s->chan.out) == PK_EPROTO) {
    /* Results over the frame limit: fail the call, not the process. */
    char big[128];
    int n = snprintf(big, sizeof big,
                     "results: frame of %zu bytes exceeds the protocol's %u "
                     "MiB limit",
                     s->chan.out.over, PK__WIRE_MAX_FRAME >> 20);
    pk__wire_begin(&s->chan.out, PK__F_ERROR);
    pk__wire_u32(&s->chan.out, (uint32_t)PK_ELIMIT);
    pk__wire_bytes(&s->chan.out, big, (size_t)n);
  }
  send_out(s);
}

static char *dupn(const void *p, size_t n) {
  char *d = malloc(n + 1);
  if (d != NULL) {
    memcpy(d, p, n);
    d[n] = '\0';
  }
  return d;
}

int pk_serve_describe(pk_serve *s, const char *name, const char *version,
                      uint32_t abi_major, uint32_t abi_minor) {
  free(s->name);
  free(s->version);
  s->name = dupn(name ? name : "", name ? strlen(name) : 0);
  s->version = dupn(version ? version : "", version ? strlen(version) : 0);
  s->abi_major = abi_major;
  s->abi_minor = abi_minor;
  return s->name && s->version ? PK_OK : PK_ENOMEM;
}

int pk_serve_tier(pk_serve *s, const char *tier) {
  free(s->tier);
  s->tier = tier != NULL ? dupn(tier, strlen(tier)) : NULL;
  return tier == NULL || s->tier != NULL ? PK_OK : PK_ENOMEM;
}

int pk_serve_export(pk_serve *s, const char *name, const char *sig) {
  if (s->nexports + 2 > s->capexports) {
    size_t cap = s->capexports ? s->capexports * 2 : 32;
    char **e = realloc(s->exports, cap * sizeof *e);
    if (e == NULL)
      return PK_ENOMEM;
    s->exports = e;
    s->capexports = cap;
  }
  s->exports[s->nexports] = dupn(name, strlen(name));
  s->exports[s->nexports + 1] = dupn(sig, strlen(sig));
  s->nexports += 2;
  return s->exports[s->nexports - 2] && s->exports[s->nexports - 1]
             ? PK_OK
             : PK_ENOMEM;
}

size_t pk_serve_nconfig(const pk_serve *s) { return s->nconfig; }

void pk_serve_config_at(const pk_serve *s, size_t i, pk_str *key,
                        pk_str *val) {
  *key = s->config[2 * i];
  *val = s->config[2 * i + 1];
}

int pk_serve_config(const pk_serve *s, const char *key, size_t keylen,
                    pk_str *out) {
  size_t i;
  for (i = 0; i < s->nconfig; i++)
    if (s->config[2 * i].len == keylen &&
        memcmp(s->config[2 * i].ptr, key, keylen) == 0) {
      *out = s->config[2 * i + 1];
      return PK_OK;
    }
  return PK_ENOENT;
}

size_t pk_serve_ngrants(const pk_serve *s) { return s->ngrants; }

void pk_serve_grant_at(const pk_serve *s, size_t i, const char **name,
                       const char **sig) {
  *name = s->grants[2 * i];
  *sig = s->grants[2 * i + 1];
}

void pk_serve_test_raw(pk_serve *s, const void *bytes, size_t n) {
  pk__chan_send_raw(&s->chan, bytes, n);
}

pk_serve *pk_serve_from_ctx(pk_ctx *c) { return ((ctx_ext *)c)->s; }

/* Parse HELLO: keep a copy of the body, point config/grants into it. */
static int read_hello(pk_serve *s, const uint8_t *body, size_t len,
                      uint32_t *flags) {
  pk__rd r;
  uint32_t vmin, vmax, i, n;
  size_t k;
  if ((s->hello = malloc(len)) == NULL)
    return PK_ENOMEM;
  memcpy(s->hello, body, len);
  pk__rd_init(&r, s->hello + 1, len - 1);
  vmin = pk__rd_u16(&r);
  vmax = pk__rd_u16(&r);
  *flags = pk__rd_u32(&r);
  pk__rd_u32(&r); /* slot size: we map the descriptor's size */
  n = pk__rd_u32(&r);
  if (r.bad || n > len || (s->config = calloc(2 * (size_t)n + 1,
                                              sizeof *s->config)) == NULL)
    return PK_EPROTO;
  for (i = 0; i < 2 * n && !r.bad; i++) {
    s->config[i].ptr = (const char *)pk__rd_bytes(&r, &k);
    s->config[i].len = k;
  }
  s->nconfig = n;
  n = pk__rd_u32(&r);
  if (r.bad || n > len ||
      (s->grants = calloc(2 * (size_t)n + 1, sizeof *s->grants)) == NULL)
    return PK_EPROTO;
  for (i = 0; i < 2 * n && !r.bad; i++) {
    const uint8_t *p = pk__rd_bytes(&r, &k);
    if ((s->grants[i] = dupn(p ? (const void *)p : "", k)) == NULL)
      return PK_ENOMEM;
  }
  s->ngrants = n;
  if (!pk__rd_done(&r))
    return PK_EPROTO;
  if (vmin > PK__WIRE_VERSION || vmax < PK__WIRE_VERSION)
    return PK_EABI;
  return PK_OK;
}

static void serve_free(pk_serve *s) {
  size_t i;
  for (i = 0; i < 2 * s->ngrants; i++)
    free(s->grants[i]);
  for (i = 0; i < s->nexports; i++)
    free(s->exports[i]);
  free(s->grants);
  free(s->exports);
  free(s->config);
  free(s->hello);
  free(s->name);
  free(s->version);
  free(s->tier);
  arena_free(s);
  pk__chan_fini(&s->chan);
  if (s->shm != NULL)
    munmap(s->shm, s->shm_size);
}

static int env_int(const char *name, int dflt) {
  const char *v = getenv(name);
  return v != NULL && *v != '\0' ? atoi(v) : dflt;
}

int pk_serve_run(const pk_serve_ops *ops, void *ud) {
  static pk_serve s; /* static: one engine per process */
  const uint8_t *body;
  size_t len, i;
  uint32_t flags = 0;
  int rc, fd = env_int(PK__WIRE_FD_ENV, 3), shmfd;
  const char *cookie = getenv(PK__WIRE_COOKIE_ENV);

  if (cookie == NULL || strcmp(cookie, PK__WIRE_COOKIE) != 0) {
    fprintf(stderr,
            "This is a plugkit plugin. It is not meant to be run directly:\n"
            "a program using plugkit loads it with pk_plugin_open().\n");
    return 2;
  }
  memset(&s, 0, sizeof s);
  s.ops = ops;
  s.ud = ud;
  s.ctx.s = &s;
  pk__chan_init(&s.chan, fd, PK__CHAN_PLUGIN, grow, NULL);
  /* Map the host's slot now; READY says whether we use it. */
  shmfd = env_int(PK__WIRE_SHM_ENV, -1);
  if (shmfd >= 0) {
    struct stat st;
    if (fstat(shmfd, &st) == 0 && st.st_size > 0) {
      void *m = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE,
                     MAP_SHARED, shmfd, 0);
      if (m != MAP_FAILED) {
        s.shm = m;
        s.shm_size = (size_t)st.st_size;
      }
    }
    close(shmfd);
  }
  if ((body = recv_frame(&s, &len)) == NULL || body[0] != PK__F_HELLO) {
    serve_free(&s);
    return 3;
  }
  rc = read_hello(&s, body, len, &flags);
  if (rc == PK_OK)
    rc = ops->open(&s, ud);
  if (s.dead) {
    serve_free(&s);
    return 3;
  }
  if (rc != PK_OK) {
    if (s.msglen == 0)
      s.msglen = (size_t)snprintf(s.msg, sizeof s.msg, "open failed: %s",
                                  rc == PK_EABI ? "protocol version"
                                                : "error");
    pk__wire_begin(&s.chan.out, PK__F_ERROR);
    pk__wire_u32(&s.chan.out, (uint32_t)rc);
    pk__wire_bytes(&s.chan.out, s.msg, s.msglen);
    send_out(&s);
    serve_free(&s);
    return 1;
  }
  flags &= s.shm != NULL ? PK__WIRE_F_SHM : 0;
  if (s.tier != NULL)
    flags |= PK__WIRE_F_TIER;
  pk__wire_begin(&s.chan.out, PK__F_READY);
  pk__wire_u16(&s.chan.out, PK__WIRE_VERSION);
  pk__wire_u32(&s.chan.out, flags);
  pk__wire_cstr(&s.chan.out, s.name);
  pk__wire_cstr(&s.chan.out, s.version);
  pk__wire_u32(&s.chan.out, s.abi_major);
  pk__wire_u32(&s.chan.out, s.abi_minor);
  pk__wire_u32(&s.chan.out, (uint32_t)(s.nexports / 2));
  for (i = 0; i < s.nexports; i++)
    pk__wire_cstr(&s.chan.out, s.exports[i]);
  if (s.tier != NULL)
    pk__wire_cstr(&s.chan.out, s.tier);
  if (send_out(&s) < 0) {
    serve_free(&s);
    return 3;
  }
  if (flags & PK__WIRE_F_SHM)
    pk__chan_use_shm(&s.chan, s.shm, s.shm_size,
                     env_int(PK__WIRE_SPIN_ENV, 20000));
  while (!s.dead && (body = recv_frame(&s, &len)) != NULL) {
    if (body[0] == PK__F_CALL) {
      serve_call(&s, body, len);
    } else if (body[0] == PK__F_SHUTDOWN) {
      ops->close(&s, ud);
      pk__wire_begin(&s.chan.out, PK__F_BYE);
      send_out(&s);
      serve_free(&s);
      return 0;
    } else {
      break; /* nothing else may arrive here: give up */
    }
  }
  serve_free(&s);
  return 3;
}

/* ---- serving a PK_PLUGIN descriptor ------------------------------------ */

typedef struct desc_state {
  const pk_plugin_desc *d;
  uint8_t (*rtypes)[PK_MAX_RESULTS]; /* per export */
  uint8_t *nres;
  int inited;
} desc_state;

/* The result types of a signature such as "(i32, str)->i32". */
static int sig_results(const char *sig, uint8_t *types, uint8_t *n) {
  static const char *const names[] = {"", "i32", "i64", "f32", "f64", "str",
                                      "bytes"};
  const char *p = strstr(sig, "->");
  *n = 0;
  if (p == NULL)
    return -1;
  for (p += 2; *p != '\0';) {
    size_t k = 0, t;
    if (!(*p >= 'a' && *p <= 'z')) {
      p++; /* spaces, parentheses, commas */
      continue;
    }
    while ((p[k] >= 'a' && p[k] <= 'z') || (p[k] >= '0' && p[k] <= '9'))
      k++;
    for (t = 1; t < 7; t++)
      if (strlen(names[t]) == k && memcmp(p, names[t], k) == 0)
        break;
    if (t == 7 || *n >= PK_MAX_RESULTS)
      return -1;
    types[(*n)++] = (uint8_t)t;
    p += k;
  }
  return 0;
}

static void *api_alloc(pk_ctx *c, size_t n) {
  return pk_serve_alloc(pk_serve_from_ctx(c), n);
}
static void api_fail(pk_ctx *c, const char *msg, size_t len) {
  pk_serve_fail(pk_serve_from_ctx(c), PK_EPLUGIN, msg, len);
}
static void api_log(pk_ctx *c, int level, const char *msg, size_t len) {
  pk_serve_log(pk_serve_from_ctx(c), level, msg, len);
}
static int api_config(pk_ctx *c, const char *key, size_t keylen,
                      pk_str *out) {
  return pk_serve_config(pk_serve_from_ctx(c), key, keylen, out);
}

/* Signatures compare without spaces (the host sends canonical ones). */
static int sig_same(const char *a, const char *b) {
  for (;;) {
    while (*a == ' ')
      a++;
    while (*b == ' ')
      b++;
    if (*a != *b)
      return 0;
    if (*a == '\0')
      return 1;
    a++;
    b++;
  }
}

static int api_host_find(pk_ctx *c, const char *name, const char *sig,
                         int32_t *out_index) {
  pk_serve *s = pk_serve_from_ctx(c);
  size_t i;
  if (name == NULL || out_index == NULL)
    return PK_EINVAL;
  for (i = 0; i < s->ngrants; i++)
    if (strcmp(s->grants[2 * i], name) == 0) {
      if (sig != NULL && !sig_same(sig, s->grants[2 * i + 1]))
        return PK_ESIG;
      *out_index = (int32_t)i;
      return PK_OK;
    }
  return PK_EDENIED;
}

static int api_host_call(pk_ctx *c, int32_t index, const pk_val *args,
                         size_t nargs, pk_val *results, size_t nresults) {
  return pk_serve_host_call(pk_serve_from_ctx(c), index, args, nargs,
                            results, nresults);
}

static const struct pk_host_api serve_api = {
    PK_ABI_MAJOR, PK_ABI_MINOR, sizeof(struct pk_host_api),
    0,            api_alloc,    api_fail,
    api_log,      api_config,   api_host_find,
    api_host_call};

static int desc_open(pk_serve *s, void *ud) {
  desc_state *ds = ud;
  const pk_plugin_desc *d = ds->d;
  uint32_t i;
  int rc;
  s->ctx.base.api = &serve_api;
  if (d->magic != PK_DESC_MAGIC || d->size != sizeof *d ||
      d->export_size != sizeof(pk_export_desc) ||
      d->hook_size != sizeof(pk_hook_desc)) {
    pk_serve_fail(s, PK_EABI, "bad plugin descriptor", 21);
    return PK_EABI;
  }
  if ((rc = pk_serve_describe(s, d->name, d->version, d->abi_major,
                              d->abi_minor)) < 0)
    return rc;
  ds->rtypes = calloc(d->nexports + 1, sizeof *ds->rtypes);
  ds->nres = calloc(d->nexports + 1, 1);
  if (ds->rtypes == NULL || ds->nres == NULL)
    return PK_ENOMEM;
  for (i = 0; i < d->nexports; i++) {
    if (sig_results(d->exports[i].sig, ds->rtypes[i], &ds->nres[i]) < 0) {
      pk_serve_fail(s, PK_EFORMAT, "bad export signature", 20);
      return PK_EFORMAT;
    }
    if ((rc = pk_serve_export(s, d->exports[i].name, d->exports[i].sig)) < 0)
      return rc;
  }
  for (i = 0; i < d->nhooks; i++)
    if (d->hooks[i].kind == PK_HOOK_INIT) {
      int r = ((int (*)(pk_ctx *))(void (*)(void))d->hooks[i].fn)(
          &s->ctx.base);
      if (s->dead)
        return PK_ECRASH;
      if (r != 0) {
        if (!s->failed) {
          char m[64];
          int k = snprintf(m, sizeof m, "init returned %d", r);
          pk_serve_fail(s, PK_EINIT, m, (size_t)k);
        }
        return PK_EINIT;
      }
    }
  ds->inited = 1;
  return PK_OK;
}

static int desc_call(pk_serve *s, void *ud, uint32_t index,
                     const pk_val *args, size_t nargs, pk_val *results,
                     size_t *nresults) {
  desc_state *ds = ud;
  uint8_t i;
  (void)nargs;
  ds->d->exports[index].thunk(&s->ctx.base, args, results);
  for (i = 0; i < ds->nres[index]; i++)
    results[i].type = ds->rtypes[index][i];
  *nresults = ds->nres[index];
  return PK_OK;
}

static void desc_close(pk_serve *s, void *ud) {
  desc_state *ds = ud;
  uint32_t i;
  if (ds->inited)
    for (i = 0; i < ds->d->nhooks; i++)
      if (ds->d->hooks[i].kind == PK_HOOK_FINI)
        ((void (*)(pk_ctx *))(void (*)(void))ds->d->hooks[i].fn)(
            &s->ctx.base);
}

int pk_serve_desc(const pk_plugin_desc *d) {
  static const pk_serve_ops ops = {desc_open, desc_call, desc_close};
  desc_state ds;
  int rc;
  memset(&ds, 0, sizeof ds);
  ds.d = d;
  rc = pk_serve_run(&ops, &ds);
  free(ds.rtypes);
  free(ds.nres);
  return rc;
}

#ifndef PK_SERVE_NO_MAIN
extern const pk_plugin_desc pk_plugin_descriptor;

int main(void) { return pk_serve_desc(&pk_plugin_descriptor); }
#endif
