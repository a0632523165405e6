/*
 * plugkit_plugin.h: the plugin SDK. The one header a plugin includes.
 *
 * A plugin is plain typed C functions plus one PK_PLUGIN(...) line:
 *
 *   #include <plugkit_plugin.h>
 *
 *   static int32_t sum(int32_t a, int32_t b) { return a + b; }
 *   static pk_str greet(pk_ctx *c, pk_str name) {
 *     return pk_str_printf(c, "hello, %.*s", PK_STR_FMT(name));
 *   }
 *
 *   PK_PLUGIN("demo", "1.0.0",
 *             PK_EXPORT(sum, i32, (i32, i32)),
 *             PK_EXPORT_CTX(greet, str, (str)));
 *
 * PK_EXPORT(fn, result, (params)) exports `fn`, whose C type must be
 * `result fn(params...)` with i32 = int32_t, i64 = int64_t, f32 = float,
 * f64 = double, str = pk_str, bytes = pk_bytes and void for "none"
 * (`PK_EXPORT(f, void, (void))` is "()->()"). A mismatch between the
 * declared and the real C type is a compile-time diagnostic.
 * PK_EXPORT_CTX is the same for functions taking a `pk_ctx *` first; the
 * context lets them allocate results, fail with a message, log, read their
 * config and call host functions. PK_INIT(fn) and PK_FINI(fn) name optional
 * hooks: `int fn(pk_ctx *)` (nonzero fails the open) and `void fn(pk_ctx *)`.
 *
 * The plugin never links against libplugkit: the host hands it a table of
 * functions (struct pk_host_api, append only) through the context. The
 * macros generate, per target, only what that target needs; the plugin's
 * source does not change between targets.
 *
 * C++: the same macros work in C++11 and later (g++, clang++); the
 * signature check is a static_assert there. Exported functions are named
 * unqualified (no `ns::f`, no overloads) and need no extern "C".
 *
 * Memory: what a plugin allocates through the context (pk_alloc,
 * pk_str_printf, ...) belongs to the host, which frees it after the host
 * has consumed the call's results. Plugins never free it.
 */
#ifndef PK_PLUGKIT_PLUGIN_H
#define PK_PLUGKIT_PLUGIN_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "plugkit_types.h"

#ifdef __cplusplus
/* PK_PLUGIN's signature check in C++ (see PK__CHECK). */
template <class A, class B> struct pk__same_type {
  static const bool value = false;
};
template <class A> struct pk__same_type<A, A> {
  static const bool value = true;
};
extern "C" {
#endif

typedef struct pk_ctx pk_ctx;

/*
 * The host table. Append only: never reorder, remove or retype an entry.
 * Entries added after ABI 1.0 say "since ABI 1.n"; test them with
 * PK_HOST_HAS(ctx, entry) before use, as a plugin may run on an older host.
 */
struct pk_host_api {
  uint32_t abi_major; /* PK_ABI_MAJOR the host implements */
  uint32_t abi_minor; /* PK_ABI_MINOR the host implements */
  uint32_t size;      /* sizeof(struct pk_host_api) in the host */
  uint32_t reserved;

  /* `n` bytes for a result, owned by the host; NULL when out of memory. */
  void *(*alloc)(pk_ctx *c, size_t n);
  /* Fail the current call (or init) with a message; `len` bytes at msg. */
  void (*fail)(pk_ctx *c, const char *msg, size_t len);
  /* Send a line to the host's log sink. */
  void (*log)(pk_ctx *c, int level, const char *msg, size_t len);
  /* Config value for `key`: PK_OK and *out (borrowed until close), or
     PK_ENOENT. */
  int (*config)(pk_ctx *c, const char *key, size_t keylen, pk_str *out);
  /* Resolve a granted host function: PK_OK and an index for host_call;
     PK_EDENIED when not granted, PK_ESIG when `sig` (NULL: any) differs. */
  int (*host_find)(pk_ctx *c, const char *name, const char *sig,
                   int32_t *out_index);
  /* Call a host function found with host_find. Results of type str/bytes
     stay valid until this plugin call returns. */
  int (*host_call)(pk_ctx *c, int32_t index, const pk_val *args,
                   size_t nargs, pk_val *results, size_t nresults);
};

/*
 * The context a plugin function receives. Plugins use `api`; `status` is
 * the generated code's: the host sets it when the call fails (pk_fail, a
 * result allocation failing) and the thunk returns it.
 */
struct pk_ctx {
  const struct pk_host_api *api;
  int status;
};

/* Is host table entry `field` present in the running host? */
#define PK_HOST_HAS(c, field)                                               \
  (offsetof(struct pk_host_api, field) + sizeof((c)->api->field) <=         \
   (c)->api->size)

/* ---- the descriptor: what a host reads to load a plugin ---------------- */

/*
 * Generic thunk: unpack `a`, call the typed function, pack `r` (value and
 * type tag) and return the call's status: 0, or the negative code the
 * host put in c->status.
 */
typedef int (*pk_thunk)(pk_ctx *c, const pk_val *a, pk_val *r);
typedef void (*pk_fnptr)(void);

enum { PK_EXPORT_F_CTX = 1 }; /* takes a pk_ctx * first */
/* PK_HOOK_THREADSAFE: no function (fn NULL); see PK_THREADSAFE. */
enum { PK_HOOK_INIT = 1, PK_HOOK_FINI = 2, PK_HOOK_THREADSAFE = 3 };

typedef struct pk_export_desc {
  const char *name; /* export name */
  const char *sig;  /* "(i32, i32)->i32" */
  pk_fnptr fn;      /* the typed function (flags say if it takes a ctx) */
  pk_thunk thunk;   /* generic entry */
  uint32_t flags;   /* PK_EXPORT_F_* */
} pk_export_desc;

typedef struct pk_hook_desc {
  uint32_t kind; /* PK_HOOK_* */
  pk_fnptr fn;   /* int (*)(pk_ctx *) or void (*)(pk_ctx *), per kind */
} pk_hook_desc;

#define PK_DESC_MAGIC 0x31444b50u /* "PKD1" in memory on little-endian */

/*
 * The plugin descriptor, exported as `pk_plugin_descriptor`. The first four
 * fields never move; the host checks magic, ABI and the three sizes before
 * it reads anything else, and reports which one differs.
 */
typedef struct pk_plugin_desc {
  uint32_t magic;     /* PK_DESC_MAGIC */
  uint32_t abi_major; /* PK_ABI_MAJOR the plugin was built with */
  uint32_t abi_minor;
  uint32_t size;        /* sizeof(pk_plugin_desc) */
  uint32_t export_size; /* sizeof(pk_export_desc) */
  uint32_t hook_size;   /* sizeof(pk_hook_desc) */
  uint32_t nexports;
  uint32_t nhooks;
  const char *name;
  const char *version;
  const pk_export_desc *exports;
  const pk_hook_desc *hooks;
} pk_plugin_desc;

#define PK_DESCRIPTOR_SYMBOL "pk_plugin_descriptor"

/* ---- helpers for plugin code ------------------------------------------ */

/* A pk_str with no content, to return after pk_fail. */
#define PK_STR_NONE PK__MAKE(pk_str, NULL, 0)
#define PK_BYTES_NONE PK__MAKE(pk_bytes, NULL, 0)

/* `n` bytes owned by the host, valid until the host consumed the result. */
static inline void *pk_alloc(pk_ctx *c, size_t n) {
  return c->api->alloc(c, n ? n : 1);
}

/* A copy of `len` bytes at `p` as a result string. */
static inline pk_str pk_str_dup(pk_ctx *c, const char *p, size_t len) {
  char *d = (char *)pk_alloc(c, len);
  pk_str s = {d, d ? len : 0};
  if (d != NULL && len > 0)
    memcpy(d, p, len);
  return s;
}

/* A result string: a followed by b (no formatting: cheap everywhere, and
   in wasm it does not pull printf into the module). */
static inline pk_str pk_str_cat(pk_ctx *c, pk_str a, pk_str b) {
  char *d = (char *)pk_alloc(c, a.len + b.len);
  pk_str s = {d, d ? a.len + b.len : 0};
  if (d != NULL) {
    if (a.len)
      memcpy(d, a.ptr, a.len);
    if (b.len)
      memcpy(d + a.len, b.ptr, b.len);
  }
  return s;
}

#if defined(__wasm__)
#define PK__WIMPORT(n) __attribute__((import_module("plugkit"), import_name(n)))
/* Bytes of the argument area (plugkit_arg_area; docs/wasm-abi.md). */
#ifndef PK__WARG_AREA
#define PK__WARG_AREA 1024
#endif
/*
 * In WebAssembly the host formats (docs/wasm-abi.md): these imports take
 * the format and the va_list, which in wasm32 is a pointer to the
 * arguments in guest memory, and format them with the host's printf. So
 * no printf is linked into the module (it was most of a small plugin's
 * code) and the text is the one a native build of the plugin prints.
 * vformat is vsnprintf: it writes at most cap bytes including a NUL and
 * returns the whole length.
 */
PK__WIMPORT("vfail") void pk__wi_vfail(const char *fmt, va_list ap);
PK__WIMPORT("vlog") void pk__wi_vlog(int level, const char *fmt, va_list ap);
PK__WIMPORT("vformat")
int pk__wi_vformat(const char *fmt, va_list ap, char *buf, size_t cap);
#define PK__VSNPRINTF(buf, cap, fmt, ap) pk__wi_vformat(fmt, ap, buf, cap)
#else
#define PK__VSNPRINTF(buf, cap, fmt, ap) vsnprintf(buf, cap, fmt, ap)
#endif

/* A result string formatted like printf. Empty when out of memory. */
static inline pk_str pk_str_vprintf(pk_ctx *c, const char *fmt, va_list ap) {
  pk_str s = {NULL, 0};
  va_list ap2;
  int n;
  char *d;
  va_copy(ap2, ap);
  n = PK__VSNPRINTF(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0 || (d = (char *)pk_alloc(c, (size_t)n + 1)) == NULL)
    return s;
  PK__VSNPRINTF(d, (size_t)n + 1, fmt, ap);
  s.ptr = d;
  s.len = (size_t)n;
  return s;
}

#if defined(__GNUC__) || defined(__clang__)
#define PK__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define PK__PRINTF(f, a)
#endif

static inline pk_str pk_str_printf(pk_ctx *c, const char *fmt, ...)
    PK__PRINTF(2, 3);
static inline pk_str pk_str_printf(pk_ctx *c, const char *fmt, ...) {
  va_list ap;
  pk_str s;
  va_start(ap, fmt);
  s = pk_str_vprintf(c, fmt, ap);
  va_end(ap);
  return s;
}

/* A writable result buffer of `n` bytes; wrap it as (pk_bytes){buf, n}. */
static inline uint8_t *pk_bytes_alloc(pk_ctx *c, size_t n) {
  return (uint8_t *)pk_alloc(c, n);
}

#if !defined(__wasm__)
/* Format into buf (512 bytes), truncating; returns the length. */
static inline size_t pk__vfmt(char *buf, const char *fmt, va_list ap) {
  int n = vsnprintf(buf, 512, fmt, ap);
  return n < 0 ? 0 : n >= 512 ? 511 : (size_t)n;
}
#endif

/* Fail the current call with a printf-style message (at most 511 bytes).
   The function should return right after (its result is ignored). */
static inline void pk_fail(pk_ctx *c, const char *fmt, ...) PK__PRINTF(2, 3);
static inline void pk_fail(pk_ctx *c, const char *fmt, ...) {
  va_list ap;
#if defined(__wasm__)
  va_start(ap, fmt);
  c->status = PK_EPLUGIN; /* as the table's fail does */
  pk__wi_vfail(fmt, ap);  /* the host formats, keeping 511 bytes */
  va_end(ap);
#else
  char buf[512];
  size_t n;
  va_start(ap, fmt);
  n = pk__vfmt(buf, fmt, ap);
  va_end(ap);
  c->api->fail(c, buf, n);
#endif
}

/* Log a printf-style line (at most 511 bytes) at `level` (PK_LOG_*). */
static inline void pk_log(pk_ctx *c, int level, const char *fmt, ...)
    PK__PRINTF(3, 4);
static inline void pk_log(pk_ctx *c, int level, const char *fmt, ...) {
  va_list ap;
#if defined(__wasm__)
  (void)c;
  va_start(ap, fmt);
  pk__wi_vlog(level, fmt, ap); /* the host formats, keeping 511 bytes */
  va_end(ap);
#else
  char buf[512];
  size_t n;
  va_start(ap, fmt);
  n = pk__vfmt(buf, fmt, ap);
  va_end(ap);
  c->api->log(c, level, buf, n);
#endif
}

/* The config value for `key` (NUL-terminated): PK_OK or PK_ENOENT. */
static inline int pk_config(pk_ctx *c, const char *key, pk_str *out) {
  return c->api->config(c, key, strlen(key), out);
}

/* The same, for a key given as a pk_str. */
static inline int pk_config_str(pk_ctx *c, pk_str key, pk_str *out) {
  return c->api->config(c, key.ptr, key.len, out);
}

/* Resolve a granted host function once (e.g. in init), call it often. */
static inline int pk_host_find(pk_ctx *c, const char *name, const char *sig,
                               int32_t *out_index) {
  return c->api->host_find(c, name, sig, out_index);
}
static inline int pk_host_call(pk_ctx *c, int32_t index, const pk_val *args,
                               size_t nargs, pk_val *results,
                               size_t nresults) {
  return c->api->host_call(c, index, args, nargs, results, nresults);
}

/* ---- the macros -------------------------------------------------------- */

#define PK_EXPORT(fn, ret, params) (PK__EXP, fn, ret, params, 0)
#define PK_EXPORT_CTX(fn, ret, params) (PK__EXPC, fn, ret, params, 1)
#define PK_INIT(fn) (PK__INIT, fn, void, (void), 0)
#define PK_FINI(fn) (PK__FINI, fn, void, (void), 0)
/*
 * PK_THREADSAFE: the plugin's exports (and its init and fini) may run on
 * several threads at once, so the host runs concurrent calls concurrently.
 * Without it the host serializes the calls of a native or source plugin
 * (include/plugkit.h, pk_func_call). Say it only when every export keeps
 * its shared state safe (atomics, locks, or none). A host older than
 * plugkit 0.2 refuses a plugin declaring it (hook kind 3).
 */
#define PK_THREADSAFE (PK__TSAFE, _, void, (void), 0)

/* Lets tests build plugins with a wrong ABI; plugins never set these. */
#ifndef PK__DESC_MAGIC
#define PK__DESC_MAGIC PK_DESC_MAGIC
#endif
#ifndef PK__DESC_ABI_MAJOR
#define PK__DESC_ABI_MAJOR PK_ABI_MAJOR
#endif
#ifndef PK__DESC_ABI_MINOR
#define PK__DESC_ABI_MINOR PK_ABI_MINOR
#endif
#ifndef PK__DESC_SIZE
#define PK__DESC_SIZE sizeof(pk_plugin_desc)
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PK__EXPORTED __attribute__((visibility("default"), used))
#else
#define PK__EXPORTED
#endif

/* In C++ a const object has internal linkage unless declared extern, and
   PK_PLUGIN is used outside any extern "C": the descriptor says both. */
#ifdef __cplusplus
#define PK__DESC_LINK extern "C"
#define PK__DESC_EXTERN extern "C" /* a declaration: no initialiser */
#else
#define PK__DESC_LINK
#define PK__DESC_EXTERN extern
#endif

/*
 * PK_PLUGIN(name, version, items...): define the plugin. Items are
 * PK_EXPORT, PK_EXPORT_CTX, PK_INIT, PK_FINI and PK_THREADSAFE; at most
 * 64.
 */
#define PK_PLUGIN(name, version, ...)                                       \
  PK__FOREACH(PK__ITEM_DEFS, __VA_ARGS__)                                   \
  static const pk_export_desc pk__exports[] = {                             \
      PK__FOREACH(PK__ITEM_EXPORT, __VA_ARGS__){NULL, NULL, NULL, NULL, 0}}; \
  static const pk_hook_desc pk__hooks[] = {                                 \
      PK__FOREACH(PK__ITEM_HOOK, __VA_ARGS__){0, NULL}};                    \
  PK__TARGET_EXTRA(__VA_ARGS__)                                             \
  PK__DESC_LINK PK__EXPORTED const pk_plugin_desc pk_plugin_descriptor = {  \
      PK__DESC_MAGIC,                                                       \
      PK__DESC_ABI_MAJOR,                                                   \
      PK__DESC_ABI_MINOR,                                                   \
      (uint32_t)(PK__DESC_SIZE),                                            \
      (uint32_t)sizeof(pk_export_desc),                                     \
      (uint32_t)sizeof(pk_hook_desc),                                       \
      (uint32_t)(sizeof pk__exports / sizeof pk__exports[0] - 1),           \
      (uint32_t)(sizeof pk__hooks / sizeof pk__hooks[0] - 1),               \
      (name),                                                               \
      (version),                                                            \
      pk__exports,                                                          \
      pk__hooks}

/* ---- wasm32: what a WebAssembly plugin adds (docs/wasm-abi.md) ---------- */

#if defined(__wasm__)

#define PK__WEXPORT(n) __attribute__((export_name(n)))

/* The host's side of the table, as imports from module "plugkit". */
PK__WIMPORT("fail") void pk__wi_fail(const char *msg, size_t len);
PK__WIMPORT("oom") void pk__wi_oom(size_t size);
PK__WIMPORT("log") void pk__wi_log(int level, const char *msg, size_t len);
PK__WIMPORT("config")
int pk__wi_config(const char *key, size_t keylen, pk_str *out);
PK__WIMPORT("host_find")
int pk__wi_host_find(const char *name, size_t namelen, const char *sig,
                     size_t siglen, int32_t *out_index);
PK__WIMPORT("host_call")
int pk__wi_host_call(int32_t index, const pk_val *args, size_t nargs,
                     pk_val *results, size_t nresults);

void *malloc(size_t);
void free(void *);

/*
 * The guest arena: results, arguments the host writes in (cabi_realloc)
 * and what the host returns to the guest. Reset by cabi_post_<fn> (the
 * host calls it when done with a result) or, for scalar-only exports,
 * when the outermost call returns. Keeps its largest block.
 */
typedef struct pk__wblock {
  struct pk__wblock *next;
  size_t cap, used;
} pk__wblock;
static pk__wblock *pk__wa;
/* The first block is static: small results never call malloc, so a
   plugin that does not use malloc itself never runs (nor, with the
   engine's lazy translation, translates) the C library's allocator. */
static struct {
  pk__wblock hdr;
  uint64_t bytes[512];
} pk__wa0 __attribute__((aligned(16))); /* as malloc's blocks */
static int pk__wdepth; /* exports running (host calls nest) */
static int pk__wpend;  /* the arena holds what the last outermost call
                          returned or was given: dead at the next entry */

static void *pk__walloc(size_t n, size_t align) {
  pk__wblock *b = pk__wa;
  size_t off, cap;
  if (align < 8)
    align = 8;
  if (b == NULL) {
    b = pk__wa = &pk__wa0.hdr;
    b->cap = sizeof pk__wa0.bytes;
  }
  off = (sizeof *b + b->used + align - 1) & ~(align - 1);
  if (off + n <= sizeof *b + b->cap) {
    b->used = off + n - sizeof *b;
    return (char *)b + off;
  }
  cap = b->cap * 2 > n + align ? b->cap * 2 : n + align + 4096;
  if ((b = (pk__wblock *)malloc(sizeof *b + cap)) == NULL)
    return NULL;
  b->next = pk__wa;
  b->cap = cap;
  off = (sizeof *b + align - 1) & ~(align - 1);
  b->used = off + n - sizeof *b;
  pk__wa = b;
  return (char *)b + off;
}

static void pk__wreset(void) {
  pk__wblock *b = pk__wa, *keep = NULL, *next;
  pk__wpend = 0;
  if (b == NULL)
    return;
  if (b->next == NULL) {
    b->used = 0;
    return;
  }
  for (; b != NULL; b = b->next)
    if (keep == NULL || b->cap > keep->cap)
      keep = b;
  for (b = pk__wa; b != NULL; b = next) {
    next = b->next;
    if (b != keep && b != &pk__wa0.hdr)
      free(b);
  }
  if (keep != NULL) {
    keep->used = 0;
    keep->next = NULL;
  }
  pk__wa = keep;
}

/* An outermost entry from the host (cabi_realloc for its arguments, or
   the export itself): the host is done with the previous call's result,
   so the post-return the canonical ABI would run now happens here (the
   module exports plugkit_auto_post to say so; the host then never calls
   cabi_post_<name>). */
static void pk__wenter(void) {
  if (pk__wdepth == 0 && pk__wpend)
    pk__wreset();
}

static void *pk__wapi_alloc(pk_ctx *c, size_t n) {
  void *m = pk__walloc(n, 8);
  if (m == NULL) {
    c->status = PK_ENOMEM;
    pk__wi_oom(n);
  }
  return m;
}
static void pk__wapi_fail(pk_ctx *c, const char *msg, size_t len) {
  c->status = PK_EPLUGIN;
  pk__wi_fail(msg, len);
}
static void pk__wapi_log(pk_ctx *c, int level, const char *msg, size_t len) {
  (void)c;
  pk__wi_log(level, msg, len);
}
static int pk__wapi_config(pk_ctx *c, const char *key, size_t keylen,
                           pk_str *out) {
  (void)c;
  return pk__wi_config(key, keylen, out);
}
static int pk__wapi_host_find(pk_ctx *c, const char *name, const char *sig,
                              int32_t *out_index) {
  (void)c;
  return pk__wi_host_find(name, strlen(name), sig, sig ? strlen(sig) : 0,
                          out_index);
}
static int pk__wapi_host_call(pk_ctx *c, int32_t index, const pk_val *args,
                              size_t nargs, pk_val *results,
                              size_t nresults) {
  (void)c;
  return pk__wi_host_call(index, args, nargs, results, nresults);
}

#define PK__TARGET_EXTRA(...)                                               \
  PK__DESC_EXTERN const pk_plugin_desc pk_plugin_descriptor;                \
  static const struct pk_host_api pk__wapi = {                              \
      PK_ABI_MAJOR,       PK_ABI_MINOR,       sizeof(struct pk_host_api),   \
      0,                  pk__wapi_alloc,     pk__wapi_fail,                \
      pk__wapi_log,       pk__wapi_config,    pk__wapi_host_find,           \
      pk__wapi_host_call};                                                  \
  static pk_ctx pk__wctx = {&pk__wapi, 0};                                  \
  PK__WEXPORT("plugkit_abi_v1") void pk__wabi(void) {}                      \
  PK__WEXPORT("plugkit_auto_post") void pk__wautopost(void) {}              \
  /* Small arguments: the host writes them here without a cabi_realloc   */ \
  /* call ({capacity, 0, bytes...}; outermost calls only).               */ \
  static struct {                                                           \
    uint32_t cap, zero;                                                     \
    uint64_t bytes[PK__WARG_AREA / 8];                                      \
  } pk__wargs;                                                              \
  PK__WEXPORT("plugkit_arg_area") void *pk__wargarea(void) {                \
    pk__wargs.cap = sizeof pk__wargs.bytes;                                 \
    return &pk__wargs;                                                      \
  }                                                                         \
  /* After a trap unwound exports without their epilogues. */               \
  PK__WEXPORT("plugkit_unwind") void pk__wunwind(void) {                    \
    pk__wdepth = 0;                                                         \
    pk__wreset();                                                           \
  }                                                                         \
  PK__WEXPORT("cabi_realloc")                                               \
  void *pk__wrealloc(void *old, size_t oldsize, size_t align, size_t n) {   \
    void *m;                                                                \
    pk__wenter();                                                           \
    if (old != NULL && n <= oldsize)                                        \
      return old;                                                           \
    m = pk__walloc(n, align);                                               \
    if (m != NULL && old != NULL)                                           \
      memcpy(m, old, oldsize);                                              \
    return m;                                                               \
  }                                                                         \
  PK__WEXPORT("plugkit_describe") const char *pk__wdescribe(void) {         \
    return pk__wdescribe_impl(&pk_plugin_descriptor);                       \
  }                                                                         \
  PK__WEXPORT("plugkit_init") int pk__winit(void) {                         \
    return pk__whooks(&pk_plugin_descriptor, &pk__wctx, PK_HOOK_INIT);      \
  }                                                                         \
  PK__WEXPORT("plugkit_fini") void pk__wfini(void) {                        \
    pk__whooks(&pk_plugin_descriptor, &pk__wctx, PK_HOOK_FINI);             \
  }                                                                         \
  PK__FOREACH(PK__ITEM_WASM, __VA_ARGS__)

/* "name\0version\0" then "export\0signature\0" each, then "\0". */
static const char *pk__wdescribe_impl(const pk_plugin_desc *d) {
  size_t n = strlen(d->name) + strlen(d->version) + 3, i;
  char *buf, *p;
  for (i = 0; i < d->nexports; i++)
    n += strlen(d->exports[i].name) + strlen(d->exports[i].sig) + 2;
  if ((buf = p = (char *)pk__walloc(n, 1)) == NULL)
    return NULL;
  p = strcpy(p, d->name) + strlen(d->name) + 1;
  p = strcpy(p, d->version) + strlen(d->version) + 1;
  for (i = 0; i < d->nexports; i++) {
    p = strcpy(p, d->exports[i].name) + strlen(d->exports[i].name) + 1;
    p = strcpy(p, d->exports[i].sig) + strlen(d->exports[i].sig) + 1;
  }
  *p = '\0';
  return buf;
}

static int pk__whooks(const pk_plugin_desc *d, pk_ctx *c, uint32_t kind) {
  uint32_t i;
  for (i = 0; i < d->nhooks; i++) {
    if (d->hooks[i].kind != kind)
      continue;
    c->status = 0;
    if (kind == PK_HOOK_INIT) {
      int rc = ((int (*)(pk_ctx *))d->hooks[i].fn)(c);
      if (rc != 0 || c->status != 0)
        return rc != 0 ? rc : c->status;
    } else {
      ((void (*)(pk_ctx *))d->hooks[i].fn)(c);
    }
  }
  pk__wreset();
  return 0;
}

/*
 * One export: a wrapper exported under the function's own name, with the
 * canonical ABI's lowering: scalars as themselves, str/bytes parameters
 * as (pointer, length), str/bytes results through a return area holding
 * (pointer, length). cabi_post_<name> releases what the call returned.
 */
#define PK__ITEM_WASM(item) PK__CALL(PK__WASM_, PK__KIND item, item)
#define PK__WASM_PK__INIT(k, fn, ret, params, ctx)
#define PK__WASM_PK__FINI(k, fn, ret, params, ctx)
#define PK__WASM_PK__TSAFE(k, fn, ret, params, ctx)
/* Without a context a function can neither allocate nor fail: its
   wrapper only adapts the types (clang folds it into a plain call). */
#define PK__WASM_PK__EXP(k, fn, ret, params, ctx)                           \
  PK__WEXPORT(#fn) PK__WRT_##ret pk__wx_##fn(PK__WPARAMS params) {          \
    PK__WRES_##ret pk__r;                                                   \
    if (!(PK__WSCALAR_##ret PK__WSCALARS params))                           \
      pk__wenter();                                                         \
    pk__r = PK__WCALL_##ret(fn(PK__WARGS params));                          \
    if (!(PK__WSCALAR_##ret PK__WSCALARS params) && pk__wdepth == 0)        \
      pk__wpend = 1;                                                        \
    PK__WRETURN_##ret(pk__r);                                               \
  }                                                                         \
  PK__WEXPORT("cabi_post_" #fn) void pk__wpost_##fn(void *r) {              \
    (void)r;                                                                \
    if (pk__wdepth == 0)                                                    \
      pk__wreset();                                                         \
  }
#define PK__WASM_PK__EXPC(k, fn, ret, params, ctx)                          \
  PK__WASM_FN(fn, ret, params, &pk__wctx PK__WARGS_C params)
#define PK__WASM_FN(fn, ret, params, call_args)                             \
  PK__WEXPORT(#fn) PK__WRT_##ret pk__wx_##fn(PK__WPARAMS params) {          \
    PK__WRES_##ret pk__r;                                                   \
    pk__wenter();                                                           \
    pk__wdepth++;                                                           \
    pk__wctx.status = 0;                                                    \
    pk__r = PK__WCALL_##ret(fn(call_args));                                 \
    /* A scalar export returns nothing in the arena: free it now; the    */ \
    /* arena of any other dies at the next outermost entry.              */ \
    if (--pk__wdepth == 0) {                                                \
      if (PK__WSCALAR_##ret PK__WSCALARS params)                            \
        pk__wreset();                                                       \
      else                                                                  \
        pk__wpend = 1;                                                      \
    }                                                                       \
    PK__WRETURN_##ret(pk__r);                                               \
  }                                                                         \
  PK__WEXPORT("cabi_post_" #fn) void pk__wpost_##fn(void *r) {              \
    (void)r;                                                                \
    if (pk__wdepth == 0)                                                    \
      pk__wreset();                                                         \
  }

/* The return area for str/bytes results: (pointer, length). */
typedef struct pk__wret_area {
  const void *ptr;
  size_t len;
} pk__wret_area;
static pk__wret_area pk__wret;

#define PK__WSCALARS(...) PK__FOREACH_I(PK__WSCALAR, __VA_ARGS__)
#define PK__WSCALAR(i, t) &&PK__WSCALAR_##t
#define PK__WSCALAR_i32 1
#define PK__WSCALAR_i64 1
#define PK__WSCALAR_f32 1
#define PK__WSCALAR_f64 1
#define PK__WSCALAR_str 0
#define PK__WSCALAR_bytes 0
#define PK__WSCALAR_void 1
#define PK__WPARAMS(...) PK__FOREACH_I(PK__WPARAM, __VA_ARGS__)
#define PK__WARGS(...) PK__FOREACH_I(PK__WARG, __VA_ARGS__)
#define PK__WARGS_C(...) PK__FOREACH_I(PK__WARG_C, __VA_ARGS__)
#define PK__WPARAM(i, t) PK__SEP##i PK__WP_##t(i)
#define PK__WARG(i, t) PK__SEP##i PK__WA_##t(i)
#define PK__WARG_C(i, t) PK__CSEP_##t PK__WA_##t(i)
#define PK__WP_i32(i) int32_t pk__a##i
#define PK__WP_i64(i) int64_t pk__a##i
#define PK__WP_f32(i) float pk__a##i
#define PK__WP_f64(i) double pk__a##i
#define PK__WP_str(i) const char *pk__a##i##p, size_t pk__a##i##n
#define PK__WP_bytes(i) const uint8_t *pk__a##i##p, size_t pk__a##i##n
#define PK__WP_void(i) void
#define PK__WA_i32(i) pk__a##i
#define PK__WA_i64(i) pk__a##i
#define PK__WA_f32(i) pk__a##i
#define PK__WA_f64(i) pk__a##i
#define PK__WA_str(i) PK__MAKE(pk_str, pk__a##i##p, pk__a##i##n)
#define PK__WA_bytes(i) PK__MAKE(pk_bytes, pk__a##i##p, pk__a##i##n)
#define PK__WA_void(i)
/* Wrapper result type, the local holding the result, and the return. */
#define PK__WRT_i32 int32_t
#define PK__WRT_i64 int64_t
#define PK__WRT_f32 float
#define PK__WRT_f64 double
#define PK__WRT_str pk__wret_area *
#define PK__WRT_bytes pk__wret_area *
#define PK__WRT_void void
#define PK__WRES_i32 int32_t
#define PK__WRES_i64 int64_t
#define PK__WRES_f32 float
#define PK__WRES_f64 double
#define PK__WRES_str pk_str
#define PK__WRES_bytes pk_bytes
#define PK__WRES_void int
#define PK__WCALL_i32(x) (x)
#define PK__WCALL_i64(x) (x)
#define PK__WCALL_f32(x) (x)
#define PK__WCALL_f64(x) (x)
#define PK__WCALL_str(x) (x)
#define PK__WCALL_bytes(x) (x)
#define PK__WCALL_void(x) ((x), 0)
#define PK__WRETURN_i32(r) return r
#define PK__WRETURN_i64(r) return r
#define PK__WRETURN_f32(r) return r
#define PK__WRETURN_f64(r) return r
#define PK__WRETURN_str(r)                                                  \
  pk__wret.ptr = (r).ptr;                                                   \
  pk__wret.len = (r).len;                                                   \
  return &pk__wret
#define PK__WRETURN_bytes(r) PK__WRETURN_str(r)
#define PK__WRETURN_void(r) (void)(r)

#else
#define PK__TARGET_EXTRA(...)
#endif /* __wasm__ */

/* Dispatch an item (kind, fn, ret, params, ctx) to a per-kind macro. */
#define PK__ITEM_DEFS(item) PK__CALL(PK__DEFS_, PK__KIND item, item)
#define PK__ITEM_EXPORT(item) PK__CALL(PK__EXPORT_, PK__KIND item, item)
#define PK__ITEM_HOOK(item) PK__CALL(PK__HOOK_, PK__KIND item, item)
#define PK__KIND(k, ...) k
#define PK__CALL(pre, k, item) PK__CALL2(pre, k, item)
#define PK__CALL2(pre, k, item) pre##k item

/* Per-item definitions: a compile-time type check, and the thunk. The
   check generates no code, so unused-function warnings cannot fire. */
#define PK__DEFS_PK__EXP(k, fn, ret, params, ctx)                           \
  PK__CHECK(fn, PK__RT_##ret (*)(PK__CTYPES params))                        \
  static int pk__thunk_##fn(pk_ctx *pk__c, const pk_val *pk__a,            \
                            pk_val *pk__r) {                                \
    (void)pk__c;                                                            \
    (void)pk__a;                                                            \
    (void)pk__r;                                                            \
    PK__RET_##ret(fn(PK__ARGS params));                                     \
    return 0;                                                               \
  }
#define PK__DEFS_PK__EXPC(k, fn, ret, params, ctx)                          \
  PK__CHECK(fn, PK__RT_##ret (*)(pk_ctx * PK__CTYPES_C params))             \
  static int pk__thunk_##fn(pk_ctx *pk__c, const pk_val *pk__a,            \
                            pk_val *pk__r) {                                \
    (void)pk__a;                                                            \
    (void)pk__r;                                                            \
    PK__RET_##ret(fn(pk__c PK__ARGS_C params));                             \
    return pk__c->status;                                                   \
  }
#define PK__DEFS_PK__INIT(k, fn, ret, params, ctx)                          \
  PK__CHECK(fn, int (*)(pk_ctx *))
#define PK__DEFS_PK__FINI(k, fn, ret, params, ctx)                          \
  PK__CHECK(fn, void (*)(pk_ctx *))
#define PK__DEFS_PK__TSAFE(k, fn, ret, params, ctx)

/* A compile-time error unless `fn` has exactly the C type `type`. */
#ifndef __cplusplus
#define PK__CHECK(fn, type)                                                 \
  _Static_assert(_Generic((fn), type: 1, default: 0),                       \
                 "plugkit: the C type of '" #fn "' does not match the "     \
                 "signature declared for it in PK_PLUGIN");
#else
/* C++ has no _Generic: compare the types with a template. An overloaded
   `fn` is an error too (&fn names no single function). */
#define PK__CHECK(fn, type)                                                 \
  static_assert(pk__same_type<decltype(&fn), type>::value,                  \
                "plugkit: the C type of '" #fn "' does not match the "      \
                "signature declared for it in PK_PLUGIN");
#endif

/* Descriptor entries. */
#define PK__EXPORT_PK__EXP(k, fn, ret, params, ctx)                         \
  {#fn, "(" PK__SIGS params ")->" PK__RS_##ret, (pk_fnptr)fn,               \
   pk__thunk_##fn, 0},
#define PK__EXPORT_PK__EXPC(k, fn, ret, params, ctx)                        \
  {#fn, "(" PK__SIGS params ")->" PK__RS_##ret, (pk_fnptr)fn,               \
   pk__thunk_##fn, PK_EXPORT_F_CTX},
#define PK__EXPORT_PK__INIT(k, fn, ret, params, ctx)
#define PK__EXPORT_PK__FINI(k, fn, ret, params, ctx)
#define PK__EXPORT_PK__TSAFE(k, fn, ret, params, ctx)
#define PK__HOOK_PK__EXP(k, fn, ret, params, ctx)
#define PK__HOOK_PK__EXPC(k, fn, ret, params, ctx)
#define PK__HOOK_PK__INIT(k, fn, ret, params, ctx) {PK_HOOK_INIT, (pk_fnptr)fn},
#define PK__HOOK_PK__FINI(k, fn, ret, params, ctx) {PK_HOOK_FINI, (pk_fnptr)fn},
#define PK__HOOK_PK__TSAFE(k, fn, ret, params, ctx) {PK_HOOK_THREADSAFE, NULL},

/* Parameter lists, from (i32, str) to C types, arguments, signature. */
#define PK__CTYPES(...) PK__FOREACH_I(PK__CTYPE, __VA_ARGS__)
#define PK__CTYPES_C(...) PK__FOREACH_I(PK__CTYPE_C, __VA_ARGS__)
#define PK__ARGS(...) PK__FOREACH_I(PK__ARG, __VA_ARGS__)
#define PK__ARGS_C(...) PK__FOREACH_I(PK__ARG_C, __VA_ARGS__)
#define PK__SIGS(...) PK__FOREACH_I(PK__SIG, __VA_ARGS__)
#define PK__CTYPE(i, t) PK__SEP##i PK__RT_##t
#define PK__CTYPE_C(i, t) PK__CSEP_##t PK__CT_##t
#define PK__ARG(i, t) PK__SEP##i PK__AV_##t(i)
#define PK__ARG_C(i, t) PK__CSEP_##t PK__AV_##t(i)
#define PK__SIG(i, t) PK__SSEP##i PK__PS_##t

#define PK__RT_i32 int32_t
#define PK__RT_i64 int64_t
#define PK__RT_f32 float
#define PK__RT_f64 double
#define PK__RT_str pk_str
#define PK__RT_bytes pk_bytes
#define PK__RT_void void
#define PK__CT_i32 int32_t
#define PK__CT_i64 int64_t
#define PK__CT_f32 float
#define PK__CT_f64 double
#define PK__CT_str pk_str
#define PK__CT_bytes pk_bytes
#define PK__CT_void
#define PK__CSEP_i32 ,
#define PK__CSEP_i64 ,
#define PK__CSEP_f32 ,
#define PK__CSEP_f64 ,
#define PK__CSEP_str ,
#define PK__CSEP_bytes ,
#define PK__CSEP_void
#define PK__AV_i32(i) pk__a[i].i32
#define PK__AV_i64(i) pk__a[i].i64
#define PK__AV_f32(i) pk__a[i].f32
#define PK__AV_f64(i) pk__a[i].f64
#define PK__AV_str(i) pk__a[i].str
#define PK__AV_bytes(i) pk__a[i].bytes
#define PK__AV_void(i)
#define PK__RET_i32(x) (pk__r[0].type = PK_T_I32, pk__r[0].i32 = (x))
#define PK__RET_i64(x) (pk__r[0].type = PK_T_I64, pk__r[0].i64 = (x))
#define PK__RET_f32(x) (pk__r[0].type = PK_T_F32, pk__r[0].f32 = (x))
#define PK__RET_f64(x) (pk__r[0].type = PK_T_F64, pk__r[0].f64 = (x))
#define PK__RET_str(x) (pk__r[0].type = PK_T_STR, pk__r[0].str = (x))
#define PK__RET_bytes(x) (pk__r[0].type = PK_T_BYTES, pk__r[0].bytes = (x))
#define PK__RET_void(x) (x)
#define PK__PS_i32 "i32"
#define PK__PS_i64 "i64"
#define PK__PS_f32 "f32"
#define PK__PS_f64 "f64"
#define PK__PS_str "str"
#define PK__PS_bytes "bytes"
#define PK__PS_void ""
#define PK__RS_i32 "i32"
#define PK__RS_i64 "i64"
#define PK__RS_f32 "f32"
#define PK__RS_f64 "f64"
#define PK__RS_str "str"
#define PK__RS_bytes "bytes"
#define PK__RS_void "()"

/* Separators by position: none before the first item. */
#define PK__SEP0
#define PK__SEP1 ,
#define PK__SEP2 ,
#define PK__SEP3 ,
#define PK__SEP4 ,
#define PK__SEP5 ,
#define PK__SEP6 ,
#define PK__SEP7 ,
#define PK__SEP8 ,
#define PK__SEP9 ,
#define PK__SEP10 ,
#define PK__SEP11 ,
#define PK__SEP12 ,
#define PK__SEP13 ,
#define PK__SEP14 ,
#define PK__SEP15 ,
#define PK__SSEP0
#define PK__SSEP1 ","
#define PK__SSEP2 ","
#define PK__SSEP3 ","
#define PK__SSEP4 ","
#define PK__SSEP5 ","
#define PK__SSEP6 ","
#define PK__SSEP7 ","
#define PK__SSEP8 ","
#define PK__SSEP9 ","
#define PK__SSEP10 ","
#define PK__SSEP11 ","
#define PK__SSEP12 ","
#define PK__SSEP13 ","
#define PK__SSEP14 ","
#define PK__SSEP15 ","

/* Count 1..64 arguments. */
#define PK__NARGS(...)                                                      \
  PK__NARGS_(__VA_ARGS__, 64, 63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53,   \
             52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42, 41, 40, 39, 38, 37, \
             36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, \
             20, 19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, \
             2, 1, 0)
#define PK__NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13,  \
                   _14, _15, _16, _17, _18, _19, _20, _21, _22, _23, _24,   \
                   _25, _26, _27, _28, _29, _30, _31, _32, _33, _34, _35,   \
                   _36, _37, _38, _39, _40, _41, _42, _43, _44, _45, _46,   \
                   _47, _48, _49, _50, _51, _52, _53, _54, _55, _56, _57,   \
                   _58, _59, _60, _61, _62, _63, _64, N, ...)               \
  N
#define PK__CAT(a, b) PK__CAT_(a, b)
#define PK__CAT_(a, b) a##b

/* PK__FOREACH(M, x...): M(x) for each x. */
#define PK__FOREACH(M, ...)                                                 \
  PK__CAT(PK__FE, PK__NARGS(__VA_ARGS__))(M, __VA_ARGS__)
#define PK__FE1(M, x) M(x)
#define PK__FE2(M, x, ...) M(x) PK__FE1(M, __VA_ARGS__)
#define PK__FE3(M, x, ...) M(x) PK__FE2(M, __VA_ARGS__)
#define PK__FE4(M, x, ...) M(x) PK__FE3(M, __VA_ARGS__)
#define PK__FE5(M, x, ...) M(x) PK__FE4(M, __VA_ARGS__)
#define PK__FE6(M, x, ...) M(x) PK__FE5(M, __VA_ARGS__)
#define PK__FE7(M, x, ...) M(x) PK__FE6(M, __VA_ARGS__)
#define PK__FE8(M, x, ...) M(x) PK__FE7(M, __VA_ARGS__)
#define PK__FE9(M, x, ...) M(x) PK__FE8(M, __VA_ARGS__)
#define PK__FE10(M, x, ...) M(x) PK__FE9(M, __VA_ARGS__)
#define PK__FE11(M, x, ...) M(x) PK__FE10(M, __VA_ARGS__)
#define PK__FE12(M, x, ...) M(x) PK__FE11(M, __VA_ARGS__)
#define PK__FE13(M, x, ...) M(x) PK__FE12(M, __VA_ARGS__)
#define PK__FE14(M, x, ...) M(x) PK__FE13(M, __VA_ARGS__)
#define PK__FE15(M, x, ...) M(x) PK__FE14(M, __VA_ARGS__)
#define PK__FE16(M, x, ...) M(x) PK__FE15(M, __VA_ARGS__)
#define PK__FE17(M, x, ...) M(x) PK__FE16(M, __VA_ARGS__)
#define PK__FE18(M, x, ...) M(x) PK__FE17(M, __VA_ARGS__)
#define PK__FE19(M, x, ...) M(x) PK__FE18(M, __VA_ARGS__)
#define PK__FE20(M, x, ...) M(x) PK__FE19(M, __VA_ARGS__)
#define PK__FE21(M, x, ...) M(x) PK__FE20(M, __VA_ARGS__)
#define PK__FE22(M, x, ...) M(x) PK__FE21(M, __VA_ARGS__)
#define PK__FE23(M, x, ...) M(x) PK__FE22(M, __VA_ARGS__)
#define PK__FE24(M, x, ...) M(x) PK__FE23(M, __VA_ARGS__)
#define PK__FE25(M, x, ...) M(x) PK__FE24(M, __VA_ARGS__)
#define PK__FE26(M, x, ...) M(x) PK__FE25(M, __VA_ARGS__)
#define PK__FE27(M, x, ...) M(x) PK__FE26(M, __VA_ARGS__)
#define PK__FE28(M, x, ...) M(x) PK__FE27(M, __VA_ARGS__)
#define PK__FE29(M, x, ...) M(x) PK__FE28(M, __VA_ARGS__)
#define PK__FE30(M, x, ...) M(x) PK__FE29(M, __VA_ARGS__)
#define PK__FE31(M, x, ...) M(x) PK__FE30(M, __VA_ARGS__)
#define PK__FE32(M, x, ...) M(x) PK__FE31(M, __VA_ARGS__)
#define PK__FE33(M, x, ...) M(x) PK__FE32(M, __VA_ARGS__)
#define PK__FE34(M, x, ...) M(x) PK__FE33(M, __VA_ARGS__)
#define PK__FE35(M, x, ...) M(x) PK__FE34(M, __VA_ARGS__)
#define PK__FE36(M, x, ...) M(x) PK__FE35(M, __VA_ARGS__)
#define PK__FE37(M, x, ...) M(x) PK__FE36(M, __VA_ARGS__)
#define PK__FE38(M, x, ...) M(x) PK__FE37(M, __VA_ARGS__)
#define PK__FE39(M, x, ...) M(x) PK__FE38(M, __VA_ARGS__)
#define PK__FE40(M, x, ...) M(x) PK__FE39(M, __VA_ARGS__)
#define PK__FE41(M, x, ...) M(x) PK__FE40(M, __VA_ARGS__)
#define PK__FE42(M, x, ...) M(x) PK__FE41(M, __VA_ARGS__)
#define PK__FE43(M, x, ...) M(x) PK__FE42(M, __VA_ARGS__)
#define PK__FE44(M, x, ...) M(x) PK__FE43(M, __VA_ARGS__)
#define PK__FE45(M, x, ...) M(x) PK__FE44(M, __VA_ARGS__)
#define PK__FE46(M, x, ...) M(x) PK__FE45(M, __VA_ARGS__)
#define PK__FE47(M, x, ...) M(x) PK__FE46(M, __VA_ARGS__)
#define PK__FE48(M, x, ...) M(x) PK__FE47(M, __VA_ARGS__)
#define PK__FE49(M, x, ...) M(x) PK__FE48(M, __VA_ARGS__)
#define PK__FE50(M, x, ...) M(x) PK__FE49(M, __VA_ARGS__)
#define PK__FE51(M, x, ...) M(x) PK__FE50(M, __VA_ARGS__)
#define PK__FE52(M, x, ...) M(x) PK__FE51(M, __VA_ARGS__)
#define PK__FE53(M, x, ...) M(x) PK__FE52(M, __VA_ARGS__)
#define PK__FE54(M, x, ...) M(x) PK__FE53(M, __VA_ARGS__)
#define PK__FE55(M, x, ...) M(x) PK__FE54(M, __VA_ARGS__)
#define PK__FE56(M, x, ...) M(x) PK__FE55(M, __VA_ARGS__)
#define PK__FE57(M, x, ...) M(x) PK__FE56(M, __VA_ARGS__)
#define PK__FE58(M, x, ...) M(x) PK__FE57(M, __VA_ARGS__)
#define PK__FE59(M, x, ...) M(x) PK__FE58(M, __VA_ARGS__)
#define PK__FE60(M, x, ...) M(x) PK__FE59(M, __VA_ARGS__)
#define PK__FE61(M, x, ...) M(x) PK__FE60(M, __VA_ARGS__)
#define PK__FE62(M, x, ...) M(x) PK__FE61(M, __VA_ARGS__)
#define PK__FE63(M, x, ...) M(x) PK__FE62(M, __VA_ARGS__)
#define PK__FE64(M, x, ...) M(x) PK__FE63(M, __VA_ARGS__)

/* Count 1..16 arguments: parameter lists are short, and a narrower count
   expands faster (it is most of what a compiler spends on PK_PLUGIN). */
#define PK__NARGS16(...)                                                    \
  PK__NARGS16_(__VA_ARGS__, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, \
               2, 1, 0)
#define PK__NARGS16_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, \
                     _14, _15, _16, N, ...)                                 \
  N

/* PK__FOREACH_I(M, t...): M(0, t0) M(1, t1) ... for at most 16 items. */
#define PK__FOREACH_I(M, ...)                                               \
  PK__CAT(PK__FI, PK__NARGS16(__VA_ARGS__))(M, __VA_ARGS__)
#define PK__FI1(M, a) M(0, a)
#define PK__FI2(M, a, b) M(0, a) M(1, b)
#define PK__FI3(M, a, b, c) PK__FI2(M, a, b) M(2, c)
#define PK__FI4(M, a, b, c, d) PK__FI3(M, a, b, c) M(3, d)
#define PK__FI5(M, a, b, c, d, e) PK__FI4(M, a, b, c, d) M(4, e)
#define PK__FI6(M, a, b, c, d, e, f) PK__FI5(M, a, b, c, d, e) M(5, f)
#define PK__FI7(M, a, b, c, d, e, f, g) PK__FI6(M, a, b, c, d, e, f) M(6, g)
#define PK__FI8(M, a, b, c, d, e, f, g, h)                                  \
  PK__FI7(M, a, b, c, d, e, f, g) M(7, h)
#define PK__FI9(M, a, b, c, d, e, f, g, h, i)                               \
  PK__FI8(M, a, b, c, d, e, f, g, h) M(8, i)
#define PK__FI10(M, a, b, c, d, e, f, g, h, i, j)                           \
  PK__FI9(M, a, b, c, d, e, f, g, h, i) M(9, j)
#define PK__FI11(M, a, b, c, d, e, f, g, h, i, j, k)                        \
  PK__FI10(M, a, b, c, d, e, f, g, h, i, j) M(10, k)
#define PK__FI12(M, a, b, c, d, e, f, g, h, i, j, k, l)                     \
  PK__FI11(M, a, b, c, d, e, f, g, h, i, j, k) M(11, l)
#define PK__FI13(M, a, b, c, d, e, f, g, h, i, j, k, l, m)                  \
  PK__FI12(M, a, b, c, d, e, f, g, h, i, j, k, l) M(12, m)
#define PK__FI14(M, a, b, c, d, e, f, g, h, i, j, k, l, m, n)               \
  PK__FI13(M, a, b, c, d, e, f, g, h, i, j, k, l, m) M(13, n)
#define PK__FI15(M, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o)            \
  PK__FI14(M, a, b, c, d, e, f, g, h, i, j, k, l, m, n) M(14, o)
#define PK__FI16(M, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p)         \
  PK__FI15(M, a, b, c, d, e, f, g, h, i, j, k, l, m, n, o) M(15, p)

#ifdef __cplusplus
}
#endif

#endif /* PK_PLUGKIT_PLUGIN_H */
