# Building WebAssembly guests: clang --target=wasm32-wasi (Debian clang,
# lld, wasi-libc, libclang-rt-14-dev-wasm32). PK_WASM_CC says whether it
# works here; pk_wasm_module(TARGET OUT SRC [FLAGS...]) builds one module.
find_program(PK_CLANG NAMES clang clang-14)
set(PK_WASM_CC OFF)
if(PK_CLANG)
  file(WRITE ${CMAKE_BINARY_DIR}/pk_wasi_probe.c "int main(void) { return 0; }\n")
  execute_process(
    COMMAND ${PK_CLANG} --target=wasm32-wasi -O2 -mexec-model=reactor
            -o ${CMAKE_BINARY_DIR}/pk_wasi_probe.wasm
            ${CMAKE_BINARY_DIR}/pk_wasi_probe.c
    RESULT_VARIABLE _pk_wasi_rc OUTPUT_QUIET ERROR_QUIET)
  if(_pk_wasi_rc EQUAL 0)
    set(PK_WASM_CC ON)
  endif()
endif()
if(NOT PK_WASM_CC)
  message(STATUS "wasm guests: cannot build (needs clang, lld, wasi-libc, "
                 "libclang-rt-14-dev-wasm32): wasm plugin tests skipped")
endif()

# -mbulk-memory: memcpy and memset become memory.copy and memory.fill,
# which the engine runs as one native copy instead of interpreting
# wasi-libc's byte loops; clang 14 then wants -ftls-model=local-exec for
# errno (docs/wasm-abi.md, "Building a guest").
function(pk_wasm_module target out src)
  add_custom_command(OUTPUT ${out}
    COMMAND ${PK_CLANG} --target=wasm32-wasi -O2 -mexec-model=reactor
            -mbulk-memory -ftls-model=local-exec -Wl,--strip-debug
            -I${PROJECT_SOURCE_DIR}/include ${ARGN} -o ${out} ${src}
    DEPENDS ${src} ${PROJECT_SOURCE_DIR}/include/plugkit_plugin.h
            ${PROJECT_SOURCE_DIR}/include/plugkit_types.h
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${out})
endfunction()

# Rust guests: Debian's rustc (/usr/bin/rustc first: another rustc on PATH
# may lack the wasm32 standard library) with libstd-rust-dev-wasm32.
find_program(PK_RUSTC NAMES rustc PATHS /usr/bin NO_DEFAULT_PATH)
if(NOT PK_RUSTC)
  find_program(PK_RUSTC NAMES rustc)
endif()
set(PK_RUST_WASM OFF)
if(PK_RUSTC)
  file(WRITE ${CMAKE_BINARY_DIR}/pk_rust_probe.rs
       "#[no_mangle]\npub extern \"C\" fn f() -> i32 { 1 }\n")
  execute_process(
    COMMAND ${PK_RUSTC} --target wasm32-unknown-unknown --crate-type=cdylib
            -o ${CMAKE_BINARY_DIR}/pk_rust_probe.wasm
            ${CMAKE_BINARY_DIR}/pk_rust_probe.rs
    RESULT_VARIABLE _pk_rust_rc OUTPUT_QUIET ERROR_QUIET)
  if(_pk_rust_rc EQUAL 0)
    set(PK_RUST_WASM ON)
  endif()
endif()
if(NOT PK_RUST_WASM)
  message(STATUS "Rust wasm guests: cannot build (needs rustc and "
                 "libstd-rust-dev-wasm32): the Rust example is skipped")
endif()

function(pk_rust_wasm target out src)
  add_custom_command(OUTPUT ${out}
    COMMAND ${PK_RUSTC} --target wasm32-unknown-unknown -O
            --crate-type=cdylib -C strip=symbols -o ${out} ${src}
    DEPENDS ${src} VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${out})
endfunction()
