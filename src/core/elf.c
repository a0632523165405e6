/*
 * elf.c: the little of ELF that several backends need: reading header
 * fields of either byte order, and telling executables from libraries
 * (native loads libraries; process runs executables).
 *
 * Everything here reads untrusted bytes: a head buffer of the first `n`
 * bytes of a file. Every offset is checked against `n` before a read, and
 * no sum of two file fields is formed where it could wrap.
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

size_t pk__elf_phdrs(const unsigned char *h, size_t n, size_t *out_off,
                     size_t *out_entsize) {
  int cls, big;
  uint64_t phoff, phnum, phentsize, fit;
  *out_off = 0;
  *out_entsize = 0;
  if (n < 4 || memcmp(h, "\177ELF", 4) != 0)
    return 0;
  cls = n > 4 ? h[4] : 0;
  big = n > 5 && h[5] == 2;
  if ((cls != 1 && cls != 2) || n < (cls == 2 ? 64u : 52u))
    return 0;
  phoff = pk__elf_read(h, cls == 2 ? 32 : 28, cls == 2 ? 8 : 4, big);
  phentsize = pk__elf_read(h, cls == 2 ? 54 : 42, 2, big);
  phnum = pk__elf_read(h, cls == 2 ? 56 : 44, 2, big);
  /* An entry shorter than the format's makes its fields overlap the next
     entry or run past the table: no table at all. */
  if (phentsize < PK__ELF_PHDR_MIN(cls) || phoff >= n)
    return 0;
  fit = (n - phoff) / phentsize; /* entries wholly inside the head */
  *out_off = (size_t)phoff;
  *out_entsize = (size_t)phentsize;
  return (size_t)(phnum < fit ? phnum : fit);
}

int pk__elf_executable(const unsigned char *h, size_t n) {
  size_t off, entsize, count, i;
  int big;
  if (n < 64 || memcmp(h, "\177ELF", 4) != 0 || (h[4] != 1 && h[4] != 2))
    return 0;
  big = h[5] == 2;
  if (pk__elf_read(h, 16, 2, big) == 2) /* ET_EXEC */
    return 1;
  count = pk__elf_phdrs(h, n, &off, &entsize);
  for (i = 0; i < count; i++)
    if (pk__elf_read(h, off + i * entsize, 4, big) ==
        3) /* PT_INTERP: a PIE executable */
      return 1;
  return 0;
}
