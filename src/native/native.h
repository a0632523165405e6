/* native.h: private to src/native/. */
#ifndef PK_NATIVE_NATIVE_H
#define PK_NATIVE_NATIVE_H

#include "../core/core.h"

/* Check that `h` (the first n bytes of a file of `size` bytes) is an ELF
   shared object for this host; the error names what differs. */
int pk__elf_check(pk_plugin *p, const unsigned char *h, size_t n,
                  uint64_t size);

#endif /* PK_NATIVE_NATIVE_H */
