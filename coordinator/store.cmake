# The durable store (SQLite) of the lock table's state.
add_library(baton_store STATIC store.c store_commit.c store_load.c)
target_include_directories(baton_store PUBLIC ${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(baton_store PUBLIC baton_table baton_common SQLite::SQLite3)
