# Lock-table unit tests (core/table*.c).
baton_unit_test(test_table baton_table)
baton_unit_test(test_table_model baton_table)
baton_unit_test(test_table_shapes baton_table)
