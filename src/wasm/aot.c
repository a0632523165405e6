/*
 * aot.c: the wasm aot tier (docs/backends/wasm.md, "Execution tiers").
 *
 * `plugkit compile` (pk_wasm_compile) writes the translator's C for a
 * module (cgen.c, PKW_CGEN_AOT), builds it with the system C compiler
 * into a shared object that links nothing (PKW_AOT_CFLAGS), and stores
 * it behind a header that binds it to the module, the engine, the
 * target and the compiler. An open with tier "aot" or "auto" reads such
 * an artifact (the cache's, or the one pk_open_opts.aot_path names),
 * checks all of it in memory, and loads a private copy of exactly the
 * bytes it checked.
 *
 * Two variants of the code: the module's, and the module's decoded with
 * PKW_DECODE_DIRTY, whose stores and bulk writes also mark the chunks
 * they write (reset_after_call restores only those). The C differs, so
 * both are built, each its own shared object, and an open loads the one
 * its decoding needs: one artifact (and one cache file) serves every
 * open, at twice the compile time.
 *
 * Artifact: a 512-byte header, then the plain shared object, then the
 * marking one.
 *   0   magic "PKWAOT\r\n"
 *   8   u32 format (2), u32 header size (512)      little-endian
 *   16  SHA-256 of the .wasm bytes
 *   48  SHA-256 of the plain shared object
 *   80  u64 size of the plain shared object
 *   88  engine[96]: "plugkit V cgenN-FINGERPRINT flags-H" (NUL-padded)
 *   184 target[64]: pk__os_target() of the builder
 *   248 compiler[128]: the first line of `cc --version`
 *   376 SHA-256 of the marking shared object
 *   408 u64 size of the marking shared object
 *   416 reserved, zero
 * Every field is checked before anything is loaded (of the two objects,
 * the hash of the one loaded); a mismatch names the artifact and the
 * field. The shared object to load is then read as ELF
 * (aot_elf_check): no needed library, no interpreter, no code run at
 * load (init/fini), no TLS, no undefined symbol, only relocations that
 * run nothing. The cache is the user's: its folder and files must be
 * owned by the user and writable by nobody else (pk__os_private_dir,
 * pk__os_read_trusted).
 */
#include "wasm_backend.h"

#include <stdio.h>
#include <string.h>

#define AOT_MAGIC "PKWAOT\r\n"
#define AOT_FORMAT 2u
#define AOT_HDR 512u
#define AOT_MAX_FILE (512u * 1024u * 1024u)
enum {
  OFF_FORMAT = 8, OFF_HDRSIZE = 12, OFF_MODHASH = 16, OFF_CODEHASH = 48,
  OFF_CODESIZE = 80, OFF_ENGINE = 88, LEN_ENGINE = 96, OFF_TARGET = 184,
  LEN_TARGET = 64, OFF_COMPILER = 248, LEN_COMPILER = 128,
  OFF_MCODEHASH = 376, OFF_MCODESIZE = 408, OFF_RESERVED = 416
};

static const char *const cflags[] = {
#define F_(x) x,
    PKW_AOT_CFLAGS(F_)
#undef F_
    NULL};

static uint32_t rd32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) {
  return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}
static void wr32(uint8_t *p, uint32_t v) {
  int i;
  for (i = 0; i < 4; i++)
    p[i] = (uint8_t)(v >> (8 * i));
}
static void wr64(uint8_t *p, uint64_t v) {
  wr32(p, (uint32_t)v);
  wr32(p + 4, (uint32_t)(v >> 32));
}

/* "plugkit 0.1.0 cgen1-0123456789abcdef flags-89abcdef": what the code
   depends on besides the module. */
static int engine_id(pk_host *h, char *buf, size_t cap) {
  pkw_alloc al = pk__wasm_alloc(h);
  char fp[64];
  uint32_t fh = 2166136261u;
  size_t i, k;
  if (pkw_cgen_fingerprint(&al, fp, sizeof fp) != PKW_OK)
    return -1;
  for (i = 0; cflags[i] != NULL; i++)
    for (k = 0; k <= strlen(cflags[i]); k++)
      fh = (fh ^ (uint8_t)cflags[i][k]) * 16777619u;
  k = (size_t)snprintf(buf, cap, "plugkit %s %s flags-%08x",
                       pk_version_string(), fp, (unsigned)fh);
  return k < cap ? 0 : -1;
}

static void hex32(const uint8_t d[32], char out[65]) {
  static const char x[] = "0123456789abcdef";
  int i;
  for (i = 0; i < 32; i++) {
    out[2 * i] = x[d[i] >> 4];
    out[2 * i + 1] = x[d[i] & 15];
  }
  out[64] = '\0';
}

/* A header text field: NUL-terminated inside its width, printable. */
static int field_ok(const uint8_t *p, size_t len) {
  size_t i;
  for (i = 0; i < len && p[i] != 0; i++)
    if (p[i] < 0x20 || p[i] > 0x7e)
      return 0;
  return i < len;
}

/* ---- the shared object, read as ELF ---------------------------------------- */

typedef struct elfv {
  const uint8_t *b;
  size_t n;
  int big;
} elfv;

static uint64_t ev(const elfv *e, size_t off, int w) {
  return pk__elf_read(e->b, off, w, e->big);
}

/* The file offset of `size` bytes at virtual address va, from the
   PT_LOAD entries (64-bit: the only class built here), or SIZE_MAX. */
static size_t va_off(const elfv *e, size_t ph, size_t ent, size_t nph,
                     uint64_t va, uint64_t size) {
  size_t i;
  for (i = 0; i < nph; i++) {
    size_t p = ph + i * ent;
    uint64_t off = ev(e, p + 8, 8), vaddr = ev(e, p + 16, 8),
             filesz = ev(e, p + 32, 8);
    if (ev(e, p, 4) != 1) /* PT_LOAD */
      continue;
    if (va >= vaddr && va - vaddr <= filesz && size <= filesz - (va - vaddr) &&
        off <= e->n && filesz <= e->n - off)
      return (size_t)(off + (va - vaddr));
  }
  return SIZE_MAX;
}

/* Relocation types that only write an address the object already has
   (x86_64: 64, GLOB_DAT, JUMP_SLOT, RELATIVE; aarch64: ABS64, GLOB_DAT,
   JUMP_SLOT, RELATIVE); any other (IRELATIVE runs code) is refused.
   Other machines: their own loader's rules only. */
static int reloc_ok(int machine, uint32_t type) {
  if (machine == 62)
    return type == 1 || type == 6 || type == 7 || type == 8;
  if (machine == 183)
    return type == 257 || type == 1025 || type == 1026 || type == 1027;
  return 1;
}

static int aot_elf_check(const uint8_t *b, size_t n, char *why, size_t cap) {
  elfv e;
  size_t ph, ent, nph, i, dyn = SIZE_MAX, dynsz = 0, symoff, stroff, hoff;
  uint64_t symtab = 0, strtab = 0, strsz = 0, hash = 0, syment = 0;
  uint64_t rel[2][3] = {{0, 0, 0}, {0, 0, 0}}; /* RELA, JMPREL: va size ent */
  int has_hash = 0, machine;
  uint32_t nsym, k;
  e.b = b;
  e.n = n;
  e.big = n > 5 && b[5] == 2;
  if (n < 64 || memcmp(b, "\177ELF", 4) != 0 || b[4] != pk__os_elf_class() ||
      b[5] != pk__os_elf_data() || b[4] != 2) {
    snprintf(why, cap, "the code is not a 64-bit ELF object of this host");
    return PK_EFORMAT;
  }
  machine = (int)ev(&e, 18, 2);
  if (machine != pk__os_elf_machine()) {
    snprintf(why, cap, "the code is for %s, this host is %s",
             pk__os_elf_machine_name(machine),
             pk__os_elf_machine_name(pk__os_elf_machine()));
    return PK_EARCH;
  }
  if (ev(&e, 16, 2) != 3) { /* ET_DYN */
    snprintf(why, cap, "the code is not a shared object");
    return PK_EFORMAT;
  }
  if ((nph = pk__elf_phdrs(b, n, &ph, &ent)) == 0 || ent < 56) {
    snprintf(why, cap, "the code has no program headers");
    return PK_EFORMAT;
  }
  for (i = 0; i < nph; i++) {
    size_t p = ph + i * ent;
    uint32_t type = (uint32_t)ev(&e, p, 4);
    if (type == 3 || type == 7) {
      snprintf(why, cap, "the code has a %s segment",
               type == 3 ? "program interpreter" : "thread-local storage");
      return PK_EFORMAT;
    }
    if (type == 2) {
      uint64_t off = ev(&e, p + 8, 8), sz = ev(&e, p + 32, 8);
      if (off > n || sz > n - off) {
        snprintf(why, cap, "the code's dynamic section is out of the file");
        return PK_EFORMAT;
      }
      dyn = (size_t)off;
      dynsz = (size_t)sz;
    }
  }
  if (dyn == SIZE_MAX) {
    snprintf(why, cap, "the code has no dynamic section");
    return PK_EFORMAT;
  }
  for (i = 0; i + 16 <= dynsz; i += 16) {
    uint64_t tag = ev(&e, dyn + i, 8), val = ev(&e, dyn + i + 8, 8);
    if (tag == 0)
      break;
    switch (tag) {
    case 1: /* DT_NEEDED */
      snprintf(why, cap, "the code needs another library");
      return PK_EFORMAT;
    case 12: case 13: case 25: case 26: case 32: /* INIT, FINI, arrays */
      snprintf(why, cap, "the code runs something when loaded or unloaded");
      return PK_EFORMAT;
    case 4: hash = val; has_hash = 1; break;
    case 5: strtab = val; break;
    case 6: symtab = val; break;
    case 10: strsz = val; break;
    case 11: syment = val; break;
    case 7: rel[0][0] = val; break;
    case 8: rel[0][1] = val; break;
    case 9: rel[0][2] = val; break;
    case 23: rel[1][0] = val; break;
    case 2: rel[1][1] = val; break;
    case 17: case 18: /* DT_REL, DT_RELSZ: not what a 64-bit build makes */
      snprintf(why, cap, "the code has REL relocations");
      return PK_EFORMAT;
    default: break;
    }
  }
  rel[1][2] = 24;
  if (!has_hash || syment != 24 ||
      (hoff = va_off(&e, ph, ent, nph, hash, 8)) == SIZE_MAX) {
    snprintf(why, cap, "the code has no SysV symbol hash table");
    return PK_EFORMAT;
  }
  nsym = (uint32_t)ev(&e, hoff + 4, 4); /* nchain: the number of symbols */
  if (nsym > n / 24 ||
      (symoff = va_off(&e, ph, ent, nph, symtab, (uint64_t)nsym * 24)) ==
          SIZE_MAX ||
      (stroff = va_off(&e, ph, ent, nph, strtab, strsz)) == SIZE_MAX) {
    snprintf(why, cap, "the code's symbol table is out of the file");
    return PK_EFORMAT;
  }
  for (k = 1; k < nsym; k++) {
    size_t s = symoff + (size_t)k * 24;
    if (ev(&e, s + 6, 2) == 0) { /* SHN_UNDEF */
      uint64_t name = ev(&e, s, 4);
      char nm[64] = "?";
      size_t j;
      for (j = 0; name < strsz && j + 1 < sizeof nm; j++, name++) {
        uint8_t c = b[stroff + name];
        if (c == 0)
          break;
        nm[j] = (char)(c >= 0x20 && c <= 0x7e ? c : '?');
        nm[j + 1] = '\0';
      }
      snprintf(why, cap, "the code references '%s', defined nowhere in it",
               nm);
      return PK_EFORMAT;
    }
  }
  for (i = 0; i < 2; i++) {
    size_t roff;
    uint64_t r;
    if (rel[i][1] == 0)
      continue;
    if (rel[i][2] != 24 ||
        (roff = va_off(&e, ph, ent, nph, rel[i][0], rel[i][1])) == SIZE_MAX) {
      snprintf(why, cap, "the code's relocations are out of the file");
      return PK_EFORMAT;
    }
    for (r = 0; r + 24 <= rel[i][1]; r += 24) {
      uint64_t info = ev(&e, roff + r + 8, 8);
      if (!reloc_ok(machine, (uint32_t)info) || (info >> 32) >= nsym) {
        snprintf(why, cap, "the code has a relocation of type %u",
                 (unsigned)(uint32_t)info);
        return PK_EFORMAT;
      }
    }
  }
  return PK_OK;
}

/* ---- build ------------------------------------------------------------------- */

static void *host_alloc(void *ud, size_t n) { return pk__alloc(ud, n); }

/* The C of pkw_module_cgen_ex came from the module's allocator. */
static void free_c(pk_host *h, char *c) {
  pkw_alloc al = pk__wasm_alloc(h);
  al.realloc_fn(al.ud, c, 0);
}

/* The system compiler: cc, else gcc, on $PATH. */
static int find_cc(char *buf, size_t cap) {
  return pk__os_which("cc", buf, cap) == 0 || pk__os_which("gcc", buf, cap) == 0
             ? 0
             : -1;
}

int pk__wasm_aot_path(const uint8_t hash[32], char *buf, size_t cap,
                      char *why, size_t wcap, int create) {
  char dir[4000], hx[65];
  int rc, k;
  if (pk__os_cache_dir(dir, sizeof dir) != 0) {
    snprintf(why, wcap, "no cache directory (neither XDG_CACHE_HOME nor "
                        "HOME is an absolute path)");
    return PK_ENOENT;
  }
  if ((rc = pk__os_private_dir(dir, create, why, wcap)) != PK_OK) {
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", why);
    snprintf(why, wcap, "cache %s: %s", dir, tmp);
    return rc;
  }
  hex32(hash, hx);
  k = snprintf(buf, cap, "%s/%s.pkaot", dir, hx);
  if (k < 0 || (size_t)k >= cap) {
    snprintf(why, wcap, "cache path too long");
    return PK_EINVAL;
  }
  return PK_OK;
}

/* Builds module m's shared object with the compiler at ccpath into *out
   (host-allocated, *out_n bytes). Messages go to the host as
   "<path>: compile: ..." (`what` names the variant). */
static int build_so(pk_host *h, const char *path, const char *ccpath,
                    pkw_module *m, const char *what, uint8_t **out,
                    size_t *out_n) {
  char dir[512], src[600], so[600], msg[2048], errb[256];
  const char *argv[64];
  char *c = NULL;
  size_t clen = 0, son = 0, i, k = 0;
  uint8_t *sob = NULL;
  int rc, status;
  if ((rc = pkw_module_cgen_ex(m, PKW_CGEN_AOT, &c, &clen, errb,
                               sizeof errb)) != PKW_OK)
    return pk__err(h, rc == PKW_ENOMEM ? PK_ENOMEM
                      : rc == PKW_ELIMIT ? PK_ELIMIT : PK_ENOSYS,
                   path, "compile", "%s", errb);
  if (pk__os_tmpdir(dir, sizeof dir) != 0) {
    free_c(h, c);
    return pk__err(h, PK_EIO, path, "compile",
                   "cannot create a temporary directory");
  }
  snprintf(src, sizeof src, "%s/m.c", dir);
  snprintf(so, sizeof so, "%s/m.so", dir);
  rc = pk__os_write_atomic(src, c, clen, msg, sizeof msg);
  free_c(h, c);
  if (rc != PK_OK) {
    pk__os_rmdir_files(dir);
    return pk__err(h, rc, path, "compile", "%s: %s", src, msg);
  }
  argv[k++] = ccpath;
  for (i = 0; cflags[i] != NULL; i++)
    argv[k++] = cflags[i];
  argv[k++] = "-o";
  argv[k++] = so;
  argv[k++] = src;
  argv[k] = NULL;
  if (pk__os_run(argv, msg, sizeof msg, &status) != PK_OK || status != 0) {
    pk__os_rmdir_files(dir);
    msg[strcspn(msg, "\n")] = '\0';
    return pk__err(h, PK_ENOSYS, path, "compile",
                   "%s failed on the generated C%s (status %d): %s", ccpath,
                   what, status, msg[0] ? msg : "no output");
  }
  rc = pk__os_read_file(so, AOT_MAX_FILE / 2 - AOT_HDR, host_alloc, h, &sob,
                        &son);
  pk__os_rmdir_files(dir);
  if (rc != PK_OK)
    return pk__err(h, rc, path, "compile", "cannot read the compiler's "
                                           "output");
  if ((rc = aot_elf_check(sob, son, msg, sizeof msg)) != PK_OK) {
    pk__free(h, sob);
    return pk__err(h, rc, path, "compile", "%s built unusable code%s: %s",
                   ccpath, what, msg);
  }
  *out = sob;
  *out_n = son;
  return PK_OK;
}

/* Builds the artifact of the module decoded from wasm (n bytes), as m
   and, PKW_DECODE_DIRTY, as md, into *out (host-allocated, *out_n
   bytes). Messages go to the host as "<path>: compile: ...". */
static int build(pk_host *h, const char *path, pkw_module *m,
                 pkw_module *md, const uint8_t *wasm, size_t n,
                 uint8_t **out, size_t *out_n) {
  char ccpath[1024], msg[2048];
  char compiler[LEN_COMPILER], engine[LEN_ENGINE];
  const char *argv[4];
  size_t son = 0, mon = 0, i;
  uint8_t *sob = NULL, *mob = NULL, *art;
  int rc, status;
  if (find_cc(ccpath, sizeof ccpath) != 0)
    return pk__err(h, PK_ENOSYS, path, "compile",
                   "no C compiler: neither cc nor gcc is on PATH (the aot "
                   "tier needs one, e.g. Debian's gcc; the jit tier does "
                   "not)");
  if (engine_id(h, engine, sizeof engine) != 0)
    return pk__err(h, PK_ENOMEM, path, "compile", "out of memory");
  /* The compiler's identity: the first line of --version. */
  argv[0] = ccpath;
  argv[1] = "--version";
  argv[2] = NULL;
  if (pk__os_run(argv, msg, sizeof msg, &status) != PK_OK || status != 0)
    return pk__err(h, PK_ENOSYS, path, "compile",
                   "%s --version failed: not a usable C compiler", ccpath);
  msg[strcspn(msg, "\n")] = '\0';
  msg[sizeof compiler - 1] = '\0';
  memcpy(compiler, msg, sizeof compiler);
  for (i = 0; compiler[i] != '\0'; i++)
    if (compiler[i] < 0x20 || compiler[i] > 0x7e)
      compiler[i] = '?';
  if ((rc = build_so(h, path, ccpath, m, "", &sob, &son)) != PK_OK)
    return rc;
  if ((rc = build_so(h, path, ccpath, md, " (reset_after_call variant)",
                     &mob, &mon)) != PK_OK) {
    pk__free(h, sob);
    return rc;
  }
  if ((art = pk__alloc(h, AOT_HDR + son + mon)) == NULL) {
    pk__free(h, sob);
    pk__free(h, mob);
    return pk__err(h, PK_ENOMEM, path, "compile", "out of memory");
  }
  memset(art, 0, AOT_HDR);
  memcpy(art, AOT_MAGIC, 8);
  wr32(art + OFF_FORMAT, AOT_FORMAT);
  wr32(art + OFF_HDRSIZE, AOT_HDR);
  pk__sha256_buf(wasm, n, art + OFF_MODHASH);
  pk__sha256_buf(sob, son, art + OFF_CODEHASH);
  wr64(art + OFF_CODESIZE, son);
  pk__sha256_buf(mob, mon, art + OFF_MCODEHASH);
  wr64(art + OFF_MCODESIZE, mon);
  memcpy(art + OFF_ENGINE, engine, strlen(engine));
  snprintf((char *)art + OFF_TARGET, LEN_TARGET, "%s", pk__os_target());
  memcpy(art + OFF_COMPILER, compiler, strlen(compiler));
  memcpy(art + AOT_HDR, sob, son);
  memcpy(art + AOT_HDR + son, mob, mon);
  pk__free(h, sob);
  pk__free(h, mob);
  *out = art;
  *out_n = AOT_HDR + son + mon;
  return PK_OK;
}

int pk_wasm_compile(pk_host *h, const char *path, const char *out_path,
                    char *written, size_t cap) {
  pkw_alloc al;
  pkw_module *m = NULL, *md = NULL;
  uint8_t *bytes = NULL, *art = NULL;
  size_t n = 0, an = 0;
  char err[256], dest[4096];
  int rc;
  if (h == NULL || path == NULL)
    return PK_EINVAL;
  al = pk__wasm_alloc(h);
  rc = pk__os_read_file(path, AOT_MAX_FILE, host_alloc, h, &bytes, &n);
  if (rc != PK_OK)
    return pk__err(h, rc, path, "read",
                   rc == PK_ENOENT ? "no such file" : "cannot read the file");
  rc = pkw_module_decode_ex(&al, bytes, n, 0, &m, err, sizeof err);
  if (rc == PKW_OK &&
      (rc = pkw_module_decode_ex(&al, bytes, n, PKW_DECODE_DIRTY, &md, err,
                                 sizeof err)) != PKW_OK)
    pkw_module_destroy(m);
  if (rc != PKW_OK) {
    pk__free(h, bytes);
    return pk__err(h, rc == PKW_ENOMEM ? PK_ENOMEM : PK_EFORMAT, path,
                   "decode", "%s", err);
  }
  rc = build(h, path, m, md, bytes, n, &art, &an);
  pkw_module_destroy(m);
  pkw_module_destroy(md);
  if (rc == PK_OK && out_path == NULL) {
    uint8_t hash[32];
    pk__sha256_buf(bytes, n, hash);
    if ((rc = pk__wasm_aot_path(hash, dest, sizeof dest, err, sizeof err,
                                1)) != PK_OK)
      rc = pk__err(h, rc, path, "compile", "%s", err);
    out_path = dest;
  }
  pk__free(h, bytes);
  if (rc != PK_OK) {
    pk__free(h, art);
    return rc;
  }
  rc = pk__os_write_atomic(out_path, art, an, err, sizeof err);
  pk__free(h, art);
  if (rc != PK_OK)
    return pk__err(h, rc, out_path, "write", "%s", err);
  if (written != NULL && cap > 0)
    snprintf(written, cap, "%s", out_path);
  return PK_OK;
}

/* ---- load ---------------------------------------------------------------------- */

typedef struct aot_lib {
  pk_host *h;
  pk__os_lib lib;
} aot_lib;

static void *aot_sym(void *ud, const char *name) {
  return pk__os_lib_sym(&((aot_lib *)ud)->lib, name);
}

static void aot_unload(void *ud) {
  aot_lib *l = ud;
  pk__os_lib_close(&l->lib);
  pk__free(l->h, l);
}

/* Checks the artifact in a (n bytes) against module hash `mh`: PK_OK
   with the offset and size of the variant to load (marks: the one that
   marks written chunks) in *off, *len, or a code with `why`. */
static int check(pk_host *h, const uint8_t *a, size_t n, const uint8_t mh[32],
                 int marks, size_t *off, size_t *len, char *why, size_t cap) {
  char engine[LEN_ENGINE];
  uint8_t d[32];
  uint64_t size, msize;
  size_t i;
  if (n < AOT_HDR || memcmp(a, AOT_MAGIC, 8) != 0) {
    snprintf(why, cap, n < AOT_HDR && n >= 8 && memcmp(a, AOT_MAGIC, 8) == 0
                           ? "truncated (%zu bytes, no whole header)"
                           : "not an aot artifact (%zu bytes)",
             n);
    return PK_EFORMAT;
  }
  if (rd32(a + OFF_FORMAT) != AOT_FORMAT || rd32(a + OFF_HDRSIZE) != AOT_HDR) {
    snprintf(why, cap, "artifact format %u, this library reads %u (run "
                       "plugkit compile again)",
             (unsigned)rd32(a + OFF_FORMAT), AOT_FORMAT);
    return PK_EABI;
  }
  if (!field_ok(a + OFF_ENGINE, LEN_ENGINE) ||
      !field_ok(a + OFF_TARGET, LEN_TARGET) ||
      !field_ok(a + OFF_COMPILER, LEN_COMPILER) ||
      a[OFF_COMPILER] == 0) {
    snprintf(why, cap, "malformed header");
    return PK_EFORMAT;
  }
  for (i = OFF_RESERVED; i < AOT_HDR; i++)
    if (a[i] != 0) {
      snprintf(why, cap, "malformed header");
      return PK_EFORMAT;
    }
  if (memcmp(a + OFF_MODHASH, mh, 32) != 0) {
    snprintf(why, cap, "built from another module (its SHA-256 differs)");
    return PK_EFORMAT;
  }
  if (strcmp((const char *)a + OFF_TARGET, pk__os_target()) != 0) {
    snprintf(why, cap, "built for %s, this host is %s",
             (const char *)a + OFF_TARGET, pk__os_target());
    return PK_EARCH;
  }
  if (engine_id(h, engine, sizeof engine) != 0) {
    snprintf(why, cap, "out of memory");
    return PK_ENOMEM;
  }
  if (strcmp((const char *)a + OFF_ENGINE, engine) != 0) {
    snprintf(why, cap, "stale: built by '%s', this engine is '%s' (run "
                       "plugkit compile again)",
             (const char *)a + OFF_ENGINE, engine);
    return PK_EABI;
  }
  size = rd64(a + OFF_CODESIZE);
  msize = rd64(a + OFF_MCODESIZE);
  if (size > AOT_MAX_FILE || msize > AOT_MAX_FILE) {
    snprintf(why, cap, "malformed header (code sizes %llu and %llu)",
             (unsigned long long)size, (unsigned long long)msize);
    return PK_EFORMAT;
  }
  if (size + msize != n - AOT_HDR) {
    snprintf(why, cap, "%s: %zu bytes of code, the header says %llu",
             size + msize > n - AOT_HDR ? "truncated" : "trailing bytes",
             n - AOT_HDR, (unsigned long long)(size + msize));
    return PK_EFORMAT;
  }
  /* The variant this open loads: only its bytes are ever mapped, and
     hashing the other too would double the cost of a load. */
  *off = AOT_HDR + (marks ? (size_t)size : 0);
  *len = marks ? (size_t)msize : (size_t)size;
  pk__sha256_buf(a + *off, *len, d);
  if (memcmp(d, a + (marks ? OFF_MCODEHASH : OFF_CODEHASH), 32) != 0) {
    snprintf(why, cap, "tampered: the %scode's SHA-256 differs from the "
                       "header's",
             marks ? "reset_after_call " : "");
    return PK_EFORMAT;
  }
  return aot_elf_check(a + *off, *len, why, cap);
}

int pk__wasm_aot_load(pk_plugin *p, pkw_module *m, const uint8_t mh[32],
                      int marks, const char *aot_path, char *why, size_t cap,
                      char *where, size_t wcap) {
  pk_host *h = p->host;
  char path[4096], errb[256];
  uint8_t *a = NULL;
  size_t n = 0, off = 0, len = 0;
  const uint32_t *mk;
  aot_lib *l;
  int rc;
  where[0] = '\0';
  if (aot_path != NULL) {
    snprintf(path, sizeof path, "%s", aot_path);
  } else if ((rc = pk__wasm_aot_path(mh, path, sizeof path, why, cap, 0)) !=
             PK_OK) {
    return rc;
  }
  snprintf(where, wcap, "%s", path);
  rc = pk__os_read_trusted(path, AOT_MAX_FILE, host_alloc, h, &a, &n, why,
                           cap);
  if (rc != PK_OK)
    return rc;
  if ((rc = check(h, a, n, mh, marks, &off, &len, why, cap)) != PK_OK) {
    pk__free(h, a);
    return rc;
  }
  if ((l = pk__alloc(h, sizeof *l)) == NULL) {
    pk__free(h, a);
    snprintf(why, cap, "out of memory");
    return PK_ENOMEM;
  }
  l->h = h;
  rc = pk__os_lib_open_mem(a + off, len, "aot", &l->lib, why, cap);
  pk__free(h, a);
  if (rc != PK_OK) {
    pk__free(h, l);
    return rc;
  }
  /* The variant is the one this open needs (the engine checks it too,
     in words of its own). */
  mk = aot_sym(l, "pkw_aot_marks");
  if (mk == NULL || *mk != (marks ? 1u : 0u)) {
    snprintf(why, cap, "its %s code %s the pages a call writes (run "
                       "plugkit compile again)",
             marks ? "reset_after_call" : "plain",
             marks ? "does not record" : "records");
    aot_unload(l);
    return PK_EFORMAT;
  }
  rc = pkw_module_bind_aot(m, aot_sym, aot_unload, l, errb, sizeof errb);
  if (rc != PKW_OK) {
    snprintf(why, cap, "%s", errb);
    aot_unload(l);
    return rc == PKW_ENOMEM ? PK_ENOMEM : PK_EFORMAT;
  }
  return PK_OK;
}
