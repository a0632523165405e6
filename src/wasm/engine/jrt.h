/* The runtime of the compiled tiers (jrt.c): what generated code calls
 * (by these names: jit.c binds them, cgen.c declares them in the C it
 * writes, with void * for the engine's types), and the entry from the
 * host. Internal to the engine. */
#ifndef PK_WASM_ENGINE_JRT_H
#define PK_WASM_ENGINE_JRT_H

#include "internal.h"

/* An operand word that is not a slot (unary numeric ops). */
#define NONE_SLOT 0xffffffffu

/* pkw_invoke of a function with compiled code (exec.c calls it). */
int pkw__jit_invoke(pkw_func *f, const uint64_t *in, uint64_t *out,
                    size_t stride);

/* Fuel ran out or the interrupt flag is up: the trap, or 0 to go on. */
int pkw__jrt_fuel(pkw_jctx *x);
/* A call of any function (host, compiled, interpreted) from compiled
 * code at frame depth d, the callee's frame at nfp: exec.c's do_call. */
int pkw__jrt_call(pkw_jctx *x, pkw_instance *ci, pkw_func *f, uint64_t *nfp,
                  uint32_t d);
/* Runs the tail calls x->tail armed, at fp, until one returns. */
int pkw__jrt_tail(pkw_jctx *x, uint64_t *fp, uint32_t d);
int pkw__jrt_call_indirect(pkw_jctx *x, pkw_instance *ci, uint32_t type,
                           uint32_t table, uint32_t idx, uint64_t *nfp,
                           uint32_t d);
/* exec.c's do_tail_call: arguments at fp + ab become the frame at fp. */
int pkw__jrt_tail_call(pkw_jctx *x, pkw_instance *ci, pkw_func *f,
                       uint64_t *fp, uint32_t ab, uint32_t d);
int pkw__jrt_tail_call_indirect(pkw_jctx *x, pkw_instance *ci, uint32_t type,
                                uint32_t table, uint32_t idx, uint64_t *fp,
                                uint32_t ab, uint32_t d);
/* Pure numeric operations (op: PKW_OP_*), b unused by unary ones. */
uint64_t pkw__jrt_fun(uint32_t op, uint64_t a, uint64_t b);
/* Trapping float -> int truncations. */
int pkw__jrt_trunc(uint32_t op, uint64_t a, uint64_t *out);
/* Bulk memory and table instructions; ops: the instruction's operands. */
int pkw__jrt_op(pkw_instance *ci, uint32_t op, uint64_t *fp,
                const uint32_t *ops);
uint32_t pkw__jrt_memory_grow(pkw_instance *ci, uint32_t delta);
/* Marks the chunks of [off, off + n) of a tracked memory (the slow path
 * of a store's marking: PKW_DECODE_DIRTY). */
void pkw__jrt_mark(pkw_memory *mem, uint64_t off, uint64_t n);

/* The C of a module (cgen.c); see pkw_module_cgen_ex. */
int pkw__cgen(pkw_module *m, const pkw_alloc *alloc, unsigned flags,
              char **out_c, size_t *out_len, char *err, size_t errlen);
/* The name of helper i, in the order aot code's table has them; NULL
 * past the last. */
const char *pkw__cgen_helper(size_t i);
/* The helpers, by address, in that order (jrt.c). */
extern const void *const pkw__jrt_helpers[];
extern const size_t pkw__jrt_nhelpers;

#endif
