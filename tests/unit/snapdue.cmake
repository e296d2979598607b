# The snapshot coalescer (coordinator/snapdue.c), on its own.
add_executable(test_snapdue unit/test_snapdue.c ${PROJECT_SOURCE_DIR}/coordinator/snapdue.c)
target_include_directories(test_snapdue PRIVATE ${PROJECT_SOURCE_DIR}/coordinator)
target_link_libraries(test_snapdue PRIVATE baton_table cmocka::cmocka)
add_test(NAME test_snapdue COMMAND test_snapdue)
set_tests_properties(test_snapdue PROPERTIES LABELS unit TIMEOUT 60)
