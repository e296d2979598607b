# The coordinator's own-outage bookkeeping and instance conflicts (coordinator/guard.c).
add_executable(test_guard unit/test_guard.c ${PROJECT_SOURCE_DIR}/coordinator/guard.c)
target_include_directories(test_guard PRIVATE ${PROJECT_SOURCE_DIR}/coordinator)
target_link_libraries(test_guard PRIVATE baton_schema cmocka::cmocka)
add_test(NAME test_guard COMMAND test_guard)
set_tests_properties(test_guard PROPERTIES LABELS unit TIMEOUT 60)
