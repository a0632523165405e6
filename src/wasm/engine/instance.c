/* Instantiation, linking, the host-side objects and the call entry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "reader.h"
#ifdef PKW_HAVE_OS_MEM
#include "os_mem.h"
#endif

#define PAGE 65536u

int64_t pkw__memory_grow(pkw_memory *mem, uint32_t delta);
int64_t pkw__table_grow(pkw_table *t, uint32_t delta, uint64_t init);
static int image_apply(pkw_instance *inst, const pkw_image *img, int fresh);
static pkw_instance *spare_take(pkw_module *m);
static void instance_free_blocks(pkw_instance *inst);
static void instance_release(pkw_instance *inst, int keep);
static void spare_clean(pkw_instance *inst);

#define CHUNK ((size_t)1 << PKW_CHUNK_SHIFT)

struct pkw_image {
  pkw_alloc alloc;
  uint64_t id;         /* unique in the process (pkw_memory.base_id) */
  uint32_t pages;      /* memory size */
  uint64_t nchunks;    /* 4 KiB chunks in it */
  uint32_t *chunk;     /* per chunk: 0 (all zero) or 1 + its index in data */
  uint8_t *data;       /* the chunks that are not all zero */
  uint32_t nglobals;   /* the instance's own globals */
  uint64_t *globals;   /* values, function references as codes */
  uint32_t ntables;    /* the instance's own tables */
  uint32_t *tsize;
  uint64_t **telems;   /* elements, function references as codes */
  uint64_t table_used; /* the table budget in use */
  uint32_t nelems, ndatas;
  uint8_t *elem_dropped, *data_dropped;
  size_t bytes;
  /* The memory as a file that instances map copy-on-write (image_fd):
   * COW_UNTRIED until an instance needs it, COW_NONE when there is
   * none (no memory, under PKW_COW_MIN_PAGES, no memfd), else its fd. */
  atomic_int cow_fd;
};

#define COW_UNTRIED (-2)
#define COW_NONE (-1)


/* ---- copy-on-write memory ------------------------------------------------ */

/*
 * An instance made from an image (pkw_limits.image) gets its memory as a
 * private mapping of the image's memory file over a reservation of its
 * maximum size, when the system has memory files (os_mem.h): creating it
 * is one mmap, only the pages the instance touches cost (a read maps the
 * file's page, a write copies that one page), and a spare's memory goes
 * back to the image without writing every byte again (by the pages
 * written: image_restore_mapped says how). memory.grow commits pages of the
 * reservation, so the memory never moves. Without memory files, or when
 * a mapping fails, the image is copied into allocator memory as before.
 * No page is ever accessed past the memory's size (every access is
 * bounds-checked), so the inaccessible rest of the reservation never
 * faults: there is no signal handler.
 */
#ifdef PKW_HAVE_OS_MEM
static int vm_written(const void *at, size_t n,
                      void (*written)(void *ud, size_t off, size_t len),
                      void *ud) {
  return pk__os_vm_written(at, n, written, ud);
}
static void vm_release(void *base, size_t n) { pk__os_vm_release(base, n); }
static int vm_commit(void *at, size_t n) { return pk__os_vm_commit(at, n); }
static int vm_discard(void *at, size_t n) { return pk__os_vm_discard(at, n); }
#else
static int vm_written(const void *at, size_t n,
                      void (*written)(void *ud, size_t off, size_t len),
                      void *ud) {
  return (void)at, (void)n, (void)written, (void)ud, -1;
}
static void vm_release(void *base, size_t n) { (void)base, (void)n; }
static int vm_commit(void *at, size_t n) { return (void)at, (void)n, -1; }
static int vm_discard(void *at, size_t n) { return (void)at, (void)n, -1; }
#endif

/* The bytes [off, off + n) of a mapped memory zero again (the pages a
 * memory grew past its image): dropped, or written if that fails. */
static void cow_zero(pkw_memory *mem, uint64_t off, uint64_t n) {
  if (n > 0 && vm_discard(mem->data + off, (size_t)n) != 0)
    memset(mem->data + off, 0, (size_t)n);
}

/* Frees mem's bytes (the reservation, or the allocator's block): 0
 * pages, bytes not those of any image; the dirty map stays. */
static void memory_drop(pkw_memory *mem) {
  if (mem->reserved != 0)
    vm_release(mem->data, mem->reserved);
  else
    pkw__realloc(&mem->alloc, mem->data, 0);
  mem->data = NULL;
  mem->reserved = 0;
  mem->cow_id = 0;
  mem->clean_id = 0;
  mem->committed = 0;
  mem->pages = 0;
  mem->size = 0;
}

/* ---- memories, tables, globals ------------------------------------------ */

/* zero: clear the pages (else the caller writes every byte: an image). */
static int memory_init(pkw_memory *mem, const pkw_alloc *a, uint32_t min,
                       uint32_t max, int zero) {
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
      if (zero)
        memset(mem->data, 0, (size_t)min * PAGE);
    }
  }
  mem->pages = min;
  mem->size = (uint64_t)min * PAGE;
  return PKW_OK;
}

/* Chunks of 4 KiB in `pages` pages. */
#define CHUNKS(pages) ((uint64_t)(pages) << (16u - PKW_CHUNK_SHIFT))

/* Makes the dirty map of a tracked memory cover `pages` pages. */
static int dirty_cover(pkw_memory *mem, uint64_t pages) {
  uint64_t n = CHUNKS(pages);
  uint8_t *map;
  uint32_t *list;
  if (n <= mem->dirty_cap)
    return 0;
  map = pkw__realloc(&mem->alloc, mem->dirty, (size_t)n);
  if (map == NULL)
    return -1;
  mem->dirty = map;
  memset(map + mem->dirty_cap, 0, (size_t)(n - mem->dirty_cap));
  list = pkw__realloc(&mem->alloc, mem->dirty_list, (size_t)n * sizeof *list);
  if (list == NULL)
    return -1; /* the map is larger, which is harmless */
  mem->dirty_list = list;
  mem->dirty_cap = (uint32_t)n;
  return 0;
}

/* Forgets which chunks a tracked memory wrote: its bytes are no longer
 * known to be those of an image. */
static void dirty_forget(pkw_memory *mem) {
  uint32_t k;
  if (mem->dirty != NULL)
    for (k = 0; k < mem->ndirty; k++)
      mem->dirty[mem->dirty_list[k]] = 0;
  mem->ndirty = 0;
  mem->base_id = 0;
}

/* A spare instance's memory for a new one: `pages` pages under `max`,
 * its bytes kept (an image may need only its dirty chunks restored:
 * image_apply), zeroed when there is no image. The dirty map stays. */
static int memory_reuse(pkw_memory *mem, uint32_t pages, uint32_t max,
                        const pkw_image *img) {
  mem->max = max;
  if (pages > max)
    return PKW_ELIMIT;
  if (mem->pages != pages) {
    if (pages == 0) {
      pkw__realloc(&mem->alloc, mem->data, 0);
      mem->data = NULL;
    } else {
      uint8_t *nd = pkw__realloc(&mem->alloc, mem->data, (size_t)pages * PAGE);
      if (nd == NULL)
        return PKW_ENOMEM;
      mem->data = nd;
    }
    mem->pages = pages;
    mem->size = (uint64_t)pages * PAGE;
    mem->clean_id = 0;
    dirty_forget(mem);
    if (mem->dirty != NULL && dirty_cover(mem, pages) < 0)
      return PKW_ENOMEM;
  }
  if (img == NULL) {
    dirty_forget(mem);
    mem->clean_id = 0;
    if (mem->size > 0)
      memset(mem->data, 0, (size_t)mem->size);
  }
  return PKW_OK;
}

/* The image's memory file, made by the first instance that needs it
 * (not by pkw_image_create: a plugin that never has a second instance
 * pays nothing), whichever thread gets there first; COW_NONE when there
 * is none. The image is shared read-only but for this once-set field. */
static int image_fd(const pkw_image *cimg) {
  pkw_image *img = (pkw_image *)(uintptr_t)cimg;
  int fd = atomic_load_explicit(&img->cow_fd, memory_order_acquire);
  int want = COW_UNTRIED;
#ifdef PKW_HAVE_OS_MEM
  uint64_t c, e;
  if (fd != COW_UNTRIED)
    return fd;
  fd = pk__os_memfd_create("pkw-image", (uint64_t)img->pages * PAGE);
  /* The chunks that are not zero, a run at a time (their data is
   * consecutive); the zero ones stay holes. */
  for (c = 0; fd >= 0 && c < img->nchunks; c = e) {
    e = c + 1;
    if (img->chunk[c] == 0)
      continue;
    while (e < img->nchunks && img->chunk[e] == img->chunk[e - 1] + 1)
      e++;
    if (pk__os_memfd_write(fd, c * CHUNK,
                           img->data + (img->chunk[c] - 1) * CHUNK,
                           (size_t)(e - c) * CHUNK) != 0) {
      pk__os_memfd_close(fd);
      fd = COW_NONE;
    }
  }
  if (fd >= 0)
    pk__os_memfd_seal(fd);
  else
    fd = COW_NONE;
#else
  if (fd != COW_UNTRIED)
    return fd;
  fd = COW_NONE;
#endif
  if (!atomic_compare_exchange_strong_explicit(&img->cow_fd, &want, fd,
                                               memory_order_acq_rel,
                                               memory_order_acquire)) {
#ifdef PKW_HAVE_OS_MEM
    if (fd >= 0)
      pk__os_memfd_close(fd); /* another thread made it first */
#endif
    return want;
  }
  return fd;
}

/* mem (no bytes) as a private mapping of img's memory file fd, in a
 * reservation of max pages: 1, or 0 when that cannot be (the caller
 * copies the image instead). */
static int memory_map(pkw_memory *mem, const pkw_image *img, int fd,
                      uint32_t max) {
#ifdef PKW_HAVE_OS_MEM
  uint64_t bytes = (uint64_t)max * PAGE;
  uint8_t *base;
  if (bytes > SIZE_MAX / 2 || max < img->pages ||
      (base = pk__os_vm_reserve((size_t)bytes)) == NULL)
    return 0;
  if (pk__os_vm_map_file(base, (size_t)img->pages * PAGE, fd) != 0) {
    pk__os_vm_release(base, (size_t)bytes);
    return 0;
  }
  mem->data = base;
  mem->reserved = (size_t)bytes;
  mem->cow_id = img->id;
  mem->committed = img->pages;
  mem->pages = img->pages;
  mem->size = (uint64_t)img->pages * PAGE;
  return 1;
#else
  (void)mem, (void)img, (void)fd, (void)max;
  return 0;
#endif
}

/* The memory of a new instance: `pages` pages under `max`, zero (img
 * NULL) or to be made img's by image_apply. mem is a spare's (spare: its
 * bytes and dirty map kept when they serve) or new. A mapped spare of
 * img's file stays mapped, shrunk to the image's size (image_apply
 * drops what its last user wrote); otherwise img's file is mapped when
 * it has one, else the memory comes from the allocator. *out_mapped: 1
 * when the memory was mapped just now (its bytes are img's already). */
static int memory_setup(pkw_memory *mem, const pkw_alloc *a, uint32_t pages,
                        uint32_t max, const pkw_image *img, int spare,
                        int *out_mapped) {
  int fd = img != NULL && img->pages > 0 ? image_fd(img) : COW_NONE;
  *out_mapped = 0;
  if (!spare) {
    memset(mem, 0, sizeof *mem);
    mem->alloc = *a;
  }
  if (pages > max) {
    mem->max = max;
    return PKW_ELIMIT;
  }
  if (spare && mem->reserved != 0) {
    if (fd >= 0 && mem->cow_id == img->id && mem->pages >= pages &&
        (uint64_t)max * PAGE <= mem->reserved) {
      /* What the last user grew goes: zero again, still committed. */
      cow_zero(mem, (uint64_t)pages * PAGE, mem->size - (uint64_t)pages * PAGE);
      mem->max = max;
      mem->pages = pages;
      mem->size = (uint64_t)pages * PAGE;
      return PKW_OK;
    }
    memory_drop(mem);
    dirty_forget(mem);
  } else if (spare && fd >= 0) {
    memory_drop(mem); /* allocator memory: mapped instead */
    dirty_forget(mem);
  }
  if (fd >= 0 && memory_map(mem, img, fd, max)) {
    mem->max = max;
    *out_mapped = 1;
    if (mem->dirty != NULL && dirty_cover(mem, pages) < 0)
      return PKW_ENOMEM;
    return PKW_OK;
  }
  if (spare)
    return memory_reuse(mem, pages, max, img);
  return memory_init(mem, a, pages, max, img == NULL);
}

int64_t pkw__memory_grow(pkw_memory *mem, uint32_t delta) {
  uint32_t old = mem->pages;
  uint64_t npages = (uint64_t)old + delta;
  uint8_t *nd;
  if (npages > mem->max)
    return -1;
  if (delta == 0)
    return old;
  if (mem->dirty != NULL && dirty_cover(mem, npages) < 0)
    return -1;
  if (mem->reserved != 0) {
    /* A mapped memory: pages past the size are zero (cow_zero); those
     * never committed are made accessible. The data does not move. */
    if (npages > mem->committed) {
      if (vm_commit(mem->data + (size_t)mem->committed * PAGE,
                    (size_t)(npages - mem->committed) * PAGE) != 0)
        return -1;
      mem->committed = (uint32_t)npages;
    }
    mem->pages = (uint32_t)npages;
    mem->size = npages * PAGE;
    return old;
  }
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
  rc = memory_init(m, &a, min_pages, has_max ? max_pages : PKW_MAX_PAGES, 1);
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
  pkw__realloc(&a, mem->dirty, 0);
  pkw__realloc(&a, mem->dirty_list, 0);
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

int pkw_memory_mapped(const pkw_memory *mem) {
  return mem != NULL && mem->reserved != 0;
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
  if (mem->dirty != NULL)
    pkw__mark(mem, off, n);
  if (n)
    memcpy(mem->data + off, src, n);
  return PKW_OK;
}

void pkw_memory_touch(pkw_memory *mem, uint64_t off, uint64_t n) {
  if (mem != NULL && mem->dirty != NULL && off <= mem->size &&
      n <= mem->size && pkw__in_bounds(off, n, mem->size))
    pkw__mark(mem, off, n);
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
  pkw_instance *spare;
  uint64_t *stack = NULL;
  pkw_memory *spare_mem = NULL;
  int rc, mapped = 0;

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
  /* A spare of the same shape, else new blocks. */
  if ((spare = spare_take(m)) != NULL &&
      (spare->block_size != sz ||
       spare->limits.stack_slots != lim.stack_slots)) {
    instance_free_blocks(spare);
    spare = NULL;
  }
  if (spare != NULL) {
    stack = spare->stack;
    if (m->nmems > m->nmem_imports)
      spare_mem = spare->mem;
    base = (uint8_t *)spare;
  } else if ((base = pkw__realloc(&m->alloc, NULL, sz)) == NULL) {
    return PKW_ENOMEM;
  }
  memset(base, 0, o_frames);
  inst = (pkw_instance *)base;
  inst->block_size = sz;
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
  inst->stack = stack != NULL
                    ? stack
                    : pkw__realloc(&m->alloc, NULL,
                                   (size_t)lim.stack_slots * sizeof(uint64_t));
  if (spare_mem != NULL) { /* the instance owns it from here */
    inst->mem = spare_mem;
    inst->own_mem = 1;
  }
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
    if (atomic_load_explicit(&c->done, memory_order_acquire)) {
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
    if (spare_mem == NULL) {
      inst->mem = pkw__realloc(&m->alloc, NULL, sizeof(pkw_memory));
      if (inst->mem == NULL) {
        rc = PKW_ENOMEM;
        goto fail;
      }
      memset(inst->mem, 0, sizeof *inst->mem);
      inst->own_mem = 1;
    }
    if (lim.image != NULL && lim.image->pages > max) {
      pkw__errf(errbuf, errlen, "memory: the image is over the limit");
      rc = PKW_ELIMIT;
      goto fail;
    }
    rc = memory_setup(inst->mem, &m->alloc,
                      lim.image != NULL ? lim.image->pages : ml->min, max,
                      lim.image, spare_mem != NULL, &mapped);
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
  if (lim.image != NULL) {
    /* From an image: its state replaces segments and start. */
    if ((rc = image_apply(inst, lim.image, mapped ? 2 : 1)) < 0) {
      pkw__errf(errbuf, errlen, "cannot apply the image");
      goto fail;
    }
    *out_inst = inst;
    return PKW_OK;
  }

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
  instance_release(inst, 0);
  return rc;
}

/* ---- spare instances ------------------------------------------------------ */

static void spare_lock(pkw_module *m) {
  while (atomic_flag_test_and_set_explicit(&m->spare_lock,
                                           memory_order_acquire))
    ; /* another thread pushes or pops one pointer */
}
static void spare_unlock(pkw_module *m) {
  atomic_flag_clear_explicit(&m->spare_lock, memory_order_release);
}

/* Frees the blocks an instance (destroyed, or a spare) holds. */
static void instance_free_blocks(pkw_instance *inst) {
  pkw_alloc a = inst->alloc;
  if (inst->own_mem && inst->mem != NULL) {
    memory_drop(inst->mem);
    pkw__realloc(&a, inst->mem->dirty, 0);
    pkw__realloc(&a, inst->mem->dirty_list, 0);
    pkw__realloc(&a, inst->mem, 0);
  }
  pkw__realloc(&a, inst->stack, 0);
  pkw__realloc(&a, inst, 0);
}

/* A spare instance of m, or NULL. */
static pkw_instance *spare_take(pkw_module *m) {
  pkw_instance *s;
  if (m->max_spares == 0)
    return NULL;
  spare_lock(m);
  if ((s = m->spares) != NULL) {
    m->spares = s->next_spare;
    m->nspares--;
  }
  spare_unlock(m);
  return s;
}

void pkw_module_set_spares(pkw_module *m, uint32_t n) {
  pkw_instance *drop = NULL, *s;
  if (m == NULL)
    return;
  spare_lock(m);
  m->max_spares = n;
  while (m->nspares > n) {
    s = m->spares;
    m->spares = s->next_spare;
    m->nspares--;
    s->next_spare = drop;
    drop = s;
  }
  spare_unlock(m);
  while ((s = drop) != NULL) {
    drop = s->next_spare;
    instance_free_blocks(s);
  }
}

void pkw__spares_free(pkw_module *m) { pkw_module_set_spares(m, 0); }

/* Destroys inst; keep: its blocks may become a spare of its module (it
 * was fully made: its stack and memory exist). */
static void instance_release(pkw_instance *inst, int keep) {
  pkw_module *m = inst->mod;
  uint32_t i, ndt = m->ntables - m->ntable_imports;
  for (i = 0; i < ndt; i++) {
    pkw__realloc(&inst->alloc, inst->own_tables[i].elems, 0);
    inst->own_tables[i].elems = NULL;
  }
  if (keep && m->max_spares > 0 && inst->stack != NULL &&
      (m->nmems == m->nmem_imports || (inst->own_mem && inst->mem != NULL))) {
    int kept = 0;
    if (m->nmems == m->nmem_imports) /* not its own: nothing to keep */
      inst->mem = NULL, inst->own_mem = 0;
    else
      spare_clean(inst);
    spare_lock(m);
    if (m->nspares < m->max_spares) {
      inst->next_spare = m->spares;
      m->spares = inst;
      m->nspares++;
      kept = 1;
    }
    spare_unlock(m);
    if (kept)
      return;
  }
  instance_free_blocks(inst);
}

void pkw_instance_destroy(pkw_instance *inst) {
  if (inst != NULL)
    instance_release(inst, 1);
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
  atomic_store_explicit(&inst->interrupt, PKW_INTERRUPTED,
                        memory_order_relaxed);
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

static void module_lock(pkw_module *m) {
  while (atomic_flag_test_and_set_explicit(&m->lock, memory_order_acquire))
    ; /* another instance translates a body: bounded by the work limits */
}
static void module_unlock(pkw_module *m) {
  atomic_flag_clear_explicit(&m->lock, memory_order_release);
}

int pkw__compile_lazy(pkw_func *f) {
  pkw_instance *inst = f->inst;
  pkw_module *m = inst->mod;
  uint32_t i = (uint32_t)(f - inst->own_funcs);
  pkw_code *c = &m->codes[i];
  /* Translated already (by this or another instance): no lock. */
  if (!atomic_load_explicit(&c->done, memory_order_acquire)) {
    int rc = PKW_OK;
    module_lock(m);
    if (atomic_load_explicit(&c->done, memory_order_relaxed)) {
      /* another instance translated it meanwhile */
    } else if (c->fail_rc != 0) {
      /* Failed before: the same error at once, no new translation. */
      snprintf(m->lazy_err, sizeof m->lazy_err, "%s", c->fail_msg);
      inst->lazy_msg = c->fail_msg;
      rc = c->fail_rc;
    } else {
      rc = pkw__compile_func(m, i, m->lazy_err, sizeof m->lazy_err);
      if (rc != PKW_OK) {
        /* Remembered (once per function, so the arena stays bounded)
         * unless the failure may pass: out of memory. */
        size_t len = strlen(m->lazy_err) + 1;
        char *msg;
        inst->lazy_msg = "out of memory translating a function";
        if (rc != PKW_ENOMEM &&
            (msg = pkw__arena_alloc_raw(&m->arena, len)) != NULL) {
          memcpy(msg, m->lazy_err, len);
          c->fail_msg = msg;
          c->fail_rc = rc;
          inst->lazy_msg = msg;
        }
      }
    }
    module_unlock(m);
    if (rc != PKW_OK)
      return rc;
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


/* ---- the embedder's pointer, counters --------------------------------- */

void pkw_instance_set_user(pkw_instance *inst, void *user) {
  inst->user = user;
}
void *pkw_instance_user(const pkw_instance *inst) {
  return inst != NULL ? inst->user : NULL;
}
pkw_instance *pkw_func_instance(const pkw_func *f) {
  return f != NULL ? f->inst : NULL;
}
uint64_t pkw_instance_host_calls(const pkw_instance *inst) {
  return inst->host_calls;
}
const char *pkw_instance_error(const pkw_instance *inst) {
  return inst != NULL && inst->lazy_msg != NULL ? inst->lazy_msg : "";
}

/* ---- images ------------------------------------------------------------- */

/* An imported function and its index, sorted by address. */
typedef struct fidx {
  uintptr_t f;
  uint32_t i;
} fidx;

static int fidx_cmp(const void *a, const void *b) {
  uintptr_t x = ((const fidx *)a)->f, y = ((const fidx *)b)->f;
  return x < y ? -1 : x > y;
}

/* A function reference as a code independent of the instance: 0 for
 * null, 1 + the function's index. -1: not a function of inst. */
static int func_code(const pkw_instance *inst, const fidx *imp, uint32_t n,
                     uint64_t v, uint64_t *out) {
  const pkw_module *m = inst->mod;
  uintptr_t f = (uintptr_t)v;
  uintptr_t lo = (uintptr_t)inst->own_funcs;
  uint32_t ndf = m->nfuncs - m->nfunc_imports, a = 0, b = n;
  if (v == 0) {
    *out = 0;
    return 0;
  }
  if (f >= lo && f < lo + ndf * sizeof(pkw_func) &&
      (f - lo) % sizeof(pkw_func) == 0) {
    *out = 1 + m->nfunc_imports + (f - lo) / sizeof(pkw_func);
    return 0;
  }
  while (a < b) {
    uint32_t mid = a + (b - a) / 2;
    if (imp[mid].f == f) {
      *out = 1 + (uint64_t)imp[mid].i;
      return 0;
    }
    if (imp[mid].f < f)
      a = mid + 1;
    else
      b = mid;
  }
  return -1;
}

static uint64_t func_of_code(const pkw_instance *inst, uint64_t code) {
  return code == 0 ? 0 : (uint64_t)(uintptr_t)inst->funcs[code - 1];
}

void pkw_image_destroy(pkw_image *img) {
  pkw_alloc a;
  uint32_t i;
  if (img == NULL)
    return;
  a = img->alloc;
#ifdef PKW_HAVE_OS_MEM
  /* Instances that still map the file keep it alive by themselves. */
  pk__os_memfd_close(atomic_load_explicit(&img->cow_fd, memory_order_acquire));
#endif
  pkw__realloc(&a, img->chunk, 0);
  pkw__realloc(&a, img->data, 0);
  pkw__realloc(&a, img->globals, 0);
  if (img->telems != NULL)
    for (i = 0; i < img->ntables; i++)
      pkw__realloc(&a, img->telems[i], 0);
  pkw__realloc(&a, img->telems, 0);
  pkw__realloc(&a, img->tsize, 0);
  pkw__realloc(&a, img->elem_dropped, 0);
  pkw__realloc(&a, img->data_dropped, 0);
  pkw__realloc(&a, img, 0);
}

size_t pkw_image_bytes(const pkw_image *img) {
  return img != NULL ? img->bytes : 0;
}

/* Images' ids: a memory restored from an image remembers its id
 * (pkw_memory.base_id), never the address, which a later image may
 * reuse. */
static atomic_uint_fast64_t image_ids;

static int chunk_is_zero(const uint8_t *p, size_t n) {
  return p[0] == 0 && memcmp(p, p + 1, n - 1) == 0;
}

int pkw_image_create(pkw_instance *inst, pkw_image **out_image) {
  const pkw_module *m;
  pkw_alloc a;
  pkw_image *img;
  fidx *imp = NULL;
  uint32_t ndg, ndt, i, nimp;
  uint64_t c, nz = 0;
  int rc = PKW_ENOMEM;
  if (inst == NULL || out_image == NULL)
    return PKW_EINVAL;
  m = inst->mod;
  a = inst->alloc;
  if ((img = pkw__realloc(&a, NULL, sizeof *img)) == NULL)
    return PKW_ENOMEM;
  memset(img, 0, sizeof *img);
  img->alloc = a;
  img->id = atomic_fetch_add_explicit(&image_ids, 1, memory_order_relaxed) + 1;
  atomic_init(&img->cow_fd, COW_NONE);
  /* Imported functions by address, for the function references. */
  nimp = m->nfunc_imports;
  if (nimp > 0) {
    if ((imp = pkw__realloc(&a, NULL, nimp * sizeof *imp)) == NULL)
      goto fail;
    for (i = 0; i < nimp; i++) {
      imp[i].f = (uintptr_t)inst->funcs[i];
      imp[i].i = i;
    }
    qsort(imp, nimp, sizeof *imp, fidx_cmp);
  }
  /* Memory: the chunks that are not all zero. */
  if (inst->own_mem && inst->mem != NULL && inst->mem->pages > 0) {
    const pkw_memory *mem = inst->mem;
    img->pages = mem->pages;
    img->nchunks = CHUNKS(mem->pages);
    if ((img->chunk = pkw__realloc(&a, NULL, img->nchunks * sizeof(uint32_t))) ==
        NULL)
      goto fail;
    for (c = 0; c < img->nchunks; c++)
      img->chunk[c] = chunk_is_zero(mem->data + c * CHUNK, CHUNK)
                          ? 0
                          : (uint32_t)(1 + nz++);
    if (nz > 0) {
      if ((img->data = pkw__realloc(&a, NULL, nz * CHUNK)) == NULL)
        goto fail;
      for (c = 0; c < img->nchunks; c++)
        if (img->chunk[c] != 0)
          memcpy(img->data + (img->chunk[c] - 1) * CHUNK,
                 mem->data + c * CHUNK, CHUNK);
    }
    img->bytes += nz * CHUNK + img->nchunks * sizeof(uint32_t);
    /* Instances map it when it is large enough to gain (config.h). */
    if (img->pages >= PKW_COW_MIN_PAGES)
      atomic_store_explicit(&img->cow_fd, COW_UNTRIED, memory_order_relaxed);
  }
  rc = PKW_EINVAL;
  ndg = m->nglobals - m->nglobal_imports;
  img->nglobals = ndg;
  if (ndg > 0) {
    if ((img->globals = pkw__realloc(&a, NULL, ndg * sizeof(uint64_t))) ==
        NULL) {
      rc = PKW_ENOMEM;
      goto fail;
    }
    for (i = 0; i < ndg; i++) {
      const pkw_global *g = &inst->own_globals[i];
      img->globals[i] = g->val;
      if (g->type == PKW_FUNCREF &&
          func_code(inst, imp, nimp, g->val, &img->globals[i]) < 0)
        goto fail;
    }
  }
  ndt = m->ntables - m->ntable_imports;
  img->ntables = ndt;
  if (ndt > 0) {
    rc = PKW_ENOMEM;
    if ((img->tsize = pkw__realloc(&a, NULL, ndt * sizeof(uint32_t))) ==
            NULL ||
        (img->telems = pkw__realloc(&a, NULL, ndt * sizeof(uint64_t *))) ==
            NULL)
      goto fail;
    memset(img->telems, 0, ndt * sizeof(uint64_t *));
    for (i = 0; i < ndt; i++) {
      const pkw_table *t = &inst->own_tables[i];
      uint32_t k;
      img->tsize[i] = t->size;
      if (t->size == 0)
        continue;
      rc = PKW_ENOMEM;
      if ((img->telems[i] = pkw__realloc(&a, NULL,
                                         (size_t)t->size * sizeof(uint64_t))) ==
          NULL)
        goto fail;
      img->bytes += (size_t)t->size * sizeof(uint64_t);
      rc = PKW_EINVAL;
      for (k = 0; k < t->size; k++) {
        img->telems[i][k] = t->elems[k];
        if (t->elem == PKW_FUNCREF &&
            func_code(inst, imp, nimp, t->elems[k], &img->telems[i][k]) < 0)
          goto fail;
      }
    }
  }
  img->table_used = inst->table_budget.used;
  rc = PKW_ENOMEM;
  img->nelems = m->nelems;
  img->ndatas = m->ndatas;
  if ((m->nelems > 0 &&
       (img->elem_dropped = pkw__realloc(&a, NULL, m->nelems)) == NULL) ||
      (m->ndatas > 0 &&
       (img->data_dropped = pkw__realloc(&a, NULL, m->ndatas)) == NULL))
    goto fail;
  if (m->nelems > 0)
    memcpy(img->elem_dropped, inst->elem_dropped, m->nelems);
  if (m->ndatas > 0)
    memcpy(img->data_dropped, inst->data_dropped, m->ndatas);
  pkw__realloc(&a, imp, 0);
  *out_image = img;
  return PKW_OK;
fail:
  pkw__realloc(&a, imp, 0);
  pkw_image_destroy(img);
  return rc;
}

/* Chunk c of the image into memory at base. */
static void chunk_restore(uint8_t *base, const pkw_image *img, uint64_t c) {
  if (img->chunk[c] != 0)
    memcpy(base + c * CHUNK, img->data + (img->chunk[c] - 1) * CHUNK, CHUNK);
  else
    memset(base + c * CHUNK, 0, CHUNK);
}

/* Restoring a mapped memory (image_restore_mapped): the runs of pages
 * its last user wrote are copied back from the image until more than
 * PKW_COW_COPY_MAX bytes were, after which the whole memory is dropped
 * instead. */
typedef struct restore_ctx {
  pkw_memory *mem;
  const pkw_image *img;
  size_t copied;
  int over;
} restore_ctx;

static void restore_run(void *ud, size_t off, size_t len) {
  restore_ctx *r = ud;
  uint64_t c, end;
  if (r->over || (r->copied += len) > PKW_COW_COPY_MAX) {
    r->over = 1;
    return;
  }
  end = (off + len + CHUNK - 1) / CHUNK;
  for (c = off / CHUNK; c < end && c < r->img->nchunks; c++)
    chunk_restore(r->mem->data, r->img, c);
}

static void image_write_all(uint8_t *base, const pkw_image *img);

/*
 * A mapped memory of img's file (pages: img's) back to img, its writes
 * unknown (not tracked). Two ways: drop its private pages (the file
 * shows through again), or copy back the pages the system says were
 * written, which stay private and mapped. On this machine (a VM where a
 * page fault costs 1.5 to 3 us and an madvise 1.5 us; pk_bench,
 * WasmInstanceFromPool), dropping made a pool instance of the C fixture
 * slower than copying its whole 128 KiB (8 to 18 us against 4.4), since
 * each page its first call touches faults again; reading which pages
 * were written (about 1.2 us) and copying those few (0.15 us a page)
 * leaves nothing to fault. So: copy what was written, up to
 * PKW_COW_COPY_MAX bytes (past it, the next user is unlikely to touch
 * it all: drop), and drop all when the system cannot tell.
 */
static void image_restore_mapped(pkw_memory *mem, const pkw_image *img) {
  restore_ctx r;
  size_t n = (size_t)img->pages * PAGE;
  r.mem = mem;
  r.img = img;
  r.copied = 0;
  r.over = 0;
  if (vm_written(mem->data, n, restore_run, &r) == 0 && !r.over)
    return;
  if (vm_discard(mem->data, n) != 0)
    image_write_all(mem->data, img);
}

/*
 * A destroyed instance's memory, about to be a spare, back to the image
 * it was made from (untracked memories only: a tracked one is restored
 * by its dirty chunks when it is taken, which costs less than this):
 * the pages it grew dropped, the pages it wrote brought back. Done here
 * rather than when the spare is taken, so that taking one (the start of
 * a request, for a pool) costs no page-table read or copy; the same
 * work, moved to the return. The image outlives the instances made from
 * it (wasm.h), so it is still there.
 */
static void spare_clean(pkw_instance *inst) {
  pkw_memory *mem = inst->mem;
  const pkw_image *img = inst->limits.image;
  if (img == NULL || !inst->own_mem || mem == NULL || mem->dirty != NULL ||
      mem->pages < img->pages)
    return;
  mem->clean_id = 0;
  if (mem->reserved != 0) {
    if (mem->cow_id != img->id)
      return;
    cow_zero(mem, (uint64_t)img->pages * PAGE,
             mem->size - (uint64_t)img->pages * PAGE);
    mem->pages = img->pages;
    mem->size = (uint64_t)img->pages * PAGE;
    image_restore_mapped(mem, img);
  } else {
    if (mem->pages != img->pages)
      return; /* memory_reuse resizes it; image_apply writes it */
    image_write_all(mem->data, img);
  }
  mem->clean_id = img->id;
}

/* Every chunk of img into memory at base, a run of zero chunks with one
 * memset and a run of stored ones with one memcpy (their data is
 * consecutive): far faster than chunk by chunk. */
static void image_write_all(uint8_t *base, const pkw_image *img) {
  uint64_t c = 0, e;
  while (c < img->nchunks) {
    e = c + 1;
    if (img->chunk[c] == 0) {
      while (e < img->nchunks && img->chunk[e] == 0)
        e++;
      memset(base + c * CHUNK, 0, (size_t)(e - c) * CHUNK);
    } else {
      while (e < img->nchunks && img->chunk[e] == img->chunk[e - 1] + 1)
        e++;
      memcpy(base + c * CHUNK, img->data + (img->chunk[c] - 1) * CHUNK,
             (size_t)(e - c) * CHUNK);
    }
    c = e;
  }
}

/* Sets inst's state from img: every chunk of memory (fresh: memory of
 * img->pages pages, not initialized; 2: mapped from img's file just
 * now, so img's already), or only the dirty ones. */
static int image_apply(pkw_instance *inst, const pkw_image *img, int fresh) {
  const pkw_module *m = inst->mod;
  pkw_alloc a = inst->alloc;
  uint32_t ndg = m->nglobals - m->nglobal_imports;
  uint32_t ndt = m->ntables - m->ntable_imports, i;
  uint64_t c;
  if (img->nglobals != ndg || img->ntables != ndt ||
      img->nelems != m->nelems || img->ndatas != m->ndatas)
    return PKW_EINVAL;
  if (inst->own_mem && inst->mem != NULL) {
    pkw_memory *mem = inst->mem;
    if (mem->pages != img->pages && (fresh || mem->pages < img->pages))
      return PKW_EINVAL;
    if (fresh && (mem->base_id != img->id || mem->dirty == NULL)) {
      /* A new memory, or a spare's whose bytes are not known: all of
       * it. A mapping of img's file drops its private pages instead,
       * which is the whole point of mapping (memory_setup kept it only
       * if it maps this image). */
      dirty_forget(mem);
      if (fresh == 1 && mem->clean_id == img->id && mem->pages == img->pages)
        ; /* brought back when its last user went (spare_clean) */
      else if (mem->reserved == 0)
        image_write_all(mem->data, img);
      else if (fresh == 1)
        image_restore_mapped(mem, img);
    } else {
      /* A reset, or a spare's memory that is img but for its dirty
       * chunks. */
      uint32_t k;
      if (mem->dirty == NULL || mem->pages < img->pages)
        return PKW_EINVAL;
      if (mem->pages > img->pages) {
        /* Grown in the call: back to the image's size (the pages past
         * it are zeroed again if the guest grows it anew). */
        if (mem->reserved != 0) {
          cow_zero(mem, (uint64_t)img->pages * PAGE,
                   mem->size - (uint64_t)img->pages * PAGE);
        } else if (img->pages == 0) {
          pkw__realloc(&a, mem->data, 0);
          mem->data = NULL;
        } else {
          uint8_t *nd = pkw__realloc(&a, mem->data, (size_t)img->pages * PAGE);
          if (nd != NULL)
            mem->data = nd;
        }
        mem->pages = img->pages;
        mem->size = (uint64_t)img->pages * PAGE;
      }
      for (k = 0; k < mem->ndirty; k++) {
        c = mem->dirty_list[k];
        mem->dirty[c] = 0;
        if (c < img->nchunks)
          chunk_restore(mem->data, img, c);
      }
      mem->ndirty = 0;
    }
    /* Tracked from here on: img but for the chunks written later. */
    mem->base_id = mem->dirty != NULL ? img->id : 0;
    mem->clean_id = 0; /* in use */
  }
  for (i = 0; i < ndg; i++) {
    pkw_global *g = &inst->own_globals[i];
    g->val = g->type == PKW_FUNCREF ? func_of_code(inst, img->globals[i])
                                    : img->globals[i];
  }
  for (i = 0; i < ndt; i++) {
    pkw_table *t = &inst->own_tables[i];
    uint32_t k, n = img->tsize[i];
    if (t->size != n) {
      if (n == 0) {
        pkw__realloc(&a, t->elems, 0);
        t->elems = NULL;
      } else {
        uint64_t *ne = pkw__realloc(&a, t->elems, (size_t)n * sizeof *ne);
        if (ne == NULL)
          return PKW_ENOMEM;
        t->elems = ne;
      }
      t->size = n;
    }
    for (k = 0; k < n; k++)
      t->elems[k] = t->elem == PKW_FUNCREF
                        ? func_of_code(inst, img->telems[i][k])
                        : img->telems[i][k];
  }
  inst->table_budget.used = img->table_used;
  if (m->nelems > 0)
    memcpy(inst->elem_dropped, img->elem_dropped, m->nelems);
  if (m->ndatas > 0)
    memcpy(inst->data_dropped, img->data_dropped, m->ndatas);
  return PKW_OK;
}

int pkw_instance_track_dirty(pkw_instance *inst) {
  pkw_memory *mem;
  if (inst == NULL || !inst->mod->track_dirty)
    return PKW_EINVAL;
  mem = inst->mem;
  if (mem == NULL || !inst->own_mem || mem->dirty != NULL)
    return PKW_OK;
  /* At least one byte, so that a memory of 0 pages is tracked too. */
  if ((mem->dirty = pkw__realloc(&mem->alloc, NULL, 1)) == NULL)
    return PKW_ENOMEM;
  mem->dirty[0] = 0;
  mem->dirty_cap = 0;
  mem->ndirty = 0;
  mem->base_id = 0; /* written before, untracked */
  if (dirty_cover(mem, mem->pages) < 0)
    return PKW_ENOMEM;
  return PKW_OK;
}

int pkw_instance_reset(pkw_instance *inst, const pkw_image *img) {
  if (inst == NULL || img == NULL)
    return PKW_EINVAL;
  return image_apply(inst, img, 0);
}

uint32_t pkw_instance_dirty_chunks(const pkw_instance *inst) {
  return inst != NULL && inst->mem != NULL ? inst->mem->ndirty : 0;
}
