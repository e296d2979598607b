# Errors in words: broker connection failures (edge/) and lost locks (agent/).
add_executable(test_words unit/test_words.c ${PROJECT_SOURCE_DIR}/agent/words.c)
target_include_directories(test_words PRIVATE ${PROJECT_SOURCE_DIR}/agent ${PROJECT_SOURCE_DIR}/agent/include)
target_link_libraries(test_words PRIVATE baton_edge cmocka::cmocka)
add_test(NAME test_words COMMAND test_words)
set_tests_properties(test_words PROPERTIES LABELS unit TIMEOUT 60)
