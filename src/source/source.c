/*
 * source.c: C source plugins, compiled in memory at load time by libtcc.
 *
 * Opening a .c file (or a directory of .c files, compiled together as one
 * plugin) compiles it into this process's memory against plugkit_plugin.h
 * and from then on the plugin is exactly a native one: the same
 * descriptor, the same thunks, the same context, called through
 * pk_func.thunk. Every open compiles afresh, so two opens are two
 * instances with their own globals and an edited file loads its new code
 * on the next open.
 *
 * libtcc 0.9.27 keeps compiler state in globals while it compiles and
 * relocates, so those steps run under one process-wide lock (the one
 * mutable global of this backend); each plugin owns its TCCState, whose
 * memory holds the plugin's code until close. tcc allocates with the C
 * library's malloc, not the host's allocator hook (it offers no hook),
 * through a tracking layer that frees what it forgets (tcc_mem).
 */

#include "../core/core.h"
#include "../os/os.h"

#include <libtcc.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <unistd.h>

/*
 * Set by src/source/backend.cmake: where plugkit_plugin.h is (the source
 * tree and the install prefix), and tcc's own directory (its
 * freestanding headers such as stdarg.h and its runtime libtcc1.a).
 */
/* Where the SDK header and tcc's runtime are: in the build tree
   (absolute) while this library runs from it, else relative to the
   installed library (PK_SOURCE_*_FROM_LIB), so an install works wherever
   it is moved. PK_SOURCE_TCC_DIR_SYSTEM: Debian's tcc package, when the
   build found it. */
#ifndef PK_SOURCE_SDK_DIR
#define PK_SOURCE_SDK_DIR ""
#endif
#ifndef PK_SOURCE_SDK_INSTALLED
#define PK_SOURCE_SDK_INSTALLED "/usr/local/include"
#endif
#ifndef PK_SOURCE_SDK_FROM_LIB
#define PK_SOURCE_SDK_FROM_LIB "../include"
#endif
#ifndef PK_SOURCE_TCC_DIR
#define PK_SOURCE_TCC_DIR ""
#endif
#ifndef PK_SOURCE_TCC_FROM_LIB
#define PK_SOURCE_TCC_FROM_LIB "../share/plugkit/tcc"
#endif

/* At most this many files in a directory plugin. */
#define MAX_FILES 256
/* Room for tcc's diagnostics in the error message. */
#define DIAG_CAP 768

/*
 * libtcc's memory. libtcc forgets blocks on its error paths (every failed
 * compile leaked 65 bytes to 2 KiB, BUG 19) and tcc_delete does not free
 * them. backend.cmake renames libtcc's malloc, calloc, realloc and free to
 * pk__tcc_*, below, which put a header before each block linking it into
 * the list of the compiler state that allocated it (tcc_mem_cur, set
 * around every libtcc call); closing the plugin frees what tcc_delete
 * left. The code tcc_relocate makes comes from the same allocator, so it
 * stays in the list, alive, until close.
 */
typedef struct tcc_mem tcc_mem;
typedef union tcc_blk {
  struct {
    union tcc_blk *prev, *next;
    tcc_mem *owner; /* NULL: allocated outside any compiler state */
    size_t size;
  } h;
  max_align_t align; /* the block after the header keeps malloc's alignment */
} tcc_blk;
struct tcc_mem {
  tcc_blk *head; /* blocks libtcc holds for one TCCState */
  size_t nblocks;
};

typedef struct source_state {
  TCCState *tcc; /* owns the compiled code */
  tcc_mem mem;   /* everything libtcc allocated for it */
  const pk_plugin_desc *desc;
  int inited;          /* init ran and succeeded: fini must run */
  size_t ndiag;        /* bytes used in diag */
  char diag[DIAG_CAP]; /* tcc's diagnostics, "; "-separated */
} source_state;

/* ---- the compiler lock -------------------------------------------------- */

static atomic_flag tcc_busy = ATOMIC_FLAG_INIT;

/*
 * The build links a copy of libtcc.a in which glibc's stdout, stderr and
 * environ are renamed to these (backend.cmake says why). tcc only prints
 * when no error callback is set, which never happens here, but they must
 * point at the real ones all the same. Declared here, not in a header:
 * nothing else uses them.
 */
FILE *pk__tcc_stdout, *pk__tcc_stderr;
char **pk__tcc_environ;
extern char **environ; /* POSIX: declared by the program itself */

static void tcc_lock(void) {
  while (atomic_flag_test_and_set_explicit(&tcc_busy, memory_order_acquire))
    thrd_yield();
  pk__tcc_stdout = stdout;
  pk__tcc_stderr = stderr;
  pk__tcc_environ = environ;
}

static void tcc_unlock(void) {
  atomic_flag_clear_explicit(&tcc_busy, memory_order_release);
}

/* The same lock for the wasm engine's jit tier (src/wasm/engine/jit.c),
   which compiles with this libtcc too. Its blocks belong to no source
   plugin (tcc_mem_cur is NULL outside this file's calls): plain ones. */
void pk__tcc_lock(void);
void pk__tcc_unlock(void);
void pk__tcc_lock(void) { tcc_lock(); }
void pk__tcc_unlock(void) { tcc_unlock(); }

/* ---- libtcc's allocator (see tcc_mem) ------------------------------------ */

/* The compiler state libtcc's allocations belong to: set, under the lock,
   around every call into libtcc. */
static _Thread_local tcc_mem *tcc_mem_cur;

/* Declared here, not in a header: only libtcc calls them (renamed). */
void *pk__tcc_malloc(size_t n);
void *pk__tcc_calloc(size_t n, size_t m);
void *pk__tcc_realloc(void *p, size_t n);
void pk__tcc_free(void *p);

static void blk_link(tcc_blk *b, tcc_mem *m) {
  b->h.owner = m;
  b->h.prev = NULL;
  b->h.next = NULL;
  if (m == NULL)
    return;
  b->h.next = m->head;
  if (m->head != NULL)
    m->head->h.prev = b;
  m->head = b;
  m->nblocks++;
}

static void blk_unlink(tcc_blk *b) {
  tcc_mem *m = b->h.owner;
  if (m == NULL)
    return;
  if (b->h.prev != NULL)
    b->h.prev->h.next = b->h.next;
  else
    m->head = b->h.next;
  if (b->h.next != NULL)
    b->h.next->h.prev = b->h.prev;
  m->nblocks--;
}

void *pk__tcc_malloc(size_t n) {
  tcc_blk *b;
  if (n > SIZE_MAX - sizeof *b || (b = malloc(sizeof *b + n)) == NULL)
    return NULL;
  b->h.size = n;
  blk_link(b, tcc_mem_cur);
  return b + 1;
}

void *pk__tcc_calloc(size_t n, size_t m) {
  void *p;
  if (m != 0 && n > SIZE_MAX / m)
    return NULL;
  if ((p = pk__tcc_malloc(n * m)) != NULL)
    memset(p, 0, n * m);
  return p;
}

void pk__tcc_free(void *p) {
  tcc_blk *b;
  if (p == NULL)
    return;
  b = (tcc_blk *)p - 1;
  blk_unlink(b);
  free(b);
}

void *pk__tcc_realloc(void *p, size_t n) {
  tcc_blk *b, *nb;
  tcc_mem *m;
  if (p == NULL)
    return pk__tcc_malloc(n);
  if (n == 0) {
    pk__tcc_free(p);
    return NULL;
  }
  b = (tcc_blk *)p - 1;
  m = b->h.owner;
  if (n > SIZE_MAX - sizeof *b)
    return NULL;
  blk_unlink(b);
  if ((nb = realloc(b, sizeof *b + n)) == NULL) {
    blk_link(b, m); /* the old block stays valid */
    return NULL;
  }
  nb->h.size = n;
  blk_link(nb, m);
  return nb + 1;
}

/* Free what libtcc left of one compiler state, after tcc_delete. */
static void tcc_mem_release(tcc_mem *m) {
  while (m->head != NULL)
    pk__tcc_free(m->head + 1);
}

/* ---- probing ------------------------------------------------------------ */

static int has_suffix(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n > k && strcmp(s + n - k, suffix) == 0;
}

/* Does `head` (n bytes) contain `needle`? */
static int head_has(const unsigned char *head, size_t n, const char *needle) {
  size_t k = strlen(needle), i;
  for (i = 0; i + k <= n; i++)
    if (memcmp(head + i, needle, k) == 0)
      return 1;
  return 0;
}

static int is_c_file(void *ud, const char *name) {
  (void)ud;
  return name[0] != '.' && has_suffix(name, ".c");
}

static int dir_has_c_files(const char *path) {
  return pk__os_list_dir(path, is_c_file, NULL) == 1;
}

/* A .c file is ours; so is any file that includes the SDK header, and a
   directory holding .c files (below what a dedicated backend would
   claim). */
static int source_probe(const unsigned char *head, size_t n, const char *path,
                        int isdir) {
  if (isdir)
    return dir_has_c_files(path) ? 50 : 0;
  if (has_suffix(path, ".c"))
    return 100;
  if (head_has(head, n, "plugkit_plugin.h"))
    return 80;
  return 0;
}

/* ---- compiling ---------------------------------------------------------- */

/* tcc's error callback: keep the diagnostics ("file:line: error: ...")
   for the message; what does not fit is cut. */
static void on_diag(void *opaque, const char *msg) {
  source_state *st = opaque;
  size_t room = sizeof st->diag - st->ndiag, k;
  if (room <= 3)
    return;
  if (st->ndiag > 0) {
    memcpy(st->diag + st->ndiag, "; ", 2);
    st->ndiag += 2;
    room -= 2;
  }
  k = strlen(msg);
  if (k >= room)
    k = room - 1;
  memcpy(st->diag + st->ndiag, msg, k);
  st->ndiag += k;
  st->diag[st->ndiag] = '\0';
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Add every .c file of directory `dir` to the compilation, in name order
 * (so that diagnostics and symbol clashes do not depend on readdir).
 * Returns PK_OK, or a code with the message set (tcc's diagnostics for a
 * compile error).
 */
typedef struct dir_walk {
  pk_plugin *p;
  const char *dir;
  char *names[MAX_FILES];
  size_t n;
} dir_walk;

/* Collect one .c file of the directory; nonzero (a code) stops the walk. */
static int collect(void *ud, const char *name) {
  dir_walk *w = ud;
  if (name[0] == '.' || !has_suffix(name, ".c"))
    return 0;
  if (w->n == MAX_FILES)
    return pk__perr(w->p, PK_EFORMAT, "more than %d .c files", MAX_FILES);
  if ((w->names[w->n] = pk__alloc(w->p->host, strlen(w->dir) + strlen(name) +
                                                  2)) == NULL)
    return pk__perr(w->p, PK_ENOMEM, "out of memory");
  strcpy(w->names[w->n], w->dir);
  strcat(w->names[w->n], "/");
  strcat(w->names[w->n], name);
  w->n++;
  return 0;
}

static int add_dir(pk_plugin *p, source_state *st, const char *dir) {
  dir_walk w;
  char **names = w.names;
  size_t i, n;
  int rc;

  w.p = p;
  w.dir = dir;
  w.n = 0;
  rc = pk__os_list_dir(dir, collect, &w);
  if (rc == PK_EIO)
    rc = pk__perr(p, PK_EIO, "cannot list the directory");
  n = w.n;
  if (rc == PK_OK && n == 0)
    rc = pk__perr(p, PK_EFORMAT, "the directory holds no .c file");
  if (rc == PK_OK) {
    qsort(names, n, sizeof names[0], cmp_names);
    for (i = 0; i < n && rc == PK_OK; i++)
      if ((rc = pk__plugin_check_file(p, names[i])) == PK_OK &&
          tcc_add_file(st->tcc, names[i]) < 0)
        rc = pk__perr(p, PK_EFORMAT, "compile failed: %s", st->diag);
  }
  for (i = 0; i < n; i++)
    pk__free(p->host, names[i]);
  return rc;
}

/* One of plugkit's directories (see PK_SOURCE_SDK_DIR); "" if unknown. */
static const char *own_dir(const char *build, const char *rel, char *buf,
                           size_t cap) {
  return pk__install_path(build, rel, buf, cap) == 0 ? buf : "";
}

/* Compile p->path into st->tcc and relocate it; under the lock. */
static int compile(pk_plugin *p, source_state *st, int isdir) {
  char dir[4096];
  int rc = PK_OK;

  if ((st->tcc = tcc_new()) == NULL)
    return pk__perr(p, PK_ENOMEM, "libtcc could not create a compiler");
  tcc_set_error_func(st->tcc, st, on_diag);
#ifdef PK_SOURCE_TCC_DIR_SYSTEM
  tcc_set_lib_path(st->tcc, PK_SOURCE_TCC_DIR_SYSTEM);
#else
  {
    /* A program linking the static library has no install beside it:
       then where the install was made, as for the SDK header below. */
    const char *tcc = own_dir(PK_SOURCE_TCC_DIR, PK_SOURCE_TCC_FROM_LIB, dir,
                              sizeof dir);
    pk__os_stat sb;
    int islink, isreg, isexec;
    if (pk__os_lstat(tcc, &sb, &islink, &isreg, &isexec) != PK_OK)
      tcc = PK_SOURCE_TCC_INSTALLED;
    tcc_set_lib_path(st->tcc, tcc);
  }
#endif
  tcc_set_output_type(st->tcc, TCC_OUTPUT_MEMORY);
  /* The SDK header: from the source tree this library was built in, else
     from where it is installed. */
  tcc_add_include_path(st->tcc, own_dir(PK_SOURCE_SDK_DIR,
                                        PK_SOURCE_SDK_FROM_LIB, dir,
                                        sizeof dir));
  /* A program linking the static library: where the install was made. */
  tcc_add_include_path(st->tcc, PK_SOURCE_SDK_INSTALLED);
  /* Every file is C, whatever its name (a file is probed by content). */
  tcc_set_options(st->tcc, "-xc");
  if (isdir) {
    if ((rc = add_dir(p, st, p->path)) < 0)
      return rc;
  } else if ((rc = pk__plugin_check_file(p, p->path)) < 0) {
    return rc; /* tcc reads what it is given to the end: not a FIFO */
  } else if (tcc_add_file(st->tcc, p->path) < 0) {
    rc = PK_EFORMAT;
  }
  if (rc == PK_OK && tcc_relocate(st->tcc, TCC_RELOCATE_AUTO) < 0)
    rc = PK_EFORMAT;
  if (rc < 0)
    return pk__perr(p, PK_EFORMAT, "compile failed: %s",
                    st->ndiag > 0 ? st->diag : "libtcc gave no reason");
  /* It compiled: what tcc said is warnings, for the host's log. */
  if (st->ndiag > 0)
    pk__plugin_log(p, PK_LOG_WARN, st->diag, st->ndiag);
  return PK_OK;
}

/* ---- calls --------------------------------------------------------------- */

/*
 * tcc does not optimise: the thunk PK_PLUGIN generates for each export
 * round-trips every value through the stack, which doubles the cost of a
 * small call. For exports of the common scalar shapes without a context,
 * the library swaps in a thunk compiled with the library. It learns the
 * function from the lane (pk_func_call sets its cur before it calls a
 * thunk; the pk_ctx * a thunk gets is the lane) and calls the export's
 * typed entry point, whose C type PK_PLUGIN checked at compile time
 * against the signature: the cast restores that type. Each shape has a
 * thunk and its tail form (pk_func.tail), which ends the call once the
 * plugin's code has returned.
 */
/* The export's typed entry point, as `type` (f: the export). */
#define RAW(type) ((type)f->raw)
#define SHAPE(name, call)                                                   \
  static int th_##name(pk_ctx *c, const pk_val *a, pk_val *r) {            \
    const pk_func *f = ((pk__lane *)(void *)c)->cur;                        \
    (void)a;                                                                \
    (void)r;                                                                \
    call;                                                                   \
    return PK_OK;                                                           \
  }                                                                         \
  static int tl_##name(pk_func *f, const pk_val *a, pk__lane *l,          \
                       pk_val *r, void *fast) {                             \
    (void)fast;                                                             \
    (void)a;                                                                \
    (void)r;                                                                \
    call;                                                                   \
    pk__lane_leave(l);                                                      \
    return PK_OK;                                                           \
  }

SHAPE(i32_i32__i32,
      (r[0].type = PK_T_I32,
       r[0].i32 = RAW(int32_t(*)(int32_t, int32_t))(a[0].i32, a[1].i32)))
SHAPE(i32__i32,
      (r[0].type = PK_T_I32, r[0].i32 = RAW(int32_t(*)(int32_t))(a[0].i32)))
SHAPE(_i32, (r[0].type = PK_T_I32, r[0].i32 = RAW(int32_t(*)(void))()))
SHAPE(i64_i64__i64,
      (r[0].type = PK_T_I64,
       r[0].i64 = RAW(int64_t(*)(int64_t, int64_t))(a[0].i64, a[1].i64)))
SHAPE(f64_f64__f64,
      (r[0].type = PK_T_F64,
       r[0].f64 = RAW(double (*)(double, double))(a[0].f64, a[1].f64)))
SHAPE(_, RAW(void (*)(void))())

static const struct {
  const char *sig; /* canonical */
  pk_thunk thunk;
  pk__tail_fn tail;
} thunks[] = {
    {"(i32,i32)->i32", th_i32_i32__i32, tl_i32_i32__i32},
    {"(i32)->i32", th_i32__i32, tl_i32__i32},
    {"()->i32", th__i32, tl__i32},
    {"(i64,i64)->i64", th_i64_i64__i64, tl_i64_i64__i64},
    {"(f64,f64)->f64", th_f64_f64__f64, tl_f64_f64__f64},
    {"()->()", th__, tl__},
};

/* Give the exports of a known scalar shape the library's thunk. */
static void use_fast_thunks(pk_plugin *p) {
  size_t i, k;
  for (i = 0; i < p->nfuncs; i++) {
    pk_func *f = &p->funcs[i];
    if (f->raw == NULL)
      continue;
    for (k = 0; k < sizeof thunks / sizeof thunks[0]; k++)
      if (strcmp(f->sigtext, thunks[k].sig) == 0) {
        f->thunk = thunks[k].thunk;
        f->tail = thunks[k].tail;
        break;
      }
  }
}

/* ---- open and close ----------------------------------------------------- */

static int source_open(pk_plugin *p) {
  unsigned char head[4];
  size_t n = 0;
  int isdir = 0, rc;
  source_state *st;

  if ((rc = pk__os_read_head(p->path, head, sizeof head, &n, &isdir)) < 0)
    return pk__perr(p, rc, "cannot read the file");
  if ((st = pk__alloc(p->host, sizeof *st)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  memset(st, 0, sizeof *st);
  p->bstate = st;
  tcc_lock();
  tcc_mem_cur = &st->mem;
  rc = compile(p, st, isdir);
  if (rc == PK_OK)
    st->desc = tcc_get_symbol(st->tcc, PK_DESCRIPTOR_SYMBOL);
  tcc_mem_cur = NULL;
  tcc_unlock();
  if (rc < 0)
    return rc;
  if (st->desc == NULL)
    return pk__perr(p, PK_ENODESC,
                    "no symbol '%s': the source has no PK_PLUGIN(...)",
                    PK_DESCRIPTOR_SYMBOL);
  if ((rc = pk__desc_load(p, st->desc)) < 0)
    return rc;
  use_fast_thunks(p);
  /* Describe-only: compiled and relocated (libtcc's relocate runs no
     constructors), the descriptor read; init does not run, nor fini. */
  if (p->describe_only)
    return PK_OK;
  if ((rc = pk__desc_init(p, st->desc)) < 0)
    return rc;
  st->inited = 1;
  return PK_OK;
}

static void source_close(pk_plugin *p) {
  source_state *st = p->bstate;
  if (st == NULL)
    return;
  if (st->inited)
    pk__desc_fini(p, st->desc);
  tcc_lock();
  tcc_mem_cur = &st->mem;
  if (st->tcc != NULL)
    tcc_delete(st->tcc);
  tcc_mem_cur = NULL;
  tcc_mem_release(&st->mem); /* what libtcc's error paths forgot */
  tcc_unlock();
  pk__free(p->host, st);
  p->bstate = NULL;
}

const pk__backend pk__backend_source = {
    "source", source_probe, source_open, source_close, PK__LIM_DESCRIBE,
    NULL,     NULL,         NULL,        NULL};
