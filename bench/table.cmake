# Lock-table micro-benchmark (docs/table.md quotes its numbers).
add_executable(bench_table bench_table.c)
target_link_libraries(bench_table PRIVATE baton_table)
