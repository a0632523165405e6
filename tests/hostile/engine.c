/*
 * Hostile cases of the wasm engine through the public API (wasm backend):
 * hostile-plugins.md BUG 9, 10, 11 and 17. Run as
 * `test_hostile_engine TEST DIR` (DIR holds the .wasm built from
 * fixtures/engine); the generated modules go to pkt_tmp().
 */
#include "test.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char path_buf[1024];

static const char *fixture(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s.wasm", pkt_arg(0), name);
  return path_buf;
}

/* ---- a module writer --------------------------------------------------- */

typedef struct mbuf {
  unsigned char *b;
  size_t n, cap;
} mbuf;

static void put(mbuf *o, unsigned char v) {
  if (o->n == o->cap) {
    o->cap = o->cap ? o->cap * 2 : 4096;
    o->b = realloc(o->b, o->cap);
    PKT_ASSERT(o->b != NULL);
  }
  o->b[o->n++] = v;
}
static void putn(mbuf *o, const void *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    put(o, ((const unsigned char *)p)[i]);
}
static void uleb(mbuf *o, uint32_t v) {
  do {
    unsigned char c = v & 0x7f;
    v >>= 7;
    put(o, (unsigned char)(c | (v ? 0x80 : 0)));
  } while (v);
}
/* Section id with the content of c; empties c. */
static void section(mbuf *o, unsigned char id, mbuf *c) {
  put(o, id);
  uleb(o, (uint32_t)c->n);
  putn(o, c->b, c->n);
  c->n = 0;
}
static void header(mbuf *o) {
  static const unsigned char h[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  o->n = 0;
  putn(o, h, 8);
}
static const char *write_tmp(const char *name, mbuf *o) {
  const char *path = pkt_tmp(name);
  pkt_write_file(path, o->b, o->n);
  free(o->b);
  o->b = NULL;
  o->n = o->cap = 0;
  return path;
}

/* hostile-cases/gen_brtable_bomb.py N CNT, shrunk: f0 (i32) -> (i32 x n)
 * pushes a value below, then n copies of its argument, and br_table's
 * cnt + 1 entries all return them (each needed its own n-copy stub);
 * "run" (i32) -> i32 calls it and keeps the first. */
static const char *brtable_bomb(uint32_t n, uint32_t cnt) {
  mbuf o = {NULL, 0, 0}, c = {NULL, 0, 0}, body = {NULL, 0, 0};
  uint32_t i;
  header(&o);
  uleb(&c, 2);
  putn(&c, "\x60\x01\x7f", 3);
  uleb(&c, n);
  for (i = 0; i < n; i++)
    put(&c, 0x7f);
  putn(&c, "\x60\x01\x7f\x01\x7f", 5);
  section(&o, 1, &c);
  putn(&c, "\x02\x00\x01", 3);
  section(&o, 3, &c);
  uleb(&c, 1);
  uleb(&c, 3);
  putn(&c, "run\x00\x01", 5);
  section(&o, 7, &c);
  putn(&body, "\x00\x41\x00", 3);
  for (i = 0; i < n; i++)
    putn(&body, "\x20\x00", 2);
  putn(&body, "\x20\x00\x0e", 3);
  uleb(&body, cnt);
  for (i = 0; i <= cnt; i++)
    put(&body, 0x00);
  put(&body, 0x0b);
  uleb(&c, 2);
  uleb(&c, (uint32_t)body.n);
  putn(&c, body.b, body.n);
  body.n = 0;
  putn(&body, "\x00\x20\x00\x10\x00", 5);
  for (i = 1; i < n; i++)
    put(&body, 0x1a);
  put(&body, 0x0b);
  uleb(&c, (uint32_t)body.n);
  putn(&c, body.b, body.n);
  section(&o, 10, &c);
  free(c.b);
  free(body.b);
  return write_tmp("brtable_bomb.wasm", &o);
}

static pk_host *host;
static pk_plugin *plug;

static int open_with(const char *path, uint64_t max_memory, int validate_all) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.max_memory = max_memory;
  o.validate_all = validate_all;
  plug = NULL;
  return pk_plugin_open(host, path, &o, &plug);
}

static int call_i32(const char *name, int32_t arg, int32_t *out) {
  pk_func *f;
  pk_val in = PK_I32(arg), res;
  int rc;
  PKT_RC(host, pk_plugin_func(plug, name, NULL, &f), PK_OK);
  rc = pk_func_call(f, &in, 1, &res, 1);
  *out = res.i32;
  return rc;
}

/* BUG 9: the report's generator at 400 values and 8,000 entries (a 9 KB
 * module) made 38 MB of code (3.2 million words) and asked for about
 * three times that while translating; the size grew with the square of
 * the module's. Now one stub serves every entry: translating at open
 * (validate_all) or at the first call, the host is asked for less than
 * 8 MiB in all (the plugin's value stack and frames included), and the
 * function returns its argument. */
PK_TEST(br_table_bomb_linear) {
  const char *path = brtable_bomb(400, 8000);
  int validate_all;
  for (validate_all = 0; validate_all < 2; validate_all++) {
    size_t before;
    int32_t r = 0;
    host = test_host();
    before = pkt_bytes;
    PKT_RC(host, open_with(path, 0, validate_all), PK_OK);
    PKT_RC(host, call_i32("run", 41, &r), PK_OK);
    PKT_EQ_INT(r, 41);
    if (pkt_bytes - before >= ((size_t)8 << 20))
      pkt_fail(__FILE__, __LINE__, "open + call asked for %zu bytes",
               pkt_bytes - before);
    pk_plugin_close(plug);
    pk_host_destroy(host);
  }
}

/* BUG 10: 100,000 exports (the engine's cap: "id" and 99,999 names
 * beginning with '_', which the backend does not list as plugin
 * functions) took minutes to decode, each name compared with all the
 * earlier ones; now they open at once, and a duplicate among them is
 * refused with a message. */
static const char *many_exports(uint32_t nexp, int dup) {
  mbuf o = {NULL, 0, 0}, c = {NULL, 0, 0};
  uint32_t i;
  header(&o);
  putn(&c, "\x01\x60\x01\x7f\x01\x7f", 6);
  section(&o, 1, &c);
  putn(&c, "\x01\x00", 2);
  section(&o, 3, &c);
  uleb(&c, nexp + 1);
  putn(&c, "\x02id\x00\x00", 5);
  for (i = 0; i < nexp; i++) {
    char nm[16];
    snprintf(nm, sizeof nm, "_x%06u", dup && i == nexp - 1 ? 0u : i);
    uleb(&c, 8);
    putn(&c, nm, 8);
    putn(&c, "\x00\x00", 2);
  }
  section(&o, 7, &c);
  putn(&c, "\x01\x04\x00\x20\x00\x0b", 6);
  section(&o, 10, &c);
  free(c.b);
  return write_tmp(dup ? "exports_dup.wasm" : "exports.wasm", &o);
}

PK_TEST(many_exports_open) {
  int32_t r = 0;
  host = test_host();
  PKT_RC(host, open_with(many_exports(99999, 0), 0, 0), PK_OK);
  PKT_RC(host, call_i32("id", 5, &r), PK_OK);
  PKT_EQ_INT(r, 5);
  pk_plugin_close(plug);
  pk_host_destroy(host);
  pkt_expect_open_error(many_exports(99999, 1), NULL, PK_EFORMAT, "open",
                        "duplicate export name");
  /* Past the engine's cap: a limit, named. */
  pkt_expect_open_error(many_exports(100001, 0), NULL, PK_ELIMIT, "open",
                        "too many exports");
}

/* Translation work (BUG 9's class): "f" makes 2,000 calls of a function
 * with 1,000 parameters and results, about 1,000 translation steps per 2
 * bytes of body, over the engine's cap of 64 per byte. Lazily, the open
 * works and the call that reaches f fails with PK_ELIMIT naming the cap
 * (not "engine error"), the plugin staying usable; validate_all fails
 * the open the same way. */
static const char *wide_calls(uint32_t p, uint32_t ncalls) {
  mbuf o = {NULL, 0, 0}, c = {NULL, 0, 0}, b = {NULL, 0, 0};
  uint32_t i;
  header(&o);
  uleb(&c, 2);
  put(&c, 0x60);
  uleb(&c, p);
  for (i = 0; i < p; i++)
    put(&c, 0x7f);
  uleb(&c, p);
  for (i = 0; i < p; i++)
    put(&c, 0x7f);
  putn(&c, "\x60\x00\x00", 3);
  section(&o, 1, &c);
  putn(&c, "\x02\x00\x01", 3);
  section(&o, 3, &c);
  putn(&c, "\x01\x01" "f" "\x00\x01", 5);
  section(&o, 7, &c);
  uleb(&c, 2);
  put(&b, 0); /* g: returns its parameters */
  for (i = 0; i < p; i++) {
    put(&b, 0x20);
    uleb(&b, i);
  }
  put(&b, 0x0b);
  uleb(&c, (uint32_t)b.n);
  putn(&c, b.b, b.n);
  b.n = 0;
  put(&b, 0); /* f: p constants, ncalls calls of g, p drops */
  for (i = 0; i < p; i++)
    putn(&b, "\x41\x00", 2);
  for (i = 0; i < ncalls; i++)
    putn(&b, "\x10\x00", 2);
  for (i = 0; i < p; i++)
    put(&b, 0x1a);
  put(&b, 0x0b);
  uleb(&c, (uint32_t)b.n);
  putn(&c, b.b, b.n);
  section(&o, 10, &c);
  free(c.b);
  free(b.b);
  return write_tmp("wide.wasm", &o);
}

PK_TEST(translation_limit_is_elimit) {
  const char *path = wide_calls(1000, 2000);
  pk_func *f;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  host = test_host();
  PKT_RC(host, open_with(path, 0, 0), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "f", "()->()", &f), PK_OK);
  PKT_RC(host, pk_func_call(f, NULL, 0, NULL, 0), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "translation work exceeds");
  PKT_RC(host, pk_func_call(f, NULL, 0, NULL, 0), PK_ELIMIT);
  pk_plugin_close(plug);
  pk_host_destroy(host);
  o.validate_all = 1;
  pkt_expect_open_error(path, &o, PK_ELIMIT, "open",
                        "translation work exceeds");
}

/* BUG 11: twelve tables of 10M elements (960 MB) from a 116-byte module.
 * With max_memory 64 KiB the open fails like a memory over the limit
 * (same error code), naming the memory limit, before any table is
 * allocated; without max_memory the engine's cap on the elements of all
 * tables (10M) refuses it too. */
PK_TEST(table_bomb_refused) {
  pk_plugin *p = (pk_plugin *)&p;
  int mem_rc;
  size_t before;
  host = test_host();
  mem_rc = open_with(fixture("memory_over"), 65536, 0);
  PKT_EQ_INT(mem_rc, PK_ELIMIT); /* a limit, not a malformed module */
  PKT_CONTAINS(pk_host_errmsg(host), "memory");
  before = pkt_bytes;
  PKT_RC(host, open_with(fixture("table_bomb"), 65536, 0), mem_rc);
  PKT_CONTAINS(pk_host_errmsg(host), "table_bomb.wasm");
  PKT_CONTAINS(pk_host_errmsg(host), "tables: 120000000 elements");
  PKT_CONTAINS(pk_host_errmsg(host), "exceed the memory limit (65536 bytes)");
  PKT_ASSERT(pkt_bytes - before < ((size_t)16 << 20));
  before = pkt_bytes;
  PKT_RC(host, pk_plugin_open(host, fixture("table_bomb"), NULL, &p), mem_rc);
  PKT_ASSERT(p == (pk_plugin *)&p);
  PKT_CONTAINS(pk_host_errmsg(host), "exceed the limit (10000000 elements)");
  PKT_ASSERT(pkt_bytes - before < ((size_t)16 << 20));
  pk_host_destroy(host);
}

/* BUG 11: table.grow charges the same budget: 64 KiB of max_memory holds
 * 8,192 elements of 8 bytes; past them table.grow answers -1. */
PK_TEST(table_grow_bounded) {
  int32_t r = 0;
  host = test_host();
  PKT_RC(host, open_with(fixture("table_grow"), 65536, 0), PK_OK);
  PKT_RC(host, call_i32("grow", 8000, &r), PK_OK);
  PKT_EQ_INT(r, 0);
  PKT_RC(host, call_i32("grow", 193, &r), PK_OK);
  PKT_EQ_INT(r, -1);
  PKT_RC(host, call_i32("grow", 192, &r), PK_OK);
  PKT_EQ_INT(r, 8000);
  PKT_RC(host, call_i32("grow", 1, &r), PK_OK);
  PKT_EQ_INT(r, -1);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

/* BUG 17 (hostile-cases/lazy_invalid_leak.wasm): "bad" declares 49,000
 * i64 locals and then adds on an empty stack. Translated lazily, it
 * failed at every call, and each failure kept 49 KB in the module until
 * close (2,000 calls: 99 MB). Now every call fails the same way with
 * PK_EFORMAT, and the calls after the first allocate nothing. */
PK_TEST(lazy_invalid_no_growth) {
  static const unsigned char mod[] = {
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x05,
      0x01, 0x60, 0x00, 0x01, 0x7f, 0x03, 0x02, 0x01, 0x00, 0x07,
      0x07, 0x01, 0x03, 0x62, 0x61, 0x64, 0x00, 0x00, 0x0a, 0x09,
      0x01, 0x07, 0x01, 0xe8, 0xfe, 0x02, 0x7e, 0x6a, 0x0b};
  const char *path = pkt_tmp("lazy_invalid.wasm");
  pk_func *f;
  pk_val res;
  size_t before;
  long live;
  int i;
  pkt_write_file(path, mod, sizeof mod);
  host = test_host();
  PKT_RC(host, open_with(path, 0, 0), PK_OK);
  PKT_RC(host, pk_plugin_func(plug, "bad", NULL, &f), PK_OK);
  PKT_RC(host, pk_func_call(f, NULL, 0, &res, 1), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(host), "function 0: type mismatch");
  before = pkt_bytes;
  live = pkt_live;
  for (i = 0; i < 2000; i++)
    PKT_RC(host, pk_func_call(f, NULL, 0, &res, 1), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(host), "function 0: type mismatch");
  PKT_EQ_INT(pkt_bytes - before, 0);
  PKT_EQ_INT(pkt_live, live);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

/* Review, jit: every rotation, division, float result, promotion,
 * truncation and call in a function's C declared its own temporaries,
 * and libtcc gives each block its own stack space, so the C frame grew
 * with the function's length. A recursive function with a few hundred
 * of them (deep_frames.wat, 480) overflowed the host's C stack at a
 * depth the frame limit allows (SIGSEGV at 3,000), where the interpreter
 * returns. Now a frame's temporaries are the function's, declared once:
 * on every tier the recursion returns at a depth the value stack holds,
 * and past the limits it traps. */
static void deep_frames(const char *tier) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  int32_t r = 0;
  int rc;
  host = test_host();
  o.tier = tier;
  plug = NULL;
  rc = pk_plugin_open(host, fixture("deep_frames"), &o, &plug);
  if (rc == PK_ENOSYS) {
    pk_host_destroy(host);
    pkt_skip("the %s tier is not built", tier);
  }
  PKT_RC(host, rc, PK_OK);
  PKT_RC(host, call_i32("rec", 8000, &r), PK_OK);
  PKT_EQ_INT(r, 8000);
  PKT_RC(host, call_i32("rec", 100000, &r), PK_ETRAP);
  PKT_CONTAINS(pk_host_errmsg(host), "call stack exhausted");
  PKT_RC(host, call_i32("rec", 10, &r), PK_OK);
  PKT_EQ_INT(r, 10);
  pk_plugin_close(plug);
  pk_host_destroy(host);
}
PK_TEST(deep_frames_interp) { deep_frames("interp"); }
PK_TEST(deep_frames_jit) { deep_frames("jit"); }
