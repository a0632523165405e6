# The workloads beyond a sum (bench/bench_work.c): bench/plugins/work.c
# built for each backend that runs C; rows whose artifact is missing are
# skipped with a message.
add_library(bench_work MODULE ${CMAKE_CURRENT_SOURCE_DIR}/plugins/work.c)
target_include_directories(bench_work PRIVATE ${PROJECT_SOURCE_DIR}/include)
set_target_properties(bench_work PROPERTIES PREFIX "" OUTPUT_NAME work
  LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
add_dependencies(pk_bench bench_work)
if(PK_WASM_CC)
  pk_wasm_module(bench_work_wasm ${CMAKE_CURRENT_BINARY_DIR}/work.wasm
    ${CMAKE_CURRENT_SOURCE_DIR}/plugins/work.c)
  add_dependencies(pk_bench bench_work_wasm)
endif()
# The source backend compiles the file itself at load.
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/plugins/work.c
  ${CMAKE_CURRENT_BINARY_DIR}/work.c COPYONLY)
target_sources(pk_bench PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/bench_work.c)
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/plugins/work.lua
  ${CMAKE_CURRENT_BINARY_DIR}/work.lua COPYONLY)
# The process backend: the same source linked with the SDK's serve loop.
if("process" IN_LIST PK_BACKENDS_BUILT)
  add_executable(bench_work_exe ${CMAKE_CURRENT_SOURCE_DIR}/plugins/work.c
    ${PROJECT_SOURCE_DIR}/sdk/c/pk_serve.c ${PROJECT_SOURCE_DIR}/sdk/c/pk_wire.c)
  target_include_directories(bench_work_exe PRIVATE
    ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/sdk/c)
  set_target_properties(bench_work_exe PROPERTIES OUTPUT_NAME work
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  add_dependencies(pk_bench bench_work_exe)
endif()
