/*
 * Concurrent calls on the process backend: one child per pool instance.
 * Run as `test_threads_process TEST CONFORMANCE_EXE FAULT_EXE
 * CONFORMANCE_SO CONFORMANCE_LUA CONFORMANCE_PY`: the conformance fixture
 * as an executable plugin, as a .so and as a Lua script (both run in
 * plugkit-runner under isolation), as a Python plugin, and the fault
 * fixture
 * (its `pid` export tells which child served a call, `nested` calls the
 * host back).
 *
 * The hosts here count allocations through pkt_alloc behind a mutex
 * (pkt_alloc itself is not thread-safe), so every test is still a leak
 * test.
 */
#include "test.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* 8 threads x CALLS calls in the big tests; fewer under sanitizers,
   where each call costs tens of times more. */
#ifdef PK_TEST_SANITIZED
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

/* Log lines "init ran" (the fault fixture's init): one per child. */
static int inits;

static void log_sink(void *ud, int level, const char *plugin,
                     const char *msg, size_t len) {
  (void)ud;
  (void)level;
  (void)plugin;
  if (len == 8 && memcmp(msg, "init ran", 8) == 0)
    __atomic_add_fetch(&inits, 1, __ATOMIC_RELAXED);
}

static pk_host *thread_host(void) {
  pk_host_opts o = PK_HOST_OPTS_INIT;
  pk_host *h = NULL;
  o.alloc = locked_alloc;
  o.log = log_sink;
  PKT_RC(NULL, pk_host_create(&o, &h), PK_OK);
  return h;
}

static void xthread(pthread_t *t, void *(*fn)(void *), void *arg) {
  PKT_EQ_INT(pthread_create(t, NULL, fn, arg), 0);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* No child left behind: every process the backend started was reaped. */
static void no_children(void) {
  int st;
  PKT_EQ_INT(waitpid(-1, &st, WNOHANG), -1);
  PKT_EQ_INT(errno, ECHILD);
}

/* ---- many threads, one plugin ------------------------------------------- */

typedef struct worker {
  pk_host *h;
  pk_func *f;
  int id;
  long calls;
  int bad;     /* calls whose result was wrong */
  int failed;  /* calls that failed */
  int last_rc; /* the last failure's code */
  char msg[256];
} worker;

static void *sum_worker(void *arg) {
  worker *w = arg;
  long i;
  for (i = 0; i < w->calls; i++) {
    pk_val in[2] = {PK_I32((int32_t)i), PK_I32(w->id * 1000000)}, out;
    int rc = pk_func_call(w->f, in, 2, &out, 1);
    if (rc != PK_OK) {
      w->failed++;
      w->last_rc = rc;
      continue;
    }
    if (out.type != PK_T_I32 || out.i32 != (int32_t)i + w->id * 1000000)
      w->bad++;
  }
  return NULL;
}

/* THREADS threads call `sum` CALLS times each on one plugin, every result
   checked. */
static void sum_many(const char *path, int isolate, int threads, long calls) {
  pk_host *h = thread_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *f;
  pthread_t t[THREADS];
  worker w[THREADS];
  int i;
  if (isolate) {
    o.isolation = PK_ISOLATE_PROCESS;
    o.backend = "native";
  }
  o.max_instances = 4;
  PKT_RC(h, pk_plugin_open(h, path, &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "sum", "(i32,i32)->i32", &f), PK_OK);
  for (i = 0; i < threads; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].f = f;
    w[i].id = i + 1;
    w[i].calls = calls;
    xthread(&t[i], sum_worker, &w[i]);
  }
  for (i = 0; i < threads; i++) {
    pthread_join(t[i], NULL);
    if (w[i].failed)
      pkt_fail(__FILE__, __LINE__, "thread %d: %d calls failed, the last "
               "with %s", i, w[i].failed, pk_errname(w[i].last_rc));
    PKT_EQ_INT(w[i].bad, 0);
  }
  pk_host_destroy(h);
  no_children();
}

PK_TEST(sum_8_threads) { sum_many(pkt_arg(0), 0, THREADS, CALLS); }

PK_TEST(sum_8_threads_isolated) {
  sum_many(pkt_arg(2), 1, THREADS, CALLS);
}

/* A Python plugin: a python3 per instance. */
PK_TEST(sum_4_threads_python) {
  if (system("python3 -c 'import socket' >/dev/null 2>&1") != 0)
    pkt_skip("no python3");
  sum_many(pkt_arg(4), 0, 4, 500);
}

/* ---- close racing with calls --------------------------------------------- */

typedef struct racer {
  pk_func *f;
  int id;
  int bad; /* a code other than PK_OK and PK_ECLOSED, or a wrong result */
  int bad_rc;
  long ok, closed;
} racer;

static void *race_worker(void *arg) {
  racer *r = arg;
  int32_t i;
  for (i = 0;; i++) {
    pk_val in[2] = {PK_I32(i), PK_I32(r->id)}, out;
    int rc = pk_func_call(r->f, in, 2, &out, 1);
    if (rc == PK_ECLOSED) {
      r->closed++;
      break; /* closed for good: every later call fails the same way */
    }
    if (rc != PK_OK || out.i32 != i + r->id) {
      r->bad++;
      r->bad_rc = rc;
      break;
    }
    r->ok++;
  }
  return NULL;
}

/* Rounds of: open, 4 threads calling, close while they call. Every call
   returns PK_OK with the right result, or PK_ECLOSED; nothing leaks, no
   child is left. */
PK_TEST(close_races_calls) {
  pk_host *h = thread_host();
  int round, i;
  for (round = 0; round < 6; round++) {
    pk_open_opts o = PK_OPEN_OPTS_INIT;
    pk_plugin *p;
    pk_func *f;
    pthread_t t[4];
    racer r[4];
    o.max_instances = round % 2 ? 2 : 4; /* with and without waiting */
    PKT_RC(h, pk_plugin_open(h, pkt_arg(0), &o, &p), PK_OK);
    PKT_RC(h, pk_plugin_func(p, "sum", NULL, &f), PK_OK);
    for (i = 0; i < 4; i++) {
      memset(&r[i], 0, sizeof r[i]);
      r[i].f = f;
      r[i].id = i * 1000;
      xthread(&t[i], race_worker, &r[i]);
    }
    sleep_ms(20 + 10 * round); /* let calls and instance starts run */
    pk_plugin_close(p);
    for (i = 0; i < 4; i++) {
      pthread_join(t[i], NULL);
      if (r[i].bad)
        pkt_fail(__FILE__, __LINE__, "round %d thread %d: call returned %s",
                 round, i, pk_errname(r[i].bad_rc));
      PKT_EQ_INT(r[i].closed, 1);
    }
    pk_host_reclaim(h);
    no_children();
  }
  pk_host_destroy(h);
}

/* Threads opening, calling and closing their own plugins on one host at
   once. */
static void *open_worker(void *arg) {
  worker *w = arg;
  pk_host *h = w->h;
  int round;
  for (round = 0; round < 4; round++) {
    pk_plugin *p = NULL;
    pk_func *f;
    pk_val in[2] = {PK_I32(w->id), PK_I32(round)}, out;
    int rc = pk_plugin_open(h, pkt_arg(0), NULL, &p);
    if (rc == PK_OK && (rc = pk_plugin_func(p, "sum", NULL, &f)) == PK_OK &&
        (rc = pk_func_call(f, in, 2, &out, 1)) == PK_OK &&
        out.i32 != w->id + round)
      w->bad++;
    if (rc != PK_OK) {
      w->failed++;
      w->last_rc = rc;
      snprintf(w->msg, sizeof w->msg, "%s", pk_host_errmsg(h));
    }
    pk_plugin_close(p);
  }
  return NULL;
}

PK_TEST(open_close_on_threads) {
  pk_host *h = thread_host();
  pthread_t t[4];
  worker w[4];
  int i;
  for (i = 0; i < 4; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].h = h;
    w[i].id = i;
    xthread(&t[i], open_worker, &w[i]);
  }
  for (i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    if (w[i].failed)
      pkt_fail(__FILE__, __LINE__, "thread %d: %s: %s", i,
               pk_errname(w[i].last_rc), w[i].msg);
    PKT_EQ_INT(w[i].bad, 0);
  }
  pk_host_destroy(h);
  no_children();
}

/* ---- host functions from many instances ---------------------------------- */

/* "meet" (i32)->i32: the first two callers wait for each other, so the
   test passes only if two instances run host functions at once. */
static pthread_mutex_t meet_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t meet_cv = PTHREAD_COND_INITIALIZER;
static int meet_inside, meet_met, meet_calls;

static int meet(void *ud, pk_plugin *caller, const pk_val *args,
                pk_val *results) {
  (void)ud;
  (void)caller;
  pthread_mutex_lock(&meet_mu);
  meet_calls++;
  if (!meet_met) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20; /* a hang guard, not a measurement */
    meet_inside++;
    if (meet_inside >= 2) {
      meet_met = 1;
      pthread_cond_broadcast(&meet_cv);
    }
    while (!meet_met &&
           pthread_cond_timedwait(&meet_cv, &meet_mu, &until) == 0)
      ;
  }
  pthread_mutex_unlock(&meet_mu);
  results[0].i32 = args[0].i32 * 3;
  return PK_OK;
}

static void *host_worker(void *arg) {
  worker *w = arg;
  long i;
  for (i = 0; i < w->calls; i++) {
    pk_val in = PK_I32((int32_t)i + w->id), out;
    int rc = pk_func_call(w->f, &in, 1, &out, 1);
    if (rc != PK_OK) {
      w->failed++;
      w->last_rc = rc;
    } else if (out.i32 != ((int32_t)i + w->id) * 3) {
      w->bad++;
    }
  }
  return NULL;
}

PK_TEST(host_functions_from_many_instances) {
  pk_host *h = thread_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *f;
  pthread_t t[THREADS];
  worker w[THREADS];
  int i;
  /* The fixture calls its host's "triple": here, "meet" under that
     name. */
  PKT_RC(h, pk_host_define(h, "triple", "(i32)->i32", meet, NULL), PK_OK);
  o.grants = "triple";
  o.max_instances = THREADS;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "call_host", "(i32)->i32", &f), PK_OK);
  for (i = 0; i < THREADS; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].f = f;
    w[i].id = i * 100000;
    w[i].calls = CALLS / 10;
    xthread(&t[i], host_worker, &w[i]);
  }
  for (i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    PKT_EQ_INT(w[i].failed, 0);
    PKT_EQ_INT(w[i].bad, 0);
  }
  PKT_EQ_INT(meet_met, 1);
  PKT_EQ_INT(meet_calls, THREADS * (CALLS / 10));
  pk_host_destroy(h);
  no_children();
}

/* ---- the pool's bounds --------------------------------------------------- */

/* Which children served the calls (the fault fixture's `pid`). */
static pthread_mutex_t pids_mu = PTHREAD_MUTEX_INITIALIZER;
static int32_t pids[64];
static int npids;

static void saw_pid(int32_t pid) {
  int i;
  pthread_mutex_lock(&pids_mu);
  for (i = 0; i < npids && pids[i] != pid; i++)
    ;
  if (i == npids && npids < 64)
    pids[npids++] = pid;
  pthread_mutex_unlock(&pids_mu);
}

static void *pid_worker(void *arg) {
  worker *w = arg;
  long i;
  for (i = 0; i < w->calls; i++) {
    pk_val out;
    int rc = pk_func_call(w->f, NULL, 0, &out, 1);
    if (rc != PK_OK) {
      w->failed++;
      w->last_rc = rc;
    } else {
      saw_pid(out.i32);
    }
  }
  return NULL;
}

/* max_instances = 2 and 8 threads: two children served every call, and
   only two were started (two inits ran). */
PK_TEST(max_instances_respected) {
  pk_host *h = thread_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *f;
  pthread_t t[THREADS];
  worker w[THREADS];
  int i;
  o.max_instances = 2;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(1), &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "pid", "()->i32", &f), PK_OK);
  for (i = 0; i < THREADS; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].f = f;
    w[i].calls = CALLS / 100;
    xthread(&t[i], pid_worker, &w[i]);
  }
  for (i = 0; i < THREADS; i++) {
    pthread_join(t[i], NULL);
    PKT_EQ_INT(w[i].failed, 0);
  }
  PKT_EQ_INT(npids, 2);
  PKT_EQ_INT(__atomic_load_n(&inits, __ATOMIC_RELAXED), 2);
  pk_host_destroy(h);
  no_children();
}

/* The host function "reenter" the fault fixture's `nested` calls: holds
   its call (and so its instance) until the test lets it go. */
static pthread_mutex_t hold_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hold_cv = PTHREAD_COND_INITIALIZER;
static int holding, released;

static int hold(void *ud, pk_plugin *caller, const pk_val *args,
                pk_val *results) {
  (void)ud;
  (void)caller;
  pthread_mutex_lock(&hold_mu);
  holding = 1;
  pthread_cond_broadcast(&hold_cv);
  while (!released)
    pthread_cond_wait(&hold_cv, &hold_mu);
  pthread_mutex_unlock(&hold_mu);
  results[0].i32 = args[0].i32;
  return PK_OK;
}

static void *hold_worker(void *arg) {
  worker *w = arg;
  pk_val in = PK_I32(7), out;
  w->last_rc = pk_func_call(w->f, &in, 1, &out, 1);
  return NULL;
}

/* Thread t calls `nested` (whose child calls back the host function
   hold) and so holds a child until `released`; returns once it does. */
static void start_holder(pk_func *nested, worker *w, pthread_t *t) {
  pthread_mutex_lock(&hold_mu);
  holding = released = 0;
  pthread_mutex_unlock(&hold_mu);
  memset(w, 0, sizeof *w);
  w->f = nested;
  xthread(t, hold_worker, w);
  pthread_mutex_lock(&hold_mu);
  while (!holding)
    pthread_cond_wait(&hold_cv, &hold_mu);
  pthread_mutex_unlock(&hold_mu);
}

/* max_instances = 1, its instance busy: a second thread's call waits for
   it until call_timeout_ms, then fails with PK_ETIMEOUT. */
PK_TEST(instance_wait_times_out) {
  pk_host *h = thread_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *nested, *pid;
  pthread_t t;
  worker w;
  pk_val out;
  PKT_RC(h, pk_host_define(h, "reenter", "(i32)->i32", hold, NULL), PK_OK);
  o.grants = "reenter";
  o.max_instances = 1;
  /* Also the handshake's deadline: generous, for loaded machines and
     sanitizers. */
  o.call_timeout_ms = 2000;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(1), &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "nested", NULL, &nested), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "pid", NULL, &pid), PK_OK);
  start_holder(nested, &w, &t);
  PKT_RC(h, pk_func_call(pid, NULL, 0, &out, 1), PK_ETIMEOUT);
  PKT_CONTAINS(pk_host_errmsg(h), "instances stayed busy");
  pthread_mutex_lock(&hold_mu);
  released = 1;
  pthread_cond_broadcast(&hold_cv);
  pthread_mutex_unlock(&hold_mu);
  pthread_join(t, NULL);
  /* The holder outlived its own deadline meanwhile. */
  PKT_ASSERT(w.last_rc == PK_OK || w.last_rc == PK_ETIMEOUT);
  pk_host_destroy(h);
  no_children();
}

/* Lets the held call go after 300 ms. */
static void *release_later(void *arg) {
  struct timespec ts = {0, 300000000};
  (void)arg;
  nanosleep(&ts, NULL);
  pthread_mutex_lock(&hold_mu);
  released = 1;
  pthread_cond_broadcast(&hold_cv);
  pthread_mutex_unlock(&hold_mu);
  return NULL;
}

/* max_instances = 1, call_timeout_ms = 400. Another thread holds the
   child for 300 ms of this thread's call of nap(5000): the call's
   deadline, 400 ms after it started, stops it (not 400 ms after it got
   the child, 700 ms); the child is killed. A late release makes the wait
   itself time out at 400 ms. */
PK_TEST(wait_counts_in_call_timeout) {
  pk_host *h = thread_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *nested, *nap;
  pthread_t t, r;
  worker w;
  pk_val in = PK_I32(5000), out;
  int64_t t0, took;
  int rc;
  PKT_RC(h, pk_host_define(h, "reenter", "(i32)->i32", hold, NULL), PK_OK);
  o.grants = "reenter";
  o.max_instances = 1;
  o.call_timeout_ms = 400;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(1), &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "nested", NULL, &nested), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "nap", NULL, &nap), PK_OK);
  start_holder(nested, &w, &t);
  xthread(&r, release_later, NULL);
  t0 = pkt_now_ms();
  rc = pk_func_call(nap, &in, 1, &out, 1);
  took = pkt_now_ms() - t0;
  pthread_join(r, NULL);
  pthread_join(t, NULL);
  PKT_RC(h, rc, PK_ETIMEOUT);
  if (took >= 600)
    pkt_fail(__FILE__, __LINE__,
             "the call ran %lld ms: its deadline (400 ms) started when it "
             "got the child, not when it was made",
             (long long)took);
  pk_host_destroy(h);
  no_children();
}

/* ---- state and crashes per instance -------------------------------------- */

static pthread_barrier_t step;

typedef struct pair {
  pk_func *bump, *pid;
  int32_t seen[50];
  int32_t pid0, pid1, pid2;
  int rc1, rc2;
  int kill_me;
} pair;

static void *bump_worker(void *arg) {
  pair *q = arg;
  pk_val out;
  int i;
  for (i = 0; i < 50; i++) {
    if (pk_func_call(q->bump, NULL, 0, &out, 1) == PK_OK)
      q->seen[i] = out.i32;
    /* Both threads live until both have made their first call: a thread
       that exited would leave its lane (instance included) to the next
       thread started. */
    if (i == 0)
      pthread_barrier_wait(&step);
  }
  return NULL;
}

/* State is per instance: two threads each keeping a child (max_instances
   2, so nobody waits and nobody's instance is taken) each count 1..50 on
   the fixture's global counter; a shared counter would interleave up to
   100. */
PK_TEST(state_is_per_instance) {
  pk_host *h = thread_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *bump;
  pthread_t t[2];
  pair q[2];
  int i, k;
  o.max_instances = 2;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "bump", "()->i32", &bump), PK_OK);
  PKT_EQ_INT(pthread_barrier_init(&step, NULL, 2), 0);
  for (i = 0; i < 2; i++) {
    memset(&q[i], 0, sizeof q[i]);
    q[i].bump = bump;
    xthread(&t[i], bump_worker, &q[i]);
  }
  for (i = 0; i < 2; i++) {
    pthread_join(t[i], NULL);
    for (k = 0; k < 50; k++)
      PKT_EQ_INT(q[i].seen[k], k + 1);
  }
  pthread_barrier_destroy(&step);
  pk_host_destroy(h);
  no_children();
}

static void *crash_worker(void *arg) {
  pair *q = arg;
  pk_val out;
  int rc;
  rc = pk_func_call(q->pid, NULL, 0, &out, 1);
  q->pid0 = rc == PK_OK ? out.i32 : -1;
  pthread_barrier_wait(&step); /* both children serve a thread */
  pthread_barrier_wait(&step); /* the test killed one */
  q->rc1 = pk_func_call(q->pid, NULL, 0, &out, 1);
  q->pid1 = q->rc1 == PK_OK ? out.i32 : -1;
  q->rc2 = pk_func_call(q->pid, NULL, 0, &out, 1);
  q->pid2 = q->rc2 == PK_OK ? out.i32 : -1;
  return NULL;
}

/* Two threads, a child each; the test kills one child. The other thread's
   calls go on in its child; the first thread's next call reports the
   crash, and then (restart = 1) a new child serves it or (restart = 0)
   every call fails with PK_ECRASH. */
static void crash_one(int restart) {
  pk_host *h = thread_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *pid;
  pthread_t t[2];
  pair q[2];
  int i;
  o.max_instances = 2;
  o.restart = restart;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(1), &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "pid", "()->i32", &pid), PK_OK);
  PKT_EQ_INT(pthread_barrier_init(&step, NULL, 3), 0);
  for (i = 0; i < 2; i++) {
    memset(&q[i], 0, sizeof q[i]);
    q[i].pid = pid;
    xthread(&t[i], crash_worker, &q[i]);
  }
  pthread_barrier_wait(&step);
  PKT_ASSERT(q[0].pid0 > 0 && q[1].pid0 > 0 && q[0].pid0 != q[1].pid0);
  PKT_EQ_INT(kill(q[0].pid0, SIGKILL), 0);
  pthread_barrier_wait(&step);
  for (i = 0; i < 2; i++)
    pthread_join(t[i], NULL);
  pthread_barrier_destroy(&step);
  /* The other child is untouched. */
  PKT_RC(h, q[1].rc1, PK_OK);
  PKT_RC(h, q[1].rc2, PK_OK);
  PKT_EQ_INT(q[1].pid1, q[1].pid0);
  PKT_EQ_INT(q[1].pid2, q[1].pid0);
  /* The killed one: its crash, then a new child or more crashes. */
  PKT_EQ_INT(q[0].rc1, PK_ECRASH);
  if (restart) {
    PKT_EQ_INT(q[0].rc2, PK_OK);
    PKT_ASSERT(q[0].pid2 > 0 && q[0].pid2 != q[0].pid0 &&
               q[0].pid2 != q[1].pid0);
  } else {
    PKT_EQ_INT(q[0].rc2, PK_ECRASH);
  }
  pk_host_destroy(h);
  no_children();
}

PK_TEST(crash_spares_other_children) { crash_one(0); }

PK_TEST(crash_restarts_only_that_child) { crash_one(1); }

static void *pid_twice(void *arg) {
  pair *q = arg;
  pk_val out;
  q->rc1 = pk_func_call(q->pid, NULL, 0, &out, 1);
  q->pid1 = q->rc1 == PK_OK ? out.i32 : -1;
  if (q->kill_me && q->pid1 > 0)
    kill(q->pid1, SIGKILL);
  /* The call that finds the child dead; then a restart, from here. */
  q->rc2 = pk_func_call(q->pid, NULL, 0, &out, 1);
  q->rc2 = pk_func_call(q->pid, NULL, 0, &out, 1);
  q->pid2 = q->rc2 == PK_OK ? out.i32 : -1;
  return NULL;
}

/*
 * A child started by a thread that then exits keeps serving: the kernel
 * sends the parent-death signal when the forking *thread* ends, so the
 * backend forks from a thread that lives as long as the process. Here a
 * worker thread restarts the only instance, exits, and the main thread's
 * call must find the same child alive.
 */
PK_TEST(child_outlives_the_thread_that_started_it) {
  pk_host *h = thread_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *pid;
  pthread_t t;
  pair q;
  pk_val out;
  o.max_instances = 1;
  o.restart = 1;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(1), &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "pid", "()->i32", &pid), PK_OK);
  memset(&q, 0, sizeof q);
  q.pid = pid;
  q.kill_me = 1;
  xthread(&t, pid_twice, &q);
  pthread_join(t, NULL);
  PKT_RC(h, q.rc2, PK_OK);
  PKT_ASSERT(q.pid2 > 0 && q.pid2 != q.pid1);
  sleep_ms(200); /* the parent-death signal, if any, has landed */
  PKT_RC(h, pk_func_call(pid, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, q.pid2);
  pk_host_destroy(h);
  no_children();
}

/* ---- options -------------------------------------------------------------- */

/* A child cannot be put back to its post-init state: reset_after_call is
   refused by name, for executables and isolated in-process backends. */
PK_TEST(reset_after_call_refused) {
  pk_host *h = thread_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  o.reset_after_call = 1;
  PKT_RC(h, pk_plugin_open(h, pkt_arg(0), &o, &p), PK_ENOSYS);
  PKT_CONTAINS(pk_host_errmsg(h), "reset_after_call");
  PKT_ASSERT(p == NULL);
  o.isolation = PK_ISOLATE_PROCESS;
  o.backend = "native";
  PKT_RC(h, pk_plugin_open(h, pkt_arg(2), &o, &p), PK_ENOSYS);
  PKT_CONTAINS(pk_host_errmsg(h), "reset_after_call");
  PKT_ASSERT(p == NULL);
  pk_host_destroy(h);
  no_children();
}

/* A child that cannot start (here: its executable was removed after the
   open) fails the call that needed a new instance, naming the cause and
   the phase "init"; the instance that exists goes on serving. */
static void *sum_once(void *arg) {
  worker *w = arg;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
  w->last_rc = pk_func_call(w->f, in, 2, &out, 1);
  snprintf(w->msg, sizeof w->msg, "%s", pk_host_errmsg(w->h));
  return NULL;
}

PK_TEST(instance_start_failure_fails_that_call) {
  pk_host *h = thread_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  const char *copy = pkt_tmp("plugin");
  unsigned char *exe;
  size_t n;
  pk_plugin *p;
  pk_func *f;
  pthread_t t;
  worker w;
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out;
  int i;
  exe = pkt_read_file(pkt_arg(0), &n);
  pkt_write_file(copy, exe, n);
  free(exe);
  PKT_EQ_INT(chmod(copy, 0700), 0);
  o.max_instances = 2;
  PKT_RC(h, pk_plugin_open(h, copy, &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "sum", NULL, &f), PK_OK);
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK); /* holds the first */
  PKT_EQ_INT(unlink(copy), 0);
  for (i = 0; i < 2; i++) { /* and a failed start is tried again */
    memset(&w, 0, sizeof w);
    w.h = h;
    w.f = f;
    xthread(&t, sum_once, &w);
    pthread_join(t, NULL);
    PKT_EQ_INT(w.last_rc, PK_ECRASH);
    PKT_CONTAINS(w.msg, ": init: ");
    PKT_CONTAINS(w.msg, "cannot execute the plugin");
  }
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 42);
  pk_host_destroy(h);
  no_children();
}

/* Under isolation, reset_after_call is the inner backend's (a Lua state,
   a wasm instance in plugkit-runner), passed on to the runner: the
   fixture's global counter reads 1 after every call. Skipped while the
   inner backend cannot reset (then the open's PK_ENOSYS names it). */
PK_TEST(reset_after_call_isolated) {
  pk_host *h = thread_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  pk_func *bump;
  pk_val out;
  int i, rc;
  o.isolation = PK_ISOLATE_PROCESS;
  o.backend = "lua";
  o.reset_after_call = 1;
  rc = pk_plugin_open(h, pkt_arg(3), &o, &p);
  if (rc == PK_ENOSYS) {
    char why[300];
    snprintf(why, sizeof why, "%s", pk_host_errmsg(h));
    pk_host_destroy(h);
    pkt_skip("%s", why);
  }
  PKT_RC(h, rc, PK_OK);
  PKT_RC(h, pk_plugin_func(p, "bump", "()->i32", &bump), PK_OK);
  for (i = 0; i < 5; i++) {
    PKT_RC(h, pk_func_call(bump, NULL, 0, &out, 1), PK_OK);
    PKT_EQ_INT(out.i32, 1);
  }
  pk_host_destroy(h);
  no_children();
}

/* The file replaced after the open by another plugin: a new child that
   declares other exports is refused (PK_EPROTO, phase "init") and killed;
   the host never sends it calls encoded for the first one's exports. */
PK_TEST(instance_of_another_plugin_refused) {
  pk_host *h = thread_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  const char *copy = pkt_tmp("plugin");
  unsigned char *exe;
  size_t n;
  pk_plugin *p;
  pk_func *f;
  pthread_t t;
  worker w;
  pk_val in[2] = {PK_I32(40), PK_I32(2)}, out;
  exe = pkt_read_file(pkt_arg(0), &n);
  pkt_write_file(copy, exe, n);
  free(exe);
  PKT_EQ_INT(chmod(copy, 0700), 0);
  o.max_instances = 2;
  PKT_RC(h, pk_plugin_open(h, copy, &o, &p), PK_OK);
  PKT_RC(h, pk_plugin_func(p, "sum", NULL, &f), PK_OK);
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK); /* holds the first */
  PKT_EQ_INT(unlink(copy), 0); /* a running file cannot be rewritten */
  exe = pkt_read_file(pkt_arg(1), &n);
  pkt_write_file(copy, exe, n);
  free(exe);
  PKT_EQ_INT(chmod(copy, 0700), 0);
  memset(&w, 0, sizeof w);
  w.h = h;
  w.f = f;
  xthread(&t, sum_once, &w);
  pthread_join(t, NULL);
  PKT_EQ_INT(w.last_rc, PK_EPROTO);
  PKT_CONTAINS(w.msg, ": init: ");
  PKT_CONTAINS(w.msg, "other exports");
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 42);
  pk_host_destroy(h);
  no_children();
}
