baton_unit_test(test_store baton_store)
# The remembered request ids across a restart (store + table).
baton_unit_test(test_store_ids baton_store)
# Aliases and the request id counter across a restart.
baton_unit_test(test_store_alias baton_store)
# The second edition's state across a restart, and the migration of files
# (and a snapshot's image) written before it (tests/unit/fixtures/state-v2.db,
# state-v3.db).
baton_unit_test(test_store_shapes baton_store)
# store_snap.c (in baton_group) for an old image restored and migrated.
target_sources(test_store_shapes PRIVATE ${PROJECT_SOURCE_DIR}/coordinator/store_snap.c)
target_compile_definitions(test_store_shapes PRIVATE BATON_FIXTURES="${CMAKE_CURRENT_LIST_DIR}/fixtures")
