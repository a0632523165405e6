/*
 * bench_parallel_wasm.c: the wasm instance pool (issue 13).
 *
 * ParallelWasm: `sum` of the conformance module from 1 and 2 threads
 * (PKB_PAR_ROW: ns per call on one thread, and the calls per second of 2
 * threads over those of 1).
 * WasmInstanceFromPool: what the backend does when the pool needs a new
 * instance and a freed one left its blocks (pkw_module_set_spares, as
 * src/wasm/wasm.c sets them) and the module's init called no host
 * function: pkw_instance_create with limits.image (the backend's limits),
 * which brings the spare's memory back to the image (a copy-on-write
 * mapping: the pages its last user wrote, found in the page tables, are
 * copied back), its exports looked up, and the first call of sum: the
 * check-out and first call the issue names. The return that follows
 * (plugkit_fini, pkw_instance_destroy, which makes it the next one's
 * spare) is left out of that row (pkb_untimed_begin); the
 * WasmInstanceFromPoolCycle row times the whole cycle, return included.
 * WasmInstanceFromPoolTracked: the cycle for a reset_after_call plugin
 * (decoded PKW_DECODE_DIRTY, its instances track their pages): the
 * spare's memory is brought back by the chunks the last user wrote.
 * Through the engine API: the backend's code is not exported, and the
 * public API makes a new pool instance only for a new thread, whose
 * creation would be most of the time measured.
 * WasmResetAfterCall: bump (which writes a counter in linear memory: one
 * dirty page) with reset_after_call, the reset included; compare with
 * WasmCSum, a plain call. WasmResetAfterCallJit and WasmResetAfterCallAot:
 * the same on the compiled tiers (their code marks the page), to compare
 * with WasmCSumJit and WasmCSumAot (the aot artifact from the cache the
 * build filled, as those rows).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wasm.h"


/* ---- ParallelWasm -------------------------------------------------------- */

static pkb_plugin pw;

static int setup_parallel(void **out) {
  *out = &pw;
  return pkb_open(&pw, "conformance.wasm", "sum", "(i32,i32)->i32", 0);
}

PKB_PAR_ROW(ParallelWasm, setup_parallel, pkb_par_sum, pkb_close)

/* ---- WasmInstanceFromPool ------------------------------------------------- */

typedef struct from_pool {
  pkw_module *m;
  pkw_func **hostfns;
  pkw_extern *ext;
  uint32_t nimp;
  pkw_instance *inst0;
  pkw_image *img;
  uint32_t x_sum, x_fini;
  int tracked;
  int cycle; /* also time the return: plugkit_fini and the destroy */
} from_pool;

static from_pool fp;
static const pkw_alloc counting = {pkb_realloc, NULL};

/* The imports: sum calls none; fini logs (a host call that does
   nothing here). */
static int no_import(void *ud, pkw_instance *inst, const uint64_t *args,
                     uint64_t *results) {
  (void)ud;
  (void)inst;
  (void)args;
  (void)results;
  return 0;
}

/* The backend's limits (src/wasm/wasm.c). */
static void pool_limits(pkw_limits *lim) {
  memset(lim, 0, sizeof *lim);
  lim->stack_slots = 64u * 1024u;
  lim->max_memory_pages = 65536u;
  lim->defer_start = 1;
}

static void teardown_from_pool(void *st) {
  from_pool *f = st;
  uint32_t i;
  pkw_image_destroy(f->img);
  pkw_instance_destroy(f->inst0);
  for (i = 0; i < f->nimp; i++)
    pkw_func_destroy_host(f->hostfns[i]);
  free(f->hostfns);
  free(f->ext);
  pkw_module_destroy(f->m);
  memset(f, 0, sizeof *f);
}

static int setup_pool(void **out, int tracked) {
  char path[1024];
  FILE *fl;
  uint8_t *bytes;
  long len;
  pkw_limits lim;
  pkw_func *fn;
  uint32_t i;
  int rc;
  *out = &fp;
  memset(&fp, 0, sizeof fp);
  snprintf(path, sizeof path, "%s/conformance.wasm", pkb_dir());
  if ((fl = fopen(path, "rb")) == NULL)
    return pkb_skip("no %s", path);
  fseek(fl, 0, SEEK_END);
  len = ftell(fl);
  fseek(fl, 0, SEEK_SET);
  bytes = malloc(len > 0 ? (size_t)len : 1);
  if (bytes == NULL || fread(bytes, 1, (size_t)len, fl) != (size_t)len) {
    fclose(fl);
    free(bytes);
    return pkb_skip("cannot read %s", path);
  }
  fclose(fl);
  rc = pkw_module_decode_ex(&counting, bytes, (size_t)len,
                            PKW_DECODE_LAZY | (tracked ? PKW_DECODE_DIRTY : 0),
                            &fp.m, NULL, 0);
  free(bytes);
  if (rc != PKW_OK)
    return pkb_skip("cannot decode %s", path);
  fp.tracked = tracked;
  pkw_module_set_spares(fp.m, 2); /* PK__WSPARES */
  fp.nimp = pkw_module_num_imports(fp.m);
  fp.hostfns = calloc(fp.nimp + 1, sizeof *fp.hostfns);
  fp.ext = calloc(fp.nimp + 1, sizeof *fp.ext);
  for (i = 0; i < fp.nimp; i++) {
    pkw_import_desc d;
    pkw_module_import(fp.m, i, &d);
    if (d.kind != PKW_EXTERN_FUNC ||
        pkw_func_create_host(&counting, &d.type, no_import, NULL,
                             &fp.hostfns[i]) != PKW_OK)
      goto fail;
    fp.ext[i].kind = PKW_EXTERN_FUNC;
    fp.ext[i].u.func = fp.hostfns[i];
  }
  pool_limits(&lim);
  if (pkw_instance_create(fp.m, fp.ext, fp.nimp, &lim, &fp.inst0, NULL, 0) !=
      PKW_OK)
    goto fail;
  /* The state after init: _initialize and plugkit_init (pure for this
     module: no host function called, so the pool would use an image). */
  if (pkw_instance_func(fp.inst0, "_initialize", &fn) == PKW_OK &&
      pkw_call(fn, NULL, 0, NULL, 0) != PKW_OK)
    goto fail;
  if (pkw_instance_func(fp.inst0, "plugkit_init", &fn) == PKW_OK) {
    uint64_t r = 0;
    if (pkw_call(fn, NULL, 0, &r, 1) != PKW_OK || r != 0)
      goto fail;
  }
  if (pkw_instance_host_calls(fp.inst0) != 0 ||
      pkw_image_create(fp.inst0, &fp.img) != PKW_OK ||
      pkw_module_find_export(fp.m, "sum", 3, &fp.x_sum) != PKW_OK)
    goto fail;
  if (pkw_module_find_export(fp.m, "plugkit_fini", 12, &fp.x_fini) != PKW_OK)
    fp.x_fini = UINT32_MAX;
  return 0;
fail:
  teardown_from_pool(&fp);
  return pkb_skip("cannot set up the conformance module's image");
}

static int setup_from_pool(void **out) { return setup_pool(out, 0); }
static int setup_from_pool_tracked(void **out) {
  int rc = setup_pool(out, 1);
  fp.cycle = 1;
  return rc;
}
static int setup_from_pool_cycle(void **out) {
  int rc = setup_pool(out, 0);
  fp.cycle = 1;
  return rc;
}

static void run_from_pool(void *st, uint64_t n) {
  from_pool *f = st;
  pkw_limits lim;
  uint64_t k;
  pool_limits(&lim);
  lim.image = f->img;
  for (k = 0; k < n; k++) {
    pkw_instance *inst = NULL;
    pkw_extern ex;
    uint64_t slots[2] = {40, k};
    if (pkw_instance_create(f->m, f->ext, f->nimp, &lim, &inst, NULL, 0) !=
        PKW_OK)
      abort();
    pkw_instance_set_user(inst, f);
    if (f->tracked && pkw_instance_track_dirty(inst) != PKW_OK)
      abort();
    if (pkw_instance_export(inst, f->x_sum, NULL, NULL, &ex) != PKW_OK ||
        pkw_call(ex.u.func, slots, 2, slots, 1) != PKW_OK)
      abort();
    pkb_sink(slots[0]);
    if (!f->cycle)
      pkb_untimed_begin();
    if (f->x_fini != UINT32_MAX &&
        (pkw_instance_export(inst, f->x_fini, NULL, NULL, &ex) != PKW_OK ||
         pkw_call(ex.u.func, NULL, 0, NULL, 0) != PKW_OK))
      abort();
    pkw_instance_destroy(inst);
    if (!f->cycle)
      pkb_untimed_end();
  }
}

PKB_ROW(WasmInstanceFromPool, setup_from_pool, run_from_pool,
        teardown_from_pool)
PKB_ROW(WasmInstanceFromPoolCycle, setup_from_pool_cycle, run_from_pool,
        teardown_from_pool)
PKB_ROW(WasmInstanceFromPoolTracked, setup_from_pool_tracked, run_from_pool,
        teardown_from_pool)

/* ---- WasmResetAfterCall ---------------------------------------------------- */

static pkb_plugin rw;

static int setup_reset_tier(void **out, const char *tier) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  pk_func *f = NULL;
  *out = &rw;
  memset(&rw, 0, sizeof rw);
  if ((rw.host = pkb_host()) == NULL)
    return pkb_skip("out of memory");
  snprintf(rw.path, sizeof rw.path, "%s/conformance.wasm", pkb_dir());
  o.reset_after_call = 1;
  o.tier = tier;
  if (tier != NULL && strcmp(tier, "aot") == 0) { /* as pkb_open_tier */
    char cache[1100];
    snprintf(cache, sizeof cache, "%s/aot-cache", pkb_dir());
    setenv("XDG_CACHE_HOME", cache, 1);
  }
  if (pk_plugin_open(rw.host, rw.path, &o, &p) != PK_OK ||
      pk_plugin_func(p, "bump", "()->i32", &f) != PK_OK) {
    int r = pkb_skip("%s", pk_host_errmsg(rw.host));
    pk_host_destroy(rw.host);
    rw.host = NULL;
    return r;
  }
  rw.plugin = p;
  rw.fn = f;
  return 0;
}

static void run_reset(void *st, uint64_t n) {
  pkb_plugin *b = st;
  pk_val out = PK_I32(0);
  uint64_t i;
  for (i = 0; i < n; i++) {
    pk_func_call(b->fn, NULL, 0, &out, 1);
    pkb_sink((uint64_t)(uint32_t)out.i32); /* 1 every time */
  }
}

static int setup_reset(void **out) { return setup_reset_tier(out, NULL); }
static int setup_reset_jit(void **out) {
  return setup_reset_tier(out, "jit");
}
static int setup_reset_aot(void **out) {
  return setup_reset_tier(out, "aot");
}

PKB_ROW(WasmResetAfterCall, setup_reset, run_reset, pkb_close)
PKB_ROW(WasmResetAfterCallJit, setup_reset_jit, run_reset, pkb_close)
PKB_ROW(WasmResetAfterCallAot, setup_reset_aot, run_reset, pkb_close)
