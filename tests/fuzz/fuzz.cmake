# libFuzzer targets (BATON_FUZZ=ON, CC=clang). The codec's sources are built
# again into the fuzzer with coverage instrumentation; cJSON is the system
# library, uninstrumented.
set(BATON_FUZZ_FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
set(BATON_SCHEMA_DIR ${CMAKE_CURRENT_LIST_DIR}/../../schema)
add_executable(fuzz_request ${CMAKE_CURRENT_LIST_DIR}/fuzz_request.c
               ${BATON_SCHEMA_DIR}/baton_error.c ${BATON_SCHEMA_DIR}/names.c ${BATON_SCHEMA_DIR}/wire.c
               ${BATON_SCHEMA_DIR}/wire_msg.c ${BATON_SCHEMA_DIR}/wire_snap.c ${BATON_SCHEMA_DIR}/wire_json.c)
target_include_directories(fuzz_request PRIVATE ${BATON_SCHEMA_DIR})
target_link_libraries(fuzz_request PRIVATE cjson)
target_compile_options(fuzz_request PRIVATE ${BATON_FUZZ_FLAGS})
target_link_options(fuzz_request PRIVATE ${BATON_FUZZ_FLAGS})

# The fuzzer adds what it finds to its corpus directory, so it runs on a copy
# in the build tree and the checked-in seeds stay as they are.
set(BATON_FUZZ_CORPUS ${CMAKE_CURRENT_BINARY_DIR}/fuzz_corpus/request)
add_test(NAME fuzz_request_corpus
         COMMAND ${CMAKE_COMMAND} -E copy_directory ${CMAKE_CURRENT_LIST_DIR}/corpus/request ${BATON_FUZZ_CORPUS})
add_test(NAME fuzz_request
         COMMAND fuzz_request -max_total_time=30 -timeout=10 -rss_limit_mb=2048 -max_len=8192
                 -print_final_stats=1 ${BATON_FUZZ_CORPUS})
set_tests_properties(fuzz_request_corpus PROPERTIES LABELS fuzz FIXTURES_SETUP fuzz_request_corpus)
set_tests_properties(fuzz_request PROPERTIES LABELS fuzz FIXTURES_REQUIRED fuzz_request_corpus TIMEOUT 120)
