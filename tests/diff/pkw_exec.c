/* pkw_exec: runs a wasm module on the built-in engine the way binaryen's
 * --fuzz-exec harness runs a `wasm-opt -ttf` module, and prints what it
 * sees in the line format that v8_exec.js prints for V8, so that
 * fuzz_diff.py can compare the two outputs line by line.
 *
 * usage: pkw_exec [-L] [-J] [-A] [-f FUEL] MODULE.wasm
 * (-J: the jit tier, pkw_module_jit, which must behave as the interpreter
 * does; exit 3 when this build has no jit tier. -A: the aot tier, the
 * module's PKW_CGEN_AOT C built by the system compiler (cc, with
 * PKW_AOT_CFLAGS, as plugkit compile builds it) in a temporary folder,
 * loaded and bound; exit 3 when there is no cc.)
 *   -L       decode with PKW_DECODE_LAZY (bodies translated at first call)
 *   -f FUEL  fuel per export call (default 20000000); running out prints
 *            "trap TRAP_OUT_OF_FUEL", which the driver treats as
 *            inconclusive (V8 has no such limit)
 *
 * Imports: fuzzing-support.log-{i32,i64,f32,f64} print their argument.
 * Then every function export, in export order, is called with zero
 * arguments (null for references); if the module exports
 * "hangLimitInitializer" it is called (silently) before each export call,
 * as binaryen's JS wrapper does, so each call gets a fresh hang budget.
 *
 * Output, one event per line, values as raw bits in hex:
 *   instantiate ok | instantiate trap <CODE>
 *   call <name>                  (bytes outside [0x21,0x7e] as \xNN)
 *   log i32 0x0000002a           (also i64, f32, f64)
 *   result i32 0x0000002a        (one line per result; funcref/externref
 *                                 print "null" or "nonnull")
 *   trap <CODE>                  (pkw_errname: TRAP_UNREACHABLE, ...)
 *   error <CODE> <message>       (not a trap: lazy translation failure)
 * Exit 0 after running; 2 when the module cannot be read, decoded or
 * linked (the message on stderr); 64 on bad usage. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aot_cc.h"
#include "wasm.h"

#define MAX_IMPORTS 64
#define MAX_VALS 1024   /* wasm allows more results; ttf never emits them */

static uint8_t *read_file(const char *path, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0, n;
  if (!f)
    return NULL;
  for (;;) {
    if (len == cap) {
      uint8_t *nb;
      cap = cap ? cap * 2 : 65536;
      nb = realloc(buf, cap);
      if (!nb) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
    }
    n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
  }
  fclose(f);
  *out_len = len;
  return buf;
}

/* ---- -A: the aot tier ---------------------------------------------------- */

/* Builds m's aot C with cc in a temporary folder (removed before this
 * returns: the loaded object stays mapped), loads it and binds it to m
 * (aot_cc.h). Returns PKW_OK, PKWT_AOT_NO_CC (-3) when cc cannot be
 * started, or an engine code (err says). */
static int aot_bind(pkw_module *m, char *err, size_t errlen) {
  const char *tmp = getenv("TMPDIR");
  return pkwt_aot_bind(m, NULL, tmp != NULL && tmp[0] == '/' ? tmp : "/tmp",
                       0, NULL, err, errlen);
}

/* Prints one value of type t from its 64-bit slot. */
static void print_val(const char *what, uint8_t t, uint64_t v) {
  switch (t) {
  case PKW_I32: printf("%s i32 0x%08" PRIx32 "\n", what, (uint32_t)v); break;
  case PKW_F32: printf("%s f32 0x%08" PRIx32 "\n", what, (uint32_t)v); break;
  case PKW_I64: printf("%s i64 0x%016" PRIx64 "\n", what, v); break;
  case PKW_F64: printf("%s f64 0x%016" PRIx64 "\n", what, v); break;
  case PKW_FUNCREF:
    printf("%s funcref %s\n", what, v ? "nonnull" : "null");
    break;
  case PKW_EXTERNREF:
    printf("%s externref %s\n", what, v ? "nonnull" : "null");
    break;
  default: printf("%s type0x%02x 0x%016" PRIx64 "\n", what, t, v); break;
  }
}

/* The log-* imports: ud carries the value type. */
static int log_fn(void *ud, pkw_instance *inst, const uint64_t *args,
                  uint64_t *results) {
  (void)inst;
  (void)results;
  print_val("log", (uint8_t)(uintptr_t)ud, args[0]);
  return 0;
}

static void print_name(const char *name, uint32_t len) {
  uint32_t i;
  fputs("call ", stdout);
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c > 0x20 && c < 0x7f && c != '\\')
      putchar(c);
    else
      printf("\\x%02x", c);
  }
  putchar('\n');
}

/* Reports a call's outcome; returns rc. */
static int report(int rc, const pkw_module *m, const pkw_functype *ft,
                  const uint64_t *res) {
  uint32_t i;
  if (rc == PKW_OK) {
    for (i = 0; i < ft->nresults; i++)
      print_val("result", ft->results[i], res[i]);
  } else if (PKW_IS_TRAP(rc)) {
    printf("trap %s\n", pkw_errname(rc));
  } else {
    printf("error %s %s\n", pkw_errname(rc), pkw_module_error(m));
  }
  return rc;
}

int main(int argc, char **argv) {
  static uint64_t args[MAX_VALS], res[MAX_VALS];
  const char *path = NULL;
  unsigned flags = 0;
  int64_t fuel = 20000000;
  pkw_func *hosts[MAX_IMPORTS];
  pkw_extern ims[MAX_IMPORTS];
  pkw_module *m = NULL;
  pkw_instance *inst = NULL;
  pkw_func *hang_init = NULL;
  pkw_limits lim;
  char err[512];
  uint8_t *bytes;
  size_t len;
  uint32_t nim, i, nhosts = 0;
  int rc, a, status = 0, jit = 0, aot = 0;

  for (a = 1; a < argc; a++) {
    if (strcmp(argv[a], "-L") == 0) {
      flags |= PKW_DECODE_LAZY;
    } else if (strcmp(argv[a], "-J") == 0) {
      jit = 1;
    } else if (strcmp(argv[a], "-A") == 0) {
      aot = 1;
    } else if (strcmp(argv[a], "-f") == 0 && a + 1 < argc) {
      fuel = strtoll(argv[++a], NULL, 0);
    } else if (argv[a][0] != '-' && !path) {
      path = argv[a];
    } else {
      path = NULL;
      break;
    }
  }
  if (!path || (jit && aot)) {
    fprintf(stderr,
            "usage: pkw_exec [-L] [-J | -A] [-f FUEL] MODULE.wasm\n");
    return 64;
  }
  bytes = read_file(path, &len);
  if (!bytes) {
    fprintf(stderr, "pkw_exec: %s: %s\n", path, strerror(errno));
    return 2;
  }
  rc = pkw_module_decode_ex(NULL, bytes, len, flags, &m, err, sizeof err);
  free(bytes);
  if (rc != PKW_OK) {
    fprintf(stderr, "pkw_exec: %s: decode: %s: %s\n", path, pkw_errname(rc),
            err);
    return 2;
  }
  if (jit && (rc = pkw_module_jit(m, err, sizeof err)) != PKW_OK) {
    fprintf(stderr, "pkw_exec: %s: jit: %s: %s\n", path, pkw_errname(rc),
            err);
    pkw_module_destroy(m);
    return rc == PKW_EUNSUPPORTED && strstr(err, "not built") ? 3 : 2;
  }
  if (aot && (rc = aot_bind(m, err, sizeof err)) != PKW_OK) {
    fprintf(stderr, "pkw_exec: %s: aot: %s: %s\n", path,
            rc == PKWT_AOT_NO_CC ? "ENOSYS" : pkw_errname(rc), err);
    pkw_module_destroy(m);
    return rc == PKWT_AOT_NO_CC ? 3 : 2;
  }

  /* Only the fuzzing-support loggers are provided, as binaryen does. */
  nim = pkw_module_num_imports(m);
  if (nim > MAX_IMPORTS) {
    fprintf(stderr, "pkw_exec: %s: link: %u imports\n", path, nim);
    status = 2;
    goto done;
  }
  for (i = 0; i < nim; i++) {
    pkw_import_desc d;
    const char *want = "fuzzing-support";
    pkw_module_import(m, i, &d);
    if (d.kind != PKW_EXTERN_FUNC || d.module_len != strlen(want) ||
        memcmp(d.module, want, d.module_len) != 0 || d.name_len != 7 ||
        memcmp(d.name, "log-", 4) != 0 || d.type.nparams != 1 ||
        d.type.nresults != 0) {
      fprintf(stderr, "pkw_exec: %s: link: unsupported import %.*s.%.*s\n",
              path, (int)d.module_len, d.module, (int)d.name_len, d.name);
      status = 2;
      goto done;
    }
    rc = pkw_func_create_host(NULL, &d.type, log_fn,
                              (void *)(uintptr_t)d.type.params[0],
                              &hosts[nhosts]);
    if (rc != PKW_OK) {
      fprintf(stderr, "pkw_exec: %s: link: %s\n", path, pkw_errname(rc));
      status = 2;
      goto done;
    }
    ims[i].kind = PKW_EXTERN_FUNC;
    ims[i].u.func = hosts[nhosts++];
  }

  memset(&lim, 0, sizeof lim);
  lim.fuel = fuel;
  rc = pkw_instance_create(m, ims, nim, &lim, &inst, err, sizeof err);
  if (PKW_IS_TRAP(rc)) {
    printf("instantiate trap %s\n", pkw_errname(rc));
    goto done;
  }
  if (rc != PKW_OK) {
    fprintf(stderr, "pkw_exec: %s: instantiate: %s: %s\n", path,
            pkw_errname(rc), err);
    status = 2;
    goto done;
  }
  printf("instantiate ok\n");
  if (pkw_instance_func(inst, "hangLimitInitializer", &hang_init) != PKW_OK)
    hang_init = NULL;

  for (i = 0;; i++) {
    const char *name;
    uint32_t name_len, k;
    pkw_extern ex;
    pkw_functype ft;
    if (pkw_instance_export(inst, i, &name, &name_len, &ex) != PKW_OK)
      break;
    if (ex.kind != PKW_EXTERN_FUNC)
      continue;
    pkw_func_type(ex.u.func, &ft);
    if (ft.nparams > MAX_VALS || ft.nresults > MAX_VALS) {
      fprintf(stderr, "pkw_exec: %s: export with %u params, %u results\n",
              path, ft.nparams, ft.nresults);
      status = 2;
      goto done;
    }
    if (hang_init) {
      pkw_instance_set_fuel(inst, fuel);
      rc = pkw_call(hang_init, NULL, 0, NULL, 0);
      if (rc != PKW_OK) {
        printf("hang-limit init %s\n", pkw_errname(rc));
        continue;
      }
    }
    print_name(name, name_len);
    for (k = 0; k < ft.nparams; k++)
      args[k] = 0;   /* zero of every type; null for references */
    pkw_instance_set_fuel(inst, fuel);
    rc = pkw_call(ex.u.func, args, ft.nparams, res, ft.nresults);
    report(rc, m, &ft, res);
  }

done:
  fflush(stdout);
  pkw_instance_destroy(inst);
  pkw_module_destroy(m);
  for (i = 0; i < nhosts; i++)
    pkw_func_destroy_host(hosts[i]);
  return status;
}
