# Lock-table unit tests (core/table*.c).
baton_unit_test(test_table baton_table)
baton_unit_test(test_table_model baton_table)
baton_unit_test(test_table_shapes baton_table)
# Aliases (a node's later acquire ids) across a restore.
baton_unit_test(test_table_alias baton_table)
