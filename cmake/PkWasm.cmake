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

function(pk_wasm_module target out src)
  add_custom_command(OUTPUT ${out}
    COMMAND ${PK_CLANG} --target=wasm32-wasi -O2 -mexec-model=reactor
            -I${PROJECT_SOURCE_DIR}/include ${ARGN} -o ${out} ${src}
    DEPENDS ${src} ${PROJECT_SOURCE_DIR}/include/plugkit_plugin.h
            ${PROJECT_SOURCE_DIR}/include/plugkit_types.h
    VERBATIM)
  add_custom_target(${target} ALL DEPENDS ${out})
endfunction()
