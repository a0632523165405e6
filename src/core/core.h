/*
 * core.h: what the core shares with the backends. Internal: never
 * installed, never included by plugins or tools.
 *
 * Ownership in one paragraph: a pk_host owns its host functions and the
 * list of open plugins; a pk_plugin owns its path, name, version, config
 * copy, grant list, exports (pk_func array) and its call arena; a backend
 * owns what hangs off pk_plugin.bstate and frees it in its close().
 */
#ifndef PK_CORE_CORE_H
#define PK_CORE_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "plugkit.h"
#include "plugkit_plugin.h"

#if defined(__GNUC__) || defined(__clang__)
#define PK__LIKELY(x) __builtin_expect(!!(x), 1)
#define PK__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define PK__FMT(f, a) __attribute__((format(printf, f, a)))
#define PK__NOINLINE __attribute__((noinline))
#else
#define PK__NOINLINE
#define PK__LIKELY(x) (x)
#define PK__UNLIKELY(x) (x)
#define PK__FMT(f, a)
#endif

/* ---- signatures -------------------------------------------------------- */

typedef struct pk__sig {
  uint8_t nparams;
  uint8_t nresults;
  uint8_t params[PK_MAX_PARAMS];   /* pk_type values */
  uint8_t results[PK_MAX_RESULTS]; /* pk_type values, never PK_T_VOID */
} pk__sig;

/* Longest canonical signature: 16 params, 8 results, "bytes" each. */
#define PK__SIG_MAX 200

/*
 * Parse `text` into *out. Returns PK_OK or PK_EINVAL; on error, `why`
 * (if not NULL, `cap` bytes) says what is wrong.
 */
int pk__sig_parse(const char *text, pk__sig *out, char *why, size_t cap);
/* Write the canonical text of `sig` into buf (PK__SIG_MAX bytes). */
void pk__sig_format(const pk__sig *sig, char *buf);
int pk__sig_equal(const pk__sig *a, const pk__sig *b);

/* ---- memory ------------------------------------------------------------ */

void *pk__alloc(pk_host *h, size_t n);
void *pk__realloc(pk_host *h, void *p, size_t n);
void pk__free(pk_host *h, void *p);
/*
 * Spare large blocks. A closed plugin's big, mostly untouched buffers
 * (a wasm instance's value stack, frames and memory: about 1 MiB) wait
 * here for the next open rather than going back to the C library, whose
 * heap trimming would return them to the kernel and make the next open
 * fault every page in again. pk__spare_put keeps p (n bytes from
 * pk__alloc, PK__SPARE_MIN <= n <= PK__SPARE_MAX) while there is room
 * and returns 1, or returns 0 and the caller frees it; pk__spare_take returns a kept block of exactly n bytes, or NULL.
 * pk_host_destroy frees what is left.
 */
int pk__spare_put(pk_host *h, void *p, size_t n);
void *pk__spare_take(pk_host *h, size_t n);
char *pk__strdup(pk_host *h, const char *s);
char *pk__strndup(pk_host *h, const char *s, size_t n);

/*
 * The call arena: bump allocation for results and scratch memory. Reset
 * when an outermost call starts; after a reset it keeps its largest chunk,
 * so a steady stream of calls allocates nothing.
 */
typedef struct pk__chunk pk__chunk;
typedef struct pk__arena {
  pk__chunk *head;
  int dirty; /* something was allocated since the last reset */
} pk__arena;

void *pk__arena_alloc(pk_host *h, pk__arena *a, size_t n);
void pk__arena_reset(pk_host *h, pk__arena *a);
void pk__arena_free(pk_host *h, pk__arena *a);

/* ---- host, plugin, func ------------------------------------------------ */

typedef struct pk__hostfn {
  char *name;
  char *sigtext; /* canonical */
  pk__sig sig;
  pk_host_fn fn;
  void *ud;
} pk__hostfn;

/* Spare blocks a host keeps (see pk__spare_put), their smallest and
   largest size. */
#define PK__SPARE_N 4
#define PK__SPARE_MIN ((size_t)64 * 1024)
#define PK__SPARE_MAX ((size_t)4 * 1024 * 1024)

struct pk_host {
  pk_alloc_fn alloc;
  void *alloc_ud;
  pk_log_fn log;
  void *log_ud;
  pk__hostfn *fns;
  size_t nfns, capfns;
  pk_plugin *plugins; /* doubly linked list of open plugins */
  /* Large blocks closed plugins left for the next open (pk__spare_*). */
  struct {
    void *p;
    size_t n;
  } spare[PK__SPARE_N];
  char errmsg[1024];
  /* Host functions running now, for all of the host's plugins: a host
     function that calls into a plugin that calls a host function ... is
     one level each; pk__hostfn_call refuses more than PK__MAX_NESTING. */
  int nesting;
};

/* The deepest host -> plugin -> host nesting (include/plugkit.h): each
   level costs the host stack frames (and the process backend a frame
   exchange), so a plugin that answers every call with a host call must
   not be able to exhaust the host's stack. */
#define PK__MAX_NESTING 64

typedef struct pk__backend pk__backend;

struct pk_func {
  pk_plugin *plugin;
  const char *name; /* owned by the plugin (names block) */
  char sigtext[PK__SIG_MAX];
  pk__sig sig;
  /*
   * How to call it: in-process machine code sets `thunk` (called with the
   * plugin's context, the fastest path: pk_func_call tail-calls it, with
   * the plugin's `cur` set to this function, so a backend's own thunk can
   * find it); other backends set `invoke`.
   */
  pk_thunk thunk;
  int (*invoke)(pk_func *f, const pk_val *args, pk_val *results);
  /* invoke sets the results' type tags itself (else pk_func_call does),
     which lets pk_func_call tail-call it. */
  uint8_t invoke_tags;
  pk_raw_fn raw;   /* typed entry point, or NULL */
  void *bdata;     /* the backend's per-function data */
  uint32_t bindex; /* the backend's per-function index */
};

struct pk_plugin {
  /* First: a plugin's pk_ctx * is its pk_plugin *. ctx.status is 0, or the
     code the current call fails with (pk_fail: PK_EPLUGIN; a result
     allocation failed: PK_ENOMEM). */
  pk_ctx ctx;
  pk_host *host;
  pk_plugin *next, *prev;
  const pk__backend *backend;
  void *bstate; /* backend state */
  const char *tier;          /* pk_plugin_info's tier (static string)
                                or NULL: "" */
  const char *backend_label; /* pk_plugin_info's backend, when not
                                backend->name ("process:wasm"); the
                                backend owns it */

  char *path;
  int isolation;             /* a pk_isolation, from the open options */
  int describe_only;         /* opts.describe_only: no plugin code runs */
  const char *inner_backend; /* opts.backend during open (NULL after) */
  const pk_open_opts *opts;  /* all the open options, during open only
                                (NULL after): backend-specific fields */
  char *name;    /* declared name; the backend sets it */
  char *version; /* declared version; the backend sets it */
  uint32_t abi_major, abi_minor;

  pk_func *funcs;
  size_t nfuncs;
  size_t nnamed;     /* exports pk__func_init has filled so far */
  pk_func **byname;  /* the exports sorted by name, once all are filled */
  char *config;   /* key\0value\0key\0value\0\0 */
  size_t *grants; /* indices into host->fns */
  size_t ngrants;

  /*
   * Call state. The outermost call only sets `cur`; everything about
   * nesting (a host function calling back into the plugin) is saved and
   * restored by pk__hostfn_call, the rare path, so that pk_func_call stays
   * a handful of instructions.
   */
  pk__arena arena;
  int in_host; /* host functions running for this plugin (nesting) */
  const char *phase;  /* "open", "init", "fini", or NULL: a call */
  const pk_func *cur; /* function last called: names the call phase */
  const pk__hostfn *cur_hostfn; /* host function being called, or NULL */
  int hostfn_msg;               /* pk_plugin_fail set the message */
};

/*
 * A backend: one folder under src/, one of these, one line in
 * backends.def. open() reads the file, fills name/version/abi and the
 * exports (pk__plugin_exports then pk__func_init for each), and runs the
 * plugin's init; on failure it sets the message and returns the code,
 * leaving whatever it allocated in bstate for close() to free.
 */
struct pk__backend {
  const char *name;
  /* 0..100: how sure the backend is that it reads this file. `head` holds
     the first `n` bytes (n is 0 for a directory). */
  int (*probe)(const unsigned char *head, size_t n, const char *path,
               int isdir);
  int (*open)(pk_plugin *p);
  /* Run fini and free bstate. Called once, also after a failed open. */
  void (*close)(pk_plugin *p);
  /* The limits of pk_open_opts this backend enforces (PK__LIM_* bits);
     pk_plugin_open refuses the others (docs/limits.md). PK__LIM_SELF: the
     backend checks in open, because what it enforces depends on the file
     (process: the child's backend). */
  unsigned limits;
};

/*
 * The limits model (docs/limits.md): each limit in pk_open_opts, as a bit.
 * A backend that cannot enforce a limit it is asked for fails the open
 * with PK_ENOSYS; no limit is silently ignored.
 */
#define PK__LIM_TIMEOUT 0x01u /* call_timeout_ms: a deadline per call */
#define PK__LIM_FUEL 0x02u    /* fuel: an instruction budget per call */
#define PK__LIM_MEMORY 0x04u  /* max_memory */
#define PK__LIM_FS 0x08u      /* fs_root: a read-only file capability */
#define PK__LIM_CHILD 0x10u   /* a child process's options: restart,
                                 spin_ns, transport, harden, limit_* */
#define PK__LIM_DESCRIBE 0x20u /* not a limit: the backend can open a
                                   plugin describe-only (no plugin code
                                   runs, or only a budgeted describe) */
#define PK__LIM_SELF 0x80000000u
/* PK_ENOSYS, naming the first option `o` asks for that `honoured` lacks
   and what to use instead; `who` names the backend ("native"). */
int pk__limits_check(pk_plugin *p, const pk_open_opts *o, unsigned honoured,
                     const char *who);

/* The NULL-terminated list of compiled-in backends. */
extern const pk__backend *const pk__backends[];

/* Set the host's message: "<path>: <phase>: <cause>". Returns `code`. */
int pk__err(pk_host *h, int code, const char *path, const char *phase,
            const char *fmt, ...) PK__FMT(5, 6);
int pk__verr(pk_host *h, int code, const char *path, const char *phase,
             const char *fmt, va_list ap);
/* Same, for a plugin: uses its path and current phase. */
int pk__perr(pk_plugin *p, int code, const char *fmt, ...) PK__FMT(3, 4);

/* The most exports a plugin may declare (documented in plugkit.h, at
   pk_plugin_info.nexports). Far above any real plugin, low enough that
   the host's per-export work stays small whatever a file declares. */
#define PK__MAX_EXPORTS 65536u

/* Allocate p->funcs for n exports (zeroed); PK_ELIMIT, before allocating
   anything, when n is above PK__MAX_EXPORTS. */
int pk__plugin_exports(pk_plugin *p, size_t n);
/*
 * Fill an export's name and signature; PK_EFORMAT on a bad signature.
 * Call it once for each of the n exports, in any order; the call that
 * fills the last one checks that no name is declared twice (sorting the
 * names: O(n log n)) and fails with PK_EFORMAT if one is.
 */
int pk__func_init(pk_plugin *p, pk_func *f, const char *name,
                  const char *sig);
/* The largest plugin file a backend reads whole (a wasm module, a Lua
   script, a C source file): bounds what one open may read and hold. */
#define PK__MAX_FILE ((size_t)256 << 20)

/*
 * Read the plugin's file (p->path) whole through the host's allocator,
 * for backends that need its bytes: refuses what is not a regular file
 * (PK_EFORMAT: a FIFO is never waited for, a device never read) and a
 * file above PK__MAX_FILE (PK_ELIMIT), with the message set. *out is the
 * caller's to pk__free.
 */
int pk__plugin_read_file(pk_plugin *p, unsigned char **out, size_t *out_n);
/* The same checks without reading, for readers that open the file
   themselves (libtcc): PK_OK or the code, with the message set. */
int pk__plugin_check_file(pk_plugin *p, const char *path);

/* Copy a string into plugin-owned storage (freed with the plugin). */
char *pk__plugin_strdup(pk_plugin *p, const char *s);

/*
 * In-process plugins built with plugkit_plugin.h (native, source) carry a
 * pk_plugin_desc. pk__desc_load checks it (magic, ABI, sizes: the message
 * names the field that differs) and fills p's name, version, ABI and
 * exports; pk__desc_init runs the init hook; pk__desc_fini the fini hook.
 */
int pk__desc_load(pk_plugin *p, const pk_plugin_desc *d);
int pk__desc_init(pk_plugin *p, const pk_plugin_desc *d);
void pk__desc_fini(pk_plugin *p, const pk_plugin_desc *d);

/* ELF: a header field of `width` bytes at h + off; and whether the file
   starting with h (n bytes) is an executable (ET_EXEC, or ET_DYN with a
   program interpreter, as PIE executables are) rather than a library. */
uint64_t pk__elf_read(const unsigned char *h, size_t off, int width, int big);
int pk__elf_executable(const unsigned char *h, size_t n);
/* The smallest program header entry of ELF class `cls` (1: 32-bit, 2:
   64-bit): the fields every reader here uses lie inside it. */
#define PK__ELF_PHDR_MIN(cls) ((cls) == 2 ? 56u : 32u)
/* The program header table of the ELF file whose first n bytes are h:
   how many of its entries lie wholly inside those n bytes (0 when the
   header is not one, or its e_phentsize is below PK__ELF_PHDR_MIN), with
   the table's offset and entry size, so entry i starts at
   *out_off + i * *out_entsize and its first PK__ELF_PHDR_MIN bytes can be
   read. */
size_t pk__elf_phdrs(const unsigned char *h, size_t n, size_t *out_off,
                     size_t *out_entsize);

/* SHA-256 (sha256.c): init, update any number of times, final. */
typedef struct pk__sha256 {
  uint32_t h[8];
  uint64_t len;       /* bytes hashed so far */
  unsigned char buf[64];
  size_t n;           /* bytes waiting in buf */
} pk__sha256;
void pk__sha256_init(pk__sha256 *s);
void pk__sha256_update(pk__sha256 *s, const void *data, size_t n);
void pk__sha256_final(pk__sha256 *s, unsigned char out[32]);
void pk__sha256_of(const void *data, size_t n, unsigned char out[32]);

/* Describe-only: fill p's name, version, ABI and exports from the
   pk_plugin_descriptor data in p's ELF file (a shared object or an
   executable) without loading it: dynsym/symtab, PT_LOAD segments and
   R_*_RELATIVE relocations, every offset bounds-checked (PK_EFORMAT). */
int pk__elf_describe(pk_plugin *p);

/* The table handed to in-process plugins. */
extern const struct pk_host_api pk__host_api;

/*
 * A file of plugkit's own (the runner, the SDK headers, tcc's runtime):
 * `build` when this library was loaded from the build tree it was built
 * in (and `build` is not NULL), else `rel` taken from the directory of
 * the loaded library (an
 * install moved anywhere keeps working: no configure-time prefix is
 * used). 0, or -1 when the library's own path is unknown or too long.
 */
int pk__install_path(const char *build, const char *rel, char *buf,
                     size_t cap);

/* A plugin's log line to the host's sink, every backend's only way there:
   the level is clamped to PK_LOG_ERROR..PK_LOG_DEBUG (plugins send any
   int), and the line carries the plugin's name (or path). */
void pk__plugin_log(pk_plugin *p, int level, const char *msg, size_t len);

/* Config lookup shared by every backend. */
int pk__config_get(const pk_plugin *p, const char *key, size_t keylen,
                   pk_str *out);
/* Host function lookup and call, checked against the plugin's grants. */
int pk__hostfn_find(pk_plugin *p, const char *name, const char *sig,
                    int32_t *out_index);
int pk__hostfn_call(pk_plugin *p, int32_t index, const pk_val *args,
                    size_t nargs, pk_val *results, size_t nresults);

#endif /* PK_CORE_CORE_H */
