/*
 * os_mem.h: the memory mappings behind the wasm engine's copy-on-write
 * memory images (src/wasm/engine/instance.c). Part of the OS interface
 * (src/os/os.h says the rules), in a header of its own because the engine
 * is a library of its own: it includes only this, and its CMakeLists
 * compiles the platform's os_mem.c into it (PKW_HAVE_OS_MEM). An engine
 * built without it copies images instead.
 *
 * Plain C, no plugkit types: failures are -1 (or NULL), and the caller
 * falls back to copying, so the reason does not matter.
 */
#ifndef PK_OS_OS_MEM_H
#define PK_OS_OS_MEM_H

#include <stddef.h>
#include <stdint.h>

/* A new anonymous in-memory file of `size` bytes, all zero, for an image
   (a memfd on Linux, close-on-exec): its fd, or -1 where the system has
   none. Also -1 when the environment variable PK_TEST_NO_MEMFD is set to
   anything but "" or "0": a test hook, so that the tests can run the
   fallback (memfd_create failing) on a system that has memfds. (In
   plugkit-runner's sandbox memfd_create fails after the load, so its
   pool instances copy.) */
int pk__os_memfd_create(const char *name, uint64_t size);
/* Writes n bytes at offset off of such a file: 0 or -1. */
int pk__os_memfd_write(int fd, uint64_t off, const void *data, size_t n);
/* Seals the file, once written: no write, shrink or grow from now on
   (best effort: an older kernel without seals keeps it as is; only the
   caller holds the fd anyway). */
void pk__os_memfd_seal(int fd);
void pk__os_memfd_close(int fd);

/* Reserves n bytes of address space, inaccessible (nothing committed):
   the base, or NULL. */
void *pk__os_vm_reserve(size_t n);
/* Maps the first n bytes of fd readable, writable and private (copy on
   write: the file never changes) at `at`, inside a reservation, in
   place of what was there: 0, or -1, after which [at, at + n) may be
   unmapped (release the whole reservation). */
int pk__os_vm_map_file(void *at, size_t n, int fd);
/* Makes [at, at + n) of a reservation readable and writable, zero: 0, or
   -1 (out of memory). */
int pk__os_vm_commit(void *at, size_t n);
/* Drops the private pages of [at, at + n): the next read sees the file's
   bytes again where the range maps a file, zero elsewhere. The range
   stays accessible. 0 or -1. */
int pk__os_vm_discard(void *at, size_t n);
/* Finds what was written in [at, at + n), a private mapping of a file
   made by pk__os_vm_map_file (at and n multiples of the page size):
   calls written(ud, off, len) for each run of pages, by increasing
   offset, that may no longer hold the file's bytes (a private copy,
   present or swapped out); the other pages read as the file. Returns 0,
   or -1 when the system cannot tell (then nothing is known: discard the
   whole range). Linux reads /proc/self/pagemap, kept open per process
   (reopened in a forked child). */
int pk__os_vm_written(const void *at, size_t n,
                     void (*written)(void *ud, size_t off, size_t len),
                     void *ud);
/* Makes [at, at + n) of a reservation readable and executable, no
   longer writable (compiled code, once written): 0, or -1. */
int pk__os_vm_seal_exec(void *at, size_t n);
/* The size of a page (what reservations and protections round to). */
size_t pk__os_vm_page(void);
/* Releases a reservation of n bytes (and every mapping in it). */
void pk__os_vm_release(void *base, size_t n);

#endif
