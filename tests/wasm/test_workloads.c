/* End-to-end check on real compiler output: the bench workloads (the .c
 * files in bench/workloads), compiled to wasm by clang -O2, must compute
 * what the same sources compute natively. Exercises the translator's fusions
 * (constant operands, compare-and-branch, folded address arithmetic)
 * on code no hand-written test would contain.
 * usage: test_workloads DIR_WITH_WASM_FILES   (exit 77: files missing) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm.h"
#include "workloads.h"

static pkw_module *mods[3];
static pkw_instance *insts[3];
static int nloaded;

static pkw_func *load(const char *dir, const char *file, const char *fn) {
  char path[1024], err[256];
  FILE *f;
  uint8_t *buf;
  long n;
  pkw_func *out = NULL;
  snprintf(path, sizeof path, "%s/%s", dir, file);
  f = fopen(path, "rb");
  if (f == NULL) {
    printf("skipped: %s missing (clang with wasm32-wasi needed)\n", path);
    exit(77);
  }
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc((size_t)n);
  if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fprintf(stderr, "cannot read %s\n", path);
    exit(1);
  }
  fclose(f);
  if (pkw_module_decode(NULL, buf, (size_t)n, &mods[nloaded], err,
                        sizeof err) != 0 ||
      pkw_instance_create(mods[nloaded], NULL, 0, NULL, &insts[nloaded],
                          err, sizeof err) != 0 ||
      pkw_instance_func(insts[nloaded], fn, &out) != 0) {
    fprintf(stderr, "%s: %s\n", file, err);
    exit(1);
  }
  free(buf);
  nloaded++;
  return out;
}

static uint64_t call(pkw_func *f, uint64_t a, uint64_t b, uint32_t nargs) {
  uint64_t args[2] = {a, b}, r = 0;
  int rc = pkw_call(f, args, nargs, &r, 1);
  if (rc != 0) {
    fprintf(stderr, "trap: %s\n", pkw_strerror(rc));
    exit(1);
  }
  return r;
}

int main(int argc, char **argv) {
  pkw_func *fib, *mix, *sort;
  int32_t i;
  int bad = 0, k;
  if (argc < 2)
    return 2;
  fib = load(argv[1], "fib.wasm", "pkwl_fib");
  mix = load(argv[1], "mix.wasm", "pkwl_mix");
  sort = load(argv[1], "sort.wasm", "pkwl_sort");
  for (i = 0; i < 22; i++)
    if ((int32_t)call(fib, (uint32_t)i, 0, 1) != pkwl_fib(i)) {
      fprintf(stderr, "fib(%d) differs\n", i);
      bad = 1;
    }
  for (i = 1; i < 40; i += 7)
    if ((uint32_t)call(mix, (uint32_t)i, 0, 1) != pkwl_mix(i)) {
      fprintf(stderr, "mix(%d) differs\n", i);
      bad = 1;
    }
  for (i = 1; i < 100000; i = i * 3 + 1)
    if ((uint32_t)call(sort, (uint32_t)i, (uint32_t)i * 7u, 2) !=
        pkwl_sort(i, (uint32_t)i * 7u)) {
      fprintf(stderr, "sort(%d) differs\n", i);
      bad = 1;
    }
  for (k = 0; k < nloaded; k++) {
    pkw_instance_destroy(insts[k]);
    pkw_module_destroy(mods[k]);
  }
  if (!bad)
    printf("ok: fib, mix and sort agree with native\n");
  return bad;
}
