# ParallelLua (bench_parallel_lua.c): sum from 1 and 2 threads on one
# pooled Lua plugin. Skipped, with the reason, when lua is not built.
target_sources(pk_bench PRIVATE ${CMAKE_CURRENT_LIST_DIR}/bench_parallel_lua.c)
set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/bench_parallel_lua.c
  PROPERTIES COMPILE_DEFINITIONS
  "PKB_LUA_POOL_FIXTURE=\"${PROJECT_SOURCE_DIR}/tests/fixtures/conformance.lua\"")
