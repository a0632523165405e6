/* Spec test runner: executes the JSON command files wast2json writes
 * (module, register, action, assert_return, assert_trap,
 * assert_exhaustion, assert_invalid, assert_malformed, assert_unlinkable,
 * assert_uninstantiable) against the engine, with the "spectest" host
 * module the suite expects.
 *
 * usage: spec_runner [-r report] [-s summary] [-k simd_counts.tsv] [-q]
 *                    [-L] [-J | -A AOTDIR] X.json...
 * -L decodes lazily, -J runs the jit tier, -A the aot tier (each module
 * built with the system compiler once, cached in AOTDIR).
 * Prints one line per file, appends them to the report, and writes
 * "wasm-spec: P passed, F failed, S skipped" to the summary file.
 * Exit status: 0 if nothing failed, 1 otherwise. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aot_cc.h"
#include "wasm.h"

/* ---- a small JSON reader --------------------------------------------------- */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

typedef struct jv {
  int type;
  char *str;            /* J_STR: decoded text; J_NUM: the literal */
  size_t len;           /* J_STR: bytes in str (may contain NUL) */
  struct jv **items;    /* J_ARR: values; J_OBJ: values */
  char **keys;          /* J_OBJ */
  size_t n;
} jv;

typedef struct jp {
  const char *p, *end;
  int bad;
} jp;

static void jskip(jp *j) {
  while (j->p < j->end &&
         (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
    j->p++;
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  return p;
}

static char *xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = xmalloc(n);
  memcpy(d, s, n);
  return d;
}

static char *jstring(jp *j, size_t *out_len) {
  size_t cap = 16, n = 0;
  char *s = xmalloc(cap);
  j->p++;   /* opening quote */
  while (j->p < j->end && *j->p != '"') {
    char c = *j->p++;
    if (c == '\\' && j->p < j->end) {
      char e = *j->p++;
      switch (e) {
      case 'n': c = '\n'; break;
      case 't': c = '\t'; break;
      case 'r': c = '\r'; break;
      case 'b': c = '\b'; break;
      case 'f': c = '\f'; break;
      case 'u': {
        unsigned v = 0, k;
        for (k = 0; k < 4 && j->p < j->end; k++) {
          char h = *j->p++;
          v = v * 16 + (unsigned)(h >= 'a' ? h - 'a' + 10
                                  : h >= 'A' ? h - 'A' + 10 : h - '0');
        }
        /* Only what the suite needs: emit UTF-8 for the BMP. */
        if (n + 4 >= cap) {
          cap *= 2;
          s = realloc(s, cap);
        }
        if (v < 0x80) {
          s[n++] = (char)v;
        } else if (v < 0x800) {
          s[n++] = (char)(0xc0 | (v >> 6));
          s[n++] = (char)(0x80 | (v & 0x3f));
        } else {
          s[n++] = (char)(0xe0 | (v >> 12));
          s[n++] = (char)(0x80 | ((v >> 6) & 0x3f));
          s[n++] = (char)(0x80 | (v & 0x3f));
        }
        continue;
      }
      default: c = e; break;
      }
    }
    if (n + 4 >= cap) {
      cap *= 2;
      s = realloc(s, cap);
      if (s == NULL)
        exit(2);
    }
    s[n++] = c;
  }
  if (j->p >= j->end)
    j->bad = 1;
  else
    j->p++;
  s[n] = 0;
  if (out_len != NULL)
    *out_len = n;
  return s;
}

static jv *jvalue(jp *j) {
  jv *v = xmalloc(sizeof *v);
  memset(v, 0, sizeof *v);
  jskip(j);
  if (j->p >= j->end) {
    j->bad = 1;
    return v;
  }
  if (*j->p == '"') {
    v->type = J_STR;
    v->str = jstring(j, &v->len);
  } else if (*j->p == '[' || *j->p == '{') {
    int obj = *j->p == '{';
    size_t cap = 8;
    v->type = obj ? J_OBJ : J_ARR;
    v->items = xmalloc(cap * sizeof *v->items);
    if (obj)
      v->keys = xmalloc(cap * sizeof *v->keys);
    j->p++;
    for (;;) {
      jskip(j);
      if (j->p < j->end && *j->p == (obj ? '}' : ']')) {
        j->p++;
        break;
      }
      if (v->n == cap) {
        cap *= 2;
        v->items = realloc(v->items, cap * sizeof *v->items);
        if (obj)
          v->keys = realloc(v->keys, cap * sizeof *v->keys);
      }
      if (obj) {
        jskip(j);
        if (j->p >= j->end || *j->p != '"') {
          j->bad = 1;
          return v;
        }
        v->keys[v->n] = jstring(j, NULL);
        jskip(j);
        if (j->p >= j->end || *j->p != ':') {
          j->bad = 1;
          return v;
        }
        j->p++;
      }
      v->items[v->n++] = jvalue(j);
      if (j->bad)
        return v;
      jskip(j);
      if (j->p < j->end && *j->p == ',')
        j->p++;
    }
  } else {
    const char *s = j->p;
    while (j->p < j->end && *j->p != ',' && *j->p != '}' && *j->p != ']' &&
           *j->p != ' ' && *j->p != '\n')
      j->p++;
    v->str = xmalloc((size_t)(j->p - s) + 1);
    memcpy(v->str, s, (size_t)(j->p - s));
    v->str[j->p - s] = 0;
    v->type = v->str[0] == 't' || v->str[0] == 'f' ? J_BOOL
              : v->str[0] == 'n'                   ? J_NULL
                                                   : J_NUM;
  }
  return v;
}

static void jfree(jv *v) {
  size_t i;
  if (v == NULL)
    return;
  for (i = 0; i < v->n; i++) {
    jfree(v->items[i]);
    if (v->keys)
      free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->str);
  free(v);
}

static jv *jget(const jv *o, const char *key) {
  size_t i;
  if (o == NULL || o->type != J_OBJ)
    return NULL;
  for (i = 0; i < o->n; i++)
    if (strcmp(o->keys[i], key) == 0)
      return o->items[i];
  return NULL;
}

static const char *jstr(const jv *o, const char *key) {
  jv *v = jget(o, key);
  return v != NULL && v->type == J_STR ? v->str : NULL;
}

/* ---- the spectest module ----------------------------------------------- */

static int host_print(void *ud, pkw_instance *inst, const uint64_t *args,
                      uint64_t *results) {
  (void)ud; (void)inst; (void)args; (void)results;
  return 0;
}

typedef struct spectest {
  pkw_func *print, *print_i32, *print_i64, *print_f32, *print_f64,
      *print_i32_f32, *print_f64_f64;
  pkw_global *g_i32, *g_i64, *g_f32, *g_f64;
  pkw_table *table;
  pkw_memory *memory;
} spectest;

static pkw_func *mkprint(const char *sig) {
  pkw_functype ft;
  uint8_t ts[4];
  size_t i, n = strlen(sig);
  pkw_func *f = NULL;
  for (i = 0; i < n; i++)
    ts[i] = sig[i] == 'i' ? PKW_I32 : sig[i] == 'I' ? PKW_I64
            : sig[i] == 'f' ? PKW_F32 : PKW_F64;
  ft.nparams = (uint32_t)n;
  ft.nresults = 0;
  ft.params = ts;
  ft.results = ts;
  if (pkw_func_create_host(NULL, &ft, host_print, NULL, &f) < 0)
    exit(2);
  return f;
}

static void spectest_init(spectest *s) {
  float f = 666.6f;
  double d = 666.6;
  uint32_t fb;
  uint64_t db;
  memcpy(&fb, &f, 4);
  memcpy(&db, &d, 8);
  s->print = mkprint("");
  s->print_i32 = mkprint("i");
  s->print_i64 = mkprint("I");
  s->print_f32 = mkprint("f");
  s->print_f64 = mkprint("d");
  s->print_i32_f32 = mkprint("if");
  s->print_f64_f64 = mkprint("dd");
  if (pkw_global_create(NULL, PKW_I32, 0, 666, &s->g_i32) < 0 ||
      pkw_global_create(NULL, PKW_I64, 0, 666, &s->g_i64) < 0 ||
      pkw_global_create(NULL, PKW_F32, 0, fb, &s->g_f32) < 0 ||
      pkw_global_create(NULL, PKW_F64, 0, db, &s->g_f64) < 0 ||
      pkw_table_create(NULL, PKW_FUNCREF, 10, 20, 1, &s->table) < 0 ||
      pkw_memory_create(NULL, 1, 2, 1, &s->memory) < 0)
    exit(2);
}

static void spectest_fini(spectest *s) {
  pkw_func_destroy_host(s->print);
  pkw_func_destroy_host(s->print_i32);
  pkw_func_destroy_host(s->print_i64);
  pkw_func_destroy_host(s->print_f32);
  pkw_func_destroy_host(s->print_f64);
  pkw_func_destroy_host(s->print_i32_f32);
  pkw_func_destroy_host(s->print_f64_f64);
  pkw_global_destroy(s->g_i32);
  pkw_global_destroy(s->g_i64);
  pkw_global_destroy(s->g_f32);
  pkw_global_destroy(s->g_f64);
  pkw_table_destroy(s->table);
  pkw_memory_destroy(s->memory);
}

static int spectest_find(spectest *s, const char *name, pkw_extern *ex) {
  struct { const char *n; int k; void *p; } tab[] = {
      {"print", PKW_EXTERN_FUNC, s->print},
      {"print_i32", PKW_EXTERN_FUNC, s->print_i32},
      {"print_i64", PKW_EXTERN_FUNC, s->print_i64},
      {"print_f32", PKW_EXTERN_FUNC, s->print_f32},
      {"print_f64", PKW_EXTERN_FUNC, s->print_f64},
      {"print_i32_f32", PKW_EXTERN_FUNC, s->print_i32_f32},
      {"print_f64_f64", PKW_EXTERN_FUNC, s->print_f64_f64},
      {"global_i32", PKW_EXTERN_GLOBAL, s->g_i32},
      {"global_i64", PKW_EXTERN_GLOBAL, s->g_i64},
      {"global_f32", PKW_EXTERN_GLOBAL, s->g_f32},
      {"global_f64", PKW_EXTERN_GLOBAL, s->g_f64},
      {"table", PKW_EXTERN_TABLE, s->table},
      {"memory", PKW_EXTERN_MEMORY, s->memory},
  };
  size_t i;
  for (i = 0; i < sizeof tab / sizeof tab[0]; i++) {
    if (strcmp(tab[i].n, name) == 0) {
      ex->kind = tab[i].k;
      switch (tab[i].k) {
      case PKW_EXTERN_FUNC: ex->u.func = tab[i].p; break;
      case PKW_EXTERN_GLOBAL: ex->u.global = tab[i].p; break;
      case PKW_EXTERN_TABLE: ex->u.table = tab[i].p; break;
      default: ex->u.memory = tab[i].p; break;
      }
      return 0;
    }
  }
  return -1;
}

/* ---- per-file state ----------------------------------------------------- */

#define MAX_INST 4096

typedef struct runner {
  spectest st;
  const char *dir;
  pkw_module *mods[MAX_INST];
  pkw_instance *insts[MAX_INST];
  char *names[MAX_INST];          /* "$M" names, or NULL */
  int ninst;
  char *reg_names[256];           /* register "as" names */
  pkw_instance *reg_insts[256];
  int nreg;
  pkw_instance *current;
  long passed, failed, skipped;
  const char *file;
  int verbose;
  pkw_limits limits;
  int lazy;        /* -L: decode with PKW_DECODE_LAZY */
  int dirty;       /* -D: decode with PKW_DECODE_DIRTY, every instance
                      tracks the chunks it writes (reset_after_call's
                      marking, which must change no result) */
  int jit;         /* -J: run modules on the jit tier (pkw_module_jit) */
  const char *aot; /* -A DIR: the aot tier, artifacts cached in DIR */
  long aot_built, aot_cached;
  int validating;  /* loading for assert_invalid / assert_malformed */
} runner;

static void fail_msg(runner *r, const jv *cmd, const char *fmt, const char *a) {
  jv *line = jget(cmd, "line");
  r->failed++;
  if (r->verbose)
    fprintf(stderr, "  FAIL %s:%s %s: ", r->file, line ? line->str : "?",
            jstr(cmd, "type"));
  if (r->verbose) {
    fprintf(stderr, fmt, a);
    fputc('\n', stderr);
  }
}

static uint8_t *read_file(const char *path, size_t *out_len) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf;
  long n;
  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = xmalloc((size_t)n + 1);
  if (n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(buf);
    return NULL;
  }
  fclose(f);
  *out_len = (size_t)n;
  return buf;
}

/* ---- -A: the aot tier --------------------------------------------------- */

/* The module's aot C built with the system compiler, cached in r->aot
 * by the C's hash (the C depends on the module and the engine only),
 * then bound (aot_cc.h). */
static int aot_bind(runner *r, pkw_module *m, char *err, size_t errlen) {
  int built = 0;
  int rc = pkwt_aot_bind(m, NULL, r->aot, 1, &built, err, errlen);
  if (rc == PKW_OK) {
    if (built)
      r->aot_built++;
    else
      r->aot_cached++;
  }
  return rc;
}

static int load_module(runner *r, const char *filename, pkw_module **out,
                       char *err, size_t errlen) {
  char path[4096];
  size_t len = 0;
  uint8_t *bytes;
  int rc;
  snprintf(path, sizeof path, "%s/%s", r->dir, filename);
  bytes = read_file(path, &len);
  if (bytes == NULL) {
    snprintf(err, errlen, "cannot read %.400s", path);
    return -1000;
  }
  /* -L: lazy translation for modules that are run; the validation
     commands (invalid, malformed) still decode eagerly, since a lazy
     module checks its bodies only when they run. */
  rc = pkw_module_decode_ex(
      NULL, bytes, len,
      (r->lazy && !r->validating ? PKW_DECODE_LAZY : 0) |
          (r->dirty && !r->validating ? PKW_DECODE_DIRTY : 0),
      out, err, errlen);
  free(bytes);
  /* -J: every module that decodes runs compiled; a module the tier
     cannot take is a failure of the tier, not of the module. */
  if (rc == PKW_OK && r->aot != NULL && !r->validating) {
    int arc = aot_bind(r, *out, err, errlen);
    if (arc != PKW_OK) {
      fprintf(stderr, "  AOT %s: %s\n", filename, err);
      pkw_module_destroy(*out);
      *out = NULL;
      return -1001;
    }
  }
  if (rc == PKW_OK && r->jit && !r->validating) {
    int jrc = pkw_module_jit(*out, err, errlen);
    if (jrc != PKW_OK) {
      fprintf(stderr, "  JIT %s: %s\n", filename, err);
      pkw_module_destroy(*out);
      *out = NULL;
      return -1001;
    }
  }
  return rc;
}

static pkw_instance *find_registered(runner *r, const char *name) {
  int i;
  for (i = r->nreg - 1; i >= 0; i--)
    if (strcmp(r->reg_names[i], name) == 0)
      return r->reg_insts[i];
  return NULL;
}

static pkw_instance *find_named(runner *r, const char *name) {
  int i;
  if (name == NULL)
    return r->current;
  for (i = r->ninst - 1; i >= 0; i--)
    if (r->names[i] != NULL && strcmp(r->names[i], name) == 0)
      return r->insts[i];
  return NULL;
}

/* Instantiates m with imports resolved by name. Returns the engine code;
 * *out_inst may be set even on a trap (partly initialized instance). */
static int instantiate(runner *r, pkw_module *m, pkw_instance **out_inst,
                       char *err, size_t errlen) {
  uint32_t n = pkw_module_num_imports(m), i;
  pkw_extern *ims = xmalloc((n + 1) * sizeof *ims);
  int rc;
  for (i = 0; i < n; i++) {
    pkw_import_desc d;
    char mod[256], name[256];
    pkw_module_import(m, i, &d);
    snprintf(mod, sizeof mod, "%.*s", (int)d.module_len, d.module);
    snprintf(name, sizeof name, "%.*s", (int)d.name_len, d.name);
    if (strcmp(mod, "spectest") == 0) {
      if (spectest_find(&r->st, name, &ims[i]) < 0) {
        snprintf(err, errlen, "unknown import spectest.%.100s", name);
        free(ims);
        return PKW_EUNLINKABLE;
      }
    } else {
      pkw_instance *src = find_registered(r, mod);
      if (src == NULL ||
          pkw_instance_find(src, d.name, d.name_len, &ims[i]) < 0) {
        snprintf(err, errlen, "unknown import %.100s.%.100s", mod, name);
        free(ims);
        return PKW_EUNLINKABLE;
      }
    }
  }
  rc = pkw_instance_create(m, ims, n, &r->limits, out_inst, err, errlen);
  free(ims);
  if (rc == PKW_OK && r->dirty &&
      (rc = pkw_instance_track_dirty(*out_inst)) != PKW_OK)
    snprintf(err, errlen, "pkw_instance_track_dirty: %s", pkw_errname(rc));
  return rc;
}

static void keep(runner *r, pkw_module *m, pkw_instance *inst,
                 const char *name) {
  if (r->ninst == MAX_INST) {
    fprintf(stderr, "too many modules\n");
    exit(2);
  }
  r->mods[r->ninst] = m;
  r->insts[r->ninst] = inst;
  r->names[r->ninst] = name ? xstrdup(name) : NULL;
  r->ninst++;
}

/* Parses a JSON value description into a slot. Returns 0, or 1 for a NaN
 * pattern (kind in *nan: 1 canonical, 2 arithmetic). */
static int parse_val(const jv *v, uint64_t *out, int *nan, const char **ty) {
  const char *t = jstr(v, "type"), *s = jstr(v, "value");
  *nan = 0;
  *ty = t ? t : "?";
  *out = 0;
  if (t == NULL)
    return -1;
  if (strcmp(t, "externref") == 0 || strcmp(t, "funcref") == 0) {
    if (s == NULL) {
      *nan = 3;   /* any non-null reference */
      return 0;
    }
    if (strcmp(s, "null") == 0)
      *out = 0;
    else
      *out = strtoull(s, NULL, 10) + 1;  /* externref N -> N + 1 */
    return 0;
  }
  if (s == NULL)
    return -1;
  if (strcmp(s, "nan:canonical") == 0) {
    *nan = 1;
    return 0;
  }
  if (strcmp(s, "nan:arithmetic") == 0) {
    *nan = 2;
    return 0;
  }
  *out = strtoull(s, NULL, 10);
  return 0;
}

/* Runs an action; writes results. Returns the engine code, or -1000 if the
 * action could not even be set up. */
static int do_action(runner *r, const jv *act, uint64_t *res, uint32_t *nres,
                     char *err, size_t errlen) {
  const char *type = jstr(act, "type"), *field = jstr(act, "field");
  jv *fv = jget(act, "field");
  pkw_instance *inst = find_named(r, jstr(act, "module"));
  pkw_extern ex;
  *nres = 0;
  if (inst == NULL || field == NULL) {
    snprintf(err, errlen, "no module for action");
    return -1000;
  }
  if (pkw_instance_find(inst, field, fv->len, &ex) < 0) {
    snprintf(err, errlen, "no export %s", field);
    return -1000;
  }
  if (type != NULL && strcmp(type, "get") == 0) {
    if (ex.kind != PKW_EXTERN_GLOBAL)
      return -1000;
    res[0] = pkw_global_get(ex.u.global);
    *nres = 1;
    return 0;
  } else {
    jv *args = jget(act, "args");
    uint64_t av[64];
    uint32_t na = 0;
    size_t i;
    pkw_functype ft;
    if (ex.kind != PKW_EXTERN_FUNC)
      return -1000;
    for (i = 0; args != NULL && i < args->n && i < 64; i++) {
      int nan;
      const char *ty;
      parse_val(args->items[i], &av[na++], &nan, &ty);
    }
    pkw_func_type(ex.u.func, &ft);
    if (ft.nresults > 64)
      return -1000;
    *nres = ft.nresults;
    return pkw_call(ex.u.func, av, na, res, ft.nresults);
  }
}

static int match_val(const jv *want, uint64_t got) {
  uint64_t v;
  int nan;
  const char *ty;
  if (parse_val(want, &v, &nan, &ty) < 0)
    return 0;
  if (nan == 3)
    return got != 0;
  if (strcmp(ty, "f32") == 0) {
    uint32_t b = (uint32_t)got;
    if (nan == 1)
      return (b & 0x7fffffffu) == 0x7fc00000u;
    if (nan == 2)
      return (b & 0x7fc00000u) == 0x7fc00000u;
    return b == (uint32_t)v;
  }
  if (strcmp(ty, "f64") == 0) {
    if (nan == 1)
      return (got & 0x7fffffffffffffffull) == 0x7ff8000000000000ull;
    if (nan == 2)
      return (got & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
    return got == v;
  }
  if (strcmp(ty, "i32") == 0)
    return (uint32_t)got == (uint32_t)v;
  if (strcmp(ty, "funcref") == 0 && v != 0)
    return got != 0;
  return got == v;
}

static void run_command(runner *r, const jv *cmd) {
  const char *type = jstr(cmd, "type");
  char err[512] = "";
  uint64_t res[64];
  uint32_t nres;
  int rc;
  if (type == NULL)
    return;
  if (strcmp(type, "module") == 0) {
    pkw_module *m = NULL;
    pkw_instance *inst = NULL;
    rc = load_module(r, jstr(cmd, "filename"), &m, err, sizeof err);
    if (rc == 0) {
      rc = instantiate(r, m, &inst, err, sizeof err);
      if (inst != NULL || rc == 0)
        keep(r, m, inst, jstr(cmd, "name"));
      else
        pkw_module_destroy(m);
    }
    if (rc != 0) {
      fail_msg(r, cmd, "%s", err);
      r->current = NULL;
      return;
    }
    r->current = inst;
    r->passed++;
  } else if (strcmp(type, "register") == 0) {
    pkw_instance *inst = find_named(r, jstr(cmd, "name"));
    if (inst == NULL || r->nreg == 256) {
      fail_msg(r, cmd, "%s", "nothing to register");
      return;
    }
    r->reg_names[r->nreg] = xstrdup(jstr(cmd, "as"));
    r->reg_insts[r->nreg++] = inst;
    r->passed++;
  } else if (strcmp(type, "action") == 0) {
    rc = do_action(r, jget(cmd, "action"), res, &nres, err, sizeof err);
    if (rc != 0)
      fail_msg(r, cmd, "%s", rc == -1000 ? err : pkw_strerror(rc));
    else
      r->passed++;
  } else if (strcmp(type, "assert_return") == 0) {
    jv *exp = jget(cmd, "expected");
    size_t i;
    rc = do_action(r, jget(cmd, "action"), res, &nres, err, sizeof err);
    if (rc != 0) {
      fail_msg(r, cmd, "%s", rc == -1000 ? err : pkw_strerror(rc));
      return;
    }
    if (exp == NULL || exp->n != nres) {
      fail_msg(r, cmd, "%s", "result count");
      return;
    }
    for (i = 0; i < nres; i++) {
      if (!match_val(exp->items[i], res[i])) {
        char buf[128];
        snprintf(buf, sizeof buf, "result %zu: got 0x%" PRIx64 " want %s", i,
                 res[i], jstr(exp->items[i], "value") ? jstr(exp->items[i], "value") : "?");
        fail_msg(r, cmd, "%s", buf);
        return;
      }
    }
    r->passed++;
  } else if (strcmp(type, "assert_trap") == 0 ||
             strcmp(type, "assert_exhaustion") == 0) {
    rc = do_action(r, jget(cmd, "action"), res, &nres, err, sizeof err);
    if (!PKW_IS_TRAP(rc)) {
      fail_msg(r, cmd, "%s", rc == 0 ? "no trap" : rc == -1000 ? err
                                                               : pkw_strerror(rc));
      return;
    }
    if (strcmp(type, "assert_exhaustion") == 0 &&
        rc != PKW_TRAP_STACK_EXHAUSTED) {
      fail_msg(r, cmd, "%s", pkw_strerror(rc));
      return;
    }
    {
      /* The trap kind must match the expected message. */
      const char *text = jstr(cmd, "text");
      const char *mine = pkw_strerror(rc);
      size_t lt = text ? strlen(text) : 0, lm = strlen(mine);
      if (text != NULL &&
          strncmp(text, mine, lt < lm ? lt : lm) != 0) {
        char buf[256];
        snprintf(buf, sizeof buf, "trap '%s', want '%s'", mine, text);
        fail_msg(r, cmd, "%s", buf);
        return;
      }
    }
    r->passed++;
  } else if (strcmp(type, "assert_invalid") == 0 ||
             strcmp(type, "assert_malformed") == 0 ||
             strcmp(type, "assert_unlinkable") == 0 ||
             strcmp(type, "assert_uninstantiable") == 0) {
    const char *mt = jstr(cmd, "module_type");
    pkw_module *m = NULL;
    pkw_instance *inst = NULL;
    if (mt != NULL && strcmp(mt, "text") == 0) {
      r->skipped++;
      return;
    }
    r->validating = type[7] == 'i' || type[7] == 'm';
    rc = load_module(r, jstr(cmd, "filename"), &m, err, sizeof err);
    r->validating = 0;
    if (type[7] == 'i' || type[7] == 'm') {   /* invalid / malformed */
      if (rc == 0) {
        pkw_module_destroy(m);
        fail_msg(r, cmd, "%s", "module accepted");
        return;
      }
      r->passed++;
      return;
    }
    if (rc != 0) {
      fail_msg(r, cmd, "decode failed: %s", err);
      return;
    }
    rc = instantiate(r, m, &inst, err, sizeof err);
    if (inst != NULL)
      keep(r, m, inst, NULL);   /* may be referenced by others' tables */
    else
      pkw_module_destroy(m);
    if (strcmp(type, "assert_unlinkable") == 0) {
      if (rc != PKW_EUNLINKABLE) {
        fail_msg(r, cmd, "%s", rc == 0 ? "linked" : pkw_strerror(rc));
        return;
      }
    } else if (!PKW_IS_TRAP(rc)) {
      fail_msg(r, cmd, "%s", rc == 0 ? "instantiated" : pkw_strerror(rc));
      return;
    }
    r->passed++;
  } else {
    fail_msg(r, cmd, "%s", "unknown command");
  }
}

static void reset(runner *r) {
  int i;
  for (i = 0; i < r->ninst; i++) {
    pkw_instance_destroy(r->insts[i]);
    free(r->names[i]);
  }
  for (i = 0; i < r->ninst; i++)
    pkw_module_destroy(r->mods[i]);
  for (i = 0; i < r->nreg; i++)
    free(r->reg_names[i]);
  r->ninst = 0;
  r->nreg = 0;
  r->current = NULL;
}

static int run_file(runner *r, const char *path) {
  size_t len = 0;
  char *text = (char *)read_file(path, &len);
  jp j;
  jv *root, *cmds;
  size_t i;
  char *slash;
  static char dir[4096];
  if (text == NULL) {
    fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
    return -1;
  }
  snprintf(dir, sizeof dir, "%s", path);
  slash = strrchr(dir, '/');
  if (slash != NULL)
    *slash = 0;
  else
    snprintf(dir, sizeof dir, ".");
  r->dir = dir;
  j.p = text;
  j.end = text + len;
  j.bad = 0;
  root = jvalue(&j);
  cmds = jget(root, "commands");
  if (j.bad || cmds == NULL || cmds->type != J_ARR) {
    fprintf(stderr, "%s: bad JSON\n", path);
    jfree(root);
    free(text);
    return -1;
  }
  /* A fresh spectest per file, as each script runs on its own. */
  spectest_init(&r->st);
  for (i = 0; i < cmds->n; i++)
    run_command(r, cmds->items[i]);
  reset(r);
  spectest_fini(&r->st);
  jfree(root);
  free(text);
  return 0;
}

int main(int argc, char **argv) {
  static runner r;
  const char *report = NULL, *summary = NULL, *simd = NULL, *tag;
  long tp = 0, tf = 0, ts = 0, simd_files = 0, simd_cmds = 0;
  FILE *rep = NULL;
  int i;
  memset(&r, 0, sizeof r);
  r.verbose = 1;
  r.limits.stack_slots = 1u << 16;
  r.limits.max_call_depth = 10000;
  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-r") == 0 && i + 1 < argc) {
      report = argv[++i];
    } else if (strcmp(argv[i], "-s") == 0 && i + 1 < argc) {
      summary = argv[++i];
    } else if (strcmp(argv[i], "-k") == 0 && i + 1 < argc) {
      simd = argv[++i];
    } else if (strcmp(argv[i], "-q") == 0) {
      r.verbose = 0;
    } else if (strcmp(argv[i], "-L") == 0) {
      r.lazy = 1;
    } else if (strcmp(argv[i], "-J") == 0) {
      r.jit = 1;
    } else if (strcmp(argv[i], "-D") == 0) {
      r.dirty = 1;
    } else if (strcmp(argv[i], "-A") == 0 && i + 1 < argc) {
      r.aot = argv[++i];
      mkdir(r.aot, 0755);
    }
  }
  /* The summary line's name: one per tier (and for -D). */
  tag = r.aot != NULL ? (r.dirty ? "wasm-spec-aot-dirty" : "wasm-spec-aot")
        : r.jit       ? (r.dirty ? "wasm-spec-jit-dirty" : "wasm-spec-jit")
        : r.dirty     ? "wasm-spec-dirty"
                      : "wasm-spec";
  if (report != NULL)
    rep = fopen(report, "w");
  for (i = 1; i < argc; i++) {
    const char *base;
    if (argv[i][0] == '-') {
      if (strcmp(argv[i], "-q") != 0 && strcmp(argv[i], "-L") != 0 &&
          strcmp(argv[i], "-J") != 0 && strcmp(argv[i], "-D") != 0)
        i++;
      continue;
    }
    r.passed = r.failed = r.skipped = 0;
    /* Name files by their last two path parts ("core/i32.json",
     * "extended-const/data.json"): proposal files reuse core names. */
    base = argv[i] + strlen(argv[i]);
    {
      int slashes = 0;
      while (base > argv[i] && !(base[-1] == '/' && ++slashes == 2))
        base--;
    }
    r.file = base;
    if (run_file(&r, argv[i]) < 0)
      r.failed++;
    printf("%-44s %6ld passed %4ld failed %4ld skipped\n", base, r.passed,
           r.failed, r.skipped);
    if (rep != NULL)
      fprintf(rep, "%s\t%ld\t%ld\t%ld\n", base, r.passed, r.failed,
              r.skipped);
    tp += r.passed;
    tf += r.failed;
    ts += r.skipped;
  }
  if (simd != NULL) {
    /* The SIMD files are not run (no SIMD yet): count their commands as
     * skipped, from the suite's counts.tsv. */
    FILE *f = fopen(simd, "r");
    char line[1024];
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
      char *tab = strrchr(line, '\t');
      if (strncmp(line, "simd_", 5) == 0 && tab != NULL) {
        simd_files++;
        simd_cmds += strtol(tab + 1, NULL, 10);
      }
    }
    if (f != NULL)
      fclose(f);
    ts += simd_cmds;
    if (rep != NULL)
      fprintf(rep, "simd_*.wast (%ld files)\t0\t0\t%ld\tskipped: SIMD not "
                   "implemented\n", simd_files, simd_cmds);
    printf("skipped: %ld simd_*.wast files (%ld commands): SIMD not "
           "implemented\n", simd_files, simd_cmds);
  }
  printf("skipped: %ld text-format (.wat) modules in assert_malformed: "
         "binary-only engine\n", ts - simd_cmds);
  if (r.aot != NULL)
    printf("aot: %ld modules compiled, %ld from the cache (%s)\n",
           r.aot_built, r.aot_cached, r.aot);
  printf("%s: %ld passed, %ld failed, %ld skipped\n", tag, tp, tf, ts);
  if (rep != NULL) {
    fprintf(rep, "%s: %ld passed, %ld failed, %ld skipped\n", tag, tp, tf,
            ts);
    fclose(rep);
  }
  if (summary != NULL) {
    FILE *f = fopen(summary, "w");
    if (f != NULL) {
      fprintf(f, "%s: %ld passed, %ld failed, %ld skipped\n", tag, tp, tf,
              ts);
      fclose(f);
    }
  }
  return tf == 0 ? 0 : 1;
}
