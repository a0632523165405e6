/*
 * elf_desc.c: read a plugin's descriptor from its ELF file without loading
 * or running it (describe-only opens of native plugins and executables).
 *
 * The descriptor is the data of the symbol pk_plugin_descriptor (in
 * .dynsym, else .symtab). Its pointers (name, version, the export and hook
 * tables, the strings of each export) are virtual addresses: in a shared
 * object or PIE they are 0 in the file and set by R_*_RELATIVE
 * relocations whose addend is the address (RELA), or the file holds the
 * address itself (REL, non-PIE executables). Function pointers are only
 * checked to be set (a symbolic relocation counts).
 *
 * The file is hostile: every offset, size and count is checked against the
 * file before use, addresses are mapped through PT_LOAD segments only, and
 * strings must end within their segment. What does not fit is PK_EFORMAT.
 * The descriptor itself is then checked by pk__desc_load, the same checks
 * as a normal open.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

#include "../os/os.h"

#define MAX_STR 4096 /* a name or signature longer than this is malformed */

typedef struct rel {
  uint64_t off, addend;
  int kind; /* 1 RELATIVE with an addend (RELA), 3 RELATIVE in place
               (REL), 2 another type: the word is set at load */
} rel;

typedef struct img {
  pk_plugin *p;
  const unsigned char *b;
  size_t n;
  int cls, big, w;
  size_t phoff, phent, phnum;
  rel *rels;
  size_t nrels;
  int rela_relative; /* the host machine's R_*_RELATIVE type */
} img;

static uint64_t rd(const img *m, size_t off, int width) {
  return pk__elf_read(m->b, off, width, m->big);
}

/* The machine's RELATIVE relocation type, or -1 when unknown. */
static int relative_type(int machine) {
  switch (machine) {
  case 62: /* x86_64 */
  case 3:  /* i386 */
    return 8;
  case 183: /* aarch64 */
    return 1027;
  case 40: /* arm */
    return 23;
  case 243: /* riscv */
    return 3;
  case 21: /* ppc64 */
    return 22;
  case 22: /* s390 */
    return 12;
  default:
    return -1;
  }
}

/* The file offset of `len` bytes at virtual address v, inside one PT_LOAD
   segment's file bytes. 0 or -1. */
static int v2off(const img *m, uint64_t v, uint64_t len, size_t *out) {
  size_t i;
  for (i = 0; i < m->phnum; i++) {
    size_t o = m->phoff + i * m->phent;
    uint64_t off, vaddr, filesz;
    if (rd(m, o, 4) != 1) /* PT_LOAD */
      continue;
    off = rd(m, o + (m->cls == 2 ? 8 : 4), m->w);
    vaddr = rd(m, o + (m->cls == 2 ? 16 : 8), m->w);
    filesz = rd(m, o + (m->cls == 2 ? 32 : 16), m->w);
    if (v < vaddr || v - vaddr > filesz || len > filesz - (v - vaddr))
      continue;
    if (off > m->n || filesz > m->n - off)
      return -1; /* the segment is not in the file */
    *out = (size_t)(off + (v - vaddr));
    return 0;
  }
  return -1;
}

static int cmp_rel(const void *a, const void *b) {
  const rel *x = a, *y = b;
  return x->off < y->off ? -1 : x->off > y->off;
}

/* The value the loader would give the pointer-sized word at virtual
   address v (a symbolic relocation: set to something unknown, *val 1).
   0, or -1 when v is not in the file. */
static int word_at(const img *m, uint64_t v, uint64_t *val) {
  size_t lo = 0, hi = m->nrels, off;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (m->rels[mid].off < v)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (v2off(m, v, (uint64_t)m->w, &off) < 0)
    return -1;
  if (lo < m->nrels && m->rels[lo].off == v) {
    if (m->rels[lo].kind == 2) {
      *val = 1;
      return 0;
    }
    if (m->rels[lo].kind == 1) { /* RELA: the addend is the address */
      *val = m->rels[lo].addend;
      return 0;
    }
  }
  *val = rd(m, off, m->w); /* REL (addend in place), or an absolute word */
  return 0;
}

/* The NUL-terminated string at virtual address v (in the file buffer). */
static const char *str_at(const img *m, uint64_t v) {
  size_t off, i;
  if (v == 0 || v2off(m, v, 1, &off) < 0)
    return NULL;
  for (i = 0; i < MAX_STR && off + i < m->n; i++) {
    size_t end;
    if (m->b[off + i] == '\0')
      /* the whole string must lie in the one segment */
      return v2off(m, v, i + 1, &end) == 0 ? (const char *)m->b + off : NULL;
  }
  return NULL;
}

static int bad(const img *m, const char *what) {
  return pk__perr(m->p, PK_EFORMAT, "malformed descriptor in the ELF file: %s",
                  what);
}

/* Collect the relocations of every SHT_REL/SHT_RELA section, sorted. */
static int load_rels(img *m, size_t shoff, size_t shent, size_t shnum) {
  size_t i, total = 0, k = 0;
  int pass;
  for (pass = 0; pass < 2; pass++) {
    for (i = 0; i < shnum; i++) {
      size_t o = shoff + i * shent, j, cnt, ent;
      uint32_t type = (uint32_t)rd(m, o + 4, 4);
      uint64_t off, size, es;
      int rela = type == 4;
      if (type != 4 && type != 9)
        continue;
      off = rd(m, o + (m->cls == 2 ? 24 : 16), m->w);
      size = rd(m, o + (m->cls == 2 ? 32 : 20), m->w);
      es = rd(m, o + (m->cls == 2 ? 56 : 36), m->w);
      ent = (size_t)(m->cls == 2 ? (rela ? 24 : 16) : (rela ? 12 : 8));
      if (es < ent || es > 256 || off > m->n || size > m->n - off)
        return bad(m, "a relocation section lies outside the file");
      cnt = (size_t)(size / es);
      if (pass == 0) {
        total += cnt;
        continue;
      }
      for (j = 0; j < cnt && k < total; j++, k++) {
        size_t e = (size_t)off + j * (size_t)es;
        uint64_t info = rd(m, e + (size_t)m->w, m->w);
        uint32_t rtype =
            m->cls == 2 ? (uint32_t)(info & 0xffffffffu) : (uint32_t)(info & 0xff);
        m->rels[k].off = rd(m, e, m->w);
        m->rels[k].addend = rela ? rd(m, e + 2 * (size_t)m->w, m->w) : 0;
        m->rels[k].kind = (int)rtype == m->rela_relative ? (rela ? 1 : 3) : 2;
      }
    }
    if (pass == 0) {
      if (total == 0)
        return PK_OK;
      if ((m->rels = pk__alloc(m->p->host, total * sizeof *m->rels)) == NULL)
        return pk__perr(m->p, PK_ENOMEM, "out of memory");
    }
  }
  m->nrels = k;
  qsort(m->rels, m->nrels, sizeof *m->rels, cmp_rel);
  return PK_OK;
}

/* The address of pk_plugin_descriptor, from .dynsym, else .symtab. */
static int find_symbol(const img *m, size_t shoff, size_t shent, size_t shnum,
                       uint64_t *out) {
  static const char want[] = PK_DESCRIPTOR_SYMBOL;
  uint32_t types[2] = {11, 2}; /* SHT_DYNSYM, SHT_SYMTAB */
  size_t t, i, j;
  for (t = 0; t < 2; t++) {
    for (i = 0; i < shnum; i++) {
      size_t o = shoff + i * shent, ent = m->cls == 2 ? 24u : 16u, cnt;
      uint64_t off, size, es, link, soff, ssize;
      if ((uint32_t)rd(m, o + 4, 4) != types[t])
        continue;
      off = rd(m, o + (m->cls == 2 ? 24 : 16), m->w);
      size = rd(m, o + (m->cls == 2 ? 32 : 20), m->w);
      link = rd(m, o + (m->cls == 2 ? 40 : 24), 4);
      es = rd(m, o + (m->cls == 2 ? 56 : 36), m->w);
      if (es < ent || es > 256 || off > m->n || size > m->n - off ||
          link >= shnum)
        return bad(m, "a symbol table lies outside the file");
      soff = rd(m, shoff + (size_t)link * shent + (m->cls == 2 ? 24 : 16),
                m->w);
      ssize = rd(m, shoff + (size_t)link * shent + (m->cls == 2 ? 32 : 20),
                 m->w);
      if (soff > m->n || ssize > m->n - soff)
        return bad(m, "a string table lies outside the file");
      cnt = (size_t)(size / es);
      for (j = 0; j < cnt; j++) {
        size_t e = (size_t)off + j * (size_t)es;
        uint64_t name = rd(m, e, 4);
        uint16_t shndx = (uint16_t)rd(m, e + (m->cls == 2 ? 6 : 14), 2);
        if (shndx == 0 || name > ssize || sizeof want > ssize - name ||
            memcmp(m->b + soff + name, want, sizeof want) != 0)
          continue;
        *out = rd(m, e + (m->cls == 2 ? 8 : 4), m->w);
        return 1;
      }
    }
  }
  return 0;
}

static int stub_thunk(pk_ctx *c, const pk_val *a, pk_val *r) {
  (void)c;
  (void)a;
  (void)r;
  return PK_EINVAL; /* never called: describe-only functions fail first */
}
static void stub_fn(void) {}

int pk__elf_describe(pk_plugin *p) {
  img m;
  unsigned char *buf = NULL;
  size_t n = 0, shoff, shent, shnum, off, i;
  uint64_t v, phoff, val;
  pk_plugin_desc d;
  pk_export_desc *ex = NULL;
  pk_hook_desc *hk = NULL;
  int rc, machine, found;

  memset(&m, 0, sizeof m);
  m.p = p;
  if ((rc = pk__plugin_read_file(p, &buf, &n)) < 0)
    return rc;
  m.b = buf;
  m.n = n;
  rc = PK_EFORMAT;
  if (n < 64 || memcmp(buf, "\177ELF", 4) != 0) {
    rc = pk__perr(p, PK_EFORMAT, "not an ELF file (or truncated: %zu bytes)",
                  n);
    goto out;
  }
  m.cls = buf[4];
  m.big = buf[5] == 2;
  m.w = m.cls == 2 ? 8 : 4;
  machine = (int)rd(&m, 18, 2);
  if (m.cls != pk__os_elf_class() || buf[5] != pk__os_elf_data() ||
      machine != pk__os_elf_machine()) {
    rc = pk__perr(p, PK_EARCH,
                  "ELF file for %s (%d-bit), this host is %s (%d-bit)",
                  pk__os_elf_machine_name(machine), m.cls == 2 ? 64 : 32,
                  pk__os_elf_machine_name(pk__os_elf_machine()),
                  pk__os_elf_class() == 2 ? 64 : 32);
    goto out;
  }
  m.rela_relative = relative_type(machine);
  phoff = rd(&m, m.cls == 2 ? 32 : 28, m.w);
  m.phent = (size_t)rd(&m, m.cls == 2 ? 54 : 42, 2);
  m.phnum = (size_t)rd(&m, m.cls == 2 ? 56 : 44, 2);
  v = rd(&m, m.cls == 2 ? 40 : 32, m.w);
  shent = (size_t)rd(&m, m.cls == 2 ? 58 : 46, 2);
  shnum = (size_t)rd(&m, m.cls == 2 ? 60 : 48, 2);
  if (m.phent < PK__ELF_PHDR_MIN(m.cls) || phoff > n ||
      m.phnum * m.phent > n - phoff) {
    rc = bad(&m, "program headers lie outside the file");
    goto out;
  }
  m.phoff = (size_t)phoff;
  if (shnum == 0 || shent < (size_t)(m.cls == 2 ? 64 : 40) || v > n ||
      shnum * shent > n - v) {
    rc = bad(&m, "no section headers in the file (they locate the "
                 "descriptor)");
    goto out;
  }
  shoff = (size_t)v;
  if ((rc = load_rels(&m, shoff, shent, shnum)) < 0)
    goto out;
  if ((found = find_symbol(&m, shoff, shent, shnum, &v)) < 0) {
    rc = found;
    goto out;
  }
  if (!found) {
    rc = pk__perr(p, PK_ENODESC,
                  "no symbol '%s' in the file: not a plugkit plugin (built "
                  "without PK_PLUGIN(...)); it was not run",
                  PK_DESCRIPTOR_SYMBOL);
    goto out;
  }
  /* The fixed head: magic, ABI and sizes, checked before anything else. */
  memset(&d, 0, sizeof d);
  if (v2off(&m, v, offsetof(pk_plugin_desc, name), &off) < 0) {
    rc = bad(&m, "the descriptor lies outside the file's loaded segments");
    goto out;
  }
  memcpy(&d, buf + off, offsetof(pk_plugin_desc, name));
  if (d.magic != PK_DESC_MAGIC || d.abi_major != PK_ABI_MAJOR ||
      d.abi_minor > PK_ABI_MINOR || d.size < sizeof d ||
      d.export_size < sizeof(pk_export_desc) ||
      d.hook_size < sizeof(pk_hook_desc) || d.nexports > PK__MAX_EXPORTS) {
    /* pk__desc_load says which one differs, before it reads the rest. */
    pk_plugin_desc head = d;
    head.nhooks = 0;
    if (d.nexports > PK__MAX_EXPORTS && d.magic == PK_DESC_MAGIC &&
        d.abi_major == PK_ABI_MAJOR && d.abi_minor <= PK_ABI_MINOR &&
        d.size >= sizeof d && d.export_size >= sizeof(pk_export_desc) &&
        d.hook_size >= sizeof(pk_hook_desc)) {
      rc = pk__plugin_exports(p, d.nexports); /* PK_ELIMIT */
      goto out;
    }
    head.name = head.version = "";
    rc = pk__desc_load(p, &head);
    if (rc >= 0)
      rc = bad(&m, "inconsistent header");
    goto out;
  }
  if (v2off(&m, v, sizeof d, &off) < 0) {
    rc = bad(&m, "the descriptor lies outside the file's loaded segments");
    goto out;
  }
  if (word_at(&m, v + offsetof(pk_plugin_desc, name), &val) < 0 ||
      (d.name = str_at(&m, val)) == NULL ||
      word_at(&m, v + offsetof(pk_plugin_desc, version), &val) < 0 ||
      (d.version = str_at(&m, val)) == NULL) {
    rc = bad(&m, "the name or version is not a string in the file");
    goto out;
  }
  /* The tables: each wholly in one segment before anything is allocated
     for them (so their size is bounded by the file's). */
  d.exports = NULL;
  d.hooks = NULL;
  if (d.nexports > 0) {
    uint64_t base;
    if (word_at(&m, v + offsetof(pk_plugin_desc, exports), &base) < 0 ||
        v2off(&m, base, (uint64_t)d.nexports * d.export_size, &off) < 0) {
      rc = bad(&m, "the export table lies outside the file");
      goto out;
    }
    if ((ex = pk__alloc(p->host, d.nexports * sizeof *ex)) == NULL) {
      rc = pk__perr(p, PK_ENOMEM, "out of memory");
      goto out;
    }
    for (i = 0; i < d.nexports; i++) {
      uint64_t e = base + (uint64_t)i * d.export_size, s, t;
      size_t eo;
      if (word_at(&m, e + offsetof(pk_export_desc, name), &s) < 0 ||
          word_at(&m, e + offsetof(pk_export_desc, sig), &t) < 0 ||
          (ex[i].name = str_at(&m, s)) == NULL ||
          (ex[i].sig = str_at(&m, t)) == NULL) {
        rc = pk__perr(p, PK_EFORMAT,
                      "malformed descriptor in the ELF file: export #%zu's "
                      "name or signature is not a string in the file",
                      i);
        goto out;
      }
      if (word_at(&m, e + offsetof(pk_export_desc, thunk), &t) < 0 ||
          v2off(&m, e + offsetof(pk_export_desc, flags), 4, &eo) < 0) {
        rc = bad(&m, "an export entry lies outside the file");
        goto out;
      }
      ex[i].thunk = t != 0 ? stub_thunk : NULL;
      ex[i].fn = NULL;
      ex[i].flags = (uint32_t)rd(&m, eo, 4);
    }
    d.exports = ex;
    d.export_size = sizeof *ex;
  }
  if (d.nhooks > 0) {
    uint64_t base;
    if (word_at(&m, v + offsetof(pk_plugin_desc, hooks), &base) < 0 ||
        v2off(&m, base, (uint64_t)d.nhooks * d.hook_size, &off) < 0) {
      rc = bad(&m, "the hook table lies outside the file");
      goto out;
    }
    if ((hk = pk__alloc(p->host, d.nhooks * sizeof *hk)) == NULL) {
      rc = pk__perr(p, PK_ENOMEM, "out of memory");
      goto out;
    }
    for (i = 0; i < d.nhooks; i++) {
      uint64_t e = base + (uint64_t)i * d.hook_size, f;
      size_t ko;
      if (v2off(&m, e + offsetof(pk_hook_desc, kind), 4, &ko) < 0 ||
          word_at(&m, e + offsetof(pk_hook_desc, fn), &f) < 0) {
        rc = bad(&m, "a hook entry lies outside the file");
        goto out;
      }
      hk[i].kind = (uint32_t)rd(&m, ko, 4);
      hk[i].fn = f != 0 ? stub_fn : NULL;
    }
    d.hooks = hk;
    d.hook_size = sizeof *hk;
  }
  rc = pk__desc_load(p, &d);
out:
  pk__free(p->host, ex);
  pk__free(p->host, hk);
  pk__free(p->host, m.rels);
  pk__free(p->host, buf);
  return rc;
}
