/* Engine limits and build switches: every default lives here (#ifndef, so
 * a build can override them with -D). */
#ifndef PK_WASM_ENGINE_CONFIG_H
#define PK_WASM_ENGINE_CONFIG_H

/* Memory pages an instance may own when pkw_limits leaves it at 0. */
#ifndef PKW_DEFAULT_MAX_MEMORY_PAGES
#define PKW_DEFAULT_MAX_MEMORY_PAGES 16384u        /* 1 GiB */
#endif
/* Images of at least this many memory pages are mapped copy-on-write by
 * the instances made from them (instance.c: "copy-on-write memory");
 * smaller ones are copied. 0 would map every image. */
#ifndef PKW_COW_MIN_PAGES
#define PKW_COW_MIN_PAGES 1u
#endif
/* A spare's mapped memory whose writes were not tracked goes back to its
 * image by copying the pages the system says were written, up to this
 * many bytes; past it, by dropping them all (instance.c,
 * image_restore_mapped). */
#ifndef PKW_COW_COPY_MAX
#define PKW_COW_COPY_MAX (256u * 1024u)
#endif
/* Wasm call frames per instance before STACK_EXHAUSTED. The interpreter
 * does not recurse in C for guest calls, so this is only a memory bound. */
#ifndef PKW_DEFAULT_MAX_CALL_DEPTH
#define PKW_DEFAULT_MAX_CALL_DEPTH 20000u
#endif
/* 64-bit slots of value stack (locals + operand temporaries). */
#ifndef PKW_DEFAULT_STACK_SLOTS
#define PKW_DEFAULT_STACK_SLOTS (256u * 1024u)     /* 2 MiB */
#endif
/* Table elements (8 bytes each) of all the tables an instance defines,
 * together, when pkw_limits leaves max_table_elems at 0. The tables are
 * also bounded by the memory limit: at most max_memory_pages * 64 KiB
 * bytes of elements. */
#ifndef PKW_DEFAULT_MAX_TABLE_ELEMS
#define PKW_DEFAULT_MAX_TABLE_ELEMS (10u * 1000u * 1000u)   /* 80 MB */
#endif
/* Host -> guest re-entrancy: nested pkw_call on a busy instance. Each
 * level costs one C frame of the interpreter, so it is kept small. */
#ifndef PKW_MAX_REENTRY
#define PKW_MAX_REENTRY 64
#endif
/* Hard caps on what a module may declare (decoder resource limits). */
#ifndef PKW_MAX_FUNC_LOCALS
#define PKW_MAX_FUNC_LOCALS 50000u
#endif
#ifndef PKW_MAX_PAGES
#define PKW_MAX_PAGES 65536u
#endif
/* Exports of one module (the limit of the JS embedding of WebAssembly).
 * Beyond it decoding fails with PKW_ELIMIT. */
#ifndef PKW_MAX_EXPORTS
#define PKW_MAX_EXPORTS 100000u
#endif
/* Translated code, in 32-bit words (PKW_ELIMIT "function N: translated
 * code exceeds ..." beyond): per byte of a function's body (the spec
 * suite and clang's output need under 3; values copied again at each of
 * many branches need more), per function and per module. They bound the
 * memory a module's translation may take, whatever its shape. */
#ifndef PKW_CODE_WORDS_PER_BYTE
#define PKW_CODE_WORDS_PER_BYTE 16u
#endif
#ifndef PKW_MAX_FUNC_CODE_WORDS
#define PKW_MAX_FUNC_CODE_WORDS (64u * 1024u * 1024u)     /* 256 MiB */
#endif
#ifndef PKW_MAX_MODULE_CODE_WORDS
#define PKW_MAX_MODULE_CODE_WORDS (256u * 1024u * 1024u)  /* 1 GiB */
#endif
/* Translation steps (stack entries pushed, popped, checked or copied)
 * per byte of a function's body: an instruction costs its arity (a call
 * of a function with 1,000 parameters, or a block of 1,000 values, is two
 * bytes), so without a bound a body translates in time quadratic in its
 * size. Compiled code needs a few per byte; beyond: PKW_ELIMIT. */
#ifndef PKW_WORK_PER_BYTE
#define PKW_WORK_PER_BYTE 64u
#endif
/* Operand stack entries that still read a local before the translator
 * copies them to their own slots (compiled code has a few): bounds its
 * scans, so translation time stays linear in the body's size. */
#ifndef PKW_MAX_PENDING
#define PKW_MAX_PENDING 64u
#endif

/* The jit tier: the most C it generates for one module (PKW_ELIMIT
 * beyond), about 100 bytes per instruction. */
#ifndef PKW_JIT_MAX_C_BYTES
#define PKW_JIT_MAX_C_BYTES (256u * 1024u * 1024u)
#endif

/* Threaded dispatch with computed goto (GNU C) unless disabled; the
 * portable fallback is a switch. */
#if !defined(PKW_NO_COMPUTED_GOTO) && (defined(__GNUC__) || defined(__clang__))
#define PKW_COMPUTED_GOTO 1
#else
#define PKW_COMPUTED_GOTO 0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PKW_LIKELY(x) __builtin_expect(!!(x), 1)
#define PKW_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PKW_NOINLINE __attribute__((noinline))
#else
#define PKW_LIKELY(x) (x)
#define PKW_UNLIKELY(x) (x)
#define PKW_NOINLINE
#endif

#endif
