/*
 * wasm.c: WebAssembly plugins on the built-in engine (src/wasm/engine).
 *
 * The ABI (docs/wasm-abi.md): scalar exports keep their wasm types and
 * are called with no marshalling; str and bytes follow the Component
 * Model's canonical ABI on core modules: the guest exports cabi_realloc,
 * a str/bytes parameter is (pointer, length) in guest memory, a str/bytes
 * result is a pointer to a return area holding (pointer, length), and
 * cabi_post_<name> releases it. A module exporting plugkit_abi_v1
 * describes itself through plugkit_describe; any other module is offered
 * with the scalar functions it exports. Host functions are imports from
 * module "plugkit", linked only when granted.
 *
 * This file opens and closes plugins; wabi.c has the canonical ABI and
 * calls from the host, wentry.c guest entries and limits, wimports.c the
 * imports, wasi.c WASI and wfmt.c printf for the guest.
 */
#include "wasm_backend.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- helpers ------------------------------------------------------------ */

uint8_t *pk__wasm_mem(pkw_instance *inst, uint32_t ptr, uint32_t len) {
  pkw_memory *m = inst ? pkw_instance_memory(inst) : NULL;
  uint64_t size;
  uint8_t *base;
  if (m == NULL)
    return NULL;
  base = pkw_memory_data(m, &size);
  if ((uint64_t)ptr + len > size)
    return NULL;
  /* The host may write there: reset_after_call restores it (nothing
     unless the memory is tracked). */
  pkw_memory_touch(m, ptr, len);
  return base + ptr;
}

int pk__wasm_fail(pk__wstate *st, int code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  pk__perr(st->p, code, "%s", msg);
  st->host_rc = code;
  return PK__WASM_HOSTERR;
}

/*
 * The engine's allocator: the host's, with each block's size in a header
 * so that large blocks can go to the host's spares when a plugin closes
 * and serve the next open (pk__spare_put in core.h says why).
 */
#define PK__WHDR 16 /* keeps the engine's blocks 16-byte aligned */

static void *engine_realloc(void *ud, void *ptr, size_t n) {
  pk_host *h = ud;
  uint8_t *b = ptr != NULL ? (uint8_t *)ptr - PK__WHDR : NULL;
  size_t old = 0;
  if (b != NULL)
    memcpy(&old, b, sizeof old);
  if (n == 0) {
    if (b != NULL && !pk__spare_put(h, b, old + PK__WHDR))
      pk__free(h, b);
    return NULL;
  }
  if (n > SIZE_MAX - PK__WHDR)
    return NULL;
  if (b == NULL) {
    if ((b = pk__spare_take(h, n + PK__WHDR)) == NULL)
      b = pk__alloc(h, n + PK__WHDR);
  } else {
    b = pk__realloc(h, b, n + PK__WHDR);
  }
  if (b == NULL)
    return NULL;
  memcpy(b, &n, sizeof n);
  return b + PK__WHDR;
}

pkw_alloc pk__wasm_alloc(pk_host *h) {
  pkw_alloc a;
  a.realloc_fn = engine_realloc;
  a.ud = h;
  return a;
}
/* ---- open and close ---------------------------------------------------- */

static int wasm_probe(const unsigned char *h, size_t n, const char *path,
                      int isdir) {
  (void)path;
  return !isdir && n >= 4 && memcmp(h, "\0asm", 4) == 0 ? 100 : 0;
}
static void watchdog_fire(void *ud) {
  pk__wstate *st = ud;
  pkw_instance_interrupt(st->inst);
}

/* The function export number x of st's instance, or NULL (none, or not
   a function). */
static pkw_func *export_func(pk__wstate *st, uint32_t x) {
  pkw_extern ex;
  if (x == PK__WNONE ||
      pkw_instance_export(st->inst, x, NULL, NULL, &ex) != PKW_OK ||
      ex.kind != PKW_EXTERN_FUNC)
    return NULL;
  return ex.u.func;
}

/* The index of the function export called `name`, or PK__WNONE. */
static uint32_t export_index(const pkw_module *mod, const char *name) {
  uint32_t x;
  return pkw_module_find_export(mod, name, strlen(name), &x) == PKW_OK
             ? x
             : PK__WNONE;
}

/* The SDK's optional exports (docs/wasm-abi.md): plugkit_unwind,
   plugkit_auto_post and plugkit_arg_area. A type or an area that does
   not fit the spec is an error, not a feature to do without. */
static int sdk_features(pk__wstate *st) {
  pk_plugin *p = st->p;
  pk__wmod *m = st->m;
  pkw_functype t;
  pkw_func *fn;
  uint64_t r = 0;
  uint8_t *hdr;
  uint32_t cap;
  int rc;

  if ((fn = export_func(st, m->x_unwind)) != NULL) {
    pkw_func_type(fn, &t);
    if (t.nparams != 0 || t.nresults != 0)
      return pk__perr(p, PK_EFORMAT, "plugkit_unwind must be () -> ()");
    st->unwind = fn;
  }
  if ((fn = export_func(st, m->x_arg_area)) == NULL)
    return PK_OK;
  pkw_func_type(fn, &t);
  if (t.nparams != 0 || t.nresults != 1 || t.results[0] != PKW_I32)
    return pk__perr(p, PK_EFORMAT, "plugkit_arg_area must be () -> i32");
  if ((rc = pk__wasm_guest_call(st, fn, &r, 0, 1)) < 0)
    return rc;
  /* {u32 capacity, u32 0, capacity bytes}, all inside guest memory. */
  if ((hdr = pk__wasm_mem(st->inst, (uint32_t)r, 8)) == NULL)
    return pk__perr(p, PK_EFORMAT,
                    "plugkit_arg_area: %#x is outside guest memory",
                    (unsigned)(uint32_t)r);
  cap = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
        (uint32_t)hdr[3] << 24;
  if ((uint32_t)r > UINT32_MAX - 8u ||
      pk__wasm_mem(st->inst, (uint32_t)r + 8u, cap) == NULL)
    return pk__perr(p, PK_EFORMAT,
                    "plugkit_arg_area: %u bytes at %#x are outside guest "
                    "memory",
                    cap, (unsigned)(uint32_t)r + 8u);
  st->arg_area = (uint32_t)r + 8u;
  st->arg_cap = cap;
  return PK_OK;
}

/* Read the descriptor the guest's plugkit_describe returns. */
static int describe(pk__wstate *st, pkw_func *fn) {
  pk_plugin *p = st->p;
  uint64_t r = 0;
  uint64_t size;
  const char *base, *s, *end;
  size_t count = 0, i;
  int rc;
  pkw_memory *m = pkw_instance_memory(st->inst);

  if ((rc = pk__wasm_guest_call(st, fn, &r, 0, 1)) < 0)
    return rc;
  if (m == NULL)
    return pk__perr(p, PK_EFORMAT,
                    "plugkit_describe: the module has no memory");
  base = (const char *)pkw_memory_data(m, &size);
  if (r == 0 || r >= size)
    return pk__perr(p, PK_EFORMAT, "plugkit_describe returned a bad pointer");
  /* The blob: strings, each NUL-terminated, ending with an empty one. */
  s = base + r;
  end = base + size;
  {
    const char *q = s;
    int fields = 0;
    for (;;) {
      const char *z = memchr(q, '\0', (size_t)(end - q));
      if (z == NULL)
        return pk__perr(p, PK_EFORMAT, "plugkit_describe: unterminated");
      if (z == q && fields >= 2)
        break;
      fields++;
      q = z + 1;
    }
    if (fields % 2 != 0)
      return pk__perr(p, PK_EFORMAT, "plugkit_describe: odd field count");
    count = (size_t)(fields - 2) / 2;
  }
  if ((p->name = pk__plugin_strdup(p, s)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  s += strlen(s) + 1;
  if ((p->version = pk__plugin_strdup(p, s)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  s += strlen(s) + 1;
  if ((rc = pk__plugin_exports(p, count)) < 0)
    return rc;
  if (count > 0 &&
      (st->m->exports = pk__alloc(p->host, count * sizeof *st->m->exports)) ==
          NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  st->m->nexports = (uint32_t)count;
  for (i = 0; i < count; i++) {
    const char *name = s, *sig = s + strlen(s) + 1;
    char post[96];
    uint8_t wp[2 * PK_MAX_PARAMS], wr[PK_MAX_RESULTS];
    uint32_t np, nr;
    pkw_functype t;
    pk_func *f = &p->funcs[i];
    pk__wexport *w = &st->m->exports[i];
    pkw_func *ef;
    s = sig + strlen(sig) + 1;
    if ((rc = pk__func_init(p, f, name, sig)) < 0)
      return rc;
    memset(w, 0, sizeof *w);
    w->fn = export_index(st->mod, name);
    if ((ef = export_func(st, w->fn)) == NULL)
      return pk__perr(p, PK_EFORMAT,
                      "export '%s' is described but not exported", name);
    w->direct = pkw_func_instance(ef) == NULL;
    pkw_func_type(ef, &t);
    if (pk__wasm_lower(&f->sig, wp, &np, wr, &nr) < 0 ||
        !pk__wasm_same_type(&t, wp, np, wr, nr))
      return pk__perr(p, PK_EFORMAT,
                      "export '%s' is declared %s but its wasm type does not "
                      "match",
                      name, f->sigtext);
    for (np = 0; np < f->sig.nparams; np++)
      if (f->sig.params[np] >= PK_T_STR)
        w->lowered = 1;
    if (f->sig.nresults && f->sig.results[0] >= PK_T_STR)
      w->lowered = 1;
    snprintf(post, sizeof post, "cabi_post_%s", name);
    w->post = export_index(st->mod, post);
    if (export_func(st, w->post) == NULL)
      w->post = PK__WNONE;
    f->invoke = pk__wasm_invoke;
    f->bindex = (uint32_t)i;
    pk__wasm_scalar_path(st->m, f, w);
  }
  return PK_OK;
}

/* An export a plugkit signature cannot express is not offered, and the
   host's log says so (never dropped in silence). */
static void plain_refused(pk_plugin *p, const char *name, uint32_t len,
                          const char *why) {
  char msg[256];
  int n = snprintf(msg, sizeof msg,
                   "%s: export '%.*s' is not offered: its type has %s",
                   p->path, (int)(len > 64 ? 64 : len), name, why);
  pk__plugin_log(p, PK_LOG_WARN, msg,
                 n < 0 ? 0 : (size_t)n < sizeof msg ? (size_t)n
                                                    : sizeof msg - 1);
}

/* A module without the marker: offer its function exports whose types are
   numbers (up to 16 parameters and 8 results). */
static int plain_exports(pk__wstate *st) {
  pk_plugin *p = st->p;
  const char *base = strrchr(p->path, '/');
  char name[256], sig[PK__SIG_MAX];
  uint32_t i, count = 0, k;
  int pass, rc;

  base = base ? base + 1 : p->path;
  snprintf(name, sizeof name, "%s", base);
  if (strrchr(name, '.') != NULL)
    *strrchr(name, '.') = '\0';
  if ((p->name = pk__plugin_strdup(p, name)) == NULL ||
      (p->version = pk__plugin_strdup(p, "")) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  for (pass = 0; pass < 2; pass++) {
    uint32_t n = 0;
    for (i = 0;; i++) {
      const char *en;
      uint32_t el;
      pkw_extern ex;
      pkw_functype t;
      size_t len = 0;
      int ok = 1;
      if (pkw_instance_export(st->inst, i, &en, &el, &ex) != PKW_OK)
        break;
      if (ex.kind != PKW_EXTERN_FUNC || el == 0 || el >= sizeof name ||
          memchr(en, '\0', el) != NULL || en[0] == '_' ||
          (el > 5 && memcmp(en, "cabi_", 5) == 0))
        continue;
      pkw_func_type(ex.u.func, &t);
      if (t.nparams > PK_MAX_PARAMS || t.nresults > PK_MAX_RESULTS) {
        if (pass == 0)
          plain_refused(p, en, el, "more than 16 parameters or 8 results");
        continue;
      }
      /* "(p1,p2)->r", "(p)->()", "(p)->(r1,r2)" */
      len += (size_t)snprintf(sig + len, sizeof sig - len, "(");
      for (k = 0; k < t.nparams + t.nresults && ok; k++) {
        uint8_t ty = k < t.nparams ? t.params[k] : t.results[k - t.nparams];
        const char *tn = pk__wasm_num_name(ty);
        if (tn == NULL)
          ok = 0;
        else
          len += (size_t)snprintf(
              sig + len, sizeof sig - len, "%s%s%s",
              k == t.nparams ? (t.nresults > 1 ? ")->(" : ")->") : "",
              k > 0 && k != t.nparams ? "," : "", tn);
      }
      if (!ok) {
        if (pass == 0)
          plain_refused(p, en, el, "a parameter or result that is not "
                                   "i32, i64, f32 or f64");
        continue;
      }
      if (t.nresults == 0) /* the loop closed no parameter list */
        snprintf(sig + len, sizeof sig - len, ")->()");
      else if (t.nresults > 1)
        snprintf(sig + len, sizeof sig - len, ")");
      if (pass == 1) {
        pk_func *f = &p->funcs[n];
        memcpy(name, en, el);
        name[el] = '\0';
        if ((rc = pk__func_init(p, f, name, sig)) < 0)
          return rc;
        memset(&st->m->exports[n], 0, sizeof st->m->exports[n]);
        st->m->exports[n].fn = i;
        st->m->exports[n].post = PK__WNONE;
        st->m->exports[n].direct = pkw_func_instance(ex.u.func) == NULL;
        f->invoke = pk__wasm_invoke;
        f->bindex = n;
        pk__wasm_scalar_path(st->m, f, &st->m->exports[n]);
      }
      n++;
    }
    if (pass == 0) {
      count = n;
      if ((rc = pk__plugin_exports(p, count)) < 0)
        return rc;
      if (count > 0 && (st->m->exports = pk__alloc(
                            p->host, count * sizeof *st->m->exports)) == NULL)
        return pk__perr(p, PK_ENOMEM, "out of memory");
      st->m->nexports = count;
    }
  }
  return PK_OK;
}

/* Read the whole file through the host's allocator (bounded: a FIFO, a
   device or a huge file is refused, see pk__plugin_read_file). */
static int read_file(pk_plugin *p, uint8_t **out, size_t *out_n) {
  return pk__plugin_read_file(p, out, out_n);
}

/* ---- instances ---------------------------------------------------------- */

/* Free an instance; its fini (and pending post-return) run first when
   it was initialised. */
static void inst_destroy(pk__wstate *st) {
  pk_host *h = st->p->host;
  uint32_t i;
  if (st->inited && st->fini != NULL) {
    /* Each under the limits of a call; a failure is only noted (the
       instance goes away either way). */
    (void)pk__wasm_run_post(st);
    (void)pk__wasm_guest_call(st, st->fini, NULL, 0, 0);
  }
  if (st->wd != NULL) {
    pk__os_watchdog_stop(st->wd);
    pk__free(h, st->wd);
  }
  pkw_instance_destroy(st->inst);
  for (i = 0; i < PK__WASI_MAX_FILES; i++)
    pk__os_close(st->files[i]);
  pkw_image_destroy(st->own_image);
  if (st->fns != st->fnv)
    pk__free(h, st->fns);
  pk__free(h, st->mem);
}

/* A new engine instance of m's module for lane l (from m->image when
   there is one, else with its segments run and its start function
   waiting), with its watchdog; not bound to the exports yet. */
static int inst_create(pk__wmod *m, pk__lane *l, pk__wstate **out) {
  pk_plugin *p = m->p;
  pk_host *h = p->host;
  pkw_limits lim = m->lim;
  pk__wstate *st;
  void *mem;
  char err[256];
  uint32_t i;
  int rc;

  /* Written on each call, by the thread the instance serves. */
  if ((st = pk__alloc_lines(h, sizeof *st, &mem)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory for an instance");
  memset(st, 0, sizeof *st);
  st->mem = mem;
  st->m = m;
  st->p = p;
  st->lane = l;
  st->mod = m->mod;
  st->auto_post = m->auto_post;
  st->limited = m->limited;
  st->fuel = m->fuel;
  st->timeout_ms = m->timeout_ms;
  st->max_pages = m->max_pages;
  st->root_fd = m->root_fd;
  for (i = 0; i < PK__WASI_MAX_FILES; i++)
    st->files[i] = -1;
  lim.image = m->image;
  rc = pkw_instance_create(m->mod, m->ext, m->nhostfns, &lim, &st->inst, err,
                           sizeof err);
  if (rc != PKW_OK) {
    pkw_instance_destroy(st->inst); /* a trapped segment leaves one */
    pk__free(h, st->mem);
    return pk__perr(p,
                    rc == PKW_ENOMEM   ? PK_ENOMEM
                    : rc == PKW_ELIMIT ? PK_ELIMIT
                                       : PK_EFORMAT,
                    "cannot instantiate: %s", err);
  }
  pkw_instance_set_user(st->inst, st);
  if (st->timeout_ms > 0) {
    if ((st->wd = pk__alloc(h, pk__os_watchdog_size())) == NULL) {
      inst_destroy(st);
      return pk__perr(p, PK_ENOMEM, "out of memory");
    }
    if (pk__os_watchdog_start(st->wd, watchdog_fire, st) != PK_OK) {
      pk__free(h, st->wd);
      st->wd = NULL;
      inst_destroy(st);
      return pk__perr(p, PK_ENOMEM, "cannot start the timeout watchdog");
    }
  }
  *out = st;
  return PK_OK;
}

/* The instance's functions for the exports m knows (after open found
   them). */
static int inst_bind(pk__wstate *st) {
  pk__wmod *m = st->m;
  uint32_t i;
  if (m->nexports > 0) {
    if (m->nexports <= PK__WFNS_INLINE)
      st->fns = st->fnv;
    else if ((st->fns = pk__alloc(st->p->host, 2 * (size_t)m->nexports *
                                                   sizeof *st->fns)) == NULL)
      return pk__perr(st->p, PK_ENOMEM, "out of memory for an instance");
    for (i = 0; i < m->nexports; i++) {
      st->fns[2 * i] = export_func(st, m->exports[i].fn);
      st->fns[2 * i + 1] = export_func(st, m->exports[i].post);
    }
  }
  st->realloc_fn = export_func(st, m->x_realloc);
  st->fini = export_func(st, m->x_fini);
  st->unwind = export_func(st, m->x_unwind);
  return PK_OK;
}

/* Run plugkit_init (when the module has it): PK_EINIT when it fails. */
static int run_init(pk__wstate *st) {
  pk_plugin *p = st->p;
  pkw_func *init = export_func(st, st->m->x_init);
  uint64_t r = 0;
  int rc;
  if (init == NULL)
    return PK_OK;
  st->lane->ctx.status = 0;
  if ((rc = pk__wasm_guest_call(st, init, &r, 0, 1)) < 0)
    return rc == PK_ETRAP || rc == PK_EPLUGIN ? PK_EINIT : rc;
  if (r != 0 || st->lane->ctx.status != 0) {
    if (st->lane->ctx.status == 0)
      pk__perr(p, PK_EINIT, "init hook returned %d", (int)(int32_t)r);
    st->lane->ctx.status = 0;
    return PK_EINIT;
  }
  return PK_OK;
}

/* reset_after_call: track the pages calls write, and keep the state to
   return to (the shared image, or this instance's own). */
static int inst_keep(pk__wstate *st, pkw_image *shared) {
  pk_plugin *p = st->p;
  uint32_t i;
  int rc;
  if (pkw_instance_track_dirty(st->inst) != PKW_OK)
    return pk__perr(p, PK_ENOMEM, "out of memory tracking the instance's "
                                  "pages (reset_after_call)");
  if (shared == NULL) {
    rc = pkw_image_create(st->inst, &st->own_image);
    if (rc == PKW_ENOMEM)
      return pk__perr(p, PK_ENOMEM, "out of memory keeping the instance's "
                                    "state (reset_after_call)");
    if (rc != PKW_OK)
      return pk__perr(p, PK_ENOSYS,
                      "reset_after_call: the state after init cannot be "
                      "kept (a table or global holds a function of another "
                      "instance)");
    shared = st->own_image;
  }
  st->image = shared;
  for (i = 0; i < PK__WASI_MAX_FILES; i++)
    if (st->files[i] >= 0) {
      st->kept_files |= 1u << i;
      st->kept_off[i] = pk__os_seek(st->files[i], 0, 1);
    }
  return PK_OK;
}

/*
 * A pool instance (the core's inst_new): from the first instance's image
 * when its init called no host function (wasm code that calls none is
 * deterministic, so running init again would give the same state, and
 * no host-visible effect is skipped), else a fresh instance that runs
 * the start function, _initialize, plugkit_arg_area and plugkit_init as
 * the open did (not plugkit_describe: the exports are known).
 */
static int wasm_inst_new(pk_plugin *p, pk__lane *l, void **out) {
  pk__wmod *m = p->bstate;
  pk__wstate *st;
  pkw_func *fn;
  int rc;
  if ((rc = inst_create(m, l, &st)) < 0)
    return rc;
  if ((rc = inst_bind(st)) < 0)
    goto fail;
  if (m->image != NULL) {
    st->arg_area = m->arg_area;
    st->arg_cap = m->arg_cap;
  } else {
    if ((fn = pkw_instance_start_func(st->inst)) != NULL &&
        (rc = pk__wasm_guest_call(st, fn, NULL, 0, 0)) < 0)
      goto fail;
    if ((fn = export_func(st, m->x_initialize)) != NULL &&
        (rc = pk__wasm_guest_call(st, fn, NULL, 0, 0)) < 0)
      goto fail;
    if ((rc = sdk_features(st)) < 0 || (rc = run_init(st)) < 0)
      goto fail;
  }
  st->inited = 1;
  if (m->reset && (rc = inst_keep(st, m->image)) < 0)
    goto fail;
  *out = st;
  return PK_OK;
fail:
  inst_destroy(st);
  return rc;
}

static void wasm_inst_free(pk_plugin *p, void *inst) {
  pk__wstate *st = inst;
  pk__lane *l = pk__lane_cur(p);
  st->lane = l != NULL ? l : p->olane;
  inst_destroy(st);
}

/* reset_after_call: the instance as it was after init. */
static int wasm_inst_reset(pk_plugin *p, pk__lane *l, void *inst) {
  pk__wstate *st = inst;
  uint32_t i;
  int rc;
  st->lane = l;
  st->pending_post = NULL; /* its memory is about to go */
  for (i = 0; i < PK__WASI_MAX_FILES; i++) {
    if (st->files[i] < 0)
      continue;
    if (!(st->kept_files & (1u << i))) {
      pk__os_close(st->files[i]);
      st->files[i] = -1;
    } else if (st->kept_off[i] >= 0 &&
               pk__os_seek(st->files[i], st->kept_off[i], 0) < 0) {
      return pk__perr(p, PK_EIO, "reset_after_call: cannot seek a file "
                                 "init opened back to where it was");
    }
  }
  st->hidden_files = 0;
  if ((rc = pkw_instance_reset(st->inst, st->image)) != PKW_OK)
    return pk__perr(p, rc == PKW_ENOMEM ? PK_ENOMEM : PK_ETRAP,
                    "reset_after_call: cannot restore the instance: %s",
                    pkw_strerror(rc));
  return PK_OK;
}


/* The execution tier of pk_open_opts.tier (see there): binds an aot
   artifact for "aot" (and "auto" when a valid one is there), compiles
   the module for "jit" (and "auto" otherwise), and records the tier in
   use. mh: the module's SHA-256 (computed for "aot" and "auto"). The
   compiled code is the module's, shared by all its instances. */
static int pick_tier(pk_plugin *p, const pk_open_opts *o, pkw_module *m,
                     const uint8_t mh[32]) {
  const char *t = o->tier != NULL ? o->tier : "interp";
  char err[256], where[4096];
  int rc, want_jit = strcmp(t, "jit") == 0, want_aot = strcmp(t, "aot") == 0;
  p->tier = "interp";
  if (strcmp(t, "interp") == 0)
    return PK_OK;
  if (!want_jit && !want_aot && strcmp(t, "auto") != 0)
    return pk__perr(p, PK_EINVAL, "unknown tier '%s' (interp, jit, aot, "
                                  "auto)", t);
  /* reset_after_call: m was decoded PKW_DECODE_DIRTY, and every tier
     marks the pages a call writes (the aot artifact's variant that
     does). */
  if (!want_jit) {
    rc = pk__wasm_aot_load(p, m, mh,
                           o->reset_after_call && !p->describe_only,
                           o->aot_path, err, sizeof err, where,
                           sizeof where);
    if (rc == PK_OK) {
      p->tier = pkw_module_tier(m);
      return PK_OK;
    }
    if (want_aot || rc == PK_ENOMEM) {
      if (rc == PK_ENOENT && where[0] == '\0')
        return pk__perr(p, rc, "tier aot: no artifact: %s (run plugkit "
                               "compile --cache)", err);
      if (rc == PK_ENOENT)
        return pk__perr(p, rc, "tier aot: no artifact %s (run plugkit "
                               "compile%s)", where,
                        o->aot_path != NULL ? " -o" : " --cache");
      return pk__perr(p, rc, "tier aot: artifact %s refused: %s", where,
                      err);
    }
    /* auto: a missing or refused artifact leaves the jit tier to try. */
  }
  rc = pkw_module_jit(m, err, sizeof err);
  if (rc == PKW_OK) {
    p->tier = pkw_module_tier(m);
    return PK_OK;
  }
  if (!want_jit && rc != PKW_ENOMEM)  /* auto: the interpreter then */
    return PK_OK;
  return pk__perr(p,
                  rc == PKW_ENOMEM   ? PK_ENOMEM
                  : rc == PKW_ELIMIT ? PK_ELIMIT
                                     : PK_ENOSYS,
                  "tier jit: %s", err);
}

static int wasm_open(pk_plugin *p) {
  const pk_open_opts *o = p->opts;
  pk_host *h = p->host;
  pkw_alloc al = pk__wasm_alloc(h);
  pk__wmod *m;
  pk__wstate *st;
  uint8_t *bytes = NULL;
  size_t n = 0;
  uint32_t nimp, i;
  unsigned flags = 0;
  pkw_func *fn;
  char err[256];
  uint8_t mh[32] = {0};
  int rc;

  if ((m = pk__alloc(h, sizeof *m)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  memset(m, 0, sizeof *m);
  m->p = p;
  m->root_fd = -1;
  m->x_realloc = m->x_fini = m->x_unwind = m->x_arg_area = m->x_init =
      m->x_initialize = PK__WNONE;
  p->bstate = m;
  if (o->fs_root != NULL && pk__os_dir_open(o->fs_root, &m->root_fd) < 0)
    return pk__perr(p, PK_ENOENT, "fs_root '%s' is not a directory it can "
                                  "open",
                    o->fs_root);
  m->fuel = (int64_t)(o->fuel > INT64_MAX ? INT64_MAX : o->fuel);
  m->timeout_ms = o->call_timeout_ms > 0 ? (uint32_t)o->call_timeout_ms : 0;
  if (p->describe_only && (m->fuel == 0 || m->fuel > (int64_t)PK_DESCRIBE_FUEL))
    m->fuel = (int64_t)PK_DESCRIBE_FUEL;
  m->limited = m->fuel > 0 || m->timeout_ms > 0;
  m->reset = o->reset_after_call != 0 && !p->describe_only;
  if ((rc = read_file(p, &bytes, &n)) < 0)
    return rc;
  if (!o->validate_all)
    flags |= PKW_DECODE_LAZY;
  if (m->reset) /* stores mark the pages they write */
    flags |= PKW_DECODE_DIRTY;
  rc = pkw_module_decode_ex(&al, bytes, n, flags, &m->mod, err, sizeof err);
  /* The aot tiers find and check an artifact by the module's hash. */
  if (o->tier != NULL && strcmp(o->tier, "interp") != 0 &&
      strcmp(o->tier, "jit") != 0)
    pk__sha256_buf(bytes, n, mh);
  pk__free(h, bytes);
  if (rc == PKW_ELIMIT) /* valid, but more than the engine takes */
    return pk__perr(p, PK_ELIMIT, "module over an engine limit: %s", err);
  if (rc != PKW_OK)
    return pk__perr(p, rc == PKW_ENOMEM ? PK_ENOMEM : PK_EFORMAT,
                    "%s module: %s",
                    rc == PKW_EINVALID ? "invalid" : "malformed", err);
  if ((rc = pick_tier(p, o, m->mod, mh)) < 0)
    return rc;
  /* Instances the pool frees (a reset that failed, the close) leave
     their blocks to the next one: a new instance allocates nothing. */
  pkw_module_set_spares(m->mod, PK__WSPARES);
  nimp = pkw_module_num_imports(m->mod);
  if (nimp > 0) {
    if ((m->ext = pk__alloc(h, nimp * sizeof *m->ext)) == NULL ||
        (m->hostfns = pk__alloc(h, nimp * sizeof *m->hostfns)) == NULL ||
        (m->himps = pk__alloc(h, nimp * sizeof(pk__wtyped))) == NULL)
      return pk__perr(p, PK_ENOMEM, "out of memory");
    for (i = 0; i < nimp; i++) {
      pkw_import_desc d;
      pkw_module_import(m->mod, i, &d);
      if ((rc = pk__wasm_bind_import(m, &al, &d, (pk__wtyped *)m->himps + i,
                                     &m->hostfns[i])) < 0)
        return rc;
      m->nhostfns++;
      m->ext[i].kind = PKW_EXTERN_FUNC;
      m->ext[i].u.func = m->hostfns[i];
    }
  }
  /* 512 KiB of value stack per instance instead of the engine's 2 MiB:
     instances are many and loads frequent; recursion deeper than this
     traps with "call stack exhausted", as the call depth limit does. */
  m->lim.stack_slots = 64u * 1024u;
  /* max_memory 0 is no limit but wasm32's own 4 GiB (and the module's
     maximum), not the engine's default cap: the engine grows memory on
     demand, so a high cap costs nothing until the guest uses it. Each
     instance has its own memory, each under max_memory. */
  m->lim.max_memory_pages = 65536u;
  if (o->max_memory > 0) {
    uint64_t pages = o->max_memory / 65536;
    m->max_pages = m->lim.max_memory_pages =
        pages == 0 ? 1 : pages > 65536 ? 65536 : (uint32_t)pages;
  }
  /* The start function waits for guest_enter, which arms fuel and the
     watchdog (which needs the instance to interrupt). */
  m->lim.defer_start = 1;
  if ((rc = inst_create(m, p->olane, &st)) < 0)
    return rc;
  p->inst0 = st; /* the core frees it (inst_free), also if this fails */
  /* The open runs under the limits of a call: the start function,
     _initialize, plugkit_arg_area, plugkit_describe and plugkit_init are
     each an outermost guest entry with the call's fuel and deadline. */
  /* Describe-only: no start function, no _initialize, no init; only
     plugkit_arg_area and plugkit_describe run, under PK_DESCRIBE_FUEL. */
  if (!p->describe_only && (fn = pkw_instance_start_func(st->inst)) != NULL &&
      (rc = pk__wasm_guest_call(st, fn, NULL, 0, 0)) < 0)
    return rc;
  m->x_realloc = export_index(m->mod, "cabi_realloc");
  st->realloc_fn = export_func(st, m->x_realloc);
  /* wasi-libc reactors construct their runtime in _initialize. */
  m->x_initialize = export_index(m->mod, "_initialize");
  if (!p->describe_only &&
      (fn = export_func(st, m->x_initialize)) != NULL &&
      (rc = pk__wasm_guest_call(st, fn, NULL, 0, 0)) < 0)
    return rc;
  if (export_func(st, export_index(m->mod, "plugkit_abi_v1")) != NULL) {
    p->abi_major = PK_ABI_MAJOR;
    p->abi_minor = PK_ABI_MINOR;
    if ((fn = export_func(st, export_index(m->mod, "plugkit_describe"))) ==
        NULL)
      return pk__perr(p, PK_ENODESC,
                      "exports plugkit_abi_v1 but no plugkit_describe");
    /* The SDK's optional exports first: they decide how exports are
       called (pk__wasm_scalar_path). */
    m->x_unwind = export_index(m->mod, "plugkit_unwind");
    m->x_arg_area = export_index(m->mod, "plugkit_arg_area");
    m->auto_post = st->auto_post =
        export_func(st, export_index(m->mod, "plugkit_auto_post")) != NULL;
    if ((rc = sdk_features(st)) < 0 || (rc = describe(st, fn)) < 0)
      return rc;
    if (p->describe_only)
      return inst_bind(st);
    m->x_init = export_index(m->mod, "plugkit_init");
    p->phase = "init";
    if ((rc = run_init(st)) < 0)
      return rc;
    p->phase = "open";
    m->x_fini = export_index(m->mod, "plugkit_fini");
  } else if ((rc = plain_exports(st)) < 0) {
    return rc;
  }
  if ((rc = inst_bind(st)) < 0)
    return rc;
  st->inited = 1;
  if (p->describe_only)
    return PK_OK;
  /* New pool instances: from an image of this one when its init called
     no host function (wasm_inst_new says why that is the same). */
  if (pkw_instance_host_calls(st->inst) == 0 && st->direct_calls == 0) {
    rc = pkw_image_create(st->inst, &m->image);
    if (rc == PKW_ENOMEM)
      return pk__perr(p, PK_ENOMEM, "out of memory keeping the state "
                                    "after init");
    if (rc == PKW_OK) {
      m->arg_area = st->arg_area;
      m->arg_cap = st->arg_cap;
    } /* else new instances run init */
  }
  if (m->reset && (rc = inst_keep(st, m->image)) < 0)
    return rc;
  return PK_OK;
}

static void wasm_close(pk_plugin *p) {
  pk__wmod *m = p->bstate;
  pk_host *h = p->host;
  uint32_t i;
  if (m == NULL)
    return;
  /* The core freed every instance (inst_free) before this. */
  pkw_image_destroy(m->image);
  for (i = 0; i < m->nhostfns; i++)
    pkw_func_destroy_host(m->hostfns[i]);
  pkw_module_destroy(m->mod);
  pk__os_close(m->root_fd);
  pk__free(h, m->ext);
  pk__free(h, m->hostfns);
  pk__free(h, m->himps);
  pk__free(h, m->exports);
  pk__free(h, m);
  p->bstate = NULL;
}

const pk__backend pk__backend_wasm = {
    "wasm",
    wasm_probe,
    wasm_open,
    wasm_close,
    PK__LIM_TIMEOUT | PK__LIM_FUEL | PK__LIM_MEMORY | PK__LIM_FS |
        PK__LIM_DESCRIBE | PK__LIM_POOL | PK__LIM_RESET,
    wasm_inst_new,
    wasm_inst_free,
    wasm_inst_reset,
    pk__wasm_fast};
