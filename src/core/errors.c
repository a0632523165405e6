/* errors.c: error names and messages, version, the backend list. */
#include "core.h"

#include <stdio.h>
#include <string.h>

#define PK__STR2(x) #x
#define PK__STR(x) PK__STR2(x)

unsigned pk_version(void) { return PK_VERSION_HEX; }

const char *pk_version_string(void) {
  return PK__STR(PK_VERSION_MAJOR) "." PK__STR(PK_VERSION_MINOR) "." PK__STR(
      PK_VERSION_PATCH);
}

const char *pk_errname(int code) {
  switch (code) {
  case PK_OK:
    return "OK";
#define PK__ERR_NAME(name, msg)                                             \
  case PK_##name:                                                           \
    return #name;
    PK_ERROR_LIST(PK__ERR_NAME)
#undef PK__ERR_NAME
  default:
    return "unknown";
  }
}

const char *pk_strerror(int code) {
  switch (code) {
  case PK_OK:
    return "success";
#define PK__ERR_MSG(name, msg)                                              \
  case PK_##name:                                                           \
    return msg;
    PK_ERROR_LIST(PK__ERR_MSG)
#undef PK__ERR_MSG
  default:
    return "unknown error";
  }
}

/* The backends: declared and listed from backends.def. */
#define PK_BACKEND(name) extern const pk__backend pk__backend_##name;
#include "backends.def"
#undef PK_BACKEND

const pk__backend *const pk__backends[] = {
#define PK_BACKEND(name) &pk__backend_##name,
#include "backends.def"
#undef PK_BACKEND
    NULL};

static const char *const backend_names[] = {
#define PK_BACKEND(name) #name,
#include "backends.def"
#undef PK_BACKEND
    NULL};

const char *const *pk_backends(void) { return backend_names; }

/*
 * Copy the NUL-terminated `src` into `dst` (`cap` bytes, cut short to
 * fit, never inside an escape) as one line: each ASCII control character
 * becomes a visible escape ("\n", "\t", "\r", "\x1b"). Messages carry
 * a plugin's own text (a Lua error, a native plugin's fail, wasm's
 * plugkit.fail, a process plugin's ERROR frame, a name it chose): with
 * error("a\nb") it put lines of its own, or terminal sequences, into
 * the host's log. Text without control characters, which is all the
 * host formats itself, is copied unchanged.
 */
static void copy_line(char *dst, size_t cap, const char *src) {
  static const char hex[] = "0123456789abcdef";
  size_t n = 0;
  for (; *src != '\0'; src++) {
    unsigned char c = (unsigned char)*src;
    char esc[5];
    size_t k = 0;
    if (c >= 0x20 && c != 0x7f) {
      esc[k++] = (char)c;
    } else {
      esc[k++] = '\\';
      if (c == '\n' || c == '\t' || c == '\r') {
        esc[k++] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
      } else {
        esc[k++] = 'x';
        esc[k++] = hex[c >> 4];
        esc[k++] = hex[c & 15];
      }
    }
    if (k >= cap - n)
      break;
    memcpy(dst + n, esc, k);
    n += k;
  }
  dst[n] = '\0';
}

/* The message is formatted in full, then copied as one line (copy_line):
   once, here, for every backend and every way plugin text comes in. */
int pk__verr(pk_host *h, int code, const char *path, const char *phase,
             const char *fmt, va_list ap) {
  static char lost[PK__ERRMSG_MAX]; /* out of memory for a thread's own */
  char *buf, text[PK__ERRMSG_MAX];
  size_t n = 0, cap = sizeof text;
  int k;
  if (h == NULL)
    return code;
  if ((buf = pk__thread_errmsg(h)) == NULL)
    buf = lost;
  text[0] = '\0';
  if (path != NULL) {
    k = snprintf(text, cap, "%s: ", path);
    n = k > 0 ? (size_t)k : 0;
  }
  if (phase != NULL && n < cap) {
    k = snprintf(text + n, cap - n, "%s: ", phase);
    n += k > 0 ? (size_t)k : 0;
  }
  if (n < cap)
    vsnprintf(text + n, cap - n, fmt, ap);
  copy_line(buf, PK__ERRMSG_MAX, text);
  return code;
}

int pk__err(pk_host *h, int code, const char *path, const char *phase,
            const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  pk__verr(h, code, path, phase, fmt, ap);
  va_end(ap);
  return code;
}

int pk__perr(pk_plugin *p, int code, const char *fmt, ...) {
  char phase[128];
  pk__lane *l = pk__lane_cur(p);
  va_list ap;
  if (l != NULL && l->phase != NULL)
    snprintf(phase, sizeof phase, "%s", l->phase);
  else if (p->phase != NULL && (l == NULL || l == p->olane))
    snprintf(phase, sizeof phase, "%s", p->phase);
  else if (l != NULL && l->cur != NULL)
    snprintf(phase, sizeof phase, "call '%s'", l->cur->name);
  else
    snprintf(phase, sizeof phase, "call");
  va_start(ap, fmt);
  pk__verr(p->host, code, p->path, phase, fmt, ap);
  va_end(ap);
  return code;
}

int pk__perr_text(pk_plugin *p, int code, const char *msg, size_t len) {
  if (msg == NULL)
    len = 0;
  if (len > PK__ERRMSG_MAX)
    len = PK__ERRMSG_MAX;
  return pk__perr(p, code, "%.*s", (int)len, msg != NULL ? msg : "");
}
