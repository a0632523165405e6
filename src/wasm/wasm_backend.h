/* wasm_backend.h: private to src/wasm/ (the backend; the engine is
   engine/, whose header is engine/wasm.h). */
#ifndef PK_WASM_WASM_BACKEND_H
#define PK_WASM_WASM_BACKEND_H

#include "../core/core.h"
#include "../os/os.h"
#include "engine/wasm.h"

/*
 * A host callback that fails stores the plugkit code in st->host_rc and
 * returns this, which the engine hands back unchanged from pkw_call: it
 * cannot be mistaken for an engine code.
 */
#define PK__WASM_HOSTERR (-1000)

/* Files a plugin may have open at once (WASI fds 4 and up). */
#define PK__WASI_MAX_FILES 16

typedef struct pk__wexport {
  pkw_func *fn;
  pkw_func *post;   /* cabi_post_<name>, or NULL */
  uint8_t lowered;  /* a str/bytes parameter or result */
} pk__wexport;

typedef struct pk__wstate {
  pk_plugin *p;
  pkw_module *mod;
  pkw_instance *inst;
  pkw_func **hostfns; /* created for the imports; destroyed at close */
  uint32_t nhostfns;
  void *himps;        /* typed host imports' data */
  pkw_func *realloc_fn;
  pkw_func *fini;
  pkw_func *unwind;       /* plugkit_unwind (SDK modules), or NULL */
  uint32_t arg_area;      /* plugkit_arg_area's bytes (guest address) */
  uint32_t arg_cap;       /* and their size; 0: no area */
  int auto_post;          /* plugkit_auto_post: no cabi_post_<name> */
  pkw_func *pending_post; /* post-return of the last call, not yet run */
  uint64_t pending_arg;
  pk__wexport *exports;
  int host_rc; /* the code a host callback failed with */
  int limited; /* fuel or a timeout is set: guest_enter arms them */
  uint32_t depth; /* guest entries in progress (guest_enter) */
  int root_fd;                      /* opts.fs_root, or -1 */
  int files[PK__WASI_MAX_FILES];    /* WASI fds 4..: host fds, or -1 */
  int inited;
  int64_t fuel;
  uint32_t timeout_ms;
  uint32_t max_pages;
  pk__os_watchdog *wd;
} pk__wstate;

/* Guest memory [ptr, ptr+len) of `inst`, or NULL when out of bounds. */
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
int pk__wasi_bind(pk__wstate *st, const pkw_alloc *al, const char *name,
                  size_t len, const pkw_functype *t, pkw_func **out);

#endif /* PK_WASM_WASM_BACKEND_H */
