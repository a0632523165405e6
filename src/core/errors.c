/* errors.c: error names and messages, version, the backend list. */
#include "core.h"

#include <stdio.h>

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

int pk__verr(pk_host *h, int code, const char *path, const char *phase,
             const char *fmt, va_list ap) {
  size_t n = 0;
  int k;
  if (h == NULL)
    return code;
  if (path != NULL) {
    k = snprintf(h->errmsg, sizeof h->errmsg, "%s: ", path);
    n = k > 0 ? (size_t)k : 0;
  }
  if (phase != NULL && n < sizeof h->errmsg) {
    k = snprintf(h->errmsg + n, sizeof h->errmsg - n, "%s: ", phase);
    n += k > 0 ? (size_t)k : 0;
  }
  if (n < sizeof h->errmsg)
    vsnprintf(h->errmsg + n, sizeof h->errmsg - n, fmt, ap);
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
  va_list ap;
  if (p->phase != NULL)
    snprintf(phase, sizeof phase, "%s", p->phase);
  else if (p->cur != NULL)
    snprintf(phase, sizeof phase, "call '%s'", p->cur->name);
  else
    snprintf(phase, sizeof phase, "call");
  va_start(ap, fmt);
  pk__verr(p->host, code, p->path, phase, fmt, ap);
  va_end(ap);
  return code;
}
