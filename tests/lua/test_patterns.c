/*
 * The lua backend's pattern matcher (src/lua/pattern.c) against the stock
 * string library: find, match, gmatch and gsub on generated patterns and
 * subjects must give the same results, or fail with the same message.
 * Also checks that the matcher reports its work: a catastrophic pattern
 * is stopped by the charge callback. Run as `test_patterns N SEED`.
 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

static size_t total_steps;
static size_t step_cap; /* 0: none */

static void charge(lua_State *L, size_t steps) {
  total_steps += steps;
  if (step_cap != 0 && total_steps > step_cap)
    luaL_error(L, "step cap reached");
}

static const pk__lua_charge_fn charge_fn = charge;

/* The generator and the comparison, in Lua: S is the stock library, M
   the metered one. */
static const char script[] =
    "local S, M, N, seed = ...\n"
    "math.randomseed(seed)\n"
    "local items = {'a','b','.','%a','%d','%s','%W','%p','[ab]','[^a]',\n"
    "  '[a-c]','[%a_]','[]]','[^]]','[a-]','(',')','()','%1','%2','%b()',\n"
    "  '%bab','%f[%w]','%f[%W]','*','+','-','?','^','$','%','[','%.','%%',\n"
    "  'x','\\0',']','%z','[%]]','%f','%b','%0','[^%d%s]','1','_',' '}\n"
    "local chars = {'a','a','b','b','(',')','1','2',' ','_','.',']','%',\n"
    "  '-','x','\\0','\\200'}\n"
    "local function pick(t) return t[math.random(#t)] end\n"
    "local function gen(t, maxn)\n"
    "  local n, out = math.random(0, maxn), {}\n"
    "  for i = 1, n do out[i] = pick(t) end\n"
    "  return table.concat(out)\n"
    "end\n"
    "local function pack(...) return {n = select('#', ...), ...} end\n"
    "local function show(r)\n"
    "  local o = {}\n"
    "  for i = 1, r.n do\n"
    "    local v = r[i]\n"
    "    o[i] = (type(v) == 'string' or type(v) == 'number') and\n"
    "      string.format('%q', v) or tostring(v)\n"
    "  end\n"
    "  return table.concat(o, ', ')\n"
    "end\n"
    "local function same(a, b)\n"
    "  if a.n ~= b.n then return false end\n"
    "  for i = 1, a.n do\n"
    "    if a[i] ~= b[i] or math.type(a[i]) ~= math.type(b[i]) then\n"
    "      return false end\n"
    "  end\n"
    "  return true\n"
    "end\n"
    "local function all(gm, s, p, init)\n"
    "  local out, it = {n = 0}, gm(s, p, init)\n"
    "  for k = 1, 40 do\n"
    "    local r = pack(it())\n"
    "    if r[1] == nil then break end\n"
    "    for i = 1, r.n do out.n = out.n + 1; out[out.n] = r[i] end\n"
    "    out.n = out.n + 1; out[out.n] = '|'\n"
    "  end\n"
    "  return out\n"
    "end\n"
    "local repls = {'<%0>', '%1', '%%', '[%2]', 'z', '%', '%x', 7,\n"
    "  function(a, b) return b and a .. b or (a and a:upper()) end,\n"
    "  function() return false end, {a = 'A', [''] = 'E', b = 2},\n"
    "  function() return {} end}\n"
    "local checked = 0\n"
    "local function cmp(what, ...)\n"
    "  local a = pack(pcall(S[what], ...))\n"
    "  local b = pack(pcall(M[what], ...))\n"
    "  if not same(a, b) then\n"
    "    error(string.format('%s(%s):\\n stock: %s\\n ours:  %s', what,\n"
    "      show(pack(...)), show(a), show(b)), 0)\n"
    "  end\n"
    "  checked = checked + 1\n"
    "end\n"
    "for k = 1, N do\n"
    "  local s, p = gen(chars, 12), gen(items, 6)\n"
    "  local init = math.random(-14, 14)\n"
    "  if math.random(4) == 1 then init = nil end\n"
    "  cmp('find', s, p, init)\n"
    "  cmp('find', s, p, init, true)\n"
    "  cmp('match', s, p, init)\n"
    "  local a = pack(pcall(all, S.gmatch, s, p, init))\n"
    "  local b = pack(pcall(all, M.gmatch, s, p, init))\n"
    "  if a[1] ~= b[1] or (a[1] and not same(a[2], b[2])) or\n"
    "     (not a[1] and a[2] ~= b[2]) then\n"
    "    error(string.format('gmatch(%q, %q, %s) differs: %s / %s', s, p,\n"
    "      tostring(init), tostring(a[2]), tostring(b[2])), 0)\n"
    "  end\n"
    "  local r = pick(repls)\n"
    "  local n = math.random(3) == 1 and math.random(-1, 3) or nil\n"
    "  cmp('gsub', s, p, r, n)\n"
    "end\n"
    "return checked\n";

int main(int argc, char **argv) {
  lua_State *L = luaL_newstate();
  long n = argc > 1 ? atol(argv[1]) : 20000;
  long seed = argc > 2 ? atol(argv[2]) : 1;
  int failed = 0;
  luaL_openlibs(L);
  /* S: the stock functions; M: ours. */
  if (luaL_loadstring(L, script) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  lua_getglobal(L, "string");
  lua_newtable(L);
  pk__lua_patterns(L, -1, &charge_fn);
  lua_pushinteger(L, n);
  lua_pushinteger(L, seed);
  if (lua_pcall(L, 4, 1, 0) != LUA_OK) {
    fprintf(stderr, "FAIL: %s\n", lua_tostring(L, -1));
    failed = 1;
  } else {
    printf("%lld comparisons agree (%zu steps)\n",
           (long long)lua_tointeger(L, -1), total_steps);
    if (total_steps == 0) {
      fprintf(stderr, "FAIL: the matcher reported no work\n");
      failed = 1;
    }
  }
  lua_settop(L, 0);

  /* Catastrophic backtracking is stopped by the charge. */
  step_cap = total_steps + 1000000;
  lua_newtable(L);
  pk__lua_patterns(L, -1, &charge_fn);
  lua_setglobal(L, "M");
  if (luaL_dostring(L, "return M.find(('a'):rep(25), ('a*'):rep(8) .. 'b')") ==
          LUA_OK ||
      strstr(lua_tostring(L, -1), "step cap reached") == NULL) {
    fprintf(stderr, "FAIL: pat(25,8) was not stopped by the charge\n");
    failed = 1;
  }
  lua_close(L);
  return failed;
}
