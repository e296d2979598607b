add_executable(test_config unit/test_config.c ${PROJECT_SOURCE_DIR}/coordinator/config.c ${PROJECT_SOURCE_DIR}/coordinator/log.c
               ${PROJECT_SOURCE_DIR}/coordinator/peers.c)
target_include_directories(test_config PRIVATE ${PROJECT_SOURCE_DIR}/coordinator)
target_link_libraries(test_config PRIVATE baton_common baton_schema baton_metrics cmocka::cmocka)
add_test(NAME test_config COMMAND test_config)
set_tests_properties(test_config PROPERTIES LABELS unit TIMEOUT 60)
