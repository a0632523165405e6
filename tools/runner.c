/*
 * plugkit-runner: serves any plugin libplugkit can open (a shared object,
 * a wasm module, ...) over the plugin protocol, so that a host can run it
 * in a child process. Started by the process backend as
 *
 *   plugkit-runner <backend|auto> <path> [--max-memory=N] [--fuel=N]
 *                  [--fs-root=DIR] [--validate-all] [--reset-after-call]
 *                  [--tier=NAME] [--aot=FILE] [--cache-home=DIR]
 *
 * with the protocol's socket on fd 3 (docs/protocol.md). The options are
 * the host's pk_open_opts fields for the inner backend; --cache-home is
 * the host's cache base (XDG_CACHE_HOME), which an aot or auto open
 * looks in when no --aot names the artifact (the child's environment may
 * be cleared). The tier the open chose goes back in READY
 * (pk_serve_tier), for the host's pk_plugin_info.tier. A client of the
 * public API only: the plugin is opened with pk_plugin_open in this
 * process, the host's granted functions become proxy host functions that
 * forward over the protocol, and log lines go back as LOG frames.
 *
 * With PLUGKIT_SECCOMP=1 (harden bit 4) the allow-list goes on before the
 * plugin is loaded, in two stages: while loading (the plugin's
 * constructors and init run then) read-only opens are allowed, because
 * the loader needs them; then opens are forbidden too. Both stages are
 * synchronised to every thread (TSYNC), so a thread the plugin started
 * cannot escape. The compiled wasm tiers load while the first stage is
 * on: the aot artifact is read and checked then, and both tiers map
 * their code executable with mmap/mprotect, which both stages allow.
 */
#define _GNU_SOURCE
#include <plugkit.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pk_serve.h"

#ifdef PK_HAVE_SECCOMP
#include <seccomp.h>
#endif

typedef struct runner {
  const char *backend, *path;
  uint64_t max_memory, fuel;
  const char *fs_root;
  int validate_all;
  int reset_after_call; /* the inner backend resets after each call */
  const char *tier, *aot_path; /* wasm: pk_open_opts.tier, aot_path */
  pk_host *host;
  pk_plugin *plug;
  pk_func **funcs;
  size_t nfuncs;
  pk_serve *s; /* set while serving */
} runner;

static void log_sink(void *ud, int level, const char *plugin, const char *msg,
                     size_t len) {
  runner *r = ud;
  (void)plugin;
  if (r->s != NULL)
    pk_serve_log(r->s, level, msg, len);
}

static runner R; /* one plugin per runner process */

/* Parameter and result counts of a canonical signature "(a,b)->c". */
static void sig_counts(const char *sig, size_t *np, size_t *nr) {
  const char *arrow = strstr(sig, "->");
  size_t i;
  if (arrow == NULL) {
    *np = *nr = 0;
    return;
  }
  *np = sig[1] == ')' ? 0 : 1;
  for (i = 1; sig + i < arrow; i++)
    *np += sig[i] == ',';
  arrow += 2;
  *nr = strcmp(arrow, "()") == 0 ? 0 : 1;
  for (i = 0; arrow[i] != '\0'; i++)
    *nr += arrow[i] == ',';
}

/* A granted host function, defined in this process: forward the call to
   the real host. `ud` is the grant's index. Results live in the engine's
   arena until the plugin's call returns. */
static int forward(void *ud, pk_plugin *caller, const pk_val *args,
                   pk_val *results) {
  size_t idx = (size_t)(uintptr_t)ud, np, nr;
  const char *name, *sig;
  int rc;
  pk_serve_grant_at(R.s, idx, &name, &sig);
  sig_counts(sig, &np, &nr);
  rc = pk_serve_host_call(R.s, (int32_t)idx, args, np, results, nr);
  if (rc != PK_OK)
    pk_plugin_fail(caller, "the host's function failed");
  return rc;
}

#ifdef PK_HAVE_SECCOMP
/* Install one stage of the allow-list on every thread of the process
   (TSYNC: fails, and we refuse to serve, if a thread cannot be synced).
   `first`: the first stage, which also sets no-new-privileges. `loading`:
   also what loading a plugin needs (opening files read-only,
   inspecting them); a second stage without it follows the load. A call
   outside the list kills the process (SIGSYS). */
static int seccomp_stage(int first, int loading) {
  static const int allowed[] = {
      SCMP_SYS(read),          SCMP_SYS(write),      SCMP_SYS(sendto),
      SCMP_SYS(recvfrom),      SCMP_SYS(poll),       SCMP_SYS(ppoll),
      SCMP_SYS(futex),         SCMP_SYS(mmap),       SCMP_SYS(munmap),
      SCMP_SYS(mremap),        SCMP_SYS(brk),        SCMP_SYS(madvise),
      SCMP_SYS(mprotect),      SCMP_SYS(clock_gettime),
      SCMP_SYS(clock_nanosleep), SCMP_SYS(nanosleep), SCMP_SYS(close),
      SCMP_SYS(exit),          SCMP_SYS(exit_group), SCMP_SYS(rt_sigreturn),
      SCMP_SYS(rt_sigprocmask), SCMP_SYS(getpid),    SCMP_SYS(gettid),
      SCMP_SYS(sched_yield),   SCMP_SYS(fstat),      SCMP_SYS(newfstatat),
      SCMP_SYS(getrandom),     SCMP_SYS(restart_syscall),
      SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(rt_sigaction),
      SCMP_SYS(sigaltstack),   SCMP_SYS(sched_getaffinity),
      /* glibc's qsort asks for the physical memory size (sysinfo) before
         sorting more than a few KB: the wasm compiled tiers sort their
         tables at open, and plugins may sort too. It only reads totals. */
      SCMP_SYS(sysinfo),
      /* pk_plugin_close orders memory on every thread (pk__os_membarrier)
         before the plugin's fini: without it the runner died at close. */
      SCMP_SYS(membarrier)};
  static const int loader[] = {
      SCMP_SYS(pread64),   SCMP_SYS(lseek),    SCMP_SYS(stat),
      SCMP_SYS(lstat),     SCMP_SYS(statx),    SCMP_SYS(access),
      SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(readlink),
      SCMP_SYS(readlinkat), SCMP_SYS(getcwd),  SCMP_SYS(getdents64),
      SCMP_SYS(fcntl),     SCMP_SYS(getuid),   SCMP_SYS(geteuid),
      SCMP_SYS(getgid),    SCMP_SYS(getegid),
      /* the native backend loads a private copy of a .so from a memfd */
      SCMP_SYS(memfd_create), SCMP_SYS(copy_file_range), SCMP_SYS(sendfile),
      SCMP_SYS(ftruncate),
      /* to install the second stage (it can only narrow the filter) */
      SCMP_SYS(seccomp)};
  /* Opens are read-only: no write access, no creating or truncating. */
  const scmp_datum_t wflags = O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND;
  scmp_filter_ctx f = seccomp_init(SCMP_ACT_KILL_PROCESS);
  size_t i;
  int rc = f == NULL ? -1 : seccomp_attr_set(f, SCMP_FLTATR_CTL_TSYNC, 1);
  /* The first stage set no-new-privileges; the second must not call
     prctl again (the first stage forbids it), only seccomp. */
  if (rc == 0 && !first)
    rc = seccomp_attr_set(f, SCMP_FLTATR_CTL_NNP, 0);
  for (i = 0; rc == 0 && i < sizeof allowed / sizeof allowed[0]; i++)
    rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, allowed[i], 0);
  for (i = 0; loading && rc == 0 && i < sizeof loader / sizeof loader[0]; i++)
    rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, loader[i], 0);
  /* Threads, not processes: clone only with CLONE_THREAD (a thread
     inherits the filter); clone3's flags sit in memory a filter cannot
     read, so it fails with ENOSYS and the C library falls back to clone. */
  if (rc == 0)
    rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
                          SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
                                  CLONE_THREAD));
  if (rc == 0)
    rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  /* After the load, memfd_create fails instead of killing: the wasm
     engine then copies a pool instance's memory image rather than
     mapping it (src/os/os_mem.h), and with no image mapped it never reads
     the page tables either. */
  if (!loading && rc == 0)
    rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(memfd_create),
                          0);
  if (loading && rc == 0)
    rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
                          SCMP_A2(SCMP_CMP_MASKED_EQ, wflags, 0));
  if (loading && rc == 0)
    rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(open), 1,
                          SCMP_A1(SCMP_CMP_MASKED_EQ, wflags, 0));
  if (rc == 0)
    rc = seccomp_load(f);
  if (f != NULL)
    seccomp_release(f);
  return rc;
}
#endif

/* Before anything of the plugin runs (its constructors run at load). */
static int harden_before_load(pk_serve *s) {
  if (getenv("PLUGKIT_SECCOMP") == NULL)
    return PK_OK;
#ifdef PK_HAVE_SECCOMP
  if (seccomp_stage(1, 1) != 0) {
    static const char m[] = "plugkit-runner: cannot install the seccomp "
                            "filter on every thread";
    pk_serve_fail(s, PK_EIO, m, sizeof m - 1);
    return PK_EIO;
  }
  return PK_OK;
#else
  {
    static const char m[] = "plugkit-runner was built without libseccomp";
    pk_serve_fail(s, PK_ENOSYS, m, sizeof m - 1);
    return PK_ENOSYS;
  }
#endif
}

/* The inner message without its "<path>: <phase>: " prefix: the host puts
   its own in front. */
static const char *cause(const runner *r, const char *m) {
  size_t n = strlen(r->path);
  const char *c;
  if (strncmp(m, r->path, n) == 0 && m[n] == ':' && m[n + 1] == ' ' &&
      (c = strstr(m + n + 2, ": ")) != NULL)
    return c + 2;
  return m;
}

static int r_open(pk_serve *s, void *ud) {
  runner *r = ud;
  pk_host_opts ho = PK_HOST_OPTS_INIT;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_plugin_info info;
  const char **config = NULL;
  char *grants = NULL;
  size_t i, n, glen = 1;
  int rc;

  r->s = s;
  if (strcmp(r->backend, "process") == 0) {
    /* It would start plugkit-runner again, and that one another ... */
    static const char m[] =
        "plugkit-runner does not run backend \"process\" (executable "
        "plugins run by themselves); name the plugin's own backend";
    pk_serve_fail(s, PK_EINVAL, m, sizeof m - 1);
    return PK_EINVAL;
  }
  if ((rc = harden_before_load(s)) < 0)
    return rc;
  ho.log = log_sink;
  ho.log_ud = r;
  if ((rc = pk_host_create(&ho, &r->host)) < 0)
    goto fail_code;
  for (i = 0; i < pk_serve_ngrants(s); i++) {
    const char *name, *sig;
    pk_serve_grant_at(s, i, &name, &sig);
    if ((rc = pk_host_define(r->host, name, sig, forward,
                             (void *)(uintptr_t)i)) < 0)
      goto fail_host;
    glen += strlen(name) + 1;
  }
  n = pk_serve_nconfig(s);
  if ((config = calloc(2 * n + 1, sizeof *config)) == NULL ||
      (grants = calloc(glen, 1)) == NULL) {
    rc = PK_ENOMEM;
    goto fail_code;
  }
  for (i = 0; i < n; i++) {
    pk_str k, v;
    pk_serve_config_at(s, i, &k, &v);
    /* Config strings arrive counted; the host API wants NUL-terminated
       ones: the engine's copies are not, so duplicate them. */
    config[2 * i] = strndup(k.ptr ? k.ptr : "", k.len);
    config[2 * i + 1] = strndup(v.ptr ? v.ptr : "", v.len);
    if (config[2 * i] == NULL || config[2 * i + 1] == NULL)
      rc = PK_ENOMEM;
  }
  for (i = 0; i < pk_serve_ngrants(s); i++) {
    const char *name, *sig;
    pk_serve_grant_at(s, i, &name, &sig);
    if (i > 0)
      strcat(grants, ",");
    strcat(grants, name);
  }
  if (rc == PK_ENOMEM) {
    for (i = 0; i < 2 * n; i++)
      free((void *)config[i]);
    goto fail_code;
  }
  o.backend = strcmp(r->backend, "auto") == 0 ? NULL : r->backend;
  o.grants = pk_serve_ngrants(s) > 0 ? grants : NULL;
  o.config = config;
  o.max_memory = r->max_memory;
  o.fuel = r->fuel;
  o.fs_root = r->fs_root;
  o.validate_all = r->validate_all;
  o.reset_after_call = r->reset_after_call;
  o.tier = r->tier;
  o.aot_path = r->aot_path;
  rc = pk_plugin_open(r->host, r->path, &o, &r->plug);
  for (i = 0; i < 2 * n; i++)
    free((void *)config[i]);
  free(config);
  free(grants);
  config = NULL;
  grants = NULL;
  if (rc < 0)
    goto fail_host;
  memset(&info, 0, sizeof info);
  info.size = sizeof info;
  pk_plugin_info_get(r->plug, &info);
  pk_serve_describe(s, info.name, info.version, info.abi_major,
                    info.abi_minor);
  if (info.tier != NULL && info.tier[0] != '\0' &&
      pk_serve_tier(s, info.tier) < 0) {
    rc = PK_ENOMEM;
    goto fail_code;
  }
  r->nfuncs = info.nexports;
  if ((r->funcs = calloc(r->nfuncs + 1, sizeof *r->funcs)) == NULL) {
    rc = PK_ENOMEM;
    goto fail_code;
  }
  for (i = 0; i < r->nfuncs; i++) {
    const char *name, *sig;
    pk_plugin_export(r->plug, i, &name, &sig);
    pk_plugin_func(r->plug, name, NULL, &r->funcs[i]);
    if ((rc = pk_serve_export(s, name, sig)) < 0)
      goto fail_code;
  }
#ifdef PK_HAVE_SECCOMP
  /* Loaded and initialised: no more opening files, on any thread; but a
     wasm plugin given fs_root opens files beneath it (read-only) in its
     calls, through the engine's WASI layer. */
  if (getenv("PLUGKIT_SECCOMP") != NULL &&
      seccomp_stage(0, r->fs_root != NULL) != 0) {
    static const char m[] = "plugkit-runner: cannot install the seccomp "
                            "filter on every thread";
    pk_serve_fail(s, PK_EIO, m, sizeof m - 1);
    return PK_EIO;
  }
#endif
  return PK_OK;
fail_host: {
  /* The inner message is "<path>: <phase>: <cause>": the host puts its
     own prefix in front (and names the phase from the code). */
  const char *m = cause(r, pk_host_errmsg(r->host));
  pk_serve_fail(s, rc, m, strlen(m));
  return rc;
}
fail_code:
  free(config);
  free(grants);
  pk_serve_fail(s, rc, "plugkit-runner: out of memory", 29);
  return rc;
}

static int r_call(pk_serve *s, void *ud, uint32_t index, const pk_val *args,
                  size_t nargs, pk_val *results, size_t *nresults) {
  runner *r = ud;
  pk_func *f = r->funcs[index];
  int rc = pk_func_call(f, args, nargs, results, PK_MAX_RESULTS);
  if (rc < 0) {
    const char *m = cause(r, pk_host_errmsg(r->host));
    pk_serve_fail(s, rc, m, strlen(m));
    return rc;
  }
  *nresults = pk_func_nresults(f);
  return PK_OK;
}

static void r_close(pk_serve *s, void *ud) {
  runner *r = ud;
  (void)s;
  pk_plugin_close(r->plug); /* runs fini, whose logs still go out */
  r->plug = NULL;
  pk_host_destroy(r->host);
  r->host = NULL;
}

int main(int argc, char **argv) {
  static const pk_serve_ops ops = {r_open, r_call, r_close};
  int rc;
  int i;
  for (i = 3; i < argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--max-memory=", 13) == 0)
      R.max_memory = strtoull(a + 13, NULL, 10);
    else if (strncmp(a, "--fuel=", 7) == 0)
      R.fuel = strtoull(a + 7, NULL, 10);
    else if (strncmp(a, "--fs-root=", 10) == 0)
      R.fs_root = a + 10;
    else if (strcmp(a, "--validate-all") == 0)
      R.validate_all = 1;
    else if (strcmp(a, "--reset-after-call") == 0)
      R.reset_after_call = 1;
    else if (strncmp(a, "--tier=", 7) == 0)
      R.tier = a + 7;
    else if (strncmp(a, "--aot=", 6) == 0)
      R.aot_path = a + 6;
    else if (strncmp(a, "--cache-home=", 13) == 0)
      setenv("XDG_CACHE_HOME", a + 13, 1); /* before any thread */
    else
      break;
  }
  if (argc < 3 || i < argc) {
    fprintf(stderr,
            "usage: plugkit-runner <backend|auto> <plugin> [--max-memory=N] "
            "[--fuel=N] [--fs-root=DIR] [--validate-all] "
            "[--reset-after-call] [--tier=NAME] [--aot=FILE] "
            "[--cache-home=DIR]\n"
            "plugkit-runner is started by plugkit hosts to run a plugin in "
            "its own process.\n");
    return 2;
  }
  R.backend = argv[1];
  R.path = argv[2];
  rc = pk_serve_run(&ops, &R);
  if (R.host != NULL)
    pk_host_destroy(R.host);
  free(R.funcs);
  return rc;
}
