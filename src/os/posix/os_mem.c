/*
 * os_mem.c: src/os/os_mem.h for POSIX systems (memfd on Linux; elsewhere
 * pk__os_memfd_create fails and the engine copies images). Compiled into
 * the wasm engine's library, so it uses nothing of plugkit's.
 */
#define _GNU_SOURCE 1
#include "../os_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int pk__os_memfd_create(const char *name, uint64_t size) {
#if defined(__linux__) && defined(MFD_CLOEXEC) && defined(MFD_ALLOW_SEALING)
  const char *off = getenv("PK_TEST_NO_MEMFD");
  int fd;
  if (off != NULL && *off != '\0' && strcmp(off, "0") != 0)
    return -1;
  if (size > (uint64_t)INT64_MAX)
    return -1;
  fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0)
    return -1;
  if (ftruncate(fd, (off_t)size) != 0) {
    close(fd);
    return -1;
  }
  return fd;
#else
  (void)name;
  (void)size;
  return -1;
#endif
}

int pk__os_memfd_write(int fd, uint64_t off, const void *data, size_t n) {
  const char *p = data;
  while (n > 0) {
    ssize_t k = pwrite(fd, p, n, (off_t)off);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      return -1;
    p += k;
    off += (uint64_t)k;
    n -= (size_t)k;
  }
  return 0;
}

void pk__os_memfd_seal(int fd) {
#if defined(F_ADD_SEALS) && defined(F_SEAL_WRITE)
  (void)fcntl(fd, F_ADD_SEALS,
              F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
#else
  (void)fd;
#endif
}

void pk__os_memfd_close(int fd) {
  if (fd >= 0)
    close(fd);
}

void *pk__os_vm_reserve(size_t n) {
  /* No access and no commit charge: a memory's pages past its size are
     committed by memory.grow (pk__os_vm_commit), never touched before. */
  void *p = mmap(NULL, n, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

int pk__os_vm_map_file(void *at, size_t n, int fd) {
  void *p = mmap(at, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd,
                 0);
  return p == at ? 0 : -1;
}

int pk__os_vm_commit(void *at, size_t n) {
  return mprotect(at, n, PROT_READ | PROT_WRITE) == 0 ? 0 : -1;
}

int pk__os_vm_discard(void *at, size_t n) {
  /* Linux: a private mapping's copied pages go; the file's (or zero
     pages) show through again. */
  return madvise(at, n, MADV_DONTNEED) == 0 ? 0 : -1;
}

int pk__os_vm_seal_exec(void *at, size_t n) {
  return mprotect(at, n, PROT_READ | PROT_EXEC) == 0 ? 0 : -1;
}

size_t pk__os_vm_page(void) {
  long n = sysconf(_SC_PAGESIZE);
  return n > 0 ? (size_t)n : 4096;
}

void pk__os_vm_release(void *base, size_t n) {
  if (base != NULL)
    (void)munmap(base, n);
}

/* /proc/self/pagemap, open for the process: PAGEMAP_UNTRIED until the
   first pk__os_vm_written, -1 when it cannot be read. A forked child
   must not read its parent's (the fd names the process that opened
   it): the fork handler forgets it in the child. */
#define PAGEMAP_UNTRIED (-2)
static atomic_int pagemap_fd = PAGEMAP_UNTRIED;
static pthread_once_t pagemap_once = PTHREAD_ONCE_INIT;

static void pagemap_child(void) {
  int fd = atomic_exchange(&pagemap_fd, PAGEMAP_UNTRIED);
  if (fd >= 0)
    close(fd);
}

static void pagemap_atfork(void) {
  (void)pthread_atfork(NULL, NULL, pagemap_child);
}

static int pagemap(void) {
  int fd = atomic_load_explicit(&pagemap_fd, memory_order_acquire);
  int want = PAGEMAP_UNTRIED;
  if (fd != PAGEMAP_UNTRIED)
    return fd;
  (void)pthread_once(&pagemap_once, pagemap_atfork);
#ifdef __linux__
  fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
#endif
  if (fd < 0)
    fd = -1;
  if (!atomic_compare_exchange_strong(&pagemap_fd, &want, fd)) {
    if (fd >= 0)
      close(fd); /* another thread opened it first */
    return want;
  }
  return fd;
}

int pk__os_vm_written(const void *at, size_t n,
                      void (*written)(void *ud, size_t off, size_t len),
                      void *ud) {
  /* pagemap: one 64-bit entry per page; bit 63 present, 62 swapped,
     61 the page is the file's (or shared). A private copy is present or
     swapped and not the file's. */
  uint64_t e[512];
  size_t ps, npages, i = 0, run = 0, nrun = 0;
  uintptr_t first;
  int fd = pagemap();
  long ps_l = sysconf(_SC_PAGESIZE); /* no system call: from the auxv */
  if (fd < 0 || ps_l <= 0)
    return -1;
  ps = (size_t)ps_l;
  first = (uintptr_t)at / ps;
  npages = n / ps;
  while (i < npages) {
    size_t k, want = npages - i < 512 ? npages - i : 512;
    ssize_t got = pread(fd, e, want * sizeof e[0],
                        (off_t)((first + i) * sizeof e[0]));
    if (got < 0 && errno == EINTR)
      continue;
    if (got != (ssize_t)(want * sizeof e[0]))
      return -1;
    for (k = 0; k < want; k++, i++) {
      int priv = (e[k] >> 63 & 1 || e[k] >> 62 & 1) && !(e[k] >> 61 & 1);
      if (priv) {
        if (nrun == 0)
          run = i;
        nrun++;
      } else if (nrun > 0) {
        written(ud, run * ps, nrun * ps);
        nrun = 0;
      }
    }
  }
  if (nrun > 0)
    written(ud, run * ps, nrun * ps);
  return 0;
}
