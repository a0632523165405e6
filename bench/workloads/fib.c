/* Recursive Fibonacci: call-heavy, almost no memory traffic. */
#include "workloads.h"

PKWL_EXPORT(pkwl_fib) int32_t pkwl_fib(int32_t n) {
  if (n < 2)
    return n;
  return pkwl_fib(n - 1) + pkwl_fib(n - 2);
}

PKWL_EXPORT(pkwl_sum) int32_t pkwl_sum(int32_t a, int32_t b) {
  return a + b;
}
