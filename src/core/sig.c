/*
 * sig.c: signatures. Text form "(i32,i32)->i32", "(str)->str", "()->()",
 * several results as "->(i32,i64)". Spaces are allowed anywhere; the
 * canonical form has none.
 */
#include "core.h"

#include <stdio.h>
#include <string.h>

static const char *const type_names[] = {"()",  "i32", "i64",  "f32",
                                          "f64", "str", "bytes"};

const char *pk_type_name(int type) {
  if (type < PK_T_I32 || type > PK_T_BYTES)
    return "?";
  return type_names[type];
}

static const char *skip_ws(const char *s) {
  while (*s == ' ' || *s == '\t')
    s++;
  return s;
}

/* Read one type name at *ps; returns the pk_type or -1. */
static int read_type(const char **ps) {
  const char *s = *ps;
  int t;
  for (t = PK_T_I32; t <= PK_T_BYTES; t++) {
    size_t n = strlen(type_names[t]);
    if (strncmp(s, type_names[t], n) == 0) {
      char c = s[n];
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')
        continue;
      *ps = s + n;
      return t;
    }
  }
  return -1;
}

/* Read "(t, t, ...)" into types; returns count or -1. */
static int read_list(const char **ps, uint8_t *types, int max, char *why,
                     size_t cap) {
  const char *s = skip_ws(*ps);
  int n = 0;
  if (*s != '(') {
    snprintf(why, cap, "expected '(' at '%s'", s);
    return -1;
  }
  s = skip_ws(s + 1);
  if (*s == ')') {
    *ps = s + 1;
    return 0;
  }
  for (;;) {
    int t = read_type(&s);
    if (t < 0) {
      snprintf(why, cap, "unknown type at '%s'", s);
      return -1;
    }
    if (n == max) {
      snprintf(why, cap, "more than %d types in a list", max);
      return -1;
    }
    types[n++] = (uint8_t)t;
    s = skip_ws(s);
    if (*s == ')') {
      *ps = s + 1;
      return n;
    }
    if (*s != ',') {
      snprintf(why, cap, "expected ',' or ')' at '%s'", s);
      return -1;
    }
    s = skip_ws(s + 1);
  }
}

int pk__sig_parse(const char *text, pk__sig *out, char *why, size_t cap) {
  char scratch[8];
  const char *s = text;
  pk__sig sig;
  int n;

  if (why == NULL) {
    why = scratch;
    cap = sizeof scratch;
  }
  if (text == NULL) {
    snprintf(why, cap, "no signature");
    return PK_EINVAL;
  }
  memset(&sig, 0, sizeof sig);
  if ((n = read_list(&s, sig.params, PK_MAX_PARAMS, why, cap)) < 0)
    return PK_EINVAL;
  sig.nparams = (uint8_t)n;
  s = skip_ws(s);
  if (s[0] != '-' || s[1] != '>') {
    snprintf(why, cap, "expected '->' at '%s'", s);
    return PK_EINVAL;
  }
  s = skip_ws(s + 2);
  if (*s == '(') {
    if ((n = read_list(&s, sig.results, PK_MAX_RESULTS, why, cap)) < 0)
      return PK_EINVAL;
  } else {
    int t = read_type(&s);
    if (t < 0) {
      snprintf(why, cap, "unknown result type at '%s'", s);
      return PK_EINVAL;
    }
    sig.results[0] = (uint8_t)t;
    n = 1;
  }
  sig.nresults = (uint8_t)n;
  s = skip_ws(s);
  if (*s != '\0') {
    snprintf(why, cap, "unexpected '%s' after the signature", s);
    return PK_EINVAL;
  }
  *out = sig;
  return PK_OK;
}

void pk__sig_format(const pk__sig *sig, char *buf) {
  char *d = buf;
  int i;
  *d++ = '(';
  for (i = 0; i < sig->nparams; i++) {
    const char *t = type_names[sig->params[i]];
    if (i > 0)
      *d++ = ',';
    memcpy(d, t, strlen(t));
    d += strlen(t);
  }
  *d++ = ')';
  *d++ = '-';
  *d++ = '>';
  if (sig->nresults != 1)
    *d++ = '(';
  for (i = 0; i < sig->nresults; i++) {
    const char *t = type_names[sig->results[i]];
    if (i > 0)
      *d++ = ',';
    memcpy(d, t, strlen(t));
    d += strlen(t);
  }
  if (sig->nresults != 1)
    *d++ = ')';
  *d = '\0';
}

int pk__sig_equal(const pk__sig *a, const pk__sig *b) {
  return a->nparams == b->nparams && a->nresults == b->nresults &&
         memcmp(a->params, b->params, a->nparams) == 0 &&
         memcmp(a->results, b->results, a->nresults) == 0;
}

int pk_sig_normalize(const char *sig, char *buf, size_t cap) {
  char tmp[PK__SIG_MAX];
  pk__sig s;
  size_t n;
  if (sig == NULL || buf == NULL)
    return PK_EINVAL;
  if (pk__sig_parse(sig, &s, NULL, 0) < 0)
    return PK_EINVAL;
  pk__sig_format(&s, tmp);
  n = strlen(tmp);
  if (n + 1 > cap)
    return PK_ENOMEM;
  memcpy(buf, tmp, n + 1);
  return (int)n;
}
