# Describe-only opens (test_hostile_cli, tests/hostile/cli.c): what
# `plugkit inspect` uses. No plugin code runs (constructors, init, start
# functions, stray executables), each backend describes a plugin as a
# normal open does, and malformed ELF descriptors are refused (BUG-class:
# a hostile file read by the host).
set(_pkh_cli ${CMAKE_CURRENT_BINARY_DIR}/cli)
set(_pkh_cli_fx ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/cli)
set(_pkh_cli_plugin ${PROJECT_SOURCE_DIR}/tests/build/fixtures/cli_plugin.c)

add_executable(pkh_cli_nodesc_exe ${_pkh_cli_fx}/nodesc_exe.c)
set_target_properties(pkh_cli_nodesc_exe PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${_pkh_cli})

set(_exe -)
if("process" IN_LIST PK_BACKENDS_BUILT)
  set(_sdk ${PROJECT_SOURCE_DIR}/sdk/c)
  add_executable(pkh_cli_plugin_exe ${_pkh_cli_plugin} ${_sdk}/pk_serve.c
    ${_sdk}/pk_wire.c)
  target_include_directories(pkh_cli_plugin_exe PRIVATE
    ${PROJECT_SOURCE_DIR}/include ${_sdk})
  set_target_properties(pkh_cli_plugin_exe PROPERTIES
    RUNTIME_OUTPUT_DIRECTORY ${_pkh_cli})
  set(_exe $<TARGET_FILE:pkh_cli_plugin_exe>)
endif()
set(_src -)
set(_src_conf -)
if("source" IN_LIST PK_BACKENDS_BUILT)
  set(_src ${_pkh_cli_plugin})
  set(_src_conf ${PROJECT_SOURCE_DIR}/tests/fixtures/conformance.c)
endif()
set(_lua -)
set(_lua_hang - -)
if("lua" IN_LIST PK_BACKENDS_BUILT)
  set(_lua ${PROJECT_SOURCE_DIR}/tests/fixtures/conformance.lua)
  set(_lua_hang ${_pkh_cli_fx}/hang_init.lua ${_pkh_cli_fx}/hang_chunk.lua)
endif()
set(_wasm -)
set(_wasm_hang -)
if(TARGET fxw_conformance)
  set(_wasm ${PROJECT_BINARY_DIR}/tests/wasm_backend/conformance.wasm)
  pk_wasm_module(pkh_cli_hang_init ${_pkh_cli}/hang_init.wasm
    ${_pkh_cli_fx}/hang_init.c)
  set(_wasm_hang ${_pkh_cli}/hang_init.wasm)
endif()
set(_proc -)
if(TARGET fx_proc_conformance)
  set(_proc $<TARGET_FILE:fx_proc_conformance>)
endif()

add_executable(test_hostile_cli ${CMAKE_CURRENT_SOURCE_DIR}/cli.c)
target_link_libraries(test_hostile_cli PRIVATE pk_test_harness pk_warnings)
target_compile_definitions(test_hostile_cli PRIVATE _POSIX_C_SOURCE=200809L)
add_dependencies(test_hostile_cli fx_cli_plugin pkh_cli_nodesc_exe)
foreach(t pkh_cli_plugin_exe pkh_cli_hang_init fxw_conformance
          fx_proc_conformance)
  if(TARGET ${t})
    add_dependencies(test_hostile_cli ${t})
  endif()
endforeach()
pk_add_tests(test_hostile_cli hostile_cli ${CMAKE_CURRENT_SOURCE_DIR}/cli.c
  $<TARGET_FILE:fx_cli_plugin> ${_src} ${_exe}
  $<TARGET_FILE:pkh_cli_nodesc_exe> $<TARGET_FILE:fx_conformance> ${_wasm}
  ${_lua} ${_src_conf} ${_proc}
  ${_wasm_hang} ${_lua_hang}
  ${PROJECT_SOURCE_DIR}/tests/fixtures/process/conformance.py)

# plugkit inspect runs no plugin code (tests/build/cli.sh).
set(_pkh_cli_cases inspect_runs_no_code)
if("process" IN_LIST PK_BACKENDS_BUILT) # (else nothing would run it)
  list(APPEND _pkh_cli_cases inspect_stray_executable_refused)
endif()
foreach(c ${_pkh_cli_cases})
  add_test(NAME hostile_cli_${c} COMMAND sh
    ${PROJECT_SOURCE_DIR}/tests/build/cli.sh ${c} $<TARGET_FILE:plugkit_cli>
    $<TARGET_FILE:fx_cli_plugin> - $<TARGET_FILE:pkh_cli_nodesc_exe>)
  set_tests_properties(hostile_cli_${c} PROPERTIES TIMEOUT 60)
endforeach()
