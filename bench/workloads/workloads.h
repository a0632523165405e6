/* Benchmark workloads shared by the native rows (compiled into pk_bench
 * with gcc -O2) and the wasm rows (the same files compiled with
 * clang --target=wasm32-wasi -O2). Exported to wasm under these names. */
#ifndef PK_BENCH_WORKLOADS_H
#define PK_BENCH_WORKLOADS_H

#include <stdint.h>

#if defined(__wasm__)
#define PKWL_EXPORT(name) __attribute__((export_name(#name)))
#else
#define PKWL_EXPORT(name) __attribute__((noinline))
#endif

int32_t pkwl_fib(int32_t n);                /* recursive Fibonacci */
int32_t pkwl_sum(int32_t a, int32_t b);     /* the call-overhead probe */
uint32_t pkwl_mix(int32_t iters);           /* CoreMark-like mix */
uint32_t pkwl_sort(int32_t n, uint32_t seed); /* sort n ints, checksum */

#endif
