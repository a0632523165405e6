/* The runtime of the compiled tiers: the entry from the host, calls that
 * leave the compiled code's fast path (host functions, tables, tail
 * calls, interpreted callees), and the instructions cgen.c does not
 * write inline. Each function here is the corresponding part of exec.c,
 * with the interpreter's registers (fuel, frame, stack end) read from the
 * call chain's pkw_jctx instead; keep the two in step.
 */
#include <string.h>

#include "internal.h"
#include "jrt.h"
#include "numeric.h"

int64_t pkw__memory_grow(pkw_memory *mem, uint32_t delta);
int64_t pkw__table_grow(pkw_table *t, uint32_t delta, uint64_t init);

/* ---- entry ---------------------------------------------------------------- */

/* The instance's context, on its first compiled entry: what stays the
 * same for every call on its stack. */
PKW_NOINLINE static void jctx_setup(pkw_instance *inst) {
  pkw_jctx *x = &inst->jx;
  x->stack_end = inst->stack_end;
  x->interrupt = &inst->interrupt;
  x->fuel = INT64_MAX;   /* unlimited entries leave it as they find it */
  x->tail = NULL;
  x->maxd = (uint32_t)(inst->frames_end - inst->frames);
  x->err = 0;
  x->frame0 = inst->frames;
  x->inst = inst;
}

/* The entry's way out other than a plain return: the tail calls the
 * function armed, then a failure (the fuel left written back) or the
 * results. */
PKW_NOINLINE static int jit_leave(pkw_func *func, int rc, uint64_t *out,
                                  size_t stride) {
  pkw_instance *inst = func->inst;
  pkw_jctx *x = &inst->jx;
  uint64_t *fp = inst->stack_free;
  uint32_t i, n;
  if (rc == PKW_JIT_TAIL)
    rc = pkw__jrt_tail(x, fp, (uint32_t)(inst->frame_free - inst->frames));
  if (x->fuel < 0)   /* never negative between calls (host_call) */
    x->fuel = 0;
  if (x->limited)
    inst->fuel = x->fuel;
  if (rc != 0)
    return rc;
  n = func->type.nresults;
  for (i = 0; i < n; i++)
    memcpy((char *)out + i * stride, &fp[i], sizeof *fp);
  return PKW_OK;
}

/* The stack check failed: the instance's context not set up yet (its
 * stack_end is NULL), or the stack is full. */
PKW_NOINLINE static int jit_no_room(pkw_func *func, const uint64_t *in,
                                    uint64_t *out, size_t stride) {
  pkw_instance *inst = func->inst;
  if (inst->jx.inst != NULL)
    return PKW_TRAP_STACK_EXHAUSTED;
  jctx_setup(inst);
  return pkw__jit_invoke(func, in, out, stride);
}

int pkw_invoke_compiled(pkw_func *func, const uint64_t *in, uint64_t *out,
                        size_t stride) {
  if (PKW_UNLIKELY(func->jit == NULL))
    return pkw_invoke(func, in, out, stride);
  return pkw__jit_invoke(func, in, out, stride);
}

/* Kept lean: the host's call of a small function is mostly this. The
 * context is the instance's (set up on the first entry); after the call
 * the frame is read again (the stack's free mark is back where it was)
 * rather than kept in a register across it. */
int pkw__jit_invoke(pkw_func *func, const uint64_t *in, uint64_t *out,
                    size_t stride) {
  pkw_instance *inst = func->inst;
  pkw_jctx *x = &inst->jx;
  uint64_t *fp = inst->stack_free;
  int64_t fuel;
  uint32_t i, n;
  int rc;
  /* x->stack_end is NULL before the set-up: the same test (as integers:
   * a pointer past the stack, or compared with NULL, would be UB). */
  if (PKW_UNLIKELY((uintptr_t)fp + (uintptr_t)func->frame_size * sizeof *fp >
                   (uintptr_t)x->stack_end))
    return jit_no_room(func, in, out, stride);
  /* As exec.c's entry: one or two arguments with no taken branch (the
   * host's call is branch-bound). */
  n = func->type.nparams;
  if (PKW_LIKELY(n > 0))
    memcpy(&fp[0], in, sizeof *fp);
  if (PKW_LIKELY(n > 1))
    memcpy(&fp[1], (const char *)in + stride, sizeof *fp);
  if (PKW_UNLIKELY(n > 2))
    for (i = 2; i < n; i++)
      memcpy(&fp[i], (const char *)in + i * stride, sizeof *fp);
  /* As exec.c: the host's call costs a unit of fuel; the interrupt flag
   * waits for the first call or loop iteration. Unlimited, x's count is
   * left as it is: when it runs out, pkw__jrt_fuel starts it again. A
   * nested entry overwrites x's fuel and limited; the host call around
   * it restores them (host_call). */
  fuel = inst->fuel;
  if (PKW_LIKELY(fuel < 0)) {
    x->limited = 0;
  } else {
    if (fuel == 0)
      return PKW_TRAP_OUT_OF_FUEL;
    x->limited = 1;
    x->fuel = fuel - 1;
  }
  /* The frame depth is absolute: a nested entry starts above the outer
   * calls' frames. */
  rc = func->jit(x, inst, fp, (uint32_t)(inst->frame_free - inst->frames));
  if (PKW_UNLIKELY(rc != 0 || func->type.nresults != 1))
    return jit_leave(func, rc, out, stride);
  inst = func->inst;
  if (PKW_UNLIKELY(inst->jx.limited))
    inst->fuel = inst->jx.fuel;
  memcpy(out, inst->stack_free, sizeof *fp);
  return PKW_OK;
}

/* ---- fuel and calls --------------------------------------------------------- */

/* exec.c's fuel_or_interrupt. */
int pkw__jrt_fuel(pkw_jctx *x) {
  if (atomic_load_explicit(x->interrupt, memory_order_relaxed)) {
    atomic_store_explicit(x->interrupt, 0, memory_order_relaxed);
    if (x->fuel < 0)
      x->fuel = 0;
    return PKW_TRAP_INTERRUPTED;
  }
  if (x->fuel < 0) {
    if (!x->limited) {
      x->fuel = INT64_MAX;
      return 0;
    }
    x->fuel = 0;
    return PKW_TRAP_OUT_OF_FUEL;
  }
  return 0;
}

static int fuel_check(pkw_jctx *x) {
  if (PKW_UNLIKELY(--x->fuel <
                   atomic_load_explicit(x->interrupt, memory_order_relaxed)))
    return pkw__jrt_fuel(x);
  return 0;
}

/* A host function, its arguments and results in place at args: exec.c's
 * do_call for host functions (no frame, no fuel; the re-entry bound). */
static int host_call(pkw_jctx *x, pkw_instance *ci, pkw_func *f,
                     uint64_t *args, uint32_t d) {
  pkw_instance *inst = x->inst;
  uint64_t *sf = inst->stack_free;
  pkw_frame *ff = inst->frame_free;
  uint32_t top = f->type.nparams > f->type.nresults ? f->type.nparams
                                                    : f->type.nresults;
  int limited = x->limited;
  int64_t fuel = x->fuel;
  int rc;
  if (PKW_UNLIKELY(inst->depth >= PKW_MAX_REENTRY))
    return PKW_TRAP_STACK_EXHAUSTED;
  inst->stack_free = args + top;
  inst->frame_free = x->frame0 + d;
  inst->depth++;
  inst->host_calls++;   /* as exec.c: the backend's image rule reads it */
  if (limited)
    inst->fuel = fuel;
  rc = f->host(f->host_ud, ci, args, args);
  inst->depth--;
  inst->stack_free = sf;
  inst->frame_free = ff;
  /* x is the instance's: an entry nested in the host function (into
   * this instance) set its own fuel and limited there. x's fuel is never
   * negative between checks (aot code reads a negative count as a
   * failure): a host function that made a limited call's fuel unlimited
   * leaves it none, so its next check traps as the interpreter's. */
  x->limited = limited;
  x->fuel = !limited ? fuel : inst->fuel < 0 ? 0 : inst->fuel;
  return rc;
}

/* A wasm function without compiled code (a lazy body that failed to
 * translate, or another module's interpreted function): checks done,
 * fuel charged; its frame at nfp is frame number `frames`. The
 * interpreter runs it as a nested entry, on its instance's stack. */
static int interp_call(pkw_jctx *x, pkw_func *f, uint64_t *nfp,
                       uint32_t frames) {
  pkw_instance *inst = x->inst;
  uint64_t *sf = inst->stack_free;
  pkw_frame *ff = inst->frame_free;
  int limited = x->limited;
  int64_t fuel = x->fuel;
  int rc;
  if (f->code == f->inst->mod->lazy_code) {
    if ((rc = pkw__compile_lazy(f)) != PKW_OK)
      return rc;
    if (PKW_UNLIKELY(nfp + f->frame_size > x->stack_end))
      return PKW_TRAP_STACK_EXHAUSTED;
  }
  if (PKW_UNLIKELY(inst->depth >= PKW_MAX_REENTRY))
    return PKW_TRAP_STACK_EXHAUSTED;
  inst->stack_free = nfp;
  inst->frame_free = x->frame0 + frames;
  inst->depth++;
  /* The entry charges a unit the call above already did. */
  if (limited)
    inst->fuel = fuel + 1;
  rc = pkw_invoke(f, nfp, nfp, sizeof *nfp);
  inst->depth--;
  inst->stack_free = sf;
  inst->frame_free = ff;
  /* As host_call: the interpreted code may call a host function that
   * enters this instance's compiled code again. */
  x->limited = limited;
  x->fuel = !limited ? fuel : inst->fuel < 0 ? 0 : inst->fuel;
  return rc;
}

int pkw__jrt_call(pkw_jctx *x, pkw_instance *ci, pkw_func *f, uint64_t *nfp,
                  uint32_t d) {
  int rc;
  if (f->code == NULL)
    return host_call(x, ci, f, nfp, d);
  if (PKW_UNLIKELY(d >= x->maxd || nfp + f->frame_size > x->stack_end))
    return PKW_TRAP_STACK_EXHAUSTED;
  if ((rc = fuel_check(x)) != 0)
    return rc;
  if (f->jit != NULL) {
    rc = f->jit(x, f->inst, nfp, d + 1);
    if (PKW_UNLIKELY(rc == PKW_JIT_TAIL))
      rc = pkw__jrt_tail(x, nfp, d + 1);
    return rc;
  }
  return interp_call(x, f, nfp, d + 1);
}

int pkw__jrt_tail(pkw_jctx *x, uint64_t *fp, uint32_t d) {
  int rc;
  do {
    pkw_func *f = x->tail;
    rc = f->jit(x, f->inst, fp, d);
  } while (rc == PKW_JIT_TAIL);
  return rc;
}

/* The callee of call_indirect: exec.c's checks, in its order. */
static int indirect_target(pkw_instance *ci, uint32_t type, uint32_t table,
                           uint32_t idx, pkw_func **out) {
  pkw_table *t = ci->tables[table];
  const pkw_functype *want;
  pkw_func *f;
  if (PKW_UNLIKELY(!pkw__in_bounds(idx, 1, t->size)))
    return PKW_TRAP_UNDEFINED_ELEMENT;
  f = (pkw_func *)(uintptr_t)t->elems[idx];
  if (PKW_UNLIKELY(f == NULL))
    return PKW_TRAP_UNINITIALIZED_ELEMENT;
  want = &ci->mod->types[type];
  if (PKW_UNLIKELY(f->type.params != want->params &&
                   !pkw__functype_eq(&f->type, want)))
    return PKW_TRAP_INDIRECT_CALL_TYPE;
  *out = f;
  return 0;
}

int pkw__jrt_call_indirect(pkw_jctx *x, pkw_instance *ci, uint32_t type,
                           uint32_t table, uint32_t idx, uint64_t *nfp,
                           uint32_t d) {
  pkw_func *f = NULL;
  int rc = indirect_target(ci, type, table, idx, &f);
  if (rc != 0)
    return rc;
  return pkw__jrt_call(x, ci, f, nfp, d);
}

int pkw__jrt_tail_call(pkw_jctx *x, pkw_instance *ci, pkw_func *f,
                       uint64_t *fp, uint32_t ab, uint32_t d) {
  uint32_t i, np = f->type.nparams;
  int rc;
  if (f->code == NULL) {
    uint64_t *args = fp + ab;
    if ((rc = host_call(x, ci, f, args, d)) != 0)
      return rc;
    for (i = 0; i < f->type.nresults; i++)
      fp[i] = args[i];
    return 0;
  }
  for (i = 0; i < np; i++)
    fp[i] = fp[ab + i];
  if (PKW_UNLIKELY(fp + f->frame_size > x->stack_end))
    return PKW_TRAP_STACK_EXHAUSTED;
  if ((rc = fuel_check(x)) != 0)
    return rc;
  if (f->jit != NULL) {
    x->tail = f;
    return PKW_JIT_TAIL;
  }
  return interp_call(x, f, fp, d);
}

int pkw__jrt_tail_call_indirect(pkw_jctx *x, pkw_instance *ci, uint32_t type,
                                uint32_t table, uint32_t idx, uint64_t *fp,
                                uint32_t ab, uint32_t d) {
  pkw_func *f = NULL;
  int rc = indirect_target(ci, type, table, idx, &f);
  if (rc != 0)
    return rc;
  return pkw__jrt_tail_call(x, ci, f, fp, ab, d);
}

/* ---- numeric ---------------------------------------------------------------- */

uint64_t pkw__jrt_fun(uint32_t op, uint64_t a, uint64_t b) {
  float fa = f32_of(a), fb = f32_of(b);
  double da = f64_of(a), db = f64_of(b);
  switch (op) {
  case PKW_OP_I32_CLZ: return clz32((uint32_t)a);
  case PKW_OP_I32_CTZ: return ctz32((uint32_t)a);
  case PKW_OP_I32_POPCNT: return pop32((uint32_t)a);
  case PKW_OP_I64_CLZ: return clz64(a);
  case PKW_OP_I64_CTZ: return ctz64(a);
  case PKW_OP_I64_POPCNT: return pop64(a);
  case PKW_OP_F32_CEIL: return of_f32(qnan32(ceilf, fa));
  case PKW_OP_F32_FLOOR: return of_f32(qnan32(floorf, fa));
  case PKW_OP_F32_TRUNC: return of_f32(qnan32(truncf, fa));
  case PKW_OP_F32_NEAREST: return of_f32(qnan32(nearbyintf, fa));
  case PKW_OP_F32_SQRT: return of_f32(sqrtf(fa));
  case PKW_OP_F32_MIN: return of_f32(fminw(fa, fb));
  case PKW_OP_F32_MAX: return of_f32(fmaxw(fa, fb));
  case PKW_OP_F64_CEIL: return of_f64(qnan64(ceil, da));
  case PKW_OP_F64_FLOOR: return of_f64(qnan64(floor, da));
  case PKW_OP_F64_TRUNC: return of_f64(qnan64(trunc, da));
  case PKW_OP_F64_NEAREST: return of_f64(qnan64(nearbyint, da));
  case PKW_OP_F64_SQRT: return of_f64(sqrt(da));
  case PKW_OP_F64_MIN: return of_f64(dminw(da, db));
  case PKW_OP_F64_MAX: return of_f64(dmaxw(da, db));
  case PKW_OP_F32_CONVERT_I64_U: return of_f32((float)a);
  case PKW_OP_F64_CONVERT_I64_U: return of_f64((double)a);
#define SAT_(name, x, lo_ok, hi_ok, ctype, utype, minv, maxv)              \
  case PKW_OP_##name:                                                     \
    if ((x) != (x))                                                       \
      return 0;                                                           \
    if (!(lo_ok))                                                         \
      return (utype)(minv);                                               \
    if (!(hi_ok))                                                         \
      return (utype)(maxv);                                               \
    return (utype)(ctype)(x);
  SAT_(I32_TRUNC_SAT_F32_S, fa, fa >= -2147483648.0f, fa < 2147483648.0f,
       int32_t, uint32_t, INT32_MIN, INT32_MAX)
  SAT_(I32_TRUNC_SAT_F32_U, fa, fa > -1.0f, fa < 4294967296.0f, uint32_t,
       uint32_t, 0, UINT32_MAX)
  SAT_(I32_TRUNC_SAT_F64_S, da, da > -2147483649.0, da < 2147483648.0,
       int32_t, uint32_t, INT32_MIN, INT32_MAX)
  SAT_(I32_TRUNC_SAT_F64_U, da, da > -1.0, da < 4294967296.0, uint32_t,
       uint32_t, 0, UINT32_MAX)
  SAT_(I64_TRUNC_SAT_F32_S, fa, fa >= -9223372036854775808.0f,
       fa < 9223372036854775808.0f, int64_t, uint64_t, INT64_MIN, INT64_MAX)
  SAT_(I64_TRUNC_SAT_F32_U, fa, fa > -1.0f, fa < 18446744073709551616.0f,
       uint64_t, uint64_t, 0, UINT64_MAX)
  SAT_(I64_TRUNC_SAT_F64_S, da, da >= -9223372036854775808.0,
       da < 9223372036854775808.0, int64_t, uint64_t, INT64_MIN, INT64_MAX)
  SAT_(I64_TRUNC_SAT_F64_U, da, da > -1.0, da < 18446744073709551616.0,
       uint64_t, uint64_t, 0, UINT64_MAX)
#undef SAT_
  default: return 0;   /* cannot happen: cgen.c sends only these */
  }
}

int pkw__jrt_trunc(uint32_t op, uint64_t a, uint64_t *out) {
  float fa = f32_of(a);
  double da = f64_of(a);
#define TRUNC_(name, x, lo_ok, hi_ok, ctype, utype)                        \
  case PKW_OP_##name:                                                     \
    if ((x) != (x))                                                       \
      return PKW_TRAP_INVALID_CONVERSION;                                 \
    if (!(lo_ok) || !(hi_ok))                                             \
      return PKW_TRAP_INTEGER_OVERFLOW;                                   \
    *out = (utype)(ctype)(x);                                             \
    return 0;
  switch (op) {
  TRUNC_(I32_TRUNC_F32_S, fa, fa >= -2147483648.0f, fa < 2147483648.0f,
         int32_t, uint32_t)
  TRUNC_(I32_TRUNC_F32_U, fa, fa > -1.0f, fa < 4294967296.0f, uint32_t,
         uint32_t)
  TRUNC_(I32_TRUNC_F64_S, da, da > -2147483649.0, da < 2147483648.0,
         int32_t, uint32_t)
  TRUNC_(I32_TRUNC_F64_U, da, da > -1.0, da < 4294967296.0, uint32_t,
         uint32_t)
  TRUNC_(I64_TRUNC_F32_S, fa, fa >= -9223372036854775808.0f,
         fa < 9223372036854775808.0f, int64_t, uint64_t)
  TRUNC_(I64_TRUNC_F32_U, fa, fa > -1.0f, fa < 18446744073709551616.0f,
         uint64_t, uint64_t)
  TRUNC_(I64_TRUNC_F64_S, da, da >= -9223372036854775808.0,
         da < 9223372036854775808.0, int64_t, uint64_t)
  TRUNC_(I64_TRUNC_F64_U, da, da > -1.0, da < 18446744073709551616.0,
         uint64_t, uint64_t)
  default: return PKW_TRAP_UNREACHABLE;   /* cannot happen */
  }
#undef TRUNC_
}

/* ---- memory and tables ----------------------------------------------------- */

uint32_t pkw__jrt_memory_grow(pkw_instance *ci, uint32_t delta) {
  return (uint32_t)(int32_t)pkw__memory_grow(ci->mem, delta);
}

/* The slow path of a store's marking (cgen.c, PKW_OP_MARK): a chunk of
 * [off, off + n), which the store's bounds check passed, not marked yet
 * (checked again: a helper trusts no caller). */
void pkw__jrt_mark(pkw_memory *mem, uint64_t off, uint64_t n) {
  if (mem->dirty != NULL && pkw__in_bounds(off, n, mem->size))
    pkw__mark(mem, off, n);
}

static uint64_t elem_value(pkw_instance *ci, const pkw_elem_item *it) {
  switch (it->kind) {
  case PKW_ELEM_FUNC: return (uint64_t)(uintptr_t)ci->funcs[it->idx];
  case PKW_ELEM_GLOBAL: return ci->globals[it->idx]->val;
  default: return 0;
  }
}

/* exec.c's handlers of the same names; o[k] is the instruction's operand
 * k + 1, so S(k) reads the slot operand k + 1 names. */
int pkw__jrt_op(pkw_instance *ci, uint32_t op, uint64_t *fp,
                const uint32_t *o) {
#define S(k) fp[o[(k) - 1]]
#define U(k) ((uint32_t)fp[o[(k) - 1]])
  pkw_memory *mem = ci->mem;
  uint8_t *membase = mem != NULL ? mem->data : NULL;
  uint64_t memsize = mem != NULL ? mem->size : 0;
  switch (op) {
  case PKW_OP_MEMORY_INIT: {
    const pkw_data_seg *s = &ci->mod->datas[o[0]];
    uint64_t d = U(2), src = U(3), n = U(4);
    uint64_t len = ci->data_dropped[o[0]] ? 0 : s->len;
    if (!pkw__in_bounds(src, n, len) || !pkw__in_bounds(d, n, memsize))
      return PKW_TRAP_MEMORY_OOB;
    if (PKW_UNLIKELY(mem->dirty != NULL))
      pkw__mark(mem, d, n);
    if (n)
      memcpy(membase + d, s->bytes + src, n);
    return 0;
  }
  case PKW_OP_DATA_DROP: ci->data_dropped[o[0]] = 1; return 0;
  case PKW_OP_MEMORY_COPY: {
    uint64_t d = U(1), src = U(2), n = U(3);
    if (!pkw__in_bounds(src, n, memsize) || !pkw__in_bounds(d, n, memsize))
      return PKW_TRAP_MEMORY_OOB;
    if (PKW_UNLIKELY(mem->dirty != NULL))
      pkw__mark(mem, d, n);
    if (n)
      memmove(membase + d, membase + src, n);
    return 0;
  }
  case PKW_OP_MEMORY_FILL: {
    uint64_t d = U(1), n = U(3);
    if (!pkw__in_bounds(d, n, memsize))
      return PKW_TRAP_MEMORY_OOB;
    if (PKW_UNLIKELY(mem->dirty != NULL))
      pkw__mark(mem, d, n);
    if (n)
      memset(membase + d, (int)(uint8_t)S(2), n);
    return 0;
  }
  case PKW_OP_TABLE_GET: {
    pkw_table *t = ci->tables[o[1]];
    uint32_t i = U(3);
    if (!pkw__in_bounds(i, 1, t->size))
      return PKW_TRAP_TABLE_OOB;
    S(1) = t->elems[i];
    return 0;
  }
  case PKW_OP_TABLE_SET: {
    pkw_table *t = ci->tables[o[0]];
    uint32_t i = U(2);
    if (!pkw__in_bounds(i, 1, t->size))
      return PKW_TRAP_TABLE_OOB;
    t->elems[i] = S(3);
    return 0;
  }
  case PKW_OP_TABLE_SIZE: S(1) = ci->tables[o[1]]->size; return 0;
  case PKW_OP_TABLE_GROW: {
    int64_t old = pkw__table_grow(ci->tables[o[1]], U(4), S(3));
    S(1) = (uint32_t)(int32_t)old;
    return 0;
  }
  case PKW_OP_TABLE_FILL: {
    pkw_table *t = ci->tables[o[0]];
    uint64_t i = U(2), n = U(4), k;
    uint64_t v = S(3);
    if (!pkw__in_bounds(i, n, t->size))
      return PKW_TRAP_TABLE_OOB;
    for (k = 0; k < n; k++)
      t->elems[i + k] = v;
    return 0;
  }
  case PKW_OP_TABLE_COPY: {
    pkw_table *td = ci->tables[o[0]], *ts = ci->tables[o[1]];
    uint64_t d = U(3), src = U(4), n = U(5);
    if (!pkw__in_bounds(src, n, ts->size) || !pkw__in_bounds(d, n, td->size))
      return PKW_TRAP_TABLE_OOB;
    if (n)
      memmove(td->elems + d, ts->elems + src, n * sizeof(uint64_t));
    return 0;
  }
  case PKW_OP_TABLE_INIT: {
    pkw_table *t = ci->tables[o[0]];
    const pkw_elem_seg *s = &ci->mod->elems[o[1]];
    uint64_t d = U(3), src = U(4), n = U(5), k;
    uint64_t len = ci->elem_dropped[o[1]] ? 0 : s->n;
    if (!pkw__in_bounds(src, n, len) || !pkw__in_bounds(d, n, t->size))
      return PKW_TRAP_TABLE_OOB;
    for (k = 0; k < n; k++)
      t->elems[d + k] = elem_value(ci, &s->items[src + k]);
    return 0;
  }
  case PKW_OP_ELEM_DROP: ci->elem_dropped[o[0]] = 1; return 0;
  default: return PKW_TRAP_UNREACHABLE;   /* cannot happen */
  }
#undef S
#undef U
}

/* ---- module API that needs no compiler --------------------------------------- */

const char *pkw_module_tier(const pkw_module *m) {
  return m != NULL && m->jit != NULL ? m->jit->tier : "interp";
}

int pkw_module_cgen(pkw_module *m, char **out_c, size_t *out_len,
                    char *errbuf, size_t errlen) {
  return pkw_module_cgen_ex(m, 0, out_c, out_len, errbuf, errlen);
}

int pkw_module_cgen_ex(pkw_module *m, unsigned flags, char **out_c,
                       size_t *out_len, char *errbuf, size_t errlen) {
  uint32_t i, ndf;
  int rc;
  if (m == NULL || out_c == NULL || out_len == NULL)
    return PKW_EINVAL;
  /* Every body translated first (a lazy module's too); one that fails
   * stays uncompiled, as pkw__compile_lazy would leave it. */
  ndf = m->nfuncs - m->nfunc_imports;
  for (i = 0; i < ndf; i++) {
    pkw_code *c = &m->codes[i];
    char msg[192];
    if (c->code != NULL || c->fail_rc != 0)
      continue;
    rc = pkw__compile_func(m, i, msg, sizeof msg);
    if (rc == PKW_ENOMEM) {
      pkw__errf(errbuf, errlen, "%s", msg);
      return rc;
    }
    if (rc != PKW_OK) {
      size_t len = strlen(msg) + 1;
      char *kept = pkw__arena_alloc_raw(&m->arena, len);
      if (kept == NULL)
        return PKW_ENOMEM;
      memcpy(kept, msg, len);
      c->fail_msg = kept;
      c->fail_rc = rc;
    }
  }
  return pkw__cgen(m, &m->alloc, flags, out_c, out_len, errbuf, errlen);
}

/* ---- the helpers, for the compilers ----------------------------------------- */

/* In cgen.c's order (pkw__cgen_helper names them). */
const void *const pkw__jrt_helpers[] = {
    (const void *)pkw__jrt_fuel,
    (const void *)pkw__jrt_call,
    (const void *)pkw__jrt_tail,
    (const void *)pkw__jrt_call_indirect,
    (const void *)pkw__jrt_tail_call,
    (const void *)pkw__jrt_tail_call_indirect,
    (const void *)pkw__jrt_fun,
    (const void *)pkw__jrt_trunc,
    (const void *)pkw__jrt_op,
    (const void *)pkw__jrt_memory_grow,
    (const void *)pkw__jrt_mark,
};
const size_t pkw__jrt_nhelpers =
    sizeof pkw__jrt_helpers / sizeof pkw__jrt_helpers[0];

/* ---- aot: code built elsewhere, bound here ------------------------------------ */

typedef struct aot_state {
  pkw_jit_fns fns;            /* first: m->jit points here */
  pkw_alloc alloc;
  void (*release)(void *ud);
  void *ud;
} aot_state;

static void aot_release(pkw_jit_fns *j) {
  aot_state *st = (aot_state *)j;
  pkw_alloc a = st->alloc;
  if (st->release != NULL)
    st->release(st->ud);
  pkw__realloc(&a, st->fns.fns, 0);
  pkw__realloc(&a, st, 0);
}

int pkw_module_bind_aot(pkw_module *m, void *(*sym)(void *ud,
                                                   const char *name),
                        void (*release)(void *ud), void *ud, char *errbuf,
                        size_t errlen) {
  typedef int (*init_fn)(const void *const *rt, uint32_t n);
  void *init_p, *table_p, *frames_p, *marks_p;
  init_fn init;
  void **table;
  const uint32_t *frames;
  aot_state *st;
  uint32_t i, ndf;
  int n;
  if (m == NULL || sym == NULL)
    return PKW_EINVAL;
  if (m->jit != NULL) {
    pkw__errf(errbuf, errlen, "the module has compiled code already");
    return PKW_EINVAL;
  }
  ndf = m->nfuncs - m->nfunc_imports;
  init_p = sym(ud, "pkw_aot_init");
  table_p = sym(ud, "pkw_jit_table");
  frames_p = sym(ud, "pkw_aot_frames");
  if (init_p == NULL || table_p == NULL || frames_p == NULL) {
    pkw__errf(errbuf, errlen, "not an aot artifact: pkw_aot_init, "
                              "pkw_jit_table or pkw_aot_frames missing");
    return PKW_EMALFORMED;
  }
  /* Code written for a module decoded with PKW_DECODE_DIRTY marks the
   * chunks its stores write; code without it does not, and would leave
   * reset_after_call restoring too little. Either way round: refused. */
  marks_p = sym(ud, "pkw_aot_marks");
  if (marks_p == NULL ||
      *(const uint32_t *)marks_p != (m->track_dirty ? 1u : 0u)) {
    pkw__errf(errbuf, errlen, "artifact %s the pages a call writes, the "
              "module %s (PKW_DECODE_DIRTY)",
              marks_p == NULL ? "does not say whether it records"
              : *(const uint32_t *)marks_p ? "records" : "does not record",
              m->track_dirty ? "needs them" : "does not");
    return PKW_EMALFORMED;
  }
  memcpy(&init, &init_p, sizeof init);
  table = table_p;
  frames = frames_p;
  n = init(pkw__jrt_helpers, (uint32_t)pkw__jrt_nhelpers);
  if (n < 0 || (uint32_t)n != ndf) {
    pkw__errf(errbuf, errlen, "artifact for another module or engine (%d "
                              "functions, the module defines %u)", n, ndf);
    return PKW_EMALFORMED;
  }
  /* Frames the engine will trust for stack checks: consistent with the
   * function's type, and with its translation where it has one. */
  for (i = 0; i < ndf; i++) {
    const pkw_code *c = &m->codes[i];
    uint32_t np = m->types[m->func_type[m->nfunc_imports + i]].nparams;
    if (table[i] == NULL)
      continue;
    if (frames[2 * i] < np || frames[2 * i + 1] < frames[2 * i] ||
        frames[2 * i + 1] > PKW_MAX_FUNC_LOCALS + PKW_MAX_FUNC_CODE_WORDS ||
        (c->code != NULL && (frames[2 * i] != c->nlocals ||
                             frames[2 * i + 1] != c->frame_size))) {
      pkw__errf(errbuf, errlen, "artifact does not match the module: "
                                "function %u's frame", m->nfunc_imports + i);
      return PKW_EMALFORMED;
    }
  }
  st = pkw__realloc(&m->alloc, NULL, sizeof *st);
  if (st == NULL)
    return PKW_ENOMEM;
  memset(st, 0, sizeof *st);
  st->alloc = m->alloc;
  st->fns.fns = pkw__realloc(&m->alloc, NULL,
                             ((size_t)ndf + 1) * sizeof(pkw_jit_fn));
  if (st->fns.fns == NULL) {
    pkw__realloc(&m->alloc, st, 0);
    return PKW_ENOMEM;
  }
  for (i = 0; i < ndf; i++)
    memcpy(&st->fns.fns[i], &table[i], sizeof(pkw_jit_fn));
  st->fns.frames = frames;
  st->fns.release = aot_release;
  st->fns.tier = "aot";
  st->release = release;
  st->ud = ud;
  m->jit = &st->fns;
  return PKW_OK;
}
