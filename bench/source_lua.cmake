# Rows of the source and lua backends (bench_source_lua.c). They load the
# fixtures from the source tree at run time; a backend that is not built
# skips its rows.
if("source" IN_LIST PK_BACKENDS_BUILT OR "lua" IN_LIST PK_BACKENDS_BUILT)
  set(_fx ${PROJECT_SOURCE_DIR}/tests/fixtures)
  target_sources(pk_bench PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/bench_source_lua.c)
  set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/bench_source_lua.c
    PROPERTIES COMPILE_DEFINITIONS
    "PKB_SOURCE_FIXTURE=\"${_fx}/conformance.c\";PKB_SOURCE_LOAD=\"${_fx}/source/hundred.c\";PKB_LUA_FIXTURE=\"${_fx}/conformance.lua\";PKB_LUA_LOAD=\"${_fx}/lua/hundred.lua\"")
endif()
