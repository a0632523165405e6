/*
 * semver.c: semantic versions and ranges (manifest.h). Strict: what the
 * grammar in docs/manifest.md does not allow is an error with a reason,
 * never a guess.
 */
#include "manifest.h"

#include <stdio.h>
#include <string.h>

static int why_set(char *why, size_t cap, const char *fmt, const char *s,
                   size_t n) {
  if (why != NULL && cap > 0)
    snprintf(why, cap, fmt, (int)(n > 64 ? 64 : n), s);
  return PK_EFORMAT;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_ident(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         c == '-';
}

/* A numeric part: digits, no leading zero, at most PK__SEMVER_NUM_MAX.
   Returns the bytes read, 0 when there is no valid number here. */
static size_t read_num(const char *s, size_t n, uint32_t *out) {
  size_t i = 0;
  uint64_t v = 0;
  while (i < n && is_digit(s[i])) {
    v = v * 10 + (uint64_t)(s[i] - '0');
    if (v > PK__SEMVER_NUM_MAX)
      return 0;
    i++;
  }
  if (i == 0 || (i > 1 && s[0] == '0'))
    return 0;
  *out = (uint32_t)v;
  return i;
}

/* Dot-separated identifiers, each non-empty; `numeric_rule`: a numeric
   identifier has no leading zero (pre-release; build metadata allows). */
static int check_idents(const char *s, size_t n, int numeric_rule) {
  size_t i = 0, start = 0;
  if (n == 0)
    return 0;
  for (i = 0; i <= n; i++) {
    if (i == n || s[i] == '.') {
      size_t k, len = i - start;
      int numeric = 1;
      if (len == 0)
        return 0;
      for (k = start; k < i; k++)
        if (!is_digit(s[k]))
          numeric = 0;
      if (numeric_rule && numeric && len > 1 && s[start] == '0')
        return 0;
      start = i + 1;
    } else if (!is_ident(s[i])) {
      return 0;
    }
  }
  return 1;
}

/* parts: how many of major.minor.patch were written (1..3); `partial`
   allows fewer than 3 (ranges), with no pre-release then. */
static int parse_ver(const char *s, size_t n, pk__semver *out, int partial,
                     int *parts, char *why, size_t cap) {
  size_t i = 0, k;
  uint32_t num[3] = {0, 0, 0};
  int np = 0;
  const char *pre = NULL;
  size_t npre = 0;

  if (n == 0)
    return why_set(why, cap, "empty version%.*s", "", 0);
  if (n > PK__SEMVER_MAX)
    return why_set(why, cap, "version '%.*s...' is longer than 64 bytes", s,
                   n);
  for (;;) {
    if ((k = read_num(s + i, n - i, &num[np])) == 0)
      return why_set(why, cap,
                     "bad version '%.*s' (want MAJOR.MINOR.PATCH: numbers "
                     "without leading zeros, below 2^31)",
                     s, n);
    i += k;
    np++;
    if (np == 3 || i == n || s[i] != '.')
      break;
    i++; /* the dot */
  }
  if (np < 3 && (!partial || i < n))
    return why_set(why, cap,
                   "bad version '%.*s' (want MAJOR.MINOR.PATCH)", s, n);
  if (i < n && s[i] == '-') {
    size_t e = i + 1;
    while (e < n && s[e] != '+')
      e++;
    if (!check_idents(s + i + 1, e - i - 1, 1))
      return why_set(why, cap,
                     "bad pre-release in version '%.*s' (dot-separated "
                     "[0-9A-Za-z-] identifiers, numbers without leading "
                     "zeros)",
                     s, n);
    pre = s + i + 1;
    npre = e - i - 1;
    i = e;
  }
  if (i < n && s[i] == '+') {
    if (!check_idents(s + i + 1, n - i - 1, 0))
      return why_set(why, cap,
                     "bad build metadata in version '%.*s' (dot-separated "
                     "[0-9A-Za-z-] identifiers)",
                     s, n);
    i = n;
  }
  if (i != n)
    return why_set(why, cap, "bad version '%.*s' (trailing characters)", s,
                   n);
  out->major = num[0];
  out->minor = num[1];
  out->patch = num[2];
  out->pre = pre;
  out->npre = npre;
  if (parts != NULL)
    *parts = np;
  return PK_OK;
}

int pk__semver_parse(const char *s, size_t n, pk__semver *out, char *why,
                     size_t cap) {
  return parse_ver(s, n, out, 0, NULL, why, cap);
}

/* One identifier of a pre-release, up to the next dot. */
static size_t ident_len(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && s[i] != '.')
    i++;
  return i;
}

static int all_digits(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (!is_digit(s[i]))
      return 0;
  return 1;
}

static int cmp_pre(const char *a, size_t na, const char *b, size_t nb) {
  for (;;) {
    size_t la, lb;
    int da, db, c;
    if (na == 0 || nb == 0)
      return na == nb ? 0 : (na == 0 ? -1 : 1); /* fewer fields first */
    la = ident_len(a, na);
    lb = ident_len(b, nb);
    da = all_digits(a, la);
    db = all_digits(b, lb);
    if (da && db) { /* numeric: no leading zeros, so longer is larger */
      if (la != lb)
        return la < lb ? -1 : 1;
      if ((c = memcmp(a, b, la)) != 0)
        return c < 0 ? -1 : 1;
    } else if (da != db) {
      return da ? -1 : 1; /* numeric identifiers sort first */
    } else {
      c = memcmp(a, b, la < lb ? la : lb);
      if (c != 0)
        return c < 0 ? -1 : 1;
      if (la != lb)
        return la < lb ? -1 : 1;
    }
    a += la;
    na -= la;
    b += lb;
    nb -= lb;
    if (na > 0) { /* skip the dots */
      a++;
      na--;
    }
    if (nb > 0) {
      b++;
      nb--;
    }
  }
}

int pk__semver_cmp(const pk__semver *a, const pk__semver *b) {
  if (a->major != b->major)
    return a->major < b->major ? -1 : 1;
  if (a->minor != b->minor)
    return a->minor < b->minor ? -1 : 1;
  if (a->patch != b->patch)
    return a->patch < b->patch ? -1 : 1;
  if (a->pre == NULL || b->pre == NULL) /* a release after its pre-releases */
    return a->pre == b->pre ? 0 : (a->pre == NULL ? 1 : -1);
  return cmp_pre(a->pre, a->npre, b->pre, b->npre);
}

static int add(pk__range *r, int op, pk__semver v, const char *s, size_t n,
               char *why, size_t cap) {
  if (r->n == PK__RANGE_MAX)
    return why_set(why, cap,
                   "range '%.*s' has more than 8 comparators (^ and ~ count "
                   "two)",
                   s, n);
  r->c[r->n].op = op;
  r->c[r->n].v = v;
  r->n++;
  return PK_OK;
}

/* The first version above the series v names in its first `parts`. */
static int bump(pk__semver *v, int level) {
  v->pre = NULL;
  v->npre = 0;
  if (level == 0) {
    if (v->major == PK__SEMVER_NUM_MAX)
      return -1;
    v->major++;
    v->minor = v->patch = 0;
  } else if (level == 1) {
    if (v->minor == PK__SEMVER_NUM_MAX)
      return -1;
    v->minor++;
    v->patch = 0;
  } else {
    if (v->patch == PK__SEMVER_NUM_MAX)
      return -1;
    v->patch++;
  }
  return 0;
}

static int parse_cmp(pk__range *r, const char *s, size_t n, const char *all,
                     size_t nall, char *why, size_t cap) {
  int op = -1, rc, parts, level;
  char sym = 0;
  pk__semver v, hi;
  size_t i = 0;

  if (n >= 2 && (s[0] == '>' || s[0] == '<') && s[1] == '=') {
    op = s[0] == '>' ? PK__OP_GE : PK__OP_LE;
    i = 2;
  } else if (n >= 1 && (s[0] == '>' || s[0] == '<' || s[0] == '=')) {
    op = s[0] == '>' ? PK__OP_GT : s[0] == '<' ? PK__OP_LT : PK__OP_EQ;
    i = 1;
  } else if (n >= 1 && (s[0] == '^' || s[0] == '~')) {
    sym = s[0];
    i = 1;
  }
  while (i < n && (s[i] == ' ' || s[i] == '\t'))
    i++;
  if ((rc = parse_ver(s + i, n - i, &v, 1, &parts, why, cap)) < 0)
    return rc;
  if (op == PK__OP_GT || op == PK__OP_GE || op == PK__OP_LT ||
      op == PK__OP_LE || (op == PK__OP_EQ && parts == 3) ||
      (op < 0 && sym == 0 && parts == 3))
    return add(r, op < 0 ? PK__OP_EQ : op, v, all, nall, why, cap);
  /* A series: [v, hi). "=1.2" and "1.2" are 1.2.x; "^1.2.3" keeps the
     first non-zero part; "~1.2.3" keeps major and minor (major alone when
     only it is written). */
  if (sym == '^') {
    if (v.major != 0 || parts == 1)
      level = 0;
    else if (v.minor != 0 || parts == 2)
      level = 1;
    else
      level = 2;
  } else if (sym == '~') {
    level = parts == 1 ? 0 : 1;
  } else {
    level = parts - 1;
  }
  hi = v;
  if (bump(&hi, level) < 0)
    return why_set(why, cap, "range '%.*s' reaches past the largest version",
                   all, nall);
  if ((rc = add(r, PK__OP_GE, v, all, nall, why, cap)) < 0)
    return rc;
  return add(r, PK__OP_LT, hi, all, nall, why, cap);
}

int pk__range_parse(const char *s, size_t n, pk__range *out, char *why,
                    size_t cap) {
  size_t i = 0;
  int rc;
  out->n = 0;
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  while (i < n && (s[i] == ' ' || s[i] == '\t'))
    i++;
  if (i == n)
    return why_set(why, cap, "empty version range%.*s", "", 0);
  if (n - i == 1 && s[i] == '*')
    return PK_OK;
  for (;;) {
    size_t e = i, t;
    while (e < n && s[e] != ',')
      e++;
    t = e;
    while (t > i && (s[t - 1] == ' ' || s[t - 1] == '\t'))
      t--;
    if (t == i)
      return why_set(why, cap, "empty comparator in range '%.*s'", s, n);
    if ((rc = parse_cmp(out, s + i, t - i, s, n, why, cap)) < 0)
      return rc;
    if (e == n)
      return PK_OK;
    i = e + 1;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
      i++;
  }
}

int pk__range_match(const pk__range *r, const pk__semver *v) {
  size_t i;
  for (i = 0; i < r->n; i++) {
    int c = pk__semver_cmp(v, &r->c[i].v);
    switch (r->c[i].op) {
    case PK__OP_EQ:
      if (c != 0)
        return 0;
      break;
    case PK__OP_LT:
      if (c >= 0)
        return 0;
      break;
    case PK__OP_LE:
      if (c > 0)
        return 0;
      break;
    case PK__OP_GT:
      if (c <= 0)
        return 0;
      break;
    default:
      if (c < 0)
        return 0;
      break;
    }
  }
  return 1;
}
