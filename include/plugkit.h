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
 * - Threads: a pk_host may be used by many threads at once. Define its
 *   host functions first (pk_host_define is not thread-safe, and must not
 *   run while plugins of the host are being opened or called); then open,
 *   look up, call and close plugins from any thread. The allocator hook
 *   and the log sink are then called from those threads, concurrently:
 *   they must be thread-safe. pk_host_destroy must not race with any other
 *   call on the host. Every function that takes a pk_plugin or pk_func may
 *   be called while other threads use the same plugin; what each call
 *   may do concurrently is said at pk_func_call. pk_errname,
 *   pk_strerror, pk_version* and pk_sig_* are thread-safe.
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
 * allocation the library makes for a host goes through it, but for the
 * linear memory of wasm pool instances made from a post-init image,
 * which is a copy-on-write mapping of it (docs/backends/wasm.md).
 */
typedef void *(*pk_alloc_fn)(void *ud, void *ptr, size_t size);

/*
 * The log sink: receives what plugins log (pk_log, a wasm plugin's stdout
 * and stderr, a process plugin's stderr). `plugin` is the plugin's name;
 * `msg` is `len` bytes, not NUL-terminated, at most 64 KiB (a longer
 * message is cut there). Both are borrowed for the call.
 */
typedef void (*pk_log_fn)(void *ud, int level, const char *plugin,
                          const char *msg, size_t len);

/*
 * Trust policy for manifests (docs/manifest.md): what opening a
 * NAME.plugkit does about its signature, NAME.plugkit.minisig, checked
 * against the keys given to pk_host_trust_key. The host's policy does not
 * concern plugins opened without a manifest; an open's own policy does
 * (pk_open_opts.trust).
 */
enum pk_trust {
  PK_TRUST_DEFAULT = 0, /* open options: the host's policy; host: off */
  PK_TRUST_OFF = 1,     /* signatures are not read */
  PK_TRUST_WARN = 2,    /* a missing or failing signature is logged
                           (PK_LOG_WARN, through the host's log sink, with
                           the error's message) and the plugin opens */
  PK_TRUST_REQUIRE = 3  /* the open fails: PK_EUNTRUSTED (no signature, or
                           one by a key not trusted), PK_EBADSIG (a
                           signature that does not verify) */
};

/* Host options. Size-versioned: set `size`, as PK_HOST_OPTS_INIT does. */
typedef struct pk_host_opts {
  size_t size;       /* sizeof(pk_host_opts) as the caller compiled it */
  pk_alloc_fn alloc; /* NULL: the C library's realloc/free */
  void *alloc_ud;
  pk_log_fn log; /* NULL: plugin log lines are dropped */
  void *log_ud;
  int trust;     /* a pk_trust for every manifest opened on this host
                    (an open may override it); 0: off */
} pk_host_opts;

#define PK_HOST_OPTS_INIT {sizeof(pk_host_opts), NULL, NULL, NULL, NULL, 0}

/*
 * Create a host. `opts` may be NULL for the defaults; it is copied.
 * Returns PK_EINVAL (bad arguments or opts->size), PK_ENOMEM.
 * The caller owns *out_host: release it with pk_host_destroy.
 */
PK_API int pk_host_create(const pk_host_opts *opts, pk_host **out_host);

/* Close every plugin still open on the host, then free the host. Not
   from inside a plugin's call. */
PK_API void pk_host_destroy(pk_host *host);

/*
 * The message of the last failure on this host or any of its plugins:
 * "<file>: <phase>: <cause>", e.g. "plug.so: resolve: no export 'sum'".
 * Per thread: the last failure of a call the calling thread made (each
 * thread sees its own; another thread's failures never overwrite it).
 * Borrowed: valid until this thread's next call into the library with
 * this host or its plugins. Never NULL ("" when nothing failed yet on this
 * thread). A thread keeps the messages of the 8 hosts it used last.
 * One line, whatever a plugin says: text a plugin supplies (its error
 * message, fail message, ERROR frame, names) is copied with each ASCII
 * control character written as an escape ("a\nb" for a newline, "\t",
 * "\r", "\x1b" for the others), so a plugin cannot add lines or
 * terminal sequences to a log the host writes the message to. Bytes from
 * 0x80 up (UTF-8) are kept. At most 1023 bytes (longer ones are cut).
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
 * functions running at once on one thread; the 65th host call fails with
 * PK_ELIMIT (message "nesting depth 65 exceeds the limit of 64"), so a
 * plugin cannot exhaust the host's stack this way.
 * Threads: a host function runs on the thread of the pk_func_call that
 * led to it, and may run on several threads at once (one plugin's
 * instances, or several plugins, called from several threads): make it
 * thread-safe, or grant it only to plugins one thread calls.
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
                          host calls, nested calls, a wait for an
                          instance and the making of one, the reset of
                          reset_after_call included): past it
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
   * Concurrent calls (wasm, lua, process plugins, which run in
   * instances: a wasm instance, a Lua state, a child process): the most
   * instances the plugin may have at once, created on demand as threads
   * call it. 0: the number of CPUs. A call that finds all of them busy
   * waits for one, within its call_timeout_ms (PK_ETIMEOUT), or for ever
   * when there is none. An instance takes calls once its init returned:
   * a host function init calls that calls back into the plugin gets
   * PK_EINIT. State is per instance: globals set by one call
   * are seen by later calls only when they run in the same instance
   * (docs/threads.md). Other backends: PK_ENOSYS.
   */
  int max_instances;
  /*
   * wasm and lua (also in a child, under PK_ISOLATE_PROCESS): 1 returns
   * the instance to the state it had after init after every call (for
   * wasm, the pages of memory the call wrote, the globals and the
   * tables), so no state is carried from one call to the next. Other
   * backends: PK_ENOSYS.
   */
  int reset_after_call;
  /*
   * Opening a manifest (a NAME.plugkit file, docs/manifest.md): which of
   * its artifacts may be chosen, a pk_artifacts (0: any this host can
   * load). opts.backend, when set, also restricts the choice to that
   * backend's artifacts. A plugin file opened directly under
   * PK_ARTIFACTS_SANDBOXED must be wasm or lua, else PK_EUNTRUSTED.
   */
  int artifacts;
  int trust; /* a pk_trust overriding the host's for this open; 0: the
                host's. A plugin file opened directly carries no
                signature: PK_TRUST_REQUIRE refuses it (PK_EUNTRUSTED),
                PK_TRUST_WARN logs that and opens it */
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
   * unknown name is PK_EINVAL. "jit" or "aot" (or an aot_path) for
   * another backend is PK_ENOSYS; "auto" there is what the plugin has.
   * Under PK_ISOLATE_PROCESS a wasm plugin gets its tier in
   * plugkit-runner, which reads and checks the artifact itself (the
   * host's cache is passed to it), and reports the tier back.
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

/* pk_open_opts.artifacts. */
enum pk_artifacts {
  PK_ARTIFACTS_ANY = 0,      /* the best for this host: native code for
                                its target, then wasm, lua, source,
                                process */
  PK_ARTIFACTS_SANDBOXED = 1 /* never native code, in the host or in a
                                child (native, source, process): only
                                wasm and lua */
};

/* The instruction budget of a describe-only open of a wasm or Lua plugin. */
#define PK_DESCRIBE_FUEL 1000000u

#define PK_OPEN_OPTS_INIT                                                   \
  {sizeof(pk_open_opts), NULL, PK_ISOLATE_NONE, NULL, NULL, 0, 0, 0, 0, 0u, \
   0, 0, 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0, NULL, NULL}

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
 * plugin over a fixed cap), PK_ETIMEOUT, PK_ENOMEM; opening a manifest
 * (NAME.plugkit, below) adds PK_EHASH, PK_EBADSIG and PK_EUNTRUSTED.
 * The plugin belongs to `host`: close it with pk_plugin_close, or it is
 * closed by pk_host_destroy.
 */
PK_API int pk_plugin_open(pk_host *host, const char *path,
                          const pk_open_opts *opts, pk_plugin **out_plugin);

/*
 * Run the plugin's fini hook (in each instance), unload it and free what
 * it holds. A wasm plugin's large buffers (value stack, frames, linear
 * memory up to 4 MiB) are kept by the host, at most four, for the next
 * open to reuse; pk_host_destroy frees them.
 * Threads: close may race with calls of the plugin on other threads. It
 * waits for the calls in flight to return; calls that start later fail
 * with PK_ECLOSED. For that, the plugin's handles (the pk_plugin and its
 * pk_func, about 100 bytes per export) stay allocated until
 * pk_host_destroy or pk_host_reclaim.
 * Closed from inside one of its own calls (by a host function it called,
 * on that thread), the plugin is marked closed at once: the call in
 * progress runs to its end, later calls (nested ones too) fail with
 * PK_ECLOSED, and what the plugin holds is freed once that call has
 * returned, by the next pk_plugin_close of it, pk_host_reclaim or
 * pk_host_destroy.
 */
PK_API void pk_plugin_close(pk_plugin *plugin);

/*
 * Free the handles of the host's closed plugins (see pk_plugin_close).
 * Call it only when no thread can still use one of them: a pk_func of a
 * closed plugin used after this is a use-after-free. Hosts that open and
 * close plugins for ever call it now and then, when they know.
 */
PK_API void pk_host_reclaim(pk_host *host);

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
  const char *artifact; /* opened through a manifest (`path`): the file
                           of the artifact chosen, which the plugin's
                           messages name; NULL otherwise */
  const char *tier;    /* wasm: the execution tier in use, "interp",
                          "jit" or "aot" (pk_open_opts.tier), also under
                          process isolation (the child's); "" for the
                          other backends */
} pk_plugin_info;

/* An empty pk_plugin_info with its size set:
   `pk_plugin_info info = PK_PLUGIN_INFO_INIT;` */
#define PK_PLUGIN_INFO_INIT                                                 \
  {sizeof(pk_plugin_info), NULL, NULL, NULL, NULL, 0u, 0u, 0, NULL, NULL}

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
 * owns: they stay valid until the calling thread's next call on the same
 * plugin, or its close; copy them to keep them.
 * Threads: any thread may call any plugin's functions, at once:
 * - native and source plugins declaring PK_THREADSAFE in PK_PLUGIN run
 *   the calls concurrently; the calls of other native and source plugins
 *   are serialized (one at a time per plugin; a single thread pays no
 *   lock for it);
 * - wasm, lua and process plugins run each concurrent call in its own
 *   instance (pk_open_opts.max_instances);
 * - a call racing with pk_plugin_close either completes before the close
 *   frees anything or fails with PK_ECLOSED.
 * Each thread has its own results, scratch memory (pk_plugin_scratch) and
 * last error (pk_host_errmsg).
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
 * owned by the calling thread's call arena on the plugin, valid until that
 * thread's next call of the plugin from the host starts (or the plugin is
 * closed). NULL when out of memory, or when called outside a call of the
 * plugin.
 */
PK_API void *pk_plugin_scratch(pk_plugin *plugin, size_t n);

/*
 * From inside a host function: set the message the plugin's call error
 * will carry ("host function 'x' failed: <msg>"). Return the code next.
 */
PK_API void pk_plugin_fail(pk_plugin *plugin, const char *msg);

/* ---- manifests and their signatures ------------------------------------ */

/*
 * A manifest, NAME.plugkit (docs/manifest.md), names a plugin, its version,
 * the host ABI range and dependencies it needs, and its artifacts: files
 * for each backend (native ones per target, as x86_64-linux), each pinned
 * by its SHA-256. pk_plugin_open on a manifest (a name ending in
 * ".plugkit", or a file starting with "[plugin]") checks its signature
 * under the trust policy (pk_trust), parses it, checks the ABI range
 * (PK_EABI), picks the best artifact for this host under
 * opts->artifacts (PK_EARCH when none fits), checks its hash before
 * reading it as a plugin (PK_EHASH: the message names the artifact, the
 * expected and the actual hash) and opens it with the same options, its
 * backend forced to the artifact's; the plugin must declare the name and
 * version the manifest gives (PK_EFORMAT). pk_plugin_info's `artifact`
 * says which file was chosen. Manifest errors (PK_EFORMAT, PK_ELIMIT) name
 * the file and line: "x.plugkit:7: manifest: duplicate key 'version'".
 * The hash is checked on the file as it is when opened: keep plugin
 * folders writable only by those you trust (docs/manifest.md).
 * Signatures are minisign's (Ed25519): `minisign -V` checks what
 * pk_manifest_sign writes, and plugkit checks what `minisign -S` writes.
 */

/*
 * Trust a minisign public key for the manifests this host opens: the text
 * of a .pub file (its comment line and key line) or the base64 key line
 * alone. At most 16 keys; trusting one again does nothing.
 * Returns PK_EINVAL (NULL or not a minisign public key, message says why),
 * PK_ELIMIT (a 17th key).
 */
PK_API int pk_host_trust_key(pk_host *host, const char *pubkey);

/* Room for a key file's text (pk_keygen). */
#define PK_KEY_TEXT_MAX 512

/*
 * Make an Ed25519 key pair in minisign's formats: `pub` gets the text of a
 * public key file, `sec` that of a secret key file (each NUL-terminated,
 * `cap` bytes: PK_KEY_TEXT_MAX is enough), encrypted with `password`
 * (scrypt, 64 MiB) unless it is NULL. Keep `sec` secret. Returns
 * PK_EINVAL (NULL or cap too small), PK_ENOMEM, PK_ENOSYS (built without
 * libsodium).
 */
PK_API int pk_keygen(pk_host *host, const char *password, char *pub,
                     size_t pubcap, char *sec, size_t seccap);

/*
 * Sign the manifest at `path` into `path`.minisig (replaced) with the
 * secret key whose file text is `seckey` (`password` for an encrypted
 * one, else NULL). The manifest must parse: what is signed is a valid
 * manifest. `trusted_comment`: one line; NULL for
 * "timestamp:<seconds>\tfile:<name>\thashed", as minisign writes.
 * Returns PK_EINVAL (bad key or comment, wrong password), PK_ENOENT,
 * PK_EIO, PK_EFORMAT or PK_ELIMIT (the manifest does not parse),
 * PK_ENOSYS (built without libsodium).
 */
PK_API int pk_manifest_sign(pk_host *host, const char *path,
                            const char *seckey, const char *password,
                            const char *trusted_comment);

/*
 * Check the manifest at `path` as a whole: its signature `path`.minisig
 * against `pubkey` (as pk_host_trust_key takes it; NULL: the host's
 * trusted keys), that it parses, and that every artifact's file matches
 * its hash. Returns PK_OK, PK_EUNTRUSTED (no signature file, or signed by
 * another key; the message names the key id), PK_EBADSIG (malformed,
 * truncated or failing signature, or a changed trusted comment), PK_EHASH,
 * PK_ENOENT (no manifest, or a missing artifact), PK_EFORMAT, PK_ELIMIT,
 * PK_EINVAL (bad pubkey), PK_EIO, PK_ENOSYS (built without libsodium).
 */
PK_API int pk_manifest_verify(pk_host *host, const char *path,
                              const char *pubkey);

/* ---- bundles ----------------------------------------------------------- */

/*
 * Pack the folder `dir` (one NAME.plugkit manifest and the artifacts
 * beside it) into the one-file bundle `out_path` (NAME.pkb), an
 * uncompressed tar archive that `tar tvf` lists (docs/catalog.md). Files
 * whose names start with '.' and other .pkb files are left out; a
 * symbolic link or anything but a regular file is refused. The bundle
 * is written whole to a temporary file beside out_path, then renamed
 * over it. pk_plugin_open opens a bundle like any plugin file.
 * Errors: PK_EINVAL, PK_ENOENT (no folder, no manifest), PK_EFORMAT
 * (a bad file name or kind), PK_ELIMIT (too many or too large files),
 * PK_EIO, PK_ENOMEM.
 */
PK_API int pk_bundle_pack(pk_host *host, const char *dir,
                          const char *out_path);

/*
 * Check the bundle at `path` as a whole, as pk_manifest_verify checks a
 * manifest: its manifest's signature (member NAME.plugkit.minisig)
 * against `pubkey` (as pk_host_trust_key takes it; NULL: the host's
 * trusted keys), that the manifest parses, and that every artifact it
 * names is a member matching its hash. Nothing is extracted or run.
 * Returns PK_OK, PK_EUNTRUSTED (no signature member, no key, or signed by
 * another key; the message names the key id), PK_EBADSIG, PK_EHASH,
 * PK_ENOENT (no file, or an artifact missing from the bundle),
 * PK_EFORMAT and PK_ELIMIT (a bad archive or manifest), PK_EINVAL (bad
 * pubkey), PK_EIO, PK_ENOMEM, PK_ENOSYS (built without libsodium).
 */
PK_API int pk_bundle_verify(pk_host *host, const char *path,
                            const char *pubkey);

/* ---- discovery: the catalog -------------------------------------------- */

typedef struct pk_catalog pk_catalog; /* the result of one scan */

/* An entry's status: whether it can be opened, and if not, why (the
   entry's `reason` says more). Append only. */
enum pk_catalog_status {
  PK_CATALOG_OK = 0,
  PK_CATALOG_INVALID = 1,       /* unreadable, malformed, or not a plugkit
                                   plugin (an executable without the
                                   descriptor: never run) */
  PK_CATALOG_INCOMPATIBLE = 2,  /* built for a plugkit ABI this host does
                                   not load, or no artifact for this host */
  PK_CATALOG_MISSING_DEP = 3,   /* a dependency is missing or unusable */
  PK_CATALOG_CYCLE = 4,         /* in a dependency cycle */
  PK_CATALOG_DUPLICATE = 5,     /* an earlier entry has the same name */
  PK_CATALOG_BAD_HASH = 6,      /* an artifact differs from its manifest */
  PK_CATALOG_BAD_SIGNATURE = 7, /* the manifest's signature fails */
  PK_CATALOG_CRASHED = 8,       /* its probe in a child crashed or hung:
                                   skipped until the file changes */
  PK_CATALOG_UNPROBED = 9,      /* its metadata can only be read by
                                   running it, and opts.probe is 0 */
  PK_CATALOG_INCOMPATIBLE_DEP = 10 /* a dependency is there, but at a
                                   version outside the range asked for
                                   (the reason names both) */
};

/* "ok", "invalid", "incompatible", ... for a pk_catalog_status; "?" for
   anything else. Static. */
PK_API const char *pk_catalog_status_name(int status);

/*
 * One plugin found by a scan. Every string is borrowed from the catalog
 * (valid until pk_catalog_free) and never NULL ("" when unknown).
 */
typedef struct pk_catalog_entry {
  size_t size;          /* sizeof(pk_catalog_entry) as the library has it */
  const char *name;     /* declared name (the file's name when unknown) */
  const char *version;
  const char *path;     /* what to pass to pk_plugin_open: the manifest,
                           the bundle or the artifact */
  const char *kind;     /* "manifest", "bundle" or "artifact" */
  const char *backends; /* the backends of its artifacts, joined with ','
                           ("native,wasm") */
  const char *grants;   /* the host functions it requests, joined with ','
                           (only a manifest says) */
  const char *deps;     /* its dependencies, "name range" joined with "; "
                           ("base ^1.4; text >=0.3.1, <0.5") */
  int status;           /* a pk_catalog_status */
  int error;            /* the PK_E* code behind a status other than OK */
  const char *reason;   /* why, for a status other than OK: a message
                           naming the file and the cause ("a -> b -> a") */
  uint32_t abi_major;   /* the plugkit ABI it was built for (0: unknown) */
  uint32_t abi_minor;
} pk_catalog_entry;

/* Scan options. Size-versioned: start from PK_SCAN_OPTS_INIT. */
typedef struct pk_scan_opts {
  size_t size;  /* sizeof(pk_scan_opts) as the caller compiled it */
  int no_cache; /* 1: neither read nor write the .plugkit-cache files */
  int probe;    /* 1: a plugin that says what it is only by running (a
                   Python plugin) is opened once in a child process to
                   find out (docs/catalog.md); 0: it is listed with
                   PK_CATALOG_UNPROBED and nothing runs */
} pk_scan_opts;

#define PK_SCAN_OPTS_INIT {sizeof(pk_scan_opts), 0, 0}

/*
 * List the plugins in the folders `dirs` (a NULL-terminated array) and
 * their subfolders (one level: a folder per plugin), in that order,
 * without running plugin code: manifests, bundles, and the files a
 * backend reads whose metadata is read from the file (docs/catalog.md
 * says how for each kind). An executable without plugkit's descriptor is
 * never run. Hidden files and symbolic links are skipped. Dependencies are
 * resolved (pk_catalog_order). Each folder of `dirs` keeps what the scan
 * learnt in a file `.plugkit-cache`, keyed by each file's name, size,
 * mtime and inode, so a rescan that finds nothing changed opens no
 * plugin; a cache that is unreadable or malformed is ignored and
 * rewritten, and a folder the scan cannot write is scanned all the same.
 * `opts` may be NULL for the defaults.
 * Errors: PK_EINVAL, PK_ENOENT (a folder of `dirs` does not exist),
 * PK_EIO, PK_ENOMEM. A bad plugin is not an error of the scan: its entry
 * says what is wrong.
 * The caller owns *out_catalog: free it with pk_catalog_free.
 */
PK_API int pk_catalog_scan(pk_host *host, const char *const *dirs,
                           const pk_scan_opts *opts, pk_catalog **out_catalog);
/* The number of entries, and entry i (NULL when i is out of range),
   borrowed from the catalog. Entries are in scan order: the folders of
   `dirs` in order, each sorted by name. */
PK_API size_t pk_catalog_count(const pk_catalog *catalog);
PK_API const pk_catalog_entry *pk_catalog_get(const pk_catalog *catalog,
                                              size_t i);
/*
 * A load order: the indices of the entries with status PK_CATALOG_OK,
 * each after the entries it depends on. *out_order is borrowed from the
 * catalog; returns how many indices it holds.
 */
PK_API size_t pk_catalog_order(const pk_catalog *catalog,
                               const size_t **out_order);
PK_API void pk_catalog_free(pk_catalog *catalog);

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
 * checked when it is loaded. It holds the module's code twice, plain
 * and marking the pages a call writes (for reset_after_call): the
 * compiler runs twice, and one artifact serves every open. The path written is copied to `written`
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
