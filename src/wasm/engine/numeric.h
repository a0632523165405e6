/* Numeric helpers with wasm's semantics, shared by the interpreter
 * (exec.c) and the compiled tiers' runtime (jrt.c), so both compute
 * every value the same way. */
#ifndef PK_WASM_ENGINE_NUMERIC_H
#define PK_WASM_ENGINE_NUMERIC_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

static inline float f32_of(uint64_t v) {
  uint32_t b = (uint32_t)v;
  float f;
  memcpy(&f, &b, 4);
  return f;
}
static inline uint64_t of_f32(float f) {
  uint32_t b;
  memcpy(&b, &f, 4);
  return b;
}
static inline double f64_of(uint64_t v) {
  double d;
  memcpy(&d, &v, 8);
  return d;
}
static inline uint64_t of_f64(double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  return b;
}

#if defined(__GNUC__) || defined(__clang__)
static inline uint32_t clz32(uint32_t x) { return x ? (uint32_t)__builtin_clz(x) : 32; }
static inline uint32_t ctz32(uint32_t x) { return x ? (uint32_t)__builtin_ctz(x) : 32; }
static inline uint32_t pop32(uint32_t x) { return (uint32_t)__builtin_popcount(x); }
static inline uint64_t clz64(uint64_t x) { return x ? (uint64_t)__builtin_clzll(x) : 64; }
static inline uint64_t ctz64(uint64_t x) { return x ? (uint64_t)__builtin_ctzll(x) : 64; }
static inline uint64_t pop64(uint64_t x) { return (uint64_t)__builtin_popcountll(x); }
#else
static inline uint32_t clz32(uint32_t x) {
  uint32_t n = 0;
  if (!x) return 32;
  while (!(x & 0x80000000u)) { x <<= 1; n++; }
  return n;
}
static inline uint32_t ctz32(uint32_t x) {
  uint32_t n = 0;
  if (!x) return 32;
  while (!(x & 1u)) { x >>= 1; n++; }
  return n;
}
static inline uint32_t pop32(uint32_t x) {
  uint32_t n = 0;
  while (x) { x &= x - 1; n++; }
  return n;
}
static inline uint64_t clz64(uint64_t x) {
  uint64_t n = 0;
  if (!x) return 64;
  while (!(x & 0x8000000000000000ull)) { x <<= 1; n++; }
  return n;
}
static inline uint64_t ctz64(uint64_t x) {
  uint64_t n = 0;
  if (!x) return 64;
  while (!(x & 1u)) { x >>= 1; n++; }
  return n;
}
static inline uint64_t pop64(uint64_t x) {
  uint64_t n = 0;
  while (x) { x &= x - 1; n++; }
  return n;
}
#endif

static inline uint32_t rotl32(uint32_t x, uint32_t k) {
  k &= 31;
  return k ? (x << k) | (x >> (32 - k)) : x;
}
static inline uint32_t rotr32(uint32_t x, uint32_t k) {
  k &= 31;
  return k ? (x >> k) | (x << (32 - k)) : x;
}
static inline uint64_t rotl64(uint64_t x, uint64_t k) {
  k &= 63;
  return k ? (x << k) | (x >> (64 - k)) : x;
}
static inline uint64_t rotr64(uint64_t x, uint64_t k) {
  k &= 63;
  return k ? (x >> k) | (x << (64 - k)) : x;
}

/* Rounding functions may pass a signalling NaN through; wasm wants it
 * quieted (any arithmetic NaN). */
#define qnan32(fn, x) ((x) != (x) ? (x) + (x) : fn(x))
#define qnan64(fn, x) ((x) != (x) ? (x) + (x) : fn(x))

/* Wasm min/max: NaN propagates, -0 < +0. */
static inline float fminw(float a, float b) {
  if (a != a || b != b)
    return a + b;
  if (a == 0 && b == 0)
    return signbit(a) ? a : b;
  return a < b ? a : b;
}
static inline float fmaxw(float a, float b) {
  if (a != a || b != b)
    return a + b;
  if (a == 0 && b == 0)
    return signbit(a) ? b : a;
  return a > b ? a : b;
}
static inline double dminw(double a, double b) {
  if (a != a || b != b)
    return a + b;
  if (a == 0 && b == 0)
    return signbit(a) ? a : b;
  return a < b ? a : b;
}
static inline double dmaxw(double a, double b) {
  if (a != a || b != b)
    return a + b;
  if (a == 0 && b == 0)
    return signbit(a) ? b : a;
  return a > b ? a : b;
}

#endif
