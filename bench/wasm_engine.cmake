# Rows of the built-in WebAssembly engine (bench_wasm_engine.c). The
# workloads in bench/workloads/ are compiled twice: natively into pk_bench
# (gcc -O2) and to wasm with clang --target=wasm32-wasi -O2 into
# ${CMAKE_CURRENT_BINARY_DIR}/wasm/, where the rows load them at run time
# (a missing clang/wasm-ld only skips the wasm rows).
if(TARGET pk_wasm_engine)
  set(_wl ${CMAKE_CURRENT_SOURCE_DIR}/workloads)
  target_sources(pk_bench PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/bench_wasm_engine.c
    ${_wl}/fib.c ${_wl}/mix.c ${_wl}/sort.c)
  set_source_files_properties(${_wl}/fib.c ${_wl}/mix.c ${_wl}/sort.c
    PROPERTIES COMPILE_OPTIONS "-O2")
  target_link_libraries(pk_bench PRIVATE pk_wasm_engine)

  find_program(PKW_CLANG NAMES clang clang-14)
  find_program(PKW_WASM_LD NAMES wasm-ld wasm-ld-14)
  if(PKW_CLANG AND PKW_WASM_LD)
    set(_out ${CMAKE_CURRENT_BINARY_DIR}/wasm)
    set(_wasms)
    foreach(w fib mix sort)
      add_custom_command(OUTPUT ${_out}/${w}.wasm
        COMMAND ${CMAKE_COMMAND} -E make_directory ${_out}
        COMMAND ${PKW_CLANG} --target=wasm32-wasi -O2 -nostartfiles
                -Wl,--no-entry -Wl,--strip-all -o ${_out}/${w}.wasm
                ${_wl}/${w}.c
        DEPENDS ${_wl}/${w}.c ${_wl}/workloads.h
        COMMENT "wasm workload ${w}.wasm"
        VERBATIM)
      list(APPEND _wasms ${_out}/${w}.wasm)
    endforeach()
    add_custom_target(pkw_bench_wasm ALL DEPENDS ${_wasms})
    add_dependencies(pk_bench pkw_bench_wasm)
  else()
    message(STATUS "wasm bench rows: clang/wasm-ld not found, rows skip")
  endif()
endif()
