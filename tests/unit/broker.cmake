# The coordinator's broker edge: the topic fence before paho (no network).
add_executable(test_broker_topic unit/test_broker_topic.c ${PROJECT_SOURCE_DIR}/coordinator/broker.c)
target_include_directories(test_broker_topic PRIVATE ${PROJECT_SOURCE_DIR}/coordinator)
target_link_libraries(test_broker_topic PRIVATE baton_schema baton_edge ${BATON_PAHO} baton::mosquitto
                      Threads::Threads cmocka::cmocka)
add_test(NAME test_broker_topic COMMAND test_broker_topic)
set_tests_properties(test_broker_topic PROPERTIES LABELS unit TIMEOUT 60)
