/*
 * Hostile wasm plugins (../shared/findings/hostile-plugins.md): the host
 * keeps no guest pointer across a guest entry (BUG 1), every guest entry
 * runs under fuel and call_timeout_ms (BUG 5, 6, 7), WASI cannot block
 * the host on a FIFO (BUG 12), host-side printf is bounded (BUG 13), and
 * so is the host-side work of WASI fd_write.
 * Run as `test_hostile_wasm TEST DIR` (DIR holds the built .wasm files).
 * A test that would hang without its fix ends by ctest's timeout.
 */
#include "test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char path_buf[1024];

static const char *wasm(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s.wasm", pkt_arg(0), name);
  return path_buf;
}

static pk_host *host;
static pk_plugin *plug;

/* (str)->str: returns its argument. */
static int h_echo(void *ud, pk_plugin *c, const pk_val *a, pk_val *r) {
  (void)ud;
  (void)c;
  r[0] = PK_STR(a[0].str.ptr, a[0].str.len);
  return PK_OK;
}

/* (str)->str: calls the plugin's "grow" (which moves its memory), then
   returns its argument, as a host function that reads its argument after
   calling back does. */
static int h_cbecho(void *ud, pk_plugin *c, const pk_val *a, pk_val *r) {
  pk_func *f;
  pk_val out;
  int rc;
  (void)ud;
  if ((rc = pk_plugin_func(c, "grow", NULL, &f)) < 0 ||
      (rc = pk_func_call(f, NULL, 0, &out, 1)) < 0)
    return rc;
  r[0] = PK_STR(a[0].str.ptr, a[0].str.len);
  return PK_OK;
}

/* (i32)->i32: calls the plugin's "cb" with its argument (a nested call). */
static int h_callback(void *ud, pk_plugin *c, const pk_val *a, pk_val *r) {
  pk_func *f;
  int rc;
  (void)ud;
  if ((rc = pk_plugin_func(c, "cb", NULL, &f)) < 0)
    return rc;
  return pk_func_call(f, a, 1, r, 1);
}

/* (str)->(): notes the host's live blocks at its first and last call. */
static long sink_first = -1, sink_last;
static int h_sink(void *ud, pk_plugin *c, const pk_val *a, pk_val *r) {
  (void)ud, (void)c, (void)a, (void)r;
  if (sink_first < 0)
    sink_first = pkt_live;
  sink_last = pkt_live;
  return PK_OK;
}

/* (i32)->i32: calls the plugin's "spin" (which times out) and ignores
   the failure. */
static int h_swallow(void *ud, pk_plugin *c, const pk_val *a, pk_val *r) {
  pk_func *f;
  pk_val out;
  int rc;
  (void)ud;
  if ((rc = pk_plugin_func(c, "spin", NULL, &f)) < 0)
    return rc;
  (void)pk_func_call(f, a, 1, &out, 1);
  r[0] = PK_I32(0);
  return PK_OK;
}

/* ()->(): sleeps 50 ms, past a 10 ms deadline. */
static int h_nap(void *ud, pk_plugin *c, const pk_val *a, pk_val *r) {
  struct timespec t = {0, 50 * 1000000L};
  (void)ud;
  (void)c;
  (void)a;
  (void)r;
  nanosleep(&t, NULL);
  return PK_OK;
}

static int open_opts(const char *name, const char *grants, uint64_t fuel,
                     int timeout_ms, const char *fs_root) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  host = test_host();
  PKT_RC(host, pk_host_define(host, "echo", "(str)->str", h_echo, NULL),
         PK_OK);
  PKT_RC(host, pk_host_define(host, "cbecho", "(str)->str", h_cbecho, NULL),
         PK_OK);
  PKT_RC(host,
         pk_host_define(host, "callback", "(i32)->i32", h_callback, NULL),
         PK_OK);
  PKT_RC(host, pk_host_define(host, "nap", "()->()", h_nap, NULL), PK_OK);
  PKT_RC(host,
         pk_host_define(host, "swallow", "(i32)->i32", h_swallow, NULL),
         PK_OK);
  PKT_RC(host, pk_host_define(host, "sink", "(str)->()", h_sink, NULL),
         PK_OK);
  o.grants = grants;
  o.fuel = fuel;
  o.call_timeout_ms = timeout_ms;
  o.fs_root = fs_root;
  /* An optional second argument: the tier to run on ("jit"). */
  o.tier = pkt_argc > 1 ? pkt_arg(1) : NULL;
  plug = NULL;
  return pk_plugin_open(host, wasm(name), &o, &plug);
}

static void open_ok(const char *name, const char *grants, uint64_t fuel,
                    int timeout_ms) {
  PKT_RC(host, open_opts(name, grants, fuel, timeout_ms, NULL), PK_OK);
}

static int call(const char *name, const pk_val *in, size_t nin, pk_val *out) {
  pk_func *f;
  PKT_RC(host, pk_plugin_func(plug, name, NULL, &f), PK_OK);
  return pk_func_call(f, in, nin, out, pk_func_nresults(f));
}

static void done(void) {
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

#define HELLO "hello from guest memory"

/* ---- BUG 1: guest pointers across a guest entry --------------------- */

/* A host function's result aliases its argument (in guest memory);
   cabi_realloc grows memory before the result is copied in. */
PK_TEST(host_result_aliases_guest_memory) {
  pk_val out;
  open_ok("guest_ptr", "echo,cbecho", 0, 0);
  PKT_RC(host, call("go", NULL, 0, &out), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, HELLO);
  done();
}

/* What a plugin could overwrite if it reached native memory: no page
   of the host process is writable and executable once a plugin was
   opened and called, on any tier (the jit's code is sealed
   read-and-execute; libtcc's default left a heap block writable and
   executable). Linux's /proc/self/maps; skipped elsewhere. */
PK_TEST(no_page_writable_and_executable) {
  char line[512];
  pk_val out;
  int wx = 0;
  FILE *maps;
  open_ok("guest_ptr", "echo,cbecho", 0, 0);
  PKT_RC(host, call("go", NULL, 0, &out), PK_OK);
  if ((maps = fopen("/proc/self/maps", "r")) == NULL) {
    done();
    pkt_skip("no /proc/self/maps");
  }
  while (fgets(line, sizeof line, maps) != NULL) {
    const char *perm = strchr(line, ' ');
    if (perm != NULL && perm[2] == 'w' && perm[3] == 'x') {
      fprintf(stderr, "writable and executable: %s", line);
      wx++;
    }
  }
  fclose(maps);
  PKT_EQ_INT(wx, 0);
  done();
}

/* The host function calls back into the plugin, which grows its memory,
   then reads its argument. */
PK_TEST(host_arg_survives_nested_growth) {
  pk_val out;
  open_ok("guest_ptr", "echo,cbecho", 0, 0);
  PKT_RC(host, call("cbgo", NULL, 0, &out), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, HELLO);
  done();
}

/* A result passed on as the next call's argument: cabi_realloc moves the
   memory it points into while it is copied in. */
PK_TEST(chained_result_survives_realloc) {
  pk_val r, out;
  open_ok("guest_ptr", "", 0, 0);
  PKT_RC(host, call("hello", NULL, 0, &r), PK_OK);
  PKT_RC(host, call("echo", &r, 1, &out), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, HELLO);
  done();
}

/* The copies of host function arguments die with the import call: 100
   calls with 64 KiB each leave the host's live blocks where they were. */
PK_TEST(host_arg_copies_do_not_pile_up) {
  pk_val in = PK_I32(100), out;
  open_ok("arg_loop", "sink", 0, 0);
  PKT_RC(host, call("run", &in, 1, &out), PK_OK);
  PKT_EQ_INT(out.i32, 100);
  PKT_EQ_INT(sink_last, sink_first);
  done();
}

/* A log sink that calls back into the plugin (which grows its memory)
   before it reads the message. */
static char sink_msg[64];
static void grow_then_read(void *ud, int level, const char *plugin,
                           const char *msg, size_t len) {
  pk_func *f;
  pk_val out;
  (void)ud, (void)level, (void)plugin;
  if (pk_plugin_func(plug, "grow", NULL, &f) == PK_OK)
    (void)pk_func_call(f, NULL, 0, &out, 1);
  if (len >= sizeof sink_msg)
    len = sizeof sink_msg - 1;
  memcpy(sink_msg, msg, len); /* a read ASan checks */
  sink_msg[len] = '\0';
}

PK_TEST(log_message_survives_sink_callback) {
  pk_host_opts ho = PK_HOST_OPTS_INIT;
  pk_val out;
  ho.alloc = pkt_alloc;
  ho.log = grow_then_read;
  PKT_RC(NULL, pk_host_create(&ho, &host), PK_OK);
  PKT_RC(host, pk_plugin_open(host, wasm("log_grow"), NULL, &plug), PK_OK);
  PKT_RC(host, call("go", NULL, 0, &out), PK_OK);
  PKT_STR_EQ(sink_msg, HELLO);
  done();
}

/* Open fixture `name` on a host with the counting allocator (pkt_bytes)
   and log sink `log`, on the tier the test runs on. */
static void open_counted(const char *name, pk_log_fn log) {
  pk_host_opts ho = PK_HOST_OPTS_INIT;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  ho.alloc = pkt_alloc;
  ho.log = log;
  o.tier = pkt_argc > 1 ? pkt_arg(1) : NULL;
  PKT_RC(NULL, pk_host_create(&ho, &host), PK_OK);
  PKT_RC(host, pk_plugin_open(host, wasm(name), &o, &plug), PK_OK);
}

/* A sink that keeps the length of the longest message it got. */
static size_t sink_longest;
static void longest(void *ud, int level, const char *plugin, const char *msg,
                    size_t len) {
  (void)ud, (void)level, (void)plugin, (void)msg;
  if (len > sink_longest)
    sink_longest = len;
}

/* A 64 MiB log message reaches the sink as its first 64 KiB, and the
   host copies no more than that (it copied all 64 MiB to its heap and
   handed the sink all of it). */
PK_TEST(log_message_cut) {
  pk_val out;
  size_t b0;
  open_counted("log_big", longest);
  b0 = pkt_bytes;
  PKT_RC(host, call("go", NULL, 0, &out), PK_OK);
  PKT_EQ_INT(sink_longest, 65536);
  PKT_ASSERT(pkt_bytes - b0 < (size_t)1 << 20);
  done();
}

/* vformat into a 64 MiB buffer: the host allocates what the text needs,
   not the guest's cap (it allocated 64 MiB per call); a text longer
   than the first pass keeps is whole and NUL-terminated. */
PK_TEST(vformat_allocates_the_text_not_the_cap) {
  pk_val in, out;
  size_t b0;
  open_counted("vformat_cap", NULL);
  b0 = pkt_bytes;
  PKT_RC(host, call("short", NULL, 0, &out), PK_OK);
  PKT_EQ_INT(out.i32, 2);
  PKT_RC(host, call("long", NULL, 0, &out), PK_OK);
  PKT_EQ_INT(out.i32, 1000);
  PKT_ASSERT(pkt_bytes - b0 < (size_t)1 << 20);
  in = PK_I32(999);
  PKT_RC(host, call("at", &in, 1, &out), PK_OK);
  PKT_EQ_INT(out.i32, 'x');
  in = PK_I32(1000);
  PKT_RC(host, call("at", &in, 1, &out), PK_OK);
  PKT_EQ_INT(out.i32, 0);
  done();
}

/* ---- BUG 5, 6, 7: every guest entry under the limits ---------------- */

PK_TEST(start_loop_out_of_fuel) {
  PKT_RC(host, open_opts("start_loop", NULL, 1000, 0, NULL), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "out of fuel");
  PKT_ASSERT(plug == NULL);
  pk_host_destroy(host);
}

PK_TEST(start_loop_times_out) {
  PKT_RC(host, open_opts("start_loop", NULL, 0, 20, NULL), PK_ETIMEOUT);
  PKT_ASSERT(plug == NULL);
  pk_host_destroy(host);
}

/* After a trap the guest's plugkit_unwind runs, under limits too. */
PK_TEST(unwind_loop_fuel) {
  open_ok("unwind_loop", NULL, 1000, 0);
  PKT_RC(host, call("boom", NULL, 0, NULL), PK_ETRAP);
  done();
}

PK_TEST(unwind_loop_timeout) {
  open_ok("unwind_loop", NULL, 0, 20);
  PKT_RC(host, call("boom", NULL, 0, NULL), PK_ETRAP);
  done();
}

/* cabi_post_get (looping) runs before the next call: that call fails. */
PK_TEST(post_return_loop_timeout) {
  pk_val out;
  open_ok("post_loop", NULL, 0, 20);
  PKT_RC(host, call("get", NULL, 0, &out), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "hi");
  PKT_RC(host, call("get", NULL, 0, &out), PK_ETIMEOUT);
  done();
}

PK_TEST(post_return_loop_fuel) {
  pk_val out;
  open_ok("post_loop", NULL, 1000, 0);
  PKT_RC(host, call("get", NULL, 0, &out), PK_OK);
  PKT_RC(host, call("get", NULL, 0, &out), PK_ELIMIT);
  done();
}

/* The pending post-return (looping) runs at close, before plugkit_fini:
   close returns. */
PK_TEST(post_return_loop_at_close) {
  pk_val out;
  open_ok("post_loop_close", NULL, 0, 20);
  PKT_RC(host, call("get", NULL, 0, &out), PK_OK);
  done();
}

/* cabi_realloc copying a str argument in loops. */
PK_TEST(realloc_loop_timeout) {
  pk_val in = PK_STR("abc", 3), out;
  open_ok("realloc_loop", NULL, 0, 20);
  PKT_RC(host, call("put", &in, 1, &out), PK_ETIMEOUT);
  done();
}

PK_TEST(realloc_loop_fuel) {
  pk_val in = PK_STR("abc", 3), out;
  open_ok("realloc_loop", NULL, 1000, 0);
  PKT_RC(host, call("put", &in, 1, &out), PK_ELIMIT);
  done();
}

/* A nested call keeps the outer call's deadline armed... */
PK_TEST(nested_call_keeps_deadline) {
  pk_val in = PK_I32(0), out;
  open_ok("nested_limits", "callback", 0, 20);
  PKT_RC(host, call("spin_once", &in, 1, &out), PK_ETIMEOUT);
  done();
}

/* ...and runs on the outer call's remaining fuel. */
PK_TEST(nested_call_keeps_fuel) {
  pk_val in = PK_I32(0), out;
  open_ok("nested_limits", "callback", 10000, 0);
  PKT_RC(host, call("spin_each", &in, 1, &out), PK_ELIMIT);
  done();
}

/* The deadline passes in a nested call whose failure the host function
   ignores: the outer call still times out. */
PK_TEST(nested_timeout_reaches_outer_call) {
  pk_val in = PK_I32(0), out;
  open_ok("nested_swallow", "swallow", 0, 20);
  PKT_RC(host, call("swallow_then_spin", &in, 1, &out), PK_ETIMEOUT);
  done();
}

/* The watchdog fires while a host function sleeps; the guest returns
   without a call or loop to notice. The next call starts clean. */
PK_TEST(late_interrupt_cleared) {
  pk_val in = PK_I32(7), out;
  open_ok("late_interrupt", "nap", 0, 10);
  PKT_RC(host, call("nap_once", &in, 1, &out), PK_OK);
  PKT_EQ_INT(out.i32, 7);
  in = PK_I32(5);
  PKT_RC(host, call("quick", &in, 1, &out), PK_OK);
  PKT_EQ_INT(out.i32, 5);
  done();
}

/* ---- BUG 12: a FIFO beneath fs_root --------------------------------- */

static char fifo_root[1024];

/* In the test's own folder, which the harness removes. */
static void make_fifo_root(void) {
  snprintf(fifo_root, sizeof fifo_root, "%s", pkt_tmp("root"));
  PKT_ASSERT(mkdir(fifo_root, 0700) == 0);
  PKT_ASSERT(mkfifo(pkt_tmp("root/fifo"), 0600) == 0);
}

/* path_open refuses it (EACCES = 2) instead of waiting for a writer. */
PK_TEST(wasi_open_fifo_refused) {
  pk_val in = PK_STR("fifo", 4), out;
  make_fifo_root();
  PKT_RC(host, open_opts("wasi_fifo", NULL, 100000, 500, fifo_root), PK_OK);
  PKT_RC(host, call("open", &in, 1, &out), PK_OK);
  PKT_EQ_INT(out.i32, -2);
  done();
}

/* path_filestat_get does not open it: EACCES too. */
PK_TEST(wasi_stat_fifo_refused) {
  pk_val in = PK_STR("fifo", 4), out;
  make_fifo_root();
  PKT_RC(host, open_opts("wasi_fifo", NULL, 100000, 500, fifo_root), PK_OK);
  PKT_RC(host, call("stat", &in, 1, &out), PK_OK);
  PKT_EQ_INT(out.i64, -2);
  done();
}

/* ---- BUG 13: host-side printf --------------------------------------- */

/* 100 x %s of one 4 MiB string: 400 MiB to scan in one import call. */
PK_TEST(vformat_reads_bounded) {
  pk_val in = PK_I32(100), out;
  open_ok("vformat_slow", NULL, 100000, 0);
  PKT_RC(host, call("run", &in, 1, &out), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "vformat: reads more than");
  done();
}

/* ---- WASI fd_write: host work per call ------------------------------ */

/* 1,024 iovecs naming one 16 MiB line: the host took them all (16 GiB
   of log messages) and scanned the rest of each iovec for a newline at
   every 1 KiB message (quadratic), all in one import call that the
   deadline cannot interrupt. Now one fd_write takes at most 1 MiB: a
   short write, which libc's write loop continues (a guest loop, under
   fuel and deadline). */
PK_TEST(wasi_write_bounded) {
  pk_val in[2] = {PK_I32(1024), PK_I32(16 * 1024 * 1024 - 65536)}, out;
  int64_t t0;
  open_ok("wasi_write", NULL, 100000, 100);
  t0 = pkt_now_ms();
  PKT_RC(host, call("write", in, 2, &out), PK_OK);
  PKT_EQ_INT(out.i64, 1 << 20);
  PKT_ASSERT(pkt_now_ms() - t0 < 5000);
  done();
}

/* A write within the bound is taken whole. */
PK_TEST(wasi_write_long_line) {
  pk_val in[2] = {PK_I32(1), PK_I32(512 * 1024)}, out;
  open_ok("wasi_write", NULL, 100000, 100);
  PKT_RC(host, call("write", in, 2, &out), PK_OK);
  PKT_EQ_INT(out.i64, 512 * 1024);
  done();
}

/* ---- plugkit.fail: the message's length ----------------------------- */

/* The process's user CPU time in ms. */
static long user_ms(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (long)ru.ru_utime.tv_sec * 1000 + (long)ru.ru_utime.tv_usec / 1000;
}

/* A 2 GiB message with no NUL up to the end of guest memory: its length
   became a negative precision, so vsnprintf read on past the memory to
   the next NUL of whatever follows it (or faulted where nothing is
   mapped; libc's own read, which no sanitizer sees), and it walked all
   of it: about 8 s of CPU, which is what this test can see. The message
   is kept to what the message buffer holds, and nothing further is
   read. */
PK_TEST(fail_message_2gib) {
  pk_val out;
  long t0;
  open_ok("fail_long", NULL, 0, 0);
  t0 = user_ms();
  PKT_RC(host, call("go", NULL, 0, &out), PK_EPLUGIN);
  PKT_ASSERT(user_ms() - t0 < 3000); /* the fill itself: well under 1 s */
  PKT_CONTAINS(pk_host_errmsg(host), "call 'go': aaaaaaaa");
  done();
}

/* ---- WASI random_get: the deadline ---------------------------------- */

/* 256 MiB of random bytes take the kernel a second or more, in one
   import call: the call returned OK long past its 100 ms. The fill now
   stops at the deadline (PK_ETIMEOUT); a small one is unchanged. */
PK_TEST(wasi_random_get_deadline) {
  pk_val in = PK_I32(4096), out;
  open_ok("random_big", NULL, 0, 100);
  PKT_RC(host, call("fill", &in, 1, &out), PK_OK);
  PKT_EQ_INT(out.i32, 0);
  in = PK_I32(256 * 1024 * 1024);
  PKT_RC(host, call("fill", &in, 1, &out), PK_ETIMEOUT);
  PKT_CONTAINS(pk_host_errmsg(host), "random_get");
  done();
}

/* ---- WASI paths: their length --------------------------------------- */

/* "./" 8 Mi times: the host walked it one openat per component, 8 Mi
   system calls in one import call that the deadline cannot interrupt
   (seconds; longer paths, minutes), and then opened the root. A path
   longer than PATH_MAX names nothing on the host: ENAMETOOLONG (37),
   for path_open and path_filestat_get; a short one still works. */
PK_TEST(wasi_path_too_long) {
  pk_val in = PK_I32(16 * 1024 * 1024), out;
  PKT_ASSERT(mkdir(pkt_tmp("root"), 0700) == 0);
  PKT_RC(host, open_opts("path_long", NULL, 100000, 100, pkt_tmp("root")),
         PK_OK);
  PKT_RC(host, call("open", &in, 1, &out), PK_OK);
  PKT_EQ_INT(out.i32, -37);
  PKT_RC(host, call("stat", &in, 1, &out), PK_OK);
  PKT_EQ_INT(out.i32, -37);
  in = PK_I32(1024);
  PKT_RC(host, call("stat", &in, 1, &out), PK_OK);
  PKT_EQ_INT(out.i32, 0);
  PKT_RC(host, call("open", &in, 1, &out), PK_OK);
  PKT_EQ_INT(out.i32, 4);
  done();
}
