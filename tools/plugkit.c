/*
 * plugkit: inspect and call plugins from the command line. A client of
 * the public API only (if it needs more, the API has a gap).
 *
 *   plugkit version
 *   plugkit inspect [--json] [--backend B] FILE
 *   plugkit call [--backend B] [--config KEY=VALUE]... FILE FN [ARG...]
 *   plugkit bench [--all-backends] [--runs N] FILE FN [ARG...]
 *
 * Exit status: 0 on success, 1 when the library reports an error (the
 * message goes to stderr on one line), 2 for a usage error.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "plugkit.h"

#define MAX_CONFIG 64

static void usage(FILE *f) {
  fputs("usage: plugkit version\n"
        "       plugkit inspect [--json] [--backend NAME] FILE\n"
        "       plugkit call [--backend NAME] [--config KEY=VALUE]... FILE "
        "FN [ARG...]\n"
        "       plugkit bench [--all-backends] [--runs N] FILE FN [ARG...]\n"
        "       plugkit new NAME [--lang c|rust|lua|python] [--dir DIR]\n"
        "\n"
        "Arguments are parsed per the function's signature: integers in "
        "decimal\nor 0x hex, floats as strtod reads them, str as given, "
        "bytes in hex.\nbytes results print in hex.\n",
        f);
}

static int fail(pk_host *h, int rc) {
  fprintf(stderr, "plugkit: %s (%s)\n", pk_host_errmsg(h), pk_errname(rc));
  return 1;
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
    printf("%d\n", (int)v->i32);
    break;
  case PK_T_I64:
    printf("%lld\n", (long long)v->i64);
    break;
  case PK_T_F32:
    printf("%.9g\n", (double)v->f32);
    break;
  case PK_T_F64:
    printf("%.17g\n", v->f64);
    break;
  case PK_T_STR:
    fwrite(v->str.ptr, 1, v->str.len, stdout);
    putchar('\n');
    break;
  case PK_T_BYTES:
    for (i = 0; i < v->bytes.len; i++)
      printf("%02x", v->bytes.ptr[i]);
    putchar('\n');
    break;
  default:
    printf("?\n");
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
    return 2;
  }
  for (i = 0; i < np; i++) {
    if (cli_parse_arg(argv[i], pk_func_param_type(f, i), &args[i], &bufs[i],
                      why, sizeof why) < 0) {
      fprintf(stderr, "plugkit: %s argument %zu: %s\n", fn, i + 1, why);
      status = 2;
      goto done;
    }
  }
  if ((rc = pk_func_call(f, args, np, res, nr)) < 0) {
    status = fail(h, rc);
    goto done;
  }
  for (i = 0; i < nr; i++)
    print_val(&res[i]);
done:
  for (i = 0; i < PK_MAX_PARAMS; i++)
    free(bufs[i]);
  return status;
}

/* ---- main -------------------------------------------------------------- */

int main(int argc, char **argv) {
  const char *config[2 * MAX_CONFIG + 1];
  const char *backend = NULL, *cmd;
  pk_open_opts o = PK_OPEN_OPTS_INIT;
  pk_host *h = NULL;
  pk_plugin *p = NULL;
  int json = 0, nconfig = 0, i, rc, status;

  if (argc < 2) {
    usage(stderr);
    return 2;
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
  if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(cmd, "inspect") != 0 && strcmp(cmd, "call") != 0) {
    fprintf(stderr, "plugkit: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
  }
  for (i = 2; i < argc && argv[i][0] == '-'; i++) {
    if (strcmp(argv[i], "--json") == 0 && strcmp(cmd, "inspect") == 0) {
      json = 1;
    } else if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
      backend = argv[++i];
    } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc &&
               strcmp(cmd, "call") == 0) {
      char *kv = argv[++i], *eq = strchr(kv, '=');
      if (eq == NULL || nconfig == MAX_CONFIG) {
        fprintf(stderr, "plugkit: --config wants KEY=VALUE (at most %d)\n",
                MAX_CONFIG);
        return 2;
      }
      *eq = '\0';
      config[2 * nconfig] = kv;
      config[2 * nconfig + 1] = eq + 1;
      nconfig++;
    } else if (strcmp(argv[i], "--") == 0) {
      i++;
      break;
    } else {
      fprintf(stderr, "plugkit: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  if (i >= argc || (strcmp(cmd, "call") == 0 && i + 1 >= argc)) {
    usage(stderr);
    return 2;
  }
  config[2 * nconfig] = NULL;
  o.backend = backend;
  o.config = nconfig ? config : NULL;
  /* inspect checks the whole module, not only the code it would run. */
  o.validate_all = strcmp(cmd, "inspect") == 0;
  if ((rc = pk_host_create(NULL, &h)) < 0) {
    fprintf(stderr, "plugkit: %s\n", pk_strerror(rc));
    return 1;
  }
  if ((rc = pk_plugin_open(h, argv[i], &o, &p)) < 0) {
    status = fail(h, rc);
    pk_host_destroy(h);
    return status;
  }
  if (strcmp(cmd, "inspect") == 0)
    status = cmd_inspect(h, p, argv[i], json);
  else
    status = cmd_call(h, p, argv[i + 1], argc - i - 2, argv + i + 2);
  pk_plugin_close(p);
  pk_host_destroy(h);
  return status;
}
