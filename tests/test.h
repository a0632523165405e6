/*
 * test.h: the test harness. Each test file defines tests with
 * PK_TEST(name) { ... }; CMake reads those names from the source and adds
 * one ctest test per name, run as `binary name [extra args]`, each in its
 * own process. `binary --list` prints the registry.
 *
 * Hosts made with test_host() use a counting allocator; after a test
 * returns, the harness fails it if any allocation is still live, so every
 * test is also a leak test. test_fail_at(n) makes the n-th allocation
 * from now on fail (the allocation sweeps use it).
 */
#ifndef PK_TESTS_TEST_H
#define PK_TESTS_TEST_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugkit.h"

typedef void (*pkt_fn)(void);
void pkt_register(const char *name, pkt_fn fn);
void pkt_fail(const char *file, int line, const char *fmt, ...);

/* Extra command-line arguments after the test name (argv[2...]). */
extern int pkt_argc;
extern char **pkt_argv;
const char *pkt_arg(int i); /* fails the test when missing */
/* Skip the test: prints "skipped: <why>" and exits 77, which ctest reports
   as Skipped (make test prints the reason). Release what the test holds
   first: the leak check does not run. */
void pkt_skip(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#define PK_TEST(name)                                                       \
  static void test_##name(void);                                            \
  __attribute__((constructor)) static void reg_##name(void) {               \
    pkt_register(#name, test_##name);                                       \
  }                                                                         \
  static void test_##name(void)

#define PKT_ASSERT(x)                                                       \
  do {                                                                      \
    if (!(x))                                                               \
      pkt_fail(__FILE__, __LINE__, "assertion failed: %s", #x);             \
  } while (0)

#define PKT_EQ_INT(a, b)                                                    \
  do {                                                                      \
    long long a_ = (long long)(a), b_ = (long long)(b);                     \
    if (a_ != b_)                                                           \
      pkt_fail(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", #a,   \
               a_, #b, b_);                                                 \
  } while (0)

/* Compare an error code, printing both names and the host message. */
#define PKT_RC(h, call, want)                                               \
  do {                                                                      \
    int rc_ = (call), w_ = (want);                                          \
    if (rc_ != w_)                                                          \
      pkt_fail(__FILE__, __LINE__, "%s returned %s, expected %s (msg: %s)", \
               #call, pk_errname(rc_), pk_errname(w_),                      \
               pk_host_errmsg(h));                                          \
  } while (0)

#define PKT_STR_EQ(a, b)                                                    \
  do {                                                                      \
    const char *a_ = (a), *b_ = (b);                                        \
    if (a_ == NULL || strcmp(a_, b_) != 0)                                  \
      pkt_fail(__FILE__, __LINE__, "%s is \"%s\", expected \"%s\"", #a,     \
               a_ ? a_ : "(null)", b_);                                     \
  } while (0)

#define PKT_STRN_EQ(p, n, b)                                                \
  do {                                                                      \
    const char *p_ = (const char *)(p), *b_ = (b);                          \
    size_t n_ = (n);                                                        \
    if (n_ != strlen(b_) || (n_ && memcmp(p_, b_, n_) != 0))                \
      pkt_fail(__FILE__, __LINE__, "%s is \"%.*s\", expected \"%s\"", #p,   \
               (int)n_, p_ ? p_ : "", b_);                                  \
  } while (0)

#define PKT_CONTAINS(hay, needle)                                           \
  do {                                                                      \
    const char *h_ = (hay), *n_ = (needle);                                 \
    if (h_ == NULL || strstr(h_, n_) == NULL)                               \
      pkt_fail(__FILE__, __LINE__, "%s = \"%s\" does not contain \"%s\"",   \
               #hay, h_ ? h_ : "(null)", n_);                               \
  } while (0)

/* Counting allocator (pass as pk_host_opts.alloc with ud NULL). */
void *pkt_alloc(void *ud, void *p, size_t n);
extern long pkt_live;     /* live allocations */
extern long pkt_count;    /* allocations made */
extern size_t pkt_bytes;  /* bytes they asked for */
void pkt_fail_at(long n); /* fail the n-th allocation from now; 0: never */
int pkt_failed_alloc(void); /* did an allocation fail since pkt_fail_at? */

/* Monotonic milliseconds (for deadline tests: how long a call ran). */
int64_t pkt_now_ms(void);

/* A host with the counting allocator; log lines go to pkt_log_buf. */
pk_host *test_host(void);
extern char pkt_log_buf[4096];

/*
 * Open `path` (opts may be NULL) on a fresh test host and expect code
 * `want`: the out pointer stays untouched and the message names the path,
 * the phase and contains `why`.
 */
void pkt_expect_open_error(const char *path, const pk_open_opts *opts,
                           int want, const char *phase, const char *why);
/* Each limit of pk_open_opts alone fails the open of `path` with
   PK_ENOSYS, the message naming it and what to use instead: for an
   in-process backend (`who`: "native") that enforces none of them. */
void pkt_expect_limits_refused(const char *path, const char *who);

/* Write `n` bytes to a new file at `path`. */
void pkt_write_file(const char *path, const void *data, size_t n);
/* Read a whole file (caller frees); *n gets the size. */
unsigned char *pkt_read_file(const char *path, size_t *n);
/* A path in a fresh per-test temp directory. */
const char *pkt_tmp(const char *name);

#endif /* PK_TESTS_TEST_H */
