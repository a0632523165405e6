/*
 * plugkit_types.h: what the host API and the plugin SDK share.
 *
 * Value types, the error list and the version macros. Both public
 * headers include this one; it compiles on its own, as C11, with any
 * compiler that targets the plugin (gcc, clang, tcc, clang for wasm32),
 * and as C++11 and later.
 * Nothing here needs libplugkit at link time.
 */
#ifndef PK_TYPES_H
#define PK_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* Library version, for compile time; pk_version() gives the run time one. */
#define PK_VERSION_MAJOR 0
#define PK_VERSION_MINOR 1
#define PK_VERSION_PATCH 0
#define PK_VERSION_HEX                                                      \
  ((PK_VERSION_MAJOR << 16) | (PK_VERSION_MINOR << 8) | PK_VERSION_PATCH)

/*
 * Plugin ABI version: the layout of the plugin descriptor and of the host
 * table handed to plugins. The major changes only on an incompatible
 * change (never so far); the minor grows when an entry is appended to the
 * host table. A host loads plugins of its own major and of any minor up to
 * its own.
 */
#define PK_ABI_MAJOR 1
#define PK_ABI_MINOR 0

/*
 * Error codes. One list, from which the enum, pk_errname() and
 * pk_strerror() are generated so that they cannot drift apart. Codes are
 * negative (PK_OK is 0), numbered in list order: append only, since
 * plugins and other processes see the numbers.
 */
#define PK_ERROR_LIST(X)                                                    \
  X(EINVAL, "invalid argument")                                             \
  X(ENOMEM, "out of memory")                                                \
  X(ENOENT, "not found")                                                    \
  X(EIO, "input/output error")                                              \
  X(EFORMAT, "not a plugin file this backend can read")                     \
  X(EARCH, "plugin built for another architecture")                         \
  X(ENODESC, "plugin has no plugkit descriptor")                            \
  X(EABI, "plugin built for an incompatible plugkit ABI")                   \
  X(ENOSYM, "symbol not exported by plugin")                                \
  X(ESIG, "signature mismatch")                                             \
  X(ETYPE, "value type does not match the signature")                       \
  X(EINIT, "plugin initialisation failed")                                  \
  X(EPLUGIN, "plugin reported an error")                                    \
  X(EDENIED, "host function not granted to this plugin")                    \
  X(ENOSYS, "not available in this build")                                  \
  X(ETRAP, "plugin trapped")                                                \
  X(ECRASH, "plugin process died")                                          \
  X(ETIMEOUT, "plugin did not answer in time")                              \
  X(ELIMIT, "plugin exceeded a resource limit")                             \
  X(EPROTO, "plugin protocol error")                                        \
  X(EHOST, "host function failed")                                          \
  X(EBUSY, "plugin is in use")                                              \
  X(ECLOSED, "plugin was closed")                                           \
  X(EHASH, "file does not match the hash its manifest pins")                \
  X(EBADSIG, "manifest signature does not verify")                          \
  X(EUNTRUSTED, "not trusted: an unknown signer, or a file others may write")

enum pk_errcode_base_ { PK__ERRBASE_ = 0,
#define PK__ERR_BASE(name, msg) PK__ERRBASE_##name,
  PK_ERROR_LIST(PK__ERR_BASE)
#undef PK__ERR_BASE
  PK__ERRBASE_END_ };

/* PK_OK is 0; each error is the negated position in the list. */
enum pk_errcode {
  PK_OK = 0,
#define PK__ERR_ENUM(name, msg) PK_##name = -(int)PK__ERRBASE_##name,
  PK_ERROR_LIST(PK__ERR_ENUM)
#undef PK__ERR_ENUM
  PK__ELAST = -(int)PK__ERRBASE_END_
};

/*
 * Value types. The numbers cross the plugin boundary (descriptors, the
 * process protocol, wasm imports): append only.
 */
typedef enum pk_type {
  PK_T_VOID = 0, /* only in signatures: "no result" */
  PK_T_I32 = 1,
  PK_T_I64 = 2,
  PK_T_F32 = 3,
  PK_T_F64 = 4,
  PK_T_STR = 5,  /* UTF-8 text, pointer + length, not NUL-terminated */
  PK_T_BYTES = 6 /* raw bytes, pointer + length */
} pk_type;

/* A string: UTF-8, `len` bytes at `ptr`; ptr may be NULL when len is 0. */
typedef struct pk_str {
  const char *ptr;
  size_t len;
} pk_str;

/* A byte buffer: `len` bytes at `ptr`; ptr may be NULL when len is 0. */
typedef struct pk_bytes {
  const uint8_t *ptr;
  size_t len;
} pk_bytes;

/*
 * One value: a type tag and the payload. Plain data, passed in arrays.
 * Unlike the option structs it carries no `size` field: its layout is
 * fixed by PK_ABI_MAJOR, and a size per value would cost on every call.
 */
typedef struct pk_val {
  uint32_t type; /* a pk_type */
  union {
    int32_t i32;
    int64_t i64;
    float f32;
    double f64;
    pk_str str;
    pk_bytes bytes;
  };
} pk_val;

/* Value constructors, usable in initialisers: pk_val v[2] = {PK_I32(1)...}. */
#ifndef __cplusplus
#define PK_I32(x) ((pk_val){.type = PK_T_I32, .i32 = (x)})
#define PK_I64(x) ((pk_val){.type = PK_T_I64, .i64 = (x)})
#define PK_F32(x) ((pk_val){.type = PK_T_F32, .f32 = (x)})
#define PK_F64(x) ((pk_val){.type = PK_T_F64, .f64 = (x)})
#define PK_STR(p, n) ((pk_val){.type = PK_T_STR, .str = {(p), (n)}})
#define PK_BYTES(p, n) ((pk_val){.type = PK_T_BYTES, .bytes = {(p), (n)}})
/* A struct value in an expression (C: a compound literal). */
#define PK__MAKE(T, ...) ((T){__VA_ARGS__})
#else
/* C++ before C++20 has neither compound literals nor designated
   initialisers: the same constructors as inline functions. */
static inline pk_val pk__val(uint32_t type) {
  pk_val v;
  v.type = type;
  v.str.ptr = NULL; /* the widest member: no byte left undefined */
  v.str.len = 0;
  return v;
}
static inline pk_val pk__val_i32(int32_t x) {
  pk_val v = pk__val(PK_T_I32);
  v.i32 = x;
  return v;
}
static inline pk_val pk__val_i64(int64_t x) {
  pk_val v = pk__val(PK_T_I64);
  v.i64 = x;
  return v;
}
static inline pk_val pk__val_f32(float x) {
  pk_val v = pk__val(PK_T_F32);
  v.f32 = x;
  return v;
}
static inline pk_val pk__val_f64(double x) {
  pk_val v = pk__val(PK_T_F64);
  v.f64 = x;
  return v;
}
static inline pk_val pk__val_str(const char *p, size_t n) {
  pk_val v = pk__val(PK_T_STR);
  v.str.ptr = p;
  v.str.len = n;
  return v;
}
static inline pk_val pk__val_bytes(const void *p, size_t n) {
  pk_val v = pk__val(PK_T_BYTES);
  v.bytes.ptr = (const uint8_t *)p;
  v.bytes.len = n;
  return v;
}
#define PK_I32(x) pk__val_i32(x)
#define PK_I64(x) pk__val_i64(x)
#define PK_F32(x) pk__val_f32(x)
#define PK_F64(x) pk__val_f64(x)
#define PK_STR(p, n) pk__val_str((p), (n))
#define PK_BYTES(p, n) pk__val_bytes((p), (n))
#define PK__MAKE(T, ...) (T{__VA_ARGS__})
#endif

/* A pk_str from a string literal or a NUL-terminated array in scope. */
#define PK_STR_LIT(s) PK__MAKE(pk_str, (s), sizeof(s) - 1)
/* printf helpers: printf("%.*s", PK_STR_FMT(s)). */
#define PK_STR_FMT(s) (int)(s).len, (s).ptr

/* Signatures hold at most this many parameters and results. */
#define PK_MAX_PARAMS 16
#define PK_MAX_RESULTS 8

/* Log levels, for the host's log sink and the plugin's pk_log(). */
enum pk_log_level {
  PK_LOG_ERROR = 0,
  PK_LOG_WARN = 1,
  PK_LOG_INFO = 2,
  PK_LOG_DEBUG = 3
};

#endif /* PK_TYPES_H */
