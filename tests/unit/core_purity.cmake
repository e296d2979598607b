# The core purity check (ctest test_core_purity, label unit).
#
# core/ is the pure lock table: no I/O, no clock, no logging. This check
# keeps it so at the include level: every #include in core/*.c and core/*.h
# must name a C11 standard header, one of the few POSIX headers that do no
# I/O (listed below), one of the codec's headers (schema/: baton_error.h,
# wire.h, names.h) or one of core's own headers. Anything else (stdio.h,
# time.h, unistd.h, sqlite3.h, MQTTAsync.h, a coordinator/ header) fails the
# test with the file, the line and the header.
#
# This one file serves twice: included by tests/CMakeLists.txt it registers
# the test; run as `cmake -DCORE_DIR=... -P core_purity.cmake` it checks.
if(NOT CMAKE_SCRIPT_MODE_FILE)
  add_test(NAME test_core_purity
           COMMAND ${CMAKE_COMMAND} -DCORE_DIR=${PROJECT_SOURCE_DIR}/core
                   -P ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(test_core_purity PROPERTIES LABELS unit TIMEOUT 60)
  return()
endif()

# C11 (ISO/IEC 9899:2011, 7.1.2) minus the clock and the streams: <time.h>
# reads the clock, <stdio.h> and <wchar.h> do I/O, <signal.h>, <locale.h>,
# <setjmp.h> and <threads.h> have no business in a deterministic table.
set(allowed_system
    assert.h complex.h ctype.h errno.h fenv.h float.h inttypes.h iso646.h
    limits.h math.h stdalign.h stdarg.h stdatomic.h stdbool.h stddef.h
    stdint.h stdnoreturn.h stdlib.h string.h tgmath.h uchar.h wctype.h
    # POSIX headers without I/O.
    strings.h sys/types.h)
set(allowed_codec baton_error.h wire.h names.h)

if(NOT CORE_DIR OR NOT IS_DIRECTORY "${CORE_DIR}")
  message(FATAL_ERROR "core_purity: CORE_DIR '${CORE_DIR}' is not a directory")
endif()
file(GLOB core_files "${CORE_DIR}/*.c" "${CORE_DIR}/*.h")
if(NOT core_files)
  message(FATAL_ERROR "core_purity: no sources in ${CORE_DIR}")
endif()
set(core_own "")
foreach(f ${core_files})
  get_filename_component(base "${f}" NAME)
  list(APPEND core_own "${base}")
endforeach()

set(bad 0)
set(checked 0)
foreach(f ${core_files})
  file(STRINGS "${f}" lines)
  get_filename_component(base "${f}" NAME)
  set(n 0)
  foreach(line IN LISTS lines)
    math(EXPR n "${n} + 1")
    if(NOT line MATCHES "^[ \t]*#[ \t]*include")
      continue()
    endif()
    math(EXPR checked "${checked} + 1")
    if(line MATCHES "^[ \t]*#[ \t]*include[ \t]*<([^>]+)>")
      set(h "${CMAKE_MATCH_1}")
      list(FIND allowed_system "${h}" i)
    elseif(line MATCHES "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\"")
      set(h "${CMAKE_MATCH_1}")
      list(FIND allowed_codec "${h}" i)
      if(i LESS 0)
        list(FIND core_own "${h}" i)
      endif()
    else()
      set(h "${line}")
      set(i -1)
    endif()
    if(i LESS 0)
      message("core/${base}:${n}: includes ${h}: core/ may include only C11 headers, "
              "strings.h, sys/types.h, the codec (baton_error.h, wire.h, names.h) and core's own headers")
      set(bad 1)
    endif()
  endforeach()
endforeach()
if(bad)
  message(FATAL_ERROR "core_purity: core/ is no longer pure (see above)")
endif()
message("core_purity: ${checked} includes in core/ checked, all allowed")
