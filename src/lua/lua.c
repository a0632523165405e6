/*
 * lua.c: plugins as Lua 5.4 scripts, run in sandboxed lua_States: a pool
 * of them per plugin, one per thread calling at once (core.h, inst_new).
 *
 * A script returns a table (docs/backends/lua.md):
 *
 *   return {
 *     name = "demo", version = "1.0.0",
 *     exports = {
 *       sum = {sig = "(i32,i32)->i32", fn = function(a, b) return a + b end},
 *     },
 *     init = function() ... end,   -- optional; error() fails the open
 *     fini = function() ... end,   -- optional
 *   }
 *
 * The script sees the safe standard libraries (base without load,
 * loadfile and dofile; string, table, math, utf8), plus `host` (the
 * granted host functions), `config` (the open options' key/value pairs)
 * and `log`. More libraries only when the host lists them in the config
 * key "lua.libs". Every allocation of the state goes through the host's
 * allocator hook under a cap (max_memory, "lua.memory"), and every call
 * runs under an instruction budget (fuel, "lua.instructions") and a
 * deadline (call_timeout_ms), both checked by a count hook every TICK
 * instructions (fewer on a big heap: TICK_BYTES). Library functions whose work is not one VM instruction's
 * (patterns, string.rep, table.move, ...) charge their steps to the same
 * budget (charge()); patterns run on a metered matcher (pattern.c).
 *
 * The host reads the script's tables with raw access only (no metamethod
 * runs) and with the collector stopped (no finalizer runs), so no script
 * code runs while it holds pointers into Lua strings.
 *
 * Scalar calls take a fast path that allocates nothing: function values
 * sit in the registry from open on (lua_rawgeti), numbers are pushed and
 * read without creating strings. Calls with strings or bytes run inside a
 * protected C function, since pushing a string can raise a memory error.
 * Lua raises errors with longjmp inside its own frames only: no Lua error
 * crosses a host callback (host functions return before lua_error).
 *
 * Threads: open compiles the script once (lua_dump into the shared state,
 * read-only afterwards) and makes the first state; the core asks for more
 * (script_inst_new) as threads call at once, each loading the bytecode
 * into a fresh sandbox and running the chunk and init. A state is used by
 * one thread at a time: everything a call touches (meters, memory count,
 * the lane of its host calls) is in the state's lua_plug, which the call
 * finds as l->inst. reset_after_call replaces the state by a fresh one.
 */
#include "../core/core.h"
#include "../os/os.h"
#include "pattern.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defaults for the limits; the config keys below override them. */
#define DEFAULT_MEMORY ((size_t)64 << 20) /* bytes per plugin state */
#define DEFAULT_INSTRUCTIONS 100000000    /* VM instructions per call */
#define KEY_MEMORY "lua.memory"
#define KEY_INSTRUCTIONS "lua.instructions"
#define KEY_LIBS "lua.libs"
/* VM instructions between two runs of the count hook: the budget is
   exact to this many, the deadline is checked this often (a clock read
   per tick; about 20-50 us of script). */
#define TICK 10000
/* One instruction may touch every byte the state holds (`<`, `==` or `..`
   on two long strings, string.sub of one, next over an emptied table):
   10000 of them on 16 MB strings ran for seconds between two clock
   reads. So the period shrinks as the heap grows: period x bytes in use
   stays under TICK_BYTES (twice that while the heap grows between two
   hook runs), about 0.1-0.3 s of such work at the most. Up to 64 KiB in
   use, a script's usual heap, the period is TICK. */
#define TICK_BYTES ((size_t)TICK << 16)
/* Budget units the loader charges per export (the host's work for one:
   copies, a signature parse, a registry slot). */
#define EXPORT_COST 64

/* One export while a state's plugin table is read: its name and
   signature (pointers into Lua strings, valid while the collector is
   stopped) and where its function sits in the anchor table. */
typedef struct export_rec {
  const char *name, *sig;
  int slot;
} export_rec;

/*
 * Registry slots of a state's functions: the exports in name order, then
 * init and fini (false when absent). The same in every state of the
 * plugin, so that a pk_func's bindex names its function in all of them.
 * Slot 3 holds 0, as luaL_ref's empty free list would: the keys run
 * 1..n without a hole, so they live in the registry's array part, where
 * lua_rawgeti finds a call's function fastest.
 */
#define SLOT_FREELIST (LUA_RIDX_LAST + 1)
#define SLOT_EXPORTS (LUA_RIDX_LAST + 2)

/*
 * What the plugin's states share (p->bstate): written by open, read-only
 * afterwards, so any thread making a state reads it without a lock.
 */
typedef struct lua_shared {
  size_t mem_limit;       /* cap on each state's memory */
  const char *mem_src;    /* the option that set mem_limit */
  int64_t budget;         /* instructions per outermost call */
  const char *budget_src; /* the option that set budget */
  int timeout_ms;         /* call_timeout_ms, or 0 */
  /* The script's main chunk, compiled once by open (lua_dump of what the
     text loader made, debug information kept for the messages). Each
     further state loads it with mode "b": our own bytecode, made in this
     process by this Lua; the plugin's file is only ever loaded as text. */
  char *code;
  size_t ncode, capcode;
} lua_shared;

/*
 * One instance: a sandboxed lua_State with its own memory accounting,
 * meters and registry. A state serves one thread at a time (the core
 * hands it to one lane at once); open makes the first, the pool the
 * others (inst_new), all from the shared chunk.
 */
typedef struct lua_plug {
  lua_State *L;
  pk_plugin *p;
  pk__lane *lane; /* the lane of the call running in this state (the
                     lane making or freeing it, outside calls) */
  int first;      /* the state open makes: it fills p's name, version and
                     exports; later states check theirs against them */
  size_t mem_used;  /* bytes the state holds */
  /* The limits, copied from the shared state (one load less per hook). */
  size_t mem_limit;
  const char *mem_src;
  int64_t budget;
  const char *budget_src;
  int timeout_ms;
  /* The outermost call's meters; nested calls run on them (not re-armed). */
  int64_t left;      /* budget not used yet (counted at each hook tick) */
  int period;        /* the count hook's period now */
  size_t mem_mark;   /* mem_used past this: the period is too long */
  int64_t tick_left; /* library work until the next clock read */
  uint64_t deadline; /* monotonic ns, or 0 */
  /* Why the last failure happened; reset when an outermost call starts. */
  int mem_hit;        /* the cap refused an allocation */
  int budget_hit;     /* the budget is used up */
  int time_hit;       /* the deadline passed */
  int slot_init;      /* init's registry slot (fini's is the next) */
  int has_init;       /* init is there */
  int has_fini;       /* fini is there */
  int inited;         /* init ran and succeeded: fini must run */
  export_rec *recs;   /* scratch for the exports while the table is read */
  /* The stock string.rep, table.move, table.sort, collectgarbage. */
  lua_CFunction rep, move, sort, collect;
} lua_plug;

static lua_plug *plug_of(lua_State *L) {
  return *(lua_plug **)lua_getextraspace(L);
}

/* ---- probing ------------------------------------------------------------ */

static int script_probe(const unsigned char *head, size_t n, const char *path,
                        int isdir) {
  size_t k = strlen(path);
  if (isdir)
    return 0;
  if (k > 4 && strcmp(path + k - 4, ".lua") == 0)
    return 100;
  if (n > 2 && head[0] == '#' && head[1] == '!') {
    size_t i;
    for (i = 2; i + 3 <= n && head[i] != '\n'; i++)
      if (memcmp(head + i, "lua", 3) == 0)
        return 80;
  }
  return 0;
}

/* ---- the allocator and the limits --------------------------------------- */

static void on_count(lua_State *L, lua_Debug *ar);

/* Run the count hook every `period` instructions from now on. The heap
   may double before the hook must run sooner (mem_mark): not a
   lua_sethook per allocation while it grows. */
static void set_period(lua_State *L, lua_plug *st, int period) {
  st->period = period;
  st->mem_mark = 2 * (TICK_BYTES / (size_t)period);
  lua_sethook(L, on_count, LUA_MASKCOUNT, period);
}

/* The count hook's period for the heap now and the budget left: TICK, or
   less so that period x mem_used <= TICK_BYTES. */
static int period_now(const lua_plug *st) {
  int64_t p = TICK;
  if (st->mem_used > TICK_BYTES / TICK)
    p = (int64_t)(TICK_BYTES / st->mem_used);
  if (p > st->left)
    p = st->left;
  return p > 1 ? (int)p : 1;
}

/*
 * The heap grew past mem_mark since the hook last set the period (a
 * string built, a stack grown): a shorter period at once, before the
 * next instructions compare or copy what was made. Only st->L's hook:
 * this is the allocator, which does not know the running coroutine (the
 * host may open coroutine; a coroutine's period follows at its own next
 * hook run). How many instructions ran since the hook last ran is not
 * known here: the whole old period is counted, so the budget can run out
 * up to a period early, never late (counting none would let a script
 * that grows and frees its heap in turns run a period per round
 * uncounted).
 * The limits are raised by the hook, not here: an allocator must not
 * raise.
 */
static void shorten(lua_plug *st) {
  int p = period_now(st);
  if (st->L == NULL || p >= st->period) {
    st->mem_mark = SIZE_MAX; /* period 1, or no call armed yet */
    return;
  }
  st->left -= st->period;
  set_period(st->L, st, period_now(st));
}

/*
 * lua_Alloc over the host's hook, with the cap. `osize` is the block's
 * size when `ptr` is not NULL (else a type tag, read as 0). A shrink
 * that the host refuses keeps the old, larger block: Lua assumes shrinks
 * succeed, and the block is big enough.
 */
static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  lua_plug *st = ud;
  void *q;
  if (ptr == NULL)
    osize = 0;
  if (nsize == 0) {
    if (ptr != NULL) {
      pk__free(st->p->host, ptr);
      st->mem_used -= osize;
    }
    return NULL;
  }
  /* Once the cap refused, it refuses every growth until the call ends:
     the error cannot be dodged by an emergency collection or a pcall. */
  if (nsize > osize &&
      (st->mem_hit || nsize - osize > st->mem_limit - st->mem_used)) {
    st->mem_hit = 1;
    return NULL;
  }
  q = pk__realloc(st->p->host, ptr, nsize);
  if (q == NULL) {
    if (ptr != NULL && nsize <= osize) {
      st->mem_used -= osize - nsize; /* as Lua now sees the block */
      return ptr;
    }
    return NULL;
  }
  st->mem_used = st->mem_used - osize + nsize;
  if (st->mem_used > st->mem_mark)
    shorten(st);
  return q;
}

/* A limit is hit: from now until the outermost call ends every further
   instruction raises again (period 1), so a pcall, a __close or a
   message handler cannot run on. */
static int raise_limit(lua_State *L, lua_plug *st) {
  st->period = 1;
  st->mem_mark = SIZE_MAX;
  lua_sethook(L, lua_gethook(L), LUA_MASKCOUNT, 1);
  if (st->time_hit)
    return luaL_error(L, "deadline of %d ms exceeded", st->timeout_ms);
  return luaL_error(L, "instruction budget of %lld exceeded",
                    (long long)st->budget);
}

static int past_deadline(lua_plug *st) {
  return st->deadline != 0 && pk__os_clock_ns(1) >= st->deadline;
}

/* The count hook, every `period` instructions: count them, read the
   clock, and stop the script when either limit is gone. The error is
   raised again by the sandbox's pcall and xpcall, so scripts cannot
   catch it. Then the period for the heap and the budget now (longer
   again once the collector freed a big heap). */
static void on_count(lua_State *L, lua_Debug *ar) {
  lua_plug *st = plug_of(L);
  int p;
  (void)ar;
  st->left -= st->period;
  if (st->budget_hit || st->time_hit || st->left <= 0) {
    st->budget_hit |= !st->time_hit;
    raise_limit(L, st);
  }
  if (past_deadline(st)) {
    st->time_hit = 1;
    raise_limit(L, st);
  }
  if ((p = period_now(st)) != st->period)
    set_period(L, st, p);
}

/* Library work done in C (steps of the pattern matcher, elements moved):
   it counts against the same budget as instructions, and reads the clock
   as often as a hook tick's worth of it. May raise. */
static void charge(lua_State *L, size_t n) {
  lua_plug *st = plug_of(L);
  int64_t k = n > (size_t)INT64_MAX / 2 ? INT64_MAX / 2 : (int64_t)n;
  st->left -= k;
  st->tick_left -= k;
  if (st->left < 0 || st->budget_hit || st->time_hit) {
    st->budget_hit |= !st->time_hit;
    raise_limit(L, st);
  }
  if (st->tick_left <= 0) {
    st->tick_left = TICK;
    if (past_deadline(st)) {
      st->time_hit = 1;
      raise_limit(L, st);
    }
  }
}

static const pk__lua_charge_fn charge_fn = charge;

/* Start an outermost call (or the chunk, init, fini): a fresh budget and
   deadline. A nested call (a host function calling back into the plugin)
   does not come here: it runs on what the outer call has left. */
static inline void arm(lua_plug *st) {
  st->mem_hit = 0;
  st->budget_hit = 0;
  st->time_hit = 0;
  st->left = st->budget;
  st->tick_left = TICK;
  st->deadline =
      st->timeout_ms > 0 ? pk__call_deadline(st->lane, st->timeout_ms) : 0;
  /* (Per call: no division while the heap is small.) */
  if (st->mem_used <= TICK_BYTES / TICK && st->budget >= TICK) {
    st->period = TICK;
    st->mem_mark = 2 * (TICK_BYTES / TICK);
    lua_sethook(st->L, on_count, LUA_MASKCOUNT, TICK);
  } else {
    set_period(st->L, st, period_now(st));
  }
}

/* A limit stopped the script: errors must propagate to the host. (A
   refused allocation may surface as a plain error: lauxlib's buffers
   raise "not enough memory" as a runtime error.) */
static int limit_hit(const lua_plug *st) {
  return st->budget_hit || st->mem_hit || st->time_hit;
}

/*
 * Turn a failed lua_pcall (`status`, message on top of the stack) into a
 * code and a one-line message. `what` is the code for a plain script
 * error. A limit names itself and the option that sets it, once.
 */
static int fail_status(lua_plug *st, int status, int what,
                       const char *context) {
  pk_plugin *p = st->p;
  /* Only a string is read: converting another value could raise. */
  const char *msg = lua_type(st->L, -1) == LUA_TSTRING
                        ? lua_tostring(st->L, -1)
                        : "(error object is not a string)";
  if (st->time_hit)
    return pk__perr(p, PK_ETIMEOUT, "%sdeadline of %d ms exceeded (set by "
                    "call_timeout_ms)", context, st->timeout_ms);
  if (st->budget_hit)
    return pk__perr(p, PK_ELIMIT,
                    "%sinstruction budget of %lld exceeded (set by %s)",
                    context, (long long)st->budget, st->budget_src);
  if (st->mem_hit)
    return pk__perr(p, PK_ELIMIT,
                    "%smemory limit of %zu bytes exceeded (set by %s)",
                    context, st->mem_limit, st->mem_src);
  if (status == LUA_ERRMEM)
    return pk__perr(p, PK_ENOMEM, "%sout of memory", context);
  if (status == LUA_ERRERR)
    return pk__perr(p, what, "%serror in the error handler: %s", context, msg);
  return pk__perr(p, what, "%s%s", context, msg);
}

/* The message handler: the error as one line of text (a non-string error
   object is described), with the traceback to the host's log at debug
   level. */
static int msgh(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
      msg = lua_tostring(L, -1);
    else
      msg = lua_pushfstring(L, "(error object is a %s value)",
                            luaL_typename(L, 1));
  }
  /* (Not when the state is near its cap: the traceback must not turn a
     script error into a memory limit.) */
  if (plug_of(L)->p->host->log != NULL && !limit_hit(plug_of(L)) &&
      plug_of(L)->mem_limit - plug_of(L)->mem_used > 65536) {
    size_t len;
    const char *tb;
    luaL_traceback(L, L, msg, 1);
    tb = lua_tolstring(L, -1, &len);
    pk__plugin_log(plug_of(L)->p, PK_LOG_DEBUG, tb, len);
    lua_pop(L, 1);
  }
  return 1;
}

/* ---- the sandbox -------------------------------------------------------- */

/* pcall that lets limit errors through. */
static int sb_pcall(lua_State *L) {
  int status;
  luaL_checkany(L, 1);
  lua_pushboolean(L, 1);
  lua_insert(L, 1);
  status = lua_pcall(L, lua_gettop(L) - 2, LUA_MULTRET, 0);
  if (status == LUA_OK)
    return lua_gettop(L);
  if (limit_hit(plug_of(L)))
    return lua_error(L);
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

/*
 * The message handler xpcall sets: the script's (upvalue 1), except after
 * a limit. The count hook raises the limit error from inside the hook,
 * and Lua calls the message handler right there, with hooks off: the
 * script's handler would run where neither the budget nor the deadline
 * can stop it (a handler that loops held the host for ever). After a
 * limit the error goes through unchanged, as it does through pcall.
 */
static int xpcall_msgh(lua_State *L) {
  if (limit_hit(plug_of(L)))
    return 1;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

/* xpcall(f, msgh, ...), likewise. */
static int sb_xpcall(lua_State *L) {
  int n = lua_gettop(L), status;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, xpcall_msgh, 1);
  lua_replace(L, 2);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2); /* f, msgh, true, f, args... */
  status = lua_pcall(L, n - 2, LUA_MULTRET, 2);
  if (status == LUA_OK)
    return lua_gettop(L) - 2;
  if (limit_hit(plug_of(L)))
    return lua_error(L);
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

static void emit(lua_State *L, int level, const char *msg, size_t len) {
  pk__plugin_log(plug_of(L)->p, level, msg, len);
}

/* log(msg) at info, or log(level, msg) with level "error", "warn", "info",
   "debug" or a PK_LOG_* number. */
static int sb_log(lua_State *L) {
  static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
  int level = PK_LOG_INFO;
  size_t len;
  const char *msg;
  if (lua_gettop(L) >= 2) {
    if (lua_type(L, 1) == LUA_TNUMBER)
      level = (int)luaL_checkinteger(L, 1);
    else
      level = luaL_checkoption(L, 1, NULL, levels);
    msg = luaL_tolstring(L, 2, &len);
  } else {
    msg = luaL_tolstring(L, 1, &len);
  }
  emit(L, level, msg, len);
  return 0;
}

/* print(...): one info line, values separated by tabs, as Lua's print. */
static int sb_print(lua_State *L) {
  int n = lua_gettop(L), i;
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (i = 1; i <= n; i++) {
    size_t len;
    const char *s = luaL_tolstring(L, i, &len);
    if (i > 1)
      luaL_addchar(&b, '\t');
    luaL_addlstring(&b, s, len);
    lua_pop(L, 1);
  }
  luaL_pushresult(&b);
  {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    emit(L, PK_LOG_INFO, s, len);
  }
  return 0;
}

/* Read Lua value `i` as parameter `k` of type `t` of host function
   `name`; raises a Lua error when it does not fit. */
static void to_val(lua_State *L, int i, int t, pk_val *v) {
  switch (t) {
  case PK_T_I32:
    v->i32 = (int32_t)(uint32_t)luaL_checkinteger(L, i);
    break;
  case PK_T_I64:
    v->i64 = (int64_t)luaL_checkinteger(L, i);
    break;
  case PK_T_F32:
    v->f32 = (float)luaL_checknumber(L, i);
    break;
  case PK_T_F64:
    v->f64 = (double)luaL_checknumber(L, i);
    break;
  case PK_T_STR:
    v->str.ptr = luaL_checklstring(L, i, &v->str.len);
    break;
  default:
    v->bytes.ptr = (const uint8_t *)luaL_checklstring(L, i, &v->bytes.len);
    break;
  }
  v->type = (uint32_t)t;
}

static void push_val(lua_State *L, const pk_val *v, int t) {
  switch (t) {
  case PK_T_I32:
    lua_pushinteger(L, v->i32);
    break;
  case PK_T_I64:
    lua_pushinteger(L, v->i64);
    break;
  case PK_T_F32:
    lua_pushnumber(L, v->f32);
    break;
  case PK_T_F64:
    lua_pushnumber(L, v->f64);
    break;
  case PK_T_STR:
    lua_pushlstring(L, v->str.len ? v->str.ptr : "", v->str.len);
    break;
  default:
    lua_pushlstring(L, v->bytes.len ? (const char *)v->bytes.ptr : "",
                    v->bytes.len);
    break;
  }
}

/*
 * A granted host function, as host.<name>(...). Upvalue 1 is its index
 * among the plugin's grants. Failure raises a Lua error carrying the
 * host's message, after the host function has returned.
 */
static int sb_host_call(lua_State *L) {
  lua_plug *st = plug_of(L);
  pk_plugin *p = st->p;
  int32_t idx = (int32_t)lua_tointeger(L, lua_upvalueindex(1));
  const pk__hostfn *f = &p->host->fns[p->grants[idx]];
  pk_val args[PK_MAX_PARAMS], res[PK_MAX_RESULTS];
  int i, n = lua_gettop(L), rc;

  if (n != f->sig.nparams)
    return luaL_error(L, "host.%s takes %d arguments (%s), %d given", f->name,
                      f->sig.nparams, f->sigtext, n);
  for (i = 0; i < n; i++)
    to_val(L, i + 1, f->sig.params[i], &args[i]);
  rc = pk__hostfn_call(st->lane, idx, args, (size_t)n, res, f->sig.nresults);
  if (rc < 0)
    return luaL_error(L, "%s (%s)", pk_host_errmsg(p->host), pk_errname(rc));
  luaL_checkstack(L, f->sig.nresults, "host function results");
  for (i = 0; i < f->sig.nresults; i++)
    push_val(L, &res[i], f->sig.results[i]);
  return f->sig.nresults;
}

/* ---- library functions with work beyond one instruction ---------------- */

/* string.rep(s, n [, sep]): n copies, each a step (empty strings cost no
   memory, so memory alone does not bound n). */
static int l_rep(lua_State *L) {
  lua_plug *st = plug_of(L);
  size_t l, lsep;
  lua_Integer n;
  luaL_checklstring(L, 1, &l);
  n = luaL_checkinteger(L, 2);
  luaL_optlstring(L, 3, "", &lsep);
  if (n > 0 && l + lsep == 0) {
    lua_pushliteral(L, "");
    return 1;
  }
  /* Charged only when the result fits in memory: a bigger one fails on
     the memory limit, and its name is the better message. */
  if (n > 0 && (l + lsep) <= (st->mem_limit - st->mem_used) / (size_t)n)
    charge(L, (size_t)n);
  return st->rep(L);
}

/*
 * string.upper, lower, reverse and format, tonumber, and the utf8 and
 * range functions below loop over every byte in C at 1.5-5 ns a byte,
 * about an instruction's time each (the VM's own work on strings, `..`
 * and `<`, is memcpy's and memcmp's speed and left to the hook's
 * period): utf8.len of a 16 MB string took 270 ms in one instruction,
 * and a loop of them ran for a minute past the deadline. Here: a step
 * per byte of the strings they read, charged before the work. Upvalue 1
 * is the stock function, called in this frame (its argument errors name
 * the function as before).
 */
static int l_per_byte(lua_State *L) {
  int i, top = lua_gettop(L);
  size_t n = 0, len;
  for (i = 1; i <= top; i++)
    if (lua_type(L, i) == LUA_TSTRING) {
      lua_tolstring(L, i, &len);
      n += len;
    }
  charge(L, n);
  return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

/* A string function over the range i..j of s (arguments 2 and 3; j
   defaults to -1, or with `j_is_i` to i): a step per byte of the range,
   then the stock function (upvalue 1). A loop that asks about a short
   range of a long string pays for what it reads, not for all of s. */
static int range_call(lua_State *L, int j_is_i) {
  size_t len, n;
  lua_Integer i, j;
  int ok = 1, okj = 1;
  luaL_checklstring(L, 1, &len);
  i = lua_isnoneornil(L, 2) ? 1 : lua_tointegerx(L, 2, &ok);
  j = lua_isnoneornil(L, 3) ? (j_is_i ? i : -1) : lua_tointegerx(L, 3, &okj);
  n = len; /* (a bad i or j: the stock function raises) */
  if (ok && okj) {
    /* positions as the stock function reads them, 1..len */
    i = i >= 0 ? i : (lua_Integer)len + i + 1;
    j = j >= 0 ? j : (lua_Integer)len + j + 1;
    if (i < 1)
      i = 1;
    if (j > (lua_Integer)len)
      j = (lua_Integer)len;
    n = j >= i ? (size_t)(j - i + 1) : 0;
  }
  charge(L, n);
  return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

/* utf8.len(s [, i [, j]]): decodes i..j. */
static int l_utf8_len(lua_State *L) { return range_call(L, 0); }

/* string.byte and utf8.codepoint (s [, i [, j]]): a value pushed (and
   decoded) per byte or character of i..j, j defaulting to i; up to a
   million in one call. */
static int l_values(lua_State *L) { return range_call(L, 1); }

/*
 * utf8.offset(s, n [, i]): walks from i over n characters, and over any
 * run of continuation bytes however small n is: all of s in one call.
 * Charged after the stock function (upvalue 1) by the bytes between i
 * and where it stopped (the end it walked to when it found nothing). One
 * call's work is bounded by the string; the budget sees it.
 */
static int l_utf8_offset(lua_State *L) {
  size_t len;
  lua_Integer n, i, to;
  int top = lua_gettop(L); /* the result goes above the arguments */
  luaL_checklstring(L, 1, &len);
  lua_tocfunction(L, lua_upvalueindex(1))(L); /* raises on bad arguments */
  n = lua_tointeger(L, 2);
  /* i as the stock function read it (it accepted it: 1..len + 1) */
  i = top < 3 || lua_isnil(L, 3) ? (n >= 0 ? 1 : (lua_Integer)len + 1)
                                 : lua_tointeger(L, 3);
  if (i < 0)
    i = (lua_Integer)len + i + 1;
  if (lua_isinteger(L, -1))
    to = lua_tointeger(L, -1);
  else
    to = n > 0 ? (lua_Integer)len + 1 : 1;
  charge(L, (size_t)(to >= i ? to - i : i - to));
  return 1;
}

/* Replace t.name (t at index -1) by `meter` over the stock function. */
static void meter_fn(lua_State *L, const char *name, lua_CFunction meter) {
  lua_getfield(L, -1, name);
  lua_pushcclosure(L, meter, 1);
  lua_setfield(L, -2, name);
}

/* table.move(a1, f, e, t [, a2]): e - f + 1 elements moved. */
static int l_move(lua_State *L) {
  lua_Integer f = luaL_checkinteger(L, 2), e = luaL_checkinteger(L, 3);
  if (e >= f) {
    lua_Unsigned n = (lua_Unsigned)e - (lua_Unsigned)f;
    charge(L, n >= SIZE_MAX ? SIZE_MAX : (size_t)n + 1);
  }
  return plug_of(L)->move(L);
}

/*
 * table.insert, table.remove, table.concat and table.unpack, with each
 * element they touch charged. The stock ones take the length from __len,
 * which the script controls: a huge length moves elements for ever
 * without using memory. They cannot be wrapped (asking __len first and
 * again inside would let a script answer differently), so these are the
 * manual's functions (section 6.6) again, metered. Like the stock ones
 * they take a non-table with the metamethods they use.
 */
static void check_tab(lua_State *L, int arg, const char *const *needs) {
  int n = 1;
  if (lua_type(L, arg) == LUA_TTABLE)
    return;
  if (lua_getmetatable(L, arg)) {
    for (; *needs != NULL; needs++) {
      lua_pushstring(L, *needs);
      if (lua_rawget(L, -(++n)) == LUA_TNIL)
        break;
    }
    if (*needs == NULL) {
      lua_pop(L, n);
      return;
    }
  }
  luaL_checktype(L, arg, LUA_TTABLE); /* raises */
}

static const char *const needs_r[] = {"__index", "__len", NULL};
static const char *const needs_rw[] = {"__index", "__newindex", "__len",
                                       NULL};

static int l_insert(lua_State *L) {
  lua_Integer e, pos;
  check_tab(L, 1, needs_rw);
  e = luaL_len(L, 1);
  e = (lua_Integer)((lua_Unsigned)e + 1u); /* the first empty slot */
  switch (lua_gettop(L)) {
  case 2:
    pos = e;
    break;
  case 3: {
    lua_Integer i;
    pos = luaL_checkinteger(L, 2);
    luaL_argcheck(L, (lua_Unsigned)pos - 1u < (lua_Unsigned)e, 2,
                  "position out of bounds");
    for (i = e; i > pos; i--) {
      charge(L, 1);
      lua_geti(L, 1, i - 1);
      lua_seti(L, 1, i);
    }
    break;
  }
  default:
    return luaL_error(L, "wrong number of arguments to 'insert'");
  }
  lua_seti(L, 1, pos);
  return 0;
}

static int l_remove(lua_State *L) {
  lua_Integer size, pos;
  check_tab(L, 1, needs_rw);
  size = luaL_len(L, 1);
  pos = luaL_optinteger(L, 2, size);
  if (pos != size)
    luaL_argcheck(L, (lua_Unsigned)pos - 1u <= (lua_Unsigned)size, 2,
                  "position out of bounds");
  lua_geti(L, 1, pos);
  for (; pos < size; pos++) {
    charge(L, 1);
    lua_geti(L, 1, pos + 1);
    lua_seti(L, 1, pos);
  }
  lua_pushnil(L);
  lua_seti(L, 1, pos);
  return 1;
}

static void concat_field(lua_State *L, luaL_Buffer *b, lua_Integer i) {
  charge(L, 1);
  lua_geti(L, 1, i);
  if (!lua_isstring(L, -1))
    luaL_error(L, "invalid value (at index %I) in table for 'concat'",
               (LUAI_UACINT)i);
  luaL_addvalue(b);
}

static int l_concat(lua_State *L) {
  luaL_Buffer b;
  lua_Integer last, i;
  size_t lsep;
  const char *sep;
  check_tab(L, 1, needs_r);
  last = luaL_len(L, 1);
  sep = luaL_optlstring(L, 2, "", &lsep);
  i = luaL_optinteger(L, 3, 1);
  last = luaL_optinteger(L, 4, last);
  luaL_buffinit(L, &b);
  for (; i < last; i++) {
    concat_field(L, &b, i);
    luaL_addlstring(&b, sep, lsep);
  }
  if (i == last)
    concat_field(L, &b, i);
  luaL_pushresult(&b);
  return 1;
}

static int l_unpack(lua_State *L) {
  lua_Unsigned n;
  lua_Integer i = luaL_optinteger(L, 2, 1);
  lua_Integer e = luaL_opt(L, luaL_checkinteger, 3, luaL_len(L, 1));
  if (i > e)
    return 0;
  n = (lua_Unsigned)e - (lua_Unsigned)i; /* elements - 1, no overflow */
  if (n >= (unsigned int)INT_MAX || !lua_checkstack(L, (int)(++n)))
    return luaL_error(L, "too many results to unpack");
  charge(L, (size_t)n);
  for (; i < e; i++)
    lua_geti(L, 1, i);
  lua_geti(L, 1, e);
  return (int)n;
}

/*
 * table.sort(t [, comp]): the stock sort, with each comparison charged.
 * Its comparisons run in C: with `<` on strings, or a comparator that is
 * a C function (math.type answers nil for two nils), a sort of a __len
 * the script controls runs its n log n comparisons without one VM
 * instruction. `<` on two strings is charged a step per 64 bytes more
 * (it compares up to the shorter one's length).
 */
static int sort_lt(lua_State *L) {
  size_t la, lb, n = 1;
  if (lua_type(L, 1) == LUA_TSTRING && lua_type(L, 2) == LUA_TSTRING) {
    lua_tolstring(L, 1, &la);
    lua_tolstring(L, 2, &lb);
    n += (la < lb ? la : lb) / 64;
  }
  charge(L, n);
  lua_pushboolean(L, lua_compare(L, 1, 2, LUA_OPLT));
  return 1;
}

/* The script's comparator (upvalue 1), a step per call. */
static int sort_comp(lua_State *L) {
  charge(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

static int l_sort(lua_State *L) {
  lua_plug *st = plug_of(L);
  if (lua_gettop(L) == 0)
    return st->sort(L); /* the stock error */
  if (lua_isnoneornil(L, 2)) {
    lua_settop(L, 1);
    lua_pushcfunction(L, sort_lt);
  } else {
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_settop(L, 2);
    lua_pushcclosure(L, sort_comp, 1);
  }
  return st->sort(L);
}

/*
 * collectgarbage([opt, ...]): a full collection is work in proportion to
 * the heap, for one instruction; charged a step per 64 bytes the state
 * holds. So is a change of mode ("generational" runs a full collection,
 * "incremental" from there sweeps every object).
 *
 * The collector's parameters stay Lua's defaults: the tuning arguments of
 * "incremental" and "generational" are ignored, and "setpause" and
 * "setstepmul" change nothing (they return the value in force). The
 * collector's work is in no instruction's count, and its defaults keep
 * it in proportion to what the script allocates; with a small pause
 * and a step (step size times multiplier) as big as the heap, every
 * allocation ran a whole cycle.
 */
static int l_collect(lua_State *L) {
  lua_plug *st = plug_of(L);
  const char *opt = luaL_optstring(L, 1, "collect");
  int what;
  if (strcmp(opt, "collect") == 0 || strcmp(opt, "step") == 0 ||
      strcmp(opt, "incremental") == 0 || strcmp(opt, "generational") == 0)
    charge(L, st->mem_used / 64 + 1);
  if (strcmp(opt, "incremental") == 0 || strcmp(opt, "generational") == 0)
    lua_settop(L, 1);
  what = strcmp(opt, "setpause") == 0     ? LUA_GCSETPAUSE
         : strcmp(opt, "setstepmul") == 0 ? LUA_GCSETSTEPMUL
                                          : -1;
  if (what >= 0) {
    int now = lua_gc(L, what, 0); /* (sets 0: put back at once) */
    lua_gc(L, what, now);
    lua_pushinteger(L, now);
    return 1;
  }
  return st->collect(L);
}

/* Put the metered functions in place of the stock ones. */
static void meter_libs(lua_State *L) {
  static const luaL_Reg tab[] = {{"move", l_move},     {"insert", l_insert},
                                 {"remove", l_remove}, {"concat", l_concat},
                                 {"unpack", l_unpack}, {"sort", l_sort},
                                 {NULL, NULL}};
  lua_plug *st = plug_of(L);
  lua_getglobal(L, LUA_STRLIBNAME);
  pk__lua_patterns(L, -1, &charge_fn);
  lua_getfield(L, -1, "rep");
  st->rep = lua_tocfunction(L, -1);
  lua_pop(L, 1);
  lua_pushcfunction(L, l_rep);
  lua_setfield(L, -2, "rep");
  meter_fn(L, "upper", l_per_byte);
  meter_fn(L, "lower", l_per_byte);
  meter_fn(L, "reverse", l_per_byte);
  meter_fn(L, "format", l_per_byte);
  meter_fn(L, "byte", l_values);
  lua_pop(L, 1);
  /* tonumber(s [, base]) reads all of s (first for an 'n', then the
     digits). */
  lua_pushglobaltable(L);
  meter_fn(L, "tonumber", l_per_byte);
  lua_pop(L, 1);
  lua_getglobal(L, LUA_UTF8LIBNAME);
  meter_fn(L, "len", l_utf8_len);
  meter_fn(L, "codepoint", l_values);
  meter_fn(L, "offset", l_utf8_offset);
  lua_getglobal(L, LUA_TABLIBNAME);
  lua_getfield(L, -1, "move");
  st->move = lua_tocfunction(L, -1);
  lua_pop(L, 1);
  lua_getfield(L, -1, "sort");
  st->sort = lua_tocfunction(L, -1);
  lua_pop(L, 1);
  luaL_setfuncs(L, tab, 0);
  lua_pop(L, 2);
  lua_getglobal(L, "collectgarbage");
  st->collect = lua_tocfunction(L, -1);
  lua_pop(L, 1);
  if (st->collect != NULL)
    lua_register(L, "collectgarbage", l_collect);
}

/*
 * setmetatable (and debug.setmetatable, when the host opens debug)
 * without finalizers. Lua runs a __gc metamethod with the debug hooks
 * off, so neither the instruction budget nor the deadline could stop
 * one: a finalizer that loops would hang the host at the next
 * collection, or at close. A metatable that has a __gc field when it is
 * set is refused (any value: the field's presence then is what marks the
 * object for finalization; one added later marks nothing). The
 * original function, upvalue 1, does the rest.
 */
static int sb_setmetatable(lua_State *L) {
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL)
      return luaL_error(L, "setmetatable: a metatable with __gc is not "
                           "allowed (finalizers run where the plugin's "
                           "limits cannot stop them)");
    lua_pop(L, 1);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

/* debug.sethook, where the host opens debug: the count hook is what
   enforces the budget and the deadline, and a script that replaced or
   removed it ran on without either. */
static int sb_sethook(lua_State *L) {
  return luaL_error(L, "debug.sethook is not allowed (the plugin's "
                       "instruction budget and deadline run on the count "
                       "hook)");
}

/* Replaces t.name (t at index idx, or the globals if idx is 0) by
   sb_setmetatable over it. */
static void guard_setmetatable(lua_State *L, int idx, const char *name) {
  if (idx == 0)
    lua_pushglobaltable(L);
  else
    lua_pushvalue(L, idx);
  if (lua_getfield(L, -1, name) == LUA_TFUNCTION) {
    lua_pushcclosure(L, sb_setmetatable, 1);
    lua_setfield(L, -2, name);
  } else {
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
}

/*
 * load and loadfile, where the host opens them: text only, whatever mode
 * the script asks for. string.dump makes bytecode of any function, and
 * Lua does not check bytecode: a chunk with a bad operand crashed the
 * host. Upvalue 1 is the stock function, upvalue 2 the index of its mode
 * argument.
 */
static int sb_load_text(lua_State *L) {
  int mode = (int)lua_tointeger(L, lua_upvalueindex(2));
  if (lua_gettop(L) < mode)
    lua_settop(L, mode); /* nil: as absent to the stock function */
  lua_pushliteral(L, "t");
  lua_replace(L, mode);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

/* dofile([filename]), where the host opens it: the file as text only
   (the stock one loads bytecode too). */
static int sb_dofile(lua_State *L) {
  const char *fname = luaL_optstring(L, 1, NULL);
  lua_settop(L, 1);
  if (luaL_loadfilex(L, fname, "t") != LUA_OK)
    return lua_error(L);
  lua_call(L, 0, LUA_MULTRET);
  return lua_gettop(L) - 1;
}

/* Is `name` listed in the comma-separated config value `libs`? */
static int lib_wanted(const pk_str *libs, const char *name) {
  size_t k = strlen(name), i = 0;
  while (i < libs->len) {
    size_t j = i;
    while (j < libs->len && libs->ptr[j] != ',')
      j++;
    while (i < j && libs->ptr[i] == ' ')
      i++;
    if (j - i >= k && memcmp(libs->ptr + i, name, k) == 0) {
      size_t e = i + k;
      while (e < j && libs->ptr[e] == ' ')
        e++;
      if (e == j)
        return 1;
    }
    i = j + 1;
  }
  return 0;
}

/* Build the sandbox's globals. Runs protected: allocation may fail. */
static int setup(lua_State *L) {
  static const struct {
    const char *name;
    lua_CFunction open;
    int safe; /* opened unless configured otherwise */
  } libs[] = {
      {LUA_GNAME, luaopen_base, 1},
      {LUA_STRLIBNAME, luaopen_string, 1},
      {LUA_TABLIBNAME, luaopen_table, 1},
      {LUA_MATHLIBNAME, luaopen_math, 1},
      {LUA_UTF8LIBNAME, luaopen_utf8, 1},
      {LUA_COLIBNAME, luaopen_coroutine, 0},
      {LUA_IOLIBNAME, luaopen_io, 0},
      {LUA_OSLIBNAME, luaopen_os, 0},
      {LUA_LOADLIBNAME, luaopen_package, 0},
      {LUA_DBLIBNAME, luaopen_debug, 0},
  };
  lua_plug *st = plug_of(L);
  pk_plugin *p = st->p;
  pk_str want = {"", 0};
  const char *s;
  size_t i;

  pk__config_get(p, KEY_LIBS, strlen(KEY_LIBS), &want);
  for (i = 0; i < sizeof libs / sizeof libs[0]; i++) {
    if (!libs[i].safe && !lib_wanted(&want, libs[i].name))
      continue;
    luaL_requiref(L, libs[i].name, libs[i].open, 1);
    lua_pop(L, 1);
  }
  meter_libs(L);
  guard_setmetatable(L, 0, "setmetatable");
  if (lua_getglobal(L, LUA_DBLIBNAME) == LUA_TTABLE) {
    guard_setmetatable(L, -1, "setmetatable");
    lua_pushcfunction(L, sb_sethook);
    lua_setfield(L, -2, "sethook");
  }
  lua_pop(L, 1);
  /* Base functions that reach the file system or load code: absent, or
     loading text only. */
  lua_pushnil(L);
  if (lib_wanted(&want, "load")) {
    lua_getglobal(L, "load");
    lua_pushinteger(L, 3);
    lua_pushcclosure(L, sb_load_text, 2);
  }
  lua_setglobal(L, "load");
  lua_pushnil(L);
  lua_pushnil(L);
  if (lib_wanted(&want, "dofile")) {
    lua_pushcfunction(L, sb_dofile);
    lua_getglobal(L, "loadfile");
    lua_pushinteger(L, 2);
    lua_pushcclosure(L, sb_load_text, 2);
  }
  lua_setglobal(L, "loadfile");
  lua_setglobal(L, "dofile");
  lua_register(L, "pcall", sb_pcall);
  lua_register(L, "xpcall", sb_xpcall);
  lua_register(L, "log", sb_log);
  lua_register(L, "print", sb_print);

  /* host: one closure per granted host function. */
  lua_createtable(L, 0, (int)p->ngrants);
  for (i = 0; i < p->ngrants; i++) {
    lua_pushinteger(L, (lua_Integer)i);
    lua_pushcclosure(L, sb_host_call, 1);
    lua_setfield(L, -2, p->host->fns[p->grants[i]].name);
  }
  lua_setglobal(L, "host");

  /* config: the key/value pairs, as strings. */
  lua_newtable(L);
  for (s = p->config; s != NULL && *s != '\0';) {
    const char *v = s + strlen(s) + 1;
    lua_pushstring(L, v);
    lua_setfield(L, -2, s);
    s = v + strlen(v) + 1;
  }
  lua_setglobal(L, "config");
  return 0;
}

/* ---- calls -------------------------------------------------------------- */

static int is_scalar(const pk__sig *sig) {
  int i;
  for (i = 0; i < sig->nparams; i++)
    if (sig->params[i] == PK_T_STR || sig->params[i] == PK_T_BYTES)
      return 0;
  for (i = 0; i < sig->nresults; i++)
    if (sig->results[i] == PK_T_STR || sig->results[i] == PK_T_BYTES)
      return 0;
  return 1;
}

static void push_args(lua_State *L, const pk_func *f, const pk_val *args) {
  int i;
  for (i = 0; i < f->sig.nparams; i++)
    push_val(L, &args[i], f->sig.params[i]);
}

/*
 * Read the results, the first at stack index `base`, into `out`, type tags
 * included. Strings are copied into the call arena (valid until the next
 * call). Returns PK_OK, PK_ETYPE (a result does not fit the signature) or
 * PK_ENOMEM.
 */
static int take_results(lua_State *L, pk__lane *l, pk_func *f, int base,
                        pk_val *out) {
  pk_plugin *p = f->plugin;
  int i;
  for (i = 0; i < f->sig.nresults; i++) {
    int t = f->sig.results[i], idx = base + i, ok = 1;
    int lt = lua_type(L, idx);
    out[i].type = (uint32_t)t;
    if (t == PK_T_STR || t == PK_T_BYTES) {
      size_t len;
      const char *s;
      char *d;
      if (lt != LUA_TSTRING)
        goto bad;
      s = lua_tolstring(L, idx, &len);
      if ((d = pk__arena_alloc(p->host, &l->arena, len ? len : 1)) == NULL)
        return pk__perr(p, PK_ENOMEM, "out of memory for a %zu-byte result",
                        len);
      memcpy(d, s, len);
      if (t == PK_T_STR) {
        out[i].str.ptr = d;
        out[i].str.len = len;
      } else {
        out[i].bytes.ptr = (const uint8_t *)d;
        out[i].bytes.len = len;
      }
      continue;
    }
    if (lt != LUA_TNUMBER)
      goto bad;
    if (t == PK_T_F64) {
      out[i].f64 = (double)lua_tonumber(L, idx);
    } else if (t == PK_T_F32) {
      out[i].f32 = (float)lua_tonumber(L, idx);
    } else {
      lua_Integer v = lua_tointegerx(L, idx, &ok);
      if (!ok)
        return pk__perr(p, PK_ETYPE,
                        "result %d is %g, not an integer (signature %s)", i + 1,
                        (double)lua_tonumber(L, idx), f->sigtext);
      if (t == PK_T_I32)
        out[i].i32 = (int32_t)(uint32_t)v; /* wraps, like i32.add */
      else
        out[i].i64 = (int64_t)v;
    }
    continue;
  bad:
    return pk__perr(p, PK_ETYPE, "result %d is a %s, the signature %s wants %s",
                    i + 1, lua_typename(L, lt), f->sigtext, pk_type_name(t));
  }
  return PK_OK;
}

typedef struct call_frame {
  pk__lane *l;
  pk_func *f;
  const pk_val *args;
  pk_val *results;
  int rc;
} call_frame;

/* A call with strings: pushing them may raise, so all of it is protected.
   Argument 1 is the call_frame. */
static int call_protected(lua_State *L) {
  call_frame *c = lua_touserdata(L, 1);
  int base = lua_gettop(L) + 1;
  luaL_checkstack(L, c->f->sig.nparams + c->f->sig.nresults + 1, NULL);
  lua_rawgeti(L, LUA_REGISTRYINDEX, (lua_Integer)c->f->bindex);
  push_args(L, c->f, c->args);
  lua_call(L, c->f->sig.nparams, c->f->sig.nresults);
  c->rc = take_results(L, c->l, c->f, base, c->results);
  return 0;
}

static int script_invoke(pk__lane *l, pk_func *f, const pk_val *args,
                         pk_val *results) {
  pk_plugin *p = f->plugin;
  lua_plug *st = l->inst; /* this thread's state for the call */
  lua_State *L = st->L;
  int top = lua_gettop(L), h = 1, status, rc = PK_OK;

  /* The state reset_after_call makes runs its chunk and init while the
     lane holds it: a host function they call that calls the plugin back
     reaches it here, where the core stops such a call for a state the
     open or the pool makes (it has no state yet). The same answer, so
     that the state calls start from is the one the open made. */
  if (!st->inited)
    return pk__perr(p, PK_EINIT,
                    "'%s' was called during the init of the instance it "
                    "would run in (by a host function init calls): an "
                    "instance takes calls once its init has returned",
                    f->name);
  st->lane = l;
  /* A call from inside a host function (the plugin calls the host, which
     calls the plugin) stacks above the outer call's values, and runs on
     the outer call's budget and deadline: only an outermost call arms. */
  if (l->in_host > 0) {
    if (!lua_checkstack(L, PK_MAX_PARAMS + PK_MAX_RESULTS + 4))
      return pk__perr(p, PK_ENOMEM, "out of Lua stack");
    lua_pushcfunction(L, msgh);
    h = top + 1;
  } else {
    arm(st);
  }
  if (is_scalar(&f->sig)) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, (lua_Integer)f->bindex);
    push_args(L, f, args);
    status = lua_pcall(L, f->sig.nparams, f->sig.nresults, h);
    if (status == LUA_OK)
      rc = take_results(L, l, f, h + 1, results);
  } else {
    call_frame c;
    c.l = l;
    c.f = f;
    c.args = args;
    c.results = results;
    c.rc = PK_OK;
    lua_pushcfunction(L, call_protected);
    lua_pushlightuserdata(L, &c);
    status = lua_pcall(L, 1, 0, h);
    rc = c.rc;
  }
  if (status != LUA_OK) {
    rc = fail_status(st, status, PK_EPLUGIN, "");
    if (st->mem_hit && l->in_host == 0) {
      lua_settop(L, top);
      lua_gc(L, LUA_GCCOLLECT); /* give the memory back before the next */
    }
  }
  lua_settop(L, top);
  return rc;
}

/* ---- open and close ------------------------------------------------------ */

/* luaL_loadfilex, protected (it pushes the chunk name unprotected).
   Arguments: the path, and an int for luaL_loadfilex's status. */
static int load_protected(lua_State *L) {
  const char *path = lua_touserdata(L, 1);
  int *status = lua_touserdata(L, 2);
  lua_settop(L, 0);
  *status = luaL_loadfilex(L, path, "t"); /* text only: no bytecode */
  return 1;
}

/* The same for a private copy of an artifact (pk__src): the script is in
   buf (n bytes, read whole), and the chunk is named after what the host
   knows it as, not the copy ("/proc/self/fd/N"), so positions in
   messages name the artifact. A UTF-8 BOM and a first line starting
   with '#' are skipped as luaL_loadfilex skips them (the newline kept:
   line numbers stay). */
typedef struct named_load {
  const char *buf;
  size_t n;
  const char *chunk; /* "@" + the name */
  int *status;
} named_load;

static int load_named_protected(lua_State *L) {
  named_load *nl = lua_touserdata(L, 1);
  const char *b = nl->buf;
  size_t n = nl->n;
  lua_settop(L, 0);
  if (n >= 3 && memcmp(b, "\xEF\xBB\xBF", 3) == 0) {
    b += 3;
    n -= 3;
  }
  if (n > 0 && b[0] == '#')
    while (n > 0 && b[0] != '\n') {
      b++;
      n--;
    }
  *nl->status = luaL_loadbufferx(L, b, n, nl->chunk, "t");
  return 1;
}

static int cmp_recs(const void *a, const void *b) {
  return strcmp(((const export_rec *)a)->name, ((const export_rec *)b)->name);
}

/* Read a limit from the config: a positive decimal number, or the
   default. */
static int config_number(pk_plugin *p, const char *key, double max, double def,
                         double *out) {
  pk_str v;
  char buf[32], *end;
  double d;
  if (pk__config_get(p, key, strlen(key), &v) < 0) {
    *out = def;
    return PK_OK;
  }
  if (v.len == 0 || v.len >= sizeof buf)
    goto bad;
  memcpy(buf, v.ptr, v.len);
  buf[v.len] = '\0';
  d = strtod(buf, &end);
  if (*end != '\0' || !(d >= 1 && d <= max))
    goto bad;
  *out = d;
  return PK_OK;
bad:
  return pk__perr(p, PK_EINVAL,
                  "config %s is '%.*s': not a number from 1 "
                  "to %.0f",
                  key, (int)v.len, v.ptr, max);
}

/* Push t[key] (t an absolute index) without metamethods; its type. */
static int raw_field(lua_State *L, int t, const char *key) {
  lua_pushstring(L, key);
  return lua_rawget(L, t);
}

/*
 * Read the plugin table (stack index 1 of this protected function): the
 * first state fills p's name, version and exports; a later state checks
 * that its script returned the same exports (a script may compute its
 * table: each state must agree with the first, whose pk_func the host
 * holds). Either way the functions go to their registry slots. Errors
 * that are ours (a bad table) are returned through the light userdata's
 * int at index 2, Lua errors (memory, the budget) are raised.
 *
 * No script code runs in here: every read is raw (no __index, no __len)
 * and the caller stopped the collector (no __gc), so the name and
 * signature pointers into Lua strings stay valid until pk__func_init has
 * copied them. The work is linear in the exports (one pass, a sort) and
 * charged to the budget, EXPORT_COST each.
 */
static int read_table(lua_State *L) {
  lua_plug *st = plug_of(L);
  pk_plugin *p = st->p;
  int *rc = lua_touserdata(L, 2);
  size_t n = 0, i;

  *rc = PK_OK;
  raw_field(L, 1, "name");    /* index 3 */
  raw_field(L, 1, "version"); /* index 4 */
  if (lua_type(L, 3) != LUA_TSTRING || lua_type(L, 4) != LUA_TSTRING) {
    *rc = pk__perr(p, PK_EFORMAT,
                   "the plugin table needs string fields "
                   "'name' and 'version'");
    return 0;
  }
  if (st->first) {
    p->abi_major = PK_ABI_MAJOR; /* a script uses the host's ABI */
    p->abi_minor = PK_ABI_MINOR;
    if ((p->name = pk__plugin_strdup(p, lua_tostring(L, 3))) == NULL ||
        (p->version = pk__plugin_strdup(p, lua_tostring(L, 4))) == NULL) {
      *rc = pk__perr(p, PK_ENOMEM, "out of memory");
      return 0;
    }
  }
  if (raw_field(L, 1, "exports") != LUA_TTABLE) { /* index 5 */
    *rc = pk__perr(p, PK_EFORMAT, "the plugin table has no 'exports' table");
    return 0;
  }
  for (lua_pushnil(L); lua_next(L, 5); lua_pop(L, 1)) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      *rc = pk__perr(p, PK_EFORMAT, "exports has a key that is not a string");
      return 0;
    }
    charge(L, EXPORT_COST);
    n++;
  }
  if (!st->first && n != p->nfuncs) {
    *rc = pk__perr(p, PK_EINIT,
                   "the script returned %zu exports in this state, %zu in "
                   "the first: a script must return the same exports in "
                   "every state",
                   n, p->nfuncs);
    return 0;
  }
  if (n > 0 && (n > (size_t)INT_MAX - SLOT_EXPORTS - 2 ||
                (st->recs = pk__alloc(p->host, n * sizeof *st->recs)) == NULL)) {
    *rc = pk__perr(p, PK_ENOMEM, "out of memory for %zu exports", n);
    return 0;
  }
  /* index 6: the functions, in a sequence, until they have slots. */
  lua_createtable(L, (int)n, 0);
  i = 0;
  for (lua_pushnil(L); lua_next(L, 5); lua_pop(L, 1)) {
    export_rec *r = &st->recs[i];
    int entry = lua_gettop(L);
    r->name = lua_tostring(L, -2); /* a string key: no conversion */
    if (lua_type(L, entry) != LUA_TTABLE) {
      *rc = pk__perr(p, PK_EFORMAT,
                     "export '%s' is not a table {sig = "
                     "\"...\", fn = function}",
                     r->name);
      return 0;
    }
    r->sig = raw_field(L, entry, "sig") == LUA_TSTRING ? lua_tostring(L, -1)
                                                        : NULL;
    lua_pop(L, 1);
    if (raw_field(L, entry, "fn") != LUA_TFUNCTION) {
      *rc = pk__perr(p, PK_EFORMAT, "export '%s' has no function 'fn'",
                     r->name);
      return 0;
    }
    r->slot = (int)++i;
    lua_rawseti(L, 6, r->slot);
  }
  if (n > 0)
    qsort(st->recs, n, sizeof *st->recs, cmp_recs);
  if (st->first && (*rc = pk__plugin_exports(p, n)) < 0)
    return 0;
  lua_pushinteger(L, 0);
  lua_rawseti(L, LUA_REGISTRYINDEX, SLOT_FREELIST);
  for (i = 0; i < n; i++) {
    pk_func *f = &p->funcs[i];
    if (st->first) {
      if ((*rc = pk__func_init(p, f, st->recs[i].name, st->recs[i].sig)) < 0)
        return 0;
      f->bindex = (uint32_t)(SLOT_EXPORTS + i);
      f->invoke = script_invoke;
      f->invoke_tags = 1; /* take_results tags them */
    } else {
      pk__sig sig;
      char why[160];
      /* p->funcs are in name order too (the first state's sorted recs). */
      if (strcmp(f->name, st->recs[i].name) != 0 ||
          pk__sig_parse(st->recs[i].sig, &sig, why, sizeof why) < 0 ||
          !pk__sig_equal(&sig, &f->sig)) {
        *rc = pk__perr(p, PK_EINIT,
                       "the script returned export '%s' (%s) in this state "
                       "where the first had '%s' %s: a script must return "
                       "the same exports in every state",
                       st->recs[i].name,
                       st->recs[i].sig ? st->recs[i].sig : "no sig", f->name,
                       f->sigtext);
        return 0;
      }
    }
    lua_rawgeti(L, 6, st->recs[i].slot);
    lua_rawseti(L, LUA_REGISTRYINDEX, (lua_Integer)(SLOT_EXPORTS + i));
  }
  st->slot_init = (int)(SLOT_EXPORTS + n);
  st->has_init = raw_field(L, 1, "init") == LUA_TFUNCTION;
  if (!st->has_init) {
    lua_pop(L, 1);
    lua_pushboolean(L, 0);
  }
  lua_rawseti(L, LUA_REGISTRYINDEX, st->slot_init);
  st->has_fini = raw_field(L, 1, "fini") == LUA_TFUNCTION;
  if (!st->has_fini) {
    lua_pop(L, 1);
    lua_pushboolean(L, 0);
  }
  lua_rawseti(L, LUA_REGISTRYINDEX, st->slot_init + 1);
  return 0;
}

/* The limits: each from its open option or its config key (the smaller
   when both are given), else the default. */
static int read_limits(pk_plugin *p, lua_shared *st) {
  const pk_open_opts *o = p->opts;
  uint64_t max_memory = o != NULL ? o->max_memory : 0;
  uint64_t fuel = o != NULL ? o->fuel : 0;
  double mem, budget;
  int rc;
  if ((rc = config_number(p, KEY_MEMORY, (double)(SIZE_MAX / 2), 0, &mem)) <
          0 ||
      (rc = config_number(p, KEY_INSTRUCTIONS, 1e15, 0, &budget)) < 0)
    return rc;
  st->mem_limit = DEFAULT_MEMORY;
  st->mem_src = "default; max_memory or config " KEY_MEMORY " sets it";
  if (mem > 0) {
    st->mem_limit = (size_t)mem;
    st->mem_src = "config " KEY_MEMORY;
  }
  if (max_memory > 0 && (mem == 0 || max_memory < (uint64_t)mem)) {
    st->mem_limit =
        max_memory > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)max_memory;
    st->mem_src = "max_memory";
  }
  st->budget = DEFAULT_INSTRUCTIONS;
  st->budget_src = "default; fuel or config " KEY_INSTRUCTIONS " sets it";
  if (budget > 0) {
    st->budget = (int64_t)budget;
    st->budget_src = "config " KEY_INSTRUCTIONS;
  }
  if (fuel > 0 && (budget == 0 || fuel < (uint64_t)budget)) {
    st->budget = fuel > (uint64_t)INT64_MAX / 4 ? INT64_MAX / 4 : (int64_t)fuel;
    st->budget_src = "fuel";
  }
  st->timeout_ms = o != NULL && o->call_timeout_ms > 0 ? o->call_timeout_ms : 0;
  if (p->describe_only && (uint64_t)st->budget > PK_DESCRIBE_FUEL) {
    st->budget = (int64_t)PK_DESCRIBE_FUEL;
    st->budget_src = "describe_only";
  }
  return PK_OK;
}

/* lua_dump's writer: appends to the shared code buffer (host memory). */
static int code_write(lua_State *L, const void *b, size_t n, void *ud) {
  lua_plug *st = ud;
  lua_shared *sh = st->p->bstate;
  (void)L;
  if (n > sh->capcode - sh->ncode) {
    size_t cap = sh->capcode ? sh->capcode : 4096;
    char *q;
    while (cap - sh->ncode < n) {
      if (cap > SIZE_MAX / 2)
        return 1;
      cap *= 2;
    }
    if ((q = pk__realloc(st->p->host, sh->code, cap)) == NULL)
      return 1;
    sh->code = q;
    sh->capcode = cap;
  }
  memcpy(sh->code + sh->ncode, b, n);
  sh->ncode += n;
  return 0;
}

/* lua_load's reader over the shared code: all of it at once. */
typedef struct code_reader {
  const char *code;
  size_t n;
} code_reader;

static const char *code_read(lua_State *L, void *ud, size_t *size) {
  code_reader *r = ud;
  (void)L;
  *size = r->n;
  r->n = 0;
  return *size ? r->code : NULL;
}

/*
 * Put the script's main chunk on the stack: the first state loads the
 * file as text and compiles it for the others (the shared code); a later
 * state loads that code. PK_OK or the code, with the message set.
 */
static int load_chunk(lua_plug *st) {
  pk_plugin *p = st->p;
  lua_shared *sh = p->bstate;
  lua_State *L = st->L;
  int status, rc;
  if (!st->first) {
    code_reader r;
    r.code = sh->code;
    r.n = sh->ncode;
    arm(st);
    status = lua_load(L, code_read, &r, p->path, "b");
    if (status != LUA_OK)
      return fail_status(st, status, PK_EINIT, "loading the compiled "
                         "script: ");
    return PK_OK;
  }
  if (p->src != NULL && p->src->name != NULL) {
    /* A private copy: read whole (bounded), named as the artifact. */
    named_load nl;
    unsigned char *buf = NULL;
    size_t n = 0, k = strlen(p->src->name) + 2;
    char *chunk;
    if ((rc = pk__plugin_read_file(p, &buf, &n)) < 0)
      return rc;
    if ((chunk = pk__alloc(p->host, k)) == NULL) {
      pk__free(p->host, buf);
      return pk__perr(p, PK_ENOMEM, "out of memory");
    }
    snprintf(chunk, k, "@%s", p->src->name);
    nl.buf = (const char *)buf;
    nl.n = n;
    nl.chunk = chunk;
    nl.status = &rc;
    arm(st);
    lua_pushcfunction(L, load_named_protected);
    lua_pushlightuserdata(L, &nl);
    status = lua_pcall(L, 1, 1, 1);
    pk__free(p->host, chunk);
    pk__free(p->host, buf);
  } else {
    /* luaL_loadfilex reads what it is given to the end: a regular file
       of bounded size only (the probe refused FIFOs and devices
       already). */
    if ((rc = pk__plugin_check_file(p, p->path)) < 0)
      return rc;
    arm(st);
    lua_pushcfunction(L, load_protected);
    lua_pushlightuserdata(L, p->path);
    lua_pushlightuserdata(L, &rc);
    status = lua_pcall(L, 2, 1, 1);
  }
  if (status != LUA_OK)
    return fail_status(st, status, PK_EFORMAT, "loading: ");
  status = rc;
  if (status == LUA_ERRSYNTAX)
    return pk__perr(p, PK_EFORMAT, "%s", lua_tostring(L, -1));
  if (status == LUA_ERRFILE)
    return pk__perr(p, PK_EIO, "%s", lua_tostring(L, -1));
  if (status != LUA_OK)
    return fail_status(st, status, PK_EFORMAT, "loading: ");
  /* Not needed when no other state will be made. */
  if (!p->describe_only && lua_dump(L, code_write, st, 0) != 0)
    return pk__perr(p, PK_ENOMEM, "out of memory for the compiled script");
  return PK_OK;
}

/*
 * Make state st (its p, lane and first set, the rest zero) ready for
 * calls: the sandbox, the chunk run, the plugin table read, init run; all
 * under the open's limits, each step armed afresh. On failure the message
 * is set; st->L may be left for inst_close.
 */
static int inst_build(lua_plug *st) {
  pk_plugin *p = st->p;
  const lua_shared *sh = p->bstate;
  lua_State *L;
  int status, rc, gc_was_on;

  st->mem_limit = sh->mem_limit;
  st->mem_src = sh->mem_src;
  st->budget = sh->budget;
  st->budget_src = sh->budget_src;
  st->timeout_ms = sh->timeout_ms;
  if ((st->L = L = lua_newstate(l_alloc, st)) == NULL) {
    if (st->mem_hit)
      return pk__perr(p, PK_ELIMIT,
                      "memory limit of %zu bytes is too small "
                      "for a Lua state (set by %s)",
                      st->mem_limit, st->mem_src);
    return pk__perr(p, PK_ENOMEM, "out of memory for a Lua state");
  }
  *(lua_plug **)lua_getextraspace(L) = st;
  lua_pushcfunction(L, msgh); /* stack index 1 from now on */
  /* Room for a scalar call's function, arguments and results, kept for
     the state's life: the fast path pushes without checking. */
  if (!lua_checkstack(L, PK_MAX_PARAMS + PK_MAX_RESULTS + 4))
    return pk__perr(p, PK_ENOMEM, "out of memory for the Lua stack");

  arm(st);
  lua_pushcfunction(L, setup);
  if ((status = lua_pcall(L, 0, 0, 1)) != LUA_OK)
    return fail_status(st, status, PK_ENOMEM, "setting up the sandbox: ");
  if ((rc = load_chunk(st)) < 0)
    return rc;
  arm(st);
  if ((status = lua_pcall(L, 0, 1, 1)) != LUA_OK)
    return fail_status(st, status, PK_EINIT, "running the script: ");
  if (!lua_istable(L, 2))
    return pk__perr(p, st->first ? PK_ENODESC : PK_EINIT,
                    "the script returned %s, not a plugin "
                    "table {name = ..., version = ..., exports = {...}}",
                    luaL_typename(L, 2));

  /* Still under the chunk's budget and deadline; no finalizer may run
     while the host reads (read_table). */
  lua_pushcfunction(L, read_table);
  lua_pushvalue(L, 2);
  lua_pushlightuserdata(L, &rc);
  rc = PK_OK;
  gc_was_on = lua_gc(L, LUA_GCISRUNNING);
  lua_gc(L, LUA_GCSTOP);
  status = lua_pcall(L, 2, 0, 1);
  if (gc_was_on) /* (the script may have stopped it itself) */
    lua_gc(L, LUA_GCRESTART);
  pk__free(p->host, st->recs);
  st->recs = NULL;
  if (status != LUA_OK)
    return fail_status(st, status, PK_EFORMAT, "reading the plugin table: ");
  if (rc < 0)
    return rc;

  /* Describe-only: the table is read; init does not run, nor fini. */
  if (p->describe_only) {
    lua_settop(L, 1);
    return PK_OK;
  }
  /* init: error() or a false result fails the open (or the new state). */
  if (st->has_init) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->slot_init);
    if (st->first) /* (a later state's lane says "init" already) */
      p->phase = "init";
    arm(st);
    status = lua_pcall(L, 0, 1, 1);
    if (status != LUA_OK)
      return fail_status(st, status, PK_EINIT, "");
    if (lua_toboolean(L, -1) == 0 && !lua_isnil(L, -1))
      return pk__perr(p, PK_EINIT, "init returned false");
  }
  lua_settop(L, 1);
  st->inited = 1;
  return PK_OK;
}

/*
 * Run fini (when init ran) and close the state, on lane l (the state's
 * host calls and messages are that thread's). Leaves st->L NULL.
 */
static void inst_close(lua_plug *st, pk__lane *l) {
  const char *phase = l->phase;
  st->lane = l;
  if (st->L == NULL)
    return;
  l->phase = "fini";
  if (st->inited && st->has_fini) {
    lua_settop(st->L, 1);
    arm(st);
    lua_rawgeti(st->L, LUA_REGISTRYINDEX, st->slot_init + 1);
    lua_pcall(st->L, 0, 0, 1); /* a failing fini cannot fail the close */
  } else {
    arm(st);
  }
  /* The finalizers lua_close runs are script code too: they run on
     fini's budget and deadline (their errors are dropped). */
  lua_close(st->L);
  l->phase = phase;
  st->L = NULL;
  st->inited = 0;
  pk__free(st->p->host, st->recs);
  st->recs = NULL;
}

/* The lane whose thread runs a state's fini: the calling thread's lane in
   a call (a reset that failed), else the lane of open and close. */
static pk__lane *fini_lane(pk_plugin *p) {
  pk__lane *l = pk__lane_cur(p);
  return l != NULL ? l : p->olane;
}

static void inst_prepare(lua_plug *st, pk_plugin *p, pk__lane *l,
                         int first) {
  memset(st, 0, sizeof *st);
  st->p = p;
  st->lane = l;
  st->first = first;
  st->mem_mark = SIZE_MAX; /* until arm sets a period */
}

/* Another state for the pool (inst_new). */
static int script_inst_new(pk_plugin *p, pk__lane *l, void **out) {
  lua_plug *st;
  int rc;
  if ((st = pk__alloc(p->host, sizeof *st)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory for a Lua state");
  inst_prepare(st, p, l, 0);
  if ((rc = inst_build(st)) < 0) {
    inst_close(st, l);
    pk__free(p->host, st);
    return rc;
  }
  *out = st;
  return PK_OK;
}

static void script_inst_free(pk_plugin *p, void *inst) {
  lua_plug *st = inst;
  if (st == NULL)
    return;
  inst_close(st, fini_lane(p));
  pk__free(p->host, st);
}

/*
 * reset_after_call: the state the call ran in goes (its fini run), and a
 * new one from the shared chunk takes its place in the same slot, with
 * init run: Lua cannot roll a state back, and a fresh one carries nothing
 * of the call over. On failure the core drops the instance (inst_free).
 */
static int script_inst_reset(pk_plugin *p, pk__lane *l, void *inst) {
  lua_plug *st = inst;
  const char *phase = l->phase;
  int rc;
  inst_close(st, l);
  inst_prepare(st, p, l, 0);
  l->phase = "init";
  rc = inst_build(st);
  l->phase = phase;
  return rc;
}

static int script_open(pk_plugin *p) {
  lua_shared *sh;
  lua_plug *st;
  int rc;

  if ((sh = pk__alloc(p->host, sizeof *sh)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  memset(sh, 0, sizeof *sh);
  p->bstate = sh;
  if ((rc = read_limits(p, sh)) < 0)
    return rc;
  if ((st = pk__alloc(p->host, sizeof *st)) == NULL)
    return pk__perr(p, PK_ENOMEM, "out of memory");
  inst_prepare(st, p, p->olane, 1);
  p->inst0 = st; /* freed by the core (inst_free), also after a failure */
  return inst_build(st);
}

/* The states are gone (the core freed them): the shared chunk goes. */
static void script_close(pk_plugin *p) {
  lua_shared *sh = p->bstate;
  if (sh == NULL)
    return;
  pk__free(p->host, sh->code);
  pk__free(p->host, sh);
  p->bstate = NULL;
}

const pk__backend pk__backend_lua = {
    "lua",
    script_probe,
    script_open,
    script_close,
    PK__LIM_TIMEOUT | PK__LIM_FUEL | PK__LIM_MEMORY | PK__LIM_DESCRIBE |
        PK__LIM_POOL | PK__LIM_RESET,
    script_inst_new,
    script_inst_free,
    script_inst_reset,
    NULL};
