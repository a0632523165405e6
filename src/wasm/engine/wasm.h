/* The built-in WebAssembly engine: internal API (not installed).
 *
 * Scope: WebAssembly 2.0 core without SIMD (MVP, mutable globals,
 * sign-extension, saturating float-to-int, multi-value, bulk memory,
 * reference types) plus the tail-call and extended-const proposals.
 * Binary format only.
 *
 * Life cycle:
 *   pkw_module_decode()    decode + validate + translate, once per binary
 *   pkw_instance_create()  bind imports, allocate state, run segments/start
 *   pkw_instance_find()    look up an export by name
 *   pkw_call()             call a function (wasm or host)
 *   pkw_instance_destroy(), pkw_module_destroy()
 *
 * Values cross the API as raw 64-bit slots: i32 in the low 32 bits
 * (pass the upper half as zero: the engine never reads it, but an i32
 * result that is just a passed-through argument returns it unchanged;
 * read i32/f32 results through a uint32_t cast), i64 as is, f32/f64 as
 * their IEEE bit patterns,
 * funcref as a (pkw_func *) cast to uintptr_t (0 = null), externref as an
 * opaque host value where 0 means null.
 *
 * Errors and traps are negative codes from PKW_ERROR_LIST; PKW_OK is 0.
 * pkw_errname()/pkw_strerror() map them to text. Functions that can fail
 * for reasons the code alone cannot tell (decode, validate, link) also
 * fill a caller-provided message buffer.
 *
 * Memory: every allocation goes through the pkw_alloc hook the caller
 * passes (realloc-shaped: size 0 frees), but for the linear memory of
 * an instance made from an image where the system has memory files: a
 * copy-on-write mapping of the image (pkw_memory_mapped). Calls
 * (pkw_call and guest to guest calls) never allocate; memory.grow and
 * table.grow do.
 *
 * Threads: an instance is used by one thread at a time; the only function
 * that may be called from another thread is pkw_instance_interrupt().
 * A module is shared read-only by its instances, which may run on
 * different threads at once: the lazy translation of a body (the one
 * write into a module after decoding) is serialized by the module's lock
 * and published with release/acquire, so a translated body is read
 * without a lock.
 * Host byte order must be little-endian (checked at compile time).
 *
 * Execution model (see compile.c and exec.c): each function is validated
 * once and translated into a compact slot-addressed code with resolved
 * branch targets; the interpreter dispatches with computed goto (switch
 * fallback, -DPKW_NO_COMPUTED_GOTO) and never recurses in C for guest
 * calls: guest frames live in the instance's frame array, so deep guest
 * recursion ends in PKW_TRAP_STACK_EXHAUSTED, never in a C stack overflow.
 * Only a host callback that re-enters the engine adds a C frame, and that
 * nesting is capped (PKW_MAX_REENTRY). Traps unwind by returning from the
 * single interpreter loop; no setjmp/longjmp.
 *
 * Limits: see pkw_limits and config.h. Fuel is charged per call and per
 * loop iteration, not per byte of bulk memory/table operations (those are
 * bounded by the memory and table limits instead).
 */
#ifndef PK_WASM_ENGINE_WASM_H
#define PK_WASM_ENGINE_WASM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every error code, with its name and message. Traps are PKW_TRAP_*. */
#define PKW_ERROR_LIST(X)                                                 \
  X(OK, 0, "success")                                                     \
  X(EINVAL, -1, "invalid argument")                                       \
  X(ENOMEM, -2, "out of memory")                                          \
  X(EMALFORMED, -3, "malformed module")                                   \
  X(EINVALID, -4, "invalid module")                                       \
  X(EUNLINKABLE, -5, "incompatible import")                               \
  X(ENOENT, -6, "no such export")                                         \
  X(ELIMIT, -7, "engine limit exceeded")                                  \
  X(EUNSUPPORTED, -8, "not supported by this build or tier")             \
  X(TRAP_UNREACHABLE, -20, "unreachable executed")                        \
  X(TRAP_MEMORY_OOB, -21, "out of bounds memory access")                  \
  X(TRAP_TABLE_OOB, -22, "out of bounds table access")                    \
  X(TRAP_UNDEFINED_ELEMENT, -23, "undefined element")                     \
  X(TRAP_UNINITIALIZED_ELEMENT, -24, "uninitialized element")             \
  X(TRAP_INDIRECT_CALL_TYPE, -25, "indirect call type mismatch")          \
  X(TRAP_INTEGER_OVERFLOW, -26, "integer overflow")                       \
  X(TRAP_DIVIDE_BY_ZERO, -27, "integer divide by zero")                   \
  X(TRAP_INVALID_CONVERSION, -28, "invalid conversion to integer")        \
  X(TRAP_NULL_REFERENCE, -29, "null reference")                           \
  X(TRAP_STACK_EXHAUSTED, -30, "call stack exhausted")                    \
  X(TRAP_OUT_OF_FUEL, -31, "out of fuel")                                 \
  X(TRAP_INTERRUPTED, -32, "interrupted")

enum {
#define PKW_ENUM_(name, code, msg) PKW_##name = code,
  PKW_ERROR_LIST(PKW_ENUM_)
#undef PKW_ENUM_
  PKW_TRAP_FIRST_ = -20,
  PKW_TRAP_LAST_ = -32
};

/* True for the codes that are traps (a guest fault, not an API error). */
#define PKW_IS_TRAP(rc) ((rc) <= PKW_TRAP_FIRST_ && (rc) >= PKW_TRAP_LAST_)

/* Name ("TRAP_UNREACHABLE") and message of a code; never NULL. */
const char *pkw_errname(int rc);
const char *pkw_strerror(int rc);

/* Value types, with their binary encoding. */
enum {
  PKW_I32 = 0x7f,
  PKW_I64 = 0x7e,
  PKW_F32 = 0x7d,
  PKW_F64 = 0x7c,
  PKW_FUNCREF = 0x70,
  PKW_EXTERNREF = 0x6f
};

/* Kinds of imports and exports, with their binary encoding. */
enum { PKW_EXTERN_FUNC = 0, PKW_EXTERN_TABLE = 1, PKW_EXTERN_MEMORY = 2,
       PKW_EXTERN_GLOBAL = 3 };

/* The allocator hook: realloc semantics, size 0 frees and returns NULL. */
typedef void *(*pkw_realloc_fn)(void *ud, void *ptr, size_t size);
typedef struct pkw_alloc {
  pkw_realloc_fn realloc_fn;   /* NULL: use the C library's realloc/free */
  void *ud;                    /* passed back to realloc_fn */
} pkw_alloc;

/* A function type. The arrays hold PKW_I32 ... PKW_EXTERNREF bytes. */
typedef struct pkw_functype {
  uint32_t nparams, nresults;
  const uint8_t *params;      /* borrowed: nparams bytes */
  const uint8_t *results;     /* borrowed: nresults bytes */
} pkw_functype;

typedef struct pkw_module pkw_module;
typedef struct pkw_instance pkw_instance;
typedef struct pkw_func pkw_func;
typedef struct pkw_table pkw_table;
typedef struct pkw_memory pkw_memory;
typedef struct pkw_global pkw_global;

/* A host function bound to an import.
 *
 * args holds the nparams argument slots, results receives the nresults
 * result slots. They MAY ALIAS (the engine passes the guest's stack in
 * place, which is what makes scalar calls cheap): read every argument
 * before writing a result. inst is the calling instance (NULL when the
 * host calls the function itself through pkw_call); use it to reach the
 * caller's memory with pkw_instance_memory(). The callback may call back
 * into the engine (re-entrancy is supported up to the depth limit).
 * Return 0 on success or a negative code, which aborts the guest and is
 * returned by the outermost pkw_call unchanged. */
typedef int (*pkw_host_fn)(void *ud, pkw_instance *inst, const uint64_t *args,
                           uint64_t *results);

/* Per-instance limits. Zero fields take the defaults of config.h. */
typedef struct pkw_limits {
  uint32_t max_memory_pages;   /* caps every memory this instance defines;
                                  also bounds its tables: their elements
                                  (8 bytes each) may take as many bytes */
  uint32_t max_call_depth;     /* wasm frames, beyond it: STACK_EXHAUSTED */
  uint32_t stack_slots;        /* 64-bit value stack slots (locals + temps) */
  uint32_t max_table_elems;    /* caps the elements of all the tables this
                                  instance defines, together */
  int64_t fuel;                /* initial fuel (also bounds the start
                                  function); 0: unlimited */
  int defer_start;             /* nonzero: pkw_instance_create does not run
                                  the start function; the caller runs
                                  pkw_instance_start_func once it has armed
                                  its limits (a watchdog needs the
                                  instance) */
  const struct pkw_image *image; /* non-NULL: the new instance takes its
                                  memory, globals, tables and dropped
                                  segments from this image (of an instance
                                  of the same module, pkw_image_create)
                                  instead of running the segments and the
                                  start function; it must outlive the
                                  instance (destroying the instance reads
                                  it: a spare is brought back to it) */
} pkw_limits;

/* ---- modules ---------------------------------------------------------- */

/* Decodes, validates and translates a binary module. bytes is only read
 * during the call. On failure returns PKW_EMALFORMED, PKW_EINVALID,
 * PKW_ELIMIT, PKW_ENOMEM or PKW_EINVAL, writes a message into errbuf (may
 * be NULL) and leaves *out_module untouched. On success the caller owns
 * the module; release it with pkw_module_destroy() after all of its
 * instances.
 *
 * PKW_ELIMIT: the module is valid but larger than the engine takes
 * (config.h): more than PKW_MAX_EXPORTS exports, or a function whose
 * translated code exceeds PKW_CODE_WORDS_PER_BYTE words per byte of its
 * body, PKW_MAX_FUNC_CODE_WORDS, or what is left of the module's
 * PKW_MAX_MODULE_CODE_WORDS ("function N: translated code exceeds ..."),
 * or whose translation takes more than PKW_WORK_PER_BYTE steps per byte
 * ("function N: translation work exceeds ..."). So decoding takes memory
 * and time linear in the module's size. */
int pkw_module_decode(const pkw_alloc *alloc, const uint8_t *bytes,
                      size_t len, pkw_module **out_module, char *errbuf,
                      size_t errlen);

/* pkw_module_decode with flags. PKW_DECODE_LAZY: function bodies are
 * validated and translated at their first call instead (the rest of the
 * module is checked as usual), so a module loads in time proportional to
 * the code it runs. A body found invalid then makes that call return
 * PKW_EINVALID, PKW_EMALFORMED or PKW_ELIMIT (not a trap: the instance
 * stays usable, other functions run), with the message in
 * pkw_module_error(); the failure is remembered, so later calls fail
 * the same way at once and allocate nothing (its message is then in
 * pkw_instance_error of the calling instance). The first call
 * translates into the module under the module's lock, so instances of
 * a lazy module may run on several threads at once. */
#define PKW_DECODE_LAZY 1u
/* PKW_DECODE_DIRTY: stores and bulk memory writes also mark the 4 KiB
 * chunks they write, for pkw_instance_reset (a MARK instruction before
 * each store, chosen at translation time: modules decoded without the
 * flag run the plain stores). Instances then track with
 * pkw_instance_track_dirty. */
#define PKW_DECODE_DIRTY 2u
int pkw_module_decode_ex(const pkw_alloc *alloc, const uint8_t *bytes,
                         size_t len, unsigned flags, pkw_module **out_module,
                         char *errbuf, size_t errlen);
/* The jit tier: translates every function of m to C (cgen.c) and
 * compiles it in memory with libtcc (jit.c), so the instances created
 * from then on run native code; calls keep the interpreter's semantics
 * (traps, fuel, interrupts, limits: docs/backends/wasm.md). Call it
 * once, after decoding and before the first pkw_instance_create; not
 * thread-safe against the module's other uses. A lazy module's bodies
 * are all validated and translated here; one that fails stays
 * uncompiled and fails its calls as PKW_DECODE_LAZY says.
 * Returns PKW_OK, PKW_EUNSUPPORTED (no libtcc in this build, or the
 * module has something the tier does not compile: errbuf says what),
 * PKW_ENOMEM or PKW_ELIMIT (the generated C would exceed
 * PKW_JIT_MAX_C_BYTES). On failure the module stays interpreted and
 * usable. */
int pkw_module_jit(pkw_module *m, char *errbuf, size_t errlen);
/* "jit" once pkw_module_jit succeeded, "aot" once pkw_module_bind_aot
 * did, else "interp". */
const char *pkw_module_tier(const pkw_module *m);
/* The aot tier's C: pkw_module_cgen_ex with PKW_CGEN_AOT writes C for a
 * system compiler, to be built as a shared object with no undefined
 * symbol (the helpers come through pkw_aot_init's table). It exports
 * pkw_jit_table, pkw_aot_frames, pkw_aot_init and pkw_aot_marks, and
 * depends on the module (and whether it was decoded with
 * PKW_DECODE_DIRTY, whose stores the code marks: pkw_aot_marks 1) and
 * on pkw_cgen_fingerprint, nothing else (no address). */
#define PKW_CGEN_AOT 1u
/* The system compiler's flags for that C, as X(flag) items (plugkit's
 * aot tier and the tests use these): optimized, position-independent,
 * nothing linked (no libc, no start files, no libgcc), no aliasing
 * assumptions (the C reads slots through casts), wrapping signed
 * arithmetic and no contracted floating point (wasm's semantics), no
 * stack protector or library calls invented by the optimizer (each
 * would be an undefined symbol), a SysV hash table (the loader counts
 * the symbols by it) and every relocation bound at load. */
#define PKW_AOT_CFLAGS(X)                                                   \
  X("-O2") X("-shared") X("-fPIC") X("-nostdlib") X("-fno-strict-aliasing") \
  X("-fwrapv") X("-ffp-contract=off") X("-fsignaling-nans")                 \
  X("-fno-stack-protector")                                                 \
  X("-fno-builtin") X("-fno-tree-loop-distribute-patterns")                 \
  X("-fvect-cost-model=cheap")                                              \
  X("-fvisibility=hidden") X("-fno-asynchronous-unwind-tables") X("-w")     \
  X("-Wl,--hash-style=sysv") X("-Wl,-z,now") X("-Wl,--build-id=none")       \
  X("-Wl,-z,noexecstack")
int pkw_module_cgen_ex(pkw_module *m, unsigned flags, char **out_c,
                       size_t *out_len, char *errbuf, size_t errlen);
/* A string naming what aot code depends on in this engine (offsets,
 * helpers, instruction set): an artifact built by an engine with another
 * fingerprint must not be bound. PKW_OK, PKW_ENOMEM, PKW_ELIMIT (cap). */
int pkw_cgen_fingerprint(const pkw_alloc *alloc, char *buf, size_t cap);
/* Binds code built from m's PKW_CGEN_AOT C: sym(ud, name) returns the
 * address of an exported symbol of the loaded object (NULL if none);
 * release(ud), if not NULL, is called when m is destroyed (it unloads
 * the object), and only once binding succeeded. The caller has checked
 * that the object was built from this module's bytes by an engine of the
 * same fingerprint; this checks what it can (function count, frames,
 * pkw_aot_marks against PKW_DECODE_DIRTY).
 * Call it once, after decoding (lazily or not) and before the first
 * pkw_instance_create. PKW_OK, PKW_EMALFORMED (errbuf says why),
 * PKW_ENOMEM, PKW_EINVAL (m is compiled already). */
int pkw_module_bind_aot(pkw_module *m, void *(*sym)(void *ud,
                                                   const char *name),
                        void (*release)(void *ud), void *ud, char *errbuf,
                        size_t errlen);
/* The C the jit tier compiles for m (for tests and `plugkit compile`):
 * a NUL-terminated string the caller frees with alloc (m's allocator if
 * NULL); *out_len gets its length. PKW_ENOMEM, PKW_ELIMIT or
 * PKW_EUNSUPPORTED (errbuf says which function and why). */
int pkw_module_cgen(pkw_module *m, char **out_c, size_t *out_len,
                    char *errbuf, size_t errlen);

/* The message of the last body a lazy module failed to translate ("" if
 * none). Valid until the next call into the module's instances; with
 * instances on several threads, use pkw_instance_error. */
const char *pkw_module_error(const pkw_module *m);
void pkw_module_destroy(pkw_module *m);   /* accepts NULL */
/* Spare instances: pkw_instance_destroy keeps the blocks of up to n
 * destroyed instances of m (each its frames, value stack and memory:
 * about 1 MiB with the defaults) and pkw_instance_create takes them
 * for the next instance with the same limits, so that making an
 * instance allocates and faults in nothing. The memory of a spare is
 * brought to the new instance's image by its dirty chunks when it was
 * tracked since that image was applied (pkw_instance_track_dirty);
 * else, when it maps that image (pkw_memory_mapped), by the pages the
 * system says were written (or by dropping its private pages); else
 * whole. Default 0 (none kept); a smaller n frees the extra
 * spares, pkw_module_destroy all of them. Thread-safe. */
void pkw_module_set_spares(pkw_module *m, uint32_t n);
/* The index (for pkw_instance_export) of the export called name
 * (name_len bytes), or PKW_ENOENT: O(log n), like pkw_instance_find. */
int pkw_module_find_export(const pkw_module *m, const char *name,
                           size_t name_len, uint32_t *out_index);
/* 32-bit words of translated code the module holds (every function
 * translated so far): for tests of the translation's size. */
size_t pkw_module_code_words(const pkw_module *m);

/* Describes import i (0-based, < pkw_module_num_imports()). Strings are
 * borrowed from the module and are NOT NUL-terminated: use the lengths. */
typedef struct pkw_import_desc {
  const char *module; uint32_t module_len;
  const char *name; uint32_t name_len;
  int kind;                   /* PKW_EXTERN_* */
  pkw_functype type;          /* for PKW_EXTERN_FUNC */
  uint8_t elem_type;          /* table: PKW_FUNCREF or PKW_EXTERNREF */
  uint8_t global_type;        /* global: value type */
  uint8_t global_mut;         /* global: 1 if mutable */
  uint8_t has_max;            /* table/memory: max is present */
  uint32_t min, max;          /* table: elements; memory: pages */
} pkw_import_desc;
uint32_t pkw_module_num_imports(const pkw_module *m);
int pkw_module_import(const pkw_module *m, uint32_t i,
                      pkw_import_desc *out_desc);

/* ---- external values (imports and exports) ---------------------------- */

typedef struct pkw_extern {
  int kind;                    /* PKW_EXTERN_* */
  union {
    pkw_func *func;
    pkw_table *table;
    pkw_memory *memory;
    pkw_global *global;
  } u;                         /* borrowed: owned by its instance/creator */
} pkw_extern;

/* Host-side objects, e.g. to build the imports of a module (the spec
 * test's "spectest" module). Caller owns them; destroy them after every
 * instance that imported them. The type arrays are copied. */
int pkw_func_create_host(const pkw_alloc *alloc, const pkw_functype *type,
                         pkw_host_fn fn, void *ud, pkw_func **out_func);
void pkw_func_destroy_host(pkw_func *f);            /* accepts NULL */
int pkw_memory_create(const pkw_alloc *alloc, uint32_t min_pages,
                      uint32_t max_pages, int has_max, pkw_memory **out_mem);
void pkw_memory_destroy(pkw_memory *mem);           /* accepts NULL */
int pkw_table_create(const pkw_alloc *alloc, int elem_type, uint32_t min,
                     uint32_t max, int has_max, pkw_table **out_table);
void pkw_table_destroy(pkw_table *t);               /* accepts NULL */
int pkw_global_create(const pkw_alloc *alloc, int type, int mutable_,
                      uint64_t value, pkw_global **out_global);
void pkw_global_destroy(pkw_global *g);             /* accepts NULL */

/* ---- instances -------------------------------------------------------- */

/* Instantiates m. imports[i] binds import i (in module order, see
 * pkw_module_import); kinds and types must match, else PKW_EUNLINKABLE.
 * limits may be NULL (defaults); a defined memory whose minimum exceeds
 * them, or defined tables whose minimums together do, give PKW_ELIMIT
 * before anything large is allocated. Runs the element and data segments and
 * the start function (bounded by limits->fuel).
 *
 * Returns PKW_OK, PKW_EUNLINKABLE, PKW_ELIMIT, PKW_ENOMEM or PKW_EINVAL
 * with *out_inst untouched, or a PKW_TRAP_* code when a segment or the
 * start function traps. In that last case, as the spec wants, writes
 * already done to imported tables and memories stay, and those tables may
 * now hold functions of the new instance: so *out_inst DOES receive the
 * partly initialized instance, which the caller destroys once nothing can
 * reach it any more. The module must outlive its instances; imported
 * objects must outlive the instances that import them. */
int pkw_instance_create(pkw_module *m, const pkw_extern *imports,
                        uint32_t nimports, const pkw_limits *limits,
                        pkw_instance **out_inst, char *errbuf, size_t errlen);
void pkw_instance_destroy(pkw_instance *inst);      /* accepts NULL */

/* Finds the export called name (name_len bytes: wasm names may contain
 * NUL). PKW_ENOENT on a miss. A binary search of the index the decoder
 * sorted: O(log n) in the number of exports. */
int pkw_instance_find(pkw_instance *inst, const char *name, size_t name_len,
                      pkw_extern *out_ext);
/* Export i (0-based, in module order): its name (borrowed, not
 * NUL-terminated; out_name/out_len may be NULL) and value. PKW_ENOENT
 * past the last export. */
int pkw_instance_export(pkw_instance *inst, uint32_t i, const char **out_name,
                        uint32_t *out_len, pkw_extern *out_ext);
/* Shortcut for a function export with a NUL-terminated name. */
int pkw_instance_func(pkw_instance *inst, const char *name,
                      pkw_func **out_func);

/* Memory index 0 of the instance (defined or imported), or NULL. */
pkw_memory *pkw_instance_memory(pkw_instance *inst);

/* A pointer the embedder keeps with the instance (NULL at first): host
 * functions, which all instances of a module share, find their caller's
 * state from the inst they are given. */
void pkw_instance_set_user(pkw_instance *inst, void *user);
void *pkw_instance_user(const pkw_instance *inst);
/* The instance that defines f; NULL for a host function (which a module
 * may export: calling it from the host passes it no instance). */
pkw_instance *pkw_func_instance(const pkw_func *f);
/* Host functions the instance's guest code has called so far. */
uint64_t pkw_instance_host_calls(const pkw_instance *inst);
/* The message of the last body this instance's call failed to translate
 * lazily ("" if none): the per-instance pkw_module_error, safe when
 * instances run on several threads. */
const char *pkw_instance_error(const pkw_instance *inst);

/* ---- images: snapshot and reset ---------------------------------------- */

/* An image is the state of an instance at one moment: its defined
 * memory (the chunks of 4 KiB that are not all zero), its own globals
 * and tables (function references as function indices, so that the
 * image fits any instance of the module) and its dropped segments. It
 * is read-only once made: instances on several threads may use one.
 * The first instance made from it writes its memory into a memory file
 * (a sealed memfd, closed with the image; none on systems without them,
 * or for an image under PKW_COW_MIN_PAGES) that instances map
 * copy-on-write: instance.c, "copy-on-write memory". */
typedef struct pkw_image pkw_image;
/* Snapshot inst (no call running in it). PKW_ENOMEM, or PKW_EINVAL when
 * a table or global holds a function of another instance. */
int pkw_image_create(pkw_instance *inst, pkw_image **out_image);
void pkw_image_destroy(pkw_image *img);            /* accepts NULL */
/* Bytes the image holds (memory chunks and tables), for reports. */
size_t pkw_image_bytes(const pkw_image *img);
/* Makes the instance's memory record the chunks written from now on
 * (the module must be decoded with PKW_DECODE_DIRTY, else PKW_EINVAL):
 * what pkw_instance_reset restores. PKW_ENOMEM. */
int pkw_instance_track_dirty(pkw_instance *inst);
/* Returns inst (no call running in it) to img, an image of an instance
 * of the same module: the memory chunks written since the last reset (or
 * since tracking began) are copied back from the image, a grown memory
 * shrinks back to the image's size, and globals, tables and dropped
 * segments are set from it. Needs pkw_instance_track_dirty. PKW_OK,
 * PKW_ENOMEM (a table to regrow), PKW_EINVAL. */
int pkw_instance_reset(pkw_instance *inst, const pkw_image *img);
/* Chunks of 4 KiB written since the last reset (tracked instances). */
uint32_t pkw_instance_dirty_chunks(const pkw_instance *inst);

/* Fuel: each call (the host's into the guest too) and each loop
 * iteration consumes one unit; at zero the guest traps with
 * PKW_TRAP_OUT_OF_FUEL. fuel < 0 means unlimited (the
 * default). pkw_instance_fuel() returns what is left. */
void pkw_instance_set_fuel(pkw_instance *inst, int64_t fuel);
int64_t pkw_instance_fuel(const pkw_instance *inst);

/* Asks the running guest to stop: it traps with PKW_TRAP_INTERRUPTED at
 * its next call or loop iteration. Safe to call from any thread or a
 * signal handler. The flag is cleared when the trap is reported. */
void pkw_instance_interrupt(pkw_instance *inst);
/* Clears a raised interrupt that no trap reported (a watchdog that fired
 * just as the guest returned): the next call starts clean. */
void pkw_instance_clear_interrupt(pkw_instance *inst);

/* The start function of an instance created with limits->defer_start,
 * for the caller to run with pkw_call, or NULL (none, or not deferred). */
pkw_func *pkw_instance_start_func(pkw_instance *inst);

/* The type of f (arrays borrowed from f). */
void pkw_func_type(const pkw_func *f, pkw_functype *out_type);

/* Calls f with nparams argument slots; writes nresults result slots.
 * Returns PKW_OK, a PKW_TRAP_* code, a host function's error code, or
 * PKW_EINVAL if the counts do not match the type. args and results may
 * alias. Never allocates. After a trap the instance stays usable (its
 * memory keeps whatever the guest wrote before trapping).
 *
 * Re-entrancy: a host callback may call pkw_call again, on any instance;
 * the nested call runs above the caller's frames on the same value
 * stack. At most PKW_MAX_REENTRY host callbacks may be active on one
 * instance's stack (beyond: PKW_TRAP_STACK_EXHAUSTED). A call into a
 * function of another wasm instance (through an import or a shared
 * table) runs on the caller's stack, with the caller's fuel and limits. */
int pkw_call(pkw_func *f, const uint64_t *args, uint32_t nargs,
             uint64_t *results, uint32_t nresults);

/* The fast path of pkw_call for a caller that checked f's type once
 * (pkw_func_type) and keeps its values in a strided array: argument i is
 * the 64-bit slot at byte offset i * stride from in, result i goes to the
 * same offset from out (stride a multiple of 8; in and out may alias).
 * No count checks; a host function exported by a module may have at most
 * PKW_INVOKE_MAX parameters and results (else PKW_EINVAL). Same returns
 * and re-entrancy as pkw_call. */
#define PKW_INVOKE_MAX 32
int pkw_invoke(pkw_func *f, const uint64_t *in, uint64_t *out,
               size_t stride);
/* pkw_invoke for a caller that expects compiled code (the module's tier,
 * pkw_module_tier, is "jit" or "aot"): a function with compiled code
 * enters it without pkw_invoke's dispatch; any other function (a body
 * left to the interpreter, a host function) is passed on to pkw_invoke.
 * Same contract. */
int pkw_invoke_compiled(pkw_func *f, const uint64_t *in, uint64_t *out,
                        size_t stride);

/* ---- memories, globals, tables ----------------------------------------- */

/* Base and byte size of a memory. The pointer changes on memory.grow
 * (not that of a mapped memory, pkw_memory_mapped: it grows in place;
 * rely on neither). */
uint8_t *pkw_memory_data(pkw_memory *mem, uint64_t *out_size);
uint32_t pkw_memory_pages(const pkw_memory *mem);
/* 1 when the memory is a copy-on-write mapping of an image's memory
 * file (an instance made from an image on a system with memory files:
 * instance.c says how), 0 when its bytes come from the allocator. For
 * tests and reports: both behave the same. */
int pkw_memory_mapped(const pkw_memory *mem);
/* Bounds-checked copies; PKW_TRAP_MEMORY_OOB if [off, off+n) is outside. */
int pkw_memory_read(pkw_memory *mem, uint64_t off, void *dst, size_t n);
int pkw_memory_write(pkw_memory *mem, uint64_t off, const void *src,
                     size_t n);
/* Grows by delta pages; writes the old size. PKW_ELIMIT past the max. */
int pkw_memory_grow(pkw_memory *mem, uint32_t delta, uint32_t *out_old);
/* The host wrote (or may write) [off, off+n) through pkw_memory_data:
 * marks the chunks for pkw_instance_reset when the memory is tracked
 * (pkw_memory_write marks by itself). Out of bounds: nothing. */
void pkw_memory_touch(pkw_memory *mem, uint64_t off, uint64_t n);

uint64_t pkw_global_get(const pkw_global *g);
int pkw_global_type(const pkw_global *g);
/* PKW_EINVAL if the global is immutable. */
int pkw_global_set(pkw_global *g, uint64_t v);

uint32_t pkw_table_size(const pkw_table *t);
/* Read/write element i; PKW_TRAP_TABLE_OOB out of range. */
int pkw_table_get(const pkw_table *t, uint32_t i, uint64_t *out_ref);
int pkw_table_set(pkw_table *t, uint32_t i, uint64_t ref);

#ifdef __cplusplus
}
#endif
#endif
