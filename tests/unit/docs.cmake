# Documentation tests (tests/docs/): what a new user copies and runs must work.
# The README's runnable blocks and the demo need a broker: label integration.
add_test(NAME test_readme COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/docs/test_readme.py)
set_tests_properties(test_readme PROPERTIES LABELS "integration;docs" TIMEOUT 300
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")

# scripts/demo, non-interactively, on the binaries of this build tree.
add_test(NAME test_demo COMMAND ${PROJECT_SOURCE_DIR}/scripts/demo)
set_tests_properties(test_demo PROPERTIES LABELS "integration;docs" TIMEOUT 300
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};BATON_DEMO_NO_BUILD=1")

# The libbaton example of docs/library.md, run against a private broker.
add_test(NAME test_example COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/docs/test_example.py)
set_tests_properties(test_example PROPERTIES LABELS "integration;docs" TIMEOUT 300
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")

# docker-compose.yml validated without a Docker engine, and the compose
# broker's passwords and ACL exercised with Debian's mosquitto.
add_test(NAME test_compose COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/docs/test_compose.py)
set_tests_properties(test_compose PROPERTIES LABELS "integration;docs" TIMEOUT 300
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")

# The man pages mention every flag of the programs' --help and are installed.
add_test(NAME test_man COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/docs/test_man.py)
set_tests_properties(test_man PROPERTIES LABELS "unit;docs" TIMEOUT 120
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
