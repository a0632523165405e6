/*
 * wentry.c: guest entries and the limits (rule 2 of wasm_backend.h):
 * guest_enter, through which all guest code runs, the mapping of engine
 * results to plugkit codes, cabi_realloc and the post-return.
 */
#include "wasm_backend.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

_Thread_local pk__wstate *pk__wasm_direct;

/* The guest's memory cannot give `n` more bytes: PK_ELIMIT naming
   max_memory when that is what stops it (the guest's imp_oom says the
   same), else PK_ENOMEM. */
int pk__wasm_out_of_memory(pk__wstate *st, const char *who, uint64_t n) {
  pkw_memory *m = pkw_instance_memory(st->inst);
  if (st->max_pages > 0)
    return pk__perr(st->p, PK_ELIMIT,
                    "%s: memory limit reached (max_memory: %u pages of 64 "
                    "KiB, %u in use), %llu more bytes wanted",
                    who, st->max_pages, m ? pkw_memory_pages(m) : 0,
                    (unsigned long long)n);
  return pk__perr(st->p, PK_ENOMEM,
                  "%s: the plugin is out of memory (%llu bytes wanted)", who,
                  (unsigned long long)n);
}

/* Allocate n bytes in the guest with its cabi_realloc (a guest entry:
   any guest pointer the caller holds is dead afterwards). */
int pk__wasm_guest_alloc(pk__wstate *st, pkw_instance *inst, uint32_t n,
                         uint32_t *out_ptr, uint8_t **out_mem) {
  uint64_t a[4] = {0, 0, 1, n};
  int rc, status = st->lane->ctx.status;
  if (st->realloc_fn == NULL)
    return pk__perr(st->p, PK_EFORMAT,
                    "the module exports no cabi_realloc: str/bytes cannot "
                    "cross into it");
  st->lane->ctx.status = 0;
  if ((rc = pk__wasm_guest_call(st, st->realloc_fn, a, 4, 1)) < 0)
    return rc;
  if (st->lane->ctx.status != 0) /* the guest's allocator called oom/fail */
    return st->lane->ctx.status;
  st->lane->ctx.status = status;
  if ((*out_mem = pk__wasm_mem(inst, (uint32_t)a[0], n)) == NULL ||
      (a[0] == 0 && n > 0))
    return pk__wasm_out_of_memory(st, "cabi_realloc", n);
  *out_ptr = (uint32_t)a[0];
  return PK_OK;
}

static int guest_enter(pk__wstate *st, pkw_func *fn, uint64_t *slots,
                       uint32_t nin, uint32_t nout);

/* Map an engine result to a plugkit error with a message. */
int pk__wasm_map_rc(pk__wstate *st, int rc) {
  pk_plugin *p = st->p;
  /* What ended the call, read before the unwind below re-arms the limits
     (and may run imports). */
  int timed_out = rc == PKW_TRAP_INTERRUPTED && st->wd != NULL &&
                  pk__os_watchdog_fired(st->wd);
  int host_rc = st->host_rc;
  /* The trap skipped the SDK wrappers' epilogues: let the guest forget
     the calls it was in (outermost calls only: else frames are live).
     The unwind is a guest entry of its own, under fresh limits: a trap
     for want of fuel or time would otherwise leave it none. */
  if (st->unwind != NULL && st->depth == 0 && st->lane->in_host == 0) {
    int status = st->lane->ctx.status;
    (void)guest_enter(st, st->unwind, NULL, 0, 0);
    st->lane->ctx.status = status;
    st->host_rc = host_rc;
  }
  if (rc == PK__WASM_HOSTERR)
    return host_rc; /* message set by the callback */
  if (rc == PKW_TRAP_OUT_OF_FUEL)
    return pk__perr(p, PK_ELIMIT, "out of fuel (%lld units per call)",
                    (long long)st->fuel);
  if (timed_out)
    return pk__perr(p, PK_ETIMEOUT, "did not return within %u ms",
                    st->timeout_ms);
  if (rc == PKW_ENOMEM)
    return pk__perr(p, PK_ENOMEM, "out of memory in the engine");
  if (rc == PKW_ELIMIT) /* a lazy body over a translation limit */
    return pk__perr(p, PK_ELIMIT, "%s", pkw_instance_error(st->inst));
  if (rc == PKW_EINVALID || rc == PKW_EMALFORMED) /* a lazy body */
    return pk__perr(p, PK_EFORMAT, "%s module: %s",
                    rc == PKW_EINVALID ? "invalid" : "malformed",
                    pkw_instance_error(st->inst));
  if (PKW_IS_TRAP(rc))
    return pk__perr(p, PK_ETRAP, "trap: %s", pkw_strerror(rc));
  return pk__perr(p, PK_ETRAP, "engine error: %s", pkw_strerror(rc));
}

/*
 * The one way into guest code (rule 2 of wasm_backend.h). Only the
 * outermost entry arms: it gives the instance the per-call fuel, clears
 * an interrupt that fired too late to be reported, and sets the
 * watchdog's deadline for the whole call; nested entries (a host function
 * calling back, cabi_realloc inside an import) run on the outer call's
 * remaining fuel (the engine keeps it in the instance) and under its
 * deadline.
 */
static int guest_enter(pk__wstate *st, pkw_func *fn, uint64_t *slots,
                       uint32_t nin, uint32_t nout) {
  int rc;
  if (st->depth == 0 && st->limited) {
    pkw_instance_set_fuel(st->inst, st->fuel > 0 ? st->fuel : -1);
    if (st->wd != NULL) {
      pkw_instance_clear_interrupt(st->inst);
      pk__os_watchdog_arm(st->wd,
                          pk__call_deadline(st->lane, (int)st->timeout_ms));
    }
  }
  st->depth++;
  if (PK__UNLIKELY(pkw_func_instance(fn) == NULL)) {
    /* A host function the module exports: the engine calls it with no
       instance, so it finds this one here. */
    pk__wstate *outer = pk__wasm_direct;
    st->direct_calls++;
    pk__wasm_direct = st;
    rc = pkw_call(fn, slots, nin, slots, nout);
    pk__wasm_direct = outer;
  } else {
    rc = pkw_call(fn, slots, nin, slots, nout);
  }
  if (--st->depth == 0) {
    if (st->wd != NULL)
      pk__os_watchdog_disarm(st->wd);
  } else if (st->wd != NULL && pk__os_watchdog_fired(st->wd)) {
    /* The deadline passed in a nested entry, whose trap took the
       interrupt: raise it again for the outer call, which a host
       function that ignores the nested failure would let run on. */
    pkw_instance_interrupt(st->inst);
  }
  return rc;
}

/* Call a guest function of the plugin, mapping a failure to its code. */
int pk__wasm_guest_call(pk__wstate *st, pkw_func *fn, uint64_t *slots,
                        uint32_t nin, uint32_t nout) {
  int rc;
  st->host_rc = 0;
  rc = guest_enter(st, fn, slots, nin, nout);
  return rc == PKW_OK ? PK_OK : pk__wasm_map_rc(st, rc);
}

/* Run the post-return of the previous call, once nothing uses it. A
   post-return that fails (a trap, out of fuel or time) fails the call
   that runs it (the next one) or, at close, is only noted. */
int pk__wasm_run_post(pk__wstate *st) {
  pkw_func *post = st->pending_post;
  uint64_t arg = st->pending_arg;
  st->pending_post = NULL;
  if (post == NULL)
    return PK_OK;
  return pk__wasm_guest_call(st, post, &arg, 1, 0);
}
