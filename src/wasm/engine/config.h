/* Engine limits and build switches: every default lives here (#ifndef, so
 * a build can override them with -D). */
#ifndef PK_WASM_ENGINE_CONFIG_H
#define PK_WASM_ENGINE_CONFIG_H

/* Memory pages an instance may own when pkw_limits leaves it at 0. */
#ifndef PKW_DEFAULT_MAX_MEMORY_PAGES
#define PKW_DEFAULT_MAX_MEMORY_PAGES 16384u        /* 1 GiB */
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
#ifndef PKW_DEFAULT_MAX_TABLE_ELEMS
#define PKW_DEFAULT_MAX_TABLE_ELEMS (10u * 1000u * 1000u)
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
