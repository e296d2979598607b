# Integration tests: a private mosquitto per test file, the real coordinator.
set(BATON_PY /usr/bin/python3)
foreach(t test_coordinator test_coordinator_faults test_shapes)
  add_test(NAME ${t} COMMAND ${BATON_PY} ${CMAKE_CURRENT_SOURCE_DIR}/integration/${t}.py)
  set_tests_properties(${t} PROPERTIES LABELS integration TIMEOUT 600
                       ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
endforeach()
# Issue 12: the coordinator keeps its promises under misuse and outages.
add_test(NAME test_coordinator_safety COMMAND ${BATON_PY} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_coordinator_safety.py)
set_tests_properties(test_coordinator_safety PROPERTIES LABELS integration TIMEOUT 900
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
