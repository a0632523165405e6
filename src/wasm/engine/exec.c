/* The interpreter: one loop over the internal code of compile.c.
 *
 * Hot state lives in locals: pc, fp (frame base: slot 0 = first local),
 * the current instance's function/global/table arrays, the memory base
 * and size, and fuel. Guest calls push a pkw_frame on the instance's
 * frame array and continue in the same C frame, so guest recursion is
 * bounded by the frame and value-stack limits, never by the C stack.
 * Traps leave through one exit ("trap:") with a code; no longjmp.
 *
 * Dispatch is threaded (computed goto, one indirect jump per handler)
 * where the compiler supports it, else a switch in a loop.
 */
#include <string.h>

#include "internal.h"
#include "jrt.h"

#include "numeric.h"

/* Zeroes the non-parameter locals [p, p + n) of a new frame. Frames have
 * 4 spare slots (compile.c), so small counts take 4 plain stores instead
 * of a loop the compiler would turn into a memset call. */
static inline void zero_locals(uint64_t *p, uint32_t n) {
  if (PKW_LIKELY(n <= 4)) {
    p[0] = 0;
    p[1] = 0;
    p[2] = 0;
    p[3] = 0;
  } else {
    memset(p, 0, (size_t)n * sizeof *p);
  }
}

/* Grows a memory by delta pages; returns the old size in pages or -1. */
int64_t pkw__memory_grow(pkw_memory *mem, uint32_t delta);
int64_t pkw__table_grow(pkw_table *t, uint32_t delta, uint64_t init);

static uint64_t elem_value(pkw_instance *ci, const pkw_elem_item *it) {
  switch (it->kind) {
  case PKW_ELEM_FUNC: return (uint64_t)(uintptr_t)ci->funcs[it->idx];
  case PKW_ELEM_GLOBAL: return ci->globals[it->idx]->val;
  default: return 0;
  }
}

/* Decides what an exhausted fuel counter or a raised interrupt means.
 * The interpreter tests the two apart (--fuel < 0 || interrupt): here
 * that runs fewer instructions than the compiled tiers' one comparison
 * (--fl < interrupt), fib(25) 15.67 M against 15.84 M (callgrind). */
static int fuel_or_interrupt(pkw_instance *inst, int64_t *fuel, int limited) {
  if (atomic_load_explicit(&inst->interrupt, memory_order_relaxed)) {
    atomic_store_explicit(&inst->interrupt, 0, memory_order_relaxed);
    if (*fuel < 0)
      *fuel = 0;
    return PKW_TRAP_INTERRUPTED;
  }
  if (*fuel < 0) {
    if (!limited) {
      *fuel = INT64_MAX;
      return 0;
    }
    *fuel = 0;
    return PKW_TRAP_OUT_OF_FUEL;
  }
  return 0;
}

/* Not a function: pkw_invoke of it reports the instruction words (they
 * are labels of pkw_invoke, so they live there). */
static pkw_func opwords_request;

const uint32_t *pkw__exec_opwords(void) {
  const uint32_t *words = NULL;
  (void)pkw_invoke(&opwords_request, NULL, (uint64_t *)(void *)&words, 0);
  return words;
}

/* The interpreter, entered from the host (wasm.h). Guest calls do not
 * recurse in C: a call is a jump with a frame pushed in inst->frames. */
int pkw_invoke(pkw_func *func, const uint64_t *in, uint64_t *out,
               size_t stride) {
  pkw_instance *inst;
  uint64_t *fp;
  /* Interpreter registers. */
  const uint32_t *pc;
  pkw_instance *ci;
  pkw_memory *mem;
  uint8_t *membase;
  uint64_t memsize;
  pkw_frame *frame;
  int limited;
  int64_t fuel;
  int rc = PKW_OK;
  pkw_func *cf;          /* callee of do_call / do_tail_call */
  uint32_t argbase;

/* Only memory lives in registers: the function, global and table arrays
 * are read through ci where used, so entering the interpreter (a host
 * call) loads little. */
#define LOAD_CTX()                                                        \
  do {                                                                    \
    mem = ci->mem;                                                        \
    membase = mem ? mem->data : NULL;                                     \
    memsize = mem ? mem->size : 0;                                        \
  } while (0)
#define RELOAD_MEM()                                                      \
  do {                                                                    \
    if (mem) {                                                            \
      membase = mem->data;                                                \
      memsize = mem->size;                                                \
    }                                                                     \
  } while (0)
#define TRAP(code)                                                        \
  do {                                                                    \
    rc = PKW_TRAP_##code;                                                 \
    goto trap;                                                            \
  } while (0)
#define FUEL_CHECK()                                                      \
  do {                                                                    \
    if (PKW_UNLIKELY(--fuel < 0 ||                                        \
                     atomic_load_explicit(&inst->interrupt,               \
                                          memory_order_relaxed))) {       \
      rc = fuel_or_interrupt(inst, &fuel, limited);                       \
      if (rc != 0)                                                        \
        goto trap;                                                        \
    }                                                                     \
  } while (0)
/* The single bounds check for guest memory: [ea, ea + n) inside. */
#define CHECK_MEM(ea, n)                                                  \
  do {                                                                    \
    if (PKW_UNLIKELY(!pkw__in_bounds((ea), (n), memsize)))                \
      TRAP(MEMORY_OOB);                                                   \
  } while (0)

#define SLOT(i) fp[pc[i]]
#define U32(i) ((uint32_t)fp[pc[i]])
#define S32(i) ((int32_t)(uint32_t)fp[pc[i]])
#define U64(i) (fp[pc[i]])
#define S64(i) ((int64_t)fp[pc[i]])
#define F32(i) f32_of(fp[pc[i]])
#define F64(i) f64_of(fp[pc[i]])
/* Taken branch through operand k. A negative offset is a loop back-edge:
 * that is where fuel and the interrupt flag are checked (with calls). */
#define JUMP(k)                                                           \
  do {                                                                    \
    int32_t off_ = (int32_t)pc[k];                                        \
    if (off_ < 0)                                                         \
      FUEL_CHECK();                                                       \
    pc += (ptrdiff_t)(k) + off_;                                          \
    DISPATCH();                                                           \
  } while (0)

#if PKW_COMPUTED_GOTO
  /* Handler offsets from the first handler (the GNU C idiom for
   * position-independent jump tables). The translator stores these in
   * the code, so a dispatch is one load of the word plus one jump. */
  static const uint32_t offsets[PKW_OP_COUNT_] = {
#define LBL1_(name) (uint32_t)(&&L_##name - &&L_UNREACHABLE),
#define LBL5_(name, op, n, a, r) (uint32_t)(&&L_##name - &&L_UNREACHABLE),
#define LBL4_(name, op, n, t) (uint32_t)(&&L_##name - &&L_UNREACHABLE),
      PKW_CTLOPS(LBL1_) PKW_NUMOPS(LBL5_) PKW_LOADOPS(LBL4_)
      PKW_STOREOPS(LBL4_)
#undef LBL1_
#undef LBL5_
#undef LBL4_
  };
#define OP(name) L_##name:
#define DISPATCH() goto *(&&L_UNREACHABLE + (int32_t)*pc)
#else
  static const uint32_t offsets[PKW_OP_COUNT_] = {
#define LBL1_(name) PKW_OP_##name,
#define LBL5_(name, op, n, a, r) PKW_OP_##name,
#define LBL4_(name, op, n, t) PKW_OP_##name,
      PKW_CTLOPS(LBL1_) PKW_NUMOPS(LBL5_) PKW_LOADOPS(LBL4_)
      PKW_STOREOPS(LBL4_)
#undef LBL1_
#undef LBL5_
#undef LBL4_
  };
#define OP(name) case PKW_OP_##name:
#define DISPATCH() goto dispatch
#endif
#define NEXT(n)                                                           \
  do {                                                                    \
    pc += (n);                                                            \
    DISPATCH();                                                           \
  } while (0)

  if (PKW_UNLIKELY(func->code == NULL)) {
    if (func == &opwords_request) {
      *(const uint32_t **)(void *)out = offsets;
      return PKW_OK;
    }
    return pkw__invoke_host(func, in, out, stride);
  }
  if (func->jit != NULL)   /* compiled (jit tier): jrt.c runs it */
    return pkw__jit_invoke(func, in, out, stride);
  /* stack_free/frame_free mark what active calls use; they move only
   * around host callbacks (and are restored), so a call from a host
   * callback starts above its caller. depth counts those nestings: the
   * host call sites bound it, and with it the C stack. */
  inst = func->inst;
  fp = inst->stack_free;
  if (PKW_UNLIKELY(func->frame_size > (size_t)(inst->stack_end - fp)))
    return PKW_TRAP_STACK_EXHAUSTED;
  {
    /* Copied as given: the interpreter reads only the low half of i32
     * and f32 slots (see wasm.h). Most functions take one or two: those
     * are copied with no taken branch (the host's call is branch-bound). */
    const char *src = (const char *)in;
    uint32_t i, n = func->type.nparams;
    if (PKW_LIKELY(n > 0))
      memcpy(&fp[0], src, sizeof *fp);
    if (PKW_LIKELY(n > 1))
      memcpy(&fp[1], src + stride, sizeof *fp);
    if (PKW_UNLIKELY(n > 2))
      for (i = 2; i < n; i++)
        memcpy(&fp[i], src + i * stride, sizeof *fp);
  }
  pc = func->code;
  ci = func->inst;
  cf = func;  /* the function being entered, for LAZY */
  frame = inst->frame_free;
  /* The host's call costs a unit of fuel like any call. The interrupt
   * flag waits for the first call or loop iteration: code without
   * either ends soon anyway, and the entry stays cheap. */
  limited = inst->fuel >= 0;
  fuel = INT64_MAX;
  if (PKW_UNLIKELY(limited)) {
    fuel = inst->fuel - 1;
    if (fuel < 0) {
      inst->fuel = 0;
      return PKW_TRAP_OUT_OF_FUEL;
    }
  }
  LOAD_CTX();
  zero_locals(fp + func->type.nparams, func->nlocals - func->type.nparams);

#if PKW_COMPUTED_GOTO
  DISPATCH();
#else
dispatch:
  switch (*pc) {
#endif

  /* ---- control ---- */
  OP(UNREACHABLE) TRAP(UNREACHABLE);
  OP(BR) JUMP(1);
  OP(BR_IF)
    if (U32(1)) JUMP(2);
    NEXT(3);
  OP(BR_UNLESS)
    if (!U32(1)) JUMP(2);
    NEXT(3);
  OP(I32_EQZ_BR_IF)
    if (!U32(1)) JUMP(2);
    NEXT(3);
  OP(I32_EQ_BR_IF)
    if (U32(1) == U32(2)) JUMP(3);
    NEXT(4);
  OP(I32_NE_BR_IF)
    if (U32(1) != U32(2)) JUMP(3);
    NEXT(4);
  OP(I32_LT_S_BR_IF)
    if (S32(1) < S32(2)) JUMP(3);
    NEXT(4);
  OP(I32_LT_U_BR_IF)
    if (U32(1) < U32(2)) JUMP(3);
    NEXT(4);
  OP(I32_GE_S_BR_IF)
    if (S32(1) >= S32(2)) JUMP(3);
    NEXT(4);
  OP(I32_GE_U_BR_IF)
    if (U32(1) >= U32(2)) JUMP(3);
    NEXT(4);
  OP(BR_TABLE) {
    uint32_t i = U32(1), n = pc[2];
    if (i > n)
      i = n;
    JUMP(3 + i);
  }
  OP(RETURN1)
    fp[0] = SLOT(1);
    goto do_return;
  OP(RETURN)
  do_return:
    if (frame == inst->frame_free)  /* the host's entry frame */
      goto done;
    frame--;
    pc = frame->pc;
    fp = frame->fp;
    if (frame->inst != ci) {
      ci = frame->inst;
      LOAD_CTX();
    } else {
      RELOAD_MEM();
    }
    DISPATCH();
  OP(LAZY) {
    /* First entry into cf, a lazy module's function: fp is its frame,
     * the arguments in place. Translate, then enter it for real. */
    uint32_t np = cf->type.nparams;
    rc = pkw__compile_lazy(cf);
    if (PKW_UNLIKELY(rc != PKW_OK))
      goto trap;
    if (PKW_UNLIKELY(fp + cf->frame_size > inst->stack_end))
      TRAP(STACK_EXHAUSTED);
    zero_locals(fp + np, cf->nlocals - np);
    pc = cf->code;
    DISPATCH();
  }
  OP(CALL)
    cf = ci->funcs[pc[1]];
    argbase = pc[2];
    pc += 3;
    goto do_call;
  OP(CALL_INDIRECT) {
    pkw_table *t = ci->tables[pc[2]];
    uint32_t i = U32(3);
    const pkw_functype *want;
    if (PKW_UNLIKELY(!pkw__in_bounds(i, 1, t->size)))
      TRAP(UNDEFINED_ELEMENT);
    cf = (pkw_func *)(uintptr_t)t->elems[i];
    if (PKW_UNLIKELY(cf == NULL))
      TRAP(UNINITIALIZED_ELEMENT);
    want = &ci->mod->types[pc[1]];
    if (PKW_UNLIKELY(cf->type.params != want->params &&
                     !pkw__functype_eq(&cf->type, want)))
      TRAP(INDIRECT_CALL_TYPE);
    argbase = pc[4];
    pc += 5;
    goto do_call;
  }
  OP(RETURN_CALL)
    cf = ci->funcs[pc[1]];
    argbase = pc[2];
    goto do_tail_call;
  OP(RETURN_CALL_INDIRECT) {
    pkw_table *t = ci->tables[pc[2]];
    uint32_t i = U32(3);
    const pkw_functype *want;
    if (PKW_UNLIKELY(!pkw__in_bounds(i, 1, t->size)))
      TRAP(UNDEFINED_ELEMENT);
    cf = (pkw_func *)(uintptr_t)t->elems[i];
    if (PKW_UNLIKELY(cf == NULL))
      TRAP(UNINITIALIZED_ELEMENT);
    want = &ci->mod->types[pc[1]];
    if (PKW_UNLIKELY(cf->type.params != want->params &&
                     !pkw__functype_eq(&cf->type, want)))
      TRAP(INDIRECT_CALL_TYPE);
    argbase = pc[4];
    goto do_tail_call;
  }

  /* ---- data movement ---- */
  OP(COPY) SLOT(1) = SLOT(2); NEXT(3);
  OP(CONST32) SLOT(1) = pc[2]; NEXT(3);
  OP(CONST64) SLOT(1) = (uint64_t)pc[2] | ((uint64_t)pc[3] << 32); NEXT(4);
  OP(SELECT) SLOT(1) = U32(4) ? SLOT(2) : SLOT(3); NEXT(5);
  OP(GLOBAL_GET) SLOT(1) = ci->globals[pc[2]]->val; NEXT(3);
  OP(GLOBAL_SET) ci->globals[pc[1]]->val = SLOT(2); NEXT(3);
  OP(REF_FUNC) SLOT(1) = (uint64_t)(uintptr_t)ci->funcs[pc[2]]; NEXT(3);

  /* ---- memory ---- */
#define LOAD_(name, ctype, conv, n)                                       \
  OP(name) {                                                              \
    uint64_t ea = (uint64_t)U32(2) + pc[3];                               \
    ctype v;                                                              \
    CHECK_MEM(ea, n);                                                     \
    memcpy(&v, membase + ea, n);                                          \
    SLOT(1) = conv;                                                       \
    NEXT(4);                                                              \
  }
  LOAD_(I32_LOAD, uint32_t, v, 4)
  LOAD_(F32_LOAD, uint32_t, v, 4)
  LOAD_(I64_LOAD, uint64_t, v, 8)
  LOAD_(F64_LOAD, uint64_t, v, 8)
  LOAD_(I32_LOAD8_S, int8_t, (uint32_t)(int32_t)v, 1)
  LOAD_(I32_LOAD8_U, uint8_t, v, 1)
  LOAD_(I32_LOAD16_S, int16_t, (uint32_t)(int32_t)v, 2)
  LOAD_(I32_LOAD16_U, uint16_t, v, 2)
  LOAD_(I64_LOAD8_S, int8_t, (uint64_t)(int64_t)v, 1)
  LOAD_(I64_LOAD8_U, uint8_t, v, 1)
  LOAD_(I64_LOAD16_S, int16_t, (uint64_t)(int64_t)v, 2)
  LOAD_(I64_LOAD16_U, uint16_t, v, 2)
  LOAD_(I64_LOAD32_S, int32_t, (uint64_t)(int64_t)v, 4)
  LOAD_(I64_LOAD32_U, uint32_t, v, 4)
#undef LOAD_
#define STORE_(name, ctype, n)                                            \
  OP(name) {                                                              \
    uint64_t ea = (uint64_t)U32(1) + pc[3];                               \
    ctype v = (ctype)SLOT(2);                                             \
    CHECK_MEM(ea, n);                                                     \
    memcpy(membase + ea, &v, n);                                          \
    NEXT(4);                                                              \
  }
  STORE_(I32_STORE, uint32_t, 4)
  STORE_(F32_STORE, uint32_t, 4)
  STORE_(I64_STORE, uint64_t, 8)
  STORE_(F64_STORE, uint64_t, 8)
  STORE_(I32_STORE8, uint8_t, 1)
  STORE_(I32_STORE16, uint16_t, 2)
  STORE_(I64_STORE8, uint8_t, 1)
  STORE_(I64_STORE16, uint16_t, 2)
  STORE_(I64_STORE32, uint32_t, 4)
#undef STORE_
  /* i32.add x k feeding the address: the wrap of the i32 add happens
   * first, the offset is added in 64 bits, exactly as unfused. */
  OP(I32_LOAD_ADDI) {
    uint64_t ea = (uint64_t)(uint32_t)(U32(2) + pc[3]) + pc[4];
    uint32_t v;
    CHECK_MEM(ea, 4);
    memcpy(&v, membase + ea, 4);
    SLOT(1) = v;
    NEXT(5);
  }
  OP(I32_LOAD8_U_ADDI) {
    uint64_t ea = (uint64_t)(uint32_t)(U32(2) + pc[3]) + pc[4];
    CHECK_MEM(ea, 1);
    SLOT(1) = membase[ea];
    NEXT(5);
  }
  OP(I32_STORE_ADDI) {
    uint64_t ea = (uint64_t)(uint32_t)(U32(1) + pc[3]) + pc[4];
    uint32_t v = (uint32_t)SLOT(2);
    CHECK_MEM(ea, 4);
    memcpy(membase + ea, &v, 4);
    NEXT(5);
  }
  OP(MARK) {
    /* PKW_DECODE_DIRTY: the store that follows writes [ea, ea + n). Out
     * of bounds it traps: nothing to mark; nor before the instance
     * tracks (pkw_instance_track_dirty). */
    uint64_t ea = (uint64_t)U32(1) + pc[2];
    if (PKW_LIKELY(mem->dirty != NULL && pkw__in_bounds(ea, pc[3], memsize)))
      pkw__mark(mem, ea, pc[3]);
    NEXT(4);
  }
  OP(MEMORY_SIZE) SLOT(1) = mem->pages; NEXT(2);
  OP(MEMORY_GROW) {
    int64_t old = pkw__memory_grow(mem, U32(2));
    SLOT(1) = (uint32_t)(int32_t)old;
    RELOAD_MEM();
    NEXT(3);
  }
  OP(MEMORY_INIT) {
    const pkw_data_seg *s = &ci->mod->datas[pc[1]];
    uint64_t d = U32(2), src = U32(3), n = U32(4);
    uint64_t len = ci->data_dropped[pc[1]] ? 0 : s->len;
    if (!pkw__in_bounds(src, n, len))
      TRAP(MEMORY_OOB);
    CHECK_MEM(d, n);
    if (PKW_UNLIKELY(mem->dirty != NULL))
      pkw__mark(mem, d, n);
    if (n)
      memcpy(membase + d, s->bytes + src, n);
    NEXT(5);
  }
  OP(DATA_DROP) ci->data_dropped[pc[1]] = 1; NEXT(2);
  OP(MEMORY_COPY) {
    uint64_t d = U32(1), src = U32(2), n = U32(3);
    CHECK_MEM(src, n);
    CHECK_MEM(d, n);
    if (PKW_UNLIKELY(mem->dirty != NULL))
      pkw__mark(mem, d, n);
    if (n)
      memmove(membase + d, membase + src, n);
    NEXT(4);
  }
  OP(MEMORY_FILL) {
    uint64_t d = U32(1), n = U32(3);
    CHECK_MEM(d, n);
    if (PKW_UNLIKELY(mem->dirty != NULL))
      pkw__mark(mem, d, n);
    if (n)
      memset(membase + d, (int)(uint8_t)SLOT(2), n);
    NEXT(4);
  }

  /* ---- tables ---- */
  OP(TABLE_GET) {
    pkw_table *t = ci->tables[pc[2]];
    uint32_t i = U32(3);
    if (!pkw__in_bounds(i, 1, t->size))
      TRAP(TABLE_OOB);
    SLOT(1) = t->elems[i];
    NEXT(4);
  }
  OP(TABLE_SET) {
    pkw_table *t = ci->tables[pc[1]];
    uint32_t i = U32(2);
    if (!pkw__in_bounds(i, 1, t->size))
      TRAP(TABLE_OOB);
    t->elems[i] = SLOT(3);
    NEXT(4);
  }
  OP(TABLE_SIZE) SLOT(1) = ci->tables[pc[2]]->size; NEXT(3);
  OP(TABLE_GROW) {
    int64_t old = pkw__table_grow(ci->tables[pc[2]], U32(4), SLOT(3));
    SLOT(1) = (uint32_t)(int32_t)old;
    NEXT(5);
  }
  OP(TABLE_FILL) {
    pkw_table *t = ci->tables[pc[1]];
    uint64_t i = U32(2), n = U32(4), k;
    uint64_t v = SLOT(3);
    if (!pkw__in_bounds(i, n, t->size))
      TRAP(TABLE_OOB);
    for (k = 0; k < n; k++)
      t->elems[i + k] = v;
    NEXT(5);
  }
  OP(TABLE_COPY) {
    pkw_table *td = ci->tables[pc[1]], *ts = ci->tables[pc[2]];
    uint64_t d = U32(3), src = U32(4), n = U32(5);
    if (!pkw__in_bounds(src, n, ts->size) || !pkw__in_bounds(d, n, td->size))
      TRAP(TABLE_OOB);
    if (n)
      memmove(td->elems + d, ts->elems + src, n * sizeof(uint64_t));
    NEXT(6);
  }
  OP(TABLE_INIT) {
    pkw_table *t = ci->tables[pc[1]];
    const pkw_elem_seg *s = &ci->mod->elems[pc[2]];
    uint64_t d = U32(3), src = U32(4), n = U32(5), k;
    uint64_t len = ci->elem_dropped[pc[2]] ? 0 : s->n;
    if (!pkw__in_bounds(src, n, len) || !pkw__in_bounds(d, n, t->size))
      TRAP(TABLE_OOB);
    for (k = 0; k < n; k++)
      t->elems[d + k] = elem_value(ci, &s->items[src + k]);
    NEXT(6);
  }
  OP(ELEM_DROP) ci->elem_dropped[pc[1]] = 1; NEXT(2);

  /* ---- fused ---- */
#define IMM_(name, expr) OP(name) SLOT(1) = (expr); NEXT(4);
  IMM_(I32_ADD_IMM, (uint32_t)(U32(2) + pc[3]))
  IMM_(I32_SUB_IMM, (uint32_t)(U32(2) - pc[3]))
  IMM_(I32_MUL_IMM, (uint32_t)(U32(2) * pc[3]))
  IMM_(I32_AND_IMM, U32(2) & pc[3])
  IMM_(I32_OR_IMM, U32(2) | pc[3])
  IMM_(I32_XOR_IMM, U32(2) ^ pc[3])
  IMM_(I32_SHL_IMM, (uint32_t)(U32(2) << (pc[3] & 31)))
  IMM_(I32_SHR_S_IMM, (uint32_t)(S32(2) >> (pc[3] & 31)))
  IMM_(I32_SHR_U_IMM, U32(2) >> (pc[3] & 31))
  IMM_(I32_EQ_IMM, U32(2) == pc[3])
  IMM_(I32_NE_IMM, U32(2) != pc[3])
  IMM_(I32_LT_S_IMM, S32(2) < (int32_t)pc[3])
  IMM_(I32_LT_U_IMM, U32(2) < pc[3])
  IMM_(I32_GT_S_IMM, S32(2) > (int32_t)pc[3])
  IMM_(I32_GT_U_IMM, U32(2) > pc[3])
  IMM_(I32_LE_S_IMM, S32(2) <= (int32_t)pc[3])
  IMM_(I32_LE_U_IMM, U32(2) <= pc[3])
  IMM_(I32_GE_S_IMM, S32(2) >= (int32_t)pc[3])
  IMM_(I32_GE_U_IMM, U32(2) >= pc[3])
#undef IMM_
#define IMMBR_(name, cond)                                                \
  OP(name)                                                                \
    if (cond) JUMP(3);                             \
    NEXT(4);
  IMMBR_(I32_EQ_IMM_BR_IF, U32(1) == pc[2])
  IMMBR_(I32_NE_IMM_BR_IF, U32(1) != pc[2])
  IMMBR_(I32_LT_S_IMM_BR_IF, S32(1) < (int32_t)pc[2])
  IMMBR_(I32_LT_U_IMM_BR_IF, U32(1) < pc[2])
  IMMBR_(I32_GT_S_IMM_BR_IF, S32(1) > (int32_t)pc[2])
  IMMBR_(I32_GT_U_IMM_BR_IF, U32(1) > pc[2])
  IMMBR_(I32_LE_S_IMM_BR_IF, S32(1) <= (int32_t)pc[2])
  IMMBR_(I32_LE_U_IMM_BR_IF, U32(1) <= pc[2])
  IMMBR_(I32_GE_S_IMM_BR_IF, S32(1) >= (int32_t)pc[2])
  IMMBR_(I32_GE_U_IMM_BR_IF, U32(1) >= pc[2])
#undef IMMBR_

  /* ---- numeric ---- */
#define UN_(name, expr) OP(name) SLOT(1) = (expr); NEXT(3);
#define BIN_(name, expr) OP(name) SLOT(1) = (expr); NEXT(4);
  UN_(I32_EQZ, U32(2) == 0)
  BIN_(I32_EQ, U32(2) == U32(3))
  BIN_(I32_NE, U32(2) != U32(3))
  BIN_(I32_LT_S, S32(2) < S32(3))
  BIN_(I32_LT_U, U32(2) < U32(3))
  BIN_(I32_GT_S, S32(2) > S32(3))
  BIN_(I32_GT_U, U32(2) > U32(3))
  BIN_(I32_LE_S, S32(2) <= S32(3))
  BIN_(I32_LE_U, U32(2) <= U32(3))
  BIN_(I32_GE_S, S32(2) >= S32(3))
  BIN_(I32_GE_U, U32(2) >= U32(3))
  UN_(I64_EQZ, U64(2) == 0)
  BIN_(I64_EQ, U64(2) == U64(3))
  BIN_(I64_NE, U64(2) != U64(3))
  BIN_(I64_LT_S, S64(2) < S64(3))
  BIN_(I64_LT_U, U64(2) < U64(3))
  BIN_(I64_GT_S, S64(2) > S64(3))
  BIN_(I64_GT_U, U64(2) > U64(3))
  BIN_(I64_LE_S, S64(2) <= S64(3))
  BIN_(I64_LE_U, U64(2) <= U64(3))
  BIN_(I64_GE_S, S64(2) >= S64(3))
  BIN_(I64_GE_U, U64(2) >= U64(3))
  BIN_(F32_EQ, F32(2) == F32(3))
  BIN_(F32_NE, F32(2) != F32(3))
  BIN_(F32_LT, F32(2) < F32(3))
  BIN_(F32_GT, F32(2) > F32(3))
  BIN_(F32_LE, F32(2) <= F32(3))
  BIN_(F32_GE, F32(2) >= F32(3))
  BIN_(F64_EQ, F64(2) == F64(3))
  BIN_(F64_NE, F64(2) != F64(3))
  BIN_(F64_LT, F64(2) < F64(3))
  BIN_(F64_GT, F64(2) > F64(3))
  BIN_(F64_LE, F64(2) <= F64(3))
  BIN_(F64_GE, F64(2) >= F64(3))
  UN_(I32_CLZ, clz32(U32(2)))
  UN_(I32_CTZ, ctz32(U32(2)))
  UN_(I32_POPCNT, pop32(U32(2)))
  BIN_(I32_ADD, (uint32_t)(U32(2) + U32(3)))
  BIN_(I32_SUB, (uint32_t)(U32(2) - U32(3)))
  BIN_(I32_MUL, (uint32_t)(U32(2) * U32(3)))
/* Division and remainder, both widths: the traps wasm asks for. */
#define DIVREM_(w, st, ut, smin, S, U)                                    \
  OP(I##w##_DIV_S) {                                                      \
    st x = S(2), y = S(3);                                                \
    if (y == 0)                                                           \
      TRAP(DIVIDE_BY_ZERO);                                               \
    if (x == smin && y == -1)                                             \
      TRAP(INTEGER_OVERFLOW);                                             \
    SLOT(1) = (ut)(x / y);                                                \
    NEXT(4);                                                              \
  }                                                                       \
  OP(I##w##_DIV_U) {                                                      \
    ut x = U(2), y = U(3);                                                \
    if (y == 0)                                                           \
      TRAP(DIVIDE_BY_ZERO);                                               \
    SLOT(1) = x / y;                                                      \
    NEXT(4);                                                              \
  }                                                                       \
  OP(I##w##_REM_S) {                                                      \
    st x = S(2), y = S(3);                                                \
    if (y == 0)                                                           \
      TRAP(DIVIDE_BY_ZERO);                                               \
    SLOT(1) = y == -1 ? 0 : (ut)(x % y);                                  \
    NEXT(4);                                                              \
  }                                                                       \
  OP(I##w##_REM_U) {                                                      \
    ut x = U(2), y = U(3);                                                \
    if (y == 0)                                                           \
      TRAP(DIVIDE_BY_ZERO);                                               \
    SLOT(1) = x % y;                                                      \
    NEXT(4);                                                              \
  }
  DIVREM_(32, int32_t, uint32_t, INT32_MIN, S32, U32)
  BIN_(I32_AND, U32(2) & U32(3))
  BIN_(I32_OR, U32(2) | U32(3))
  BIN_(I32_XOR, U32(2) ^ U32(3))
  BIN_(I32_SHL, (uint32_t)(U32(2) << (U32(3) & 31)))
  BIN_(I32_SHR_S, (uint32_t)(S32(2) >> (U32(3) & 31)))
  BIN_(I32_SHR_U, U32(2) >> (U32(3) & 31))
  BIN_(I32_ROTL, rotl32(U32(2), U32(3)))
  BIN_(I32_ROTR, rotr32(U32(2), U32(3)))
  UN_(I64_CLZ, clz64(U64(2)))
  UN_(I64_CTZ, ctz64(U64(2)))
  UN_(I64_POPCNT, pop64(U64(2)))
  BIN_(I64_ADD, U64(2) + U64(3))
  BIN_(I64_SUB, U64(2) - U64(3))
  BIN_(I64_MUL, U64(2) * U64(3))
  DIVREM_(64, int64_t, uint64_t, INT64_MIN, S64, U64)
#undef DIVREM_
  BIN_(I64_AND, U64(2) & U64(3))
  BIN_(I64_OR, U64(2) | U64(3))
  BIN_(I64_XOR, U64(2) ^ U64(3))
  BIN_(I64_SHL, U64(2) << (U64(3) & 63))
  BIN_(I64_SHR_S, (uint64_t)(S64(2) >> (U64(3) & 63)))
  BIN_(I64_SHR_U, U64(2) >> (U64(3) & 63))
  BIN_(I64_ROTL, rotl64(U64(2), U64(3)))
  BIN_(I64_ROTR, rotr64(U64(2), U64(3)))
  UN_(F32_ABS, U32(2) & 0x7fffffffu)
  UN_(F32_NEG, U32(2) ^ 0x80000000u)
  UN_(F32_CEIL, of_f32(qnan32(ceilf, F32(2))))
  UN_(F32_FLOOR, of_f32(qnan32(floorf, F32(2))))
  UN_(F32_TRUNC, of_f32(qnan32(truncf, F32(2))))
  UN_(F32_NEAREST, of_f32(qnan32(nearbyintf, F32(2))))
  UN_(F32_SQRT, of_f32(sqrtf(F32(2))))
  BIN_(F32_ADD, of_f32(F32(2) + F32(3)))
  BIN_(F32_SUB, of_f32(F32(2) - F32(3)))
  BIN_(F32_MUL, of_f32(F32(2) * F32(3)))
  BIN_(F32_DIV, of_f32(F32(2) / F32(3)))
  BIN_(F32_MIN, of_f32(fminw(F32(2), F32(3))))
  BIN_(F32_MAX, of_f32(fmaxw(F32(2), F32(3))))
  BIN_(F32_COPYSIGN, (U32(2) & 0x7fffffffu) | (U32(3) & 0x80000000u))
  UN_(F64_ABS, U64(2) & 0x7fffffffffffffffull)
  UN_(F64_NEG, U64(2) ^ 0x8000000000000000ull)
  UN_(F64_CEIL, of_f64(qnan64(ceil, F64(2))))
  UN_(F64_FLOOR, of_f64(qnan64(floor, F64(2))))
  UN_(F64_TRUNC, of_f64(qnan64(trunc, F64(2))))
  UN_(F64_NEAREST, of_f64(qnan64(nearbyint, F64(2))))
  UN_(F64_SQRT, of_f64(sqrt(F64(2))))
  BIN_(F64_ADD, of_f64(F64(2) + F64(3)))
  BIN_(F64_SUB, of_f64(F64(2) - F64(3)))
  BIN_(F64_MUL, of_f64(F64(2) * F64(3)))
  BIN_(F64_DIV, of_f64(F64(2) / F64(3)))
  BIN_(F64_MIN, of_f64(dminw(F64(2), F64(3))))
  BIN_(F64_MAX, of_f64(dmaxw(F64(2), F64(3))))
  BIN_(F64_COPYSIGN, (U64(2) & 0x7fffffffffffffffull) |
                         (U64(3) & 0x8000000000000000ull))
  UN_(I32_WRAP_I64, (uint32_t)U64(2))
#define TRUNC_(name, ftype, get, lo_ok, hi_ok, ctype, utype)              \
  OP(name) {                                                              \
    ftype x = get(2);                                                     \
    if (x != x)                                                           \
      TRAP(INVALID_CONVERSION);                                           \
    if (!(lo_ok) || !(hi_ok))                                             \
      TRAP(INTEGER_OVERFLOW);                                             \
    SLOT(1) = (utype)(ctype)x;                                            \
    NEXT(3);                                                              \
  }
  TRUNC_(I32_TRUNC_F32_S, float, F32, x >= -2147483648.0f, x < 2147483648.0f,
         int32_t, uint32_t)
  TRUNC_(I32_TRUNC_F32_U, float, F32, x > -1.0f, x < 4294967296.0f,
         uint32_t, uint32_t)
  TRUNC_(I32_TRUNC_F64_S, double, F64, x > -2147483649.0, x < 2147483648.0,
         int32_t, uint32_t)
  TRUNC_(I32_TRUNC_F64_U, double, F64, x > -1.0, x < 4294967296.0,
         uint32_t, uint32_t)
  TRUNC_(I64_TRUNC_F32_S, float, F32, x >= -9223372036854775808.0f,
         x < 9223372036854775808.0f, int64_t, uint64_t)
  TRUNC_(I64_TRUNC_F32_U, float, F32, x > -1.0f,
         x < 18446744073709551616.0f, uint64_t, uint64_t)
  TRUNC_(I64_TRUNC_F64_S, double, F64, x >= -9223372036854775808.0,
         x < 9223372036854775808.0, int64_t, uint64_t)
  TRUNC_(I64_TRUNC_F64_U, double, F64, x > -1.0,
         x < 18446744073709551616.0, uint64_t, uint64_t)
#undef TRUNC_
#define TRUNC_SAT_(name, ftype, get, lo_ok, hi_ok, ctype, utype, minv, maxv) \
  OP(name) {                                                              \
    ftype x = get(2);                                                     \
    utype r;                                                              \
    if (x != x)                                                           \
      r = 0;                                                              \
    else if (!(lo_ok))                                                    \
      r = (utype)(minv);                                                  \
    else if (!(hi_ok))                                                    \
      r = (utype)(maxv);                                                  \
    else                                                                  \
      r = (utype)(ctype)x;                                                \
    SLOT(1) = r;                                                          \
    NEXT(3);                                                              \
  }
  TRUNC_SAT_(I32_TRUNC_SAT_F32_S, float, F32, x >= -2147483648.0f,
             x < 2147483648.0f, int32_t, uint32_t, INT32_MIN, INT32_MAX)
  TRUNC_SAT_(I32_TRUNC_SAT_F32_U, float, F32, x > -1.0f, x < 4294967296.0f,
             uint32_t, uint32_t, 0, UINT32_MAX)
  TRUNC_SAT_(I32_TRUNC_SAT_F64_S, double, F64, x > -2147483649.0,
             x < 2147483648.0, int32_t, uint32_t, INT32_MIN, INT32_MAX)
  TRUNC_SAT_(I32_TRUNC_SAT_F64_U, double, F64, x > -1.0, x < 4294967296.0,
             uint32_t, uint32_t, 0, UINT32_MAX)
  TRUNC_SAT_(I64_TRUNC_SAT_F32_S, float, F32, x >= -9223372036854775808.0f,
             x < 9223372036854775808.0f, int64_t, uint64_t, INT64_MIN,
             INT64_MAX)
  TRUNC_SAT_(I64_TRUNC_SAT_F32_U, float, F32, x > -1.0f,
             x < 18446744073709551616.0f, uint64_t, uint64_t, 0, UINT64_MAX)
  TRUNC_SAT_(I64_TRUNC_SAT_F64_S, double, F64, x >= -9223372036854775808.0,
             x < 9223372036854775808.0, int64_t, uint64_t, INT64_MIN,
             INT64_MAX)
  TRUNC_SAT_(I64_TRUNC_SAT_F64_U, double, F64, x > -1.0,
             x < 18446744073709551616.0, uint64_t, uint64_t, 0, UINT64_MAX)
#undef TRUNC_SAT_
  UN_(I64_EXTEND_I32_S, (uint64_t)(int64_t)S32(2))
  UN_(I64_EXTEND_I32_U, (uint64_t)U32(2))
  UN_(F32_CONVERT_I32_S, of_f32((float)S32(2)))
  UN_(F32_CONVERT_I32_U, of_f32((float)U32(2)))
  UN_(F32_CONVERT_I64_S, of_f32((float)S64(2)))
  UN_(F32_CONVERT_I64_U, of_f32((float)U64(2)))
  UN_(F32_DEMOTE_F64, of_f32((float)F64(2)))
  UN_(F64_CONVERT_I32_S, of_f64((double)S32(2)))
  UN_(F64_CONVERT_I32_U, of_f64((double)U32(2)))
  UN_(F64_CONVERT_I64_S, of_f64((double)S64(2)))
  UN_(F64_CONVERT_I64_U, of_f64((double)U64(2)))
  UN_(F64_PROMOTE_F32, of_f64((double)F32(2)))
  UN_(I32_REINTERPRET_F32, U32(2))
  UN_(I64_REINTERPRET_F64, U64(2))
  UN_(F32_REINTERPRET_I32, U32(2))
  UN_(F64_REINTERPRET_I64, U64(2))
  UN_(I32_EXTEND8_S, (uint32_t)(int32_t)(int8_t)U32(2))
  UN_(I32_EXTEND16_S, (uint32_t)(int32_t)(int16_t)U32(2))
  UN_(I64_EXTEND8_S, (uint64_t)(int64_t)(int8_t)U64(2))
  UN_(I64_EXTEND16_S, (uint64_t)(int64_t)(int16_t)U64(2))
  UN_(I64_EXTEND32_S, (uint64_t)(int64_t)(int32_t)U64(2))
#undef UN_
#undef BIN_

#if !PKW_COMPUTED_GOTO
  default:
    TRAP(UNREACHABLE);   /* cannot happen: the compiler emits valid ops */
  }
#endif

do_call: {
  uint64_t *nfp = fp + argbase;
  if (cf->code == NULL) {
    /* Host function: arguments and results in place on our stack. The
     * host may re-enter the engine, so publish how much stack is live. */
    uint64_t *sf = inst->stack_free;
    pkw_frame *ff = inst->frame_free;
    uint32_t top = cf->type.nparams > cf->type.nresults ? cf->type.nparams
                                                        : cf->type.nresults;
    if (PKW_UNLIKELY(inst->depth >= PKW_MAX_REENTRY))
      TRAP(STACK_EXHAUSTED);
    inst->stack_free = nfp + top;
    inst->frame_free = frame;
    inst->depth++;
    inst->host_calls++;
    if (limited)
      inst->fuel = fuel;
    rc = cf->host(cf->host_ud, ci, nfp, nfp);
    inst->depth--;
    inst->stack_free = sf;
    inst->frame_free = ff;
    if (limited)
      fuel = inst->fuel;
    if (rc != 0)
      goto trap;
    RELOAD_MEM();
    DISPATCH();
  }
  if (PKW_UNLIKELY(frame == inst->frames_end ||
                   nfp + cf->frame_size > inst->stack_end))
    TRAP(STACK_EXHAUSTED);
  FUEL_CHECK();
  frame->pc = pc;
  frame->fp = fp;
  frame->inst = ci;
  frame++;
  zero_locals(nfp + cf->type.nparams, cf->nlocals - cf->type.nparams);
  fp = nfp;
  pc = cf->code;
  if (cf->inst != ci) {
    ci = cf->inst;
    LOAD_CTX();
  }
  DISPATCH();
}

do_tail_call: {
  uint32_t i, np = cf->type.nparams;
  if (cf->code == NULL) {
    uint64_t *sf = inst->stack_free;
    pkw_frame *ff = inst->frame_free;
    uint64_t *args = fp + argbase;
    uint32_t top = np > cf->type.nresults ? np : cf->type.nresults;
    if (PKW_UNLIKELY(inst->depth >= PKW_MAX_REENTRY))
      TRAP(STACK_EXHAUSTED);
    inst->stack_free = args + top;
    inst->frame_free = frame;
    inst->depth++;
    inst->host_calls++;
    if (limited)
      inst->fuel = fuel;
    rc = cf->host(cf->host_ud, ci, args, args);
    inst->depth--;
    inst->stack_free = sf;
    inst->frame_free = ff;
    if (limited)
      fuel = inst->fuel;
    if (rc != 0)
      goto trap;
    for (i = 0; i < cf->type.nresults; i++)
      fp[i] = args[i];
    goto do_return;
  }
  for (i = 0; i < np; i++)
    fp[i] = fp[argbase + i];
  if (PKW_UNLIKELY(fp + cf->frame_size > inst->stack_end))
    TRAP(STACK_EXHAUSTED);
  FUEL_CHECK();
  zero_locals(fp + np, cf->nlocals - np);
  pc = cf->code;
  if (cf->inst != ci) {
    ci = cf->inst;
    LOAD_CTX();
  }
  DISPATCH();
}

done:
  if (limited)
    inst->fuel = fuel;
  {
    /* fp is the entry frame again; a tail call from it returned results
     * of the same type. */
    uint32_t i, n = func->type.nresults;
    if (PKW_LIKELY(n == 1))
      memcpy(out, &fp[0], sizeof *fp);
    else
      for (i = 0; i < n; i++)
        memcpy((char *)out + i * stride, &fp[i], sizeof *fp);
  }
  return PKW_OK;
trap:
  if (limited)
    inst->fuel = fuel < 0 ? 0 : fuel;
  return rc;
}
