# Rows of the wasm aot tier (WasmFibAot, WasmMixAot, WasmSortAot,
# WasmCSumAot, LoadWasmAot, *_wasm_aot): the rows' modules compiled with
# `plugkit compile --cache` into ${CMAKE_CURRENT_BINARY_DIR}/aot-cache,
# the cache the rows open from (XDG_CACHE_HOME, set by pkb_open_tier).
# No system C compiler, or a module missing: those rows skip.
find_program(PKB_SYSTEM_CC NAMES cc gcc)
# wasm_engine.cmake finds these too, but is included after this file: a
# first configure would skip the fib, mix and sort artifacts.
find_program(PKW_CLANG NAMES clang clang-14)
find_program(PKW_WASM_LD NAMES wasm-ld wasm-ld-14)
if(PKB_SYSTEM_CC AND "wasm" IN_LIST PK_BACKENDS_BUILT AND PK_WASM_CC)
  set(_aotc ${CMAKE_CURRENT_BINARY_DIR}/aot-cache)
  set(_mods ${CMAKE_CURRENT_BINARY_DIR}/conformance.wasm
            ${CMAKE_CURRENT_BINARY_DIR}/work.wasm)
  if(PKW_CLANG AND PKW_WASM_LD)
    foreach(w fib mix sort)
      list(APPEND _mods ${CMAKE_CURRENT_BINARY_DIR}/wasm/${w}.wasm)
    endforeach()
  endif()
  set(_stamps)
  foreach(m ${_mods})
    get_filename_component(_n ${m} NAME_WE)
    add_custom_command(OUTPUT ${_aotc}/${_n}.stamp
      COMMAND ${CMAKE_COMMAND} -E make_directory ${_aotc}
      COMMAND ${CMAKE_COMMAND} -E env XDG_CACHE_HOME=${_aotc}
              $<TARGET_FILE:plugkit_cli> compile --cache ${m}
      COMMAND ${CMAKE_COMMAND} -E touch ${_aotc}/${_n}.stamp
      DEPENDS plugkit_cli ${m}
      COMMENT "plugkit compile --cache ${_n}.wasm (aot bench rows)"
      VERBATIM)
    list(APPEND _stamps ${_aotc}/${_n}.stamp)
  endforeach()
  add_custom_target(pkb_aot DEPENDS ${_stamps})
  add_dependencies(pkb_aot benchw_conformance bench_work_wasm)
  if(TARGET pkw_bench_wasm)
    add_dependencies(pkb_aot pkw_bench_wasm)
  endif()
  add_dependencies(pk_bench pkb_aot)
endif()
