# The lua backend's hostile cases (../shared/findings/hostile-plugins.md
# BUG 2, 10, 14, 18): scripts in fixtures/lua, run by lua.c.
if(NOT "lua" IN_LIST PK_BACKENDS_BUILT)
  message(STATUS "hostile suite: lua cases skipped (backend not built)")
  return()
endif()
add_executable(test_hostile_lua lua.c)
target_link_libraries(test_hostile_lua PRIVATE pk_test_harness pk_warnings)
pk_add_tests(test_hostile_lua hostile_lua ${CMAKE_CURRENT_SOURCE_DIR}/lua.c
  ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/lua)
