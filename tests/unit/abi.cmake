# libbaton's ABI check (ctest test_abi, label unit): libbaton.so exports
# baton_* functions and nothing else. Everything linked into it (agent/, the
# codec and the MQTT edge) is built with hidden visibility; baton.h and
# baton_error.h mark the public functions BATON_EXPORT. A private name that
# leaks (client_publish, wj_validate, ...) could clash with a name in a
# user's program, so the test lists every offender and fails.
#
# Included by tests/CMakeLists.txt it registers the test; run as
# `cmake -DLIB=path/to/libbaton.so -DNM=nm -P abi.cmake` it checks.
if(NOT CMAKE_SCRIPT_MODE_FILE)
  find_program(BATON_NM NAMES nm REQUIRED)
  add_test(NAME test_abi
           COMMAND ${CMAKE_COMMAND} -DLIB=$<TARGET_FILE:libbaton_shared> -DNM=${BATON_NM}
                   -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(test_abi PROPERTIES LABELS unit TIMEOUT 60)
  return()
endif()

execute_process(COMMAND ${NM} -D --defined-only ${LIB} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "abi: ${NM} -D --defined-only ${LIB} failed (${rc})")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(bad "")
set(good 0)
foreach(line IN LISTS lines)
  if(NOT line MATCHES "^[0-9a-fA-F]* *[A-Za-z] +([^ ]+)$")
    continue()
  endif()
  set(sym "${CMAKE_MATCH_1}")
  if(sym MATCHES "^baton_")
    math(EXPR good "${good} + 1")
  else()
    list(APPEND bad "${sym}")
  endif()
endforeach()
if(bad)
  list(LENGTH bad n)
  string(REPLACE ";" " " bad "${bad}")
  message(FATAL_ERROR "abi: ${LIB} exports ${n} symbols that are not baton_*: ${bad}")
endif()
if(good EQUAL 0)
  message(FATAL_ERROR "abi: ${LIB} exports no baton_* symbol at all")
endif()
message("abi: ${LIB} exports ${good} symbols, all baton_*")
