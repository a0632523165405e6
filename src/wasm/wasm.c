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
 */
#include "wasm_backend.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * Two rules hold the backend together; each is stated here once and the
 * code is shaped so that it cannot be broken by accident.
 *
 * 1. A pointer into guest memory dies at any guest entry or memory
 *    growth. The engine reallocates linear memory when the guest grows
 *    it, and guest code can run whenever the host enters the guest
 *    (cabi_realloc, a nested call, a post-return). So the host never
 *    holds a guest pointer across a guest entry: str/bytes arguments of
 *    host functions are copied into the plugin's call arena before the
 *    host function runs (it may call back into the plugin); host results
 *    that point into guest memory are copied there before cabi_realloc
 *    gives them to the guest; arguments of pk_func_call that point into
 *    the plugin's own memory (a previous call's result) are copied there
 *    before the call enters the guest. Where the host must come back to
 *    guest memory after an entry it keeps a guest address and asks
 *    pk__wasm_mem again.
 *
 * 2. Every entry into guest code goes through guest_enter: calls, the
 *    start function, _initialize, plugkit_describe/init/fini,
 *    cabi_realloc, cabi_post_<name> and plugkit_unwind. The outermost
 *    entry arms the limits (the call's fuel, a clear interrupt flag, the
 *    watchdog's deadline) and disarms the watchdog when it returns; a
 *    nested entry runs on what the outermost one has left. The one
 *    exception is the scalar fast path (pkw_invoke), taken only when no
 *    limit is set, so there is nothing to arm.
 */

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

static pkw_alloc alloc_of(pk_host *h) {
  pkw_alloc a;
  a.realloc_fn = engine_realloc;
  a.ud = h;
  return a;
}

static int guest_call(pk__wstate *st, pkw_func *fn, uint64_t *slots,
                      uint32_t nin, uint32_t nout);

/* The guest's memory cannot give `n` more bytes: PK_ELIMIT naming
   max_memory when that is what stops it (the guest's imp_oom says the
   same), else PK_ENOMEM. */
static int guest_out_of_memory(pk__wstate *st, const char *who, uint64_t n) {
  pkw_memory *m = pkw_instance_memory(st->inst);
  if (st->max_pages > 0)
    return pk__perr(st->p, PK_ELIMIT,
                    "%s: memory limit reached (max_memory: %u pages of 64 "
                    "KiB, %u in use), %llu more bytes wanted",
                    who, st->max_pages, m ? pkw_memory_pages(m) : 0,
                    (unsigned long long)n);
  return pk__perr(st->p, PK_ENOMEM,
                  "%s: the plugin is out of memory (%llu bytes wanted)", who,
                  (unsigned long long)n);
}

/* Allocate n bytes in the guest with its cabi_realloc (a guest entry:
   any guest pointer the caller holds is dead afterwards). */
static int guest_alloc(pk__wstate *st, pkw_instance *inst, uint32_t n,
                       uint32_t *out_ptr, uint8_t **out_mem) {
  uint64_t a[4] = {0, 0, 1, n};
  int rc, status = st->p->ctx.status;
  if (st->realloc_fn == NULL)
    return pk__perr(st->p, PK_EFORMAT,
                    "the module exports no cabi_realloc: str/bytes cannot "
                    "cross into it");
  st->p->ctx.status = 0;
  if ((rc = guest_call(st, st->realloc_fn, a, 4, 1)) < 0)
    return rc;
  if (st->p->ctx.status != 0) /* the guest's allocator called oom/fail */
    return st->p->ctx.status;
  st->p->ctx.status = status;
  if ((*out_mem = pk__wasm_mem(inst, (uint32_t)a[0], n)) == NULL ||
      (a[0] == 0 && n > 0))
    return guest_out_of_memory(st, "cabi_realloc", n);
  *out_ptr = (uint32_t)a[0];
  return PK_OK;
}

/* The wasm types a plugkit signature lowers to (canonical ABI). */
static int lower(const pk__sig *s, uint8_t *params, uint32_t *np,
                 uint8_t *results, uint32_t *nr) {
  static const uint8_t map[] = {0, PKW_I32, PKW_I64, PKW_F32, PKW_F64};
  uint32_t i;
  *np = *nr = 0;
  for (i = 0; i < s->nparams; i++) {
    if (s->params[i] == PK_T_STR || s->params[i] == PK_T_BYTES) {
      params[(*np)++] = PKW_I32;
      params[(*np)++] = PKW_I32;
    } else {
      params[(*np)++] = map[s->params[i]];
    }
  }
  if (s->nresults > 1)
    return -1;
  for (i = 0; i < s->nresults; i++)
    results[(*nr)++] = s->results[i] >= PK_T_STR ? PKW_I32 : map[s->results[i]];
  return 0;
}

static int same_type(const pkw_functype *t, const uint8_t *p, uint32_t np,
                     const uint8_t *r, uint32_t nr) {
  return t->nparams == np && t->nresults == nr &&
         memcmp(t->params, p, np) == 0 && memcmp(t->results, r, nr) == 0;
}

static void type_text(const pkw_functype *t, char *buf, size_t cap) {
  size_t n = 0;
  uint32_t i;
  n += (size_t)snprintf(buf + n, cap - n, "(");
  for (i = 0; i < t->nparams && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "",
                          t->params[i] == PKW_I32   ? "i32"
                          : t->params[i] == PKW_I64 ? "i64"
                          : t->params[i] == PKW_F32 ? "f32"
                          : t->params[i] == PKW_F64 ? "f64"
                                                    : "ref");
  if (n < cap)
    n += (size_t)snprintf(buf + n, cap - n, ")->(");
  for (i = 0; i < t->nresults && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%s", i ? "," : "",
                          t->results[i] == PKW_I32   ? "i32"
                          : t->results[i] == PKW_I64 ? "i64"
                          : t->results[i] == PKW_F32 ? "f32"
                          : t->results[i] == PKW_F64 ? "f64"
                                                     : "ref");
  if (n < cap)
    snprintf(buf + n, cap - n, ")");
}

static int guest_enter(pk__wstate *st, pkw_func *fn, uint64_t *slots,
                       uint32_t nin, uint32_t nout);

/* Map an engine result to a plugkit error with a message. */
static int map_rc(pk__wstate *st, int rc) {
  pk_plugin *p = st->p;
  /* What ended the call, read before the unwind below re-arms the limits
     (and may run imports). */
  int timed_out = rc == PKW_TRAP_INTERRUPTED && st->wd != NULL &&
                  pk__os_watchdog_fired(st->wd);
  int host_rc = st->host_rc;
  /* The trap skipped the SDK wrappers' epilogues: let the guest forget
     the calls it was in (outermost calls only: else frames are live).
     The unwind is a guest entry of its own, under fresh limits: a trap
     for want of fuel or time would otherwise leave it none. */
  if (st->unwind != NULL && st->depth == 0 && p->in_host == 0) {
    int status = p->ctx.status;
    (void)guest_enter(st, st->unwind, NULL, 0, 0);
    p->ctx.status = status;
    st->host_rc = host_rc;
  }
  if (rc == PK__WASM_HOSTERR)
    return host_rc; /* message set by the callback */
  if (rc == PKW_TRAP_OUT_OF_FUEL)
    return pk__perr(p, PK_ELIMIT, "out of fuel (%lld units per call)",
                    (long long)st->fuel);
  if (timed_out)
    return pk__perr(p, PK_ETIMEOUT, "did not return within %u ms",
                    st->timeout_ms);
  if (rc == PKW_ENOMEM)
    return pk__perr(p, PK_ENOMEM, "out of memory in the engine");
  if (rc == PKW_EINVALID || rc == PKW_EMALFORMED) /* a lazy body */
    return pk__perr(p, PK_EFORMAT, "%s module: %s",
                    rc == PKW_EINVALID ? "invalid" : "malformed",
                    pkw_module_error(st->mod));
  if (PKW_IS_TRAP(rc))
    return pk__perr(p, PK_ETRAP, "trap: %s", pkw_strerror(rc));
  return pk__perr(p, PK_ETRAP, "engine error: %s", pkw_strerror(rc));
}

/*
 * The one way into guest code (rule 2 above). Only the outermost entry
 * arms: it gives the instance the per-call fuel, clears an interrupt
 * that fired too late to be reported, and sets the watchdog's deadline
 * for the whole call; nested entries (a host function calling back,
 * cabi_realloc inside an import) run on the outer call's remaining fuel
 * (the engine keeps it in the instance) and under its deadline.
 */
static int guest_enter(pk__wstate *st, pkw_func *fn, uint64_t *slots,
                       uint32_t nin, uint32_t nout) {
  int rc;
  if (st->depth == 0 && st->limited) {
    pkw_instance_set_fuel(st->inst, st->fuel > 0 ? st->fuel : -1);
    if (st->wd != NULL) {
      pkw_instance_clear_interrupt(st->inst);
      pk__os_watchdog_arm(st->wd, pk__os_clock_ns(1) +
                                      (uint64_t)st->timeout_ms * 1000000u);
    }
  }
  st->depth++;
  rc = pkw_call(fn, slots, nin, slots, nout);
  if (--st->depth == 0) {
    if (st->wd != NULL)
      pk__os_watchdog_disarm(st->wd);
  } else if (st->wd != NULL && pk__os_watchdog_fired(st->wd)) {
    /* The deadline passed in a nested entry, whose trap took the
       interrupt: raise it again for the outer call, which a host
       function that ignores the nested failure would let run on. */
    pkw_instance_interrupt(st->inst);
  }
  return rc;
}

/* Call a guest function of the plugin, mapping a failure to its code. */
static int guest_call(pk__wstate *st, pkw_func *fn, uint64_t *slots,
                      uint32_t nin, uint32_t nout) {
  int rc;
  st->host_rc = 0;
  rc = guest_enter(st, fn, slots, nin, nout);
  return rc == PKW_OK ? PK_OK : map_rc(st, rc);
}

/* Run the post-return of the previous call, once nothing uses it. A
   post-return that fails (a trap, out of fuel or time) fails the call
   that runs it (the next one) or, at close, is only noted. */
static int run_post(pk__wstate *st) {
  pkw_func *post = st->pending_post;
  uint64_t arg = st->pending_arg;
  st->pending_post = NULL;
  if (post == NULL)
    return PK_OK;
  return guest_call(st, post, &arg, 1, 0);
}

/* ---- calls from the host ------------------------------------------------ */

/*
 * Scalar exports with no limits armed: the engine reads each argument's
 * payload straight from the pk_val array and writes the result's payload
 * back (pkw_invoke with pk_val's stride). pk_val's payload sits at one
 * offset for every type, and a 32-bit value is the low half of its
 * 64-bit slot on the little-endian hosts the engine needs (the engine
 * ignores the upper half of i32/f32 arguments; see engine/wasm.h).
 */
static int wasm_invoke_scalar(pk_func *f, const pk_val *args,
                              pk_val *results);

/* The payloads of a pk_val array, for pkw_invoke with sizeof(pk_val) as
   the stride. Integer arithmetic: args is NULL when there are no
   parameters (results when no results), and the engine then reads (or
   writes) nothing. */
#define PAYLOADS(v) ((uint64_t *)((uintptr_t)(v) + offsetof(pk_val, i64)))

/* The scalar path, with the SDK's auto post-return (no call left to run
   before this one) or after running the pending one. */
static inline int invoke_scalar(const pk_func *f, const pk_val *args,
                                pk_val *results) {
  pk_plugin *p = f->plugin;
  int rc;
  /* pk_func_call cleared ctx.status and checked the counts and types.
     The tag goes first: the engine writes only the payload. */
  if (f->sig.nresults == 1)
    results[0].type = f->sig.results[0];
  rc = pkw_invoke((pkw_func *)f->bdata, PAYLOADS(args), PAYLOADS(results),
                  sizeof(pk_val));
  if (PK__LIKELY(rc == PKW_OK))
    return p->ctx.status; /* a host import may have failed the call */
  return map_rc(p->bstate, rc);
}

/* A thunk, which pk_func_call tail-calls first: the function is the
   plugin's cur (the context is the plugin). */
static int wasm_thunk_auto(pk_ctx *c, const pk_val *args, pk_val *results) {
  return invoke_scalar(((pk_plugin *)(void *)c)->cur, args, results);
}

/* The same for a module whose post-return the host runs: the previous
   call's, if pending, first (apart, so the fast path stays small). */
PK__NOINLINE static int invoke_scalar_post(pk_func *f, const pk_val *args,
                                           pk_val *results) {
  int rc = run_post(f->plugin->bstate);
  return rc < 0 ? rc : invoke_scalar(f, args, results);
}

static int wasm_invoke_scalar(pk_func *f, const pk_val *args,
                              pk_val *results) {
  pk_plugin *p = f->plugin;
  if (PK__UNLIKELY(((pk__wstate *)p->bstate)->pending_post != NULL) &&
      p->in_host == 0)
    return invoke_scalar_post(f, args, results);
  return invoke_scalar(f, args, results);
}

/* Prepare the scalar fast path of export w, when it applies. */
static void scalar_path(pk__wstate *st, pk_func *f, pk__wexport *w) {
  if (w->lowered || st->limited)
    return;
  f->bdata = w->fn;
  if (st->auto_post)
    f->thunk = wasm_thunk_auto;
  f->invoke = wasm_invoke_scalar;
  f->invoke_tags = 1;
}

/* Where a str/bytes argument points into the guest's memory, *args
   becomes `own`: the arguments with a copy of it in the call arena.
   0, or -1 out of memory. */
static int own_args(pk__wstate *st, const pk_func *f, const pk_val **argsp,
                    pk_val *own) {
  const pk_val *args = *argsp;
  pkw_memory *m = pkw_instance_memory(st->inst);
  uint64_t size = 0;
  const uint8_t *base = m ? pkw_memory_data(m, &size) : NULL;
  uint32_t i;
  int copied = 0;
  if (base == NULL)
    return 0;
  for (i = 0; i < f->sig.nparams; i++) {
    const uint8_t *ptr = (const uint8_t *)args[i].str.ptr;
    void *c;
    /* str and bytes share the layout (ptr, len) */
    if (args[i].type < PK_T_STR || args[i].str.len == 0 ||
        (uintptr_t)ptr >= (uintptr_t)base + size ||
        (uintptr_t)ptr + args[i].str.len <= (uintptr_t)base)
      continue; /* no byte of it in guest memory */
    if (!copied) {
      memcpy(own, args, f->sig.nparams * sizeof *own);
      copied = 1;
    }
    if ((c = pk__arena_alloc(st->p->host, &st->p->arena,
                             args[i].str.len)) == NULL)
      return -1;
    memcpy(c, ptr, args[i].str.len);
    own[i].str.ptr = c;
  }
  if (copied)
    *argsp = own;
  return 0;
}

static int wasm_invoke(pk_func *f, const pk_val *args, pk_val *results) {
  pk_plugin *p = f->plugin;
  pk__wstate *st = p->bstate;
  pk__wexport *w = &st->exports[f->bindex];
  uint64_t slots[2 * PK_MAX_PARAMS + 2];
  uint32_t n = 0, i, area_off = 0;
  /* The argument area is the outermost call's: a nested call may not
     overwrite the arguments of the call it is nested in. */
  int use_area = st->arg_cap != 0 && p->in_host == 0;
  int rc;
  pk_val own[PK_MAX_PARAMS];

  /* Rule 1: an argument in the plugin's own memory (a result of an
     earlier call passed on) dies at the post-return or cabi_realloc
     below, so it goes to the call arena first. */
  if (w->lowered && own_args(st, f, &args, own) < 0)
    return pk__perr(p, PK_ENOMEM, "out of memory copying arguments");
  if (st->pending_post != NULL && p->in_host == 0 &&
      (rc = run_post(st)) < 0)
    return rc;
  for (i = 0; i < f->sig.nparams; i++) {
    const pk_val *a = &args[i];
    switch (a->type) {
    case PK_T_I32:
      slots[n++] = (uint32_t)a->i32;
      break;
    case PK_T_I64:
      slots[n++] = (uint64_t)a->i64;
      break;
    case PK_T_F32: {
      uint32_t b;
      memcpy(&b, &a->f32, 4);
      slots[n++] = b;
      break;
    }
    case PK_T_F64:
      memcpy(&slots[n++], &a->f64, 8);
      break;
    default: { /* str, bytes: copied into guest memory */
      const void *src = a->type == PK_T_STR ? (const void *)a->str.ptr
                                            : (const void *)a->bytes.ptr;
      size_t len = a->type == PK_T_STR ? a->str.len : a->bytes.len;
      uint32_t gp = 0;
      uint8_t *dst;
      if (len > UINT32_MAX)
        return pk__perr(p, PK_EINVAL, "argument %u is too large", i + 1);
      if (len > 0 && use_area && area_off <= st->arg_cap &&
          len <= st->arg_cap - area_off) {
        /* The argument area: no cabi_realloc call (checked at open). */
        gp = st->arg_area + area_off;
        area_off += ((uint32_t)len + 7u) & ~7u;
        memcpy(pk__wasm_mem(st->inst, gp, (uint32_t)len), src, len);
      } else if (len > 0) {
        if ((rc = guest_alloc(st, st->inst, (uint32_t)len, &gp, &dst)) < 0)
          return rc;
        memcpy(dst, src, len);
      }
      slots[n++] = gp;
      slots[n++] = (uint32_t)len;
    }
    }
  }
  p->ctx.status = 0;
  rc = guest_call(st, w->fn, slots, n, f->sig.nresults);
  if (w->lowered && !st->auto_post) { /* the arena holds arguments or
                                          the result */
    st->pending_post = w->post;
    st->pending_arg = f->sig.nresults ? slots[0] : 0;
  }
  if (rc < 0)
    return rc;
  if (p->ctx.status != 0)
    return p->ctx.status; /* the guest called fail */
  if (f->sig.nresults == 1) {
    switch (f->sig.results[0]) {
    case PK_T_I32:
      results[0].i32 = (int32_t)(uint32_t)slots[0];
      break;
    case PK_T_I64:
      results[0].i64 = (int64_t)slots[0];
      break;
    case PK_T_F32: {
      uint32_t b = (uint32_t)slots[0];
      memcpy(&results[0].f32, &b, 4);
      break;
    }
    case PK_T_F64:
      memcpy(&results[0].f64, &slots[0], 8);
      break;
    default: { /* str, bytes: (ptr, len) in the return area */
      uint8_t *area = pk__wasm_mem(st->inst, (uint32_t)slots[0], 8), *data;
      uint32_t gp, len;
      if (area == NULL)
        return pk__perr(p, PK_ETRAP, "return area out of guest memory");
      gp = (uint32_t)area[0] | (uint32_t)area[1] << 8 |
           (uint32_t)area[2] << 16 | (uint32_t)area[3] << 24;
      len = (uint32_t)area[4] | (uint32_t)area[5] << 8 |
            (uint32_t)area[6] << 16 | (uint32_t)area[7] << 24;
      if ((data = pk__wasm_mem(st->inst, gp, len)) == NULL)
        return pk__perr(p, PK_ETRAP,
                        "result [%u, +%u) is outside guest memory", gp, len);
      /* Points into guest memory: valid until the next call. */
      if (f->sig.results[0] == PK_T_STR) {
        results[0].str.ptr = (const char *)data;
        results[0].str.len = len;
      } else {
        results[0].bytes.ptr = data;
        results[0].bytes.len = len;
      }
    }
    }
  }
  return PK_OK;
}

/* ---- the "plugkit" imports --------------------------------------------- */

#define A32(i) ((uint32_t)args[i])

/* The guest fails the current call with this message. */
static int guest_fail(pk__wstate *st, const char *msg, size_t len) {
  if (st->p->ctx.status != 0)
    return 0; /* keep the first cause (an oom) */
  st->p->ctx.status = PK_EPLUGIN;
  pk__perr(st->p, PK_EPLUGIN, "%.*s", (int)len, msg);
  return 0;
}

/* A line from the guest for the host's log sink. */
static int guest_log(pk__wstate *st, int level, const char *msg,
                     size_t len) {
  pk__plugin_log(st->p, level, msg, len);
  return 0;
}

static int imp_fail(void *ud, pkw_instance *inst, const uint64_t *args,
                    uint64_t *results) {
  pk__wstate *st = ud;
  const uint8_t *m = pk__wasm_mem(inst, A32(0), A32(1));
  (void)results;
  if (m == NULL)
    return pk__wasm_fail(st, PK_ETRAP, "fail: message outside guest memory");
  return guest_fail(st, (const char *)m, A32(1));
}

/*
 * vfail, vlog and vformat: pk_fail, pk_log and pk_str_vprintf formatted
 * by the host (wfmt.c), so that the guest links no printf. vfail and vlog
 * keep the first 511 bytes, as the SDK's pk__vfmt does natively, and an
 * empty message where vsnprintf would fail.
 */
#define MSG_MAX 511

/* Formats the message of vfail/vlog into msg (MSG_MAX + 1 bytes). */
static int format_msg(pk__wstate *st, pkw_instance *inst, const char *imp,
                      const uint64_t *fmt_ap, char *msg, size_t *len) {
  int64_t n;
  int rc = pk__wasm_format(st, inst, imp, (uint32_t)fmt_ap[0],
                           (uint32_t)fmt_ap[1], msg, MSG_MAX, &n);
  *len = n < 0 ? 0 : n > MSG_MAX ? MSG_MAX : (size_t)n;
  return rc;
}

static int imp_vfail(void *ud, pkw_instance *inst, const uint64_t *args,
                     uint64_t *results) {
  char msg[MSG_MAX + 1];
  size_t n;
  int rc = format_msg(ud, inst, "vfail", &args[0], msg, &n);
  (void)results;
  return rc < 0 ? rc : guest_fail(ud, msg, n);
}

static int imp_vlog(void *ud, pkw_instance *inst, const uint64_t *args,
                    uint64_t *results) {
  char msg[MSG_MAX + 1];
  size_t n;
  int rc = format_msg(ud, inst, "vlog", &args[1], msg, &n);
  (void)results;
  return rc < 0 ? rc : guest_log(ud, (int)A32(0), msg, n);
}

/* vformat(fmt, ap, buf, cap) -> i32: vsnprintf. The text is made in
   host memory, then copied: %s arguments may overlap buf. */
static int imp_vformat(void *ud, pkw_instance *inst, const uint64_t *args,
                       uint64_t *results) {
  pk__wstate *st = ud;
  pk_host *h = st->p->host;
  uint32_t cap = A32(3);
  char small[256], *text = small;
  uint8_t *dst;
  int64_t n = -1;
  int rc;
  if (cap > 0 && pk__wasm_mem(inst, A32(2), cap) == NULL)
    return pk__wasm_fail(st, PK_ETRAP,
                         "vformat: output buffer outside guest memory");
  if (cap > sizeof small && (text = pk__alloc(h, cap)) == NULL)
    return pk__wasm_fail(st, PK_ENOMEM,
                         "vformat: out of memory for a %u-byte text", cap);
  rc = pk__wasm_format(st, inst, "vformat", A32(0), A32(1), text,
                       cap > 0 ? cap - 1 : 0, &n);
  if (rc == 0 && cap > 0) {
    dst = pk__wasm_mem(inst, A32(2), cap);
    memcpy(dst, text, n < 0 ? 1 : (size_t)(n < cap ? n + 1 : cap));
  }
  if (text != small)
    pk__free(h, text);
  results[0] = (uint32_t)(int32_t)n;
  return rc;
}

/* The guest could not allocate `size` bytes: its memory is full. */
static int imp_oom(void *ud, pkw_instance *inst, const uint64_t *args,
                   uint64_t *results) {
  pk__wstate *st = ud;
  (void)inst;
  (void)results;
  st->p->ctx.status = guest_out_of_memory(st, "the plugin", A32(0));
  return 0;
}

static int imp_log(void *ud, pkw_instance *inst, const uint64_t *args,
                   uint64_t *results) {
  pk__wstate *st = ud;
  const uint8_t *m = pk__wasm_mem(inst, A32(1), A32(2));
  (void)results;
  if (m == NULL)
    return pk__wasm_fail(st, PK_ETRAP, "log: message outside guest memory");
  return guest_log(st, (int)A32(0), (const char *)m, A32(2));
}

/* Copy `len` bytes into the guest; write (ptr, len) at `out`. */
static int give_guest(pk__wstate *st, pkw_instance *inst, const void *src,
                      size_t len, uint32_t out) {
  uint8_t *o = pk__wasm_mem(inst, out, 8), *dst;
  uint32_t gp = 0;
  int rc;
  if (o == NULL || len > UINT32_MAX)
    return pk__wasm_fail(st, PK_ETRAP, "result address outside guest memory");
  if (len > 0) {
    if ((rc = guest_alloc(st, inst, (uint32_t)len, &gp, &dst)) < 0) {
      st->host_rc = rc;
      return PK__WASM_HOSTERR;
    }
    memcpy(dst, src, len);
    o = pk__wasm_mem(inst, out, 8); /* memory may have grown */
  }
  o[0] = (uint8_t)gp;
  o[1] = (uint8_t)(gp >> 8);
  o[2] = (uint8_t)(gp >> 16);
  o[3] = (uint8_t)(gp >> 24);
  o[4] = (uint8_t)len;
  o[5] = (uint8_t)(len >> 8);
  o[6] = (uint8_t)(len >> 16);
  o[7] = (uint8_t)(len >> 24);
  return 0;
}

static int imp_config(void *ud, pkw_instance *inst, const uint64_t *args,
                      uint64_t *results) {
  pk__wstate *st = ud;
  const uint8_t *key = pk__wasm_mem(inst, A32(0), A32(1));
  pk_str v;
  if (key == NULL)
    return pk__wasm_fail(st, PK_ETRAP, "config: key outside guest memory");
  if (pk__config_get(st->p, (const char *)key, A32(1), &v) != PK_OK) {
    results[0] = (uint32_t)PK_ENOENT;
    return 0;
  }
  results[0] = 0;
  return give_guest(st, inst, v.ptr, v.len, A32(2));
}

static int imp_host_find(void *ud, pkw_instance *inst, const uint64_t *args,
                         uint64_t *results) {
  pk__wstate *st = ud;
  const uint8_t *name = pk__wasm_mem(inst, A32(0), A32(1));
  const uint8_t *sig = pk__wasm_mem(inst, A32(2), A32(3));
  uint8_t *out = pk__wasm_mem(inst, A32(4), 4);
  char nbuf[128], sbuf[PK__SIG_MAX];
  int32_t idx = 0;
  int rc;
  if (name == NULL || sig == NULL || out == NULL || A32(1) >= sizeof nbuf ||
      A32(3) >= sizeof sbuf)
    return pk__wasm_fail(st, PK_ETRAP, "host_find: bad guest pointer");
  memcpy(nbuf, name, A32(1));
  nbuf[A32(1)] = '\0';
  memcpy(sbuf, sig, A32(3));
  sbuf[A32(3)] = '\0';
  rc = pk__hostfn_find(st->p, nbuf, A32(3) ? sbuf : NULL, &idx);
  if (rc == PK_OK)
    memcpy(out, &idx, 4);
  results[0] = (uint32_t)rc;
  return 0;
}

/* A str/bytes argument of a host function: guest bytes [gp, gp + len)
   copied into the call arena (rule 1: the host function may call back
   into the plugin, which may grow its memory). */
static int host_arg(pk__wstate *st, pkw_instance *inst, uint32_t gp,
                    uint32_t len, const char *who, uint32_t i, pk_val *v) {
  const uint8_t *d = pk__wasm_mem(inst, gp, len);
  char *c;
  if (d == NULL)
    return pk__wasm_fail(st, PK_ETRAP,
                         "host function '%s': argument %u outside guest "
                         "memory",
                         who, i + 1);
  if (len == 0) {
    v->str.ptr = "";
  } else {
    if ((c = pk__arena_alloc(st->p->host, &st->p->arena, len)) == NULL)
      return pk__wasm_fail(st, PK_ENOMEM,
                           "host function '%s': out of memory copying "
                           "argument %u",
                           who, i + 1);
    memcpy(c, d, len);
    v->str.ptr = c;
  }
  v->str.len = len; /* str and bytes share the layout */
  return 0;
}

/* A str/bytes result of a host function that points into guest memory
   (a nested call's result passed on): copied into the call arena, since
   giving it to the guest calls cabi_realloc (rule 1). */
static int host_result_own(pk__wstate *st, pkw_instance *inst, pk_val *v) {
  pkw_memory *m = pkw_instance_memory(inst);
  uint64_t size = 0;
  const uint8_t *base = m ? pkw_memory_data(m, &size) : NULL;
  uintptr_t ptr = (uintptr_t)v->str.ptr;
  char *c;
  if (base == NULL || v->str.len == 0 || ptr >= (uintptr_t)base + size ||
      ptr + v->str.len <= (uintptr_t)base)
    return 0;
  if ((c = pk__arena_alloc(st->p->host, &st->p->arena, v->str.len)) == NULL)
    return pk__wasm_fail(st, PK_ENOMEM, "host_call: out of memory copying a "
                                        "result");
  memcpy(c, v->str.ptr, v->str.len);
  v->str.ptr = c;
  return 0;
}

/* pk_val in wasm32: type at 0, payload at 8 (str: ptr at 8, len at 12). */
#define WVAL 16

static int imp_host_call(void *ud, pkw_instance *inst, const uint64_t *args,
                         uint64_t *results) {
  pk__wstate *st = ud;
  /* args and results alias (engine/wasm.h): read every argument first. */
  uint32_t index = A32(0), nargs = A32(2), nres = A32(4), i, resp = A32(3);
  uint32_t nout;
  const uint8_t *ga;
  pk_val in[PK_MAX_PARAMS], out[PK_MAX_RESULTS];
  int rc;

  if (nargs > PK_MAX_PARAMS || nres > PK_MAX_RESULTS ||
      (ga = pk__wasm_mem(inst, A32(1), nargs * WVAL)) == NULL ||
      pk__wasm_mem(inst, resp, nres * WVAL) == NULL)
    return pk__wasm_fail(st, PK_ETRAP, "host_call: bad guest pointer");
  for (i = 0; i < nargs; i++) {
    const uint8_t *v = ga + i * WVAL;
    memcpy(&in[i].type, v, 4);
    switch (in[i].type) {
    case PK_T_I32:
      memcpy(&in[i].i32, v + 8, 4);
      break;
    case PK_T_I64:
      memcpy(&in[i].i64, v + 8, 8);
      break;
    case PK_T_F32:
      memcpy(&in[i].f32, v + 8, 4);
      break;
    case PK_T_F64:
      memcpy(&in[i].f64, v + 8, 8);
      break;
    case PK_T_STR:
    case PK_T_BYTES: {
      uint32_t gp, len;
      memcpy(&gp, v + 8, 4);
      memcpy(&len, v + 12, 4);
      if ((rc = host_arg(st, inst, gp, len,
                         index < st->p->ngrants
                             ? st->p->host->fns[st->p->grants[index]].name
                             : "?",
                         i, &in[i])) != 0)
        return rc;
      break;
    }
    default:
      in[i].type = 0xff; /* pk__hostfn_call rejects it with ETYPE */
    }
  }
  rc = pk__hostfn_call(st->p, (int32_t)index, in, nargs, out, nres);
  results[0] = (uint32_t)rc; /* args[] is dead from here */
  if (rc != PK_OK)
    return 0;
  nout = st->p->host->fns[st->p->grants[index]].sig.nresults;
  if (nout > nres)
    nout = nres;
  for (i = 0; i < nout; i++)
    if (out[i].type >= PK_T_STR && (rc = host_result_own(st, inst, &out[i])))
      return rc;
  for (i = 0; i < nout; i++) {
    /* Asked again at each result: give_guest may have grown memory. */
    uint8_t *v = pk__wasm_mem(inst, resp + i * WVAL, WVAL);
    memset(v, 0, WVAL);
    memcpy(v, &out[i].type, 4);
    switch (out[i].type) {
    case PK_T_I32:
      memcpy(v + 8, &out[i].i32, 4);
      break;
    case PK_T_I64:
      memcpy(v + 8, &out[i].i64, 8);
      break;
    case PK_T_F32:
      memcpy(v + 8, &out[i].f32, 4);
      break;
    case PK_T_F64:
      memcpy(v + 8, &out[i].f64, 8);
      break;
    default:
      if ((rc = give_guest(st, inst, out[i].str.ptr, out[i].str.len,
                           resp + i * WVAL + 8)) != 0)
        return rc;
    }
  }
  return 0;
}

/* A host function imported by name, with its wasm type. */
typedef struct typed_import {
  pk__wstate *st;
  int32_t index; /* into the plugin's grants */
  const pk__hostfn *fn;
} typed_import;

static int imp_typed(void *ud, pkw_instance *inst, const uint64_t *args,
                     uint64_t *results) {
  typed_import *ti = ud;
  const pk__sig *s = &ti->fn->sig;
  pk_val in[PK_MAX_PARAMS], out[PK_MAX_RESULTS];
  uint32_t i, k = 0;
  int rc;
  for (i = 0; i < s->nparams; i++) {
    in[i].type = s->params[i];
    switch (s->params[i]) {
    case PK_T_I32:
      in[i].i32 = (int32_t)(uint32_t)args[k++];
      break;
    case PK_T_I64:
      in[i].i64 = (int64_t)args[k++];
      break;
    case PK_T_F32: {
      uint32_t b = (uint32_t)args[k++];
      memcpy(&in[i].f32, &b, 4);
      break;
    }
    case PK_T_F64:
      memcpy(&in[i].f64, &args[k++], 8);
      break;
    default:
      if ((rc = host_arg(ti->st, inst, A32(k), A32(k + 1), ti->fn->name, i,
                         &in[i])) != 0)
        return rc;
      k += 2;
    }
  }
  /* Arguments are read: results may now overwrite them (they alias). */
  if ((rc = pk__hostfn_call(ti->st->p, ti->index, in, s->nparams, out,
                            s->nresults)) != PK_OK) {
    ti->st->host_rc = rc;
    return PK__WASM_HOSTERR;
  }
  if (s->nresults == 1) {
    switch (s->results[0]) {
    case PK_T_I32:
      results[0] = (uint32_t)out[0].i32;
      break;
    case PK_T_I64:
      results[0] = (uint64_t)out[0].i64;
      break;
    case PK_T_F32: {
      uint32_t b;
      memcpy(&b, &out[0].f32, 4);
      results[0] = b;
      break;
    }
    default:
      memcpy(&results[0], &out[0].f64, 8);
    }
  }
  return 0;
}

/* ---- open and close ---------------------------------------------------- */

static int wasm_probe(const unsigned char *h, size_t n, const char *path,
                      int isdir) {
  (void)path;
  return !isdir && n >= 4 && memcmp(h, "\0asm", 4) == 0 ? 100 : 0;
}

static const struct {
  const char *name, *type;
  pkw_host_fn fn;
} builtins[] = {
    {"fail", "ii:", imp_fail},
    {"oom", "i:", imp_oom},
    {"log", "iii:", imp_log},
    {"config", "iii:i", imp_config},
    {"host_find", "iiiii:i", imp_host_find},
    {"host_call", "iiiii:i", imp_host_call},
    {"vfail", "ii:", imp_vfail},
    {"vlog", "iii:", imp_vlog},
    {"vformat", "iiii:i", imp_vformat},
};

static int all_i32(const pkw_functype *t, const char *s) {
  uint32_t i = 0, j = 0;
  for (; *s != ':'; s++, i++)
    if (i >= t->nparams || t->params[i] != PKW_I32)
      return 0;
  for (s++; *s; s++, j++)
    if (j >= t->nresults || t->results[j] != PKW_I32)
      return 0;
  return i == t->nparams && j == t->nresults;
}

/* Bind import i. */
static int bind_import(pk__wstate *st, const pkw_alloc *al,
                       const pkw_import_desc *d, typed_import *ti,
                       pkw_func **out) {
  pk_plugin *p = st->p;
  size_t i;
  if (d->kind != PKW_EXTERN_FUNC)
    return pk__perr(p, PK_EFORMAT,
                    "import '%.*s.%.*s' is not a function: only function "
                    "imports are provided",
                    (int)d->module_len, d->module, (int)d->name_len, d->name);
  if (d->module_len == 22 &&
      memcmp(d->module, "wasi_snapshot_preview1", 22) == 0)
    return pk__wasi_bind(st, al, d->name, d->name_len, &d->type, out);
  if (d->module_len != 7 || memcmp(d->module, "plugkit", 7) != 0)
    return pk__perr(p, PK_ENOENT,
                    "unknown import '%.*s.%.*s' (modules provided: plugkit, "
                    "wasi_snapshot_preview1)",
                    (int)d->module_len, d->module, (int)d->name_len, d->name);
  for (i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
    if (strlen(builtins[i].name) != d->name_len ||
        memcmp(builtins[i].name, d->name, d->name_len) != 0)
      continue;
    if (!all_i32(&d->type, builtins[i].type)) {
      char got[64];
      type_text(&d->type, got, sizeof got);
      /* A host function of the same name cannot be imported by name: the
         SDK's import owns it (docs/wasm-abi.md). */
      return pk__perr(p, PK_EFORMAT,
                      "import 'plugkit.%s' has wasm type %s, not the type of "
                      "the SDK's import of that name: '%s' is reserved by the "
                      "SDK (a host function called %s is reached through "
                      "pk_host_find and pk_host_call)",
                      builtins[i].name, got, builtins[i].name,
                      builtins[i].name);
    }
    if (pkw_func_create_host(al, &d->type, builtins[i].fn, st, out) !=
        PKW_OK)
      return pk__perr(p, PK_ENOMEM, "out of memory binding imports");
    return PK_OK;
  }
  /* A host function by name: it must be defined, granted and typed alike. */
  {
    char name[64], want[64], got[64];
    uint8_t wp[2 * PK_MAX_PARAMS], wr[PK_MAX_RESULTS];
    uint32_t np, nr;
    int32_t idx;
    int rc;
    if (d->name_len >= sizeof name)
      return pk__perr(p, PK_ENOENT, "unknown import 'plugkit.%.*s'",
                      (int)d->name_len, d->name);
    memcpy(name, d->name, d->name_len);
    name[d->name_len] = '\0';
    if ((rc = pk__hostfn_find(p, name, NULL, &idx)) < 0)
      return pk__perr(p, rc, "import 'plugkit.%s': %s", name,
                      rc == PK_EDENIED ? "host function not granted to this "
                                         "plugin"
                                       : "no such host function");
    ti->st = st;
    ti->index = idx;
    ti->fn = &p->host->fns[p->grants[idx]];
    if (lower(&ti->fn->sig, wp, &np, wr, &nr) < 0 ||
        (ti->fn->sig.nresults == 1 && ti->fn->sig.results[0] >= PK_T_STR) ||
        !same_type(&d->type, wp, np, wr, nr)) {
      pkw_functype t = {np, nr, wp, wr};
      type_text(&d->type, got, sizeof got);
      type_text(&t, want, sizeof want);
      return pk__perr(p, PK_ESIG,
                      "import 'plugkit.%s' has wasm type %s; host function "
                      "%s needs %s (str/bytes results only through "
                      "pk_host_call)",
                      name, got, ti->fn->sigtext, want);
    }
    if (pkw_func_create_host(al, &d->type, imp_typed, ti, out) != PKW_OK)
      return pk__perr(p, PK_ENOMEM, "out of memory binding imports");
    return PK_OK;
  }
}

static void watchdog_fire(void *ud) {
  pk__wstate *st = ud;
  pkw_instance_interrupt(st->inst);
}

/* The SDK's optional exports (docs/wasm-abi.md): plugkit_unwind,
   plugkit_auto_post and plugkit_arg_area. A type or an area that does
   not fit the spec is an error, not a feature to do without. */
static int sdk_features(pk__wstate *st) {
  pk_plugin *p = st->p;
  pkw_functype t;
  pkw_func *fn;
  uint64_t r = 0;
  uint8_t *hdr;
  uint32_t cap;
  int rc;

  if (pkw_instance_func(st->inst, "plugkit_unwind", &fn) == PKW_OK) {
    pkw_func_type(fn, &t);
    if (t.nparams != 0 || t.nresults != 0)
      return pk__perr(p, PK_EFORMAT, "plugkit_unwind must be () -> ()");
    st->unwind = fn;
  }
  if (pkw_instance_func(st->inst, "plugkit_auto_post", &fn) == PKW_OK)
    st->auto_post = 1;
  if (pkw_instance_func(st->inst, "plugkit_arg_area", &fn) != PKW_OK)
    return PK_OK;
  pkw_func_type(fn, &t);
  if (t.nparams != 0 || t.nresults != 1 || t.results[0] != PKW_I32)
    return pk__perr(p, PK_EFORMAT, "plugkit_arg_area must be () -> i32");
  if ((rc = guest_call(st, fn, &r, 0, 1)) < 0)
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

  if ((rc = guest_call(st, fn, &r, 0, 1)) < 0)
    return rc;
  if (m == NULL)
    return pk__perr(p, PK_EFORMAT, "plugkit_describe: the module has no memory");
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
      (st->exports = pk__alloc(p->host, count * sizeof *st->exports)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  for (i = 0; i < count; i++) {
    const char *name = s, *sig = s + strlen(s) + 1;
    char post[96];
    uint8_t wp[2 * PK_MAX_PARAMS], wr[PK_MAX_RESULTS];
    uint32_t np, nr;
    pkw_functype t;
    pk_func *f = &p->funcs[i];
    pk__wexport *w = &st->exports[i];
    s = sig + strlen(sig) + 1;
    if ((rc = pk__func_init(p, f, name, sig)) < 0)
      return rc;
    memset(w, 0, sizeof *w);
    if (pkw_instance_func(st->inst, name, &w->fn) != PKW_OK)
      return pk__perr(p, PK_EFORMAT,
                      "export '%s' is described but not exported", name);
    pkw_func_type(w->fn, &t);
    if (lower(&f->sig, wp, &np, wr, &nr) < 0 || !same_type(&t, wp, np, wr, nr))
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
    if (pkw_instance_func(st->inst, post, &w->post) != PKW_OK)
      w->post = NULL;
    f->invoke = wasm_invoke;
    f->bindex = (uint32_t)i;
    scalar_path(st, f, w);
  }
  return PK_OK;
}

/* A module without the marker: offer its scalar function exports. */
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
      if (t.nparams > PK_MAX_PARAMS || t.nresults > 1)
        continue;
      len += (size_t)snprintf(sig + len, sizeof sig - len, "(");
      for (k = 0; k < t.nparams + t.nresults && ok; k++) {
        uint8_t ty = k < t.nparams ? t.params[k] : t.results[k - t.nparams];
        const char *tn = ty == PKW_I32   ? "i32"
                         : ty == PKW_I64 ? "i64"
                         : ty == PKW_F32 ? "f32"
                         : ty == PKW_F64 ? "f64"
                                         : NULL;
        if (tn == NULL)
          ok = 0;
        else
          len += (size_t)snprintf(sig + len, sizeof sig - len, "%s%s%s",
                                  k == t.nparams ? ")->" : "",
                                  k > 0 && k != t.nparams ? "," : "", tn);
      }
      if (!ok)
        continue;
      if (t.nresults == 0) /* the loop closed no parameter list */
        snprintf(sig + len, sizeof sig - len, ")->()");
      if (pass == 1) {
        pk_func *f = &p->funcs[n];
        memcpy(name, en, el);
        name[el] = '\0';
        if ((rc = pk__func_init(p, f, name, sig)) < 0)
          return rc;
        memset(&st->exports[n], 0, sizeof st->exports[n]);
        st->exports[n].fn = ex.u.func;
        f->invoke = wasm_invoke;
        f->bindex = n;
        scalar_path(st, f, &st->exports[n]);
      }
      n++;
    }
    if (pass == 0) {
      count = n;
      if ((rc = pk__plugin_exports(p, count)) < 0)
        return rc;
      if (count > 0 && (st->exports = pk__alloc(
                            p->host, count * sizeof *st->exports)) == NULL)
        return pk__perr(p, PK_ENOMEM, "out of memory");
    }
  }
  return PK_OK;
}

/* Read the whole file through the host's allocator. */
static int read_file(pk_plugin *p, uint8_t **out, size_t *out_n) {
  FILE *f = fopen(p->path, "rb");
  uint8_t *buf = NULL;
  size_t n = 0, cap = 0;
  if (f == NULL)
    return pk__perr(p, PK_EIO, "cannot open the file");
  for (;;) {
    size_t k;
    if (n == cap) {
      size_t ncap = cap ? cap * 2 : 65536;
      uint8_t *nb = pk__realloc(p->host, buf, ncap);
      if (nb == NULL) {
        pk__free(p->host, buf);
        fclose(f);
        return pk__perr(p, PK_ENOMEM, "out of memory reading the file");
      }
      buf = nb;
      cap = ncap;
    }
    k = fread(buf + n, 1, cap - n, f);
    n += k;
    if (k == 0)
      break;
  }
  fclose(f);
  *out = buf;
  *out_n = n;
  return PK_OK;
}

static int wasm_open(pk_plugin *p) {
  const pk_open_opts *o = p->opts;
  pk_host *h = p->host;
  pkw_alloc al = alloc_of(h);
  pkw_limits lim;
  pk__wstate *st;
  uint8_t *bytes = NULL;
  size_t n = 0;
  uint32_t nimp, i;
  pkw_extern *ext = NULL;
  pkw_func *fn;
  char err[256];
  int rc;

  if ((st = pk__alloc(h, sizeof *st)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  memset(st, 0, sizeof *st);
  st->p = p;
  st->root_fd = -1;
  for (i = 0; i < PK__WASI_MAX_FILES; i++)
    st->files[i] = -1;
  p->bstate = st;
  if (o->fs_root != NULL && pk__os_dir_open(o->fs_root, &st->root_fd) < 0)
    return pk__perr(p, PK_ENOENT, "fs_root '%s' is not a directory it can "
                                  "open",
                    o->fs_root);
  st->fuel = (int64_t)(o->fuel > INT64_MAX ? INT64_MAX : o->fuel);
  st->timeout_ms = o->call_timeout_ms > 0 ? (uint32_t)o->call_timeout_ms : 0;
  st->limited = st->fuel > 0 || st->timeout_ms > 0;
  if ((rc = read_file(p, &bytes, &n)) < 0)
    return rc;
  rc = pkw_module_decode_ex(&al, bytes, n,
                            o->validate_all ? 0 : PKW_DECODE_LAZY, &st->mod,
                            err, sizeof err);
  pk__free(h, bytes);
  if (rc != PKW_OK)
    return pk__perr(p, rc == PKW_ENOMEM ? PK_ENOMEM : PK_EFORMAT,
                    "%s module: %s",
                    rc == PKW_EINVALID ? "invalid" : "malformed", err);
  nimp = pkw_module_num_imports(st->mod);
  if (nimp > 0) {
    if ((ext = pk__alloc(h, nimp * sizeof *ext)) == NULL ||
        (st->hostfns = pk__alloc(h, nimp * sizeof *st->hostfns)) == NULL ||
        (st->himps = pk__alloc(h, nimp * sizeof(typed_import))) == NULL) {
      pk__free(h, ext);
      return pk__perr(p, PK_ENOMEM, "out of memory");
    }
    for (i = 0; i < nimp; i++) {
      pkw_import_desc d;
      pkw_module_import(st->mod, i, &d);
      if ((rc = bind_import(st, &al, &d, (typed_import *)st->himps + i,
                            &st->hostfns[i])) < 0) {
        pk__free(h, ext);
        return rc;
      }
      st->nhostfns++;
      ext[i].kind = PKW_EXTERN_FUNC;
      ext[i].u.func = st->hostfns[i];
    }
  }
  memset(&lim, 0, sizeof lim);
  /* 512 KiB of value stack per plugin instead of the engine's 2 MiB:
     instances are many and loads frequent; recursion deeper than this
     traps with "call stack exhausted", as the call depth limit does. */
  lim.stack_slots = 64u * 1024u;
  /* max_memory 0 is no limit but wasm32's own 4 GiB (and the module's
     maximum), not the engine's default cap: the engine grows memory on
     demand, so a high cap costs nothing until the guest uses it. */
  lim.max_memory_pages = 65536u;
  if (o->max_memory > 0) {
    uint64_t pages = o->max_memory / 65536;
    st->max_pages = lim.max_memory_pages =
        pages == 0 ? 1 : pages > 65536 ? 65536 : (uint32_t)pages;
  }
  /* The start function waits for guest_enter, which arms fuel and the
     watchdog (which needs the instance to interrupt). */
  lim.defer_start = 1;
  rc = pkw_instance_create(st->mod, ext, nimp, &lim, &st->inst, err,
                           sizeof err);
  pk__free(h, ext);
  if (rc != PKW_OK) {
    if (rc == PK__WASM_HOSTERR)
      return st->host_rc;
    return pk__perr(p, rc == PKW_ENOMEM ? PK_ENOMEM : PK_EFORMAT,
                    "cannot instantiate: %s", err);
  }
  if (st->timeout_ms > 0) {
    if ((st->wd = pk__alloc(h, pk__os_watchdog_size())) == NULL)
      return pk__perr(p, PK_ENOMEM, "out of memory");
    if (pk__os_watchdog_start(st->wd, watchdog_fire, st) != PK_OK) {
      pk__free(h, st->wd);
      st->wd = NULL;
      return pk__perr(p, PK_ENOMEM, "cannot start the timeout watchdog");
    }
  }
  /* The open runs under the limits of a call: the start function,
     _initialize, plugkit_arg_area, plugkit_describe and plugkit_init are
     each an outermost guest entry with the call's fuel and deadline. */
  if ((fn = pkw_instance_start_func(st->inst)) != NULL &&
      (rc = guest_call(st, fn, NULL, 0, 0)) < 0)
    return rc;
  if (pkw_instance_func(st->inst, "cabi_realloc", &st->realloc_fn) != PKW_OK)
    st->realloc_fn = NULL;
  /* wasi-libc reactors construct their runtime in _initialize. */
  if (pkw_instance_func(st->inst, "_initialize", &fn) == PKW_OK &&
      (rc = guest_call(st, fn, NULL, 0, 0)) < 0)
    return rc;
  if (pkw_instance_func(st->inst, "plugkit_abi_v1", &fn) == PKW_OK) {
    pkw_func *init;
    p->abi_major = PK_ABI_MAJOR;
    p->abi_minor = PK_ABI_MINOR;
    if (pkw_instance_func(st->inst, "plugkit_describe", &fn) != PKW_OK)
      return pk__perr(p, PK_ENODESC,
                      "exports plugkit_abi_v1 but no plugkit_describe");
    /* The SDK's optional exports first: they decide how exports are
       called (scalar_path). */
    if ((rc = sdk_features(st)) < 0 || (rc = describe(st, fn)) < 0)
      return rc;
    if (pkw_instance_func(st->inst, "plugkit_init", &init) == PKW_OK) {
      uint64_t r = 0;
      p->phase = "init";
      p->ctx.status = 0;
      if ((rc = guest_call(st, init, &r, 0, 1)) < 0)
        return rc == PK_ETRAP || rc == PK_EPLUGIN ? PK_EINIT : rc;
      if (r != 0 || p->ctx.status != 0) {
        if (p->ctx.status == 0)
          pk__perr(p, PK_EINIT, "init hook returned %d", (int)(int32_t)r);
        p->ctx.status = 0;
        return PK_EINIT;
      }
      p->phase = "open";
    }
    if (pkw_instance_func(st->inst, "plugkit_fini", &st->fini) != PKW_OK)
      st->fini = NULL;
  } else if ((rc = plain_exports(st)) < 0) {
    return rc;
  }
  st->inited = 1;
  return PK_OK;
}

static void wasm_close(pk_plugin *p) {
  pk__wstate *st = p->bstate;
  pk_host *h = p->host;
  uint32_t i;
  if (st == NULL)
    return;
  /* Each under the limits of a call; a failure is only noted (the
     plugin goes away either way). */
  if (st->inited && st->fini != NULL) {
    (void)run_post(st);
    (void)guest_call(st, st->fini, NULL, 0, 0);
  }
  if (st->wd != NULL) {
    pk__os_watchdog_stop(st->wd);
    pk__free(h, st->wd);
  }
  pkw_instance_destroy(st->inst);
  for (i = 0; i < st->nhostfns; i++)
    pkw_func_destroy_host(st->hostfns[i]);
  pkw_module_destroy(st->mod);
  for (i = 0; i < PK__WASI_MAX_FILES; i++)
    pk__os_close(st->files[i]);
  pk__os_close(st->root_fd);
  pk__free(h, st->hostfns);
  pk__free(h, st->himps);
  pk__free(h, st->exports);
  pk__free(h, st);
  p->bstate = NULL;
}

const pk__backend pk__backend_wasm = {"wasm", wasm_probe, wasm_open,
                                      wasm_close, PK__LIM_TIMEOUT | PK__LIM_FUEL | PK__LIM_MEMORY | PK__LIM_FS};
