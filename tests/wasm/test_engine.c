/* Unit tests of the engine's limits, traps and allocator use.
 * usage: test_engine <name>   (one test per process; ctest runs each) */
#define _POSIX_C_SOURCE 200809L   /* nanosleep */
#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aot_cc.h"
#include "wasm.h"

/* `test_engine NAME jit`: the same test with every module that decodes
 * compiled by the jit tier (pkw_module_jit), whose semantics must be the
 * interpreter's. A module the tier fails on with ENOMEM (an allocation
 * sweep) fails the decode the same way. */
static int tier_jit;
/* `test_engine NAME aot DIR`: the same with the aot tier's code, the
 * module's PKW_CGEN_AOT C built by cc with the aot flags, cached in DIR
 * by the C's hash (an allocation sweep decodes a module many times). Its
 * calling convention differs from the jit's (the fuel in a register). */
static const char *tier_aot;

static int decode_tier(const pkw_alloc *a, const uint8_t *bytes, size_t n,
                       unsigned flags, pkw_module **out, char *err,
                       size_t errlen) {
  char jerr[256];
  int rc = pkw_module_decode_ex(a, bytes, n, flags, out, err, errlen);
  if (rc == PKW_OK && (tier_jit || tier_aot != NULL)) {
    int jrc = tier_aot != NULL
                  ? pkwt_aot_bind(*out, a, tier_aot, 1, NULL, jerr,
                                  sizeof jerr)
                  : pkw_module_jit(*out, jerr, sizeof jerr);
    if (jrc == PKW_ENOMEM) {
      pkw_module_destroy(*out);
      return jrc;
    }
    if (jrc != PKW_OK) {
      fprintf(stderr, "pkw_module_%s: %s: %s\n", tier_aot ? "bind_aot" : "jit",
              pkw_errname(jrc), jerr);
      exit(1);
    }
    if (strcmp(pkw_module_tier(*out), tier_aot ? "aot" : "jit") != 0) {
      fprintf(stderr, "pkw_module_tier: %s\n", pkw_module_tier(*out));
      exit(1);
    }
  }
  return rc;
}
#define pkw_module_decode(a, b, n, m, e, el) decode_tier(a, b, n, 0, m, e, el)
#define pkw_module_decode_ex decode_tier

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

/* One function "f" (index 0, or 1 after the import), and a passive data
 * segment of data_len bytes when data is not NULL. */
static void build_ex(buf *o, const spec *sp, const uint8_t *data,
                     size_t data_len) {
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
  if (data != NULL) { /* data count */
    c.n = 0;
    uleb(&c, 1);
    section(o, 12, &c);
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
  if (data != NULL) {
    c.n = 0;
    uleb(&c, 1);
    put(&c, 1); /* passive */
    uleb(&c, (uint32_t)data_len);
    putn(&c, data, data_len);
    section(o, 11, &c);
  }
}

static void build(buf *o, const spec *sp) { build_ex(o, sp, NULL, 0); }

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

/* A whole module's bytes (several functions), instantiated; fx->f is
   its export `name`. unload() frees it. */
static void load_bytes(fixture *fx, const uint8_t *b, size_t n,
                       const char *name) {
  char err[256];
  CHECK_RC(pkw_module_decode(NULL, b, n, &fx->m, err, sizeof err), PKW_OK);
  CHECK_RC(pkw_instance_create(fx->m, NULL, 0, NULL, &fx->inst, err,
                               sizeof err),
           PKW_OK);
  CHECK_RC(pkw_instance_func(fx->inst, name, &fx->f), PKW_OK);
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

/* The jit tier's code: once compiled, no page of the process is both
 * writable and executable (the code sealed read-and-execute in pages of
 * its own, not left in a writable, executable block of the heap). */
static void test_jit_code_sealed(void) {
  spec sp = {"", "", forever, sizeof forever, 0, -1, -1, 0, 0};
  fixture fx;
  char line[512];
  int wx = 0;
  FILE *maps;
  if (!tier_jit) {
    printf("SKIP: a test of the jit tier (pkw_test_engine NAME jit)\n");
    exit(77);
  }
  load(&fx, &sp, NULL, NULL);
  CHECK(strcmp(pkw_module_tier(fx.m), "jit") == 0);
  pkw_instance_set_fuel(fx.inst, 1000);
  CHECK_RC(pkw_call(fx.f, NULL, 0, NULL, 0), PKW_TRAP_OUT_OF_FUEL);
  if ((maps = fopen("/proc/self/maps", "r")) == NULL) {
    printf("SKIP: no /proc/self/maps\n");
    exit(77);
  }
  while (fgets(line, sizeof line, maps) != NULL) {
    const char *perm = strchr(line, ' ');
    if (perm != NULL && perm[2] == 'w' && perm[3] == 'x') {
      fprintf(stderr, "writable and executable: %s", line);
      wx++;
    }
  }
  fclose(maps);
  CHECK(wx == 0);
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
/* Compiled code is the module's, state the instance's: two instances
 * of one compiled module keep their own memories, and the fuel a loop
 * burns is the interpreter's count exactly. */
static void test_jit_instances_share_code(void) {
  /* old = i32.load 0; i32.store 0 (local 0); old */
  static const uint8_t code[] = {0x41, 0x00, 0x28, 0x02, 0x00, 0x41, 0x00,
                                 0x20, 0x00, 0x36, 0x02, 0x00, 0x0b};
  spec sp = {"i", "i", code, sizeof code, 0, 1, 1, 0, 0};
  fixture a;
  pkw_instance *b;
  pkw_func *fb;
  char err[256];
  uint64_t v, r;
  load(&a, &sp, NULL, NULL);
  CHECK(strcmp(pkw_module_tier(a.m), tier_aot ? "aot"
                                     : tier_jit ? "jit" : "interp") == 0);
  CHECK_RC(pkw_instance_create(a.m, NULL, 0, NULL, &b, err, sizeof err),
           PKW_OK);
  CHECK_RC(pkw_instance_func(b, "f", &fb), PKW_OK);
  v = 5;
  CHECK_RC(pkw_call(a.f, &v, 1, &r, 1), PKW_OK);
  CHECK((uint32_t)r == 0);
  v = 7;
  CHECK_RC(pkw_call(a.f, &v, 1, &r, 1), PKW_OK);
  CHECK((uint32_t)r == 5);
  v = 9;
  CHECK_RC(pkw_call(fb, &v, 1, &r, 1), PKW_OK);
  CHECK((uint32_t)r == 0);   /* b's memory, not a's */
  v = 1;
  CHECK_RC(pkw_call(a.f, &v, 1, &r, 1), PKW_OK);
  CHECK((uint32_t)r == 7);
  pkw_instance_destroy(b);
  unload(&a);
}

static void test_jit_fuel_count(void) {
  /* (loop $l (br_if $l (local.tee 0 (i32.sub (local.get 0) (i32.const
   * 1))))): local 0 iterations, then returns */
  static const uint8_t code[] = {0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6b,
                                 0x22, 0x00, 0x0d, 0x00, 0x0b, 0x0b};
  spec sp = {"i", "", code, sizeof code, 0, -1, -1, 0, 0};
  fixture fx;
  uint64_t n = 1000;
  load(&fx, &sp, NULL, NULL);
  pkw_instance_set_fuel(fx.inst, 5000);
  CHECK_RC(pkw_call(fx.f, &n, 1, NULL, 0), PKW_OK);
  /* 1 for the entry, 999 taken back-edges. */
  CHECK(pkw_instance_fuel(fx.inst) == 5000 - 1 - 999);
  pkw_instance_set_fuel(fx.inst, 500);
  CHECK_RC(pkw_call(fx.f, &n, 1, NULL, 0), PKW_TRAP_OUT_OF_FUEL);
  CHECK(pkw_instance_fuel(fx.inst) == 0);
  /* Usable after the trap. */
  pkw_instance_set_fuel(fx.inst, -1);
  CHECK_RC(pkw_call(fx.f, &n, 1, NULL, 0), PKW_OK);
  unload(&fx);
}

/* Guest -> guest calls, which the compiled tiers make with the fuel in a
 * register: f(n) = n == 0 ? h(0) : f(n - 1) + 1, h a host function that
 * returns the fuel it sees. Each call costs a unit, the host's entry one
 * more, the host call none: h sees F - 1 - n, and that is left. */
static int host_fuel(void *ud, pkw_instance *inst, const uint64_t *args,
                     uint64_t *results) {
  (void)ud;
  (void)args;
  results[0] = (uint32_t)pkw_instance_fuel(inst);
  return 0;
}

static const uint8_t count_calls[] = {
    0x20, 0x00, 0x45, 0x04, 0x7f,              /* n == 0: if (result i32) */
    0x20, 0x00, 0x10, 0x00,                    /* h(n) */
    0x05,                                      /* else */
    0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x01,  /* f(n - 1) */
    0x41, 0x01, 0x6a,                          /* + 1 */
    0x0b, 0x0b};

static void test_fuel_count_calls(void) {
  static const uint8_t i1[1] = {PKW_I32};
  spec sp = {"i", "i", count_calls, sizeof count_calls, 0, -1, -1, 1, 0};
  pkw_functype ft = {1, 1, i1, i1};
  pkw_func *h;
  pkw_extern ex;
  fixture fx;
  uint64_t n = 100, r = 0;
  CHECK_RC(pkw_func_create_host(NULL, &ft, host_fuel, NULL, &h), PKW_OK);
  ex.kind = PKW_EXTERN_FUNC;
  ex.u.func = h;
  load(&fx, &sp, NULL, &ex);
  pkw_instance_set_fuel(fx.inst, 1000);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK((uint32_t)r == 899 + 100);   /* h saw 1000 - 1 - 100 */
  CHECK(pkw_instance_fuel(fx.inst) == 899);
  /* Exactly enough, then one unit short: the trap at the last call. */
  pkw_instance_set_fuel(fx.inst, 101);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK((uint32_t)r == 0 + 100);
  CHECK(pkw_instance_fuel(fx.inst) == 0);
  pkw_instance_set_fuel(fx.inst, 100);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_TRAP_OUT_OF_FUEL);
  CHECK(pkw_instance_fuel(fx.inst) == 0);
  unload(&fx);
  pkw_func_destroy_host(h);
}

/* The frame limit and the value stack at their exact edges, for calls
 * the compiled tiers make with both limits in one register. f(n) nests n
 * calls; the k-th is made at depth k - 1 (the host's entry pushes no
 * frame) and needs depth < D, so max_call_depth D allows n = D. */
static void test_call_limits_exact(void) {
  static const uint8_t i1[1] = {PKW_I32};
  spec sp = {"i", "i", count_calls, sizeof count_calls, 0, -1, -1, 1, 0};
  pkw_functype ft = {1, 1, i1, i1};
  pkw_func *h;
  pkw_extern ex;
  pkw_limits lim;
  fixture fx;
  uint64_t n, r = 0;
  CHECK_RC(pkw_func_create_host(NULL, &ft, host_fuel, NULL, &h), PKW_OK);
  ex.kind = PKW_EXTERN_FUNC;
  ex.u.func = h;
  memset(&lim, 0, sizeof lim);
  lim.max_call_depth = 50;
  load(&fx, &sp, &lim, &ex);
  n = 50;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK((uint32_t)r == 50u + (uint32_t)-1);   /* unlimited fuel: -1 */
  n = 51;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_TRAP_STACK_EXHAUSTED);
  n = 50;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  unload(&fx);
  /* The value stack: f's frame is 7 slots (its local, temporaries) and
   * a callee's starts 1 slot above its caller's (at its argument), so
   * f(n)'s deepest frame ends at n + 7: 400 slots fit n = 393. */
  memset(&lim, 0, sizeof lim);
  lim.stack_slots = 400;
  load(&fx, &sp, &lim, &ex);
  n = 393;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  n = 394;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_TRAP_STACK_EXHAUSTED);
  n = 393;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  unload(&fx);
  pkw_func_destroy_host(h);
}

/* Nested entries: a host function the guest calls enters the same
 * instance again (pkw_call from inside the call), which the compiled
 * tiers run on the instance's one context. h(v) returns the fuel it sees
 * (as host_fuel); the first time it is called with v == nest.at outside
 * a nested entry, it first sets the fuel (nest.fuel >= 0) or raises the
 * interrupt (nest.intr) if asked, and calls f(nest.m), keeping the
 * inner call's code, result and the fuel left after it. */
static struct {
  pkw_func *f;
  int level;       /* nested entries active */
  int done;        /* the nested call was made */
  uint32_t at, m;
  int64_t fuel;
  int intr;
  int rc;
  uint64_t r;
  int64_t fuel_after;
} nest;

static void nest_arm(pkw_func *f, uint32_t at, uint32_t m) {
  memset(&nest, 0, sizeof nest);
  nest.f = f;
  nest.at = at;
  nest.m = m;
  nest.fuel = -1;
  nest.rc = 12345;
}

static int host_nest(void *ud, pkw_instance *inst, const uint64_t *args,
                     uint64_t *results) {
  uint32_t v = (uint32_t)args[0];
  (void)ud;
  if (nest.level == 0 && !nest.done && v == nest.at) {
    uint64_t a = nest.m;
    nest.done = 1;
    nest.level++;
    if (nest.fuel >= 0)
      pkw_instance_set_fuel(inst, nest.fuel);
    if (nest.intr)
      pkw_instance_interrupt(inst);
    nest.rc = pkw_call(nest.f, &a, 1, &nest.r, 1);
    nest.fuel_after = pkw_instance_fuel(inst);
    nest.level--;
  }
  results[0] = (uint32_t)pkw_instance_fuel(inst);
  return 0;
}

/* The limits of a nested entry are what its outer call left: with f =
 * count_calls, the outer f(n) reaches h at f(0), n frames deep, its
 * argument 1 slot above f(0)'s frame, which starts n slots above the
 * stack's base; the inner entry's frame starts past h's argument. So
 * max_call_depth D leaves the inner call D - n frames (f(m) needs m),
 * and S stack slots leave it f(m) with n + 2 + m + 7 <= S. A trap of the
 * inner call leaves the outer one running, and the instance usable. */
static void test_reentry_limits(void) {
  static const uint8_t i1[1] = {PKW_I32};
  spec sp = {"i", "i", count_calls, sizeof count_calls, 0, -1, -1, 1, 0};
  pkw_functype ft = {1, 1, i1, i1};
  pkw_func *h;
  pkw_extern ex;
  pkw_limits lim;
  fixture fx;
  uint64_t n, r = 0;
  CHECK_RC(pkw_func_create_host(NULL, &ft, host_nest, NULL, &h), PKW_OK);
  ex.kind = PKW_EXTERN_FUNC;
  ex.u.func = h;
  /* Frames: D = 50, the outer 20 deep, so the inner f(30) fits, f(31)
   * does not. */
  memset(&lim, 0, sizeof lim);
  lim.max_call_depth = 50;
  load(&fx, &sp, &lim, &ex);
  n = 20;
  nest_arm(fx.f, 0, 30);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(nest.done && nest.rc == PKW_OK);
  CHECK((uint32_t)nest.r == 30u + (uint32_t)-1);   /* unlimited: -1 */
  CHECK((uint32_t)r == 20u + (uint32_t)-1);
  nest_arm(fx.f, 0, 31);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(nest.done && nest.rc == PKW_TRAP_STACK_EXHAUSTED);
  CHECK((uint32_t)r == 20u + (uint32_t)-1);   /* the outer call went on */
  /* The outer call 21 deep leaves 29. */
  n = 21;
  nest_arm(fx.f, 0, 29);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(nest.rc == PKW_OK);
  nest_arm(fx.f, 0, 30);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(nest.rc == PKW_TRAP_STACK_EXHAUSTED);
  /* A top-level call still has all 50 frames. */
  n = 50;
  nest_arm(fx.f, 12345, 0);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(!nest.done);
  n = 51;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_TRAP_STACK_EXHAUSTED);
  unload(&fx);
  /* The value stack: S = 400, the outer f(100): the inner f(291) fits,
   * f(292) does not. */
  memset(&lim, 0, sizeof lim);
  lim.stack_slots = 400;
  load(&fx, &sp, &lim, &ex);
  n = 100;
  nest_arm(fx.f, 0, 291);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(nest.rc == PKW_OK);
  nest_arm(fx.f, 0, 292);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(nest.rc == PKW_TRAP_STACK_EXHAUSTED);
  n = 393;   /* and a top-level call all 400 slots */
  nest_arm(fx.f, 12345, 0);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  unload(&fx);
  /* Fuel: F = 1000, the outer f(10) has spent 1 + 10 at h; the inner
   * f(20) costs 1 + 20 and its h sees 1000 - 11 - 21; the rest of the
   * outer call costs nothing (returns), so that is what is left. */
  load(&fx, &sp, NULL, &ex);
  pkw_instance_set_fuel(fx.inst, 1000);
  n = 10;
  nest_arm(fx.f, 0, 20);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(nest.rc == PKW_OK);
  CHECK((uint32_t)nest.r == 968u + 20u);
  CHECK(nest.fuel_after == 968);
  CHECK((uint32_t)r == 968u + 10u);
  CHECK(pkw_instance_fuel(fx.inst) == 968);
  /* One unit short for the inner call: it traps, with 0 left, which the
   * outer call then has (its returns cost nothing). */
  pkw_instance_set_fuel(fx.inst, 1 + 10 + 1 + 20 - 1);
  nest_arm(fx.f, 0, 20);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(nest.rc == PKW_TRAP_OUT_OF_FUEL);
  CHECK(nest.fuel_after == 0);
  CHECK(pkw_instance_fuel(fx.inst) == 0);
  /* The interrupt raised for the inner call stops it at its first call
   * and is taken by it: the outer call goes on. */
  pkw_instance_set_fuel(fx.inst, -1);
  nest_arm(fx.f, 0, 5);
  nest.intr = 1;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(nest.rc == PKW_TRAP_INTERRUPTED);
  CHECK((uint32_t)r == 10u + (uint32_t)-1);
  /* Usable afterwards: the same call with nothing nested. */
  nest_arm(fx.f, 12345, 0);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK((uint32_t)r == 10u + (uint32_t)-1);
  unload(&fx);
  pkw_func_destroy_host(h);
}

/* h(n) + (n ? f(n - 1) : 0): the host function first at every level, so
 * the outer call goes on calling after a nested entry returns. */
static const uint8_t host_first[] = {
    0x20, 0x00, 0x10, 0x00,                    /* h(n) */
    0x20, 0x00, 0x04, 0x7f,                    /* n: if (result i32) */
    0x20, 0x00, 0x41, 0x01, 0x6b, 0x10, 0x01,  /* f(n - 1) */
    0x05, 0x41, 0x00,                          /* else 0 */
    0x0b, 0x6a, 0x0b};                         /* end + */

/* A nested entry with limited fuel (h sets it) inside an unlimited
 * call: the fuel is the nested entry's alone; the outer call stays
 * unlimited (100 more calls after the inner one spent all of its 11
 * units) and its end leaves the instance's fuel as the inner call left
 * it. Then a nested entry inside a limited call, on the outer's fuel. */
static void test_reentry_fuel_kinds(void) {
  static const uint8_t i1[1] = {PKW_I32};
  spec sp = {"i", "i", host_first, sizeof host_first, 0, -1, -1, 1, 0};
  pkw_functype ft = {1, 1, i1, i1};
  pkw_func *h;
  pkw_extern ex;
  fixture fx;
  uint64_t n = 100, r = 0;
  CHECK_RC(pkw_func_create_host(NULL, &ft, host_nest, NULL, &h), PKW_OK);
  ex.kind = PKW_EXTERN_FUNC;
  ex.u.func = h;
  load(&fx, &sp, NULL, &ex);
  /* h(100) first, at the outer call's top: the inner f(10) costs 1 + 10
   * of 11 units; then the outer call makes its 100 calls, unlimited. */
  nest_arm(fx.f, 100, 10);
  nest.fuel = 11;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(nest.rc == PKW_OK);
  CHECK(nest.fuel_after == 0);
  CHECK(pkw_instance_fuel(fx.inst) == 0);
  /* One unit short: the inner call traps, the outer one does not. */
  pkw_instance_set_fuel(fx.inst, -1);
  nest_arm(fx.f, 100, 10);
  nest.fuel = 10;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(nest.rc == PKW_TRAP_OUT_OF_FUEL);
  CHECK(pkw_instance_fuel(fx.inst) == 0);
  /* A limited outer call: F = 500; the inner f(10) at the top costs 11
   * and the outer 1 + 100, so 500 - 112 are left. */
  pkw_instance_set_fuel(fx.inst, 500);
  nest_arm(fx.f, 100, 10);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(nest.rc == PKW_OK);
  CHECK(nest.fuel_after == 500 - 1 - 11);
  CHECK(pkw_instance_fuel(fx.inst) == 500 - 112);
  unload(&fx);
  pkw_func_destroy_host(h);
}

/* pkw_instance_host_calls counts the host functions guest code called,
 * on every tier (the wasm backend images an instance whose init called
 * none): count_calls calls h once per call, host_first n + 1 times. */
static void test_host_calls_counted(void) {
  static const uint8_t i1[1] = {PKW_I32};
  spec sp = {"i", "i", count_calls, sizeof count_calls, 0, -1, -1, 1, 0};
  spec sp2 = {"i", "i", host_first, sizeof host_first, 0, -1, -1, 1, 0};
  pkw_functype ft = {1, 1, i1, i1};
  pkw_func *h;
  pkw_extern ex;
  fixture fx;
  uint64_t n = 7, r = 0;
  CHECK_RC(pkw_func_create_host(NULL, &ft, host_fuel, NULL, &h), PKW_OK);
  ex.kind = PKW_EXTERN_FUNC;
  ex.u.func = h;
  load(&fx, &sp, NULL, &ex);
  CHECK(pkw_instance_host_calls(fx.inst) == 0);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(pkw_instance_host_calls(fx.inst) == 1);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(pkw_instance_host_calls(fx.inst) == 2);
  unload(&fx);
  load(&fx, &sp2, NULL, &ex);
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(pkw_instance_host_calls(fx.inst) == 8);
  unload(&fx);
  pkw_func_destroy_host(h);
}

/* Both limits at once: the compiled tiers test the frames left and the
 * slots left with one subtraction (the borrow out of either half shows
 * in its top bit). f(n)'s deepest call is at depth n - 1 and its frame
 * ends at n + 7 (test_call_limits_exact): with max_call_depth D and S
 * slots, n runs when n <= D and n + 7 <= S, whichever is short first. */
static void test_call_limits_both(void) {
  static const uint8_t i1[1] = {PKW_I32};
  static const struct { uint32_t depth, slots, ok, bad; } cases[] = {
      {50, 57, 50, 51},   /* both exactly at the limit */
      {50, 56, 49, 50},   /* the slots one short: the low half borrows */
      {49, 57, 49, 50},   /* the frames one short: the high half */
      {1000, 57, 50, 51}, /* the slots alone (frames to spare) */
      {50, 1000, 50, 51}, /* the frames alone (slots to spare) */
      {2, 9, 2, 3},       /* the smallest: two frames, no slot spare */
  };
  spec sp = {"i", "i", count_calls, sizeof count_calls, 0, -1, -1, 1, 0};
  pkw_functype ft = {1, 1, i1, i1};
  pkw_func *h;
  pkw_extern ex;
  pkw_limits lim;
  fixture fx;
  uint64_t n, r = 0;
  size_t i;
  CHECK_RC(pkw_func_create_host(NULL, &ft, host_fuel, NULL, &h), PKW_OK);
  ex.kind = PKW_EXTERN_FUNC;
  ex.u.func = h;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memset(&lim, 0, sizeof lim);
    lim.max_call_depth = cases[i].depth;
    lim.stack_slots = cases[i].slots;
    load(&fx, &sp, &lim, &ex);
    n = cases[i].ok;
    CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
    CHECK((uint32_t)r == cases[i].ok + (uint32_t)-1);
    n = cases[i].bad;
    CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_TRAP_STACK_EXHAUSTED);
    n = cases[i].ok;   /* and the instance still runs to the edge */
    CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
    unload(&fx);
  }
  pkw_func_destroy_host(h);
}

/* f(n), n < 1000: a loop whose header runs straight into a call (of
 * f(1000), which returns 7), then counts the call in memory[0]; f(2000)
 * returns the count. The compiled tiers charge such a back-edge's unit
 * and the call's with one check (cgen.c, find_merges); the units must
 * still run out at the same instruction: the host's call (1 unit), then
 * call 1, back-edge 1, call 2, ..., call n (2n units). */
static const uint8_t loop_calls[] = {
    0x20, 0x00, 0x41, 0xd0, 0x0f, 0x46, 0x04, 0x7f,  /* n == 2000: */
    0x41, 0x00, 0x28, 0x02, 0x00,                    /*   mem[0] */
    0x05, 0x20, 0x00, 0x41, 0xe8, 0x07, 0x4f, 0x04, 0x7f,  /* n >= 1000: */
    0x41, 0x07,                                      /*   7 */
    0x05, 0x41, 0x00, 0x41, 0x00, 0x36, 0x02, 0x00,  /* mem[0] = 0 */
    0x03, 0x40,                                      /* loop */
    0x41, 0xe8, 0x07, 0x10, 0x00, 0x1a,              /*   f(1000) */
    0x41, 0x00, 0x41, 0x00, 0x28, 0x02, 0x00,        /*   mem[0] += 1 */
    0x41, 0x01, 0x6a, 0x36, 0x02, 0x00,
    0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00,        /*   --n */
    0x0d, 0x00,                                      /*   while n */
    0x0b, 0x41, 0x00, 0x0b, 0x0b, 0x0b};

static void test_fuel_loop_calls(void) {
  spec sp = {"i", "i", loop_calls, sizeof loop_calls, 0, 1, 1, 0, 0};
  fixture fx;
  uint64_t n, r = 0;
  load(&fx, &sp, NULL, NULL);
  /* Enough: 100 - 20 left, ten calls counted. */
  pkw_instance_set_fuel(fx.inst, 100);
  n = 10;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(pkw_instance_fuel(fx.inst) == 80);
  n = 2000;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK((uint32_t)r == 10);
  /* Exactly enough. */
  pkw_instance_set_fuel(fx.inst, 20);
  n = 10;
  CHECK_RC(pkw_call(fx.f, &n, 1, &r, 1), PKW_OK);
  CHECK(pkw_instance_fuel(fx.inst) == 0);
  /* Then the unit that fails: 20 is call 10, 19 back-edge 9, 18 call 9
   * (the calls counted before it: 9, 9, 8). */
  for (n = 0; n < 3; n++) {
    static const uint32_t counted[3] = {9, 9, 8};
    uint64_t a = 10;
    pkw_instance_set_fuel(fx.inst, 19 - (int64_t)n);
    CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_TRAP_OUT_OF_FUEL);
    CHECK(pkw_instance_fuel(fx.inst) == 0);
    pkw_instance_set_fuel(fx.inst, 100);
    a = 2000;
    CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_OK);
    CHECK((uint32_t)r == counted[n]);
  }
  unload(&fx);
}

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


/* ---- a growable module builder, for modules larger than buf ----------- */

typedef struct dbuf {
  uint8_t *b;
  size_t n, cap;
} dbuf;

static void dput(dbuf *o, uint8_t v) {
  if (o->n == o->cap) {
    o->cap = o->cap ? o->cap * 2 : 4096;
    o->b = realloc(o->b, o->cap);
    CHECK(o->b != NULL);
  }
  o->b[o->n++] = v;
}
static void dputn(dbuf *o, const void *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    dput(o, ((const uint8_t *)p)[i]);
}
static void duleb(dbuf *o, uint32_t v) {
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    dput(o, (uint8_t)(c | (v ? 0x80 : 0)));
  } while (v);
}
static void dsleb(dbuf *o, int32_t v) {
  for (;;) {
    uint8_t c = v & 0x7f;
    v >>= 7;
    if ((v == 0 && !(c & 0x40)) || (v == -1 && (c & 0x40))) {
      dput(o, c);
      return;
    }
    dput(o, (uint8_t)(c | 0x80));
  }
}
/* Appends section id with the content of c, and empties c. */
static void dsection(dbuf *o, uint8_t id, dbuf *c) {
  dput(o, id);
  duleb(o, (uint32_t)c->n);
  dputn(o, c->b, c->n);
  c->n = 0;
}
static void dfree(dbuf *o) {
  free(o->b);
  o->b = NULL;
  o->n = o->cap = 0;
}

/* A module of one function "f" whose body (locals included) is body:
 * type 0 = (i32) -> (i32 x nres), type 1 = () -> (i32 x nres) for
 * blocks. */
static void module_nres(dbuf *o, uint32_t nres, const dbuf *body) {
  static const uint8_t hdr[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  dbuf c = {NULL, 0, 0};
  uint32_t i;
  o->n = 0;
  dputn(o, hdr, 8);
  duleb(&c, 2);
  dput(&c, 0x60);
  duleb(&c, 1);
  dput(&c, 0x7f);
  duleb(&c, nres);
  for (i = 0; i < nres; i++)
    dput(&c, 0x7f);
  dput(&c, 0x60);
  duleb(&c, 0);
  duleb(&c, nres);
  for (i = 0; i < nres; i++)
    dput(&c, 0x7f);
  dsection(o, 1, &c);
  duleb(&c, 1);
  duleb(&c, 0);
  dsection(o, 3, &c);
  duleb(&c, 1);
  duleb(&c, 1);
  dput(&c, 'f');
  dput(&c, 0);
  duleb(&c, 0);
  dsection(o, 7, &c);
  duleb(&c, 1);
  duleb(&c, (uint32_t)body->n);
  dputn(&c, body->b, body->n);
  dsection(o, 10, &c);
  dfree(&c);
}

/* Calls f(idx) of a module_nres module and checks it returns 1..n. */
static void check_results(pkw_module *m, uint32_t n, uint32_t idx) {
  pkw_instance *inst = NULL;
  pkw_func *f;
  uint64_t *res = calloc(n, sizeof *res), a = idx;
  uint32_t i;
  CHECK(res != NULL);
  CHECK_RC(pkw_instance_create(m, NULL, 0, NULL, &inst, NULL, 0), PKW_OK);
  CHECK_RC(pkw_instance_func(inst, "f", &f), PKW_OK);
  CHECK_RC(pkw_call(f, &a, 1, res, n), PKW_OK);
  for (i = 0; i < n; i++)
    CHECK((uint32_t)res[i] == i + 1);
  pkw_instance_destroy(inst);
  free(res);
}

/* The values 0 (below), 1..n, then the index, then br_table over cnt + 1
 * labels: label(i) for entry i. */
static void brt_body(dbuf *body, uint32_t n, uint32_t cnt,
                     uint32_t (*label)(uint32_t i, uint32_t depth),
                     uint32_t depth) {
  uint32_t i;
  body->n = 0;
  duleb(body, 0);                       /* no locals */
  for (i = 0; i < depth; i++) {
    dput(body, 0x02);                   /* block (type 1) */
    dsleb(body, 1);
  }
  dput(body, 0x41);                     /* i32.const 0: a value below */
  dsleb(body, 0);
  for (i = 0; i < n; i++) {
    dput(body, 0x41);
    dsleb(body, (int32_t)(i + 1));
  }
  dput(body, 0x20);                     /* local.get 0: the index */
  duleb(body, 0);
  dput(body, 0x0e);
  duleb(body, cnt);
  for (i = 0; i <= cnt; i++)
    duleb(body, label(i, depth));
  for (i = 0; i < depth; i++)
    dput(body, 0x0b);
  dput(body, 0x0b);
}

static uint32_t to_func(uint32_t i, uint32_t depth) {
  (void)i;
  return depth;   /* the function's label */
}
static uint32_t to_blocks(uint32_t i, uint32_t depth) {
  return i % depth;
}
static uint32_t to_all(uint32_t i, uint32_t depth) {
  return i % (depth + 1);
}

/* BUG 9 (hostile-plugins.md): a br_table whose labels need their n
 * values moved got one stub of n copies per entry, so a body of about
 * cnt + 3n bytes became about cnt * 3n words (gen_brtable_bomb.py: 48 KB
 * -> 2 GB). Now: one stub per distinct label, or the moves made once
 * before the table when every label wants them in the same place. The
 * translated code must stay within 4 words per byte of module (ordinary
 * code needs less than 3), and run right. */
static void test_br_table_linear(void) {
  static const struct {
    uint32_t (*label)(uint32_t, uint32_t);
    uint32_t depth;
  } shapes[] = {
      {to_func, 0},      /* the report's: every entry returns */
      {to_blocks, 500},  /* 500 blocks at one height: moves once */
      {to_all, 5},       /* blocks and the function: one stub each */
  };
  const uint32_t n = 200, cnt = 4000;
  dbuf body = {NULL, 0, 0}, mod = {NULL, 0, 0};
  size_t k;
  for (k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
    pkw_module *m = NULL;
    char err[256] = "";
    int rc;
    brt_body(&body, n, cnt, shapes[k].label, shapes[k].depth);
    module_nres(&mod, n, &body);
    rc = pkw_module_decode(NULL, mod.b, mod.n, &m, err, sizeof err);
    if (rc != PKW_OK)
      fprintf(stderr, "shape %zu: %s\n", k, err);
    CHECK_RC(rc, PKW_OK);
    fprintf(stderr, "shape %zu: %zu bytes -> %zu code words\n", k, mod.n,
            pkw_module_code_words(m));
    CHECK(pkw_module_code_words(m) > cnt);   /* the table itself */
    CHECK(pkw_module_code_words(m) <= 4 * mod.n);
    check_results(m, n, 0);
    check_results(m, n, 1);
    check_results(m, n, 7);
    check_results(m, n, cnt + 100);      /* the default label */
    pkw_module_destroy(m);
  }
  dfree(&body);
  dfree(&mod);
}

/* Branch values copied again at each of many branches still cost
 * arity * branches: such a body stops at the per-byte code limit with
 * PKW_ELIMIT and a message naming the function, at decode (eager) or at
 * the call (lazy), instead of asking for memory quadratic in its size.
 * (block (result i32 x 200) 0 1..200 (br_if 0 (local.get 0)) x 1000
 * (br 0)) */
static void test_code_limit(void) {
  const uint32_t n = 200, k = 1000;
  dbuf body = {NULL, 0, 0}, mod = {NULL, 0, 0};
  pkw_module *m = (pkw_module *)&m;
  pkw_instance *inst = NULL;
  pkw_func *f;
  uint64_t a = 0, *res = calloc(n, sizeof *res);
  char err[256] = "";
  uint32_t i;
  CHECK(res != NULL);
  duleb(&body, 0);
  dput(&body, 0x02);
  dsleb(&body, 1);
  dput(&body, 0x41);
  dsleb(&body, 0);
  for (i = 0; i < n; i++) {
    dput(&body, 0x41);
    dsleb(&body, (int32_t)(i + 1));
  }
  for (i = 0; i < k; i++) {
    static const uint8_t brif[] = {0x20, 0x00, 0x0d, 0x00};
    dputn(&body, brif, sizeof brif);
  }
  dput(&body, 0x0c);
  dput(&body, 0x00);
  dput(&body, 0x0b);
  dput(&body, 0x0b);
  module_nres(&mod, n, &body);
  CHECK_RC(pkw_module_decode(NULL, mod.b, mod.n, &m, err, sizeof err),
           PKW_ELIMIT);
  CHECK(m == (pkw_module *)&m);
  CHECK(strstr(err, "function 0: translated code exceeds") != NULL);
  CHECK_RC(pkw_module_decode_ex(NULL, mod.b, mod.n, PKW_DECODE_LAZY, &m,
                                err, sizeof err),
           PKW_OK);
  CHECK_RC(pkw_instance_create(m, NULL, 0, NULL, &inst, NULL, 0), PKW_OK);
  CHECK_RC(pkw_instance_func(inst, "f", &f), PKW_OK);
  CHECK_RC(pkw_call(f, &a, 1, res, n), PKW_ELIMIT);
  CHECK(strstr(pkw_module_error(m), "function 0: translated code exceeds") !=
        NULL);
  CHECK(pkw_module_code_words(m) == 0);
  pkw_instance_destroy(inst);
  pkw_module_destroy(m);
  /* With a tenth of the branches it fits, and runs. */
  mod.n = 0;
  body.n = 0;
  duleb(&body, 0);
  dput(&body, 0x02);
  dsleb(&body, 1);
  dput(&body, 0x41);
  dsleb(&body, 0);
  for (i = 0; i < n; i++) {
    dput(&body, 0x41);
    dsleb(&body, (int32_t)(i + 1));
  }
  for (i = 0; i < 10; i++) {
    static const uint8_t brif[] = {0x20, 0x00, 0x0d, 0x00};
    dputn(&body, brif, sizeof brif);
  }
  dput(&body, 0x0c);
  dput(&body, 0x00);
  dput(&body, 0x0b);
  dput(&body, 0x0b);
  module_nres(&mod, n, &body);
  CHECK_RC(pkw_module_decode(NULL, mod.b, mod.n, &m, err, sizeof err),
           PKW_OK);
  check_results(m, n, 0);
  check_results(m, n, 1);
  pkw_module_destroy(m);
  dfree(&body);
  dfree(&mod);
  free(res);
}

/* BUG 17: a lazily translated body that fails validation took its local
 * types (49,000 here) from the module's arena at every call, kept until
 * the module went (hostile-cases/lazy_invalid_leak.wasm: 99 MB after
 * 2,000 calls). Now the failure is remembered: later calls fail the
 * same way and allocate nothing; nothing the first one allocated stays
 * but its message. */
static void test_lazy_failure_kept(void) {
  static const uint8_t code[] = {0x6a, 0x0b};   /* i32.add: underflow */
  spec sp = {"", "i", code, sizeof code, 49000, -1, -1, 0, 0};
  pkw_alloc al = {count_realloc, NULL};
  pkw_module *m = NULL;
  pkw_instance *inst = NULL;
  pkw_func *f;
  uint64_t r = 0;
  long live0, total0;
  char first[256];
  buf b;
  int i;
  build(&b, &sp);
  CHECK_RC(pkw_module_decode_ex(&al, b.b, b.n, PKW_DECODE_LAZY, &m, NULL, 0),
           PKW_OK);
  CHECK_RC(pkw_instance_create(m, NULL, 0, NULL, &inst, NULL, 0), PKW_OK);
  CHECK_RC(pkw_instance_func(inst, "f", &f), PKW_OK);
  live0 = live;
  CHECK_RC(pkw_call(f, NULL, 0, &r, 1), PKW_EINVALID);
  snprintf(first, sizeof first, "%s", pkw_module_error(m));
  CHECK(strstr(first, "function 0: type mismatch") != NULL);
  CHECK(live <= live0 + 1);   /* at most an arena block for the message */
  live0 = live;
  total0 = total;
  for (i = 0; i < 200; i++) {
    CHECK_RC(pkw_call(f, NULL, 0, &r, 1), PKW_EINVALID);
    CHECK(strcmp(pkw_module_error(m), first) == 0);
  }
  CHECK(live == live0);
  CHECK(total == total0);
  pkw_instance_destroy(inst);
  pkw_module_destroy(m);
  CHECK(live == 0);
}

/* A module of nexp function exports "x000000".. (names[dup] repeats
 * names[0] when dup > 0). */
static void many_exports(dbuf *o, uint32_t nexp, uint32_t dup) {
  static const uint8_t hdr[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  dbuf c = {NULL, 0, 0};
  uint32_t i;
  o->n = 0;
  dputn(o, hdr, 8);
  duleb(&c, 1);
  dput(&c, 0x60);
  duleb(&c, 0);
  duleb(&c, 1);
  dput(&c, 0x7f);
  dsection(o, 1, &c);
  duleb(&c, 1);
  duleb(&c, 0);
  dsection(o, 3, &c);
  duleb(&c, nexp);
  for (i = 0; i < nexp; i++) {
    char nm[16];
    snprintf(nm, sizeof nm, "x%06u", dup > 0 && i == dup ? 0u : i);
    duleb(&c, 7);
    dputn(&c, nm, 7);
    dput(&c, 0);
    duleb(&c, 0);
  }
  dsection(o, 7, &c);
  {
    static const uint8_t body[] = {0x04, 0x00, 0x41, 0x2a, 0x0b};
    duleb(&c, 1);
    dputn(&c, body, sizeof body);
    dsection(o, 10, &c);
  }
  dfree(&c);
}

/* BUG 10: the decoder compared each export name with every earlier one,
 * and pkw_instance_find searched the list (80,000 exports: 45 s to
 * decode). Now a sorted index: 100,000 exports (the cap) decode, all are
 * found, and a duplicate among them is refused; one more is refused as
 * over the limit. The quadratic version needs minutes here (ctest's
 * TIMEOUT stops it). */
static void test_many_exports(void) {
  const uint32_t nexp = 100000;
  dbuf mod = {NULL, 0, 0};
  pkw_module *m = NULL;
  pkw_instance *inst = NULL;
  pkw_extern ex;
  char err[256] = "";
  uint32_t i;
  many_exports(&mod, nexp, 0);
  CHECK_RC(pkw_module_decode(NULL, mod.b, mod.n, &m, err, sizeof err),
           PKW_OK);
  CHECK_RC(pkw_instance_create(m, NULL, 0, NULL, &inst, NULL, 0), PKW_OK);
  for (i = 0; i < nexp; i++) {
    char nm[16];
    const char *en;
    uint32_t el;
    snprintf(nm, sizeof nm, "x%06u", i);
    CHECK_RC(pkw_instance_find(inst, nm, 7, &ex), PKW_OK);
    CHECK(ex.kind == PKW_EXTERN_FUNC);
    CHECK_RC(pkw_instance_export(inst, i, &en, &el, &ex), PKW_OK);
    CHECK(el == 7 && memcmp(en, nm, 7) == 0);
  }
  CHECK_RC(pkw_instance_find(inst, "x100000", 7, &ex), PKW_ENOENT);
  CHECK_RC(pkw_instance_find(inst, "x00000", 6, &ex), PKW_ENOENT);
  CHECK_RC(pkw_instance_find(inst, "", 0, &ex), PKW_ENOENT);
  pkw_instance_destroy(inst);
  pkw_module_destroy(m);
  /* The same with the last name a repeat of the first. */
  many_exports(&mod, nexp, nexp - 1);
  CHECK_RC(pkw_module_decode(NULL, mod.b, mod.n, &m, err, sizeof err),
           PKW_EINVALID);
  CHECK(strstr(err, "duplicate export name") != NULL);
  /* One export over the cap. */
  many_exports(&mod, nexp + 1, 0);
  CHECK_RC(pkw_module_decode(NULL, mod.b, mod.n, &m, err, sizeof err),
           PKW_ELIMIT);
  CHECK(strstr(err, "too many exports") != NULL);
  dfree(&mod);
}

/* A module defining ntab funcref tables of min elements each (no max),
 * and "grow"(table, delta) -> table.grow of table 0 or 1. */
static void tables_module(dbuf *o, uint32_t ntab, uint32_t min) {
  static const uint8_t hdr[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  /* (if (result i32) (local.get 0) (then table.grow 1 (ref.null func)
   *  (local.get 1)) (else table.grow 0 ...)) */
  static const uint8_t body[] = {
      0x00, 0x20, 0x00, 0x04, 0x7f, 0xd0, 0x70, 0x20, 0x01, 0xfc, 0x0f,
      0x01, 0x05, 0xd0, 0x70, 0x20, 0x01, 0xfc, 0x0f, 0x00, 0x0b, 0x0b};
  dbuf c = {NULL, 0, 0};
  uint32_t i;
  o->n = 0;
  dputn(o, hdr, 8);
  duleb(&c, 1);
  dput(&c, 0x60);
  duleb(&c, 2);
  dput(&c, 0x7f);
  dput(&c, 0x7f);
  duleb(&c, 1);
  dput(&c, 0x7f);
  dsection(o, 1, &c);
  duleb(&c, 1);
  duleb(&c, 0);
  dsection(o, 3, &c);
  duleb(&c, ntab);
  for (i = 0; i < ntab; i++) {
    dput(&c, 0x70);
    dput(&c, 0x00);
    duleb(&c, min);
  }
  dsection(o, 4, &c);
  duleb(&c, 1);
  duleb(&c, 4);
  dputn(&c, "grow", 4);
  dput(&c, 0);
  duleb(&c, 0);
  dsection(o, 7, &c);
  duleb(&c, 1);
  duleb(&c, sizeof body);
  dputn(&c, body, sizeof body);
  dsection(o, 10, &c);
  dfree(&c);
}

static size_t biggest;    /* the largest block asked of big_realloc */
static void *big_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  if (n > biggest)
    biggest = n;
  if (n == 0) {
    free(p);
    return NULL;
  }
  return realloc(p, n);
}

/* BUG 11: tables were bounded only one by one (10M elements, 80 MB each,
 * allocated and zeroed at instantiation), so 12 tables took 960 MB
 * whatever the memory limit. Now the elements of all of an instance's
 * tables count against its memory limit (8 bytes each): over it,
 * instantiation fails with PKW_ELIMIT before allocating them, and
 * table.grow returns -1; without a memory limit, max_table_elems
 * (default PKW_DEFAULT_MAX_TABLE_ELEMS) caps their total. */
static void test_table_limit(void) {
  pkw_alloc al = {big_realloc, NULL};
  dbuf mod = {NULL, 0, 0};
  pkw_limits lim;
  pkw_module *m = NULL;
  pkw_instance *inst = NULL;
  pkw_func *f;
  uint64_t a[2], r;
  char err[256] = "";
  memset(&lim, 0, sizeof lim);
  lim.max_memory_pages = 1;   /* 64 KiB: 8,192 elements */
  /* 3 x 1M elements (24 MB) against 64 KiB. */
  tables_module(&mod, 3, 1000000);
  CHECK_RC(pkw_module_decode(&al, mod.b, mod.n, &m, err, sizeof err),
           PKW_OK);
  biggest = 0;
  CHECK_RC(pkw_instance_create(m, NULL, 0, &lim, &inst, err, sizeof err),
           PKW_ELIMIT);
  CHECK(inst == NULL);
  CHECK(strstr(err, "exceed the memory limit") != NULL);
  CHECK(biggest < 8u * 1000000u);    /* no table was allocated */
  pkw_module_destroy(m);
  /* Without a memory limit: 12 x 1M elements against the total cap. */
  tables_module(&mod, 12, 1000000);
  lim.max_memory_pages = 0;
  lim.max_table_elems = 10000000;
  CHECK_RC(pkw_module_decode(&al, mod.b, mod.n, &m, err, sizeof err),
           PKW_OK);
  biggest = 0;
  CHECK_RC(pkw_instance_create(m, NULL, 0, &lim, &inst, err, sizeof err),
           PKW_ELIMIT);
  CHECK(strstr(err, "exceed the limit (10000000 elements)") != NULL);
  CHECK(biggest < 8u * 1000000u);
  pkw_module_destroy(m);
  /* table.grow, two tables sharing the 8,192 elements of 64 KiB. */
  lim.max_memory_pages = 1;
  lim.max_table_elems = 0;
  tables_module(&mod, 2, 100);
  CHECK_RC(pkw_module_decode(&al, mod.b, mod.n, &m, err, sizeof err),
           PKW_OK);
  CHECK_RC(pkw_instance_create(m, NULL, 0, &lim, &inst, err, sizeof err),
           PKW_OK);
  CHECK_RC(pkw_instance_func(inst, "grow", &f), PKW_OK);
  a[0] = 0;
  a[1] = 7900;                   /* 100 + 100 + 7900 = 8100 */
  CHECK_RC(pkw_call(f, a, 2, &r, 1), PKW_OK);
  CHECK(r == 100);
  a[0] = 1;
  a[1] = 93;                     /* 8193 > 8192 */
  CHECK_RC(pkw_call(f, a, 2, &r, 1), PKW_OK);
  CHECK((uint32_t)r == 0xffffffffu);
  a[1] = 92;                     /* exactly 8192 */
  CHECK_RC(pkw_call(f, a, 2, &r, 1), PKW_OK);
  CHECK(r == 100);
  a[0] = 0;
  a[1] = 1;
  CHECK_RC(pkw_call(f, a, 2, &r, 1), PKW_OK);
  CHECK((uint32_t)r == 0xffffffffu);
  a[1] = 0;                      /* growing by 0 still answers */
  CHECK_RC(pkw_call(f, a, 2, &r, 1), PKW_OK);
  CHECK(r == 8000);
  pkw_instance_destroy(inst);
  pkw_module_destroy(m);
  dfree(&mod);
}


/* A module of f0: (i32 x p) -> (i32 x p) returning its parameters, and
 * "f": () -> () pushing p zeros, calling f0 ncalls times (each call
 * takes the p values and leaves p), then dropping them. */
static void wide_calls(dbuf *o, uint32_t p, uint32_t ncalls) {
  static const uint8_t hdr[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  dbuf c = {NULL, 0, 0}, b = {NULL, 0, 0};
  uint32_t i;
  o->n = 0;
  dputn(o, hdr, 8);
  duleb(&c, 2);
  dput(&c, 0x60);
  duleb(&c, p);
  for (i = 0; i < p; i++)
    dput(&c, 0x7f);
  duleb(&c, p);
  for (i = 0; i < p; i++)
    dput(&c, 0x7f);
  dputn(&c, "\x60\x00\x00", 3);
  dsection(o, 1, &c);
  dputn(&c, "\x02\x00\x01", 3);
  dsection(o, 3, &c);
  dputn(&c, "\x01\x01" "f" "\x00\x01", 5);
  dsection(o, 7, &c);
  duleb(&c, 2);
  dput(&b, 0);
  for (i = 0; i < p; i++) {
    dput(&b, 0x20);
    duleb(&b, i);
  }
  dput(&b, 0x0b);
  duleb(&c, (uint32_t)b.n);
  dputn(&c, b.b, b.n);
  b.n = 0;
  dput(&b, 0);
  for (i = 0; i < p; i++)
    dputn(&b, "\x41\x00", 2);
  for (i = 0; i < ncalls; i++)
    dputn(&b, "\x10\x00", 2);
  for (i = 0; i < p; i++)
    dput(&b, 0x1a);
  dput(&b, 0x0b);
  duleb(&c, (uint32_t)b.n);
  dputn(&c, b.b, b.n);
  dsection(o, 10, &c);
  dfree(&c);
  dfree(&b);
}

/* Translation time: each call validates its arity's worth of values, so
 * calls of a function with 1,000 parameters and results, two bytes each,
 * made translation quadratic in the body's size (200 KB: seconds, with
 * no bound: translation runs outside fuel and timeouts). Now the steps
 * are bounded per byte of body: such a body fails with PKW_ELIMIT; the
 * same calls with 8 values translate and run. */
static void test_work_limit(void) {
  dbuf mod = {NULL, 0, 0};
  pkw_module *m = NULL;
  pkw_instance *inst = NULL;
  pkw_func *f;
  char err[256] = "";
  wide_calls(&mod, 1000, 2000);
  CHECK_RC(pkw_module_decode(NULL, mod.b, mod.n, &m, err, sizeof err),
           PKW_ELIMIT);
  CHECK(strstr(err, "function 1: translation work exceeds") != NULL);
  wide_calls(&mod, 8, 2000);
  CHECK_RC(pkw_module_decode(NULL, mod.b, mod.n, &m, err, sizeof err),
           PKW_OK);
  CHECK_RC(pkw_instance_create(m, NULL, 0, NULL, &inst, NULL, 0), PKW_OK);
  CHECK_RC(pkw_instance_func(inst, "f", &f), PKW_OK);
  CHECK_RC(pkw_call(f, NULL, 0, NULL, 0), PKW_OK);
  pkw_instance_destroy(inst);
  pkw_module_destroy(m);
  dfree(&mod);
}

/* f (i32): n x local.get 0, then tail, then n x drop. */
static void deep_stack(dbuf *o, uint32_t n, const uint8_t *tail,
                       size_t tail_len, uint32_t reps) {
  dbuf body = {NULL, 0, 0};
  uint32_t i;
  static const uint8_t hdr[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  dbuf c = {NULL, 0, 0};
  dputn(&body, "\x01\x01\x7f", 3);   /* one more i32 local */
  for (i = 0; i < n; i++)
    dputn(&body, "\x20\x00", 2);
  for (i = 0; i < reps; i++)
    dputn(&body, tail, tail_len);
  for (i = 0; i < n; i++)
    dput(&body, 0x1a);
  dput(&body, 0x0b);
  o->n = 0;
  dputn(o, hdr, 8);
  dputn(&c, "\x01\x60\x01\x7f\x00", 5);
  dsection(o, 1, &c);
  dputn(&c, "\x01\x00", 2);
  dsection(o, 3, &c);
  dputn(&c, "\x01\x01" "f" "\x00\x00", 5);
  dsection(o, 7, &c);
  duleb(&c, 1);
  duleb(&c, (uint32_t)body.n);
  dputn(&c, body.b, body.n);
  dsection(o, 10, &c);
  dfree(&c);
  dfree(&body);
}

/* The translator looked at the whole operand stack at every block
 * boundary and every local.set (for values still reading a local): with
 * 20,000 values on the stack, 20,000 empty blocks or local.set took
 * seconds (240 KB: 13 s). Now only the entries pushed since the last
 * boundary are looked at, and at most PKW_MAX_PENDING of them may still
 * read a local: both bodies translate within the per-byte step limit
 * (the old scans exceed it), and run. */
static void test_deep_stack_linear(void) {
  static const uint8_t block_end[] = {0x02, 0x40, 0x0b};
  static const uint8_t set_local[] = {0x20, 0x01, 0x21, 0x01};
  dbuf mod = {NULL, 0, 0};
  int k;
  for (k = 0; k < 2; k++) {
    pkw_module *m = NULL;
    pkw_instance *inst = NULL;
    pkw_func *f;
    uint64_t a = 5;
    char err[256] = "";
    int rc;
    deep_stack(&mod, 20000, k ? set_local : block_end,
               k ? sizeof set_local : sizeof block_end, 20000);
    rc = pkw_module_decode(NULL, mod.b, mod.n, &m, err, sizeof err);
    if (rc != PKW_OK)
      fprintf(stderr, "%s\n", err);
    CHECK_RC(rc, PKW_OK);
    CHECK_RC(pkw_instance_create(m, NULL, 0, NULL, &inst, NULL, 0), PKW_OK);
    CHECK_RC(pkw_instance_func(inst, "f", &f), PKW_OK);
    CHECK_RC(pkw_call(f, &a, 1, NULL, 0), PKW_OK);
    pkw_instance_destroy(inst);
    pkw_module_destroy(m);
  }
  dfree(&mod);
}

/* ---- spare instances (pkw_module_set_spares) ------------------------------ */

/* f(addr, val): i32.store val at addr. Memory of 2 pages. */
static const uint8_t store_code[] = {0x20, 0x00, 0x20, 0x01, 0x36,
                                     0x02, 0x00, 0x0b};

typedef struct spares_fx {
  pkw_module *m;
  pkw_instance *inst0;
  pkw_image *img;
} spares_fx;

/* The module decoded with `flags`, its first instance with "IMG" at
 * 12288 (chunk 3) and an image of that. */
static void spares_load(spares_fx *fx, const pkw_alloc *al, unsigned flags,
                        const char *mark) {
  spec sp = {"ii", "", store_code, sizeof store_code, 0, 2, -1, 0, 0};
  buf b;
  build(&b, &sp);
  CHECK_RC(pkw_module_decode_ex(al, b.b, b.n, flags, &fx->m, NULL, 0),
           PKW_OK);
  CHECK_RC(pkw_instance_create(fx->m, NULL, 0, NULL, &fx->inst0, NULL, 0),
           PKW_OK);
  CHECK_RC(pkw_memory_write(pkw_instance_memory(fx->inst0), 12288, mark,
                            strlen(mark)),
           PKW_OK);
  CHECK_RC(pkw_image_create(fx->inst0, &fx->img), PKW_OK);
}

static void spares_unload(spares_fx *fx) {
  pkw_image_destroy(fx->img);
  pkw_instance_destroy(fx->inst0);
  pkw_module_destroy(fx->m);
}

static pkw_instance *from_image(pkw_module *m, const pkw_image *img) {
  pkw_limits lim;
  pkw_instance *inst = NULL;
  memset(&lim, 0, sizeof lim);
  lim.image = img;
  CHECK_RC(pkw_instance_create(m, NULL, 0, &lim, &inst, NULL, 0), PKW_OK);
  return inst;
}

static void store(pkw_instance *inst, uint32_t addr, uint32_t v) {
  pkw_func *f;
  uint64_t a[2];
  a[0] = addr;
  a[1] = v;
  CHECK_RC(pkw_instance_func(inst, "f", &f), PKW_OK);
  CHECK_RC(pkw_call(f, a, 2, NULL, 0), PKW_OK);
}

/* The memory of inst is the image's: "IMG" at 12288, zero elsewhere. */
static void check_image_memory(pkw_instance *inst, const char *mark) {
  uint64_t size, i;
  const uint8_t *d = pkw_memory_data(pkw_instance_memory(inst), &size);
  size_t n = strlen(mark);
  CHECK(size == 2u * 65536u);
  CHECK(memcmp(d + 12288, mark, n) == 0);
  for (i = 0; i < size; i++)
    if (i < 12288 || i >= 12288 + n)
      CHECK(d[i] == 0);
}

/* An instance made from a spare allocates nothing and has the image's
 * state, whatever the previous one wrote or grew (untracked memory: all
 * of it is written again). */
static void test_spare_reused(void) {
  pkw_alloc al = {count_realloc, NULL};
  spares_fx fx;
  pkw_instance *a, *b;
  long before, held;
  spares_load(&fx, &al, 0, "IMG");
  pkw_module_set_spares(fx.m, 1);
  a = from_image(fx.m, fx.img);
  check_image_memory(a, "IMG");
  store(a, 100, 0xdeadbeefu);
  store(a, 12288, 0x41414141u);
  pkw_memory_data(pkw_instance_memory(a), NULL)[70000] = 9; /* raw */
  held = live;
  pkw_instance_destroy(a);
  CHECK(live == held); /* kept as the spare */
  before = total;
  b = from_image(fx.m, fx.img);
  CHECK(total == before); /* no allocation: the spare's blocks */
  check_image_memory(b, "IMG");
  /* Grown: back to the image's 2 pages. */
  CHECK_RC(pkw_memory_grow(pkw_instance_memory(b), 3, NULL), PKW_OK);
  pkw_memory_data(pkw_instance_memory(b), NULL)[200000] = 9;
  pkw_instance_destroy(b);
  b = from_image(fx.m, fx.img);
  check_image_memory(b, "IMG");
  CHECK(pkw_memory_pages(pkw_instance_memory(b)) == 2);
  before = total;
  /* A second instance while b lives: new blocks. */
  a = from_image(fx.m, fx.img);
  CHECK(total > before);
  check_image_memory(a, "IMG");
  pkw_instance_destroy(a);
  pkw_instance_destroy(b); /* over the cap of 1: freed */
  CHECK(live < held + 4);
  held = live;
  pkw_module_set_spares(fx.m, 0); /* frees the spare */
  CHECK(live < held);
  pkw_instance_destroy(from_image(fx.m, fx.img)); /* none kept now */
  CHECK(live < held);
  spares_unload(&fx);
  CHECK(live == 0);
}

/* A tracked spare restored from the same image copies back only the
 * chunks written since (white-box: a raw write nobody marked stays,
 * which shows the rest was not rewritten); from another image, all of
 * it. */
static void test_spare_dirty_only(void) {
  spares_fx fx, fy;
  pkw_instance *a, *b;
  uint8_t *d;
  spares_load(&fx, NULL, PKW_DECODE_DIRTY, "IMG");
  pkw_module_set_spares(fx.m, 1);
  a = from_image(fx.m, fx.img);
  CHECK_RC(pkw_instance_track_dirty(a), PKW_OK);
  /* Tracking began after the image was applied: not known to be the
   * image, so the first reuse writes all of it. */
  d = pkw_memory_data(pkw_instance_memory(a), NULL);
  d[90000] = 7;
  pkw_instance_destroy(a);
  b = from_image(fx.m, fx.img);
  check_image_memory(b, "IMG");
  CHECK(pkw_instance_dirty_chunks(b) == 0);
  /* Now tracked since the image: the next reuse restores the dirty. */
  store(b, 100, 0xdeadbeefu);
  store(b, 12290, 0x41414141u);
  CHECK(pkw_instance_dirty_chunks(b) == 2);
  d = pkw_memory_data(pkw_instance_memory(b), NULL);
  d[90000] = 7; /* unmarked */
  pkw_instance_destroy(b);
  a = from_image(fx.m, fx.img);
  CHECK(pkw_instance_dirty_chunks(a) == 0);
  d = pkw_memory_data(pkw_instance_memory(a), NULL);
  CHECK(d[100] == 0 && memcmp(d + 12288, "IMG", 3) == 0);
  CHECK(d[90000] == 7); /* not rewritten */
  d[90000] = 0;
  store(a, 4, 1);
  pkw_instance_destroy(a);
  /* Another image of the same module (another id): written whole. */
  CHECK_RC(pkw_memory_write(pkw_instance_memory(fx.inst0), 12288, "NEW", 3),
           PKW_OK);
  fy.m = fx.m;
  CHECK_RC(pkw_image_create(fx.inst0, &fy.img), PKW_OK);
  d = NULL;
  b = from_image(fx.m, fy.img);
  check_image_memory(b, "NEW");
  d = pkw_memory_data(pkw_instance_memory(b), NULL);
  d[90000] = 5; /* unmarked, and b is tracked since fy.img */
  pkw_instance_destroy(b);
  /* Back to the first image: not the spare's base, so whole again. */
  b = from_image(fx.m, fx.img);
  check_image_memory(b, "IMG");
  pkw_instance_destroy(b);
  pkw_image_destroy(fy.img);
  spares_unload(&fx);
}

/* Instances made and destroyed on two threads at once share the spares
 * (ThreadSanitizer checks the lock). */
static void *spare_churn(void *arg) {
  spares_fx *fx = arg;
  int i;
  for (i = 0; i < 300; i++) {
    pkw_instance *inst = from_image(fx->m, fx->img);
    if (i % 2)
      CHECK_RC(pkw_instance_track_dirty(inst), PKW_OK);
    check_image_memory(inst, "IMG");
    store(inst, 100 + 4096 * (uint32_t)(i % 8), (uint32_t)i + 1);
    pkw_instance_destroy(inst);
  }
  return NULL;
}

static void test_spare_threads(void) {
  spares_fx fx;
  pthread_t t[2];
  int i;
  spares_load(&fx, NULL, PKW_DECODE_DIRTY, "IMG");
  pkw_module_set_spares(fx.m, 1);
  for (i = 0; i < 2; i++)
    CHECK(pthread_create(&t[i], NULL, spare_churn, &fx) == 0);
  for (i = 0; i < 2; i++)
    CHECK(pthread_join(t[i], NULL) == 0);
  spares_unload(&fx);
}

/* ---- copy-on-write images -------------------------------------------------
 *
 * Instances made from an image map its memory file privately where the
 * system has memory files (pkw_memory_mapped says so); the tests run
 * twice, mapped and with the copy fallback: `cow_mode` is set by the
 * test name (PK_TEST_NO_MEMFD is the engine's hook that makes
 * memfd_create fail, read when an image's file is first wanted). */

/* "mapped": the instances must be mapped (skipped where the system has
 * no memory files); "copy": they must not be. */
static int cow_mapped_wanted;

static void cow_mode(int mapped) {
  cow_mapped_wanted = mapped;
  if (!mapped)
    CHECK(setenv("PK_TEST_NO_MEMFD", "1", 1) == 0);
}

/* inst's memory is mapped as the mode wants (exit 77, skipped, when the
 * mode wants a mapping and this system has no memory files). */
static void check_mode(pkw_instance *inst) {
  int mapped = pkw_memory_mapped(pkw_instance_memory(inst));
  if (cow_mapped_wanted && !mapped) {
    printf("SKIP: no copy-on-write mapping on this system\n");
    exit(77);
  }
  CHECK(mapped == cow_mapped_wanted);
}

/* Nothing one instance wrote (guest stores on several pages, raw writes
 * through the data pointer, which nothing tracks) is seen by the next
 * made from its spare, nor by another made while it lives. */
static void cow_no_leak(int mapped) {
  pkw_alloc al = {count_realloc, NULL};
  spares_fx fx;
  pkw_instance *a, *b;
  uint8_t *d;
  int i;
  cow_mode(mapped);
  spares_load(&fx, &al, 0, "IMG");
  pkw_module_set_spares(fx.m, 1);
  for (i = 0; i < 3; i++) {
    a = from_image(fx.m, fx.img);
    check_mode(a);
    check_image_memory(a, "IMG");
    store(a, 100, 0xdeadbeefu);          /* a zero chunk */
    store(a, 12288, 0x41414141u);        /* the image's chunk */
    store(a, 131068, 0x01020304u);       /* the last word */
    d = pkw_memory_data(pkw_instance_memory(a), NULL);
    d[70000] = 9;                        /* raw */
    b = from_image(fx.m, fx.img);        /* a second one meanwhile */
    check_mode(b);
    check_image_memory(b, "IMG");
    pkw_instance_destroy(a);             /* the spare (cap 1) */
    pkw_instance_destroy(b);             /* freed */
  }
  a = from_image(fx.m, fx.img);
  check_image_memory(a, "IMG");
  pkw_instance_destroy(a);
  spares_unload(&fx);
  CHECK(live == 0);
}

static void test_cow_no_leak(void) { cow_no_leak(1); }
static void test_cow_no_leak_copy(void) { cow_no_leak(0); }

/* More written than is copied back (PKW_COW_COPY_MAX, 256 KiB): the
 * memory is dropped whole instead; still the image after. */
static void cow_many_pages(int mapped) {
  spares_fx fx;
  pkw_instance *a;
  pkw_limits lim;
  uint8_t *d;
  uint32_t p;
  cow_mode(mapped);
  {
    spec sp = {"ii", "", store_code, sizeof store_code, 0, 12, -1, 0, 0};
    buf b;
    build(&b, &sp);
    CHECK_RC(pkw_module_decode_ex(NULL, b.b, b.n, 0, &fx.m, NULL, 0), PKW_OK);
  }
  CHECK_RC(pkw_instance_create(fx.m, NULL, 0, NULL, &fx.inst0, NULL, 0),
           PKW_OK);
  d = pkw_memory_data(pkw_instance_memory(fx.inst0), NULL);
  for (p = 0; p < 12; p++)
    d[p * 65536u + 5] = (uint8_t)(p + 1);
  CHECK_RC(pkw_image_create(fx.inst0, &fx.img), PKW_OK);
  pkw_module_set_spares(fx.m, 1);
  memset(&lim, 0, sizeof lim);
  lim.image = fx.img;
  CHECK_RC(pkw_instance_create(fx.m, NULL, 0, &lim, &a, NULL, 0), PKW_OK);
  check_mode(a);
  d = pkw_memory_data(pkw_instance_memory(a), NULL);
  memset(d, 0xee, 12u * 65536u); /* every page */
  pkw_instance_destroy(a);
  CHECK_RC(pkw_instance_create(fx.m, NULL, 0, &lim, &a, NULL, 0), PKW_OK);
  d = pkw_memory_data(pkw_instance_memory(a), NULL);
  for (p = 0; p < 12u * 65536u; p++)
    CHECK(d[p] == (p % 65536u == 5 ? (uint8_t)(p / 65536u + 1) : 0));
  pkw_instance_destroy(a);
  spares_unload(&fx);
}

static void test_cow_many_pages(void) { cow_many_pages(1); }

/* Pages the last user grew are gone: the next instance has the image's
 * size, and grows into zero pages; up to its limit, not past it. */
static void cow_grown(int mapped) {
  spares_fx fx;
  pkw_instance *a;
  pkw_limits lim;
  pkw_memory *mem;
  uint8_t *d;
  uint32_t old, k;
  cow_mode(mapped);
  spares_load(&fx, NULL, 0, "IMG");
  pkw_module_set_spares(fx.m, 1);
  memset(&lim, 0, sizeof lim);
  lim.image = fx.img;
  lim.max_memory_pages = 6;
  CHECK_RC(pkw_instance_create(fx.m, NULL, 0, &lim, &a, NULL, 0), PKW_OK);
  check_mode(a);
  mem = pkw_instance_memory(a);
  CHECK_RC(pkw_memory_grow(mem, 3, &old), PKW_OK);
  CHECK(old == 2 && pkw_memory_pages(mem) == 5);
  d = pkw_memory_data(mem, NULL);
  for (k = 2; k < 5; k++)
    CHECK(d[k * 65536u + 77] == 0); /* grown pages are zero */
  store(a, 4 * 65536u + 8, 0x11223344u);
  d[2 * 65536u] = 3;
  pkw_instance_destroy(a);
  CHECK_RC(pkw_instance_create(fx.m, NULL, 0, &lim, &a, NULL, 0), PKW_OK);
  mem = pkw_instance_memory(a);
  CHECK(pkw_memory_pages(mem) == 2);
  check_image_memory(a, "IMG");
  CHECK_RC(pkw_memory_grow(mem, 4, &old), PKW_OK); /* to the limit: 6 */
  CHECK_RC(pkw_memory_grow(mem, 1, &old), PKW_ELIMIT);
  d = pkw_memory_data(mem, NULL);
  for (k = 2u * 65536u; k < 6u * 65536u; k++)
    CHECK(d[k] == 0);
  store(a, 6u * 65536u - 4, 5); /* the last word of the limit */
  pkw_instance_destroy(a);
  spares_unload(&fx);
}

static void test_cow_grown(void) { cow_grown(1); }
static void test_cow_grown_copy(void) { cow_grown(0); }

/* Bulk memory (memory.fill) on a mapped memory, across the image's
 * chunk: the same bytes as copying would give, and gone in the next. */
static void test_cow_bulk_fill(void) {
  /* f(addr, val): memory.fill(addr, val, 8192) */
  static const uint8_t fill[] = {0x20, 0x00, 0x20, 0x01, 0x41, 0x80, 0xc0,
                                 0x00, 0xfc, 0x0b, 0x00, 0x0b};
  spec sp = {"ii", "", fill, sizeof fill, 0, 2, -1, 0, 0};
  spares_fx fx;
  pkw_instance *a;
  const uint8_t *d;
  uint32_t k;
  buf b;
  cow_mode(1);
  build(&b, &sp);
  CHECK_RC(pkw_module_decode_ex(NULL, b.b, b.n, 0, &fx.m, NULL, 0), PKW_OK);
  CHECK_RC(pkw_instance_create(fx.m, NULL, 0, NULL, &fx.inst0, NULL, 0),
           PKW_OK);
  CHECK_RC(pkw_memory_write(pkw_instance_memory(fx.inst0), 12288, "IMG", 3),
           PKW_OK);
  CHECK_RC(pkw_image_create(fx.inst0, &fx.img), PKW_OK);
  pkw_module_set_spares(fx.m, 1);
  a = from_image(fx.m, fx.img);
  check_mode(a);
  store(a, 10000, 0x55);
  d = pkw_memory_data(pkw_instance_memory(a), NULL);
  for (k = 9990; k < 18200; k++)
    CHECK(d[k] == (k >= 10000 && k < 18192 ? 0x55 : 0));
  pkw_instance_destroy(a);
  a = from_image(fx.m, fx.img);
  check_image_memory(a, "IMG");
  pkw_instance_destroy(a);
  spares_unload(&fx);
}

/* pkw_instance_reset of a tracked instance with a mapped memory: the
 * written chunks and the grown pages go back. */
static void cow_reset(int mapped) {
  spares_fx fx;
  pkw_instance *a;
  pkw_memory *mem;
  int i;
  cow_mode(mapped);
  spares_load(&fx, NULL, PKW_DECODE_DIRTY, "IMG");
  a = from_image(fx.m, fx.img);
  check_mode(a);
  CHECK_RC(pkw_instance_track_dirty(a), PKW_OK);
  mem = pkw_instance_memory(a);
  for (i = 0; i < 3; i++) {
    store(a, 12290, 0x41414141u);
    store(a, 65536, 7);
    CHECK_RC(pkw_memory_grow(mem, 2, NULL), PKW_OK);
    store(a, 3u * 65536u, 9);
    CHECK_RC(pkw_instance_reset(a, fx.img), PKW_OK);
    check_image_memory(a, "IMG");
    CHECK(pkw_instance_dirty_chunks(a) == 0);
    CHECK_RC(pkw_memory_grow(mem, 2, NULL), PKW_OK);
    CHECK(pkw_memory_data(mem, NULL)[3u * 65536u] == 0);
    CHECK_RC(pkw_instance_reset(a, fx.img), PKW_OK);
  }
  pkw_instance_destroy(a);
  spares_unload(&fx);
}

static void test_cow_reset(void) { cow_reset(1); }
static void test_cow_reset_copy(void) { cow_reset(0); }

/* Hostile shapes: an image of 0 pages and a memory of maximum 0 (never
 * mapped: nothing to map; grow fails as before), a spare of another
 * shape (other stack size: not reused; a larger memory limit than its
 * reservation: mapped again, and grows to the new limit). */
static void test_cow_shapes(void) {
  spares_fx fx;
  pkw_instance *a;
  pkw_limits lim;
  pkw_memory *mem;
  spec sp = {"ii", "", store_code, sizeof store_code, 0, 0, 0, 0, 0};
  buf b;
  cow_mode(1);
  build(&b, &sp);
  CHECK_RC(pkw_module_decode_ex(NULL, b.b, b.n, 0, &fx.m, NULL, 0), PKW_OK);
  CHECK_RC(pkw_instance_create(fx.m, NULL, 0, NULL, &fx.inst0, NULL, 0),
           PKW_OK);
  CHECK_RC(pkw_image_create(fx.inst0, &fx.img), PKW_OK);
  pkw_module_set_spares(fx.m, 1);
  a = from_image(fx.m, fx.img);
  mem = pkw_instance_memory(a);
  CHECK(pkw_memory_pages(mem) == 0 && !pkw_memory_mapped(mem));
  CHECK_RC(pkw_memory_grow(mem, 1, NULL), PKW_ELIMIT);
  pkw_instance_destroy(a);
  a = from_image(fx.m, fx.img); /* its spare */
  CHECK(pkw_memory_pages(pkw_instance_memory(a)) == 0);
  pkw_instance_destroy(a);
  spares_unload(&fx);

  spares_load(&fx, NULL, 0, "IMG");
  pkw_module_set_spares(fx.m, 1);
  memset(&lim, 0, sizeof lim);
  lim.image = fx.img;
  lim.max_memory_pages = 3;
  CHECK_RC(pkw_instance_create(fx.m, NULL, 0, &lim, &a, NULL, 0), PKW_OK);
  check_mode(a);
  store(a, 12288, 1);
  pkw_instance_destroy(a);
  lim.max_memory_pages = 40; /* over the spare's reservation */
  CHECK_RC(pkw_instance_create(fx.m, NULL, 0, &lim, &a, NULL, 0), PKW_OK);
  check_image_memory(a, "IMG");
  mem = pkw_instance_memory(a);
  CHECK_RC(pkw_memory_grow(mem, 38, NULL), PKW_OK);
  store(a, 40u * 65536u - 4, 3);
  CHECK(pkw_memory_data(mem, NULL)[40u * 65536u - 4] == 3);
  store(a, 12288, 1);
  pkw_instance_destroy(a);
  lim.stack_slots = 1000; /* another block shape: new blocks */
  CHECK_RC(pkw_instance_create(fx.m, NULL, 0, &lim, &a, NULL, 0), PKW_OK);
  check_image_memory(a, "IMG");
  pkw_instance_destroy(a);
  lim.stack_slots = 0;
  lim.max_memory_pages = 2; /* the image's size exactly */
  CHECK_RC(pkw_instance_create(fx.m, NULL, 0, &lim, &a, NULL, 0), PKW_OK);
  check_image_memory(a, "IMG");
  CHECK_RC(pkw_memory_grow(pkw_instance_memory(a), 1, NULL), PKW_ELIMIT);
  pkw_instance_destroy(a);
  lim.max_memory_pages = 1; /* under the image: refused */
  a = NULL;
  CHECK_RC(pkw_instance_create(fx.m, NULL, 0, &lim, &a, NULL, 0),
           PKW_ELIMIT);
  spares_unload(&fx);
}

/* ---- dirty tracking, one test per path that writes memory -------------
 *
 * PKW_DECODE_DIRTY modules, run on each tier: a tracked instance made
 * from an image of its zeroed 2-page memory counts the 4 KiB chunks each
 * call wrote (pkw_instance_dirty_chunks), and pkw_instance_reset brings
 * back exactly those. A path whose marking is missing leaves a count
 * short and, after the reset, bytes that are not the image's. */

typedef struct dirty_fx {
  fixture fx;
  pkw_image *img;
  pkw_instance *inst;
  pkw_func *f;
} dirty_fx;

/* An allocator that never hands a freed block back: it fills it with
 * 0xff and keeps it until poison_release. Code that still reads a dirty
 * map after it moved then sees every chunk marked, deterministically. */
typedef struct poisoned {
  size_t n;
  struct poisoned *next;
} poisoned;
static poisoned *poison_kept;

static void *poison_realloc(void *ud, void *p, size_t n) {
  poisoned *old = p != NULL ? (poisoned *)p - 1 : NULL, *nb = NULL;
  (void)ud;
  if (n > 0) {
    if ((nb = malloc(sizeof *nb + n)) == NULL)
      return NULL;
    nb->n = n;
    if (old != NULL)
      memcpy(nb + 1, old + 1, old->n < n ? old->n : n);
  }
  if (old != NULL) {
    memset(old + 1, 0xff, old->n);
    old->next = poison_kept;
    poison_kept = old;
  }
  return nb != NULL ? nb + 1 : NULL;
}

static void poison_release(void) {
  while (poison_kept != NULL) {
    poisoned *b = poison_kept;
    poison_kept = b->next;
    free(b);
  }
}

static const pkw_alloc poison_alloc = {poison_realloc, NULL};

static void dirty_load_al(dirty_fx *d, const spec *sp, const pkw_extern *imp,
                          const uint8_t *data, size_t data_len,
                          const pkw_alloc *al) {
  buf b;
  char err[256];
  pkw_limits lim;
  int rc;
  build_ex(&b, sp, data, data_len);
  rc = pkw_module_decode_ex(al, b.b, b.n, PKW_DECODE_DIRTY, &d->fx.m, err,
                            sizeof err);
  if (rc != PKW_OK) {
    fprintf(stderr, "decode: %s\n", err);
    exit(1);
  }
  CHECK_RC(pkw_instance_create(d->fx.m, imp, imp != NULL, NULL, &d->fx.inst,
                               NULL, 0), PKW_OK);
  CHECK_RC(pkw_image_create(d->fx.inst, &d->img), PKW_OK);
  memset(&lim, 0, sizeof lim);
  lim.image = d->img;
  CHECK_RC(pkw_instance_create(d->fx.m, imp, imp != NULL, &lim, &d->inst,
                               NULL, 0), PKW_OK);
  CHECK_RC(pkw_instance_track_dirty(d->inst), PKW_OK);
  CHECK_RC(pkw_instance_func(d->inst, "f", &d->f), PKW_OK);
}

static void dirty_load(dirty_fx *d, const spec *sp, const pkw_extern *imp,
                       const uint8_t *data, size_t data_len) {
  dirty_load_al(d, sp, imp, data, data_len, NULL);
}

/* f(a, b) on the tracked instance: its result code. */
static int dirty_call(dirty_fx *d, uint64_t a, uint64_t b) {
  uint64_t in[2];
  in[0] = a;
  in[1] = b;
  return pkw_call(d->f, in, 2, NULL, 0);
}

/* Reset: nothing dirty, and the memory is the image's again (all zero,
 * 2 pages). */
static void dirty_reset(dirty_fx *d) {
  uint64_t size, i;
  const uint8_t *m;
  CHECK_RC(pkw_instance_reset(d->inst, d->img), PKW_OK);
  CHECK(pkw_instance_dirty_chunks(d->inst) == 0);
  m = pkw_memory_data(pkw_instance_memory(d->inst), &size);
  CHECK(size == 2u * 65536u);
  for (i = 0; i < size; i++)
    CHECK(m[i] == 0);
}

static void dirty_unload(dirty_fx *d) {
  pkw_instance_destroy(d->inst);
  pkw_image_destroy(d->img);
  unload(&d->fx);
}

/* Every store instruction: a first store marks its chunk, a second in
 * the same chunk nothing more, one across a chunk border both chunks,
 * one out of bounds nothing (it traps). */
static void test_dirty_stores(void) {
  static const char *const ptypes[9] = {"ii", "iI", "if", "iF", "ii",
                                        "ii", "iI", "iI", "iI"};
  static const unsigned size[9] = {4, 8, 4, 8, 1, 2, 1, 2, 4};
  unsigned k;
  for (k = 0; k < 9; k++) {
    uint8_t code[8] = {0x20, 0x00, 0x20, 0x01, 0, 0x00, 0x00, 0x0b};
    spec sp = {ptypes[k], "", code, sizeof code, 0, 2, -1, 0, 0};
    dirty_fx d;
    uint32_t n = size[k];
    code[4] = (uint8_t)(0x36 + k);
    dirty_load(&d, &sp, NULL, NULL, 0);
    CHECK(pkw_instance_dirty_chunks(d.inst) == 0);
    CHECK_RC(dirty_call(&d, 100, 0xffffffffffffffffull), PKW_OK);
    CHECK(pkw_instance_dirty_chunks(d.inst) == 1);
    CHECK_RC(dirty_call(&d, 4000, 0xffffffffffffffffull), PKW_OK);
    CHECK(pkw_instance_dirty_chunks(d.inst) == 1);
    /* The first byte in chunk 4 (n > 1: the rest in chunk 5). */
    CHECK_RC(dirty_call(&d, 5u * 4096u - 1, 0xffffffffffffffffull), PKW_OK);
    CHECK(pkw_instance_dirty_chunks(d.inst) == (n > 1 ? 3u : 2u));
    if (n > 1) {
      /* Across a border whose first chunk is marked already. */
      CHECK_RC(dirty_call(&d, 8u * 4096u, 1), PKW_OK);
      CHECK(pkw_instance_dirty_chunks(d.inst) == 4);
      CHECK_RC(dirty_call(&d, 9u * 4096u - 1, 0xffffffffffffffffull),
               PKW_OK);
      CHECK(pkw_instance_dirty_chunks(d.inst) == 5);
    }
    CHECK_RC(dirty_call(&d, 2u * 65536u - n + 1, 1), PKW_TRAP_MEMORY_OOB);
    CHECK(pkw_instance_dirty_chunks(d.inst) == (n > 1 ? 5u : 2u));
    dirty_reset(&d);
    dirty_unload(&d);
  }
}

/* memory.fill(a, 0x55, b) */
static void test_dirty_fill(void) {
  static const uint8_t code[] = {0x20, 0x00, 0x41, 0xd5, 0x00, 0x20, 0x01,
                                 0xfc, 0x0b, 0x00, 0x0b};
  spec sp = {"ii", "", code, sizeof code, 0, 2, -1, 0, 0};
  dirty_fx d;
  dirty_load(&d, &sp, NULL, NULL, 0);
  CHECK_RC(dirty_call(&d, 4000, 8200), PKW_OK); /* chunks 0, 1, 2 */
  CHECK(pkw_instance_dirty_chunks(d.inst) == 3);
  CHECK_RC(dirty_call(&d, 65536, 0), PKW_OK); /* nothing */
  CHECK(pkw_instance_dirty_chunks(d.inst) == 3);
  CHECK_RC(dirty_call(&d, 65530, 7), PKW_OK); /* chunks 15, 16 */
  CHECK(pkw_instance_dirty_chunks(d.inst) == 5);
  CHECK_RC(dirty_call(&d, 131000, 1000), PKW_TRAP_MEMORY_OOB);
  CHECK(pkw_instance_dirty_chunks(d.inst) == 5);
  dirty_reset(&d);
  dirty_unload(&d);
}

/* memory.fill(0, 0x55, 8), then memory.copy(a, 0, b) */
static void test_dirty_copy(void) {
  static const uint8_t code[] = {0x41, 0x00, 0x41, 0xd5, 0x00, 0x41, 0x08,
                                 0xfc, 0x0b, 0x00, 0x20, 0x00, 0x41, 0x00,
                                 0x20, 0x01, 0xfc, 0x0a, 0x00, 0x00, 0x0b};
  spec sp = {"ii", "", code, sizeof code, 0, 2, -1, 0, 0};
  dirty_fx d;
  dirty_load(&d, &sp, NULL, NULL, 0);
  CHECK_RC(dirty_call(&d, 8192 - 4, 8), PKW_OK); /* chunks 0 (fill), 1, 2 */
  CHECK(pkw_instance_dirty_chunks(d.inst) == 3);
  CHECK_RC(dirty_call(&d, 40000, 4), PKW_OK); /* chunk 9 */
  CHECK(pkw_instance_dirty_chunks(d.inst) == 4);
  dirty_reset(&d);
  /* Out of bounds: the fill's chunk only, then the trap. */
  CHECK_RC(dirty_call(&d, 131070, 8), PKW_TRAP_MEMORY_OOB);
  CHECK(pkw_instance_dirty_chunks(d.inst) == 1);
  dirty_reset(&d);
  dirty_unload(&d);
}

/* memory.init(a, 0, b) from a passive segment of 5000 bytes of 0x77 */
static void test_dirty_init(void) {
  static const uint8_t code[] = {0x20, 0x00, 0x41, 0x00, 0x20, 0x01,
                                 0xfc, 0x08, 0x00, 0x00, 0x0b};
  static uint8_t seg[5000];
  spec sp = {"ii", "", code, sizeof code, 0, 2, -1, 0, 0};
  dirty_fx d;
  memset(seg, 0x77, sizeof seg);
  dirty_load(&d, &sp, NULL, seg, sizeof seg);
  CHECK_RC(dirty_call(&d, 3 * 4096 + 100, 5000), PKW_OK); /* chunks 3, 4 */
  CHECK(pkw_instance_dirty_chunks(d.inst) == 2);
  CHECK_RC(dirty_call(&d, 50000, 1), PKW_OK); /* chunk 12 */
  CHECK(pkw_instance_dirty_chunks(d.inst) == 3);
  CHECK_RC(dirty_call(&d, 131000, 5000), PKW_TRAP_MEMORY_OOB);
  CHECK(pkw_instance_dirty_chunks(d.inst) == 3);
  dirty_reset(&d);
  dirty_unload(&d);
}

/* memory.grow(200) then i32.store(a, b): the dirty map grows and moves
 * (poison_alloc: the old one reads all marked), the store after it in
 * the same body marks the new map. */
static void test_dirty_after_grow(void) {
  static const uint8_t code[] = {0x41, 0xc8, 0x01, 0x40, 0x00, 0x1a, 0x20,
                                 0x00, 0x20, 0x01, 0x36, 0x02, 0x00, 0x0b};
  spec sp = {"ii", "", code, sizeof code, 0, 2, -1, 0, 0};
  dirty_fx d;
  dirty_load_al(&d, &sp, NULL, NULL, 0, &poison_alloc);
  CHECK_RC(dirty_call(&d, 5u * 4096u + 8, 3), PKW_OK); /* chunk 5 */
  CHECK(pkw_memory_pages(pkw_instance_memory(d.inst)) == 202);
  CHECK(pkw_instance_dirty_chunks(d.inst) == 1);
  CHECK_RC(dirty_call(&d, 400u * 65536u + 8, 3), PKW_OK);
  CHECK(pkw_instance_dirty_chunks(d.inst) == 2);
  dirty_reset(&d);
  dirty_unload(&d);
  poison_release();
}

/* A host import that grows the caller's memory by 200 pages. */
static int host_grow(void *ud, pkw_instance *inst, const uint64_t *args,
                     uint64_t *results) {
  (void)ud;
  (void)args;
  (void)results;
  return pkw_memory_grow(pkw_instance_memory(inst), 200, NULL) == PKW_OK
             ? 0
             : -1;
}

/* h(a, b) (host: grows the memory, the dirty map moves), then
 * i32.store(a, b): the store after a call marks the map as the callee
 * left it. */
static void test_dirty_after_call(void) {
  static const uint8_t code[] = {0x20, 0x00, 0x20, 0x01, 0x10, 0x00, 0x20,
                                 0x00, 0x20, 0x01, 0x36, 0x02, 0x00, 0x0b};
  static const uint8_t ii[2] = {PKW_I32, PKW_I32};
  spec sp = {"ii", "", code, sizeof code, 0, 2, -1, 1, 0};
  pkw_functype ft = {2, 0, ii, NULL};
  pkw_extern ex;
  pkw_func *h;
  dirty_fx d;
  CHECK_RC(pkw_func_create_host(NULL, &ft, host_grow, NULL, &h), PKW_OK);
  ex.kind = PKW_EXTERN_FUNC;
  ex.u.func = h;
  dirty_load_al(&d, &sp, &ex, NULL, 0, &poison_alloc);
  CHECK(pkw_memory_pages(pkw_instance_memory(d.inst)) == 2);
  CHECK_RC(dirty_call(&d, 5u * 4096u + 8, 3), PKW_OK); /* chunk 5 */
  CHECK(pkw_memory_pages(pkw_instance_memory(d.inst)) == 202);
  CHECK(pkw_instance_dirty_chunks(d.inst) == 1);
  CHECK_RC(dirty_call(&d, 150u * 65536u + 8, 3), PKW_OK);
  CHECK(pkw_memory_pages(pkw_instance_memory(d.inst)) == 402);
  CHECK(pkw_instance_dirty_chunks(d.inst) == 2);
  dirty_reset(&d);
  dirty_unload(&d);
  poison_release();
  pkw_func_destroy_host(h);
}

/* pkw_module_bind_aot binds code that marks written chunks only to a
 * module decoded with PKW_DECODE_DIRTY, and code that does not only to
 * one decoded without: the symbols of a fake object (its function not
 * compiled: NULL in the table) say which it is, or nothing. Run on the
 * interpreter only (the module must not be compiled already). */
static uint32_t fake_marks;
static int fake_has_marks;
static void *fake_table[2];
static const uint32_t fake_frames[3] = {0, 0, 0};

static int fake_init(const void *const *rt, uint32_t n) {
  (void)rt;
  (void)n;
  return 1; /* one defined function */
}

static void *fake_sym(void *ud, const char *name) {
  int (*init)(const void *const *, uint32_t) = fake_init;
  void *p = NULL;
  (void)ud;
  if (strcmp(name, "pkw_aot_init") == 0)
    memcpy(&p, &init, sizeof p);
  else if (strcmp(name, "pkw_jit_table") == 0)
    p = fake_table;
  else if (strcmp(name, "pkw_aot_frames") == 0)
    p = (void *)(uintptr_t)fake_frames;
  else if (strcmp(name, "pkw_aot_marks") == 0 && fake_has_marks)
    p = &fake_marks;
  return p;
}

static void test_aot_marks_checked(void) {
  static const struct {
    unsigned flags;
    int has;
    uint32_t marks;
    int want;
    const char *why;
  } cases[] = {
      {PKW_DECODE_DIRTY, 1, 0, PKW_EMALFORMED,
       "artifact does not record the pages a call writes, the module "
       "needs them"},
      {0, 1, 1, PKW_EMALFORMED,
       "artifact records the pages a call writes, the module does not"},
      {PKW_DECODE_DIRTY, 0, 0, PKW_EMALFORMED,
       "does not say whether it records"},
      {0, 0, 0, PKW_EMALFORMED, "does not say whether it records"},
      {PKW_DECODE_DIRTY, 1, 1, PKW_OK, ""},
      {0, 1, 0, PKW_OK, ""},
  };
  spec sp = {"ii", "", store_code, sizeof store_code, 0, 2, -1, 0, 0};
  size_t k;
  buf b;
  build(&b, &sp);
  for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    pkw_module *m;
    char err[256] = "";
    /* (the engine's decode: not this file's tier wrapper) */
    CHECK_RC((pkw_module_decode_ex)(NULL, b.b, b.n, cases[k].flags, &m,
                                    NULL, 0),
             PKW_OK);
    fake_has_marks = cases[k].has;
    fake_marks = cases[k].marks;
    CHECK_RC(pkw_module_bind_aot(m, fake_sym, NULL, NULL, err, sizeof err),
             cases[k].want);
    if (strstr(err, cases[k].why) == NULL) {
      fprintf(stderr, "case %zu: '%s' lacks '%s'\n", k, err, cases[k].why);
      exit(1);
    }
    CHECK(strcmp(pkw_module_tier(m),
                 cases[k].want == PKW_OK ? "aot" : "interp") == 0);
    if (cases[k].want == PKW_OK) {
      pkw_instance *inst;
      CHECK_RC(pkw_instance_create(m, NULL, 0, NULL, &inst, NULL, 0),
               PKW_OK);
      store(inst, 100, 7); /* interpreted: no code for it */
      pkw_instance_destroy(inst);
    }
    pkw_module_destroy(m);
  }
}

/* ---- simple loops (cgen.c: the unchecked copy of a loop) ---------------- */

/* Kernels f(d, s, n, i) of four i32 parameters on 8 pages, each a loop
 * the compiled tiers run in chunks without per-access checks when the
 * header's checks pass. Every test runs them on each tier against the
 * reference in C below (sequential, wrapping, checked), which is the
 * interpreter's semantics written out. */
#define LOOP_PAGES 8
#define LOOP_BYTES (LOOP_PAGES * 65536u)
/* XOR: do { m[d + i] = m[s + i] ^ 0x5a; i++ } while (i != n); return i */
static const uint8_t k_xor[] = {
    0x03, 0x40, 0x20, 0x00, 0x20, 0x03, 0x6a, 0x20, 0x01, 0x20, 0x03, 0x6a,
    0x2d, 0x00, 0x00, 0x41, 0xda, 0x00, 0x73, 0x3a, 0x00, 0x00, 0x20, 0x03,
    0x41, 0x01, 0x6a, 0x22, 0x03, 0x20, 0x02, 0x47, 0x0d, 0x00, 0x0b, 0x20,
    0x03, 0x0b};
/* DOWN: do { n--; m[d + n] = m[s + n] ^ 0x5a } while (n); return n */
static const uint8_t k_down[] = {
    0x03, 0x40, 0x20, 0x02, 0x41, 0x01, 0x6b, 0x21, 0x02, 0x20, 0x00, 0x20,
    0x02, 0x6a, 0x20, 0x01, 0x20, 0x02, 0x6a, 0x2d, 0x00, 0x00, 0x41, 0xda,
    0x00, 0x73, 0x3a, 0x00, 0x00, 0x20, 0x02, 0x0d, 0x00, 0x0b, 0x20, 0x02,
    0x0b};
/* WORDS: do { m32[d + 4i] = m32[s + 4i] + 1; i++ } while (i <u n); return i */
static const uint8_t k_words[] = {
    0x03, 0x40, 0x20, 0x00, 0x20, 0x03, 0x41, 0x02, 0x74, 0x6a, 0x20, 0x01,
    0x20, 0x03, 0x41, 0x02, 0x74, 0x6a, 0x28, 0x02, 0x00, 0x41, 0x01, 0x6a,
    0x36, 0x02, 0x00, 0x20, 0x03, 0x41, 0x01, 0x6a, 0x22, 0x03, 0x20, 0x02,
    0x49, 0x0d, 0x00, 0x0b, 0x20, 0x03, 0x0b};
/* BUMP: do { m32[d] = m32[d] * 3 + 1; i++ } while (i != n); return i
 * (no closed form a C compiler could put in the loop's place) */
static const uint8_t k_bump[] = {
    0x03, 0x40, 0x20, 0x00, 0x20, 0x00, 0x28, 0x02, 0x00, 0x41, 0x03, 0x6c,
    0x41, 0x01, 0x6a, 0x36, 0x02, 0x00, 0x20, 0x03, 0x41, 0x01, 0x6a, 0x22,
    0x03, 0x20, 0x02, 0x47, 0x0d, 0x00, 0x0b, 0x20, 0x03, 0x0b};

/* BUMP4: BUMP with i += 4 and i <u n (a counter that can step past 2^32) */
static const uint8_t k_bump4[] = {
    0x03, 0x40, 0x20, 0x00, 0x20, 0x00, 0x28, 0x02, 0x00, 0x41, 0x03, 0x6c,
    0x41, 0x01, 0x6a, 0x36, 0x02, 0x00, 0x20, 0x03, 0x41, 0x04, 0x6a, 0x22,
    0x03, 0x20, 0x02, 0x49, 0x0d, 0x00, 0x0b, 0x20, 0x03, 0x0b};

enum { K_XOR, K_DOWN, K_WORDS, K_BUMP, K_BUMP4 };
static const struct {
  const uint8_t *code;
  size_t len;
} kernels[] = {{k_xor, sizeof k_xor}, {k_down, sizeof k_down},
               {k_words, sizeof k_words}, {k_bump, sizeof k_bump},
               {k_bump4, sizeof k_bump4}};

/* One access of the reference: 0, or -1 when [a, a + n) is out of
 * bounds (the trap). */
static int ref_in(uint32_t a, unsigned n) {
  return (uint64_t)a + n <= LOOP_BYTES ? 0 : -1;
}

/* The reference: runs kernel k on m with fuel *fuel (the entry's unit,
 * then one per taken back-edge; < 0: unlimited). Returns the trap or
 * PKW_OK, the result in *res. */
static int ref_run(int k, uint8_t *m, uint32_t d, uint32_t s, uint32_t n,
                   uint32_t i, int64_t *fuel, uint32_t *res) {
  for (;;) {
    if (*fuel >= 0 && --*fuel < 0) {
      *fuel = 0;
      return PKW_TRAP_OUT_OF_FUEL;
    }
    break;
  }
  for (;;) {
    uint32_t v;
    int more;
    switch (k) {
    case K_XOR:
      if (ref_in(s + i, 1) || ref_in(d + i, 1))
        return PKW_TRAP_MEMORY_OOB;
      m[(uint32_t)(d + i)] = m[(uint32_t)(s + i)] ^ 0x5a;
      i++;
      more = i != n;
      break;
    case K_DOWN:
      n--;
      if (ref_in(s + n, 1) || ref_in(d + n, 1))
        return PKW_TRAP_MEMORY_OOB;
      m[(uint32_t)(d + n)] = m[(uint32_t)(s + n)] ^ 0x5a;
      i = n;
      more = n != 0;
      break;
    case K_WORDS:
      if (ref_in(s + 4 * i, 4))
        return PKW_TRAP_MEMORY_OOB;
      memcpy(&v, m + (uint32_t)(s + 4 * i), 4);
      v++;
      if (ref_in(d + 4 * i, 4))
        return PKW_TRAP_MEMORY_OOB;
      memcpy(m + (uint32_t)(d + 4 * i), &v, 4);
      i++;
      more = i < n;
      break;
    default:
      if (ref_in(d, 4))
        return PKW_TRAP_MEMORY_OOB;
      memcpy(&v, m + d, 4);
      v = v * 3 + 1;
      memcpy(m + d, &v, 4);
      i += k == K_BUMP ? 1 : 4;
      more = k == K_BUMP ? i != n : i < n;
      break;
    }
    *res = i;
    if (!more)
      return PKW_OK;
    if (*fuel >= 0 && --*fuel < 0) {
      *fuel = 0;
      return PKW_TRAP_OUT_OF_FUEL;
    }
  }
}

static uint8_t loop_ref_mem[LOOP_BYTES];

/* Kernel k on the tier under test and on the reference, from the same
 * memory: the same code, the same bytes, the same fuel left. */
static void loop_case(int k, uint32_t d, uint32_t s, uint32_t n, uint32_t i,
                      int64_t fuel) {
  spec sp = {"iiii", "i", NULL, 0, 0, LOOP_PAGES, LOOP_PAGES, 0, 0};
  fixture fx;
  uint64_t args[4], r = 0, size = 0;
  uint8_t *mem;
  uint32_t want = 0, j;
  int64_t fl = fuel;
  int wrc;
  sp.code = kernels[k].code;
  sp.code_len = kernels[k].len;
  load(&fx, &sp, NULL, NULL);
  mem = pkw_memory_data(pkw_instance_memory(fx.inst), &size);
  CHECK(mem != NULL && size == LOOP_BYTES);
  for (j = 0; j < LOOP_BYTES; j++)   /* every byte distinct from its xor */
    mem[j] = (uint8_t)(j * 7u + (j >> 8));
  memcpy(loop_ref_mem, mem, LOOP_BYTES);
  wrc = ref_run(k, loop_ref_mem, d, s, n, i, &fl, &want);
  args[0] = d;
  args[1] = s;
  args[2] = n;
  args[3] = i;
  pkw_instance_set_fuel(fx.inst, fuel);
  {
    int rc = pkw_call(fx.f, args, 4, &r, 1);
    if (rc != wrc || (rc == PKW_OK && (uint32_t)r != want) ||
        memcmp(mem, loop_ref_mem, LOOP_BYTES) != 0 ||
        pkw_instance_fuel(fx.inst) != (fuel < 0 ? -1 : fl)) {
      size_t at = 0;
      while (at < LOOP_BYTES && mem[at] == loop_ref_mem[at])
        at++;
      fprintf(stderr,
              "kernel %d (d %u s %u n %u i %u fuel %lld): rc %s want %s, "
              "result %u want %u, fuel %lld want %lld, first byte apart "
              "%zu\n",
              k, d, s, n, i, (long long)fuel, pkw_errname(rc),
              pkw_errname(wrc), (unsigned)r, want,
              (long long)pkw_instance_fuel(fx.inst), (long long)fl, at);
      exit(1);
    }
  }
  unload(&fx);
}

/* In bounds: lengths around the chunk (65536 iterations), overlapping
 * source and destination either way (a loop-carried dependency the C
 * compiler must not vectorize away), counting up, down and by words. */
static void test_loop_results(void) {
  static const uint32_t lens[] = {1, 2, 3, 7, 64, 1000, 65535, 65536, 65537,
                                  200000};
  size_t j;
  for (j = 0; j < sizeof lens / sizeof lens[0]; j++) {
    uint32_t n = lens[j];
    loop_case(K_XOR, 262144, 0, n, 0, -1);
    loop_case(K_XOR, 1, 0, n, 0, -1);        /* d = s + 1 */
    loop_case(K_XOR, 0, 1, n, 0, -1);        /* d = s - 1 */
    loop_case(K_XOR, 4096, 4096, n, 0, -1);  /* in place */
    loop_case(K_DOWN, 262144, 0, n, 0, -1);
    loop_case(K_DOWN, 1, 0, n, 0, -1);
    loop_case(K_DOWN, 0, 1, n, 0, -1);
    if (n <= 100000) {
      loop_case(K_WORDS, 131072, 0, n, 0, -1);
      loop_case(K_WORDS, 4, 0, n, 0, -1);    /* one word ahead */
      loop_case(K_WORDS, 0, 4, n, 0, -1);
    }
    loop_case(K_BUMP, 100, 0, n, 0, -1);
    loop_case(K_BUMP4, 100, 0, n, 0, -1);
  }
  /* A start past the end of the count: `<` stops after one iteration. */
  loop_case(K_WORDS, 131072, 0, 5, 9, -1);
}

/* Out of bounds within the loop: the trap at the same iteration, every
 * byte before it written, none after; addresses near 2^32; an index that
 * wraps around 2^32 with every access in bounds. */
static void test_loop_bounds(void) {
  loop_case(K_XOR, LOOP_BYTES - 100, 0, 1000, 0, -1);      /* store */
  loop_case(K_XOR, 0, LOOP_BYTES - 100, 1000, 0, -1);      /* load */
  loop_case(K_XOR, LOOP_BYTES - 70000, 0, 200000, 0, -1);  /* 2nd chunk */
  loop_case(K_XOR, 0xfffffff0u, 0, 32, 0, -1);
  loop_case(K_XOR, 0, 0xffffffffu, 2, 0, -1);
  loop_case(K_XOR, 16, 0x8000, 8, 0xfffffff8u, -1);        /* i wraps */
  loop_case(K_XOR, 0xfffffff0u, 0x8000, 0x20, 0x10, -1);   /* d + i wraps */
  loop_case(K_XOR, 0x8000, 0xfffffff0u, 0x20, 0x10, -1);   /* s + i wraps */
  loop_case(K_DOWN, LOOP_BYTES - 100, 0, 1000, 0, -1);
  loop_case(K_DOWN, 0, 0xfffffff0u, 0x20, 0, -1);
  loop_case(K_WORDS, LOOP_BYTES - 402, 0, 1000, 0, -1);    /* straddles */
  loop_case(K_WORDS, 0, 0x40000000u, 10, 0, -1);
  loop_case(K_WORDS, 0x100, 0x200, 0x40000002u, 0x3ffffffeu, -1); /* 4i wraps */
  loop_case(K_WORDS, 0x7ffffffcu, 0, 0x20000002u, 0x1fffffffu, -1);
  loop_case(K_BUMP, LOOP_BYTES - 3, 0, 10, 0, -1);
  /* A counter that steps past 2^32 and on (`<` still holds): the loop
   * goes on until the fuel ends it. */
  loop_case(K_BUMP4, 64, 0, 0xffffffffu, 0xffffffe0u, 100);
  loop_case(K_BUMP4, 64, 0, 0xfffffffcu, 0xfffff000u, -1);  /* up to it */
}

/* Fuel: the units left after a loop that ends, across chunks, and the
 * iteration at which it runs out (the memory as far as it got). */
static void test_loop_fuel(void) {
  loop_case(K_XOR, 262144, 0, 1000, 0, 5000);
  loop_case(K_XOR, 262144, 0, 1000, 0, 1000);   /* exactly enough */
  loop_case(K_XOR, 262144, 0, 1000, 0, 999);    /* one short */
  loop_case(K_XOR, 262144, 0, 1000, 0, 500);
  loop_case(K_XOR, 262144, 0, 200000, 0, 70000);  /* in the 2nd chunk */
  loop_case(K_XOR, 262144, 0, 200000, 0, 65537);
  loop_case(K_XOR, 262144, 0, 200000, 0, (int64_t)1 << 40);
  loop_case(K_DOWN, 262144, 0, 1000, 0, 300);
  loop_case(K_WORDS, 131072, 0, 1000, 0, 10);
  loop_case(K_BUMP, 100, 0, 100000, 0, 65536);
  loop_case(K_BUMP, 100, 0, 1, 0, 0);           /* the entry's unit */
}

/* A loop of 2^32 - 1 iterations on one word stops when another thread
 * interrupts it (the unchecked copy reads the flag between chunks). */
static void test_loop_interrupt(void) {
  spec sp = {"iiii", "i", k_bump, sizeof k_bump, 0, LOOP_PAGES, LOOP_PAGES,
             0, 0};
  fixture fx;
  pthread_t th;
  uint64_t args[4] = {64, 0, 0xffffffffu, 0}, r;
  load(&fx, &sp, NULL, NULL);
  CHECK(pthread_create(&th, NULL, interrupter, fx.inst) == 0);
  CHECK_RC(pkw_call(fx.f, args, 4, &r, 1), PKW_TRAP_INTERRUPTED);
  pthread_join(th, NULL);
  /* Usable after: a short call runs to its end. */
  args[2] = 10;
  CHECK_RC(pkw_call(fx.f, args, 4, &r, 1), PKW_OK);
  CHECK(r == 10);
  unload(&fx);
}

/* The compiled tiers' C of each kernel has the unchecked copy (else the
 * tests above would pass on the checked one alone). */
static void test_loop_versioned(void) {
  size_t k;
  unsigned fl;
  for (k = 0; k < sizeof kernels / sizeof kernels[0]; k++)
    for (fl = 0; fl < 2; fl++) {
      spec sp = {"iiii", "i", NULL, 0, 0, LOOP_PAGES, LOOP_PAGES, 0, 0};
      buf b;
      pkw_module *m;
      char *c = NULL, err[256];
      size_t len = 0;
      sp.code = kernels[k].code;
      sp.code_len = kernels[k].len;
      build(&b, &sp);
      CHECK_RC(pkw_module_decode_ex(NULL, b.b, b.n, 0, &m, err, sizeof err),
               PKW_OK);
      CHECK_RC(pkw_module_cgen_ex(m, fl ? PKW_CGEN_AOT : 0, &c, &len, err,
                                  sizeof err),
               PKW_OK);
      if (strstr(c, "for (k_ = 0; k_ < m_; k_++)") == NULL) {
        fprintf(stderr, "kernel %zu (%s): no unchecked copy\n", k,
                fl ? "aot" : "jit");
        exit(1);
      }
      free(c);
      pkw_module_destroy(m);
    }
}

/* A copy of an i64 in a simple loop stays whole in its unchecked copy:
 * do { y = x; m64[d + 8i] = y; i++ } while (i != n), x an i64 the loop
 * does not write (a copy has no type: only i32 values it computes may be
 * widened). */
static void test_loop_copy_i64(void) {
  static const uint8_t code[] = {
      0x03, 0x40, 0x20, 0x04, 0x21, 0x05, 0x20, 0x00, 0x20, 0x03, 0x41,
      0x03, 0x74, 0x6a, 0x20, 0x05, 0x37, 0x03, 0x00, 0x20, 0x03, 0x41,
      0x01, 0x6a, 0x22, 0x03, 0x20, 0x02, 0x47, 0x0d, 0x00, 0x0b, 0x20,
      0x03, 0x0b};
  spec sp = {"iiiiII", "i", code, sizeof code, 0, 1, 1, 0, 0};
  fixture fx;
  uint64_t a[6] = {1024, 0, 100, 0, 0x1122334455667788ull, 0}, r = 0, size;
  uint8_t *m;
  uint32_t i;
  load(&fx, &sp, NULL, NULL);
  CHECK_RC(pkw_call(fx.f, a, 6, &r, 1), PKW_OK);
  CHECK(r == 100);
  m = pkw_memory_data(pkw_instance_memory(fx.inst), &size);
  for (i = 0; i < 100; i++) {
    uint64_t v;
    memcpy(&v, m + 1024 + 8 * i, 8);
    CHECK(v == 0x1122334455667788ull);
  }
  CHECK(m[1023] == 0 && m[1024 + 800] == 0);
  unload(&fx);
}

/* A simple loop's stores on a tracked instance (its unchecked copy
 * keeps the marks): the chunks it wrote are dirty, and reset restores
 * them; a loop that traps part way marks what it wrote. */
static void test_loop_dirty(void) {
  spec sp = {"iiii", "i", k_xor, sizeof k_xor, 0, 2, -1, 0, 0};
  dirty_fx d;
  uint64_t a[4] = {4000, 0, 8200, 0}, r = 0;
  const uint8_t *m;
  uint64_t size;
  dirty_load(&d, &sp, NULL, NULL, 0);
  CHECK_RC(pkw_call(d.f, a, 4, &r, 1), PKW_OK);   /* chunks 0, 1, 2 */
  CHECK(r == 8200);
  CHECK(pkw_instance_dirty_chunks(d.inst) == 3);
  m = pkw_memory_data(pkw_instance_memory(d.inst), &size);
  CHECK(m[3999] == 0 && m[4000] == 0x5a && m[12199] == 0x5a && m[12200] == 0);
  dirty_reset(&d);
  a[0] = 2u * 65536u - 100;
  a[2] = 1000;
  CHECK_RC(pkw_call(d.f, a, 4, &r, 1), PKW_TRAP_MEMORY_OOB);
  CHECK(pkw_instance_dirty_chunks(d.inst) == 1);
  dirty_reset(&d);
  dirty_unload(&d);
}

/* Loads whose value the next instruction reads: the jit writes the
 * load into that instruction's expression and its bounds check before
 * it, so a load that traps must still trap before anything after it
 * runs. (a) m[b] = m[a]: a out of bounds traps with m[b] untouched;
 * (b) 1000 / m[a]: the load's trap, not the division's; (c)
 * 1000 / m[m[a]]: the first load, then the second, then the division,
 * each trap in its turn. */
static void test_fold_load_traps(void) {
  static const uint8_t copy_code[] = {0x20, 0x01, 0x20, 0x00, 0x28,
                                      0x02, 0x00, 0x36, 0x02, 0x00,
                                      0x41, 0x07, 0x0b};
  static const uint8_t div_code[] = {0x41, 0xe8, 0x07, 0x20, 0x00,
                                     0x28, 0x02, 0x00, 0x6e, 0x0b};
  static const uint8_t chase_code[] = {0x41, 0xe8, 0x07, 0x20, 0x00,
                                       0x28, 0x02, 0x00, 0x28, 0x02,
                                       0x00, 0x6e, 0x0b};
  spec sp1 = {"ii", "i", copy_code, sizeof copy_code, 0, 1, 1, 0, 0};
  spec sp2 = {"i", "i", div_code, sizeof div_code, 0, 1, 1, 0, 0};
  spec sp3 = {"i", "i", chase_code, sizeof chase_code, 0, 1, 1, 0, 0};
  fixture fx;
  uint64_t a[2], r, size;
  uint8_t *m;
  uint32_t v;

  load(&fx, &sp1, NULL, NULL);
  m = pkw_memory_data(pkw_instance_memory(fx.inst), &size);
  CHECK(size == 65536);
  v = 41;
  memcpy(m + 200, &v, 4);
  v = 0xdeadbeef;
  memcpy(m + 100, &v, 4);
  a[0] = 65534, a[1] = 100, r = 0;   /* the load runs off the end */
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_TRAP_MEMORY_OOB);
  memcpy(&v, m + 100, 4);
  CHECK(v == 0xdeadbeef);
  a[0] = 200, a[1] = 65533;          /* the store does */
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_TRAP_MEMORY_OOB);
  a[0] = 200, a[1] = 100;
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_OK);
  memcpy(&v, m + 100, 4);
  CHECK(r == 7 && v == 41);
  unload(&fx);

  load(&fx, &sp2, NULL, NULL);
  a[0] = 65534;                      /* m[65534..65535] = 0 */
  CHECK_RC(pkw_call(fx.f, a, 1, &r, 1), PKW_TRAP_MEMORY_OOB);
  a[0] = 0;
  CHECK_RC(pkw_call(fx.f, a, 1, &r, 1), PKW_TRAP_DIVIDE_BY_ZERO);
  unload(&fx);

  load(&fx, &sp3, NULL, NULL);
  m = pkw_memory_data(pkw_instance_memory(fx.inst), &size);
  a[0] = 65535;                      /* the first load traps */
  CHECK_RC(pkw_call(fx.f, a, 1, &r, 1), PKW_TRAP_MEMORY_OOB);
  v = 70000;                         /* the second */
  memcpy(m + 16, &v, 4);
  a[0] = 16;
  CHECK_RC(pkw_call(fx.f, a, 1, &r, 1), PKW_TRAP_MEMORY_OOB);
  v = 32;                            /* m[32] = 0: the division */
  memcpy(m + 16, &v, 4);
  CHECK_RC(pkw_call(fx.f, a, 1, &r, 1), PKW_TRAP_DIVIDE_BY_ZERO);
  v = 8;
  memcpy(m + 32, &v, 4);
  r = 0;
  CHECK_RC(pkw_call(fx.f, a, 1, &r, 1), PKW_OK);
  CHECK(r == 125);
  unload(&fx);
}

/* A bounds check proved earlier in straight code may stand for a later
 * access of the same slot within it, not after the slot changed or
 * where a branch joins: (a) m[a + 8] + m[a] + m[a + 100] (a rewritten
 * before the last); (b) b = a, then a changes, then m[b + 4] (b's
 * bound is still a's old one) and m[a]; (c) m[a + 8] skipped by a
 * branch, then m[a]. Each case traps where the interpreter does. */
static void test_bounds_proved(void) {
  static const uint8_t code_a[] = {
      0x20, 0x00, 0x28, 0x02, 0x08, 0x20, 0x00, 0x28, 0x02, 0x00, 0x6a,
      0x20, 0x00, 0x41, 0xe4, 0x00, 0x6a, 0x21, 0x00, 0x20, 0x00, 0x28,
      0x02, 0x00, 0x6a, 0x0b};
  static const uint8_t code_b[] = {
      0x20, 0x00, 0x28, 0x02, 0x08, 0x20, 0x00, 0x21, 0x01, 0x20, 0x00,
      0x41, 0xe4, 0x00, 0x6a, 0x21, 0x00, 0x20, 0x01, 0x28, 0x02, 0x04,
      0x6a, 0x20, 0x00, 0x28, 0x02, 0x00, 0x6a, 0x0b};
  static const uint8_t code_c[] = {
      0x02, 0x40, 0x20, 0x01, 0x0d, 0x00, 0x20, 0x00, 0x28, 0x02,
      0x08, 0x1a, 0x0b, 0x20, 0x00, 0x28, 0x02, 0x00, 0x0b};
  spec sa = {"ii", "i", code_a, sizeof code_a, 0, 1, 1, 0, 0};
  spec sb = {"ii", "i", code_b, sizeof code_b, 0, 1, 1, 0, 0};
  spec sc = {"ii", "i", code_c, sizeof code_c, 0, 1, 1, 0, 0};
  fixture fx;
  uint64_t a[2], r;
  uint8_t *m;
  uint64_t size;
  uint32_t i, v;

  load(&fx, &sa, NULL, NULL);
  m = pkw_memory_data(pkw_instance_memory(fx.inst), &size);
  for (i = 0; i < 128; i += 4) {
    v = i;
    memcpy(m + i, &v, 4);
  }
  a[0] = 0, a[1] = 0, r = 0;
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_OK);
  CHECK(r == 8 + 0 + 100);
  a[0] = 65524;   /* a + 12 = the size; a + 100 + 4 beyond */
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_TRAP_MEMORY_OOB);
  a[0] = 65528;   /* the first access */
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_TRAP_MEMORY_OOB);
  unload(&fx);

  load(&fx, &sb, NULL, NULL);
  m = pkw_memory_data(pkw_instance_memory(fx.inst), &size);
  for (i = 0; i < 128; i += 4) {
    v = i;
    memcpy(m + i, &v, 4);
  }
  a[0] = 0, a[1] = 0, r = 0;
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_OK);
  CHECK(r == 8 + 4 + 100);
  a[0] = 65524;
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_TRAP_MEMORY_OOB);
  unload(&fx);

  load(&fx, &sc, NULL, NULL);
  m = pkw_memory_data(pkw_instance_memory(fx.inst), &size);
  v = 77;
  memcpy(m + 100, &v, 4);
  a[0] = 100, a[1] = 1, r = 0;
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_OK);
  CHECK(r == 77);
  a[0] = 65534, a[1] = 1;   /* the checked access skipped */
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_TRAP_MEMORY_OOB);
  a[1] = 0;
  CHECK_RC(pkw_call(fx.f, a, 2, &r, 1), PKW_TRAP_MEMORY_OOB);
  unload(&fx);
}

/* Values waiting as expressions for their readers (the jit) are
 * written first where they cannot wait: (a) x = m[a]; m[a] = 7;
 * x + m[a] (the store changes what x's load would read); (b) t = a + 1;
 * a = 100; t + a (t's slot read is overwritten); (c) a block whose
 * br_if carries m[a] out when m[a] != 0 (the branch's condition takes
 * its value in, the carried one must be written before it). */
static void test_fold_wait(void) {
  static const uint8_t code_a[] = {0x20, 0x00, 0x28, 0x02, 0x00, 0x20,
                                   0x00, 0x41, 0x07, 0x36, 0x02, 0x00,
                                   0x20, 0x00, 0x28, 0x02, 0x00, 0x6a,
                                   0x0b};
  static const uint8_t code_b[] = {0x20, 0x00, 0x41, 0x01, 0x6a, 0x41,
                                   0xe4, 0x00, 0x21, 0x00, 0x20, 0x00,
                                   0x6a, 0x0b};
  spec sa = {"i", "i", code_a, sizeof code_a, 0, 1, 1, 0, 0};
  static const uint8_t code_c[] = {0x02, 0x7f, 0x20, 0x00, 0x28, 0x02,
                                   0x00, 0x20, 0x00, 0x28, 0x02, 0x00,
                                   0x0d, 0x00, 0x1a, 0x41, 0xe3, 0x00,
                                   0x0b, 0x0b};
  spec sb = {"i", "i", code_b, sizeof code_b, 0, -1, -1, 0, 0};
  spec sc = {"i", "i", code_c, sizeof code_c, 0, 1, 1, 0, 0};
  fixture fx;
  uint64_t a, r, size;
  uint8_t *m;
  uint32_t v = 5;

  load(&fx, &sa, NULL, NULL);
  m = pkw_memory_data(pkw_instance_memory(fx.inst), &size);
  memcpy(m + 40, &v, 4);
  a = 40, r = 0;
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_OK);
  CHECK(r == 5 + 7);
  unload(&fx);

  load(&fx, &sb, NULL, NULL);
  a = 5, r = 0;
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_OK);
  CHECK(r == 6 + 100);
  unload(&fx);

  load(&fx, &sc, NULL, NULL);
  m = pkw_memory_data(pkw_instance_memory(fx.inst), &size);
  memcpy(m + 40, &v, 4);
  a = 40, r = 0;
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_OK);
  CHECK(r == 5);
  a = 44;
  CHECK_RC(pkw_call(fx.f, &a, 1, &r, 1), PKW_OK);
  CHECK(r == 99);
  unload(&fx);
}

/* Locals start at zero where a path reads them before writing them;
 * the jit leaves out the zeroing of the others. After "dirty" (40
 * locals set to 77, which may leave its C frame's slots behind), f(a)
 * = (a ? 5 : l1) + id(l2) with l1 and l2 never written on the a == 0
 * path, and l3 written by the call before it is read. */
static void test_locals_zeroed(void) {
  static const uint8_t mod[] = {
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x02,
      0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x00, 0x01, 0x7f, 0x03, 0x04,
      0x03, 0x00, 0x01, 0x00, 0x07, 0x0d, 0x02, 0x05, 0x64, 0x69, 0x72,
      0x74, 0x79, 0x00, 0x01, 0x01, 0x66, 0x00, 0x02, 0x0a, 0xe4, 0x02,
      0x03, 0x04, 0x00, 0x20, 0x00, 0x0b, 0xc3, 0x02, 0x01, 0x28, 0x7f,
      0x41, 0xcd, 0x00, 0x21, 0x00, 0x41, 0xcd, 0x00, 0x21, 0x01, 0x41,
      0xcd, 0x00, 0x21, 0x02, 0x41, 0xcd, 0x00, 0x21, 0x03, 0x41, 0xcd,
      0x00, 0x21, 0x04, 0x41, 0xcd, 0x00, 0x21, 0x05, 0x41, 0xcd, 0x00,
      0x21, 0x06, 0x41, 0xcd, 0x00, 0x21, 0x07, 0x41, 0xcd, 0x00, 0x21,
      0x08, 0x41, 0xcd, 0x00, 0x21, 0x09, 0x41, 0xcd, 0x00, 0x21, 0x0a,
      0x41, 0xcd, 0x00, 0x21, 0x0b, 0x41, 0xcd, 0x00, 0x21, 0x0c, 0x41,
      0xcd, 0x00, 0x21, 0x0d, 0x41, 0xcd, 0x00, 0x21, 0x0e, 0x41, 0xcd,
      0x00, 0x21, 0x0f, 0x41, 0xcd, 0x00, 0x21, 0x10, 0x41, 0xcd, 0x00,
      0x21, 0x11, 0x41, 0xcd, 0x00, 0x21, 0x12, 0x41, 0xcd, 0x00, 0x21,
      0x13, 0x41, 0xcd, 0x00, 0x21, 0x14, 0x41, 0xcd, 0x00, 0x21, 0x15,
      0x41, 0xcd, 0x00, 0x21, 0x16, 0x41, 0xcd, 0x00, 0x21, 0x17, 0x41,
      0xcd, 0x00, 0x21, 0x18, 0x41, 0xcd, 0x00, 0x21, 0x19, 0x41, 0xcd,
      0x00, 0x21, 0x1a, 0x41, 0xcd, 0x00, 0x21, 0x1b, 0x41, 0xcd, 0x00,
      0x21, 0x1c, 0x41, 0xcd, 0x00, 0x21, 0x1d, 0x41, 0xcd, 0x00, 0x21,
      0x1e, 0x41, 0xcd, 0x00, 0x21, 0x1f, 0x41, 0xcd, 0x00, 0x21, 0x20,
      0x41, 0xcd, 0x00, 0x21, 0x21, 0x41, 0xcd, 0x00, 0x21, 0x22, 0x41,
      0xcd, 0x00, 0x21, 0x23, 0x41, 0xcd, 0x00, 0x21, 0x24, 0x41, 0xcd,
      0x00, 0x21, 0x25, 0x41, 0xcd, 0x00, 0x21, 0x26, 0x41, 0xcd, 0x00,
      0x21, 0x27, 0x20, 0x00, 0x20, 0x01, 0x6a, 0x20, 0x02, 0x6a, 0x20,
      0x03, 0x6a, 0x20, 0x04, 0x6a, 0x20, 0x05, 0x6a, 0x20, 0x06, 0x6a,
      0x20, 0x07, 0x6a, 0x20, 0x08, 0x6a, 0x20, 0x09, 0x6a, 0x20, 0x0a,
      0x6a, 0x20, 0x0b, 0x6a, 0x20, 0x0c, 0x6a, 0x20, 0x0d, 0x6a, 0x20,
      0x0e, 0x6a, 0x20, 0x0f, 0x6a, 0x20, 0x10, 0x6a, 0x20, 0x11, 0x6a,
      0x20, 0x12, 0x6a, 0x20, 0x13, 0x6a, 0x20, 0x14, 0x6a, 0x20, 0x15,
      0x6a, 0x20, 0x16, 0x6a, 0x20, 0x17, 0x6a, 0x20, 0x18, 0x6a, 0x20,
      0x19, 0x6a, 0x20, 0x1a, 0x6a, 0x20, 0x1b, 0x6a, 0x20, 0x1c, 0x6a,
      0x20, 0x1d, 0x6a, 0x20, 0x1e, 0x6a, 0x20, 0x1f, 0x6a, 0x20, 0x20,
      0x6a, 0x20, 0x21, 0x6a, 0x20, 0x22, 0x6a, 0x20, 0x23, 0x6a, 0x20,
      0x24, 0x6a, 0x20, 0x25, 0x6a, 0x20, 0x26, 0x6a, 0x20, 0x27, 0x6a,
      0x0b, 0x18, 0x01, 0x03, 0x7f, 0x20, 0x00, 0x04, 0x40, 0x41, 0x05,
      0x21, 0x01, 0x0b, 0x20, 0x02, 0x10, 0x00, 0x21, 0x03, 0x20, 0x01,
      0x20, 0x03, 0x6a, 0x0b,
  };
  fixture fx;
  pkw_func *dirty, *f;
  uint64_t a, r;
  int i;
  load_bytes(&fx, mod, sizeof mod, "f");
  f = fx.f;
  CHECK_RC(pkw_instance_func(fx.inst, "dirty", &dirty), PKW_OK);
  for (i = 0; i < 3; i++) {
    r = 0;
    CHECK_RC(pkw_call(dirty, NULL, 0, &r, 1), PKW_OK);
    CHECK(r == 40 * 77);
    a = 0, r = 1;
    CHECK_RC(pkw_call(f, &a, 1, &r, 1), PKW_OK);
    CHECK(r == 0);
    a = 1, r = 0;
    CHECK_RC(pkw_call(f, &a, 1, &r, 1), PKW_OK);
    CHECK(r == 5);
  }
  unload(&fx);
}

/* Waiting values and calls (the jit): an argument read from memory is
 * read before the callee runs; a value read from memory that waits is
 * written before a call, which may store there.
 * f(a) = m[a] + g(a) + m[a], g storing 9 at a and returning 1;
 * k(a) = h(m[a]), h storing 9 at 40 and returning its argument. */
static void test_fold_call(void) {
  static const uint8_t mod[] = {
      0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x06, 0x01,
      0x60, 0x01, 0x7f, 0x01, 0x7f, 0x03, 0x05, 0x04, 0x00, 0x00, 0x00,
      0x00, 0x05, 0x04, 0x01, 0x01, 0x01, 0x01, 0x07, 0x09, 0x02, 0x01,
      0x66, 0x00, 0x02, 0x01, 0x6b, 0x00, 0x03, 0x0a, 0x36, 0x04, 0x0b,
      0x00, 0x20, 0x00, 0x41, 0x09, 0x36, 0x02, 0x00, 0x41, 0x01, 0x0b,
      0x0b, 0x00, 0x41, 0x28, 0x41, 0x09, 0x36, 0x02, 0x00, 0x20, 0x00,
      0x0b, 0x12, 0x00, 0x20, 0x00, 0x28, 0x02, 0x00, 0x20, 0x00, 0x10,
      0x00, 0x6a, 0x20, 0x00, 0x28, 0x02, 0x00, 0x6a, 0x0b, 0x09, 0x00,
      0x20, 0x00, 0x28, 0x02, 0x00, 0x10, 0x01, 0x0b,
  };
  fixture fx;
  pkw_func *f, *k;
  uint64_t a, r, size;
  uint8_t *mem;
  uint32_t v = 5;
  load_bytes(&fx, mod, sizeof mod, "f");
  f = fx.f;
  CHECK_RC(pkw_instance_func(fx.inst, "k", &k), PKW_OK);
  mem = pkw_memory_data(pkw_instance_memory(fx.inst), &size);
  memcpy(mem + 40, &v, 4);
  a = 40, r = 0;
  CHECK_RC(pkw_call(f, &a, 1, &r, 1), PKW_OK);
  CHECK(r == 5 + 1 + 9);
  memcpy(mem + 40, &v, 4);
  r = 0;
  CHECK_RC(pkw_call(k, &a, 1, &r, 1), PKW_OK);
  CHECK(r == 5);
  unload(&fx);
}

static const struct {
  const char *name;
  void (*fn)(void);
} tests[] = {
    {"wasm_aot_marks_checked", test_aot_marks_checked},
    {"wasm_dirty_stores", test_dirty_stores},
    {"wasm_dirty_fill", test_dirty_fill},
    {"wasm_dirty_copy", test_dirty_copy},
    {"wasm_dirty_init", test_dirty_init},
    {"wasm_dirty_after_grow", test_dirty_after_grow},
    {"wasm_dirty_after_call", test_dirty_after_call},
    {"wasm_cow_no_leak", test_cow_no_leak},
    {"wasm_cow_no_leak_copy", test_cow_no_leak_copy},
    {"wasm_cow_many_pages", test_cow_many_pages},
    {"wasm_cow_grown", test_cow_grown},
    {"wasm_cow_grown_copy", test_cow_grown_copy},
    {"wasm_cow_bulk_fill", test_cow_bulk_fill},
    {"wasm_cow_reset", test_cow_reset},
    {"wasm_cow_reset_copy", test_cow_reset_copy},
    {"wasm_cow_shapes", test_cow_shapes},
    {"wasm_fuel_traps", test_fuel},
    {"wasm_fuel_bounds_start", test_fuel_start},
    {"wasm_interrupt_from_thread", test_interrupt},
    {"wasm_jit_code_sealed", test_jit_code_sealed},
    {"wasm_call_depth_traps", test_call_depth},
    {"wasm_call_depth_bounded", test_call_depth_bounded},
    {"wasm_memory_limit", test_memory_limit},
    {"wasm_memory_oob_traps", test_memory_oob},
    {"wasm_trap_kinds", test_trap_kinds},
    {"wasm_host_import", test_host_import},
    {"wasm_host_reentry", test_host_reentry},
    {"wasm_reentry_limits", test_reentry_limits},
    {"wasm_reentry_fuel_kinds", test_reentry_fuel_kinds},
    {"wasm_host_calls_counted", test_host_calls_counted},
    {"wasm_alloc_hook_and_failures", test_alloc_hook},
    {"wasm_malformed_rejected", test_malformed},
    {"wasm_regress_br_table_back_edge", test_regress_br_table_back_edge},
    {"wasm_lazy_translation", test_lazy},
    {"wasm_lazy_stack_checked", test_lazy_stack},
    {"wasm_br_table_code_linear", test_br_table_linear},
    {"wasm_code_limit_elimit", test_code_limit},
    {"wasm_lazy_failure_kept", test_lazy_failure_kept},
    {"wasm_many_exports", test_many_exports},
    {"wasm_table_limit", test_table_limit},
    {"wasm_translation_work_limit", test_work_limit},
    {"wasm_deep_stack_translation_linear", test_deep_stack_linear},
    {"wasm_spare_instance_reused", test_spare_reused},
    {"wasm_spare_dirty_chunks_only", test_spare_dirty_only},
    {"wasm_spare_threads", test_spare_threads},
    {"wasm_jit_instances_share_code", test_jit_instances_share_code},
    {"wasm_jit_fuel_count", test_jit_fuel_count},
    {"wasm_fuel_count_calls", test_fuel_count_calls},
    {"wasm_call_limits_exact", test_call_limits_exact},
    {"wasm_call_limits_both", test_call_limits_both},
    {"wasm_fuel_loop_calls", test_fuel_loop_calls},
    {"wasm_loop_results", test_loop_results},
    {"wasm_loop_bounds", test_loop_bounds},
    {"wasm_loop_fuel", test_loop_fuel},
    {"wasm_loop_interrupt", test_loop_interrupt},
    {"wasm_loop_versioned", test_loop_versioned},
    {"wasm_loop_dirty", test_loop_dirty},
    {"wasm_loop_copy_i64", test_loop_copy_i64},
    {"wasm_fold_load_traps", test_fold_load_traps},
    {"wasm_bounds_proved", test_bounds_proved},
    {"wasm_fold_wait", test_fold_wait},
    {"wasm_locals_zeroed", test_locals_zeroed},
    {"wasm_fold_call", test_fold_call},
};

int main(int argc, char **argv) {
  size_t i;
  if (argc < 2) {
    for (i = 0; i < sizeof tests / sizeof tests[0]; i++)
      printf("%s\n", tests[i].name);
    return 0;
  }
  tier_jit = argc > 2 && strcmp(argv[2], "jit") == 0;
  if (argc > 3 && strcmp(argv[2], "aot") == 0)
    tier_aot = argv[3];
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
