/* The jit tier: the C of cgen.c compiled in memory with libtcc.
 *
 * libtcc keeps global state, so every use of it in the process holds one
 * lock, pk__tcc_lock() (the program provides it: plugkit's source
 * backend, which uses libtcc too, or a test's own). The generated code
 * links against nothing but the runtime helpers bound here by name
 * (-nostdlib: no libc, no libtcc1), so it cannot reach anything else.
 *
 * The code goes to pages of its own (with the OS layer, os_mem.h),
 * sealed read-and-execute once written: none of them stays writable
 * after the compile. libtcc's own choice (TCC_RELOCATE_AUTO)
 * is a block of the heap that it leaves writable and executable, pages
 * shared with whatever else the heap holds: the host's data executable,
 * the code writable by any stray write.
 */
#include <libtcc.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "jrt.h"
#ifdef PKW_HAVE_OS_MEM
#include "os_mem.h"
#endif

void pk__tcc_lock(void);
void pk__tcc_unlock(void);

typedef struct jit_state {
  pkw_jit_fns fns;            /* first: m->jit points here */
  pkw_alloc alloc;
  TCCState *tcc;              /* owns the code (or its symbols) */
  void *code;                 /* the code's own pages, or NULL: tcc's */
  size_t code_size;
} jit_state;

typedef struct diag {
  char msg[160];
  int n;
} diag;

static void on_error(void *ud, const char *msg) {
  diag *d = ud;
  if (d->n++ == 0)
    snprintf(d->msg, sizeof d->msg, "%s", msg);
}

/* Frees st and all it holds (a failed compile's part too). */
static void release(pkw_jit_fns *j) {
  jit_state *st = (jit_state *)j;
  pkw_alloc a = st->alloc;
  if (st->tcc != NULL) {
    pk__tcc_lock();
    tcc_delete(st->tcc);
    pk__tcc_unlock();
  }
#ifdef PKW_HAVE_OS_MEM
  pk__os_vm_release(st->code, st->code_size);
#endif
  pkw__realloc(&a, st->fns.fns, 0);
  pkw__realloc(&a, st, 0);
}

/* Links the compiled code into memory (the lock held): its own pages,
   sealed read-and-execute, where the OS layer is built in; else where
   libtcc puts it. 0 or -1. */
static int relocate(jit_state *st) {
#ifdef PKW_HAVE_OS_MEM
  size_t page = pk__os_vm_page();
  int n = tcc_relocate(st->tcc, NULL);
  if (n <= 0)
    return -1;
  st->code_size = ((size_t)n + page - 1) / page * page;
  if ((st->code = pk__os_vm_reserve(st->code_size)) == NULL)
    return -1;
  if (pk__os_vm_commit(st->code, st->code_size) < 0 ||
      tcc_relocate(st->tcc, st->code) < 0 ||
      pk__os_vm_seal_exec(st->code, st->code_size) < 0) {
    pk__os_vm_release(st->code, st->code_size);
    st->code = NULL;
    return -1;
  }
  return 0;
#else
  return tcc_relocate(st->tcc, TCC_RELOCATE_AUTO);
#endif
}

int pkw_module_jit(pkw_module *m, char *errbuf, size_t errlen) {
  char *src = NULL;
  size_t len = 0, i;
  uint32_t ndf;
  jit_state *st;
  diag dg;
  void **table;
  int rc;
  if (m == NULL)
    return PKW_EINVAL;
  if (m->jit != NULL)
    return PKW_OK;
  if ((rc = pkw_module_cgen(m, &src, &len, errbuf, errlen)) != PKW_OK)
    return rc;
  ndf = m->nfuncs - m->nfunc_imports;
  st = pkw__realloc(&m->alloc, NULL, sizeof *st);
  if (st == NULL) {
    pkw__realloc(&m->alloc, src, 0);
    return PKW_ENOMEM;
  }
  memset(st, 0, sizeof *st);
  st->alloc = m->alloc;
  st->fns.release = release;
  st->fns.tier = "jit";
  st->fns.fns = pkw__realloc(&m->alloc, NULL,
                             ((size_t)ndf + 1) * sizeof(pkw_jit_fn));
  if (st->fns.fns == NULL) {
    pkw__realloc(&m->alloc, src, 0);
    pkw__realloc(&m->alloc, st, 0);
    return PKW_ENOMEM;
  }
  memset(&dg, 0, sizeof dg);
  rc = PKW_OK;
  pk__tcc_lock();
  st->tcc = tcc_new();
  if (st->tcc == NULL) {
    rc = PKW_ENOMEM;
    pkw__errf(errbuf, errlen, "libtcc could not create a compiler");
  } else {
    tcc_set_error_func(st->tcc, &dg, on_error);
    tcc_set_options(st->tcc, "-nostdlib");
    tcc_set_output_type(st->tcc, TCC_OUTPUT_MEMORY);
    /* The helpers the generated code may call, by the names it
     * declares. */
    for (i = 0; i < pkw__jrt_nhelpers; i++)
      tcc_add_symbol(st->tcc, pkw__cgen_helper(i), pkw__jrt_helpers[i]);
    if (tcc_compile_string(st->tcc, src) < 0 || relocate(st) < 0 ||
        (table = tcc_get_symbol(st->tcc, "pkw_jit_table")) == NULL) {
      /* Cannot happen for C this engine wrote, unless memory ran out. */
      rc = PKW_EUNSUPPORTED;
      pkw__errf(errbuf, errlen, "libtcc failed on the generated C: %s",
                dg.n ? dg.msg : "no symbol table");
    } else {
      for (i = 0; i < ndf; i++)
        memcpy(&st->fns.fns[i], &table[i], sizeof(pkw_jit_fn));
    }
  }
  pk__tcc_unlock();
  pkw__realloc(&m->alloc, src, 0);
  if (rc != PKW_OK) {
    release(&st->fns);
    return rc;
  }
  m->jit = &st->fns;
  return PKW_OK;
}
