# The wasm backend's hostile plugins (../shared/findings/hostile-plugins.md
# BUG 1, 5, 6, 7, 12, 13): guest pointers the host keeps across a guest
# entry, guest code that runs outside the limits, WASI files that block,
# host formatting or WASI writes that never end. Fixtures:
# fixtures/wasm/*.wat.
if(NOT "wasm" IN_LIST PK_BACKENDS_BUILT OR NOT PK_WAT2WASM)
  message(STATUS "hostile wasm tests: skipped (no wasm backend or wat2wasm)")
  return()
endif()
set(_hw ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/wasm)
set(_hwo ${CMAKE_CURRENT_BINARY_DIR}/wasm)
file(MAKE_DIRECTORY ${_hwo})
foreach(case guest_ptr start_loop unwind_loop post_loop post_loop_close
        realloc_loop nested_limits late_interrupt nested_swallow arg_loop log_grow
        vformat_slow wasi_fifo wasi_write fail_long
        random_big path_long log_big vformat_cap)
  pk_wat_module(hostile_wasm_fx_${case} ${_hwo}/${case}.wasm ${_hw}/${case}.wat)
endforeach()
add_executable(test_hostile_wasm ${CMAKE_CURRENT_SOURCE_DIR}/wasm.c)
target_link_libraries(test_hostile_wasm PRIVATE pk_test_harness pk_warnings)
target_compile_definitions(test_hostile_wasm PRIVATE _POSIX_C_SOURCE=200809L)
pk_add_tests(test_hostile_wasm hostile_wasm ${CMAKE_CURRENT_SOURCE_DIR}/wasm.c
  ${_hwo})
# The same plugins on the jit tier.
if(PK_WASM_JIT_BUILT)
  pk_add_tests(test_hostile_wasm hostile_wasm_jit
    ${CMAKE_CURRENT_SOURCE_DIR}/wasm.c ${_hwo} jit)
endif()
# And on the aot tier: each module compiled at build time (plugkit compile
# --cache) into one cache folder the tests use as XDG_CACHE_HOME.
find_program(PK_HOSTILE_SYSTEM_CC NAMES cc gcc)
if(PK_HOSTILE_SYSTEM_CC)
  set(_hwc ${_hwo}/aot-cache)
  set(_stamps)
  foreach(case guest_ptr start_loop unwind_loop post_loop post_loop_close
          realloc_loop nested_limits late_interrupt nested_swallow arg_loop
          log_grow vformat_slow wasi_fifo wasi_write fail_long
          random_big path_long log_big vformat_cap)
    add_custom_command(OUTPUT ${_hwc}/${case}.stamp
      COMMAND ${CMAKE_COMMAND} -E make_directory ${_hwc}
      COMMAND ${CMAKE_COMMAND} -E env XDG_CACHE_HOME=${_hwc}
              $<TARGET_FILE:plugkit_cli> compile --cache ${_hwo}/${case}.wasm
      COMMAND ${CMAKE_COMMAND} -E touch ${_hwc}/${case}.stamp
      DEPENDS plugkit_cli hostile_wasm_fx_${case} ${_hwo}/${case}.wasm
      COMMENT "plugkit compile --cache ${case}.wasm (hostile, aot tier)"
      VERBATIM)
    list(APPEND _stamps ${_hwc}/${case}.stamp)
  endforeach()
  add_custom_target(hostile_wasm_aot ALL DEPENDS ${_stamps})
  pk_add_tests(test_hostile_wasm hostile_wasm_aot
    ${CMAKE_CURRENT_SOURCE_DIR}/wasm.c ${_hwo} aot)
  file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/wasm.c _lines
       REGEX "^PK_TEST\\([a-z0-9_]+\\)")
  foreach(line ${_lines})
    string(REGEX REPLACE "^PK_TEST\\(([a-z0-9_]+)\\).*" "\\1" name "${line}")
    set_tests_properties(hostile_wasm_aot_${name} PROPERTIES
      ENVIRONMENT XDG_CACHE_HOME=${_hwc})
  endforeach()
endif()
