/*
 * os_posix.c: src/os/os.h for POSIX systems (Linux first).
 */
#define _GNU_SOURCE 1
#include "../os.h"

#include <dirent.h>
#include <dlfcn.h>
#include <sched.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plugkit_types.h"

static int open_code(void) {
  return errno == ENOENT || errno == ENOTDIR ? PK_ENOENT : PK_EIO;
}

/* Open `path` for reading without waiting on a FIFO's writer (O_NONBLOCK;
   a regular file reads the same with it) and check it is a regular file
   of at most max bytes; PK_OK with *out_fd, or the code. */
static int open_regular(const char *path, size_t max, int *out_fd,
                        size_t *out_size) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  *out_size = 0;
  if (fd < 0)
    return open_code();
  if (fstat(fd, &st) != 0) {
    close(fd);
    return PK_EIO;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return PK_EFORMAT;
  }
  if ((uint64_t)st.st_size > (uint64_t)max) {
    *out_size = (uint64_t)st.st_size > (uint64_t)SIZE_MAX
                    ? SIZE_MAX
                    : (size_t)st.st_size;
    close(fd);
    return PK_ELIMIT;
  }
  *out_size = (size_t)st.st_size;
  *out_fd = fd;
  return PK_OK;
}

/* Read up to n bytes; the count read (short at the end of the file). */
static size_t read_full(int fd, unsigned char *buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = read(fd, buf + got, n - got);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    got += (size_t)k;
  }
  return got;
}

int pk__os_read_head(const char *path, unsigned char *buf, size_t cap,
                     size_t *out_n, int *out_isdir) {
  struct stat st;
  size_t size;
  int fd, rc;

  *out_n = 0;
  *out_isdir = 0;
  if (stat(path, &st) != 0)
    return open_code();
  if (S_ISDIR(st.st_mode)) {
    *out_isdir = 1;
    return PK_OK;
  }
  if (!S_ISREG(st.st_mode))
    return PK_EFORMAT;
  /* Checked again on the open file: the path may have changed since. */
  if ((rc = open_regular(path, SIZE_MAX, &fd, &size)) < 0)
    return rc;
  *out_n = read_full(fd, buf, cap);
  close(fd);
  return PK_OK;
}

int pk__os_read_file(const char *path, size_t max,
                     void *(*alloc)(void *ud, size_t n), void *ud,
                     unsigned char **out, size_t *out_n) {
  size_t size;
  int fd, rc;
  unsigned char *buf;

  *out = NULL;
  if ((rc = open_regular(path, max, &fd, &size)) < 0) {
    *out_n = size;
    return rc;
  }
  *out_n = size;
  if ((buf = alloc(ud, size > 0 ? size : 1)) == NULL) {
    close(fd);
    return PK_ENOMEM;
  }
  *out_n = read_full(fd, buf, size);
  close(fd);
  *out = buf;
  return PK_OK;
}

int pk__os_check_file(const char *path, size_t max, size_t *out_size) {
  int fd, rc = open_regular(path, max, &fd, out_size);
  if (rc == PK_OK)
    close(fd);
  return rc;
}

int pk__os_list_dir(const char *path, int (*each)(void *ud, const char *name),
                    void *ud) {
  DIR *d = opendir(path);
  struct dirent *e;
  int rc = 0;
  if (d == NULL)
    return PK_EIO;
  while (rc == 0 && (e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
      rc = each(ud, e->d_name);
  closedir(d);
  return rc;
}

int pk__os_file_size(const char *path, uint64_t *out_size) {
  struct stat st;
  if (stat(path, &st) != 0)
    return errno == ENOENT ? PK_ENOENT : PK_EIO;
  *out_size = (uint64_t)st.st_size;
  return PK_OK;
}

/* Copy all of `in` to `out`. */
static int copy_fd(int in, int out) {
  char buf[65536];
  for (;;) {
    ssize_t k = read(in, buf, sizeof buf), w = 0;
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0)
      return -1;
    if (k == 0)
      return 0;
    while (w < k) {
      ssize_t m = write(out, buf + w, (size_t)(k - w));
      if (m < 0 && errno == EINTR)
        continue;
      if (m < 0)
        return -1;
      w += m;
    }
  }
}

/*
 * Make an anonymous copy of `path`: a memfd where the kernel has them
 * (nothing to clean up, never on disk), else an unlinked temporary file.
 * Writes the path dlopen should use into `where`.
 */
static int private_copy(const char *path, char *where, size_t cap,
                        char *err, size_t errcap) {
  const char *base = strrchr(path, '/');
  char name[64];
  int in, out = -1;

  base = base ? base + 1 : path;
  snprintf(name, sizeof name, "plugkit:%s", base);
  if ((in = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
    snprintf(err, errcap, "cannot open: %s", strerror(errno));
    return -1;
  }
#if defined(__linux__) && defined(MFD_CLOEXEC)
  out = memfd_create(name, MFD_CLOEXEC);
  if (out >= 0)
    snprintf(where, cap, "/proc/self/fd/%d", out);
#endif
  if (out < 0) {
    const char *tmp = getenv("TMPDIR");
    snprintf(where, cap, "%s/plugkit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    out = mkstemp(where); /* unlinked by the caller after dlopen */
  }
  if (out < 0) {
    snprintf(err, errcap, "cannot create a private copy: %s",
             strerror(errno));
    close(in);
    return -1;
  }
  if (copy_fd(in, out) != 0) {
    snprintf(err, errcap, "cannot copy the file: %s", strerror(errno));
    close(in);
    close(out);
    return -1;
  }
  close(in);
  return out;
}

/*
 * The copy's fd stays open while the library is loaded: the loader knows
 * objects by path, and "/proc/self/fd/N" must not name two of them.
 */
/* dlopen `load`; `shown` is what messages call it when the loader names
   `load` (an fd path nobody knows), or NULL. */
static int lib_load(const char *load, const char *shown, pk__os_lib *out_lib,
                    char *err, size_t cap) {
  void *h = dlopen(load, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    const char *e = dlerror();
    /* dlerror names the path it was given; ours is an fd path. */
    if (e != NULL && shown != NULL) {
      const char *colon = strstr(e, load);
      if (colon != NULL)
        e = colon + strlen(load) + (colon[strlen(load)] == ':' ? 1 : 0);
      while (*e == ' ')
        e++;
    }
    snprintf(err, cap, "%s", e ? e : "dlopen failed");
    return PK_EFORMAT;
  }
  out_lib->handle = h;
  return PK_OK;
}

int pk__os_lib_open(const char *path, int private, pk__os_lib *out_lib,
                    char *err, size_t cap) {
  char where[4096];
  const char *load = path;
  int fd = -1, rc;

  if (private) {
    if ((fd = private_copy(path, where, sizeof where, err, cap)) < 0)
      return PK_EIO;
    load = where;
  }
  rc = lib_load(load, private ? path : NULL, out_lib, err, cap);
  if (fd >= 0 && strncmp(where, "/proc/", 6) != 0)
    unlink(where); /* temp-file fallback: the mapping keeps it alive */
  if (rc < 0) {
    if (fd >= 0)
      close(fd);
    return rc;
  }
  out_lib->fd = fd;
  return PK_OK;
}

int pk__os_lib_open_fd(const char *where, int fd, pk__os_lib *out_lib,
                       char *err, size_t cap) {
  int rc = lib_load(where, where, out_lib, err, cap);
  if (rc < 0)
    return rc;
  out_lib->fd = fd;
  return PK_OK;
}

int pk__os_lib_open_mem(const void *data, size_t n, const char *name,
                        pk__os_lib *out_lib, char *err, size_t cap) {
  char where[4096], label[64];
  const unsigned char *p = data;
  size_t done = 0;
  void *h;
  int fd = -1;
  snprintf(label, sizeof label, "plugkit:%s", name);
#if defined(__linux__) && defined(MFD_CLOEXEC)
  fd = memfd_create(label, MFD_CLOEXEC);
  if (fd >= 0)
    snprintf(where, sizeof where, "/proc/self/fd/%d", fd);
#endif
  if (fd < 0) {
    const char *tmp = getenv("TMPDIR");
    snprintf(where, sizeof where, "%s/plugkit-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    fd = mkstemp(where);
  }
  if (fd < 0) {
    snprintf(err, cap, "cannot create a private copy: %s", strerror(errno));
    return PK_EIO;
  }
  while (done < n) {
    ssize_t w = write(fd, p + done, n - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      break;
    done += (size_t)w;
  }
  if (done != n) {
    snprintf(err, cap, "cannot write the private copy: %s", strerror(errno));
    if (strncmp(where, "/proc/", 6) != 0)
      unlink(where);
    close(fd);
    return PK_EIO;
  }
  h = dlopen(where, RTLD_NOW | RTLD_LOCAL);
  if (strncmp(where, "/proc/", 6) != 0)
    unlink(where);
  if (h == NULL) {
    const char *e = dlerror(), *at = e != NULL ? strstr(e, where) : NULL;
    if (at != NULL) {
      e = at + strlen(where);
      e += *e == ':';
      while (*e == ' ')
        e++;
    }
    snprintf(err, cap, "%s", e ? e : "dlopen failed");
    close(fd);
    return PK_EFORMAT;
  }
  out_lib->handle = h;
  out_lib->fd = fd;
  return PK_OK;
}

/*
 * dlsym returns a data pointer; POSIX guarantees that it also carries
 * function addresses, so callers convert it with pk__os_fn (native.c).
 */
void *pk__os_lib_sym(pk__os_lib *lib, const char *name) {
  return dlsym(lib->handle, name);
}

void pk__os_lib_close(pk__os_lib *lib) {
  if (lib == NULL || lib->handle == NULL)
    return;
  dlclose(lib->handle);
  if (lib->fd >= 0)
    close(lib->fd);
  lib->handle = NULL;
  lib->fd = -1;
}

int pk__os_elf_machine(void) {
#if defined(__x86_64__)
  return 62;
#elif defined(__aarch64__)
  return 183;
#elif defined(__i386__)
  return 3;
#elif defined(__arm__)
  return 40;
#elif defined(__riscv)
  return 243;
#elif defined(__powerpc64__)
  return 21;
#elif defined(__s390x__)
  return 22;
#else
  return 0;
#endif
}

int pk__os_elf_class(void) { return sizeof(void *) == 8 ? 2 : 1; }

int pk__os_elf_data(void) {
  const uint16_t one = 1;
  return *(const unsigned char *)&one == 1 ? 1 : 2;
}

const char *pk__os_system(void) {
#if defined(__linux__)
  return "linux";
#elif defined(__FreeBSD__)
  return "freebsd";
#elif defined(__APPLE__)
  return "macos";
#else
  return "unknown";
#endif
}

const char *pk__os_elf_machine_name(int m) {
  switch (m) {
  case 3:
    return "i386";
  case 8:
    return "mips";
  case 20:
    return "powerpc";
  case 21:
    return "powerpc64";
  case 22:
    return "s390x";
  case 40:
    return "arm";
  case 62:
    return "x86_64";
  case 183:
    return "aarch64";
  case 243:
    return "riscv";
  case 258:
    return "loongarch";
  default:
    return "unknown";
  }
}

uint64_t pk__os_clock_ns(int monotonic) {
  struct timespec ts;
  clock_gettime(monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int pk__os_random(void *buf, size_t n) {
  unsigned char *p = buf;
  int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return PK_EIO;
  while (n > 0) {
    ssize_t k = read(fd, p, n);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0) {
      close(fd);
      return PK_EIO;
    }
    p += k;
    n -= (size_t)k;
  }
  close(fd);
  return PK_OK;
}

/*
 * Watchdogs: one thread serves every watchdog of the process, so a pool
 * of instances with call_timeout_ms costs one thread, not one each. It
 * scans the armed deadlines every millisecond while any was armed in the
 * last WD_IDLE_TICKS ticks, then sleeps on a condition variable until an
 * arm wakes it: an idle process has no wake-ups, and a plugin called in a
 * loop arms and disarms with two atomic stores and a load, no syscall.
 *
 * Lost wake-ups: the thread stores `sleeping` and then reads every
 * deadline; arm stores its deadline and then reads `sleeping` (all
 * sequentially consistent), so one of the two sees the other's store.
 * Under wd_mu: the list, the counts and the generation; a thread runs
 * while wd_svc.gen is the one it was started for, so a stop that drops the
 * last watchdog and a start right after never leave two threads scanning.
 */
#define WD_IDLE_TICKS 64

struct pk__os_watchdog {
  struct pk__os_watchdog *next, *prev; /* on wd_svc.list, under wd_mu */
  unsigned epoch;                      /* wd_svc.epoch when started */
  _Atomic uint64_t deadline;           /* 0: disarmed */
  _Atomic int fired;
  _Atomic int firing; /* the thread is between reading a deadline and
                         having fired for it: disarm waits it out */
  void (*fire)(void *);
  void *ud;
};

static pthread_mutex_t wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cv = PTHREAD_COND_INITIALIZER;
static struct {
  pk__os_watchdog *list;
  size_t n;          /* watchdogs started and not stopped */
  unsigned gen;      /* the running thread's generation */
  unsigned epoch;    /* bumped in a forked child: its list starts empty */
  int running;
  pthread_t thread;
  _Atomic int sleeping;
} wd_svc; /* under wd_mu, but sleeping */

static pthread_once_t wd_once = PTHREAD_ONCE_INIT;

/* fork(): the child has no service thread and none of the parent's
   calls in flight; it starts afresh (its inherited watchdogs belong to
   an older epoch: stopping them touches no list). */
static void wd_prepare(void) { pthread_mutex_lock(&wd_mu); }
static void wd_parent(void) { pthread_mutex_unlock(&wd_mu); }
static void wd_child(void) {
  pthread_mutex_init(&wd_mu, NULL);
  pthread_cond_init(&wd_cv, NULL);
  wd_svc.list = NULL;
  wd_svc.n = 0;
  wd_svc.running = 0;
  wd_svc.gen++;
  wd_svc.epoch++;
  atomic_store(&wd_svc.sleeping, 0);
}
static void wd_init(void) { pthread_atfork(wd_prepare, wd_parent, wd_child); }

size_t pk__os_watchdog_size(void) { return sizeof(struct pk__os_watchdog); }

/* One pass over the watchdogs (wd_mu held): fires the expired ones;
   nonzero if any is armed. */
static int wd_scan(int fire) {
  uint64_t now = fire ? pk__os_clock_ns(1) : 0;
  int armed = 0;
  pk__os_watchdog *w;
  for (w = wd_svc.list; w != NULL; w = w->next) {
    uint64_t d;
    if (!fire) {
      armed |= atomic_load(&w->deadline) != 0;
      continue;
    }
    /* Announced before the deadline is read: a disarm that stores 0
       first makes this read see it; one that comes later waits until
       the fire below is done, so no fire lands in the next arming. */
    atomic_store(&w->firing, 1);
    d = atomic_load(&w->deadline);
    if (d != 0) {
      armed = 1;
      if (now >= d && atomic_compare_exchange_strong(&w->deadline, &d, 0)) {
        atomic_store(&w->fired, 1);
        w->fire(w->ud);
      }
    }
    atomic_store(&w->firing, 0);
  }
  return armed;
}

static void *watchdog_main(void *arg) {
  unsigned gen = (unsigned)(uintptr_t)arg, idle = 0;
  struct timespec tick = {0, 1000000};
  pthread_mutex_lock(&wd_mu);
  while (wd_svc.gen == gen) {
    idle = wd_scan(1) ? 0 : idle + 1;
    if (idle >= WD_IDLE_TICKS) {
      atomic_store(&wd_svc.sleeping, 1);
      if (!wd_scan(0)) /* an arm before the store above saw no sleeper */
        while (atomic_load(&wd_svc.sleeping) && wd_svc.gen == gen)
          pthread_cond_wait(&wd_cv, &wd_mu);
      atomic_store(&wd_svc.sleeping, 0);
      idle = 0;
      continue;
    }
    pthread_mutex_unlock(&wd_mu);
    nanosleep(&tick, NULL);
    pthread_mutex_lock(&wd_mu);
  }
  pthread_mutex_unlock(&wd_mu);
  return NULL;
}

int pk__os_watchdog_start(pk__os_watchdog *w, void (*fire)(void *), void *ud) {
  int rc = PK_OK;
  pthread_once(&wd_once, wd_init);
  memset(w, 0, sizeof *w);
  atomic_init(&w->deadline, 0);
  atomic_init(&w->fired, 0);
  atomic_init(&w->firing, 0);
  w->fire = fire;
  w->ud = ud;
  pthread_mutex_lock(&wd_mu);
  if (!wd_svc.running) {
    unsigned gen = ++wd_svc.gen;
    if (pthread_create(&wd_svc.thread, NULL, watchdog_main,
                       (void *)(uintptr_t)gen) != 0)
      rc = PK_ENOMEM;
    else
      wd_svc.running = 1;
  }
  if (rc == PK_OK) {
    w->epoch = wd_svc.epoch;
    w->next = wd_svc.list;
    if (w->next != NULL)
      w->next->prev = w;
    wd_svc.list = w;
    wd_svc.n++;
  }
  pthread_mutex_unlock(&wd_mu);
  return rc;
}

void pk__os_watchdog_arm(pk__os_watchdog *w, uint64_t deadline_ns) {
  atomic_store(&w->fired, 0);
  atomic_store(&w->deadline, deadline_ns ? deadline_ns : 1);
  if (atomic_load(&wd_svc.sleeping)) { /* rare: idle for 64 ms */
    pthread_mutex_lock(&wd_mu);
    atomic_store(&wd_svc.sleeping, 0);
    pthread_cond_broadcast(&wd_cv);
    pthread_mutex_unlock(&wd_mu);
  }
}

void pk__os_watchdog_disarm(pk__os_watchdog *w) {
  atomic_store(&w->deadline, 0);
  while (atomic_load(&w->firing)) /* at most one fire() */
    sched_yield();
}

int pk__os_watchdog_fired(pk__os_watchdog *w) { return atomic_load(&w->fired); }

void pk__os_watchdog_stop(pk__os_watchdog *w) {
  pthread_t t;
  pthread_mutex_lock(&wd_mu);
  if (w->epoch != wd_svc.epoch) { /* started before a fork: not listed */
    pthread_mutex_unlock(&wd_mu);
    return;
  }
  if (w->prev != NULL)
    w->prev->next = w->next;
  else
    wd_svc.list = w->next;
  if (w->next != NULL)
    w->next->prev = w->prev;
  w->next = w->prev = NULL;
  if (--wd_svc.n > 0 || !wd_svc.running) {
    pthread_mutex_unlock(&wd_mu);
    return;
  }
  /* The last one: the thread ends (a later start makes another). */
  wd_svc.gen++;
  wd_svc.running = 0;
  t = wd_svc.thread;
  pthread_cond_broadcast(&wd_cv);
  pthread_mutex_unlock(&wd_mu);
  pthread_join(t, NULL);
}

static int ose(int e) {
  switch (e) {
  case ENOENT:
    return PK__OSE_NOENT;
  case EACCES:
  case EPERM:
    return PK__OSE_ACCES;
  case ENOTDIR:
    return PK__OSE_NOTDIR;
  case EISDIR:
    return PK__OSE_ISDIR;
  case ELOOP:
    return PK__OSE_LOOP;
  case EINVAL:
    return PK__OSE_INVAL;
  case EMFILE:
  case ENFILE:
    return PK__OSE_MFILE;
  default:
    return PK__OSE_IO;
  }
}

int pk__os_dir_open(const char *path, int *out_fd) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT || errno == ENOTDIR ? PK_ENOENT : PK_EIO;
  *out_fd = fd;
  return PK_OK;
}

/*
 * The directory that holds the last component of `rel` beneath `root`
 * (root itself, or an fd the caller closes when it is not root) and that
 * component in comp ("." for a trailing '/'). Every open is O_NONBLOCK:
 * with O_DIRECTORY a FIFO or device fails with ENOTDIR before it could
 * block, and the flag keeps it so even where it would not.
 */
static int walk_beneath(int root, const char *rel, size_t len, int *out_dir,
                        char comp[256]) {
  size_t i = 0;
  int cur = root, fd;

  if (len == 0 || rel[0] == '/')
    return PK__OSE_ESCAPE;
  for (;;) {
    size_t start = i, n;
    int last;
    while (i < len && rel[i] != '/')
      i++;
    n = i - start;
    last = i >= len;
    if (n == 0 && !last) { /* "a//b" */
      i++;
      continue;
    }
    if (n >= 256 || memchr(rel + start, '\0', n) != NULL) {
      fd = PK__OSE_INVAL;
      break;
    }
    memcpy(comp, rel + start, n);
    comp[n] = '\0';
    if (n == 0) /* a trailing '/' */
      strcpy(comp, ".");
    if (strcmp(comp, "..") == 0) {
      fd = PK__OSE_ESCAPE;
      break;
    }
    if (last) {
      *out_dir = cur;
      return 0;
    }
    fd = openat(cur, comp,
                O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_DIRECTORY | O_NONBLOCK);
    if (fd < 0)
      fd = ose(errno);
    if (cur != root)
      close(cur);
    if (fd < 0)
      return fd;
    cur = fd;
    i++;
  }
  if (cur != root)
    close(cur);
  return fd;
}

/* Only regular files and directories exist for a sandboxed plugin: a
   FIFO, socket or device could block the host or reach outside. */
static int plain_kind(mode_t m) { return S_ISREG(m) || S_ISDIR(m); }

int pk__os_open_beneath(int root, const char *rel, size_t len, int want_dir) {
  char comp[256];
  struct stat st;
  int dir, fd, rc;

  if ((rc = walk_beneath(root, rel, len, &dir, comp)) < 0)
    return rc;
  /* O_NONBLOCK: opening a FIFO for reading would wait for a writer. */
  fd = openat(dir, comp,
              O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK |
                  (want_dir ? O_DIRECTORY : 0));
  if (fd < 0)
    fd = ose(errno);
  if (dir != root)
    close(dir);
  if (fd < 0)
    return fd;
  if (fstat(fd, &st) != 0 || !plain_kind(st.st_mode)) {
    close(fd);
    return PK__OSE_ACCES;
  }
  /* Reads of a regular file block as usual (the flag means nothing for
     them on Linux, but keep the descriptor what a reader expects). */
  if (S_ISREG(st.st_mode))
    (void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

static void stat_out(const struct stat *st, pk__os_stat *out) {
  out->dev = (uint64_t)st->st_dev;
  out->ino = (uint64_t)st->st_ino;
  out->nlink = (uint64_t)st->st_nlink;
  out->size = (uint64_t)st->st_size;
  out->atime_ns = (uint64_t)st->st_atim.tv_sec * 1000000000u +
                  (uint64_t)st->st_atim.tv_nsec;
  out->mtime_ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u +
                  (uint64_t)st->st_mtim.tv_nsec;
  out->ctime_ns = (uint64_t)st->st_ctim.tv_sec * 1000000000u +
                  (uint64_t)st->st_ctim.tv_nsec;
  out->isdir = S_ISDIR(st->st_mode) ? 1 : 0;
}

int pk__os_stat_beneath(int root, const char *rel, size_t len,
                        pk__os_stat *out) {
  char comp[256];
  struct stat st;
  int dir, rc;

  if ((rc = walk_beneath(root, rel, len, &dir, comp)) < 0)
    return rc;
  /* No open at all: nothing to block on. */
  rc = fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) != 0 ? ose(errno) : 0;
  if (dir != root)
    close(dir);
  if (rc < 0)
    return rc;
  if (S_ISLNK(st.st_mode))
    return PK__OSE_LOOP; /* never followed, as an open would refuse it */
  if (!plain_kind(st.st_mode))
    return PK__OSE_ACCES;
  stat_out(&st, out);
  return 0;
}

long pk__os_read(int fd, void *buf, size_t n) {
  ssize_t k;
  do
    k = read(fd, buf, n);
  while (k < 0 && errno == EINTR);
  return k < 0 ? ose(errno) : (long)k;
}

int64_t pk__os_seek(int fd, int64_t off, int whence) {
  off_t r = lseek(fd, (off_t)off,
                  whence == 0 ? SEEK_SET : whence == 1 ? SEEK_CUR : SEEK_END);
  return r < 0 ? ose(errno) : (int64_t)r;
}

int pk__os_fstat(int fd, pk__os_stat *out) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    return ose(errno);
  stat_out(&st, out);
  return 0;
}

void pk__os_close(int fd) {
  if (fd >= 0)
    close(fd);
}

int pk__os_self_path(char *buf, size_t cap) {
  Dl_info info;
  if (!dladdr((void *)pk__os_self_path, &info) || info.dli_fname == NULL ||
      info.dli_fname[0] != '/' || strlen(info.dli_fname) >= cap)
    return -1;
  memcpy(buf, info.dli_fname, strlen(info.dli_fname) + 1);
  return 0;
}

/* ---- files for bundles and the catalog ---------------------------------- */

int pk__os_open_file(const char *path, int *out_fd, pk__os_stat *out_st) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    return open_code();
  if (fstat(fd, &st) != 0) {
    close(fd);
    return PK_EIO;
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return PK_EFORMAT;
  }
  stat_out(&st, out_st);
  *out_fd = fd;
  return PK_OK;
}

int pk__os_pread(int fd, void *buf, size_t n, uint64_t off, size_t *out_got) {
  size_t got = 0;
  *out_got = 0;
  if (off > (uint64_t)INT64_MAX - n)
    return PK_EFORMAT;
  while (got < n) {
    ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
    if (k < 0 && errno == EINTR)
      continue;
    if (k < 0)
      return PK_EIO;
    if (k == 0)
      break;
    got += (size_t)k;
  }
  *out_got = got;
  return got == n ? PK_OK : PK_EFORMAT;
}

int pk__os_anon_file(const char *name, const void *data, size_t n,
                     char *where, size_t cap, char *err, size_t errcap) {
  int fd = -1;
  size_t w = 0;
#if defined(__linux__) && defined(MFD_CLOEXEC)
  fd = memfd_create(name, MFD_CLOEXEC);
#endif
  if (fd < 0) {
    const char *tmp = getenv("TMPDIR");
    char t[4096];
    snprintf(t, sizeof t, "%s/plugkit-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    fd = mkostemp(t, O_CLOEXEC); /* 0600 */
    if (fd >= 0)
      unlink(t); /* private: only the fd reaches it */
  }
  if (fd < 0) {
    snprintf(err, errcap, "cannot create a private file: %s",
             strerror(errno));
    return PK_EIO;
  }
  while (w < n) {
    ssize_t k = write(fd, (const char *)data + w, n - w);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0) {
      snprintf(err, errcap, "cannot write a private file: %s",
               strerror(errno));
      close(fd);
      return PK_EIO;
    }
    w += (size_t)k;
  }
  snprintf(where, cap, "/proc/self/fd/%d", fd);
  return fd;
}

int pk__os_private_file(const char *name, char *path, size_t cap, char *err,
                        size_t errcap) {
  const char *base = getenv("XDG_RUNTIME_DIR");
  struct stat st;
  int fd;
  /* The user's runtime folder (a tmpfs only the user reaches, emptied at
     logout) when it is usable, else TMPDIR, else /tmp. */
  if (base == NULL || base[0] != '/' || stat(base, &st) != 0 ||
      !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
      access(base, W_OK | X_OK) != 0) {
    base = getenv("TMPDIR");
    if (base == NULL || base[0] != '/')
      base = "/tmp";
  }
  if ((size_t)snprintf(path, cap, "%s/plugkit-XXXXXX", base) >= cap) {
    snprintf(err, errcap, "the temporary folder's path is too long");
    return PK_EIO;
  }
  if (mkdtemp(path) == NULL) { /* mode 0700 */
    snprintf(err, errcap, "cannot make a private folder in %s: %s", base,
             strerror(errno));
    return PK_EIO;
  }
  {
    size_t k = strlen(path);
    if ((size_t)snprintf(path + k, cap - k, "/%s", name) >= cap - k) {
      path[k] = '\0';
      rmdir(path);
      snprintf(err, errcap, "the private file's path is too long");
      return PK_EIO;
    }
  }
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
  if (fd < 0) {
    snprintf(err, errcap, "cannot create %s: %s", path, strerror(errno));
    *strrchr(path, '/') = '\0';
    rmdir(path);
    return PK_EIO;
  }
  return fd;
}

void pk__os_private_file_remove(const char *path) {
  char dir[4096];
  const char *slash = strrchr(path, '/');
  unlink(path);
  if (slash != NULL && (size_t)(slash - path) < sizeof dir) {
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    rmdir(dir);
  }
}

int pk__os_write_all(int fd, const void *data, size_t n, char *err,
                     size_t errcap) {
  size_t w = 0;
  while (w < n) {
    ssize_t k = write(fd, (const char *)data + w, n - w);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0) {
      snprintf(err, errcap, "cannot write a private file: %s",
               k < 0 ? strerror(errno) : "no space");
      return PK_EIO;
    }
    w += (size_t)k;
  }
  return PK_OK;
}

int pk__os_write_file(const char *path, const void *data, size_t n,
                      char *err, size_t errcap) {
  char tmp[4096];
  size_t w = 0;
  int fd;
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= sizeof tmp) {
    snprintf(err, errcap, "path too long");
    return PK_EIO;
  }
  if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
    snprintf(err, errcap, "cannot create %s: %s", tmp, strerror(errno));
    return PK_EIO;
  }
  {
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, 0644 & ~um);
  }
  while (w < n) {
    ssize_t k = write(fd, (const char *)data + w, n - w);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0) {
      snprintf(err, errcap, "cannot write %s: %s", tmp, strerror(errno));
      close(fd);
      unlink(tmp);
      return PK_EIO;
    }
    w += (size_t)k;
  }
  if (close(fd) != 0 || rename(tmp, path) != 0) {
    snprintf(err, errcap, "cannot write %s: %s", path, strerror(errno));
    unlink(tmp);
    return PK_EIO;
  }
  return PK_OK;
}

int pk__os_lstat(const char *path, pk__os_stat *out, int *out_islink,
                 int *out_isreg, int *out_isexec) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return open_code();
  stat_out(&st, out);
  *out_islink = S_ISLNK(st.st_mode) ? 1 : 0;
  *out_isreg = S_ISREG(st.st_mode) ? 1 : 0;
  *out_isexec = (st.st_mode & 0111) != 0;
  return PK_OK;
}

int pk__os_lstat_at(int dir, const char *rel, pk__os_stat *out,
                    int *out_islink, int *out_isreg) {
  struct stat st;
  if (fstatat(dir, rel, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return open_code();
  stat_out(&st, out);
  *out_islink = S_ISLNK(st.st_mode) ? 1 : 0;
  *out_isreg = S_ISREG(st.st_mode) ? 1 : 0;
  return PK_OK;
}

/* ---- threads ------------------------------------------------------------ */

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(pk__os_mutex),
               "pk__os_mutex too small for pthread_mutex_t");
_Static_assert(sizeof(pthread_cond_t) <= sizeof(pk__os_cond),
               "pk__os_cond too small for pthread_cond_t");

#define MTX(m) ((pthread_mutex_t *)(void *)(m)->opaque)
#define CND(c) ((pthread_cond_t *)(void *)(c)->opaque)

int pk__os_mutex_init(pk__os_mutex *m) {
  return pthread_mutex_init(MTX(m), NULL) == 0 ? PK_OK : PK_ENOMEM;
}
void pk__os_mutex_destroy(pk__os_mutex *m) { pthread_mutex_destroy(MTX(m)); }
void pk__os_mutex_lock(pk__os_mutex *m) { pthread_mutex_lock(MTX(m)); }
void pk__os_mutex_unlock(pk__os_mutex *m) { pthread_mutex_unlock(MTX(m)); }

int pk__os_cond_init(pk__os_cond *c) {
  pthread_condattr_t a;
  int rc;
  if (pthread_condattr_init(&a) != 0)
    return PK_ENOMEM;
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  rc = pthread_cond_init(CND(c), &a);
  pthread_condattr_destroy(&a);
  return rc == 0 ? PK_OK : PK_ENOMEM;
}
void pk__os_cond_destroy(pk__os_cond *c) { pthread_cond_destroy(CND(c)); }
void pk__os_cond_broadcast(pk__os_cond *c) { pthread_cond_broadcast(CND(c)); }

int pk__os_cond_wait(pk__os_cond *c, pk__os_mutex *m, uint64_t deadline_ns) {
  struct timespec ts;
  if (deadline_ns == 0)
    return pthread_cond_wait(CND(c), MTX(m)) == 0 ? 0 : 0;
  ts.tv_sec = (time_t)(deadline_ns / 1000000000u);
  ts.tv_nsec = (long)(deadline_ns % 1000000000u);
  return pthread_cond_timedwait(CND(c), MTX(m), &ts) == ETIMEDOUT;
}

int pk__os_ncpu(void) {
#ifdef CPU_COUNT
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
    return CPU_COUNT(&set);
#endif
  {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
  }
}

void pk__os_yield(void) { sched_yield(); }

void pk__os_sleep_ns(uint64_t ns) {
  struct timespec ts;
  ts.tv_sec = (time_t)(ns / 1000000000u);
  ts.tv_nsec = (long)(ns % 1000000000u);
  nanosleep(&ts, NULL);
}

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#endif

/* ThreadSanitizer knows no fences (nor membarrier): under it the lanes
   use sequentially consistent loads and stores instead (core.h,
   PK__ORD_LANE), which it understands. */
#if defined(__SANITIZE_THREAD__)
#define PK__OS_FENCE() ((void)0)
#else
#define PK__OS_FENCE() atomic_thread_fence(memory_order_seq_cst)
#endif

/* 1: membarrier's private expedited command is registered; -1: not
   available, use the fallback. */
static atomic_int membarrier_state;

static void membarrier_fallback(void) {
  /* Changing the protection of a page this process has touched makes the
     kernel shoot down its TLB entry on every CPU running one of our
     threads: on x86 an interrupt each, which orders their loads and
     stores as a barrier would. (Not on arm64, which broadcasts the
     shootdown in hardware: core.h's lanes rely on this only on x86.) One
     page, kept for the life of the process. */
  static unsigned char *page;
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&mu);
  if (page == NULL) {
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    page = m == MAP_FAILED ? NULL : (unsigned char *)m;
  }
  if (page != NULL) {
    page[0]++;
    mprotect(page, 4096, PROT_READ);
    mprotect(page, 4096, PROT_READ | PROT_WRITE);
  }
  pthread_mutex_unlock(&mu);
  PK__OS_FENCE();
}

void pk__os_membarrier(void) {
#if defined(__linux__) && defined(SYS_membarrier)
  int st = atomic_load(&membarrier_state);
  if (st == 0) {
    st = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
                 0) == 0
             ? 1
             : -1;
    atomic_store(&membarrier_state, st);
  }
  if (st == 1 &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0) {
    PK__OS_FENCE();
    return;
  }
#endif
  membarrier_fallback();
}

static pthread_key_t thread_key;
static pthread_once_t thread_key_once = PTHREAD_ONCE_INIT;
static void (*_Atomic thread_dtor)(void *);
static int thread_key_ok;

static void thread_key_make(void) {
  thread_key_ok = pthread_key_create(&thread_key, atomic_load(&thread_dtor)) == 0;
}

int pk__os_thread_key(void (*dtor)(void *)) {
  void (*none)(void *) = NULL;
  /* One key for the library: the first caller's destructor (there is
     one caller, thread.c). */
  atomic_compare_exchange_strong(&thread_dtor, &none, dtor);
  pthread_once(&thread_key_once, thread_key_make);
  return thread_key_ok ? 0 : -1;
}

void pk__os_thread_set(void *value) {
  if (thread_key_ok)
    pthread_setspecific(thread_key, value);
}
