/*
 * elf.c: the little of ELF that several backends need: reading header
 * fields of either byte order, and telling executables from libraries
 * (native loads libraries; process runs executables).
 */
#include "core.h"

#include <string.h>

uint64_t pk__elf_read(const unsigned char *h, size_t off, int width,
                      int big) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < width; i++)
    v |= (uint64_t)h[off + (size_t)(big ? width - 1 - i : i)] << (8 * i);
  return v;
}

int pk__elf_executable(const unsigned char *h, size_t n) {
  int cls, big, w;
  uint64_t phoff, phnum, phentsize, i;
  if (n < 64 || memcmp(h, "\177ELF", 4) != 0 || (h[4] != 1 && h[4] != 2))
    return 0;
  cls = h[4];
  big = h[5] == 2;
  if (pk__elf_read(h, 16, 2, big) == 2) /* ET_EXEC */
    return 1;
  w = cls == 2 ? 8 : 4;
  phoff = pk__elf_read(h, cls == 2 ? 32 : 28, w, big);
  phentsize = pk__elf_read(h, cls == 2 ? 54 : 42, 2, big);
  phnum = pk__elf_read(h, cls == 2 ? 56 : 44, 2, big);
  for (i = 0; i < phnum && phoff + (i + 1) * phentsize <= n; i++)
    if (pk__elf_read(h, (size_t)(phoff + i * phentsize), 4, big) ==
        3) /* PT_INTERP: a PIE executable */
      return 1;
  return 0;
}
