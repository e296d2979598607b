# Integration tests of libbaton and the baton CLI: a private mosquitto, the real coordinator.
add_test(NAME test_agent COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_agent.py)
set_tests_properties(test_agent PROPERTIES LABELS integration TIMEOUT 300
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
