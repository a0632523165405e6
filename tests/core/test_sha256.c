/*
 * SHA-256 (src/core/sha256.c) against the vectors of FIPS 180-4's
 * examples and NIST's byte-oriented tests, fed whole and in pieces.
 * White-box: the file is compiled into this program.
 */
#include "test.h"

#include "core/core.h"

static void hex(const unsigned char d[32], char out[65]) {
  int i;
  for (i = 0; i < 32; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static void check(const char *msg, size_t n, const char *want) {
  unsigned char d[32];
  char got[65];
  pk__sha256_buf(msg, n, d);
  hex(d, got);
  PKT_STR_EQ(got, want);
}

PK_TEST(sha256_known_vectors) {
  check("", 0,
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  check("abc", 3,
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  check("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  check("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
        "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 112,
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  /* 55, 56 and 64 bytes: the padding's edge cases. */
  check("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 55,
        "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
  check("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 56,
        "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
  check("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 64,
        "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
}

PK_TEST(sha256_million_a_in_pieces) {
  /* One million 'a', fed in pieces of uneven sizes. */
  static char a[1000];
  pk__sha256 s;
  unsigned char d[32];
  char got[65];
  size_t left = 1000000, step = 1;
  memset(a, 'a', sizeof a);
  pk__sha256_init(&s);
  while (left > 0) {
    size_t k = step < left ? step : left;
    pk__sha256_update(&s, a, k);
    left -= k;
    step = step % 987 + 13;   /* 13..999 */
  }
  pk__sha256_final(&s, d);
  hex(d, got);
  PKT_STR_EQ(got,
             "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}
