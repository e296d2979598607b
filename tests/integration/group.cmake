# The replicated group under a seeded nemesis (issue 15): 3 members, one
# mosquitto, `baton run` loops; BATON_GROUP_SEED replays a run.
add_test(NAME test_group_chaos COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_group.py)
set_tests_properties(test_group_chaos PROPERTIES LABELS integration TIMEOUT 600
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
# Membership changes: 3 grow to 5 (--join, `member add`), two lost, removed
# for good, the leader removed.
add_test(NAME test_group_members_integration
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_group_members.py)
set_tests_properties(test_group_members_integration PROPERTIES LABELS integration TIMEOUT 600
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
# A group's parity with the single coordinator: metrics of every member, and
# one coordinator per prefix (issue 12's probe and guard) in group mode.
add_test(NAME test_group_safety COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_group_safety.py)
set_tests_properties(test_group_safety PROPERTIES LABELS integration TIMEOUT 600
                     ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};PYTHONDONTWRITEBYTECODE=1")
