/*
 * threads/lua.c: the lua backend's instance pool (src/lua/lua.c): many
 * threads calling one plugin, each call in a state of its own; open and
 * close racing with calls; host functions called from many states at
 * once; max_instances; waiting for a state under call_timeout_ms; state
 * per instance; reset_after_call; a new state that disagrees with the
 * first. The scripts are written by the tests into their temp folder.
 *
 * The hosts use the counting allocator behind a mutex (it is not
 * thread-safe itself), so the leak check covers these tests too.
 */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

/* Calls per thread in the 8-thread test: fewer under the sanitizers,
   which slow each call down tenfold or more. */
#if defined(PK_TEST_SANITIZED) || defined(__SANITIZE_ADDRESS__) ||         \
    defined(__SANITIZE_THREAD__)
#define CALLS 10000
#else
#define CALLS 100000
#endif
#define THREADS 8

static pthread_mutex_t alloc_mu = PTHREAD_MUTEX_INITIALIZER;

static void *locked_alloc(void *ud, void *p, size_t n) {
  void *r;
  pthread_mutex_lock(&alloc_mu);
  r = pkt_alloc(ud, p, n);
  pthread_mutex_unlock(&alloc_mu);
  return r;
}

/* What the host functions count: states made (init runs), states gone
   (fini runs), host calls. */
static atomic_int born, died, host_calls;
/* Per state (by the number born gave it): 1 while a call runs in it. */
static atomic_int in_state[64];
static atomic_int overlap; /* a state ran two calls at once */
static atomic_int nap_release;
static atomic_int napping;

static int h_born(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  (void)args;
  results[0].i32 = atomic_fetch_add(&born, 1) + 1;
  return PK_OK;
}

static int h_died(void *ud, pk_plugin *caller, const pk_val *args,
                  pk_val *results) {
  (void)ud;
  (void)caller;
  (void)args;
  (void)results;
  atomic_fetch_add(&died, 1);
  return PK_OK;
}

static int h_twice(void *ud, pk_plugin *caller, const pk_val *args,
                   pk_val *results) {
  (void)ud;
  (void)caller;
  atomic_fetch_add(&host_calls, 1);
  results[0].i32 = (int32_t)((uint32_t)args[0].i32 * 2u);
  return PK_OK;
}

/* enter(id) / leave(id): the state numbered id starts / ends a call. */
static int h_enter(void *ud, pk_plugin *caller, const pk_val *args,
                   pk_val *results) {
  int id = args[0].i32 & 63;
  (void)ud;
  (void)caller;
  (void)results;
  if (atomic_exchange(&in_state[id], 1) != 0)
    atomic_store(&overlap, 1);
  return PK_OK;
}

static int h_leave(void *ud, pk_plugin *caller, const pk_val *args,
                   pk_val *results) {
  (void)ud;
  (void)caller;
  (void)results;
  atomic_store(&in_state[args[0].i32 & 63], 0);
  return PK_OK;
}

static void sleep_ms(int ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

/* nap(): holds its state until the test releases it (at most 20 s, so a
   broken test cannot hang). */
static int h_nap(void *ud, pk_plugin *caller, const pk_val *args,
                 pk_val *results) {
  int i;
  (void)ud;
  (void)caller;
  (void)args;
  (void)results;
  atomic_store(&napping, 1);
  for (i = 0; i < 20000 && !atomic_load(&nap_release); i++)
    sleep_ms(1);
  return PK_OK;
}

static pk_host *start_host; /* the host the workers started next use */

static pk_host *pool_host(void) {
  pk_host_opts o = PK_HOST_OPTS_INIT;
  pk_host *h = NULL;
  int i;
  o.alloc = locked_alloc;
  if (pk_host_create(&o, &h) != PK_OK)
    pkt_fail(__FILE__, __LINE__, "pk_host_create failed");
  PKT_RC(h, pk_host_define(h, "born", "()->i32", h_born, NULL), PK_OK);
  PKT_RC(h, pk_host_define(h, "died", "()->()", h_died, NULL), PK_OK);
  PKT_RC(h, pk_host_define(h, "twice", "(i32)->i32", h_twice, NULL), PK_OK);
  PKT_RC(h, pk_host_define(h, "enter", "(i32)->()", h_enter, NULL), PK_OK);
  PKT_RC(h, pk_host_define(h, "leave", "(i32)->()", h_leave, NULL), PK_OK);
  PKT_RC(h, pk_host_define(h, "nap", "()->()", h_nap, NULL), PK_OK);
  start_host = h;
  atomic_store(&born, 0);
  atomic_store(&died, 0);
  atomic_store(&host_calls, 0);
  atomic_store(&overlap, 0);
  atomic_store(&nap_release, 0);
  atomic_store(&napping, 0);
  for (i = 0; i < 64; i++)
    atomic_store(&in_state[i], 0);
  return h;
}

/* The pool fixture: each state numbers itself in init (host.born) and
   keeps a counter of its own. */
static const char pool_lua[] =
    "local id = 0\n"
    "local n = 0\n"
    "local held = {}\n"
    "return {\n"
    "  name = 'pool', version = '1.0.0',\n"
    "  exports = {\n"
    "    sum = {sig = '(i32,i32)->i32', fn = function(a, b) return a + b "
    "end},\n"
    "    bump = {sig = '()->i32', fn = function() n = n + 1; return n end},\n"
    "    id = {sig = '()->i32', fn = function() return id end},\n"
    "    twice = {sig = '(i32)->i32', fn = function(x) return host.twice(x) "
    "end},\n"
    "    busy = {sig = '(i32)->i32', fn = function(x)\n"
    "      host.enter(id)\n"
    "      local s = 0\n"
    "      for i = 1, 50 do s = s + i end\n"
    "      host.leave(id)\n"
    "      return x + s end},\n"
    "    nap = {sig = '()->()', fn = function() host.nap() end},\n"
    "    spin = {sig = '()->()', fn = function() while true do end end},\n"
    "    echo = {sig = '(str)->str', fn = function(s) return s end},\n"
    "    hold = {sig = '(i32)->i32', fn = function(k)\n"
    "      held[#held + 1] = string.rep('x', k)\n"
    "      return #held end},\n"
    "    greet = {sig = '(str)->str', fn = function(s)\n"
    "      n = n + 1; return s .. ':' .. n end},\n"
    "  },\n"
    "  init = function() id = host.born() end,\n"
    "  fini = function() host.died() end,\n"
    "}\n";

static const char *write_script(const char *name, const char *text) {
  const char *path = pkt_tmp(name);
  pkt_write_file(path, text, strlen(text));
  return path;
}

static pk_plugin *open_pool(pk_host *h, pk_open_opts *o) {
  pk_open_opts d = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  if (o == NULL)
    o = &d;
  o->grants = "*";
  PKT_RC(h, pk_plugin_open(h, write_script("pool.lua", pool_lua), o, &p),
         PK_OK);
  return p;
}

static pk_func *func(pk_host *h, pk_plugin *p, const char *name) {
  pk_func *f = NULL;
  PKT_RC(h, pk_plugin_func(p, name, NULL, &f), PK_OK);
  return f;
}

static int32_t call_i32(pk_func *f, int32_t a) {
  pk_val in = PK_I32(a), out = PK_I32(0);
  int rc = pk_func_call(f, &in, pk_func_nparams(f), &out, 1);
  if (rc != PK_OK)
    pkt_fail(__FILE__, __LINE__, "%s: %s", pk_func_name(f), pk_errname(rc));
  return out.i32;
}

static int32_t call0(pk_func *f) {
  pk_val out = PK_I32(0);
  int rc = pk_func_call(f, NULL, 0, &out, 1);
  if (rc != PK_OK)
    pkt_fail(__FILE__, __LINE__, "%s: %s", pk_func_name(f), pk_errname(rc));
  return out.i32;
}

typedef struct worker {
  pthread_t t;
  pk_func *f;
  int index;
  long calls;  /* to make */
  long bad;    /* results that were wrong, or codes that were not allowed */
  long closed; /* PK_ECLOSED seen (close races) */
  long ok;
  int first_rc;
  pk_host *host;
  char msg[320]; /* the thread's pk_host_errmsg after a one-call worker */
} worker;

static void start(worker *w, int n, void *(*fn)(void *), pk_func *f,
                  long calls) {
  int i;
  for (i = 0; i < n; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].host = start_host;
    w[i].f = f;
    w[i].index = i;
    w[i].calls = calls;
    if (pthread_create(&w[i].t, NULL, fn, &w[i]) != 0)
      pkt_fail(__FILE__, __LINE__, "pthread_create failed");
  }
}

static void join(worker *w, int n) {
  int i;
  for (i = 0; i < n; i++)
    pthread_join(w[i].t, NULL);
}

/* sum(index * 1000003, i) for i in 0..calls: every result checked. */
static void *sum_worker(void *arg) {
  worker *w = arg;
  pk_val in[2], out;
  long i;
  for (i = 0; i < w->calls; i++) {
    int32_t a = w->index * 1000003, b = (int32_t)i;
    in[0] = (pk_val)PK_I32(a);
    in[1] = (pk_val)PK_I32(b);
    out.i32 = 0;
    if (pk_func_call(w->f, in, 2, &out, 1) != PK_OK || out.i32 != a + b)
      w->bad++;
  }
  return NULL;
}

PK_TEST(sum_from_8_threads) {
  pk_host *h = pool_host();
  pk_plugin *p = open_pool(h, NULL);
  worker w[THREADS];
  int i;
  start(w, THREADS, sum_worker, func(h, p, "sum"), CALLS);
  join(w, THREADS);
  for (i = 0; i < THREADS; i++)
    PKT_EQ_INT(w[i].bad, 0);
  pk_host_destroy(h);
  /* Every state made ran init and, at the close, fini. */
  PKT_ASSERT(atomic_load(&born) >= 1);
  PKT_EQ_INT(atomic_load(&died), atomic_load(&born));
}

/* Calls until the plugin is closed: PK_OK with the right sum, or
   PK_ECLOSED (then no more calls), nothing else. */
static void *race_worker(void *arg) {
  worker *w = arg;
  pk_val in[2], out;
  long i;
  for (i = 0;; i++) {
    int32_t b = (int32_t)(i & 0xffff);
    int rc;
    in[0] = (pk_val)PK_I32(w->index);
    in[1] = (pk_val)PK_I32(b);
    out.i32 = -1;
    rc = pk_func_call(w->f, in, 2, &out, 1);
    if (rc == PK_ECLOSED) {
      w->closed++;
      break;
    }
    if (rc != PK_OK || out.i32 != w->index + b) {
      if (w->first_rc == 0)
        w->first_rc = rc ? rc : -1000;
      w->bad++;
      break;
    }
    w->ok++;
  }
  return NULL;
}

/* Opens, calls and closes other plugins of the same host meanwhile. */
static atomic_int churn_stop;
static atomic_int churn_fail;
static pk_host *churn_host;
static const char *churn_path;

static void *churn_worker(void *arg) {
  (void)arg;
  while (!atomic_load(&churn_stop)) {
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    pk_plugin *q = NULL;
    pk_func *f = NULL;
    pk_val in[2] = {PK_I32(20), PK_I32(22)}, out;
    o.grants = "*";
    if (pk_plugin_open(churn_host, churn_path, &o, &q) != PK_OK ||
        pk_plugin_func(q, "sum", NULL, &f) != PK_OK ||
        pk_func_call(f, in, 2, &out, 1) != PK_OK || out.i32 != 42)
      atomic_store(&churn_fail, 1);
    pk_plugin_close(q);
  }
  return NULL;
}

PK_TEST(close_races_calls) {
  pk_host *h = pool_host();
  int round, i;
  churn_host = h;
  churn_path = write_script("pool.lua", pool_lua);
  atomic_store(&churn_stop, 0);
  atomic_store(&churn_fail, 0);
  for (round = 0; round < 20; round++) {
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    pk_plugin *p;
    worker w[4];
    pthread_t churn;
    o.max_instances = round % 2 ? 2 : 4; /* with and without waiting */
    p = open_pool(h, &o);
    start(w, 4, race_worker, func(h, p, "sum"), 0);
    if (pthread_create(&churn, NULL, churn_worker, NULL) != 0)
      pkt_fail(__FILE__, __LINE__, "pthread_create failed");
    sleep_ms(1 + round % 5);
    pk_plugin_close(p);
    join(w, 4);
    atomic_store(&churn_stop, 1);
    pthread_join(churn, NULL);
    atomic_store(&churn_stop, 0);
    for (i = 0; i < 4; i++) {
      if (w[i].bad != 0)
        pkt_fail(__FILE__, __LINE__, "round %d thread %d: %s", round, i,
                 w[i].first_rc == -1000 ? "wrong result"
                                        : pk_errname(w[i].first_rc));
      PKT_EQ_INT(w[i].closed, 1);
    }
    pk_host_reclaim(h);
  }
  PKT_EQ_INT(atomic_load(&churn_fail), 0);
  pk_host_destroy(h);
  PKT_EQ_INT(atomic_load(&died), atomic_load(&born));
}

/* twice(x) calls host.twice from the script: results and host calls
   counted. The threads all live until each made its first call (else a
   thread may end before the next starts, and that one take over its
   number, lane and state). */
static pthread_barrier_t all_in;

static void *twice_worker(void *arg) {
  worker *w = arg;
  long i;
  for (i = 0; i < w->calls; i++) {
    if (i == 1)
      pthread_barrier_wait(&all_in);
    pk_val in = PK_I32((int32_t)(i + w->index)), out = PK_I32(0);
    if (pk_func_call(w->f, &in, 1, &out, 1) != PK_OK ||
        out.i32 != (int32_t)(2 * (i + w->index)))
      w->bad++;
  }
  return NULL;
}

PK_TEST(host_functions_from_many_states) {
  pk_host *h = pool_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  worker w[THREADS];
  int i;
  o.max_instances = THREADS;
  p = open_pool(h, &o);
  pthread_barrier_init(&all_in, NULL, THREADS);
  start(w, THREADS, twice_worker, func(h, p, "twice"), CALLS / 10);
  join(w, THREADS);
  pthread_barrier_destroy(&all_in);
  for (i = 0; i < THREADS; i++)
    PKT_EQ_INT(w[i].bad, 0);
  PKT_EQ_INT(atomic_load(&host_calls), (long)THREADS * (CALLS / 10));
  /* One state per thread: open's, and one made for each other thread
     (a thread keeps its state; none is taken back below the cap). */
  PKT_EQ_INT(atomic_load(&born), THREADS);
  pk_plugin_close(p);
  PKT_EQ_INT(atomic_load(&died), THREADS);
  pk_host_destroy(h);
}

static void *busy_worker(void *arg) {
  worker *w = arg;
  long i;
  for (i = 0; i < w->calls; i++) {
    if (i == 1)
      pthread_barrier_wait(&all_in);
    pk_val in = PK_I32((int32_t)i), out = PK_I32(0);
    if (pk_func_call(w->f, &in, 1, &out, 1) != PK_OK ||
        out.i32 != (int32_t)i + 1275)
      w->bad++;
  }
  return NULL;
}

PK_TEST(max_instances_respected) {
  pk_host *h = pool_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  worker w[THREADS];
  int i;
  o.max_instances = 2;
  p = open_pool(h, &o);
  pthread_barrier_init(&all_in, NULL, THREADS);
  start(w, THREADS, busy_worker, func(h, p, "busy"), CALLS / 20);
  join(w, THREADS);
  pthread_barrier_destroy(&all_in);
  for (i = 0; i < THREADS; i++)
    PKT_EQ_INT(w[i].bad, 0);
  /* Two states, never more (8 threads live at once: the second to call
     made one), and never two calls in one at once. */
  PKT_EQ_INT(atomic_load(&born), 2);
  PKT_EQ_INT(atomic_load(&overlap), 0);
  pk_host_destroy(h);
  PKT_EQ_INT(atomic_load(&died), 2);
}

static void *nap_worker(void *arg) {
  worker *w = arg;
  w->first_rc = pk_func_call(w->f, NULL, 0, NULL, 0);
  return NULL;
}

PK_TEST(wait_for_a_state_times_out) {
  pk_host *h = pool_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
  worker w;
  o.max_instances = 1;
  o.call_timeout_ms = 50;
  p = open_pool(h, &o);
  /* Another thread holds the only state, napping in a host function. */
  start(&w, 1, nap_worker, func(h, p, "nap"), 0);
  while (!atomic_load(&napping))
    sleep_ms(1);
  PKT_RC(h, pk_func_call(func(h, p, "sum"), in, 2, &out, 1), PK_ETIMEOUT);
  PKT_CONTAINS(pk_host_errmsg(h), "pool.lua: call: all 1 instances stayed "
                                  "busy for call_timeout_ms (50 ms)");
  atomic_store(&nap_release, 1);
  join(&w, 1);
  /* The napper's call outlived its deadline, in a host function: the
     script's next hook tick would stop it, but it returns first. */
  PKT_ASSERT(w.first_rc == PK_OK || w.first_rc == PK_ETIMEOUT);
  /* Free again: the call runs. */
  PKT_RC(h, pk_func_call(func(h, p, "sum"), in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 3);
  PKT_EQ_INT(atomic_load(&born), 1);
  pk_host_destroy(h);
}

/* One call of a ()->i32 export: its code, result and message. */
static void *call_once(void *arg) {
  worker *w = arg;
  pk_val out = PK_I32(0);
  w->first_rc = pk_func_call(w->f, NULL, 0, &out, 1);
  w->ok = out.i32;
  if (w->host != NULL)
    snprintf(w->msg, sizeof w->msg, "%s", pk_host_errmsg(w->host));
  return NULL;
}

PK_TEST(state_is_per_instance) {
  pk_host *h = pool_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *bump, *id;
  worker w;
  o.max_instances = 2;
  p = open_pool(h, &o);
  bump = func(h, p, "bump");
  id = func(h, p, "id");
  PKT_EQ_INT(call0(bump), 1);
  PKT_EQ_INT(call0(bump), 2);
  PKT_EQ_INT(call0(bump), 3);
  PKT_EQ_INT(call0(id), 1);
  /* Another thread gets a state of its own: its globals start afresh. */
  start(&w, 1, call_once, bump, 0);
  join(&w, 1);
  PKT_EQ_INT(w.first_rc, PK_OK);
  PKT_EQ_INT(w.ok, 1);
  start(&w, 1, call_once, id, 0);
  join(&w, 1);
  PKT_EQ_INT(w.ok, 2);
  /* This thread kept its state. */
  PKT_EQ_INT(call0(bump), 4);
  pk_host_destroy(h);
  PKT_EQ_INT(atomic_load(&died), 2);
}

/* hold(800000) `calls` times: the last count, or the failing code. */
static void *hold_worker(void *arg) {
  worker *w = arg;
  long i;
  for (i = 0; i < w->calls; i++) {
    pk_val in = PK_I32(800000), out = PK_I32(0);
    if ((w->first_rc = pk_func_call(w->f, &in, 1, &out, 1)) != PK_OK)
      break;
    w->ok = out.i32;
  }
  return NULL;
}

/* max_memory bounds each state: two states hold more than it together,
   one cannot. (A hold briefly needs twice its size: string.rep builds the
   string in a buffer, then copies it.) */
PK_TEST(max_memory_is_per_instance) {
  pk_host *h = pool_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *hold;
  pk_val in = PK_I32(800000), out;
  worker w;
  int i, rc = PK_OK;
  o.max_instances = 2;
  o.max_memory = 4u << 20;
  p = open_pool(h, &o);
  hold = func(h, p, "hold");
  for (i = 1; i <= 3; i++)
    PKT_EQ_INT(call_i32(hold, 800000), i);
  /* A second state (another thread's) holds as much again: 4.8 MB in
     all, over the 4 MiB cap. */
  start(&w, 1, hold_worker, hold, 3);
  join(&w, 1);
  PKT_EQ_INT(w.first_rc, PK_OK);
  PKT_EQ_INT(w.ok, 3);
  /* The first state reaches its own cap within two more. */
  for (i = 0; i < 2 && rc == PK_OK; i++)
    rc = pk_func_call(hold, &in, 1, &out, 1);
  PKT_RC(h, rc, PK_ELIMIT);
  PKT_CONTAINS(pk_host_errmsg(h), "memory limit of 4194304 bytes exceeded "
                                  "(set by max_memory)");
  pk_host_destroy(h);
}

/* reset_after_call: every call starts from the state init left. */
static void *reset_worker(void *arg) {
  worker *w = arg;
  long i;
  for (i = 0; i < w->calls; i++) {
    pk_val out = PK_I32(0);
    if (pk_func_call(w->f, NULL, 0, &out, 1) != PK_OK || out.i32 != 1)
      w->bad++;
  }
  return NULL;
}

PK_TEST(reset_after_call_restores_state) {
  pk_host *h = pool_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *bump, *greet;
  pk_val in = PK_STR("a", 1), out;
  worker w[4];
  int i;
  o.reset_after_call = 1;
  o.max_instances = 2;
  p = open_pool(h, &o);
  bump = func(h, p, "bump");
  greet = func(h, p, "greet");
  for (i = 0; i < 10; i++)
    PKT_EQ_INT(call0(bump), 1); /* without the reset: 1, 2, 3, ... */
  /* A string result outlives the state it came from. */
  PKT_RC(h, pk_func_call(greet, &in, 1, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "a:1");
  /* Each reset made a state (init ran) and let the old one go (fini):
     open's state, then one per call. */
  PKT_EQ_INT(atomic_load(&born), 12);
  PKT_EQ_INT(atomic_load(&died), 11);
  start(w, 4, reset_worker, bump, 200);
  join(w, 4);
  for (i = 0; i < 4; i++)
    PKT_EQ_INT(w[i].bad, 0);
  pk_host_destroy(h);
  PKT_EQ_INT(atomic_load(&died), atomic_load(&born));
}

/* A state whose init fails: the call that needed it fails with the init's
   message; the plugin and its other states carry on. */
static const char init_fails_lua[] =
    "local id = 0\n"
    "return {\n"
    "  name = 'flaky', version = '1.0.0',\n"
    "  exports = {\n"
    "    id = {sig = '()->i32', fn = function() return id end},\n"
    "  },\n"
    "  init = function()\n"
    "    id = host.born()\n"
    "    if id == 2 then error('state two refuses', 0) end\n"
    "  end,\n"
    "}\n";

PK_TEST(new_state_init_failure) {
  pk_host *h = pool_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  pk_func *id;
  worker w;
  o.grants = "*";
  o.max_instances = 4;
  PKT_RC(h, pk_plugin_open(h, write_script("flaky.lua", init_fails_lua), &o,
                           &p),
         PK_OK);
  id = func(h, p, "id");
  PKT_EQ_INT(call0(id), 1);
  start(&w, 1, call_once, id, 0);
  join(&w, 1);
  PKT_EQ_INT(w.first_rc, PK_EINIT);
  PKT_CONTAINS(w.msg, "flaky.lua: init: state two refuses");
  /* Its message is that thread's: this one's is untouched. */
  PKT_STR_EQ(pk_host_errmsg(h), "");
  /* Another thread: a third state, fine. */
  start(&w, 1, call_once, id, 0);
  join(&w, 1);
  PKT_EQ_INT(w.first_rc, PK_OK);
  PKT_EQ_INT(w.ok, 3);
  PKT_EQ_INT(call0(id), 1);
  pk_host_destroy(h);
}

/* reset_after_call, when the fresh state fails: the call that just ran
   fails with its error, the state is dropped, the next call makes
   another. */
static const char reset_fails_lua[] =
    "local id, n = 0, 0\n"
    "return {\n"
    "  name = 'resetfail', version = '1.0.0',\n"
    "  exports = {\n"
    "    bump = {sig = '()->i32', fn = function() n = n + 1; return id * "
    "10 + n end},\n"
    "  },\n"
    "  init = function()\n"
    "    id = host.born()\n"
    "    if id == 3 then error('state three refuses', 0) end\n"
    "  end,\n"
    "  fini = function() host.died() end,\n"
    "}\n";

PK_TEST(reset_after_call_failure_drops_the_state) {
  pk_host *h = pool_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  pk_func *bump;
  pk_val out;
  o.grants = "*";
  o.reset_after_call = 1;
  PKT_RC(h, pk_plugin_open(h, write_script("resetfail.lua", reset_fails_lua),
                           &o, &p),
         PK_OK);
  bump = func(h, p, "bump");
  PKT_EQ_INT(call0(bump), 11); /* state 1; then state 2 replaces it */
  /* State 2 ran the call; state 3, its replacement, fails its init. */
  PKT_RC(h, pk_func_call(bump, NULL, 0, &out, 1), PK_EINIT);
  PKT_CONTAINS(pk_host_errmsg(h), "resetfail.lua: init: state three "
                                  "refuses");
  PKT_EQ_INT(call0(bump), 41); /* a new state, number 4 */
  PKT_EQ_INT(atomic_load(&born), 5);
  /* fini ran in states 1 and 2 (replaced) and 4; 3 never finished init. */
  PKT_EQ_INT(atomic_load(&died), 3);
  pk_host_destroy(h);
  PKT_EQ_INT(atomic_load(&died), 4); /* and in 5, at the close */
}

/* A script whose table depends on something outside it (here a host
   call) must not give a later state other exports than the first's: the
   host holds the first state's pk_func. */
static const char shifty_lua[] =
    "local n = host.born()\n"
    "local ex = {one = {sig = '()->i32', fn = function() return n end}}\n"
    "if n == 2 then ex.two = {sig = '()->i32', fn = function() return 2 "
    "end} end\n"
    "if n == 3 then ex.one.sig = '()->i64' end\n"
    "if n == 4 then ex.one = nil; ex.eno = {sig = '()->i32', fn = "
    "function() return 4 end} end\n"
    "return {name = 'shifty', version = '1.0.0', exports = ex}\n";

PK_TEST(new_state_with_other_exports_refused) {
  pk_host *h = pool_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  pk_func *one;
  worker w;
  static const char *const why[] = {
      "the script returned 2 exports in this state, 1 in the first",
      "the script returned export 'one' (()->i64) in this state where the "
      "first had 'one' ()->i32",
      "the script returned export 'eno' (()->i32) in this state where the "
      "first had 'one' ()->i32"};
  int i;
  o.grants = "*";
  o.max_instances = 8;
  PKT_RC(h, pk_plugin_open(h, write_script("shifty.lua", shifty_lua), &o,
                           &p),
         PK_OK);
  one = func(h, p, "one");
  PKT_EQ_INT(call0(one), 1);
  for (i = 0; i < 3; i++) {
    start(&w, 1, call_once, one, 0);
    join(&w, 1);
    PKT_EQ_INT(w.first_rc, PK_EINIT);
    PKT_CONTAINS(w.msg, "shifty.lua: init: ");
    PKT_CONTAINS(w.msg, why[i]);
    PKT_CONTAINS(w.msg, "a script must return the same exports in every "
                        "state");
  }
  /* State 5 agrees again. */
  start(&w, 1, call_once, one, 0);
  join(&w, 1);
  PKT_EQ_INT(w.first_rc, PK_OK);
  PKT_EQ_INT(w.ok, 5);
  pk_host_destroy(h);
}

/* ---- a host function that init calls calls the plugin back --------------- */

static atomic_int reenter_on, reenter_rc;
static char reenter_msg[512];

/* reenter(): calls the plugin's own sum (when asked to), as a host
   function may; from init, the state it would run in is not ready. */
static int h_reenter(void *ud, pk_plugin *caller, const pk_val *args,
                     pk_val *results) {
  (void)args;
  (void)results;
  if (atomic_load(&reenter_on)) {
    pk_func *f = NULL;
    pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
    int rc = pk_plugin_func(caller, "sum", "(i32,i32)->i32", &f);
    if (rc == PK_OK)
      rc = pk_func_call(f, in, 2, &out, 1);
    snprintf(reenter_msg, sizeof reenter_msg, "%s",
             pk_host_errmsg((pk_host *)ud));
    atomic_store(&reenter_rc, rc);
  }
  return PK_OK;
}

static const char reenter_lua[] =
    "return {\n"
    "  name = 'reenter', version = '1.0.0',\n"
    "  exports = {\n"
    "    sum = {sig = '(i32,i32)->i32', fn = function(a, b) return a + b "
    "end},\n"
    "  },\n"
    "  init = function() host.reenter() end,\n"
    "}\n";

static void *sum_once(void *arg) {
  worker *w = arg;
  pk_val in[2] = {PK_I32(4), PK_I32(5)}, out = PK_I32(0);
  w->first_rc = pk_func_call(w->f, in, 2, &out, 1);
  w->ok = out.i32;
  return NULL;
}

/* Init calls back into the plugin, in the state the open makes and in
   one the pool makes for a second thread: the nested call fails with
   PK_EINIT (a state takes calls once its init has returned), the open
   and the outer call succeed. */
PK_TEST(call_back_from_state_init) {
  pk_host *h = pool_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  pk_func *f;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
  worker w;
  PKT_RC(h, pk_host_define(h, "reenter", "()->()", h_reenter, h), PK_OK);
  o.grants = "*";
  o.max_instances = 2;
  atomic_store(&reenter_on, 1);
  atomic_store(&reenter_rc, 1);
  PKT_RC(h, pk_plugin_open(h, write_script("reenter.lua", reenter_lua), &o,
                           &p),
         PK_OK);
  PKT_EQ_INT(atomic_load(&reenter_rc), PK_EINIT);
  PKT_CONTAINS(reenter_msg, "during the init of the instance");
  f = func(h, p, "sum");
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK); /* holds state 1 */
  PKT_EQ_INT(out.i32, 3);
  atomic_store(&reenter_rc, 1);
  reenter_msg[0] = '\0';
  start(&w, 1, sum_once, f, 1); /* a second state, whose init calls back */
  join(&w, 1);
  atomic_store(&reenter_on, 0);
  PKT_EQ_INT(w.first_rc, PK_OK);
  PKT_EQ_INT(w.ok, 9);
  PKT_EQ_INT(atomic_load(&reenter_rc), PK_EINIT);
  PKT_CONTAINS(reenter_msg, "during the init of the instance");
  pk_host_destroy(h);
}

/* ---- call_timeout_ms bounds the whole call --------------------------------- */

static void *release_nap_later(void *arg) {
  (void)arg;
  sleep_ms(300);
  atomic_store(&nap_release, 1);
  return NULL;
}

/* max_instances = 1, call_timeout_ms = 400. Another thread naps in the
   only state for 300 ms of this thread's call of spin, which loops until
   a deadline stops it: the call's, 400 ms after it started (not 400 ms
   after it got the state, 700 ms). A late release makes the wait itself
   time out at 400 ms. */
PK_TEST(wait_counts_in_call_timeout) {
  pk_host *h = pool_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  worker w;
  pthread_t r;
  int64_t t0, took;
  int rc;
  o.max_instances = 1;
  o.call_timeout_ms = 400;
  p = open_pool(h, &o);
  start(&w, 1, nap_worker, func(h, p, "nap"), 0);
  while (!atomic_load(&napping))
    sleep_ms(1);
  PKT_ASSERT(pthread_create(&r, NULL, release_nap_later, NULL) == 0);
  t0 = pkt_now_ms();
  rc = pk_func_call(func(h, p, "spin"), NULL, 0, NULL, 0);
  took = pkt_now_ms() - t0;
  pthread_join(r, NULL);
  join(&w, 1);
  PKT_RC(h, rc, PK_ETIMEOUT);
  if (took >= 600)
    pkt_fail(__FILE__, __LINE__,
             "the call ran %lld ms: its deadline (400 ms) started when it "
             "got the state, not when it was made",
             (long long)took);
  pk_host_destroy(h);
}

/* ---- str results with more threads than states -------------------------- */

/* echo(s) = s, s naming the thread and the call, checked again after a
   yield, before the thread's next call: until then it must hold. */
static void *echo_worker(void *arg) {
  worker *w = arg;
  long i;
  for (i = 0; i < w->calls; i++) {
    char want[64];
    int n = snprintf(want, sizeof want, "thread %d, call %ld", w->index, i);
    pk_val in = PK_STR(want, (size_t)n), out;
    int rc = pk_func_call(w->f, &in, 1, &out, 1);
    sched_yield();
    if (rc != PK_OK || out.type != PK_T_STR || out.str.len != (size_t)n ||
        memcmp(out.str.ptr, want, (size_t)n) != 0)
      w->bad++;
  }
  return NULL;
}

/* 8 threads, 2 states: states move between threads all the time. */
PK_TEST(str_results_8_threads_2_states) {
  pk_host *h = pool_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  worker w[THREADS];
  int i;
  o.max_instances = 2;
  p = open_pool(h, &o);
  start(w, THREADS, echo_worker, func(h, p, "echo"), CALLS / 10);
  join(w, THREADS);
  for (i = 0; i < THREADS; i++)
    PKT_EQ_INT(w[i].bad, 0);
  pk_host_destroy(h);
}
