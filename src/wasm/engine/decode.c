/* Module decoding: sections, imports/exports, segments and the structural
 * checks of the module level. Function bodies are validated and translated
 * by compile.c, called from here once every section has been read. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "reader.h"

/* ---- allocation -------------------------------------------------------- */

void *pkw__realloc(const pkw_alloc *a, void *p, size_t n) {
  if (a->realloc_fn != NULL)
    return a->realloc_fn(a->ud, p, n);
  if (n == 0) {
    free(p);
    return NULL;
  }
  return realloc(p, n);
}

struct pkw_arena_block {
  pkw_arena_block *next;
  size_t cap;
  /* data follows, aligned to 16 */
};
#define BLOCK_HDR ((sizeof(pkw_arena_block) + 15u) & ~(size_t)15u)

void *pkw__arena_alloc(pkw_arena *a, size_t n) {
  void *p = pkw__arena_alloc_raw(a, n);
  if (p != NULL)
    memset(p, 0, n);
  return p;
}

void *pkw__arena_alloc_raw(pkw_arena *a, size_t n) {
  uint8_t *base;
  n = (n + 15u) & ~(size_t)15u;
  if (n == 0)
    n = 16;
  if (a->head == NULL || a->cap - a->used < n) {
    size_t cap = n > 4096 ? n : 4096;
    pkw_arena_block *b = pkw__realloc(&a->alloc, NULL, BLOCK_HDR + cap);
    if (b == NULL)
      return NULL;
    b->next = a->head;
    b->cap = cap;
    a->head = b;
    a->used = 0;
    a->cap = cap;
  }
  base = (uint8_t *)a->head + BLOCK_HDR + a->used;
  a->used += n;
  return base;
}

void pkw__arena_free(pkw_arena *a) {
  pkw_arena_block *b = a->head;
  while (b != NULL) {
    pkw_arena_block *next = b->next;
    pkw__realloc(&a->alloc, b, 0);
    b = next;
  }
  a->head = NULL;
}

void pkw__errf(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  if (err == NULL || errlen == 0)
    return;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

const char *pkw_errname(int rc) {
  switch (rc) {
#define NAME_(name, code, msg) case code: return #name;
    PKW_ERROR_LIST(NAME_)
#undef NAME_
  }
  return "UNKNOWN";
}

const char *pkw_strerror(int rc) {
  switch (rc) {
#define MSG_(name, code, msg) case code: return msg;
    PKW_ERROR_LIST(MSG_)
#undef MSG_
  }
  return "unknown error";
}

int pkw__functype_eq(const pkw_functype *a, const pkw_functype *b) {
  if (a == b)
    return 1;
  return a->nparams == b->nparams && a->nresults == b->nresults &&
         (a->nparams == 0 || memcmp(a->params, b->params, a->nparams) == 0) &&
         (a->nresults == 0 ||
          memcmp(a->results, b->results, a->nresults) == 0);
}

/* ---- decoding helpers ---------------------------------------------------- */

typedef struct dec {
  pkw_module *m;
  pkw_rd r;
  int oom;
} dec;

static void *dalloc(dec *d, size_t n) {
  void *p = pkw__arena_alloc(&d->m->arena, n);
  if (p == NULL) {
    d->oom = 1;
    rd_fail(&d->r, PKW_ENOMEM, "out of memory");
  }
  return p;
}

static int utf8_ok(const uint8_t *s, uint32_t n) {
  uint32_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    uint32_t cp, len, k;
    if (c < 0x80) {
      i++;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (n - i < len)
      return 0;
    for (k = 1; k < len; k++) {
      if ((s[i + k] & 0xc0) != 0x80)
        return 0;
      cp = (cp << 6) | (s[i + k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return 0;
    i += len;
  }
  return 1;
}

static const char *rd_name(dec *d, uint32_t *out_len) {
  uint32_t n = rd_u32(&d->r);
  const char *s;
  if (d->r.bad)
    return NULL;
  if ((size_t)(d->r.end - d->r.p) < n) {
    rd_fail(&d->r, PKW_EMALFORMED, "unexpected end (length out of bounds)");
    return NULL;
  }
  if (!utf8_ok(d->r.p, n)) {
    rd_fail(&d->r, PKW_EMALFORMED, "malformed UTF-8 encoding");
    return NULL;
  }
  s = (const char *)d->r.p;
  d->r.p += n;
  *out_len = n;
  return s;
}

/* A vector count, sanity-checked against the bytes left (each element
 * takes at least min_bytes), so a huge count cannot force a huge
 * allocation. */
static uint32_t rd_count(dec *d, size_t min_bytes) {
  uint32_t n = rd_u32(&d->r);
  if (!d->r.bad && (size_t)(d->r.end - d->r.p) / min_bytes < n)
    rd_fail(&d->r, PKW_EMALFORMED, "unexpected end (count too large)");
  return d->r.bad ? 0 : n;
}

static void rd_limits(dec *d, pkw_lims *l, uint64_t maxval, int is_mem) {
  uint8_t flag = rd_u8(&d->r);
  uint64_t v;
  if (flag > 1) {
    rd_fail(&d->r, PKW_EMALFORMED, "integer too large (limits flag)");
    return;
  }
  v = rd_u32(&d->r);
  l->min = (uint32_t)v;
  l->has_max = flag;
  l->max = 0;
  if (flag)
    l->max = rd_u32(&d->r);
  if (d->r.bad)
    return;
  if (is_mem && (l->min > maxval || (flag && l->max > maxval))) {
    rd_fail(&d->r, PKW_EINVALID,
            "memory size must be at most 65536 pages (4GiB)");
    return;
  }
  if (flag && l->max < l->min)
    rd_fail(&d->r, PKW_EINVALID, "size minimum must not be greater than "
                                 "maximum");
}

static uint8_t rd_valtype(dec *d) {
  uint8_t t = rd_u8(&d->r);
  if (!d->r.bad && !is_valtype(t))
    rd_fail(&d->r, PKW_EMALFORMED, "malformed value type");
  return t;
}

static uint8_t rd_reftype(dec *d) {
  uint8_t t = rd_u8(&d->r);
  if (!d->r.bad && !is_reftype(t))
    rd_fail(&d->r, PKW_EMALFORMED, "malformed reference type");
  return t;
}

static void rd_globaltype(dec *d, pkw_globaltype *g) {
  g->type = rd_valtype(d);
  g->mut = rd_u8(&d->r);
  if (!d->r.bad && g->mut > 1)
    rd_fail(&d->r, PKW_EMALFORMED, "malformed mutability");
}

/* Reads a constant expression (validated by compile.c) and records it. */
static void rd_cexpr(dec *d, pkw_cexpr *e, uint8_t type, uint32_t nglobals) {
  const uint8_t *start = d->r.p;
  char msg[8];
  int rc;
  if (d->r.bad)
    return;
  rc = pkw__validate_cexpr(d->m, &d->r.p, d->r.end, type, nglobals, msg,
                           sizeof msg);
  if (rc < 0) {
    rd_fail(&d->r, rc, rc == PKW_EMALFORMED ? "malformed constant expression"
                                            : "invalid constant expression");
    return;
  }
  e->p = start;
  e->len = (uint32_t)(d->r.p - start);
}

/* An element item expression: ref.null t, ref.func x or global.get x. */
static void rd_elem_item(dec *d, pkw_elem_item *it, uint8_t type) {
  const uint8_t *start = d->r.p;
  pkw_cexpr e;
  pkw_rd r2;
  uint8_t op;
  rd_cexpr(d, &e, type, d->m->nglobal_imports);
  if (d->r.bad)
    return;
  r2.p = start;
  r2.end = d->r.p;
  r2.bad = 0;
  r2.msg = NULL;
  op = rd_u8(&r2);
  if (op == 0xd0) {
    (void)rd_u8(&r2);
    it->kind = PKW_ELEM_NULL;
    it->idx = 0;
  } else if (op == 0xd2) {
    it->kind = PKW_ELEM_FUNC;
    it->idx = rd_u32(&r2);
    d->m->func_declared[it->idx] = 1;
  } else if (op == 0x23) {
    it->kind = PKW_ELEM_GLOBAL;
    it->idx = rd_u32(&r2);
  } else {
    rd_fail(&d->r, PKW_EINVALID, "constant expression required");
  }
  if (rd_u8(&r2) != 0x0b)
    rd_fail(&d->r, PKW_EINVALID, "constant expression required");
}

/* ---- sections ------------------------------------------------------------ */

static void sec_type(dec *d) {
  pkw_module *m = d->m;
  uint32_t i, n = rd_count(d, 3);
  m->types = dalloc(d, (n ? n : 1) * sizeof *m->types);
  if (d->r.bad)
    return;
  m->ntypes = n;
  for (i = 0; i < n && !d->r.bad; i++) {
    uint32_t np, nr, k;
    uint8_t *ts;
    const uint8_t *save;
    if (rd_u8(&d->r) != 0x60) {
      rd_fail(&d->r, PKW_EMALFORMED, "integer representation too long "
                                     "(malformed functype)");
      return;
    }
    np = rd_count(d, 1);
    save = d->r.p;
    d->r.p += np;
    nr = rd_count(d, 1);
    if (d->r.bad)
      return;
    d->r.p = save;
    ts = dalloc(d, np + nr + 1);
    if (ts == NULL)
      return;
    for (k = 0; k < np; k++)
      ts[k] = rd_valtype(d);
    (void)rd_u32(&d->r);
    for (k = 0; k < nr; k++)
      ts[np + k] = rd_valtype(d);
    m->types[i].nparams = np;
    m->types[i].nresults = nr;
    m->types[i].params = ts;
    m->types[i].results = ts + np;
  }
}

static void sec_import(dec *d) {
  pkw_module *m = d->m;
  uint32_t i, n = rd_count(d, 4);
  m->imports = dalloc(d, (n ? n : 1) * sizeof *m->imports);
  if (d->r.bad)
    return;
  m->nimports = n;
  for (i = 0; i < n && !d->r.bad; i++) {
    pkw_import *im = &m->imports[i];
    im->module = rd_name(d, &im->module_len);
    im->name = rd_name(d, &im->name_len);
    im->kind = rd_u8(&d->r);
    if (d->r.bad)
      return;
    switch (im->kind) {
    case PKW_EXTERN_FUNC:
      im->idx = rd_u32(&d->r);
      if (!d->r.bad && im->idx >= m->ntypes)
        rd_fail(&d->r, PKW_EINVALID, "unknown type");
      m->nfunc_imports++;
      break;
    case PKW_EXTERN_TABLE:
      im->table.elem = rd_reftype(d);
      rd_limits(d, &im->table.lim, 0xffffffffu, 0);
      m->ntable_imports++;
      break;
    case PKW_EXTERN_MEMORY:
      rd_limits(d, &im->mem, PKW_MAX_PAGES, 1);
      m->nmem_imports++;
      break;
    case PKW_EXTERN_GLOBAL:
      rd_globaltype(d, &im->global);
      m->nglobal_imports++;
      break;
    default:
      rd_fail(&d->r, PKW_EMALFORMED, "malformed import kind");
    }
  }
}

/* Allocates the per-kind arrays once the import and function counts are
 * known, and fills the imported entries. */
static void setup_spaces(dec *d, uint32_t ndefs_func, uint32_t ndef_tab,
                         uint32_t ndef_mem, uint32_t ndef_glob) {
  pkw_module *m = d->m;
  uint32_t i, fi = 0, ti = 0, mi = 0, gi = 0;
  m->nfuncs = m->nfunc_imports + ndefs_func;
  m->ntables = m->ntable_imports + ndef_tab;
  m->nmems = m->nmem_imports + ndef_mem;
  m->nglobals = m->nglobal_imports + ndef_glob;
  if ((uint64_t)m->nfuncs > 10000000u || m->ntables > 1000000u ||
      m->nglobals > 10000000u) {
    rd_fail(&d->r, PKW_EMALFORMED, "too many definitions");
    return;
  }
  m->func_type = dalloc(d, (m->nfuncs + 1) * sizeof *m->func_type);
  m->func_declared = dalloc(d, m->nfuncs + 1);
  m->codes = dalloc(d, (ndefs_func + 1) * sizeof *m->codes);
  m->tables = dalloc(d, (m->ntables + 1) * sizeof *m->tables);
  m->mems = dalloc(d, (m->nmems + 1) * sizeof *m->mems);
  m->globals = dalloc(d, (m->nglobals + 1) * sizeof *m->globals);
  m->global_init = dalloc(d, (ndef_glob + 1) * sizeof *m->global_init);
  if (d->r.bad)
    return;
  for (i = 0; i < m->nimports; i++) {
    pkw_import *im = &m->imports[i];
    switch (im->kind) {
    case PKW_EXTERN_FUNC: m->func_type[fi++] = im->idx; break;
    case PKW_EXTERN_TABLE: m->tables[ti++] = im->table; break;
    case PKW_EXTERN_MEMORY: m->mems[mi++] = im->mem; break;
    default: m->globals[gi++] = im->global; break;
    }
  }
}

static void sec_function(dec *d, uint32_t n) {
  pkw_module *m = d->m;
  uint32_t i;
  for (i = 0; i < n && !d->r.bad; i++) {
    uint32_t t = rd_u32(&d->r);
    if (!d->r.bad && t >= m->ntypes)
      rd_fail(&d->r, PKW_EINVALID, "unknown type");
    m->func_type[m->nfunc_imports + i] = t;
  }
}

static void sec_table(dec *d, uint32_t n) {
  pkw_module *m = d->m;
  uint32_t i;
  for (i = 0; i < n && !d->r.bad; i++) {
    pkw_tabletype *t = &m->tables[m->ntable_imports + i];
    t->elem = rd_reftype(d);
    rd_limits(d, &t->lim, 0xffffffffu, 0);
  }
}

static void sec_memory(dec *d, uint32_t n) {
  pkw_module *m = d->m;
  uint32_t i;
  for (i = 0; i < n && !d->r.bad; i++)
    rd_limits(d, &m->mems[m->nmem_imports + i], PKW_MAX_PAGES, 1);
}

static void sec_global(dec *d, uint32_t n) {
  pkw_module *m = d->m;
  uint32_t i;
  for (i = 0; i < n && !d->r.bad; i++) {
    pkw_globaltype *g = &m->globals[m->nglobal_imports + i];
    rd_globaltype(d, g);
    rd_cexpr(d, &m->global_init[i], g->type, m->nglobal_imports);
  }
}

/* Export name order for the sorted index: by length, then bytes. */
int pkw__export_cmp(const char *a, uint32_t alen, const char *b,
                    uint32_t blen) {
  if (alen != blen)
    return alen < blen ? -1 : 1;
  return alen ? memcmp(a, b, alen) : 0;
}

static int export_less(const pkw_export *a, const pkw_export *b) {
  return pkw__export_cmp(a->name, a->name_len, b->name, b->name_len) < 0;
}

/* Heap sort of the export index: O(n log n) whatever the names, in
 * place (qsort promises neither, nor a context for the comparison). */
static void sift_down(const pkw_export **v, size_t i, size_t n) {
  for (;;) {
    size_t big = i, l = 2 * i + 1, r = l + 1;
    const pkw_export *t;
    if (l < n && export_less(v[big], v[l]))
      big = l;
    if (r < n && export_less(v[big], v[r]))
      big = r;
    if (big == i)
      return;
    t = v[i];
    v[i] = v[big];
    v[big] = t;
    i = big;
  }
}

static void sort_exports(const pkw_export **v, size_t n) {
  size_t i;
  for (i = n / 2; i-- > 0;)
    sift_down(v, i, n);
  for (i = n; i-- > 1;) {
    const pkw_export *t = v[0];
    v[0] = v[i];
    v[i] = t;
    sift_down(v, 0, i);
  }
}

static void sec_export(dec *d) {
  pkw_module *m = d->m;
  uint32_t i, n = rd_count(d, 3);
  if (!d->r.bad && n > PKW_MAX_EXPORTS) {
    rd_fail(&d->r, PKW_ELIMIT, "too many exports (the engine's limit is "
                               "100000)");
    return;
  }
  m->exports = dalloc(d, (n ? n : 1) * sizeof *m->exports);
  m->export_index = dalloc(d, (n ? n : 1) * sizeof *m->export_index);
  if (d->r.bad)
    return;
  m->nexports = n;
  for (i = 0; i < n && !d->r.bad; i++) {
    pkw_export *e = &m->exports[i];
    uint32_t lim = 0;
    e->name = rd_name(d, &e->name_len);
    e->kind = rd_u8(&d->r);
    e->idx = rd_u32(&d->r);
    if (d->r.bad)
      return;
    switch (e->kind) {
    case PKW_EXTERN_FUNC: lim = m->nfuncs; break;
    case PKW_EXTERN_TABLE: lim = m->ntables; break;
    case PKW_EXTERN_MEMORY: lim = m->nmems; break;
    case PKW_EXTERN_GLOBAL: lim = m->nglobals; break;
    default:
      rd_fail(&d->r, PKW_EMALFORMED, "malformed export kind");
      return;
    }
    if (e->idx >= lim) {
      rd_fail(&d->r, PKW_EINVALID, "unknown export index");
      return;
    }
    if (e->kind == PKW_EXTERN_FUNC)
      m->func_declared[e->idx] = 1;
    m->export_index[i] = e;
  }
  /* Names sorted once: duplicates are neighbours, and pkw_instance_find
   * searches by halves. */
  sort_exports(m->export_index, n);
  for (i = 1; i < n; i++)
    if (!export_less(m->export_index[i - 1], m->export_index[i])) {
      rd_fail(&d->r, PKW_EINVALID, "duplicate export name");
      return;
    }
}

static void sec_elem(dec *d) {
  pkw_module *m = d->m;
  uint32_t i, k, n = rd_count(d, 2);
  m->elems = dalloc(d, (n ? n : 1) * sizeof *m->elems);
  if (d->r.bad)
    return;
  m->nelems = n;
  for (i = 0; i < n && !d->r.bad; i++) {
    pkw_elem_seg *s = &m->elems[i];
    uint32_t flags = rd_u32(&d->r);
    int uses_exprs;
    if (d->r.bad)
      return;
    if (flags > 7) {
      rd_fail(&d->r, PKW_EMALFORMED, "malformed elements segment kind");
      return;
    }
    s->mode = (flags & 1) ? ((flags & 2) ? PKW_SEG_DECLARATIVE
                                         : PKW_SEG_PASSIVE)
                          : PKW_SEG_ACTIVE;
    s->table = 0;
    s->type = PKW_FUNCREF;
    uses_exprs = (flags & 4) != 0;
    if (s->mode == PKW_SEG_ACTIVE) {
      if (flags & 2)
        s->table = rd_u32(&d->r);
      if (!d->r.bad && s->table >= m->ntables) {
        rd_fail(&d->r, PKW_EINVALID, "unknown table");
        return;
      }
      rd_cexpr(d, &s->offset, PKW_I32, m->nglobal_imports);
    }
    if (flags & 3) {
      if (uses_exprs) {
        s->type = rd_reftype(d);
      } else if (rd_u8(&d->r) != 0x00 && !d->r.bad) {
        rd_fail(&d->r, PKW_EMALFORMED, "malformed element kind");
        return;
      }
    }
    if (!d->r.bad && s->mode == PKW_SEG_ACTIVE &&
        m->tables[s->table].elem != s->type) {
      rd_fail(&d->r, PKW_EINVALID, "type mismatch");
      return;
    }
    s->n = rd_count(d, 1);
    s->items = dalloc(d, (s->n ? s->n : 1) * sizeof *s->items);
    for (k = 0; k < s->n && !d->r.bad; k++) {
      if (uses_exprs) {
        rd_elem_item(d, &s->items[k], s->type);
      } else {
        uint32_t f = rd_u32(&d->r);
        if (!d->r.bad && f >= m->nfuncs) {
          rd_fail(&d->r, PKW_EINVALID, "unknown function");
          return;
        }
        s->items[k].kind = PKW_ELEM_FUNC;
        s->items[k].idx = f;
        m->func_declared[f] = 1;
      }
    }
  }
}

static void sec_code(dec *d, uint32_t ndefs) {
  pkw_module *m = d->m;
  uint32_t i, n = rd_count(d, 2);
  if (d->r.bad)
    return;
  if (n != ndefs) {
    rd_fail(&d->r, PKW_EMALFORMED,
            "function and code section have inconsistent lengths");
    return;
  }
  for (i = 0; i < n && !d->r.bad; i++) {
    uint32_t size = rd_u32(&d->r);
    if (d->r.bad)
      return;
    if ((size_t)(d->r.end - d->r.p) < size) {
      rd_fail(&d->r, PKW_EMALFORMED, "unexpected end of section or function");
      return;
    }
    m->codes[i].body = d->r.p;
    m->codes[i].body_len = size;
    d->r.p += size;
  }
}

static void sec_data(dec *d) {
  pkw_module *m = d->m;
  uint32_t i, n = rd_count(d, 2);
  if (d->r.bad)
    return;
  if (m->has_datacount && n != m->datacount) {
    rd_fail(&d->r, PKW_EMALFORMED,
            "data count and data section have inconsistent lengths");
    return;
  }
  m->datas = dalloc(d, (n ? n : 1) * sizeof *m->datas);
  if (d->r.bad)
    return;
  m->ndatas = n;
  for (i = 0; i < n && !d->r.bad; i++) {
    pkw_data_seg *s = &m->datas[i];
    uint32_t flags = rd_u32(&d->r), len;
    if (d->r.bad)
      return;
    if (flags > 2) {
      rd_fail(&d->r, PKW_EMALFORMED, "malformed data segment kind");
      return;
    }
    s->mode = flags == 1 ? PKW_SEG_PASSIVE : PKW_SEG_ACTIVE;
    s->mem = 0;
    if (flags == 2)
      s->mem = rd_u32(&d->r);
    if (s->mode == PKW_SEG_ACTIVE) {
      if (!d->r.bad && s->mem >= m->nmems) {
        rd_fail(&d->r, PKW_EINVALID, "unknown memory");
        return;
      }
      rd_cexpr(d, &s->offset, PKW_I32, m->nglobal_imports);
    }
    len = rd_u32(&d->r);
    if (d->r.bad)
      return;
    if ((size_t)(d->r.end - d->r.p) < len) {
      rd_fail(&d->r, PKW_EMALFORMED, "unexpected end of section or function");
      return;
    }
    s->bytes = d->r.p;
    s->len = len;
    d->r.p += len;
  }
}

/* Section ids in the order the binary format requires them. */
static int sec_rank(uint8_t id) {
  static const int8_t rank[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};
  return id <= 12 ? rank[id] : -1;
}

/* The function, table and memory sections only give counts on a first
 * read; their bodies are parsed once every count is known and the index
 * spaces are laid out (setup_spaces), before the first later section. */
typedef struct deferred {
  const uint8_t *p, *end;     /* section body after the count, or NULL */
  uint32_t n;                 /* the count */
} deferred;

static void parse_deferred(dec *d, const deferred *s,
                           void (*parse)(dec *, uint32_t)) {
  pkw_rd save = d->r;
  if (d->r.bad || s->p == NULL)
    return;
  d->r.p = s->p;
  d->r.end = s->end;
  parse(d, s->n);
  if (!d->r.bad && d->r.p != d->r.end)
    rd_fail(&d->r, PKW_EMALFORMED, "section size mismatch");
  if (!d->r.bad)
    d->r = save;
}

static void layout_spaces(dec *d, const deferred *fn, const deferred *tab,
                          const deferred *mem) {
  setup_spaces(d, fn->n, tab->n, mem->n, 0);
  parse_deferred(d, fn, sec_function);
  parse_deferred(d, tab, sec_table);
  parse_deferred(d, mem, sec_memory);
}

static void defer(dec *d, deferred *s, const uint8_t *end, size_t min_bytes) {
  s->n = rd_count(d, min_bytes);
  s->p = d->r.p;
  s->end = end;
  d->r.p = end;
}

static int decode_all(dec *d, unsigned flags, char *err, size_t errlen) {
  pkw_module *m = d->m;
  int last_rank = 0, spaces_done = 0, have_code = 0;
  uint32_t i;
  deferred fn = {NULL, NULL, 0}, tab = {NULL, NULL, 0}, mem = {NULL, NULL, 0};

  if (rd_fixed32(&d->r) != 0x6d736100u) {
    rd_fail(&d->r, PKW_EMALFORMED, "magic header not detected");
    goto out;
  }
  if (rd_fixed32(&d->r) != 1u) {
    rd_fail(&d->r, PKW_EMALFORMED, "unknown binary version");
    goto out;
  }
  while (!d->r.bad && d->r.p < d->r.end) {
    uint8_t id = rd_u8(&d->r);
    uint32_t size = rd_u32(&d->r);
    const uint8_t *end, *outer_end;
    int rank;
    if (d->r.bad)
      break;
    if ((size_t)(d->r.end - d->r.p) < size) {
      rd_fail(&d->r, PKW_EMALFORMED, "section size mismatch (unexpected end)");
      break;
    }
    end = d->r.p + size;
    rank = sec_rank(id);
    if (rank < 0) {
      rd_fail(&d->r, PKW_EMALFORMED, "malformed section id");
      break;
    }
    if (id != 0) {
      if (rank <= last_rank) {
        rd_fail(&d->r, PKW_EMALFORMED, "unexpected content after last "
                                       "section (section out of order)");
        break;
      }
      last_rank = rank;
    }
    /* Parse the section inside its own bounds. */
    outer_end = d->r.end;
    d->r.end = end;
    if (rank >= 6 && !spaces_done && id != 0) {
      spaces_done = 1;
      layout_spaces(d, &fn, &tab, &mem);
      if (d->r.bad)
        break;
    }
    switch (id) {
    case 0: {
      uint32_t nl;
      (void)rd_name(d, &nl);   /* the name must be valid UTF-8 */
      d->r.p = end;
      break;
    }
    case 1: sec_type(d); break;
    case 2: sec_import(d); break;
    case 3: defer(d, &fn, end, 1); break;
    case 4: defer(d, &tab, end, 2); break;
    case 5: defer(d, &mem, end, 1); break;
    case 6: {
      /* Globals: grow the global arrays (the layout had none defined). */
      uint32_t n = rd_count(d, 3);
      pkw_globaltype *g;
      pkw_cexpr *gi;
      if (d->r.bad)
        break;
      g = dalloc(d, (m->nglobal_imports + n + 1) * sizeof *g);
      gi = dalloc(d, (n + 1) * sizeof *gi);
      if (d->r.bad)
        break;
      if (m->nglobal_imports)
        memcpy(g, m->globals, m->nglobal_imports * sizeof *g);
      m->globals = g;
      m->global_init = gi;
      m->nglobals = m->nglobal_imports + n;
      sec_global(d, n);
      break;
    }
    case 7: sec_export(d); break;
    case 8:
      m->has_start = 1;
      m->start = rd_u32(&d->r);
      if (!d->r.bad && m->start >= m->nfuncs) {
        rd_fail(&d->r, PKW_EINVALID, "unknown function");
      } else if (!d->r.bad) {
        const pkw_functype *t = &m->types[m->func_type[m->start]];
        if (t->nparams || t->nresults)
          rd_fail(&d->r, PKW_EINVALID, "start function");
      }
      break;
    case 9: sec_elem(d); break;
    case 12:
      m->has_datacount = 1;
      m->datacount = rd_u32(&d->r);
      break;
    case 10:
      have_code = 1;
      sec_code(d, fn.n);
      break;
    case 11: sec_data(d); break;
    }
    if (!d->r.bad && d->r.p != end)
      rd_fail(&d->r, PKW_EMALFORMED, "section size mismatch");
    if (!d->r.bad)
      d->r.end = outer_end;
  }
  if (!d->r.bad && !spaces_done)
    layout_spaces(d, &fn, &tab, &mem);
  if (d->r.bad)
    goto out;
  if (fn.n > 0 && !have_code) {
    rd_fail(&d->r, PKW_EMALFORMED,
            "function and code section have inconsistent lengths");
    goto out;
  }
  if (m->has_datacount && m->datacount != m->ndatas) {
    rd_fail(&d->r, PKW_EMALFORMED,
            "data count and data section have inconsistent lengths");
    goto out;
  }
  if (m->nmems > 1) {
    rd_fail(&d->r, PKW_EINVALID, "multiple memories");
    goto out;
  }
  /* Function bodies last: validation needs every section before them.
     A lazy module's wait for their first call (exec.c's LAZY). */
  if (flags & PKW_DECODE_LAZY) {
    m->lazy_code[0] = pkw__exec_opwords()[PKW_OP_LAZY];
    goto out;
  }
  for (i = 0; i < fn.n; i++) {
    int rc = pkw__compile_func(m, i, err, errlen);
    if (rc < 0)
      return rc;
  }
out:
  if (d->r.bad) {
    pkw__errf(err, errlen, "%s", d->r.msg);
    return d->r.bad;
  }
  return PKW_OK;
}

int pkw_module_decode(const pkw_alloc *alloc, const uint8_t *bytes,
                      size_t len, pkw_module **out_module, char *errbuf,
                      size_t errlen) {
  return pkw_module_decode_ex(alloc, bytes, len, 0, out_module, errbuf,
                              errlen);
}

const char *pkw_module_error(const pkw_module *m) {
  return m != NULL ? m->lazy_err : "";
}

int pkw_module_find_export(const pkw_module *m, const char *name,
                           size_t len, uint32_t *out_index) {
  uint32_t lo, hi;
  if (m == NULL || name == NULL || out_index == NULL)
    return PKW_EINVAL;
  if ((uint64_t)len > UINT32_MAX)
    return PKW_ENOENT;
  /* Binary search of the sorted index: [lo, hi) may hold the name. */
  lo = 0;
  hi = m->nexports;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    const pkw_export *e = m->export_index[mid];
    int c = pkw__export_cmp(e->name, e->name_len, name, (uint32_t)len);
    if (c == 0) {
      *out_index = (uint32_t)(e - m->exports);
      return PKW_OK;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return PKW_ENOENT;
}

int pkw_module_decode_ex(const pkw_alloc *alloc, const uint8_t *bytes,
                         size_t len, unsigned flags, pkw_module **out_module,
                         char *errbuf, size_t errlen) {
  pkw_alloc a = {NULL, NULL};
  pkw_module *m;
  dec d;
  int rc;
  if ((bytes == NULL && len > 0) || out_module == NULL)
    return PKW_EINVAL;
  if (alloc != NULL)
    a = *alloc;
  m = pkw__realloc(&a, NULL, sizeof *m);
  if (m == NULL)
    return PKW_ENOMEM;
  memset(m, 0, sizeof *m);
  atomic_flag_clear(&m->lock);
  atomic_flag_clear(&m->spare_lock);
  m->track_dirty = (flags & PKW_DECODE_DIRTY) != 0;
  m->alloc = a;
  m->arena.alloc = a;
  m->bytes = pkw__arena_alloc(&m->arena, len ? len : 1);
  if (m->bytes == NULL) {
    pkw_module_destroy(m);
    return PKW_ENOMEM;
  }
  if (len)
    memcpy(m->bytes, bytes, len);
  m->len = len;
  memset(&d, 0, sizeof d);
  d.m = m;
  d.r.p = m->bytes;
  d.r.end = m->bytes + len;
  rc = decode_all(&d, flags, errbuf, errlen);
  if (rc < 0) {
    pkw_module_destroy(m);
    return rc;
  }
  *out_module = m;
  return PKW_OK;
}

void pkw_module_destroy(pkw_module *m) {
  pkw_alloc a;
  if (m == NULL)
    return;
  a = m->alloc;
  pkw__spares_free(m);
  if (m->jit != NULL)
    m->jit->release(m->jit);
  pkw__arena_free(&m->arena);
  pkw__realloc(&a, m, 0);
}

size_t pkw_module_code_words(const pkw_module *m) {
  return m != NULL ? (size_t)m->code_words : 0;
}

uint32_t pkw_module_num_imports(const pkw_module *m) {
  return m != NULL ? m->nimports : 0;
}

int pkw_module_import(const pkw_module *m, uint32_t i,
                      pkw_import_desc *out_desc) {
  const pkw_import *im;
  if (m == NULL || out_desc == NULL || i >= m->nimports)
    return PKW_EINVAL;
  im = &m->imports[i];
  memset(out_desc, 0, sizeof *out_desc);
  out_desc->module = im->module;
  out_desc->module_len = im->module_len;
  out_desc->name = im->name;
  out_desc->name_len = im->name_len;
  out_desc->kind = im->kind;
  switch (im->kind) {
  case PKW_EXTERN_FUNC:
    out_desc->type = m->types[im->idx];
    break;
  case PKW_EXTERN_TABLE:
    out_desc->elem_type = im->table.elem;
    out_desc->min = im->table.lim.min;
    out_desc->max = im->table.lim.max;
    out_desc->has_max = im->table.lim.has_max;
    break;
  case PKW_EXTERN_MEMORY:
    out_desc->min = im->mem.min;
    out_desc->max = im->mem.max;
    out_desc->has_max = im->mem.has_max;
    break;
  default:
    out_desc->global_type = im->global.type;
    out_desc->global_mut = im->global.mut;
    break;
  }
  return PKW_OK;
}
