# Day-two experience (issue 17): waits, errors in words, exit codes, options, status, metrics.
add_test(NAME test_daytwo COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_daytwo.py)
set_tests_properties(test_daytwo PROPERTIES LABELS integration TIMEOUT 600
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
