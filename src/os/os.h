/*
 * os.h: the only interface to the operating system. Each platform folder
 * (src/os/posix/, ...) implements all of it; nothing else in the library
 * tests platform macros.
 */
#ifndef PK_OS_OS_H
#define PK_OS_OS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read up to `cap` bytes from the start of `path` into buf. A directory
 * reads as 0 bytes with *out_isdir set. Returns PK_OK, PK_ENOENT, PK_EIO.
 */
int pk__os_read_head(const char *path, unsigned char *buf, size_t cap,
                     size_t *out_n, int *out_isdir);

/* Size of the file at `path` in bytes: PK_OK, PK_ENOENT or PK_EIO. */
int pk__os_file_size(const char *path, uint64_t *out_size);

/* A loaded library: plain data, embedded by the caller (no allocation). */
typedef struct pk__os_lib {
  void *handle;
  int fd; /* the private copy, open while loaded (-1: none) */
} pk__os_lib;

/*
 * Load a shared library with local symbols, binding every symbol now.
 * With `private_copy`, load a private copy of the file's current content
 * instead of the file itself, so that each open is a fresh instance with
 * its own globals and a file rebuilt in place loads its new code. On
 * failure, `err` (cap bytes) gets the loader's message and the return is
 * PK_EFORMAT (the loader refused the file) or PK_EIO.
 */
int pk__os_lib_open(const char *path, int private_copy, pk__os_lib *out_lib,
                    char *err, size_t cap);
void *pk__os_lib_sym(pk__os_lib *lib, const char *name);
void pk__os_lib_close(pk__os_lib *lib);

/* The ELF e_machine, class (1: 32-bit, 2: 64-bit) and data encoding
   (1: little, 2: big endian) of code built for this host. */
int pk__os_elf_machine(void);
int pk__os_elf_class(void);
int pk__os_elf_data(void);
/* A name for an ELF e_machine value ("x86_64", "aarch64", ...). */
const char *pk__os_elf_machine_name(int machine);

/* Nanoseconds on the monotonic clock (monotonic != 0) or since the Unix
   epoch. */
uint64_t pk__os_clock_ns(int monotonic);
/* Fill buf with n random bytes from the OS: PK_OK or PK_EIO. */
int pk__os_random(void *buf, size_t n);

/*
 * A watchdog: a thread that calls fire(ud) once the armed deadline has
 * passed (checked every millisecond). Arming and disarming are two atomic
 * stores, cheap enough for every call. The caller provides the storage
 * (pk__os_watchdog_size() bytes, aligned like max_align_t).
 */
typedef struct pk__os_watchdog pk__os_watchdog;
size_t pk__os_watchdog_size(void);
int pk__os_watchdog_start(pk__os_watchdog *w, void (*fire)(void *ud),
                          void *ud);
void pk__os_watchdog_arm(pk__os_watchdog *w, uint64_t deadline_ns);
void pk__os_watchdog_disarm(pk__os_watchdog *w);
/* Did it fire since it was last armed? */
int pk__os_watchdog_fired(pk__os_watchdog *w);
void pk__os_watchdog_stop(pk__os_watchdog *w);

#endif /* PK_OS_OS_H */
