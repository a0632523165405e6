/* Binary reader shared by decode.c and compile.c: bounds-checked LEB128
 * and byte reads over [p, end). A failure sets r->bad and a message once;
 * later reads return 0, so callers check r->bad at convenient points. */
#ifndef PK_WASM_ENGINE_READER_H
#define PK_WASM_ENGINE_READER_H

#include <stdint.h>
#include <string.h>

typedef struct pkw_rd {
  const uint8_t *p, *end;
  int bad;                    /* 0, or PKW_EMALFORMED / PKW_EINVALID */
  const char *msg;            /* static text of the first failure */
} pkw_rd;

static inline void rd_fail(pkw_rd *r, int code, const char *msg) {
  if (!r->bad) {
    r->bad = code;
    r->msg = msg;
  }
  r->p = r->end;
}

static inline uint8_t rd_u8(pkw_rd *r) {
  if (r->p >= r->end) {
    rd_fail(r, PKW_EMALFORMED, "unexpected end");
    return 0;
  }
  return *r->p++;
}

/* Unsigned LEB128 of at most `bits` bits. */
static inline uint64_t rd_uleb(pkw_rd *r, unsigned bits) {
  uint64_t v = 0;
  unsigned shift = 0;
  for (;;) {
    uint8_t b;
    if (r->p >= r->end) {
      rd_fail(r, PKW_EMALFORMED, "unexpected end");
      return 0;
    }
    b = *r->p++;
    if (shift + 7 >= bits && shift < 64) {
      /* Last permitted byte: no continuation, unused bits zero. */
      unsigned used = bits - shift;
      if (b & 0x80) {
        rd_fail(r, PKW_EMALFORMED, "integer representation too long");
        return 0;
      }
      if (used < 7 && (b >> used) != 0) {
        rd_fail(r, PKW_EMALFORMED, "integer too large");
        return 0;
      }
      return v | ((uint64_t)b << shift);
    }
    v |= (uint64_t)(b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80))
      return v;
  }
}

/* Signed LEB128 of at most `bits` bits, sign-extended to 64. */
static inline int64_t rd_sleb(pkw_rd *r, unsigned bits) {
  uint64_t v = 0;
  unsigned shift = 0;
  for (;;) {
    uint8_t b;
    if (r->p >= r->end) {
      rd_fail(r, PKW_EMALFORMED, "unexpected end");
      return 0;
    }
    b = *r->p++;
    if (shift + 7 >= bits) {
      unsigned used = bits - shift;   /* 1..7 bits of payload */
      if (b & 0x80) {
        rd_fail(r, PKW_EMALFORMED, "integer representation too long");
        return 0;
      }
      if (used < 7) {
        /* Bits above `used - 1` must all equal the sign bit. */
        int sign = (b >> (used - 1)) & 1;
        uint8_t rest = (uint8_t)((b & 0x7f) >> used);
        uint8_t want = sign ? (uint8_t)(0x7f >> used) : 0;
        if (rest != want) {
          rd_fail(r, PKW_EMALFORMED, "integer too large");
          return 0;
        }
      }
      v |= (uint64_t)(b & 0x7f) << shift;
      shift += 7;
      if (shift < 64 && (b & 0x40))
        v |= ~(uint64_t)0 << shift;
      return (int64_t)v;
    }
    v |= (uint64_t)(b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80)) {
      if (shift < 64 && (b & 0x40))
        v |= ~(uint64_t)0 << shift;
      return (int64_t)v;
    }
  }
}

static inline uint32_t rd_u32(pkw_rd *r) { return (uint32_t)rd_uleb(r, 32); }

static inline uint32_t rd_fixed32(pkw_rd *r) {
  uint32_t v = 0;
  if (r->end - r->p < 4) {
    rd_fail(r, PKW_EMALFORMED, "unexpected end");
    return 0;
  }
  memcpy(&v, r->p, 4);
  r->p += 4;
  return v;
}

static inline uint64_t rd_fixed64(pkw_rd *r) {
  uint64_t v = 0;
  if (r->end - r->p < 8) {
    rd_fail(r, PKW_EMALFORMED, "unexpected end");
    return 0;
  }
  memcpy(&v, r->p, 8);
  r->p += 8;
  return v;
}

static inline int is_valtype(uint8_t t) {
  return t == PKW_I32 || t == PKW_I64 || t == PKW_F32 || t == PKW_F64 ||
         t == PKW_FUNCREF || t == PKW_EXTERNREF;
}
static inline int is_reftype(uint8_t t) {
  return t == PKW_FUNCREF || t == PKW_EXTERNREF;
}

#endif
