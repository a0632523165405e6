/*
 * os_aot.c: src/os/os.h's services for the wasm aot tier on POSIX: the
 * user's cache directory and its trust checks, atomic writes, running
 * the system C compiler, and loading a shared object from bytes already
 * checked in memory.
 */
#define _GNU_SOURCE 1
#include "../os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plugkit_types.h"

/* The machine (named as pk__os_elf_machine_name names it), the OS and
   the C library's ABI: what an aot artifact's code is bound to. */
#if defined(__x86_64__)
#define PK__OS_ARCH "x86_64"
#elif defined(__aarch64__)
#define PK__OS_ARCH "aarch64"
#elif defined(__i386__)
#define PK__OS_ARCH "i386"
#elif defined(__arm__)
#define PK__OS_ARCH "arm"
#elif defined(__riscv)
#define PK__OS_ARCH "riscv"
#else
#define PK__OS_ARCH "unknown"
#endif
#if defined(__linux__) && defined(__GLIBC__)
#define PK__OS_ABI "linux-gnu"
#elif defined(__linux__)
#define PK__OS_ABI "linux-musl"
#elif defined(__FreeBSD__)
#define PK__OS_ABI "freebsd"
#elif defined(__APPLE__)
#define PK__OS_ABI "darwin"
#else
#define PK__OS_ABI "unknown"
#endif

const char *pk__os_target(void) { return PK__OS_ARCH "-" PK__OS_ABI; }

int pk__os_cache_dir(char *buf, size_t cap) {
  const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
  int k;
  /* XDG: a relative value is invalid and ignored. */
  if (x != NULL && x[0] == '/')
    k = snprintf(buf, cap, "%s/plugkit", x);
  else if (home != NULL && home[0] == '/')
    k = snprintf(buf, cap, "%s/.cache/plugkit", home);
  else
    return -1;
  return k < 0 || (size_t)k >= cap ? -1 : 0;
}

/* Who may replace what is in a directory or file: its owner (must be
   us) and, unless the mode says otherwise, group and others. */
static int trusted(const struct stat *st, const char *what, char *why,
                   size_t cap) {
  if (st->st_uid != geteuid()) {
    snprintf(why, cap, "%s is owned by uid %ld, not by this user (%ld)",
             what, (long)st->st_uid, (long)geteuid());
    return PK_EUNTRUSTED;
  }
  if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    snprintf(why, cap, "%s is writable by %s (mode %03o)", what,
             (st->st_mode & S_IWOTH) ? "everyone" : "its group",
             (unsigned)(st->st_mode & 0777));
    return PK_EUNTRUSTED;
  }
  return PK_OK;
}

int pk__os_private_dir(const char *path, int create, char *why,
                       size_t cap) {
  struct stat st;
  if (lstat(path, &st) != 0) {
    char part[4096];
    size_t i, n = strlen(path);
    if (errno != ENOENT || !create) {
      snprintf(why, cap, "cannot use the directory: %s", strerror(errno));
      return errno == ENOENT ? PK_ENOENT : PK_EIO;
    }
    if (n >= sizeof part) {
      snprintf(why, cap, "path too long");
      return PK_EINVAL;
    }
    /* Missing folders on the way (~/.cache, XDG_CACHE_HOME) are made
       private too, as the XDG base directory rules ask. */
    memcpy(part, path, n + 1);
    for (i = 1; i <= n; i++) {
      if (part[i] != '/' && part[i] != '\0')
        continue;
      part[i] = '\0';
      if (mkdir(part, 0700) != 0 && errno != EEXIST) {
        snprintf(why, cap, "cannot create %s: %s", part, strerror(errno));
        return PK_EIO;
      }
      part[i] = path[i];
    }
    if (lstat(path, &st) != 0) {
      snprintf(why, cap, "cannot use the directory: %s", strerror(errno));
      return PK_EIO;
    }
  }
  if (!S_ISDIR(st.st_mode)) {
    snprintf(why, cap, "not a directory%s",
             S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
    return PK_EUNTRUSTED;
  }
  return trusted(&st, "the directory", why, cap);
}

int pk__os_read_trusted(const char *path, size_t max,
                        void *(*alloc)(void *ud, size_t n), void *ud,
                        unsigned char **out, size_t *out_n, char *why,
                        size_t cap) {
  struct stat st;
  unsigned char *buf;
  size_t got = 0;
  int fd, rc;
  *out = NULL;
  *out_n = 0;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
  if (fd < 0) {
    rc = errno == ENOENT || errno == ENOTDIR ? PK_ENOENT
         : errno == ELOOP                  ? PK_EUNTRUSTED
                                           : PK_EIO;
    snprintf(why, cap, "%s", rc == PK_EUNTRUSTED ? "a symbolic link"
                                                 : strerror(errno));
    return rc;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(why, cap, "not a regular file");
    close(fd);
    return PK_EFORMAT;
  }
  if ((rc = trusted(&st, "the file", why, cap)) != PK_OK) {
    close(fd);
    return rc;
  }
  if ((uint64_t)st.st_size > (uint64_t)max) {
    snprintf(why, cap, "%llu bytes, over the limit of %zu",
             (unsigned long long)st.st_size, max);
    close(fd);
    return PK_ELIMIT;
  }
  if ((buf = alloc(ud, st.st_size > 0 ? (size_t)st.st_size : 1)) == NULL) {
    close(fd);
    return PK_ENOMEM;
  }
  while (got < (size_t)st.st_size) {
    ssize_t k = read(fd, buf + got, (size_t)st.st_size - got);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    got += (size_t)k;
  }
  close(fd);
  *out = buf;
  *out_n = got;
  return PK_OK;
}

int pk__os_write_atomic(const char *path, const void *data, size_t n,
                        char *why, size_t cap) {
  char tmp[4096];
  const unsigned char *p = data;
  size_t done = 0;
  int fd, k = snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
  if (k < 0 || (size_t)k >= sizeof tmp) {
    snprintf(why, cap, "path too long");
    return PK_EINVAL;
  }
  if ((fd = mkstemp(tmp)) < 0) {
    snprintf(why, cap, "cannot create a file next to it: %s",
             strerror(errno));
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
  /* Readable by all, writable by the owner only (not umask's choice: the
     loader refuses a file others may write). */
  if (done != n || fchmod(fd, 0644) != 0 || fsync(fd) != 0 ||
      close(fd) != 0) {
    snprintf(why, cap, "cannot write: %s", strerror(errno));
    unlink(tmp);
    return PK_EIO;
  }
  if (rename(tmp, path) != 0) {
    snprintf(why, cap, "cannot rename into place: %s", strerror(errno));
    unlink(tmp);
    return PK_EIO;
  }
  return PK_OK;
}

int pk__os_which(const char *name, char *buf, size_t cap) {
  const char *path = getenv("PATH"), *p;
  if (strchr(name, '/') != NULL) {
    int k = snprintf(buf, cap, "%s", name);
    return k >= 0 && (size_t)k < cap && access(buf, X_OK) == 0 ? 0 : -1;
  }
  if (path == NULL || *path == '\0')
    path = "/usr/bin:/bin";
  for (p = path; *p != '\0';) {
    const char *e = strchr(p, ':');
    size_t len = e != NULL ? (size_t)(e - p) : strlen(p);
    int k = snprintf(buf, cap, "%.*s/%s", (int)len, len ? p : ".", name);
    struct stat st;
    if (k >= 0 && (size_t)k < cap && stat(buf, &st) == 0 &&
        S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
      return 0;
    p += len;
    if (*p == ':')
      p++;
  }
  return -1;
}

int pk__os_run(const char *const argv[], char *out, size_t cap,
               int *status) {
  int pfd[2], st;
  size_t got = 0;
  pid_t pid;
  char sink[4096];
  if (cap > 0)
    out[0] = '\0';
  *status = -1;
  if (pipe2(pfd, O_CLOEXEC) != 0)
    return PK_EIO;
  pid = fork();
  if (pid < 0) {
    close(pfd[0]);
    close(pfd[1]);
    return PK_EIO;
  }
  if (pid == 0) {
    int nul = open("/dev/null", O_RDONLY);
    if (nul >= 0)
      dup2(nul, 0);
    dup2(pfd[1], 1);
    dup2(pfd[1], 2);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(pfd[1]);
  /* Read until the end (the child blocks on a full pipe otherwise),
     keeping the first cap - 1 bytes. */
  for (;;) {
    char *dst = got + 1 < cap ? out + got : sink;
    size_t room = got + 1 < cap ? cap - 1 - got : sizeof sink;
    ssize_t k = read(pfd[0], dst, room);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    if (dst != sink)
      got += (size_t)k;
  }
  close(pfd[0]);
  if (cap > 0)
    out[got] = '\0';
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      return PK_EIO;
  *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return PK_OK;
}

int pk__os_tmpdir(char *buf, size_t cap) {
  const char *tmp = getenv("TMPDIR");
  int k = snprintf(buf, cap, "%s/plugkit-aot-XXXXXX",
                   tmp != NULL && tmp[0] == '/' ? tmp : "/tmp");
  if (k < 0 || (size_t)k >= cap || mkdtemp(buf) == NULL)
    return -1;
  return 0;
}

void pk__os_rmdir_files(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  char p[4096];
  if (d != NULL) {
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}
