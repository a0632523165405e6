# Rows of the wasm backend: WasmCSum, WasmRustSum, WasmGreet, WasmHostCall,
# LoadWasm, ParallelWasm, WasmInstanceFromPool(Tracked), WasmResetAfterCall
# (and its Jit and Aot rows). The modules are built here (the bench build
# has no tests).
if("wasm" IN_LIST PK_BACKENDS_BUILT AND PK_WASM_CC)
  set(_fx ${PROJECT_SOURCE_DIR}/tests/fixtures)
  pk_wasm_module(benchw_conformance ${CMAKE_CURRENT_BINARY_DIR}/conformance.wasm
    ${_fx}/conformance.c)
  pk_wasm_module(benchw_limits ${CMAKE_CURRENT_BINARY_DIR}/limits.wasm
    ${_fx}/wasm/limits.c)
  add_dependencies(pk_bench benchw_conformance benchw_limits)
  if(PK_RUST_WASM)
    pk_rust_wasm(benchw_rust ${CMAKE_CURRENT_BINARY_DIR}/rust_plugin.wasm
      ${PROJECT_SOURCE_DIR}/examples/rust/plugin.rs)
    add_dependencies(pk_bench benchw_rust)
  endif()
  target_sources(pk_bench PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/bench_wasm.c)
  # The instance pool (issue 13): ParallelWasm, WasmInstanceFromPool
  # and WasmInstanceFromPoolTracked (through the engine API) and
  # WasmResetAfterCall.
  find_package(Threads REQUIRED)
  target_sources(pk_bench PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/bench_parallel_wasm.c)
  target_link_libraries(pk_bench PRIVATE pk_wasm_engine Threads::Threads)
endif()
