# The process backend's rows: the conformance fixture as an executable
# plugin (built like a plugin author builds one, without libplugkit).
if("process" IN_LIST PK_BACKENDS_BUILT)
  target_sources(pk_bench PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/bench_process.c)
  add_executable(bench_proc_plugin
    ${PROJECT_SOURCE_DIR}/tests/fixtures/conformance.c
    ${PROJECT_SOURCE_DIR}/sdk/c/pk_serve.c ${PROJECT_SOURCE_DIR}/sdk/c/pk_wire.c)
  target_include_directories(bench_proc_plugin PRIVATE
    ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/sdk/c)
  set_target_properties(bench_proc_plugin PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  add_dependencies(pk_bench bench_proc_plugin)
  if(TARGET plugkit_runner)
    add_dependencies(pk_bench plugkit_runner)
  endif()
endif()
