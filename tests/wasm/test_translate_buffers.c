/* White-box tests of the translator's scratch buffers (compile.c is
 * included, so its static functions are reachable).
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

static const struct {
  const char *name;
  void (*fn)(void);
} tests[] = {
    {"wasm_grow_code_2g_no_free", test_grow_code_2g},
    {"wasm_grow_stacks_no_free", test_grow_stacks},
    {"wasm_grow_code_limit", test_grow_code_limit},
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
