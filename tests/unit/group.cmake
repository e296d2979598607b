# The group's log-entry codec, under a failing allocator: malloc and calloc
# are wrapped in this binary only (libraft's own allocations stay out of it).
add_executable(test_glog unit/test_glog.c ${PROJECT_SOURCE_DIR}/coordinator/glog.c)
target_include_directories(test_glog PRIVATE ${PROJECT_SOURCE_DIR}/coordinator ${PROJECT_SOURCE_DIR}/schema)
target_link_libraries(test_glog PRIVATE cmocka::cmocka)
target_link_options(test_glog PRIVATE -Wl,--wrap=malloc -Wl,--wrap=calloc)
add_test(NAME test_glog COMMAND test_glog)
set_tests_properties(test_glog PROPERTIES LABELS unit TIMEOUT 60)

# Three members on libraft's in-memory fixture, each with a real table, store
# and codec, applying through coordinator/apply.c; and the fuzz corpus.
add_executable(test_group unit/test_group.c ${PROJECT_SOURCE_DIR}/coordinator/log.c)
target_include_directories(test_group PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(test_group PRIVATE
                           BATON_CORPUS_DIR="${CMAKE_CURRENT_LIST_DIR}/../fuzz/corpus/coordinator")
target_link_libraries(test_group PRIVATE baton_group cmocka::cmocka)
add_test(NAME test_group COMMAND test_group)
set_tests_properties(test_group PROPERTIES LABELS unit TIMEOUT 300)

# Membership changes (add, promote, remove) on the same fixture, 3 members
# growing to 5 with the real table.
add_executable(test_group_members unit/test_group_members.c ${PROJECT_SOURCE_DIR}/coordinator/log.c)
target_include_directories(test_group_members PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(test_group_members PRIVATE baton_group cmocka::cmocka)
add_test(NAME test_group_members COMMAND test_group_members)
set_tests_properties(test_group_members PROPERTIES LABELS unit TIMEOUT 300)

# The one apply path as the single process drives it (hold, extend, offline
# nodes, metrics), on a table with no store.
add_executable(test_apply unit/test_apply.c ${PROJECT_SOURCE_DIR}/coordinator/log.c)
target_link_libraries(test_apply PRIVATE baton_group cmocka::cmocka)
add_test(NAME test_apply COMMAND test_apply)
set_tests_properties(test_apply PROPERTIES LABELS unit TIMEOUT 60)
