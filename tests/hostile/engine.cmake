# Hostile cases of the wasm engine (src/wasm/engine), through the public
# API with the wasm backend: translation amplification, export lists,
# tables against max_memory, lazy bodies that fail. The modules that need
# a generator are built by the test program itself; the others are .wat
# fixtures in fixtures/engine.
if("wasm" IN_LIST PK_BACKENDS_BUILT AND PK_WAT2WASM)
  set(_fx ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/engine)
  set(_out ${CMAKE_CURRENT_BINARY_DIR}/engine)
  file(MAKE_DIRECTORY ${_out})
  foreach(w table_bomb table_grow memory_over deep_frames)
    pk_wat_module(hostile_engine_${w} ${_out}/${w}.wasm ${_fx}/${w}.wat)
  endforeach()
  add_executable(test_hostile_engine ${CMAKE_CURRENT_SOURCE_DIR}/engine.c)
  target_link_libraries(test_hostile_engine PRIVATE pk_test_harness
                        pk_warnings)
  target_compile_definitions(test_hostile_engine PRIVATE
                             _POSIX_C_SOURCE=200809L)
  pk_add_tests(test_hostile_engine hostile_engine
    ${CMAKE_CURRENT_SOURCE_DIR}/engine.c ${_out})
else()
  message(STATUS "hostile suite: engine cases skipped (needs the wasm "
                 "backend and wat2wasm)")
endif()
