/*
 * pattern.h: string.find, string.match, string.gmatch and string.gsub
 * with a metered matcher (pattern.c), for the lua backend's sandbox.
 *
 * Lua's own matcher backtracks without executing VM instructions, so a
 * pattern such as ("a*"):rep(8) .. "b" runs for a time combinatorial in
 * the subject's length that no count hook sees. This one is written from
 * the Lua 5.4 manual (section 6.4.1) and reports its work: every step
 * (a pattern item tried at a subject position, a byte compared) is
 * counted and handed to a `charge` callback in batches; the callback
 * raises a Lua error to stop the match. Results, errors and their
 * messages are those of the stock library (tests/lua/test_patterns.c
 * checks them against it on generated cases).
 */
#ifndef PK_LUA_PATTERN_H
#define PK_LUA_PATTERN_H

#include <lua.h>
#include <stddef.h>

/* Called with the steps done since the last call; may raise. */
typedef void (*pk__lua_charge_fn)(lua_State *L, size_t steps);

/* Steps a matcher does between two calls of `charge` (at most). */
#define PK__LUA_STEP_BATCH 4096

/*
 * Replace find, match, gmatch and gsub in the table at stack index `idx`
 * (the string library) with metered ones that report to `charge`.
 */
void pk__lua_patterns(lua_State *L, int idx, const pk__lua_charge_fn *charge);

#endif
