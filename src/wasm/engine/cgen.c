/* The wasm -> C translator of the compiled tiers (jit: jit.c compiles the
 * C with libtcc at open).
 *
 * Input: the validated internal code of compile.c, not the wasm bytes.
 * That code is already checked, its slots allocated and its branches
 * resolved; each of its instructions is one handler of exec.c, and this
 * file writes that handler's body as C, instruction by instruction. So
 * the compiled code inherits the interpreter's semantics by
 * construction, and what it does differently is only what the C
 * compiler does with it (no dispatch, constants folded into the code).
 *
 * The generated code keeps the interpreter's machine model: the frame
 * of a function is fp[0 .. frame_size) on the stack owner's value stack
 * (locals first, then temporaries, the same slot numbers), a call puts
 * the callee's frame at fp + argbase, results come back in fp[0..]. So
 * value-stack exhaustion, the frame limit (max_call_depth) and what a
 * host callback sees happen at exactly the same points. A guest call is
 * a C call (the C stack grows with guest recursion: each level costs a
 * small constant C frame, since values live in the value stack, so the
 * frame limit bounds it), and a tail call returns PKW_JIT_TAIL to the
 * caller's call site, which runs the callee in its place: tail calls do
 * not grow the C stack.
 *
 * Per-instance state (memory base and size, globals, tables, functions,
 * fuel, the interrupt flag) is read through the ci and x pointers every
 * function receives, at offsets emitted below from offsetof(): code for
 * a module serves all of its instances, and holds no address.
 *
 * Traps return their code from every C frame up to the entry (jrt.c,
 * pkw__jit_invoke): no longjmp. Fuel is charged and the interrupt flag
 * read at guest calls and loop back-edges, as exec.c's FUEL_CHECK.
 *
 * Two calling conventions. Every function has the frame convention's
 * entry f<i> (pkw_jit_fn: arguments and results in fp[], the fuel in x),
 * which the runtime calls. A function that bodies call directly and that
 * makes no tail call also has g<i>, the register convention, for those
 * calls: the arguments as C arguments, the first result as the C return
 * value, and in b the frames left (high half) and the value-stack slots
 * past its frame to the end (low half), so a call's depth and stack
 * checks read no memory and take one subtraction and one test (see
 * direct_call). The aot variant also passes the fuel in and returns it with
 * the result (rv_: two words, returned in registers); the jit variant
 * keeps the fuel in x (libtcc keeps locals in memory anyway, and would
 * copy a returned struct with memmove) and leaves a failure in x->err.
 * The fuel local fl is written back to x (FSAVE) before anything that
 * reads it: runtime helpers, host calls, traps, returns to the host. A
 * function that calls nothing and has loops reads the interrupt flag
 * through the local ip_ at its back-edges (FUELL), and on the jit keeps
 * its fuel in fl too.
 *
 * What the C relies on: two's complement wrapping of unsigned
 * arithmetic, arithmetic right shift of signed values, IEEE 754 float
 * and double with the host's rounding (as the interpreter), and a
 * little-endian host (the engine checks). Operations whose C form would
 * need a runtime library (64-bit unsigned <-> float conversions,
 * rounding, min/max with wasm's NaN and zero rules) call helpers of
 * jrt.c, which share exec.c's definitions of them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "jrt.h"

/* Bump when the C written for the same module changes in a way the
 * prelude does not show (aot artifacts built before are then stale). */
#define PKW_CGEN_VERSION 15
/* Functions whose frame has at most this many slots keep them in C
 * locals (see gen_func). */
#ifndef PKW_CGEN_MAX_REG_SLOTS
#define PKW_CGEN_MAX_REG_SLOTS 256u
#endif

/* ---- output buffer -------------------------------------------------------- */

typedef struct cbuf {
  const pkw_alloc *alloc;
  char *p;
  size_t n, cap;
  int rc;                     /* sticky: PKW_ENOMEM or PKW_ELIMIT */
  int slots;                  /* 0: as written; 1: slots are C locals;
                                 2: slots are fp[k] (see out_v) */
  int slots_def;              /* R(k) defined: 0 no, 1 fp[k], 2 s<k> */
  int conv;                   /* the TRAP macros defined: 0 none, 1 for
                                 the frame convention, 2 the register one */
} cbuf;

static void cb_reserve(cbuf *b, size_t more) {
  size_t ncap;
  char *np;
  if (b->rc != 0)
    return;
  if (more > PKW_JIT_MAX_C_BYTES || b->n + more + 1 > PKW_JIT_MAX_C_BYTES) {
    b->rc = PKW_ELIMIT;
    return;
  }
  if (b->n + more + 1 <= b->cap)
    return;
  ncap = b->cap ? b->cap : 4096;
  while (ncap < b->n + more + 1)
    ncap *= 2;
  np = pkw__realloc(b->alloc, b->p, ncap);
  if (np == NULL) {
    b->rc = PKW_ENOMEM;
    return;
  }
  b->p = np;
  b->cap = ncap;
}

static void put(cbuf *b, const char *s, size_t n) {
  cb_reserve(b, n);
  if (b->rc != 0)
    return;
  memcpy(b->p + b->n, s, n);
  b->n += n;
}

/* v in base 10 or 16, at least `width` digits (zero-padded). */
static void put_num(cbuf *b, unsigned long long v, int neg, unsigned base,
                    unsigned width) {
  char d[32];
  size_t i = sizeof d;
  do {
    d[--i] = "0123456789abcdef"[v % base];
    v /= base;
  } while (v != 0 && i > 1);
  while (sizeof d - i < width && i > 1)
    d[--i] = '0';
  if (neg)
    d[--i] = '-';
  put(b, d + i, sizeof d - i);
}

static int is_ident_ch(char ch) {
  return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9');
}

/*
 * The C of every function goes through here, a few statements per wasm
 * instruction, so it is written directly rather than by vsnprintf (which
 * was most of the translator's time, and the translator a third of a jit
 * open). It reads the directives cgen.c uses: %u %d %s %.*s %zu %td
 * %llu %llx and a zero-padded width (%016llx); another fails the
 * translation (PKW_EUNSUPPORTED).
 *
 * Slot k is named in the formats as R(%u), U32(%u), S32(%u), S64(%u),
 * macros of the prelude. Within a function (b->slots) they are written
 * out instead ("s5", "((u32)s5)" or "fp[5]", ...): the same C, and a
 * compiler's preprocessor has thousands of macro expansions less to do
 * (libtcc spends a good part of an open on them).
 */
static void out_v(cbuf *b, const char *fmt, va_list ap) {
  static const struct { const char *from, *cast; size_t len; } views[] = {
      {"R(%u)", "", 5}, {"U32(%u)", "(u32)", 7}, {"S32(%u)", "(i32)", 7},
      {"S64(%u)", "(i64)", 7}};
  const char *f = fmt, *lit = fmt;
  while (*f != '\0' && b->rc == 0) {
    size_t i = sizeof views / sizeof views[0];
    if (b->slots != 0 && (*f == 'R' || *f == 'U' || *f == 'S') &&
        (f == fmt || !is_ident_ch(f[-1])))
      for (i = 0; i < sizeof views / sizeof views[0]; i++)
        if (strncmp(f, views[i].from, views[i].len) == 0)
          break;
    if (i < sizeof views / sizeof views[0]) {
      unsigned k = va_arg(ap, unsigned);
      put(b, lit, (size_t)(f - lit));
      if (views[i].cast[0] != '\0') {
        put(b, "(", 1);
        put(b, views[i].cast, 5);
      }
      if (b->slots == 1) {
        put(b, "s", 1);
        put_num(b, k, 0, 10, 0);
      } else {
        put(b, "fp[", 3);
        put_num(b, k, 0, 10, 0);
        put(b, "]", 1);
      }
      if (views[i].cast[0] != '\0')
        put(b, ")", 1);
      f += views[i].len;
      lit = f;
      continue;
    }
    if (*f != '%') {
      f++;
      continue;
    }
    put(b, lit, (size_t)(f - lit));
    {
      const char *d = f + 1;
      unsigned width = 0;
      int ll = 0, z = 0, t = 0;
      if (*d == '%') {
        put(b, "%", 1);
        f = lit = d + 1;
        continue;
      }
      if (d[0] == '.' && d[1] == '*' && d[2] == 's') {
        int n = va_arg(ap, int);
        const char *sv = va_arg(ap, const char *);
        put(b, sv, n > 0 ? (size_t)n : 0);
        f = lit = d + 3;
        continue;
      }
      while (*d >= '0' && *d <= '9')
        width = width * 10 + (unsigned)(*d++ - '0');
      if (d[0] == 'l' && d[1] == 'l')
        ll = 1, d += 2;
      else if (*d == 'z')
        z = 1, d++;
      else if (*d == 't')
        t = 1, d++;
      if (*d == 'u' && !t) {
        unsigned long long v = ll  ? va_arg(ap, unsigned long long)
                               : z ? (unsigned long long)va_arg(ap, size_t)
                                   : va_arg(ap, unsigned);
        put_num(b, v, 0, 10, width);
      } else if (*d == 'x' && ll) {
        put_num(b, va_arg(ap, unsigned long long), 0, 16, width);
      } else if (*d == 'd' && !ll && !z) {
        long long v = t ? (long long)va_arg(ap, ptrdiff_t) : va_arg(ap, int);
        put_num(b, v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v,
                v < 0, 10, width);
      } else if (*d == 's' && !ll && !z && !t && width == 0) {
        const char *sv = va_arg(ap, const char *);
        put(b, sv, strlen(sv));
      } else {
        /* Not one of ours: a bug here, which the translation reports
         * (no C is compiled from a half-written format). */
        b->rc = PKW_EUNSUPPORTED;
        return;
      }
      f = lit = d + 1;
    }
  }
  put(b, lit, (size_t)(f - lit));
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 2, 3)))
#endif
static void out(cbuf *b, const char *fmt, ...) {
  va_list ap;
  if (b->rc != 0)
    return;
  va_start(ap, fmt);
  out_v(b, fmt, ap);
  va_end(ap);
  if (b->rc == 0 && b->n < b->cap)
    b->p[b->n] = '\0';
}

/* ---- the instruction set -------------------------------------------------- */

/* Word count of each instruction (BR_TABLE: the fixed part). */
static uint8_t op_len[PKW_OP_COUNT_];

static void init_lengths(void) {
#define L5_(name, op, n, a, r) op_len[PKW_OP_##name] = (uint8_t)((n) + 2);
#define L4_(name, op, n, t) op_len[PKW_OP_##name] = 4;
  PKW_NUMOPS(L5_)
  PKW_LOADOPS(L4_)
  PKW_STOREOPS(L4_)
#undef L5_
#undef L4_
  static const struct { uint16_t op; uint8_t len; } ctl[] = {
      {PKW_OP_UNREACHABLE, 1}, {PKW_OP_BR, 2}, {PKW_OP_BR_IF, 3},
      {PKW_OP_BR_UNLESS, 3}, {PKW_OP_BR_TABLE, 3}, {PKW_OP_RETURN, 1},
      {PKW_OP_RETURN1, 2}, {PKW_OP_CALL, 3}, {PKW_OP_CALL_INDIRECT, 5},
      {PKW_OP_RETURN_CALL, 3}, {PKW_OP_RETURN_CALL_INDIRECT, 5},
      {PKW_OP_COPY, 3}, {PKW_OP_CONST32, 3}, {PKW_OP_CONST64, 4},
      {PKW_OP_SELECT, 5}, {PKW_OP_GLOBAL_GET, 3}, {PKW_OP_GLOBAL_SET, 3},
      {PKW_OP_MEMORY_SIZE, 2}, {PKW_OP_MEMORY_GROW, 3},
      {PKW_OP_MEMORY_INIT, 5}, {PKW_OP_DATA_DROP, 2},
      {PKW_OP_MEMORY_COPY, 4}, {PKW_OP_MEMORY_FILL, 4},
      {PKW_OP_TABLE_GET, 4}, {PKW_OP_TABLE_SET, 4}, {PKW_OP_TABLE_SIZE, 3},
      {PKW_OP_TABLE_GROW, 5}, {PKW_OP_TABLE_FILL, 5},
      {PKW_OP_TABLE_COPY, 6}, {PKW_OP_TABLE_INIT, 6},
      {PKW_OP_ELEM_DROP, 2}, {PKW_OP_REF_FUNC, 3}, {PKW_OP_LAZY, 1},
      {PKW_OP_MARK, 4},
      {PKW_OP_I32_LOAD_ADDI, 5}, {PKW_OP_I32_LOAD8_U_ADDI, 5},
      {PKW_OP_I32_STORE_ADDI, 5}, {PKW_OP_I32_EQZ_BR_IF, 3},
      {PKW_OP_I32_EQ_BR_IF, 4}, {PKW_OP_I32_NE_BR_IF, 4},
      {PKW_OP_I32_LT_S_BR_IF, 4}, {PKW_OP_I32_LT_U_BR_IF, 4},
      {PKW_OP_I32_GE_S_BR_IF, 4}, {PKW_OP_I32_GE_U_BR_IF, 4}};
  size_t i;
  for (i = 0; i < sizeof ctl / sizeof ctl[0]; i++)
    op_len[ctl[i].op] = ctl[i].len;
  for (i = PKW_OP_I32_ADD_IMM; i <= PKW_OP_I32_GE_U_IMM; i++)
    op_len[i] = 4;
  for (i = PKW_OP_I32_EQ_IMM_BR_IF; i <= PKW_OP_I32_GE_U_IMM_BR_IF; i++)
    op_len[i] = 4;
}

/* The code holds the interpreter's instruction words (pkw__exec_opwords);
 * this maps them back to PKW_OP_*: sorted (word, op) pairs. */
typedef struct wordop { uint32_t word, op; } wordop;
static wordop word_ops[PKW_OP_COUNT_];
static int tables_ready;      /* 1: built, -1: words not unique */

static int cmp_wordop(const void *a, const void *b) {
  uint32_t x = ((const wordop *)a)->word, y = ((const wordop *)b)->word;
  return x < y ? -1 : x > y;
}

/* Built once; the result is the same each time, so a race between two
 * first calls writes the same bytes (and the engine is not used by
 * several threads during a module's translation anyway). */
static int init_tables(void) {
  const uint32_t *w;
  uint32_t i;
  if (tables_ready != 0)
    return tables_ready;
  init_lengths();
  w = pkw__exec_opwords();
  for (i = 0; i < PKW_OP_COUNT_; i++) {
    word_ops[i].word = w[i];
    word_ops[i].op = i;
  }
  qsort(word_ops, PKW_OP_COUNT_, sizeof word_ops[0], cmp_wordop);
  for (i = 1; i < PKW_OP_COUNT_; i++)
    if (word_ops[i].word == word_ops[i - 1].word) {
      tables_ready = -1;
      return -1;
    }
  tables_ready = 1;
  return 1;
}

/* PKW_OP_* of an instruction word, or PKW_OP_COUNT_ if none. */
static uint32_t op_of(uint32_t word) {
  uint32_t lo = 0, hi = PKW_OP_COUNT_;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (word_ops[mid].word == word)
      return word_ops[mid].op;
    if (word_ops[mid].word < word)
      lo = mid + 1;
    else
      hi = mid;
  }
  return PKW_OP_COUNT_;
}

/* ---- the prelude: types, offsets, helpers ---------------------------------- */

/* The helpers generated code calls, in the order of pkw__jrt_helpers
 * (jrt.c), with their C prototypes in the engine-free types above. The
 * jit binds them by name; aot code calls them through the table its
 * pkw_aot_init receives (R_), so the shared object it is built into
 * has no undefined symbol at all. */
static const struct { const char *name, *ret, *params; } helpers[] = {
    {"pkw__jrt_fuel", "int", "void *"},
    {"pkw__jrt_call", "int", "void *, void *, void *, u64 *, u32"},
    {"pkw__jrt_tail", "int", "void *, u64 *, u32"},
    {"pkw__jrt_call_indirect", "int",
     "void *, void *, u32, u32, u32, u64 *, u32"},
    {"pkw__jrt_tail_call", "int", "void *, void *, void *, u64 *, u32, u32"},
    {"pkw__jrt_tail_call_indirect", "int",
     "void *, void *, u32, u32, u32, u64 *, u32, u32"},
    {"pkw__jrt_fun", "u64", "u32, u64, u64"},
    {"pkw__jrt_trunc", "int", "u32, u64, u64 *"},
    {"pkw__jrt_op", "int", "void *, u32, u64 *, const u32 *"},
    {"pkw__jrt_memory_grow", "u32", "void *, u32"},
    {"pkw__jrt_mark", "void", "void *, u64, u64"},
};

/* Where compiled code finds the interrupt flag, from x (see prelude). */
static ptrdiff_t intr_off(void) {
  return (ptrdiff_t)offsetof(pkw_instance, interrupt) -
         (ptrdiff_t)offsetof(pkw_instance, jx);
}

static void prelude(cbuf *b, int aot) {
  size_t i;
  out(b,
      "typedef unsigned char u8; typedef signed char i8;\n"
      "typedef unsigned short u16; typedef short i16;\n"
      "typedef unsigned int u32; typedef int i32;\n"
      "typedef unsigned long long u64; typedef long long i64;\n"
      "typedef int (*jfn)(void *, void *, u64 *, u32);\n"
      /* What a function of the register convention returns (see
       * gen_func): its first result and the fuel left (f >= 0), or a
       * failure (f < 0) with its code in v. Two words: registers. */
      "typedef struct { u64 v; i64 f; } rv_;\n"
      "#define AT(p, o, t) (*(t *)((char *)(p) + (o)))\n");
  out(b, "#define STK_END AT(x, %zu, u64 *)\n",
      offsetof(pkw_jctx, stack_end));
  out(b, "#define FUELV AT(x, %zu, i64)\n", offsetof(pkw_jctx, fuel));
  /* The interrupt flag itself: x is always an instance's jx (jrt.c), so
   * the flag of the instance that owns the stack sits at a fixed distance
   * from x: one load, not two (x's pointer to it, then the flag). */
  out(b, "#define INTR AT(x, %td, volatile i64)\n", intr_off());
  out(b, "#define TAILF AT(x, %zu, void *)\n", offsetof(pkw_jctx, tail));
  /* The back-edges of a function that calls nothing: fl a local on both
   * tiers there, the flag's address in ip_ (see gen_func). */
  out(b, "#define FUELL() if (UNL(--fl < *ip_)) { *(i64 *)((char *)x + %zu) "
         "= fl; rc = pkw__jrt_fuel(x); fl = *(i64 *)((char *)x + %zu); "
         "if (rc) ERR(rc); }\n",
      offsetof(pkw_jctx, fuel), offsetof(pkw_jctx, fuel));
  out(b, "#define ERRV AT(x, %zu, int)\n", offsetof(pkw_jctx, err));
  out(b, "#define MAXD AT(x, %zu, u32)\n", offsetof(pkw_jctx, maxd));
  /* The register convention's b for a frame at depth d whose frame ends
   * at p (see direct_call): each half clamped below 2^31, so that a
   * borrow out of either shows in its top bit. */
  out(b, "#define CL_(v) ((v) > 0x7fffffffull ? 0x7fffffffull : (v))\n"
         "#define BUDGET(d, p) (CL_((u64)(MAXD - (d))) << 32 | "
         "CL_((u64)(STK_END - (p))))\n");
  /* A check that fails only on bad input or at a limit: the system
   * compiler moves its code out of the hot path (libtcc ignores it). */
  out(b, aot ? "#define UNL(c) __builtin_expect(!!(c), 0)\n"
             : "#define UNL(c) (c)\n");
  out(b, "#define MEMP AT(ci, %zu, void *)\n", offsetof(pkw_instance, mem));
  out(b, "#define MDATA(m) AT(m, %zu, u8 *)\n", offsetof(pkw_memory, data));
  out(b, "#define MSIZE(m) AT(m, %zu, u64)\n", offsetof(pkw_memory, size));
  out(b, "#define MPAGES(m) AT(m, %zu, u32)\n",
      offsetof(pkw_memory, pages));
  /* The dirty map (PKW_DECODE_DIRTY): a byte per chunk, NULL when the
   * instance does not track. */
  out(b, "#define MDIRTY(m) AT(m, %zu, u8 *)\n",
      offsetof(pkw_memory, dirty));
  out(b, "#define GLOB(k) AT(AT(ci, %zu, void **)[k], %zu, u64)\n",
      offsetof(pkw_instance, globals), offsetof(pkw_global, val));
  out(b, "#define FUNC(k) (AT(ci, %zu, void **)[k])\n",
      offsetof(pkw_instance, funcs));
  out(b,
      /* R(k): slot k, a C local (s<k>) or the frame's fp[k] (each
       * function defines it); the views of a slot's bits: */
      "#define U32(k) ((u32)R(k))\n"
      "#define S32(k) ((i32)R(k))\n"
      "#define S64(k) ((i64)R(k))\n");
  if (aot)
    /* Unions: a system compiler keeps them in registers (a cast of the
     * slot's address would force it to memory). */
    out(b,
        "typedef union { u32 i; float f; } uf_;\n"
        "typedef union { u64 i; double f; } ud_;\n"
        "static inline float f32_(u64 v) { uf_ u; u.i = (u32)v; "
        "return u.f; }\n"
        "static inline double f64_(u64 v) { ud_ u; u.i = v; return u.f; }\n"
        "static inline u64 bf32_(float f) { uf_ u; u.f = f; return u.i; }\n"
        "static inline u64 bf64_(double f) { ud_ u; u.f = f; "
        "return u.i; }\n"
        "#define F32(k) f32_(R(k))\n"
        "#define F64(k) f64_(R(k))\n"
        "#define PUTF32(d, e) { R(d) = bf32_(e); }\n"
        "#define PUTF64(d, e) { R(d) = bf64_(e); }\n"
        "#define KEEP(v) __asm__(\"\" : \"+m\"(v))\n");
  else
    /* libtcc calls what is not a macro: keep slots addressable. */
    out(b,
        "#define F32(k) (*(float *)&R(k))\n"
        "#define F64(k) (*(double *)&R(k))\n"
        "#define PUTF32(d, e) { tf_ = (e); R(d) = *(u32 *)&tf_; }\n"
        "#define PUTF64(d, e) { td_ = (e); R(d) = *(u64 *)&td_; }\n"
        "#define KEEP(v)\n");
  /* Fuel lives in the local fl (a register); x holds it only where
   * something else reads or writes it (FSAVE before, FLOAD after). The
   * interrupt flag is read at its distance from x (INTR) at each check,
   * its address not kept in a local: one register less live across calls
   * lets the C compiler inline a callee's early return into its caller.
   * TRAP, ERR and PROP
   * are each function's (see gen_func). */
  if (aot)
    out(b, "#define FSAVE FUELV = fl\n"
           "#define FLOAD fl = FUELV\n"
           "#define FUEL() if (UNL(--fl < INTR)) { FSAVE; "
           "rc = pkw__jrt_fuel(x); FLOAD; if (rc) ERR(rc); }\n"
           /* A back-edge's unit and the next call's (find_merges): */
           "#define FUEL2() if (UNL((fl -= 2) < INTR)) { fl += 2; "
           "FUEL(); FUEL(); }\n");
  else   /* libtcc keeps locals in memory anyway: the fuel is x's. Flat:
          * libtcc's preprocessor costs a good part of an open. */
    out(b, "#define FSAVE FUELV = fl\n#define FLOAD fl = FUELV\n"
           "#define FUEL() if (--*(i64 *)((char *)x + %zu) < "
           "*(volatile i64 *)((char *)x + %td)) { rc = pkw__jrt_fuel(x); "
           "if (rc) ERR(rc); }\n"
           "#define FUEL2() if ((*(i64 *)((char *)x + %zu) -= 2) < "
           "*(volatile i64 *)((char *)x + %td)) { *(i64 *)((char *)x + "
           "%zu) += 2; FUEL(); FUEL(); }\n",
        offsetof(pkw_jctx, fuel), intr_off(),
        offsetof(pkw_jctx, fuel), intr_off(),
        offsetof(pkw_jctx, fuel));
  if (aot)
    out(b, "#define EXPORT __attribute__((visibility(\"default\")))\n"
           "static void *const *R_;\n");
  for (i = 0; i < sizeof helpers / sizeof helpers[0]; i++) {
    if (aot)
      out(b, "#define %s ((%s (*)(%s))R_[%zu])\n", helpers[i].name,
          helpers[i].ret, helpers[i].params, i);
    else
      out(b, "%s %s(%s);\n", helpers[i].ret, helpers[i].name,
          helpers[i].params);
  }
}

const char *pkw__cgen_helper(size_t i) {
  return i < sizeof helpers / sizeof helpers[0] ? helpers[i].name : NULL;
}

/* find_convs: called directly, no tail call. */
#define CONV_REG 2u

/* ---- one function ----------------------------------------------------------- */

typedef struct fgen {
  cbuf *b;
  pkw_module *m;
  uint32_t idx;               /* defined function index */
  const uint32_t *code;
  uint32_t ncode;
  uint8_t *label;             /* per code word: a branch targets it */
  const uint8_t *conv;        /* per defined function (find_convs) */
  int fast;                   /* this one has the register convention */
  int aot;                    /* the aot variant of it (see gen_func) */
  int uses_mem;
  int dirty;                  /* PKW_DECODE_DIRTY and uses_mem: the dirty
                                 map's pointer in the local dm */
  int regs;                   /* slots are C locals (R(k) is s<k>) */
  int props;                  /* it has a PROP (jit: Lprop_ is needed) */
  int leaf;                   /* it calls nothing and has loops, which
                                 keep the flag's address in ip_ */
  int floc;                   /* jit: and the fuel in the local fl */
  int loops;                  /* it has a backward branch */
  int merged;                 /* writing a loop's merged entry (see
                                 find_merges): its call's checks */
  struct vloop *vl;           /* the simple loop being written, or NULL
                                 (see "simple loops") */
  struct vloop *vlbuf;        /* room for the analysis (NULL: none) */
  uint32_t vlh;               /* vl's header */
  /* Bounds proved on this stretch of straight code: slot ck[i].slot
   * (unchanged since) plus ck[i].end is at most the memory's size,
   * which only grows. An access within such a bound needs no check. */
  struct { uint32_t slot; uint64_t end; } ck[8];
  unsigned nck;
  char *err;
  size_t errlen;
} fgen;

/* The values waiting as C expressions for the instructions that read
 * them (the jit: see "folding"). */
#define FOLD_RD 16u   /* slots a waiting expression may read */
#define FOLD_MAX 4u   /* values waiting at once */
typedef struct fold {
  struct {
    uint32_t slot;   /* the operand-stack slot it is the value of */
    int mem;         /* it reads memory */
    unsigned nrd;    /* the slots it reads (> FOLD_RD: too many to list) */
    uint32_t rd[FOLD_RD];
    char e[1024];
  } w[FOLD_MAX];
  unsigned n;
  /* A copy "s<ra> = s<rb>;" just written: the next instruction reads
   * s<rb> for s<ra> (ren set), off the copy's store and load. */
  int ren;
  uint32_t ra, rb;
} fold;

/* What label[] holds per code word. */
#define LBL_TARGET 1u         /* a branch targets it: L<pc> */
#define LBL_BACK 2u           /* a backward branch does: a loop */
#define LBL_MERGE 4u          /* a loop whose back-edges enter Lm<pc> */
#define LBL_MCALL 8u          /* the call a merged entry ends at */

/* The code index a branch operand at position p targets. */
static uint32_t target(const fgen *g, uint32_t p) {
  return (uint32_t)((int64_t)p + (int32_t)g->code[p]);
}

static void branch(fgen *g, uint32_t p) {
  uint32_t t = target(g, p);
  if ((int32_t)g->code[p] >= 0)
    out(g->b, "goto L%u;", t);
  else if (g->label[t] & LBL_MERGE)   /* the call there charges for both */
    out(g->b, "goto Lm%u;", t);
  else if (g->vl != NULL && t == g->vlh)   /* its checked copy */
    out(g->b, g->leaf ? "{ FUELL(); goto Lv%u; }" : "{ FUEL(); goto Lv%u; }",
        t);
  else
    out(g->b, g->leaf ? "{ FUELL(); goto L%u; }" : "{ FUEL(); goto L%u; }", t);
}

/* Reloads the memory registers after anything that may grow memory. */
static void reload(fgen *g) {
  if (g->uses_mem)
    out(g->b, g->dirty ? " mb = MDATA(M); ms = MSIZE(M); dm = MDIRTY(M);"
                       : " mb = MDATA(M); ms = MSIZE(M);");
}

/* A branch target (the operand at p): a label, and a loop if backwards. */
static void mark(fgen *g, uint32_t p) {
  g->label[target(g, p)] |= LBL_TARGET;
  if ((int32_t)g->code[p] < 0) {
    g->label[target(g, p)] |= LBL_BACK;
    g->loops = 1;
  }
}

/* The length of the (scanned) instruction at pc. */
static uint32_t insn_len(const fgen *g, uint32_t pc) {
  uint32_t op = op_of(g->code[pc]);
  return op == PKW_OP_BR_TABLE ? 3 + g->code[pc + 2] + 1 : op_len[op];
}

/* First pass: instruction boundaries, branch targets, memory use.
 * Returns 0, or -1 with a message for code it cannot read. */
static int scan(fgen *g) {
  uint32_t pc = 0, k;
  g->leaf = 1;
  while (pc < g->ncode) {
    uint32_t op = op_of(g->code[pc]), len;
    if (op == PKW_OP_COUNT_) {
      pkw__errf(g->err, g->errlen, "function %u: unknown instruction word",
                g->m->nfunc_imports + g->idx);
      return -1;
    }
    len = op_len[op];
    if (op == PKW_OP_BR_TABLE)
      len = 3 + g->code[pc + 2] + 1;
    if (len == 0 || pc + len > g->ncode) {
      pkw__errf(g->err, g->errlen, "function %u: truncated instruction",
                g->m->nfunc_imports + g->idx);
      return -1;
    }
    if (op == PKW_OP_CALL || op == PKW_OP_CALL_INDIRECT ||
        op == PKW_OP_RETURN_CALL || op == PKW_OP_RETURN_CALL_INDIRECT)
      g->leaf = 0;
    switch (op) {
    case PKW_OP_BR: mark(g, pc + 1); break;
    case PKW_OP_BR_IF: case PKW_OP_BR_UNLESS: case PKW_OP_I32_EQZ_BR_IF:
      mark(g, pc + 2);
      break;
    case PKW_OP_BR_TABLE:
      for (k = 0; k <= g->code[pc + 2]; k++)
        mark(g, pc + 3 + k);
      break;
    case PKW_OP_MEMORY_SIZE: case PKW_OP_MEMORY_GROW:
    case PKW_OP_MEMORY_INIT: case PKW_OP_MEMORY_COPY:
    case PKW_OP_MEMORY_FILL: case PKW_OP_I32_LOAD_ADDI:
    case PKW_OP_I32_LOAD8_U_ADDI: case PKW_OP_I32_STORE_ADDI:
    case PKW_OP_MARK:
      g->uses_mem = 1;
      break;
    default:
      if ((op >= PKW_OP_I32_EQ_BR_IF && op <= PKW_OP_I32_GE_U_BR_IF) ||
          (op >= PKW_OP_I32_EQ_IMM_BR_IF && op <= PKW_OP_I32_GE_U_IMM_BR_IF))
        mark(g, pc + 3);
      if (op >= PKW_OP_I32_LOAD && op <= PKW_OP_I64_STORE32)
        g->uses_mem = 1;
      break;
    }
    pc += len;
  }
  return 0;
}

/* An instruction that cannot trap, call or touch memory: moving a fuel
 * check across it changes nothing anyone can see. */
static int pure_op(uint32_t op) {
  switch (op) {
  case PKW_OP_I32_DIV_S: case PKW_OP_I32_DIV_U: case PKW_OP_I32_REM_S:
  case PKW_OP_I32_REM_U: case PKW_OP_I64_DIV_S: case PKW_OP_I64_DIV_U:
  case PKW_OP_I64_REM_S: case PKW_OP_I64_REM_U:
  case PKW_OP_I32_TRUNC_F32_S: case PKW_OP_I32_TRUNC_F32_U:
  case PKW_OP_I32_TRUNC_F64_S: case PKW_OP_I32_TRUNC_F64_U:
  case PKW_OP_I64_TRUNC_F32_S: case PKW_OP_I64_TRUNC_F32_U:
  case PKW_OP_I64_TRUNC_F64_S: case PKW_OP_I64_TRUNC_F64_U:
    return 0;
  case PKW_OP_COPY: case PKW_OP_CONST32: case PKW_OP_CONST64:
  case PKW_OP_SELECT: case PKW_OP_GLOBAL_GET:
    return 1;
  default:
    return (op >= PKW_OP_I32_ADD_IMM && op <= PKW_OP_I32_GE_U_IMM) ||
           (op < PKW_OP_COUNT_ && (op_len[op] == 3 || op_len[op] == 4) &&
            op >= PKW_OP_I32_EQZ && op <= PKW_OP_I64_TRUNC_SAT_F64_U);
  }
}

/* Loops whose header runs straight into a direct call of compiled code:
 * only pure instructions between, nothing else branching in. There the
 * back-edge's fuel unit and the call's are charged with one check (the
 * interrupt flag read once), on a copy of that straight stretch and of
 * the call's checks (Lm<header>, written after the body) that the
 * back-edges enter and that joins the call at Lc<call>; when the check
 * fails, or the call's frame check does, the copy charges the units one
 * by one as the interpreter does, so every trap and every fuel count is
 * the same. */
static void find_merges(fgen *g) {
  uint32_t h, pc;
  for (h = 0; h < g->ncode; h++) {
    if (!(g->label[h] & LBL_BACK))
      continue;
    for (pc = h; pc < g->ncode; pc += insn_len(g, pc)) {
      uint32_t op = op_of(g->code[pc]);
      if (pc != h && (g->label[pc] & (LBL_TARGET | LBL_MCALL)))
        break;
      if (op == PKW_OP_CALL) {
        uint32_t f = g->code[pc + 1];
        if (f >= g->m->nfunc_imports && f < g->m->nfuncs &&
            g->m->codes[f - g->m->nfunc_imports].code != NULL &&
            !(g->label[pc] & LBL_MCALL) &&
            pc + insn_len(g, pc) < g->ncode) {
          g->label[h] |= LBL_MERGE;
          g->label[pc] |= LBL_MCALL;
        }
        break;
      }
      if (!pure_op(op))
        break;
    }
  }
}

/* ---- simple loops ----------------------------------------------------------
 *
 * A loop whose body is straight code (no branch in, none out but its one
 * back-edge at the end, no call, nothing that can trap but memory
 * accesses) and whose addresses move by a constant step per iteration
 * gets a second copy without checks. At the header, the C counts the
 * iterations left (the back-edge compares a counter of constant step with
 * a constant or a slot the loop does not write) and checks once, for a
 * chunk of them, that every access of every iteration is in bounds, that
 * no address or counter wraps around 2^32, and that the fuel lasts the
 * chunk without one of its checks failing. If so, the chunk runs with no
 * check, its address arithmetic in 64 bits (affine in the iteration, so
 * that the C compiler may vectorize it), and its back-edges are charged
 * at once; if not, the checked copy runs the loop to its end, as before.
 * The same iterations run either way, so memory, slots and fuel end the
 * same, and every trap happens in the checked copy, where it always did.
 * The interrupt flag is read between chunks, at most VL_CHUNK iterations
 * apart, as the checked copy reads it at its back-edges.
 *
 * The analysis is a walk of the body with, per slot, an affine value:
 * the sum of a few slots' values at the header (each times a small
 * constant) plus a constant, exact as long as nothing wraps (which the
 * header checks for every affine value the body computes). At the
 * header, a slot the loop does not write has its own value there, an
 * induction slot too (one that the walk ends at its value at the header
 * plus a constant, its step: the walk is repeated until that set is
 * stable), any other slot no affine value. The unchecked copy computes
 * every affine value in 64 bits ("wide": exact, below 2^32 by the
 * checks), and reads a slot as wide where its value there is.
 */

static unsigned load_size(uint32_t op);

#define VL_TERMS 4             /* slots in one affine value */
#define VL_GROUPS 24           /* ranges checked at a header */
#define VL_MAX_WORDS 2048u     /* code words of a body */
#define VL_CHUNK 65536         /* iterations between interrupt reads */
#define VL_KMAX ((int64_t)1 << 40)
#define VL_CMAX ((int64_t)1 << 16)   /* |coefficient| */
#define VL_SMAX ((int64_t)1 << 24)   /* |step| */

typedef struct aff {
  uint8_t ok, n;               /* ok 0: not affine */
  uint32_t slot[VL_TERMS];     /* increasing */
  int32_t coef[VL_TERMS];
  int64_t k;
} aff;

typedef struct vgroup {
  aff a;                       /* the terms (a.k unused) */
  int64_t step;
  int64_t kmin, kmax;          /* of the values: in [0, 2^32) */
  int64_t kend;                /* of accesses: k + offset + size <= ms */
  int mem;
} vgroup;

enum { VL_NE, VL_LT, VL_GT };

typedef struct vloop {
  uint32_t h, be, next;        /* header, back-edge, the word after it */
  uint32_t nslots;
  uint8_t *written, *iv;
  uint32_t *wl, nwl;           /* the slots written (the work per loop is
                                  its body's and these, not the frame's) */
  uint8_t *cw;                 /* per slot, writing the copy: holds its
                                  wide value */
  uint8_t wpc[VL_MAX_WORDS];   /* per word of the body: the instruction
                                  there writes an affine value */
  int64_t *step;               /* of induction slots */
  aff *st;                     /* per slot, during a walk */
  vgroup grp[VL_GROUPS];
  uint32_t ngrp;
  int fail;                    /* the walk met something it cannot check */
  aff cnt;                     /* the counter at the back-edge */
  uint32_t cslot;              /* its slot */
  int cmp;                     /* VL_NE, VL_LT, VL_GT */
  int bimm;                    /* the bound is the constant bound */
  uint32_t bound;              /* or the slot bound */
} vloop;

static aff aff_none(void) {
  aff a;
  memset(&a, 0, sizeof a);
  return a;
}

static aff aff_const(int64_t k) {
  aff a = aff_none();
  a.ok = 1;
  a.k = k;
  return a;
}

/* a + c * b: terms merged by slot, limits kept. */
static aff aff_madd(aff a, aff b, int64_t c) {
  aff r = aff_none();
  uint32_t i = 0, j = 0;
  if (!a.ok || !b.ok)
    return r;
  while (i < a.n || j < b.n) {
    uint32_t s;
    int64_t cf;
    if (j >= b.n || (i < a.n && a.slot[i] < b.slot[j])) {
      s = a.slot[i];
      cf = a.coef[i++];
    } else if (i >= a.n || b.slot[j] < a.slot[i]) {
      s = b.slot[j];
      cf = c * b.coef[j++];
    } else {
      s = a.slot[i];
      cf = a.coef[i++] + c * b.coef[j++];
    }
    if (cf == 0)
      continue;
    if (r.n == VL_TERMS || cf > VL_CMAX || cf < -VL_CMAX)
      return aff_none();
    r.slot[r.n] = s;
    r.coef[r.n++] = (int32_t)cf;
  }
  r.k = a.k + c * b.k;
  if (r.k > VL_KMAX || r.k < -VL_KMAX)
    return aff_none();
  r.ok = 1;
  return r;
}

static aff aff_scale(aff a, int64_t c) {
  return aff_madd(aff_const(0), a, c);
}

static aff aff_addk(aff a, int64_t k) {
  return aff_madd(a, aff_const(k), 1);
}

/* Slot s as an operand: its value at the header if the loop does not
 * write it, else its current value in the walk. */
static aff vl_read(const vloop *L, uint32_t s) {
  if (s >= L->nslots)
    return aff_none();
  if (!L->written[s]) {
    aff a = aff_const(0);
    a.n = 1;
    a.slot[0] = s;
    a.coef[0] = 1;
    return a;
  }
  return L->st[s];
}

static int64_t aff_step(const vloop *L, const aff *a) {
  int64_t st = 0;
  uint32_t i;
  for (i = 0; i < a->n; i++)
    if (L->written[a->slot[i]] && L->iv[a->slot[i]])
      st += a->coef[i] * L->step[a->slot[i]];
  return st;
}

/* A value that must stay in [0, 2^32) for every iteration of a chunk;
 * with mem, an access of size bytes at offset off that must be in
 * bounds. */
static void vl_range(vloop *L, const aff *a, int mem, uint64_t off,
                     unsigned size) {
  int64_t step;
  uint32_t i;
  vgroup *gp;
  if (!a->ok) {
    L->fail = 1;
    return;
  }
  step = aff_step(L, a);
  if (step > VL_SMAX || step < -VL_SMAX) {
    L->fail = 1;
    return;
  }
  for (i = 0; i < L->ngrp; i++) {
    gp = &L->grp[i];
    if (gp->step == step && gp->a.n == a->n &&
        memcmp(gp->a.slot, a->slot, a->n * sizeof a->slot[0]) == 0 &&
        memcmp(gp->a.coef, a->coef, a->n * sizeof a->coef[0]) == 0)
      break;
  }
  if (i == L->ngrp) {
    if (L->ngrp == VL_GROUPS) {
      L->fail = 1;
      return;
    }
    gp = &L->grp[L->ngrp++];
    gp->a = *a;
    gp->step = step;
    gp->kmin = gp->kmax = a->k;
    gp->kend = 0;
    gp->mem = 0;
  }
  gp = &L->grp[i];
  if (a->k < gp->kmin)
    gp->kmin = a->k;
  if (a->k > gp->kmax)
    gp->kmax = a->k;
  if (mem) {
    int64_t e = a->k + (int64_t)off + (int64_t)size;
    if (!gp->mem || e > gp->kend)
      gp->kend = e;
    gp->mem = 1;
  }
}

/* The slot an instruction of a body writes (NONE_SLOT: none). */
static uint32_t vl_dest(uint32_t op, const uint32_t *p) {
  if (op == PKW_OP_GLOBAL_SET || op == PKW_OP_MARK ||
      op == PKW_OP_I32_STORE_ADDI ||
      (op >= PKW_OP_I32_STORE && op <= PKW_OP_I64_STORE32))
    return NONE_SLOT;
  return p[1];
}

/* Instructions a body may hold: nothing that branches, calls, grows
 * memory or traps, but loads and stores. */
static int vl_op_ok(uint32_t op) {
  return pure_op(op) || op == PKW_OP_GLOBAL_SET ||
         op == PKW_OP_MARK || op == PKW_OP_I32_LOAD_ADDI ||
         op == PKW_OP_I32_LOAD8_U_ADDI || op == PKW_OP_I32_STORE_ADDI ||
         (op >= PKW_OP_I32_LOAD && op <= PKW_OP_I64_STORE32);
}

/* One walk of the body: the values, and the ranges the header checks. */
static void vl_walk(const fgen *g, vloop *L) {
  uint32_t pc, s, i;
  L->ngrp = 0;
  L->fail = 0;
  for (i = 0; i < L->nwl; i++) {   /* st of the others is not read */
    s = L->wl[i];
    L->st[s] = aff_none();
    if (L->iv[s]) {   /* its value at the header */
      L->st[s] = aff_const(0);
      L->st[s].n = 1;
      L->st[s].slot[0] = s;
      L->st[s].coef[0] = 1;
    }
  }
  for (pc = L->h; pc < L->be; pc += insn_len(g, pc)) {
    const uint32_t *p = g->code + pc;
    uint32_t op = op_of(p[0]), d = vl_dest(op, p);
    aff v = aff_none(), a;
    if (op == PKW_OP_I32_ADD || op == PKW_OP_I32_SUB)
      v = aff_madd(vl_read(L, p[2]), vl_read(L, p[3]),
                   op == PKW_OP_I32_ADD ? 1 : -1);
    else if (op == PKW_OP_I32_ADD_IMM)
      v = aff_addk(vl_read(L, p[2]), (int32_t)p[3]);
    else if (op == PKW_OP_I32_SUB_IMM)
      v = aff_addk(vl_read(L, p[2]), -(int64_t)(int32_t)p[3]);
    else if (op == PKW_OP_I32_MUL_IMM && p[3] <= VL_CMAX)
      v = aff_scale(vl_read(L, p[2]), p[3]);
    else if (op == PKW_OP_I32_SHL_IMM && (p[3] & 31) <= 16)
      v = aff_scale(vl_read(L, p[2]), (int64_t)1 << (p[3] & 31));
    else if (op == PKW_OP_COPY && L->written[p[2]])
      /* Only a value this loop computes (an i32): a copy has no type,
       * and a slot it does not write may hold an i64. */
      v = vl_read(L, p[2]);
    else if (op == PKW_OP_CONST32)
      v = aff_const(p[2]);
    if (op >= PKW_OP_I32_LOAD && op <= PKW_OP_I64_LOAD32_U) {
      a = vl_read(L, p[2]);
      vl_range(L, &a, 1, p[3], load_size(op));
    } else if (op >= PKW_OP_I32_STORE && op <= PKW_OP_I64_STORE32) {
      a = vl_read(L, p[1]);
      vl_range(L, &a, 1, p[3], load_size(op));
    } else if (op == PKW_OP_I32_LOAD_ADDI || op == PKW_OP_I32_LOAD8_U_ADDI ||
               op == PKW_OP_I32_STORE_ADDI) {
      a = aff_addk(vl_read(L, p[2 - (op == PKW_OP_I32_STORE_ADDI)]),
                   (int32_t)p[3]);
      vl_range(L, &a, 1, p[4],
               op == PKW_OP_I32_LOAD8_U_ADDI ? 1u : 4u);
    }
    if (d == NONE_SLOT)
      continue;
    if (d >= L->nslots) {
      L->fail = 1;
      return;
    }
    L->wpc[pc - L->h] = v.ok;
    if (v.ok)
      vl_range(L, &v, 0, 0, 0);
    L->st[d] = v;
  }
}

/* The back-edge at be: its form, counter and bound. 0, or -1. */
static int vl_edge(const fgen *g, vloop *L) {
  const uint32_t *p = g->code + L->be;
  uint32_t op = op_of(p[0]), a = p[1], b = p[2];
  L->bimm = 1;
  switch (op) {
  case PKW_OP_BR_IF: L->cmp = VL_NE; L->bound = 0; break;
  case PKW_OP_I32_NE_IMM_BR_IF: L->cmp = VL_NE; L->bound = b; break;
  case PKW_OP_I32_LT_U_IMM_BR_IF: L->cmp = VL_LT; L->bound = b; break;
  case PKW_OP_I32_GT_U_IMM_BR_IF: L->cmp = VL_GT; L->bound = b; break;
  case PKW_OP_I32_NE_BR_IF: case PKW_OP_I32_LT_U_BR_IF:
    L->bimm = 0;
    L->cmp = op == PKW_OP_I32_NE_BR_IF ? VL_NE : VL_LT;
    if (b < L->nslots && !L->written[b]) {
      L->bound = b;
    } else if (a < L->nslots && !L->written[a]) {
      /* inv != c, or inv < c: c > inv */
      L->bound = a;
      a = b;
      if (L->cmp == VL_LT)
        L->cmp = VL_GT;
    } else {
      return -1;
    }
    break;
  default: return -1;
  }
  L->cslot = a;
  return 0;
}

/* Whether the loop at header h is simple; fills L. 0, or -1. */
static int vl_find(const fgen *g, vloop *L, uint32_t h) {
  uint32_t pc, s, i, round, op = 0, bpos = 0;
  int64_t st;
  for (pc = h; pc < g->ncode; pc += insn_len(g, pc)) {
    op = op_of(g->code[pc]);
    if (pc != h && (g->label[pc] & LBL_TARGET))
      return -1;
    if (pc - h >= VL_MAX_WORDS)   /* wpc[] holds the body's words */
      return -1;
    if (op == PKW_OP_BR_IF)
      bpos = 2;
    else if (op == PKW_OP_I32_NE_IMM_BR_IF || op == PKW_OP_I32_LT_U_IMM_BR_IF ||
             op == PKW_OP_I32_GT_U_IMM_BR_IF || op == PKW_OP_I32_NE_BR_IF ||
             op == PKW_OP_I32_LT_U_BR_IF)
      bpos = 3;
    else if (vl_op_ok(op))
      continue;
    else
      return -1;
    if (target(g, pc + bpos) != h)
      return -1;
    break;
  }
  if (pc >= g->ncode || pc == h)
    return -1;
  L->h = h;
  L->be = pc;
  L->next = pc + insn_len(g, pc);
  if (L->next >= g->ncode)
    return -1;
  /* The last loop's marks off (the others are zero). */
  for (i = 0; i < L->nwl; i++)
    L->written[L->wl[i]] = L->iv[L->wl[i]] = L->cw[L->wl[i]] = 0;
  L->nwl = 0;
  for (pc = h; pc < L->be; pc += insn_len(g, pc)) {
    uint32_t d = vl_dest(op_of(g->code[pc]), g->code + pc);
    if (d != NONE_SLOT) {
      if (d >= L->nslots)
        return -1;
      if (!L->written[d]) {
        L->written[d] = 1;
        L->wl[L->nwl++] = d;
      }
    }
  }
  if (vl_edge(g, L) < 0)
    return -1;
  for (i = 0; i < L->nwl; i++) {
    L->iv[L->wl[i]] = 1;
    L->step[L->wl[i]] = 0;
  }
  /* Shrink the induction set (and settle the steps) until a walk leaves
   * it as it was: that walk's ranges are the checks. */
  for (round = 0;; round++) {
    int changed = 0;
    if (round == 8)
      return -1;
    vl_walk(g, L);
    for (i = 0; i < L->nwl; i++) {
      const aff *v = &L->st[s = L->wl[i]];
      int iv = L->iv[s] && v->ok && v->n == 1 && v->slot[0] == s &&
               v->coef[0] == 1;
      if (iv != L->iv[s] || (iv && L->step[s] != v->k))
        changed = 1;
      L->iv[s] = (uint8_t)iv;
      L->step[s] = iv ? v->k : 0;
    }
    if (!changed)
      break;
  }
  if (L->fail)
    return -1;
  /* The counter: affine, moving the way the comparison ends. */
  L->cnt = vl_read(L, L->cslot);
  if (!L->cnt.ok)
    return -1;
  st = aff_step(L, &L->cnt);
  if (st == 0 || (L->cmp == VL_LT && st < 0) || (L->cmp == VL_GT && st > 0))
    return -1;
  vl_range(L, &L->cnt, 0, 0, 0);
  if (L->fail)
    return -1;
  for (s = 0; s < L->ngrp; s++)
    if (L->grp[s].mem)
      return 0;
  return -1;   /* no access: nothing to gain */
}

/* The analysis' room for a frame of n slots: one block (NULL: no room,
 * and no loop gets the unchecked copy). */
static vloop *vl_alloc(const pkw_alloc *alloc, uint32_t n) {
  size_t sz = sizeof(vloop) +
              (size_t)n * (sizeof(aff) + sizeof(int64_t) + 4 + 3);
  vloop *L = pkw__realloc(alloc, NULL, sz);
  char *q;
  if (L == NULL)
    return NULL;
  memset(L, 0, sz);
  q = (char *)(L + 1);
  L->st = (aff *)(void *)q;
  q += (size_t)n * sizeof(aff);
  L->step = (int64_t *)(void *)q;
  q += (size_t)n * sizeof(int64_t);
  L->wl = (uint32_t *)(void *)q;
  q += (size_t)n * sizeof(uint32_t);
  L->written = (uint8_t *)q;
  L->iv = L->written + n;
  L->cw = L->iv + n;
  L->nslots = n;
  return L;
}

/* Numeric instructions: the C of exec.c's handlers. a, b are slots. */
static void numeric(fgen *g, uint32_t op, uint32_t d, uint32_t a,
                    uint32_t b) {
  cbuf *o = g->b;
  switch (op) {
#define CMP_(name, fmt) case PKW_OP_##name: out(o, "R(%u) = " fmt ";", d, a, b); break;
  case PKW_OP_I32_EQZ: out(o, "R(%u) = U32(%u) == 0;", d, a); break;
  CMP_(I32_EQ, "U32(%u) == U32(%u)")
  CMP_(I32_NE, "U32(%u) != U32(%u)")
  CMP_(I32_LT_S, "S32(%u) < S32(%u)")
  CMP_(I32_LT_U, "U32(%u) < U32(%u)")
  CMP_(I32_GT_S, "S32(%u) > S32(%u)")
  CMP_(I32_GT_U, "U32(%u) > U32(%u)")
  CMP_(I32_LE_S, "S32(%u) <= S32(%u)")
  CMP_(I32_LE_U, "U32(%u) <= U32(%u)")
  CMP_(I32_GE_S, "S32(%u) >= S32(%u)")
  CMP_(I32_GE_U, "U32(%u) >= U32(%u)")
  case PKW_OP_I64_EQZ: out(o, "R(%u) = R(%u) == 0;", d, a); break;
  CMP_(I64_EQ, "R(%u) == R(%u)")
  CMP_(I64_NE, "R(%u) != R(%u)")
  CMP_(I64_LT_S, "S64(%u) < S64(%u)")
  CMP_(I64_LT_U, "R(%u) < R(%u)")
  CMP_(I64_GT_S, "S64(%u) > S64(%u)")
  CMP_(I64_GT_U, "R(%u) > R(%u)")
  CMP_(I64_LE_S, "S64(%u) <= S64(%u)")
  CMP_(I64_LE_U, "R(%u) <= R(%u)")
  CMP_(I64_GE_S, "S64(%u) >= S64(%u)")
  CMP_(I64_GE_U, "R(%u) >= R(%u)")
  CMP_(F32_EQ, "F32(%u) == F32(%u)")
  CMP_(F32_NE, "F32(%u) != F32(%u)")
  CMP_(F32_LT, "F32(%u) < F32(%u)")
  CMP_(F32_GT, "F32(%u) > F32(%u)")
  CMP_(F32_LE, "F32(%u) <= F32(%u)")
  CMP_(F32_GE, "F32(%u) >= F32(%u)")
  CMP_(F64_EQ, "F64(%u) == F64(%u)")
  CMP_(F64_NE, "F64(%u) != F64(%u)")
  CMP_(F64_LT, "F64(%u) < F64(%u)")
  CMP_(F64_GT, "F64(%u) > F64(%u)")
  CMP_(F64_LE, "F64(%u) <= F64(%u)")
  CMP_(F64_GE, "F64(%u) >= F64(%u)")
  CMP_(I32_ADD, "(u32)(U32(%u) + U32(%u))")
  CMP_(I32_SUB, "(u32)(U32(%u) - U32(%u))")
  CMP_(I32_MUL, "(u32)(U32(%u) * U32(%u))")
  CMP_(I32_AND, "U32(%u) & U32(%u)")
  CMP_(I32_OR, "U32(%u) | U32(%u)")
  CMP_(I32_XOR, "U32(%u) ^ U32(%u)")
  CMP_(I32_SHL, "(u32)(U32(%u) << (U32(%u) & 31))")
  CMP_(I32_SHR_S, "(u32)(S32(%u) >> (U32(%u) & 31))")
  CMP_(I32_SHR_U, "U32(%u) >> (U32(%u) & 31)")
  CMP_(I64_ADD, "R(%u) + R(%u)")
  CMP_(I64_SUB, "R(%u) - R(%u)")
  CMP_(I64_MUL, "R(%u) * R(%u)")
  CMP_(I64_AND, "R(%u) & R(%u)")
  CMP_(I64_OR, "R(%u) | R(%u)")
  CMP_(I64_XOR, "R(%u) ^ R(%u)")
  CMP_(I64_SHL, "R(%u) << (R(%u) & 63)")
  CMP_(I64_SHR_S, "(u64)(S64(%u) >> (R(%u) & 63))")
  CMP_(I64_SHR_U, "R(%u) >> (R(%u) & 63)")
  CMP_(F32_COPYSIGN, "(U32(%u) & 0x7fffffffu) | (U32(%u) & 0x80000000u)")
  CMP_(F64_COPYSIGN, "(R(%u) & 0x7fffffffffffffffull) | "
                     "(R(%u) & 0x8000000000000000ull)")
#undef CMP_
  case PKW_OP_I32_ROTL:
    out(o, "{ v32_ = U32(%u); k32_ = U32(%u); R(%u) = (u32)((v32_ << (k32_ & "
           "31)) | (v32_ >> ((32 - k32_) & 31))); }", a, b, d);
    break;
  case PKW_OP_I32_ROTR:
    out(o, "{ v32_ = U32(%u); k32_ = U32(%u); R(%u) = (u32)((v32_ >> (k32_ & "
           "31)) | (v32_ << ((32 - k32_) & 31))); }", a, b, d);
    break;
  case PKW_OP_I64_ROTL:
    out(o, "{ v64_ = R(%u); k64_ = R(%u); R(%u) = (v64_ << (k64_ & 63)) | "
           "(v64_ >> ((64 - k64_) & 63)); }", a, b, d);
    break;
  case PKW_OP_I64_ROTR:
    out(o, "{ v64_ = R(%u); k64_ = R(%u); R(%u) = (v64_ >> (k64_ & 63)) | "
           "(v64_ << ((64 - k64_) & 63)); }", a, b, d);
    break;
  case PKW_OP_I32_DIV_S:
    out(o, "{ sx_ = S32(%u); sy_ = S32(%u); if (sy_ == 0) TRAP(%d); "
           "if (sx_ == (-2147483647 - 1) && sy_ == -1) TRAP(%d); "
           "R(%u) = (u32)(sx_ / sy_); }",
        a, b, PKW_TRAP_DIVIDE_BY_ZERO, PKW_TRAP_INTEGER_OVERFLOW, d);
    break;
  case PKW_OP_I32_DIV_U:
    out(o, "{ v32_ = U32(%u); k32_ = U32(%u); if (k32_ == 0) TRAP(%d); "
           "R(%u) = v32_ / k32_; }", a, b, PKW_TRAP_DIVIDE_BY_ZERO, d);
    break;
  case PKW_OP_I32_REM_S:
    out(o, "{ sx_ = S32(%u); sy_ = S32(%u); if (sy_ == 0) TRAP(%d); "
           "R(%u) = sy_ == -1 ? 0 : (u32)(sx_ %% sy_); }",
        a, b, PKW_TRAP_DIVIDE_BY_ZERO, d);
    break;
  case PKW_OP_I32_REM_U:
    out(o, "{ v32_ = U32(%u); k32_ = U32(%u); if (k32_ == 0) TRAP(%d); "
           "R(%u) = v32_ %% k32_; }", a, b, PKW_TRAP_DIVIDE_BY_ZERO, d);
    break;
  case PKW_OP_I64_DIV_S:
    out(o, "{ lx_ = S64(%u); ly_ = S64(%u); if (ly_ == 0) TRAP(%d); "
           "if (lx_ == (-9223372036854775807ll - 1) && ly_ == -1) TRAP(%d); "
           "R(%u) = (u64)(lx_ / ly_); }",
        a, b, PKW_TRAP_DIVIDE_BY_ZERO, PKW_TRAP_INTEGER_OVERFLOW, d);
    break;
  case PKW_OP_I64_DIV_U:
    out(o, "{ v64_ = R(%u); k64_ = R(%u); if (k64_ == 0) TRAP(%d); "
           "R(%u) = v64_ / k64_; }", a, b, PKW_TRAP_DIVIDE_BY_ZERO, d);
    break;
  case PKW_OP_I64_REM_S:
    out(o, "{ lx_ = S64(%u); ly_ = S64(%u); if (ly_ == 0) TRAP(%d); "
           "R(%u) = ly_ == -1 ? 0 : (u64)(lx_ %% ly_); }",
        a, b, PKW_TRAP_DIVIDE_BY_ZERO, d);
    break;
  case PKW_OP_I64_REM_U:
    out(o, "{ v64_ = R(%u); k64_ = R(%u); if (k64_ == 0) TRAP(%d); "
           "R(%u) = v64_ %% k64_; }", a, b, PKW_TRAP_DIVIDE_BY_ZERO, d);
    break;
  case PKW_OP_F32_ADD: out(o, "PUTF32(%u, F32(%u) + F32(%u))", d, a, b); break;
  case PKW_OP_F32_SUB: out(o, "PUTF32(%u, F32(%u) - F32(%u))", d, a, b); break;
  case PKW_OP_F32_MUL: out(o, "PUTF32(%u, F32(%u) * F32(%u))", d, a, b); break;
  case PKW_OP_F32_DIV: out(o, "PUTF32(%u, F32(%u) / F32(%u))", d, a, b); break;
  case PKW_OP_F64_ADD: out(o, "PUTF64(%u, F64(%u) + F64(%u))", d, a, b); break;
  case PKW_OP_F64_SUB: out(o, "PUTF64(%u, F64(%u) - F64(%u))", d, a, b); break;
  case PKW_OP_F64_MUL: out(o, "PUTF64(%u, F64(%u) * F64(%u))", d, a, b); break;
  case PKW_OP_F64_DIV: out(o, "PUTF64(%u, F64(%u) / F64(%u))", d, a, b); break;
  case PKW_OP_F32_ABS: out(o, "R(%u) = U32(%u) & 0x7fffffffu;", d, a); break;
  case PKW_OP_F32_NEG: out(o, "R(%u) = U32(%u) ^ 0x80000000u;", d, a); break;
  case PKW_OP_F64_ABS:
    out(o, "R(%u) = R(%u) & 0x7fffffffffffffffull;", d, a);
    break;
  case PKW_OP_F64_NEG:
    out(o, "R(%u) = R(%u) ^ 0x8000000000000000ull;", d, a);
    break;
  case PKW_OP_I32_WRAP_I64: out(o, "R(%u) = U32(%u);", d, a); break;
  case PKW_OP_I64_EXTEND_I32_S: out(o, "R(%u) = (u64)(i64)S32(%u);", d, a); break;
  case PKW_OP_I64_EXTEND_I32_U: out(o, "R(%u) = (u64)U32(%u);", d, a); break;
  case PKW_OP_F32_CONVERT_I32_S: out(o, "PUTF32(%u, (float)S32(%u))", d, a); break;
  case PKW_OP_F32_CONVERT_I32_U:
    out(o, "PUTF32(%u, (float)(i64)U32(%u))", d, a);
    break;
  case PKW_OP_F32_CONVERT_I64_S: out(o, "PUTF32(%u, (float)S64(%u))", d, a); break;
  case PKW_OP_F32_DEMOTE_F64: out(o, "PUTF32(%u, (float)F64(%u))", d, a); break;
  case PKW_OP_F64_CONVERT_I32_S: out(o, "PUTF64(%u, (double)S32(%u))", d, a); break;
  case PKW_OP_F64_CONVERT_I32_U:
    out(o, "PUTF64(%u, (double)(i64)U32(%u))", d, a);
    break;
  case PKW_OP_F64_CONVERT_I64_S: out(o, "PUTF64(%u, (double)S64(%u))", d, a); break;
  case PKW_OP_F64_PROMOTE_F32:
    /* KEEP: a demotion of this promotion is not the identity for a
     * signalling NaN (wasm quiets it), which a compiler would assume. */
    out(o, "{ p_ = (double)F32(%u); KEEP(p_); PUTF64(%u, p_) }", a,
        d);
    break;
  case PKW_OP_I32_REINTERPRET_F32: case PKW_OP_F32_REINTERPRET_I32:
    out(o, "R(%u) = U32(%u);", d, a);
    break;
  case PKW_OP_I64_REINTERPRET_F64: case PKW_OP_F64_REINTERPRET_I64:
    out(o, "R(%u) = R(%u);", d, a);
    break;
  case PKW_OP_I32_EXTEND8_S: out(o, "R(%u) = (u32)(i32)(i8)U32(%u);", d, a); break;
  case PKW_OP_I32_EXTEND16_S: out(o, "R(%u) = (u32)(i32)(i16)U32(%u);", d, a); break;
  case PKW_OP_I64_EXTEND8_S: out(o, "R(%u) = (u64)(i64)(i8)R(%u);", d, a); break;
  case PKW_OP_I64_EXTEND16_S: out(o, "R(%u) = (u64)(i64)(i16)R(%u);", d, a); break;
  case PKW_OP_I64_EXTEND32_S: out(o, "R(%u) = (u64)(i64)(i32)R(%u);", d, a); break;
  case PKW_OP_I32_TRUNC_F32_S: case PKW_OP_I32_TRUNC_F32_U:
  case PKW_OP_I32_TRUNC_F64_S: case PKW_OP_I32_TRUNC_F64_U:
  case PKW_OP_I64_TRUNC_F32_S: case PKW_OP_I64_TRUNC_F32_U:
  case PKW_OP_I64_TRUNC_F64_S: case PKW_OP_I64_TRUNC_F64_U:
    out(o, "{ if ((rc = pkw__jrt_trunc(%u, R(%u), &tu_)) != 0) "
           "TRAP(rc); R(%u) = tu_; }", op, a, d);
    break;
  default:
    /* The rest (rounding, sqrt, min/max, bit counts, unsigned 64-bit
     * conversions, saturating truncations): pure helpers. */
    out(o, "R(%u) = pkw__jrt_fun(%u, R(%u), R(%u));", d, op, a,
        b == NONE_SLOT ? a : b);
    break;
  }
}

static const char *load_expr(uint32_t op) {
  switch (op) {
  case PKW_OP_I32_LOAD: case PKW_OP_F32_LOAD: case PKW_OP_I64_LOAD32_U:
    return "(u64)*(u32 *)";
  case PKW_OP_I64_LOAD: case PKW_OP_F64_LOAD: return "*(u64 *)";
  case PKW_OP_I32_LOAD8_S: return "(u64)(u32)(i32)*(i8 *)";
  case PKW_OP_I32_LOAD8_U: case PKW_OP_I64_LOAD8_U: return "(u64)*(u8 *)";
  case PKW_OP_I32_LOAD16_S: return "(u64)(u32)(i32)*(i16 *)";
  case PKW_OP_I32_LOAD16_U: case PKW_OP_I64_LOAD16_U: return "(u64)*(u16 *)";
  case PKW_OP_I64_LOAD8_S: return "(u64)(i64)*(i8 *)";
  case PKW_OP_I64_LOAD16_S: return "(u64)(i64)*(i16 *)";
  default: return "(u64)(i64)*(i32 *)";   /* I64_LOAD32_S */
  }
}

static unsigned load_size(uint32_t op) {
  switch (op) {
#define S_(name, opc, n, t) case PKW_OP_##name: return n;
    PKW_LOADOPS(S_)
    PKW_STOREOPS(S_)
#undef S_
  default: return 0;
  }
}

static const char *store_type(unsigned n) {
  return n == 1 ? "u8" : n == 2 ? "u16" : n == 4 ? "u32" : "u64";
}

/* Slots in C locals meet the frame in memory only where something else
 * reads or writes it: a callee's arguments and results, the results of a
 * return, the operands of a runtime helper. */
static void spill(fgen *g, uint32_t from, uint32_t n) {
  uint32_t i;
  if (g->regs)
    for (i = 0; i < n; i++)
      out(g->b, " fp[%u] = s%u;", from + i, from + i);
}

static void fill(fgen *g, uint32_t from, uint32_t n) {
  uint32_t i;
  if (g->regs)
    for (i = 0; i < n; i++)
      out(g->b, " s%u = fp[%u];", from + i, from + i);
}

static const pkw_functype *func_type(const pkw_module *m, uint32_t fidx) {
  return &m->types[m->func_type[fidx]];
}

/* Writing the fuel local back to x, and reading it: aot only (the jit's
 * fuel is x's). */
#define FSAVE_(g) ((g)->aot || (g)->floc ? " FSAVE;" : "")
#define FLOAD_(g) ((g)->aot || (g)->floc ? " FLOAD;" : "")

/* The frame depth d of the function: the frame convention has it as a
 * parameter, the register one has the frames left in b's high half. */
#define DEPTH(g) ((g)->fast ? "(MAXD - (u32)(b >> 32))" : "d")

/* Calls: the interpreter's do_call for a callee known here. */
static void direct_call(fgen *g, uint32_t fidx, uint32_t ab, uint32_t pc) {
  pkw_module *m = g->m;
  cbuf *o = g->b;
  const pkw_functype *t = func_type(m, fidx);
  uint32_t di, i;
  const pkw_code *cd;
  if (fidx < m->nfunc_imports || m->codes[fidx - m->nfunc_imports].code ==
                                     NULL) {
    /* Imported (host or another instance's) or not compiled: the
     * runtime's general call. */
    spill(g, ab, t->nparams);
    out(o, "%s if ((rc = pkw__jrt_call(x, ci, FUNC(%u), fp + %u, %s)) "
           "!= 0) ERR(rc);%s", FSAVE_(g), fidx, ab, DEPTH(g), FLOAD_(g));
    fill(g, ab, t->nresults);
    reload(g);
    return;
  }
  di = fidx - m->nfunc_imports;
  cd = &m->codes[di];
  /* The frame limit and the value stack. The register convention has
   * both in b: the frames this function may still push in the high
   * half, the slots past its frame (fp + frame_size) to the stack's end
   * in the low half, each below 2^31 (BUDGET). The callee's b is then
   * b - (2^32 + K), K = ab + its frame - this frame (K < 0 when it ends
   * inside this one): the frames go down by one, the slots by K. Either
   * going below zero borrows into the top bit of its half (the other
   * half's value is < 2^31, so a borrow out of the low half sets bit 31
   * and one out of the high half bit 63), so one subtraction and one
   * test make both checks, and the difference is the callee's b. */
  if (g->fast) {
    int64_t k = (int64_t)ab + cd->frame_size - (int64_t)g->m->codes[g->idx]
                                                      .frame_size;
    out(o, " if (UNL((nb_ = b - 0x%llxull) & 0x8000000080000000ull))",
        (unsigned long long)((1ll << 32) + k));
  } else {
    out(o, " if (UNL(d >= MAXD || fp + %u > STK_END))", ab + cd->frame_size);
  }
  /* A merged loop entry (find_merges): the back-edge's unit comes before
   * the frame check's trap; both units are charged by FUEL2, which does
   * them one by one when either fails. Then on to the call itself. */
  if (g->merged) {
    out(o, " { FUEL(); TRAP(%d); } FUEL2(); goto Lc%u;",
        PKW_TRAP_STACK_EXHAUSTED, pc);
    return;
  }
  out(o, " TRAP(%d); FUEL();", PKW_TRAP_STACK_EXHAUSTED);
  if (g->label[pc] & LBL_MCALL)
    out(o, "\nLc%u:", pc);
  if (g->conv[di] != CONV_REG) {
    /* The frame convention: arguments, results and fuel through memory;
     * PKW_JIT_TAIL runs the tail calls it armed. */
    spill(g, ab, t->nparams);
    out(o, "%s if ((rc = f%u(x, ci, fp + %u, %s + 1)) != 0 && (rc != %d "
           "|| (rc = pkw__jrt_tail(x, fp + %u, %s + 1)) != 0)) ERR(rc);%s",
        FSAVE_(g), di, ab, DEPTH(g), PKW_JIT_TAIL, ab, DEPTH(g), FLOAD_(g));
    fill(g, ab, t->nresults);
  } else {
    /* The register convention: arguments and fuel in, the first result
     * and fuel out; further results in the callee's frame. */
    out(o, " { r_ = g%u(x, ci, fp + %u, ", di, ab);
    if (g->fast)
      out(o, "nb_");
    else
      out(o, "BUDGET(d + 1, fp + %u)", ab + cd->frame_size);
    out(o, "%s", g->aot ? ", fl" : "");
    for (i = 0; i < t->nparams; i++)
      out(o, ", R(%u)", ab + i);
    if (g->aot)
      out(o, "); if (UNL(r_.f < 0)) PROP(r_); fl = r_.f;");
    else
      out(o, "); if (ERRV) PROP(r_);");
    g->props = 1;
    if (t->nresults > 0)
      out(o, g->aot ? " R(%u) = r_.v;" : " R(%u) = r_;", ab);
    out(o, " }");
    if (t->nresults > 1)
      fill(g, ab + 1, t->nresults - 1);
  }
  reload(g);
}

static void tail_call(fgen *g, uint32_t fidx, uint32_t ab) {
  pkw_module *m = g->m;
  cbuf *o = g->b;
  const pkw_code *cd;
  uint32_t i, di;
  if (fidx < m->nfunc_imports ||
      m->codes[fidx - m->nfunc_imports].code == NULL) {
    spill(g, ab, func_type(m, fidx)->nparams);
    out(o, "%s return pkw__jrt_tail_call(x, ci, FUNC(%u), fp, %u, d);",
        FSAVE_(g), fidx, ab);
    return;
  }
  di = fidx - m->nfunc_imports;
  cd = &m->codes[di];
  /* do_tail_call: arguments to the frame base (in increasing order:
   * ab > 0, so no source is overwritten before it is read), then the
   * checks. Into the locals for a call of this very function, else into
   * the frame the callee reads. */
  for (i = 0; i < cd->nparams; i++)
    if (g->regs && di != g->idx)
      out(o, " fp[%u] = s%u;", i, ab + i);
    else
      out(o, " R(%u) = R(%u);", i, ab + i);
  out(o, " if (fp + %u > STK_END) TRAP(%d); FUEL();", cd->frame_size,
      PKW_TRAP_STACK_EXHAUSTED);
  if (di == g->idx)
    out(o, " goto Lentry;");
  else
    out(o, "%s TAILF = FUNC(%u); return %d;", FSAVE_(g), fidx, PKW_JIT_TAIL);
}

/* The operands of a bulk or table instruction that are slots (bit k:
 * operand word k), as pkw__jrt_op reads them. */
static uint32_t bulk_slots(uint32_t op) {
  switch (op) {
  case PKW_OP_MEMORY_INIT: return 1u << 2 | 1u << 3 | 1u << 4;
  case PKW_OP_MEMORY_COPY: case PKW_OP_MEMORY_FILL:
    return 1u << 1 | 1u << 2 | 1u << 3;
  case PKW_OP_TABLE_GET: return 1u << 1 | 1u << 3;
  case PKW_OP_TABLE_SET: return 1u << 2 | 1u << 3;
  case PKW_OP_TABLE_SIZE: return 1u << 1;
  case PKW_OP_TABLE_GROW: return 1u << 1 | 1u << 3 | 1u << 4;
  case PKW_OP_TABLE_FILL: return 1u << 2 | 1u << 3 | 1u << 4;
  case PKW_OP_TABLE_COPY: case PKW_OP_TABLE_INIT:
    return 1u << 3 | 1u << 4 | 1u << 5;
  default: return 0;   /* data.drop, elem.drop */
  }
}

/* One instruction, the one at pc: its C (no label, no newline). Returns
 * 0, or PKW_EUNSUPPORTED with a message. */
/* ---- bounds already proved ---------------------------------------------- */

/* What an instruction does with a slot (slot_use). */
#define USE_READ 1u
#define USE_WRITE 2u
#define USE_UNKNOWN 4u

/* [U32(slot), U32(slot) + end) was checked on this stretch. */
static int ck_covered(const fgen *g, uint32_t slot, uint64_t end) {
  unsigned i;
  for (i = 0; i < g->nck; i++)
    if (g->ck[i].slot == slot && g->ck[i].end >= end)
      return 1;
  return 0;
}

static void ck_add(fgen *g, uint32_t slot, uint64_t end) {
  unsigned i;
  for (i = 0; i < g->nck; i++)
    if (g->ck[i].slot == slot) {
      if (g->ck[i].end < end)
        g->ck[i].end = end;
      return;
    }
  if (g->nck == sizeof g->ck / sizeof g->ck[0])
    g->nck--;   /* forget the oldest */
  memmove(g->ck + 1, g->ck, g->nck * sizeof g->ck[0]);
  g->ck[0].slot = slot;
  g->ck[0].end = end;
  g->nck++;
}

static unsigned slot_use(const fgen *g, uint32_t pc, uint32_t k);

/* After the instruction at pc: the bounds of the slots it wrote are
 * forgotten (all of them for one whose writes are not known); a copy
 * hands its source's bound to its destination. A conditional branch
 * writes nothing: the straight code goes on after it. */
static void ck_after(fgen *g, uint32_t pc) {
  uint32_t op = op_of(g->code[pc]);
  unsigned i, n = 0;
  if (op == PKW_OP_BR_IF || op == PKW_OP_BR_UNLESS ||
      (op >= PKW_OP_I32_EQ_IMM_BR_IF && op <= PKW_OP_I32_GE_U_BR_IF))
    return;
  for (i = 0; i < g->nck; i++)
    if (!(slot_use(g, pc, g->ck[i].slot) & (USE_WRITE | USE_UNKNOWN)))
      g->ck[n++] = g->ck[i];
  g->nck = n;
  if (op == PKW_OP_COPY)
    for (i = 0; i < g->nck; i++)
      if (g->ck[i].slot == g->code[pc + 2]) {
        ck_add(g, g->code[pc + 1], g->ck[i].end);
        break;
      }
}

static int gen_insn(fgen *g, uint32_t pc) {
  cbuf *o = g->b;
  const uint32_t *c = g->code;
  uint32_t k;
  uint32_t op = op_of(c[pc]), len = op_len[op];
  const uint32_t *p = c + pc;
  if (op == PKW_OP_BR_TABLE)
    len = 3 + p[2] + 1;
  out(o, " ");
  if (op < PKW_OP_COUNT_ && (op_len[op] == 3 || op_len[op] == 4) &&
      op >= PKW_OP_I32_EQZ && op <= PKW_OP_I64_TRUNC_SAT_F64_U) {
    numeric(g, op, p[1], p[2], op_len[op] == 4 ? p[3] : NONE_SLOT);
    return 0;
  }
  switch (op) {
  case PKW_OP_UNREACHABLE: out(o, "TRAP(%d);", PKW_TRAP_UNREACHABLE); break;
  case PKW_OP_BR: branch(g, pc + 1); break;
  case PKW_OP_BR_IF: out(o, "if (U32(%u)) ", p[1]); branch(g, pc + 2); break;
  case PKW_OP_BR_UNLESS: case PKW_OP_I32_EQZ_BR_IF:
    out(o, "if (!U32(%u)) ", p[1]);
    branch(g, pc + 2);
    break;
#define BR2_(name, cmp)                                                     \
case PKW_OP_##name:                                                     \
  out(o, "if (" cmp ") ", p[1], p[2]);                                  \
  branch(g, pc + 3);                                                    \
  break;
  BR2_(I32_EQ_BR_IF, "U32(%u) == U32(%u)")
  BR2_(I32_NE_BR_IF, "U32(%u) != U32(%u)")
  BR2_(I32_LT_S_BR_IF, "S32(%u) < S32(%u)")
  BR2_(I32_LT_U_BR_IF, "U32(%u) < U32(%u)")
  BR2_(I32_GE_S_BR_IF, "S32(%u) >= S32(%u)")
  BR2_(I32_GE_U_BR_IF, "U32(%u) >= U32(%u)")
  BR2_(I32_EQ_IMM_BR_IF, "U32(%u) == %uu")
  BR2_(I32_NE_IMM_BR_IF, "U32(%u) != %uu")
  BR2_(I32_LT_U_IMM_BR_IF, "U32(%u) < %uu")
  BR2_(I32_GT_U_IMM_BR_IF, "U32(%u) > %uu")
  BR2_(I32_LE_U_IMM_BR_IF, "U32(%u) <= %uu")
  BR2_(I32_GE_U_IMM_BR_IF, "U32(%u) >= %uu")
#undef BR2_
#define BR2S_(name, cmp)                                                    \
case PKW_OP_##name:                                                     \
  out(o, "if (S32(%u) " cmp " (i32)%d) ", p[1], (int32_t)p[2]);         \
  branch(g, pc + 3);                                                    \
  break;
  BR2S_(I32_LT_S_IMM_BR_IF, "<")
  BR2S_(I32_GT_S_IMM_BR_IF, ">")
  BR2S_(I32_LE_S_IMM_BR_IF, "<=")
  BR2S_(I32_GE_S_IMM_BR_IF, ">=")
#undef BR2S_
  case PKW_OP_BR_TABLE:
    out(o, "switch (U32(%u)) {", p[1]);
    for (k = 0; k < p[2]; k++) {
      out(o, " case %u: ", k);
      branch(g, pc + 3 + k);
    }
    out(o, " default: ");
    branch(g, pc + 3 + p[2]);
    out(o, " }");
    break;
  case PKW_OP_RETURN: {
    /* The results are in slots 0.. (the translation put them there). */
    uint32_t nr = g->m->types[g->m->func_type[g->m->nfunc_imports +
                                               g->idx]].nresults;
    if (g->fast) {
      if (nr > 1)
        spill(g, 1, nr - 1);
      if (nr > 0)
        out(o, " RET(R(%u));", 0u);
      else
        out(o, " RET(0);");
    } else {
      spill(g, 0, nr);
      out(o, "%s return 0;", FSAVE_(g));
    }
    break;
  }
  case PKW_OP_RETURN1:
    if (g->fast)
      out(o, "RET(R(%u));", p[1]);
    else
      out(o, "fp[0] = R(%u);%s return 0;", p[1], FSAVE_(g));
    break;
  case PKW_OP_CALL: direct_call(g, p[1], p[2], pc); break;
  case PKW_OP_CALL_INDIRECT:
    spill(g, p[4], g->m->types[p[1]].nparams);
    out(o, "%s if ((rc = pkw__jrt_call_indirect(x, ci, %u, %u, "
           "U32(%u), fp + %u, %s)) != 0) ERR(rc);%s", FSAVE_(g), p[1], p[2],
        p[3], p[4], DEPTH(g), FLOAD_(g));
    fill(g, p[4], g->m->types[p[1]].nresults);
    reload(g);
    break;
  case PKW_OP_RETURN_CALL: tail_call(g, p[1], p[2]); break;
  case PKW_OP_RETURN_CALL_INDIRECT:
    spill(g, p[4], g->m->types[p[1]].nparams);
    out(o, "%s return pkw__jrt_tail_call_indirect(x, ci, %u, %u, "
           "U32(%u), fp, %u, d);", FSAVE_(g), p[1], p[2], p[3], p[4]);
    break;
  case PKW_OP_COPY: out(o, "R(%u) = R(%u);", p[1], p[2]); break;
  case PKW_OP_CONST32: out(o, "R(%u) = %uu;", p[1], p[2]); break;
  case PKW_OP_CONST64:
    out(o, "R(%u) = %lluull;", p[1],
        (unsigned long long)p[2] | ((unsigned long long)p[3] << 32));
    break;
  case PKW_OP_SELECT:
    out(o, "R(%u) = U32(%u) ? R(%u) : R(%u);", p[1], p[4], p[2], p[3]);
    break;
  case PKW_OP_GLOBAL_GET: out(o, "R(%u) = GLOB(%u);", p[1], p[2]); break;
  case PKW_OP_GLOBAL_SET: out(o, "GLOB(%u) = R(%u);", p[1], p[2]); break;
  case PKW_OP_MEMORY_SIZE: out(o, "R(%u) = MPAGES(M);", p[1]); break;
  case PKW_OP_MEMORY_GROW:
    out(o, "R(%u) = pkw__jrt_memory_grow(ci, U32(%u));", p[1], p[2]);
    reload(g);
    break;
  case PKW_OP_I32_LOAD_ADDI: case PKW_OP_I32_LOAD8_U_ADDI: {
    unsigned n = op == PKW_OP_I32_LOAD_ADDI ? 4 : 1;
    out(o, "{ if ((u64)(u32)(U32(%u) + %uu) + %lluull > ms) TRAP(%d); "
           "R(%u) = %s(mb + ((u64)(u32)(U32(%u) + %uu) + %uu)); }",
        p[2], p[3], (unsigned long long)p[4] + n, PKW_TRAP_MEMORY_OOB, p[1],
        n == 4 ? "(u64)*(u32 *)" : "(u64)*(u8 *)", p[2], p[3], p[4]);
    break;
  }
  case PKW_OP_I32_STORE_ADDI:
    out(o, "{ if ((u64)(u32)(U32(%u) + %uu) + %lluull > ms) TRAP(%d); "
           "*(u32 *)(mb + ((u64)(u32)(U32(%u) + %uu) + %uu)) = U32(%u); }",
        p[1], p[3], (unsigned long long)p[4] + 4, PKW_TRAP_MEMORY_OOB, p[1],
        p[3], p[4], p[2]);
    break;
#define IMM_(name, expr)                                                    \
case PKW_OP_##name:                                                     \
  out(o, "R(%u) = " expr ";", p[1], p[2], p[3]);                       \
  break;
  IMM_(I32_ADD_IMM, "(u32)(U32(%u) + %uu)")
  IMM_(I32_SUB_IMM, "(u32)(U32(%u) - %uu)")
  IMM_(I32_MUL_IMM, "(u32)(U32(%u) * %uu)")
  IMM_(I32_AND_IMM, "U32(%u) & %uu")
  IMM_(I32_OR_IMM, "U32(%u) | %uu")
  IMM_(I32_XOR_IMM, "U32(%u) ^ %uu")
  IMM_(I32_EQ_IMM, "U32(%u) == %uu")
  IMM_(I32_NE_IMM, "U32(%u) != %uu")
  IMM_(I32_LT_U_IMM, "U32(%u) < %uu")
  IMM_(I32_GT_U_IMM, "U32(%u) > %uu")
  IMM_(I32_LE_U_IMM, "U32(%u) <= %uu")
  IMM_(I32_GE_U_IMM, "U32(%u) >= %uu")
#undef IMM_
  case PKW_OP_I32_SHL_IMM:
    out(o, "R(%u) = (u32)(U32(%u) << %u);", p[1], p[2], p[3] & 31);
    break;
  case PKW_OP_I32_SHR_S_IMM:
    out(o, "R(%u) = (u32)(S32(%u) >> %u);", p[1], p[2], p[3] & 31);
    break;
  case PKW_OP_I32_SHR_U_IMM:
    out(o, "R(%u) = U32(%u) >> %u;", p[1], p[2], p[3] & 31);
    break;
#define IMMS_(name, cmp)                                                    \
case PKW_OP_##name:                                                     \
  out(o, "R(%u) = S32(%u) " cmp " (i32)%d;", p[1], p[2], (int32_t)p[3]); \
  break;
  IMMS_(I32_LT_S_IMM, "<")
  IMMS_(I32_GT_S_IMM, ">")
  IMMS_(I32_LE_S_IMM, "<=")
  IMMS_(I32_GE_S_IMM, ">=")
#undef IMMS_
  case PKW_OP_REF_FUNC:
    out(o, "R(%u) = (u64)FUNC(%u);", p[1], p[2]);
    break;
  case PKW_OP_MEMORY_INIT: case PKW_OP_DATA_DROP: case PKW_OP_MEMORY_COPY:
  case PKW_OP_MEMORY_FILL: case PKW_OP_TABLE_GET: case PKW_OP_TABLE_SET:
  case PKW_OP_TABLE_SIZE: case PKW_OP_TABLE_GROW: case PKW_OP_TABLE_FILL:
  case PKW_OP_TABLE_COPY: case PKW_OP_TABLE_INIT: case PKW_OP_ELEM_DROP: {
    /* Bulk and table instructions: one runtime helper each, given the
     * instruction's operand words (slot numbers and indexes). */
    static const char *const nm = "o";
    uint32_t sl = bulk_slots(op), k2;
    for (k2 = 1; k2 < len; k2++)
      if (sl & (1u << k2))
        spill(g, p[k2], 1);
    out(o, " { static const u32 %s%u[] = {", nm, pc);
    for (k = 1; k < len; k++)
      out(o, "%uu,", p[k]);
    out(o, "0}; if ((rc = pkw__jrt_op(ci, %u, fp, %s%u)) != 0) TRAP(rc); }",
        op, nm, pc);
    /* The results: table.get, table.size, table.grow write slot 1. */
    if (op == PKW_OP_TABLE_GET || op == PKW_OP_TABLE_SIZE ||
        op == PKW_OP_TABLE_GROW)
      fill(g, p[1], 1);
    reload(g);
    break;
  }
  case PKW_OP_MARK: {
    /* PKW_DECODE_DIRTY: the store that follows writes [ea, ea + n), if
     * in bounds (an out-of-bounds store traps and marks nothing; the
     * store checks again). A tracked memory's chunks are tested in the
     * map, and only a chunk not marked yet calls the runtime. */
    unsigned n = p[3];
    out(o, "{ ea_ = (u64)U32(%u) + %uu; if (ea_ + %u <= ms && dm && "
           "(!dm[ea_ >> %u]",
        p[1], p[2], n, PKW_CHUNK_SHIFT);
    if (n > 1)   /* the last byte's chunk: the next, across a border */
      out(o, " || !dm[(ea_ + %u) >> %u]", n - 1, PKW_CHUNK_SHIFT);
    out(o, ")) pkw__jrt_mark(M, ea_, %u); }", n);
    break;
  }
  case PKW_OP_LAZY:
  default:
    if (op >= PKW_OP_I32_LOAD && op <= PKW_OP_I64_LOAD32_U &&
        ck_covered(g, p[2], (uint64_t)p[3] + load_size(op))) {
      out(o, "R(%u) = %s(mb + ((u64)U32(%u) + %uu));", p[1], load_expr(op),
          p[2], p[3]);
      break;
    }
    if (op >= PKW_OP_I32_STORE && op <= PKW_OP_I64_STORE32 &&
        ck_covered(g, p[1], (uint64_t)p[3] + load_size(op))) {
      unsigned n = load_size(op);
      out(o, "*(%s *)(mb + ((u64)U32(%u) + %uu)) = (%s)R(%u);",
          store_type(n), p[1], p[3], store_type(n), p[2]);
      break;
    }
    if (op >= PKW_OP_I32_LOAD && op <= PKW_OP_I64_LOAD32_U) {
      unsigned n = load_size(op);
      ck_add(g, p[2], (uint64_t)p[3] + n);
      out(o, "{ if ((u64)U32(%u) + %lluull > ms) TRAP(%d); "
             "R(%u) = %s(mb + ((u64)U32(%u) + %uu)); }",
          p[2], (unsigned long long)p[3] + n, PKW_TRAP_MEMORY_OOB, p[1],
          load_expr(op), p[2], p[3]);
      break;
    }
    if (op >= PKW_OP_I32_STORE && op <= PKW_OP_I64_STORE32) {
      unsigned n = load_size(op);
      ck_add(g, p[1], (uint64_t)p[3] + n);
      out(o, "{ if ((u64)U32(%u) + %lluull > ms) TRAP(%d); "
             "*(%s *)(mb + ((u64)U32(%u) + %uu)) = (%s)R(%u); }",
          p[1], (unsigned long long)p[3] + n, PKW_TRAP_MEMORY_OOB,
          store_type(n), p[1], p[3], store_type(n), p[2]);
      break;
    }
    pkw__errf(g->err, g->errlen,
              "function %u: instruction %u not supported by the jit tier",
              g->m->nfunc_imports + g->idx, op);
    return PKW_EUNSUPPORTED;
  }
  return 0;
}

/* ---- simple loops: the unchecked copy ------------------------------------ */

/* A signed constant added in C (u64 arithmetic: wraps as it must). */
static void vl_addk(cbuf *o, int64_t k) {
  if (k < 0)
    out(o, " - %lluull", (unsigned long long)-k);
  else if (k > 0)
    out(o, " + %lluull", (unsigned long long)k);
}

/* Slot s as a 64-bit operand of the copy: a wide slot holds its exact
 * value (below 2^32, the header checked), another its low half. */
static void vl_opnd(fgen *g, uint32_t s) {
  if (g->vl->cw[s])
    out(g->b, "R(%u)", s);
  else
    out(g->b, "(u64)U32(%u)", s);
}

/* An instruction of the unchecked copy that differs from the checked
 * one: accesses without their check, writes of wide slots in 64 bits.
 * Returns 1 when it wrote the instruction. */
static int vl_insn(fgen *g, uint32_t pc) {
  cbuf *o = g->b;
  const uint32_t *p = g->code + pc;
  uint32_t op = op_of(p[0]);
  const vloop *L = g->vl;
  /* The address in u64 (it cannot wrap: the header checked), the
   * access one expression, which the jit may fold into its consumer. */
  if (op >= PKW_OP_I32_LOAD && op <= PKW_OP_I64_LOAD32_U) {
    out(o, " R(%u) = %s(mb + (", p[1], load_expr(op));
    vl_opnd(g, p[2]);
    out(o, " + %uu));", p[3]);
    return 1;
  }
  if (op >= PKW_OP_I32_STORE && op <= PKW_OP_I64_STORE32) {
    unsigned n = load_size(op);
    out(o, " *(%s *)(mb + (", store_type(n));
    vl_opnd(g, p[1]);
    out(o, " + %uu)) = (%s)R(%u);", p[3], store_type(n), p[2]);
    return 1;
  }
  if (op == PKW_OP_I32_LOAD_ADDI || op == PKW_OP_I32_LOAD8_U_ADDI) {
    out(o, " R(%u) = %s(mb + (", p[1],
        op == PKW_OP_I32_LOAD_ADDI ? "(u64)*(u32 *)" : "(u64)*(u8 *)");
    vl_opnd(g, p[2]);
    vl_addk(o, (int32_t)p[3]);
    out(o, " + %uu));", p[4]);
    return 1;
  }
  if (op == PKW_OP_I32_STORE_ADDI) {
    out(o, " *(u32 *)(mb + (");
    vl_opnd(g, p[1]);
    vl_addk(o, (int32_t)p[3]);
    out(o, " + %uu)) = U32(%u);", p[4], p[2]);
    return 1;
  }
  if (vl_dest(op, p) == NONE_SLOT || !L->wpc[pc - L->h] ||
      op == PKW_OP_CONST32)
    return 0;
  /* An affine value: one of the affine instructions (vl_walk). */
  out(o, " R(%u) = ", p[1]);
  vl_opnd(g, p[2]);
  switch (op) {
  case PKW_OP_I32_ADD: out(o, " + "); vl_opnd(g, p[3]); break;
  case PKW_OP_I32_SUB: out(o, " - "); vl_opnd(g, p[3]); break;
  case PKW_OP_I32_ADD_IMM: vl_addk(o, (int32_t)p[3]); break;
  case PKW_OP_I32_SUB_IMM: vl_addk(o, -(int64_t)(int32_t)p[3]); break;
  case PKW_OP_I32_MUL_IMM: out(o, " * %uu", p[3]); break;
  case PKW_OP_I32_SHL_IMM: out(o, " << %u", p[3] & 31); break;
  case PKW_OP_COPY: break;
  default:   /* cannot be: vl_walk makes no other write wide */
    o->rc = PKW_EUNSUPPORTED;
    break;
  }
  out(o, ";");
  return 1;
}

/* The sum of an affine value's terms at the header, as an i64. */
static void vl_terms(fgen *g, const aff *a) {
  uint32_t i;
  out(g->b, "(0");
  for (i = 0; i < a->n; i++)
    out(g->b, " %s %d * (i64)U32(%u)", a->coef[i] < 0 ? "-" : "+",
        a->coef[i] < 0 ? -a->coef[i] : a->coef[i], a->slot[i]);
  out(g->b, ")");
}

/* "(i64)v" for a signed constant. */
static void vl_num(cbuf *o, int64_t v) {
  out(o, v < 0 ? "(-(i64)%llu)" : "((i64)%llu)",
      (unsigned long long)(v < 0 ? -v : v));
}

static void fold_text(fgen *g, size_t from, uint32_t pc, fold *f);
static void fold_end(fgen *g, fold *f);

/* At the header of the simple loop L: the count, the checks, the
 * unchecked chunk. Falls to Lv<h> (the checked copy) when a check fails. */
static int vl_emit(fgen *g) {
  cbuf *o = g->b;
  vloop *L = g->vl;
  const char *fv = g->aot || g->floc ? "fl" : "FUELV";
  int64_t st = aff_step(L, &L->cnt), as = st < 0 ? -st : st;
  fold fd;
  uint32_t i, pc;
  int r;
  out(o, "\n { e_ = ");
  vl_terms(g, &L->cnt);
  out(o, " + ");
  vl_num(o, L->cnt.k);
  out(o, "; b_ = ");
  if (L->bimm)
    out(o, "(i64)%uu", L->bound);
  else
    out(o, "(i64)U32(%u)", L->bound);
  /* n_: the iterations left, the last one's back-edge not taken. */
  out(o, "; n_ = 0;\n  if (e_ >= 0 && e_ <= 0xffffffffll) ");
  if (L->cmp == VL_NE)
    out(o, "{ d_ = %s; if (d_ >= 0 && d_ %% %llu == 0) "
           "n_ = d_ / %llu + 1; }\n",
        st > 0 ? "b_ - e_" : "e_ - b_", (unsigned long long)as,
        (unsigned long long)as);
  else
    out(o, "n_ = %s ? 1 : (%s + %llu) / %llu + 1;\n",
        L->cmp == VL_LT ? "e_ >= b_" : "e_ <= b_",
        L->cmp == VL_LT ? "b_ - e_" : "e_ - b_", (unsigned long long)(as - 1),
        (unsigned long long)as);
  out(o, "  m_ = n_ < %d ? n_ : %d;\n  if (m_ > 0 && %s - (m_ - 1) >= %s",
      VL_CHUNK, VL_CHUNK, fv, g->leaf ? "*ip_" : "INTR");
  for (i = 0; i < L->ngrp; i++) {
    const vgroup *gp = &L->grp[i];
    out(o, "\n   && ");
    vl_terms(g, &gp->a);
    out(o, " + ");
    vl_num(o, gp->kmin);
    if (gp->step < 0) {
      out(o, " + (m_ - 1) * ");
      vl_num(o, gp->step);
    }
    out(o, " >= 0 && ");
    vl_terms(g, &gp->a);
    out(o, " + ");
    vl_num(o, gp->kmax);
    if (gp->step > 0) {
      out(o, " + (m_ - 1) * ");
      vl_num(o, gp->step);
    }
    out(o, " <= 0xffffffffll");
    if (gp->mem) {
      out(o, " && ");
      vl_terms(g, &gp->a);
      out(o, " + ");
      vl_num(o, gp->kend);
      if (gp->step > 0) {
        out(o, " + (m_ - 1) * ");
        vl_num(o, gp->step);
      }
      out(o, " <= (i64)ms");
    }
  }
  out(o, ") {\n ");
  /* Induction slots start wide (as the iterations leave them); no
   * other slot is (vl_find cleared the last loop's). */
  for (i = 0; i < L->nwl; i++) {
    uint32_t s = L->wl[i];
    L->cw[s] = L->iv[s];
    if (L->cw[s])
      out(o, " R(%u) = U32(%u);", s, s);
  }
  out(o, "\n  for (k_ = 0; k_ < m_; k_++) {\n");
  g->nck = 0;   /* the accesses here have no check; Lv follows */
  fd.n = 0;
  fd.ren = 0;
  for (pc = L->h; pc < L->be; pc += insn_len(g, pc)) {
    uint32_t d = vl_dest(op_of(g->code[pc]), g->code + pc);
    size_t from = o->n;
    if (!vl_insn(g, pc) && (r = gen_insn(g, pc)) != 0)
      return r;
    if (d != NONE_SLOT)
      L->cw[d] = L->wpc[pc - L->h];
    if (!g->aot)
      fold_text(g, from, pc, &fd);
    if (o->n > from)
      out(o, "\n");
  }
  fold_end(g, &fd);
  g->nck = 0;
  out(o, "  }\n  %s -= m_ - 1; if (m_ < n_) { %s; goto L%u; } goto L%u;\n"
         " } }\nLv%u:",
      fv, g->leaf ? "FUELL()" : "FUEL()", L->h, L->next, L->h);
  return 0;
}

/* ---- folding (jit) ------------------------------------------------------------ */

/* libtcc gives every C variable a place in memory and every statement a
 * store: a value that one instruction computes and a later one reads
 * costs a store and a load, and on a pointer chase or an accumulation
 * that store and load are the loop's critical path. On the jit an
 * operand-stack value a pure one-expression instruction computes waits
 * instead, as a C expression, for the instruction that reads it, and
 * goes into that instruction's expression when the slot is dead after
 * it (overwritten there, or by the straight code after it before any
 * read); libtcc then keeps it in a register. A load is such a value: its
 * bounds check (a statement: it may trap) stays where the load was, its
 * read waits. A waiting value is written to its slot first ("flushed")
 * before anything it cannot wait past: an instruction that writes a slot
 * it reads, a store or call when it reads memory, a branch, a label, or
 * an instruction whose C this does not know. So every read sees what it
 * would have, and every trap comes where it did. Several values may wait
 * at once (an accumulation: the loaded operands and the sum). */

/* Numeric instructions on integers only (operands and result), whose C
 * reads slots as R, U32, S32, S64 only (the float views F32, F64 are
 * macros of a slot number, which the substitution cannot see). */
static int int_numeric(uint32_t op) {
  static uint8_t t[PKW_OP_COUNT_ + 1];
  static int ready;
  if (!ready) {
#define INT_(name, opc, n, a, r)                                            \
  t[PKW_OP_##name] = (uint8_t)((PKW_##a == PKW_I32 || PKW_##a == PKW_I64) && \
                               (PKW_##r == PKW_I32 || PKW_##r == PKW_I64));
    PKW_NUMOPS(INT_)
#undef INT_
    ready = 1;
  }
  return op < PKW_OP_COUNT_ && t[op];
}

/* The slots a straight-code instruction reads (r, NONE_SLOT padded) and
 * writes (*w, or NONE_SLOT): 1, or 0 when not known this way. */
static int insn_rw(const fgen *g, uint32_t pc, uint32_t r[3], uint32_t *w) {
  const uint32_t *p = g->code + pc;
  uint32_t op = op_of(p[0]);
  r[0] = r[1] = r[2] = *w = NONE_SLOT;
  if (op < PKW_OP_COUNT_ && (op_len[op] == 3 || op_len[op] == 4) &&
      op >= PKW_OP_I32_EQZ && op <= PKW_OP_I64_TRUNC_SAT_F64_U) {
    *w = p[1];
    r[0] = p[2];
    if (op_len[op] == 4)
      r[1] = p[3];
  } else if ((op >= PKW_OP_I32_ADD_IMM && op <= PKW_OP_I32_GE_U_IMM) ||
             op == PKW_OP_COPY || op == PKW_OP_I32_LOAD_ADDI ||
             op == PKW_OP_I32_LOAD8_U_ADDI ||
             (op >= PKW_OP_I32_LOAD && op <= PKW_OP_I64_LOAD32_U)) {
    *w = p[1];
    r[0] = p[2];
  } else if (op == PKW_OP_CONST32 || op == PKW_OP_CONST64 ||
             op == PKW_OP_GLOBAL_GET) {
    *w = p[1];
  } else if (op == PKW_OP_SELECT) {
    *w = p[1];
    r[0] = p[2];
    r[1] = p[3];
    r[2] = p[4];
  } else if (op == PKW_OP_GLOBAL_SET) {
    r[0] = p[2];
  } else if (op == PKW_OP_I32_STORE_ADDI ||
             (op >= PKW_OP_I32_STORE && op <= PKW_OP_I64_STORE32)) {
    r[0] = p[1];
    r[1] = p[2];
  } else {
    return 0;
  }
  return 1;
}

/* What the instruction at pc does with slot k (USE_* bits), as far as
 * is known without following branches. */
static unsigned slot_use(const fgen *g, uint32_t pc, uint32_t k) {
  const uint32_t *p = g->code + pc;
  uint32_t op = op_of(p[0]);
  uint32_t r[3], w;
  if (op == PKW_OP_RETURN1 || op == PKW_OP_RETURN) {
    /* The function ends: it reads its results (slots 0.. for RETURN),
     * and no other slot is read again (USE_WRITE: dead). */
    uint32_t nr = g->m->types[g->m->func_type[g->m->nfunc_imports +
                                               g->idx]].nresults;
    if (op == PKW_OP_RETURN1 ? k == p[1] : k < nr)
      return USE_READ;
    return USE_WRITE;
  }
  if ((op == PKW_OP_CALL || op == PKW_OP_CALL_INDIRECT ||
       op == PKW_OP_RETURN_CALL || op == PKW_OP_RETURN_CALL_INDIRECT) &&
      g->regs) {
    /* Slots in C locals: a call reads its arguments and writes its
     * results (at its argument base) and nothing else; after a tail
     * call nothing is read. (With the slots in the frame the callee's
     * frame overlaps those above the base: not known.) */
    int ind = op == PKW_OP_CALL_INDIRECT || op == PKW_OP_RETURN_CALL_INDIRECT;
    const pkw_functype *t = ind ? &g->m->types[p[1]] : func_type(g->m, p[1]);
    uint32_t ab = ind ? p[4] : p[2];
    unsigned rd = (ind && k == p[3]) || (k >= ab && k - ab < t->nparams)
                      ? USE_READ : 0u;
    if (op == PKW_OP_RETURN_CALL || op == PKW_OP_RETURN_CALL_INDIRECT)
      return rd ? rd : USE_WRITE;
    return rd | (k >= ab && k - ab < t->nresults ? USE_WRITE : 0u);
  }
  if (!insn_rw(g, pc, r, &w))
    return USE_UNKNOWN;
  return (r[0] == k || r[1] == k || r[2] == k ? USE_READ : 0u) |
         (w == k ? USE_WRITE : 0u);
}

/* A conditional branch whose condition reads only slots: how many
 * (*nr, in r) and where its target operand is (*tp), or 0. */
static int cond_branch(const fgen *g, uint32_t pc, uint32_t r[3],
                       uint32_t *tp) {
  const uint32_t *p = g->code + pc;
  uint32_t op = op_of(p[0]);
  r[0] = r[1] = r[2] = NONE_SLOT;
  if (op == PKW_OP_BR_IF || op == PKW_OP_BR_UNLESS ||
      op == PKW_OP_I32_EQZ_BR_IF) {
    r[0] = p[1];
    *tp = pc + 2;
  } else if (op >= PKW_OP_I32_EQ_IMM_BR_IF && op <= PKW_OP_I32_GE_U_IMM_BR_IF) {
    r[0] = p[1];
    *tp = pc + 3;
  } else if (op >= PKW_OP_I32_EQ_BR_IF && op <= PKW_OP_I32_GE_U_BR_IF) {
    r[0] = p[1];
    r[1] = p[2];
    *tp = pc + 3;
  } else {
    return 0;
  }
  return 1;
}

/* Slot k holds nothing anyone reads from the instruction at pc on: on
 * every path it is written before it is read (a conditional branch's
 * two ways, an unconditional one's target; a path coming back to a
 * branch target it went through reads nothing new). A call, anything
 * not known, or more than the walk's budget ends the search: not dead. */
typedef struct dwalk {
  unsigned budget, nseen;
  uint32_t seen[16];   /* the branch targets walked from */
} dwalk;

static int dead_walk(const fgen *g, uint32_t pc, uint32_t k, dwalk *dw) {
  uint32_t r[3], tp, t, i;
  unsigned u;
  while (pc < g->ncode) {
    if (dw->budget == 0)
      return 0;
    dw->budget--;
    if (cond_branch(g, pc, r, &tp) || op_of(g->code[pc]) == PKW_OP_BR) {
      int cond = op_of(g->code[pc]) != PKW_OP_BR;
      if (cond && (r[0] == k || r[1] == k))
        return 0;
      t = target(g, cond ? tp : pc + 1);
      for (i = 0; i < dw->nseen && dw->seen[i] != t; i++)
        ;
      if (i == dw->nseen) {   /* a new target: walk it */
        if (dw->nseen == sizeof dw->seen / sizeof dw->seen[0])
          return 0;
        dw->seen[dw->nseen++] = t;
        if (!cond) {
          pc = t;
          continue;
        }
        if (!dead_walk(g, t, k, dw))
          return 0;
      } else if (!cond) {
        return 1;   /* back where it was: nothing read on the way */
      }
      pc += insn_len(g, pc);
      continue;
    }
    if ((u = slot_use(g, pc, k)) != 0)
      return u == USE_WRITE;
    pc += insn_len(g, pc);
  }
  return 0;
}

static int dead_from(const fgen *g, uint32_t pc, uint32_t k) {
  dwalk dw;
  dw.budget = 96;
  dw.nseen = 0;
  return dead_walk(g, pc, k, &dw);
}

/* Slot k holds nothing anyone reads once the instruction at pc is done. */
static int dead_after(const fgen *g, uint32_t pc, uint32_t k) {
  return dead_from(g, pc + insn_len(g, pc), k);
}

static int is_ident(char ch) {
  return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
         (ch >= '0' && ch <= '9');
}

/* An instruction whose C names slots only as R, U32, S32, S64, all of
 * them read before any is written: a slot's reads in it may be
 * replaced by an expression of the same value. */
static int fold_reader(uint32_t op) {
  return int_numeric(op) || op == PKW_OP_CONST32 || op == PKW_OP_CONST64 ||
         op == PKW_OP_GLOBAL_GET ||
         (op >= PKW_OP_I32_ADD_IMM && op <= PKW_OP_I32_GE_U_IMM) ||
         op == PKW_OP_COPY || op == PKW_OP_SELECT ||
         op == PKW_OP_GLOBAL_SET || op == PKW_OP_I32_LOAD_ADDI ||
         op == PKW_OP_I32_LOAD8_U_ADDI || op == PKW_OP_I32_STORE_ADDI ||
         (op >= PKW_OP_I32_LOAD && op <= PKW_OP_I64_STORE32);
}

/* An instruction that may wait as an expression: pure, one expression
 * (loads: their check apart), its result an operand-stack slot. */
static int fold_source(const fgen *g, uint32_t pc) {
  uint32_t op = op_of(g->code[pc]);
  if (!(op == PKW_OP_CONST32 || op == PKW_OP_CONST64 || op == PKW_OP_COPY ||
        (op >= PKW_OP_I32_ADD_IMM && op <= PKW_OP_I32_GE_U_IMM) ||
        (op >= PKW_OP_I32_LOAD && op <= PKW_OP_I64_LOAD32_U) ||
        op == PKW_OP_I32_LOAD_ADDI || op == PKW_OP_I32_LOAD8_U_ADDI ||
        (op < PKW_OP_COUNT_ && (op_len[op] == 3 || op_len[op] == 4) &&
         op >= PKW_OP_I32_EQZ && op <= PKW_OP_I64_TRUNC_SAT_F64_U)))
    return 0;
  return g->code[pc + 1] >= g->m->codes[g->idx].nlocals;
}

static int is_load(uint32_t op) {
  return (op >= PKW_OP_I32_LOAD && op <= PKW_OP_I64_LOAD32_U) ||
         op == PKW_OP_I32_LOAD_ADDI || op == PKW_OP_I32_LOAD8_U_ADDI;
}

/* In the text written at b->p + from, each read of slot k becomes
 * `repl`, in parentheses if paren (a write "s<k> = " stays). A use of
 * the slot's address (the jit's float views) cannot take an expression:
 * the slot is written first, and then 1 is returned (else 0). */
static int subst(cbuf *o, size_t from, uint32_t k, const char *repl,
                 int paren) {
  char name[16], *t;
  size_t nl, len = o->n - from, i;
  int wrote = 0;
  t = pkw__realloc(o->alloc, NULL, len + 1);
  if (t == NULL) {
    o->rc = PKW_ENOMEM;
    return 1;
  }
  memcpy(t, o->p + from, len);
  t[len] = '\0';
  o->n = from;
  nl = (size_t)snprintf(name, sizeof name, "s%u", k);
  for (i = 0; i + nl < len; i++)
    if (t[i] == '&' && strncmp(t + i + 1, name, nl) == 0 &&
        !is_ident(t[i + 1 + nl]))
      break;
  if (i + nl < len) {
    out(o, " %s = %s;", name, repl);
    put(o, t, len);
    i = len;
    wrote = 1;
  } else {
    i = 0;
  }
  while (i < len) {
    if (strncmp(t + i, name, nl) == 0 && (i == 0 || !is_ident(t[i - 1])) &&
        !is_ident(t[i + nl]) && strncmp(t + i + nl, " = ", 3) != 0) {
      if (paren)
        out(o, "(%s)", repl);
      else
        put(o, repl, strlen(repl));
      i += nl;
    } else {
      size_t j = i + 1;
      while (j < len && t[j] != 's')
        j++;
      put(o, t + i, j - i);
      i = j;
    }
  }
  pkw__realloc(o->alloc, t, 0);
  return wrote;
}

/* Writes waiting value i to its slot at `at` (before the text written
 * since), and forgets it. Returns the length written. */
static size_t fold_flush(fgen *g, fold *f, unsigned i, size_t at) {
  size_t n0 = g->b->n;
  char head[24];
  size_t hl = (size_t)snprintf(head, sizeof head, " s%u = ", f->w[i].slot);
  size_t el = strlen(f->w[i].e);
  cb_reserve(g->b, hl + el + 1);
  if (g->b->rc == 0) {
    memmove(g->b->p + at + hl + el + 1, g->b->p + at, g->b->n - at);
    memcpy(g->b->p + at, head, hl);
    memcpy(g->b->p + at + hl, f->w[i].e, el);
    g->b->p[at + hl + el] = ';';
    g->b->n += hl + el + 1;
  }
  f->w[i] = f->w[--f->n];
  return g->b->n - n0;
}

/* Every waiting value to its slot, at the end of the text (before a
 * label, at the end of straight code). */
static void fold_end(fgen *g, fold *f) {
  while (f->n > 0)
    fold_flush(g, f, f->n - 1, g->b->n);
  f->ren = 0;
}

/* Adds slot k to a read set (nrd > FOLD_RD: too many to keep). */
static void rd_add(uint32_t *rd, unsigned *nrd, uint32_t k) {
  unsigned j;
  if (k == NONE_SLOT || *nrd > FOLD_RD)
    return;
  for (j = 0; j < *nrd; j++)
    if (rd[j] == k)
      return;
  if (*nrd == FOLD_RD)
    *nrd = FOLD_RD + 1;
  else
    rd[(*nrd)++] = k;
}

/* The text of the instruction at pc, just written at b->p + from (the
 * jit, slots in C locals): waiting values it reads go into it, those it
 * cannot be written past are written first, and it may become a waiting
 * value itself (its text then removed, a load's check left). */
static void fold_text(fgen *g, size_t from, uint32_t pc, fold *f) {
  cbuf *o = g->b;
  char name[32];
  uint32_t op = op_of(g->code[pc]), r[3], w;
  uint32_t rd[FOLD_RD];
  unsigned nrd = 0, i, j, u;
  int known, mem = is_load(op), wmem, ren = f->ren;
  size_t own = from;   /* where the instruction's own text starts */
  if (o->rc != 0)
    return;
  known = insn_rw(g, pc, r, &w) && fold_reader(op);
  /* A conditional branch: a value its condition reads goes in if the
   * slot is dead both after it and at its target; the rest is written
   * first (the target may read it). */
  if (!known && cond_branch(g, pc, r, &w)) {
    uint32_t t = target(g, w);
    for (i = 0; i < f->n && o->rc == 0;) {
      uint32_t k = f->w[i].slot;
      if ((k == r[0] || k == r[1]) && f->w[i].nrd <= FOLD_RD &&
          dead_after(g, pc, k) && dead_from(g, t, k)) {
        subst(o, own, k, f->w[i].e, 0);
        f->w[i] = f->w[--f->n];
      } else {
        own += fold_flush(g, f, i, own);
      }
    }
    f->ren = 0;
    return;
  }
  /* Stores, and whatever this does not know, may write memory. */
  wmem = !known || op == PKW_OP_I32_STORE_ADDI ||
         (op >= PKW_OP_I32_STORE && op <= PKW_OP_I64_STORE32);
  for (i = 0; i < 3 && known; i++)
    rd_add(rd, &nrd, r[i]);
  f->ren = 0;
  if (ren) {   /* after a copy: its source for its destination */
    snprintf(name, sizeof name, "s%u", f->rb);
    subst(o, own, f->ra, name, 0);
    rd_add(rd, &nrd, f->rb);
  }
  /* The waiting values: into this one, written before it, or dropped. */
  for (i = 0; i < f->n && o->rc == 0;) {
    uint32_t k = f->w[i].slot;
    int clash = f->w[i].nrd > FOLD_RD;
    u = known ? slot_use(g, pc, k) : USE_UNKNOWN;
    for (j = 0; j < f->w[i].nrd && !clash && known; j++)
      clash = f->w[i].rd[j] == w;
    if (known && (u & USE_READ) &&
        ((u & USE_WRITE) || dead_after(g, pc, k))) {
      /* Read here, dead after: the expression goes in (read before
       * this one writes anything: fold_reader). The slot is no longer
       * read, its expression's slots are. */
      if (subst(o, own, k, f->w[i].e, 0) == 0)
        for (j = 0; j < nrd; j++)
          if (rd[j] == k) {
            rd[j] = rd[--nrd];
            break;
          }
      for (j = 0; j < f->w[i].nrd; j++)
        rd_add(rd, &nrd, f->w[i].rd[j]);
      if (f->w[i].nrd > FOLD_RD)
        nrd = FOLD_RD + 1;
      mem |= f->w[i].mem;
      f->w[i] = f->w[--f->n];
    } else if (known && u == USE_WRITE) {
      f->w[i] = f->w[--f->n];   /* overwritten unread: never needed */
    } else if (!known || u != 0 || clash || (wmem && f->w[i].mem)) {
      /* Read here but needed after, or this one may change what it
       * reads: written first. */
      own += fold_flush(g, f, i, own);
    } else {
      i++;   /* it waits past this one */
    }
  }
  if (o->rc != 0)
    return;
  /* This one waits if it can: " s<d> = EXPR;" or a checked load's
   * " { if (CHECK) TRAP(c); s<d> = EXPR; }" (the check stays). */
  if (known && fold_source(g, pc) && f->n < FOLD_MAX && nrd <= FOLD_RD) {
    const char *t = o->p + own;
    size_t len = o->n - own, nl, e0 = 0, e1 = 0, c1 = 0;
    int ok = 0;
    nl = (size_t)snprintf(name, sizeof name, " s%u = ", w);
    if (len > nl + 1 && strncmp(t, name, nl) == 0 && t[len - 1] == ';') {
      e0 = nl;
      e1 = len - 1;
      ok = 1;
    } else if (len > 8 && strncmp(t, " { if (", 7) == 0 &&
               strncmp(t + len - 3, "; }", 3) == 0) {
      /* The check ends at the first ';' (the TRAP's). */
      for (c1 = 7; c1 < len && t[c1] != ';'; c1++)
        ;
      if (c1 + nl < len && strncmp(t + c1 + 1, name, nl) == 0) {
        e0 = c1 + 1 + nl;
        e1 = len - 3;
        ok = 1;
      }
    }
    if (ok && e1 > e0 && e1 - e0 + 2 < sizeof f->w[0].e) {
      for (j = (unsigned)e0; j < e1 && ok; j++)
        if (t[j] == ';' || t[j] == '{' || t[j] == '}' ||
            (t[j] == '&' && t[j + 1] == 's'))
          ok = 0;
    } else {
      ok = 0;
    }
    if (ok) {
      unsigned n = f->n++;
      f->w[n].slot = w;
      f->w[n].mem = mem;
      f->w[n].nrd = nrd;
      memcpy(f->w[n].rd, rd, nrd * sizeof rd[0]);
      f->w[n].e[0] = '(';
      memcpy(f->w[n].e + 1, t + e0, e1 - e0);
      f->w[n].e[e1 - e0 + 1] = ')';
      f->w[n].e[e1 - e0 + 2] = '\0';
      if (c1) {   /* the check, " if (CHECK) TRAP(c);", stays */
        memmove(o->p + own, o->p + own + 2, c1 - 1);
        o->n = own + c1 - 1;
      } else {
        o->n = own;
      }
      return;
    }
  }
  /* A copy of one slot to another: the next instruction, if it can,
   * reads the source (off the copy's store and load). */
  if (op == PKW_OP_COPY && g->code[pc + 1] != g->code[pc + 2]) {
    uint32_t next = pc + insn_len(g, pc);
    snprintf(name, sizeof name, " s%u = s%u;", g->code[pc + 1],
             g->code[pc + 2]);
    if (next < g->ncode && !(g->label[next] & LBL_TARGET) &&
        fold_reader(op_of(g->code[next])) && o->n - own == strlen(name) &&
        memcmp(o->p + own, name, o->n - own) == 0) {
      f->ren = 1;
      f->ra = g->code[pc + 1];
      f->rb = g->code[pc + 2];
    }
  }
}

static int gen_body(fgen *g) {
  cbuf *o = g->b;
  fold fd;                    /* values waiting (fold_text) */
  const pkw_code *cd = &g->m->codes[g->idx];
  uint32_t pc = 0, k;
  if (scan(g) < 0)
    return PKW_EUNSUPPORTED;
  find_merges(g);
  fd.n = 0;
  fd.ren = 0;
  g->nck = 0;
  /* Slots as C locals, unless the frame is large: then the C frame would
   * be too (the value stack bounds the frames' total, not each C frame),
   * and a compiler would spend long on thousands of variables. */
  g->regs = cd->frame_size <= PKW_CGEN_MAX_REG_SLOTS;
  if (g->regs && g->loops && g->uses_mem)
    g->vlbuf = vl_alloc(g->b->alloc, cd->frame_size);
  g->fast = g->conv[g->idx] == CONV_REG;
  if (o->slots_def != 1 + g->regs) {
    o->slots_def = 1 + g->regs;
    out(o, "#undef R\n#define R(k) %s\n", g->regs ? "s##k" : "fp[k]");
  }
  /* How this function leaves: TRAP(c) for its own traps (the fuel is
   * its fl), ERR(c) for a failure a runtime helper returned (the fuel is
   * in x already), PROP(r) for a failure a callee of the register
   * convention returned (ditto). */
  g->leaf = g->leaf && g->loops;   /* ip_ and fl only for loops */
  g->floc = !g->aot && g->leaf;
  if (o->conv != 1 + g->fast + 2 * g->floc) {
    o->conv = 1 + g->fast + 2 * g->floc;
    if (g->floc && g->fast)
      /* A jit leaf's fuel is its fl: saved before it leaves. */
      out(o, "#undef TRAP\n#undef ERR\n#undef PROP\n"
             "#define ERR(c) { rc = (c); goto Ltrap_; }\n"
             "#define TRAP(c) { rc = (c); goto Ltrap_; }\n"
             "#define PROP(r) return 0\n"
             "#define RET(e) { FSAVE; return (e); }\n");
    else if (g->floc)
      out(o, "#undef TRAP\n#undef ERR\n#undef PROP\n"
             "#define ERR(c) { rc = (c); goto Ltrap_; }\n"
             "#define TRAP(c) { rc = (c); goto Ltrap_; }\n"
             "#define PROP(r) goto Lprop_\n");
    else if (g->fast && !g->aot)
      /* The jit's variant: the result is the C return value, a failure
       * waits in x's err for the caller to see (fl is x's fuel). */
      /* Few tokens: libtcc copies a macro's body at each use (every
       * memory access has a TRAP). Ltrap_ ends the function. */
      out(o, "#undef TRAP\n#undef ERR\n#undef PROP\n"
             "#define ERR(c) { rc = (c); goto Ltrap_; }\n"
             "#define TRAP(c) { rc = (c); goto Ltrap_; }\n"
             "#define PROP(r) return 0\n"
             "#define RET(e) return (e)\n");
    else if (g->fast)
      out(o, "#undef TRAP\n#undef ERR\n#undef PROP\n"
             "#define ERR(c) { rv_ t_; t_.v = (u64)(i64)(c); t_.f = -1; "
             "return t_; }\n"
             "#define TRAP(c) { FSAVE; ERR(c) }\n"
             "#define PROP(r) return (r)\n"
             "#define RET(e) { rv_ t_; t_.v = (e); t_.f = fl; return t_; }\n");
    else if (g->aot)
      out(o, "#undef TRAP\n#undef ERR\n#undef PROP\n"
             "#define ERR(c) return (c)\n"
             "#define TRAP(c) { FSAVE; return (c); }\n"
             "#define PROP(r) return (int)(i64)(r).v\n");
    else
      out(o, "#undef TRAP\n#undef ERR\n#undef PROP\n"
             "#define ERR(c) return (c)\n"
             "#define TRAP(c) return (c)\n"
             "#define PROP(r) goto Lprop_\n");
  }
  o->slots = g->regs ? 1 : 2;
  if (g->fast) {
    /* The register convention: the fuel and the parameters come in as
     * C arguments (the slots themselves, when they are C locals). */
    out(o, "static %s g%u(void *x, void *ci, u64 *fp, u64 b%s",
        g->aot ? "rv_" : "u64", g->idx, g->aot ? ", i64 fl" : "");
    for (k = 0; k < cd->nparams; k++)
      out(o, g->regs ? ", u64 s%u" : ", u64 a%u_", k);
    out(o, ") {\n int rc; u64 nb_;");
  } else {
    out(o, "static int f%u(void *x, void *ci, u64 *fp, u32 d) {\n int rc;%s",
        g->idx, g->aot ? " i64 fl = FUELV;" : "");
  }
  if (g->regs && cd->frame_size > (g->fast ? cd->nparams : 0)) {
    k = g->fast ? cd->nparams : 0;
    out(o, " u64 s%u", k);
    for (k++; k < cd->frame_size; k++)
      out(o, k % 16 ? ", s%u" : ",\n  s%u", k);
    out(o, ";");
  }
  if (g->floc)
    out(o, " i64 fl = FUELV;");
  /* The instructions' temporaries, once per function: libtcc gives each
   * block's locals their own stack space, so temporaries declared per
   * instruction made the C frame grow with the function's length, past
   * what the frame limit (max_call_depth) assumes of a guest call's C
   * frame (small and constant), and hostile recursion overflowed the
   * host's C stack. */
  out(o, "\n u32 v32_, k32_; i32 sx_, sy_; u64 v64_, k64_, tu_, ea_;"
         " i64 lx_, ly_, e_, b_, n_, m_, d_, k_; double p_, td_; float tf_;"
         " %s r_;", g->aot ? "rv_" : "u64");
  if (g->leaf)
    out(o, " volatile i64 *ip_ = &INTR;");
  g->dirty = g->uses_mem && g->m->track_dirty;
  if (g->uses_mem)
    out(o, " void *M = MEMP; u8 *mb = MDATA(M); u64 ms = MSIZE(M);%s",
        g->dirty ? " u8 *dm = MDIRTY(M);" : "");
  out(o, g->fast ? " (void)rc; (void)nb_;" : " (void)rc;");
  if (!g->fast)
    fill(g, 0, cd->nparams);
  else if (!g->regs)
    for (k = 0; k < cd->nparams; k++)
      out(o, " fp[%u] = a%u_;", k, k);
  out(o, "\nLentry:");
  /* zero_locals of exec.c: the non-parameter locals start at zero
   * (on the jit, not those every path writes before it reads: libtcc
   * would store each zero, at every call). */
  if (g->regs || cd->nlocals - cd->nparams <= 8) {
    for (k = cd->nparams; k < cd->nlocals; k++)
      if (g->aot || !g->regs || !dead_from(g, 0, k))
        out(o, " R(%u) = 0;", k);
  } else {
    out(o, " { u64 *zp_ = fp + %u, *ze_ = fp + %u; while (zp_ < ze_) *zp_++ = 0; }",
        cd->nparams, cd->nlocals);
  }
  out(o, "\n");
  while (pc < g->ncode) {
    uint32_t len = insn_len(g, pc);
    size_t from;
    int r;
    if (g->label[pc] & LBL_TARGET) {
      fold_end(g, &fd);
      out(o, "L%u:", pc);
      g->nck = 0;
    }
    if ((g->label[pc] & (LBL_BACK | LBL_MERGE)) == LBL_BACK &&
        g->vlbuf != NULL && vl_find(g, g->vlbuf, pc) == 0) {
      g->vl = g->vlbuf;
      g->vlh = pc;
      g->label[g->vl->next] |= LBL_TARGET;
      if ((r = vl_emit(g)) != 0)
        return r;
    }
    from = o->n;
    if ((r = gen_insn(g, pc)) != 0)
      return r;
    ck_after(g, pc);
    if (g->vl != NULL && pc == g->vl->be)
      g->vl = NULL;
    if (!g->aot && g->regs)
      fold_text(g, from, pc, &fd);
    if (o->n > from)
      out(o, "\n");
    pc += len;
  }
  fold_end(g, &fd);
  /* Every path ends in a return or a branch; this keeps C happy. */
  out(o, " TRAP(%d);\n", PKW_TRAP_UNREACHABLE);
  /* The merged loop entries (find_merges): the stretch from the header
   * to its call again, then back to the instruction after the call. */
  for (pc = 0; pc < g->ncode; pc += insn_len(g, pc)) {
    uint32_t q;
    int r;
    if (!(g->label[pc] & LBL_MERGE))
      continue;
    out(o, "Lm%u:", pc);
    g->nck = 0;
    for (q = pc;; q += insn_len(g, q)) {
      g->merged = (g->label[q] & LBL_MCALL) != 0;
      r = gen_insn(g, q);
      ck_after(g, q);
      out(o, "\n");
      if (r != 0 || g->merged) {
        g->merged = 0;
        if (r != 0)
          return r;
        break;
      }
    }
  }
  if (g->fast && !g->aot)
    out(o, "Ltrap_:%s ERRV = rc; return 0;\n", g->floc ? " FSAVE;" : "");
  else if (g->floc)
    out(o, "Ltrap_: FSAVE; return rc;\n");
  else if (!g->aot && g->props)   /* a callee's failure, waiting in x */
    out(o, "Lprop_: rc = ERRV; ERRV = 0; return rc;\n");
  out(o, "}\n");
  o->slots = 0;
  if (g->fast) {
    /* The entry the runtime calls (pkw_jit_fn): the frame convention. */
    const pkw_functype *t = func_type(g->m, g->m->nfunc_imports + g->idx);
    out(o, "static int f%u(void *x, void *ci, u64 *fp, u32 d) {\n", g->idx);
    if (g->aot) {
      out(o, " rv_ r_ = g%u(x, ci, fp, BUDGET(d, fp + %u), FUELV", g->idx,
          cd->frame_size);
      for (k = 0; k < cd->nparams; k++)
        out(o, ", fp[%u]", k);
      out(o, "); if (r_.f < 0) return (int)(i64)r_.v; FUELV = r_.f;");
      if (t->nresults > 0)
        out(o, " fp[0] = r_.v;");
    } else {
      out(o, " int rc; u64 r_ = g%u(x, ci, fp, BUDGET(d, fp + %u)", g->idx,
          cd->frame_size);
      for (k = 0; k < cd->nparams; k++)
        out(o, ", fp[%u]", k);
      out(o, "); if ((rc = ERRV) != 0) { ERRV = 0; return rc; }");
      if (t->nresults > 0)
        out(o, " fp[0] = r_;");
    }
    out(o, " return 0;\n}\n");
  }
  return o->rc;
}

/* One function's C (gen_body), and the room its loops' analysis took. */
static int gen_func(fgen *g) {
  int r = gen_body(g);
  if (g->vlbuf != NULL)
    pkw__realloc(g->b->alloc, g->vlbuf, 0);
  g->vlbuf = g->vl = NULL;
  return r;
}

/* Per defined function, which calling convention it gets (conv[i]):
 * bit 0: it contains a tail call, so a call of it must be ready for
 * PKW_JIT_TAIL (code that cannot be read is marked too: gen_func reports
 * it); bit 1: a body calls it directly. The register convention (see
 * gen_func) is for CONV_REG: called directly, no tail call. The others
 * have only the frame convention's entry: the runtime calls them (as an
 * export, through a table), so a wrapper would only add a call. */
static void find_convs(const pkw_module *m, uint8_t *conv) {
  uint32_t i, ndf = m->nfuncs - m->nfunc_imports;
  memset(conv, 0, ndf);
  for (i = 0; i < ndf; i++) {
    const pkw_code *cd = &m->codes[i];
    uint32_t pc = 0;
    while (cd->code != NULL && pc < cd->ncode) {
      uint32_t op = op_of(cd->code[pc]), len;
      if (op == PKW_OP_COUNT_ || op_len[op] == 0) {
        conv[i] |= 1;
        break;
      }
      len = op == PKW_OP_BR_TABLE && pc + 2 < cd->ncode
                ? 3 + cd->code[pc + 2] + 1
                : op_len[op];
      if (len > cd->ncode - pc) {
        conv[i] |= 1;
        break;
      }
      if (op == PKW_OP_RETURN_CALL || op == PKW_OP_RETURN_CALL_INDIRECT)
        conv[i] |= 1;
      if (op == PKW_OP_CALL && cd->code[pc + 1] >= m->nfunc_imports &&
          cd->code[pc + 1] < m->nfuncs)
        conv[cd->code[pc + 1] - m->nfunc_imports] |= 2;
      pc += len;
    }
  }
}

int pkw__cgen(pkw_module *m, const pkw_alloc *alloc, unsigned flags,
              char **out_c, size_t *out_len, char *err, size_t errlen) {
  int aot = (flags & PKW_CGEN_AOT) != 0;
  cbuf b;
  uint32_t i, ndf = m->nfuncs - m->nfunc_imports;
  uint8_t *labels = NULL, *conv;
  size_t lcap = 0;
  int rc = PKW_OK;
  if (init_tables() < 0) {
    pkw__errf(err, errlen, "the interpreter's instruction words are not "
                           "unique (build with -DPKW_NO_COMPUTED_GOTO)");
    return PKW_EUNSUPPORTED;
  }
  if ((conv = pkw__realloc(alloc, NULL, (size_t)ndf + 1)) == NULL) {
    pkw__errf(err, errlen, "out of memory");
    return PKW_ENOMEM;
  }
  find_convs(m, conv);
  memset(&b, 0, sizeof b);
  b.alloc = alloc;
  prelude(&b, aot);
  /* Prototypes first: functions call each other in any order. */
  for (i = 0; i < ndf; i++)
    if (m->codes[i].code != NULL)
      out(&b, "static int f%u(void *, void *, u64 *, u32);\n", i);
  /* The register convention's (see gen_func): fuel and parameters in. */
  for (i = 0; i < ndf; i++)
    if (m->codes[i].code != NULL && conv[i] == CONV_REG) {
      uint32_t k, np = func_type(m, m->nfunc_imports + i)->nparams;
      out(&b, "static %s g%u(void *, void *, u64 *, u64%s", aot ? "rv_" : "u64",
          i, aot ? ", i64" : "");
      for (k = 0; k < np; k++)
        out(&b, ", u64");
      out(&b, ");\n");
    }
  for (i = 0; i < ndf && rc == PKW_OK && b.rc == 0; i++) {
    fgen g;
    const pkw_code *cd = &m->codes[i];
    if (cd->code == NULL)
      continue;
    if ((size_t)cd->ncode + 1 > lcap) {
      uint8_t *nl = pkw__realloc(alloc, labels, (size_t)cd->ncode + 1);
      if (nl == NULL) {
        rc = PKW_ENOMEM;
        break;
      }
      labels = nl;
      lcap = (size_t)cd->ncode + 1;
    }
    memset(labels, 0, (size_t)cd->ncode + 1);
    memset(&g, 0, sizeof g);
    g.b = &b;
    g.m = m;
    g.idx = i;
    g.code = cd->code;
    g.ncode = cd->ncode;
    g.label = labels;
    g.conv = conv;
    g.aot = aot;
    g.err = err;
    g.errlen = errlen;
    rc = gen_func(&g);
    b.slots = 0;
  }
  /* The symbol jit.c looks up: every function, by defined index. */
  out(&b, "%svoid *pkw_jit_table[%u] = {", aot ? "EXPORT " : "", ndf + 1);
  for (i = 0; i < ndf; i++)
    out(&b, m->codes[i].code != NULL ? "f%u," : "0,", i);
  out(&b, "0};\n");
  if (aot) {
    /* What the engine cannot know of a function it has not translated
     * (a lazily decoded module runs aot code without translating it):
     * nlocals and frame_size per defined function, 0 0 for none. */
    out(&b, "EXPORT const u32 pkw_aot_frames[%u] = {", 2 * ndf + 1);
    for (i = 0; i < ndf; i++)
      out(&b, "%uu,%uu,", m->codes[i].code != NULL ? m->codes[i].nlocals : 0,
          m->codes[i].code != NULL ? m->codes[i].frame_size : 0);
    out(&b, "0};\n");
    /* Whether the code marks the chunks its stores write (a module
     * decoded PKW_DECODE_DIRTY): pkw_module_bind_aot binds it only to a
     * module decoded the same way. */
    out(&b, "EXPORT const u32 pkw_aot_marks = %uu;\n", m->track_dirty ? 1u : 0u);
    /* The runtime's helpers, checked by count: the table must be the one
     * this C was written for (the engine fingerprint checks the rest). */
    out(&b,
        "EXPORT int pkw_aot_init(void *const *rt, u32 n) {\n"
        " if (n != %zuu) return -1; R_ = rt; return %u;\n}\n",
        sizeof helpers / sizeof helpers[0], ndf);
  }
  if (labels != NULL)
    pkw__realloc(alloc, labels, 0);
  pkw__realloc(alloc, conv, 0);
  if (rc == PKW_OK && b.rc != 0) {
    rc = b.rc;
    if (rc == PKW_ELIMIT)
      pkw__errf(err, errlen, "generated C exceeds %u bytes",
                (unsigned)PKW_JIT_MAX_C_BYTES);
    else if (rc == PKW_EUNSUPPORTED)
      pkw__errf(err, errlen, "internal: a format the C writer cannot read");
    else
      pkw__errf(err, errlen, "out of memory");
  }
  if (rc != PKW_OK) {
    if (b.p != NULL)
      pkw__realloc(alloc, b.p, 0);
    return rc;
  }
  *out_c = b.p;
  *out_len = b.n;
  return PKW_OK;
}

/* What aot code depends on besides the module: the prelude (every
 * offset, the helpers' order and types), the instruction lengths, the
 * trap codes the C returns, the dirty map's chunk size and
 * PKW_CGEN_VERSION (bumped when the C written for the same module
 * changes). FNV-1a over all of it. */
int pkw_cgen_fingerprint(const pkw_alloc *alloc, char *buf, size_t cap) {
  static const pkw_alloc libc = {NULL, NULL};
  cbuf b;
  uint64_t h = 0xcbf29ce484222325ull;
  size_t i;
  int k;
  if (init_tables() < 0)
    return PKW_EUNSUPPORTED;
  memset(&b, 0, sizeof b);
  b.alloc = alloc != NULL ? alloc : &libc;
  prelude(&b, 1);
  out(&b, "tail %d stack %d oob %d unreach %d div %d ovf %d ops %d "
      "chunk %u\n",
      PKW_JIT_TAIL, PKW_TRAP_STACK_EXHAUSTED, PKW_TRAP_MEMORY_OOB,
      PKW_TRAP_UNREACHABLE, PKW_TRAP_DIVIDE_BY_ZERO,
      PKW_TRAP_INTEGER_OVERFLOW, (int)PKW_OP_COUNT_, PKW_CHUNK_SHIFT);
  if (b.rc != 0) {
    if (b.p != NULL)
      pkw__realloc(b.alloc, b.p, 0);
    return b.rc;
  }
  for (i = 0; i < b.n; i++)
    h = (h ^ (uint8_t)b.p[i]) * 0x100000001b3ull;
  for (i = 0; i < PKW_OP_COUNT_; i++)
    h = (h ^ op_len[i]) * 0x100000001b3ull;
  pkw__realloc(b.alloc, b.p, 0);
  k = snprintf(buf, cap, "cgen%d-%016llx", PKW_CGEN_VERSION,
               (unsigned long long)h);
  return k < 0 || (size_t)k >= cap ? PKW_ELIMIT : PKW_OK;
}
