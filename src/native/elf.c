/*
 * elf.c: read enough of an ELF header to say precisely why a file is not a
 * shared object this process can load, before the dynamic loader gives a
 * vaguer message (or, for a truncated file, maps garbage).
 */
#include "native.h"

#include <string.h>

#include "../os/os.h"

static uint64_t rd(const unsigned char *b, size_t off, int width, int big) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < width; i++) {
    int k = big ? i : width - 1 - i;
    v = (v << 8) | b[off + (size_t)k];
  }
  return v;
}

int pk__elf_has_interp(const unsigned char *h, size_t n) {
  int cls, big, w;
  uint64_t phoff, phnum, phentsize, i;
  if (n < 64 || memcmp(h, "\177ELF", 4) != 0 || (h[4] != 1 && h[4] != 2))
    return 0;
  cls = h[4];
  big = h[5] == 2;
  w = cls == 2 ? 8 : 4;
  phoff = rd(h, cls == 2 ? 32 : 28, w, big);
  phentsize = rd(h, cls == 2 ? 54 : 42, 2, big);
  phnum = rd(h, cls == 2 ? 56 : 44, 2, big);
  for (i = 0; i < phnum && phoff + (i + 1) * phentsize <= n; i++)
    if (rd(h, (size_t)(phoff + i * phentsize), 4, big) == 3) /* PT_INTERP */
      return 1;
  return 0;
}

int pk__elf_check(pk_plugin *p, const unsigned char *h, size_t n,
                  uint64_t size) {
  int cls, big, machine, type, w;
  uint64_t phoff, shoff, phnum, phentsize, shnum, shentsize, i;
  static const char *const types[] = {"no file type", "relocatable object",
                                      "executable", "shared object",
                                      "core dump"};

  if (n < 4 || memcmp(h, "\177ELF", 4) != 0)
    return pk__perr(p, PK_EFORMAT,
                    "not a shared object: no ELF header (starts with "
                    "%02x %02x %02x %02x)",
                    n > 0 ? h[0] : 0, n > 1 ? h[1] : 0, n > 2 ? h[2] : 0,
                    n > 3 ? h[3] : 0);
  if (n < 52)
    return pk__perr(p, PK_EFORMAT,
                    "truncated: %zu bytes, shorter than an ELF header", n);
  cls = h[4];
  big = h[5] == 2;
  if (cls != 1 && cls != 2)
    return pk__perr(p, PK_EFORMAT, "bad ELF class %d", cls);
  if (cls != pk__os_elf_class())
    return pk__perr(p, PK_EARCH, "%d-bit ELF file, this host is %d-bit",
                    cls == 2 ? 64 : 32, pk__os_elf_class() == 2 ? 64 : 32);
  if (h[5] != pk__os_elf_data())
    return pk__perr(p, PK_EARCH, "%s-endian ELF file, this host is %s-endian",
                    big ? "big" : "little",
                    pk__os_elf_data() == 2 ? "big" : "little");
  if (cls == 2 && n < 64)
    return pk__perr(p, PK_EFORMAT,
                    "truncated: %zu bytes, shorter than an ELF header", n);
  type = (int)rd(h, 16, 2, big);
  machine = (int)rd(h, 18, 2, big);
  if (machine != pk__os_elf_machine())
    return pk__perr(p, PK_EARCH, "built for %s (ELF machine %d), host is %s",
                    pk__os_elf_machine_name(machine), machine,
                    pk__os_elf_machine_name(pk__os_elf_machine()));
  if (type == 3 && pk__elf_has_interp(h, n))
    return pk__perr(p, PK_EFORMAT,
                    "ELF executable (it has a program interpreter), not a "
                    "shared object: open it with the process backend");
  if (type != 3)
    return pk__perr(p, PK_EFORMAT, "ELF %s, not a shared object",
                    type >= 0 && type <= 4 ? types[type] : "of unknown type");
  w = cls == 2 ? 8 : 4;
  phoff = rd(h, cls == 2 ? 32 : 28, w, big);
  shoff = rd(h, cls == 2 ? 40 : 32, w, big);
  phentsize = rd(h, cls == 2 ? 54 : 42, 2, big);
  phnum = rd(h, cls == 2 ? 56 : 44, 2, big);
  shentsize = rd(h, cls == 2 ? 58 : 46, 2, big);
  shnum = rd(h, cls == 2 ? 60 : 48, 2, big);
  if (phoff + phnum * phentsize > size)
    return pk__perr(p, PK_EFORMAT,
                    "truncated: %llu bytes, program headers end at %llu",
                    (unsigned long long)size,
                    (unsigned long long)(phoff + phnum * phentsize));
  if (shnum > 0 && shoff + shnum * shentsize > size)
    return pk__perr(p, PK_EFORMAT,
                    "truncated: %llu bytes, section headers end at %llu",
                    (unsigned long long)size,
                    (unsigned long long)(shoff + shnum * shentsize));
  /* Loadable segments must lie in the file, when their headers are in
     the bytes we read (they almost always sit right after the header). */
  for (i = 0; i < phnum && phoff + (i + 1) * phentsize <= n; i++) {
    size_t o = (size_t)(phoff + i * phentsize);
    uint64_t off, filesz;
    if (rd(h, o, 4, big) != 1) /* PT_LOAD */
      continue;
    off = rd(h, o + (cls == 2 ? 8 : 4), w, big);
    filesz = rd(h, o + (cls == 2 ? 32 : 16), w, big);
    if (off + filesz > size)
      return pk__perr(p, PK_EFORMAT,
                      "truncated: %llu bytes, a loadable segment ends at %llu",
                      (unsigned long long)size,
                      (unsigned long long)(off + filesz));
  }
  return PK_OK;
}
