/*
 * printf for wasm guests, done by the host (src/wasm/wfmt.c): the
 * fixture format.wasm formats the cases of format_cases.h through the
 * SDK; this side formats the same cases with its own snprintf, the
 * oracle. Bad formats and arguments fail the call with a message, never
 * the host. Run as `test_wasm_format TEST DIR` (DIR holds the .wasm files).
 */
#include "test.h"

#include <stdarg.h>

#include "../fixtures/wasm/format_cases.h"

static char path_buf[1024];

static const char *wasm(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s.wasm", pkt_arg(0), name);
  return path_buf;
}

/* ---- the oracle: the same cases, formatted here ------------------------ */

static char want[8192];
static size_t want_n;

static void oracle(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void oracle(const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(want, sizeof want, fmt, ap);
  va_end(ap);
  PKT_ASSERT(n >= 0 && (size_t)n < sizeof want);
  want_n = (size_t)n;
}

#define CASE(...)                                                           \
  if (i == n++) {                                                           \
    oracle(__VA_ARGS__);                                                    \
    return;                                                                 \
  }
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wformat" /* FORMAT_CASES_NARROW */
#endif

static void host_case(int32_t i) {
  int32_t n = 0;
  FORMAT_CASES(CASE)
  FORMAT_CASES_NARROW(CASE)
  pkt_fail(__FILE__, __LINE__, "no case %d", (int)i);
}

/* ---- a host whose log sink keeps the last line exactly ------------------ */

static pk_host *host;
static pk_plugin *plug;
static char log_msg[1024];
static size_t log_len;
static int log_level, log_count;

static void sink(void *ud, int level, const char *plugin, const char *msg,
                 size_t len) {
  (void)ud;
  (void)plugin;
  log_level = level;
  log_count++;
  log_len = len < sizeof log_msg ? len : sizeof log_msg;
  memcpy(log_msg, msg, log_len);
}

static void open_format(void) {
  pk_host_opts o = PK_HOST_OPTS_INIT;
  o.alloc = pkt_alloc;
  o.log = sink;
  PKT_RC(NULL, pk_host_create(&o, &host), PK_OK);
  PKT_RC(host, pk_plugin_open(host, wasm("format"), NULL, &plug), PK_OK);
}

static void done(void) {
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

static int call(const char *name, const pk_val *in, size_t nin, pk_val *out) {
  pk_func *f;
  PKT_RC(host, pk_plugin_func(plug, name, NULL, &f), PK_OK);
  return pk_func_call(f, in, nin, out, pk_func_nresults(f));
}

static int32_t ncases(void) {
  pk_val out;
  PKT_RC(host, call("ncases", NULL, 0, &out), PK_OK);
  PKT_ASSERT(out.i32 > 20);
  return out.i32;
}

/* Is `got` (n bytes) the oracle's text cut to `max` bytes? */
static void expect_text(int32_t i, const char *got, size_t n, size_t max) {
  size_t w = want_n < max ? want_n : max;
  if (n != w || memcmp(got, want, w) != 0)
    pkt_fail(__FILE__, __LINE__,
             "case %d: got %zu bytes \"%.*s\", expected %zu bytes \"%.*s\"",
             (int)i, n, (int)n, got, w, (int)w, want);
}

/* The message after "call 'fail_case': " is the oracle's text, cut to
   511 bytes and, as the message is a C string, at a NUL. */
static void expect_message(int32_t i) {
  const char *m = strstr(pk_host_errmsg(host), "call 'fail_case': ");
  size_t w = want_n < 511 ? want_n : 511;
  const char *nul = memchr(want, 0, w);
  if (nul != NULL)
    w = (size_t)(nul - want);
  PKT_ASSERT(m != NULL);
  m += strlen("call 'fail_case': ");
  if (strlen(m) != w || memcmp(m, want, w) != 0)
    pkt_fail(__FILE__, __LINE__, "case %d: message \"%s\", expected \"%.*s\"",
             (int)i, m, (int)w, want);
}

/* After a refused format the plugin still answers. */
static void still_usable(void) {
  pk_val in = PK_I32(1), out;
  PKT_RC(host, call("printf_case", &in, 1, &out), PK_OK);
  host_case(1);
  expect_text(1, out.str.ptr, out.str.len, (size_t)-1);
}

/* ---- formatting as the host does it ------------------------------------ */

PK_TEST(str_printf_matches_host) {
  int32_t i, n;
  open_format();
  n = ncases();
  for (i = 0; i < n; i++) {
    pk_val in = PK_I32(i), out;
    PKT_RC(host, call("printf_case", &in, 1, &out), PK_OK);
    host_case(i);
    expect_text(i, out.str.ptr, out.str.len, (size_t)-1);
  }
  done();
}

PK_TEST(fail_matches_host) {
  int32_t i, n;
  open_format();
  n = ncases();
  for (i = 0; i < n; i++) {
    pk_val in = PK_I32(i), out;
    PKT_RC(host, call("fail_case", &in, 1, &out), PK_EPLUGIN);
    host_case(i);
    expect_message(i);
  }
  done();
}

PK_TEST(log_matches_host) {
  int32_t i, n;
  open_format();
  n = ncases();
  for (i = 0; i < n; i++) {
    pk_val in = PK_I32(i), out;
    log_count = 0;
    PKT_RC(host, call("log_case", &in, 1, &out), PK_OK);
    PKT_EQ_INT(log_count, 1);
    PKT_EQ_INT(log_level, PK_LOG_WARN);
    host_case(i);
    expect_text(i, log_msg, log_len, 511);
  }
  done();
}

/* pk_fail and pk_log keep 511 bytes, as natively; pk_str_printf all. */
PK_TEST(log_truncates_at_511_bytes) {
  int32_t i, n, seen = 0;
  open_format();
  n = ncases();
  for (i = 0; i < n; i++) {
    pk_val in = PK_I32(i), out;
    host_case(i);
    if (want_n <= 511)
      continue;
    seen++;
    PKT_RC(host, call("log_case", &in, 1, &out), PK_OK);
    PKT_EQ_INT(log_len, 511);
    PKT_RC(host, call("printf_case", &in, 1, &out), PK_OK);
    PKT_EQ_INT(out.str.len, want_n);
  }
  PKT_ASSERT(seen > 0);
  done();
}

/* With a precision, %s reads that many bytes and needs no NUL. */
PK_TEST(string_precision_reads_no_further) {
  pk_val out;
  open_format();
  PKT_RC(host, call("precise_tail", NULL, 0, &out), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "[xxxx]");
  done();
}

/* Modules built before vfail and vlog use fail and log: still there. */
PK_TEST(old_fail_and_log_imports) {
  pk_val out;
  open_format();
  log_count = 0;
  PKT_RC(host, call("old_imports", NULL, 0, &out), PK_EPLUGIN);
  PKT_EQ_INT(log_count, 1);
  PKT_STRN_EQ(log_msg, log_len, "old log");
  PKT_CONTAINS(pk_host_errmsg(host), "call 'old_imports': old fail");
  done();
}

/* vformat copies a long text through host memory: out of it, ENOMEM. */
PK_TEST(str_printf_allocation_sweep) {
  int32_t i, n, big = -1;
  long k;
  int rc;
  open_format();
  n = ncases();
  for (i = 0; i < n && big < 0; i++) {
    host_case(i);
    if (want_n > 256)
      big = i;
  }
  PKT_ASSERT(big >= 0);
  for (k = 1;; k++) {
    pk_val in = PK_I32(big), out;
    pkt_fail_at(k);
    rc = call("printf_case", &in, 1, &out);
    pkt_fail_at(0);
    if (rc == PK_OK) {
      host_case(big);
      expect_text(big, out.str.ptr, out.str.len, (size_t)-1);
      break;
    }
    PKT_RC(host, rc, PK_ENOMEM);
    PKT_ASSERT(k < 100);
  }
  done();
}

/* ---- what the host refuses: PK_ETRAP (or PK_ELIMIT) and why ------------ */

enum { VIA_FAIL, VIA_LOG, VIA_PRINTF };

/* `why` and, unless NULL, `why2` are in the message. */
static void expect_bad2(int32_t which, int32_t via, int code, const char *why,
                        const char *why2) {
  pk_val in[2], out;
  open_format();
  in[0] = PK_I32(which);
  in[1] = PK_I32(via);
  log_count = 0;
  PKT_RC(host, call("bad", in, 2, &out), code);
  PKT_CONTAINS(pk_host_errmsg(host), "call 'bad': ");
  PKT_CONTAINS(pk_host_errmsg(host), why);
  if (why2 != NULL)
    PKT_CONTAINS(pk_host_errmsg(host), why2);
  PKT_EQ_INT(log_count, 0);
  still_usable();
  done();
}

static void expect_bad(int32_t which, int32_t via, int code, const char *why) {
  expect_bad2(which, via, code, why, NULL);
}

PK_TEST(bad_format_pointer) {
  expect_bad(0, VIA_FAIL, PK_ETRAP,
             "vfail: the format at 0xfffffff0 is outside guest memory");
}

PK_TEST(bad_string_pointer) {
  expect_bad(1, VIA_FAIL, PK_ETRAP,
             "vfail: the string of %s (conversion 1) at 0xfffffff0 is "
             "outside guest memory");
}

PK_TEST(bad_string_pointer_in_log) {
  expect_bad(1, VIA_LOG, PK_ETRAP,
             "vlog: the string of %s (conversion 1) at 0xfffffff0 is "
             "outside guest memory");
}

PK_TEST(bad_string_pointer_in_str_printf) {
  expect_bad(1, VIA_PRINTF, PK_ETRAP,
             "vformat: the string of %s (conversion 1) at 0xfffffff0 is "
             "outside guest memory");
}

PK_TEST(unterminated_string) {
  expect_bad2(2, VIA_FAIL, PK_ETRAP,
              "vfail: the string of %s (conversion 1) at 0x",
              "fffc has no NUL before the end of guest memory");
}

PK_TEST(percent_n_refused) {
  expect_bad(3, VIA_FAIL, PK_ETRAP,
             "vfail: %n (conversion 1) is not supported: it writes through "
             "a pointer");
}

PK_TEST(long_double_refused) {
  expect_bad(4, VIA_FAIL, PK_ETRAP,
             "vfail: %L (long double, conversion 1) is not supported");
}

PK_TEST(truncated_conversion) {
  expect_bad(5, VIA_FAIL, PK_ETRAP,
             "vfail: the format ends inside conversion 1");
}

PK_TEST(bad_va_list) {
  expect_bad(6, VIA_FAIL, PK_ETRAP,
             "vfail: the arguments (va_list) of conversion 1 are outside "
             "guest memory");
}

PK_TEST(bad_va_list_in_str_printf) {
  expect_bad(6, VIA_PRINTF, PK_ETRAP,
             "vformat: the arguments (va_list) of conversion 1 are outside "
             "guest memory");
}

/* Padding costs the host time and the guest nothing: it is bounded. */
PK_TEST(padding_limit) {
  expect_bad(7, VIA_PRINTF, PK_ELIMIT,
             "vformat: widths and precisions add up to more than 1048576 "
             "characters (conversion 1)");
}

PK_TEST(positional_arguments_refused) {
  expect_bad(8, VIA_FAIL, PK_ETRAP,
             "vfail: positional arguments (%1$d, conversion 1) are not "
             "supported");
}

PK_TEST(wide_string_refused) {
  expect_bad(9, VIA_LOG, PK_ETRAP,
             "vlog: %ls (wide characters, conversion 1) is not supported");
}

PK_TEST(unknown_conversion) {
  expect_bad(10, VIA_FAIL, PK_ETRAP,
             "vfail: conversion 1 ('y') is not supported");
}

/* ---- the point: an SDK module links no printf --------------------------- */

static uint32_t leb(const unsigned char *d, size_t n, size_t *at) {
  uint32_t v = 0;
  int shift = 0;
  while (*at < n && shift < 35) {
    unsigned char b = d[(*at)++];
    v |= (uint32_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return v;
    shift += 7;
  }
  pkt_fail(__FILE__, __LINE__, "bad LEB128 in a module");
  return 0;
}

/* The size of a module's code section (id 10). */
static size_t code_size(const char *path) {
  size_t n, at = 8, size = 0;
  unsigned char *d = pkt_read_file(path, &n);
  PKT_ASSERT(n > 8 && memcmp(d, "\0asm", 4) == 0);
  while (at < n) {
    unsigned char id = d[at++];
    uint32_t len = leb(d, n, &at);
    if (id == 10)
      size = len;
    at += len;
  }
  free(d);
  PKT_ASSERT(size > 0);
  return size;
}

/*
 * The conformance fixture formats with pk_fail, pk_log and pk_str_printf.
 * Its code is compared with the same fixture plus one snprintf call
 * (conformance_printf.wasm): wasi-libc's printf adds about 12 KB of code
 * (printf_core alone is 8.6 KB with clang 14). Had the SDK linked printf,
 * the two would differ by a few hundred bytes. A relative bound holds
 * whatever the fixture's own size and the compiler version; half of
 * printf's size leaves room for both to drift.
 */
PK_TEST(no_printf_in_sdk_module) {
  size_t sdk, with_printf;
  sdk = code_size(wasm("conformance"));
  with_printf = code_size(wasm("conformance_printf"));
  if (with_printf < sdk + 6000)
    pkt_fail(__FILE__, __LINE__,
             "conformance.wasm has %zu bytes of code, with snprintf %zu: "
             "printf is linked into SDK modules",
             sdk, with_printf);
}
