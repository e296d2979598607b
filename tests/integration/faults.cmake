# Fault, abuse and security tests (issue 7, and the crash test of issue 6):
# a private mosquitto per test, the real coordinator and `baton run` agents.
# docs/faults.md says what each checks and how to run one alone.
set(BATON_PY /usr/bin/python3)
file(GLOB BATON_FAULT_TESTS CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_faults_*.py)
foreach(f ${BATON_FAULT_TESTS})
  get_filename_component(t ${f} NAME_WE)
  add_test(NAME ${t} COMMAND ${BATON_PY} ${f})
  set_tests_properties(${t} PROPERTIES LABELS integration TIMEOUT 600
                       ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
endforeach()

# The chaos test of `baton run` (issue 13): seeded, bounded, about 3 minutes.
add_test(NAME test_chaos_run COMMAND ${BATON_PY} ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_chaos_run.py)
set_tests_properties(test_chaos_run PROPERTIES LABELS integration TIMEOUT 600
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
