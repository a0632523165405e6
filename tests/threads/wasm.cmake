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
