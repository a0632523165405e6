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
#include "../os/os.h"

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
 * n bytes on cache lines of their own, for state that one thread writes
 * on every call (a lane, an instance's backend state): a line shared with
 * another thread's data makes each such store wait for the other core.
 * *base gets the block to pk__free. NULL when out of memory.
 */
#define PK__CACHE_LINE 64
void *pk__alloc_lines(pk_host *h, size_t n, void **base);
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

/* The most keys pk_host_trust_key keeps (a fixed array: no allocation). */
#define PK__MAX_KEYS 16

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
  /* Guards `plugins`, `closed` and `spare` (opens and closes may come
     from any thread); never held while plugin code runs. */
  pk__os_mutex mu;
  pk_plugin *closed; /* closed plugins' handles (pk_host_reclaim) */
  uint64_t serial;   /* unique among hosts: keys the per-thread messages */
  /* Manifests (src/catalog): pk_host_opts.trust and the keys given to
     pk_host_trust_key, a minisign key id and Ed25519 public key each. */
  int trust;
  size_t nkeys;
  struct {
    uint8_t id[8];
    uint8_t pk[32];
  } keys[PK__MAX_KEYS];
};

/* The deepest host -> plugin -> host nesting (include/plugkit.h): each
   level costs the host stack frames (and the process backend a frame
   exchange), so a plugin that answers every call with a host call must
   not be able to exhaust the host's stack. */
#define PK__MAX_NESTING 64

typedef struct pk__backend pk__backend;
typedef struct pk__lane pk__lane;

/*
 * pk_func.tail (below). The parameters are in the order pk_func_call has
 * its own in (f, args, then the lane it found where pk_func_call has
 * nargs, results): the jump to the tail moves one register, not three.
 */
typedef int (*pk__tail_fn)(pk_func *f, const pk_val *args, pk__lane *l,
                           pk_val *results, void *fast);

/* Threads that call a function with no lane lookup (pk_func.solo), and
   the thread number of a free slot: no thread's, not even that of a
   thread still without one (0), which could read a slot being taken. */
#define PK__SOLO 4
#define PK__SOLO_FREE (~0u)

/* Only a plugin's first exports get solo slots: bringing a thread's
   slots up to date visits each (solo_sync), which would otherwise cost
   a large plugin's contended pool a loop over every export per move of
   an instance. */
#define PK__SOLO_FUNCS 256

struct pk_func {
  pk_plugin *plugin;
  /*
   * solo_on: f's backend has pk__backend.fast (wasm) and f is one of its
   * plugin's first PK__SOLO_FUNCS exports. Then the first PK__SOLO
   * threads to call f find their lane here: loads from f itself, where
   * the lane table costs two dependent ones, and a wasm call's whole
   * entry waits on them (pk_func_call). A slot is taken
   * once, under p->mu (tid stored atomically), and kept for the plugin's
   * life; only the thread with that number reads or writes the rest (a
   * number goes to a new thread only after the old one exited, with its
   * lanes). `fast` is pk__backend.fast for f and the instance the lane
   * holds: a change of that instance sends the lane down the slow path,
   * which brings the slots up to date first (solo_sync). Other
   * functions use the lane table: their calls gain nothing from a slot
   * and only pay for testing one.
   */
  uint8_t solo_on;
  /* f's tail is tail_thunk (a thunk, no backend tail): pk_func_call makes
     the call itself (call_direct), not through the tail. Set by open. */
  uint8_t direct;
  struct pk__solo {
    unsigned tid; /* PK__SOLO_FREE: free */
    pk__lane *l;
    void *fast;
  } solo[PK__SOLO];
  /* p->lanes, kept here too (lane_get keeps them equal): the call path
     finds the thread's lane in two loads from f (pk__lane_of). */
  struct pk__lanetab *lanes;
  const char *name; /* owned by the plugin (names block) */
  char sigtext[PK__SIG_MAX];
  pk__sig sig;
  /*
   * How to call it: in-process machine code sets `thunk` (called with the
   * lane as the plugin's context, and the lane's `cur` set to this
   * function, so a backend's own thunk can find it); other backends set
   * `invoke`.
   */
  pk_thunk thunk;
  int (*invoke)(pk__lane *l, pk_func *f, const pk_val *args,
                pk_val *results);
  /* invoke sets the results' type tags itself (else the caller does). */
  uint8_t invoke_tags;
  /*
   * What pk_func_call's common case tail-calls: the call as thunk or
   * invoke would make it, results tagged, and its end. Its last access to
   * anything of the plugin's is pk__lane_leave(l) (close waits for that,
   * then may unload the plugin's code), so it is code of the library,
   * never the plugin's. A backend's own (wasm, source) saves a call
   * and a return: it returns straight to the host; plugin_open gives the
   * others tail_thunk or tail_invoke (tail_dispatch until then: a host
   * function init calls may call the plugin). `fast` is the solo slot's (see
   * above), or NULL: the tail finds what it needs itself.
   */
  pk__tail_fn tail;
  pk_raw_fn raw;   /* typed entry point, or NULL */
  void *bdata;     /* the backend's per-function data */
  uint32_t bindex; /* the backend's per-function index */
};

/*
 * Threads (include/plugkit.h states the contract). Every thread that
 * calls a plugin gets a lane on it: its own call state, arena and (for
 * backends with instances) the instance it runs in. A plugin finds the
 * calling thread's lane in one indexed load: pk__tls_tid is a small number
 * per live thread (recycled when a thread exits, together with its lanes)
 * and p->lanes maps it to the lane. A wasm export finds it quicker still for
 * its first few threads (pk_func.solo).
 *
 * The call path takes no lock and no atomic read-modify-write: a lane is
 * written by its own thread only, except `slow`, which others set to send
 * it down the slow path (close, a pool taking its instance back, a second
 * thread calling a plugin that is not thread-safe). The order of
 * "busy = 1, then read slow" against "slow = 1, then read busy" is kept
 * by pk__os_membarrier on the rare side (see os.h).
 */
struct pk__lane {
  /* First: the pk_ctx * an in-process plugin is handed is its lane. Its
     status is 0, or the code the current call fails with (pk_fail:
     PK_EPLUGIN; a result allocation failed: PK_ENOMEM). */
  pk_ctx ctx;
  /* Calls of the owning thread running on this lane (nested ones
     included): written by that thread, read by others (atomic). */
  unsigned busy;
  /* Set by other threads (atomic): take the slow path next call. */
  unsigned slow;
  pk_plugin *plugin;
  pk__arena arena; /* results and scratch of this thread's calls */
  void *inst;      /* the backend instance this lane holds, or NULL */
  const pk_func *cur; /* function last called: names the call phase */
  /* (What a call reads and writes of the lane lies above: one cache
     line.) */
  const char *phase;  /* "init" while a pool instance is made, else NULL */
  const pk__hostfn *cur_hostfn; /* host function being called, or NULL */
  int in_host;                  /* host functions running for this lane */
  int hostfn_msg;               /* pk_plugin_fail set the message */
  unsigned tid;                 /* pk__tls_tid of the owning thread */
  /* Changes of `inst` (p->mu held), and the last one the thread's solo
     slots were brought up to (solo_sync). */
  unsigned igen, solo_gen;
  /* The outermost call's deadline (pk__os_clock_ns(1) time) when the call
     waited for an instance or made one (call_slow), else 0: see
     pk__call_deadline. */
  uint64_t deadline_ns;
  pk__lane *next;       /* all the plugin's lanes */
  void *mem;            /* the block holding the lane (lane_get) */
};

/* Lanes start on a cache line of their own (pk__alloc_lines). */

/* The deadline a backend arms for an outermost call on lane l (or init
   on it) under call_timeout_ms `ms` (> 0): "the whole call" includes the
   wait for an instance and the making of one, so it is the one call_slow
   set before them, else now + ms. Monotonic ns (pk__os_clock_ns(1)). */
static inline uint64_t pk__call_deadline(const pk__lane *l, int ms) {
  if (l != NULL && l->deadline_ns != 0)
    return l->deadline_ns;
  return pk__os_clock_ns(1) + (uint64_t)ms * 1000000u;
}

/* Ends the call a tail (pk_func.tail) made: the lane is idle again, and
   close, which waits for that, may free everything of the plugin's. */
static inline void pk__lane_leave(pk__lane *l) {
  __atomic_store_n(&l->busy, 0, __ATOMIC_RELEASE);
}

/* The order of the lane flags' "busy" store and "slow" load (and of the
   other side's). On x86, relaxed, with pk__os_membarrier on the rare
   side: membarrier(2), or where it is missing a TLB shootdown, which
   interrupts every CPU running a thread of the process (os_posix.c).
   Elsewhere sequentially consistent: there a shootdown may interrupt no
   CPU (arm64 broadcasts it in hardware), and a store-release followed by
   a load-acquire (arm64's stlr, ldar) keeps the order by itself. Under
   ThreadSanitizer, which models neither membarrier nor fences,
   sequentially consistent too, which it does. */
#if defined(__SANITIZE_THREAD__) || !(defined(__x86_64__) || defined(__i386__))
#define PK__ORD_LANE __ATOMIC_SEQ_CST
#define PK__ORD_LANE_ACQ __ATOMIC_SEQ_CST
#else
#define PK__ORD_LANE __ATOMIC_RELAXED
#define PK__ORD_LANE_ACQ __ATOMIC_ACQUIRE
#endif

/* A plugin's lanes by thread number (p->lanes): replaced, never changed,
   when it grows; old tables stay until the plugin is freed. */
typedef struct pk__lanetab {
  size_t n;
  struct pk__lanetab *old; /* the table this one replaced */
  pk__lane *lane[];
} pk__lanetab;

/* The calling thread's number: 0 until it first needs one. Initial-exec:
   one load from the thread pointer, even in the shared library. */
#if defined(__GNUC__) || defined(__clang__)
#define PK__TLS_IE __attribute__((tls_model("initial-exec")))
#else
#define PK__TLS_IE
#endif
extern PK__TLS_IE _Thread_local unsigned pk__tls_tid;
/* The calling thread's number, assigned on first use; 0 when out of
   memory. */
unsigned pk__thread_id(void);
/* The calling thread's lane on p, or NULL when it has none. */
static inline pk__lane *pk__lane_find(pk_plugin *p);

/* Plugin flags (p->flags), fixed at open. */
#define PK__PF_SERIAL 0x1u /* calls must not overlap: not thread-safe */
#define PK__PF_POOL 0x2u   /* the backend runs instances (inst_new) */
#define PK__PF_RESET 0x4u  /* reset_after_call */

struct pk_plugin {
  pk_host *host;
  pk_plugin *next, *prev;
  const pk__backend *backend;
  void *bstate; /* backend state, shared by every instance */
  const char *tier;          /* pk_plugin_info's tier (static string)
                                or NULL: "" */
  const char *backend_label; /* pk_plugin_info's backend, when not
                                backend->name ("process:wasm"); the
                                backend owns it */

  char *path;
  char *manifest; /* opened through this manifest (the path given), and
                     `path` is its artifact's file; NULL otherwise */
  int isolation;             /* a pk_isolation, from the open options */
  int describe_only;         /* opts.describe_only: no plugin code runs */
  const char *inner_backend; /* opts.backend during open (NULL after) */
  const pk_open_opts *opts;  /* all the open options, during open only
                                (NULL after): backend-specific fields */
  struct pk__src *src;       /* during open only (NULL after): what the
                                opener holds of the file (pk__src) */
  char *private_file; /* a file made for this plugin alone (a bundle's
                         artifact under process isolation): removed, with
                         its folder, when the plugin is freed */
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

  /* The lane of the thread running open/init/fini/close (and its phase:
     "open", "init", "fini", "close"; NULL once open). */
  pk__lane *olane;
  pk__lane olane_s; /* its storage */
  const char *phase;
  unsigned flags;  /* PK__PF_* */
  int timeout_ms;  /* opts.call_timeout_ms: bounds a wait for an instance */

  /* Threads. `lanes` is read without a lock (atomic loads); everything
     else below is guarded by mu. */
  pk__lanetab *lanes;
  pk__lane *all_lanes;
  pk__os_mutex mu;
  pk__os_cond cv;    /* an instance came back; the plugin closed */
  int closed;        /* atomic: calls fail with PK_ECLOSED */
  int close_pending; /* atomic: closed from inside one of its own calls;
                        the rest of the close is left to the next close,
                        reclaim or destroy after that call returned */
  unsigned owner;    /* PK__PF_SERIAL: the thread calling it, while only
                        one does (0: none yet) */
  int shared;        /* PK__PF_SERIAL: a second thread called; calls now
                        take call_mu */
  int handing;       /* ... but the owner's last lock-free call may still
                        run: no one else calls yet (serial_handoff) */
  pk__os_mutex call_mu;
  unsigned call_owner; /* the thread holding call_mu, and how deep */
  int call_depth;
  /* The instance pool (PK__PF_POOL): idle instances no lane holds, how
     many exist, the most there may be, threads waiting for one. */
  void **idle;
  size_t nidle, ninst, max_inst;
  int waiters;
  void *inst0; /* open()'s first instance, which the pool adopts */
  uint64_t serial;
  int sync_init; /* mu, call_mu and cv are initialised */
};

/* The most instances a plugin may have (pk_open_opts.max_instances). */
#define PK__MAX_INSTANCES 4096

/* What a lane table holds for a thread without a lane: a lane that looks
   busy, so that the call path's one test of `busy` sends the call to the
   rare path, which knows it (pk__lane_find returns NULL for it). Const:
   a write to it faults rather than corrupt every thread's view of it. */
extern const pk__lane pk__lane_none_obj;
#define PK__LANE_NONE ((pk__lane *)&pk__lane_none_obj)

static inline pk__lane *pk__lane_find(pk_plugin *p) {
  const pk__lanetab *t = __atomic_load_n(&p->lanes, __ATOMIC_ACQUIRE);
  unsigned tid = pk__tls_tid;
  pk__lane *l = tid < t->n ? t->lane[tid] : NULL;
  return l != PK__LANE_NONE ? l : NULL;
}

/* Thread tid's lane for a function of the plugin, through f's copy of the
   table (one dependent load less on the call path): PK__LANE_NONE if it
   has none. */
static inline pk__lane *pk__lane_of(const pk_func *f, unsigned tid) {
  const pk__lanetab *t = __atomic_load_n(&f->lanes, __ATOMIC_ACQUIRE);
  return PK__LIKELY(tid < t->n) ? t->lane[tid] : PK__LANE_NONE;
}

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
  /*
   * Backends whose plugins run in instances (wasm: an instance of the
   * shared module; lua: a state; process: a child) set these; NULL for
   * those whose code is shared and thread-safe or serialized (native,
   * source). open() builds the shared state and leaves one ready instance
   * in p->inst0. inst_new makes another from the shared state, its init
   * run, in a pool slot: it may run plugin code (lane l's phase is
   * "init"); on failure it sets the message and returns the code.
   * inst_free runs fini and frees it. inst_reset returns it to the state
   * it had after init (reset_after_call); NULL: not supported (the open
   * fails with PK_ENOSYS). The core calls them with no lock held; it
   * never hands one instance to two threads at once.
   */
  int (*inst_new)(pk_plugin *p, pk__lane *l, void **out);
  void (*inst_free)(pk_plugin *p, void *inst);
  int (*inst_reset)(pk_plugin *p, pk__lane *l, void *inst);
  /* For f's tail (pk_func.tail): what it needs of instance inst, found
     once per lane and instance (pk_func.solo). NULL: nothing. */
  void *(*fast)(pk_plugin *p, void *inst, const pk_func *f);
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
#define PK__LIM_POOL 0x40u  /* max_instances: the backend has instances */
#define PK__LIM_RESET 0x100u /* reset_after_call (inst_reset) */
#define PK__LIM_SELF 0x80000000u
/* PK_ENOSYS, naming the first option `o` asks for that `honoured` lacks
   and what to use instead; `who` names the backend ("native"). */
int pk__limits_check(pk_plugin *p, const pk_open_opts *o, unsigned honoured,
                     const char *who);

/* The NULL-terminated list of compiled-in backends. */
extern const pk__backend *const pk__backends[];

/* Set the calling thread's message for the host: "<path>: <phase>:
   <cause>". Returns `code`. */
int pk__err(pk_host *h, int code, const char *path, const char *phase,
            const char *fmt, ...) PK__FMT(5, 6);
int pk__verr(pk_host *h, int code, const char *path, const char *phase,
             const char *fmt, va_list ap);
/* Same, for a plugin: uses its path and current phase. */
int pk__perr(pk_plugin *p, int code, const char *fmt, ...) PK__FMT(3, 4);
/* pk__perr with a plugin's own text (len bytes, not NUL-terminated) as
   the message: every backend's way to report it. At most PK__ERRMSG_MAX
   bytes of it are read, all the message keeps: a length past INT_MAX
   would be a negative precision for "%.*s" (vsnprintf then reads to a
   NUL, past the text), and vsnprintf walks all of its %s, kept or not. */
int pk__perr_text(pk_plugin *p, int code, const char *msg, size_t len);

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

/*
 * A file the opener already holds (a bundle's artifact, copied to a
 * private anonymous file and checked against its hash: src/catalog):
 * `path` names it ("/proc/self/fd/N"). head/nhead are its first bytes,
 * size its size, so backends need not read them again; fd (>= 0) is the
 * private file itself, which a backend may keep (it then sets fd to -1
 * and closes it when done): native loads it as it is, with no private
 * copy of its own, since nothing else can change it.
 */
typedef struct pk__src {
  const unsigned char *head;
  size_t nhead;
  uint64_t size;
  int fd;
  const char *name; /* what the host knows the file as (the artifact's
                       path, "x.pkb!member"), for names a backend bakes
                       into the code it loads (Lua's chunk name); NULL:
                       path */
} pk__src;
/* pk_plugin_open of such a file: no manifest or bundle is looked for in
   it (an artifact is a plugin file: no chains, no recursion), and
   opts->backend should name its backend. On return src->fd is -1 when
   the backend kept it, else still the caller's. */
int pk__plugin_open_src(pk_host *h, const char *path,
                        const pk_open_opts *opts, pk__src *src,
                        pk_plugin **out_plugin);

/* Opening a manifest (src/catalog/open.c): pk_plugin_open hands over
   every path that pk__manifest_probe recognises. Same contract. */
int pk__manifest_open(pk_host *h, const char *path, const pk_open_opts *o,
                      pk_plugin **out_plugin);
int pk__manifest_probe(const char *path, const unsigned char *head,
                       size_t n);

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

/* SHA-256 (src/catalog/sha256.c, FIPS 180-4; the x86 SHA instructions
   when the CPU has them): init, update any number of times, final; or
   one buffer at once. Manifests, bundles and the wasm aot tier's
   artifacts use it. */
typedef struct pk__sha256 {
  uint32_t h[8];
  uint64_t len; /* bytes hashed so far */
  uint8_t buf[64];
  size_t nbuf;
} pk__sha256;
void pk__sha256_init(pk__sha256 *s);
void pk__sha256_update(pk__sha256 *s, const void *data, size_t n);
void pk__sha256_final(pk__sha256 *s, uint8_t out[32]);
void pk__sha256_buf(const void *data, size_t n, uint8_t out[32]);

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
   int), the line carries the plugin's name (or path), and it is cut to
   PK__LOG_MAX bytes (include/plugkit.h, pk_log_fn): a backend that copies
   a message out of a plugin's memory copies no more. */
#define PK__LOG_MAX ((size_t)64 << 10)
void pk__plugin_log(pk_plugin *p, int level, const char *msg, size_t len);

/* Config lookup shared by every backend. */
int pk__config_get(const pk_plugin *p, const char *key, size_t keylen,
                   pk_str *out);
/* Host function lookup and call, checked against the plugin's grants. */
int pk__hostfn_find(pk_plugin *p, const char *name, const char *sig,
                    int32_t *out_index);
int pk__hostfn_call(pk__lane *l, int32_t index, const pk_val *args,
                    size_t nargs, pk_val *results, size_t nresults);
/* pk__hostfn_call's checks alone (index, grant, argument count and
   types, room for the results): PK_OK, or its error with its message. For
   a backend that copies the arguments before the call (process): a call
   the host refuses costs no copy. */
int pk__hostfn_check(pk_plugin *p, int32_t index, const pk_val *args,
                     size_t nargs, const pk_val *results, size_t nresults);

/* ---- threads (thread.c) -------------------------------------------------- */

/* Host functions running on the calling thread, all hosts together: a
   host function that calls into a plugin that calls a host function ...
   is one level each; pk__hostfn_call refuses more than PK__MAX_NESTING. */
int *pk__thread_nesting(void);
/* The calling thread's message buffer for host h (PK__ERRMSG_MAX
   bytes), or NULL when out of memory; pk__thread_errmsg_get does not
   create one. */
#define PK__ERRMSG_MAX 1024
char *pk__thread_errmsg(const pk_host *h);
const char *pk__thread_errmsg_get(const pk_host *h);
uint64_t pk__serial_next(void);

/* The lane the current call or open of p runs on: the calling thread's,
   or p->olane during open and close. NULL outside both. */
pk__lane *pk__lane_cur(pk_plugin *p);

#endif /* PK_CORE_CORE_H */
