/*
 * wfmt.c: printf for wasm guests, done by the host.
 *
 * The SDK's pk_fail, pk_log and pk_str_printf do not format in the guest:
 * that would link wasi-libc's printf (most of a small module's code, all
 * of it translated at load and then interpreted). They pass their format
 * and va_list to the imports vfail, vlog and vformat instead. In wasm32 a
 * va_list is the guest address of the variadic arguments, laid out as
 * clang lays them out: each in a 4-byte slot (int, long, size_t, ptrdiff_t
 * and pointers; char, short and float arrive promoted), long long,
 * intmax_t and double in 8 bytes at an 8-aligned address, long double in
 * 16 at a 16-aligned one (refused here).
 *
 * This file walks the format, reads each argument, and formats each
 * conversion with the host's snprintf and a rebuilt spec, so the text is
 * the one the host's C library, and so a native build of the plugin,
 * prints. Integers travel as long long with their value converted as the
 * guest's type would have it (%hhd of 300 is 44, %lu of -1L is 4294967295:
 * long is 32 bits in the guest), which prints the same digits.
 *
 * The guest is untrusted: every read is checked against the memory size;
 * %n (a write through a guest pointer), %L (long double), wide characters
 * and positional arguments are refused with PK_ETRAP naming the problem;
 * and width plus precision, which cost the host time without costing the
 * guest memory, are bounded per call (PK__WFMT_PAD_MAX). So are the guest
 * bytes read (PK__WFMT_READ_MAX: the format, each %s scanned for its
 * NUL, the arguments), since one import call is not interruptible: a
 * format costs the host at most a small fixed amount of work per call,
 * and the calls themselves are under the guest's fuel and timeout.
 */
#include "wasm_backend.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Past this the text is longer than vsnprintf can report: its -1. */
#define TOO_LONG ((uint64_t)INT_MAX + 1)

typedef struct wf {
  pk__wstate *st;
  const char *who;    /* the import, for messages */
  const uint8_t *mem; /* guest memory (it cannot move while we format) */
  uint64_t size;      /* its size in bytes */
  uint64_t ap;        /* guest address of the next argument */
  unsigned conv;      /* conversions so far, for messages */
  char *buf;          /* the kept text: max bytes and a NUL */
  size_t max;
  uint64_t len; /* the whole text so far, at most TOO_LONG */
  uint64_t pad; /* width and precision asked for so far */
  uint64_t read; /* guest bytes read so far (PK__WFMT_READ_MAX) */
  int libc_err; /* snprintf refused a conversion */
} wf;

/* The kinds of argument snprintf gets. */
enum { K_INT, K_UINT, K_CHAR, K_DBL, K_STR, K_PTR };

typedef union wval {
  long long i;
  unsigned long long u;
  int c;
  double f;
  const char *s;
  void *p;
} wval;

static int wf_fail(wf *w, int code, const char *fmt, ...) PK__FMT(3, 4);
static int wf_fail(wf *w, int code, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return pk__wasm_fail(w->st, code, "%s: %s", w->who, msg);
}

static uint64_t le(const uint8_t *p, int n) {
  uint64_t v = 0;
  while (n-- > 0)
    v = v << 8 | p[n];
  return v;
}

/* The next argument: a 4-byte slot, or 8 bytes at an 8-aligned address. */
static int over_read(wf *w) {
  return wf_fail(w, PK_ELIMIT,
                 "reads more than %u bytes of guest memory (format, %%s "
                 "strings and arguments; conversion %u)",
                 (unsigned)PK__WFMT_READ_MAX, w->conv);
}

static int arg(wf *w, int bytes, uint64_t *out) {
  if (bytes == 8)
    w->ap = (w->ap + 7) & ~(uint64_t)7;
  if ((w->read += (uint64_t)bytes) > PK__WFMT_READ_MAX)
    return over_read(w);
  if (w->ap + (uint64_t)bytes > w->size)
    return wf_fail(w, PK_ETRAP,
                   "the arguments (va_list) of conversion %u are outside "
                   "guest memory",
                   w->conv);
  *out = le(w->mem + w->ap, bytes);
  w->ap += (uint64_t)bytes;
  return 0;
}

static void add_len(wf *w, uint64_t n) {
  w->len = w->len + n > TOO_LONG ? TOO_LONG : w->len + n;
}

/* Literal text: keep what fits, count all of it. */
static void put(wf *w, const char *s, size_t n) {
  if (w->len < w->max) {
    size_t room = w->max - (size_t)w->len;
    memcpy(w->buf + w->len, s, n < room ? n : room);
  }
  add_len(w, n);
}

/*
 * One conversion by the host's snprintf. It writes straight into the
 * kept text: buf has max + 1 bytes, so its NUL always fits and a
 * truncated conversion keeps exactly the bytes that fit. Once the result
 * is known to be -1, nothing more is formatted (the format is still read
 * to the end, so its errors are found whatever the values).
 */
static void emit(wf *w, const char *spec, int kind, wval v) {
  char *dst = NULL;
  size_t room = 0;
  int n = 0;
  if (w->libc_err || w->len >= TOO_LONG)
    return;
  if (w->len < w->max) {
    dst = w->buf + w->len;
    room = w->max - (size_t)w->len + 1;
  }
  switch (kind) {
  case K_INT:
    n = snprintf(dst, room, spec, v.i);
    break;
  case K_UINT:
    n = snprintf(dst, room, spec, v.u);
    break;
  case K_CHAR:
    n = snprintf(dst, room, spec, v.c);
    break;
  case K_DBL:
    n = snprintf(dst, room, spec, v.f);
    break;
  case K_STR:
    n = snprintf(dst, room, spec, v.s);
    break;
  default:
    n = snprintf(dst, room, spec, v.p);
    break;
  }
  if (n < 0)
    w->libc_err = 1;
  else
    add_len(w, (uint64_t)n);
}

/* A decimal number in the format, saturating past INT_MAX (libc then
   refuses it, as it would the original). */
static uint64_t number(const char **f) {
  uint64_t v = 0;
  for (; **f >= '0' && **f <= '9'; (*f)++)
    v = v >= TOO_LONG ? TOO_LONG : v * 10 + (uint64_t)(**f - '0');
  return v;
}

/* Digits then '$': a positional argument (POSIX's %1$d). */
static int positional(const char *f) {
  const char *q = f;
  while (*q >= '0' && *q <= '9')
    q++;
  return q > f && *q == '$';
}

/* The argument of %s: its text in guest memory, at most `prec` bytes. */
static int guest_string(wf *w, uint32_t ptr, int has_prec, uint64_t prec,
                        const char **out_s, uint64_t *out_n) {
  uint64_t avail, lim;
  const uint8_t *nul;
  if (ptr >= w->size)
    return wf_fail(w, PK_ETRAP,
                   "the string of %%s (conversion %u) at 0x%x is outside "
                   "guest memory",
                   w->conv, ptr);
  avail = w->size - ptr;
  lim = has_prec && prec < avail ? prec : avail;
  /* Scan no further than the budget of bytes read allows. */
  if (lim > PK__WFMT_READ_MAX - w->read) {
    nul = memchr(w->mem + ptr, 0, (size_t)(PK__WFMT_READ_MAX - w->read));
    if (nul == NULL)
      return over_read(w);
  } else {
    nul = memchr(w->mem + ptr, 0, (size_t)lim);
  }
  if (nul != NULL)
    *out_n = (uint64_t)(nul - (w->mem + ptr));
  else if (has_prec && prec <= avail)
    *out_n = prec;
  if (nul != NULL || (has_prec && prec <= avail)) {
    w->read += *out_n;
    *out_s = (const char *)w->mem + ptr;
    return 0;
  }
  return wf_fail(w, PK_ETRAP,
                   "the string of %%s (conversion %u) at 0x%x has no NUL "
                   "before the end of guest memory",
                   w->conv, ptr);
}

/* One conversion, f just past its '%'. */
static int conversion(wf *w, const char **pf) {
  const char *f = *pf, *flags = "-+ #0";
  char spec[48], *q = spec, *end = spec + sizeof spec;
  unsigned fl = 0;
  int has_w = 0, has_p = 0, i, kind = K_INT, rc;
  uint64_t width = 0, prec = 0, a = 0;
  char len = 0, c = 0; /* length: 0, H (hh), h, l, L (ll), j, z, t */
  wval v;

  w->conv++;
  if (positional(f))
    goto positional;
  for (; *f != '\0' && strchr(flags, *f) != NULL; f++)
    fl |= 1u << (strchr(flags, *f) - flags);
  if (*f == '*') {
    f++;
    if (positional(f))
      goto positional;
    if ((rc = arg(w, 4, &a)) < 0)
      return rc;
    has_w = 1;
    if ((int32_t)a < 0) { /* a negative width is '-' and its size */
      fl |= 1u;
      width = (uint64_t)(-(int64_t)(int32_t)a);
    } else {
      width = a;
    }
  } else if (*f >= '0' && *f <= '9') {
    has_w = 1;
    width = number(&f);
  }
  if (*f == '.') {
    f++;
    has_p = 1;
    if (*f == '*') {
      f++;
      if (positional(f))
        goto positional;
      if ((rc = arg(w, 4, &a)) < 0)
        return rc;
      has_p = (int32_t)a >= 0; /* negative: as if omitted */
      prec = has_p ? a : 0;
    } else {
      prec = number(&f);
    }
  }
  switch (*f) {
  case 'h':
  case 'l':
    len = *f++;
    if (*f == len) { /* hh and ll */
      len = len == 'h' ? 'H' : 'L';
      f++;
    }
    break;
  case 'j':
  case 'z':
  case 't':
    len = *f++;
    break;
  case 'L':
    return wf_fail(w, PK_ETRAP,
                   "%%L (long double, conversion %u) is not supported",
                   w->conv);
  }
  c = *f;
  if (c == '\0')
    return wf_fail(w, PK_ETRAP, "the format ends inside conversion %u",
                   w->conv);
  *pf = f + 1;

  /* The padding asked for costs the host time but not the guest memory. */
  w->pad += width + (c == 's' ? 0 : prec);
  if (w->pad > PK__WFMT_PAD_MAX)
    return wf_fail(w, PK_ELIMIT,
                   "widths and precisions add up to more than %u characters "
                   "(conversion %u)",
                   (unsigned)PK__WFMT_PAD_MAX, w->conv);

  switch (c) {
  case 'd':
  case 'i':
  case 'u':
  case 'o':
  case 'x':
  case 'X':
    if ((rc = arg(w, len == 'L' || len == 'j' ? 8 : 4, &a)) < 0)
      return rc;
    if (c == 'd' || c == 'i') {
      kind = K_INT;
      v.i = len == 'L' || len == 'j' ? (long long)(int64_t)a
            : len == 'H'             ? (long long)(signed char)a
            : len == 'h'             ? (long long)(short)a
                                     : (long long)(int32_t)a;
    } else {
      kind = K_UINT;
      v.u = len == 'H' ? (unsigned char)a : len == 'h' ? (unsigned short)a : a;
    }
    break;
  case 'f':
  case 'F':
  case 'e':
  case 'E':
  case 'g':
  case 'G':
  case 'a':
  case 'A':
    if (len != 0 && len != 'l')
      goto invalid;
    if ((rc = arg(w, 8, &a)) < 0)
      return rc;
    kind = K_DBL;
    memcpy(&v.f, &a, sizeof v.f);
    break;
  case 'c':
  case 's':
    if (len == 'l')
      return wf_fail(w, PK_ETRAP,
                     "%%l%c (wide characters, conversion %u) is not "
                     "supported",
                     c, w->conv);
    /* fall through */
  case 'p':
    if (len != 0)
      goto invalid;
    if ((rc = arg(w, 4, &a)) < 0)
      return rc;
    if (c == 'c') {
      kind = K_CHAR;
      v.c = (int)(int32_t)a;
    } else if (c == 'p') {
      kind = K_PTR;
      v.p = (void *)(uintptr_t)a;
    } else if (a == 0) {
      kind = K_STR; /* NULL prints as glibc and musl print it */
      v.s = "(null)";
    } else {
      kind = K_STR;
      if ((rc = guest_string(w, (uint32_t)a, has_p, prec, &v.s, &prec)) < 0)
        return rc;
      /* Exactly the bytes checked: libc reads no further. */
      has_p = 1;
      if (prec > INT_MAX)
        w->libc_err = 1; /* longer than vsnprintf can report */
    }
    break;
  case 'n':
    return wf_fail(w, PK_ETRAP,
                   "%%n (conversion %u) is not supported: it writes "
                   "through a pointer",
                   w->conv);
  default:
    goto invalid;
  }

  /* The spec again, for the host's snprintf. */
  *q++ = '%';
  for (i = 0; flags[i] != '\0'; i++)
    if (fl & (1u << i))
      *q++ = flags[i];
  if (has_w)
    q += snprintf(q, (size_t)(end - q), "%llu", (unsigned long long)width);
  if (has_p)
    q += snprintf(q, (size_t)(end - q), ".%llu", (unsigned long long)prec);
  if (kind == K_INT || kind == K_UINT) {
    *q++ = 'l';
    *q++ = 'l';
  }
  *q++ = c;
  *q = '\0';
  emit(w, spec, kind, v);
  return 0;

positional:
  return wf_fail(w, PK_ETRAP,
                 "positional arguments (%%1$d, conversion %u) are not "
                 "supported",
                 w->conv);
invalid:
  if (c >= 0x20 && c < 0x7f)
    return wf_fail(w, PK_ETRAP, "conversion %u ('%c') is not supported",
                   w->conv, c);
  return wf_fail(w, PK_ETRAP, "conversion %u (byte 0x%02x) is not supported",
                 w->conv, (unsigned)(unsigned char)c);
}

int pk__wasm_format(pk__wstate *st, pkw_instance *inst, const char *who,
                    uint32_t fmt, uint32_t ap, char *buf, size_t max,
                    int64_t *out_len) {
  pkw_memory *m = inst != NULL ? pkw_instance_memory(inst) : NULL;
  const uint8_t *nul;
  const char *f;
  wf w;
  int rc;

  memset(&w, 0, sizeof w);
  w.st = st;
  w.who = who;
  w.ap = ap;
  w.buf = buf;
  w.max = max;
  if (m != NULL)
    w.mem = pkw_memory_data(m, &w.size);
  if (fmt >= w.size)
    return wf_fail(&w, PK_ETRAP, "the format at 0x%x is outside guest memory",
                   fmt);
  nul = memchr(w.mem + fmt, 0,
               (size_t)(w.size - fmt < PK__WFMT_READ_MAX ? w.size - fmt
                                                         : PK__WFMT_READ_MAX));
  if (nul == NULL && w.size - fmt > PK__WFMT_READ_MAX)
    return over_read(&w);
  if (nul != NULL)
    w.read = (uint64_t)(nul - (w.mem + fmt)) + 1;
  if (nul == NULL)
    return wf_fail(&w, PK_ETRAP,
                   "the format at 0x%x has no NUL before the end of guest "
                   "memory",
                   fmt);
  /* The format is a NUL-terminated string in place from here on. */
  f = (const char *)w.mem + fmt;
  while (*f != '\0') {
    const char *pct = strchr(f, '%');
    if (pct == NULL) {
      put(&w, f, strlen(f));
      break;
    }
    put(&w, f, (size_t)(pct - f));
    f = pct + 1;
    if (*f == '%') {
      put(&w, "%", 1);
      f++;
    } else if ((rc = conversion(&w, &f)) < 0) {
      return rc;
    }
  }
  if (w.libc_err || w.len >= TOO_LONG) {
    buf[0] = '\0';
    *out_len = -1;
  } else {
    buf[w.len < max ? w.len : max] = '\0';
    *out_len = (int64_t)w.len;
  }
  return 0;
}
