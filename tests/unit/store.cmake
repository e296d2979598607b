baton_unit_test(test_store baton_store)
# The remembered request ids across a restart (store + table).
baton_unit_test(test_store_ids baton_store)
