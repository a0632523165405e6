/*
 * work.c: the benchmark workloads, one source for every backend that runs
 * C (native .so, wasm, source, process). No libc calls in the hot paths,
 * so every backend runs the same code.
 */
#include <plugkit_plugin.h>

static int64_t fib(int32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static void sift(int32_t *a, size_t root, size_t n) {
  for (;;) {
    size_t child = 2 * root + 1;
    int32_t t;
    if (child >= n)
      return;
    if (child + 1 < n && a[child + 1] > a[child])
      child++;
    if (a[root] >= a[child])
      return;
    t = a[root];
    a[root] = a[child];
    a[child] = t;
    root = child;
  }
}

/* Heap sort of the int32 array in `in`, returned as a new array. */
static pk_bytes sort(pk_ctx *c, pk_bytes in) {
  size_t n = in.len / 4, i;
  int32_t *a = (int32_t *)pk_bytes_alloc(c, n * 4);
  if (a == NULL)
    return PK_BYTES_NONE;
  memcpy(a, in.ptr, n * 4);
  for (i = n / 2; i-- > 0;)
    sift(a, i, n);
  for (i = n; i-- > 1;) {
    int32_t t = a[0];
    a[0] = a[i];
    a[i] = t;
    sift(a, 0, i);
  }
  return (pk_bytes){(const uint8_t *)a, n * 4};
}

/* Bytes in, the same number out (each byte transformed). */
static pk_bytes bulk(pk_ctx *c, pk_bytes in) {
  uint8_t *out = pk_bytes_alloc(c, in.len);
  size_t i;
  if (out == NULL)
    return PK_BYTES_NONE;
  for (i = 0; i < in.len; i++)
    out[i] = (uint8_t)(in.ptr[i] ^ 0x5a);
  return (pk_bytes){out, in.len};
}

static int32_t triple_index = -1;

/* Calls the host function "triple" once per call. */
static int32_t hostcall(pk_ctx *c, int32_t x) {
  pk_val in = PK_I32(x), out;
  if (triple_index < 0 &&
      pk_host_find(c, "triple", "(i32)->i32", &triple_index) != 0) {
    pk_fail(c, "triple is not granted");
    return 0;
  }
  if (pk_host_call(c, triple_index, &in, 1, &out, 1) != 0) {
    pk_fail(c, "triple failed");
    return 0;
  }
  return out.i32;
}

static int32_t sum(int32_t a, int32_t b) {
  return (int32_t)((uint32_t)a + (uint32_t)b);
}

static pk_str greet(pk_ctx *c, pk_str name) {
  return pk_str_cat(c, PK_STR_LIT("hello, "), name);
}

PK_PLUGIN("work", "1.0.0",
          PK_EXPORT(fib, i64, (i32)),
          PK_EXPORT_CTX(sort, bytes, (bytes)),
          PK_EXPORT_CTX(bulk, bytes, (bytes)),
          PK_EXPORT_CTX(hostcall, i32, (i32)),
          PK_EXPORT(sum, i32, (i32, i32)),
          PK_EXPORT_CTX(greet, str, (str)));
