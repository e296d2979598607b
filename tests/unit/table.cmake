# Lock-table unit tests (coordinator/table*.c).
baton_unit_test(test_table baton_table)
baton_unit_test(test_table_model baton_table)
