/*
 * The wasm backend's instance pool (issue 13): many threads calling one
 * plugin, each call in an instance of its own; open and close racing with
 * calls; host functions called from many instances at once;
 * max_instances; a call waiting for an instance past call_timeout_ms;
 * state per instance; reset_after_call.
 *
 * argv[2]: the folder holding pool.wasm, pool_born.wasm.
 *
 * The harness's counting allocator is not thread-safe: these tests use a
 * host of their own whose allocator counts with atomics, and check it
 * for leaks at the end of each test.
 */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <time.h>

#ifdef PK_TEST_SANITIZED
#define CALLS 10000 /* sanitizers make each call several times slower */
#else
#define CALLS 100000
#endif
#define THREADS 8

static char path_buf[1024];

static const char *fixture(const char *name) {
  snprintf(path_buf, sizeof path_buf, "%s/%s", pkt_arg(0), name);
  return path_buf;
}

/* ---- a host whose allocator may be called from any thread -------------- */

static atomic_long live;

typedef union hdr {
  size_t n;
  max_align_t align;
} hdr;

static void *ts_alloc(void *ud, void *p, size_t n) {
  hdr *h = p ? (hdr *)p - 1 : NULL;
  (void)ud;
  if (n == 0) {
    if (h != NULL) {
      atomic_fetch_sub(&live, 1);
      free(h);
    }
    return NULL;
  }
  h = realloc(h, sizeof *h + n);
  if (h == NULL)
    return NULL;
  if (p == NULL)
    atomic_fetch_add(&live, 1);
  h->n = n;
  return h + 1;
}

static atomic_long triples, borns, holding;
static atomic_int release_hold;
static int born_fail_after = -1; /* born refuses instance #n (0: none) */

static int host_triple(void *ud, pk_plugin *caller, const pk_val *args,
                       pk_val *results) {
  (void)ud;
  (void)caller;
  atomic_fetch_add(&triples, 1);
  results[0] = PK_I32(args[0].i32 * 3);
  return PK_OK;
}

/* init's side effect in pool_born.wasm: counts the instances made. */
static int host_born(void *ud, pk_plugin *caller, const pk_val *args,
                     pk_val *results) {
  long n = atomic_fetch_add(&borns, 1) + 1;
  (void)ud;
  (void)caller;
  (void)args;
  results[0] = PK_I32(born_fail_after > 0 && n > born_fail_after ? 1 : 0);
  return PK_OK;
}

/* Blocks the calling instance until the test lets it go (10 s at most):
   the n-th call to hold since `holding` was 0 returns once release_hold
   is n or more. */
static int host_hold(void *ud, pk_plugin *caller, const pk_val *args,
                     pk_val *results) {
  int i;
  long ticket;
  (void)ud;
  (void)caller;
  (void)args;
  ticket = atomic_fetch_add(&holding, 1);
  for (i = 0; i < 10000 && atomic_load(&release_hold) <= ticket; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  results[0] = PK_I32(7);
  return PK_OK;
}

static pk_host *ts_host(void) {
  pk_host_opts o = PK_HOST_OPTS_INIT;
  pk_host *h = NULL;
  o.alloc = ts_alloc;
  if (pk_host_create(&o, &h) != PK_OK)
    pkt_fail(__FILE__, __LINE__, "pk_host_create failed");
  PKT_RC(h, pk_host_define(h, "triple", "(i32)->i32", host_triple, NULL),
         PK_OK);
  PKT_RC(h, pk_host_define(h, "born", "()->i32", host_born, NULL), PK_OK);
  PKT_RC(h, pk_host_define(h, "hold", "()->i32", host_hold, NULL), PK_OK);
  return h;
}

static void ts_host_done(pk_host *h) {
  pk_host_destroy(h);
  PKT_EQ_INT(atomic_load(&live), 0);
}

/* PKT_WASM_TIER=jit or aot (tests/threads/wasm.cmake): the plugin runs
   on that tier, or the test fails. */
/* The plugin on the tier o names (a test of that tier: skipped where
   this build lacks it), else on PKT_WASM_TIER's (the tier CMake runs the
   test on: it must be there), else the default; a tier asked for is the
   one in use. */
static pk_plugin *open_pool(pk_host *h, const char *file, pk_open_opts *o) {
  pk_open_opts d = PK_OPEN_OPTS_INIT;
  pk_plugin *p = NULL;
  int rc, own_tier;
  if (o == NULL)
    o = &d;
  o->grants = "*";
  own_tier = o->tier != NULL;
  if (!own_tier)
    o->tier = getenv("PKT_WASM_TIER");
  rc = pk_plugin_open(h, fixture(file), o, &p);
  if (rc == PK_ENOSYS && own_tier) {
    pk_host_destroy(h);
    pkt_skip("the %s tier is not built", o->tier);
  }
  PKT_RC(h, rc, PK_OK);
  if (o->tier != NULL) {
    pk_plugin_info info = PK_PLUGIN_INFO_INIT;
    PKT_RC(h, pk_plugin_info_get(p, &info), PK_OK);
    PKT_STR_EQ(info.tier, o->tier);
  }
  return p;
}

static pk_func *func(pk_host *h, pk_plugin *p, const char *name,
                     const char *sig) {
  pk_func *f = NULL;
  PKT_RC(h, pk_plugin_func(p, name, sig, &f), PK_OK);
  return f;
}

/* ---- threads ------------------------------------------------------------- */

/* Threads start together, so that they reach the pool (and the lazy
   translation of each function) at once, and end together: a thread
   that exits gives its number, with its lane and instance, to the next
   thread that starts (src/core/thread.c), which must not happen while
   the others still count on having instances of their own. */
static pthread_barrier_t start, finish;

typedef struct job {
  pk_func *f;
  int id;
  long calls;
  long bad;     /* wrong results, or codes that should not be */
  long ok, closed;
  int32_t first, last;
  char why[256];
} job;

static void run_threads(void *(*fn)(void *), job *jobs, int n) {
  pthread_t t[THREADS];
  int i;
  PKT_ASSERT(n <= THREADS);
  pthread_barrier_init(&start, NULL, (unsigned)n);
  pthread_barrier_init(&finish, NULL, (unsigned)n);
  for (i = 0; i < n; i++)
    PKT_ASSERT(pthread_create(&t[i], NULL, fn, &jobs[i]) == 0);
  for (i = 0; i < n; i++)
    pthread_join(t[i], NULL);
  pthread_barrier_destroy(&finish);
  pthread_barrier_destroy(&start);
  for (i = 0; i < n; i++)
    if (jobs[i].bad != 0)
      pkt_fail(__FILE__, __LINE__, "thread %d: %ld bad calls (%s)", i,
               jobs[i].bad, jobs[i].why);
}

static void *sum_thread(void *arg) {
  job *j = arg;
  long i;
  pthread_barrier_wait(&start);
  for (i = 0; i < j->calls; i++) {
    pk_val in[2] = {PK_I32(j->id * 1000003), PK_I32((int32_t)i)}, out;
    int rc = pk_func_call(j->f, in, 2, &out, 1);
    if (rc != PK_OK || out.type != PK_T_I32 ||
        out.i32 != j->id * 1000003 + (int32_t)i) {
      if (j->bad++ == 0)
        snprintf(j->why, sizeof j->why, "call %ld: %s, %d", i,
                 pk_errname(rc), out.i32);
    }
  }
  pthread_barrier_wait(&finish);
  return NULL;
}

static void sum_many_on(const char *file, const char *tier) {
  pk_host *h = ts_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  o.tier = tier;
  p = open_pool(h, file, &o);
  pk_func *f = func(h, p, "sum", "(i32,i32)->i32");
  job jobs[THREADS];
  int i;
  memset(jobs, 0, sizeof jobs);
  for (i = 0; i < THREADS; i++) {
    jobs[i].f = f;
    jobs[i].id = i + 1;
    jobs[i].calls = CALLS;
  }
  run_threads(sum_thread, jobs, THREADS);
  pk_plugin_close(p);
  ts_host_done(h);
}

static void sum_many(const char *file) { sum_many_on(file, NULL); }

/* 8 threads x CALLS calls of sum on one plugin, every result checked:
   new instances from the first one's image. */
PK_TEST(sum_8_threads) { sum_many("pool.wasm"); }

/* The same where each new instance runs init (it calls a host function). */
PK_TEST(sum_8_threads_init_per_instance) { sum_many("pool_born.wasm"); }

/* The same where the system has no memory files (the engine's test hook
   PK_TEST_NO_MEMFD makes memfd_create fail): new instances copy the
   image's memory instead of mapping it (docs/backends/wasm.md). */
PK_TEST(sum_8_threads_image_copied) {
  setenv("PK_TEST_NO_MEMFD", "1", 1);
  sum_many("pool.wasm");
}

/* ---- open and close racing with calls -------------------------------------- */

static void *until_closed(void *arg) {
  job *j = arg;
  long i;
  pthread_barrier_wait(&start);
  for (i = 0;; i++) {
    pk_val in[2] = {PK_I32(j->id), PK_I32((int32_t)i)}, out;
    int rc = pk_func_call(j->f, in, 2, &out, 1);
    if (rc == PK_ECLOSED) {
      j->closed++;
      break;
    }
    if (rc != PK_OK || out.i32 != j->id + (int32_t)i) {
      if (j->bad++ == 0)
        snprintf(j->why, sizeof j->why, "call %ld: %s", i, pk_errname(rc));
      break;
    }
    j->ok++;
  }
  return NULL;
}

typedef struct closer {
  pk_plugin *p;
  long wait_ns;
} closer;

static void *close_later(void *arg) {
  closer *c = arg;
  struct timespec ts = {0, c->wait_ns};
  pthread_barrier_wait(&start);
  nanosleep(&ts, NULL);
  pk_plugin_close(c->p);
  return NULL;
}

/* Calls on 7 threads while an 8th closes the plugin, over several
   rounds (each with a new plugin, closed a little later each time): every
   call returns PK_OK or PK_ECLOSED, and every thread sees the close. */
PK_TEST(open_close_race) {
  pk_host *h = ts_host();
  int round;
  for (round = 0; round < 8; round++) {
    pk_plugin *p = open_pool(h, round % 2 ? "pool_born.wasm" : "pool.wasm",
                             NULL);
    pk_func *f = func(h, p, "sum", "(i32,i32)->i32");
    job jobs[THREADS - 1];
    closer c = {p, 200000L * (round + 1)};
    pthread_t t[THREADS];
    int i;
    memset(jobs, 0, sizeof jobs);
    pthread_barrier_init(&start, NULL, THREADS);
    for (i = 0; i < THREADS - 1; i++) {
      jobs[i].f = f;
      jobs[i].id = i;
      PKT_ASSERT(pthread_create(&t[i], NULL, until_closed, &jobs[i]) == 0);
    }
    PKT_ASSERT(pthread_create(&t[THREADS - 1], NULL, close_later, &c) == 0);
    for (i = 0; i < THREADS; i++)
      pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    for (i = 0; i < THREADS - 1; i++) {
      if (jobs[i].bad != 0)
        pkt_fail(__FILE__, __LINE__, "round %d thread %d: %s", round, i,
                 jobs[i].why);
      PKT_EQ_INT(jobs[i].closed, 1);
    }
    pk_host_reclaim(h); /* no thread holds a handle now */
  }
  ts_host_done(h);
}

/* ---- host functions from many instances ------------------------------------ */

static void *host_thread(void *arg) {
  job *j = arg;
  long i;
  pthread_barrier_wait(&start);
  for (i = 0; i < j->calls; i++) {
    pk_val in = PK_I32(j->id * 100000 + (int32_t)i), out;
    int rc = pk_func_call(j->f, &in, 1, &out, 1);
    if (rc != PK_OK || out.i32 != 3 * (j->id * 100000 + (int32_t)i)) {
      if (j->bad++ == 0)
        snprintf(j->why, sizeof j->why, "call %ld: %s, %d", i,
                 pk_errname(rc), out.i32);
    }
  }
  pthread_barrier_wait(&finish);
  return NULL;
}

/* 8 threads whose calls each call the host function "triple" from their
   instances at once: every result right, every host call counted. */
PK_TEST(host_functions_from_many_instances) {
  pk_host *h = ts_host();
  pk_plugin *p = open_pool(h, "pool.wasm", NULL);
  pk_func *f = func(h, p, "call_host", "(i32)->i32");
  job jobs[THREADS];
  int i;
  memset(jobs, 0, sizeof jobs);
  atomic_store(&triples, 0);
  for (i = 0; i < THREADS; i++) {
    jobs[i].f = f;
    jobs[i].id = i;
    jobs[i].calls = CALLS / 10;
  }
  run_threads(host_thread, jobs, THREADS);
  PKT_EQ_INT(atomic_load(&triples), (long)THREADS * (CALLS / 10));
  pk_plugin_close(p);
  ts_host_done(h);
}

/* ---- max_instances ---------------------------------------------------------- */

/* max_instances = 2 and 8 threads calling: init (which calls "born") ran
   in at most 2 instances; every call succeeded. */
PK_TEST(max_instances_respected) {
  pk_host *h = ts_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *f;
  job jobs[THREADS];
  int i;
  atomic_store(&borns, 0);
  o.max_instances = 2;
  p = open_pool(h, "pool_born.wasm", &o);
  PKT_EQ_INT(atomic_load(&borns), 1); /* the open's instance */
  f = func(h, p, "sum", "(i32,i32)->i32");
  memset(jobs, 0, sizeof jobs);
  for (i = 0; i < THREADS; i++) {
    jobs[i].f = f;
    jobs[i].id = i + 1;
    jobs[i].calls = CALLS / 10;
  }
  run_threads(sum_thread, jobs, THREADS);
  PKT_ASSERT(atomic_load(&borns) >= 1);
  PKT_ASSERT(atomic_load(&borns) <= 2);
  pk_plugin_close(p);
  ts_host_done(h);
}

typedef struct call_job {
  pk_host *h;
  pk_func *f;
  pk_val in[2];
  int nin;
  int rc;
  pk_val out;
  char msg[512];
} call_job;

/* One call on a thread of its own. */
static void *one_call(void *arg) {
  call_job *c = arg;
  c->rc = pk_func_call(c->f, c->in, (size_t)c->nin, &c->out, 1);
  snprintf(c->msg, sizeof c->msg, "%s", pk_host_errmsg(c->h));
  return NULL;
}

static void call_on_thread(call_job *c) {
  pthread_t t;
  PKT_ASSERT(pthread_create(&t, NULL, one_call, c) == 0);
  pthread_join(t, NULL);
}

/* ---- the jit tier ------------------------------------------------------------ */

/* sum_8_threads on the jit tier: one module's code, an instance (and
   its compiled code's context) per thread. */
PK_TEST(sum_8_threads_jit) { sum_many_on("pool_born.wasm", "jit"); }

/* A compiled init that calls a host function runs again in each new
   instance (no image of the first one), as on the interpreter: the
   engine counts the host calls compiled code makes. */
PK_TEST(init_per_instance_jit) {
  pk_host *h = ts_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *f;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
  call_job c;
  atomic_store(&borns, 0);
  o.max_instances = 2;
  o.tier = "jit";
  p = open_pool(h, "pool_born.wasm", &o);
  PKT_EQ_INT(atomic_load(&borns), 1); /* the open's instance */
  f = func(h, p, "sum", "(i32,i32)->i32");
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK); /* holds instance 1 */
  PKT_EQ_INT(out.i32, 3);
  memset(&c, 0, sizeof c);
  c.h = h;
  c.f = f;
  c.in[0] = PK_I32(4);
  c.in[1] = PK_I32(5);
  c.nin = 2;
  call_on_thread(&c); /* a second instance, which runs init */
  PKT_EQ_INT(c.rc, PK_OK);
  PKT_EQ_INT(c.out.i32, 9);
  PKT_EQ_INT(atomic_load(&borns), 2);
  pk_plugin_close(p);
  ts_host_done(h);
}

/* The init of a new pool instance fails (born refuses every instance
   after the first): the call that needed it fails with PK_EINIT and a
   message in the "init" phase; the first instance still serves. */
PK_TEST(pool_instance_init_fails) {
  pk_host *h = ts_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *f;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
  call_job c;
  atomic_store(&borns, 0);
  born_fail_after = 1;
  o.max_instances = 4;
  p = open_pool(h, "pool_born.wasm", &o);
  f = func(h, p, "sum", "(i32,i32)->i32");
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK); /* holds instance 1 */
  PKT_EQ_INT(out.i32, 3);
  memset(&c, 0, sizeof c);
  c.h = h;
  c.f = f;
  c.in[0] = PK_I32(1);
  c.in[1] = PK_I32(2);
  c.nin = 2;
  call_on_thread(&c); /* needs a second instance */
  PKT_EQ_INT(c.rc, PK_EINIT);
  PKT_CONTAINS(c.msg, "init");
  PKT_CONTAINS(c.msg, "born refused this instance");
  born_fail_after = -1;
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 3);
  pk_plugin_close(p);
  ts_host_done(h);
}

/* ---- waiting for an instance ------------------------------------------------ */

/* Until n calls are in hold (10 s at most). */
static void wait_holding(long n) {
  int i;
  for (i = 0; i < 10000 && atomic_load(&holding) < n; i++) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  PKT_EQ_INT(atomic_load(&holding), n);
}

static void *hold_thread(void *arg) {
  call_job *c = arg;
  c->rc = pk_func_call(c->f, NULL, 0, &c->out, 1);
  return NULL;
}

/* Thread t calls fhold (()->i32, into the host function hold) and so
   holds an instance until release_hold is 1; returns once it does. */
static void start_holder(pk_host *h, pk_func *fhold, call_job *c,
                         pthread_t *t) {
  memset(c, 0, sizeof *c);
  c->h = h;
  c->f = fhold;
  atomic_store(&holding, 0);
  atomic_store(&release_hold, 0);
  PKT_ASSERT(pthread_create(t, NULL, hold_thread, c) == 0);
  wait_holding(1);
}

/* max_instances = 1, its instance busy in a call (blocked in a host
   function): a call from another thread waits for it until
   call_timeout_ms and fails with PK_ETIMEOUT, naming max_instances. */
PK_TEST(wait_for_instance_times_out) {
  pk_host *h = ts_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *fhold, *fsum;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
  call_job c;
  pthread_t t;
  o.max_instances = 1;
  o.call_timeout_ms = 200;
  p = open_pool(h, "pool.wasm", &o);
  fhold = func(h, p, "hold", "()->i32");
  fsum = func(h, p, "sum", "(i32,i32)->i32");
  start_holder(h, fhold, &c, &t);
  PKT_RC(h, pk_func_call(fsum, in, 2, &out, 1), PK_ETIMEOUT);
  PKT_CONTAINS(pk_host_errmsg(h), "max_instances");
  atomic_store(&release_hold, 1);
  pthread_join(t, NULL);
  /* The held call ran past its own deadline in the host function: it
     returns, or times out when the guest resumes. */
  PKT_ASSERT(c.rc == PK_OK || c.rc == PK_ETIMEOUT);
  PKT_RC(h, pk_func_call(fsum, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 3);
  pk_plugin_close(p);
  ts_host_done(h);
}

/* A lane gives its instance to another thread and gets another one: its
   thread's next call runs in the instance the lane holds now, not the
   one it had (which the other thread is in): what a function keeps per
   thread to skip the lane lookup (pk_func.solo) follows the instance.
   max_instances = 2: this thread bumps twice in the open's instance X;
   B holds a new one, Y; C, with none free, takes X from this thread's
   idle lane and holds it; B returns; this thread's next bumps take Y from
   B's idle lane and count 1, 2 there (X would count 3). */
PK_TEST(instance_moves_between_lanes) {
  pk_host *h = ts_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *fbump, *fhold;
  pk_val out;
  call_job b, c;
  pthread_t tb, tc;
  o.max_instances = 2;
  p = open_pool(h, "pool.wasm", &o);
  fbump = func(h, p, "bump", "()->i32");
  fhold = func(h, p, "hold", "()->i32");
  PKT_RC(h, pk_func_call(fbump, NULL, 0, &out, 1), PK_OK);
  PKT_RC(h, pk_func_call(fbump, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 2); /* X */
  memset(&b, 0, sizeof b);
  b.h = h;
  b.f = fhold;
  c = b;
  atomic_store(&holding, 0);
  atomic_store(&release_hold, 0);
  PKT_ASSERT(pthread_create(&tb, NULL, hold_thread, &b) == 0);
  wait_holding(1); /* B in Y */
  PKT_ASSERT(pthread_create(&tc, NULL, hold_thread, &c) == 0);
  wait_holding(2); /* C in X */
  atomic_store(&release_hold, 1);
  pthread_join(tb, NULL);
  PKT_EQ_INT(b.rc, PK_OK);
  /* The first call takes Y (the slow path), the next ones run where the
     first left the function's per-thread state: in Y (X would say 3). */
  PKT_RC(h, pk_func_call(fbump, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 1);
  PKT_RC(h, pk_func_call(fbump, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 2);
  atomic_store(&release_hold, 2);
  pthread_join(tc, NULL);
  PKT_EQ_INT(c.rc, PK_OK);
  pk_plugin_close(p);
  ts_host_done(h);
}

/* ---- state per instance ----------------------------------------------------- */

static void *bump_thread(void *arg) {
  job *j = arg;
  long i;
  pthread_barrier_wait(&start);
  for (i = 0; i < j->calls; i++) {
    pk_val out;
    int rc = pk_func_call(j->f, NULL, 0, &out, 1);
    if (rc != PK_OK) {
      if (j->bad++ == 0)
        snprintf(j->why, sizeof j->why, "call %ld: %s", i, pk_errname(rc));
      continue;
    }
    if (i == 0)
      j->first = out.i32;
    else if (out.i32 != j->last + 1 && j->bad++ == 0)
      snprintf(j->why, sizeof j->why, "call %ld: %d after %d", i, out.i32,
               j->last);
    j->last = out.i32;
  }
  pthread_barrier_wait(&finish);
  return NULL;
}

/* Two threads (max_instances 2) each calling bump: each thread keeps its
   instance, whose counter only it moves (1, 2, 3, ... on one thread and
   on the other), and each instance is in the state after init. */
static void state_per_instance(const char *file) {
  pk_host *h = ts_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *f, *finited;
  job jobs[2];
  call_job c;
  int i;
  o.max_instances = 2;
  p = open_pool(h, file, &o);
  f = func(h, p, "bump", "()->i32");
  finited = func(h, p, "inited", "()->i32");
  memset(jobs, 0, sizeof jobs);
  for (i = 0; i < 2; i++) {
    jobs[i].f = f;
    jobs[i].calls = 1000;
  }
  run_threads(bump_thread, jobs, 2);
  for (i = 0; i < 2; i++) {
    PKT_EQ_INT(jobs[i].first, 1);
    PKT_EQ_INT(jobs[i].last, 1000);
  }
  /* A new thread gets one of the two instances (the cap): its counter
     goes on from 1000; init ran once in it. */
  memset(&c, 0, sizeof c);
  c.h = h;
  c.f = f;
  call_on_thread(&c);
  PKT_EQ_INT(c.rc, PK_OK);
  PKT_EQ_INT(c.out.i32, 1001);
  c.f = finited;
  call_on_thread(&c);
  PKT_EQ_INT(c.rc, PK_OK);
  PKT_EQ_INT(c.out.i32, 1);
  pk_plugin_close(p);
  ts_host_done(h);
}

PK_TEST(state_per_instance_from_image) { state_per_instance("pool.wasm"); }
PK_TEST(state_per_instance_init_per_instance) {
  state_per_instance("pool_born.wasm");
}

/* ---- reset_after_call -------------------------------------------------------- */

typedef struct reset_fns {
  pk_func *bump, *poke, *grow, *remember, *inited;
} reset_fns;

static void *reset_thread(void *arg) {
  job *j = arg;
  const reset_fns *r = (const reset_fns *)(const void *)j->f;
  long i;
  int32_t pages0 = -1;
  pthread_barrier_wait(&start);
  for (i = 0; i < j->calls; i++) {
    pk_val out, in[2] = {PK_I32((int32_t)(i % 8)), PK_I32((int32_t)i + 1)};
    pk_val s = PK_STR("state", 5);
    int rc;
    /* The counter reads 1 after every call: the global went back. */
    if ((rc = pk_func_call(r->bump, NULL, 0, &out, 1)) != PK_OK ||
        out.i32 != 1)
      goto bad;
    /* The page written by the last call is back to its zeros. */
    if ((rc = pk_func_call(r->poke, in, 2, &out, 1)) != PK_OK || out.i32 != 0)
      goto bad;
    /* Memory grown by a call shrinks back: the same size every time. */
    if ((rc = pk_func_call(r->grow, NULL, 0, &out, 1)) != PK_OK ||
        (pages0 >= 0 && out.i32 != pages0))
      goto bad;
    pages0 = out.i32;
    /* A string kept by a call is gone; the result (copied out of the
       instance before the reset) reads right. */
    if ((rc = pk_func_call(r->remember, &s, 1, &out, 1)) != PK_OK ||
        out.str.len != 0)
      goto bad;
    if ((rc = pk_func_call(r->inited, NULL, 0, &out, 1)) != PK_OK ||
        out.i32 != 1)
      goto bad;
    continue;
  bad:
    if (j->bad++ == 0)
      snprintf(j->why, sizeof j->why, "call %ld: %s, %d", i, pk_errname(rc),
               out.i32);
  }
  pthread_barrier_wait(&finish);
  return NULL;
}

static void reset_after_call(const char *file, int threads) {
  pk_host *h = ts_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  reset_fns r;
  job jobs[THREADS];
  int i;
  o.reset_after_call = 1;
  p = open_pool(h, file, &o);
  r.bump = func(h, p, "bump", "()->i32");
  r.poke = func(h, p, "poke", "(i32,i32)->i32");
  r.grow = func(h, p, "grow", "()->i32");
  r.remember = func(h, p, "remember", "(str)->str");
  r.inited = func(h, p, "inited", "()->i32");
  memset(jobs, 0, sizeof jobs);
  for (i = 0; i < threads; i++) {
    jobs[i].f = (pk_func *)(void *)&r;
    jobs[i].calls = CALLS / 100;
  }
  run_threads(reset_thread, jobs, threads);
  pk_plugin_close(p);
  ts_host_done(h);
}

/* reset_after_call: after every call the instance is as init left it
   (counter, written pages, memory size, a kept string), on one thread
   and on several, with instances from the image and with their own
   init. */
PK_TEST(reset_after_call_one_thread) { reset_after_call("pool.wasm", 1); }
PK_TEST(reset_after_call_threads) { reset_after_call("pool.wasm", THREADS); }
PK_TEST(reset_after_call_init_per_instance) {
  reset_after_call("pool_born.wasm", 4);
}

/* Without reset_after_call the same calls do carry state: the checks
   above can fail. */
PK_TEST(no_reset_keeps_state) {
  pk_host *h = ts_host();
  pk_plugin *p = open_pool(h, "pool.wasm", NULL);
  pk_func *bump = func(h, p, "bump", "()->i32");
  pk_func *poke = func(h, p, "poke", "(i32,i32)->i32");
  pk_func *grow = func(h, p, "grow", "()->i32");
  pk_func *rem = func(h, p, "remember", "(str)->str");
  pk_val out, in[2] = {PK_I32(3), PK_I32(42)}, s = PK_STR("state", 5);
  int32_t pages;
  PKT_RC(h, pk_func_call(bump, NULL, 0, &out, 1), PK_OK);
  PKT_RC(h, pk_func_call(bump, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 2);
  PKT_RC(h, pk_func_call(poke, in, 2, &out, 1), PK_OK);
  PKT_RC(h, pk_func_call(poke, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 42);
  PKT_RC(h, pk_func_call(grow, NULL, 0, &out, 1), PK_OK);
  pages = out.i32;
  PKT_RC(h, pk_func_call(grow, NULL, 0, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, pages + 1);
  PKT_RC(h, pk_func_call(rem, &s, 1, &out, 1), PK_OK);
  PKT_RC(h, pk_func_call(rem, &s, 1, &out, 1), PK_OK);
  PKT_STRN_EQ(out.str.ptr, out.str.len, "state");
  pk_plugin_close(p);
  ts_host_done(h);
}

/* ---- an instance another thread takes between two calls ------------------ */

/* max_instances = 1. This thread's second call of remember returns what
   the first kept ("AAAAAAAA"), a result valid until this thread's next
   call on the plugin. Another thread then calls remember: no instance is
   free, so it takes this thread's (its lane is idle) and runs there: the
   pending post-return frees the result's guest memory and the new call
   writes it. This thread's result still reads "AAAAAAAA": it was copied
   out of guest memory. */
PK_TEST(taken_instance_keeps_results) {
  pk_host *h = ts_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *rem;
  pk_val out, a = PK_STR("AAAAAAAA", 8), b = PK_STR("BBBBBBBB", 8);
  call_job c;
  o.max_instances = 1;
  p = open_pool(h, "pool.wasm", &o);
  rem = func(h, p, "remember", "(str)->str");
  PKT_RC(h, pk_func_call(rem, &a, 1, &out, 1), PK_OK);
  PKT_RC(h, pk_func_call(rem, &b, 1, &out, 1), PK_OK);
  PKT_EQ_INT((int)out.str.len, 8);
  PKT_ASSERT(memcmp(out.str.ptr, "AAAAAAAA", 8) == 0);
  memset(&c, 0, sizeof c);
  c.h = h;
  c.f = rem;
  c.in[0] = PK_STR("CCCCCCCC", 8);
  c.nin = 1;
  call_on_thread(&c); /* takes this thread's instance */
  PKT_EQ_INT(c.rc, PK_OK);
  PKT_EQ_INT((int)c.out.str.len, 8);
  PKT_EQ_INT((int)out.str.len, 8);
  PKT_ASSERT(memcmp(out.str.ptr, "AAAAAAAA", 8) == 0);
  pk_plugin_close(p);
  ts_host_done(h);
}

/* ---- a host function that init calls calls the plugin back --------------- */

static atomic_int born_calls_back, born_cb_rc;
static char born_cb_msg[512];

/* "born" for pool_born.wasm's init, which calls the plugin's own "sum"
   first: an instance takes calls once its init has returned, so that
   call fails with PK_EINIT (and init goes on). */
static int host_born_calls_back(void *ud, pk_plugin *caller,
                                const pk_val *args, pk_val *results) {
  (void)args;
  if (atomic_load(&born_calls_back)) {
    pk_func *f = NULL;
    pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
    int rc = pk_plugin_func(caller, "sum", "(i32,i32)->i32", &f);
    if (rc == PK_OK)
      rc = pk_func_call(f, in, 2, &out, 1);
    snprintf(born_cb_msg, sizeof born_cb_msg, "%s",
             pk_host_errmsg((pk_host *)ud));
    atomic_store(&born_cb_rc, rc);
  }
  results[0] = PK_I32(0);
  return PK_OK;
}

static pk_host *born_cb_host(void) {
  pk_host_opts o = PK_HOST_OPTS_INIT;
  pk_host *h = NULL;
  o.alloc = ts_alloc;
  if (pk_host_create(&o, &h) != PK_OK)
    pkt_fail(__FILE__, __LINE__, "pk_host_create failed");
  PKT_RC(h,
         pk_host_define(h, "born", "()->i32", host_born_calls_back, h),
         PK_OK);
  atomic_store(&born_cb_rc, 1);
  born_cb_msg[0] = '\0';
  return h;
}

/* The init of an instance the pool makes for a second thread. */
PK_TEST(call_back_from_pool_init) {
  pk_host *h = born_cb_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *f;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
  call_job c;
  o.max_instances = 2;
  p = open_pool(h, "pool_born.wasm", &o);
  f = func(h, p, "sum", "(i32,i32)->i32");
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK); /* holds instance 1 */
  atomic_store(&born_calls_back, 1);
  memset(&c, 0, sizeof c);
  c.h = h;
  c.f = f;
  c.in[0] = PK_I32(4);
  c.in[1] = PK_I32(5);
  c.nin = 2;
  call_on_thread(&c); /* a second instance, whose init calls back */
  atomic_store(&born_calls_back, 0);
  PKT_EQ_INT(atomic_load(&born_cb_rc), PK_EINIT);
  PKT_CONTAINS(born_cb_msg, "during the init of the instance");
  PKT_EQ_INT(c.rc, PK_OK);
  PKT_EQ_INT(c.out.i32, 9);
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 3);
  pk_plugin_close(p);
  ts_host_done(h);
}

/* The init the open runs. */
PK_TEST(call_back_from_open_init) {
  pk_host *h = born_cb_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *f;
  pk_val in[2] = {PK_I32(1), PK_I32(2)}, out;
  atomic_store(&born_calls_back, 1);
  p = open_pool(h, "pool_born.wasm", &o);
  atomic_store(&born_calls_back, 0);
  PKT_EQ_INT(atomic_load(&born_cb_rc), PK_EINIT);
  PKT_CONTAINS(born_cb_msg, "during the init of the instance");
  f = func(h, p, "sum", "(i32,i32)->i32");
  PKT_RC(h, pk_func_call(f, in, 2, &out, 1), PK_OK);
  PKT_EQ_INT(out.i32, 3);
  pk_plugin_close(p);
  ts_host_done(h);
}

/* ---- call_timeout_ms bounds the whole call --------------------------------- */

/* Lets the held call go after 300 ms. */
static void *release_later(void *arg) {
  struct timespec ts = {0, 300000000};
  (void)arg;
  nanosleep(&ts, NULL);
  atomic_store(&release_hold, 1);
  return NULL;
}

/* max_instances = 1, call_timeout_ms = 400. Another thread holds the
   instance for 300 ms of this thread's call of spin(-1), which runs until
   a deadline stops it: the call's, 400 ms after it started (not 400 ms
   after it got the instance, 700 ms). The margins are wide: a late
   release makes the wait itself time out at 400 ms. */
PK_TEST(wait_counts_in_call_timeout) {
  pk_host *h = ts_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  pk_func *fhold, *fspin;
  pk_val in = PK_I32(-1), out;
  call_job c;
  pthread_t t, r;
  int64_t t0, took;
  int rc;
  o.max_instances = 1;
  o.call_timeout_ms = 400;
  p = open_pool(h, "pool.wasm", &o);
  fhold = func(h, p, "hold", "()->i32");
  fspin = func(h, p, "spin", "(i32)->i32");
  start_holder(h, fhold, &c, &t);
  PKT_ASSERT(pthread_create(&r, NULL, release_later, NULL) == 0);
  t0 = pkt_now_ms();
  rc = pk_func_call(fspin, &in, 1, &out, 1);
  took = pkt_now_ms() - t0;
  pthread_join(r, NULL);
  pthread_join(t, NULL);
  PKT_RC(h, rc, PK_ETIMEOUT);
  if (took >= 600)
    pkt_fail(__FILE__, __LINE__,
             "the call ran %lld ms: its deadline (400 ms) started when it "
             "got the instance, not when it was made",
             (long long)took);
  pk_plugin_close(p);
  ts_host_done(h);
}

/* ---- str results with more threads than instances --------------------- */

/* echo(s) = s, s naming the thread and the call; each result is checked
   again after a yield, before the thread's next call: until then it must
   hold, whatever the other threads ran meanwhile in the instance this
   thread last used. */
static void *echo_thread(void *arg) {
  job *j = arg;
  long i;
  pthread_barrier_wait(&start);
  for (i = 0; i < j->calls; i++) {
    char want[64];
    pk_val in, out;
    int n = snprintf(want, sizeof want, "thread %d, call %ld", j->id, i);
    int rc;
    in = (pk_val)PK_STR(want, (size_t)n);
    rc = pk_func_call(j->f, &in, 1, &out, 1);
    sched_yield();
    if (rc != PK_OK || out.type != PK_T_STR || out.str.len != (size_t)n ||
        memcmp(out.str.ptr, want, (size_t)n) != 0) {
      if (j->bad++ == 0)
        snprintf(j->why, sizeof j->why, "call %ld: %s, '%.*s'", i,
                 pk_errname(rc), rc == PK_OK ? (int)out.str.len : 0,
                 rc == PK_OK ? out.str.ptr : "");
    }
  }
  pthread_barrier_wait(&finish);
  return NULL;
}

/* 8 threads, 2 instances: instances move between lanes all the time. */
PK_TEST(str_results_8_threads_2_instances) {
  pk_host *h = ts_host();
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin *p;
  job jobs[THREADS];
  int i;
  o.max_instances = 2;
  p = open_pool(h, "pool.wasm", &o);
  memset(jobs, 0, sizeof jobs);
  for (i = 0; i < THREADS; i++) {
    jobs[i].f = func(h, p, "echo", "(str)->str");
    jobs[i].id = i + 1;
    jobs[i].calls = CALLS / 10;
  }
  run_threads(echo_thread, jobs, THREADS);
  pk_plugin_close(p);
  ts_host_done(h);
}
