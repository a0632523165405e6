/*
 * pattern.c: Lua 5.4 patterns (manual section 6.4.1) with a step counter;
 * see pattern.h for why.
 *
 * The matcher is a backtracking one, as the manual's semantics ask for
 * (a greedy `*` gives back one character at a time until the rest
 * matches). Its recursion (a quantified item, a capture) is bounded by
 * MAX_DEPTH, like the stock library's ("pattern too complex"); its time
 * is not bounded here but measured: `cost` adds up steps, and every
 * PK__LUA_STEP_BATCH of them go to the charge callback, which stops the
 * match by raising an error once the caller's budget is gone. A step is
 * about one byte of subject or pattern looked at.
 */
#include "pattern.h"

#include <ctype.h>
#include <lauxlib.h>
#include <string.h>

#define MAX_CAPTURES 32 /* as the stock library: "too many captures" */
#define MAX_DEPTH 200   /* nested matches: "pattern too complex" */
#define CAP_OPEN (-1)   /* a capture whose ')' was not reached yet */
#define CAP_POS (-2)    /* a position capture, "()" */
#define ESC '%'
#define MAGIC "^$*+?.([%-"

typedef struct mstate {
  lua_State *L;
  const char *src, *src_end; /* the subject */
  const char *pat_end;       /* end of the pattern */
  int depth;                 /* nested matches left */
  int level;                 /* captures in use */
  size_t steps;              /* work since the last charge */
  const pk__lua_charge_fn *charge;
  struct {
    const char *at;
    ptrdiff_t len; /* or CAP_OPEN, CAP_POS */
  } cap[MAX_CAPTURES];
} mstate;

static unsigned char uc(char c) { return (unsigned char)c; }

static void flush(mstate *ms) {
  size_t n = ms->steps;
  ms->steps = 0;
  if (n > 0)
    (*ms->charge)(ms->L, n);
}

static void cost(mstate *ms, size_t n) {
  ms->steps += n;
  if (ms->steps >= PK__LUA_STEP_BATCH)
    flush(ms);
}

static void ms_init(mstate *ms, lua_State *L, const char *s, size_t ls,
                    const char *p, size_t lp,
                    const pk__lua_charge_fn *charge) {
  ms->L = L;
  ms->src = s;
  ms->src_end = s + ls;
  ms->pat_end = p + lp;
  ms->steps = 0;
  ms->charge = charge;
  ms->level = 0;
  ms->depth = MAX_DEPTH;
}

/* A new attempt at another subject position. */
static void ms_reset(mstate *ms) {
  ms->level = 0;
  ms->depth = MAX_DEPTH;
}

/* Does byte c belong to class %cl? (Upper-case letter: the complement;
   a non-letter stands for itself.) */
static int in_class(int c, int cl) {
  int r;
  switch (tolower(cl)) {
  case 'a':
    r = isalpha(c);
    break;
  case 'c':
    r = iscntrl(c);
    break;
  case 'd':
    r = isdigit(c);
    break;
  case 'g':
    r = isgraph(c);
    break;
  case 'l':
    r = islower(c);
    break;
  case 'p':
    r = ispunct(c);
    break;
  case 's':
    r = isspace(c);
    break;
  case 'u':
    r = isupper(c);
    break;
  case 'w':
    r = isalnum(c);
    break;
  case 'x':
    r = isxdigit(c);
    break;
  case 'z': /* the NUL byte: gone from the manual, kept by the library */
    r = c == 0;
    break;
  default:
    return cl == c;
  }
  if (isupper(cl))
    r = !r;
  return r != 0;
}

/* Does byte c belong to the set [ ... ] from `p` (the '[') to `close`
   (its ']')? */
static int in_set(int c, const char *p, const char *close) {
  int yes = 1;
  p++;
  if (*p == '^') {
    yes = 0;
    p++;
  }
  for (; p < close; p++) {
    if (*p == ESC) {
      p++;
      if (in_class(c, uc(*p)))
        return yes;
    } else if (p + 2 < close && p[1] == '-') {
      if (uc(p[0]) <= c && c <= uc(p[2]))
        return yes;
      p += 2;
    } else if (uc(*p) == c) {
      return yes;
    }
  }
  return !yes;
}

/* Where the single-character class starting at p ends. The first
   character of a set is never its closing ']' ("[]]" is a set of ']'). */
static const char *item_end(mstate *ms, const char *p) {
  char c = *p++;
  if (c == ESC) {
    if (p >= ms->pat_end)
      luaL_error(ms->L, "malformed pattern (ends with '%%')");
    return p + 1;
  }
  if (c == '[') {
    if (p < ms->pat_end && *p == '^')
      p++;
    do {
      if (p >= ms->pat_end)
        luaL_error(ms->L, "malformed pattern (missing ']')");
      c = *p++;
      if (c == ESC && p < ms->pat_end)
        p++;
    } while (p == ms->pat_end || *p != ']');
    return p + 1;
  }
  return p;
}

/* Does the subject byte at s match the class from p to ep? */
static int single(const mstate *ms, const char *s, const char *p,
                  const char *ep) {
  int c;
  if (s >= ms->src_end)
    return 0;
  c = uc(*s);
  switch (*p) {
  case '.':
    return 1;
  case ESC:
    return in_class(c, uc(p[1]));
  case '[':
    return in_set(c, p, ep - 1);
  default:
    return uc(*p) == c;
  }
}

static const char *do_match(mstate *ms, const char *s, const char *p);

/* x*: as many as there are, then fewer until the rest matches. */
static const char *greedy(mstate *ms, const char *s, const char *p,
                          const char *ep) {
  ptrdiff_t n = 0;
  while (single(ms, s + n, p, ep)) {
    cost(ms, (size_t)(ep - p));
    n++;
  }
  for (; n >= 0; n--) {
    const char *r = do_match(ms, s + n, ep + 1);
    if (r != NULL)
      return r;
  }
  return NULL;
}

/* x-: as few as possible, one more while the rest does not match. */
static const char *lazy(mstate *ms, const char *s, const char *p,
                        const char *ep) {
  for (;;) {
    const char *r = do_match(ms, s, ep + 1);
    if (r != NULL)
      return r;
    cost(ms, (size_t)(ep - p));
    if (!single(ms, s, p, ep))
      return NULL;
    s++;
  }
}

static const char *open_capture(mstate *ms, const char *s, const char *p,
                                ptrdiff_t what) {
  const char *r;
  if (ms->level >= MAX_CAPTURES)
    luaL_error(ms->L, "too many captures");
  ms->cap[ms->level].at = s;
  ms->cap[ms->level].len = what;
  ms->level++;
  if ((r = do_match(ms, s, p)) == NULL)
    ms->level--;
  return r;
}

static const char *close_capture(mstate *ms, const char *s, const char *p) {
  const char *r;
  int l;
  for (l = ms->level - 1; l >= 0; l--)
    if (ms->cap[l].len == CAP_OPEN)
      break;
  if (l < 0)
    luaL_error(ms->L, "invalid pattern capture");
  ms->cap[l].len = s - ms->cap[l].at;
  if ((r = do_match(ms, s, p)) == NULL)
    ms->cap[l].len = CAP_OPEN;
  return r;
}

/* %bxy at s: x, then up to the y that balances it. */
static const char *balance(mstate *ms, const char *s, const char *p) {
  char open, close;
  int depth = 1;
  if (p >= ms->pat_end - 1)
    luaL_error(ms->L, "malformed pattern (missing arguments to '%%b')");
  open = p[0];
  close = p[1];
  if (s >= ms->src_end || *s != open)
    return NULL;
  while (++s < ms->src_end) {
    cost(ms, 1);
    if (*s == close) {
      if (--depth == 0)
        return s + 1;
    } else if (*s == open) {
      depth++;
    }
  }
  return NULL;
}

/* %1 .. %9: the text of an earlier, closed capture again. */
static const char *backref(mstate *ms, const char *s, int digit) {
  int l = digit - '1';
  size_t len;
  if (l < 0 || l >= ms->level || ms->cap[l].len == CAP_OPEN)
    luaL_error(ms->L, "invalid capture index %%%d", l + 1);
  if (ms->cap[l].len < 0) /* a position never matches as text */
    return NULL;
  len = (size_t)ms->cap[l].len;
  cost(ms, len);
  if ((size_t)(ms->src_end - s) >= len && memcmp(ms->cap[l].at, s, len) == 0)
    return s + len;
  return NULL;
}

/* Match the pattern from p at subject position s: the end of the match,
   or NULL. */
static const char *do_match(mstate *ms, const char *s, const char *p) {
  if (ms->depth-- == 0)
    luaL_error(ms->L, "pattern too complex");
  for (;;) {
    const char *ep;
    char q;
    cost(ms, 1);
    if (p == ms->pat_end)
      break;
    switch (*p) {
    case '(':
      if (p + 1 < ms->pat_end && p[1] == ')')
        s = open_capture(ms, s, p + 2, CAP_POS);
      else
        s = open_capture(ms, s, p + 1, CAP_OPEN);
      goto out;
    case ')':
      s = close_capture(ms, s, p + 1);
      goto out;
    case '$':
      if (p + 1 == ms->pat_end) {
        if (s != ms->src_end)
          s = NULL;
        goto out;
      }
      break; /* elsewhere an ordinary character */
    case ESC:
      if (p + 1 == ms->pat_end)
        break; /* item_end reports it */
      if (p[1] == 'b') {
        if ((s = balance(ms, s, p + 2)) == NULL)
          goto out;
        p += 4;
        continue;
      }
      if (p[1] == 'f') {
        int before, here;
        p += 2;
        if (p >= ms->pat_end || *p != '[')
          luaL_error(ms->L, "missing '[' after '%%f' in pattern");
        ep = item_end(ms, p);
        cost(ms, (size_t)(ep - p));
        before = s == ms->src ? 0 : uc(s[-1]);
        here = s < ms->src_end ? uc(*s) : 0;
        if (in_set(before, p, ep - 1) || !in_set(here, p, ep - 1)) {
          s = NULL;
          goto out;
        }
        p = ep;
        continue;
      }
      if (isdigit(uc(p[1]))) {
        if ((s = backref(ms, s, uc(p[1]))) == NULL)
          goto out;
        p += 2;
        continue;
      }
      break;
    default:
      break;
    }
    /* A single-character class, maybe with a quantifier after it. */
    ep = item_end(ms, p);
    q = ep < ms->pat_end ? *ep : '\0';
    cost(ms, (size_t)(ep - p));
    if (!single(ms, s, p, ep)) {
      if (q == '*' || q == '?' || q == '-') {
        p = ep + 1; /* zero of them */
        continue;
      }
      s = NULL;
      goto out;
    }
    switch (q) {
    case '?': {
      const char *r = do_match(ms, s + 1, ep + 1);
      if (r != NULL) {
        s = r;
        goto out;
      }
      p = ep + 1;
      continue;
    }
    case '+':
      s = greedy(ms, s + 1, p, ep);
      goto out;
    case '*':
      s = greedy(ms, s, p, ep);
      goto out;
    case '-':
      s = lazy(ms, s, p, ep);
      goto out;
    default:
      s++;
      p = ep;
      continue;
    }
  }
out:
  ms->depth++;
  return s;
}

/* ---- captures as Lua values ---------------------------------------------- */

/* Push capture i (the whole match s..e when there are none). */
static void push_capture(mstate *ms, int i, const char *s, const char *e) {
  if (i >= ms->level) {
    if (i != 0)
      luaL_error(ms->L, "invalid capture index %%%d", i + 1);
    lua_pushlstring(ms->L, s, (size_t)(e - s));
    return;
  }
  if (ms->cap[i].len == CAP_OPEN)
    luaL_error(ms->L, "unfinished capture");
  if (ms->cap[i].len == CAP_POS)
    lua_pushinteger(ms->L, (ms->cap[i].at - ms->src) + 1);
  else
    lua_pushlstring(ms->L, ms->cap[i].at, (size_t)ms->cap[i].len);
}

/* Push every capture (or the whole match; or nothing when s is NULL and
   there are no captures). */
static int push_captures(mstate *ms, const char *s, const char *e) {
  int i, n = (ms->level == 0 && s != NULL) ? 1 : ms->level;
  luaL_checkstack(ms->L, n, "too many captures");
  for (i = 0; i < n; i++)
    push_capture(ms, i, s, e);
  return n;
}

/* ---- the library functions ---------------------------------------------- */

static const pk__lua_charge_fn *charge_of(lua_State *L) {
  return (const pk__lua_charge_fn *)lua_touserdata(L, lua_upvalueindex(1));
}

/* A relative start position (negative: from the end) as 1-based. */
static size_t start_at(lua_Integer pos, size_t len) {
  if (pos > 0)
    return (size_t)pos;
  if (pos == 0 || pos < -(lua_Integer)len)
    return 1;
  return len + (size_t)pos + 1;
}

static int has_magic(const char *p, size_t lp) {
  size_t i;
  for (i = 0; i < lp; i++)
    if (p[i] != '\0' && strchr(MAGIC, p[i]) != NULL)
      return 1;
  return 0;
}

/* The first occurrence of p in s, counting its work. */
static const char *plain_find(mstate *ms, const char *s, size_t ls,
                              const char *p, size_t lp) {
  const char *end;
  if (lp == 0)
    return s;
  if (lp > ls)
    return NULL;
  end = s + (ls - lp) + 1; /* past the last place it can start */
  while (s < end) {
    const char *hit = memchr(s, *p, (size_t)(end - s));
    if (hit == NULL) {
      cost(ms, (size_t)(end - s) / 16);
      return NULL;
    }
    cost(ms, (size_t)(hit - s) / 16 + lp);
    if (memcmp(hit + 1, p + 1, lp - 1) == 0)
      return hit;
    s = hit + 1;
  }
  return NULL;
}

static int find_or_match(lua_State *L, int find) {
  size_t ls, lp, init;
  const char *s = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  mstate ms;
  init = start_at(luaL_optinteger(L, 3, 1), ls) - 1;
  if (init > ls) {
    luaL_pushfail(L);
    return 1;
  }
  ms_init(&ms, L, s, ls, p, lp, charge_of(L));
  cost(&ms, lp);
  if (find && (lua_toboolean(L, 4) || !has_magic(p, lp))) {
    const char *hit = plain_find(&ms, s + init, ls - init, p, lp);
    flush(&ms);
    if (hit != NULL) {
      lua_pushinteger(L, (hit - s) + 1);
      lua_pushinteger(L, (lua_Integer)((size_t)(hit - s) + lp));
      return 2;
    }
  } else {
    const char *at = s + init;
    int anchor = lp > 0 && *p == '^';
    if (anchor) {
      p++;
      lp--;
    }
    ms_init(&ms, L, s, ls, p, lp, charge_of(L));
    do {
      const char *e;
      ms_reset(&ms);
      if ((e = do_match(&ms, at, p)) != NULL) {
        flush(&ms);
        if (find) {
          lua_pushinteger(L, (at - s) + 1);
          lua_pushinteger(L, e - s);
          return push_captures(&ms, NULL, NULL) + 2;
        }
        return push_captures(&ms, at, e);
      }
    } while (at++ < ms.src_end && !anchor);
    flush(&ms);
  }
  luaL_pushfail(L);
  return 1;
}

static int s_find(lua_State *L) { return find_or_match(L, 1); }

static int s_match(lua_State *L) { return find_or_match(L, 0); }

/* gmatch's iterator. Upvalues: the charge, the subject, the pattern, the
   state (where to go on, where the last match ended). */
typedef struct gm_state {
  size_t pos;
  ptrdiff_t last; /* -1: no match yet */
} gm_state;

static int gmatch_next(lua_State *L) {
  size_t ls, lp;
  const char *s = lua_tolstring(L, lua_upvalueindex(2), &ls);
  const char *p = lua_tolstring(L, lua_upvalueindex(3), &lp);
  gm_state *g = lua_touserdata(L, lua_upvalueindex(4));
  const char *at;
  mstate ms;
  ms_init(&ms, L, s, ls, p, lp, charge_of(L));
  for (at = s + g->pos; at <= ms.src_end; at++) {
    const char *e;
    ms_reset(&ms);
    if ((e = do_match(&ms, at, p)) != NULL && e - s != g->last) {
      g->pos = (size_t)(e - s);
      g->last = e - s;
      flush(&ms);
      return push_captures(&ms, at, e);
    }
  }
  flush(&ms);
  return 0;
}

static int s_gmatch(lua_State *L) {
  size_t ls, lp, init;
  gm_state *g;
  luaL_checklstring(L, 1, &ls);
  luaL_checklstring(L, 2, &lp);
  init = start_at(luaL_optinteger(L, 3, 1), ls) - 1;
  if (init > ls)
    init = ls + 1; /* nothing left to match */
  lua_settop(L, 2);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  g = lua_newuserdatauv(L, sizeof *g, 0);
  g->pos = init;
  g->last = -1;
  lua_pushcclosure(L, gmatch_next, 4);
  return 1;
}

/* gsub's replacement string: %0..%9 and %% expanded. */
static void add_repl(mstate *ms, luaL_Buffer *b, const char *s,
                     const char *e) {
  lua_State *L = ms->L;
  size_t l;
  const char *r = lua_tolstring(L, 3, &l), *end = r + l, *esc;
  cost(ms, l);
  while ((esc = memchr(r, ESC, (size_t)(end - r))) != NULL) {
    luaL_addlstring(b, r, (size_t)(esc - r));
    esc++;
    if (esc < end && *esc == ESC) {
      luaL_addchar(b, ESC);
    } else if (esc < end && *esc == '0') {
      cost(ms, (size_t)(e - s));
      luaL_addlstring(b, s, (size_t)(e - s));
    } else if (esc < end && isdigit(uc(*esc))) {
      push_capture(ms, *esc - '1', s, e);
      cost(ms, lua_type(L, -1) == LUA_TSTRING ? lua_rawlen(L, -1) : 1);
      luaL_addvalue(b); /* a position becomes its decimal text */
    } else {
      luaL_error(L, "invalid use of '%c' in replacement string", ESC);
    }
    r = esc + 1;
  }
  luaL_addlstring(b, r, (size_t)(end - r));
}

/* One replacement; 1 when it changed the text. */
static int add_value(mstate *ms, luaL_Buffer *b, const char *s, const char *e,
                     int tr) {
  lua_State *L = ms->L;
  if (tr == LUA_TFUNCTION) {
    int n;
    lua_pushvalue(L, 3);
    n = push_captures(ms, s, e);
    lua_call(L, n, 1);
  } else if (tr == LUA_TTABLE) {
    push_capture(ms, 0, s, e);
    lua_gettable(L, 3);
  } else {
    add_repl(ms, b, s, e);
    return 1;
  }
  if (!lua_toboolean(L, -1)) { /* nil or false: keep the match */
    lua_pop(L, 1);
    luaL_addlstring(b, s, (size_t)(e - s));
    return 0;
  }
  if (!lua_isstring(L, -1))
    return luaL_error(L, "invalid replacement value (a %s)",
                      luaL_typename(L, -1));
  luaL_addvalue(b);
  return 1;
}

static int s_gsub(lua_State *L) {
  size_t ls, lp;
  const char *src = luaL_checklstring(L, 1, &ls);
  const char *p = luaL_checklstring(L, 2, &lp);
  const char *last = NULL;
  int tr = lua_type(L, 3), anchor, changed = 0;
  lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1), n = 0;
  mstate ms;
  luaL_Buffer b;
  luaL_argexpected(L,
                   tr == LUA_TNUMBER || tr == LUA_TSTRING ||
                       tr == LUA_TFUNCTION || tr == LUA_TTABLE,
                   3, "string/function/table");
  luaL_buffinit(L, &b);
  anchor = lp > 0 && *p == '^';
  if (anchor) {
    p++;
    lp--;
  }
  ms_init(&ms, L, src, ls, p, lp, charge_of(L));
  while (n < max) {
    const char *e;
    ms_reset(&ms);
    if ((e = do_match(&ms, src, p)) != NULL && e != last) {
      n++;
      changed |= add_value(&ms, &b, src, e, tr);
      src = last = e;
    } else if (src < ms.src_end) {
      luaL_addchar(&b, *src++);
    } else {
      break;
    }
    if (anchor)
      break;
  }
  flush(&ms);
  if (!changed) {
    lua_pushvalue(L, 1);
  } else {
    luaL_addlstring(&b, src, (size_t)(ms.src_end - src));
    luaL_pushresult(&b);
  }
  lua_pushinteger(L, n);
  return 2;
}

void pk__lua_patterns(lua_State *L, int idx, const pk__lua_charge_fn *charge) {
  static const luaL_Reg fns[] = {{"find", s_find},
                                 {"match", s_match},
                                 {"gmatch", s_gmatch},
                                 {"gsub", s_gsub},
                                 {NULL, NULL}};
  lua_pushvalue(L, idx);
  lua_pushlightuserdata(L, (void *)charge);
  luaL_setfuncs(L, fns, 1);
  lua_pop(L, 1);
}
