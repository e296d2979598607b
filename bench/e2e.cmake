# End-to-end benchmark (bench/run drives it): Baton against the raw MQTT
# request/reply floor and a Redis lock. hiredis is optional at build time:
# without it the Redis rows say so.
find_package(PkgConfig QUIET)
if(PkgConfig_FOUND)
  pkg_check_modules(HIREDIS QUIET IMPORTED_TARGET hiredis)
endif()
add_executable(bench_e2e bench_e2e.c bench_mq.c bench_latency.c bench_ab.c bench_load.c bench_e2e_redis.c)
target_link_libraries(bench_e2e PRIVATE baton_edge ${BATON_PAHO} cjson Threads::Threads m)
if(HIREDIS_FOUND)
  target_compile_definitions(bench_e2e PRIVATE BENCH_HAVE_HIREDIS)
  target_link_libraries(bench_e2e PRIVATE PkgConfig::HIREDIS)
else()
  message(STATUS "bench_e2e: hiredis not found (libhiredis-dev): the Redis comparison is left out")
endif()

# CI: a seconds-long smoke run of the whole driver, so the benchmark keeps
# working; it asserts no timing.
if(BATON_TESTS)
  add_test(NAME bench_e2e_smoke COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/run --smoke)
  set_tests_properties(bench_e2e_smoke PROPERTIES LABELS bench TIMEOUT 300
                       ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR}")
endif()
