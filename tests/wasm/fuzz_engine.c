/* libFuzzer target: decode + validate + instantiate (imports satisfied by
 * stub objects) + call every exported function with zero arguments under
 * small fuel and small limits. Build: clang -fsanitize=fuzzer,address.
 *
 * It also checks that translation stays linear in the input: the code
 * of the functions translated (eagerly, or by the calls) never exceeds
 * PKW_CODE_WORDS_PER_BYTE words per input byte (each body is bounded by
 * that per byte of its own, size prefix included), and run_fuzz.sh
 * limits single allocations (-malloc_limit_mb) to catch other
 * amplifications. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "wasm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int stub(void *ud, pkw_instance *inst, const uint64_t *args,
                uint64_t *results) {
  uint32_t n = (uint32_t)(uintptr_t)ud, i;
  (void)inst;
  (void)args;
  for (i = 0; i < n; i++)
    results[i] = 0;
  return 0;
}

typedef struct held {
  pkw_func *funcs[64];
  pkw_table *tables[64];
  pkw_memory *mems[64];
  pkw_global *globals[64];
  int nf, nt, nm, ng;
} held;

static void release(held *h) {
  int i;
  for (i = 0; i < h->nf; i++)
    pkw_func_destroy_host(h->funcs[i]);
  for (i = 0; i < h->nt; i++)
    pkw_table_destroy(h->tables[i]);
  for (i = 0; i < h->nm; i++)
    pkw_memory_destroy(h->mems[i]);
  for (i = 0; i < h->ng; i++)
    pkw_global_destroy(h->globals[i]);
}

/* Builds an object matching import i; 0 on success. */
static int stub_import(pkw_module *m, uint32_t i, pkw_extern *ex, held *h) {
  pkw_import_desc d;
  if (pkw_module_import(m, i, &d) < 0)
    return -1;
  ex->kind = d.kind;
  switch (d.kind) {
  case PKW_EXTERN_FUNC:
    if (h->nf == 64 ||
        pkw_func_create_host(NULL, &d.type, stub,
                             (void *)(uintptr_t)d.type.nresults,
                             &h->funcs[h->nf]) < 0)
      return -1;
    ex->u.func = h->funcs[h->nf++];
    return 0;
  case PKW_EXTERN_TABLE:
    if (h->nt == 64 || d.min > 1000 ||
        pkw_table_create(NULL, d.elem_type, d.min, d.max, d.has_max,
                         &h->tables[h->nt]) < 0)
      return -1;
    ex->u.table = h->tables[h->nt++];
    return 0;
  case PKW_EXTERN_MEMORY:
    if (h->nm == 64 || d.min > 4 ||
        pkw_memory_create(NULL, d.min, d.has_max && d.max < 4 ? d.max : 4,
                          1, &h->mems[h->nm]) < 0)
      return -1;
    ex->u.memory = h->mems[h->nm++];
    return 0;
  default:
    if (h->ng == 64 || pkw_global_create(NULL, d.global_type, d.global_mut,
                                         0, &h->globals[h->ng]) < 0)
      return -1;
    ex->u.global = h->globals[h->ng++];
    return 0;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  pkw_module *m = NULL;
  pkw_instance *inst = NULL;
  pkw_extern ims[64];
  pkw_limits lim;
  held h;
  uint32_t n, i;
  char err[256];
  memset(&h, 0, sizeof h);
  /* Inputs of odd length decode lazily: their bodies are validated and
     translated when first called, invalid ones in the middle of a run. */
  if (pkw_module_decode_ex(NULL, data, size, size & 1 ? PKW_DECODE_LAZY : 0,
                           &m, err, sizeof err) != PKW_OK)
    return 0;
  n = pkw_module_num_imports(m);
  if (n > 64)
    goto out;
  for (i = 0; i < n; i++)
    if (stub_import(m, i, &ims[i], &h) != 0)
      goto out;
  memset(&lim, 0, sizeof lim);
  lim.max_memory_pages = 4;
  lim.max_call_depth = 500;
  lim.stack_slots = 1u << 15;
  lim.max_table_elems = 10000;
  lim.fuel = 2000;   /* bounds the start function too */
  (void)pkw_instance_create(m, ims, n, &lim, &inst, err, sizeof err);
  if (inst == NULL)
    goto out;
  {
    /* Call every export that is a function, arguments all zero. */
    uint32_t k;
    for (k = 0;; k++) {
      pkw_extern ex;
      uint64_t args[32], res[32];
      pkw_functype ft;
      if (pkw_instance_export(inst, k, NULL, NULL, &ex) != 0)
        break;
      if (ex.kind != PKW_EXTERN_FUNC)
        continue;
      pkw_func_type(ex.u.func, &ft);
      if (ft.nparams > 32 || ft.nresults > 32)
        continue;
      memset(args, 0, sizeof args);
      pkw_instance_set_fuel(inst, 2000);
      (void)pkw_call(ex.u.func, args, ft.nparams, res, ft.nresults);
    }
  }
out:
  if (pkw_module_code_words(m) > (size_t)PKW_CODE_WORDS_PER_BYTE * size) {
    fprintf(stderr, "translation amplified: %zu code words from %zu bytes\n",
            pkw_module_code_words(m), size);
    abort();
  }
  pkw_instance_destroy(inst);
  pkw_module_destroy(m);
  release(&h);
  return 0;
}
