/*
 * bundle_tar.h: a tiny tar writer for the catalog tests, which build
 * hostile archives header by header (the library's own writer only
 * makes good ones).
 */
#ifndef PK_TESTS_BUNDLE_TAR_H
#define PK_TESTS_BUNDLE_TAR_H

#include <stdio.h>
#include <string.h>

typedef struct tarbuf {
  unsigned char b[1 << 22]; /* room for a sanitizer-built .so */
  size_t n;
} tarbuf;

static void tar_octal(unsigned char *f, size_t w, unsigned long long v) {
  size_t i = w - 1;
  f[i] = '\0';
  while (i-- > 0) {
    f[i] = (unsigned char)('0' + (v & 7));
    v >>= 3;
  }
}

/* Fix the checksum of the header at t->b + at. */
static void tar_sum(tarbuf *t, size_t at) {
  unsigned long sum = 0;
  size_t i;
  unsigned char *hd = t->b + at;
  memset(hd + 148, ' ', 8);
  for (i = 0; i < 512; i++)
    sum += hd[i];
  tar_octal(hd + 148, 7, sum);
  hd[155] = ' ';
}

/* A member: header (type, name, link target) and `n` bytes of data
   (claimed size `claim`, written size n); returns the header's offset. */
static size_t tar_add(tarbuf *t, const char *name, char type,
                      const char *link, const void *data, size_t n,
                      unsigned long long claim) {
  size_t at = t->n;
  unsigned char *hd = t->b + at;
  memset(hd, 0, 512);
  memcpy(hd, name, strlen(name) < 100 ? strlen(name) : 100);
  tar_octal(hd + 100, 8, 0644);
  tar_octal(hd + 108, 8, 0);
  tar_octal(hd + 116, 8, 0);
  tar_octal(hd + 124, 12, claim);
  tar_octal(hd + 136, 12, 0);
  hd[156] = (unsigned char)type;
  if (link != NULL)
    memcpy(hd + 157, link, strlen(link));
  memcpy(hd + 257, "ustar\0" "00", 8);
  tar_sum(t, at);
  t->n += 512;
  if (n > 0)
    memcpy(t->b + t->n, data, n);
  t->n += (n + 511) / 512 * 512;
  return at;
}

static void tar_file(tarbuf *t, const char *name, const char *text) {
  tar_add(t, name, '0', NULL, text, strlen(text), strlen(text));
}

static void tar_end(tarbuf *t) {
  memset(t->b + t->n, 0, 1024);
  t->n += 1024;
}

#endif
