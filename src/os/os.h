/*
 * os.h: the only interface to the operating system. Each platform folder
 * (src/os/posix/, ...) implements all of it; nothing else in the library
 * tests platform macros. The wasm engine's memory mappings are in
 * os_mem.h (the engine, a library of its own, includes only that).
 */
#ifndef PK_OS_OS_H
#define PK_OS_OS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read up to `cap` bytes from the start of `path` into buf. A directory
 * reads as 0 bytes with *out_isdir set. Returns PK_OK, PK_ENOENT, PK_EIO,
 * or PK_EFORMAT for what is neither a regular file nor a directory (a
 * FIFO, a device, a socket: opening or reading one can block for ever or
 * never end); *out_n is then 0. Never blocks on a FIFO.
 */
int pk__os_read_head(const char *path, unsigned char *buf, size_t cap,
                     size_t *out_n, int *out_isdir);

/*
 * The one way a backend reads a whole plugin file (a wasm module, a Lua
 * script): `path` must be a regular file of at most `max` bytes. On
 * PK_OK, *out is a block of *out_n bytes (at least 1 byte allocated) from
 * alloc(ud, n), the caller's to free. Returns PK_ENOENT, PK_EIO,
 * PK_ENOMEM (alloc failed), PK_EFORMAT (not a regular file: nothing is
 * read, a FIFO is never waited for) or PK_ELIMIT (larger than max;
 * *out_n is then the file's size, or SIZE_MAX if that does not fit).
 * Reads at most the size the file had when opened, so a file growing
 * meanwhile cannot make it read for ever.
 */
int pk__os_read_file(const char *path, size_t max,
                     void *(*alloc)(void *ud, size_t n), void *ud,
                     unsigned char **out, size_t *out_n);

/* Check, without reading, what pk__os_read_file would refuse: the same
   codes (PK_ELIMIT with *out_size set), for readers that open the file
   themselves (libtcc). */
int pk__os_check_file(const char *path, size_t max, size_t *out_size);

/*
 * Call each(ud, name) for every entry of directory `path` but "." and
 * "..", in the order the system gives; a nonzero return stops the walk
 * and is returned. PK_EIO when the directory cannot be read.
 */
int pk__os_list_dir(const char *path, int (*each)(void *ud, const char *name),
                    void *ud);

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
/* Load the library that `where` names, an fd path ("/proc/self/fd/N")
   of the caller's private anonymous file fd (pk__os_anon_file), as it is:
   no copy. On PK_OK the library keeps fd (closed by pk__os_lib_close);
   on failure fd stays the caller's. */
int pk__os_lib_open_fd(const char *where, int fd, pk__os_lib *out_lib,
                       char *err, size_t cap);
void *pk__os_lib_sym(pk__os_lib *lib, const char *name);
void pk__os_lib_close(pk__os_lib *lib);

/* The same, from n bytes in memory (already checked by the caller): the
   library is loaded from a private copy of exactly these bytes, so what
   was checked is what runs. `name` labels the copy. */
int pk__os_lib_open_mem(const void *data, size_t n, const char *name,
                        pk__os_lib *out_lib, char *err, size_t cap);

/* The ELF e_machine, class (1: 32-bit, 2: 64-bit) and data encoding
   (1: little, 2: big endian) of code built for this host. */
int pk__os_elf_machine(void);
int pk__os_elf_class(void);
int pk__os_elf_data(void);
/* A name for an ELF e_machine value ("x86_64", "aarch64", ...). */
const char *pk__os_elf_machine_name(int machine);
/* The system's name as a manifest's targets write it ("linux"). */
const char *pk__os_system(void);

/* Nanoseconds on the monotonic clock (monotonic != 0) or since the Unix
   epoch. */
uint64_t pk__os_clock_ns(int monotonic);
/* Fill buf with n random bytes from the OS: PK_OK or PK_EIO. */
int pk__os_random(void *buf, size_t n);

/* The path of the file this library's code was loaded from (libplugkit.so,
   or the program linking it statically) into buf; 0, or -1 when unknown. */
int pk__os_self_path(char *buf, size_t cap);

/*
 * A watchdog: fire(ud) is called once the armed deadline has passed
 * (checked every millisecond, on one thread that serves every watchdog
 * of the process and sleeps while none has been armed for a while).
 * Arming and disarming cost a few atomic operations, no syscall while
 * the thread is awake: cheap enough for every call. fire() runs on that
 * thread and must be short and must not call these functions. The
 * caller provides the storage (pk__os_watchdog_size() bytes, aligned
 * like max_align_t), which stays in place from start to stop; start
 * fails (PK_ENOMEM) only when the thread cannot be created.
 */
typedef struct pk__os_watchdog pk__os_watchdog;
size_t pk__os_watchdog_size(void);
int pk__os_watchdog_start(pk__os_watchdog *w, void (*fire)(void *ud),
                          void *ud);
void pk__os_watchdog_arm(pk__os_watchdog *w, uint64_t deadline_ns);
/* After disarm returns, fire() runs for no deadline armed before it: a
   fire already under way is waited out. */
void pk__os_watchdog_disarm(pk__os_watchdog *w);
/* Did it fire since it was last armed? */
int pk__os_watchdog_fired(pk__os_watchdog *w);
void pk__os_watchdog_stop(pk__os_watchdog *w);

/*
 * Read-only files beneath a root directory, for sandboxed plugins. Errors
 * are negative PK__OSE_* codes (portable; each caller maps them).
 */
enum {
  PK__OSE_NOENT = -1,
  PK__OSE_ACCES = -2,
  PK__OSE_NOTDIR = -3,
  PK__OSE_ISDIR = -4,
  PK__OSE_LOOP = -5, /* a symbolic link: never followed */
  PK__OSE_INVAL = -6,
  PK__OSE_MFILE = -7,
  PK__OSE_IO = -8,
  PK__OSE_ESCAPE = -9 /* absolute path or "..": outside the root */
};

typedef struct pk__os_stat {
  uint64_t dev, ino, nlink, size, atime_ns, mtime_ns, ctime_ns;
  int isdir;
} pk__os_stat;

/* Open directory `path` (the root): PK_OK and *out_fd, PK_ENOENT, PK_EIO. */
int pk__os_dir_open(const char *path, int *out_fd);
/*
 * Open `rel` (len bytes, '/'-separated) beneath directory fd `root`,
 * read-only, following no symbolic link and refusing "..", absolute paths
 * and empty components: it cannot name anything outside the root. With
 * `want_dir`, the result must be a directory. Only regular files and
 * directories open (anything else is PK__OSE_ACCES), and no open can
 * block (a FIFO would wait for a writer). Returns an fd >= 0 or a
 * PK__OSE_* code.
 */
int pk__os_open_beneath(int root, const char *rel, size_t len, int want_dir);
/* The same walk, then the status of what `rel` names, without opening it:
   0, or PK__OSE_LOOP for a symbolic link, PK__OSE_ACCES for anything but
   a regular file or directory, or another PK__OSE_* code. */
int pk__os_stat_beneath(int root, const char *rel, size_t len,
                        pk__os_stat *out);
long pk__os_read(int fd, void *buf, size_t n);              /* or PK__OSE_ */
int64_t pk__os_seek(int fd, int64_t off, int whence);       /* 0 set, 1 cur,
                                                               2 end */
int pk__os_fstat(int fd, pk__os_stat *out);                 /* 0 or PK__OSE_ */
void pk__os_close(int fd);


/* ---- threads ------------------------------------------------------------ */

/* A mutex and a condition variable, embedded by the caller (opaque
   storage: no allocation). Not recursive. */
typedef struct pk__os_mutex {
  _Alignas(16) unsigned char opaque[64];
} pk__os_mutex;
typedef struct pk__os_cond {
  _Alignas(16) unsigned char opaque[64];
} pk__os_cond;
int pk__os_mutex_init(pk__os_mutex *m); /* PK_OK or PK_ENOMEM */
void pk__os_mutex_destroy(pk__os_mutex *m);
void pk__os_mutex_lock(pk__os_mutex *m);
void pk__os_mutex_unlock(pk__os_mutex *m);
int pk__os_cond_init(pk__os_cond *c); /* PK_OK or PK_ENOMEM */
void pk__os_cond_destroy(pk__os_cond *c);
/* Wait on c (m held) until signalled or the monotonic clock passes
   deadline_ns (0: no deadline). Returns 0, or 1 when the deadline passed.
   Spurious wake-ups happen: callers loop on their condition. */
int pk__os_cond_wait(pk__os_cond *c, pk__os_mutex *m, uint64_t deadline_ns);
void pk__os_cond_broadcast(pk__os_cond *c);

/* CPUs this process may run on (at least 1). */
int pk__os_ncpu(void);
/* Let another thread run. */
void pk__os_yield(void);
/* Sleep about ns nanoseconds (less when a signal interrupts). */
void pk__os_sleep_ns(uint64_t ns);

/*
 * A full memory barrier on every running thread of this process, as if
 * each had executed one where it stands (membarrier(2) on Linux; a
 * slower fallback elsewhere). It lets a hot path order its own store and
 * load with a compiler barrier only, while the rare side pays for both:
 * the call path marks its lane busy and then reads the lane's "slow"
 * flag; close (or a pool taking an instance back) sets the flag, calls
 * this, then reads busy. Either the caller sees the flag or the closer
 * sees the caller busy: never neither (src/core/plugin.c).
 */
void pk__os_membarrier(void);

/*
 * Run dtor(value) when the calling thread exits, for the value last set
 * with pk__os_thread_set. pk__os_thread_key makes the key once (0, or -1
 * when the system has no room for one).
 */
int pk__os_thread_key(void (*dtor)(void *value));
void pk__os_thread_set(void *value);

/* ---- files for bundles and the catalog (src/catalog) ------------------- */

/* Open `path` read-only as pk__os_read_file would accept it (a regular
   file, no FIFO waited for, no size bound): PK_OK with *out_fd and
   *out_st, or PK_ENOENT, PK_EIO, PK_EFORMAT (not a regular file). */
int pk__os_open_file(const char *path, int *out_fd, pk__os_stat *out_st);
/* Read n bytes at offset off: PK_OK, or PK_EFORMAT when the file ends
   first (*out_got says how many were there), PK_EIO. */
int pk__os_pread(int fd, void *buf, size_t n, uint64_t off, size_t *out_got);
/*
 * A private, anonymous file holding the n bytes at data: a memfd where
 * the kernel has them (never on disk), else an unlinked file made with
 * mode 0600. Writes a path that opens it ("/proc/self/fd/N") into
 * `where` and returns the fd (>= 0), which keeps it alive, or PK_EIO
 * with a reason in err.
 */
int pk__os_anon_file(const char *name, const void *data, size_t n,
                     char *where, size_t cap, char *err, size_t errcap);
/*
 * A new file called `name` (a plain file name) in a new folder of mode
 * 0700 that only this user can enter: under $XDG_RUNTIME_DIR when it is
 * the user's, else $TMPDIR, else /tmp. The file is created (mode 0700, so
 * an executable can run) and opened for writing: returns its fd, its path
 * in `path` (cap bytes); or PK_EIO with the reason in err, nothing left
 * behind. pk__os_private_file_remove removes the file and its folder.
 */
int pk__os_private_file(const char *name, char *path, size_t cap, char *err,
                        size_t errcap);
void pk__os_private_file_remove(const char *path);
/* Append n bytes at data to fd: PK_OK, or PK_EIO with the reason in
   err. */
int pk__os_write_all(int fd, const void *data, size_t n, char *err,
                     size_t errcap);
/* Write a file whole and atomically: a temporary file beside `path`
   (mode 0644 less the umask) renamed over it. PK_OK or PK_EIO with the
   reason in err. */
int pk__os_write_file(const char *path, const void *data, size_t n,
                      char *err, size_t errcap);
/* The status of `path` itself (a symbolic link is not followed: *out is
   the link's, with islink set). PK_OK, PK_ENOENT or PK_EIO. */
int pk__os_lstat(const char *path, pk__os_stat *out, int *out_islink,
                 int *out_isreg, int *out_isexec);

/* The same for `rel` beneath the directory fd `dir` (fewer path
   components to walk than a full path: a scan stats thousands). */
int pk__os_lstat_at(int dir, const char *rel, pk__os_stat *out,
                    int *out_islink, int *out_isreg);

/* ---- the wasm aot tier (posix/os_aot.c) ---- */

/* "x86_64-linux-gnu": the machine, OS and C library ABI this code runs
   on, which a native artifact must have been built for. Static. */
const char *pk__os_target(void);
/* The user's cache folder for plugkit: $XDG_CACHE_HOME/plugkit (an
   absolute value only), else $HOME/.cache/plugkit. 0, or -1 when neither
   is set or buf is too small. */
int pk__os_cache_dir(char *buf, size_t cap);
/* Check that directory `path` is one only this user can change: owned by
   the effective uid, not writable by group or others, not a symbolic
   link. With `create`, a missing one (and missing parents) is created
   0700 first. PK_OK; PK_EUNTRUSTED, PK_ENOENT or PK_EIO with `why`. */
int pk__os_private_dir(const char *path, int create, char *why, size_t cap);
/* pk__os_read_file for a file whose content decides what code runs: it
   must be a regular file (a symbolic link is refused), owned by the
   effective uid and not writable by group or others (PK_EUNTRUSTED);
   the checks are made on the open file, which is then read. PK_ENOENT,
   PK_EFORMAT, PK_ELIMIT, PK_ENOMEM, PK_EIO otherwise, `why` saying. */
int pk__os_read_trusted(const char *path, size_t max,
                        void *(*alloc)(void *ud, size_t n), void *ud,
                        unsigned char **out, size_t *out_n, char *why,
                        size_t cap);
/* Replace `path` with n bytes at once (a temporary file beside it,
   renamed over it), mode 0644. PK_OK, or PK_EIO/PK_EINVAL with `why`. */
int pk__os_write_atomic(const char *path, const void *data, size_t n,
                        char *why, size_t cap);
/* The path of program `name` (searched on $PATH unless it has a '/')
   into buf: 0, or -1 when there is none. */
int pk__os_which(const char *name, char *buf, size_t cap);
/* Run argv (argv[0] a path, see pk__os_which; NULL-terminated) with
   stdin from /dev/null, collecting its stdout and stderr into out (the
   first cap - 1 bytes, NUL-terminated), and wait for it: *status is its
   exit status, -1 if a signal ended it. PK_OK or PK_EIO. */
int pk__os_run(const char *const argv[], char *out, size_t cap,
               int *status);
/* A new private temporary directory into buf (0, or -1); and removing
   one with the files in it. */
int pk__os_tmpdir(char *buf, size_t cap);
void pk__os_rmdir_files(const char *dir);

#endif /* PK_OS_OS_H */
