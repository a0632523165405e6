/* A CoreMark-like mix: linked-list walk, small matrix multiply, a state
 * machine over a string, and CRC-32. Returns a checksum of everything. */
#include "workloads.h"

#define NODES 512
#define MAT 12

struct node {
  int32_t val;
  int32_t next;
};

static struct node nodes[NODES];
static int32_t ma[MAT][MAT], mb[MAT][MAT], mc[MAT][MAT];
static uint32_t crc_table[256];
static const char text[] =
    "let x1 = 42 + y_2 * 7; if (x1 >= 100) { print(\"big\", x1); } "
    "else { z = 3.25e2 - 0x1f; } while (n-- > 0) sum += arr[n] ^ 0xff; "
    "return sum, 12345, word;";

static void setup(uint32_t seed) {
  int32_t i, j;
  uint32_t s = seed;
  for (i = 0; i < NODES; i++) {
    s = s * 1103515245u + 12345u;
    nodes[i].val = (int32_t)(s >> 8) & 0xffff;
    /* A stride permutation: the walk jumps around memory. */
    nodes[i].next = (i * 37 + 11) % NODES;
  }
  for (i = 0; i < MAT; i++)
    for (j = 0; j < MAT; j++) {
      ma[i][j] = (i * 3 + j * 7 + (int32_t)seed) & 15;
      mb[i][j] = (i * 5 - j * 2) & 31;
    }
  for (i = 0; i < 256; i++) {
    uint32_t c = (uint32_t)i;
    for (j = 0; j < 8; j++)
      c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    crc_table[i] = c;
  }
}

static uint32_t list_walk(void) {
  int32_t i = 0, k;
  uint32_t s = 0;
  for (k = 0; k < NODES; k++) {
    s += (uint32_t)nodes[i].val;
    nodes[i].val ^= k & 7;
    i = nodes[i].next;
  }
  return s;
}

static uint32_t matmul(void) {
  int32_t i, j, k;
  uint32_t s = 0;
  for (i = 0; i < MAT; i++)
    for (j = 0; j < MAT; j++) {
      int32_t acc = 0;
      for (k = 0; k < MAT; k++)
        acc += ma[i][k] * mb[k][j];
      mc[i][j] = acc;
      s += (uint32_t)acc;
    }
  ma[s % MAT][(s >> 4) % MAT] ^= 1;
  return s;
}

enum { S_START, S_IDENT, S_NUM, S_HEX, S_FLOAT, S_OP, S_STR };

static uint32_t scan(void) {
  uint32_t counts[7] = {0, 0, 0, 0, 0, 0, 0};
  int state = S_START;
  const char *p;
  for (p = text; *p; p++) {
    char c = *p;
    int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    int digit = c >= '0' && c <= '9';
    switch (state) {
    case S_START:
      if (alpha) state = S_IDENT;
      else if (c == '0' && p[1] == 'x') { state = S_HEX; p++; }
      else if (digit) state = S_NUM;
      else if (c == '"') state = S_STR;
      else if (c != ' ') state = S_OP;
      break;
    case S_IDENT:
      if (!alpha && !digit) { counts[S_IDENT]++; state = S_START; p--; }
      break;
    case S_NUM:
      if (c == '.' || c == 'e') state = S_FLOAT;
      else if (!digit) { counts[S_NUM]++; state = S_START; p--; }
      break;
    case S_HEX:
      if (!digit && !(c >= 'a' && c <= 'f')) {
        counts[S_HEX]++; state = S_START; p--;
      }
      break;
    case S_FLOAT:
      if (!digit && c != '-' && c != '+') {
        counts[S_FLOAT]++; state = S_START; p--;
      }
      break;
    case S_STR:
      if (c == '"') { counts[S_STR]++; state = S_START; }
      break;
    default:
      counts[S_OP]++;
      state = S_START;
      p--;
      break;
    }
  }
  return counts[1] * 3 + counts[2] * 5 + counts[3] * 7 + counts[4] * 11 +
         counts[5] * 13 + counts[6] * 17;
}

static uint32_t crc32(const char *s, uint32_t crc) {
  crc = ~crc;
  while (*s)
    crc = crc_table[(crc ^ (uint8_t)*s++) & 0xff] ^ (crc >> 8);
  return ~crc;
}

PKWL_EXPORT(pkwl_mix) uint32_t pkwl_mix(int32_t iters) {
  uint32_t acc = 0;
  int32_t it;
  setup((uint32_t)iters);
  for (it = 0; it < iters; it++) {
    acc += list_walk();
    acc ^= matmul();
    acc += scan();
    acc = crc32(text, acc);
  }
  return acc;
}
