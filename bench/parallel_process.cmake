# ParallelProcess: the process backend's pool, 1 and 2 threads
# (bench_proc_plugin comes from process.cmake).
if("process" IN_LIST PK_BACKENDS_BUILT)
  find_package(Threads REQUIRED)
  target_sources(pk_bench PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/bench_parallel_process.c)
  target_link_libraries(pk_bench PRIVATE Threads::Threads)
endif()
