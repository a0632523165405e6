/*
 * Hostile Lua scripts (../shared/findings/hostile-plugins.md): the
 * loader's reads of the plugin table (BUG 2), the loader's work on many
 * exports (BUG 10), library work beyond the instruction count and the
 * deadline (BUG 14), nested calls and the outer call's limits (BUG 18);
 * then the later review's: script code run where the limits cannot reach
 * it (message handlers, ...), work in proportion to a long string.
 * Run as `test_hostile_lua TEST FIXTURES_DIR`.
 */
#include "test.h"

static char path_buf[1024];
static pk_host *host;
static pk_plugin *plug;

static const char *fx(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s", pkt_arg(0), name);
  return path_buf;
}

/* host.callback(x): calls the plugin's export cb(x). */
static int callback(void *ud, pk_plugin *caller, const pk_val *args,
                    pk_val *results) {
  pk_func *f;
  int rc;
  (void)ud;
  if ((rc = pk_plugin_func(caller, "cb", NULL, &f)) < 0)
    return rc;
  return pk_func_call(f, args, 1, results, 1);
}

static int open_with(const char *file, const pk_open_opts *o) {
  host = test_host();
  PKT_RC(host, pk_host_define(host, "callback", "(i32)->i32", callback, NULL),
         PK_OK);
  plug = NULL;
  return pk_plugin_open(host, fx(file), o, &plug);
}

static void done(void) {
  pk_plugin_close(plug);
  pk_host_destroy(host);
}

static pk_func *fn(const char *name) {
  pk_func *f = NULL;
  PKT_RC(host, pk_plugin_func(plug, name, NULL, &f), PK_OK);
  return f;
}

static const char *const small_budget[] = {"lua.instructions", "100000",
                                           NULL};

/* Open hangs.lua with a budget of 100000 instructions. */
static void open_hangs(void) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.config = small_budget;
  PKT_RC(host, open_with("hangs.lua", &o), PK_OK);
}

/* Each of these calls must stop at the budget, and the plugin must work
   afterwards. */
static void expect_budget(const char *name, const pk_val *in, size_t nin) {
  pk_val out, sum_in[2] = {PK_I32(2), PK_I32(3)};
  PKT_RC(host, pk_func_call(fn(name), in, nin, &out, 1), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "instruction budget of 100000 exceeded");
  PKT_RC(host, pk_func_call(fn("sum"), sum_in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 5);
}

/* ---- BUG 2: the loader reads raw ----------------------------------------- */

PK_TEST(names_uaf) {
  PKT_RC(host, open_with("names_uaf.lua", NULL), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(host), "has a bad signature '(null)'");
  pk_host_destroy(host);
}

PK_TEST(plugin_table_metamethods_not_run) {
  PKT_RC(host, open_with("meta_table.lua", NULL), PK_EFORMAT);
  PKT_CONTAINS(pk_host_errmsg(host), "needs string fields 'name'");
  pk_host_destroy(host);
}

/* No finalizer at all: Lua runs __gc with the debug hooks off, where
   the budget and the deadline cannot stop it. The script whose
   finalizers cleared the exports while the host read them (ASan saw the
   names freed under the host) is refused at its setmetatable. */
PK_TEST(finalizers_refused) {
  PKT_RC(host, open_with("gc_during_read.lua", NULL), PK_EINIT);
  PKT_CONTAINS(pk_host_errmsg(host), "a metatable with __gc is not allowed");
  pk_host_destroy(host);
}

/* A finalizer that loops forever: refused, not run (this hung the host,
   open and close, under fuel and a deadline). */
PK_TEST(finalizer_loop_refused) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.fuel = 200000;
  o.call_timeout_ms = 1000;
  PKT_RC(host, open_with("gc_loop.lua", &o), PK_EINIT);
  PKT_CONTAINS(pk_host_errmsg(host), "gc_loop.lua:5: setmetatable: a "
               "metatable with __gc is not allowed");
  pk_host_destroy(host);
}

/* __gc added after setmetatable marks nothing; collections in the open
   and in calls, and the close, run no finalizer. */
PK_TEST(finalizer_added_late_never_runs) {
  pk_val r;
  PKT_RC(host, open_with("gc_late.lua", NULL), PK_OK);
  PKT_RC(host, pk_func_call(fn("churn"), NULL, 0, &r, 1), PK_OK);
  PKT_EQ_INT(r.i32, 1);
  done();
}

/* debug.setmetatable too, where the host opens debug. */
PK_TEST(finalizer_debug_refused) {
  static const char *const config[] = {"lua.libs", "debug", NULL};
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  o.config = config;
  PKT_RC(host, open_with("gc_debug.lua", &o), PK_EINIT);
  PKT_CONTAINS(pk_host_errmsg(host), "a metatable with __gc is not allowed");
  pk_host_destroy(host);
}

/* ---- BUG 10: the loader's work is charged ------------------------------- */

PK_TEST(many_exports_charged) {
  static const char *const config[] = {"lua.instructions", "100000", "n",
                                       "2000", NULL};
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  o.config = config;
  /* The script's own loop is about 12000 instructions; the host's work
     on 2000 exports is more than the rest of the budget. */
  PKT_RC(host, open_with("many_exports.lua", &o), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "reading the plugin table");
  pk_host_destroy(host);
  /* Under the default budget the same plugin opens. */
  PKT_RC(host, open_with("many_exports.lua", NULL), PK_OK);
  PKT_RC(host, pk_plugin_info_get(plug, &info), PK_OK);
  PKT_EQ_INT(info.nexports, 2000);
  done();
}

/* ---- BUG 14: library work counts against the budget --------------------- */

/* No copies to make: the result at once (the stock function makes 2^62
   empty copies). */
PK_TEST(rep_empty_string) {
  pk_val in = PK_I64((int64_t)1 << 62), out;
  open_hangs();
  PKT_RC(host, pk_func_call(fn("rep"), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 0);
  PKT_RC(host, pk_func_call(fn("rep_sep"), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 0);
  done();
}

/* Short copies: each one is charged. */
PK_TEST(rep_counted) {
  pk_val in = PK_I64(1000000);
  open_hangs();
  expect_budget("rep_x", &in, 1);
  done();
}

PK_TEST(pattern_backtracking) {
  pk_val in[2] = {PK_I32(22), PK_I32(6)};
  open_hangs();
  expect_budget("pat", in, 2);
  expect_budget("pat_match", in, 2);
  expect_budget("pat_gsub", in, 2);
  expect_budget("pat_gmatch", in, 2);
  done();
}

PK_TEST(plain_find_quadratic) {
  pk_val in = PK_I32(20000);
  open_hangs();
  expect_budget("plain", &in, 1);
  done();
}

PK_TEST(table_move_range) {
  pk_val in = PK_I64(100000000);
  open_hangs();
  expect_budget("move", &in, 1);
  done();
}

PK_TEST(table_len_metamethod) {
  open_hangs();
  expect_budget("insert", NULL, 0);
  expect_budget("remove", NULL, 0);
  expect_budget("concat", NULL, 0);
  expect_budget("unpack", NULL, 0);
  done();
}

/* A full collection is work in proportion to the heap. */
PK_TEST(collectgarbage_charged) {
  open_hangs();
  expect_budget("collect", NULL, 0);
  done();
}

/* A deadline from call_timeout_ms, for VM code and for library work. */
PK_TEST(deadline) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val out, in[2] = {PK_I32(26), PK_I32(9)}, sum_in[2] = {PK_I32(1),
                                                            PK_I32(2)};
  o.call_timeout_ms = 50;
  o.fuel = (uint64_t)1 << 60;
  PKT_RC(host, open_with("hangs.lua", &o), PK_OK);
  PKT_RC(host, pk_func_call(fn("loop"), NULL, 0, &out, 1), PK_ETIMEOUT);
  PKT_CONTAINS(pk_host_errmsg(host), "deadline of 50 ms exceeded");
  PKT_CONTAINS(pk_host_errmsg(host), "call_timeout_ms");
  PKT_RC(host, pk_func_call(fn("pat"), in, 2, &out, 1), PK_ETIMEOUT);
  PKT_RC(host, pk_func_call(fn("sum"), sum_in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 3);
  done();
}

/* fuel and max_memory are honoured; with the config keys the smaller
   limit wins, and the message names the option that set it. */
PK_TEST(fuel_option) {
  static const char *const big[] = {"lua.instructions", "1000000", NULL};
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val out;
  o.fuel = 100000;
  PKT_RC(host, open_with("hangs.lua", &o), PK_OK);
  PKT_RC(host, pk_func_call(fn("loop"), NULL, 0, &out, 1), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host),
               "instruction budget of 100000 exceeded (set by fuel)");
  done();
  o.config = big;
  PKT_RC(host, open_with("hangs.lua", &o), PK_OK);
  PKT_RC(host, pk_func_call(fn("loop"), NULL, 0, &out, 1), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "budget of 100000 exceeded (set by fuel)");
  done();
  o.config = small_budget;
  o.fuel = 1000000;
  PKT_RC(host, open_with("hangs.lua", &o), PK_OK);
  PKT_RC(host, pk_func_call(fn("loop"), NULL, 0, &out, 1), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host),
               "budget of 100000 exceeded (set by config lua.instructions)");
  done();
}

PK_TEST(max_memory_option) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val in = PK_I64(1 << 30), out;
  o.max_memory = 4000000;
  PKT_RC(host, open_with("hangs.lua", &o), PK_OK);
  /* ("x"):rep(2^30) needs more than the cap */
  PKT_RC(host, pk_func_call(fn("rep_x"), &in, 1, &out, 1), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host),
               "memory limit of 4000000 bytes exceeded (set by max_memory)");
  done();
}

/* ---- BUG 18: nested calls run on the outer call's limits ---------------- */

PK_TEST(nested_call_keeps_budget) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val in = PK_I32(1000), out;
  o.config = small_budget;
  o.grants = "callback";
  PKT_RC(host, open_with("nested.lua", &o), PK_OK);
  /* 1000 rounds of 3000 instructions: 30 times the budget */
  PKT_RC(host, pk_func_call(fn("spin"), &in, 1, &out, 1), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "instruction budget of 100000 exceeded");
  in = PK_I32(3); /* within the budget, the nesting works */
  PKT_RC(host, pk_func_call(fn("spin"), &in, 1, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 3);
  done();
}

PK_TEST(nested_call_keeps_deadline) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val in = PK_I32(2000000000), out;
  o.call_timeout_ms = 50;
  o.fuel = (uint64_t)1 << 60;
  o.grants = "callback";
  PKT_RC(host, open_with("nested.lua", &o), PK_OK);
  PKT_RC(host, pk_func_call(fn("spin"), &in, 1, &out, 1), PK_ETIMEOUT);
  done();
}

/* reset_after_call: a host function the new state's init calls that
   calls the plugin back is refused, as in the state the open made (it
   ran in the half-made state, whose init then left n at 101: every call
   after the first started from another state than the open's). */
PK_TEST(reset_init_calls_back) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val out;
  char why[512];
  int i;
  o.grants = "callback";
  o.reset_after_call = 1;
  PKT_RC(host, open_with("reset_init_callback.lua", &o), PK_OK);
  for (i = 0; i < 3; i++) {
    PKT_RC(host, pk_func_call(fn("get"), NULL, 0, &out, 1), PK_OK);
    PKT_EQ_INT(out.i32, 1);
    PKT_RC(host, pk_func_call(fn("why"), NULL, 0, &out, 1), PK_OK);
    snprintf(why, sizeof why, "%.*s", (int)out.str.len, out.str.ptr);
    PKT_CONTAINS(why, "host function 'callback' failed: plugin "
                      "initialisation failed (EINIT)");
  }
  done();
}

/* host.count(): 1, 2, 3... */
static int count_calls;
static int count(void *ud, pk_plugin *caller, const pk_val *args,
                 pk_val *results) {
  (void)ud, (void)caller, (void)args;
  results[0] = PK_I32(++count_calls);
  return PK_OK;
}

/* host.nope(): fails. */
static int nope(void *ud, pk_plugin *caller, const pk_val *args,
                pk_val *results) {
  (void)ud, (void)args, (void)results;
  pk_plugin_fail(caller, "nope");
  return PK_EHOST;
}

/* reset_after_call after a failing call: the message is the call's, as
   the code is (the reset's fini and init set others: "host function
   'nope' failed", then "init: state three refuses", with PK_EPLUGIN). */
PK_TEST(reset_keeps_call_message) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val out;
  int i;
  host = test_host();
  PKT_RC(host, pk_host_define(host, "count", "()->i32", count, NULL), PK_OK);
  PKT_RC(host, pk_host_define(host, "nope", "()->()", nope, NULL), PK_OK);
  o.grants = "count,nope";
  o.reset_after_call = 1;
  plug = NULL;
  PKT_RC(host, pk_plugin_open(host, fx("reset_call_message.lua"), &o, &plug),
         PK_OK);
  for (i = 0; i < 3; i++) { /* the second reset fails: state 3 */
    PKT_RC(host, pk_func_call(fn("boom"), NULL, 0, &out, 1), PK_EPLUGIN);
    PKT_CONTAINS(pk_host_errmsg(host), "reset_call_message.lua: call "
                                       "'boom': boom from the call");
  }
  PKT_EQ_INT(count_calls, 5); /* states 1, 2, 3 (failed), 4 and 5 */
  done();
}

/* call_timeout_ms bounds the whole call, its reset too: a fini and an
   init that loop (reset_slow.lua) took a deadline each (2 x 300 ms);
   the reset now runs out with the call (PK_ETIMEOUT, naming the step it
   stopped), and the state is dropped. The bound lies between one
   deadline and the bug's two. */
PK_TEST(reset_within_call_timeout) {
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val out;
  int64_t t0;
  host = test_host();
  PKT_RC(host, pk_host_define(host, "count", "()->i32", count, NULL), PK_OK);
  o.grants = "count";
  o.reset_after_call = 1;
  o.call_timeout_ms = 300;
  o.fuel = (uint64_t)1 << 60;
  plug = NULL;
  PKT_RC(host, pk_plugin_open(host, fx("reset_slow.lua"), &o, &plug), PK_OK);
  t0 = pkt_now_ms();
  PKT_RC(host, pk_func_call(fn("fast"), NULL, 0, &out, 1), PK_ETIMEOUT);
  PKT_ASSERT(pkt_now_ms() - t0 < 500);
  PKT_CONTAINS(pk_host_errmsg(host), "deadline of 300 ms exceeded");
  done();
}

/* ---- script code where the count hook cannot reach it ------------------- */

/* The budget error is raised inside the count hook, where Lua runs the
   xpcall's message handler with hooks off: a handler that counted to 10^7
   ran all of it, one that loops hung the host under fuel and a deadline.
   After a limit the handler does not run; a plain error still goes
   through it. */
PK_TEST(xpcall_handler_after_limit) {
  pk_open_opts o = PK_OPEN_OPTS_INIT, timed = PK_OPEN_OPTS_INIT;
  pk_val in = PK_I64(10000000), out;
  o.config = small_budget;
  PKT_RC(host, open_with("handlers.lua", &o), PK_OK);
  PKT_RC(host, pk_func_call(fn("spin_handled"), &in, 1, &out, 1), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "instruction budget of 100000 exceeded");
  PKT_RC(host, pk_func_call(fn("handler_steps"), NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i64, 0);
  PKT_RC(host, pk_func_call(fn("handled"), NULL, 0, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "false handled plain");
  done();
  /* A handler that loops for ever, under a deadline. */
  timed.call_timeout_ms = 50;
  timed.fuel = (uint64_t)1 << 60;
  in = PK_I64(-1);
  PKT_RC(host, open_with("handlers.lua", &timed), PK_OK);
  PKT_RC(host, pk_func_call(fn("spin_handled"), &in, 1, &out, 1), PK_ETIMEOUT);
  PKT_CONTAINS(pk_host_errmsg(host), "deadline of 50 ms exceeded");
  done();
}

/* table.sort compares in C: a comparator in C or `<` on strings ran no
   instruction, so a sort ran its n log n comparisons unmetered (a __len
   of 2^31 - 2 held the host for hours under fuel and a deadline). Each
   comparison is charged, `<` on strings a step per 64 bytes more. */
PK_TEST(table_sort_charged) {
  pk_val out;
  open_hangs();
  expect_budget("sort_len", NULL, 0);
  expect_budget("sort_long", NULL, 0);
  PKT_RC(host, pk_func_call(fn("sorted"), NULL, 0, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "1,2,3,4,5 c,b,a");
  done();
}

/* collectgarbage's tuning ran collections in no instruction's count: a
   small pause and a step as big as the heap made every allocation a full
   collection, and a change of mode is one (each of these took seconds to
   use up a budget of 100000, minutes on a bigger heap). The collector's
   parameters stay Lua's defaults, and a change of mode is charged as a
   collection. */
PK_TEST(collectgarbage_tuning) {
  pk_val big_step = PK_I32(1), pause = PK_I32(2);
  int64_t t0;
  open_hangs();
  t0 = pkt_now_ms();
  expect_budget("gc_tuning", &big_step, 1);
  PKT_ASSERT(pkt_now_ms() - t0 < 1000);
  t0 = pkt_now_ms();
  expect_budget("gc_tuning", &pause, 1);
  PKT_ASSERT(pkt_now_ms() - t0 < 1000);
  t0 = pkt_now_ms();
  expect_budget("gc_modes", NULL, 0);
  PKT_ASSERT(pkt_now_ms() - t0 < 1000);
  done();
}

/* Where the host opens debug, debug.sethook replaced the count hook: no
   budget and no deadline any more (a loop ran 10^7 iterations past a
   budget of 100000; one for ever held the host under a deadline). It is
   refused. */
PK_TEST(debug_sethook_refused) {
  static const char *const config[] = {"lua.libs", "debug",
                                       "lua.instructions", "100000", NULL};
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val in = PK_I64(10000000), out;
  o.config = config;
  o.call_timeout_ms = 1000;
  PKT_RC(host, open_with("debug_hook.lua", &o), PK_OK);
  PKT_RC(host, pk_func_call(fn("unhook"), &in, 1, &out, 1), PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(host), "instruction budget of 100000 exceeded");
  PKT_RC(host, pk_func_call(fn("why"), NULL, 0, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len,
              "debug.sethook is not allowed (the plugin's instruction "
              "budget and deadline run on the count hook)");
  done();
}

/* Where the host opens load (or dofile, loadfile), bytecode from
   string.dump loaded and ran: Lua does not check bytecode, and a chunk
   with a bad operand crashed the host (SIGSEGV). They load text only,
   whatever mode the script asks for. */
PK_TEST(load_text_only) {
  static const char *const config[] = {"lua.libs", "load,dofile", NULL};
  static const char *const binary[] = {"load", "load_b", "load_reader"};
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val in, out;
  const char *luac = pkt_tmp("load_binary.luac");
  size_t i;
  o.config = config;
  PKT_RC(host, open_with("load_binary.lua", &o), PK_OK);
  for (i = 0; i < sizeof binary / sizeof binary[0]; i++) {
    PKT_RC(host, pk_func_call(fn(binary[i]), NULL, 0, &out, 1), PK_OK);
    PKT_STRN_EQ(out.str.ptr, out.str.len,
                "attempt to load a binary chunk (mode is 't')");
  }
  PKT_RC(host, pk_func_call(fn("load_text"), NULL, 0, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "ran text");
  /* A file that holds bytecode (the header is enough to be refused). */
  pkt_write_file(luac, "\033Lua", 4);
  in.type = PK_T_STR;
  in.str.ptr = luac;
  in.str.len = strlen(luac);
  PKT_RC(host, pk_func_call(fn("loadfile_b"), &in, 1, &out, 1), PK_OK);
  PKT_CONTAINS(out.str.ptr, "attempt to load a binary chunk (mode is 't')");
  PKT_RC(host, pk_func_call(fn("dofile"), &in, 1, &out, 1), PK_OK);
  PKT_CONTAINS(out.str.ptr, "attempt to load a binary chunk (mode is 't')");
  done();
}

/* ---- work in proportion to the data ------------------------------------- */

/* One instruction on two equal 16 MB strings (`<`, `==`, rawequal, `..`,
   string.sub) is a few milliseconds, and the hook read the clock every
   10,000 instructions: a loop of them ran seconds past a deadline of 100
   ms (minutes for upper, lower, reverse, utf8.len and %q). The
   period shrinks as the heap grows, and the per-byte library functions
   read the clock as they charge. */
PK_TEST(long_strings_deadline) {
  static const char *const ops[] = {"lt",     "eq",    "rawequal", "concat",
                                    "sub",    "upper", "lower",    "reverse",
                                    "format", "utf8_len"};
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val in = PK_I32(1 << 24), out, sum_in[2] = {PK_I32(1), PK_I32(2)};
  size_t i;
  o.call_timeout_ms = 100;
  o.fuel = (uint64_t)1 << 60;
  o.max_memory = (uint64_t)1 << 28; /* the last call's strings linger */
  PKT_RC(host, open_with("long_ops.lua", &o), PK_OK);
  for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    int64_t t0 = pkt_now_ms(), ms;
    PKT_RC(host, pk_func_call(fn(ops[i]), &in, 1, &out, 1), PK_ETIMEOUT);
    PKT_CONTAINS(pk_host_errmsg(host), "deadline of 100 ms exceeded");
    ms = pkt_now_ms() - t0;
    if (ms >= 1500)
      pkt_fail(__FILE__, __LINE__, "%s: %lld ms for a deadline of 100 ms",
               ops[i], (long long)ms);
  }
  PKT_RC(host, pk_func_call(fn("sum"), sum_in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 3);
  done();
}

/* The library functions that loop over every byte in C (1.5-5 ns each)
   ran as one instruction each: a budget of 100000 instructions let
   a loop of utf8.len on a 256 KB string run for 20 s, and one of
   string.byte(s, 1, -1) for minutes. A step per byte read or value
   pushed; the functions still answer as the stock ones. */
PK_TEST(long_strings_budget) {
  static const char *const ops[] = {"utf8_len", "upper",  "lower",
                                    "reverse",  "format", "byte",
                                    "codepoint", "offset", "tonumber"};
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_val in, out;
  size_t i;
  o.config = small_budget;
  PKT_RC(host, open_with("long_ops.lua", &o), PK_OK);
  for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
    int64_t t0 = pkt_now_ms();
    in = PK_I32(1 << 18);
    expect_budget(ops[i], &in, 1);
    if (pkt_now_ms() - t0 >= 1000)
      pkt_fail(__FILE__, __LINE__, "%s: %lld ms for a budget of 100000",
               ops[i], (long long)(pkt_now_ms() - t0));
  }
  PKT_RC(host, pk_func_call(fn("metered"), NULL, 0, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len,
              "5 3 2 AB ab cba 7-x bad argument #1 to 'string.upper' "
              "(string expected, got no value) 98 99 233 4 6 nil 16 35");
  done();
}

/* ---- the script's text in the host's message ---------------------------- */

/* error("a\nb") made a two-line pk_host_errmsg: the script wrote lines of
   its own (or terminal sequences) into the host's log. Control characters
   are escapes (src/core/errors.c, for every backend). */
PK_TEST(error_message_one_line) {
  char want[1200];
  pk_val in, out;
  PKT_RC(host, open_with("lines.lua", NULL), PK_OK);
  in.type = PK_T_STR;
  in.str.ptr = "a\nERROR forged\r\t\033[2J\177";
  in.str.len = strlen(in.str.ptr);
  PKT_RC(host, pk_func_call(fn("err"), &in, 1, &out, 1), PK_EPLUGIN);
  snprintf(want, sizeof want,
           "%s: call 'err': a\\nERROR forged\\r\\t\\x1b[2J\\x7f",
           fx("lines.lua"));
  PKT_STR_EQ(pk_host_errmsg(host), want);
  done();
}
