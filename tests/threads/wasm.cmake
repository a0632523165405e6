# The wasm backend's instance pool (tests/threads/wasm.c): the pool
# fixture in two builds (init calling no host function: instances from
# the image; POOL_BORN: init calling "born" in each instance) and the
# conformance fixture.
if(NOT PK_WASM_CC OR NOT "wasm" IN_LIST PK_BACKENDS_BUILT)
  message(STATUS "threads: wasm tests skipped (no wasm guest toolchain)")
  return()
endif()
set(_tw ${CMAKE_CURRENT_BINARY_DIR})
pk_wasm_module(fxt_pool ${_tw}/pool.wasm
  ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/pool.c)
pk_wasm_module(fxt_pool_born ${_tw}/pool_born.wasm
  ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/pool.c -DPOOL_BORN=1)
add_executable(test_threads_wasm wasm.c)
target_link_libraries(test_threads_wasm PRIVATE pk_test_harness pk_warnings
  Threads::Threads)
target_compile_definitions(test_threads_wasm PRIVATE _POSIX_C_SOURCE=200809L)
add_dependencies(test_threads_wasm fxt_pool fxt_pool_born)
pk_add_tests(test_threads_wasm threads_wasm
  ${CMAKE_CURRENT_SOURCE_DIR}/wasm.c ${_tw})

# reset_after_call on the compiled tiers (PKT_WASM_TIER: the tests fail
# unless the plugin runs on it): jit, and aot from a cache filled at
# build time (plugkit compile --cache), with the test without reset that
# shows the checks can fail; and an instance moving between lanes (the
# compiled tiers' call path has its own entry).
set(_tw_reset reset_after_call_one_thread reset_after_call_threads
    reset_after_call_init_per_instance no_reset_keeps_state
    instance_moves_between_lanes)
if(PK_WASM_JIT_BUILT)
  foreach(t ${_tw_reset})
    add_test(NAME threads_wasm_jit_${t} COMMAND test_threads_wasm ${t} ${_tw})
    set_tests_properties(threads_wasm_jit_${t} PROPERTIES TIMEOUT 120
      SKIP_RETURN_CODE 77 ENVIRONMENT PKT_WASM_TIER=jit)
  endforeach()
endif()
find_program(PK_TEST_SYSTEM_CC NAMES cc gcc)
if(PK_TEST_SYSTEM_CC)
  set(_tw_aotc ${_tw}/aot-cache)
  add_custom_command(OUTPUT ${_tw_aotc}/pool.stamp
    COMMAND ${CMAKE_COMMAND} -E make_directory ${_tw_aotc}
    COMMAND ${CMAKE_COMMAND} -E env XDG_CACHE_HOME=${_tw_aotc}
            $<TARGET_FILE:plugkit_cli> compile --cache ${_tw}/pool.wasm
    COMMAND ${CMAKE_COMMAND} -E env XDG_CACHE_HOME=${_tw_aotc}
            $<TARGET_FILE:plugkit_cli> compile --cache ${_tw}/pool_born.wasm
    COMMAND ${CMAKE_COMMAND} -E touch ${_tw_aotc}/pool.stamp
    DEPENDS plugkit_cli ${_tw}/pool.wasm ${_tw}/pool_born.wasm fxt_pool
            fxt_pool_born
    COMMENT "plugkit compile --cache pool.wasm pool_born.wasm (aot tier)"
    VERBATIM)
  add_custom_target(fxt_pool_aot ALL DEPENDS ${_tw_aotc}/pool.stamp)
  add_dependencies(test_threads_wasm fxt_pool_aot)
  foreach(t ${_tw_reset})
    add_test(NAME threads_wasm_aot_${t} COMMAND test_threads_wasm ${t} ${_tw})
    set_tests_properties(threads_wasm_aot_${t} PROPERTIES TIMEOUT 120
      SKIP_RETURN_CODE 77
      ENVIRONMENT "PKT_WASM_TIER=aot;XDG_CACHE_HOME=${_tw_aotc}")
  endforeach()
endif()
