/*
 * sha256.c: SHA-256 (FIPS 180-4), for the hashes manifests pin. Our own,
 * so that hash checks work in a build without libsodium; checked against
 * the standard's examples in tests/catalog.
 */
#include "manifest.h"

#include <string.h>

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void block(uint32_t h[8], const uint8_t *p) {
  uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
  int i;
  for (i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
           (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
  for (i = 16; i < 64; i++) {
    uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
    uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6],
  k = h[7];
  for (i = 0; i < 64; i++) {
    t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) +
         K[i] + w[i];
    t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    k = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f,
      h[6] += g, h[7] += k;
}

/*
 * x86-64 with the SHA extensions (sha_ni): the same compression with the
 * CPU's SHA-256 round instructions, about ten times faster, chosen at run
 * time (cpuid). Everything else takes block() above. PK__SHA256_PORTABLE
 * compiles the fast path out (the tests build both).
 */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) &&    \
    !defined(PK__SHA256_PORTABLE)
#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>

__attribute__((target("sha,sse4.1,ssse3"))) static void
blocks_ni(uint32_t h[8], const uint8_t *p, size_t nblocks) {
  const __m128i swap =
      _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i s0, s1, t, msg, m[4], abef, cdgh;
  int g;

  /* a..h into the ABEF / CDGH lane order the instructions use. */
  t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[0]), 0xB1);
  s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&h[4]), 0x1B);
  s0 = _mm_alignr_epi8(t, s1, 8);
  s1 = _mm_blend_epi16(s1, t, 0xF0);
  for (; nblocks > 0; nblocks--, p += 64) {
    abef = s0;
    cdgh = s1;
    for (g = 0; g < 4; g++)
      m[g] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16 * g)),
                              swap);
    for (g = 0; g < 16; g++) { /* rounds 4g .. 4g+3 */
      msg = _mm_add_epi32(m[g & 3], _mm_loadu_si128((const __m128i *)&K[4 * g]));
      s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
      if (g >= 3 && g < 15) { /* the schedule for the next group */
        t = _mm_alignr_epi8(m[g & 3], m[(g - 1) & 3], 4);
        m[(g + 1) & 3] = _mm_sha256msg2_epu32(
            _mm_add_epi32(m[(g + 1) & 3], t), m[g & 3]);
      }
      s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(msg, 0x0E));
      if (g >= 1 && g < 13)
        m[(g - 1) & 3] = _mm_sha256msg1_epu32(m[(g - 1) & 3], m[g & 3]);
    }
    s0 = _mm_add_epi32(s0, abef);
    s1 = _mm_add_epi32(s1, cdgh);
  }
  t = _mm_shuffle_epi32(s0, 0x1B);
  s1 = _mm_shuffle_epi32(s1, 0xB1);
  s0 = _mm_blend_epi16(t, s1, 0xF0);
  s1 = _mm_alignr_epi8(s1, t, 8);
  _mm_storeu_si128((__m128i *)&h[0], s0);
  _mm_storeu_si128((__m128i *)&h[4], s1);
}

static int have_ni(void) {
  static atomic_int known = -1; /* cpuid once: it traps in a VM */
  int v = atomic_load_explicit(&known, memory_order_relaxed);
  unsigned a, b, c, d;
  if (v >= 0)
    return v;
  v = 0;
  if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 9)) && (c & (1u << 19)) &&
      __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)))
    v = 1; /* SSSE3, SSE4.1, SHA */
  atomic_store_explicit(&known, v, memory_order_relaxed);
  return v;
}

static void blocks(uint32_t h[8], const uint8_t *p, size_t n) {
  if (have_ni()) {
    blocks_ni(h, p, n);
    return;
  }
  for (; n > 0; n--, p += 64)
    block(h, p);
}
#else
static void blocks(uint32_t h[8], const uint8_t *p, size_t n) {
  for (; n > 0; n--, p += 64)
    block(h, p);
}
#endif

void pk__sha256_init(pk__sha256 *s) {
  static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372,
                                 0xa54ff53a, 0x510e527f, 0x9b05688c,
                                 0x1f83d9ab, 0x5be0cd19};
  memcpy(s->h, iv, sizeof iv);
  s->len = 0;
  s->nbuf = 0;
}

void pk__sha256_update(pk__sha256 *s, const void *data, size_t n) {
  const uint8_t *p = data;
  s->len += n;
  if (s->nbuf > 0) {
    size_t k = 64 - s->nbuf < n ? 64 - s->nbuf : n;
    memcpy(s->buf + s->nbuf, p, k);
    s->nbuf += k;
    p += k;
    n -= k;
    if (s->nbuf < 64)
      return;
    blocks(s->h, s->buf, 1);
    s->nbuf = 0;
  }
  if (n >= 64) {
    blocks(s->h, p, n / 64);
    p += n / 64 * 64;
    n %= 64;
  }
  memcpy(s->buf, p, n);
  s->nbuf = n;
}

void pk__sha256_final(pk__sha256 *s, uint8_t out[32]) {
  uint64_t bits = s->len * 8;
  int i;
  s->buf[s->nbuf++] = 0x80;
  if (s->nbuf > 56) {
    memset(s->buf + s->nbuf, 0, 64 - s->nbuf);
    blocks(s->h, s->buf, 1);
    s->nbuf = 0;
  }
  memset(s->buf + s->nbuf, 0, 56 - s->nbuf);
  for (i = 0; i < 8; i++)
    s->buf[56 + i] = (uint8_t)(bits >> (56 - 8 * i));
  blocks(s->h, s->buf, 1);
  for (i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(s->h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
    out[4 * i + 3] = (uint8_t)s->h[i];
  }
}

void pk__sha256_buf(const void *data, size_t n, uint8_t out[32]) {
  pk__sha256 s;
  pk__sha256_init(&s);
  pk__sha256_update(&s, data, n);
  pk__sha256_final(&s, out);
}

void pk__hex(const uint8_t *b, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * n] = '\0';
}
