/*
 * process.c: plugins in a child process, spoken to over the plugin
 * protocol (docs/protocol.md, sdk/c/pk_wire.c).
 *
 * The child is either the plugin itself (an executable linked with the
 * SDK's serve loop, or a script such as a Python plugin) or
 * plugkit-runner, which loads any plugin libplugkit reads (a .so, a .wasm)
 * and serves it. Each call is one CALL frame and, in the end, one RESULT
 * or ERROR frame; in between the child may log (LOG, answered by ACK) and
 * call host functions (HOSTCALL, answered by HOSTRET), and those host
 * functions may call back into the plugin, so the host's wait loop is
 * re-entrant.
 *
 * Faults: a child that dies shows as a socket hang-up (PK_ECRASH, with the
 * status from waitpid in the message); a call not answered by its
 * deadline (call_timeout_ms from the call's start, whatever LOG and
 * HOSTCALL traffic came in between) as PK_ETIMEOUT; a malformed frame as
 * PK_EPROTO. In the last two cases the child is killed. It is always
 * reaped, and its descriptors and mapping are released, before the call
 * returns. Nesting (host function -> plugin -> host function ...) is
 * capped by the core (pk__hostfn_call, PK__MAX_NESTING).
 *
 * Limits (the vtable says PK__LIM_SELF): the host enforces the deadline
 * and the child options, per child; plugkit-runner passes max_memory,
 * fuel, fs_root, validate_all and reset_after_call to the inner backend,
 * so those hold exactly when that backend enforces them; proc_open
 * checks that (check_limits).
 *
 * Threads: every child is an instance of the core's pool (core.h). The
 * open starts the first; inst_new starts another for a thread that finds
 * every child busy, up to max_instances. What the children share
 * (proc_shared: argv, environment, options) is written at open and only
 * read afterwards; everything about one child (proc_state) is used by
 * the one thread the core gave it to, so no call takes a lock. Children
 * are forked by the main thread or by the spawner thread (spawn()).
 *
 * This file is POSIX (fork, socketpair, memfd, futex via pk_wire.c): the
 * backend is only built where those exist (backend.cmake).
 */
#define _GNU_SOURCE
#include "../core/core.h"
#include "../os/os.h"
#include "pk_wire.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* The slot carries frames up to this size; larger ones use the socket. */
#define SLOT_CAP (64u * 1024u)
#define HANDSHAKE_MS 10000
#define CLOSE_GRACE_MS 1000
#define LIVENESS_MS 100
#define STDERR_BUDGET (64u * 1024u) /* bytes read per drain_stderr */
#define BACKOFF_MAX_NS 2000000000ull

/* What every child of a plugin shares: built once at open, read-only
   afterwards (calls on several threads read it at once, unlocked). */
typedef struct proc_shared {
  char label[32]; /* "process:<inner backend>" under plugkit-runner */
  /* Options. */
  int timeout_ms, restart, socket_only, spin_ns;
  unsigned harden;
  uint32_t limit_files, limit_cpu;
  uint64_t limit_mem;
  /* How to start a child: argv and env. */
  char **argv;
  char **envp;
  int use_path; /* argv[0] is looked up in PATH (python3) */
  int runner;   /* the child is plugkit-runner */
} proc_shared;

/*
 * One child: an instance of the pool (core.h). The core hands it to one
 * thread at a time, so nothing here is locked; its restart policy, its
 * deadline and its stderr are its own.
 */
typedef struct proc_state {
  const proc_shared *sh;
  pk__lane *lane; /* the lane of the call running in it (p->olane in
                     open and close) */
  pid_t pid; /* 0: no child */
  int sock;  /* -1: none */
  int errfd; /* read end of the child's stderr, -1: none */
  void *shm;
  size_t shm_size;
  pk__chan chan;
  int chan_ready;
  int depth; /* nesting of calls being served */
  uint64_t deadline; /* of the outermost call (pk__wire_now_ns), 0: none */
  uint64_t hs_deadline; /* of the last handshake (same clock) */
  /* Restart policy. */
  uint64_t next_start_ns, backoff_ns;
  char deadmsg[512]; /* why the child is gone, for later calls */
  int deadcode;      /* and the error that ended it */
  int refused;       /* the handshake ended with the plugin's ERROR */
  /* A partial stderr line. */
  char errline[512];
  size_t errlen;
  char lastline[160]; /* the last complete line, for crash messages */
} proc_state;

static void *host_grow(void *ud, void *p, size_t n) {
  return pk__realloc(ud, p, n);
}

/* ---- stderr lines to the log sink --------------------------------------- */

static void emit_line(pk_plugin *p, proc_state *st) {
  if (st->errlen > 0)
    pk__plugin_log(p, PK_LOG_WARN, st->errline, st->errlen);
  if (st->errlen > 0)
    snprintf(st->lastline, sizeof st->lastline, "%.*s", (int)st->errlen,
             st->errline);
  st->errlen = 0;
}

/*
 * Read what the child wrote to stderr; `all`: also flush a partial line.
 * At most STDERR_BUDGET bytes per drain: a child (or a process it forked,
 * holding the pipe) that keeps stderr full would otherwise keep the host
 * here past any deadline; the rest waits for the next drain, and the
 * waits check the deadline in between (recv_frame). At EOF the pipe is
 * closed, so the waits stop polling it: a hung-up pipe is always ready.
 */
static void drain_stderr(pk_plugin *p, proc_state *st, int all) {
  char buf[4096];
  ssize_t k, i;
  size_t got = 0;
  while (st->errfd >= 0 && got < STDERR_BUDGET) {
    k = read(st->errfd, buf, sizeof buf);
    if (k < 0 && errno == EINTR)
      continue;
    if (k == 0) {
      close(st->errfd);
      st->errfd = st->chan.extra_fd = -1;
    }
    if (k <= 0)
      break;
    got += (size_t)k;
    for (i = 0; i < k; i++) {
      if (buf[i] == '\n' || st->errlen == sizeof st->errline)
        emit_line(p, st);
      if (buf[i] != '\n')
        st->errline[st->errlen++] = buf[i];
    }
  }
  if (all)
    emit_line(p, st);
}

/* ---- child lifetime ----------------------------------------------------- */

static void describe_status(int status, char *buf, size_t cap) {
  if (WIFSIGNALED(status))
    snprintf(buf, cap, "killed by signal %d (%s)", WTERMSIG(status),
             strsignal(WTERMSIG(status)));
  else if (WIFEXITED(status))
    snprintf(buf, cap, "exited with status %d", WEXITSTATUS(status));
  else
    snprintf(buf, cap, "ended with wait status %#x", status);
}

/* The child ended (a zombie, not reaped): 1, else 0 (or -1: no such
   child). Without reaping it, so that its pid, which names its process
   group, is not free for another process yet. */
static int child_ended(pid_t pid) {
  siginfo_t si;
  for (;;) {
    si.si_pid = 0;
    if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0)
      return si.si_pid == pid;
    if (errno != EINTR)
      return -1;
  }
}

/*
 * Wait up to `ms` for the child to end, then SIGKILL it; always reaps.
 * The child leads a process group of its own (child_exec): once it has
 * ended, and before it is reaped, the processes it left in that group
 * are killed, so that close leaves none of the plugin's processes
 * behind (one that left the group, by setsid or setpgid, is its own).
 */
static int reap(proc_state *st, int ms, int *out_status) {
  int status = 0, killed = 0, pidfd = -1, ended;
  uint64_t end = pk__wire_now_ns() + (uint64_t)ms * 1000000u;
#ifdef SYS_pidfd_open
  /* A pidfd becomes readable when the child exits: no polling delay.
     Kernels before 5.3 lack it; then we sleep in short steps. */
  pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
#endif
  while ((ended = child_ended(st->pid)) == 0) {
    uint64_t now = pk__wire_now_ns();
    if (!killed && now >= end) {
      kill(st->pid, SIGKILL);
      killed = 1;
    }
    if (pidfd >= 0) {
      struct pollfd pf = {pidfd, POLLIN, 0};
      poll(&pf, 1, killed ? 100 : (int)((end - now) / 1000000u) + 1);
    } else {
      struct timespec ts = {0, killed ? 1000000 : 200000};
      nanosleep(&ts, NULL);
    }
  }
  if (pidfd >= 0)
    close(pidfd);
  if (ended > 0) {
    kill(-st->pid, SIGKILL);
    while (waitpid(st->pid, &status, 0) < 0 && errno == EINTR)
      ;
  }
  st->pid = 0;
  *out_status = status;
  return killed;
}

/* Release everything about the current child (it must be reaped). */
static void drop_child(pk_plugin *p, proc_state *st) {
  drain_stderr(p, st, 1);
  if (st->chan_ready)
    pk__chan_fini(&st->chan);
  st->chan_ready = 0;
  if (st->sock >= 0)
    close(st->sock);
  if (st->errfd >= 0)
    close(st->errfd);
  if (st->shm != NULL)
    munmap(st->shm, st->shm_size);
  st->sock = st->errfd = -1;
  st->shm = NULL;
}

/*
 * The child failed with `code`: kill it unless it is already dying, reap
 * it, release it, and report. The message keeps the status.
 */
static int child_failed(pk_plugin *p, proc_state *st, int code,
                        const char *what) {
  char how[128];
  int status = 0;
  pid_t pid = st->pid;
  if (pid > 0) {
    if (code != PK_ECRASH)
      kill(pid, SIGKILL);
    reap(st, code == PK_ECRASH ? 1000 : 0, &status);
    describe_status(status, how, sizeof how);
  } else {
    snprintf(how, sizeof how, "no process");
  }
  drop_child(p, st); /* reads what stderr still holds */
  snprintf(st->deadmsg, sizeof st->deadmsg,
           "%s%splugin process %d %s: %s%s%s%s", what ? what : "",
           what ? "; " : "", (int)pid,
           code == PK_ECRASH ? "died" : "was killed", how,
           st->lastline[0] ? " (its last words: \"" : "", st->lastline,
           st->lastline[0] ? "\")" : "");
  st->deadcode = code;
  return pk__perr(p, code, "%s", st->deadmsg);
}

/* End the child without touching the host's message (the caller set
   it): a READY frame the core refused. */
static void child_kill(pk_plugin *p, proc_state *st) {
  int status;
  if (st->pid > 0) {
    kill(st->pid, SIGKILL);
    reap(st, 0, &status);
  }
  drop_child(p, st);
  snprintf(st->deadmsg, sizeof st->deadmsg, "plugin process failed to start");
  st->deadcode = PK_EPROTO;
}

/*
 * A Python plugin imports the SDK's plugkit_plugin module: its folder goes
 * first on the child's PYTHONPATH (then the host's PYTHONPATH, unless the
 * environment is cleared). The folder is the source tree's while this
 * library runs from the build tree, else the install's, found relative to
 * the library (PK_PYTHON_FROM_LIB), else where it was installed. *out is
 * NULL when none exists (the plugin may bring the module itself).
 */
static int python_path(pk_plugin *p, int cleared, char **out) {
  char dir[4096];
  const char *old = cleared ? NULL : getenv("PYTHONPATH");
  size_t n;
  char *s;
  if (pk__install_path(PK_PYTHON_SDK_PATH, PK_PYTHON_FROM_LIB, dir,
                       sizeof dir) < 0 ||
      access(dir, R_OK) != 0) {
    snprintf(dir, sizeof dir, "%s", PK_PYTHON_INSTALL_PATH);
    if (access(dir, R_OK) != 0)
      return PK_OK;
  }
  n = sizeof "PYTHONPATH=" + strlen(dir) + (old ? 1 + strlen(old) : 0);
  if ((s = pk__alloc(p->host, n)) == NULL)
    return PK_ENOMEM;
  snprintf(s, n, "PYTHONPATH=%s%s%s", dir, old ? ":" : "", old ? old : "");
  *out = s;
  return PK_OK;
}

/* A copy of "<prefix><value>" into argv[(*a)++]. */
static int add_arg(pk_plugin *p, char **argv, size_t *a, const char *prefix,
                   const char *value) {
  size_t n = strlen(prefix) + strlen(value) + 1;
  if ((argv[*a] = pk__alloc(p->host, n)) == NULL)
    return PK_ENOMEM;
  snprintf(argv[(*a)++], n, "%s%s", prefix, value);
  return PK_OK;
}

/*
 * The wasm execution tier, for plugkit-runner: --tier, and the artifact
 * of the aot tier, which the child reads and checks itself while it
 * loads the plugin (its seccomp filter still allows read-only opens
 * then): --aot=FILE, or, for the cache, --cache-home=DIR, this
 * process's cache base ($XDG_CACHE_HOME, else ~/.cache): a child with
 * a cleared environment (harden bit 2) has neither variable.
 */
static int tier_args(pk_plugin *p, const pk_open_opts *o, char **argv,
                     size_t *a) {
  char dir[4096];
  size_t n, k = sizeof "/plugkit" - 1;
  int rc;
  if (o == NULL)
    return PK_OK;
  if (o->tier != NULL && (rc = add_arg(p, argv, a, "--tier=", o->tier)) < 0)
    return rc;
  if (o->aot_path != NULL)
    return add_arg(p, argv, a, "--aot=", o->aot_path);
  if (o->tier == NULL ||
      (strcmp(o->tier, "aot") != 0 && strcmp(o->tier, "auto") != 0))
    return PK_OK;
  /* No cache directory here: none in the child either (its open says
     so). */
  if (pk__os_cache_dir(dir, sizeof dir) != 0 || (n = strlen(dir)) <= k ||
      strcmp(dir + n - k, "/plugkit") != 0)
    return PK_OK;
  dir[n - k] = '\0';
  return add_arg(p, argv, a, "--cache-home=", dir);
}

/* Build argv and envp once: the child is started again on restarts. */
static int prepare_exec(pk_plugin *p, proc_shared *sh, const char *runner) {
  static const char *const keep[] = {"PATH=", "LD_LIBRARY_PATH=",
                                     "ASAN_OPTIONS=", "UBSAN_OPTIONS=",
                                     "LSAN_OPTIONS=", NULL};
  size_t n = 0, i, k = 0, j;
  char spin[64];
  const char *ext = strrchr(p->path, '.');
  const char *inner = p->inner_backend;
  char *pypath = NULL;
  int py = 0, rc;

  if ((sh->argv = pk__alloc(p->host, 16 * sizeof *sh->argv)) == NULL)
    return PK_ENOMEM;
  memset(sh->argv, 0, 16 * sizeof *sh->argv);
  if (runner != NULL) {
    /* The inner backend's own options travel as arguments (tools/runner.c):
       under isolation a wasm plugin keeps its memory cap, fuel and files. */
    const pk_open_opts *o = p->opts;
    char opt[64];
    size_t a = 3;
    sh->argv[0] = pk__strdup(p->host, runner);
    sh->argv[1] = pk__strdup(p->host, inner ? inner : "auto");
    sh->argv[2] = pk__strdup(p->host, p->path);
    if (!sh->argv[0] || !sh->argv[1] || !sh->argv[2])
      return PK_ENOMEM;
    if (o != NULL && o->max_memory != 0) {
      snprintf(opt, sizeof opt, "--max-memory=%llu",
               (unsigned long long)o->max_memory);
      if ((sh->argv[a++] = pk__strdup(p->host, opt)) == NULL)
        return PK_ENOMEM;
    }
    if (o != NULL && o->fuel != 0) {
      snprintf(opt, sizeof opt, "--fuel=%llu", (unsigned long long)o->fuel);
      if ((sh->argv[a++] = pk__strdup(p->host, opt)) == NULL)
        return PK_ENOMEM;
    }
    if (o != NULL && o->validate_all != 0 &&
        (sh->argv[a++] = pk__strdup(p->host, "--validate-all")) == NULL)
      return PK_ENOMEM;
    if (o != NULL && o->reset_after_call != 0 &&
        (sh->argv[a++] = pk__strdup(p->host, "--reset-after-call")) == NULL)
      return PK_ENOMEM;
    if (o != NULL && o->fs_root != NULL) {
      size_t n2 = strlen(o->fs_root) + sizeof "--fs-root=";
      if ((sh->argv[a] = pk__alloc(p->host, n2)) == NULL)
        return PK_ENOMEM;
      snprintf(sh->argv[a++], n2, "--fs-root=%s", o->fs_root);
    }
    if ((rc = tier_args(p, o, sh->argv, &a)) < 0)
      return rc;
  } else if (ext != NULL && strcmp(ext, ".py") == 0) {
    sh->use_path = 1;
    sh->argv[0] = pk__strdup(p->host, "python3");
    sh->argv[1] = pk__strdup(p->host, p->path);
    if (!sh->argv[0] || !sh->argv[1])
      return PK_ENOMEM;
    py = 1;
  } else {
    if ((sh->argv[0] = pk__strdup(p->host, p->path)) == NULL)
      return PK_ENOMEM;
  }
  while (environ != NULL && environ[n] != NULL)
    n++;
  if ((sh->envp = pk__alloc(p->host, (n + 8) * sizeof *sh->envp)) == NULL)
    return PK_ENOMEM;
  memset(sh->envp, 0, (n + 8) * sizeof *sh->envp);
  if (py) {
    rc = python_path(p, sh->harden & 2, &pypath);
    if (rc < 0)
      return rc;
    if (pypath != NULL)
      sh->envp[k++] = pypath; /* freed with envp */
  }
  for (i = 0; i < n; i++) {
    if (strncmp(environ[i], "PLUGKIT_", 8) == 0 ||
        (pypath != NULL && strncmp(environ[i], "PYTHONPATH=", 11) == 0))
      continue;
    if (sh->harden & 2) { /* cleared: only what exec and sanitizers need */
      for (j = 0; keep[j] != NULL; j++)
        if (strncmp(environ[i], keep[j], strlen(keep[j])) == 0)
          break;
      if (keep[j] == NULL)
        continue;
    }
    if ((sh->envp[k++] = pk__strdup(p->host, environ[i])) == NULL)
      return PK_ENOMEM;
  }
  snprintf(spin, sizeof spin, PK__WIRE_SPIN_ENV "=%d", sh->spin_ns);
  if ((sh->envp[k++] = pk__strdup(
           p->host, PK__WIRE_COOKIE_ENV "=" PK__WIRE_COOKIE)) == NULL ||
      (sh->envp[k++] = pk__strdup(p->host, PK__WIRE_FD_ENV "=3")) == NULL ||
      (sh->envp[k++] = pk__strdup(p->host, spin)) == NULL)
    return PK_ENOMEM;
  if (!sh->socket_only &&
      (sh->envp[k++] = pk__strdup(p->host, PK__WIRE_SHM_ENV "=4")) == NULL)
    return PK_ENOMEM;
  if ((sh->harden & 4) &&
      (sh->envp[k++] = pk__strdup(p->host, "PLUGKIT_SECCOMP=1")) == NULL)
    return PK_ENOMEM;
  return PK_OK;
}

static void free_strv(pk_host *h, char **v) {
  size_t i;
  if (v == NULL)
    return;
  for (i = 0; v[i] != NULL; i++)
    pk__free(h, v[i]);
  pk__free(h, v);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child_exec(const proc_shared *sh, int sock, int memfd, int errw) {
  int s2, m2, n0, n2;
  struct rlimit rl;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  /* A process group of its own, which reap kills: what the plugin
     forks ends with it (spawn sets it too, from the parent's side). */
  setpgid(0, 0);
  /* Move ours above 4 first, so the dup2s below cannot clobber them. */
  s2 = fcntl(sock, F_DUPFD, 10);
  m2 = memfd >= 0 ? fcntl(memfd, F_DUPFD, 10) : -1;
  /* Standard input is /dev/null: the host's input is not the plugin's. */
  n0 = open("/dev/null", O_RDONLY | O_CLOEXEC);
  n2 = n0 >= 0 ? fcntl(n0, F_DUPFD_CLOEXEC, 10) : -1;
  if (s2 < 0 || n2 < 0 || dup2(n2, 0) < 0 || dup2(errw, 2) < 0 ||
      dup2(errw, 1) < 0 || dup2(s2, 3) < 0 || (m2 >= 0 && dup2(m2, 4) < 0))
    _exit(126);
#ifdef SYS_close_range
  syscall(SYS_close_range, m2 >= 0 ? 5u : 4u, ~0u, 0u);
#endif
  if (sh->limit_files) {
    rl.rlim_cur = rl.rlim_max = sh->limit_files;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (sh->limit_cpu) {
    rl.rlim_cur = rl.rlim_max = sh->limit_cpu;
    setrlimit(RLIMIT_CPU, &rl);
  }
  if (sh->limit_mem) {
    rl.rlim_cur = rl.rlim_max = sh->limit_mem;
    setrlimit(RLIMIT_AS, &rl);
  }
  if (sh->harden & 1)
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  if (sh->use_path)
    execvpe(sh->argv[0], sh->argv, sh->envp);
  else
    execve(sh->argv[0], sh->argv, sh->envp);
  {
    static const char msg[] = "plugkit: cannot execute the plugin\n";
    ssize_t k = write(2, msg, sizeof msg - 1);
    (void)k;
  }
  _exit(127);
}

/*
 * fork() for the calling thread. The child asks for SIGKILL when its
 * parent dies (PR_SET_PDEATHSIG), and for the kernel that parent is the
 * thread that forked, not the process: a child forked by a worker thread
 * would be killed when that thread exits, though the instance it serves
 * lives on in the pool (another thread's next call would find it dead).
 * So threads other than the main one (whose end is the process's) hand
 * the fork to the spawner: one thread per process, started at the first
 * such fork, living as long as the process, doing nothing but fork. The
 * calling thread waits for the pid. Returns it, or -errno.
 */
typedef struct spawn_req {
  const proc_shared *sh;
  int sock, memfd, errw;
  pid_t pid; /* the result: the child's pid, or -errno */
  int done;
  struct spawn_req *next;
} spawn_req;

static pthread_mutex_t spawn_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t spawn_cv = PTHREAD_COND_INITIALIZER; /* a request */
static pthread_cond_t spawn_done = PTHREAD_COND_INITIALIZER; /* a pid */
static spawn_req *spawn_queue;
static int spawner_state; /* 0: not started, 1: running, -1: cannot start */

static pid_t fork_child(const spawn_req *r) {
  pid_t pid = fork();
  if (pid == 0)
    child_exec(r->sh, r->sock, r->memfd, r->errw);
  if (pid < 0)
    return -errno;
  /* Here too, so that the group exists before the parent could kill it
     (EACCES once the child has run exec: it did so itself by then). */
  setpgid(pid, pid);
  return pid;
}

static void *spawner(void *arg) {
  (void)arg;
  pthread_mutex_lock(&spawn_mu);
  for (;;) {
    spawn_req *r;
    pid_t pid;
    while (spawn_queue == NULL)
      pthread_cond_wait(&spawn_cv, &spawn_mu);
    r = spawn_queue;
    spawn_queue = r->next;
    pthread_mutex_unlock(&spawn_mu);
    pid = fork_child(r);
    pthread_mutex_lock(&spawn_mu);
    r->pid = pid;
    r->done = 1;
    pthread_cond_broadcast(&spawn_done);
  }
  return NULL;
}

static pid_t spawn(const proc_shared *sh, int sock, int memfd, int errw) {
  spawn_req r = {sh, sock, memfd, errw, 0, 0, NULL};
  if ((pid_t)syscall(SYS_gettid) == getpid())
    return fork_child(&r);
  pthread_mutex_lock(&spawn_mu);
  if (spawner_state == 0) {
    pthread_t t;
    pthread_attr_t a;
    /* The spawner inherits this thread's signal mask, as a child forked
       here would. */
    spawner_state = -1;
    if (pthread_attr_init(&a) == 0) {
      if (pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED) == 0 &&
          pthread_create(&t, &a, spawner, NULL) == 0)
        spawner_state = 1;
      pthread_attr_destroy(&a);
    }
  }
  if (spawner_state < 0) {
    /* No thread to be had: fork here (the child then dies with this
       thread, and its instance restarts or fails with PK_ECRASH). */
    pthread_mutex_unlock(&spawn_mu);
    return fork_child(&r);
  }
  r.next = spawn_queue;
  spawn_queue = &r;
  pthread_cond_signal(&spawn_cv);
  while (!r.done)
    pthread_cond_wait(&spawn_done, &spawn_mu);
  pthread_mutex_unlock(&spawn_mu);
  return r.pid;
}

/* Send the frame built in chan.out. One the host made too large (its
   arguments, its config) is not sent: PK_ELIMIT, the child lives on
   (it did nothing wrong) and the conversation is where it was. A child
   that does not take the frame by chan.send_deadline (the call's or the
   handshake's) is a timeout, as one that does not answer. */
static int send_frame(pk_plugin *p, proc_state *st) {
  int rc = pk__wire_end(&st->chan.out);
  if (rc == PK_ENOMEM)
    return pk__perr(p, rc, "out of memory for a frame");
  if (rc < 0)
    return pk__perr(p, PK_ELIMIT,
                    "frame of %zu bytes exceeds the protocol's %u MiB limit",
                    st->chan.out.over, PK__WIRE_MAX_FRAME >> 20);
  if ((rc = pk__chan_send(&st->chan)) == PK_ETIMEOUT)
    return child_failed(p, st, rc, "no answer in time (it stopped reading "
                                   "what the host sends)");
  if (rc < 0)
    return child_failed(p, st, PK_ECRASH, NULL);
  return PK_OK;
}

/* Next frame, draining stderr while waiting. Faults kill the child.
   `deadline` (pk__wire_now_ns time, 0: none) is the whole call's or the
   whole handshake's, computed once by the caller: LOG and HOSTCALL
   traffic does not extend it. */
static int recv_frame(pk_plugin *p, proc_state *st, uint64_t deadline,
                      const uint8_t **body, size_t *len) {
  for (;;) {
    int left = LIVENESS_MS + 1, rc;
    int slice;
    if (deadline != 0) {
      uint64_t now = pk__wire_now_ns();
      uint64_t ms = now >= deadline ? 0 : (deadline - now + 999999u) / 1000000u;
      left = ms > (uint64_t)LIVENESS_MS ? LIVENESS_MS + 1 : (int)ms;
    }
    /* Wait in slices: a child that died while something else (a process
       it forked) keeps its socket open shows no hang-up, so each slice
       also asks the kernel whether it still runs. */
    slice = left < LIVENESS_MS ? left : LIVENESS_MS;
    rc = pk__chan_recv(&st->chan, slice, body, len);
    if (rc == PK__CHAN_EXTRA) {
      drain_stderr(p, st, 0);
      /* A stderr that is always ready must not keep the wait from its
         deadline (the socket still comes first in the waits). */
      if (deadline == 0 || pk__wire_now_ns() < deadline)
        continue;
      rc = PK_ETIMEOUT;
    }
    if (rc == PK_ETIMEOUT && left > slice) {
      if (child_ended(st->pid) == 0)
        continue;
      rc = PK_ECRASH; /* child_failed reaps it */
    }
    if (rc == PK_OK && pk__wire_validate(*body, *len) < 0) {
      snprintf(st->chan.why, sizeof st->chan.why,
               "malformed frame of type %u (%zu bytes)", (*body)[0], *len);
      rc = PK_EPROTO;
    }
    switch (rc) {
    case PK_OK:
      return PK_OK;
    case PK_ETIMEOUT:
      return child_failed(p, st, rc, "no answer in time");
    case PK_EPROTO:
      return child_failed(p, st, rc, st->chan.why);
    case PK_ENOMEM:
      return child_failed(p, st, rc, "out of memory for a frame");
    default:
      return child_failed(p, st, PK_ECRASH, NULL);
    }
  }
}

/* Deliver a LOG frame and answer it. */
static int on_log(pk_plugin *p, proc_state *st, const uint8_t *body,
                  size_t len) {
  pk__rd r;
  uint32_t level;
  const uint8_t *msg;
  size_t n;
  pk__rd_init(&r, body + 1, len - 1);
  level = pk__rd_u32(&r);
  msg = pk__rd_bytes(&r, &n);
  pk__plugin_log(p, level > PK_LOG_DEBUG ? PK_LOG_DEBUG : (int)level,
                 (const char *)msg, n);
  pk__wire_begin(&st->chan.out, PK__F_ACK);
  return send_frame(p, st);
}

/*
 * The code of an ERROR frame as the host reports it (docs/protocol.md,
 * "Error codes"): a plugin says why it failed with the codes plugins
 * use; any other value is EPLUGIN, so a child cannot claim the host's own
 * findings about it (ECRASH, ETIMEOUT, EPROTO). plugkit-runner relays
 * its inner backend's codes (a trap, a format error), as in-process,
 * but not those.
 */
static int error_code(const proc_state *st, int32_t code) {
  switch (code) {
  case PK_EPLUGIN:
  case PK_ENOMEM:
  case PK_EINIT:
  case PK_EABI:
  case PK_EDENIED:
  case PK_ELIMIT: /* results over the frame limit (docs/protocol.md) */
    return code;
  case PK_ECRASH:
  case PK_ETIMEOUT:
  case PK_EPROTO:
    return PK_EPLUGIN;
  default:
    return st->sh->runner && code < 0 && code >= PK__ELAST ? code
                                                           : PK_EPLUGIN;
  }
}

static int unexpected(pk_plugin *p, proc_state *st, const uint8_t *body,
                      const char *when) {
  char why[96];
  snprintf(why, sizeof why, "unexpected frame type %u %s", body[0], when);
  return child_failed(p, st, PK_EPROTO, why);
}

/* ---- handshake ---------------------------------------------------------- */

#define OTHER_EXPORTS                                                       \
  "this child declares other exports (names or signatures) than the "     \
  "plugin's first child did: the file changed since the open"

static int handshake(pk_plugin *p, proc_state *st, int first) {
  const uint8_t *body;
  size_t len, i, n = 0;
  const char *c;
  int rc, tmo = st->sh->timeout_ms > 0 ? st->sh->timeout_ms : HANDSHAKE_MS;
  pk__wbuf *w = &st->chan.out;
  /* One deadline for the whole handshake: init's LOG lines count. A
     child made for a call waiting for one is under the call's
     (pk__call_deadline; both clocks are CLOCK_MONOTONIC). */
  uint64_t deadline = pk__call_deadline(st->lane, tmo);

  st->hs_deadline = st->chan.send_deadline = deadline;
  pk__wire_begin(w, PK__F_HELLO);
  pk__wire_u16(w, PK__WIRE_VERSION);
  pk__wire_u16(w, PK__WIRE_VERSION);
  pk__wire_u32(w, st->shm != NULL ? PK__WIRE_F_SHM : 0);
  pk__wire_u32(w, (uint32_t)st->shm_size);
  /* The config block is key\0value\0...\0: values may be empty. */
  for (c = p->config; c != NULL && *c != '\0'; n++) {
    c += strlen(c) + 1;
    c += strlen(c) + 1;
  }
  pk__wire_u32(w, (uint32_t)n);
  for (c = p->config; c != NULL && *c != '\0';) {
    pk__wire_cstr(w, c);
    c += strlen(c) + 1;
    pk__wire_cstr(w, c);
    c += strlen(c) + 1;
  }
  pk__wire_u32(w, (uint32_t)p->ngrants);
  for (i = 0; i < p->ngrants; i++) {
    pk__wire_cstr(w, p->host->fns[p->grants[i]].name);
    pk__wire_cstr(w, p->host->fns[p->grants[i]].sigtext);
  }
  if ((rc = send_frame(p, st)) < 0)
    return rc;
  for (;;) {
    if ((rc = recv_frame(p, st, deadline, &body, &len)) < 0)
      return rc;
    if (body[0] == PK__F_LOG) {
      if ((rc = on_log(p, st, body, len)) < 0)
        return rc;
      continue;
    }
    if (body[0] == PK__F_ERROR) {
      pk__rd r;
      int32_t code;
      const uint8_t *m;
      pk__rd_init(&r, body + 1, len - 1);
      code = (int32_t)pk__rd_u32(&r);
      m = pk__rd_bytes(&r, &n);
      code = error_code(st, code);
      /* The same phases as in-process: a failing init hook is "init",
         anything before it (loading, checking) "open". The message is
         the cause alone (plugkit-runner strips its inner prefix). */
      if (code == PK_EINIT && first)
        p->phase = "init";
      pk__perr_text(p, code, (const char *)m, n);
      st->refused = 1; /* it exits by itself */
      return code;
    }
    if (body[0] != PK__F_READY)
      return unexpected(p, st, body, "in the handshake");
    break;
  }
  {
    pk__rd r;
    uint32_t version, flags, nexp, k, abi_major, abi_minor;
    const uint8_t *s;
    char name[256], sig[PK__SIG_MAX + 64];
    pk__rd_init(&r, body + 1, len - 1);
    version = pk__rd_u16(&r);
    flags = pk__rd_u32(&r);
    if (version != PK__WIRE_VERSION)
      return child_failed(p, st, PK_EPROTO, "plugin chose an unknown "
                                            "protocol version");
    s = pk__rd_bytes(&r, &n);
    if (first && (p->name = pk__strndup(p->host, (const char *)s, n)) == NULL)
      return pk__perr(p, PK_ENOMEM, "out of memory");
    s = pk__rd_bytes(&r, &n);
    if (first &&
        (p->version = pk__strndup(p->host, (const char *)s, n)) == NULL)
      return pk__perr(p, PK_ENOMEM, "out of memory");
    abi_major = pk__rd_u32(&r);
    abi_minor = pk__rd_u32(&r);
    if (first) {
      p->abi_major = abi_major;
      p->abi_minor = abi_minor;
    }
    if (abi_major != PK_ABI_MAJOR || abi_minor > PK_ABI_MINOR)
      return child_failed(p, st, PK_EABI,
                          "the plugin was built for another plugkit ABI");
    nexp = pk__rd_u32(&r);
    /* The count is no larger than the frame holds (pk__wire_validate
       checked every entry); the core caps it (pk__plugin_exports) before
       anything is allocated per export. */
    if (first && (rc = pk__plugin_exports(p, nexp)) < 0) {
      child_kill(p, st);
      return rc;
    }
    /* A later child (a restart, another instance) must be the same
       plugin: the host encodes calls by the first one's exports. */
    if (!first && nexp != p->nfuncs)
      return child_failed(p, st, PK_EPROTO, OTHER_EXPORTS);
    for (k = 0; k < nexp && !r.bad; k++) {
      s = pk__rd_bytes(&r, &n);
      snprintf(name, sizeof name, "%.*s", (int)n, s ? (const char *)s : "");
      s = pk__rd_bytes(&r, &n);
      snprintf(sig, sizeof sig, "%.*s", (int)n, s ? (const char *)s : "");
      if (first) {
        pk_func *f = &p->funcs[k];
        if ((rc = pk__func_init(p, f, name, sig)) < 0) {
          child_kill(p, st); /* keeps pk__func_init's message */
          return rc;
        }
        f->bindex = k;
      } else {
        pk__sig want;
        if (strcmp(name, p->funcs[k].name) != 0 ||
            pk__sig_parse(sig, &want, NULL, 0) < 0 ||
            !pk__sig_equal(&want, &p->funcs[k].sig))
          return child_failed(p, st, PK_EPROTO, OTHER_EXPORTS);
      }
    }
    if (flags & PK__WIRE_F_TIER) {
      /* plugkit-runner's wasm plugin: the tier its open chose, reported
         as pk_plugin_info.tier (a static string: only the known names). */
      static const char *const tiers[] = {"interp", "jit", "aot"};
      const char *tier = NULL;
      s = pk__rd_bytes(&r, &n);
      for (k = 0; s != NULL && k < 3; k++)
        if (n == strlen(tiers[k]) && memcmp(s, tiers[k], n) == 0)
          tier = tiers[k];
      if (!r.bad && tier == NULL)
        return child_failed(p, st, PK_EPROTO,
                            "READY names an unknown execution tier");
      /* Only plugkit-runner serving a wasm plugin has one. */
      if (!r.bad && strcmp(st->sh->label, "process:wasm") != 0)
        return child_failed(p, st, PK_EPROTO,
                            "READY names an execution tier, but the plugin "
                            "is not a wasm plugin in plugkit-runner");
      if (first)
        p->tier = tier;
    }
    if (r.bad)
      return child_failed(p, st, PK_EPROTO, "malformed READY frame");
    if ((flags & PK__WIRE_F_SHM) && st->shm != NULL)
      pk__chan_use_shm(&st->chan, st->shm, st->shm_size, st->sh->spin_ns);
  }
  return PK_OK;
}

/* Start a child and run the handshake. */
static int start(pk_plugin *p, proc_state *st, int first) {
  int sv[2] = {-1, -1}, ep[2] = {-1, -1}, memfd = -1, rc;
  pid_t pid;

  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
      pipe2(ep, O_CLOEXEC) < 0) {
    rc = pk__perr(p, PK_EIO, "cannot create the channel: %s",
                  strerror(errno));
    goto fail;
  }
  if (!st->sh->socket_only) {
    st->shm_size = pk__shm_size(SLOT_CAP);
    memfd = (int)syscall(SYS_memfd_create, "plugkit-slot", 1u /* CLOEXEC */);
    if (memfd >= 0 && ftruncate(memfd, (off_t)st->shm_size) == 0) {
      void *m = mmap(NULL, st->shm_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                     memfd, 0);
      if (m != MAP_FAILED) {
        st->shm = m;
        pk__shm_init(m);
      }
    }
    if (st->shm == NULL && memfd >= 0) { /* no slot: the socket alone */
      close(memfd);
      memfd = -1;
    }
  }
  st->lastline[0] = '\0';
  if ((pid = spawn(st->sh, sv[1], memfd, ep[1])) < 0) {
    rc = pk__perr(p, PK_EIO, "fork failed: %s", strerror(-pid));
    goto fail;
  }
  st->pid = pid;
  close(sv[1]);
  close(ep[1]);
  if (memfd >= 0)
    close(memfd);
  st->sock = sv[0];
  st->errfd = ep[0];
  fcntl(st->errfd, F_SETFL, O_NONBLOCK);
  /* Non-blocking: sends wait for room only until the deadline
     (chan.send_deadline), so a child that stops reading cannot hang the
     host. The child's end, another open file, stays blocking. */
  fcntl(st->sock, F_SETFL, O_NONBLOCK);
  pk__chan_init(&st->chan, st->sock, PK__CHAN_HOST, host_grow, p->host);
  st->chan.extra_fd = st->errfd;
  st->chan_ready = 1;
  st->refused = 0;
  if ((rc = handshake(p, st, first)) < 0) {
    if (st->pid > 0) { /* alive: it refused (ERROR), or we failed */
      int status, grace = 0;
      uint64_t now = pk__wire_now_ns();
      /* One that refused may exit by itself, within the grace period
         but not past the handshake's deadline (the call's, for a child
         started for a call). */
      if (st->refused && now < st->hs_deadline)
        grace = st->hs_deadline - now >= CLOSE_GRACE_MS * 1000000ull
                    ? CLOSE_GRACE_MS
                    : (int)((st->hs_deadline - now) / 1000000u);
      if (!st->refused)
        kill(st->pid, SIGKILL);
      reap(st, grace, &status);
      drop_child(p, st);
      snprintf(st->deadmsg, sizeof st->deadmsg,
               "plugin process failed to start");
    }
    return rc;
  }
  return PK_OK;
fail:
  if (sv[0] >= 0) {
    close(sv[0]);
    close(sv[1]);
  }
  if (ep[0] >= 0) {
    close(ep[0]);
    close(ep[1]);
  }
  if (memfd >= 0)
    close(memfd);
  if (st->shm != NULL)
    munmap(st->shm, st->shm_size);
  st->shm = NULL;
  return rc;
}

/* ---- calls --------------------------------------------------------------- */

/* Copy str/bytes out of the receive buffer into the call arena. */
static int own_vals(pk_plugin *p, proc_state *st, pk_val *v, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if ((v[i].type == PK_T_STR || v[i].type == PK_T_BYTES) &&
        v[i].str.len > 0) {
      void *m = pk__arena_alloc(p->host, &st->lane->arena, v[i].str.len);
      if (m == NULL)
        return pk__perr(p, PK_ENOMEM, "out of memory for a %zu-byte result",
                        v[i].str.len);
      memcpy(m, v[i].str.ptr, v[i].str.len);
      v[i].str.ptr = m;
    }
  return PK_OK;
}

/*
 * Copy the str/bytes arguments of a host call out of the receive buffer
 * (a nested call reuses it) into one block, *out (NULL: none needed),
 * which the caller frees once the call is answered: host calls do not
 * pile up in the call arena for the whole call.
 */
static int copy_args(pk_plugin *p, pk_val *v, size_t n, uint8_t **out) {
  size_t i, total = 0;
  uint8_t *m;
  *out = NULL;
  for (i = 0; i < n; i++)
    if (v[i].type == PK_T_STR || v[i].type == PK_T_BYTES)
      total += v[i].str.len; /* each within a frame: no overflow */
  if (total == 0)
    return PK_OK;
  if ((m = pk__alloc(p->host, total)) == NULL)
    return pk__perr(p, PK_ENOMEM,
                    "host call: out of memory for %zu bytes of arguments",
                    total);
  *out = m;
  for (i = 0; i < n; i++)
    if ((v[i].type == PK_T_STR || v[i].type == PK_T_BYTES) &&
        v[i].str.len > 0) {
      memcpy(m, v[i].str.ptr, v[i].str.len);
      v[i].str.ptr = (const char *)m;
      m += v[i].str.len;
    }
  return PK_OK;
}

/* Serve a HOSTCALL and answer it. The child waits for the HOSTRET: when
   none can be sent, it is killed rather than left waiting. */
static int on_hostcall(pk_plugin *p, proc_state *st, const uint8_t *body,
                       size_t len) {
  pk_val args[PK_MAX_PARAMS], res[PK_MAX_RESULTS];
  size_t nargs, nres = 0;
  uint32_t idx;
  uint8_t *copy = NULL;
  int rc;
  pk__rd r;
  pk__rd_init(&r, body + 1, len - 1);
  idx = pk__rd_u32(&r);
  nargs = pk__rd_vals(&r, args, PK_MAX_PARAMS);
  if (idx < p->ngrants)
    nres = p->host->fns[p->grants[idx]].sig.nresults;
  /* Checked before anything is copied: a refused call costs nothing. */
  if ((rc = pk__hostfn_check(p, (int32_t)idx, args, nargs, res, nres)) ==
          PK_OK &&
      (rc = copy_args(p, args, nargs, &copy)) == PK_OK)
    rc = pk__hostfn_call(st->lane, (int32_t)idx, args, nargs, res, nres);
  if (st->pid == 0) { /* the child ended during a nested call: its cause */
    pk__free(p->host, copy);
    return pk__perr(p, st->deadcode, "%s", st->deadmsg);
  }
  pk__wire_begin(&st->chan.out, PK__F_HOSTRET);
  pk__wire_u32(&st->chan.out, (uint32_t)rc);
  if (rc == PK_OK)
    pk__wire_vals(&st->chan.out, res, nres);
  else
    pk__wire_cstr(&st->chan.out, pk_host_errmsg(p->host));
  if ((rc = send_frame(p, st)) == PK_ELIMIT) {
    /* Results over the frame limit: the plugin still needs its answer. */
    pk__wire_begin(&st->chan.out, PK__F_HOSTRET);
    pk__wire_u32(&st->chan.out, (uint32_t)PK_ELIMIT);
    pk__wire_cstr(&st->chan.out, pk_host_errmsg(p->host));
    rc = send_frame(p, st);
  }
  pk__free(p->host, copy); /* the results may point into it: sent now */
  if (rc < 0 && st->pid > 0) /* no HOSTRET (out of memory for it) */
    return child_failed(p, st, rc, "cannot answer its host call");
  return rc;
}

/* A new instance, no child yet; NULL when out of memory. */
static proc_state *inst_alloc(pk_plugin *p, pk__lane *l) {
  proc_state *st = pk__alloc(p->host, sizeof *st);
  if (st == NULL)
    return NULL;
  memset(st, 0, sizeof *st);
  st->sh = p->bstate;
  st->sock = st->errfd = -1;
  st->lane = l;
  return st;
}

/* A call runs in the lane's instance (l->inst: one child, which no other
   thread uses meanwhile). */
static int proc_invoke(pk__lane *l, pk_func *f, const pk_val *args,
                       pk_val *results) {
  pk_plugin *p = f->plugin;
  proc_state *st = l->inst;
  const uint8_t *body;
  size_t len, i;
  int rc;

  st->lane = l;
  if (PK__UNLIKELY(st->pid == 0)) {
    uint64_t now = pk__wire_now_ns();
    if (!st->sh->restart || st->depth > 0)
      return pk__perr(p, PK_ECRASH, "%s", st->deadmsg);
    if (now < st->next_start_ns)
      return pk__perr(p, PK_ECRASH, "%s (restart backs off for %llu ms)",
                      st->deadmsg,
                      (unsigned long long)(st->next_start_ns - now) /
                          1000000u);
    if ((rc = start(p, st, 0)) < 0) {
      st->backoff_ns = st->backoff_ns ? st->backoff_ns * 2 : 10000000u;
      if (st->backoff_ns > BACKOFF_MAX_NS)
        st->backoff_ns = BACKOFF_MAX_NS;
      st->next_start_ns = pk__wire_now_ns() + st->backoff_ns;
      return rc;
    }
    st->backoff_ns = 0;
  }
  /* One deadline for the whole outermost call (docs/limits.md): sending
     the CALL, LOG and HOSTCALL traffic, and the host functions themselves,
     count; a nested call runs under the outer call's deadline. */
  if (st->depth == 0)
    st->deadline = st->sh->timeout_ms > 0
                       ? pk__call_deadline(st->lane, st->sh->timeout_ms)
                       : 0;
  st->chan.send_deadline = st->deadline;
  pk__wire_begin(&st->chan.out, PK__F_CALL);
  pk__wire_u32(&st->chan.out, f->bindex);
  pk__wire_vals(&st->chan.out, args, f->sig.nparams);
  if ((rc = send_frame(p, st)) < 0)
    return rc;
  st->depth++;
  for (;;) {
    if ((rc = recv_frame(p, st, st->deadline, &body, &len)) < 0)
      break;
    if (PK__LIKELY(body[0] == PK__F_RESULT)) {
      pk__rd r;
      size_t n;
      pk__rd_init(&r, body + 1, len - 1);
      /* The caller's array holds only the signature's results: decode at
         most that many (more makes the frame malformed). */
      n = pk__rd_vals(&r, results, f->sig.nresults);
      for (i = 0; i < n; i++)
        if (results[i].type != f->sig.results[i])
          break;
      if (!pk__rd_done(&r) || n != f->sig.nresults || i != n) {
        rc = child_failed(p, st, PK_EPROTO,
                          "results do not match the signature");
        break;
      }
      rc = own_vals(p, st, results, n);
      break;
    } else if (body[0] == PK__F_HOSTCALL) {
      if ((rc = on_hostcall(p, st, body, len)) < 0 && st->pid == 0)
        break;
    } else if (body[0] == PK__F_ERROR) {
      pk__rd r;
      const uint8_t *m;
      size_t n;
      pk__rd_init(&r, body + 1, len - 1);
      rc = error_code(st, (int32_t)pk__rd_u32(&r));
      m = pk__rd_bytes(&r, &n);
      pk__perr_text(p, rc, (const char *)m, n);
      break;
    } else if (body[0] == PK__F_LOG) {
      if ((rc = on_log(p, st, body, len)) < 0)
        break;
    } else {
      rc = unexpected(p, st, body, "during a call");
      break;
    }
  }
  st->depth--;
  return rc;
}

/* ---- open and close ------------------------------------------------------ */

/*
 * Where plugkit-runner is: $PLUGKIT_RUNNER; next to the object this code
 * was loaded from (libplugkit.so, or a program linking it statically, in
 * the same folder as the runner); then the build tree's runner when that
 * object is in the build tree, else the install's, found relative to the
 * library (PK_RUNNER_FROM_LIB: an install moved elsewhere still finds it);
 * last, where it was installed (PK_RUNNER_INSTALL_PATH).
 */
static int find_runner(char *buf, size_t cap) {
  const char *env = getenv("PLUGKIT_RUNNER");
  if (env != NULL && *env != '\0') {
    snprintf(buf, cap, "%s", env);
    return access(buf, X_OK) == 0;
  }
  if (pk__install_path(NULL, "plugkit-runner", buf, cap) == 0 &&
      access(buf, X_OK) == 0)
    return 1;
  if (pk__install_path(PK_RUNNER_PATH, PK_RUNNER_FROM_LIB, buf, cap) == 0 &&
      access(buf, X_OK) == 0)
    return 1;
  /* A program linking the static library, outside the install's bin:
     where the install was made. */
  snprintf(buf, cap, "%s", PK_RUNNER_INSTALL_PATH);
  return access(buf, X_OK) == 0;
}

/* Does the file need plugkit-runner, or does it serve itself (an
   executable linked with the serve loop, a script, a Python plugin)? */
static int needs_runner(pk_plugin *p) {
  unsigned char head[1024];
  FILE *f;
  size_t n;
  const char *ext = strrchr(p->path, '.');
  if (p->inner_backend != NULL && strcmp(p->inner_backend, "process") != 0)
    return 1;
  if (ext != NULL && strcmp(ext, ".py") == 0)
    return 0;
  if ((f = fopen(p->path, "rb")) == NULL)
    return 0; /* let the exec report it */
  n = fread(head, 1, sizeof head, f);
  fclose(f);
  if (n >= 2 && head[0] == '#' && head[1] == '!')
    return 0;
  return !pk__elf_executable(head, n);
}

/* Does the head hold `s` (not NUL-terminated, may hold NULs)? */
static int head_has(const unsigned char *h, size_t n, const char *s) {
  size_t k = strlen(s), i;
  for (i = 0; i + k <= n; i++)
    if (memcmp(h + i, s, k) == 0)
      return 1;
  return 0;
}

/* A Python plugin: a #! line naming python, or the Python helper's
   import (sdk/python/plugkit_plugin.py) in a .py file or a #! script. */
static int python_plugin(const unsigned char *h, size_t n, const char *path) {
  const char *ext = strrchr(path, '.'), *slash = strrchr(path, '/');
  size_t eol = 0;
  int shebang = n >= 2 && h[0] == '#' && h[1] == '!';
  if (shebang) {
    while (eol < n && h[eol] != '\n')
      eol++;
    if (head_has(h, eol, "python"))
      return 1;
  }
  if (!shebang && (ext == NULL || (slash != NULL && ext < slash) ||
                   strcmp(ext, ".py") != 0))
    return 0;
  return head_has(h, n, "import plugkit_plugin") ||
         head_has(h, n, "from plugkit_plugin");
}

static int proc_probe(const unsigned char *h, size_t n, const char *path,
                      int isdir) {
  if (isdir)
    return 0;
  /* Executable plugins (native scores every ELF executable 10). */
  if (pk__elf_executable(h, n))
    return 20;
  return python_plugin(h, n, path) ? 20 : 0;
}

/* The backend plugkit-runner will use for the file: the one named, or
   the one the probes pick (as the runner's pk_plugin_open will). */
static const pk__backend *inner_backend(pk_plugin *p) {
  unsigned char head[512];
  size_t n = 0, i;
  int isdir = 0, best = 0;
  const pk__backend *be = NULL;
  if (p->inner_backend != NULL) {
    for (i = 0; pk__backends[i] != NULL; i++)
      if (strcmp(pk__backends[i]->name, p->inner_backend) == 0)
        return pk__backends[i];
    return NULL;
  }
  if (pk__os_read_head(p->path, head, sizeof head, &n, &isdir) < 0)
    return NULL;
  for (i = 0; pk__backends[i] != NULL; i++) {
    int score;
    if (strcmp(pk__backends[i]->name, "process") == 0)
      continue;
    score = pk__backends[i]->probe(head, n, p->path, isdir);
    if (score > best) {
      best = score;
      be = pk__backends[i];
    }
  }
  return be;
}

/*
 * Which limits the child enforces, for pk__limits_check (the vtable says
 * PK__LIM_SELF). The host kills the child at the deadline and applies the
 * child options itself; fuel, max_memory and fs_root are the inner
 * backend's business in plugkit-runner, so they hold exactly when they
 * hold in-process; an executable plugin has none of them.
 */
static int check_limits(pk_plugin *p, int use_runner,
                        const pk__backend *be) {
  const pk_open_opts *o = p->opts;
  /* Every child is an instance: max_instances children at most. */
  unsigned honoured = PK__LIM_TIMEOUT | PK__LIM_CHILD | PK__LIM_POOL;
  char who[48] = "executable";
  if (o == NULL)
    return PK_OK;
  if (use_runner) {
    /* reset_after_call too: the runner's own open of the plugin resets
       its one instance after each call (proc_inst_reset has nothing left
       to do). */
    if (be != NULL)
      honoured |= be->limits & (PK__LIM_FUEL | PK__LIM_MEMORY | PK__LIM_FS |
                                PK__LIM_RESET);
    snprintf(who, sizeof who, "isolated %s", be ? be->name : "(unknown)");
  } else if (o->harden & 4) {
    return pk__perr(p, PK_ENOSYS,
                    "harden bit 4 (seccomp) cannot be applied to an "
                    "executable plugin, whose own code runs from its first "
                    "instruction; a .so, .wasm or script opened with "
                    "isolation = PK_ISOLATE_PROCESS runs in plugkit-runner, "
                    "which installs the filter before loading it");
  }
  return pk__limits_check(p, o, honoured, who);
}

static int proc_open(pk_plugin *p) {
  const pk_open_opts *o = p->opts;
  proc_shared *sh;
  proc_state *st;
  char runner[4096];
  int rc, use_runner;
  const pk__backend *inner;

  if (p->describe_only) {
    /* An executable's descriptor is read from its file; an executable
       without one is refused, never run. A script says what it is only
       by running. */
    unsigned char head[4];
    size_t n = 0;
    int isdir = 0;
    if ((rc = pk__os_read_head(p->path, head, sizeof head, &n, &isdir)) < 0)
      return pk__perr(p, rc, "cannot read the file");
    if (n == 4 && memcmp(head, "\177ELF", 4) == 0)
      return pk__elf_describe(p);
    return pk__perr(p, PK_ENOSYS,
                    "a script plugin cannot be described without running "
                    "it (describe_only)");
  }
  use_runner = needs_runner(p);
  inner = use_runner ? inner_backend(p) : NULL;

  if (use_runner && p->inner_backend != NULL &&
      strcmp(p->inner_backend, "process") == 0)
    /* plugkit-runner would open it with backend "process" again, which
       would start another runner, and so on. */
    return pk__perr(p, PK_EFORMAT,
                    "backend \"process\" runs executable plugins (an ELF "
                    "executable, a #! script, a .py file) and this is none; "
                    "to run another kind of plugin (.so, .wasm, ...) in a "
                    "child process, open it with isolation = "
                    "PK_ISOLATE_PROCESS (and backend NULL or its own)");
  if ((rc = check_limits(p, use_runner, inner)) < 0)
    return rc;

  if ((sh = pk__alloc(p->host, sizeof *sh)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  memset(sh, 0, sizeof *sh);
  p->bstate = sh;
  if (inner != NULL) {
    /* Hosts tell an isolated .wasm from an isolated .so by this. */
    snprintf(sh->label, sizeof sh->label, "process:%s", inner->name);
    p->backend_label = sh->label;
  }
  if (o != NULL && o->size >= offsetof(pk_open_opts, limit_mem) +
                                  sizeof o->limit_mem) {
    sh->timeout_ms = o->call_timeout_ms > 0 ? o->call_timeout_ms : 0;
    sh->restart = o->restart == 1;
    sh->spin_ns = o->spin_ns;
    sh->socket_only = o->transport == 1;
    sh->harden = o->harden;
    sh->limit_files = o->limit_files;
    sh->limit_cpu = o->limit_cpu_s;
    sh->limit_mem = o->limit_mem;
  }
  if (sh->spin_ns == 0)
    sh->spin_ns = (int)pk__chan_default_spin();
  else if (sh->spin_ns < 0)
    sh->spin_ns = 0;
  if (use_runner && !find_runner(runner, sizeof runner))
    return pk__perr(p, PK_ENOSYS,
                    "plugkit-runner not found (set PLUGKIT_RUNNER, or "
                    "install it next to libplugkit)");
  sh->runner = use_runner;
  if ((rc = prepare_exec(p, sh, use_runner ? runner : NULL)) < 0)
    return pk__perr(p, rc, "out of memory");
  /* The first child: the pool's first instance. From here on the core
     frees it (inst_free) whatever happens, also when the open fails. */
  if ((st = inst_alloc(p, p->olane)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  p->inst0 = st;
  if ((rc = start(p, st, 1)) < 0)
    return rc;
  for (size_t i = 0; i < p->nfuncs; i++)
    p->funcs[i].invoke = proc_invoke;
  return PK_OK;
}

/* Another child for the pool, from the shared argv and options, under
   the same handshake deadline, restart policy and limits as the first. */
static int proc_inst_new(pk_plugin *p, pk__lane *l, void **out) {
  proc_state *st = inst_alloc(p, l);
  int rc;
  if (st == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  if ((rc = start(p, st, 0)) < 0) {
    drop_child(p, st); /* start reaped it */
    pk__free(p->host, st);
    return rc;
  }
  *out = st;
  return PK_OK;
}

/* Graceful: SHUTDOWN (fini runs in the child; its LOGs are served), BYE,
   exit; a child that does not answer within the grace period is killed. */
static void proc_inst_free(pk_plugin *p, void *inst) {
  proc_state *st = inst;
  const uint8_t *body;
  size_t len;
  int status, bye = 0;
  if (st == NULL)
    return;
  st->lane = p->olane;
  if (st->pid > 0) {
    uint64_t end = pk__wire_now_ns() + CLOSE_GRACE_MS * 1000000ull;
    /* The grace period covers sending SHUTDOWN and the ACKs too. */
    st->chan.send_deadline = end;
    pk__wire_begin(&st->chan.out, PK__F_SHUTDOWN);
    if (pk__wire_end(&st->chan.out) == PK_OK &&
        pk__chan_send(&st->chan) == PK_OK) {
      for (;;) {
        uint64_t now = pk__wire_now_ns();
        int rc;
        if (now >= end)
          break;
        rc = pk__chan_recv(&st->chan, (int)((end - now) / 1000000u) + 1,
                           &body, &len);
        if (rc == PK__CHAN_EXTRA) {
          drain_stderr(p, st, 0);
          continue;
        }
        if (rc != PK_OK)
          break;
        if (body[0] == PK__F_BYE) {
          bye = 1;
          break;
        }
        if (body[0] != PK__F_LOG || on_log(p, st, body, len) < 0)
          break;
      }
    }
    if (st->pid > 0) { /* after BYE it exits; otherwise kill it now */
      reap(st, bye ? CLOSE_GRACE_MS : 0, &status);
      drop_child(p, st);
    }
  }
  drop_child(p, st);
  pk__free(p->host, st);
}

/* reset_after_call under isolation: the inner backend in plugkit-runner
   already put its instance back after the call (--reset-after-call);
   the child itself carries no plugin state. Executable plugins, which
   cannot be reset, are refused at open (check_limits). */
static int proc_inst_reset(pk_plugin *p, pk__lane *l, void *inst) {
  (void)p;
  (void)l;
  (void)inst;
  return PK_OK;
}

/* The children are gone (inst_free): what they shared. */
static void proc_close(pk_plugin *p) {
  proc_shared *sh = p->bstate;
  if (sh == NULL)
    return;
  free_strv(p->host, sh->argv);
  free_strv(p->host, sh->envp);
  pk__free(p->host, sh);
  p->bstate = NULL;
}

const pk__backend pk__backend_process = {
    "process",      proc_probe,     proc_open,
    proc_close,     PK__LIM_SELF | PK__LIM_DESCRIBE | PK__LIM_POOL,
    proc_inst_new,  proc_inst_free, proc_inst_reset,
    NULL};
