/*
 * core_fuzz_elf.c: libFuzzer target for the ELF readers that see a
 * file's first bytes before anything else does: the probe's
 * pk__elf_executable (on a 512-byte head, as pk_plugin_open reads) and
 * the native backend's pk__elf_check (on a 4096-byte head). Each head is
 * copied into a heap block of exactly its size, so AddressSanitizer sees
 * a read one byte past it.
 *
 * The OS answers (class, byte order, machine) are stubs that agree with
 * the input, so the fuzzer reaches the program header walk for 32- and
 * 64-bit, either byte order; a second pass uses this host's answers.
 * Build: clang -fsanitize=fuzzer,address,undefined with src/core/elf.c
 * and src/native/elf.c (tests/hostile/core.cmake).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native/native.h"
#include "os/os.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int os_class = 2, os_data = 1, os_machine = 62;

int pk__os_elf_class(void) { return os_class; }
int pk__os_elf_data(void) { return os_data; }
int pk__os_elf_machine(void) { return os_machine; }
const char *pk__os_elf_machine_name(int machine) {
  return machine == 62 ? "x86-64" : "another machine";
}

/* The message is formatted as the library would (its arguments are
   read), then dropped. */
int pk__perr(pk_plugin *p, int code, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  (void)p;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return code;
}

static void check(const unsigned char *head, size_t n, uint64_t size) {
  unsigned char *h = malloc(n ? n : 1);
  size_t off, ent, count, i;
  if (h == NULL)
    return;
  memcpy(h, head, n);
  (void)pk__elf_executable(h, n < 512 ? n : 512);
  count = pk__elf_phdrs(h, n, &off, &ent);
  for (i = 0; i < count; i++) /* the promise: each entry is readable */
    (void)pk__elf_read(h, off + i * ent, 4, 0);
  (void)pk__elf_check(NULL, h, n, size);
  free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t n = size < 4096 ? size : 4096;
  if (n >= 20) {
    os_class = data[4];
    os_data = data[5];
    os_machine = data[5] == 2 ? (data[18] << 8 | data[19])
                              : (data[19] << 8 | data[18]);
  }
  /* The file size the header's offsets are checked against: the input's
     own, and one taken from its last 8 bytes (any value). */
  check(data, n, size);
  if (size >= 8) {
    uint64_t claimed = 0;
    memcpy(&claimed, data + size - 8, 8);
    check(data, n, claimed);
  }
  /* Truncated heads of the same bytes. */
  if (n > 64)
    check(data, 64 + data[0] % (n - 64), size);
  os_class = sizeof(void *) == 8 ? 2 : 1;
  os_data = 1;
  os_machine = 62;
  check(data, n, size);
  return 0;
}
