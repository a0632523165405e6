# The process backend's pool: one child per instance.
if("process" IN_LIST PK_BACKENDS_BUILT AND TARGET fx_proc_conformance)
  add_executable(test_threads_process ${CMAKE_CURRENT_LIST_DIR}/process.c)
  target_link_libraries(test_threads_process PRIVATE pk_test_harness
    pk_warnings Threads::Threads)
  target_compile_definitions(test_threads_process PRIVATE _GNU_SOURCE)
  pk_add_tests(test_threads_process threads_process
    ${CMAKE_CURRENT_LIST_DIR}/process.c
    $<TARGET_FILE:fx_proc_conformance> $<TARGET_FILE:fx_proc_fault>
    $<TARGET_FILE:fx_conformance>
    ${PROJECT_SOURCE_DIR}/tests/fixtures/conformance.lua
    ${PROJECT_SOURCE_DIR}/tests/fixtures/process/conformance.py)
endif()
