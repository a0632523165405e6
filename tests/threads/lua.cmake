# The lua backend's instance pool (tests/threads/lua.c).
if(NOT "lua" IN_LIST PK_BACKENDS_BUILT)
  message(STATUS "threads_lua tests: skipped (lua backend not built)")
  return()
endif()
add_executable(test_threads_lua ${CMAKE_CURRENT_LIST_DIR}/lua.c)
target_link_libraries(test_threads_lua PRIVATE pk_test_harness pk_warnings
  Threads::Threads)
target_compile_definitions(test_threads_lua PRIVATE _POSIX_C_SOURCE=200809L)
pk_add_tests(test_threads_lua threads_lua ${CMAKE_CURRENT_LIST_DIR}/lua.c)
