/*
 * plugkit: inspect and call plugins from the command line. A client of
 * the public API only (if it needs more, the API has a gap).
 *
 *   plugkit version
 *   plugkit inspect [--json] [--backend B] FILE
 *   plugkit call [OPTIONS] FILE FN [ARG...]
 *   plugkit bench [--all-backends] [--backend B] [--runs N] [--tier T]
 *                 FILE FN [ARG...]
 *   plugkit compile [-o OUT | --cache] FILE.wasm
 *
 * Exit status: 0 on success, 1 when the library reports an error (the
 * message goes to stderr on one line), 2 for a usage error, 3 when the
 * plugin crashed (PK_ECRASH, or a fatal signal in plugin code running in
 * this process), 4 when it hit a limit (PK_ETIMEOUT, PK_ELIMIT).
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plugkit.h"

#define MAX_CONFIG 64
#define MAX_TRUST 16 /* --trust keys: as many as a host trusts */

static void usage(FILE *f) {
  fputs(
      "usage: plugkit version\n"
      "       plugkit inspect [--json] [--backend NAME] [--trust PUB] "
      "[--sandboxed] FILE\n"
      "                           (reads the file: runs none of the "
      "plugin's code)\n"
      "       plugkit call [OPTIONS] FILE FN [ARG...]\n"
      "       plugkit bench [--all-backends] [--backend NAME] [--runs N] "
      "[--tier NAME] FILE FN [ARG...]\n"
      "       plugkit new NAME [--lang c|rust|lua|python] [--dir DIR]\n"
      "       plugkit keygen [-o BASE] [--password-stdin]  (BASE.pub, "
      "BASE.key)\n"
      "       plugkit sign -k KEY [-t COMMENT] [--password-stdin] "
      "FILE.plugkit\n"
      "       plugkit verify -p PUB FILE.plugkit|FILE.pkb  (exit 5: bad or "
      "untrusted "
      "signature,\n"
      "                           or an artifact not matching its hash)\n"
      "       plugkit scan [--json] [--probe] [--no-cache] DIR...\n"
      "                           (lists the plugins: runs none of their "
      "code\n"
      "                           unless --probe, and then in a child)\n"
      "       plugkit pack DIR -o NAME.pkb\n"
      "       plugkit compile [-o OUT | --cache] FILE.wasm\n"
      "                           (the aot tier: native code built with the "
      "system C\n"
      "                           compiler; default OUT: FILE with .pkaot "
      "for .wasm)\n"
      "\n"
      "call options:\n"
      "  --backend NAME       force a backend (native, wasm, source, lua, "
      "process)\n"
      "  --config KEY=VALUE   a config pair for the plugin's init "
      "(repeatable)\n"
      "  --grant NAMES        grant these test host functions (comma-"
      "separated, * for all):\n"
      "                         log  (str)->()   prints its argument to "
      "stderr\n"
      "                         now  ()->i64     milliseconds since the Unix "
      "epoch\n"
      "                         echo (str)->str  returns its argument\n"
      "                         add  (i32,i32)->i32  returns the sum\n"
      "  --isolate            run the plugin in a child process "
      "(plugkit-runner)\n"
      "  --timeout MS         a deadline for open and call; native and source "
      "plugins\n"
      "                       are isolated for it (their code cannot be "
      "stopped in-process)\n"
      "  --fuel N             instruction budget per call (wasm, lua)\n"
      "  --max-memory BYTES   memory cap (wasm, lua)\n"
      "  --fs-root DIR        a folder the plugin may read (wasm)\n"
      "  --tier NAME          wasm execution tier: interp (default), jit,\n"
      "                       aot, auto\n"
      "  --aot FILE           the aot artifact to use (plugkit compile -o)\n"
      "                       instead of the cache's\n"
      "  --log                print the plugin's log lines on stderr\n"
      "  --json               print the result, or the error, as JSON\n"
      "  --trust PUB          FILE.plugkit (a manifest) must be signed by "
      "this minisign\n"
      "                       public key (repeatable; inspect too)\n"
      "  --sandboxed          from a manifest, only a wasm or lua artifact "
      "(inspect too)\n"
      "\n"
      "Arguments are parsed per the function's signature: integers in "
      "decimal\nor 0x hex, floats as strtod reads them, str as given, "
      "bytes in hex.\nbytes results print in hex.\n"
      "\n"
      "Exit status: 0 success; 1 an error from the library (message on "
      "stderr);\n2 a usage error; 3 the plugin crashed; 4 the plugin hit a "
      "limit (timeout,\nfuel, memory).\n",
      f);
}

enum { EXIT_ERR = 1, EXIT_USAGE = 2, EXIT_CRASH = 3, EXIT_LIMIT = 4 };

static int exit_status(int rc) {
  if (rc == PK_ECRASH)
    return EXIT_CRASH;
  if (rc == PK_ETIMEOUT || rc == PK_ELIMIT)
    return EXIT_LIMIT;
  return EXIT_ERR;
}

static int json_out; /* call --json: errors go to stdout as JSON too */
static void json_str(const char *s);

static int fail(pk_host *h, int rc) {
  if (json_out) {
    printf("{\"ok\": false, \"error\": ");
    json_str(pk_errname(rc));
    printf(", \"message\": ");
    json_str(pk_host_errmsg(h));
    printf("}\n");
    fflush(stdout);
  }
  fprintf(stderr, "plugkit: %s (%s)\n", pk_host_errmsg(h), pk_errname(rc));
  return exit_status(rc);
}

/* ---- compile ----------------------------------------------------------- */

static int cmd_compile(int argc, char **argv) {
  const char *out = NULL, *in = NULL;
  char def[4096], written[4096];
  pk_host *h = NULL;
  int i, cache = 0, rc;
  for (i = 0; i < argc; i++) {
    if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
      out = argv[++i];
    } else if (strcmp(argv[i], "--cache") == 0) {
      cache = 1;
    } else if (argv[i][0] == '-' || in != NULL) {
      fprintf(stderr, "plugkit: compile: unexpected '%s'\n", argv[i]);
      return EXIT_USAGE;
    } else {
      in = argv[i];
    }
  }
  if (in == NULL || (cache && out != NULL)) {
    fprintf(stderr, "usage: plugkit compile [-o OUT | --cache] FILE.wasm\n");
    return EXIT_USAGE;
  }
  if (!cache && out == NULL) {
    size_t n = strlen(in);
    if (n > 5 && strcmp(in + n - 5, ".wasm") == 0)
      n -= 5;
    if (n + 7 > sizeof def) {
      fprintf(stderr, "plugkit: compile: path too long\n");
      return EXIT_USAGE;
    }
    memcpy(def, in, n);
    memcpy(def + n, ".pkaot", 7);
    out = def;
  }
  if ((rc = pk_host_create(NULL, &h)) < 0) {
    fprintf(stderr, "plugkit: %s\n", pk_strerror(rc));
    return EXIT_ERR;
  }
  rc = pk_wasm_compile(h, in, out, written, sizeof written);
  if (rc < 0) {
    rc = fail(h, rc);
    pk_host_destroy(h);
    return rc;
  }
  printf("%s\n", written);
  pk_host_destroy(h);
  return 0;
}

/* ---- inspect ----------------------------------------------------------- */

static void json_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

static int cmd_inspect(pk_host *h, pk_plugin *p, const char *path,
                       int json) {
  pk_plugin_info info;
  size_t i;
  memset(&info, 0, sizeof info);
  info.size = sizeof info;
  if (pk_plugin_info_get(p, &info) < 0)
    return fail(h, PK_EINVAL);
  if (json) {
    printf("{\"file\": ");
    json_str(path);
    if (info.artifact != NULL) { /* opened through a manifest */
      printf(", \"artifact\": ");
      json_str(info.artifact);
    }
    printf(", \"backend\": ");
    json_str(info.backend);
    printf(", \"name\": ");
    json_str(info.name);
    printf(", \"version\": ");
    json_str(info.version);
    printf(", \"abi\": \"%u.%u\", \"exports\": [", info.abi_major,
           info.abi_minor);
    for (i = 0; i < info.nexports; i++) {
      const char *name, *sig;
      pk_plugin_export(p, i, &name, &sig);
      printf("%s{\"name\": ", i ? ", " : "");
      json_str(name);
      printf(", \"signature\": ");
      json_str(sig);
      printf("}");
    }
    printf("]}\n");
    return 0;
  }
  printf("file:     %s\n", path);
  if (info.artifact != NULL)
    printf("artifact: %s\n", info.artifact);
  printf("backend:  %s\n", info.backend);
  printf("name:     %s\n", info.name);
  printf("version:  %s\n", info.version);
  printf("abi:      %u.%u\n", info.abi_major, info.abi_minor);
  printf("exports:  %zu\n", info.nexports);
  for (i = 0; i < info.nexports; i++) {
    const char *name, *sig;
    pk_plugin_export(p, i, &name, &sig);
    printf("  %-20s %s\n", name, sig);
  }
  return 0;
}

/* ---- call -------------------------------------------------------------- */

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

int cli_parse_arg(const char *s, int type, pk_val *v, unsigned char **buf,
                  char *why, size_t cap) {
  char *end = NULL;
  errno = 0;
  v->type = (uint32_t)type;
  switch (type) {
  case PK_T_I32: {
    long long x = strtoll(s, &end, 0);
    if (*s == '\0' || *end != '\0' || errno || x < INT32_MIN ||
        x > (long long)UINT32_MAX) {
      snprintf(why, cap, "'%s' is not an i32", s);
      return -1;
    }
    v->i32 = (int32_t)(uint32_t)x; /* accept 0xffffffff as -1 */
    return 0;
  }
  case PK_T_I64: {
    long long x = strtoll(s, &end, 0);
    if (*s == '\0' || *end != '\0' || errno) {
      snprintf(why, cap, "'%s' is not an i64", s);
      return -1;
    }
    v->i64 = x;
    return 0;
  }
  case PK_T_F32:
  case PK_T_F64: {
    double x = strtod(s, &end);
    if (*s == '\0' || *end != '\0') {
      snprintf(why, cap, "'%s' is not a number", s);
      return -1;
    }
    if (type == PK_T_F32)
      v->f32 = (float)x;
    else
      v->f64 = x;
    return 0;
  }
  case PK_T_STR:
    v->str.ptr = s;
    v->str.len = strlen(s);
    return 0;
  case PK_T_BYTES: {
    size_t n = strlen(s), i;
    if (n % 2 != 0) {
      snprintf(why, cap, "bytes '%s' is not an even number of hex digits", s);
      return -1;
    }
    if ((*buf = malloc(n / 2 + 1)) == NULL) {
      snprintf(why, cap, "out of memory");
      return -1;
    }
    for (i = 0; i < n / 2; i++) {
      int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        snprintf(why, cap, "bytes '%s' is not hex", s);
        return -1;
      }
      (*buf)[i] = (unsigned char)(hi * 16 + lo);
    }
    v->bytes.ptr = *buf;
    v->bytes.len = n / 2;
    return 0;
  }
  default:
    snprintf(why, cap, "unsupported parameter type %d", type);
    return -1;
  }
}

static void print_val(const pk_val *v) {
  size_t i;
  switch (v->type) {
  case PK_T_I32:
    printf("%d", (int)v->i32);
    break;
  case PK_T_I64:
    printf("%lld", (long long)v->i64);
    break;
  case PK_T_F32:
    printf("%.9g", (double)v->f32);
    break;
  case PK_T_F64:
    printf("%.17g", v->f64);
    break;
  case PK_T_STR:
    fwrite(v->str.ptr, 1, v->str.len, stdout);
    break;
  case PK_T_BYTES:
    for (i = 0; i < v->bytes.len; i++)
      printf("%02x", v->bytes.ptr[i]);
    break;
  default:
    printf("?");
  }
}

/* A result as a JSON value: numbers as numbers (non-finite floats and
   i64 beyond 2^53 as strings, which JSON readers keep exact), str as a
   string (bytes escaped), bytes as a hex string. */
static void json_val(const pk_val *v) {
  size_t i;
  switch (v->type) {
  case PK_T_I32:
    printf("%d", (int)v->i32);
    break;
  case PK_T_I64:
    if (v->i64 > (INT64_C(1) << 53) || v->i64 < -(INT64_C(1) << 53))
      printf("\"%lld\"", (long long)v->i64);
    else
      printf("%lld", (long long)v->i64);
    break;
  case PK_T_F32:
  case PK_T_F64: {
    double d = v->type == PK_T_F32 ? (double)v->f32 : v->f64;
    if (isfinite(d))
      printf(v->type == PK_T_F32 ? "%.9g" : "%.17g", d);
    else
      printf("\"%g\"", d);
    break;
  }
  case PK_T_STR:
    putchar('"');
    for (i = 0; i < v->str.len; i++) {
      unsigned char c = (unsigned char)v->str.ptr[i];
      if (c == '"' || c == '\\')
        printf("\\%c", c);
      else if (c < 0x20 || c == 0x7f)
        printf("\\u%04x", c);
      else
        putchar(c);
    }
    putchar('"');
    break;
  case PK_T_BYTES:
    putchar('"');
    for (i = 0; i < v->bytes.len; i++)
      printf("%02x", v->bytes.ptr[i]);
    putchar('"');
    break;
  default:
    printf("null");
  }
}

static int cmd_call(pk_host *h, pk_plugin *p, const char *fn, int argc,
                    char **argv) {
  pk_val args[PK_MAX_PARAMS], res[PK_MAX_RESULTS];
  unsigned char *bufs[PK_MAX_PARAMS] = {0};
  char why[256];
  pk_func *f;
  size_t i, np, nr;
  int rc, status = 0;

  if ((rc = pk_plugin_func(p, fn, NULL, &f)) < 0)
    return fail(h, rc);
  np = pk_func_nparams(f);
  nr = pk_func_nresults(f);
  if ((size_t)argc != np) {
    fprintf(stderr, "plugkit: %s is %s: %zu argument%s expected, %d given\n",
            fn, pk_func_sig(f), np, np == 1 ? "" : "s", argc);
    return EXIT_USAGE;
  }
  for (i = 0; i < np; i++) {
    if (cli_parse_arg(argv[i], pk_func_param_type(f, i), &args[i], &bufs[i],
                      why, sizeof why) < 0) {
      fprintf(stderr, "plugkit: %s argument %zu: %s\n", fn, i + 1, why);
      status = EXIT_USAGE;
      goto done;
    }
  }
  if ((rc = pk_func_call(f, args, np, res, nr)) < 0) {
    status = fail(h, rc);
    goto done;
  }
  if (json_out) {
    printf("{\"ok\": true, \"results\": [");
    for (i = 0; i < nr; i++) {
      printf("%s", i ? ", " : "");
      json_val(&res[i]);
    }
    printf("]}\n");
  } else {
    for (i = 0; i < nr; i++) {
      print_val(&res[i]);
      putchar('\n');
    }
  }
done:
  for (i = 0; i < PK_MAX_PARAMS; i++)
    free(bufs[i]);
  return status;
}

/* ---- call: test host functions, log lines, crashes ---------------------- */

static int host_log(void *ud, pk_plugin *caller, const pk_val *args,
                    pk_val *results) {
  pk_plugin_info info = PK_PLUGIN_INFO_INIT;
  (void)ud;
  (void)results;
  pk_plugin_info_get(caller, &info);
  fprintf(stderr, "[%s] %.*s\n", info.name ? info.name : "?",
          (int)args[0].str.len, args[0].str.ptr);
  return PK_OK;
}

static int host_now(void *ud, pk_plugin *caller, const pk_val *args,
                    pk_val *results) {
  struct timespec ts;
  (void)ud;
  (void)caller;
  (void)args;
  clock_gettime(CLOCK_REALTIME, &ts);
  results[0].i64 = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  return PK_OK;
}

static int host_echo(void *ud, pk_plugin *caller, const pk_val *args,
                     pk_val *results) {
  /* The argument may live in the plugin's memory: copy it to scratch,
     which stays valid until the plugin's call returns. */
  char *s = pk_plugin_scratch(caller, args[0].str.len + 1);
  (void)ud;
  if (s == NULL)
    return PK_ENOMEM;
  memcpy(s, args[0].str.ptr, args[0].str.len);
  results[0].str.ptr = s;
  results[0].str.len = args[0].str.len;
  return PK_OK;
}

static int host_add(void *ud, pk_plugin *caller, const pk_val *args,
                    pk_val *results) {
  (void)ud;
  (void)caller;
  results[0].i32 = (int32_t)((uint32_t)args[0].i32 + (uint32_t)args[1].i32);
  return PK_OK;
}

static int define_test_hosts(pk_host *h) {
  int rc;
  if ((rc = pk_host_define(h, "log", "(str)->()", host_log, NULL)) < 0 ||
      (rc = pk_host_define(h, "now", "()->i64", host_now, NULL)) < 0 ||
      (rc = pk_host_define(h, "echo", "(str)->str", host_echo, NULL)) < 0 ||
      (rc = pk_host_define(h, "add", "(i32,i32)->i32", host_add, NULL)) < 0)
    return rc;
  return PK_OK;
}

static void log_sink(void *ud, int level, const char *plugin, const char *msg,
                     size_t len) {
  static const char *const names[] = {"error", "warn", "info", "debug"};
  (void)ud;
  fprintf(stderr, "[%s] %s: %.*s\n", plugin ? plugin : "?",
          level >= 0 && level <= 3 ? names[level] : "log", (int)len, msg);
}

/* Plugin code running in this process (native, source) may crash the CLI.
   Say so on one line and exit with EXIT_CRASH instead of dying silently;
   only async-signal-safe calls here. */
static const char *crash_file;

static void put(const char *s) {
  ssize_t r = write(2, s, strlen(s));
  (void)r;
}

static void on_fatal(int sig) {
  const char *what = sig == SIGSEGV  ? "SIGSEGV"
                     : sig == SIGBUS ? "SIGBUS"
                     : sig == SIGILL ? "SIGILL"
                     : sig == SIGFPE ? "SIGFPE"
                                     : "SIGABRT";
  put("plugkit: ");
  put(crash_file ? crash_file : "plugin");
  put(": the plugin crashed this process (");
  put(what);
  put("); run it with --isolate to contain it (ECRASH)\n");
  _exit(EXIT_CRASH);
}

static void catch_crashes(const char *file) {
  static char altstack[1 << 16]; /* a stack overflow needs its own stack */
  static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
  struct sigaction sa;
  stack_t ss;
  size_t i;
  crash_file = file;
  ss.ss_sp = altstack;
  ss.ss_size = sizeof altstack;
  ss.ss_flags = 0;
  sigaltstack(&ss, NULL);
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fatal;
  sa.sa_flags = SA_ONSTACK | SA_RESETHAND;
  sigemptyset(&sa.sa_mask);
  for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
    sigaction(sigs[i], &sa, NULL);
}

static int parse_u64(const char *opt, const char *s, uint64_t *out) {
  char *end = NULL;
  unsigned long long x;
  errno = 0;
  x = strtoull(s, &end, 0);
  if (*s == '\0' || *s == '-' || *end != '\0' || errno) {
    fprintf(stderr, "plugkit: %s wants a non-negative integer, not '%s'\n",
            opt, s);
    return -1;
  }
  *out = x;
  return 0;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv) {
  const char *config[2 * MAX_CONFIG + 1];
  const char *backend = NULL, *cmd;
  pk_host_opts ho = PK_HOST_OPTS_INIT;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_host *h = NULL;
  pk_plugin *p = NULL;
  int json = 0, nconfig = 0, i, rc, status, is_call, want_log = 0;
  const char *trust[MAX_TRUST];
  int ntrust = 0, k;
  int timeout = 0;
  uint64_t u;

  if (argc < 2) {
    usage(stderr);
    return EXIT_USAGE;
  }
  cmd = argv[1];
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    const char *const *b = pk_backends();
    printf("plugkit %s (plugin ABI %d.%d)\nbackends:", pk_version_string(),
           PK_ABI_MAJOR, PK_ABI_MINOR);
    for (; *b; b++)
      printf(" %s", *b);
    printf("\n");
    return 0;
  }
  if (strcmp(cmd, "bench") == 0)
    return cli_bench(argc - 2, argv + 2);
  if (strcmp(cmd, "new") == 0)
    return cli_new(argc - 2, argv + 2);
  if (strcmp(cmd, "keygen") == 0 || strcmp(cmd, "sign") == 0 ||
      strcmp(cmd, "verify") == 0)
    return cli_sign(cmd, argc - 2, argv + 2);
  if (strcmp(cmd, "scan") == 0)
    return cli_scan(argc - 2, argv + 2);
  if (strcmp(cmd, "pack") == 0)
    return cli_pack(argc - 2, argv + 2);
  if (strcmp(cmd, "compile") == 0)
    return cmd_compile(argc - 2, argv + 2);
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
      strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "inspect") != 0 && strcmp(cmd, "call") != 0) {
    fprintf(stderr, "plugkit: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_USAGE;
  }
  is_call = strcmp(cmd, "call") == 0;
  for (i = 2; i < argc && argv[i][0] == '-'; i++) {
    const char *opt = argv[i];
    int has_val = i + 1 < argc;
    if (strcmp(opt, "--json") == 0) {
      json = 1;
    } else if (strcmp(opt, "--backend") == 0 && has_val) {
      backend = argv[++i];
    } else if (strcmp(opt, "--trust") == 0 && has_val) {
      if (ntrust == MAX_TRUST) {
        fprintf(stderr, "plugkit: at most %d --trust keys\n", MAX_TRUST);
        return EXIT_USAGE;
      }
      trust[ntrust++] = argv[++i];
    } else if (strcmp(opt, "--sandboxed") == 0) {
      o.artifacts = PK_ARTIFACTS_SANDBOXED;
    } else if (strcmp(opt, "--help") == 0 || strcmp(opt, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (!is_call) {
      if (strcmp(opt, "--") == 0) {
        i++;
        break;
      }
      fprintf(stderr, "plugkit: unknown option '%s'\n", opt);
      return EXIT_USAGE;
    } else if (strcmp(opt, "--config") == 0 && has_val) {
      char *kv = argv[++i], *eq = strchr(kv, '=');
      if (eq == NULL || nconfig == MAX_CONFIG) {
        fprintf(stderr, "plugkit: --config wants KEY=VALUE (at most %d)\n",
                MAX_CONFIG);
        return EXIT_USAGE;
      }
      *eq = '\0';
      config[2 * nconfig] = kv;
      config[2 * nconfig + 1] = eq + 1;
      nconfig++;
    } else if (strcmp(opt, "--grant") == 0 && has_val) {
      o.grants = argv[++i];
    } else if (strcmp(opt, "--isolate") == 0) {
      o.isolation = PK_ISOLATE_PROCESS;
    } else if (strcmp(opt, "--timeout") == 0 && has_val) {
      if (parse_u64(opt, argv[++i], &u) < 0)
        return EXIT_USAGE;
      if (u == 0 || u > INT_MAX) {
        fprintf(stderr, "plugkit: --timeout wants 1 to %d ms\n", INT_MAX);
        return EXIT_USAGE;
      }
      timeout = (int)u;
    } else if (strcmp(opt, "--fuel") == 0 && has_val) {
      if (parse_u64(opt, argv[++i], &o.fuel) < 0)
        return EXIT_USAGE;
    } else if (strcmp(opt, "--max-memory") == 0 && has_val) {
      if (parse_u64(opt, argv[++i], &o.max_memory) < 0)
        return EXIT_USAGE;
    } else if (strcmp(opt, "--fs-root") == 0 && has_val) {
      o.fs_root = argv[++i];
    } else if (strcmp(opt, "--tier") == 0 && has_val) {
      o.tier = argv[++i];
    } else if (strcmp(opt, "--aot") == 0 && has_val) {
      o.aot_path = argv[++i];
    } else if (strcmp(opt, "--log") == 0) {
      want_log = 1;
    } else if (strcmp(opt, "--") == 0) {
      i++;
      break;
    } else {
      fprintf(stderr, "plugkit: unknown option '%s'%s\n", opt,
              has_val ? "" : " (or its value is missing)");
      return EXIT_USAGE;
    }
  }
  if (i >= argc || (is_call && i + 1 >= argc)) {
    usage(stderr);
    return EXIT_USAGE;
  }
  config[2 * nconfig] = NULL;
  o.backend = backend;
  o.config = nconfig ? config : NULL;
  o.call_timeout_ms = timeout;
  /* inspect checks the whole module, not only the code it would run, and
     runs none of the plugin's code (describe_only). */
  o.validate_all = !is_call;
  o.describe_only = !is_call;
  json_out = is_call && json;
  if (want_log)
    ho.log = log_sink;
  if (ntrust > 0) /* a manifest must be signed by one of these keys */
    ho.trust = PK_TRUST_REQUIRE;
  if ((rc = pk_host_create(&ho, &h)) < 0 ||
      (is_call && (rc = define_test_hosts(h)) < 0)) {
    fprintf(stderr, "plugkit: %s\n", pk_strerror(rc));
    pk_host_destroy(h);
    return EXIT_ERR;
  }
  for (k = 0; k < ntrust; k++) {
    char *key = cli_read_key(trust[k]);
    rc = key != NULL ? pk_host_trust_key(h, key) : PK_EIO;
    free(key);
    if (rc < 0) {
      if (key != NULL)
        fprintf(stderr, "plugkit: %s: %s\n", trust[k], pk_host_errmsg(h));
      pk_host_destroy(h);
      return EXIT_ERR;
    }
  }
  if (is_call)
    catch_crashes(argv[i]);
  rc = pk_plugin_open(h, argv[i], &o, &p);
  if (rc == PK_ENOSYS && timeout != 0 && o.isolation == PK_ISOLATE_NONE &&
      strstr(pk_host_errmsg(h), "call_timeout_ms cannot be enforced") !=
          NULL) {
    /* Native and source code runs in this thread, where nothing can stop
       it: a deadline needs a child process to kill. */
    fprintf(stderr,
            "plugkit: %s: its code runs in-process, where --timeout cannot "
            "stop it; running it in a child process (as --isolate)\n",
            argv[i]);
    o.isolation = PK_ISOLATE_PROCESS;
    rc = pk_plugin_open(h, argv[i], &o, &p);
  }
  if (rc < 0) {
    status = fail(h, rc);
    pk_host_destroy(h);
    return status;
  }
  if (!is_call)
    status = cmd_inspect(h, p, argv[i], json);
  else
    status = cmd_call(h, p, argv[i + 1], argc - i - 2, argv + i + 2);
  fflush(stdout);
  pk_plugin_close(p);
  pk_host_destroy(h);
  return status;
}
