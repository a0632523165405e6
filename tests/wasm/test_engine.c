/* Unit tests of the engine's limits, traps and allocator use.
 * usage: test_engine <name>   (one test per process; ctest runs each) */
#define _POSIX_C_SOURCE 200809L   /* nanosleep */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasm.h"

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,     \
              #cond);                                                      \
      exit(1);                                                             \
    }                                                                      \
  } while (0)
#define CHECK_RC(expr, want)                                               \
  do {                                                                     \
    int rc_ = (expr);                                                      \
    if (rc_ != (want)) {                                                   \
      fprintf(stderr, "%s:%d: %s = %s, want %s\n", __FILE__, __LINE__,     \
              #expr, pkw_errname(rc_), pkw_errname(want));                 \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

/* ---- a tiny module builder ---------------------------------------------- */

typedef struct buf {
  uint8_t b[8192];
  size_t n;
} buf;

static void put(buf *o, uint8_t v) { o->b[o->n++] = v; }
static void putn(buf *o, const void *p, size_t n) {
  memcpy(o->b + o->n, p, n);
  o->n += n;
}
static void uleb(buf *o, uint32_t v) {
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    put(o, (uint8_t)(c | (v ? 0x80 : 0)));
  } while (v);
}
static void section(buf *o, uint8_t id, const buf *c) {
  put(o, id);
  uleb(o, (uint32_t)c->n);
  putn(o, c->b, c->n);
}
static void name(buf *o, const char *s) {
  uleb(o, (uint32_t)strlen(s));
  putn(o, s, strlen(s));
}

typedef struct spec {
  const char *params, *results;  /* "ii" -> (i32, i32) */
  const uint8_t *code;           /* body expression, ending in 0x0b */
  size_t code_len;
  int nlocals;                   /* extra i32 locals */
  int mem_min, mem_max;          /* mem_min < 0: no memory */
  int import_host;               /* import env.h of the same type as f */
  int start;                     /* f is also the start function */
} spec;

static void types(buf *o, const char *s) {
  uleb(o, (uint32_t)strlen(s));
  for (; *s; s++)
    put(o, *s == 'i' ? 0x7f : *s == 'I' ? 0x7e : *s == 'f' ? 0x7d : 0x7c);
}

/* One function "f" (index 0, or 1 after the import). */
static void build(buf *o, const spec *sp) {
  buf c;
  static const uint8_t hdr[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  o->n = 0;
  putn(o, hdr, 8);
  c.n = 0; /* type */
  uleb(&c, 1);
  put(&c, 0x60);
  types(&c, sp->params);
  types(&c, sp->results);
  section(o, 1, &c);
  if (sp->import_host) {
    c.n = 0;
    uleb(&c, 1);
    name(&c, "env");
    name(&c, "h");
    put(&c, 0);
    uleb(&c, 0);
    section(o, 2, &c);
  }
  c.n = 0; /* function */
  uleb(&c, 1);
  uleb(&c, 0);
  section(o, 3, &c);
  if (sp->mem_min >= 0) {
    c.n = 0;
    uleb(&c, 1);
    put(&c, sp->mem_max >= 0 ? 1 : 0);
    uleb(&c, (uint32_t)sp->mem_min);
    if (sp->mem_max >= 0)
      uleb(&c, (uint32_t)sp->mem_max);
    section(o, 5, &c);
  }
  c.n = 0; /* export */
  uleb(&c, 1);
  name(&c, "f");
  put(&c, 0);
  uleb(&c, sp->import_host ? 1 : 0);
  section(o, 7, &c);
  if (sp->start) {
    c.n = 0;
    uleb(&c, sp->import_host ? 1 : 0);
    section(o, 8, &c);
  }
  c.n = 0; /* code */
  {
    buf body;
    body.n = 0;
    if (sp->nlocals) {
      uleb(&body, 1);
      uleb(&body, (uint32_t)sp->nlocals);
      put(&body, 0x7f);
    } else {
      uleb(&body, 0);
    }
    putn(&body, sp->code, sp->code_len);
    uleb(&c, 1);
    uleb(&c, (uint32_t)body.n);
    putn(&c, body.b, body.n);
  }
  section(o, 10, &c);
}

typedef struct fixture {
  pkw_module *m;
  pkw_instance *inst;
  pkw_func *f;
} fixture;

static void load(fixture *fx, const spec *sp, const pkw_limits *lim,
                 const pkw_extern *imports) {
  buf b;
  char err[256];
  int rc;
  build(&b, sp);
  rc = pkw_module_decode(NULL, b.b, b.n, &fx->m, err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "decode: %s\n", err);
    exit(1);
  }
  rc = pkw_instance_create(fx->m, imports, imports ? 1 : 0, lim, &fx->inst,
                           err, sizeof err);
  if (rc != 0) {
    fprintf(stderr, "instantiate: %s\n", err);
    exit(1);
  }
  CHECK_RC(pkw_instance_func(fx->inst, "f", &fx->f), PKW_OK);
}

static void unload(fixture *fx) {
  pkw_instance_destroy(fx->inst);
  pkw_module_destroy(fx->m);
}

/* (loop (br 0)) */
static const uint8_t forever[] = {0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b};
/* (call 0) : infinite recursion, with 300 locals per frame */
static const uint8_t recurse[] = {0x10, 0x00, 0x0b};

/* ---- tests ---------------------------------------------------------------- */

static void test_fuel(void) {
  spec sp = {"", "", forever, sizeof forever, 0, -1, -1, 0, 0};
  fixture fx;
  load(&fx, &sp, NULL, NULL);
  pkw_instance_set_fuel(fx.inst, 100000);
  CHECK_RC(pkw_call(fx.f, NULL, 0, NULL, 0), PKW_TRAP_OUT_OF_FUEL);
  CHECK(pkw_instance_fuel(fx.inst) == 0);
  /* Refuelled, it runs (and traps) again: the instance stays usable. */
  pkw_instance_set_fuel(fx.inst, 10);
  CHECK_RC(pkw_call(fx.f, NULL, 0, NULL, 0), PKW_TRAP_OUT_OF_FUEL);
  unload(&fx);
}

static void test_fuel_start(void) {
  /* A start function that loops forever is bounded by the initial fuel
   * of pkw_limits; the trap comes back from pkw_instance_create with the
   * partly initialized instance, which the caller destroys. */
  spec sp = {"", "", forever, sizeof forever, 0, -1, -1, 0, 1};
  pkw_limits lim;
  pkw_module *m;
  pkw_instance *inst = NULL;
  buf b;
  memset(&lim, 0, sizeof lim);
  lim.fuel = 5000;
  build(&b, &sp);
  CHECK_RC(pkw_module_decode(NULL, b.b, b.n, &m, NULL, 0), PKW_OK);
  CHECK_RC(pkw_instance_create(m, NULL, 0, &lim, &inst, NULL, 0),
           PKW_TRAP_OUT_OF_FUEL);
  CHECK(inst != NULL);
  pkw_instance_destroy(inst);
  pkw_module_destroy(m);
}

static void *interrupter(void *arg) {
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
  pkw_instance_interrupt((pkw_instance *)arg);
  return NULL;
}

static void test_interrupt(void) {
  spec sp = {"", "", forever, sizeof forever, 0, -1, -1, 0, 0};
  fixture fx;
  pthread_t th;
  load(&fx, &sp, NULL, NULL);
  CHECK(pthread_create(&th, NULL, interrupter, fx.inst) == 0);
  CHECK_RC(pkw_call(fx.f, NULL, 0, NULL, 0), PKW_TRAP_INTERRUPTED);
  pthread_join(th, NULL);
  /* The flag was consumed: a bounded call now runs out of fuel instead. */
  pkw_instance_set_fuel(fx.inst, 1000);
  CHECK_RC(pkw_call(fx.f, NULL, 0, NULL, 0), PKW_TRAP_OUT_OF_FUEL);
  unload(&fx);
}

static void test_call_depth(void) {
  /* Default limits: infinite recursion with big frames traps cleanly;
   * the interpreter never recurses in C, so this cannot overflow the C
   * stack (run under ASan in CI). */
  spec sp = {"", "", recurse, sizeof recurse, 300, -1, -1, 0, 0};
  pkw_limits lim;
  fixture fx;
  load(&fx, &sp, NULL, NULL);
  CHECK_RC(pkw_call(fx.f, NULL, 0, NULL, 0), PKW_TRAP_STACK_EXHAUSTED);
  unload(&fx);
  /* An explicit depth limit with small frames. */
  memset(&lim, 0, sizeof lim);
  lim.max_call_depth = 100;
  sp.nlocals = 0;
  load(&fx, &sp, &lim, NULL);
  CHECK_RC(pkw_call(fx.f, NULL, 0, NULL, 0), PKW_TRAP_STACK_EXHAUSTED);
  CHECK_RC(pkw_call(fx.f, NULL, 0, NULL, 0), PKW_TRAP_STACK_EXHAUSTED);
  unload(&fx);
}

static void test_call_depth_bounded(void) {
  /* fac-style recursion: (if (local.get 0) (then (call 0 (n - 1)))) to
   * depth n succeeds below the limit and traps above it. */
  static const uint8_t code[] = {
      0x20, 0x00, 0x04, 0x40,                    /* local.get 0; if */
      0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x00,  /* call 0 (n - 1) */
      0x0b, 0x0b};
  spec sp = {"i", "", code, sizeof code, 0, -1, -1, 0, 0};
  pkw_limits lim;
  fixture fx;
  uint64_t a;
  memset(&lim, 0, sizeof lim);
  lim.max_call_depth = 1000;
  load(&fx, &sp, &lim, NULL);
  a = 900;
  CHECK_RC(pkw_call(fx.f, &a, 1, NULL, 0), PKW_OK);
  a = 1100;
  CHECK_RC(pkw_call(fx.f, &a, 1, NULL, 0), PKW_TRAP_STACK_EXHAUSTED);
  a = 10;
  CHECK_RC(pkw_call(fx.f, &a, 1, NULL, 0), PKW_OK);
  unload(&fx);
}

static void test_memory_limit(void) {
  /* (memory.grow (local.get 0)) */
  static const uint8_t code[] = {0x20, 0x00, 0x40, 0x00, 0x0b};
  spec sp = {"i", "i", code, sizeof code, 0, 1, -1, 0, 0};
  pkw_limits lim;
  fixture fx;
  uint64_t a, r;
  buf b;
  pkw_module *m;
  pkw_instance *inst = NULL;
  memset(&lim, 0, sizeof lim);
  lim.max_memory_pages = 4;
  load(&fx, &sp, &lim, NULL);
  a = 3;
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_OK);
  CHECK(r == 1);                        /* old size */
  a = 1;
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_OK);
  CHECK((uint32_t)r == 0xffffffffu);    /* -1: over the limit */
  CHECK(pkw_memory_pages(pkw_instance_memory(fx.inst)) == 4);
  unload(&fx);
  /* A module whose minimum exceeds the limit does not instantiate. */
  sp.mem_min = 10;
  build(&b, &sp);
  CHECK_RC(pkw_module_decode(NULL, b.b, b.n, &m, NULL, 0), PKW_OK);
  CHECK_RC(pkw_instance_create(m, NULL, 0, &lim, &inst, NULL, 0),
           PKW_ELIMIT);
  CHECK(inst == NULL);
  pkw_module_destroy(m);
}

static void test_memory_oob(void) {
  /* (i32.load (local.get 0)) on one page */
  static const uint8_t code[] = {0x20, 0x00, 0x28, 0x02, 0x00, 0x0b};
  spec sp = {"i", "i", code, sizeof code, 0, 1, 1, 0, 0};
  fixture fx;
  uint64_t a, r;
  uint8_t byte = 0;
  load(&fx, &sp, NULL, NULL);
  a = 65532;
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_OK);
  a = 65533;
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_TRAP_MEMORY_OOB);
  a = 0xffffffffu;
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_TRAP_MEMORY_OOB);
  CHECK_RC(pkw_memory_read(pkw_instance_memory(fx.inst), 65536, &byte, 1),
           PKW_TRAP_MEMORY_OOB);
  unload(&fx);
}

static void test_trap_kinds(void) {
  static const uint8_t unreach[] = {0x00, 0x0b};
  static const uint8_t divz[] = {0x20, 0x00, 0x41, 0x00, 0x6d, 0x0b};
  static const uint8_t conv[] = {0x20, 0x00, 0xbe, 0xa8, 0x0b};
  spec sp = {"i", "i", unreach, sizeof unreach, 0, -1, -1, 0, 0};
  fixture fx;
  uint64_t a = 0x7fc00000u, r;   /* NaN as f32 bits */
  load(&fx, &sp, NULL, NULL);
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_TRAP_UNREACHABLE);
  unload(&fx);
  sp.code = divz;
  sp.code_len = sizeof divz;
  load(&fx, &sp, NULL, NULL);
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_TRAP_DIVIDE_BY_ZERO);
  unload(&fx);
  sp.code = conv;
  sp.code_len = sizeof conv;
  load(&fx, &sp, NULL, NULL);
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_TRAP_INVALID_CONVERSION);
  CHECK(PKW_IS_TRAP(PKW_TRAP_INVALID_CONVERSION));
  CHECK(!PKW_IS_TRAP(PKW_EINVAL));
  unload(&fx);
}

/* Host import: h(a, b) = a * 1000 + b; f(a, b) = h(a, b). */
static int host_h(void *ud, pkw_instance *inst, const uint64_t *args,
                  uint64_t *results) {
  uint32_t a = (uint32_t)args[0], b = (uint32_t)args[1];
  (*(int *)ud)++;
  (void)inst;
  results[0] = (uint32_t)(a * 1000u + b);
  return 0;
}

static int host_fail(void *ud, pkw_instance *inst, const uint64_t *args,
                     uint64_t *results) {
  (void)ud; (void)inst; (void)args; (void)results;
  return -1234;
}

static void test_host_import(void) {
  static const uint8_t code[] = {0x20, 0x00, 0x20, 0x01, 0x10, 0x00, 0x0b};
  static const uint8_t ii[2] = {PKW_I32, PKW_I32};
  spec sp = {"ii", "i", code, sizeof code, 0, -1, -1, 1, 0};
  pkw_functype ft = {2, 1, ii, ii};
  pkw_func *h, *hf;
  pkw_extern ex;
  fixture fx;
  int calls = 0;
  uint64_t a[2] = {7, 42}, r;
  CHECK_RC(pkw_func_create_host(NULL, &ft, host_h, &calls, &h), PKW_OK);
  ex.kind = PKW_EXTERN_FUNC;
  ex.u.func = h;
  load(&fx, &sp, NULL, &ex);
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_OK);
  CHECK(r == 7042 && calls == 1);
  CHECK_RC(pkw_call(fx.f, a, 1, &r, 1), PKW_EINVAL);
  unload(&fx);
  /* A failing host function's code comes back unchanged. */
  CHECK_RC(pkw_func_create_host(NULL, &ft, host_fail, NULL, &hf), PKW_OK);
  ex.u.func = hf;
  load(&fx, &sp, NULL, &ex);
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), -1234);
  unload(&fx);
  pkw_func_destroy_host(h);
  pkw_func_destroy_host(hf);
}

/* Re-entrancy: h(a, b) calls back into f(a - 1, b) while a > 0, so the
 * guest and host frames interleave a levels deep. */
static pkw_func *reentry_f;
static int host_reenter(void *ud, pkw_instance *inst, const uint64_t *args,
                        uint64_t *results) {
  uint64_t a[2], r = 0;
  int rc;
  (void)ud;
  CHECK(inst != NULL);
  if ((uint32_t)args[0] == 0) {
    results[0] = (uint32_t)args[1];
    return 0;
  }
  a[0] = (uint32_t)args[0] - 1;
  a[1] = args[1];
  rc = pkw_call(reentry_f, a, 2, &r, 1);
  if (rc != 0)
    return rc;
  results[0] = (uint32_t)(r + 1);
  return 0;
}

static void test_host_reentry(void) {
  static const uint8_t code[] = {0x20, 0x00, 0x20, 0x01, 0x10, 0x00, 0x0b};
  static const uint8_t ii[2] = {PKW_I32, PKW_I32};
  spec sp = {"ii", "i", code, sizeof code, 0, -1, -1, 1, 0};
  pkw_functype ft = {2, 1, ii, ii};
  pkw_func *h;
  pkw_extern ex;
  fixture fx;
  uint64_t a[2] = {20, 100}, r = 0;
  CHECK_RC(pkw_func_create_host(NULL, &ft, host_reenter, NULL, &h), PKW_OK);
  ex.kind = PKW_EXTERN_FUNC;
  ex.u.func = h;
  load(&fx, &sp, NULL, &ex);
  reentry_f = fx.f;
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_OK);
  CHECK(r == 120);
  /* Nesting deeper than the re-entry cap traps instead of growing the C
   * stack without bound; the instance stays usable afterwards. */
  a[0] = 100000;
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_TRAP_STACK_EXHAUSTED);
  a[0] = 3;
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_OK);
  CHECK(r == 103);
  unload(&fx);
  pkw_func_destroy_host(h);
}

/* Counting allocator that can fail the k-th allocation. */
static long live, total, fail_at;
static int in_call;
static void *count_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  if (n == 0) {
    if (p != NULL)
      live--;
    free(p);
    return NULL;
  }
  CHECK(!in_call);
  total++;
  if (fail_at && total == fail_at)
    return NULL;
  if (p == NULL) {
    p = malloc(n);
    if (p != NULL)
      live++;
    return p;
  }
  return realloc(p, n);
}

static void test_alloc_hook(void) {
  static const uint8_t code[] = {0x20, 0x00, 0x40, 0x00, 0x0b};
  spec sp = {"i", "i", code, sizeof code, 0, 1, -1, 0, 0};
  pkw_alloc al = {count_realloc, NULL};
  buf b;
  pkw_module *m;
  pkw_instance *inst;
  pkw_func *f;
  uint64_t a = 0, r;
  long k;
  build(&b, &sp);
  CHECK_RC(pkw_module_decode(&al, b.b, b.n, &m, NULL, 0), PKW_OK);
  CHECK_RC(pkw_instance_create(m, NULL, 0, NULL, &inst, NULL, 0), PKW_OK);
  CHECK(live > 0);
  CHECK_RC(pkw_instance_func(inst, "f", &f), PKW_OK);
  in_call = 1;   /* memory.grow 0 allocates nothing; calls never do */
  CHECK_RC(pkw_call(f, &a, 1, &r, 1), PKW_OK);
  in_call = 0;
  pkw_instance_destroy(inst);
  pkw_module_destroy(m);
  CHECK(live == 0);
  /* Allocation failure sweep: every failure point gives ENOMEM and no
   * leak, until everything succeeds. */
  for (k = 1;; k++) {
    int rc;
    total = 0;
    fail_at = k;
    m = NULL;
    inst = NULL;
    rc = pkw_module_decode(&al, b.b, b.n, &m, NULL, 0);
    if (rc == PKW_OK) {
      rc = pkw_instance_create(m, NULL, 0, NULL, &inst, NULL, 0);
      pkw_instance_destroy(inst);
      pkw_module_destroy(m);
    }
    CHECK(live == 0);
    if (rc == PKW_OK)
      break;
    CHECK_RC(rc, PKW_ENOMEM);
  }
  CHECK(k > 2);
}

/* Regression (found by the fuzzer): a br_table entry other than the first
 * that branches backwards (to a loop) jumped 2^32 words away, because
 * the entry index was added as an unsigned value. */
static void test_regress_br_table_back_edge(void) {
  static const uint8_t code[] = {
      0x02, 0x40, 0x03, 0x40,                    /* block loop */
      0x20, 0x01, 0x41, 0x01, 0x6a, 0x21, 0x01,  /* l1 = l1 + 1 */
      0x20, 0x01, 0x41, 0x05, 0x49,              /* l1 < 5 */
      0x0e, 0x02, 0x01, 0x00, 0x01,              /* br_table 1 0 1 */
      0x0b, 0x0b, 0x20, 0x01, 0x0b};             /* end end l1 */
  spec sp = {"i", "i", code, sizeof code, 1, -1, -1, 0, 0};
  fixture fx;
  uint64_t a = 0, r = 0;
  load(&fx, &sp, NULL, NULL);
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_OK);
  CHECK(r == 5);
  unload(&fx);
}

static void test_malformed(void) {
  static const uint8_t junk[] = {0, 'a', 's', 'm', 1, 0, 0, 0, 1, 5, 1};
  pkw_module *m = (pkw_module *)&m;
  char err[128] = "";
  CHECK_RC(pkw_module_decode(NULL, junk, sizeof junk, &m, err, sizeof err),
           PKW_EMALFORMED);
  CHECK(m == (pkw_module *)&m);   /* untouched on failure */
  CHECK(err[0] != 0);
  CHECK_RC(pkw_module_decode(NULL, junk, 3, &m, NULL, 0), PKW_EMALFORMED);
}

/* Three () -> i32 functions: ok = 7, bad (its body leaves an i64: invalid)
 * and calls_bad = bad(). */
static const uint8_t lazy_mod[] = {
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f,             /* type ()->i32 */
    0x03, 0x04, 0x03, 0x00, 0x00, 0x00,                   /* 3 functions */
    0x07, 0x18, 0x03, 0x02, 'o', 'k', 0x00, 0x00,         /* exports */
    0x03, 'b', 'a', 'd', 0x00, 0x01,
    0x09, 'c', 'a', 'l', 'l', 's', '_', 'b', 'a', 'd', 0x00, 0x02,
    0x0a, 0x10, 0x03,                                     /* code */
    0x04, 0x00, 0x41, 0x07, 0x0b,                         /* i32.const 7 */
    0x04, 0x00, 0x42, 0x01, 0x0b,                         /* i64.const 1 */
    0x04, 0x00, 0x10, 0x01, 0x0b};                        /* call 1 */

/* PKW_DECODE_LAZY: an invalid body is found at its first call, which
 * fails with the validation error (not a trap); the rest keeps working.
 * Decoded eagerly, the same module is rejected. */
static void test_lazy(void) {
  pkw_module *m = NULL;
  pkw_instance *inst = NULL;
  pkw_func *ok, *bad, *calls_bad;
  uint64_t r = 0;
  char err[256] = "";
  CHECK_RC(pkw_module_decode(NULL, lazy_mod, sizeof lazy_mod, &m, err,
                             sizeof err),
           PKW_EINVALID);
  CHECK(strstr(err, "function 1: type mismatch") != NULL);
  CHECK_RC(pkw_module_decode_ex(NULL, lazy_mod, sizeof lazy_mod,
                                PKW_DECODE_LAZY, &m, err, sizeof err),
           PKW_OK);
  CHECK(strcmp(pkw_module_error(m), "") == 0);
  CHECK_RC(pkw_instance_create(m, NULL, 0, NULL, &inst, err, sizeof err),
           PKW_OK);
  CHECK_RC(pkw_instance_func(inst, "ok", &ok), PKW_OK);
  CHECK_RC(pkw_instance_func(inst, "bad", &bad), PKW_OK);
  CHECK_RC(pkw_instance_func(inst, "calls_bad", &calls_bad), PKW_OK);
  CHECK_RC(pkw_call(ok, NULL, 0, &r, 1), PKW_OK);
  CHECK(r == 7);
  CHECK_RC(pkw_call(bad, NULL, 0, &r, 1), PKW_EINVALID);
  CHECK(strstr(pkw_module_error(m), "function 1: type mismatch") != NULL);
  CHECK_RC(pkw_call(calls_bad, NULL, 0, &r, 1), PKW_EINVALID);
  r = 0;
  CHECK_RC(pkw_call(ok, NULL, 0, &r, 1), PKW_OK); /* translated once */
  CHECK(r == 7);
  pkw_instance_destroy(inst);
  pkw_module_destroy(m);
}

/* A lazy function's real frame is known only once translated: its first
 * entry checks the stack again (exec.c's LAZY). 2,000 locals do not fit
 * a 1,024-slot stack, though the untranslated stub's frame would. */
static void test_lazy_stack(void) {
  static const uint8_t code[] = {0x0b};
  spec sp = {"", "", code, sizeof code, 2000, -1, -1, 0, 0};
  pkw_limits lim;
  pkw_module *m = NULL;
  pkw_instance *inst = NULL;
  pkw_func *f;
  buf b;
  build(&b, &sp);
  memset(&lim, 0, sizeof lim);
  lim.stack_slots = 1024;
  CHECK_RC(pkw_module_decode_ex(NULL, b.b, b.n, PKW_DECODE_LAZY, &m, NULL,
                                0),
           PKW_OK);
  CHECK_RC(pkw_instance_create(m, NULL, 0, &lim, &inst, NULL, 0), PKW_OK);
  CHECK_RC(pkw_instance_func(inst, "f", &f), PKW_OK);
  CHECK_RC(pkw_call(f, NULL, 0, NULL, 0), PKW_TRAP_STACK_EXHAUSTED);
  CHECK_RC(pkw_call(f, NULL, 0, NULL, 0), PKW_TRAP_STACK_EXHAUSTED);
  pkw_instance_destroy(inst);
  pkw_module_destroy(m);
}

static const struct {
  const char *name;
  void (*fn)(void);
} tests[] = {
    {"wasm_fuel_traps", test_fuel},
    {"wasm_fuel_bounds_start", test_fuel_start},
    {"wasm_interrupt_from_thread", test_interrupt},
    {"wasm_call_depth_traps", test_call_depth},
    {"wasm_call_depth_bounded", test_call_depth_bounded},
    {"wasm_memory_limit", test_memory_limit},
    {"wasm_memory_oob_traps", test_memory_oob},
    {"wasm_trap_kinds", test_trap_kinds},
    {"wasm_host_import", test_host_import},
    {"wasm_host_reentry", test_host_reentry},
    {"wasm_alloc_hook_and_failures", test_alloc_hook},
    {"wasm_malformed_rejected", test_malformed},
    {"wasm_regress_br_table_back_edge", test_regress_br_table_back_edge},
    {"wasm_lazy_translation", test_lazy},
    {"wasm_lazy_stack_checked", test_lazy_stack},
};

int main(int argc, char **argv) {
  size_t i;
  if (argc < 2) {
    for (i = 0; i < sizeof tests / sizeof tests[0]; i++)
      printf("%s\n", tests[i].name);
    return 0;
  }
  for (i = 0; i < sizeof tests / sizeof tests[0]; i++) {
    if (strcmp(argv[1], tests[i].name) == 0) {
      tests[i].fn();
      printf("ok %s\n", tests[i].name);
      return 0;
    }
  }
  fprintf(stderr, "no test %s\n", argv[1]);
  return 2;
}
