/*
 * manifest.c: the NAME.plugkit parser (docs/manifest.md has the format).
 *
 * One pass over a private copy of the text: lines are cut in place and
 * every string of the result points into that copy, so a manifest is two
 * allocations (the block and its dependency array) whatever it holds.
 * Strict by design: an unknown key or section, a duplicate, a value that
 * does not parse is an error naming the line, because a manifest that
 * means something else to a later reader is worse than one that fails.
 */
#include "manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct parser {
  pk_host *h;
  const char *file;
  pk__manifest *m;
  size_t capdeps;
  int line;
  int sect; /* S_* */
  pk__artifact *art; /* the [artifact] being read */
  unsigned seen; /* keys seen in the current section (K_* bits) */
  int plugin_line;
  int deps_line; /* of [dependencies], 0 before it */
} parser;

enum { S_NONE, S_PLUGIN, S_ARTIFACT, S_DEPS };
enum {
  K_NAME = 1,
  K_VERSION = 2,
  K_DESC = 4,
  K_ABI = 8,
  K_GRANTS = 16,
  K_PATH = 32,
  K_SHA = 64
};

static int perr(parser *ps, int line, int code, const char *fmt, ...)
    PK__FMT(4, 5);
static int perr(parser *ps, int line, int code, const char *fmt, ...) {
  char loc[512];
  va_list ap;
  int rc;
  if (line > 0)
    snprintf(loc, sizeof loc, "%s:%d", ps->file, line);
  else
    snprintf(loc, sizeof loc, "%s", ps->file);
  va_start(ap, fmt);
  rc = pk__verr(ps->h, code, loc, "manifest", fmt, ap);
  va_end(ap);
  return rc;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }
static int is_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
         (c >= 'A' && c <= 'Z');
}

static char *trim(char *s, char **end) {
  char *e = *end;
  while (s < e && is_space(*s))
    s++;
  while (e > s && is_space(e[-1]))
    e--;
  *end = e;
  return s;
}

/* The length of one valid UTF-8 sequence at s (n bytes left), or 0.
   Overlong forms, surrogates and code points above U+10FFFF are invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t k, i;
  unsigned cp;
  if (c < 0x80)
    return 1;
  if (c >= 0xc2 && c <= 0xdf)
    k = 2, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef)
    k = 3, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4)
    k = 4, cp = c & 0x07;
  else
    return 0;
  if (n < k)
    return 0;
  for (i = 1; i < k; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (s[i] & 0x3f);
  }
  if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return k;
}

/* A plugin or dependency name: [A-Za-z0-9_.-], starting with a letter or
   digit, at most PK__MF_MAX_NAME bytes. */
static int good_name(const char *s) {
  size_t i, n = strlen(s);
  if (n == 0 || n > PK__MF_MAX_NAME || !is_alnum(s[0]))
    return 0;
  for (i = 0; i < n; i++)
    if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' && s[i] != '-')
      return 0;
  return 1;
}

/* "x86_64-linux": [a-z0-9_]+ '-' [a-z0-9_]+. */
static int good_target(const char *s) {
  size_t i, n = strlen(s), dash = 0, ndash = 0;
  if (n == 0 || n > PK__MF_MAX_TARGET)
    return 0;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (c == '-') {
      ndash++;
      dash = i;
    } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '_')) {
      return 0;
    }
  }
  return ndash == 1 && dash > 0 && dash + 1 < n;
}

static int check_path(parser *ps, const char *v) {
  size_t n = strlen(v), i, start = 0;
  if (n > PK__MF_MAX_PATH)
    return perr(ps, ps->line, PK_ELIMIT,
                "artifact path is %zu bytes, more than %u", n,
                PK__MF_MAX_PATH);
  if (v[0] == '/')
    return perr(ps, ps->line, PK_EFORMAT,
                "artifact path '%s' is absolute: it must be relative to the "
                "manifest's folder",
                v);
  for (i = 0; i <= n; i++) {
    if (i < n && v[i] == '\\')
      return perr(ps, ps->line, PK_EFORMAT,
                  "artifact path '%s' has a '\\': separate folders with '/'",
                  v);
    if (i == n || v[i] == '/') {
      size_t len = i - start;
      if (len == 0)
        return perr(ps, ps->line, PK_EFORMAT,
                    "artifact path '%s' has an empty part", v);
      if (len == 2 && v[start] == '.' && v[start + 1] == '.')
        return perr(ps, ps->line, PK_EFORMAT,
                    "artifact path '%s' has a '..' part: it must stay in the "
                    "manifest's folder",
                    v);
      if (len == 1 && v[start] == '.')
        return perr(ps, ps->line, PK_EFORMAT,
                    "artifact path '%s' has a '.' part", v);
      start = i + 1;
    }
  }
  return PK_OK;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

static int parse_hash(parser *ps, const char *v, uint8_t out[32]) {
  size_t i, n = strlen(v);
  if (n != 64)
    return perr(ps, ps->line, PK_EFORMAT,
                "sha256 is %zu characters: want 64 hex digits", n);
  for (i = 0; i < 32; i++) {
    int a = hexval(v[2 * i]), b = hexval(v[2 * i + 1]);
    if (a < 0 || b < 0)
      return perr(ps, ps->line, PK_EFORMAT,
                  "sha256 has '%c' at character %zu: want 64 hex digits",
                  a < 0 ? v[2 * i] : v[2 * i + 1], a < 0 ? 2 * i + 1 : 2 * i + 2);
    out[i] = (uint8_t)(a << 4 | b);
  }
  return PK_OK;
}

/* "log, now" -> "log,now" in place; names as pk_host_define takes them. */
static int parse_grants(parser *ps, char *v) {
  char *r = v, *w = v;
  size_t count = 0;
  for (;;) {
    char *e = r, *s, *t;
    size_t len, i;
    while (*e != '\0' && *e != ',')
      e++;
    t = e;
    s = trim(r, &t);
    len = (size_t)(t - s);
    if (len == 0)
      return perr(ps, ps->line, PK_EFORMAT, "empty name in grants");
    if (len > PK__MF_MAX_NAME)
      return perr(ps, ps->line, PK_EFORMAT,
                  "grant '%.*s...' is longer than %u bytes", 16, s,
                  PK__MF_MAX_NAME);
    for (i = 0; i < len; i++)
      if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.')
        return perr(ps, ps->line, PK_EFORMAT,
                    "grant '%.*s' is not a host function name (letters, "
                    "digits, '_', '.')",
                    (int)len, s);
    if (++count > PK__MF_MAX_GRANTS)
      return perr(ps, ps->line, PK_ELIMIT, "more than %u grants",
                  PK__MF_MAX_GRANTS);
    if (w != v)
      *w++ = ',';
    memmove(w, s, len);
    w += len;
    if (*e == '\0')
      break;
    r = e + 1;
  }
  *w = '\0';
  ps->m->ngrants = count;
  return PK_OK;
}

/* Leaving a section: an artifact must have had both its keys. */
static int finish_section(parser *ps) {
  const pk__artifact *a = ps->art;
  if (ps->sect != S_ARTIFACT || (ps->seen & (K_PATH | K_SHA)) == (K_PATH | K_SHA))
    return PK_OK;
  return perr(ps, a->line, PK_EFORMAT,
              "missing required key '%s' in [artifact %s%s%s]",
              (ps->seen & K_PATH) ? "sha256" : "path", a->backend,
              a->target ? " " : "", a->target ? a->target : "");
}

static int section(parser *ps, char *s, char *e) {
  pk__manifest *m = ps->m;
  char *w[4];
  size_t nw = 0, i;
  char *p = s;
  int line = ps->line, rc;
  *e = '\0';
  while (*p != '\0') { /* split on blanks, in place */
    while (is_space(*p))
      *p++ = '\0';
    if (*p == '\0')
      break;
    if (nw == 4)
      return perr(ps, line, PK_EFORMAT, "bad section header: too many words");
    w[nw++] = p;
    while (*p != '\0' && !is_space(*p))
      p++;
  }
  if ((rc = finish_section(ps)) < 0)
    return rc;
  ps->seen = 0;
  ps->art = NULL;
  if (nw == 1 && strcmp(w[0], "plugin") == 0) {
    if (ps->plugin_line != 0)
      return perr(ps, line, PK_EFORMAT,
                  "duplicate section [plugin] (first at line %d)",
                  ps->plugin_line);
    ps->plugin_line = line;
    ps->sect = S_PLUGIN;
    return PK_OK;
  }
  if (nw == 1 && strcmp(w[0], "dependencies") == 0) {
    if (ps->deps_line != 0)
      return perr(ps, line, PK_EFORMAT,
                  "duplicate section [dependencies] (first at line %d)",
                  ps->deps_line);
    ps->deps_line = line;
    ps->sect = S_DEPS;
    return PK_OK;
  }
  if ((nw == 2 || nw == 3) && strcmp(w[0], "artifact") == 0) {
    const char *b = w[1], *t = nw == 3 ? w[2] : NULL;
    int per_target = strcmp(b, "native") == 0 || strcmp(b, "process") == 0;
    pk__artifact *a;
    if (!per_target && strcmp(b, "wasm") != 0 && strcmp(b, "lua") != 0 &&
        strcmp(b, "source") != 0)
      return perr(ps, line, PK_EFORMAT,
                  "bad section [artifact %s]: unknown backend '%s' (one of "
                  PK__MF_BACKENDS ")",
                  b, b);
    if (per_target && t == NULL)
      return perr(ps, line, PK_EFORMAT,
                  "bad section [artifact %s]: a %s artifact names its target, "
                  "as in [artifact %s x86_64-linux]",
                  b, b, b);
    if (!per_target && t != NULL)
      return perr(ps, line, PK_EFORMAT,
                  "bad section [artifact %s %s]: a %s artifact runs on any "
                  "target: write [artifact %s]",
                  b, t, b, b);
    if (t != NULL && !good_target(t))
      return perr(ps, line, PK_EFORMAT,
                  "bad section [artifact %s %s]: target '%s' is not "
                  "ARCH-OS ([a-z0-9_], as in x86_64-linux)",
                  b, t, t);
    for (i = 0; i < m->nart; i++)
      if (strcmp(m->art[i].backend, b) == 0 &&
          (t == NULL ? m->art[i].target == NULL
                     : m->art[i].target != NULL &&
                           strcmp(m->art[i].target, t) == 0))
        return perr(ps, line, PK_EFORMAT,
                    "duplicate section [artifact %s%s%s] (first at line %d)",
                    b, t ? " " : "", t ? t : "", m->art[i].line);
    if (m->nart == PK__MF_MAX_ARTIFACTS)
      return perr(ps, line, PK_ELIMIT, "more than %u artifacts",
                  PK__MF_MAX_ARTIFACTS);
    a = &m->art[m->nart++];
    memset(a, 0, sizeof *a);
    a->backend = b;
    a->target = t;
    a->line = line;
    ps->art = a;
    ps->sect = S_ARTIFACT;
    return PK_OK;
  }
  return perr(ps, line, PK_EFORMAT,
              "bad section [%s%s%s]: sections are [plugin], [artifact BACKEND "
              "[TARGET]] and [dependencies]",
              nw > 0 ? w[0] : "", nw > 1 ? " " : "", nw > 1 ? w[1] : "");
}

static int dup_key(parser *ps, unsigned bit, const char *key) {
  if (ps->seen & bit)
    return perr(ps, ps->line, PK_EFORMAT, "duplicate key '%s'", key);
  ps->seen |= bit;
  return PK_OK;
}

static int pair(parser *ps, char *key, char *val) {
  pk__manifest *m = ps->m;
  char why[160];
  int rc;
  size_t i;

  if (strncmp(key, "x-", 2) == 0) /* extensions: for other tools */
    return PK_OK;
  if (ps->sect == S_PLUGIN) {
    if (strcmp(key, "name") == 0) {
      if ((rc = dup_key(ps, K_NAME, key)) < 0)
        return rc;
      if (!good_name(val))
        return perr(ps, ps->line, PK_EFORMAT,
                    "bad name '%s' (letters, digits, '_', '.', '-', starting "
                    "with a letter or digit, at most %u bytes)",
                    val, PK__MF_MAX_NAME);
      m->name = val;
      return PK_OK;
    }
    if (strcmp(key, "version") == 0) {
      if ((rc = dup_key(ps, K_VERSION, key)) < 0)
        return rc;
      if (pk__semver_parse(val, strlen(val), &m->version, why, sizeof why) < 0)
        return perr(ps, ps->line, PK_EFORMAT, "%s", why);
      m->version_text = val;
      return PK_OK;
    }
    if (strcmp(key, "description") == 0) {
      if ((rc = dup_key(ps, K_DESC, key)) < 0)
        return rc;
      m->description = val;
      return PK_OK;
    }
    if (strcmp(key, "abi") == 0) {
      if ((rc = dup_key(ps, K_ABI, key)) < 0)
        return rc;
      if (pk__range_parse(val, strlen(val), &m->abi, why, sizeof why) < 0)
        return perr(ps, ps->line, PK_EFORMAT, "abi: %s", why);
      m->abi_text = val;
      return PK_OK;
    }
    if (strcmp(key, "grants") == 0) {
      if ((rc = dup_key(ps, K_GRANTS, key)) < 0)
        return rc;
      if ((rc = parse_grants(ps, val)) < 0)
        return rc;
      m->grants = val;
      return PK_OK;
    }
    return perr(ps, ps->line, PK_EFORMAT,
                "unknown key '%s' in [plugin] (name, version, description, "
                "abi, grants, or x-... for other tools)",
                key);
  }
  if (ps->sect == S_ARTIFACT) {
    if (strcmp(key, "path") == 0) {
      if ((rc = dup_key(ps, K_PATH, key)) < 0)
        return rc;
      if ((rc = check_path(ps, val)) < 0)
        return rc;
      ps->art->path = val;
      return PK_OK;
    }
    if (strcmp(key, "sha256") == 0) {
      if ((rc = dup_key(ps, K_SHA, key)) < 0)
        return rc;
      return parse_hash(ps, val, ps->art->sha256);
    }
    return perr(ps, ps->line, PK_EFORMAT,
                "unknown key '%s' in [artifact] (path, sha256, or x-... for "
                "other tools)",
                key);
  }
  if (ps->sect == S_DEPS) {
    pk__dep *d;
    if (!good_name(key))
      return perr(ps, ps->line, PK_EFORMAT,
                  "bad dependency name '%s' (a plugin name: letters, digits, "
                  "'_', '.', '-')",
                  key);
    for (i = 0; i < m->ndeps; i++)
      if (strcmp(m->deps[i].name, key) == 0)
        return perr(ps, ps->line, PK_EFORMAT,
                    "duplicate key '%s' (dependency first at line %d)", key,
                    m->deps[i].line);
    if (m->ndeps == PK__MF_MAX_DEPS)
      return perr(ps, ps->line, PK_ELIMIT, "more than %u dependencies",
                  PK__MF_MAX_DEPS);
    if (m->ndeps == ps->capdeps) {
      size_t cap = ps->capdeps == 0 ? 4 : ps->capdeps * 2;
      pk__dep *nd = pk__realloc(ps->h, m->deps, cap * sizeof *nd);
      if (nd == NULL)
        return perr(ps, ps->line, PK_ENOMEM, "out of memory");
      m->deps = nd;
      ps->capdeps = cap;
    }
    d = &m->deps[m->ndeps];
    if (pk__range_parse(val, strlen(val), &d->range, why, sizeof why) < 0)
      return perr(ps, ps->line, PK_EFORMAT, "dependency '%s': %s", key, why);
    d->name = key;
    d->range_text = val;
    d->line = ps->line;
    m->ndeps++;
    return PK_OK;
  }
  return perr(ps, ps->line, PK_EFORMAT,
              "key '%s' outside a section (a manifest starts with [plugin])",
              key);
}

/* One line, cut at `e` (its newline or the end). */
static int one_line(parser *ps, char *s, char *e) {
  size_t i, n = (size_t)(e - s);
  char *k, *ke, *v, *eq;
  if (n > 0 && s[n - 1] == '\r') /* CRLF files read as LF ones */
    e = s + --n;
  if (n > PK__MF_MAX_LINE)
    return perr(ps, ps->line, PK_ELIMIT,
                "line is %zu bytes, longer than the limit of %u", n,
                PK__MF_MAX_LINE);
  for (i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    size_t k8;
    if (c == 0)
      return perr(ps, ps->line, PK_EFORMAT, "NUL byte at column %zu", i + 1);
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return perr(ps, ps->line, PK_EFORMAT,
                  "control character 0x%02x at column %zu", c, i + 1);
    if ((k8 = utf8_len((const unsigned char *)s + i, n - i)) == 0)
      return perr(ps, ps->line, PK_EFORMAT, "invalid UTF-8 at column %zu",
                  i + 1);
    i += k8;
  }
  s = trim(s, &e);
  if (s == e || *s == '#')
    return PK_OK;
  if (*s == '[') {
    if (e[-1] != ']')
      return perr(ps, ps->line, PK_EFORMAT,
                  "bad section header: no closing ']'");
    return section(ps, s + 1, e - 1);
  }
  if ((eq = memchr(s, '=', (size_t)(e - s))) == NULL)
    return perr(ps, ps->line, PK_EFORMAT,
                "expected 'key = value', a [section] or a # comment");
  ke = eq;
  k = trim(s, &ke);
  if (k == ke)
    return perr(ps, ps->line, PK_EFORMAT, "no key before '='");
  for (i = 0; k + i < ke; i++)
    if (!is_alnum(k[i]) && k[i] != '_' && k[i] != '.' && k[i] != '-')
      return perr(ps, ps->line, PK_EFORMAT,
                  "bad key '%.*s' (letters, digits, '_', '.', '-')",
                  (int)(ke - k), k);
  if ((size_t)(ke - k) > PK__MF_MAX_NAME)
    return perr(ps, ps->line, PK_EFORMAT, "key longer than %u bytes",
                PK__MF_MAX_NAME);
  *ke = '\0';
  v = trim(eq + 1, &e);
  *e = '\0';
  if (*v == '\0')
    return perr(ps, ps->line, PK_EFORMAT, "key '%s' has no value", k);
  return pair(ps, k, v);
}

int pk__manifest_parse(pk_host *h, const char *file, const char *buf,
                       size_t n, pk__manifest **out) {
  parser ps;
  pk__manifest *m;
  size_t fn = strlen(file);
  char *txt, *s, *end;
  int rc;

  memset(&ps, 0, sizeof ps);
  ps.h = h;
  ps.file = file;
  if (n > PK__MF_MAX_FILE)
    return perr(&ps, 0, PK_ELIMIT,
                "the file is %zu bytes, more than the limit of %zu", n,
                PK__MF_MAX_FILE);
  if ((m = pk__alloc(h, sizeof *m + fn + 1 + n + 1)) == NULL)
    return perr(&ps, 0, PK_ENOMEM, "out of memory");
  memset(m, 0, sizeof *m);
  ps.m = m;
  m->file = (char *)(m + 1);
  memcpy((char *)(m + 1), file, fn + 1);
  txt = (char *)(m + 1) + fn + 1;
  memcpy(txt, buf, n);
  txt[n] = '\0';
  end = txt + n;
  for (s = txt; s < end;) {
    char *e = memchr(s, '\n', (size_t)(end - s));
    if (e == NULL)
      e = end;
    ps.line++;
    if ((rc = one_line(&ps, s, e)) < 0)
      goto fail;
    s = e + 1;
  }
  ps.line = 0;
  if ((rc = finish_section(&ps)) < 0)
    goto fail;
  if (ps.plugin_line == 0) {
    rc = perr(&ps, 0, PK_EFORMAT,
              "missing section [plugin] (with the required keys name and "
              "version)");
    goto fail;
  }
  if (m->name == NULL || m->version_text == NULL) {
    rc = perr(&ps, ps.plugin_line, PK_EFORMAT,
              "missing required key '%s' in [plugin]",
              m->name == NULL ? "name" : "version");
    goto fail;
  }
  if (m->nart == 0) {
    rc = perr(&ps, 0, PK_EFORMAT,
              "no [artifact] section: a manifest names at least one file to "
              "load");
    goto fail;
  }
  *out = m;
  return PK_OK;
fail:
  pk__manifest_free(h, m);
  return rc;
}

void pk__manifest_free(pk_host *h, pk__manifest *m) {
  if (m == NULL)
    return;
  pk__free(h, m->deps);
  pk__free(h, m);
}

int pk__manifest_probe(const char *path, const unsigned char *head,
                       size_t n) {
  size_t pn = path ? strlen(path) : 0, i = 0;
  if (pn > 8 && strcmp(path + pn - 8, ".plugkit") == 0)
    return 1;
  while (i < n) { /* skip blank and comment lines */
    size_t e = i;
    while (e < n && head[e] != '\n')
      e++;
    while (i < e && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r'))
      i++;
    if (i < e && head[i] != '#') {
      size_t k = e;
      while (k > i && (head[k - 1] == ' ' || head[k - 1] == '\t' ||
                       head[k - 1] == '\r'))
        k--;
      return k - i == 8 && memcmp(head + i, "[plugin]", 8) == 0;
    }
    i = e + 1;
  }
  return 0;
}

int pk__manifest_check_abi(pk_host *h, const pk__manifest *m,
                           const char *path) {
  pk__semver abi;
  abi.major = PK_ABI_MAJOR;
  abi.minor = PK_ABI_MINOR;
  abi.patch = 0;
  abi.pre = NULL;
  abi.npre = 0;
  if (m->abi_text != NULL && !pk__range_match(&m->abi, &abi))
    return pk__err(h, PK_EABI, path, "manifest",
                   "the plugin needs plugkit ABI '%s'; this host has %d.%d.0",
                   m->abi_text, PK_ABI_MAJOR, PK_ABI_MINOR);
  return PK_OK;
}
