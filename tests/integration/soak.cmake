# A valgrind soak of libbaton through connection cuts (test_soak_valgrind.py):
# soak_agent is a libbaton program of the public header only, as a user's.
add_executable(soak_agent integration/soak_agent.c)
target_link_libraries(soak_agent PRIVATE libbaton Threads::Threads)
add_test(NAME test_soak_valgrind COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_soak_valgrind.py)
set_tests_properties(test_soak_valgrind PROPERTIES LABELS integration TIMEOUT 300
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
