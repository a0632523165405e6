/*
 * wasi.c: the subset of WASI preview1 that wasi-libc programs need to
 * start and to print: stdout/stderr go to the host's log sink tagged with
 * the plugin's name, stdin reads as end of file, clocks, random bytes,
 * empty args and environment, proc_exit (ends the call with an error
 * carrying the exit code), and files only beneath the directory the host
 * granted (opts.fs_root), preopened read-only as "/" (WASI fd 3).
 * Any other WASI function links to a stub that answers ENOSYS, so that a
 * module merely linking it still loads.
 */
#include "wasm_backend.h"

#include <string.h>

/* WASI errno values. */
enum {
  WASI_OK = 0,
  WASI_EACCES = 2,
  WASI_EBADF = 8,
  WASI_EFAULT = 21,
  WASI_EINVAL = 28,
  WASI_EIO = 29,
  WASI_EISDIR = 31,
  WASI_ELOOP = 32,
  WASI_EMFILE = 33,
  WASI_ENAMETOOLONG = 37,
  WASI_ENOENT = 44,
  WASI_ENOSYS = 52,
  WASI_ENOTDIR = 54,
  WASI_EROFS = 69,
  WASI_ESPIPE = 70,
  WASI_ENOTCAPABLE = 76
};

#define ROOT_FD 3 /* the preopened directory */
#define FIRST_FILE 4
/* The longest path a plugin may name (Linux's PATH_MAX): a path is
   walked one component at a time, a system call each, in one import
   call the deadline cannot interrupt, and "./" repeated over a large
   memory would be millions of them. No longer path names a host file. */
#define PATH_LEN_MAX 4096

static uint64_t wasi_errno(int ose) {
  switch (ose) {
  case PK__OSE_NOENT:
    return WASI_ENOENT;
  case PK__OSE_ACCES:
    return WASI_EACCES;
  case PK__OSE_NOTDIR:
    return WASI_ENOTDIR;
  case PK__OSE_ISDIR:
    return WASI_EISDIR;
  case PK__OSE_LOOP:
    return WASI_ELOOP;
  case PK__OSE_INVAL:
    return WASI_EINVAL;
  case PK__OSE_MFILE:
    return WASI_EMFILE;
  case PK__OSE_ESCAPE:
    return WASI_ENOTCAPABLE;
  default:
    return WASI_EIO;
  }
}

/* The host fd behind WASI fd `fd` (the root or an open file), or -1. */
static int host_fd(pk__wstate *st, uint32_t fd) {
  if (fd == ROOT_FD)
    return st->root_fd;
  if (fd >= FIRST_FILE && fd < FIRST_FILE + PK__WASI_MAX_FILES &&
      !(st->hidden_files & (1u << (fd - FIRST_FILE))))
    return st->files[fd - FIRST_FILE];
  return -1;
}

static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

static uint32_t get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static void put64(uint8_t *p, uint64_t v) {
  put32(p, (uint32_t)v);
  put32(p + 4, (uint32_t)(v >> 32));
}

#define A32(i) ((uint32_t)args[i])

/*
 * What the guest writes to fd 1 or 2 goes to the log sink one message per
 * line. A write's iovecs are one stream (wasi-libc's stdio writes its
 * buffer and the new bytes as two iovecs, the newline often alone in the
 * second), so a line is gathered across them; text after the last
 * newline of a write is a message of its own. Lines longer than the
 * buffer are cut into messages of LOG_LINE_MAX bytes. The text is copied out
 * of guest memory before the sink sees it.
 *
 * An import call is not interruptible, and iovecs may all name the same
 * bytes (1,024 of them, each up to the whole memory): one fd_write takes
 * at most WRITE_MAX bytes, a short write, which libc's write loop and
 * Rust's write_all continue with the rest (a guest loop, under the call's
 * fuel and deadline).
 */
#define LOG_LINE_MAX 1024
#define WRITE_MAX (1u << 20)

typedef struct line_buf {
  pk__wstate *st;
  int level;
  size_t n;
  char buf[LOG_LINE_MAX];
} line_buf;

static void line_flush(line_buf *l) {
  pk__plugin_log(l->st->p, l->level, l->buf, l->n);
  l->n = 0;
}

/* Takes bytes of s up to a line's end or a full buffer: how many it
   consumed (the newline too), and *flush when a message is complete. */
static size_t line_take(line_buf *l, const char *s, size_t n, int *flush) {
  /* No further than the buffer's room: the rest of a long line is
     scanned when its own message is taken, not at every message. */
  size_t room = LOG_LINE_MAX - l->n;
  const char *nl = memchr(s, '\n', n < room ? n : room);
  size_t k = nl ? (size_t)(nl - s) : n < room ? n : room;
  memcpy(l->buf + l->n, s, k);
  l->n += k;
  *flush = l->n == LOG_LINE_MAX || (k < n && s[k] == '\n');
  return k < n && s[k] == '\n' ? k + 1 : k;
}

static int fd_write(void *ud, pkw_instance *inst, const uint64_t *args,
                    uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  uint32_t fd = A32(0), iovs = A32(1), n = A32(2), out = A32(3), total = 0, i;
  uint32_t left = WRITE_MAX; /* bytes this write may still take */
  uint8_t *vec = pk__wasm_mem(inst, iovs, n * 8), *po;
  line_buf line;
  if (n > 1024 || vec == NULL || (po = pk__wasm_mem(inst, out, 4)) == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  if (fd != 1 && fd != 2) {
    results[0] = WASI_EBADF;
    return 0;
  }
  line.st = st;
  line.level = fd == 1 ? PK_LOG_INFO : PK_LOG_WARN;
  line.n = 0;
  for (i = 0; i < n && left > 0; i++) {
    uint32_t off = 0, len;
    for (;;) {
      /* Asked again after each message: the sink may call back into the
         plugin, which may grow (move) its memory. */
      uint32_t p = get32(vec + 8 * i), k;
      const uint8_t *data;
      int flush;
      len = get32(vec + 8 * i + 4);
      if (len > off && len - off > left)
        len = off + left; /* the write ends here (short) */
      if ((data = pk__wasm_mem(inst, p, len)) == NULL) {
        results[0] = WASI_EFAULT;
        return 0;
      }
      if (off >= len)
        break;
      k = (uint32_t)line_take(&line, (const char *)data + off, len - off,
                              &flush);
      off += k;
      left -= k;
      if (flush) {
        line_flush(&line);
        if ((vec = pk__wasm_mem(inst, iovs, n * 8)) == NULL) {
          results[0] = WASI_EFAULT;
          return 0;
        }
      }
    }
    total += len;
  }
  if (line.n > 0)
    line_flush(&line);
  put32(pk__wasm_mem(inst, out, 4), total); /* checked above; memory only
                                               grows */
  results[0] = WASI_OK;
  return 0;
}

static int fd_read(void *ud, pkw_instance *inst, const uint64_t *args,
                   uint64_t *results) {
  uint8_t *po = pk__wasm_mem(inst, A32(3), 4);
  (void)ud;
  if (po == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  if (A32(0) == 0) {
    put32(po, 0); /* stdin: end of file */
    results[0] = WASI_OK;
    return 0;
  }
  {
    pk__wstate *st = pk__wasm_st(inst);
    int fd = A32(0) >= FIRST_FILE ? host_fd(st, A32(0)) : -1;
    uint32_t n = A32(2), i, total = 0;
    uint8_t *vec = pk__wasm_mem(inst, A32(1), n * 8);
    if (fd < 0) {
      results[0] = WASI_EBADF;
      return 0;
    }
    if (n > 1024 || vec == NULL) {
      results[0] = WASI_EFAULT;
      return 0;
    }
    for (i = 0; i < n; i++) {
      uint32_t len = get32(vec + 8 * i + 4);
      uint8_t *dst = pk__wasm_mem(inst, get32(vec + 8 * i), len);
      long k;
      if (dst == NULL) {
        results[0] = WASI_EFAULT;
        return 0;
      }
      if ((k = pk__os_read(fd, dst, len)) < 0) {
        results[0] = wasi_errno((int)k);
        return 0;
      }
      total += (uint32_t)k;
      if ((uint32_t)k < len)
        break;
    }
    put32(po, total);
    results[0] = WASI_OK;
    return 0;
  }
}

static int fd_close(void *ud, pkw_instance *inst, const uint64_t *args,
                    uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  uint32_t fd = A32(0);
  (void)inst;
  if (fd >= FIRST_FILE && host_fd(st, fd) >= 0) {
    unsigned bit = 1u << (fd - FIRST_FILE);
    if (st->kept_files & bit) { /* reset_after_call reopens it */
      st->hidden_files |= bit;
    } else {
      pk__os_close(st->files[fd - FIRST_FILE]);
      st->files[fd - FIRST_FILE] = -1;
    }
    results[0] = WASI_OK;
  } else {
    results[0] = fd <= 2 ? WASI_OK : WASI_EBADF;
  }
  return 0;
}

static int fd_seek(void *ud, pkw_instance *inst, const uint64_t *args,
                   uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  uint32_t fd = A32(0);
  int hfd = fd >= FIRST_FILE ? host_fd(st, fd) : -1;
  uint8_t *po = pk__wasm_mem(inst, A32(3), 8);
  int64_t r;
  if (hfd < 0) {
    results[0] = fd <= 2 ? WASI_ESPIPE : WASI_EBADF;
    return 0;
  }
  if (po == NULL || A32(2) > 2) {
    results[0] = po == NULL ? WASI_EFAULT : WASI_EINVAL;
    return 0;
  }
  if ((r = pk__os_seek(hfd, (int64_t)args[1], (int)A32(2))) < 0) {
    results[0] = wasi_errno((int)r);
    return 0;
  }
  put64(po, (uint64_t)r);
  results[0] = WASI_OK;
  return 0;
}

/* The WASI filestat of s at p (64 bytes). */
static void put_filestat(const pk__os_stat *s, uint8_t *p) {
  memset(p, 0, 64);
  put64(p, s->dev);
  put64(p + 8, s->ino);
  p[16] = s->isdir ? 3 : 4; /* directory, regular file */
  put64(p + 24, s->nlink);
  put64(p + 32, s->size);
  put64(p + 40, s->atime_ns);
  put64(p + 48, s->mtime_ns);
  put64(p + 56, s->ctime_ns);
}

/* The same for host fd `fd`. */
static uint64_t filestat(int fd, uint8_t *p) {
  pk__os_stat s;
  int rc = pk__os_fstat(fd, &s);
  if (rc != 0)
    return wasi_errno(rc);
  put_filestat(&s, p);
  return WASI_OK;
}

static int fd_filestat_get(void *ud, pkw_instance *inst,
                           const uint64_t *args, uint64_t *results) {
  int fd = host_fd(pk__wasm_st(inst), A32(0));
  (void)ud;
  uint8_t *p = pk__wasm_mem(inst, A32(1), 64);
  if (p == NULL)
    results[0] = WASI_EFAULT;
  else if (fd < 0)
    results[0] = WASI_EBADF;
  else
    results[0] = filestat(fd, p);
  return 0;
}

/* path_open(dirfd, lookupflags, path, path_len, oflags, rights_base,
   rights_inheriting, fdflags, out_fd): read-only, beneath the root. */
static int path_open(void *ud, pkw_instance *inst, const uint64_t *args,
                     uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  int dir = host_fd(st, A32(0)), fd, slot;
  const uint8_t *path = pk__wasm_mem(inst, A32(2), A32(3));
  uint8_t *out = pk__wasm_mem(inst, A32(8), 4);
  if (path == NULL || out == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  if (dir < 0) {
    results[0] = WASI_EBADF;
    return 0;
  }
  if (A32(3) > PATH_LEN_MAX) {
    results[0] = WASI_ENAMETOOLONG;
    return 0;
  }
  if (A32(4) & (1 | 4 | 8)) { /* creat, excl, trunc */
    results[0] = WASI_EROFS;
    return 0;
  }
  if ((args[5] & 64) != 0 || (A32(7) & 1) != 0) { /* fd_write, append */
    results[0] = WASI_EROFS;
    return 0;
  }
  for (slot = 0; slot < PK__WASI_MAX_FILES; slot++)
    if (st->files[slot] < 0)
      break;
  if (slot == PK__WASI_MAX_FILES) {
    results[0] = WASI_EMFILE;
    return 0;
  }
  fd = pk__os_open_beneath(dir, (const char *)path, A32(3), (A32(4) & 2) != 0);
  if (fd < 0) {
    results[0] = wasi_errno(fd);
    return 0;
  }
  st->files[slot] = fd;
  put32(out, (uint32_t)(FIRST_FILE + slot));
  results[0] = WASI_OK;
  return 0;
}

static int path_filestat_get(void *ud, pkw_instance *inst,
                             const uint64_t *args, uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  int dir = host_fd(st, A32(0)), rc;
  const uint8_t *path = pk__wasm_mem(inst, A32(2), A32(3));
  uint8_t *p = pk__wasm_mem(inst, A32(4), 64);
  pk__os_stat s;
  if (path == NULL || p == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  if (dir < 0) {
    results[0] = WASI_EBADF;
    return 0;
  }
  if (A32(3) > PATH_LEN_MAX) {
    results[0] = WASI_ENAMETOOLONG;
    return 0;
  }
  /* Stat without opening: an open could block (a FIFO). */
  if ((rc = pk__os_stat_beneath(dir, (const char *)path, A32(3), &s)) < 0) {
    results[0] = wasi_errno(rc);
    return 0;
  }
  put_filestat(&s, p);
  results[0] = WASI_OK;
  return 0;
}

static int fd_fdstat_get(void *ud, pkw_instance *inst, const uint64_t *args,
                         uint64_t *results) {
  uint8_t *p = pk__wasm_mem(inst, A32(1), 24);
  int fd = host_fd(pk__wasm_st(inst), A32(0));
  (void)ud;
  if (p == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  if (A32(0) > 2 && fd < 0) {
    results[0] = WASI_EBADF;
    return 0;
  }
  memset(p, 0, 24);
  if (A32(0) <= 2) {
    p[0] = 2;                           /* filetype: character device */
    put64(p + 8, A32(0) == 0 ? 2 : 64); /* rights: fd_read or fd_write */
  } else {
    pk__os_stat s;
    int dir = pk__os_fstat(fd, &s) == 0 && s.isdir;
    p[0] = dir ? 3 : 4; /* directory, regular file */
    /* Read-only rights: fd_read, fd_seek, fd_tell, fd_filestat_get,
       path_open, path_filestat_get, fd_readdir (no writes). */
    put64(p + 8, dir ? (UINT64_C(1) << 13) | (UINT64_C(1) << 14) |
                           (UINT64_C(1) << 18) | (UINT64_C(1) << 21)
                     : 2 | 4 | 32 | (UINT64_C(1) << 21));
    put64(p + 16, 2 | 4 | 32 | (UINT64_C(1) << 13) | (UINT64_C(1) << 14) |
                      (UINT64_C(1) << 18) | (UINT64_C(1) << 21));
  }
  results[0] = WASI_OK;
  return 0;
}

static int fd_prestat_get(void *ud, pkw_instance *inst, const uint64_t *args,
                          uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  uint8_t *p = pk__wasm_mem(inst, A32(1), 8);
  if (A32(0) != ROOT_FD || st->root_fd < 0) {
    results[0] = WASI_EBADF;
    return 0;
  }
  if (p == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  memset(p, 0, 8);
  put32(p + 4, 1); /* a directory named "/" */
  results[0] = WASI_OK;
  return 0;
}

static int fd_prestat_dir_name(void *ud, pkw_instance *inst,
                               const uint64_t *args, uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  uint8_t *p = pk__wasm_mem(inst, A32(1), A32(2));
  if (A32(0) != ROOT_FD || st->root_fd < 0) {
    results[0] = WASI_EBADF;
    return 0;
  }
  if (p == NULL || A32(2) < 1) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  p[0] = '/';
  results[0] = WASI_OK;
  return 0;
}

static int clock_time_get(void *ud, pkw_instance *inst, const uint64_t *args,
                          uint64_t *results) {
  uint8_t *p = pk__wasm_mem(inst, A32(2), 8);
  (void)ud;
  if (p == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  if (A32(0) > 3) {
    results[0] = WASI_EINVAL;
    return 0;
  }
  put64(p, pk__os_clock_ns(A32(0) != 0));
  results[0] = WASI_OK;
  return 0;
}

static int clock_res_get(void *ud, pkw_instance *inst, const uint64_t *args,
                         uint64_t *results) {
  uint8_t *p = pk__wasm_mem(inst, A32(1), 8);
  (void)ud;
  if (p == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  put64(p, 1000);
  results[0] = WASI_OK;
  return 0;
}

/*
 * random_get fills the whole buffer (WASI has no short count), from the
 * kernel at a few hundred MB/s: seconds for a memory of a few GiB, in one
 * import call the watchdog cannot interrupt. So it fills in pieces and
 * fails the call once the deadline has passed.
 */
#define RANDOM_PIECE (1u << 20)

static int random_get(void *ud, pkw_instance *inst, const uint64_t *args,
                      uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  uint32_t n = A32(1), off, k;
  uint8_t *p = pk__wasm_mem(inst, A32(0), n);
  (void)ud;
  if (p == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  for (off = 0; off < n; off += k) {
    k = n - off < RANDOM_PIECE ? n - off : RANDOM_PIECE;
    if (st->wd != NULL && pk__os_watchdog_fired(st->wd))
      return pk__wasm_fail(st, PK_ETIMEOUT,
                           "did not return within %u ms (in random_get, "
                           "%u of %u bytes filled)",
                           st->timeout_ms, off, n);
    if (pk__os_random(p + off, k) != PK_OK) {
      results[0] = WASI_EIO;
      return 0;
    }
  }
  results[0] = WASI_OK;
  return 0;
}

/* args_sizes_get and environ_sizes_get: nothing configured. */
static int sizes_get(void *ud, pkw_instance *inst, const uint64_t *args,
                     uint64_t *results) {
  uint8_t *a = pk__wasm_mem(inst, A32(0), 4), *b = pk__wasm_mem(inst, A32(1), 4);
  (void)ud;
  if (a == NULL || b == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  put32(a, 0);
  put32(b, 0);
  results[0] = WASI_OK;
  return 0;
}

static int ok(void *ud, pkw_instance *inst, const uint64_t *args,
              uint64_t *results) {
  (void)ud;
  (void)inst;
  (void)args;
  results[0] = WASI_OK;
  return 0;
}

static int proc_exit(void *ud, pkw_instance *inst, const uint64_t *args,
                     uint64_t *results) {
  (void)ud;
  (void)results;
  return pk__wasm_fail(pk__wasm_st(inst), PK_EPLUGIN,
                       "proc_exit(%u): the plugin exited", A32(0));
}

static int enosys(void *ud, pkw_instance *inst, const uint64_t *args,
                  uint64_t *results) {
  (void)ud;
  (void)inst;
  (void)args;
  results[0] = WASI_ENOSYS;
  return 0;
}

static int nothing(void *ud, pkw_instance *inst, const uint64_t *args,
                   uint64_t *results) {
  (void)ud;
  (void)inst;
  (void)args;
  (void)results;
  return 0;
}

/* Types as strings: parameters, ':', results; i = i32, I = i64. */
static const struct {
  const char *name, *type;
  pkw_host_fn fn;
} wasi[] = {
    {"fd_write", "iiii:i", fd_write},
    {"fd_read", "iiii:i", fd_read},
    {"fd_close", "i:i", fd_close},
    {"fd_seek", "iIii:i", fd_seek},
    {"fd_fdstat_get", "ii:i", fd_fdstat_get},
    {"fd_prestat_get", "ii:i", fd_prestat_get},
    {"fd_prestat_dir_name", "iii:i", fd_prestat_dir_name},
    {"fd_filestat_get", "ii:i", fd_filestat_get},
    {"path_open", "iiiiiIIii:i", path_open},
    {"path_filestat_get", "iiiii:i", path_filestat_get},
    {"clock_time_get", "iIi:i", clock_time_get},
    {"clock_res_get", "ii:i", clock_res_get},
    {"random_get", "ii:i", random_get},
    {"args_sizes_get", "ii:i", sizes_get},
    {"args_get", "ii:i", ok},
    {"environ_sizes_get", "ii:i", sizes_get},
    {"environ_get", "ii:i", ok},
    {"sched_yield", ":i", ok},
    {"proc_exit", "i:", proc_exit},
};

static int type_is(const pkw_functype *t, const char *s) {
  uint32_t i = 0, j = 0;
  for (; *s && *s != ':'; s++, i++)
    if (i >= t->nparams || t->params[i] != (*s == 'I' ? PKW_I64 : PKW_I32))
      return 0;
  if (*s++ != ':' || i != t->nparams)
    return 0;
  for (; *s; s++, j++)
    if (j >= t->nresults || t->results[j] != (*s == 'I' ? PKW_I64 : PKW_I32))
      return 0;
  return j == t->nresults;
}

int pk__wasi_bind(pk__wmod *st, const pkw_alloc *al, const char *name,
                  size_t len, const pkw_functype *t, pkw_func **out) {
  pkw_host_fn fn = NULL;
  size_t i;
  for (i = 0; i < sizeof wasi / sizeof wasi[0]; i++) {
    if (strlen(wasi[i].name) != len || memcmp(wasi[i].name, name, len) != 0)
      continue;
    if (!type_is(t, wasi[i].type))
      return pk__perr(st->p, PK_EFORMAT,
                      "import 'wasi_snapshot_preview1.%.*s' has the wrong type",
                      (int)len, name);
    fn = wasi[i].fn;
    break;
  }
  if (fn == NULL) /* not in the subset: answer ENOSYS (or nothing) */
    fn = t->nresults == 1 && t->results[0] == PKW_I32 ? enosys : nothing;
  if (pkw_func_create_host(al, t, fn, st, out) != PKW_OK)
    return pk__perr(st->p, PK_ENOMEM, "out of memory binding imports");
  return PK_OK;
}
