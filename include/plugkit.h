/*
 * plugkit.h: the host API. The one header a host program includes.
 *
 * A host creates a pk_host, defines the host functions plugins may call,
 * opens plugins (a shared object, a WebAssembly module, a C source file,
 * a Lua script, an executable: the backend is detected from the file), looks
 * up their exported functions with a signature check and calls them with
 * arrays of pk_val.
 *
 * Conventions, for every function below:
 * - Fallible functions return PK_OK (0) or a negative PK_E* code; outputs
 *   (`out_*`) are written only on success. The detail of the last failure
 *   (file, phase, cause) is in pk_host_errmsg().
 * - Threads: a pk_host and everything opened from it is used by one thread
 *   at a time. Distinct hosts are independent. pk_errname, pk_strerror,
 *   pk_version* and pk_sig_* are thread-safe.
 * - Strings passed in are copied unless a comment says otherwise.
 * - The *_destroy and *_close functions accept NULL.
 */
#ifndef PK_PLUGKIT_H
#define PK_PLUGKIT_H

#include "plugkit_types.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef PK_API
#if defined(_WIN32) && defined(PK_BUILDING_SHARED)
#define PK_API __declspec(dllexport)
#elif defined(_WIN32) && defined(PK_USING_SHARED)
#define PK_API __declspec(dllimport)
#elif defined(__GNUC__)
#define PK_API __attribute__((visibility("default")))
#else
#define PK_API
#endif
#endif

typedef struct pk_host pk_host;     /* a plugin host: owns plugins */
typedef struct pk_plugin pk_plugin; /* one opened plugin */
typedef struct pk_func pk_func;     /* one exported function of a plugin */

/* ---- version and errors ------------------------------------------------ */

/* PK_VERSION_HEX of the library actually linked. */
PK_API unsigned pk_version(void);
/* "0.1.0". Static storage. */
PK_API const char *pk_version_string(void);
/* "EINVAL" for PK_EINVAL, "OK" for 0, "unknown" otherwise. Static. */
PK_API const char *pk_errname(int code);
/* One-line description of a code. Static storage. */
PK_API const char *pk_strerror(int code);

/*
 * Backends compiled into this library, as a NULL-terminated array of names
 * ("native", "wasm", ...). Static storage.
 */
PK_API const char *const *pk_backends(void);

/* ---- host -------------------------------------------------------------- */

/*
 * The allocator hook, shaped like realloc: with size 0 it frees `ptr` and
 * returns NULL; otherwise it returns a block of `size` bytes (moving `ptr`'s
 * contents) or NULL when out of memory, leaving `ptr` untouched. Every
 * allocation the library makes for a host goes through it.
 */
typedef void *(*pk_alloc_fn)(void *ud, void *ptr, size_t size);

/*
 * The log sink: receives what plugins log (pk_log, a wasm plugin's stdout
 * and stderr, a process plugin's stderr). `plugin` is the plugin's name;
 * `msg` is `len` bytes, not NUL-terminated. Both are borrowed for the call.
 */
typedef void (*pk_log_fn)(void *ud, int level, const char *plugin,
                          const char *msg, size_t len);

/* Host options. Size-versioned: set `size`, as PK_HOST_OPTS_INIT does. */
typedef struct pk_host_opts {
  size_t size;       /* sizeof(pk_host_opts) as the caller compiled it */
  pk_alloc_fn alloc; /* NULL: the C library's realloc/free */
  void *alloc_ud;
  pk_log_fn log; /* NULL: plugin log lines are dropped */
  void *log_ud;
} pk_host_opts;

#define PK_HOST_OPTS_INIT {sizeof(pk_host_opts), NULL, NULL, NULL, NULL}

/*
 * Create a host. `opts` may be NULL for the defaults; it is copied.
 * Returns PK_EINVAL (bad arguments or opts->size), PK_ENOMEM.
 * The caller owns *out_host: release it with pk_host_destroy.
 */
PK_API int pk_host_create(const pk_host_opts *opts, pk_host **out_host);

/* Close every plugin still open on the host, then free the host. */
PK_API void pk_host_destroy(pk_host *host);

/*
 * The message of the last failure on this host or any of its plugins:
 * "<file>: <phase>: <cause>", e.g. "plug.so: resolve: no export 'sum'".
 * Borrowed: valid until the next call into the library with this host or
 * its plugins. Never NULL ("" when nothing failed yet).
 */
PK_API const char *pk_host_errmsg(const pk_host *host);

/*
 * A host function. The plugin passes `args` (as many as the signature has
 * parameters, types already checked) and the callback writes the results
 * into `results` (as many as the signature has; the library sets their
 * type tags). `caller` is the plugin calling. A str or bytes result must stay
 * valid until the plugin's call returns to the host: use static data, data
 * owned by `ud`, or pk_plugin_scratch(caller, n).
 * Return PK_OK, or a negative code, which the plugin receives as the result
 * of its host call (and pk_plugin_fail may give it a message).
 * Nesting: a host function may call back into a plugin (any of the host's),
 * whose code may call a host function again, and so on, up to 64 host
 * functions running at once on the host; the 65th host call fails with
 * PK_ELIMIT (message "nesting depth 65 exceeds the limit of 64"), so a
 * plugin cannot exhaust the host's stack this way.
 */
typedef int (*pk_host_fn)(void *ud, pk_plugin *caller, const pk_val *args,
                          pk_val *results);

/*
 * Define a host function that plugins may call when granted. `name` is an
 * identifier (letters, digits, '_', '.', at most 63 bytes); `sig` a
 * signature such as "(str)->()". Define host functions before opening the
 * plugins that use them.
 * Returns PK_EINVAL (bad name or signature, or already defined), PK_ENOMEM.
 */
PK_API int pk_host_define(pk_host *host, const char *name, const char *sig,
                          pk_host_fn fn, void *ud);

/* ---- plugins ----------------------------------------------------------- */

enum pk_isolation {
  PK_ISOLATE_NONE = 0,   /* in the host process (the default) */
  PK_ISOLATE_PROCESS = 1 /* in a child process: see docs/backends */
};

/*
 * Options for pk_plugin_open. Size-versioned: start from PK_OPEN_OPTS_INIT;
 * fields appended later read as zero for callers compiled before them.
 */
typedef struct pk_open_opts {
  size_t size;          /* sizeof(pk_open_opts) as the caller compiled it */
  const char *backend;  /* NULL: detect from the file's content; or "native",
                           "wasm", ... to force one */
  int isolation;        /* a pk_isolation */
  const char *grants;   /* host functions the plugin may call: names joined
                           with ',' ("log,now"), "*" for all, NULL for none */
  const char *const *config; /* key/value pairs for the plugin's init:
                                {"k1", "v1", "k2", "v2", NULL}; or NULL */
  /*
   * Limits (docs/limits.md has the model and which backend honours
   * which). A backend that cannot enforce a limit it is given fails the
   * open with PK_ENOSYS naming it: none is silently ignored. Zero is the
   * default of each: no limit.
   *
   * call_timeout_ms: wasm, lua and process plugins (native and source
   * ones only under process isolation).
   */
  int call_timeout_ms; /* a deadline for the whole call (its log lines,
                          host calls and nested calls included): past it
                          PK_ETIMEOUT (a child process is killed). It
                          bounds the open too (start function, init; for
                          a child the whole handshake, 10 s when 0). */
  /*
   * A child process's options: process plugins only (process isolation
   * and executable plugins; docs/backends/process.md).
   */
  int restart;         /* after the child died or was killed: 0 never
                          (calls fail with PK_ECRASH); 1 start a new one on
                          the next call, backing off when starting fails */
  int spin_ns;         /* how long a waiting side spins before it sleeps
                          on a futex: 0 the default (20000 ns, none when
                          the host may use only one CPU); < 0 never spin */
  int transport;       /* 0: a shared-memory slot for calls, the socket
                          for frames too large for it; 1: the socket only */
  unsigned harden;     /* bits: 1 no-new-privileges, 2 an empty
                          environment (only the protocol's variables),
                          4 a seccomp allow-list, installed by
                          plugkit-runner before the plugin loads, on every
                          thread (isolated plugins only: an executable
                          plugin gets PK_ENOSYS) */
  uint32_t limit_files; /* RLIMIT_NOFILE for the child; 0: inherited */
  uint32_t limit_cpu_s; /* RLIMIT_CPU seconds for the child; 0: inherited */
  uint64_t limit_mem;   /* RLIMIT_AS bytes for the child; 0: inherited */
  /*
   * Sandboxed in-process backends (wasm, lua): limits per plugin.
   * Exceeding one fails the call with PK_ELIMIT and the plugin stays
   * usable. These backends also honour call_timeout_ms as a deadline for
   * the whole call (PK_ETIMEOUT). 0: none. Lua: the smaller of these and
   * the config keys lua.memory, lua.instructions (docs/backends/lua.md).
   */
  uint64_t max_memory; /* bytes of linear memory, rounded down to pages
                          (lua: bytes the Lua state holds) */
  uint64_t fuel;       /* per call: function calls + loop iterations (lua:
                          VM instructions and library steps) */
  const char *fs_root; /* a host directory the plugin may read (wasm: the
                          WASI preopen "/", read-only); NULL: no files */
  /*
   * wasm: 1 validates and translates every function at open. 0 (the
   * default) does each at its first call, so a plugin opens in time for
   * the code it runs rather than all it has; an invalid function body
   * then fails the call that reaches it with PK_EFORMAT (the plugin stays
   * usable) instead of failing the open. Either way no function runs
   * before it was validated.
   */
  int validate_all;
  /*
   * 1: describe the plugin without running its code: name, version, ABI
   * and exports (pk_plugin_info_get, pk_plugin_export, pk_plugin_func)
   * are read from the file, and pk_func_call fails with PK_EINVAL. What
   * each backend does: native and executables: the pk_plugin_descriptor
   * data is read from the ELF file (no constructor, no init; an
   * executable without it is refused with PK_ENODESC, never run); wasm:
   * the module is decoded and instantiated, and only plugkit_describe
   * (and plugkit_arg_area) run, under a fuel of PK_DESCRIBE_FUEL (no
   * start function, _initialize or init); lua: the chunk runs in the
   * sandbox (that is how the table is made) under a budget of at most
   * PK_DESCRIBE_FUEL instructions, no init; source: compiled and
   * relocated by libtcc, which runs no constructors, no init; a script
   * or Python plugin cannot be described without running it: PK_ENOSYS.
   * What runs (wasm, lua) runs under the limits above, its fuel capped
   * at PK_DESCRIBE_FUEL; where nothing runs they have nothing to bound.
   * The describe-only open is made in the host even under
   * PK_ISOLATE_PROCESS: no native code is loaded, and what runs is
   * sandboxed (docs/limits.md). 0 (the default): a normal open.
   */
  int describe_only;
  /*
   * wasm: the execution tier (docs/backends/wasm.md). NULL or "interp":
   * the interpreter (the default). "jit": every function is translated
   * to C and compiled in memory with libtcc at open, so no toolchain is
   * needed at run time; the same semantics (traps and their messages,
   * fuel, call_timeout_ms, limits), the open taking longer (about
   * 1 ms per 10 KiB of code). "aot": native code the system C compiler
   * built ahead of time (pk_wasm_compile, `plugkit compile`): the
   * artifact at aot_path, else the one in the user's cache for this
   * module; none there is PK_ENOENT, and one that is stale, foreign,
   * tampered or not private is refused with a message naming it and why
   * (PK_EABI, PK_EARCH, PK_EFORMAT, PK_EUNTRUSTED), never loaded.
   * "auto": aot when a valid artifact is there, else jit, else the
   * interpreter. A build without libtcc, or a module the jit tier
   * cannot compile, fails a "jit" open with PK_ENOSYS naming why; an
   * unknown name is PK_EINVAL. Other backends ignore it; under
   * PK_ISOLATE_PROCESS the child uses the interpreter.
   * pk_plugin_info.tier reports the tier in use. Read only when
   * opts->size covers it (a caller built before it gets "interp").
   */
  const char *tier;
  /*
   * wasm, tiers "aot" and "auto": the artifact to use (a file
   * pk_wasm_compile wrote) instead of the cache's. It must be a regular
   * file owned by the user and writable by nobody else, built from this
   * very module (its SHA-256 is checked) by this library. Borrowed for
   * the open. NULL: the cache ($XDG_CACHE_HOME/plugkit, else
   * ~/.cache/plugkit).
   */
  const char *aot_path;
} pk_open_opts;

/* The instruction budget of a describe-only open of a wasm or Lua plugin. */
#define PK_DESCRIBE_FUEL 1000000u

#define PK_OPEN_OPTS_INIT                                                   \
  {sizeof(pk_open_opts), NULL, PK_ISOLATE_NONE, NULL, NULL, 0, 0, 0, 0, 0u, \
   0, 0, 0, 0, 0, NULL, 0, 0, NULL, NULL}

/*
 * Open the plugin at `path` and run its init hook (with
 * opts->describe_only, only read what it declares: no init, see there).
 * `opts` may be NULL for the defaults; it and everything it points to is
 * copied.
 * Errors (each with a message naming the file and the phase): PK_EINVAL,
 * PK_ENOENT (no such file or grant), PK_EIO, PK_EFORMAT (no backend reads
 * it, or the backend finds it malformed), PK_EARCH, PK_ENODESC, PK_EABI,
 * PK_EINIT, PK_ENOSYS (backend or isolation not built in, or a limit the
 * backend cannot enforce), PK_ELIMIT (a limit hit while opening, or a
 * plugin over a fixed cap), PK_ETIMEOUT, PK_ENOMEM.
 * The plugin belongs to `host`: close it with pk_plugin_close, or it is
 * closed by pk_host_destroy.
 */
PK_API int pk_plugin_open(pk_host *host, const char *path,
                          const pk_open_opts *opts, pk_plugin **out_plugin);

/*
 * Run the plugin's fini hook, unload it and free it. A wasm plugin's large
 * buffers (value stack, frames, linear memory up to 4 MiB) are kept by the
 * host, at most four, for the next open to reuse; pk_host_destroy frees
 * them.
 */
PK_API void pk_plugin_close(pk_plugin *plugin);

/* What pk_plugin_info reports. Strings are borrowed from the plugin. */
typedef struct pk_plugin_info {
  size_t size;         /* set by the caller: sizeof(pk_plugin_info) */
  const char *name;    /* the plugin's declared name */
  const char *version; /* the plugin's declared version */
  const char *backend; /* "native", "wasm", "source", "lua" or "process"
                          (an executable plugin); under isolation =
                          PK_ISOLATE_PROCESS "process:<inner>", the
                          backend reading it in plugkit-runner:
                          "process:native", "process:wasm", ... */
  const char *path;    /* as given to pk_plugin_open */
  uint32_t abi_major;  /* the plugkit ABI the plugin was built for */
  uint32_t abi_minor;
  size_t nexports;     /* at most 65536: a plugin declaring more fails to
                          open with PK_ELIMIT */
  const char *tier;    /* wasm: the execution tier in use, "interp",
                          "jit" or "aot" (pk_open_opts.tier); "" for the
                          other backends */
} pk_plugin_info;

/* An empty pk_plugin_info with its size set:
   `pk_plugin_info info = PK_PLUGIN_INFO_INIT;` */
#define PK_PLUGIN_INFO_INIT                                                 \
  {sizeof(pk_plugin_info), NULL, NULL, NULL, NULL, 0u, 0u, 0, NULL}

/*
 * Describe a plugin. `info->size` must be set; fields beyond it are not
 * written. Strings are valid until the plugin is closed.
 */
PK_API int pk_plugin_info_get(const pk_plugin *plugin, pk_plugin_info *info);

/*
 * The i-th export (0 <= i < nexports): its name and canonical signature
 * ("(i32,i32)->i32"), both borrowed until the plugin is closed.
 * Returns PK_EINVAL, PK_ENOENT (i out of range).
 */
PK_API int pk_plugin_export(const pk_plugin *plugin, size_t i,
                            const char **out_name, const char **out_sig);

/*
 * Look up the export `name`. When `sig` is not NULL it must equal the
 * export's signature (spaces ignored), else PK_ESIG with both signatures
 * in the message. Returns PK_ENOSYM when there is no such export.
 * *out_func is borrowed from the plugin: valid until it is closed. No
 * allocation.
 */
PK_API int pk_plugin_func(pk_plugin *plugin, const char *name,
                          const char *sig, pk_func **out_func);

/*
 * Call a function. `args` holds `nargs` values whose types match the
 * signature's parameters (else PK_ETYPE); `results` has room for `nresults`
 * values, at least as many as the signature's results (else PK_EINVAL).
 * Results of type str or bytes may point into memory the plugin or library
 * owns: they stay valid until the next call on the same plugin or its
 * close; copy them to keep them.
 * Errors: PK_EPLUGIN (the plugin failed the call, message in
 * pk_host_errmsg), PK_ETRAP, PK_ECRASH, PK_ETIMEOUT, PK_ELIMIT, ...
 * Scalar calls on in-process backends do not allocate.
 */
PK_API int pk_func_call(pk_func *fn, const pk_val *args, size_t nargs,
                        pk_val *results, size_t nresults);

/* The function's canonical signature and name. Borrowed from the plugin. */
PK_API const char *pk_func_sig(const pk_func *fn);
PK_API const char *pk_func_name(const pk_func *fn);

/* Parameter and result counts, and the pk_type of parameter or result `i`
   (PK_ENOENT when i is out of range, PK_EINVAL for a NULL fn). */
PK_API size_t pk_func_nparams(const pk_func *fn);
PK_API size_t pk_func_nresults(const pk_func *fn);
PK_API int pk_func_param_type(const pk_func *fn, size_t i);
PK_API int pk_func_result_type(const pk_func *fn, size_t i);

/*
 * The plugin's typed entry point, for backends whose exports are machine
 * code in this process (native, source): cast it to the C type the
 * signature implies, e.g. int32_t (*)(int32_t, int32_t) for "(i32,i32)->i32",
 * and call it directly, with no checks and no error reporting; functions
 * exported with a context take a pk_ctx * first and cannot be called this
 * way (NULL). NULL for every other backend.
 */
typedef void (*pk_raw_fn)(void);
PK_API pk_raw_fn pk_func_raw(const pk_func *fn);

/*
 * Scratch memory for a host function's str or bytes results: `n` bytes
 * owned by the plugin's call arena, valid until the plugin's next call from
 * the host starts (or it is closed). NULL when out of memory.
 */
PK_API void *pk_plugin_scratch(pk_plugin *plugin, size_t n);

/*
 * From inside a host function: set the message the plugin's call error
 * will carry ("host function 'x' failed: <msg>"). Return the code next.
 */
PK_API void pk_plugin_fail(pk_plugin *plugin, const char *msg);

/* ---- signatures -------------------------------------------------------- */

/*
 * Check a signature string and write its canonical form (no spaces) into
 * `buf` (`cap` bytes, NUL-terminated). Returns the canonical length, or
 * PK_EINVAL when the signature is malformed, or PK_ENOMEM when `cap` is too
 * small.
 */
PK_API int pk_sig_normalize(const char *sig, char *buf, size_t cap);

/* "i32", "str", ... for a pk_type; "?" for anything else. Static. */
PK_API const char *pk_type_name(int type);

/*
 * wasm, the aot tier: compile the WebAssembly module at `path` to native
 * code with the system C compiler (cc, else gcc, on PATH, at -O2) and
 * write the artifact to `out_path`, or, when out_path is NULL, into the
 * user's cache ($XDG_CACHE_HOME/plugkit, else ~/.cache/plugkit, created
 * 0700 and refused if others may write it), where an open with tier
 * "aot" or "auto" finds it. The artifact records the module's SHA-256,
 * this library's engine version, the target and the compiler, all
 * checked when it is loaded. The path written is copied to `written`
 * (cap bytes) when not NULL. Slow (a C compiler run): do it ahead of
 * time. Returns PK_OK, PK_ENOSYS (no C compiler, or no wasm backend in
 * this build), PK_ENOENT/PK_EIO (the file), PK_EFORMAT (not a valid
 * module), PK_EUNTRUSTED (the cache folder), PK_ENOMEM; the message is
 * in pk_host_errmsg.
 */
PK_API int pk_wasm_compile(pk_host *host, const char *path,
                           const char *out_path, char *written, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* PK_PLUGKIT_H */
