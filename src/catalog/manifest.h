/*
 * manifest.h: plugin manifests (NAME.plugkit), versions and version
 * ranges, artifact choice and SHA-256. Internal: the catalog's contract
 * with the core (the open hook), the bundle reader and the scanner.
 * docs/manifest.md has the format.
 *
 * Everything parsed here comes from files a host did not write: every
 * size is bounded by the constants below, and every error names the file
 * and the line ("x.plugkit:7: manifest: duplicate key 'version'").
 */
#ifndef PK_CATALOG_MANIFEST_H
#define PK_CATALOG_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "../core/core.h"
#include "minisign.h"

/* Bounds on what a manifest may hold: above them, PK_ELIMIT. */
#define PK__MF_MAX_FILE ((size_t)64 * 1024) /* bytes in the file */
#define PK__MF_MAX_LINE 1024u      /* bytes in a line, without its newline */
#define PK__MF_MAX_ARTIFACTS 32u   /* [artifact ...] sections */
#define PK__MF_MAX_DEPS 64u        /* keys of [dependencies] */
#define PK__MF_MAX_GRANTS 64u      /* names in grants */
#define PK__MF_MAX_NAME 63u        /* a plugin, key or grant name */
#define PK__MF_MAX_PATH 255u       /* an artifact's path */
#define PK__MF_MAX_TARGET 31u      /* "x86_64-linux" */

/* ---- versions ---------------------------------------------------------- */

/* A semantic version: MAJOR.MINOR.PATCH[-PRE][+BUILD] (semver.org 2.0).
   Build metadata is checked and dropped (it has no precedence). */
#define PK__SEMVER_MAX 64u /* bytes of a version's text */
#define PK__SEMVER_NUM_MAX 0x7fffffffu
typedef struct pk__semver {
  uint32_t major, minor, patch;
  const char *pre; /* the pre-release identifiers ("rc.1"), borrowed from
                      the parsed text; NULL when none */
  size_t npre;
} pk__semver;

/*
 * Parse the `n` bytes at `s` (no spaces). PK_OK or PK_EFORMAT with the
 * reason in `why` (`cap` bytes; may be NULL). out->pre points into `s`.
 */
int pk__semver_parse(const char *s, size_t n, pk__semver *out, char *why,
                     size_t cap);
/* <0, 0, >0 in semver precedence (pre-releases before their release,
   identifiers compared numerically or in ASCII, as the spec says). */
int pk__semver_cmp(const pk__semver *a, const pk__semver *b);

/*
 * A range: comparators that must all hold, written ">=1.2, <2". Each is an
 * operator (>=, >, <=, <, =, ^, ~, or none) and a version whose minor and
 * patch may be left out. "*" alone matches everything (n == 0).
 * docs/manifest.md gives the meaning of each form; here they are reduced
 * to the five basic comparisons.
 */
#define PK__RANGE_MAX 8u /* comparators after ^ and ~ are expanded */
enum { PK__OP_EQ, PK__OP_LT, PK__OP_LE, PK__OP_GT, PK__OP_GE };
typedef struct pk__range {
  size_t n;
  struct {
    int op; /* PK__OP_* */
    pk__semver v;
  } c[PK__RANGE_MAX];
} pk__range;

/* PK_OK or PK_EFORMAT (reason in `why`). Versions borrow from `s`. */
int pk__range_parse(const char *s, size_t n, pk__range *out, char *why,
                    size_t cap);
/* 1 when `v` satisfies every comparator, else 0. */
int pk__range_match(const pk__range *r, const pk__semver *v);

/* ---- the manifest ------------------------------------------------------ */

/* The backends an artifact may name, known whether built in or not. */
#define PK__MF_BACKENDS "native, wasm, lua, source, process"

typedef struct pk__artifact {
  const char *backend; /* "native", "wasm", "lua", "source", "process" */
  const char *target;  /* "x86_64-linux" for native and process, else
                          NULL: which machine code it holds */
  const char *path;    /* relative to the manifest's folder, '/'-separated,
                          checked: no "..", not absolute, no empty part */
  uint8_t sha256[32];
  int line;            /* of its [artifact] header, for messages */
} pk__artifact;

typedef struct pk__dep {
  const char *name;  /* the plugin depended on */
  const char *range_text;
  pk__range range;   /* the versions of it that will do */
  int line;
} pk__dep;

/*
 * A parsed manifest. One block owned by the host that parsed it: every
 * string points into it (NUL-terminated). Free with pk__manifest_free.
 */
typedef struct pk__manifest {
  const char *file;        /* the name messages use, as given */
  const char *name;        /* [plugin] name: required */
  const char *version_text;
  pk__semver version;      /* [plugin] version: required */
  const char *description; /* NULL when absent */
  const char *grants;      /* "a,b,c" (checked names, no spaces), the form
                              pk_open_opts.grants takes; NULL when absent */
  size_t ngrants;
  const char *abi_text;    /* NULL when absent: any ABI the host loads */
  pk__range abi;           /* host ABI versions (MAJOR.MINOR.0) it needs */
  pk__artifact art[PK__MF_MAX_ARTIFACTS]; /* at least one */
  size_t nart;
  pk__dep *deps; /* ndeps entries, in file order; in the block */
  size_t ndeps;
} pk__manifest;

/*
 * Parse the `n` bytes at `buf` (need not be NUL-terminated). `file` names
 * it in messages. PK_OK and *out (the caller's, pk__manifest_free), or:
 * PK_EFORMAT (syntax, unknown key or section, duplicate, bad version,
 * range, hash or path, missing required key, NUL or control byte, invalid
 * UTF-8), PK_ELIMIT (a bound above), PK_ENOMEM; the message is
 * "<file>:<line>: manifest: <cause>".
 */
int pk__manifest_parse(pk_host *h, const char *file, const char *buf,
                       size_t n, pk__manifest **out);
void pk__manifest_free(pk_host *h, pk__manifest *m);

/* pk__manifest_probe (declared in core.h, for the open hook): does this
   file look like a manifest? Its name ends in ".plugkit", or its first
   line that is neither blank nor a comment is "[plugin]". */

/* ---- choosing an artifact ---------------------------------------------- */

/* This host's target, "x86_64-linux": the native artifacts it loads. */
void pk__target_this(char out[PK__MF_MAX_TARGET + 1]);

/* PK_OK when this host's ABI is in the range m asks for (or m names
   none); else PK_EABI, the message naming both. `path` names m. */
int pk__manifest_check_abi(pk_host *h, const pk__manifest *m,
                           const char *path);

/*
 * The best artifact of `m` for this host: only those of `backend` when it
 * is not NULL; only wasm and lua under PK_ARTIFACTS_SANDBOXED; only
 * backends built into this library; native and process ones only for
 * this target. Preference: native, wasm, lua, source, process. PK_OK and
 * *out (borrowed from m), or PK_EARCH naming what the manifest offers and
 * why none fits.
 */
int pk__manifest_pick(pk_host *h, const pk__manifest *m, const char *backend,
                      int policy, const pk__artifact **out);

/* The folder of the manifest at mpath into dir: "." for a bare name, "/"
   at the root. 0, or -1 when it does not fit in cap. */
int pk__manifest_folder(const char *mpath, char *dir, size_t cap);

/* Join the manifest's folder (from its path) and a's path into buf.
   PK_OK or PK_ELIMIT (too long, message set). */
int pk__artifact_path(pk_host *h, const pk__manifest *m, const char *mpath,
                      const pk__artifact *a, char *buf, size_t cap);

/*
 * Hash artifact `a` of manifest `m` (read from `mpath`): its file, opened
 * beneath the manifest's folder without following a symbolic link, is
 * read and compared with a's SHA-256. PK_OK, or PK_EHASH (message naming
 * the artifact, the expected and the actual hash), PK_ENOENT, PK_EIO,
 * PK_EFORMAT (a symbolic link, not a regular file), PK_ELIMIT (above
 * PK__MAX_FILE).
 */
int pk__artifact_check(pk_host *h, const pk__manifest *m, const char *mpath,
                       const pk__artifact *a);

/*
 * The signature of a manifest's `n` bytes at `buf`, read from path +
 * ".minisig", against `keys`: PK_OK, or PK_EUNTRUSTED (no signature file,
 * no keys, or not signed by one of them), PK_EBADSIG, PK_ENOSYS (no
 * libsodium), with a message naming the file and the key id.
 */
int pk__manifest_check_sig(pk_host *h, const char *path,
                           const unsigned char *buf, size_t n,
                           const pk__ms_pub *keys, size_t nkeys);

/* ---- SHA-256 (FIPS 180-4) ---------------------------------------------- */

/* pk__sha256 and its functions are declared in core.h. */
/* 64 lowercase hex digits and a NUL into out. */
void pk__hex(const uint8_t *b, size_t n, char *out);

#endif /* PK_CATALOG_MANIFEST_H */
