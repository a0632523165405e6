# The process backend, plugkit-runner and the plugin-side SDK under
# attack: seccomp escapes, unbounded nesting, READY floods, endless
# traffic inside one call, runner recursion, the host's stdin, options
# dropped by isolation, frames over the protocol's limit.
if(NOT "process" IN_LIST PK_BACKENDS_BUILT OR NOT TARGET plugkit_runner)
  return()
endif()
set(HPF ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/process)
set(HPO ${CMAKE_CURRENT_BINARY_DIR}/process)

# An executable plugin: the fixture plus the SDK's serve loop.
add_executable(fxh_proc_evil ${HPF}/evil.c
  ${PROJECT_SOURCE_DIR}/sdk/c/pk_serve.c ${PROJECT_SOURCE_DIR}/sdk/c/pk_wire.c)
target_include_directories(fxh_proc_evil PRIVATE ${PROJECT_SOURCE_DIR}/include
  ${PROJECT_SOURCE_DIR}/sdk/c)
target_link_libraries(fxh_proc_evil PRIVATE pk_warnings)
set_target_properties(fxh_proc_evil PROPERTIES OUTPUT_NAME evil
  RUNTIME_OUTPUT_DIRECTORY ${HPO})

# A .so for plugkit-runner whose constructor starts a thread.
find_package(Threads REQUIRED)
add_library(fxh_proc_seccomp_thread MODULE ${HPF}/seccomp_thread.c)
target_include_directories(fxh_proc_seccomp_thread PRIVATE
  ${PROJECT_SOURCE_DIR}/include)
target_link_libraries(fxh_proc_seccomp_thread PRIVATE pk_warnings
  Threads::Threads)
set_target_properties(fxh_proc_seccomp_thread PROPERTIES PREFIX ""
  OUTPUT_NAME seccomp_thread LIBRARY_OUTPUT_DIRECTORY ${HPO})

# The wasm plugin with one export per limit (tests/fixtures/wasm/limits.c),
# when the wasm guest toolchain is there.
set(HP_LIMITS_WASM none)
if(TARGET fxw_limits)
  set(HP_LIMITS_WASM ${PROJECT_BINARY_DIR}/tests/wasm_backend/limits.wasm)
endif()

add_executable(test_hostile_process process.c)
target_link_libraries(test_hostile_process PRIVATE pk_test_harness pk_warnings)
target_compile_definitions(test_hostile_process PRIVATE _GNU_SOURCE)
add_dependencies(test_hostile_process fxh_proc_seccomp_thread plugkit_runner)
pk_add_tests(test_hostile_process hostile_process
  ${CMAKE_CURRENT_SOURCE_DIR}/process.c
  $<TARGET_FILE:fxh_proc_evil> $<TARGET_FILE:fxh_proc_seccomp_thread>
  ${HPF}/raw_recurse.py ${HPF}/raw_ready.py $<TARGET_FILE:fx_conformance>
  $<TARGET_FILE:plugkit_runner> ${HP_LIMITS_WASM}
  ${PROJECT_SOURCE_DIR}/tests/fixtures/lua/limits.lua
  $<TARGET_FILE:fx_init_fail> ${HPF}/raw_hostile.py)
