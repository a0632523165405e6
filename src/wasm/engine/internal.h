/* Engine internals shared by decode.c, compile.c, exec.c and instance.c.
 * Nothing here is API: see wasm.h for the contracts. */
#ifndef PK_WASM_ENGINE_INTERNAL_H
#define PK_WASM_ENGINE_INTERNAL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "wasm.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the wasm engine needs a little-endian host"
#endif

/* Numeric instructions: X(name, wasm opcode, operand count, operand type,
 * result type). Opcodes 0xfc xx are written 0x100 + xx. Each becomes one
 * internal instruction of form [op, dst, a] or [op, dst, a, b]. */
#define PKW_NUMOPS(X)                                                     \
  X(I32_EQZ, 0x45, 1, I32, I32) X(I32_EQ, 0x46, 2, I32, I32)              \
  X(I32_NE, 0x47, 2, I32, I32) X(I32_LT_S, 0x48, 2, I32, I32)             \
  X(I32_LT_U, 0x49, 2, I32, I32) X(I32_GT_S, 0x4a, 2, I32, I32)           \
  X(I32_GT_U, 0x4b, 2, I32, I32) X(I32_LE_S, 0x4c, 2, I32, I32)           \
  X(I32_LE_U, 0x4d, 2, I32, I32) X(I32_GE_S, 0x4e, 2, I32, I32)           \
  X(I32_GE_U, 0x4f, 2, I32, I32) X(I64_EQZ, 0x50, 1, I64, I32)            \
  X(I64_EQ, 0x51, 2, I64, I32) X(I64_NE, 0x52, 2, I64, I32)               \
  X(I64_LT_S, 0x53, 2, I64, I32) X(I64_LT_U, 0x54, 2, I64, I32)           \
  X(I64_GT_S, 0x55, 2, I64, I32) X(I64_GT_U, 0x56, 2, I64, I32)           \
  X(I64_LE_S, 0x57, 2, I64, I32) X(I64_LE_U, 0x58, 2, I64, I32)           \
  X(I64_GE_S, 0x59, 2, I64, I32) X(I64_GE_U, 0x5a, 2, I64, I32)           \
  X(F32_EQ, 0x5b, 2, F32, I32) X(F32_NE, 0x5c, 2, F32, I32)               \
  X(F32_LT, 0x5d, 2, F32, I32) X(F32_GT, 0x5e, 2, F32, I32)               \
  X(F32_LE, 0x5f, 2, F32, I32) X(F32_GE, 0x60, 2, F32, I32)               \
  X(F64_EQ, 0x61, 2, F64, I32) X(F64_NE, 0x62, 2, F64, I32)               \
  X(F64_LT, 0x63, 2, F64, I32) X(F64_GT, 0x64, 2, F64, I32)               \
  X(F64_LE, 0x65, 2, F64, I32) X(F64_GE, 0x66, 2, F64, I32)               \
  X(I32_CLZ, 0x67, 1, I32, I32) X(I32_CTZ, 0x68, 1, I32, I32)             \
  X(I32_POPCNT, 0x69, 1, I32, I32) X(I32_ADD, 0x6a, 2, I32, I32)          \
  X(I32_SUB, 0x6b, 2, I32, I32) X(I32_MUL, 0x6c, 2, I32, I32)             \
  X(I32_DIV_S, 0x6d, 2, I32, I32) X(I32_DIV_U, 0x6e, 2, I32, I32)         \
  X(I32_REM_S, 0x6f, 2, I32, I32) X(I32_REM_U, 0x70, 2, I32, I32)         \
  X(I32_AND, 0x71, 2, I32, I32) X(I32_OR, 0x72, 2, I32, I32)              \
  X(I32_XOR, 0x73, 2, I32, I32) X(I32_SHL, 0x74, 2, I32, I32)             \
  X(I32_SHR_S, 0x75, 2, I32, I32) X(I32_SHR_U, 0x76, 2, I32, I32)         \
  X(I32_ROTL, 0x77, 2, I32, I32) X(I32_ROTR, 0x78, 2, I32, I32)           \
  X(I64_CLZ, 0x79, 1, I64, I64) X(I64_CTZ, 0x7a, 1, I64, I64)             \
  X(I64_POPCNT, 0x7b, 1, I64, I64) X(I64_ADD, 0x7c, 2, I64, I64)          \
  X(I64_SUB, 0x7d, 2, I64, I64) X(I64_MUL, 0x7e, 2, I64, I64)             \
  X(I64_DIV_S, 0x7f, 2, I64, I64) X(I64_DIV_U, 0x80, 2, I64, I64)         \
  X(I64_REM_S, 0x81, 2, I64, I64) X(I64_REM_U, 0x82, 2, I64, I64)         \
  X(I64_AND, 0x83, 2, I64, I64) X(I64_OR, 0x84, 2, I64, I64)              \
  X(I64_XOR, 0x85, 2, I64, I64) X(I64_SHL, 0x86, 2, I64, I64)             \
  X(I64_SHR_S, 0x87, 2, I64, I64) X(I64_SHR_U, 0x88, 2, I64, I64)         \
  X(I64_ROTL, 0x89, 2, I64, I64) X(I64_ROTR, 0x8a, 2, I64, I64)           \
  X(F32_ABS, 0x8b, 1, F32, F32) X(F32_NEG, 0x8c, 1, F32, F32)             \
  X(F32_CEIL, 0x8d, 1, F32, F32) X(F32_FLOOR, 0x8e, 1, F32, F32)          \
  X(F32_TRUNC, 0x8f, 1, F32, F32) X(F32_NEAREST, 0x90, 1, F32, F32)       \
  X(F32_SQRT, 0x91, 1, F32, F32) X(F32_ADD, 0x92, 2, F32, F32)            \
  X(F32_SUB, 0x93, 2, F32, F32) X(F32_MUL, 0x94, 2, F32, F32)             \
  X(F32_DIV, 0x95, 2, F32, F32) X(F32_MIN, 0x96, 2, F32, F32)             \
  X(F32_MAX, 0x97, 2, F32, F32) X(F32_COPYSIGN, 0x98, 2, F32, F32)        \
  X(F64_ABS, 0x99, 1, F64, F64) X(F64_NEG, 0x9a, 1, F64, F64)             \
  X(F64_CEIL, 0x9b, 1, F64, F64) X(F64_FLOOR, 0x9c, 1, F64, F64)          \
  X(F64_TRUNC, 0x9d, 1, F64, F64) X(F64_NEAREST, 0x9e, 1, F64, F64)       \
  X(F64_SQRT, 0x9f, 1, F64, F64) X(F64_ADD, 0xa0, 2, F64, F64)            \
  X(F64_SUB, 0xa1, 2, F64, F64) X(F64_MUL, 0xa2, 2, F64, F64)             \
  X(F64_DIV, 0xa3, 2, F64, F64) X(F64_MIN, 0xa4, 2, F64, F64)             \
  X(F64_MAX, 0xa5, 2, F64, F64) X(F64_COPYSIGN, 0xa6, 2, F64, F64)        \
  X(I32_WRAP_I64, 0xa7, 1, I64, I32)                                      \
  X(I32_TRUNC_F32_S, 0xa8, 1, F32, I32)                                   \
  X(I32_TRUNC_F32_U, 0xa9, 1, F32, I32)                                   \
  X(I32_TRUNC_F64_S, 0xaa, 1, F64, I32)                                   \
  X(I32_TRUNC_F64_U, 0xab, 1, F64, I32)                                   \
  X(I64_EXTEND_I32_S, 0xac, 1, I32, I64)                                  \
  X(I64_EXTEND_I32_U, 0xad, 1, I32, I64)                                  \
  X(I64_TRUNC_F32_S, 0xae, 1, F32, I64)                                   \
  X(I64_TRUNC_F32_U, 0xaf, 1, F32, I64)                                   \
  X(I64_TRUNC_F64_S, 0xb0, 1, F64, I64)                                   \
  X(I64_TRUNC_F64_U, 0xb1, 1, F64, I64)                                   \
  X(F32_CONVERT_I32_S, 0xb2, 1, I32, F32)                                 \
  X(F32_CONVERT_I32_U, 0xb3, 1, I32, F32)                                 \
  X(F32_CONVERT_I64_S, 0xb4, 1, I64, F32)                                 \
  X(F32_CONVERT_I64_U, 0xb5, 1, I64, F32)                                 \
  X(F32_DEMOTE_F64, 0xb6, 1, F64, F32)                                    \
  X(F64_CONVERT_I32_S, 0xb7, 1, I32, F64)                                 \
  X(F64_CONVERT_I32_U, 0xb8, 1, I32, F64)                                 \
  X(F64_CONVERT_I64_S, 0xb9, 1, I64, F64)                                 \
  X(F64_CONVERT_I64_U, 0xba, 1, I64, F64)                                 \
  X(F64_PROMOTE_F32, 0xbb, 1, F32, F64)                                   \
  X(I32_REINTERPRET_F32, 0xbc, 1, F32, I32)                               \
  X(I64_REINTERPRET_F64, 0xbd, 1, F64, I64)                               \
  X(F32_REINTERPRET_I32, 0xbe, 1, I32, F32)                               \
  X(F64_REINTERPRET_I64, 0xbf, 1, I64, F64)                               \
  X(I32_EXTEND8_S, 0xc0, 1, I32, I32) X(I32_EXTEND16_S, 0xc1, 1, I32, I32) \
  X(I64_EXTEND8_S, 0xc2, 1, I64, I64) X(I64_EXTEND16_S, 0xc3, 1, I64, I64) \
  X(I64_EXTEND32_S, 0xc4, 1, I64, I64)                                    \
  X(I32_TRUNC_SAT_F32_S, 0x100, 1, F32, I32)                              \
  X(I32_TRUNC_SAT_F32_U, 0x101, 1, F32, I32)                              \
  X(I32_TRUNC_SAT_F64_S, 0x102, 1, F64, I32)                              \
  X(I32_TRUNC_SAT_F64_U, 0x103, 1, F64, I32)                              \
  X(I64_TRUNC_SAT_F32_S, 0x104, 1, F32, I64)                              \
  X(I64_TRUNC_SAT_F32_U, 0x105, 1, F32, I64)                              \
  X(I64_TRUNC_SAT_F64_S, 0x106, 1, F64, I64)                              \
  X(I64_TRUNC_SAT_F64_U, 0x107, 1, F64, I64)

/* Memory instructions: X(name, wasm opcode, access bytes, value type).
 * Loads are [op, dst, addr, offset], stores [op, addr, value, offset]. */
#define PKW_LOADOPS(X)                                                    \
  X(I32_LOAD, 0x28, 4, I32) X(I64_LOAD, 0x29, 8, I64)                     \
  X(F32_LOAD, 0x2a, 4, F32) X(F64_LOAD, 0x2b, 8, F64)                     \
  X(I32_LOAD8_S, 0x2c, 1, I32) X(I32_LOAD8_U, 0x2d, 1, I32)               \
  X(I32_LOAD16_S, 0x2e, 2, I32) X(I32_LOAD16_U, 0x2f, 2, I32)             \
  X(I64_LOAD8_S, 0x30, 1, I64) X(I64_LOAD8_U, 0x31, 1, I64)               \
  X(I64_LOAD16_S, 0x32, 2, I64) X(I64_LOAD16_U, 0x33, 2, I64)             \
  X(I64_LOAD32_S, 0x34, 4, I64) X(I64_LOAD32_U, 0x35, 4, I64)
#define PKW_STOREOPS(X)                                                   \
  X(I32_STORE, 0x36, 4, I32) X(I64_STORE, 0x37, 8, I64)                   \
  X(F32_STORE, 0x38, 4, F32) X(F64_STORE, 0x39, 8, F64)                   \
  X(I32_STORE8, 0x3a, 1, I32) X(I32_STORE16, 0x3b, 2, I32)                \
  X(I64_STORE8, 0x3c, 1, I64) X(I64_STORE16, 0x3d, 2, I64)                \
  X(I64_STORE32, 0x3e, 4, I64)

/* Other internal instructions. Operands in brackets; "slot" operands are
 * frame-relative indexes into the 64-bit value stack, "pc" operands are
 * word offsets into the function's code. */
#define PKW_CTLOPS(X)                                                     \
  X(UNREACHABLE)      /* [] */                                            \
  X(BR)               /* [pc] */                                          \
  X(BR_IF)            /* [cond, pc] */                                    \
  X(BR_UNLESS)        /* [cond, pc] */                                    \
  X(BR_TABLE)         /* [idx, n, pc * (n + 1)] */                        \
  X(RETURN)           /* [] results already in slots 0.. */               \
  X(RETURN1)          /* [src] */                                         \
  X(CALL)             /* [funcidx, argbase] */                            \
  X(CALL_INDIRECT)    /* [typeidx, table, idx, argbase] */                \
  X(RETURN_CALL)      /* [funcidx, argbase] */                            \
  X(RETURN_CALL_INDIRECT) /* [typeidx, table, idx, argbase] */            \
  X(COPY)             /* [dst, src] */                                    \
  X(CONST32)          /* [dst, value] */                                  \
  X(CONST64)          /* [dst, lo, hi] */                                 \
  X(SELECT)           /* [dst, a, b, cond] */                             \
  X(GLOBAL_GET)       /* [dst, globalidx] */                              \
  X(GLOBAL_SET)       /* [globalidx, src] */                              \
  X(MEMORY_SIZE)      /* [dst] */                                         \
  X(MEMORY_GROW)      /* [dst, delta] */                                  \
  X(MEMORY_INIT)      /* [seg, d, s, n] */                                \
  X(DATA_DROP)        /* [seg] */                                         \
  X(MEMORY_COPY)      /* [d, s, n] */                                     \
  X(MEMORY_FILL)      /* [d, v, n] */                                     \
  X(TABLE_GET)        /* [dst, table, idx] */                             \
  X(TABLE_SET)        /* [table, idx, val] */                             \
  X(TABLE_SIZE)       /* [dst, table] */                                  \
  X(TABLE_GROW)       /* [dst, table, init, n] */                         \
  X(TABLE_FILL)       /* [table, i, val, n] */                            \
  X(TABLE_COPY)       /* [dsttable, srctable, d, s, n] */                 \
  X(TABLE_INIT)       /* [table, seg, d, s, n] */                         \
  X(ELEM_DROP)        /* [seg] */                                         \
  X(REF_FUNC)         /* [dst, funcidx] */                                \
  X(LAZY)             /* [] a lazy module's function, not translated yet */ \
  X(MARK)             /* [addr, off, n]: PKW_DECODE_DIRTY, before a store */ \
  X(I32_ADD_IMM)      /* [dst, a, imm]: i32 op with a constant b */     \
  X(I32_SUB_IMM) X(I32_MUL_IMM) X(I32_AND_IMM) X(I32_OR_IMM)             \
  X(I32_XOR_IMM) X(I32_SHL_IMM) X(I32_SHR_S_IMM) X(I32_SHR_U_IMM)        \
  X(I32_EQ_IMM) X(I32_NE_IMM) X(I32_LT_S_IMM) X(I32_LT_U_IMM)            \
  X(I32_GT_S_IMM) X(I32_GT_U_IMM) X(I32_LE_S_IMM) X(I32_LE_U_IMM)        \
  X(I32_GE_S_IMM) X(I32_GE_U_IMM)                                        \
  X(I32_LOAD_ADDI)    /* [dst, x, k, off]: load from (x + k) + off */   \
  X(I32_LOAD8_U_ADDI) /* [dst, x, k, off] */                            \
  X(I32_STORE_ADDI)   /* [x, v, k, off]: store to (x + k) + off */      \
  X(I32_EQ_IMM_BR_IF) /* [a, imm, pc] compare with constant, branch */   \
  X(I32_NE_IMM_BR_IF) X(I32_LT_S_IMM_BR_IF) X(I32_LT_U_IMM_BR_IF)        \
  X(I32_GT_S_IMM_BR_IF) X(I32_GT_U_IMM_BR_IF) X(I32_LE_S_IMM_BR_IF)      \
  X(I32_LE_U_IMM_BR_IF) X(I32_GE_S_IMM_BR_IF) X(I32_GE_U_IMM_BR_IF)      \
  X(I32_EQZ_BR_IF)    /* [a, pc] */                                       \
  X(I32_EQ_BR_IF)     /* [a, b, pc] */                                    \
  X(I32_NE_BR_IF)     /* [a, b, pc] */                                    \
  X(I32_LT_S_BR_IF)   /* [a, b, pc] */                                    \
  X(I32_LT_U_BR_IF)   /* [a, b, pc] */                                    \
  X(I32_GE_S_BR_IF)   /* [a, b, pc] */                                    \
  X(I32_GE_U_BR_IF)   /* [a, b, pc] */

enum {
#define PKW_OPENUM1_(name) PKW_OP_##name,
#define PKW_OPENUM5_(name, op, n, a, r) PKW_OP_##name,
#define PKW_OPENUM4_(name, op, n, t) PKW_OP_##name,
  PKW_CTLOPS(PKW_OPENUM1_)
  PKW_NUMOPS(PKW_OPENUM5_)
  PKW_LOADOPS(PKW_OPENUM4_)
  PKW_STOREOPS(PKW_OPENUM4_)
#undef PKW_OPENUM1_
#undef PKW_OPENUM5_
#undef PKW_OPENUM4_
  PKW_OP_COUNT_
};

/* Value type codes inside the engine; 0 marks "unknown" (the polymorphic
 * stack of unreachable code). */
enum { PKW_T_UNKNOWN = 0 };

/* A small bump arena: the module's data lives in a few blocks. */
typedef struct pkw_arena_block pkw_arena_block;
typedef struct pkw_arena {
  pkw_alloc alloc;
  pkw_arena_block *head;
  size_t used, cap;
} pkw_arena;

/* Reference constant (element segment item): ref.null, ref.func x,
 * global.get x. */
enum { PKW_ELEM_NULL = 0, PKW_ELEM_FUNC = 1, PKW_ELEM_GLOBAL = 2 };
typedef struct pkw_elem_item { uint32_t kind, idx; } pkw_elem_item;

enum { PKW_SEG_ACTIVE = 0, PKW_SEG_PASSIVE = 1, PKW_SEG_DECLARATIVE = 2 };

typedef struct pkw_cexpr { const uint8_t *p; uint32_t len; } pkw_cexpr;

typedef struct pkw_elem_seg {
  uint8_t mode, type;
  uint32_t table;
  pkw_cexpr offset;
  uint32_t n;
  pkw_elem_item *items;
} pkw_elem_seg;

typedef struct pkw_data_seg {
  uint8_t mode;
  uint32_t mem;
  pkw_cexpr offset;
  const uint8_t *bytes;
  uint32_t len;
} pkw_data_seg;

/* Compiled code of one defined function (cgen.c documents the contract):
 * x is the call chain's context, ci the function's instance, fp its frame
 * (arguments in fp[0..], results written there), d the guest frames the
 * chain has pushed below it. Returns 0, a PKW_TRAP_* / host code, or
 * PKW_JIT_TAIL after arming x->tail for a tail call. */
typedef struct pkw_jctx pkw_jctx;
typedef int (*pkw_jit_fn)(pkw_jctx *x, pkw_instance *ci, uint64_t *fp,
                          uint32_t d);
#define PKW_JIT_TAIL 1

/* What a module's compiled code owns (jit.c). */
typedef struct pkw_jit_fns {
  pkw_jit_fn *fns;            /* per defined function; NULL: interpreted */
  void (*release)(struct pkw_jit_fns *j);   /* frees all of it */
  const char *tier;           /* "jit" or "aot" */
  /* aot: nlocals, frame_size per defined function (its functions run
   * without being translated here); NULL: the translation's. */
  const uint32_t *frames;
} pkw_jit_fns;

/* The interrupt flag's raised value (pkw_instance.interrupt). */
#define PKW_INTERRUPTED INT64_MAX

/* The context of compiled code running on an instance's stack (the
 * stack owner's): one per instance (pkw_instance.jx), set up at its first
 * compiled entry and kept, so an entry from the host writes only what
 * changes per call (fuel, limited, err). Frame depths are absolute (d is
 * the frame's index in the owner's frames[]), so a nested entry (a host
 * function calling the same instance again) starts above its caller's
 * frames under the same maxd. What a nested entry overwrites (fuel,
 * limited) the runtime restores around host calls (jrt.c). The fields
 * the generated code reads come first; cgen.c emits their offsets. A
 * pkw_jctx is only ever an instance's jx: compiled code reads the
 * owner's interrupt flag at its fixed distance from x (cgen.c, INTR). */
struct pkw_jctx {
  uint64_t *stack_end;        /* of the stack owner's value stack */
  int64_t fuel;               /* counts down; see exec.c's FUEL_CHECK */
  atomic_int_least64_t *interrupt; /* the stack owner's flag */
  pkw_func *tail;             /* the callee of a pending tail call */
  uint32_t maxd;              /* the owner's frame count: d < maxd */
  int err;                    /* jit: a failure on its way up (cgen.c);
                                 0 whenever no compiled code runs */
  int limited;                /* fuel is limited (this entry's) */
  pkw_instance *inst;         /* stack owner; NULL: not set up yet */
  struct pkw_frame *frame0;   /* its frames[]: frame d is frame0 + d */
};

typedef struct pkw_limits_decl { uint32_t min, max; uint8_t has_max; } pkw_lims;
typedef struct pkw_tabletype { uint8_t elem; pkw_lims lim; } pkw_tabletype;
typedef struct pkw_globaltype { uint8_t type, mut; } pkw_globaltype;

typedef struct pkw_import {
  const char *module, *name;
  uint32_t module_len, name_len;
  uint8_t kind;
  uint32_t idx;             /* func: type index */
  pkw_tabletype table;
  pkw_lims mem;
  pkw_globaltype global;
} pkw_import;

typedef struct pkw_export {
  const char *name;
  uint32_t name_len;
  uint8_t kind;
  uint32_t idx;
} pkw_export;

/* A translated function body. */
typedef struct pkw_code {
  uint32_t *code;            /* internal instructions, in the arena */
  uint32_t ncode;
  uint32_t nparams, nlocals; /* nlocals includes the parameters */
  uint32_t frame_size;       /* locals + max operand temporaries */
  const uint8_t *body;       /* raw body (locals + expr) until compiled */
  uint32_t body_len;
  int fail_rc;               /* lazy: translation failed with this code */
  const char *fail_msg;      /* ... and this message (in the arena) */
  /* code, ncode, nlocals and frame_size are set: stored with release
   * once they are (a lazy body, under the module's lock), so an instance
   * that loads it with acquire may use them without the lock. */
  atomic_uchar done;
} pkw_code;

struct pkw_module {
  pkw_alloc alloc;
  pkw_arena arena;
  uint8_t *bytes;             /* a copy of the binary: names point here */
  size_t len;
  uint32_t ntypes;
  pkw_functype *types;
  uint32_t nimports;
  pkw_import *imports;
  uint32_t nfuncs, nfunc_imports;
  uint32_t *func_type;        /* type index of every function */
  pkw_code *codes;            /* nfuncs - nfunc_imports entries */
  uint32_t ntables, ntable_imports;
  pkw_tabletype *tables;
  uint32_t nmems, nmem_imports;
  pkw_lims *mems;
  uint32_t nglobals, nglobal_imports;
  pkw_globaltype *globals;
  pkw_cexpr *global_init;     /* for defined globals (index - imports) */
  uint32_t nexports;
  pkw_export *exports;
  const pkw_export **export_index;  /* the exports sorted by name
                                       (pkw__export_cmp) */
  uint8_t has_start;
  uint32_t start;
  uint32_t nelems;
  pkw_elem_seg *elems;
  uint32_t ndatas;
  pkw_data_seg *datas;
  uint8_t has_datacount;
  uint32_t datacount;
  uint8_t *func_declared;     /* per function: may be used by ref.func */
  uint64_t code_words;        /* translated so far (all functions) */
  uint32_t lazy_code[2];      /* PKW_DECODE_LAZY: the code of every
                                 function not translated yet (LAZY) */
  char lazy_err[192];         /* the last body that failed to translate */
  uint8_t track_dirty;        /* PKW_DECODE_DIRTY: stores are MARKed */
  /* Serializes lazy translation (the arena, code_words, lazy_err and a
   * body's fail_* fields) between instances on several threads: a spin
   * lock, held only while one body translates. */
  atomic_flag lock;
  /* Spare instances (pkw_module_set_spares): destroyed instances whose
   * blocks (the instance with its frames, the value stack, the memory
   * and its dirty map) the next pkw_instance_create takes instead of
   * allocating and faulting them in. A list through next_spare, guarded
   * by spare_lock (a spin lock held for a push or a pop). */
  atomic_flag spare_lock;
  pkw_instance *spares;
  uint32_t nspares, max_spares;
  /* The jit tier (jit.c): native code for the defined functions, shared
   * by every instance (it reads all per-instance state through the
   * instance pointer it is given). NULL: interpreted. */
  struct pkw_jit_fns *jit;
};

struct pkw_func {
  pkw_functype type;          /* arrays owned by module or host copy */
  pkw_instance *inst;         /* owner instance, NULL for host functions */
  const uint32_t *code;       /* NULL for host functions */
  uint32_t nlocals, frame_size;
  pkw_host_fn host;
  void *host_ud;
  pkw_alloc alloc;            /* host functions: who frees this */
  pkw_jit_fn jit;             /* compiled code (jit tier) or NULL */
};

struct pkw_memory {
  uint8_t *data;
  uint64_t size;              /* bytes = pages * 65536 */
  uint32_t pages, max;        /* max already capped by the limits */
  uint32_t decl_max;          /* declared maximum, for import matching */
  uint8_t has_max;            /* a maximum was declared */
  pkw_alloc alloc;
  /* Dirty tracking (pkw_instance_track_dirty), NULL when off: a byte
   * per 4 KiB chunk set when the chunk is written, the chunks set in
   * the order they were, and how many chunks the map covers. */
  uint8_t *dirty;
  uint32_t *dirty_list;
  uint32_t ndirty, dirty_cap;
  /* A tracked memory whose bytes are those of the image with this id
   * (pkw_image.id) but for the chunks in dirty_list; 0: not known. Lets
   * a spare instance's memory be restored by its dirty chunks only. */
  uint64_t base_id;
  /* Copy-on-write (instance.c, image_map): data is a reservation of
   * `reserved` bytes (0: data comes from the allocator) whose first
   * pages map privately the memory file of the image with id cow_id;
   * the pages up to `committed` are accessible, those past `pages`
   * zero. memory.grow commits; the pointer never moves. */
  size_t reserved;
  uint64_t cow_id;
  uint32_t committed;
  /* A spare's memory brought back to the image with this id when its
   * instance was destroyed (spare_clean in instance.c): the next
   * instance made from that image takes the bytes as they are. 0 while
   * an instance uses it, or when not known. */
  uint64_t clean_id;
};

#define PKW_CHUNK_SHIFT 12u  /* dirty tracking and images: 4 KiB chunks */

/* Marks the chunks of [off, off + n), which the caller has bounds-checked,
 * as written (a tracked memory). */
static inline void pkw__mark(pkw_memory *m, uint64_t off, uint64_t n) {
  uint64_t c, last;
  if (n == 0)
    return;
  last = (off + n - 1) >> PKW_CHUNK_SHIFT;
  for (c = off >> PKW_CHUNK_SHIFT; c <= last; c++)
    if (!m->dirty[c]) {
      m->dirty[c] = 1;
      m->dirty_list[m->ndirty++] = (uint32_t)c;
    }
}

/* The table elements an instance's tables may hold together. Each of
 * its tables points here, so growth is charged to the owner whichever
 * instance's code grows it. */
typedef struct pkw_elem_budget {
  uint64_t max, used;
} pkw_elem_budget;

struct pkw_table {
  uint64_t *elems;
  uint32_t size, max;         /* max already capped by the limits */
  uint32_t decl_max;          /* declared maximum, for import matching */
  uint8_t elem, has_max;
  pkw_alloc alloc;
  pkw_elem_budget *budget;    /* the owner's, NULL for a host table */
};

struct pkw_global {
  uint64_t val;
  uint8_t type, mut;
  pkw_alloc alloc;
};

/* One guest call frame, kept outside the C stack. */
typedef struct pkw_frame {
  const uint32_t *pc;         /* where to resume in the caller */
  uint64_t *fp;               /* the caller's frame */
  pkw_instance *inst;         /* the caller's instance */
} pkw_frame;

struct pkw_instance {
  pkw_module *mod;
  pkw_alloc alloc;
  pkw_limits limits;
  pkw_func **funcs;           /* all functions, imported first */
  pkw_func *own_funcs;
  pkw_table **tables;
  pkw_table *own_tables;
  pkw_memory *mem;            /* memory 0, NULL if none */
  int own_mem;
  pkw_global **globals;
  pkw_global *own_globals;
  uint8_t *elem_dropped, *data_dropped;
  pkw_elem_budget table_budget; /* of own_tables */
  /* Execution state. The stack and frames are this instance's; a call
   * into a function of another instance continues on the caller's. */
  uint64_t *stack, *stack_end;
  uint64_t *stack_free;       /* first slot not used by an active call */
  pkw_frame *frames, *frames_end, *frame_free;
  int depth;                  /* host callbacks active on this stack */
  int64_t fuel;               /* < 0: unlimited */
  /* 0, or PKW_INTERRUPTED once pkw_instance_interrupt raised it. Every
   * fuel check is one comparison of the decremented counter with it
   * (--fuel < interrupt): below 0 means out of fuel, and a raised flag
   * is above any count, so one test catches both; the slow path tells
   * them apart (exec.c's fuel_or_interrupt). */
  atomic_int_least64_t interrupt;
  pkw_jctx jx;                /* compiled code's context (jrt.c) */
  void *user;                 /* pkw_instance_set_user */
  uint64_t host_calls;        /* host functions called by guest code */
  const char *lazy_msg;       /* pkw_instance_error */
  size_t block_size;          /* of this allocation (frames included) */
  pkw_instance *next_spare;   /* in the module's spares */
};

/* The one bounds check for every guest memory and table access: is
 * [off, off + n) inside [0, size)? Callers pass values below 2^40 (guest
 * addresses are 32-bit plus a 32-bit offset), so off + n cannot wrap. */
static inline int pkw__in_bounds(uint64_t off, uint64_t n, uint64_t size) {
  return off + n <= size;
}

/* Arena helpers (decode.c). */
void *pkw__arena_alloc(pkw_arena *a, size_t n);     /* zeroed */
void *pkw__arena_alloc_raw(pkw_arena *a, size_t n); /* not zeroed */
void pkw__arena_free(pkw_arena *a);
void *pkw__realloc(const pkw_alloc *a, void *p, size_t n);

/* Frees the module's spare instances (instance.c). */
void pkw__spares_free(pkw_module *m);

/* Translates f's body on its first call (PKW_DECODE_LAZY) and points f
 * at the code (exec.c's LAZY). */
int pkw__compile_lazy(pkw_func *f);

/* Translates the body of defined function i (compile.c). */
int pkw__compile_func(pkw_module *m, uint32_t i, char *err, size_t errlen);
/* Validates a constant expression of the given type (compile.c). */
int pkw__validate_cexpr(pkw_module *m, const uint8_t **pp,
                        const uint8_t *end, uint8_t type, uint32_t nglobals,
                        char *err, size_t errlen);

/* The instruction word of each PKW_OP_* (exec.c): with threaded dispatch
 * the offset of its handler from the interpreter's first label, so the
 * dispatch needs no table lookup; with the switch fallback, the op. */
const uint32_t *pkw__exec_opwords(void);

/* pkw_invoke of a host function (instance.c). */
int pkw__invoke_host(pkw_func *f, const uint64_t *in, uint64_t *out,
                     size_t stride);

/* The order of export_index (decode.c): < 0, 0, > 0 like memcmp. */
int pkw__export_cmp(const char *a, uint32_t alen, const char *b,
                    uint32_t blen);

/* Structural function type equality. */
int pkw__functype_eq(const pkw_functype *a, const pkw_functype *b);

/* Formats an error message into err. */
void pkw__errf(char *err, size_t errlen, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
