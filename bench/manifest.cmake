# The manifest rows (bench/bench_manifest.c): signature and hash checks.
target_sources(pk_bench PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/bench_manifest.c)
