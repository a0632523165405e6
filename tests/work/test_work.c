/*
 * The benchmark workloads give the same answers on every backend: run as
 * `test_work agrees ARTIFACT` (exit 77, skipped, when the artifact's
 * backend is not built or the artifact could not be built).
 */
#include "test.h"

static int triple(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  results[0].i32 = args[0].i32 * 3;
  return PK_OK;
}

static pk_func *fn(pk_host *h, pk_plugin *p, const char *name) {
  pk_func *f = NULL;
  PKT_RC(h, pk_plugin_func(p, name, NULL, &f), PK_OK);
  return f;
}

PK_TEST(agrees) {
  pk_host *h = test_host();
  pk_plugin *p;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  int32_t data[1000];
  uint8_t bytes[300];
  pk_val in, out;
  uint32_t x = 7;
  int i, rc;

  pk_host_define(h, "triple", "(i32)->i32", triple, NULL);
  o.grants = "triple";
  if ((rc = pk_plugin_open(h, pkt_arg(0), &o, &p)) != PK_OK) {
    if (rc == PK_ENOENT || rc == PK_ENOSYS || rc == PK_EFORMAT) {
      printf("skipped: %s\n", pk_host_errmsg(h));
      pk_host_destroy(h);
      exit(77);
    }
    PKT_RC(h, rc, PK_OK);
  }
  in = PK_I32(20);
  PKT_RC(h, pk_func_call(fn(h, p, "fib"), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i64, 6765);
  for (i = 0; i < 1000; i++) {
    x = x * 1103515245u + 12345u;
    data[i] = (int32_t)x; /* negative values too */
  }
  in = PK_BYTES((const uint8_t *)data, sizeof data);
  PKT_RC(h, pk_func_call(fn(h, p, "sort"), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.bytes.len, sizeof data);
  for (i = 1; i < 1000; i++) {
    int32_t a, b;
    memcpy(&a, out.bytes.ptr + 4 * (i - 1), 4);
    memcpy(&b, out.bytes.ptr + 4 * i, 4);
    if (a > b)
      pkt_fail(__FILE__, __LINE__, "not sorted at %d: %d > %d", i, a, b);
  }
  for (i = 0; i < 300; i++)
    bytes[i] = (uint8_t)i;
  in = PK_BYTES(bytes, sizeof bytes);
  PKT_RC(h, pk_func_call(fn(h, p, "bulk"), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.bytes.len, sizeof bytes);
  for (i = 0; i < 300; i++)
    PKT_EQ_INT(out.bytes.ptr[i], (uint8_t)(i ^ 0x5a));
  in = PK_I32(14);
  PKT_RC(h, pk_func_call(fn(h, p, "hostcall"), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 42);
  pk_plugin_close(p);
  pk_host_destroy(h);
}
