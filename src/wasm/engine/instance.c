/* Instantiation, linking, the host-side objects and the call entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "reader.h"

#define PAGE 65536u

int64_t pkw__memory_grow(pkw_memory *mem, uint32_t delta);
int64_t pkw__table_grow(pkw_table *t, uint32_t delta, uint64_t init);

/* ---- memories, tables, globals ------------------------------------------ */

static int memory_init(pkw_memory *mem, const pkw_alloc *a, uint32_t min,
                       uint32_t max) {
  memset(mem, 0, sizeof *mem);
  mem->alloc = *a;
  mem->max = max;
  if (min > max)
    return PKW_ELIMIT;
  if (min > 0) {
    /* With the C library's allocator, calloc: a large block comes as
     * fresh zero pages, so only the pages the guest touches cost. */
    if (a->realloc_fn == NULL) {
      mem->data = calloc((size_t)min, PAGE);
      if (mem->data == NULL)
        return PKW_ENOMEM;
    } else {
      mem->data = pkw__realloc(a, NULL, (size_t)min * PAGE);
      if (mem->data == NULL)
        return PKW_ENOMEM;
      memset(mem->data, 0, (size_t)min * PAGE);
    }
  }
  mem->pages = min;
  mem->size = (uint64_t)min * PAGE;
  return PKW_OK;
}

int64_t pkw__memory_grow(pkw_memory *mem, uint32_t delta) {
  uint32_t old = mem->pages;
  uint64_t npages = (uint64_t)old + delta;
  uint8_t *nd;
  if (npages > mem->max)
    return -1;
  if (delta == 0)
    return old;
  nd = pkw__realloc(&mem->alloc, mem->data, (size_t)npages * PAGE);
  if (nd == NULL)
    return -1;
  memset(nd + (size_t)old * PAGE, 0, (size_t)delta * PAGE);
  mem->data = nd;
  mem->pages = (uint32_t)npages;
  mem->size = npages * PAGE;
  return old;
}

static int table_init(pkw_table *t, const pkw_alloc *a, uint8_t elem,
                      uint32_t min, uint32_t max) {
  memset(t, 0, sizeof *t);
  t->alloc = *a;
  t->elem = elem;
  t->max = max;
  if (min > max)
    return PKW_ELIMIT;
  if (min > 0) {
    t->elems = pkw__realloc(a, NULL, (size_t)min * sizeof(uint64_t));
    if (t->elems == NULL)
      return PKW_ENOMEM;
    memset(t->elems, 0, (size_t)min * sizeof(uint64_t));
  }
  t->size = min;
  return PKW_OK;
}

int64_t pkw__table_grow(pkw_table *t, uint32_t delta, uint64_t init) {
  uint32_t old = t->size, i;
  uint64_t n = (uint64_t)old + delta;
  uint64_t *ne;
  if (n > t->max)
    return -1;
  if (delta == 0)
    return old;
  if (t->budget != NULL && t->budget->max - t->budget->used < delta)
    return -1;
  ne = pkw__realloc(&t->alloc, t->elems, (size_t)n * sizeof(uint64_t));
  if (ne == NULL)
    return -1;
  for (i = old; i < n; i++)
    ne[i] = init;
  t->elems = ne;
  t->size = (uint32_t)n;
  if (t->budget != NULL)
    t->budget->used += delta;
  return old;
}

static pkw_alloc alloc_or_default(const pkw_alloc *a) {
  pkw_alloc d = {NULL, NULL};
  return a != NULL ? *a : d;
}

int pkw_memory_create(const pkw_alloc *alloc, uint32_t min_pages,
                      uint32_t max_pages, int has_max, pkw_memory **out_mem) {
  pkw_alloc a = alloc_or_default(alloc);
  pkw_memory *m;
  int rc;
  if (out_mem == NULL || min_pages > PKW_MAX_PAGES)
    return PKW_EINVAL;
  m = pkw__realloc(&a, NULL, sizeof *m);
  if (m == NULL)
    return PKW_ENOMEM;
  rc = memory_init(m, &a, min_pages, has_max ? max_pages : PKW_MAX_PAGES);
  if (rc < 0) {
    pkw__realloc(&a, m, 0);
    return rc;
  }
  m->has_max = has_max ? 1 : 0;
  m->decl_max = max_pages;
  *out_mem = m;
  return PKW_OK;
}

void pkw_memory_destroy(pkw_memory *mem) {
  pkw_alloc a;
  if (mem == NULL)
    return;
  a = mem->alloc;
  pkw__realloc(&a, mem->data, 0);
  pkw__realloc(&a, mem, 0);
}

int pkw_table_create(const pkw_alloc *alloc, int elem_type, uint32_t min,
                     uint32_t max, int has_max, pkw_table **out_table) {
  pkw_alloc a = alloc_or_default(alloc);
  pkw_table *t;
  int rc;
  if (out_table == NULL || !is_reftype((uint8_t)elem_type))
    return PKW_EINVAL;
  t = pkw__realloc(&a, NULL, sizeof *t);
  if (t == NULL)
    return PKW_ENOMEM;
  rc = table_init(t, &a, (uint8_t)elem_type, min, has_max ? max : 0xffffffffu);
  if (rc < 0) {
    pkw__realloc(&a, t, 0);
    return rc;
  }
  t->has_max = has_max ? 1 : 0;
  t->decl_max = max;
  *out_table = t;
  return PKW_OK;
}

void pkw_table_destroy(pkw_table *t) {
  pkw_alloc a;
  if (t == NULL)
    return;
  a = t->alloc;
  pkw__realloc(&a, t->elems, 0);
  pkw__realloc(&a, t, 0);
}

int pkw_global_create(const pkw_alloc *alloc, int type, int mutable_,
                      uint64_t value, pkw_global **out_global) {
  pkw_alloc a = alloc_or_default(alloc);
  pkw_global *g;
  if (out_global == NULL || !is_valtype((uint8_t)type))
    return PKW_EINVAL;
  g = pkw__realloc(&a, NULL, sizeof *g);
  if (g == NULL)
    return PKW_ENOMEM;
  g->val = value;
  g->type = (uint8_t)type;
  g->mut = mutable_ ? 1 : 0;
  g->alloc = a;
  *out_global = g;
  return PKW_OK;
}

void pkw_global_destroy(pkw_global *g) {
  pkw_alloc a;
  if (g == NULL)
    return;
  a = g->alloc;
  pkw__realloc(&a, g, 0);
}

int pkw_func_create_host(const pkw_alloc *alloc, const pkw_functype *type,
                         pkw_host_fn fn, void *ud, pkw_func **out_func) {
  pkw_alloc a = alloc_or_default(alloc);
  pkw_func *f;
  uint8_t *ts;
  if (type == NULL || fn == NULL || out_func == NULL)
    return PKW_EINVAL;
  f = pkw__realloc(&a, NULL, sizeof *f + type->nparams + type->nresults + 1);
  if (f == NULL)
    return PKW_ENOMEM;
  memset(f, 0, sizeof *f);
  ts = (uint8_t *)(f + 1);
  if (type->nparams)
    memcpy(ts, type->params, type->nparams);
  if (type->nresults)
    memcpy(ts + type->nparams, type->results, type->nresults);
  f->type.nparams = type->nparams;
  f->type.nresults = type->nresults;
  f->type.params = ts;
  f->type.results = ts + type->nparams;
  f->host = fn;
  f->host_ud = ud;
  f->alloc = a;
  *out_func = f;
  return PKW_OK;
}

void pkw_func_destroy_host(pkw_func *f) {
  pkw_alloc a;
  if (f == NULL || f->code != NULL)
    return;
  a = f->alloc;
  pkw__realloc(&a, f, 0);
}

void pkw_func_type(const pkw_func *f, pkw_functype *out_type) {
  *out_type = f->type;
}

uint8_t *pkw_memory_data(pkw_memory *mem, uint64_t *out_size) {
  if (out_size != NULL)
    *out_size = mem != NULL ? mem->size : 0;
  return mem != NULL ? mem->data : NULL;
}

uint32_t pkw_memory_pages(const pkw_memory *mem) {
  return mem != NULL ? mem->pages : 0;
}

int pkw_memory_read(pkw_memory *mem, uint64_t off, void *dst, size_t n) {
  if (mem == NULL || off > mem->size || n > mem->size ||
      !pkw__in_bounds(off, n, mem->size))
    return PKW_TRAP_MEMORY_OOB;
  if (n)
    memcpy(dst, mem->data + off, n);
  return PKW_OK;
}

int pkw_memory_write(pkw_memory *mem, uint64_t off, const void *src,
                     size_t n) {
  if (mem == NULL || off > mem->size || n > mem->size ||
      !pkw__in_bounds(off, n, mem->size))
    return PKW_TRAP_MEMORY_OOB;
  if (n)
    memcpy(mem->data + off, src, n);
  return PKW_OK;
}

int pkw_memory_grow(pkw_memory *mem, uint32_t delta, uint32_t *out_old) {
  int64_t old;
  if (mem == NULL)
    return PKW_EINVAL;
  old = pkw__memory_grow(mem, delta);
  if (old < 0)
    return PKW_ELIMIT;
  if (out_old != NULL)
    *out_old = (uint32_t)old;
  return PKW_OK;
}

uint64_t pkw_global_get(const pkw_global *g) { return g->val; }
int pkw_global_type(const pkw_global *g) { return g->type; }
int pkw_global_set(pkw_global *g, uint64_t v) {
  if (g == NULL || !g->mut)
    return PKW_EINVAL;
  g->val = v;
  return PKW_OK;
}

uint32_t pkw_table_size(const pkw_table *t) { return t->size; }
int pkw_table_get(const pkw_table *t, uint32_t i, uint64_t *out_ref) {
  if (!pkw__in_bounds(i, 1, t->size))
    return PKW_TRAP_TABLE_OOB;
  *out_ref = t->elems[i];
  return PKW_OK;
}
int pkw_table_set(pkw_table *t, uint32_t i, uint64_t ref) {
  if (!pkw__in_bounds(i, 1, t->size))
    return PKW_TRAP_TABLE_OOB;
  t->elems[i] = ref;
  return PKW_OK;
}

/* ---- instantiation ------------------------------------------------------- */

/* Evaluates a validated constant expression. */
static uint64_t eval_cexpr(pkw_instance *inst, const pkw_cexpr *e) {
  pkw_rd r;
  uint64_t st[64];
  uint32_t sp = 0;
  r.p = e->p;
  r.end = e->p + e->len;
  r.bad = 0;
  r.msg = NULL;
  for (;;) {
    uint8_t op = rd_u8(&r);
    uint64_t v = 0;
    if (op == 0x0b || r.bad)
      break;
    switch (op) {
    case 0x41: v = (uint32_t)rd_sleb(&r, 32); break;
    case 0x42: v = (uint64_t)rd_sleb(&r, 64); break;
    case 0x43: v = rd_fixed32(&r); break;
    case 0x44: v = rd_fixed64(&r); break;
    case 0xd0: (void)rd_u8(&r); v = 0; break;
    case 0xd2: v = (uint64_t)(uintptr_t)inst->funcs[rd_u32(&r)]; break;
    case 0x23: v = inst->globals[rd_u32(&r)]->val; break;
    default: {
      uint64_t b = st[--sp], a = st[--sp];
      switch (op) {
      case 0x6a: v = (uint32_t)(a + b); break;
      case 0x6b: v = (uint32_t)(a - b); break;
      case 0x6c: v = (uint32_t)(a * b); break;
      case 0x7c: v = a + b; break;
      case 0x7d: v = a - b; break;
      default: v = a * b; break;
      }
    }
    }
    st[sp++] = v;
  }
  return sp ? st[0] : 0;
}

static int limits_match(uint32_t have_min, uint32_t have_max, int have_hasmax,
                        const pkw_lims *want) {
  if (have_min < want->min)
    return 0;
  if (want->has_max && (!have_hasmax || have_max > want->max))
    return 0;
  return 1;
}

static int link_imports(pkw_instance *inst, const pkw_extern *imports,
                        uint32_t nimports, char *err, size_t errlen) {
  pkw_module *m = inst->mod;
  uint32_t i, fi = 0, ti = 0, gi = 0;
  if (nimports != m->nimports || (nimports && imports == NULL)) {
    pkw__errf(err, errlen, "expected %u imports, got %u", m->nimports,
              nimports);
    return PKW_EUNLINKABLE;
  }
  for (i = 0; i < nimports; i++) {
    const pkw_import *im = &m->imports[i];
    const pkw_extern *ex = &imports[i];
    int ok = ex->kind == im->kind && ex->u.func != NULL;
    if (ok) {
      switch (im->kind) {
      case PKW_EXTERN_FUNC:
        ok = pkw__functype_eq(&ex->u.func->type, &m->types[im->idx]);
        if (ok)
          inst->funcs[fi++] = ex->u.func;
        break;
      case PKW_EXTERN_TABLE: {
        const pkw_table *t = ex->u.table;
        ok = t->elem == im->table.elem &&
             limits_match(t->size, t->decl_max, t->has_max,
                          &im->table.lim);
        if (ok)
          inst->tables[ti++] = ex->u.table;
        break;
      }
      case PKW_EXTERN_MEMORY: {
        const pkw_memory *mm = ex->u.memory;
        ok = limits_match(mm->pages, mm->decl_max, mm->has_max,
                          &im->mem);
        if (ok)
          inst->mem = ex->u.memory;
        break;
      }
      default: {
        const pkw_global *g = ex->u.global;
        ok = g->type == im->global.type && g->mut == im->global.mut;
        if (ok)
          inst->globals[gi++] = ex->u.global;
        break;
      }
      }
    }
    if (!ok) {
      pkw__errf(err, errlen, "incompatible import type for %.*s.%.*s",
                (int)im->module_len, im->module, (int)im->name_len,
                im->name);
      return PKW_EUNLINKABLE;
    }
  }
  return PKW_OK;
}

/* Offsets into the single allocation that holds an instance. */
static size_t align16(size_t n) { return (n + 15u) & ~(size_t)15u; }

int pkw_instance_create(pkw_module *m, const pkw_extern *imports,
                        uint32_t nimports, const pkw_limits *limits,
                        pkw_instance **out_inst, char *errbuf,
                        size_t errlen) {
  pkw_instance *inst;
  pkw_limits lim;
  size_t sz, o_funcs, o_ownf, o_tabs, o_ownt, o_globs, o_owng, o_ed, o_dd;
  size_t o_frames;
  uint32_t ndf, ndt, ndg, i;
  uint8_t *base;
  int rc;

  if (m == NULL || out_inst == NULL)
    return PKW_EINVAL;
  memset(&lim, 0, sizeof lim);
  if (limits != NULL)
    lim = *limits;
  if (lim.max_memory_pages == 0)
    lim.max_memory_pages = PKW_DEFAULT_MAX_MEMORY_PAGES;
  if (lim.max_call_depth == 0)
    lim.max_call_depth = PKW_DEFAULT_MAX_CALL_DEPTH;
  if (lim.stack_slots == 0)
    lim.stack_slots = PKW_DEFAULT_STACK_SLOTS;
  if (lim.max_table_elems == 0)
    lim.max_table_elems = PKW_DEFAULT_MAX_TABLE_ELEMS;

  ndf = m->nfuncs - m->nfunc_imports;
  ndt = m->ntables - m->ntable_imports;
  ndg = m->nglobals - m->nglobal_imports;
  sz = align16(sizeof *inst);
  o_funcs = sz; sz = align16(sz + m->nfuncs * sizeof(pkw_func *));
  o_ownf = sz;  sz = align16(sz + ndf * sizeof(pkw_func));
  o_tabs = sz;  sz = align16(sz + m->ntables * sizeof(pkw_table *));
  o_ownt = sz;  sz = align16(sz + ndt * sizeof(pkw_table));
  o_globs = sz; sz = align16(sz + m->nglobals * sizeof(pkw_global *));
  o_owng = sz;  sz = align16(sz + ndg * sizeof(pkw_global));
  o_ed = sz;    sz = align16(sz + m->nelems);
  o_dd = sz;    sz = align16(sz + m->ndatas);
  o_frames = sz;
  sz += (size_t)lim.max_call_depth * sizeof(pkw_frame);
  base = pkw__realloc(&m->alloc, NULL, sz);
  if (base == NULL)
    return PKW_ENOMEM;
  memset(base, 0, o_frames);
  inst = (pkw_instance *)base;
  inst->mod = m;
  inst->alloc = m->alloc;
  inst->limits = lim;
  inst->funcs = (pkw_func **)(base + o_funcs);
  inst->own_funcs = (pkw_func *)(base + o_ownf);
  inst->tables = (pkw_table **)(base + o_tabs);
  inst->own_tables = (pkw_table *)(base + o_ownt);
  inst->globals = (pkw_global **)(base + o_globs);
  inst->own_globals = (pkw_global *)(base + o_owng);
  inst->elem_dropped = base + o_ed;
  inst->data_dropped = base + o_dd;
  inst->frames = (pkw_frame *)(base + o_frames);
  inst->frames_end = inst->frames + lim.max_call_depth;
  inst->frame_free = inst->frames;
  inst->fuel = lim.fuel > 0 ? lim.fuel : -1;
  atomic_init(&inst->interrupt, 0);
  inst->stack = pkw__realloc(&m->alloc, NULL,
                             (size_t)lim.stack_slots * sizeof(uint64_t));
  if (inst->stack == NULL) {
    rc = PKW_ENOMEM;
    goto fail;
  }
  inst->stack_end = inst->stack + lim.stack_slots;
  inst->stack_free = inst->stack;

  rc = link_imports(inst, imports, nimports, errbuf, errlen);
  if (rc < 0)
    goto fail;

  /* Defined functions. */
  for (i = 0; i < ndf; i++) {
    pkw_func *f = &inst->own_funcs[i];
    const pkw_code *c = &m->codes[i];
    f->type = m->types[m->func_type[m->nfunc_imports + i]];
    f->inst = inst;
    if (c->code != NULL) {
      f->code = c->code;
      f->nlocals = c->nlocals;
      f->frame_size = c->frame_size;
      f->jit = m->jit != NULL ? m->jit->fns[i] : NULL;
    } else if (m->jit != NULL && m->jit->frames != NULL &&
               m->jit->fns[i] != NULL) {
      /* aot code for a body not translated here: it runs natively; an
         interpreter calling it runs LAZY, which translates it then. */
      f->code = m->lazy_code;
      f->nlocals = m->jit->frames[2 * i];
      f->frame_size = m->jit->frames[2 * i + 1];
      f->jit = m->jit->fns[i];
    } else {
      /* Lazy: entering runs LAZY, which translates and re-enters. Until
         then its frame is the parameters plus the 4 slots a call zeroes
         (zero_locals in exec.c). */
      f->code = m->lazy_code;
      f->nlocals = f->type.nparams;
      f->frame_size = f->type.nparams + 4;
    }
    inst->funcs[m->nfunc_imports + i] = f;
  }
  /* Defined tables and memory. The tables' elements, together, are
   * bounded by the memory limit (8 bytes each) and by max_table_elems:
   * checked on the declared minimums before anything is allocated, and
   * charged again at each table.grow (pkw__table_grow). */
  {
    uint64_t by_mem = (uint64_t)lim.max_memory_pages * PAGE /
                      sizeof(uint64_t);
    uint64_t want = 0;
    int mem_bound = by_mem < lim.max_table_elems;
    inst->table_budget.max = mem_bound ? by_mem : lim.max_table_elems;
    for (i = 0; i < ndt; i++)
      want += m->tables[m->ntable_imports + i].lim.min;
    if (want > inst->table_budget.max) {
      if (mem_bound)
        pkw__errf(errbuf, errlen,
                  "tables: %llu elements (%llu bytes) exceed the memory "
                  "limit (%llu bytes)",
                  (unsigned long long)want,
                  (unsigned long long)want * sizeof(uint64_t),
                  (unsigned long long)lim.max_memory_pages * PAGE);
      else
        pkw__errf(errbuf, errlen,
                  "tables: %llu elements exceed the limit (%llu elements)",
                  (unsigned long long)want,
                  (unsigned long long)inst->table_budget.max);
      rc = PKW_ELIMIT;
      goto fail;
    }
    inst->table_budget.used = want;
  }
  for (i = 0; i < ndt; i++) {
    const pkw_tabletype *tt = &m->tables[m->ntable_imports + i];
    uint32_t max = tt->lim.has_max ? tt->lim.max : 0xffffffffu;
    if (max > lim.max_table_elems)
      max = lim.max_table_elems;
    rc = table_init(&inst->own_tables[i], &m->alloc, tt->elem, tt->lim.min,
                    max);
    inst->own_tables[i].budget = &inst->table_budget;
    inst->own_tables[i].has_max = tt->lim.has_max;
    inst->own_tables[i].decl_max = tt->lim.max;
    if (rc < 0) {
      pkw__errf(errbuf, errlen, "table %u: size over the limit", i);
      goto fail;
    }
    inst->tables[m->ntable_imports + i] = &inst->own_tables[i];
  }
  if (m->nmems > m->nmem_imports) {
    const pkw_lims *ml = &m->mems[0];
    uint32_t max = ml->has_max ? ml->max : PKW_MAX_PAGES;
    if (max > lim.max_memory_pages)
      max = lim.max_memory_pages;
    inst->mem = pkw__realloc(&m->alloc, NULL, sizeof(pkw_memory));
    if (inst->mem == NULL) {
      rc = PKW_ENOMEM;
      goto fail;
    }
    inst->own_mem = 1;
    rc = memory_init(inst->mem, &m->alloc, ml->min, max);
    inst->mem->has_max = ml->has_max;
    inst->mem->decl_max = ml->max;
    if (rc < 0) {
      pkw__errf(errbuf, errlen, "memory: size over the limit");
      goto fail;
    }
  }
  /* Globals, in order (initializers may read imported globals). */
  for (i = 0; i < ndg; i++) {
    pkw_global *g = &inst->own_globals[i];
    const pkw_globaltype *gt = &m->globals[m->nglobal_imports + i];
    g->type = gt->type;
    g->mut = gt->mut;
    g->alloc = m->alloc;
    inst->globals[m->nglobal_imports + i] = g;
  }
  for (i = 0; i < ndg; i++)
    inst->own_globals[i].val = eval_cexpr(inst, &m->global_init[i]);

  /* From here on, traps leave a partly initialized instance that the
   * caller receives (imported tables may already point into it). */
  for (i = 0; i < m->nelems; i++) {
    const pkw_elem_seg *s = &m->elems[i];
    if (s->mode == PKW_SEG_ACTIVE) {
      pkw_table *t = inst->tables[s->table];
      uint64_t off = (uint32_t)eval_cexpr(inst, &s->offset), k;
      if (!pkw__in_bounds(off, s->n, t->size)) {
        rc = PKW_TRAP_TABLE_OOB;
        goto trapped;
      }
      for (k = 0; k < s->n; k++) {
        const pkw_elem_item *it = &s->items[k];
        uint64_t v = 0;
        if (it->kind == PKW_ELEM_FUNC)
          v = (uint64_t)(uintptr_t)inst->funcs[it->idx];
        else if (it->kind == PKW_ELEM_GLOBAL)
          v = inst->globals[it->idx]->val;
        t->elems[off + k] = v;
      }
      inst->elem_dropped[i] = 1;
    } else if (s->mode == PKW_SEG_DECLARATIVE) {
      inst->elem_dropped[i] = 1;
    }
  }
  for (i = 0; i < m->ndatas; i++) {
    const pkw_data_seg *s = &m->datas[i];
    if (s->mode == PKW_SEG_ACTIVE) {
      uint64_t off = (uint32_t)eval_cexpr(inst, &s->offset);
      if (!pkw__in_bounds(off, s->len, inst->mem->size)) {
        rc = PKW_TRAP_MEMORY_OOB;
        goto trapped;
      }
      if (s->len)
        memcpy(inst->mem->data + off, s->bytes, s->len);
      inst->data_dropped[i] = 1;
    }
  }
  if (m->has_start && !lim.defer_start) {
    rc = pkw_call(inst->funcs[m->start], NULL, 0, NULL, 0);
    if (rc < 0)
      goto trapped;
  }
  *out_inst = inst;
  return PKW_OK;
trapped:
  pkw__errf(errbuf, errlen, "instantiation trapped: %s", pkw_strerror(rc));
  *out_inst = inst;
  return rc;
fail:
  pkw_instance_destroy(inst);
  return rc;
}

void pkw_instance_destroy(pkw_instance *inst) {
  pkw_alloc a;
  uint32_t i, ndt;
  if (inst == NULL)
    return;
  a = inst->alloc;
  ndt = inst->mod->ntables - inst->mod->ntable_imports;
  for (i = 0; i < ndt; i++)
    pkw__realloc(&a, inst->own_tables[i].elems, 0);
  if (inst->own_mem && inst->mem != NULL) {
    pkw__realloc(&a, inst->mem->data, 0);
    pkw__realloc(&a, inst->mem, 0);
  }
  pkw__realloc(&a, inst->stack, 0);
  pkw__realloc(&a, inst, 0);
}

static void export_value(pkw_instance *inst, const pkw_export *e,
                         pkw_extern *out_ext) {
  out_ext->kind = e->kind;
  switch (e->kind) {
  case PKW_EXTERN_FUNC: out_ext->u.func = inst->funcs[e->idx]; break;
  case PKW_EXTERN_TABLE: out_ext->u.table = inst->tables[e->idx]; break;
  case PKW_EXTERN_MEMORY: out_ext->u.memory = inst->mem; break;
  default: out_ext->u.global = inst->globals[e->idx]; break;
  }
}

int pkw_instance_export(pkw_instance *inst, uint32_t i, const char **out_name,
                        uint32_t *out_len, pkw_extern *out_ext) {
  const pkw_export *e;
  if (inst == NULL || out_ext == NULL)
    return PKW_EINVAL;
  if (i >= inst->mod->nexports)
    return PKW_ENOENT;
  e = &inst->mod->exports[i];
  if (out_name != NULL)
    *out_name = e->name;
  if (out_len != NULL)
    *out_len = e->name_len;
  export_value(inst, e, out_ext);
  return PKW_OK;
}

int pkw_instance_find(pkw_instance *inst, const char *name, size_t len,
                      pkw_extern *out_ext) {
  const pkw_module *m;
  uint32_t lo, hi;
  if (inst == NULL || name == NULL || out_ext == NULL)
    return PKW_EINVAL;
  m = inst->mod;
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
      export_value(inst, e, out_ext);
      return PKW_OK;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  return PKW_ENOENT;
}

int pkw_instance_func(pkw_instance *inst, const char *name,
                      pkw_func **out_func) {
  pkw_extern ex;
  int rc;
  if (name == NULL)
    return PKW_EINVAL;
  rc = pkw_instance_find(inst, name, strlen(name), &ex);
  if (rc < 0)
    return rc;
  if (ex.kind != PKW_EXTERN_FUNC)
    return PKW_ENOENT;
  *out_func = ex.u.func;
  return PKW_OK;
}

pkw_memory *pkw_instance_memory(pkw_instance *inst) {
  return inst != NULL ? inst->mem : NULL;
}

void pkw_instance_set_fuel(pkw_instance *inst, int64_t fuel) {
  inst->fuel = fuel < 0 ? -1 : fuel;
}

int64_t pkw_instance_fuel(const pkw_instance *inst) { return inst->fuel; }

void pkw_instance_interrupt(pkw_instance *inst) {
  atomic_store_explicit(&inst->interrupt, 1, memory_order_relaxed);
}

void pkw_instance_clear_interrupt(pkw_instance *inst) {
  atomic_store_explicit(&inst->interrupt, 0, memory_order_relaxed);
}

pkw_func *pkw_instance_start_func(pkw_instance *inst) {
  pkw_module *m = inst->mod;
  return m->has_start && inst->limits.defer_start ? inst->funcs[m->start]
                                                  : NULL;
}

/* ---- calls -------------------------------------------------------------- */

int pkw__compile_lazy(pkw_func *f) {
  pkw_instance *inst = f->inst;
  pkw_module *m = inst->mod;
  uint32_t i = (uint32_t)(f - inst->own_funcs);
  pkw_code *c = &m->codes[i];
  if (c->code == NULL) {
    int rc;
    if (c->fail_rc != 0) {
      /* Failed before: the same error at once, no new translation. */
      snprintf(m->lazy_err, sizeof m->lazy_err, "%s", c->fail_msg);
      return c->fail_rc;
    }
    rc = pkw__compile_func(m, i, m->lazy_err, sizeof m->lazy_err);
    if (rc != PKW_OK) {
      /* Remembered (once per function, so the arena stays bounded)
       * unless the failure may pass: out of memory. */
      size_t len = strlen(m->lazy_err) + 1;
      char *msg;
      if (rc != PKW_ENOMEM &&
          (msg = pkw__arena_alloc_raw(&m->arena, len)) != NULL) {
        memcpy(msg, m->lazy_err, len);
        c->fail_msg = msg;
        c->fail_rc = rc;
      }
      return rc;
    }
  }
  f->code = c->code;
  f->nlocals = c->nlocals;
  f->frame_size = c->frame_size;
  return PKW_OK;
}

int pkw_call(pkw_func *f, const uint64_t *args, uint32_t nargs,
             uint64_t *results, uint32_t nresults) {
  if (f == NULL || nargs != f->type.nparams || nresults != f->type.nresults)
    return PKW_EINVAL;
  if (f->code == NULL)
    return f->host(f->host_ud, NULL, args, results);
  return pkw_invoke(f, args, results, sizeof *args);
}

/* pkw_invoke of a host function exported by a module: it wants dense
 * slots. */
int pkw__invoke_host(pkw_func *f, const uint64_t *in, uint64_t *out,
                     size_t stride) {
  uint64_t slots[PKW_INVOKE_MAX];
  uint32_t i, n;
  int rc;
  n = f->type.nparams > f->type.nresults ? f->type.nparams
                                         : f->type.nresults;
  if (n > PKW_INVOKE_MAX)
    return PKW_EINVAL;
  for (i = 0; i < f->type.nparams; i++)
    memcpy(&slots[i], (const char *)in + i * stride, sizeof *slots);
  if ((rc = f->host(f->host_ud, NULL, slots, slots)) != PKW_OK)
    return rc;
  for (i = 0; i < f->type.nresults; i++)
    memcpy((char *)out + i * stride, &slots[i], sizeof *slots);
  return PKW_OK;
}

