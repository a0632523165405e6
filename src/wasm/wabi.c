/*
 * wabi.c: the canonical ABI: how plugkit signatures lower to wasm
 * types, and calls from the host (the scalar fast path, and the general
 * path that copies str/bytes arguments into the guest).
 */
#include "wasm_backend.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The wasm types a plugkit signature lowers to (canonical ABI). */
int pk__wasm_lower(const pk__sig *s, uint8_t *params, uint32_t *np,
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

int pk__wasm_same_type(const pkw_functype *t, const uint8_t *p, uint32_t np,
                       const uint8_t *r, uint32_t nr) {
  return t->nparams == np && t->nresults == nr &&
         memcmp(t->params, p, np) == 0 && memcmp(t->results, r, nr) == 0;
}

const char *pk__wasm_num_name(uint8_t type) {
  return type == PKW_I32   ? "i32"
         : type == PKW_I64 ? "i64"
         : type == PKW_F32 ? "f32"
         : type == PKW_F64 ? "f64"
                           : NULL;
}

void pk__wasm_type_text(const pkw_functype *t, char *buf, size_t cap) {
  size_t n = 0;
  uint32_t i;
  n += (size_t)snprintf(buf + n, cap - n, "(");
  for (i = 0; i < t->nparams + t->nresults && n < cap; i++) {
    uint8_t ty = i < t->nparams ? t->params[i] : t->results[i - t->nparams];
    const char *name = pk__wasm_num_name(ty);
    n += (size_t)snprintf(buf + n, cap - n, "%s%s",
                          i == t->nparams ? ")->("
                          : i > 0         ? ","
                                          : "",
                          name ? name : "ref");
  }
  if (n < cap)
    snprintf(buf + n, cap - n, t->nparams == t->nparams + t->nresults
                                   ? ")->()" : ")");
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
static int wasm_invoke_scalar(pk__lane *l, pk_func *f, const pk_val *args,
                              pk_val *results);

/* The payloads of a pk_val array, for pkw_invoke with sizeof(pk_val) as
   the stride. Integer arithmetic: args is NULL when there are no
   parameters (results when no results), and the engine then reads (or
   writes) nothing. */
#define PAYLOADS(v) ((uint64_t *)((uintptr_t)(v) + offsetof(pk_val, i64)))

/* The scalar path, with the SDK's auto post-return (no call left to run
   before this one) or after running the pending one: fn is export f's
   engine function in the lane's instance (fn_of); compiled (a constant):
   the module's code is compiled. */
static inline int invoke_scalar_with(pk__lane *l, const pk_func *f,
                                     const pk_val *args, pk_val *results,
                                     pkw_func *fn, int compiled) {
  /* The lane's instance: no other thread uses it during this call. */
  pk__wstate *st = l->inst;
  int rc;
  st->lane = l;
  /* pk_func_call cleared ctx.status and checked the counts and types.
     The tag goes first: the engine writes only the payload. */
  if (f->sig.nresults == 1)
    results[0].type = f->sig.results[0];
  if (compiled) /* the engine's dispatch skipped (a constant here) */
    rc = pkw_invoke_compiled(fn, PAYLOADS(args), PAYLOADS(results),
                             sizeof(pk_val));
  else
    rc = pkw_invoke(fn, PAYLOADS(args), PAYLOADS(results), sizeof(pk_val));
  if (PK__LIKELY(rc == PKW_OK))
    return l->ctx.status; /* a host import may have failed the call */
  /* st again from l: only l is live across the call, one register the
     tails save (pk__wasm_map_rc is the rare path). */
  return pk__wasm_map_rc(l->inst, rc);
}

/* The engine function of export f in the lane's instance. inl (a
   constant): the module's functions are the instance's inline ones
   (fnv, PK__WFNS_INLINE). */
static inline pkw_func *fn_of(const pk__lane *l, const pk_func *f, int inl) {
  const pk__wstate *st = l->inst;
  return inl ? st->fnv[2 * f->bindex] : st->fns[2 * f->bindex];
}

static inline int invoke_scalar(pk__lane *l, const pk_func *f,
                                const pk_val *args, pk_val *results) {
  return invoke_scalar_with(l, f, args, results, fn_of(l, f, 0), 0);
}

/* A thunk, which pk_func_call tail-calls first: the function is the
   lane's cur (the context is the lane). For a module whose functions fit
   in the instance (PK__WFNS_INLINE). */
static int wasm_thunk_auto(pk_ctx *c, const pk_val *args, pk_val *results) {
  pk__lane *l = (pk__lane *)(void *)c;
  return invoke_scalar_with(l, l->cur, args, results, fn_of(l, l->cur, 1),
                            0);
}

/* The same for a module with compiled code (tier jit or aot): straight
   to the compiled entry. */
static int wasm_thunk_auto_compiled(pk_ctx *c, const pk_val *args,
                                    pk_val *results) {
  pk__lane *l = (pk__lane *)(void *)c;
  return invoke_scalar_with(l, l->cur, args, results, fn_of(l, l->cur, 1),
                            1);
}

/* The two above as tail thunks (pk_func.tail): they end the call. */
static int wasm_tail_auto(pk_func *f, const pk_val *args, pk__lane *l,
                          pk_val *results, void *fast) {
  pkw_func *fn = fast != NULL ? (pkw_func *)fast : fn_of(l, f, 1);
  int rc = invoke_scalar_with(l, f, args, results, fn, 0);
  pk__lane_leave(l);
  return rc;
}
static int wasm_tail_auto_compiled(pk_func *f, const pk_val *args,
                                   pk__lane *l, pk_val *results,
                                   void *fast) {
  pkw_func *fn = fast != NULL ? (pkw_func *)fast : fn_of(l, f, 1);
  int rc = invoke_scalar_with(l, f, args, results, fn, 1);
  pk__lane_leave(l);
  return rc;
}

/* pk__backend.fast: for the two tails above, the instance's engine
   function of export f; nothing for the others. */
void *pk__wasm_fast(pk_plugin *p, void *inst, const pk_func *f) {
  const pk__wstate *st = inst;
  (void)p;
  if (f->tail != wasm_tail_auto && f->tail != wasm_tail_auto_compiled)
    return NULL;
  return st->fnv[2 * f->bindex];
}

/* The same for a module whose post-return the host runs: the previous
   call's, if pending, first (apart, so the fast path stays small). */
PK__NOINLINE static int invoke_scalar_post(pk__lane *l, pk_func *f,
                                           const pk_val *args,
                                           pk_val *results) {
  pk__wstate *st = l->inst;
  int rc;
  st->lane = l;
  rc = pk__wasm_run_post(st);
  return rc < 0 ? rc : invoke_scalar(l, f, args, results);
}

static int wasm_invoke_scalar(pk__lane *l, pk_func *f, const pk_val *args,
                              pk_val *results) {
  if (PK__UNLIKELY(((pk__wstate *)l->inst)->pending_post != NULL) &&
      l->in_host == 0)
    return invoke_scalar_post(l, f, args, results);
  return invoke_scalar(l, f, args, results);
}

/* The same for a module with compiled code. */
static int wasm_invoke_scalar_compiled(pk__lane *l, pk_func *f,
                                       const pk_val *args, pk_val *results) {
  if (PK__UNLIKELY(((pk__wstate *)l->inst)->pending_post != NULL) &&
      l->in_host == 0)
    return invoke_scalar_post(l, f, args, results);
  return invoke_scalar_with(l, f, args, results, fn_of(l, f, 0), 1);
}

/* Prepare the scalar fast path of export w, when it applies. */
void pk__wasm_scalar_path(pk__wmod *m, pk_func *f, pk__wexport *w) {
  /* The tier is the module's, chosen at open (before the exports). */
  int compiled = strcmp(pkw_module_tier(m->mod), "interp") != 0;
  /* reset_after_call: results in guest memory are copied before the
     reset (pk__wasm_invoke), and scalars need nothing, but the general
     path keeps this rare mode out of the fast one. */
  if (w->lowered || w->direct || m->limited || f->sig.nresults > 1)
    return;
  if (m->auto_post && m->nexports <= PK__WFNS_INLINE) {
    f->thunk = compiled ? wasm_thunk_auto_compiled : wasm_thunk_auto;
    f->tail = compiled ? wasm_tail_auto_compiled : wasm_tail_auto;
  }
  f->invoke = compiled ? wasm_invoke_scalar_compiled : wasm_invoke_scalar;
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
    if ((c = pk__arena_alloc(st->p->host, &st->lane->arena,
                             args[i].str.len)) == NULL)
      return -1;
    memcpy(c, ptr, args[i].str.len);
    own[i].str.ptr = c;
  }
  if (copied)
    *argsp = own;
  return 0;
}

/* A number result from its engine slot. */
static void scalar_result(pk_val *r, uint8_t type, uint64_t slot) {
  switch (type) {
  case PK_T_I32:
    r->i32 = (int32_t)(uint32_t)slot;
    break;
  case PK_T_I64:
    r->i64 = (int64_t)slot;
    break;
  case PK_T_F32: {
    uint32_t b = (uint32_t)slot;
    memcpy(&r->f32, &b, 4);
    break;
  }
  default:
    memcpy(&r->f64, &slot, 8);
  }
}

/* What an empty str/bytes result points at. */
static const uint8_t empty_result[1];

int pk__wasm_invoke(pk__lane *l, pk_func *f, const pk_val *args,
                    pk_val *results) {
  pk_plugin *p = f->plugin;
  pk__wstate *st = l->inst;
  const pk__wexport *w = &st->m->exports[f->bindex];
  pkw_func *fn = st->fns[2 * f->bindex], *post = st->fns[2 * f->bindex + 1];
  uint64_t slots[2 * PK_MAX_PARAMS + 2];
  uint32_t n = 0, i, area_off = 0;
  /* The argument area is the outermost call's: a nested call may not
     overwrite the arguments of the call it is nested in. */
  int use_area;
  st->lane = l;
  use_area = st->arg_cap != 0 && l->in_host == 0;
  int rc, owned = !w->lowered;
  pk_val own[PK_MAX_PARAMS];

  /* Rule 1 (wasm_backend.h): an argument in the plugin's own memory (a
     result of an earlier call passed on) dies at a guest entry (the
     post-return, cabi_realloc), so before the first one the arguments
     that point there go to the call arena (own_args). A call whose
     arguments all go to the argument area enters the guest only for the
     call itself, and copies nothing. */
  if (st->pending_post != NULL && l->in_host == 0) {
    if (!owned && own_args(st, f, &args, own) < 0)
      return pk__perr(p, PK_ENOMEM, "out of memory copying arguments");
    owned = 1;
    if ((rc = pk__wasm_run_post(st)) < 0)
      return rc;
  }
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
        /* memmove: an argument in guest memory may overlap the area. */
        memmove(pk__wasm_mem(st->inst, gp, (uint32_t)len), src, len);
      } else if (len > 0) {
        if (!owned) { /* cabi_realloc is a guest entry */
          if (own_args(st, f, &args, own) < 0)
            return pk__perr(p, PK_ENOMEM, "out of memory copying arguments");
          owned = 1;
          src = args[i].str.ptr; /* str and bytes share the layout */
        }
        if ((rc = pk__wasm_guest_alloc(st, st->inst, (uint32_t)len, &gp,
                                       &dst)) < 0)
          return rc;
        memcpy(dst, src, len);
      }
      slots[n++] = gp;
      slots[n++] = (uint32_t)len;
    }
    }
  }
  l->ctx.status = 0;
  rc = pk__wasm_guest_call(st, fn, slots, n, f->sig.nresults);
  if (w->lowered && !st->auto_post) { /* the arena holds arguments or
                                          the result */
    st->pending_post = post;
    st->pending_arg = f->sig.nresults ? slots[0] : 0;
  }
  if (rc < 0)
    return rc;
  if (l->ctx.status != 0)
    return l->ctx.status; /* the guest called fail */
  /* Numbers (several only from a plain module's multi-value export). */
  for (i = 0; i < f->sig.nresults && f->sig.results[i] < PK_T_STR; i++)
    scalar_result(&results[i], f->sig.results[i], slots[i]);
  if (i == 0 && f->sig.nresults == 1) { /* str, bytes: (ptr, len) in the
                                            return area */
    uint8_t *area = pk__wasm_mem(st->inst, (uint32_t)slots[0], 8), *data;
    uint32_t gp, len;
    if (area == NULL)
      return pk__perr(p, PK_ETRAP, "return area out of guest memory");
    gp = (uint32_t)area[0] | (uint32_t)area[1] << 8 |
         (uint32_t)area[2] << 16 | (uint32_t)area[3] << 24;
    len = (uint32_t)area[4] | (uint32_t)area[5] << 8 |
          (uint32_t)area[6] << 16 | (uint32_t)area[7] << 24;
    if ((data = pk__wasm_mem(st->inst, gp, len)) == NULL)
      return pk__perr(p, PK_ETRAP, "result [%u, +%u) is outside guest memory",
                      gp, len);
    if (len > 0) {
      /* Copied out to the lane's arena: the result must stay valid until
         this thread's next call, but the instance is not the thread's
         alone. Between its calls another thread may take the instance
         (more threads than max_instances), and its calls (the pending
         post-return first) free and reuse that guest memory; the guest
         may grow it where memory moves; reset_after_call rewrites it. */
      uint8_t *c = pk__arena_alloc(p->host, &l->arena, len);
      if (c == NULL)
        return pk__perr(p, PK_ENOMEM, "out of memory for a %u-byte result",
                        len);
      memcpy(c, data, len);
      data = c;
    } else {
      data = (uint8_t *)empty_result; /* nothing in guest memory either */
    }
    if (f->sig.results[0] == PK_T_STR) {
      results[0].str.ptr = (const char *)data;
      results[0].str.len = len;
    } else {
      results[0].bytes.ptr = data;
      results[0].bytes.len = len;
    }
  }
  return PK_OK;
}
