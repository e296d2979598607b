# libFuzzer target for the coordinator's whole request path (decode + lock
# table + encode of every effect): tests/fuzz/fuzz_coordinator.c. Built like
# fuzz_request (fuzz.cmake): the schema and lock-table sources again, with
# coverage instrumentation; cJSON is the system library, libmosquitto only
# for the broker's own topic checks.
set(BATON_FZC_FLAGS -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
set(BATON_FZC_SRC)
foreach(lib baton_schema_objs baton_table)
  get_target_property(srcs ${lib} SOURCES)
  get_target_property(dir ${lib} SOURCE_DIR)
  foreach(s ${srcs})
    if(IS_ABSOLUTE ${s})
      list(APPEND BATON_FZC_SRC ${s})
    else()
      list(APPEND BATON_FZC_SRC ${dir}/${s})
    endif()
  endforeach()
endforeach()
add_executable(fuzz_coordinator ${CMAKE_CURRENT_LIST_DIR}/fuzz_coordinator.c ${BATON_FZC_SRC})
target_include_directories(fuzz_coordinator PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../../schema
                           ${CMAKE_CURRENT_LIST_DIR}/../../core)
target_link_libraries(fuzz_coordinator PRIVATE cjson baton::mosquitto)
target_compile_options(fuzz_coordinator PRIVATE ${BATON_FZC_FLAGS})
target_link_options(fuzz_coordinator PRIVATE ${BATON_FZC_FLAGS})

# Runs on a copy of the checked-in corpus (the fuzzer adds what it finds).
set(BATON_FZC_CORPUS ${CMAKE_CURRENT_BINARY_DIR}/fuzz_corpus/coordinator)
add_test(NAME fuzz_coordinator_corpus
         COMMAND ${CMAKE_COMMAND} -E copy_directory ${CMAKE_CURRENT_LIST_DIR}/corpus/coordinator ${BATON_FZC_CORPUS})
add_test(NAME fuzz_coordinator
         COMMAND fuzz_coordinator -max_total_time=30 -timeout=10 -rss_limit_mb=2048 -max_len=16384
                 -print_final_stats=1 ${BATON_FZC_CORPUS})
set_tests_properties(fuzz_coordinator_corpus PROPERTIES LABELS fuzz FIXTURES_SETUP fuzz_coordinator_corpus)
set_tests_properties(fuzz_coordinator PROPERTIES LABELS fuzz FIXTURES_REQUIRED fuzz_coordinator_corpus TIMEOUT 120)
