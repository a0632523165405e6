/*
 * aot_cc.h: the aot tier's code for the engine's test programs (the spec
 * runner, the engine tests, the differential test's pkw_exec): a module's
 * PKW_CGEN_AOT C built by the system compiler (cc, with PKW_AOT_CFLAGS,
 * as plugkit compile builds it), loaded with dlopen and bound. Not
 * plugkit's artifact format (no header, no checks of the file): this
 * tests the code; tests/wasm_backend/test_wasm_aot.c tests the artifacts.
 */
#ifndef PKW_TESTS_AOT_CC_H
#define PKW_TESTS_AOT_CC_H

#include <stddef.h>

#include "wasm.h"

/* Returned when cc cannot be started (no C compiler here). */
#define PKWT_AOT_NO_CC (-3)

/* Builds m's aot C into dir and binds it to m. cache: the object stays in
 * dir, named by a hash of the C and the flags, and a later call with the
 * same C loads it without building (dir must exist); otherwise dir is a
 * new temporary folder that is removed before this returns (the loaded
 * object stays mapped). a: the allocator m was decoded with, which
 * allocated the C (NULL: the default). *built (if not NULL): 1 when cc
 * ran, 0 when the cache served. Returns PKW_OK, PKWT_AOT_NO_CC, or an
 * engine code (cc failed, dlopen failed, the bind refused); err says
 * what. */
int pkwt_aot_bind(pkw_module *m, const pkw_alloc *a, const char *dir,
                  int cache, int *built, char *err, size_t errlen);

#endif
