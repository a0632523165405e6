# Native and source plugins: PK_THREADSAFE runs calls concurrently, other
# plugins are serialized; the core's contract (lanes, close, errors).
set(d ${CMAKE_CURRENT_SOURCE_DIR}/fixtures)
foreach(kind tsafe serial)
  add_library(thr_${kind} MODULE ${d}/${kind}.c)
  target_include_directories(thr_${kind} PRIVATE ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(thr_${kind} PRIVATE pk_warnings)
  set_target_properties(thr_${kind} PROPERTIES PREFIX "")
endforeach()
add_executable(test_threads_native ${CMAKE_CURRENT_SOURCE_DIR}/native.c)
target_link_libraries(test_threads_native PRIVATE pk_test_harness pk_warnings
  Threads::Threads)
target_compile_definitions(test_threads_native PRIVATE _POSIX_C_SOURCE=200809L)
pk_add_tests(test_threads_native threads_native
  ${CMAKE_CURRENT_SOURCE_DIR}/native.c
  $<TARGET_FILE:thr_tsafe> $<TARGET_FILE:thr_serial> ${d})
