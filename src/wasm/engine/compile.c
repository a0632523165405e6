/* Function validation and translation, in one pass.
 *
 * Every wasm function becomes internal code for a register-style machine:
 * each instruction names its operands as frame slots (fp-relative 64-bit
 * cells). Locals occupy slots [0, nlocals); the operand stack value at
 * height h lives in slot nlocals + h (its "natural" slot). The validator's
 * value stack doubles as the translator's: an entry may still point at a
 * local (local.get emits nothing), and is copied to its natural slot
 * ("materialized") only when needed: before the local is overwritten, at
 * block boundaries, for call arguments and branch values. Branch targets
 * are resolved to code offsets, so nothing scans blocks at run time.
 *
 * Invariants that the copying code relies on:
 * - a natural slot is only ever referenced by the entry at its height;
 * - pending entries only reference locals (slots < nlocals), so copying
 *   values to a block's base slots in ascending order never clobbers a
 *   source still to be read (sources sit at or above their destination).
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "reader.h"

#define NONE 0xffffffffu

enum { K_FUNC, K_BLOCK, K_LOOP, K_IF, K_ELSE };

typedef struct vent {
  uint8_t type;
  uint32_t slot;
} vent;

typedef struct ctl {
  uint8_t kind;
  uint8_t unreachable;         /* validation: stack is polymorphic */
  uint8_t dead;                /* inside unreachable code: emit nothing */
  uint32_t height;            /* value stack height below the block */
  uint32_t nparams, nresults;
  const uint8_t *params, *results;
  uint32_t label_pc;          /* loop: start of the body */
  uint32_t fixups;            /* chain of forward branch operands */
  uint32_t else_fix;          /* if: operand of the BR_UNLESS to else */
  uint32_t tidx;              /* type index of a block type, or NONE */
  uint32_t brt;               /* the br_table (cc.brt) that made stub_pc */
  uint32_t stub_pc;           /* that br_table's stub for this label */
} ctl;

typedef struct cc {
  pkw_module *m;
  pkw_rd r;
  uint32_t func;              /* function index */
  const pkw_functype *ft;
  uint8_t *ltypes;            /* local types */
  uint32_t nlocals;
  vent *vs;
  uint32_t vh, vcap;
  uint32_t pend;              /* every entry below is in its natural slot */
  ctl *cs;
  uint32_t ch, ccap;
  uint32_t *code;
  uint32_t nc, codecap;
  uint32_t max_h;
  uint32_t last_pc;           /* start of the last instruction or NONE */
  uint32_t last_op;           /* its PKW_OP_* (the code holds its word) */
  const uint32_t *opword;     /* PKW_OP_* -> the word the interpreter
                                 dispatches on (see pkw__exec_opwords) */
  int last_has_dst;           /* it writes its result to operand 1 */
  int oom;
  uint64_t work, work_limit;  /* stack entries handled, and how many may
                                 be (values pushed, popped, checked, copied:
                                 an instruction's cost grows with its
                                 arity, bounded per byte of body) */
  uint32_t code_limit;        /* words this function may translate to */
  int limit_why;              /* 0: per body byte, 1: per function,
                                 2: what the module has left */
  const uint8_t *body;        /* the body's first byte */
  uint32_t brt;               /* br_tables seen, numbering their memos */
  uint32_t *tseen;            /* per type and kind: the br_table that
                                 checked it (2 * ntypes, or NULL) */
  char msg[128];              /* a failure message with numbers */
  vent vs0[64];
  ctl cs0[16];
  uint32_t code0[512];
} cc;

static const uint8_t valtype_bytes[6] = {PKW_I32, PKW_I64, PKW_F32,
                                         PKW_F64, PKW_FUNCREF, PKW_EXTERNREF};

static const uint8_t *one_type(uint8_t t) {
  int i;
  for (i = 0; i < 6; i++)
    if (valtype_bytes[i] == t)
      return &valtype_bytes[i];
  return NULL;
}

static void fail(cc *c, int code, const char *msg) { rd_fail(&c->r, code, msg); }
#define INVALID(c, msg) fail((c), PKW_EINVALID, (msg))

/* Doubles a scratch buffer of *cap elements of esize bytes (init: the
 * built-in buffer, not to be freed). Sizes are computed in size_t and
 * checked, and a capacity stays below 2^32 elements: a request that
 * cannot be met fails and leaves *buf and *cap as they were, so the
 * caller may keep writing within the old capacity. */
static int grow(cc *c, void **buf, uint32_t *cap, size_t esize, void *init) {
  size_t ncap = (size_t)*cap * 2;
  void *nb;
  if (ncap > UINT32_MAX)
    ncap = UINT32_MAX;
  if (ncap <= *cap || ncap > SIZE_MAX / esize) {
    c->oom = 1;
    fail(c, PKW_ENOMEM, "out of memory (translation buffer too large)");
    return -1;
  }
  if (*buf == init) {
    nb = pkw__realloc(&c->m->alloc, NULL, ncap * esize);
    if (nb != NULL)
      memcpy(nb, *buf, (size_t)*cap * esize);
  } else {
    nb = pkw__realloc(&c->m->alloc, *buf, ncap * esize);
  }
  if (nb == NULL) {
    c->oom = 1;
    fail(c, PKW_ENOMEM, "out of memory");
    return -1;
  }
  *buf = nb;
  *cap = (uint32_t)ncap;
  return 0;
}

/* ---- code emission ------------------------------------------------------- */

static int unreachable_now(cc *c) {
  const ctl *f = &c->cs[c->ch - 1];
  return f->unreachable || f->dead;
}

/* The translated code outgrew c->code_limit (see pkw__compile_func);
 * the message says which limit that was. */
static void code_limit_fail(cc *c) {
  if (c->limit_why == 0)
    snprintf(c->msg, sizeof c->msg,
             "translated code exceeds %u words (%u per byte of its "
             "%u-byte body)",
             c->code_limit, (unsigned)PKW_CODE_WORDS_PER_BYTE,
             (unsigned)(c->r.end - c->body));
  else if (c->limit_why == 1)
    snprintf(c->msg, sizeof c->msg,
             "translated code exceeds %u words (the limit per function)",
             c->code_limit);
  else
    snprintf(c->msg, sizeof c->msg,
             "translated code exceeds the %u words left of the module's "
             "limit (%u words)",
             c->code_limit, (unsigned)PKW_MAX_MODULE_CODE_WORDS);
  fail(c, PKW_ELIMIT, c->msg);
}

PKW_NOINLINE static void grow_code(cc *c) {
  if (c->codecap >= c->code_limit) {
    code_limit_fail(c);
    c->nc = 0;
  } else if (grow(c, (void **)&c->code, &c->codecap, 4, c->code0) < 0) {
    c->nc = 0;   /* keep writing somewhere valid; the error is sticky */
  }
}

static inline void emit_word(cc *c, uint32_t w) {
  if (PKW_UNLIKELY(c->nc == c->codecap))
    grow_code(c);
  c->code[c->nc++] = w;
}

/* Starts an instruction; has_dst says operand 1 is its result slot. */
static void emit_op(cc *c, uint32_t op, int has_dst) {
  c->last_pc = c->nc;
  c->last_op = op;
  c->last_has_dst = has_dst;
  emit_word(c, c->opword[op]);
}

static void emit2(cc *c, uint32_t op, uint32_t a) {
  emit_op(c, op, 0);
  emit_word(c, a);
}

static void emit_copy(cc *c, uint32_t dst, uint32_t src) {
  if (dst == src)
    return;
  emit_op(c, PKW_OP_COPY, 1);
  emit_word(c, dst);
  emit_word(c, src);
}

/* A code position that branches may target: no peephole across it. */
static void label_here(cc *c) { c->last_pc = NONE; }

/* Branch operands hold the target relative to the operand's own word,
 * so the interpreter needs no per-function code base. */
static void set_target(cc *c, uint32_t pos, uint32_t target) {
  c->code[pos] = (uint32_t)((int64_t)target - (int64_t)pos);
}

static void resolve_fixups(cc *c, uint32_t head, uint32_t target) {
  while (head != NONE) {
    uint32_t next = c->code[head];
    set_target(c, head, target);
    head = next;
  }
}

/* ---- value stack --------------------------------------------------------- */

static uint32_t natural(cc *c, uint32_t h) { return c->nlocals + h; }

PKW_NOINLINE static int grow_values(cc *c) {
  return grow(c, (void **)&c->vs, &c->vcap, sizeof(vent), c->vs0);
}

static void materialize_all(cc *c);

static inline void push_slot(cc *c, uint8_t t, uint32_t slot) {
  if (PKW_UNLIKELY(c->vh == c->vcap) && grow_values(c) < 0)
    return;
  if (slot != natural(c, c->vh)) {
    /* A pending entry (it reads a local). Scans for the entries that
     * read a local cover only [pend, vh), and that stretch is kept
     * short, copying its values home when it grows long (compiled code
     * never has so many), so no sequence of instructions makes the
     * translation quadratic. */
    if (c->vh < c->pend)
      c->pend = c->vh;
    else if (PKW_UNLIKELY(c->vh - c->pend >= PKW_MAX_PENDING))
      materialize_all(c);
  }
  c->work++;
  c->vs[c->vh].type = t;
  c->vs[c->vh].slot = slot;
  c->vh++;
  if (c->vh > c->max_h)
    c->max_h = c->vh;
}

/* Pushes a result in its natural slot and returns that slot. */
static uint32_t push(cc *c, uint8_t t) {
  uint32_t s = natural(c, c->vh);
  push_slot(c, t, s);
  return s;
}

/* Pops a value of type `want` (0: any); returns the entry. In unreachable
 * code, popping below the block yields an unknown value. */
PKW_NOINLINE static vent pop_underflow(cc *c) {
  vent e;
  e.type = PKW_T_UNKNOWN;
  e.slot = 0;
  if (!c->cs[c->ch - 1].unreachable)
    INVALID(c, "type mismatch (stack underflow)");
  return e;
}

static inline vent pop(cc *c, uint8_t want) {
  vent e;
  c->work++;
  if (PKW_UNLIKELY(c->vh == c->cs[c->ch - 1].height))
    return pop_underflow(c);
  e = c->vs[--c->vh];
  if (PKW_UNLIKELY(want && e.type && e.type != want))
    INVALID(c, "type mismatch");
  return e;
}

static void materialize(cc *c, uint32_t i) {
  uint32_t nat = natural(c, i);
  c->work++;
  if (c->vs[i].slot != nat) {
    if (!unreachable_now(c))
      emit_copy(c, nat, c->vs[i].slot);
    c->vs[i].slot = nat;
  }
}

/* Entries below c->pend are in their natural slots: only [pend, vh)
 * needs looking at, so a block boundary costs what was pushed since the
 * last one, not the whole stack. */
static void materialize_all(cc *c) {
  uint32_t i;
  for (i = c->pend; i < c->vh; i++)
    materialize(c, i);
  c->pend = c->vh;
}

/* Before local x is written: entries still reading it get copied. */
static void materialize_local(cc *c, uint32_t x) {
  uint32_t i;
  c->work += c->vh > c->pend ? c->vh - c->pend : 0;
  for (i = c->pend; i < c->vh; i++)
    if (c->vs[i].slot == x)
      materialize(c, i);
}

static int has_local_ref(cc *c, uint32_t x) {
  uint32_t i;
  c->work += c->vh > c->pend ? c->vh - c->pend : 0;
  for (i = c->pend; i < c->vh; i++)
    if (c->vs[i].slot == x)
      return 1;
  return 0;
}

/* Pops the types of a vector (validation only), top last. */
static void pop_types(cc *c, const uint8_t *ts, uint32_t n) {
  while (n-- > 0)
    (void)pop(c, ts[n]);
}

/* Checks that the top of the stack matches ts and leaves it typed as ts
 * (in unreachable code missing values appear, in natural slots). */
static void check_types(cc *c, const uint8_t *ts, uint32_t n) {
  uint32_t vh0 = c->vh, i;
  pop_types(c, ts, n);
  if (c->vh + n == vh0) {
    for (i = 0; i < n; i++)
      c->vs[c->vh + i].type = ts[i];
    c->vh = vh0;
  } else {
    for (i = 0; i < n; i++)
      push(c, ts[i]);
  }
}

/* The bulk memory and table instructions: pops (i32, `mid`, i32) and
 * emits [op, the nimm immediates imm0 imm1, the three slots]. */
static void emit_bulk(cc *c, uint32_t op, uint32_t nimm, uint32_t imm0,
                      uint32_t imm1, uint8_t mid) {
  vent v1, v2, v3;
  v3 = pop(c, PKW_I32);
  v2 = pop(c, mid);
  v1 = pop(c, PKW_I32);
  if (c->r.bad || unreachable_now(c))
    return;
  emit_op(c, op, 0);
  if (nimm > 0)
    emit_word(c, imm0);
  if (nimm > 1)
    emit_word(c, imm1);
  emit_word(c, v1.slot);
  emit_word(c, v2.slot);
  emit_word(c, v3.slot);
}

/* ---- control ------------------------------------------------------------- */

/* tidx: the type index bt came from, or NONE (see check_label). */
static ctl *push_ctl(cc *c, uint8_t kind, const pkw_functype *bt,
                     uint32_t tidx) {
  ctl *f;
  if (c->ch == c->ccap &&
      grow(c, (void **)&c->cs, &c->ccap, sizeof(ctl), c->cs0) < 0)
    return NULL;
  f = &c->cs[c->ch++];
  memset(f, 0, sizeof *f);
  f->kind = kind;
  f->nparams = bt->nparams;
  f->nresults = bt->nresults;
  f->params = bt->params;
  f->results = bt->results;
  f->height = c->vh - bt->nparams;
  f->fixups = NONE;
  f->else_fix = NONE;
  f->label_pc = NONE;
  f->tidx = tidx;
  f->brt = NONE;
  /* An enclosing unreachable block makes this one unreachable too, for
   * emission purposes; validation of the new block starts fresh. */
  if (c->ch >= 2 && (c->cs[c->ch - 2].unreachable || c->cs[c->ch - 2].dead))
    f->dead = 1;
  return f;
}

static void set_unreachable(cc *c) {
  ctl *f = &c->cs[c->ch - 1];
  c->vh = f->height;
  f->unreachable = 1;
}

/* Reads a block type into bt; returns its type index, or NONE for the
 * short forms (no value, one value). */
static uint32_t read_blocktype(cc *c, pkw_functype *bt) {
  int64_t v;
  uint8_t b;
  memset(bt, 0, sizeof *bt);
  if (c->r.p >= c->r.end) {
    fail(c, PKW_EMALFORMED, "unexpected end");
    return NONE;
  }
  b = *c->r.p;
  if (b == 0x40) {
    c->r.p++;
    return NONE;
  }
  if (is_valtype(b)) {
    c->r.p++;
    bt->nresults = 1;
    bt->results = one_type(b);
    return NONE;
  }
  v = rd_sleb(&c->r, 33);
  if (c->r.bad)
    return NONE;
  if (v < 0) {
    fail(c, PKW_EMALFORMED, "malformed value type");
    return NONE;
  }
  if ((uint64_t)v >= c->m->ntypes) {
    INVALID(c, "unknown type");
    return NONE;
  }
  *bt = c->m->types[v];
  return (uint32_t)v;
}

static const uint8_t *label_types(ctl *f, uint32_t *n) {
  if (f->kind == K_LOOP) {
    *n = f->nparams;
    return f->params;
  }
  *n = f->nresults;
  return f->results;
}

/* Copies the top n values (the label's arity) to the slots of target f. */
static int needs_copies(cc *c, ctl *f, uint32_t n) {
  uint32_t i;
  for (i = 0; i < n; i++)
    if (c->vs[c->vh - n + i].slot != natural(c, f->height + i))
      return 1;
  return 0;
}

static void emit_moves_to(cc *c, ctl *f, uint32_t n) {
  uint32_t i;
  for (i = 0; i < n; i++)
    emit_copy(c, natural(c, f->height + i), c->vs[c->vh - n + i].slot);
}

/* Return sequence with the n results on top of the stack. */
static void emit_return(cc *c) {
  uint32_t n = c->ft->nresults, i;
  if (n == 1) {
    uint32_t src = c->vs[c->vh - 1].slot;
    /* The instruction that just computed the result can write it to
     * slot 0 directly: nothing runs between it and the return. */
    if (c->last_pc != NONE && c->last_has_dst && src >= c->nlocals &&
        c->code[c->last_pc + 1] == src) {
      c->code[c->last_pc + 1] = 0;
      src = 0;
    }
    if (src == 0)
      emit_op(c, PKW_OP_RETURN, 0);
    else
      emit2(c, PKW_OP_RETURN1, src);
    return;
  }
  for (i = 0; i < n; i++)
    materialize(c, c->vh - n + i);
  for (i = 0; i < n; i++)
    emit_copy(c, i, natural(c, c->vh - n + i));
  emit_op(c, PKW_OP_RETURN, 0);
}

/* Unconditional branch to frame f, the top values being in place. */
static void emit_jump(cc *c, ctl *f, uint32_t n) {
  if (f->kind == K_FUNC) {
    emit_return(c);
    return;
  }
  emit_moves_to(c, f, n);
  emit_op(c, PKW_OP_BR, 0);
  if (f->kind == K_LOOP) {
    emit_word(c, 0);
    set_target(c, c->nc - 1, f->label_pc);
  } else {
    emit_word(c, f->fixups);
    f->fixups = c->nc - 1;
  }
}

/* Appends a branch target operand for frame f (no moves needed). */
static void emit_target(cc *c, ctl *f) {
  if (f->kind == K_LOOP) {
    emit_word(c, 0);
    set_target(c, c->nc - 1, f->label_pc);
  } else {
    emit_word(c, f->fixups);
    f->fixups = c->nc - 1;
  }
}

/* Maps a comparison to a fused compare-and-branch, optionally negated.
 * Returns 0 if none; may swap the operands. */
static uint32_t fuse_cmp(uint32_t op, int negate, int *swap) {
  *swap = 0;
  switch (op) {
  case PKW_OP_I32_EQ: return negate ? PKW_OP_I32_NE_BR_IF : PKW_OP_I32_EQ_BR_IF;
  case PKW_OP_I32_NE: return negate ? PKW_OP_I32_EQ_BR_IF : PKW_OP_I32_NE_BR_IF;
  case PKW_OP_I32_LT_S:
    return negate ? PKW_OP_I32_GE_S_BR_IF : PKW_OP_I32_LT_S_BR_IF;
  case PKW_OP_I32_LT_U:
    return negate ? PKW_OP_I32_GE_U_BR_IF : PKW_OP_I32_LT_U_BR_IF;
  case PKW_OP_I32_GE_S:
    return negate ? PKW_OP_I32_LT_S_BR_IF : PKW_OP_I32_GE_S_BR_IF;
  case PKW_OP_I32_GE_U:
    return negate ? PKW_OP_I32_LT_U_BR_IF : PKW_OP_I32_GE_U_BR_IF;
  case PKW_OP_I32_GT_S:   /* a > b  ==  b < a */
    *swap = 1;
    return negate ? PKW_OP_I32_GE_S_BR_IF : PKW_OP_I32_LT_S_BR_IF;
  case PKW_OP_I32_GT_U:
    *swap = 1;
    return negate ? PKW_OP_I32_GE_U_BR_IF : PKW_OP_I32_LT_U_BR_IF;
  case PKW_OP_I32_LE_S:   /* a <= b  ==  b >= a */
    *swap = 1;
    return negate ? PKW_OP_I32_LT_S_BR_IF : PKW_OP_I32_GE_S_BR_IF;
  case PKW_OP_I32_LE_U:
    *swap = 1;
    return negate ? PKW_OP_I32_LT_U_BR_IF : PKW_OP_I32_GE_U_BR_IF;
  }
  return 0;
}

/* i32 op -> its constant-operand form; *flip receives the form to use
 * when the constant is the FIRST operand (0: none, not commutative). */
static uint32_t imm_form(uint32_t op, uint32_t *flip) {
  *flip = 0;
  switch (op) {
  case PKW_OP_I32_ADD: *flip = PKW_OP_I32_ADD_IMM; return PKW_OP_I32_ADD_IMM;
  case PKW_OP_I32_SUB: return PKW_OP_I32_SUB_IMM;
  case PKW_OP_I32_MUL: *flip = PKW_OP_I32_MUL_IMM; return PKW_OP_I32_MUL_IMM;
  case PKW_OP_I32_AND: *flip = PKW_OP_I32_AND_IMM; return PKW_OP_I32_AND_IMM;
  case PKW_OP_I32_OR: *flip = PKW_OP_I32_OR_IMM; return PKW_OP_I32_OR_IMM;
  case PKW_OP_I32_XOR: *flip = PKW_OP_I32_XOR_IMM; return PKW_OP_I32_XOR_IMM;
  case PKW_OP_I32_SHL: return PKW_OP_I32_SHL_IMM;
  case PKW_OP_I32_SHR_S: return PKW_OP_I32_SHR_S_IMM;
  case PKW_OP_I32_SHR_U: return PKW_OP_I32_SHR_U_IMM;
  case PKW_OP_I32_EQ: *flip = PKW_OP_I32_EQ_IMM; return PKW_OP_I32_EQ_IMM;
  case PKW_OP_I32_NE: *flip = PKW_OP_I32_NE_IMM; return PKW_OP_I32_NE_IMM;
  case PKW_OP_I32_LT_S: *flip = PKW_OP_I32_GT_S_IMM; return PKW_OP_I32_LT_S_IMM;
  case PKW_OP_I32_LT_U: *flip = PKW_OP_I32_GT_U_IMM; return PKW_OP_I32_LT_U_IMM;
  case PKW_OP_I32_GT_S: *flip = PKW_OP_I32_LT_S_IMM; return PKW_OP_I32_GT_S_IMM;
  case PKW_OP_I32_GT_U: *flip = PKW_OP_I32_LT_U_IMM; return PKW_OP_I32_GT_U_IMM;
  case PKW_OP_I32_LE_S: *flip = PKW_OP_I32_GE_S_IMM; return PKW_OP_I32_LE_S_IMM;
  case PKW_OP_I32_LE_U: *flip = PKW_OP_I32_GE_U_IMM; return PKW_OP_I32_LE_U_IMM;
  case PKW_OP_I32_GE_S: *flip = PKW_OP_I32_LE_S_IMM; return PKW_OP_I32_GE_S_IMM;
  case PKW_OP_I32_GE_U: *flip = PKW_OP_I32_LE_U_IMM; return PKW_OP_I32_GE_U_IMM;
  }
  return 0;
}

/* Constant compare -> fused compare-with-constant-and-branch, negated on
 * request; 0 if op is not such a compare. */
static uint32_t fuse_imm_cmp(uint32_t op, int negate) {
  static const uint32_t pairs[][2] = {
      {PKW_OP_I32_EQ_IMM, PKW_OP_I32_EQ_IMM_BR_IF},
      {PKW_OP_I32_NE_IMM, PKW_OP_I32_NE_IMM_BR_IF},
      {PKW_OP_I32_LT_S_IMM, PKW_OP_I32_LT_S_IMM_BR_IF},
      {PKW_OP_I32_GE_S_IMM, PKW_OP_I32_GE_S_IMM_BR_IF},
      {PKW_OP_I32_LT_U_IMM, PKW_OP_I32_LT_U_IMM_BR_IF},
      {PKW_OP_I32_GE_U_IMM, PKW_OP_I32_GE_U_IMM_BR_IF},
      {PKW_OP_I32_GT_S_IMM, PKW_OP_I32_GT_S_IMM_BR_IF},
      {PKW_OP_I32_LE_S_IMM, PKW_OP_I32_LE_S_IMM_BR_IF},
      {PKW_OP_I32_GT_U_IMM, PKW_OP_I32_GT_U_IMM_BR_IF},
      {PKW_OP_I32_LE_U_IMM, PKW_OP_I32_LE_U_IMM_BR_IF},
  };
  unsigned i;
  for (i = 0; i < 10; i++)
    if (pairs[i][0] == op)
      return pairs[negate ? i ^ 1 : i][1];
  return 0;
}

/* Emits "branch if cond (true unless negate)" with the target operand
 * left for the caller to append. Fuses the comparison just emitted when
 * it produced cond. */
static void emit_cond_branch(cc *c, vent cond, int negate) {
  if (c->last_pc != NONE && c->last_has_dst &&
      c->code[c->last_pc + 1] == cond.slot &&
      cond.slot >= c->nlocals) {
    uint32_t op = c->last_op;
    int swap;
    uint32_t fop = fuse_cmp(op, negate, &swap);
    if (fop) {
      uint32_t a = c->code[c->last_pc + 2], b = c->code[c->last_pc + 3];
      c->nc = c->last_pc;
      emit_op(c, fop, 0);
      emit_word(c, swap ? b : a);
      emit_word(c, swap ? a : b);
      return;
    }
    fop = fuse_imm_cmp(op, negate);
    if (fop) {
      uint32_t a = c->code[c->last_pc + 2], k = c->code[c->last_pc + 3];
      c->nc = c->last_pc;
      emit_op(c, fop, 0);
      emit_word(c, a);
      emit_word(c, k);
      return;
    }
    if (op == PKW_OP_I32_EQZ) {
      uint32_t a = c->code[c->last_pc + 2];
      c->nc = c->last_pc;
      emit2(c, negate ? PKW_OP_BR_IF : PKW_OP_I32_EQZ_BR_IF, a);
      return;
    }
  }
  emit2(c, negate ? PKW_OP_BR_UNLESS : PKW_OP_BR_IF, cond.slot);
}

/* ---- instructions ------------------------------------------------------- */

typedef struct numinfo { uint16_t op; uint8_t n, tin, tout; } numinfo;

#define T_I32 PKW_I32
#define T_I64 PKW_I64
#define T_F32 PKW_F32
#define T_F64 PKW_F64
#define FILL_(name, wop_, n_, a_, r_)                                     \
  [wop_] = {PKW_OP_##name, n_, T_##a_, T_##r_},
static const numinfo numtab[0x108] = {PKW_NUMOPS(FILL_)};
#undef FILL_

static const numinfo *num_lookup(uint32_t wop) {
  if (wop >= 0x108 || numtab[wop].n == 0)
    return NULL;
  return &numtab[wop];
}

static void memarg(cc *c, uint32_t natural_log2, uint32_t *off) {
  uint32_t align = rd_u32(&c->r);
  *off = rd_u32(&c->r);
  if (c->r.bad)
    return;
  if (c->m->nmems == 0) {
    INVALID(c, "unknown memory 0");
    return;
  }
  if (align >= 32) {
    fail(c, PKW_EMALFORMED, "malformed memop flags");
    return;
  }
  if (align > natural_log2)
    INVALID(c, "alignment must not be larger than natural");
}

static uint32_t log2u(uint32_t n) {
  return n == 1 ? 0 : n == 2 ? 1 : n == 4 ? 2 : 3;
}

/* True when the address operand a was just computed by I32_ADD_IMM
 * (the last instruction, into a temp): the access can fold it. */
static int addi_addr(cc *c, vent a, uint32_t *out_k) {
  if (c->last_pc == NONE || c->last_op != PKW_OP_I32_ADD_IMM ||
      c->code[c->last_pc + 1] != a.slot || a.slot < c->nlocals)
    return 0;
  *out_k = c->code[c->last_pc + 3];
  return 1;
}

static void need_mem(cc *c) {
  if (c->m->nmems == 0)
    INVALID(c, "unknown memory 0");
}

static void need_table(cc *c, uint32_t t) {
  if (t >= c->m->ntables)
    INVALID(c, "unknown table");
}

static void need_datacount(cc *c, uint32_t seg) {
  if (!c->m->has_datacount) {
    fail(c, PKW_EMALFORMED, "data count section required");
    return;
  }
  if (seg >= c->m->datacount)
    INVALID(c, "unknown data segment");
}

static void zero_byte(cc *c) {
  if (rd_u8(&c->r) != 0 && !c->r.bad)
    fail(c, PKW_EMALFORMED, "zero byte expected");
}

/* Emits [op, dst?, operands...] for a value-producing instruction whose
 * operands were popped into e[0..n). */
static void emit_call(cc *c, uint32_t op, const pkw_functype *t,
                      uint32_t w1, uint32_t w2, uint32_t w3, int nw,
                      int tail) {
  uint32_t argbase, i;
  /* Arguments: the top nparams entries, copied into natural slots. */
  for (i = 0; i < t->nparams; i++) {
    uint32_t h;
    if (c->vh + i < t->nparams)
      continue;
    h = c->vh - t->nparams + i;
    if (h < c->cs[c->ch - 1].height)
      continue;
    materialize(c, h);
  }
  pop_types(c, t->params, t->nparams);
  argbase = natural(c, c->vh);
  if (!unreachable_now(c)) {
    emit_op(c, op, 0);
    emit_word(c, w1);
    if (nw >= 2)
      emit_word(c, w2);
    if (nw >= 3)
      emit_word(c, w3);
    emit_word(c, argbase);
  }
  if (tail) {
    const pkw_functype *ft = c->ft;
    if (ft->nresults != t->nresults ||
        (t->nresults && memcmp(ft->results, t->results, t->nresults) != 0))
      INVALID(c, "type mismatch (tail call results)");
    set_unreachable(c);
    return;
  }
  for (i = 0; i < t->nresults; i++)
    push(c, t->results[i]);
}

static void check_global(cc *c, uint32_t g) {
  if (g >= c->m->nglobals)
    INVALID(c, "unknown global");
}

static void check_local(cc *c, uint32_t x) {
  if (x >= c->nlocals)
    INVALID(c, "unknown local");
}

/* local.set/tee x with the value on top of the stack. */
static void set_local(cc *c, uint32_t x, int tee) {
  vent v;
  uint8_t t;
  check_local(c, x);
  if (c->r.bad)
    return;
  t = c->ltypes[x];
  v = pop(c, t);
  if (!unreachable_now(c)) {
    int patched = 0;
    /* Retarget the producing instruction straight into the local when
     * nothing else still reads the old value. */
    if (c->last_pc != NONE && c->last_has_dst && v.slot >= c->nlocals &&
        v.slot == natural(c, c->vh) && c->code[c->last_pc + 1] == v.slot &&
        !has_local_ref(c, x)) {
      c->code[c->last_pc + 1] = x;
      patched = 1;
    }
    if (!patched) {
      materialize_local(c, x);
      emit_copy(c, x, v.slot);
    }
    c->last_pc = NONE;
  }
  if (tee)
    push_slot(c, t, unreachable_now(c) ? natural(c, c->vh) : x);
}

/* Checks that the top of the stack matches label f's types tt (nn of
 * them) for a br_table. Labels are many and each check costs the arity,
 * so a check is remembered for the rest of the br_table per type: every
 * label with more than one value has a type from the type section (its
 * block's or the function's), so a br_table costs its label count plus
 * the sizes of the distinct types it names. */
static void check_label(cc *c, const ctl *f, const uint8_t *tt,
                        uint32_t nn) {
  uint32_t k, key = NONE;
  if (nn > 1 && f->tidx != NONE) {
    key = f->tidx * 2 + (f->kind != K_LOOP);
    if (c->tseen == NULL) {
      size_t sz = (size_t)c->m->ntypes * 2 * sizeof *c->tseen;
      c->tseen = pkw__realloc(&c->m->alloc, NULL, sz);
      if (c->tseen == NULL) {
        c->oom = 1;
        fail(c, PKW_ENOMEM, "out of memory");
        return;
      }
      memset(c->tseen, 0xff, sz);
    }
    if (c->tseen[key] == c->brt)
      return;
  }
  c->work += nn;
  for (k = 0; k < nn; k++) {
    uint32_t h = c->vh - nn + k;
    if (c->vh < nn || h < c->cs[c->ch - 1].height) {
      if (!c->cs[c->ch - 1].unreachable)
        INVALID(c, "type mismatch (br_table)");
      continue;
    }
    if (c->vs[h].type && c->vs[h].type != tt[k])
      INVALID(c, "type mismatch (br_table)");
  }
  if (key != NONE && !c->r.bad)
    c->tseen[key] = c->brt;
}

/* The values pushed, popped, checked and copied while translating passed
 * c->work_limit (see pkw__compile_func). */
PKW_NOINLINE static void work_limit_fail(cc *c) {
  snprintf(c->msg, sizeof c->msg,
           "translation work exceeds %llu steps (%u per byte of its "
           "%u-byte body)",
           (unsigned long long)c->work_limit,
           (unsigned)PKW_WORK_PER_BYTE, (unsigned)(c->r.end - c->body));
  fail(c, PKW_ELIMIT, c->msg);
}

static void compile_body(cc *c) {
  pkw_module *m = c->m;
  pkw_rd *r = &c->r;
  for (;;) {
    uint32_t op, a, b;
    vent v1, v2, v3;
    ctl *f;
    if (r->bad)
      return;
    if (PKW_UNLIKELY(c->work > c->work_limit)) {
      work_limit_fail(c);
      return;
    }
    if (r->p >= r->end) {
      fail(c, PKW_EMALFORMED, "unexpected end of section or function");
      return;
    }
    op = *r->p++;
    switch (op) {
    case 0x00: /* unreachable */
      if (!unreachable_now(c))
        emit_op(c, PKW_OP_UNREACHABLE, 0);
      set_unreachable(c);
      break;
    case 0x01: /* nop */
      break;
    case 0x02: /* block */
    case 0x03: /* loop */ {
      pkw_functype bt;
      uint32_t tidx = read_blocktype(c, &bt);
      if (r->bad)
        return;
      check_types(c, bt.params, bt.nparams);
      materialize_all(c);
      f = push_ctl(c, op == 0x02 ? K_BLOCK : K_LOOP, &bt, tidx);
      if (f == NULL)
        return;
      label_here(c);
      if (op == 0x03) {
        /* Back-edges check fuel themselves (negative offsets), so the
         * loop header costs nothing. */
        f->label_pc = c->nc;
        label_here(c);
      }
      break;
    }
    case 0x04: /* if */ {
      pkw_functype bt;
      uint32_t tidx = read_blocktype(c, &bt);
      v1 = pop(c, PKW_I32);
      if (r->bad)
        return;
      check_types(c, bt.params, bt.nparams);
      materialize_all(c);
      if (!unreachable_now(c))
        emit_cond_branch(c, v1, 1);
      f = push_ctl(c, K_IF, &bt, tidx);
      if (f == NULL)
        return;
      if (!(f->unreachable || f->dead)) {
        emit_word(c, NONE);
        f->else_fix = c->nc - 1;
      }
      label_here(c);
      break;
    }
    case 0x05: /* else */
      f = &c->cs[c->ch - 1];
      if (f->kind != K_IF) {
        INVALID(c, "else without if");
        return;
      }
      check_types(c, f->results, f->nresults);
      if (c->vh != f->height + f->nresults) {
        INVALID(c, "type mismatch (block results)");
        return;
      }
      if (!(f->unreachable || f->dead)) {
        uint32_t i;
        for (i = 0; i < f->nresults; i++)
          materialize(c, f->height + i);
        emit_op(c, PKW_OP_BR, 0);
        emit_target(c, f);
      }
      if (f->else_fix != NONE) {
        set_target(c, f->else_fix, c->nc);
        f->else_fix = NONE;
      }
      c->vh = f->height;
      {
        uint32_t i;
        for (i = 0; i < f->nparams; i++)
          push(c, f->params[i]);
      }
      f->kind = K_ELSE;
      f->unreachable = 0;
      label_here(c);
      break;
    case 0x0b: /* end */ {
      uint32_t i;
      f = &c->cs[c->ch - 1];
      check_types(c, f->results, f->nresults);
      if (c->vh != f->height + f->nresults) {
        INVALID(c, "type mismatch (block results)");
        return;
      }
      if (f->kind == K_IF &&
          (f->nparams != f->nresults ||
           (f->nparams && memcmp(f->params, f->results, f->nparams) != 0))) {
        INVALID(c, "type mismatch (if without else)");
        return;
      }
      if (f->kind == K_FUNC) {
        if (!(f->unreachable || f->dead))
          emit_return(c);
        c->ch--;
        return;
      }
      if (!(f->unreachable || f->dead))
        for (i = 0; i < f->nresults; i++)
          materialize(c, f->height + i);
      if (f->else_fix != NONE)
        set_target(c, f->else_fix, c->nc);
      resolve_fixups(c, f->fixups, c->nc);
      label_here(c);
      /* The results now sit in their natural slots. */
      for (i = 0; i < f->nresults; i++)
        c->vs[f->height + i].slot = natural(c, f->height + i);
      c->ch--;
      break;
    }
    case 0x0c: /* br */
    case 0x0d: /* br_if */ {
      uint32_t n;
      const uint8_t *ts;
      a = rd_u32(r);
      if (r->bad)
        return;
      if (a >= c->ch) {
        INVALID(c, "unknown label");
        return;
      }
      if (op == 0x0d)
        v1 = pop(c, PKW_I32);
      f = &c->cs[c->ch - 1 - a];
      ts = label_types(f, &n);
      check_types(c, ts, n);
      if (r->bad)
        return;
      if (op == 0x0c) {
        if (!unreachable_now(c))
          emit_jump(c, f, n);
        set_unreachable(c);
        break;
      }
      if (!unreachable_now(c)) {
        if (f->kind == K_FUNC || needs_copies(c, f, n)) {
          /* Copies made only on the taken path would leave the entries
           * lying on the other; make values natural on both paths. */
          uint32_t i;
          for (i = 0; i < n; i++)
            materialize(c, c->vh - n + i);
        }
        if (f->kind != K_FUNC && !needs_copies(c, f, n)) {
          emit_cond_branch(c, v1, 0);
          emit_target(c, f);
        } else {
          uint32_t skip;
          emit_cond_branch(c, v1, 1);
          emit_word(c, NONE);
          skip = c->nc - 1;
          emit_jump(c, f, n);
          set_target(c, skip, c->nc);
          label_here(c);
        }
      }
      {
        uint32_t i;
        for (i = 0; i < n; i++)
          c->vs[c->vh - n + i].type = ts[i];
      }
      break;
    }
    case 0x0e: /* br_table */ {
      uint32_t cnt = rd_u32(r), i, n = 0, tpos, h0 = NONE;
      const uint8_t *save;
      int once = 1;
      if (r->bad)
        return;
      if ((size_t)(r->end - r->p) < cnt) {
        fail(c, PKW_EMALFORMED, "unexpected end");
        return;
      }
      v1 = pop(c, PKW_I32);
      c->brt++;
      /* First pass: validate all labels against the stack. */
      save = r->p;
      for (i = 0; i <= cnt; i++) {
        uint32_t l = rd_u32(r), nn;
        const uint8_t *tt;
        if (r->bad)
          return;
        if (l >= c->ch) {
          INVALID(c, "unknown label");
          return;
        }
        f = &c->cs[c->ch - 1 - l];
        tt = label_types(f, &nn);
        if (i == 0) {
          n = nn;
        } else if (nn != n) {
          INVALID(c, "type mismatch (br_table arity)");
          return;
        }
        check_label(c, f, tt, nn);
        if (r->bad)
          return;
      }
      r->p = save;
      if (unreachable_now(c)) {
        for (i = 0; i <= cnt; i++)
          (void)rd_u32(r);
        set_unreachable(c);
        break;
      }
      for (i = 0; i < n; i++)
        materialize(c, c->vh - n + i);
      /* The values are now in their natural slots, so a label needs
       * them moved exactly when its block does not start at vh - n (or
       * it is the function's: results go to slots 0..). When every
       * label needs them moved to the same place, move them once before
       * the table (the index slot lies above: a local or natural(vh)). */
      for (i = 0; i <= cnt && once; i++) {
        f = &c->cs[c->ch - 1 - rd_u32(r)];
        if (f->kind == K_FUNC || n == 0 || f->height == c->vh - n)
          once = 0;
        else if (h0 == NONE)
          h0 = f->height;
        else if (f->height != h0)
          once = 0;
      }
      r->p = save;
      if (once)
        for (i = 0; i < n; i++)
          emit_copy(c, natural(c, h0 + i), natural(c, c->vh - n + i));
      emit_op(c, PKW_OP_BR_TABLE, 0);
      emit_word(c, v1.slot);
      emit_word(c, cnt);
      tpos = c->nc;
      for (i = 0; i <= cnt; i++)
        emit_word(c, NONE);
      for (i = 0; i <= cnt; i++) {
        uint32_t l = rd_u32(r);
        f = &c->cs[c->ch - 1 - l];
        if (!once && (f->kind == K_FUNC ||
                      (n > 0 && f->height != c->vh - n))) {
          /* A stub after the table moves the values, then jumps: one
           * per label, however many entries name it. */
          if (f->brt != c->brt) {
            f->brt = c->brt;
            f->stub_pc = c->nc;
            label_here(c);
            emit_jump(c, f, n);
          }
          set_target(c, tpos + i, f->stub_pc);
        } else if (f->kind == K_LOOP) {
          set_target(c, tpos + i, f->label_pc);
        } else {
          c->code[tpos + i] = f->fixups;
          f->fixups = tpos + i;
        }
      }
      set_unreachable(c);
      break;
    }
    case 0x0f: /* return */
      f = &c->cs[0];
      check_types(c, f->results, f->nresults);
      if (!unreachable_now(c))
        emit_return(c);
      set_unreachable(c);
      break;
    case 0x10: /* call */
    case 0x12: /* return_call */
      a = rd_u32(r);
      if (r->bad)
        return;
      if (a >= m->nfuncs) {
        INVALID(c, "unknown function");
        return;
      }
      emit_call(c, op == 0x10 ? PKW_OP_CALL : PKW_OP_RETURN_CALL,
                &m->types[m->func_type[a]], a, 0, 0, 1, op == 0x12);
      break;
    case 0x11: /* call_indirect */
    case 0x13: /* return_call_indirect */
      a = rd_u32(r);
      b = rd_u32(r);
      if (r->bad)
        return;
      if (a >= m->ntypes) {
        INVALID(c, "unknown type");
        return;
      }
      need_table(c, b);
      if (r->bad)
        return;
      if (m->tables[b].elem != PKW_FUNCREF) {
        INVALID(c, "type mismatch (call_indirect table)");
        return;
      }
      v1 = pop(c, PKW_I32);
      emit_call(c, op == 0x11 ? PKW_OP_CALL_INDIRECT
                              : PKW_OP_RETURN_CALL_INDIRECT,
                &m->types[a], a, b, v1.slot, 3, op == 0x13);
      break;
    case 0x1a: /* drop */
      (void)pop(c, 0);
      break;
    case 0x1b: /* select */
    case 0x1c: /* select t */ {
      uint8_t t = 0;
      if (op == 0x1c) {
        uint32_t cnt = rd_u32(r);
        if (r->bad)
          return;
        if (cnt != 1) {
          INVALID(c, "invalid result arity");
          return;
        }
        t = rd_u8(r);
        if (!is_valtype(t)) {
          fail(c, PKW_EMALFORMED, "malformed value type");
          return;
        }
      }
      v3 = pop(c, PKW_I32);
      v2 = pop(c, t);
      v1 = pop(c, t);
      if (r->bad)
        return;
      if (op == 0x1b) {
        if (v1.type && v2.type && v1.type != v2.type) {
          INVALID(c, "type mismatch (select)");
          return;
        }
        t = v1.type ? v1.type : v2.type;
        if (is_reftype(t)) {
          INVALID(c, "type mismatch (select needs a type)");
          return;
        }
      }
      if (!unreachable_now(c)) {
        uint32_t d = natural(c, c->vh);
        emit_op(c, PKW_OP_SELECT, 1);
        emit_word(c, d);
        emit_word(c, v1.slot);
        emit_word(c, v2.slot);
        emit_word(c, v3.slot);
      }
      push(c, t);
      break;
    }
    case 0x20: /* local.get */
      a = rd_u32(r);
      check_local(c, a);
      if (r->bad)
        return;
      push_slot(c, c->ltypes[a], unreachable_now(c) ? natural(c, c->vh) : a);
      break;
    case 0x21: /* local.set */
    case 0x22: /* local.tee */
      a = rd_u32(r);
      if (r->bad)
        return;
      set_local(c, a, op == 0x22);
      break;
    case 0x23: /* global.get */
      a = rd_u32(r);
      check_global(c, a);
      if (r->bad)
        return;
      if (!unreachable_now(c)) {
        emit_op(c, PKW_OP_GLOBAL_GET, 1);
        emit_word(c, natural(c, c->vh));
        emit_word(c, a);
      }
      push(c, m->globals[a].type);
      break;
    case 0x24: /* global.set */
      a = rd_u32(r);
      check_global(c, a);
      if (r->bad)
        return;
      if (!m->globals[a].mut) {
        INVALID(c, "global is immutable");
        return;
      }
      v1 = pop(c, m->globals[a].type);
      if (!unreachable_now(c)) {
        emit_op(c, PKW_OP_GLOBAL_SET, 0);
        emit_word(c, a);
        emit_word(c, v1.slot);
      }
      break;
    case 0x25: /* table.get */
      a = rd_u32(r);
      need_table(c, a);
      v1 = pop(c, PKW_I32);
      if (r->bad)
        return;
      if (!unreachable_now(c)) {
        emit_op(c, PKW_OP_TABLE_GET, 1);
        emit_word(c, natural(c, c->vh));
        emit_word(c, a);
        emit_word(c, v1.slot);
      }
      push(c, m->tables[a].elem);
      break;
    case 0x26: /* table.set */
      a = rd_u32(r);
      need_table(c, a);
      if (r->bad)
        return;
      v2 = pop(c, m->tables[a].elem);
      v1 = pop(c, PKW_I32);
      if (!unreachable_now(c)) {
        emit_op(c, PKW_OP_TABLE_SET, 0);
        emit_word(c, a);
        emit_word(c, v1.slot);
        emit_word(c, v2.slot);
      }
      break;
    case 0x28: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x2d:
    case 0x2e: case 0x2f: case 0x30: case 0x31: case 0x32: case 0x33:
    case 0x34: case 0x35: {
      static const uint8_t sz[] = {4, 8, 4, 8, 1, 1, 2, 2, 1, 1, 2, 2, 4, 4};
      static const uint8_t ty[] = {PKW_I32, PKW_I64, PKW_F32, PKW_F64,
                                   PKW_I32, PKW_I32, PKW_I32, PKW_I32,
                                   PKW_I64, PKW_I64, PKW_I64, PKW_I64,
                                   PKW_I64, PKW_I64};
      uint32_t off;
      memarg(c, log2u(sz[op - 0x28]), &off);
      v1 = pop(c, PKW_I32);
      if (r->bad)
        return;
      if (!unreachable_now(c)) {
        uint32_t k;
        if ((op == 0x28 || op == 0x2d) && addi_addr(c, v1, &k)) {
          uint32_t x = c->code[c->last_pc + 2];
          c->nc = c->last_pc;
          emit_op(c, op == 0x28 ? PKW_OP_I32_LOAD_ADDI
                                : PKW_OP_I32_LOAD8_U_ADDI, 1);
          emit_word(c, natural(c, c->vh));
          emit_word(c, x);
          emit_word(c, k);
          emit_word(c, off);
        } else {
          emit_op(c, PKW_OP_I32_LOAD + (op - 0x28), 1);
          emit_word(c, natural(c, c->vh));
          emit_word(c, v1.slot);
          emit_word(c, off);
        }
      }
      push(c, ty[op - 0x28]);
      break;
    }
    case 0x36: case 0x37: case 0x38: case 0x39: case 0x3a: case 0x3b:
    case 0x3c: case 0x3d: case 0x3e: {
      static const uint8_t sz[] = {4, 8, 4, 8, 1, 2, 1, 2, 4};
      static const uint8_t ty[] = {PKW_I32, PKW_I64, PKW_F32, PKW_F64,
                                   PKW_I32, PKW_I32, PKW_I64, PKW_I64,
                                   PKW_I64};
      uint32_t off;
      memarg(c, log2u(sz[op - 0x36]), &off);
      if (r->bad)
        return;
      v2 = pop(c, ty[op - 0x36]);
      v1 = pop(c, PKW_I32);
      if (!unreachable_now(c)) {
        uint32_t k;
        if (c->m->track_dirty) {
          /* PKW_DECODE_DIRTY: the chunks the store writes are marked
           * first (an out-of-bounds store marks nothing, then traps). */
          emit_op(c, PKW_OP_MARK, 0);
          emit_word(c, v1.slot);
          emit_word(c, off);
          emit_word(c, sz[op - 0x36]);
          emit_op(c, PKW_OP_I32_STORE + (op - 0x36), 0);
          emit_word(c, v1.slot);
          emit_word(c, v2.slot);
          emit_word(c, off);
        } else if (op == 0x36 && addi_addr(c, v1, &k)) {
          uint32_t x = c->code[c->last_pc + 2];
          c->nc = c->last_pc;
          emit_op(c, PKW_OP_I32_STORE_ADDI, 0);
          emit_word(c, x);
          emit_word(c, v2.slot);
          emit_word(c, k);
          emit_word(c, off);
        } else {
          emit_op(c, PKW_OP_I32_STORE + (op - 0x36), 0);
          emit_word(c, v1.slot);
          emit_word(c, v2.slot);
          emit_word(c, off);
        }
      }
      break;
    }
    case 0x3f: /* memory.size */
      zero_byte(c);
      need_mem(c);
      if (r->bad)
        return;
      if (!unreachable_now(c)) {
        emit_op(c, PKW_OP_MEMORY_SIZE, 1);
        emit_word(c, natural(c, c->vh));
      }
      push(c, PKW_I32);
      break;
    case 0x40: /* memory.grow */
      zero_byte(c);
      need_mem(c);
      v1 = pop(c, PKW_I32);
      if (r->bad)
        return;
      if (!unreachable_now(c)) {
        emit_op(c, PKW_OP_MEMORY_GROW, 1);
        emit_word(c, natural(c, c->vh));
        emit_word(c, v1.slot);
      }
      push(c, PKW_I32);
      break;
    case 0x41: /* i32.const */ {
      uint32_t k = (uint32_t)rd_sleb(r, 32);
      if (r->bad)
        return;
      if (!unreachable_now(c)) {
        emit_op(c, PKW_OP_CONST32, 1);
        emit_word(c, natural(c, c->vh));
        emit_word(c, k);
      }
      push(c, PKW_I32);
      break;
    }
    case 0x42: /* i64.const */
    case 0x44: /* f64.const */ {
      uint64_t k = op == 0x42 ? (uint64_t)rd_sleb(r, 64) : rd_fixed64(r);
      if (r->bad)
        return;
      if (!unreachable_now(c)) {
        emit_op(c, PKW_OP_CONST64, 1);
        emit_word(c, natural(c, c->vh));
        emit_word(c, (uint32_t)k);
        emit_word(c, (uint32_t)(k >> 32));
      }
      push(c, op == 0x42 ? PKW_I64 : PKW_F64);
      break;
    }
    case 0x43: /* f32.const */ {
      uint32_t k = rd_fixed32(r);
      if (r->bad)
        return;
      if (!unreachable_now(c)) {
        emit_op(c, PKW_OP_CONST32, 1);
        emit_word(c, natural(c, c->vh));
        emit_word(c, k);
      }
      push(c, PKW_F32);
      break;
    }
    case 0xd0: /* ref.null t */ {
      uint8_t t = rd_u8(r);
      if (r->bad)
        return;
      if (!is_reftype(t)) {
        fail(c, PKW_EMALFORMED, "malformed reference type");
        return;
      }
      if (!unreachable_now(c)) {
        emit_op(c, PKW_OP_CONST32, 1);
        emit_word(c, natural(c, c->vh));
        emit_word(c, 0);
      }
      push(c, t);
      break;
    }
    case 0xd1: /* ref.is_null */
      v1 = pop(c, 0);
      if (r->bad)
        return;
      if (v1.type && !is_reftype(v1.type)) {
        INVALID(c, "type mismatch (ref.is_null)");
        return;
      }
      if (!unreachable_now(c)) {
        emit_op(c, PKW_OP_I64_EQZ, 1);
        emit_word(c, natural(c, c->vh));
        emit_word(c, v1.slot);
      }
      push(c, PKW_I32);
      break;
    case 0xd2: /* ref.func */
      a = rd_u32(r);
      if (r->bad)
        return;
      if (a >= m->nfuncs) {
        INVALID(c, "unknown function");
        return;
      }
      if (!m->func_declared[a]) {
        INVALID(c, "undeclared function reference");
        return;
      }
      if (!unreachable_now(c)) {
        emit_op(c, PKW_OP_REF_FUNC, 1);
        emit_word(c, natural(c, c->vh));
        emit_word(c, a);
      }
      push(c, PKW_FUNCREF);
      break;
    case 0xfc: {
      uint32_t sub = rd_u32(r);
      if (r->bad)
        return;
      if (sub <= 7) {
        op = 0x100 + sub;
        goto numeric;
      }
      switch (sub) {
      case 8: /* memory.init */
        a = rd_u32(r);
        zero_byte(c);
        if (r->bad)
          return;
        need_datacount(c, a);
        need_mem(c);
        emit_bulk(c, PKW_OP_MEMORY_INIT, 1, a, 0, PKW_I32);
        break;
      case 9: /* data.drop */
        a = rd_u32(r);
        if (r->bad)
          return;
        need_datacount(c, a);
        if (!unreachable_now(c))
          emit2(c, PKW_OP_DATA_DROP, a);
        break;
      case 10: /* memory.copy */
      case 11: /* memory.fill */
        zero_byte(c);
        if (sub == 10)
          zero_byte(c);
        need_mem(c);
        emit_bulk(c, sub == 10 ? PKW_OP_MEMORY_COPY : PKW_OP_MEMORY_FILL, 0,
                  0, 0, PKW_I32);
        break;
      case 12: /* table.init elem table */
        a = rd_u32(r);
        b = rd_u32(r);
        if (r->bad)
          return;
        need_table(c, b);
        if (!r->bad && a >= m->nelems)
          INVALID(c, "unknown elem segment");
        if (!r->bad && m->elems[a].type != m->tables[b].elem)
          INVALID(c, "type mismatch (table.init)");
        emit_bulk(c, PKW_OP_TABLE_INIT, 2, b, a, PKW_I32);
        break;
      case 13: /* elem.drop */
        a = rd_u32(r);
        if (r->bad)
          return;
        if (a >= m->nelems) {
          INVALID(c, "unknown elem segment");
          return;
        }
        if (!unreachable_now(c))
          emit2(c, PKW_OP_ELEM_DROP, a);
        break;
      case 14: /* table.copy dst src */
        a = rd_u32(r);
        b = rd_u32(r);
        if (r->bad)
          return;
        need_table(c, a);
        need_table(c, b);
        if (!r->bad && m->tables[a].elem != m->tables[b].elem)
          INVALID(c, "type mismatch (table.copy)");
        emit_bulk(c, PKW_OP_TABLE_COPY, 2, a, b, PKW_I32);
        break;
      case 15: /* table.grow */
        a = rd_u32(r);
        if (r->bad)
          return;
        need_table(c, a);
        if (r->bad)
          return;
        v2 = pop(c, PKW_I32);
        v1 = pop(c, m->tables[a].elem);
        if (r->bad)
          return;
        if (!unreachable_now(c)) {
          emit_op(c, PKW_OP_TABLE_GROW, 1);
          emit_word(c, natural(c, c->vh));
          emit_word(c, a);
          emit_word(c, v1.slot);
          emit_word(c, v2.slot);
        }
        push(c, PKW_I32);
        break;
      case 16: /* table.size */
        a = rd_u32(r);
        if (r->bad)
          return;
        need_table(c, a);
        if (r->bad)
          return;
        if (!unreachable_now(c)) {
          emit_op(c, PKW_OP_TABLE_SIZE, 1);
          emit_word(c, natural(c, c->vh));
          emit_word(c, a);
        }
        push(c, PKW_I32);
        break;
      case 17: /* table.fill */
        a = rd_u32(r);
        if (r->bad)
          return;
        need_table(c, a);
        if (r->bad)
          return;
        emit_bulk(c, PKW_OP_TABLE_FILL, 1, a, 0, m->tables[a].elem);
        break;
      default:
        fail(c, PKW_EMALFORMED, "illegal opcode");
        return;
      }
      break;
    }
    default:
    numeric: {
      const numinfo *ni = num_lookup(op);
      uint32_t d;
      if (ni == NULL) {
        fail(c, PKW_EMALFORMED, "illegal opcode");
        return;
      }
      if (ni->n == 2) {
        v2 = pop(c, ni->tin);
        v1 = pop(c, ni->tin);
      } else {
        v1 = pop(c, ni->tin);
        v2 = v1;
      }
      if (r->bad)
        return;
      if (op == 0xbc || op == 0xbd || op == 0xbe || op == 0xbf) {
        /* Reinterpretation: same bits, new type; no code. */
        push_slot(c, ni->tout, v1.slot);
        break;
      }
      if (unreachable_now(c)) {
        push(c, ni->tout);
        break;
      }
      d = natural(c, c->vh);
      /* An i32 op whose operand was the constant just loaded becomes one
       * instruction with the constant inline. */
      if (ni->n == 2 && c->last_pc != NONE &&
          c->last_op == PKW_OP_CONST32 && ni->tin == PKW_I32) {
        uint32_t flip, iop = imm_form(ni->op, &flip);
        uint32_t cs = c->code[c->last_pc + 1], k = c->code[c->last_pc + 2];
        uint32_t other = 0, use = 0;
        if (iop && cs == v2.slot && v2.slot >= c->nlocals) {
          use = iop;
          other = v1.slot;
        } else if (flip && cs == v1.slot && v1.slot >= c->nlocals) {
          use = flip;
          other = v2.slot;
        }
        if (use) {
          c->nc = c->last_pc;
          emit_op(c, use, 1);
          emit_word(c, d);
          emit_word(c, other);
          emit_word(c, k);
          push(c, ni->tout);
          break;
        }
      }
      emit_op(c, ni->op, 1);
      emit_word(c, d);
      emit_word(c, v1.slot);
      if (ni->n == 2)
        emit_word(c, v2.slot);
      push(c, ni->tout);
      break;
    }
    }
  }
}

int pkw__compile_func(pkw_module *m, uint32_t i, char *err, size_t errlen) {
  cc *c;
  pkw_code *code = &m->codes[i];
  uint32_t fi = m->nfunc_imports + i, n, k, total;
  const pkw_functype *ft = &m->types[m->func_type[fi]];
  const uint8_t *p;
  int rc = PKW_OK;
  c = pkw__realloc(&m->alloc, NULL, sizeof *c);
  if (c == NULL)
    return PKW_ENOMEM;
  memset(c, 0, offsetof(cc, vs0));
  c->m = m;
  c->func = fi;
  c->ft = ft;
  c->r.p = code->body;
  c->r.end = code->body + code->body_len;
  c->vs = c->vs0;
  c->vcap = 64;
  c->cs = c->cs0;
  c->ccap = 16;
  c->code = c->code0;
  c->codecap = 512;
  c->last_pc = NONE;
  c->opword = pkw__exec_opwords();
  c->brt = 0;
  {
    /* Translated code is bounded per body byte, so no module asks for
     * much more memory than its own size (branch values copied at each
     * of many branches are the quadratic case), and per function and per
     * module (m->code_words: what it has translated so far). */
    uint64_t lim = ((uint64_t)code->body_len + 1) * PKW_CODE_WORDS_PER_BYTE;
    c->body = code->body;
    if (lim > PKW_MAX_FUNC_CODE_WORDS) {
      lim = PKW_MAX_FUNC_CODE_WORDS;
      c->limit_why = 1;
    }
    if (lim > PKW_MAX_MODULE_CODE_WORDS - m->code_words) {
      lim = PKW_MAX_MODULE_CODE_WORDS - m->code_words;
      c->limit_why = 2;
    }
    c->code_limit = (uint32_t)lim;
    c->work_limit = ((uint64_t)code->body_len + 1) * PKW_WORK_PER_BYTE;
  }

  /* Locals: count them first (bounded), then fill their types. */
  n = rd_u32(&c->r);
  p = c->r.p;
  total = ft->nparams;
  for (k = 0; k < n && !c->r.bad; k++) {
    uint32_t cnt = rd_u32(&c->r);
    (void)rd_u8(&c->r);
    if ((uint64_t)total + cnt > PKW_MAX_FUNC_LOCALS) {
      fail(c, PKW_EMALFORMED, "too many locals");
      break;
    }
    total += cnt;
  }
  if (!c->r.bad) {
    /* Scratch, not the module's arena: a body that fails to translate
     * must leave nothing behind (a lazy one may be called again). */
    c->ltypes = pkw__realloc(&m->alloc, NULL, (size_t)total + 1);
    if (c->ltypes == NULL) {
      fail(c, PKW_ENOMEM, "out of memory");
    } else {
      uint32_t pos = ft->nparams;
      if (ft->nparams)
        memcpy(c->ltypes, ft->params, ft->nparams);
      c->r.p = p;
      for (k = 0; k < n && !c->r.bad; k++) {
        uint32_t cnt = rd_u32(&c->r);
        uint8_t t = rd_u8(&c->r);
        if (!c->r.bad && !is_valtype(t)) {
          fail(c, PKW_EMALFORMED, "malformed value type");
          break;
        }
        if (cnt)
          memset(c->ltypes + pos, t, cnt);
        pos += cnt;
      }
      c->nlocals = total;
    }
  }
  if (!c->r.bad) {
    pkw_functype bt = *ft;
    bt.nparams = 0;
    push_ctl(c, K_FUNC, &bt, m->func_type[fi]);
    compile_body(c);
    if (!c->r.bad && c->r.p != c->r.end)
      fail(c, PKW_EMALFORMED, "section size mismatch (END opcode expected)");
    if (!c->r.bad && c->ch != 0)
      fail(c, PKW_EMALFORMED, "unexpected end (END opcode expected)");
    if (!c->r.bad && c->nc > c->code_limit)
      code_limit_fail(c);
  }
  if (!c->r.bad) {
    code->code = pkw__arena_alloc_raw(&m->arena, (size_t)c->nc * 4 + 4);
    if (code->code == NULL) {
      fail(c, PKW_ENOMEM, "out of memory");
    } else {
      if (c->nc)
        memcpy(code->code, c->code, (size_t)c->nc * 4);
      code->ncode = c->nc;
      code->nparams = ft->nparams;
      code->nlocals = c->nlocals;
      /* +4: the interpreter zeroes locals 4 slots at a time (see
       * zero_locals in exec.c). */
      code->frame_size = c->nlocals + c->max_h + 4;
      m->code_words += c->nc;
      /* Published: an instance on another thread may now use it. */
      atomic_store_explicit(&code->done, 1, memory_order_release);
    }
  }
  if (c->r.bad) {
    rc = c->r.bad;
    pkw__errf(err, errlen, "function %u: %s", fi, c->r.msg);
  }
  if (c->ltypes != NULL)
    pkw__realloc(&m->alloc, c->ltypes, 0);
  if (c->tseen != NULL)
    pkw__realloc(&m->alloc, c->tseen, 0);
  if (c->vs != c->vs0)
    pkw__realloc(&m->alloc, c->vs, 0);
  if (c->cs != c->cs0)
    pkw__realloc(&m->alloc, c->cs, 0);
  if (c->code != c->code0)
    pkw__realloc(&m->alloc, c->code, 0);
  pkw__realloc(&m->alloc, c, 0);
  return rc;
}

/* ---- constant expressions ----------------------------------------------- */

int pkw__validate_cexpr(pkw_module *m, const uint8_t **pp,
                        const uint8_t *end, uint8_t type, uint32_t nglobals,
                        char *err, size_t errlen) {
  pkw_rd r;
  uint8_t st[64];
  uint32_t sp = 0;
  r.p = *pp;
  r.end = end;
  r.bad = 0;
  r.msg = NULL;
  for (;;) {
    uint8_t op = rd_u8(&r), t = 0;
    uint32_t x;
    if (r.bad)
      break;
    if (op == 0x0b)
      break;
    switch (op) {
    case 0x41: (void)rd_sleb(&r, 32); t = PKW_I32; break;
    case 0x42: (void)rd_sleb(&r, 64); t = PKW_I64; break;
    case 0x43: (void)rd_fixed32(&r); t = PKW_F32; break;
    case 0x44: (void)rd_fixed64(&r); t = PKW_F64; break;
    case 0xd0:
      t = rd_u8(&r);
      if (!r.bad && !is_reftype(t))
        rd_fail(&r, PKW_EMALFORMED, "malformed reference type");
      break;
    case 0xd2:
      x = rd_u32(&r);
      if (!r.bad && x >= m->nfuncs)
        rd_fail(&r, PKW_EINVALID, "unknown function");
      else if (!r.bad)
        m->func_declared[x] = 1;
      t = PKW_FUNCREF;
      break;
    case 0x23:
      x = rd_u32(&r);
      if (!r.bad && x >= nglobals)
        rd_fail(&r, PKW_EINVALID, "unknown global");
      else if (!r.bad && m->globals[x].mut)
        rd_fail(&r, PKW_EINVALID, "constant expression required");
      else if (!r.bad)
        t = m->globals[x].type;
      break;
    case 0x6a: case 0x6b: case 0x6c:
    case 0x7c: case 0x7d: case 0x7e: {
      uint8_t want = op < 0x70 ? PKW_I32 : PKW_I64;
      if (sp < 2 || st[sp - 1] != want || st[sp - 2] != want)
        rd_fail(&r, PKW_EINVALID, "type mismatch");
      else
        sp -= 2;
      t = want;
      break;
    }
    default:
      rd_fail(&r, PKW_EINVALID, "constant expression required");
    }
    if (r.bad)
      break;
    if (sp == 64) {
      rd_fail(&r, PKW_EINVALID, "constant expression too deep");
      break;
    }
    st[sp++] = t;
  }
  if (!r.bad && (sp != 1 || st[0] != type))
    rd_fail(&r, PKW_EINVALID, "type mismatch");
  if (r.bad) {
    pkw__errf(err, errlen, "%s", r.msg);
    return r.bad;
  }
  *pp = r.p;
  return PKW_OK;
}
