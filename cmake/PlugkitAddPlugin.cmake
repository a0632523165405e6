# plugkit_add_plugin: build one plugin source for every plugkit target.
#
#   find_package(plugkit REQUIRED)      # includes this file
#   plugkit_add_plugin(hello SOURCES hello.c
#                      TARGETS native wasm process source)
#
# C sources (PK_PLUGIN), one target per kind, all in the current binary
# folder:
#   native   hello.so      MODULE library, no lib prefix   (target hello_native)
#   wasm     hello.wasm    clang --target=wasm32-wasi -O2 -mexec-model=reactor
#                          -mbulk-memory -ftls-model=local-exec  (hello_wasm)
#   process  hello         executable linked with plugkit::serve (hello_process)
#   source   hello.c       the source copied, for the source backend (hello_source;
#                          one .c file only: libtcc compiles one translation unit)
# A Rust source (one .rs, the crate root, using the `plugkit` guest module
# installed with the SDK) builds for `wasm` only, with rustc --target
# wasm32-unknown-unknown.
#
# TARGETS defaults to every kind the source's language supports. A target
# `hello` builds them all. Each target's PLUGKIT_FILE property is the
# artifact's path (get_target_property, or in add_test
# $<TARGET_PROPERTY:hello_wasm,PLUGKIT_FILE>).
# A wasm target whose toolchain is missing here is left out with a warning
# saying which packages it needs (REQUIRED makes that an error), and
# hello_wasm is then not defined.
#
# Options: INCLUDE_DIRECTORIES dirs... (C targets), WASM_FLAGS flags...
# (extra clang or rustc flags for wasm).
#
# Inputs (set by plugkitConfig.cmake, or by plugkit's own build):
# PLUGKIT_INCLUDE_DIR, PLUGKIT_RUST_MODULE and the target plugkit::serve.
include_guard(GLOBAL)

# clang for wasm32-wasi: found and tried once per build tree.
function(_plugkit_wasm_c_probe)
  if(DEFINED PLUGKIT_WASM_C_OK)
    return()
  endif()
  find_program(PLUGKIT_CLANG NAMES clang clang-14)
  set(ok OFF)
  if(PLUGKIT_CLANG)
    set(dir ${CMAKE_BINARY_DIR}/CMakeFiles/plugkit_probe)
    file(WRITE ${dir}/probe.c "int f(void) { return 0; }\n")
    execute_process(
      COMMAND ${PLUGKIT_CLANG} --target=wasm32-wasi -O2 -mexec-model=reactor
              -o ${dir}/probe.wasm ${dir}/probe.c
      RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(rc EQUAL 0)
      set(ok ON)
    endif()
  endif()
  set(PLUGKIT_WASM_C_OK ${ok} CACHE INTERNAL "clang builds wasm32-wasi here")
endfunction()

# rustc for wasm32-unknown-unknown: Debian's /usr/bin/rustc first (a
# rustup rustc on PATH may lack the wasm32 standard library).
function(_plugkit_wasm_rust_probe)
  if(DEFINED PLUGKIT_WASM_RUST_OK)
    return()
  endif()
  find_program(PLUGKIT_RUSTC NAMES rustc PATHS /usr/bin NO_DEFAULT_PATH)
  if(NOT PLUGKIT_RUSTC)
    find_program(PLUGKIT_RUSTC NAMES rustc)
  endif()
  set(ok OFF)
  if(PLUGKIT_RUSTC)
    set(dir ${CMAKE_BINARY_DIR}/CMakeFiles/plugkit_probe)
    file(WRITE ${dir}/probe.rs "#[no_mangle]\npub extern \"C\" fn f() -> i32 { 1 }\n")
    execute_process(
      COMMAND ${PLUGKIT_RUSTC} --target wasm32-unknown-unknown
              --crate-type=cdylib -o ${dir}/probe_rs.wasm ${dir}/probe.rs
      RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
    if(rc EQUAL 0)
      set(ok ON)
    endif()
  endif()
  set(PLUGKIT_WASM_RUST_OK ${ok} CACHE INTERNAL "rustc builds wasm32 here")
endfunction()

# The `plugkit` Rust guest module as an rlib, built once per build tree.
function(_plugkit_rust_sdk out_var)
  set(rlib ${CMAKE_BINARY_DIR}/plugkit_rust/libplugkit.rlib)
  if(NOT TARGET plugkit_rust_sdk)
    if(NOT PLUGKIT_RUST_MODULE OR NOT EXISTS "${PLUGKIT_RUST_MODULE}")
      message(FATAL_ERROR "plugkit_add_plugin: the Rust guest module "
        "plugkit.rs is not where PLUGKIT_RUST_MODULE says (${PLUGKIT_RUST_MODULE})")
    endif()
    add_custom_command(OUTPUT ${rlib}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/plugkit_rust
      COMMAND ${PLUGKIT_RUSTC} --target wasm32-unknown-unknown -O
              --edition 2021 --crate-type=rlib --crate-name plugkit
              -o ${rlib} ${PLUGKIT_RUST_MODULE}
      DEPENDS ${PLUGKIT_RUST_MODULE} VERBATIM)
    add_custom_target(plugkit_rust_sdk DEPENDS ${rlib})
  endif()
  set(${out_var} ${rlib} PARENT_SCOPE)
endfunction()

function(plugkit_add_plugin name)
  cmake_parse_arguments(PARSE_ARGV 1 A "REQUIRED" ""
    "SOURCES;TARGETS;INCLUDE_DIRECTORIES;WASM_FLAGS")
  if(A_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "plugkit_add_plugin(${name}): unknown arguments "
      "'${A_UNPARSED_ARGUMENTS}' (expected SOURCES, TARGETS, "
      "INCLUDE_DIRECTORIES, WASM_FLAGS, REQUIRED)")
  endif()
  if(NOT A_SOURCES)
    message(FATAL_ERROR "plugkit_add_plugin(${name}): no SOURCES")
  endif()
  set(srcs "")
  set(lang C)
  foreach(s ${A_SOURCES})
    get_filename_component(s "${s}" ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    list(APPEND srcs ${s})
    if(s MATCHES "\\.rs$")
      set(lang Rust)
    endif()
  endforeach()
  if(lang STREQUAL "Rust")
    set(kinds wasm)
    list(LENGTH srcs n)
    if(NOT n EQUAL 1)
      message(FATAL_ERROR "plugkit_add_plugin(${name}): a Rust plugin is "
        "one .rs file (the crate root), got: ${A_SOURCES}")
    endif()
  else()
    set(kinds native wasm process source)
  endif()
  if(NOT A_TARGETS)
    set(A_TARGETS ${kinds})
  endif()
  foreach(t ${A_TARGETS})
    if(NOT t IN_LIST kinds)
      message(FATAL_ERROR "plugkit_add_plugin(${name}): target '${t}' is "
        "not one a ${lang} plugin builds for (${kinds})")
    endif()
  endforeach()
  set(inc ${PLUGKIT_INCLUDE_DIR} ${A_INCLUDE_DIRECTORIES})
  set(bin ${CMAKE_CURRENT_BINARY_DIR})
  set(built "")

  if("native" IN_LIST A_TARGETS)
    add_library(${name}_native MODULE ${srcs})
    target_include_directories(${name}_native PRIVATE ${inc})
    # "$<0:>": no per-configuration subfolder (multi-config generators):
    # every artifact is where PLUGKIT_FILE says.
    set_target_properties(${name}_native PROPERTIES PREFIX "" SUFFIX ".so"
      OUTPUT_NAME ${name} LIBRARY_OUTPUT_DIRECTORY "${bin}$<0:>"
      PLUGKIT_FILE ${bin}/${name}.so)
    list(APPEND built ${name}_native)
  endif()

  if("process" IN_LIST A_TARGETS)
    if(NOT TARGET plugkit::serve)
      message(FATAL_ERROR "plugkit_add_plugin(${name}): the process target "
        "needs plugkit::serve, which this plugkit does not have (it is built "
        "on Linux only)")
    endif()
    add_executable(${name}_process ${srcs})
    target_include_directories(${name}_process PRIVATE ${inc})
    target_link_libraries(${name}_process PRIVATE plugkit::serve)
    set_target_properties(${name}_process PROPERTIES OUTPUT_NAME ${name}
      RUNTIME_OUTPUT_DIRECTORY "${bin}$<0:>"
      PLUGKIT_FILE ${bin}/${name}${CMAKE_EXECUTABLE_SUFFIX})
    list(APPEND built ${name}_process)
  endif()

  if("source" IN_LIST A_TARGETS)
    list(LENGTH srcs n)
    list(GET srcs 0 src)
    if(NOT n EQUAL 1 OR NOT src MATCHES "\\.c$")
      message(FATAL_ERROR "plugkit_add_plugin(${name}): the source target "
        "takes one .c file (libtcc compiles one translation unit), got: "
        "${A_SOURCES}")
    endif()
    set(out ${bin}/${name}.c)
    if(out STREQUAL src)
      add_custom_target(${name}_source ALL)
    else()
      add_custom_command(OUTPUT ${out}
        COMMAND ${CMAKE_COMMAND} -E copy ${src} ${out}
        DEPENDS ${src} VERBATIM)
      add_custom_target(${name}_source ALL DEPENDS ${out})
    endif()
    set_target_properties(${name}_source PROPERTIES PLUGKIT_FILE ${out})
    list(APPEND built ${name}_source)
  endif()

  if("wasm" IN_LIST A_TARGETS)
    set(out ${bin}/${name}.wasm)
    if(lang STREQUAL "Rust")
      _plugkit_wasm_rust_probe()
      set(ok ${PLUGKIT_WASM_RUST_OK})
      set(why "rustc cannot build for wasm32-unknown-unknown here (Debian: "
              "rustc and libstd-rust-dev-wasm32)")
    else()
      _plugkit_wasm_c_probe()
      set(ok ${PLUGKIT_WASM_C_OK})
      set(why "clang cannot build for wasm32-wasi here (Debian: clang, lld, "
              "wasi-libc and libclang-rt-14-dev-wasm32)")
    endif()
    string(CONCAT why ${why})
    if(NOT ok)
      if(A_REQUIRED)
        message(FATAL_ERROR "plugkit_add_plugin(${name}): wasm: ${why}")
      endif()
      message(WARNING "plugkit_add_plugin(${name}): the wasm target is left "
        "out: ${why}")
    elseif(lang STREQUAL "Rust")
      _plugkit_rust_sdk(rlib)
      add_custom_command(OUTPUT ${out}
        COMMAND ${PLUGKIT_RUSTC} --target wasm32-unknown-unknown -O
                --edition 2021 --crate-type=cdylib -C strip=symbols
                --extern plugkit=${rlib} ${A_WASM_FLAGS} -o ${out} ${srcs}
        DEPENDS ${srcs} ${rlib} VERBATIM)
      add_custom_target(${name}_wasm ALL DEPENDS ${out})
      add_dependencies(${name}_wasm plugkit_rust_sdk)
    else()
      set(iflags "")
      foreach(d ${inc})
        list(APPEND iflags -I${d})
      endforeach()
      # -mexec-model=reactor: a library of exports, no main(); without it
      # wasm-ld asks for one. -mbulk-memory: memcpy/memset become single
      # instructions the engine runs natively; clang 14 then wants
      # -ftls-model=local-exec for errno (docs/wasm-abi.md).
      add_custom_command(OUTPUT ${out}
        COMMAND ${PLUGKIT_CLANG} --target=wasm32-wasi -O2 -mexec-model=reactor
                -mbulk-memory -ftls-model=local-exec -Wl,--strip-debug
                ${iflags} ${A_WASM_FLAGS} -o ${out} ${srcs}
        DEPENDS ${srcs} ${PLUGKIT_INCLUDE_DIR}/plugkit_plugin.h
                ${PLUGKIT_INCLUDE_DIR}/plugkit_types.h
        VERBATIM)
      add_custom_target(${name}_wasm ALL DEPENDS ${out})
    endif()
    if(TARGET ${name}_wasm)
      set_target_properties(${name}_wasm PROPERTIES PLUGKIT_FILE ${out})
      list(APPEND built ${name}_wasm)
    endif()
  endif()

  if(NOT TARGET ${name})
    add_custom_target(${name})
    if(built)
      add_dependencies(${name} ${built})
    endif()
  endif()
endfunction()
