/* White-box tests of the translator's scratch buffers and code limits
 * (compile.c is included, so its static functions are reachable). Built
 * with small code limits (tests/wasm/CMakeLists.txt: PKW_MAX_FUNC_CODE_WORDS
 * 1024, PKW_MAX_MODULE_CODE_WORDS 4096) so that they can be reached.
 * usage: test_translate_buffers <name> */
#include "compile.c"

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                        \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__,     \
              #cond);                                                      \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

/* An allocator that records what it is asked and never gives memory (the
 * sizes asked for here are many GiB), or frees: a request of size 0
 * would free the caller's buffer. */
static int calls, frees;
static size_t last_size;
static void *refusing_realloc(void *ud, void *p, size_t n) {
  (void)ud;
  (void)p;
  calls++;
  last_size = n;
  if (n == 0)
    frees++;
  return NULL;
}

static void setup(pkw_module *m, cc *c) {
  memset(m, 0, sizeof *m);
  memset(c, 0, sizeof *c);
  m->alloc.realloc_fn = refusing_realloc;
  c->m = m;
  calls = frees = 0;
  last_size = 0;
}

/* BUG 9 (hostile-plugins.md, hostile-cases/grow_overflow.c): grow()
 * doubled capacities in uint32_t, so at 2^31 code words (8 GiB, from a
 * ~100 KB module) the new capacity was 0: it asked the allocator for 0
 * bytes, which freed the buffer, and left c->code pointing at it for
 * the translator to write and free again. Now the capacity is computed
 * in size_t and kept below 2^32: the request is for (2^32 - 1) words,
 * and when it fails the old buffer stays, untouched. */
static void test_grow_code_2g(void) {
  pkw_module m;
  cc c;
  uint32_t fake[4];
  setup(&m, &c);
  c.code = fake;                 /* stands for the 8 GiB block */
  c.codecap = 0x80000000u;
  c.nc = c.codecap;
  CHECK(grow(&c, (void **)&c.code, &c.codecap, 4, c.code0) == -1);
  CHECK(frees == 0);
  CHECK(calls == 1);
  CHECK(last_size == (size_t)0xffffffffu * 4 || sizeof(size_t) < 8);
  CHECK(c.code == fake);
  CHECK(c.codecap == 0x80000000u);
  CHECK(c.r.bad == PKW_ENOMEM);
}

/* The value and control stacks use the same grow(): at 2^31 entries of
 * 8 bytes (and of a ctl), the same. At the largest capacity, no request
 * at all. */
static void test_grow_stacks(void) {
  pkw_module m;
  cc c;
  vent fake_v[2];
  ctl fake_c[2];
  setup(&m, &c);
  c.vs = fake_v;
  c.vcap = 0x80000000u;
  CHECK(grow(&c, (void **)&c.vs, &c.vcap, sizeof(vent), c.vs0) == -1);
  CHECK(frees == 0 && c.vs == fake_v && c.vcap == 0x80000000u);
  setup(&m, &c);
  c.cs = fake_c;
  c.ccap = 0x80000000u;
  CHECK(grow(&c, (void **)&c.cs, &c.ccap, sizeof(ctl), c.cs0) == -1);
  CHECK(frees == 0 && c.cs == fake_c && c.ccap == 0x80000000u);
  setup(&m, &c);
  c.vs = fake_v;
  c.vcap = 0xffffffffu;
  CHECK(grow(&c, (void **)&c.vs, &c.vcap, sizeof(vent), c.vs0) == -1);
  CHECK(calls == 0 && c.vs == fake_v && c.vcap == 0xffffffffu);
}

/* The code buffer stops growing at the function's code limit: the
 * translation fails with PKW_ELIMIT and a message, without asking the
 * allocator, and later words still land inside the buffer. */
static void test_grow_code_limit(void) {
  pkw_module m;
  cc c;
  setup(&m, &c);
  c.code = c.code0;
  c.codecap = 512;
  c.nc = 512;
  c.code_limit = 512;
  emit_word(&c, 1);
  CHECK(calls == 0);
  CHECK(c.r.bad == PKW_ELIMIT);
  CHECK(strstr(c.r.msg, "translated code exceeds 512 words") != NULL);
  CHECK(c.code == c.code0 && c.nc == 1);
}

/* A module of nf () -> () functions "f0".., each body n times
 * (i32.const 1, drop): 3 code words for 3 bytes, well within the limit
 * per byte. */
static uint8_t modbuf[1 << 16];
static size_t modlen;
static void mput(uint8_t v) {
  CHECK(modlen < sizeof modbuf);
  modbuf[modlen++] = v;
}
static void muleb(uint32_t v) {
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    mput((uint8_t)(c | (v ? 0x80 : 0)));
  } while (v);
}
static void const_drop_module(uint32_t nf, uint32_t n) {
  static const uint8_t hdr[8] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  uint32_t i, k, blen = 3 * n + 2, exp_len = 1, code_len = 1;
  modlen = 0;
  for (i = 0; i < 8; i++)
    mput(hdr[i]);
  mput(1);  mput(4);  mput(1);  mput(0x60);  mput(0);  mput(0);
  mput(3);  muleb(1 + nf);  muleb(nf);
  for (i = 0; i < nf; i++)
    mput(0);
  for (i = 0; i < nf; i++)
    exp_len += 5;           /* nf < 10: "f0".."f9", kind, index */
  mput(7);  muleb(exp_len);  muleb(nf);
  for (i = 0; i < nf; i++) {
    mput(2);  mput('f');  mput((uint8_t)('0' + i));  mput(0);  mput((uint8_t)i);
  }
  for (i = 0; i < nf; i++)
    code_len += 2 + blen;   /* blen < 16384: two-byte size */
  mput(10);  muleb(code_len);  muleb(nf);
  for (i = 0; i < nf; i++) {
    mput((uint8_t)(0x80 | (blen & 0x7f)));
    mput((uint8_t)(blen >> 7));
    mput(0);
    for (k = 0; k < n; k++) {
      mput(0x41);  mput(1);  mput(0x1a);
    }
    mput(0x0b);
  }
}

/* The limit per function: a body within the limit per byte, but whose
 * code passes PKW_MAX_FUNC_CODE_WORDS, fails with PKW_ELIMIT naming it. */
static void test_code_limit_function(void) {
  pkw_module *m = NULL;
  char err[256] = "";
  const_drop_module(1, 300);          /* 900 words */
  CHECK(pkw_module_decode(NULL, modbuf, modlen, &m, err, sizeof err) ==
        PKW_OK);
  pkw_module_destroy(m);
  const_drop_module(1, 400);          /* 1200 words */
  CHECK(pkw_module_decode(NULL, modbuf, modlen, &m, err, sizeof err) ==
        PKW_ELIMIT);
  CHECK(strstr(err, "function 0: translated code exceeds 1024 words (the "
                    "limit per function)") != NULL);
}

/* The limit per module: four functions of 901 words fit in 4096, a fifth
 * does not: eagerly the module is refused, lazily that function's calls
 * fail (and keep failing) while the others run. */
static void test_code_limit_module(void) {
  pkw_module *m = NULL;
  pkw_instance *inst = NULL;
  pkw_func *f;
  char err[256] = "", name[3] = "f0";
  int i;
  const_drop_module(5, 300);
  CHECK(pkw_module_decode(NULL, modbuf, modlen, &m, err, sizeof err) ==
        PKW_ELIMIT);
  CHECK(strstr(err, "function 4: translated code exceeds the 492 words "
                    "left of the module's limit (4096 words)") != NULL);
  CHECK(pkw_module_decode_ex(NULL, modbuf, modlen, PKW_DECODE_LAZY, &m, err,
                             sizeof err) == PKW_OK);
  CHECK(pkw_instance_create(m, NULL, 0, NULL, &inst, err, sizeof err) ==
        PKW_OK);
  for (i = 0; i < 5; i++) {
    name[1] = (char)('0' + i);
    CHECK(pkw_instance_func(inst, name, &f) == PKW_OK);
    CHECK(pkw_call(f, NULL, 0, NULL, 0) == (i < 4 ? PKW_OK : PKW_ELIMIT));
  }
  CHECK(strstr(pkw_module_error(m), "function 4: translated code exceeds") !=
        NULL);
  CHECK(pkw_call(f, NULL, 0, NULL, 0) == PKW_ELIMIT);
  CHECK(pkw_module_code_words(m) == 4 * 901);   /* + RETURN each */
  pkw_instance_destroy(inst);
  pkw_module_destroy(m);
}

static const struct {
  const char *name;
  void (*fn)(void);
} tests[] = {
    {"wasm_grow_code_2g_no_free", test_grow_code_2g},
    {"wasm_grow_stacks_no_free", test_grow_stacks},
    {"wasm_grow_code_limit", test_grow_code_limit},
    {"wasm_code_limit_function", test_code_limit_function},
    {"wasm_code_limit_module", test_code_limit_module},
};

int main(int argc, char **argv) {
  size_t i;
  for (i = 0; argc == 2 && i < sizeof tests / sizeof tests[0]; i++) {
    if (strcmp(argv[1], tests[i].name) == 0) {
      tests[i].fn();
      printf("ok %s\n", tests[i].name);
      return 0;
    }
  }
  fprintf(stderr, "usage: test_translate_buffers <test name>\n");
  return 2;
}
