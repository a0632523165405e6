# The catalog's rows (bench/bench_catalog.c): scanning 1,000 plugin
# folders with and without the cache, and bundles.
target_sources(pk_bench PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/bench_catalog.c)
