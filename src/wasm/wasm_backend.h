/* wasm_backend.h: private to src/wasm/ (the backend; the engine is
   engine/, whose header is engine/wasm.h). */
#ifndef PK_WASM_WASM_BACKEND_H
#define PK_WASM_WASM_BACKEND_H

#include "../core/core.h"
#include "../os/os.h"
#include "engine/wasm.h"

/*
 * Two rules hold the backend together; each is stated here once and the
 * code is shaped so that it cannot be broken by accident.
 *
 * 1. A pointer into guest memory dies at any guest entry or memory
 *    growth. The engine reallocates linear memory when the guest grows
 *    it, and guest code can run whenever the host enters the guest
 *    (cabi_realloc, a nested call, a post-return). So the host never
 *    holds a guest pointer across a guest entry: str/bytes arguments of
 *    host functions are copied out of guest memory before the host
 *    function runs (it may call back into the plugin); host results
 *    that point into guest memory are copied there before cabi_realloc
 *    gives them to the guest; arguments of pk_func_call that point into
 *    the plugin's own memory (a previous call's result) are copied there
 *    before the call enters the guest. Where the host must come back to
 *    guest memory after an entry it keeps a guest address and asks
 *    pk__wasm_mem again.
 *
 * 2. Every entry into guest code goes through guest_enter (wentry.c):
 *    calls, the start function, _initialize, plugkit_describe/init/fini,
 *    cabi_realloc, cabi_post_<name> and plugkit_unwind. The outermost
 *    entry arms the limits (the call's fuel, a clear interrupt flag, the
 *    watchdog's deadline) and disarms the watchdog when it returns; a
 *    nested entry runs on what the outermost one has left. The one
 *    exception is the scalar fast path (pkw_invoke), taken only when no
 *    limit is set, so there is nothing to arm.
 */

/*
 * A host callback that fails stores the plugkit code in st->host_rc and
 * returns this, which the engine hands back unchanged from pkw_call: it
 * cannot be mistaken for an engine code.
 */
#define PK__WASM_HOSTERR (-1000)

/* Files a plugin may have open at once (WASI fds 4 and up). */
#define PK__WASI_MAX_FILES 16

/*
 * Threads (docs/threads.md). A plugin is one pk__wmod, decoded, validated
 * and bound once at open and read-only afterwards, and instances
 * (pk__wstate), each used by one thread at a time (the core hands an
 * instance to one lane at once): its engine instance (memory, globals,
 * tables, value stack and frames), the lane of the call running in it,
 * its WASI files, watchdog, post-return and argument area. The host
 * functions bound to the imports are shared: a callback finds its
 * instance with pk__wasm_st(inst). The engine translates lazily under the
 * module's lock (engine/wasm.h).
 */

#define PK__WNONE 0xffffffffu /* no such export */
/* Spare instances a module keeps for the next (pkw_module_set_spares). */
#define PK__WSPARES 2u

typedef struct pk__wexport {
  uint32_t fn;      /* the export's index in the module */
  uint32_t post;    /* cabi_post_<name>'s, or PK__WNONE */
  uint8_t lowered;  /* a str/bytes parameter or result */
  uint8_t direct;   /* a host function the module exports as its own */
} pk__wexport;

/* What every instance of a plugin shares (p->bstate). */
typedef struct pk__wmod {
  pk_plugin *p;
  pkw_module *mod;
  pkw_func **hostfns; /* created for the imports; destroyed at close */
  uint32_t nhostfns;
  pkw_extern *ext;    /* the imports, for each new instance */
  void *himps;        /* typed host imports' data */
  pkw_limits lim;     /* each instance's */
  pk__wexport *exports;
  uint32_t nexports;
  /* Exports by index (PK__WNONE: none). */
  uint32_t x_realloc, x_fini, x_unwind, x_arg_area, x_init, x_initialize;
  int auto_post;     /* plugkit_auto_post: no cabi_post_<name> */
  int limited;       /* fuel or a timeout is set: guest_enter arms them */
  int64_t fuel;
  uint32_t timeout_ms;
  uint32_t max_pages;
  int root_fd;       /* opts.fs_root, or -1 */
  int reset;         /* reset_after_call */
  /* The first instance's state after init, when its init called no host
     function (so running init again could only give the same state):
     new instances are made from it instead of running init. NULL: each
     new instance runs init. */
  pkw_image *image;
  uint32_t arg_area, arg_cap; /* with image: the argument area */
} pk__wmod;

/* One instance. */
/* Exports whose functions an instance keeps inline (fnv): the scalar
   path reaches them in one load from the instance state. */
#define PK__WFNS_INLINE 16

typedef struct pk__wstate {
  pk__wmod *m;
  pk_plugin *p;
  pk__lane *lane; /* the lane of the call running (p->olane in open and
                     close): its status, arena and host-call state */
  pkw_module *mod;
  pkw_instance *inst;
  pkw_func **fns;      /* per export: its function, then its post-return
                          (fnv when they fit) */
  pkw_func *realloc_fn;
  pkw_func *fini;
  pkw_func *unwind;       /* plugkit_unwind (SDK modules), or NULL */
  uint32_t arg_area;      /* plugkit_arg_area's bytes (guest address) */
  uint32_t arg_cap;       /* and their size; 0: no area */
  int auto_post;          /* copied from m, like the limits below */
  pkw_func *pending_post; /* post-return of the last call, not yet run */
  uint64_t pending_arg;
  int host_rc; /* the code a host callback failed with */
  int limited;
  uint32_t depth; /* guest entries in progress (guest_enter) */
  int root_fd;
  int files[PK__WASI_MAX_FILES];    /* WASI fds 4..: host fds, or -1 */
  /* reset_after_call: the files open at the image (bits), where each
     was (its offset then), and those of them the guest closed since: a
     kept file's close only hides it until the reset, which also seeks it
     back (a file init opened is part of the state calls start from). */
  unsigned kept_files, hidden_files;
  int64_t kept_off[PK__WASI_MAX_FILES];
  int inited;
  int64_t fuel;
  uint32_t timeout_ms;
  uint32_t max_pages;
  uint64_t direct_calls; /* calls of host functions the module exports */
  const pkw_image *image; /* reset_after_call: the state to return to */
  pkw_image *own_image;   /* ... when it is this instance's own */
  pk__os_watchdog *wd;
  void *mem; /* the block holding it (pk__alloc_lines) */
  pkw_func *fnv[2 * PK__WFNS_INLINE];
} pk__wstate;

/* A host function imported by name, with its wasm type. */
typedef struct pk__wtyped {
  pk__wmod *m;
  int32_t index; /* into the plugin's grants */
  const pk__hostfn *fn;
} pk__wtyped;

/* The instance a host callback runs for: the one that called it, or (a
   host function the module exports, called from the host: the engine
   gives no instance) the one guest_enter noted. */
extern _Thread_local pk__wstate *pk__wasm_direct;
static inline pk__wstate *pk__wasm_st(pkw_instance *inst) {
  return inst != NULL ? (pk__wstate *)pkw_instance_user(inst)
                      : pk__wasm_direct;
}

/* wentry.c: the way into guest code (rule 2). */
int pk__wasm_guest_call(pk__wstate *st, pkw_func *fn, uint64_t *slots,
                        uint32_t nin, uint32_t nout);
int pk__wasm_guest_alloc(pk__wstate *st, pkw_instance *inst, uint32_t n,
                         uint32_t *out_ptr, uint8_t **out_mem);
int pk__wasm_run_post(pk__wstate *st);
int pk__wasm_out_of_memory(pk__wstate *st, const char *who, uint64_t n);
/* An engine result that is not PKW_OK as a plugkit code, with a message
   (after plugkit_unwind, for an outermost call). */
int pk__wasm_map_rc(pk__wstate *st, int rc);

/* wabi.c: lowering, and calls from the host. */
int pk__wasm_lower(const pk__sig *s, uint8_t *params, uint32_t *np,
                   uint8_t *results, uint32_t *nr);
int pk__wasm_same_type(const pkw_functype *t, const uint8_t *p, uint32_t np,
                       const uint8_t *r, uint32_t nr);
/* "i32", "i64", "f32", "f64" for a number type; NULL for any other. */
const char *pk__wasm_num_name(uint8_t type);
void pk__wasm_type_text(const pkw_functype *t, char *buf, size_t cap);
int pk__wasm_invoke(pk__lane *l, pk_func *f, const pk_val *args,
                    pk_val *results);
void pk__wasm_scalar_path(pk__wmod *m, pk_func *f, pk__wexport *w);
/* pk__backend.fast: the engine function of export f in instance inst. */
void *pk__wasm_fast(pk_plugin *p, void *inst, const pk_func *f);

/* wimports.c: bind import d (`ti` is its slot of m->himps). */
int pk__wasm_bind_import(pk__wmod *m, const pkw_alloc *al,
                         const pkw_import_desc *d, pk__wtyped *ti,
                         pkw_func **out);

/* Guest memory [ptr, ptr+len) of `inst`, or NULL when out of bounds. */
/* The engine's allocator for host h (the host's, see wasm.c). */
pkw_alloc pk__wasm_alloc(pk_host *h);

/* The aot tier (aot.c). The cache file of the module whose SHA-256 is
   `hash` into buf (the cache folder checked, created first with
   `create`); PK_OK, or a code with `why`. */
int pk__wasm_aot_path(const uint8_t hash[32], char *buf, size_t cap,
                      char *why, size_t wcap, int create);
/* Binds m to the artifact at aot_path, or the cache's for hash mh when
   NULL, after checking all of it; `where` gets the artifact's path.
   marks: m was decoded with PKW_DECODE_DIRTY (reset_after_call), so
   the artifact's variant that marks written chunks is the one loaded.
   PK_OK; PK_ENOENT (none there); else a refusal (PK_EUNTRUSTED,
   PK_EFORMAT, PK_EABI, PK_EARCH, ...) with `why`. Nothing is loaded
   unless every check passed. */
int pk__wasm_aot_load(pk_plugin *p, pkw_module *m, const uint8_t mh[32],
                      int marks, const char *aot_path, char *why, size_t cap,
                      char *where, size_t wcap);

uint8_t *pk__wasm_mem(pkw_instance *inst, uint32_t ptr, uint32_t len);
/* Fail a host callback: set the message and return PK__WASM_HOSTERR. */
int pk__wasm_fail(pk__wstate *st, int code, const char *fmt, ...)
    PK__FMT(3, 4);

/*
 * printf for the guest (wfmt.c; the imports vfail, vlog and vformat):
 * expand the format at guest address `fmt` with the arguments of the
 * wasm32 va_list `ap` (a guest address), each conversion formatted by the
 * host's snprintf. Keeps the text's first `max` bytes at buf, which has
 * max + 1 bytes (a NUL follows them), and sets *out_len to the whole
 * text's length, or to -1 where vsnprintf fails (a text longer than
 * INT_MAX, a conversion libc refuses; buf is then empty). `who` names the
 * import in messages. Returns 0, or PK__WASM_HOSTERR after
 * pk__wasm_fail: PK_ETRAP for a bad pointer or a format the host does not
 * format (%n, %L, %lc, %ls, positional arguments, unknown), PK_ELIMIT
 * when widths and precisions add up past PK__WFMT_PAD_MAX or the guest
 * bytes read past PK__WFMT_READ_MAX.
 */
int pk__wasm_format(pk__wstate *st, pkw_instance *inst, const char *who,
                    uint32_t fmt, uint32_t ap, char *buf, size_t max,
                    int64_t *out_len);

/* Characters of padding (widths, and precisions but for %s) one host
   formatting may produce: they cost the host time, not the guest memory. */
#ifndef PK__WFMT_PAD_MAX
#define PK__WFMT_PAD_MAX (1u << 20)
#endif

/* Bytes of guest memory one host formatting may read: the format, the
   %s strings (each scanned for its NUL) and the arguments. An import call
   is not interruptible, so this bounds its time (docs/wasm-abi.md). */
#ifndef PK__WFMT_READ_MAX
#define PK__WFMT_READ_MAX (4u << 20)
#endif

/* The WASI preview1 subset: bind import `name` (with type `t`) to a host
   function; unknown names get a stub answering ENOSYS. */
int pk__wasi_bind(pk__wmod *m, const pkw_alloc *al, const char *name,
                  size_t len, const pkw_functype *t, pkw_func **out);

#endif /* PK_WASM_WASM_BACKEND_H */
