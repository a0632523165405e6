/*
 * wimports.c: the imports of module "plugkit" (the SDK's fail, log,
 * config, host_find, host_call, vfail, vlog, vformat, oom) and host
 * functions imported by name, bound at open.
 */
#include "wasm_backend.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---- the "plugkit" imports --------------------------------------------- */

#define A32(i) ((uint32_t)args[i])

/* The guest fails the current call with this message. */
static int guest_fail(pk__wstate *st, const char *msg, size_t len) {
  if (st->lane->ctx.status != 0)
    return 0; /* keep the first cause (an oom) */
  st->lane->ctx.status = PK_EPLUGIN;
  /* (A length of 2 GiB or more read on past guest memory before
     pk__perr_text bounded it.) */
  pk__perr_text(st->p, PK_EPLUGIN, msg, len);
  return 0;
}

/* A line from the guest for the host's log sink. */
static int guest_log(pk__wstate *st, int level, const char *msg,
                     size_t len) {
  pk__plugin_log(st->p, level, msg, len);
  return 0;
}

static int imp_fail(void *ud, pkw_instance *inst, const uint64_t *args,
                    uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  const uint8_t *m = pk__wasm_mem(inst, A32(0), A32(1));
  (void)results;
  if (m == NULL)
    return pk__wasm_fail(st, PK_ETRAP, "fail: message outside guest memory");
  return guest_fail(st, (const char *)m, A32(1));
}

/*
 * vfail, vlog and vformat: pk_fail, pk_log and pk_str_vprintf formatted
 * by the host (wfmt.c), so that the guest links no printf. vfail and vlog
 * keep the first 511 bytes, as the SDK's pk__vfmt does natively, and an
 * empty message where vsnprintf would fail.
 */
#define MSG_MAX 511

/* Formats the message of vfail/vlog into msg (MSG_MAX + 1 bytes). */
static int format_msg(pk__wstate *st, pkw_instance *inst, const char *imp,
                      const uint64_t *fmt_ap, char *msg, size_t *len) {
  int64_t n;
  int rc = pk__wasm_format(st, inst, imp, (uint32_t)fmt_ap[0],
                           (uint32_t)fmt_ap[1], msg, MSG_MAX, &n);
  *len = n < 0 ? 0 : n > MSG_MAX ? MSG_MAX : (size_t)n;
  return rc;
}

static int imp_vfail(void *ud, pkw_instance *inst, const uint64_t *args,
                     uint64_t *results) {
  char msg[MSG_MAX + 1];
  size_t n;
  pk__wstate *st = pk__wasm_st(inst);
  int rc = format_msg(st, inst, "vfail", &args[0], msg, &n);
  (void)ud;
  (void)results;
  return rc < 0 ? rc : guest_fail(st, msg, n);
}

static int imp_vlog(void *ud, pkw_instance *inst, const uint64_t *args,
                    uint64_t *results) {
  char msg[MSG_MAX + 1];
  size_t n;
  pk__wstate *st = pk__wasm_st(inst);
  int rc = format_msg(st, inst, "vlog", &args[1], msg, &n);
  (void)ud;
  (void)results;
  return rc < 0 ? rc : guest_log(st, (int)A32(0), msg, n);
}

/* vformat(fmt, ap, buf, cap) -> i32: vsnprintf. The text is made in
   host memory, then copied: %s arguments may overlap buf. */
static int imp_vformat(void *ud, pkw_instance *inst, const uint64_t *args,
                       uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  pk_host *h = st->p->host;
  uint32_t cap = A32(3);
  char small[256], *text = small;
  uint8_t *dst;
  int64_t n = -1;
  int rc;
  size_t keep;
  if (cap > 0 && pk__wasm_mem(inst, A32(2), cap) == NULL)
    return pk__wasm_fail(st, PK_ETRAP,
                         "vformat: output buffer outside guest memory");
  /* Into `small` first, which counts the whole text (n) whatever it
     keeps. Only a longer text, where the guest has room for more, is
     formatted again (no guest code runs between: the same text), into a
     block of what is kept: a host block of the guest's cap, which may be
     as large as its memory, for every call, doubled its footprint. */
  rc = pk__wasm_format(st, inst, "vformat", A32(0), A32(1), small,
                       cap == 0 ? 0 : cap <= sizeof small ? cap - 1
                                                          : sizeof small - 1,
                       &n);
  if (rc == 0 && n >= (int64_t)sizeof small && cap > sizeof small) {
    keep = n < cap ? (size_t)n + 1 : cap;
    if ((text = pk__alloc(h, keep)) == NULL)
      return pk__wasm_fail(st, PK_ENOMEM,
                           "vformat: out of memory for a %zu-byte text", keep);
    rc = pk__wasm_format(st, inst, "vformat", A32(0), A32(1), text, keep - 1,
                         &n);
  }
  if (rc == 0 && cap > 0) {
    dst = pk__wasm_mem(inst, A32(2), cap);
    memcpy(dst, text, n < 0 ? 1 : (size_t)(n < cap ? n + 1 : cap));
  }
  if (text != small)
    pk__free(h, text);
  results[0] = (uint32_t)(int32_t)n;
  return rc;
}

/* The guest could not allocate `size` bytes: its memory is full. */
static int imp_oom(void *ud, pkw_instance *inst, const uint64_t *args,
                   uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  (void)inst;
  (void)results;
  st->lane->ctx.status = pk__wasm_out_of_memory(st, "the plugin", A32(0));
  return 0;
}

static int imp_log(void *ud, pkw_instance *inst, const uint64_t *args,
                   uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  const uint8_t *m = pk__wasm_mem(inst, A32(1), A32(2));
  uint32_t len = A32(2);
  char small[512], *copy = small;
  (void)results;
  if (m == NULL)
    return pk__wasm_fail(st, PK_ETRAP, "log: message outside guest memory");
  /* The sink is host code that may call back into the plugin: it gets a
     copy (rule 1), as the lines of vlog and fd_write are; of what it gets
     (pk__plugin_log cuts the rest), not a host block as large as the
     guest's memory. */
  if (len > PK__LOG_MAX)
    len = (uint32_t)PK__LOG_MAX;
  if (len > sizeof small && (copy = pk__alloc(st->p->host, len)) == NULL)
    return pk__wasm_fail(st, PK_ENOMEM, "log: out of memory copying a "
                                        "%u-byte message",
                         len);
  memcpy(copy, m, len);
  guest_log(st, (int)A32(0), copy, len);
  if (copy != small)
    pk__free(st->p->host, copy);
  return 0;
}

/* Copy `len` bytes into the guest; write (ptr, len) at `out`. */
static int give_guest(pk__wstate *st, pkw_instance *inst, const void *src,
                      size_t len, uint32_t out) {
  uint8_t *o = pk__wasm_mem(inst, out, 8), *dst;
  uint32_t gp = 0;
  int rc;
  if (o == NULL || len > UINT32_MAX)
    return pk__wasm_fail(st, PK_ETRAP, "result address outside guest memory");
  if (len > 0) {
    if ((rc = pk__wasm_guest_alloc(st, inst, (uint32_t)len, &gp, &dst)) < 0) {
      st->host_rc = rc;
      return PK__WASM_HOSTERR;
    }
    memcpy(dst, src, len);
    o = pk__wasm_mem(inst, out, 8); /* memory may have grown */
  }
  o[0] = (uint8_t)gp;
  o[1] = (uint8_t)(gp >> 8);
  o[2] = (uint8_t)(gp >> 16);
  o[3] = (uint8_t)(gp >> 24);
  o[4] = (uint8_t)len;
  o[5] = (uint8_t)(len >> 8);
  o[6] = (uint8_t)(len >> 16);
  o[7] = (uint8_t)(len >> 24);
  return 0;
}

static int imp_config(void *ud, pkw_instance *inst, const uint64_t *args,
                      uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  const uint8_t *key = pk__wasm_mem(inst, A32(0), A32(1));
  pk_str v;
  if (key == NULL)
    return pk__wasm_fail(st, PK_ETRAP, "config: key outside guest memory");
  if (pk__config_get(st->p, (const char *)key, A32(1), &v) != PK_OK) {
    results[0] = (uint32_t)PK_ENOENT;
    return 0;
  }
  results[0] = 0;
  return give_guest(st, inst, v.ptr, v.len, A32(2));
}

static int imp_host_find(void *ud, pkw_instance *inst, const uint64_t *args,
                         uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  const uint8_t *name = pk__wasm_mem(inst, A32(0), A32(1));
  const uint8_t *sig = pk__wasm_mem(inst, A32(2), A32(3));
  uint8_t *out = pk__wasm_mem(inst, A32(4), 4);
  char nbuf[128], sbuf[PK__SIG_MAX];
  int32_t idx = 0;
  int rc;
  if (name == NULL || sig == NULL || out == NULL || A32(1) >= sizeof nbuf ||
      A32(3) >= sizeof sbuf)
    return pk__wasm_fail(st, PK_ETRAP, "host_find: bad guest pointer");
  memcpy(nbuf, name, A32(1));
  nbuf[A32(1)] = '\0';
  memcpy(sbuf, sig, A32(3));
  sbuf[A32(3)] = '\0';
  rc = pk__hostfn_find(st->p, nbuf, A32(3) ? sbuf : NULL, &idx);
  if (rc == PK_OK)
    memcpy(out, &idx, 4);
  results[0] = (uint32_t)rc;
  return 0;
}

/*
 * The copies of a host function's str/bytes arguments (rule 1: the host
 * function may call back into the plugin, which may grow its memory).
 * Small ones live on the import's stack, others on the host's heap; all
 * die when the import returns, so a guest that calls a host function in
 * a loop does not pile them up for the rest of its call.
 */
typedef struct host_args {
  pk_host *h;
  size_t used; /* bytes of small in use */
  uint32_t nheap;
  void *heap[PK_MAX_PARAMS];
  char small[256];
} host_args;

static void host_args_free(host_args *a) {
  uint32_t i;
  for (i = 0; i < a->nheap; i++)
    pk__free(a->h, a->heap[i]);
}

/* Argument i: guest bytes [gp, gp + len) copied into `a`. */
static int host_arg(pk__wstate *st, pkw_instance *inst, uint32_t gp,
                    uint32_t len, const char *who, uint32_t i, pk_val *v,
                    host_args *a) {
  const uint8_t *d = pk__wasm_mem(inst, gp, len);
  char *c;
  if (d == NULL)
    return pk__wasm_fail(st, PK_ETRAP,
                         "host function '%s': argument %u outside guest "
                         "memory",
                         who, i + 1);
  if (len == 0) {
    v->str.ptr = "";
  } else {
    if (len <= sizeof a->small - a->used) {
      c = a->small + a->used;
      a->used += len;
    } else if ((c = pk__alloc(a->h, len)) != NULL) {
      a->heap[a->nheap++] = c;
    } else {
      return pk__wasm_fail(st, PK_ENOMEM,
                           "host function '%s': out of memory copying "
                           "argument %u",
                           who, i + 1);
    }
    memcpy(c, d, len);
    v->str.ptr = c;
  }
  v->str.len = len; /* str and bytes share the layout */
  return 0;
}

/* A str/bytes result of a host function that points into guest memory
   (a nested call's result passed on): copied into the call arena, since
   giving it to the guest calls cabi_realloc (rule 1). */
static int host_result_own(pk__wstate *st, pkw_instance *inst, pk_val *v) {
  pkw_memory *m = pkw_instance_memory(inst);
  uint64_t size = 0;
  const uint8_t *base = m ? pkw_memory_data(m, &size) : NULL;
  uintptr_t ptr = (uintptr_t)v->str.ptr;
  char *c;
  if (base == NULL || v->str.len == 0 || ptr >= (uintptr_t)base + size ||
      ptr + v->str.len <= (uintptr_t)base)
    return 0;
  if ((c = pk__arena_alloc(st->p->host, &st->lane->arena, v->str.len)) == NULL)
    return pk__wasm_fail(st, PK_ENOMEM, "host_call: out of memory copying a "
                                        "result");
  memcpy(c, v->str.ptr, v->str.len);
  v->str.ptr = c;
  return 0;
}

/* pk_val in wasm32: type at 0, payload at 8 (str: ptr at 8, len at 12). */
#define WVAL 16

static int host_call_copied(pk__wstate *st, pkw_instance *inst,
                            const uint64_t *args, uint64_t *results,
                            host_args *ha) {
  /* args and results alias (engine/wasm.h): read every argument first. */
  uint32_t index = A32(0), nargs = A32(2), nres = A32(4), i, resp = A32(3);
  uint32_t nout;
  const uint8_t *ga;
  pk_val in[PK_MAX_PARAMS], out[PK_MAX_RESULTS];
  int rc;

  if (nargs > PK_MAX_PARAMS || nres > PK_MAX_RESULTS ||
      (ga = pk__wasm_mem(inst, A32(1), nargs * WVAL)) == NULL ||
      pk__wasm_mem(inst, resp, nres * WVAL) == NULL)
    return pk__wasm_fail(st, PK_ETRAP, "host_call: bad guest pointer");
  for (i = 0; i < nargs; i++) {
    const uint8_t *v = ga + i * WVAL;
    memcpy(&in[i].type, v, 4);
    switch (in[i].type) {
    case PK_T_I32:
      memcpy(&in[i].i32, v + 8, 4);
      break;
    case PK_T_I64:
      memcpy(&in[i].i64, v + 8, 8);
      break;
    case PK_T_F32:
      memcpy(&in[i].f32, v + 8, 4);
      break;
    case PK_T_F64:
      memcpy(&in[i].f64, v + 8, 8);
      break;
    case PK_T_STR:
    case PK_T_BYTES: {
      uint32_t gp, len;
      memcpy(&gp, v + 8, 4);
      memcpy(&len, v + 12, 4);
      if ((rc = host_arg(st, inst, gp, len,
                         index < st->p->ngrants
                             ? st->p->host->fns[st->p->grants[index]].name
                             : "?",
                         i, &in[i], ha)) != 0)
        return rc;
      break;
    }
    default:
      in[i].type = 0xff; /* pk__hostfn_call rejects it with ETYPE */
    }
  }
  rc = pk__hostfn_call(st->lane, (int32_t)index, in, nargs, out, nres);
  results[0] = (uint32_t)rc; /* args[] is dead from here */
  if (rc != PK_OK)
    return 0;
  nout = st->p->host->fns[st->p->grants[index]].sig.nresults;
  if (nout > nres)
    nout = nres;
  for (i = 0; i < nout; i++)
    if (out[i].type >= PK_T_STR && (rc = host_result_own(st, inst, &out[i])))
      return rc;
  for (i = 0; i < nout; i++) {
    /* Asked again at each result: give_guest may have grown memory. */
    uint8_t *v = pk__wasm_mem(inst, resp + i * WVAL, WVAL);
    memset(v, 0, WVAL);
    memcpy(v, &out[i].type, 4);
    switch (out[i].type) {
    case PK_T_I32:
      memcpy(v + 8, &out[i].i32, 4);
      break;
    case PK_T_I64:
      memcpy(v + 8, &out[i].i64, 8);
      break;
    case PK_T_F32:
      memcpy(v + 8, &out[i].f32, 4);
      break;
    case PK_T_F64:
      memcpy(v + 8, &out[i].f64, 8);
      break;
    default:
      if ((rc = give_guest(st, inst, out[i].str.ptr, out[i].str.len,
                           resp + i * WVAL + 8)) != 0)
        return rc;
    }
  }
  return 0;
}

static int imp_host_call(void *ud, pkw_instance *inst, const uint64_t *args,
                         uint64_t *results) {
  pk__wstate *st = pk__wasm_st(inst);
  (void)ud;
  host_args ha;
  int rc;
  ha.h = st->p->host;
  ha.used = 0;
  ha.nheap = 0;
  rc = host_call_copied(st, inst, args, results, &ha);
  host_args_free(&ha);
  return rc;
}

/* A host function imported by name (its arguments copied into ha). */
static int typed_copied(pk__wtyped *ti, pk__wstate *st, pkw_instance *inst,
                        const uint64_t *args, uint64_t *results,
                        host_args *ha) {
  const pk__sig *s = &ti->fn->sig;
  pk_val in[PK_MAX_PARAMS], out[PK_MAX_RESULTS];
  uint32_t i, k = 0;
  int rc;
  for (i = 0; i < s->nparams; i++) {
    in[i].type = s->params[i];
    switch (s->params[i]) {
    case PK_T_I32:
      in[i].i32 = (int32_t)(uint32_t)args[k++];
      break;
    case PK_T_I64:
      in[i].i64 = (int64_t)args[k++];
      break;
    case PK_T_F32: {
      uint32_t b = (uint32_t)args[k++];
      memcpy(&in[i].f32, &b, 4);
      break;
    }
    case PK_T_F64:
      memcpy(&in[i].f64, &args[k++], 8);
      break;
    default:
      if ((rc = host_arg(st, inst, A32(k), A32(k + 1), ti->fn->name, i,
                         &in[i], ha)) != 0)
        return rc;
      k += 2;
    }
  }
  /* Arguments are read: results may now overwrite them (they alias). */
  if ((rc = pk__hostfn_call(st->lane, ti->index, in, s->nparams, out,
                            s->nresults)) != PK_OK) {
    st->host_rc = rc;
    return PK__WASM_HOSTERR;
  }
  if (s->nresults == 1) {
    switch (s->results[0]) {
    case PK_T_I32:
      results[0] = (uint32_t)out[0].i32;
      break;
    case PK_T_I64:
      results[0] = (uint64_t)out[0].i64;
      break;
    case PK_T_F32: {
      uint32_t b;
      memcpy(&b, &out[0].f32, 4);
      results[0] = b;
      break;
    }
    default:
      memcpy(&results[0], &out[0].f64, 8);
    }
  }
  return 0;
}

static int imp_typed(void *ud, pkw_instance *inst, const uint64_t *args,
                     uint64_t *results) {
  pk__wtyped *ti = ud;
  pk__wstate *st = pk__wasm_st(inst);
  host_args ha;
  int rc;
  ha.h = ti->m->p->host;
  ha.used = 0;
  ha.nheap = 0;
  rc = typed_copied(ti, st, inst, args, results, &ha);
  host_args_free(&ha);
  return rc;
}

static const struct {
  const char *name, *type;
  pkw_host_fn fn;
} builtins[] = {
    {"fail", "ii:", imp_fail},
    {"oom", "i:", imp_oom},
    {"log", "iii:", imp_log},
    {"config", "iii:i", imp_config},
    {"host_find", "iiiii:i", imp_host_find},
    {"host_call", "iiiii:i", imp_host_call},
    {"vfail", "ii:", imp_vfail},
    {"vlog", "iii:", imp_vlog},
    {"vformat", "iiii:i", imp_vformat},
};

static int all_i32(const pkw_functype *t, const char *s) {
  uint32_t i = 0, j = 0;
  for (; *s != ':'; s++, i++)
    if (i >= t->nparams || t->params[i] != PKW_I32)
      return 0;
  for (s++; *s; s++, j++)
    if (j >= t->nresults || t->results[j] != PKW_I32)
      return 0;
  return i == t->nparams && j == t->nresults;
}

/* Bind import i. */
int pk__wasm_bind_import(pk__wmod *m, const pkw_alloc *al,
                         const pkw_import_desc *d, pk__wtyped *ti,
                         pkw_func **out) {
  pk_plugin *p = m->p;
  size_t i;
  if (d->kind != PKW_EXTERN_FUNC)
    return pk__perr(p, PK_EFORMAT,
                    "import '%.*s.%.*s' is not a function: only function "
                    "imports are provided",
                    (int)d->module_len, d->module, (int)d->name_len, d->name);
  if (d->module_len == 22 &&
      memcmp(d->module, "wasi_snapshot_preview1", 22) == 0)
    return pk__wasi_bind(m, al, d->name, d->name_len, &d->type, out);
  if (d->module_len != 7 || memcmp(d->module, "plugkit", 7) != 0)
    return pk__perr(p, PK_ENOENT,
                    "unknown import '%.*s.%.*s' (modules provided: plugkit, "
                    "wasi_snapshot_preview1)",
                    (int)d->module_len, d->module, (int)d->name_len, d->name);
  for (i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
    if (strlen(builtins[i].name) != d->name_len ||
        memcmp(builtins[i].name, d->name, d->name_len) != 0)
      continue;
    if (!all_i32(&d->type, builtins[i].type)) {
      char got[64];
      pk__wasm_type_text(&d->type, got, sizeof got);
      /* A host function of the same name cannot be imported by name: the
         SDK's import owns it (docs/wasm-abi.md). */
      return pk__perr(p, PK_EFORMAT,
                      "import 'plugkit.%s' has wasm type %s, not the type of "
                      "the SDK's import of that name: '%s' is reserved by the "
                      "SDK (a host function called %s is reached through "
                      "pk_host_find and pk_host_call)",
                      builtins[i].name, got, builtins[i].name,
                      builtins[i].name);
    }
    if (pkw_func_create_host(al, &d->type, builtins[i].fn, m, out) !=
        PKW_OK)
      return pk__perr(p, PK_ENOMEM, "out of memory binding imports");
    return PK_OK;
  }
  /* A host function by name: it must be defined, granted and typed alike. */
  {
    char name[64], want[64], got[64];
    uint8_t wp[2 * PK_MAX_PARAMS], wr[PK_MAX_RESULTS];
    uint32_t np, nr;
    int32_t idx;
    int rc;
    if (d->name_len >= sizeof name)
      return pk__perr(p, PK_ENOENT, "unknown import 'plugkit.%.*s'",
                      (int)d->name_len, d->name);
    memcpy(name, d->name, d->name_len);
    name[d->name_len] = '\0';
    if ((rc = pk__hostfn_find(p, name, NULL, &idx)) < 0)
      return pk__perr(p, rc, "import 'plugkit.%s': %s", name,
                      rc == PK_EDENIED ? "host function not granted to this "
                                         "plugin"
                                       : "no such host function");
    ti->m = m;
    ti->index = idx;
    ti->fn = &p->host->fns[p->grants[idx]];
    if (pk__wasm_lower(&ti->fn->sig, wp, &np, wr, &nr) < 0 ||
        (ti->fn->sig.nresults == 1 && ti->fn->sig.results[0] >= PK_T_STR) ||
        !pk__wasm_same_type(&d->type, wp, np, wr, nr)) {
      pkw_functype t = {np, nr, wp, wr};
      pk__wasm_type_text(&d->type, got, sizeof got);
      pk__wasm_type_text(&t, want, sizeof want);
      return pk__perr(p, PK_ESIG,
                      "import 'plugkit.%s' has wasm type %s; host function "
                      "%s needs %s (str/bytes results only through "
                      "pk_host_call)",
                      name, got, ti->fn->sigtext, want);
    }
    if (pkw_func_create_host(al, &d->type, imp_typed, ti, out) != PKW_OK)
      return pk__perr(p, PK_ENOMEM, "out of memory binding imports");
    return PK_OK;
  }
}
