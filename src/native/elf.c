/*
 * elf.c: read enough of an ELF header to say precisely why a file is not a
 * shared object this process can load, before the dynamic loader gives a
 * vaguer message (or, for a truncated file, maps garbage).
 */
#include "native.h"

#include <string.h>

#include "../os/os.h"

int pk__elf_check(pk_plugin *p, const unsigned char *h, size_t n,
                  uint64_t size) {
  int cls, big, machine, type, w;
  uint64_t phoff, shoff, phnum, phentsize, shnum, shentsize;
  size_t count, o0, ent, i;
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
  type = (int)pk__elf_read(h, 16, 2, big);
  machine = (int)pk__elf_read(h, 18, 2, big);
  if (machine != pk__os_elf_machine())
    return pk__perr(p, PK_EARCH, "built for %s (ELF machine %d), host is %s",
                    pk__os_elf_machine_name(machine), machine,
                    pk__os_elf_machine_name(pk__os_elf_machine()));
  if (type == 3 && pk__elf_executable(h, n))
    return pk__perr(p, PK_EFORMAT,
                    "ELF executable (it has a program interpreter), not a "
                    "shared object: open it with the process backend");
  if (type != 3)
    return pk__perr(p, PK_EFORMAT, "ELF %s, not a shared object",
                    type >= 0 && type <= 4 ? types[type] : "of unknown type");
  w = cls == 2 ? 8 : 4;
  phoff = pk__elf_read(h, cls == 2 ? 32 : 28, w, big);
  shoff = pk__elf_read(h, cls == 2 ? 40 : 32, w, big);
  phentsize = pk__elf_read(h, cls == 2 ? 54 : 42, 2, big);
  phnum = pk__elf_read(h, cls == 2 ? 56 : 44, 2, big);
  shentsize = pk__elf_read(h, cls == 2 ? 58 : 46, 2, big);
  shnum = pk__elf_read(h, cls == 2 ? 60 : 48, 2, big);
  if (phnum > 0 && phentsize < PK__ELF_PHDR_MIN(cls))
    return pk__perr(p, PK_EFORMAT,
                    "bad ELF header: program header entries of %llu bytes, "
                    "%d-bit ELF needs at least %u",
                    (unsigned long long)phentsize, cls == 2 ? 64 : 32,
                    PK__ELF_PHDR_MIN(cls));
  /* Offsets are file fields up to 2^64 - 1: compare, never add them (the
     counts and entry sizes are 16-bit, their products cannot wrap). */
  if (phoff > size || phnum * phentsize > size - phoff)
    return pk__perr(p, PK_EFORMAT,
                    "truncated: %llu bytes, program headers (%llu of %llu "
                    "bytes) at offset %llu do not fit",
                    (unsigned long long)size, (unsigned long long)phnum,
                    (unsigned long long)phentsize,
                    (unsigned long long)phoff);
  if (shnum > 0 && (shoff > size || shnum * shentsize > size - shoff))
    return pk__perr(p, PK_EFORMAT,
                    "truncated: %llu bytes, section headers (%llu of %llu "
                    "bytes) at offset %llu do not fit",
                    (unsigned long long)size, (unsigned long long)shnum,
                    (unsigned long long)shentsize,
                    (unsigned long long)shoff);
  /* Loadable segments must lie in the file, when their headers are in
     the bytes we read (they almost always sit right after the header). */
  count = pk__elf_phdrs(h, n, &o0, &ent);
  for (i = 0; i < count; i++) {
    size_t o = o0 + (size_t)i * ent;
    uint64_t off, filesz;
    if (pk__elf_read(h, o, 4, big) != 1) /* PT_LOAD */
      continue;
    off = pk__elf_read(h, o + (cls == 2 ? 8 : 4), w, big);
    filesz = pk__elf_read(h, o + (cls == 2 ? 32 : 16), w, big);
    if (off > size || filesz > size - off)
      return pk__perr(p, PK_EFORMAT,
                      "truncated: %llu bytes, a loadable segment of %llu "
                      "bytes at offset %llu does not fit",
                      (unsigned long long)size, (unsigned long long)filesz,
                      (unsigned long long)off);
  }
  return PK_OK;
}
