# Store micro-benchmark: commits/s per sync level and batch size, load time.
add_executable(bench_store bench_store.c)
target_link_libraries(bench_store PRIVATE baton_store)
