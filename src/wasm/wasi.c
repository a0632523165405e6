/*
 * wasi.c: the subset of WASI preview1 that wasi-libc programs need to
 * start and to print: stdout/stderr go to the host's log sink tagged with
 * the plugin's name, stdin reads as end of file, clocks, random bytes,
 * empty args and environment, proc_exit (ends the call with an error
 * carrying the exit code), and no filesystem (no preopened directories).
 * Any other WASI function links to a stub that answers ENOSYS, so that a
 * module merely linking it still loads.
 */
#include "wasm.h"

#include <string.h>

/* WASI errno values. */
enum {
  WASI_OK = 0,
  WASI_EBADF = 8,
  WASI_EFAULT = 21,
  WASI_EINVAL = 28,
  WASI_EIO = 29,
  WASI_ENOSYS = 52,
  WASI_ESPIPE = 70
};

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

/* Log what the guest wrote to fd 1 or 2, one message per line. */
static void emit(pk__wstate *st, int level, const char *s, size_t n) {
  pk_host *h = st->p->host;
  while (n > 0) {
    const char *nl = memchr(s, '\n', n);
    size_t k = nl ? (size_t)(nl - s) : n;
    if (h->log != NULL && (k > 0 || nl != NULL))
      h->log(h->log_ud, level, st->p->name ? st->p->name : st->p->path, s, k);
    if (nl == NULL)
      break;
    n -= k + 1;
    s = nl + 1;
  }
}

static int fd_write(void *ud, pkw_instance *inst, const uint64_t *args,
                    uint64_t *results) {
  pk__wstate *st = ud;
  uint32_t fd = A32(0), iovs = A32(1), n = A32(2), out = A32(3), total = 0, i;
  uint8_t *vec = pk__wasm_mem(inst, iovs, n * 8), *po;
  if (n > 1024 || vec == NULL || (po = pk__wasm_mem(inst, out, 4)) == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  if (fd != 1 && fd != 2) {
    results[0] = WASI_EBADF;
    return 0;
  }
  for (i = 0; i < n; i++) {
    uint32_t p = get32(vec + 8 * i), len = get32(vec + 8 * i + 4);
    const uint8_t *data = pk__wasm_mem(inst, p, len);
    if (data == NULL) {
      results[0] = WASI_EFAULT;
      return 0;
    }
    emit(st, fd == 1 ? PK_LOG_INFO : PK_LOG_WARN, (const char *)data, len);
    total += len;
  }
  put32(po, total);
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
  if (A32(0) != 0) {
    results[0] = WASI_EBADF;
    return 0;
  }
  put32(po, 0); /* stdin: end of file */
  results[0] = WASI_OK;
  return 0;
}

static int fd_close(void *ud, pkw_instance *inst, const uint64_t *args,
                    uint64_t *results) {
  (void)ud;
  (void)inst;
  results[0] = A32(0) <= 2 ? WASI_OK : WASI_EBADF;
  return 0;
}

static int fd_seek(void *ud, pkw_instance *inst, const uint64_t *args,
                   uint64_t *results) {
  (void)ud;
  (void)inst;
  results[0] = A32(0) <= 2 ? WASI_ESPIPE : WASI_EBADF;
  return 0;
}

static int fd_fdstat_get(void *ud, pkw_instance *inst, const uint64_t *args,
                         uint64_t *results) {
  uint8_t *p = pk__wasm_mem(inst, A32(1), 24);
  (void)ud;
  if (p == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  if (A32(0) > 2) {
    results[0] = WASI_EBADF;
    return 0;
  }
  memset(p, 0, 24);
  p[0] = 2;                       /* filetype: character device */
  put64(p + 8, A32(0) == 0 ? 2 : 64); /* rights: fd_read or fd_write */
  results[0] = WASI_OK;
  return 0;
}

static int ebadf(void *ud, pkw_instance *inst, const uint64_t *args,
                 uint64_t *results) {
  (void)ud;
  (void)inst;
  (void)args;
  results[0] = WASI_EBADF; /* no preopened directories */
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

static int random_get(void *ud, pkw_instance *inst, const uint64_t *args,
                      uint64_t *results) {
  uint8_t *p = pk__wasm_mem(inst, A32(0), A32(1));
  (void)ud;
  if (p == NULL) {
    results[0] = WASI_EFAULT;
    return 0;
  }
  results[0] = pk__os_random(p, A32(1)) == PK_OK ? WASI_OK : WASI_EIO;
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
  (void)inst;
  (void)results;
  return pk__wasm_fail(ud, PK_EPLUGIN, "proc_exit(%u): the plugin exited",
                       A32(0));
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
    {"fd_prestat_get", "ii:i", ebadf},
    {"fd_prestat_dir_name", "iii:i", ebadf},
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

int pk__wasi_bind(pk__wstate *st, const pkw_alloc *al, const char *name,
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
